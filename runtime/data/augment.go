package data

import (
	"fmt"
	"math"
	"time"

	"github.com/alexnetc/alexnetc/runtime/cpu"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// Augment says how images become network inputs (paper §4.1).
type Augment struct {
	// Crop is the side of the square patch the network sees; 0 means the
	// set's size. It must not exceed the set's size.
	Crop int
	// RandomCrop takes training patches at uniformly random offsets in
	// [0, S−Crop]² instead of the centre.
	RandomCrop bool
	// Flip mirrors training patches horizontally with probability 1/2.
	Flip bool
	// Lighting is σ of the PCA lighting augmentation; 0 turns it off. Each
	// time an image is used, αᵢ ~ N(0, σ²) are drawn and Σᵢ αᵢ √λᵢ pᵢ is
	// added to every pixel, where λᵢ and pᵢ are the eigenvalues and
	// eigenvectors of the training set's colour covariance (Stats). The
	// paper writes λᵢ where this uses √λᵢ, the standard deviation along pᵢ:
	// the eigenvalue itself depends on the pixel scale (a factor 255² between
	// [0, 1] and [0, 255]), while with √λᵢ the offset has covariance σ²·Cov
	// in any scale, a colour jitter of σ times the data's own spread.
	Lighting float64
	// Mean selects what is subtracted from every pixel: nothing (none or
	// ""), the mean image at the same position of the uncropped image
	// (pixel, the paper's choice), or the channel's mean (channel).
	Mean string // plan.MeanNone, plan.MeanPixel or plan.MeanChannel
}

// AugmentOf returns the augmentation a spec's [data] table asks for, with
// the crop the compiler filled in (the input's height unless [data] crop says otherwise).
func AugmentOf(d plan.Data) Augment {
	return Augment{Crop: d.Crop, RandomCrop: d.RandomCrop, Flip: d.Flip, Lighting: d.PCALighting, Mean: d.Mean}
}

// Options configure a Loader or an EvalLoader.
type Options struct {
	Batch   int    // rows per batch (images, or views of images in evaluation); required
	Seed    uint64 // the training order and augmentation; ignored by EvalLoader
	Workers int    // goroutines preparing batches; ≤ 0 means GOMAXPROCS
	Ahead   int    // batches prepared ahead of the consumer; ≤ 0 means 3
}

// renderer turns a stored image into one network input row.
type renderer struct {
	set   *Set
	crop  int
	mean  []float32 // C×S×S, subtracted at the source position (zeros for none)
	lut   [256]float32
	sigma float64
	light [][]float64 // light[i] = √λᵢ·pᵢ, when sigma > 0
}

func newRenderer(set *Set, st *Stats, aug Augment) (*renderer, error) {
	r := &renderer{set: set, crop: aug.Crop, sigma: aug.Lighting}
	if r.crop == 0 {
		r.crop = set.Size
	}
	if r.crop < 0 || r.crop > set.Size {
		return nil, fmt.Errorf("data: crop %d does not fit the set's %d×%d images", aug.Crop, set.Size, set.Size)
	}
	if aug.Lighting < 0 || math.IsNaN(aug.Lighting) {
		return nil, fmt.Errorf("data: PCA lighting σ %g is negative", aug.Lighting)
	}
	for p := range r.lut {
		r.lut[p] = float32(p) / 255
	}
	needStats := aug.Lighting > 0 || (aug.Mean != plan.MeanNone && aug.Mean != "")
	if needStats {
		if st == nil {
			return nil, fmt.Errorf("data: mean %q and PCA lighting %g need the training set's Stats", aug.Mean, aug.Lighting)
		}
		if st.Channels != set.Channels || st.Size != set.Size {
			return nil, fmt.Errorf("data: Stats are of %d×%d×%d images, the set's are %d×%d×%d",
				st.Channels, st.Size, st.Size, set.Channels, set.Size, set.Size)
		}
	}
	plane := set.Size * set.Size
	r.mean = make([]float32, set.ImageLen())
	switch aug.Mean {
	case plan.MeanNone, "":
	case plan.MeanPixel:
		copy(r.mean, st.Mean)
	case plan.MeanChannel:
		for k := range r.mean {
			r.mean[k] = st.ChannelMean[k/plane]
		}
	default:
		return nil, fmt.Errorf("data: unknown mean mode %q (want none, pixel or channel)", aug.Mean)
	}
	if aug.Lighting > 0 {
		for i, p := range st.Eigenvectors {
			sd := math.Sqrt(max(st.Eigenvalues[i], 0))
			v := make([]float64, len(p))
			for c := range p {
				v[c] = sd * p[c]
			}
			r.light = append(r.light, v)
		}
	}
	return r, nil
}

// rowLen is the number of floats of one input row.
func (r *renderer) rowLen() int { return r.set.Channels * r.crop * r.crop }

// draw writes into x the crop×crop patch of image img at offset (oy, ox),
// mirrored when flip is set, in the network's scale, with add[c] added to
// channel c.
func (r *renderer) draw(x []float32, img, oy, ox int, flip bool, add []float32) {
	S, K := r.set.Size, r.crop
	src := r.set.Image(img)
	for c := 0; c < r.set.Channels; c++ {
		a := add[c]
		for i := 0; i < K; i++ {
			o := (c*S+oy+i)*S + ox
			srow, mrow := src[o:o+K], r.mean[o:o+K]
			xrow := x[(c*K+i)*K : (c*K+i+1)*K]
			if flip {
				for j := range xrow {
					xrow[j] = r.lut[srow[K-1-j]] - mrow[K-1-j] + a
				}
			} else {
				for j := range xrow {
					xrow[j] = r.lut[srow[j]] - mrow[j] + a
				}
			}
		}
	}
}

// Loader delivers augmented training batches, epoch after epoch, prepared
// ahead by a pool of goroutines. It is not safe for concurrent use; Close
// releases its goroutines.
//
// Epoch e visits the images in a permutation drawn from (Seed, e) and has
// ⌊N/Batch⌋ batches: the last partial batch is dropped. The image at
// position k of epoch e is augmented with draws from a generator seeded by
// (Seed, e, k), in this order: the row offset, the column offset (both
// uniform in [0, S−Crop], drawn even when RandomCrop is off, and then
// replaced by the centre), the flip bit (likewise), and, when Lighting > 0,
// α₁ … α_C. So switching one augmentation off leaves the others' draws as
// they were.
type Loader struct {
	r    *renderer
	p    *pipe
	key  uint64
	aug  Augment
	bpe  int
	perm []int32 // producer's: the permutation of permEpoch
	// permEpoch is the epoch perm belongs to, −1 before the first.
	permEpoch int64

	epoch, batch int
}

// NewLoader returns a Loader over a training set. stats are the set's
// statistics (ComputeStats); they may be nil when Mean is none and Lighting
// is 0.
func NewLoader(set *Set, stats *Stats, aug Augment, opt Options) (*Loader, error) {
	r, err := newRenderer(set, stats, aug)
	if err != nil {
		return nil, err
	}
	if opt.Batch <= 0 {
		return nil, fmt.Errorf("data: batch size %d must be positive", opt.Batch)
	}
	if set.Len() < opt.Batch {
		return nil, fmt.Errorf("data: %d images do not fill one batch of %d", set.Len(), opt.Batch)
	}
	if aug.Lighting > 0 && len(r.light) != set.Channels {
		return nil, fmt.Errorf("data: PCA lighting needs the Stats' eigenvectors")
	}
	l := &Loader{r: r, key: mix64(opt.Seed ^ 0x6461746120617567), aug: aug, bpe: set.Len() / opt.Batch, permEpoch: -1}
	l.p = newPipe(l, opt.Batch, r.rowLen(), opt.Workers, opt.Ahead)
	return l, nil
}

// Next fills x (Batch×C×Crop×Crop floats, NCHW) and labels (Batch) with the
// next batch of the current epoch and returns true; at the end of an epoch
// it returns false once, leaving the buffers alone, and moves on to the next
// epoch. A typical loop: for l.Next(x, y) { step }, then validate.
func (l *Loader) Next(x []float32, labels []int32) bool {
	if l.batch >= l.bpe {
		l.epoch++
		l.batch = 0
		return false
	}
	l.p.next(x, labels)
	l.batch++
	return true
}

// Position returns the epoch and the batch within it that Next delivers
// next. (e, BatchesPerEpoch()) means that epoch e is done and Next will
// report its end.
func (l *Loader) Position() (epoch, batch int) { return l.epoch, l.batch }

// Seek makes Next continue from batch `batch` of epoch `epoch`, delivering
// exactly what an uninterrupted run would; batch may be BatchesPerEpoch().
func (l *Loader) Seek(epoch, batch int) {
	if epoch < 0 || batch < 0 || batch > l.bpe {
		panic(fmt.Sprintf("data: Seek(%d, %d) outside epochs ≥ 0 of %d batches", epoch, batch, l.bpe))
	}
	l.epoch, l.batch = epoch, batch
	l.p.seek(int64(epoch)*int64(l.bpe) + int64(min(batch, l.bpe)))
}

// BatchesPerEpoch returns ⌊N/Batch⌋.
func (l *Loader) BatchesPerEpoch() int { return l.bpe }

// Shape returns the shape of a batch: Batch, C, Crop, Crop.
func (l *Loader) Shape() (n, c, h, w int) { return l.p.batch, l.r.set.Channels, l.r.crop, l.r.crop }

// Waited returns the total time Next has spent waiting for a batch that
// the workers had not finished.
func (l *Loader) Waited() time.Duration { return l.p.waited }

// Close stops the goroutines. A later Next starts them again where the
// loader stands.
func (l *Loader) Close() { l.p.stop() }

// The pipe's source: batch seq is batch seq mod bpe of epoch seq / bpe.

func (l *Loader) rows(int64) int { return l.p.batch }

func (l *Loader) prepare(s *slot) {
	epoch, b := s.seq/int64(l.bpe), int(s.seq%int64(l.bpe))
	if epoch != l.permEpoch {
		l.perm = l.permutation(epoch, l.perm)
		l.permEpoch = epoch
	}
	for r := 0; r < s.n; r++ {
		img := l.perm[b*l.p.batch+r]
		s.imgs[r] = img
		s.labels[r] = l.r.set.Labels[img]
	}
}

func (l *Loader) fill(s *slot, r int, x []float32) {
	epoch := s.seq / int64(l.bpe)
	pos := (s.seq%int64(l.bpe))*int64(l.p.batch) + int64(r)
	var rng cpu.RNG
	rng.Seed(mix64(l.key+uint64(epoch)), uint64(pos)+1)
	span := uint32(l.r.set.Size - l.r.crop + 1)
	oy, ox := int(rng.Uint32()%span), int(rng.Uint32()%span)
	flip := rng.Uint32()>>31 == 1
	if !l.aug.RandomCrop {
		oy, ox = (l.r.set.Size-l.r.crop)/2, (l.r.set.Size-l.r.crop)/2
	}
	if !l.aug.Flip {
		flip = false
	}
	C := l.r.set.Channels
	var abuf [4]float32
	var sbuf [4]float64
	add, sum := abuf[:], sbuf[:]
	if C > len(abuf) {
		add, sum = make([]float32, C), make([]float64, C)
	}
	add, sum = add[:C], sum[:C]
	if l.r.sigma > 0 {
		for _, v := range l.r.light {
			alpha := l.r.sigma * rng.NormFloat64()
			for c := range sum {
				sum[c] += alpha * v[c]
			}
		}
		for c := range add {
			add[c] = float32(sum[c])
		}
	}
	l.r.draw(x, int(s.imgs[r]), oy, ox, flip, add)
}

// permutation returns the visiting order of an epoch, reusing buf.
func (l *Loader) permutation(epoch int64, buf []int32) []int32 {
	n := l.r.set.Len()
	if cap(buf) < n {
		buf = make([]int32, n)
	}
	buf = buf[:n]
	for i := range buf {
		buf[i] = int32(i)
	}
	rng := cpu.NewRNG(mix64(l.key+uint64(epoch)), 0)
	for i := n - 1; i > 0; i-- {
		j := int(uint64(rng.Uint32()) * uint64(i+1) >> 32)
		buf[i], buf[j] = buf[j], buf[i]
	}
	return buf
}

// mix64 is SplitMix64's finaliser: it spreads a seed's bits so that nearby
// seeds and epochs give unrelated generators.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// Package data reads labelled image sets and turns them into the batches a
// trainer consumes: the paper's preprocessing and augmentation (§4.1), a
// parallel loader that prepares batches ahead of the training step, and the
// evaluation views (paper §4.1) and top-1/top-5 scoring (§6).
//
// # Sets
//
// A Set holds a whole data set in memory, decoded, as uint8 pixels: each
// image is C×S×S, channel planes in row-major order, already brought to the
// set's square size S (short side scaled to S, centre square kept). Readers:
// ReadIDX and FashionMNIST (the MNIST family's IDX files, gzipped or not),
// ReadCIFAR10 (CIFAR-10 binary batches) and ReadFolder (root/<class>/<image>,
// JPEG or PNG, decoded in parallel). Set.Resized rescales a whole set; Load
// picks the reader and the size a spec's [data] table names.
//
// # What the network sees
//
// A pixel p ∈ {0..255} becomes the float32 p/255 (so images lie in [0, 1]),
// minus the mean chosen by Augment.Mean (none; the training set's mean image,
// the paper's choice; or one mean per channel), plus the PCA lighting offset
// during training. Batches are NCHW float32, [N][C][crop][crop].
//
// # Training batches
//
// Loader delivers the batches of successive epochs. Epoch e visits the set in
// a permutation drawn from (seed, e); the image at position k of that epoch is
// augmented with draws from a generator seeded by (seed, e, k) alone, so the
// batches are identical whatever the number of workers, and Seek(e, b)
// resumes a run exactly. The last partial batch of each epoch is dropped: an
// epoch has ⌊N / batch⌋ batches, and the images that fall off the end differ
// from epoch to epoch because the permutation does.
//
// # Evaluation
//
// EvalLoader delivers every image of a set once, in order, as 1 view (the
// centre crop) or the paper's 10 views (centre and four corners, then the
// same five mirrored; see ViewOffset). Score averages the softmax over an
// image's views and counts top-1 and top-5 errors.
package data

import (
	"fmt"
	"image"
	"path/filepath"
	"runtime"
	"sync"

	"golang.org/x/image/draw"

	"github.com/alexnetc/alexnetc/runtime/plan"
)

// Set is an in-memory labelled image set. Image i occupies
// Pixels[i·C·S·S : (i+1)·C·S·S], channel-major (C planes of S rows of S
// pixels), with label Labels[i] ∈ [0, len(Classes)).
type Set struct {
	Classes  []string // class names; a label is an index into it
	Labels   []int32  // one per image
	Pixels   []uint8  // N×C×S×S
	Channels int      // C: 1 (grayscale) or 3 (R, G, B)
	Size     int      // S: every image is S×S

	// Skipped counts the files a reader could not read or decode; they are
	// left out of the set. SkippedFiles describes the first MaxSkipReports
	// of them, each as "path: reason".
	Skipped      int
	SkippedFiles []string
}

// MaxSkipReports is how many skipped files a Set describes by name.
const MaxSkipReports = 10

// Len returns the number of images.
func (s *Set) Len() int { return len(s.Labels) }

// ImageLen returns C·S·S, the number of bytes of one image.
func (s *Set) ImageLen() int { return s.Channels * s.Size * s.Size }

// Image returns the pixels of image i (C×S×S), sharing the set's memory.
func (s *Set) Image(i int) []uint8 {
	n := s.ImageLen()
	return s.Pixels[i*n : (i+1)*n : (i+1)*n]
}

// skip records an unreadable file.
func (s *Set) skip(path string, err error) {
	s.Skipped++
	if len(s.SkippedFiles) < MaxSkipReports {
		s.SkippedFiles = append(s.SkippedFiles, fmt.Sprintf("%s: %v", path, err))
	}
}

// Resized returns the set with every image scaled to size×size, the same
// operation the folder reader applies: the short side is scaled to size and
// the centre square kept (images in a Set are square already, so this is a
// plain rescale). The result shares Classes and Labels with s; when size
// equals s.Size it is s itself. Scaling uses Catmull-Rom interpolation, which
// when shrinking widens to an area filter, so it does not alias.
func (s *Set) Resized(size int) *Set {
	if size <= 0 {
		panic(fmt.Sprintf("data: Resized(%d): size must be positive", size))
	}
	if size == s.Size {
		return s
	}
	out := &Set{
		Classes:      s.Classes,
		Labels:       s.Labels,
		Channels:     s.Channels,
		Size:         size,
		Skipped:      s.Skipped,
		SkippedFiles: s.SkippedFiles,
	}
	out.Pixels = make([]uint8, s.Len()*out.ImageLen())
	scaler := draw.CatmullRom.NewScaler(size, size, s.Size, s.Size)
	parallel(s.Len(), 0, func(lo, hi int) {
		dst := image.NewRGBA(image.Rect(0, 0, size, size))
		src := &image.Gray{Stride: s.Size, Rect: image.Rect(0, 0, s.Size, s.Size)}
		for i := lo; i < hi; i++ {
			in, o := s.Image(i), out.Image(i)
			for c := 0; c < s.Channels; c++ {
				src.Pix = in[c*s.Size*s.Size : (c+1)*s.Size*s.Size]
				scaler.Scale(dst, dst.Rect, src, src.Rect, draw.Src, nil)
				plane := o[c*size*size : (c+1)*size*size]
				for k := range plane {
					plane[k] = dst.Pix[4*k]
				}
			}
		}
	})
	return out
}

// centreSquare returns the largest centred square inside r.
func centreSquare(r image.Rectangle) image.Rectangle {
	w, h := r.Dx(), r.Dy()
	s := min(w, h)
	x0, y0 := r.Min.X+(w-s)/2, r.Min.Y+(h-s)/2
	return image.Rect(x0, y0, x0+s, y0+s)
}

// scaleCentre writes into dst (size×size) the centre square of img scaled to
// size: the short side becomes size and the long side is cropped evenly on
// both ends. Only pixels inside the square are read.
func scaleCentre(dst *image.RGBA, img image.Image) {
	sq := centreSquare(img.Bounds())
	draw.CatmullRom.Scale(dst, dst.Rect, img, sq, draw.Src, nil)
}

// parallel runs f over [0, n) split into contiguous ranges, on workers
// goroutines (GOMAXPROCS when workers ≤ 0).
func parallel(n, workers int, f func(lo, hi int)) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, n)
	if workers <= 1 {
		if n > 0 {
			f(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := n*w/workers, n*(w+1)/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}

// Load reads the set that a spec's [data] table describes, the training
// split or the test (validation) split, and scales it to d.Resize when that
// is set and differs from the stored size:
//
//   - "fashion-mnist": FashionMNIST(d.Path, train); an empty path is the
//     Debian package's directory.
//   - "cifar10": ReadCIFAR10(d.Path, train).
//   - "folder": ReadFolder(d.Path/train or d.Path/val, d.Resize, workers);
//     the images have no common size, so d.Resize must be set.
//
// workers ≤ 0 means GOMAXPROCS.
func Load(d plan.Data, train bool, workers int) (*Set, error) {
	var (
		s   *Set
		err error
	)
	switch d.Dataset {
	case "fashion-mnist":
		s, err = FashionMNIST(d.Path, train)
	case "cifar10":
		if d.Path == "" {
			return nil, fmt.Errorf("data: dataset cifar10 needs a path (the folder of data_batch_*.bin)")
		}
		s, err = ReadCIFAR10(d.Path, train)
	case "folder":
		if d.Path == "" {
			return nil, fmt.Errorf("data: dataset folder needs a path (a folder holding train/ and val/)")
		}
		if d.Resize <= 0 {
			return nil, fmt.Errorf("data: dataset folder needs resize > 0: its images have no common size")
		}
		split := "val"
		if train {
			split = "train"
		}
		return ReadFolder(filepath.Join(d.Path, split), d.Resize, workers)
	default:
		return nil, fmt.Errorf("data: unknown dataset %q (want fashion-mnist, cifar10 or folder)", d.Dataset)
	}
	if err != nil {
		return nil, err
	}
	if d.Resize > 0 && d.Resize != s.Size {
		s = s.Resized(d.Resize)
	}
	return s, nil
}

// First returns the first n images of s (s itself when n ≤ 0 or n is not
// smaller than the set), sharing its memory: for short runs on part of a
// set.
func (s *Set) First(n int) *Set {
	if n <= 0 || n >= s.Len() {
		return s
	}
	c := *s
	c.Labels = s.Labels[:n:n]
	c.Pixels = s.Pixels[: n*s.ImageLen() : n*s.ImageLen()]
	return &c
}

package data

import (
	"fmt"
	"time"
)

// MaxViews is the number of evaluation views of the paper (§4.1): the
// centre and the four corner patches, and their horizontal reflections.
const MaxViews = 10

// ViewOffset returns where view v (0 ≤ v < 10) of a size×size image takes
// its crop×crop patch, and whether the patch is mirrored. The order is
//
//	0 centre, 1 top-left, 2 top-right, 3 bottom-left, 4 bottom-right,
//	5–9 the same five, mirrored horizontally,
//
// so view 0 alone is the usual single centre crop. The centre offset is
// ⌊(size−crop)/2⌋ on both axes.
func ViewOffset(v, size, crop int) (oy, ox int, flip bool) {
	if v < 0 || v >= MaxViews {
		panic(fmt.Sprintf("data: view %d outside 0–9", v))
	}
	far, mid := size-crop, (size-crop)/2
	flip = v >= 5
	switch v % 5 {
	case 0:
		return mid, mid, flip
	case 1:
		return 0, 0, flip
	case 2:
		return 0, far, flip
	case 3:
		return far, 0, flip
	default:
		return far, far, flip
	}
}

// EvalLoader delivers every image of a set once, in the set's order, as
// `views` consecutive rows (the first `views` views of ViewOffset's order:
// 1 for the centre crop, 10 for the paper's ten patches). Rows are packed
// into batches without regard to image boundaries, so an image's views may
// straddle two batches; Score puts them back together. Only Augment's Crop
// and Mean apply: evaluation neither crops at random nor mirrors at random
// nor changes the lighting.
type EvalLoader struct {
	r     *renderer
	p     *pipe
	views int
	total int64 // rows: images × views
}

// NewEvalLoader returns an EvalLoader over set. stats must be the training
// set's (the mean subtracted is the training mean) and may be nil when Mean
// is none.
func NewEvalLoader(set *Set, stats *Stats, aug Augment, views int, opt Options) (*EvalLoader, error) {
	aug.RandomCrop, aug.Flip, aug.Lighting = false, false, 0
	r, err := newRenderer(set, stats, aug)
	if err != nil {
		return nil, err
	}
	if views < 1 || views > MaxViews {
		return nil, fmt.Errorf("data: %d views; want 1 (centre) to 10 (corners and centre, mirrored)", views)
	}
	if opt.Batch <= 0 {
		return nil, fmt.Errorf("data: batch size %d must be positive", opt.Batch)
	}
	e := &EvalLoader{r: r, views: views, total: int64(set.Len()) * int64(views)}
	e.p = newPipe(e, opt.Batch, r.rowLen(), opt.Workers, opt.Ahead)
	return e, nil
}

// Next fills x (Batch×C×Crop×Crop floats) and labels with the next rows and
// returns how many it filled; 0 means the set is done (Reset starts over).
// The rows of a short last batch past that count are zeroed and labelled −1.
func (e *EvalLoader) Next(x []float32, labels []int32) int { return e.p.next(x, labels) }

// Reset makes Next start again from the first image.
func (e *EvalLoader) Reset() { e.p.seek(0) }

// Batches returns the number of batches of one pass, ⌈N·views/Batch⌉.
func (e *EvalLoader) Batches() int {
	b := int64(e.p.batch)
	return int((e.total + b - 1) / b)
}

// Views returns the number of views per image.
func (e *EvalLoader) Views() int { return e.views }

// Waited returns the total time Next has waited for unfinished batches.
func (e *EvalLoader) Waited() time.Duration { return e.p.waited }

// Close stops the goroutines; a later Next starts them again.
func (e *EvalLoader) Close() { e.p.stop() }

func (e *EvalLoader) rows(seq int64) int {
	left := e.total - seq*int64(e.p.batch)
	return int(max(0, min(left, int64(e.p.batch))))
}

func (e *EvalLoader) prepare(s *slot) {
	for r := 0; r < s.n; r++ {
		img := (s.seq*int64(e.p.batch) + int64(r)) / int64(e.views)
		s.imgs[r] = int32(img)
		s.labels[r] = e.r.set.Labels[img]
	}
}

func (e *EvalLoader) fill(s *slot, r int, x []float32) {
	v := int((s.seq*int64(e.p.batch) + int64(r)) % int64(e.views))
	oy, ox, flip := ViewOffset(v, e.r.set.Size, e.r.crop)
	var zero [4]float32
	add := zero[:]
	if c := e.r.set.Channels; c > len(zero) {
		add = make([]float32, c)
	}
	e.r.draw(x, int(s.imgs[r]), oy, ox, flip, add)
}

// TopK reports whether label is among the k most probable classes of prob
// (one image's class probabilities). Ties are ranked by class index, lower
// first, so the answer is deterministic: label's rank is the number of
// classes with a higher probability plus the number of lower-numbered
// classes with the same one.
func TopK(prob []float32, label int32, k int) bool { return inTopK(prob, label, k) }

func inTopK[T float32 | float64](prob []T, label int32, k int) bool {
	if label < 0 || int(label) >= len(prob) {
		panic(fmt.Sprintf("data: label %d outside %d classes", label, len(prob)))
	}
	p, rank := prob[label], 0
	for j, q := range prob {
		if q > p || (q == p && j < int(label)) {
			rank++
		}
	}
	return rank < k
}

// Score accumulates top-1 and top-5 error over the rows an EvalLoader
// delivers and the network's softmax outputs for them: it averages the
// probabilities of each image's views and scores the average.
type Score struct {
	classes, views int
	sum            []float64 // the current image's summed probabilities
	got            int       // views of the current image seen
	label          int32

	images, err1, err5 int
}

// NewScore returns an empty Score for the given number of classes and views
// per image.
func NewScore(classes, views int) *Score {
	if classes <= 0 || views <= 0 {
		panic(fmt.Sprintf("data: NewScore(%d classes, %d views)", classes, views))
	}
	return &Score{classes: classes, views: views, sum: make([]float64, classes)}
}

// Add takes the first n rows of a batch: prob holds a row of `classes`
// probabilities per row, labels the rows' labels as the EvalLoader gave
// them. Rows must come in the EvalLoader's order.
func (s *Score) Add(prob []float32, labels []int32, n int) {
	if len(prob) < n*s.classes || len(labels) < n {
		panic(fmt.Sprintf("data: Score.Add(%d rows) with %d probabilities and %d labels", n, len(prob), len(labels)))
	}
	for r := 0; r < n; r++ {
		if s.got == 0 {
			s.label = labels[r]
		} else if labels[r] != s.label {
			panic(fmt.Sprintf("data: Score.Add: view %d of an image labelled %d has label %d", s.got, s.label, labels[r]))
		}
		for c, p := range prob[r*s.classes : (r+1)*s.classes] {
			s.sum[c] += float64(p)
		}
		if s.got++; s.got < s.views {
			continue
		}
		s.images++
		if !inTopK(s.sum, s.label, 1) {
			s.err1++
		}
		if !inTopK(s.sum, s.label, 5) {
			s.err5++
		}
		clear(s.sum)
		s.got = 0
	}
}

// Images returns the number of images scored.
func (s *Score) Images() int { return s.images }

// Errors returns the number of images whose label is not the most probable
// class (top-1) and not among the five most probable (top-5).
func (s *Score) Errors() (top1, top5 int) { return s.err1, s.err5 }

// Top1Error returns the fraction of images whose label is not the most
// probable class; 0 before any image.
func (s *Score) Top1Error() float64 { return frac(s.err1, s.images) }

// Top5Error returns the fraction of images whose label is not among the
// five most probable classes; 0 before any image.
func (s *Score) Top5Error() float64 { return frac(s.err5, s.images) }

// Reset empties the Score.
func (s *Score) Reset() {
	clear(s.sum)
	s.got, s.images, s.err1, s.err5 = 0, 0, 0, 0
}

func frac(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Package viz shows what a trained network learned, as the paper does: the
// first convolutional layer's kernels as an image grid, one block per GPU
// (Figure 3), and test images beside the training images whose last hidden
// layer's activations lie nearest theirs (Figure 4).
package viz

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"sort"

	"github.com/alexnetc/alexnetc/compiler/check"
	"github.com/alexnetc/alexnetc/compiler/lower"
	"github.com/alexnetc/alexnetc/compiler/plan"
	"github.com/alexnetc/alexnetc/runtime/data"
	"github.com/alexnetc/alexnetc/runtime/engine"
	"github.com/alexnetc/alexnetc/spec"
)

// Background is the colour between the cells of a grid.
var Background = color.RGBA{R: 255, G: 255, B: 255, A: 255}

// KernelOptions lay out the kernel grid.
type KernelOptions struct {
	Columns int // kernels per row; 0: 16, as in Figure 3
	Scale   int // screen pixels per kernel pixel; 0: about 40 pixels per kernel
	Gap     int // pixels between kernels; 0: 2. GPU blocks are 2·Gap further apart
}

// FirstConv returns the network's first convolutional layer.
func FirstConv(n *check.Network) (*check.Layer, error) {
	for _, l := range n.Layers {
		if l.Op == spec.Conv {
			return l, nil
		}
	}
	return nil, fmt.Errorf("network %s has no convolutional layer", n.Name)
}

// partBuffer names the buffer of a layer's part as lower does: the layer's
// name when it has one part, else name.gpuN.
func partBuffer(l *check.Layer, p *check.Part, suffix string) string {
	if len(l.Parts) == 1 {
		return l.Name + suffix
	}
	return fmt.Sprintf("%s.gpu%d%s", l.Name, p.GPU, suffix)
}

// KernelGridSize returns the size of the grid Kernels draws for layer l.
func KernelGridSize(l *check.Layer, opt KernelOptions) (w, h int) {
	opt = opt.defaults(l.Spec.Kernel)
	cell := l.Spec.Kernel * opt.Scale
	cols := opt.columns(l)
	w = cols*cell + (cols+1)*opt.Gap
	for i, p := range l.Parts {
		rows := (p.Channels() + cols - 1) / cols
		h += rows*cell + (rows+1)*opt.Gap
		if i > 0 {
			h += 2 * opt.Gap
		}
	}
	return w, h
}

func (o KernelOptions) defaults(kernel int) KernelOptions {
	if o.Columns <= 0 {
		o.Columns = 16
	}
	if o.Scale <= 0 {
		o.Scale = max(1, (40+kernel-1)/kernel)
	}
	if o.Gap <= 0 {
		o.Gap = 2
	}
	return o
}

// columns is the row length: opt.Columns, or fewer when no part has as many
// kernels.
func (o KernelOptions) columns(l *check.Layer) int {
	most := 0
	for _, p := range l.Parts {
		most = max(most, p.Channels())
	}
	return max(1, min(o.Columns, most))
}

// Kernels draws the weights of the first convolutional layer of the
// engine's network, each kernel scaled on its own to the full range 0–255
// (over all its input channels together, so colours keep their balance):
// RGB for kernels over three channels, grey otherwise (the mean over the
// channels when there are neither one nor three). Each GPU's kernels form
// their own block of rows, GPU 0's first, as in the paper's Figure 3.
func Kernels(e *engine.Engine, opt KernelOptions) (*image.RGBA, error) {
	l, err := FirstConv(e.Plan.Graph.Net)
	if err != nil {
		return nil, err
	}
	k := l.Spec.Kernel
	w, h := KernelGridSize(l, opt)
	opt = opt.defaults(k)
	cols := opt.columns(l)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fill(img, img.Bounds(), Background)
	cell := k * opt.Scale
	top := 0
	for i, p := range l.Parts {
		if i > 0 {
			top += 2 * opt.Gap
		}
		weights := e.F32(plan.Infer, partBuffer(l, p, ".weight"))
		filters := p.Channels()
		per := len(weights) / filters // (channels read / groups) × k × k
		channels := per / (k * k)
		for f := 0; f < filters; f++ {
			x0 := opt.Gap + (f%cols)*(cell+opt.Gap)
			y0 := top + opt.Gap + (f/cols)*(cell+opt.Gap)
			drawKernel(img, x0, y0, weights[f*per:(f+1)*per], channels, k, opt.Scale)
		}
		rows := (filters + cols - 1) / cols
		top += rows*cell + (rows+1)*opt.Gap
	}
	return img, nil
}

func drawKernel(img *image.RGBA, x0, y0 int, w []float32, channels, k, scale int) {
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range w {
		lo, hi = min(lo, v), max(hi, v)
	}
	norm := func(v float32) uint8 {
		if hi <= lo {
			return 128
		}
		return uint8(math.Round(float64(255 * (v - lo) / (hi - lo))))
	}
	plane := k * k
	for y := 0; y < k; y++ {
		for x := 0; x < k; x++ {
			var c color.RGBA
			at := y*k + x
			switch channels {
			case 3:
				c = color.RGBA{R: norm(w[at]), G: norm(w[plane+at]), B: norm(w[2*plane+at]), A: 255}
			case 1:
				g := norm(w[at])
				c = color.RGBA{R: g, G: g, B: g, A: 255}
			default:
				g := meanGrey(w, channels, plane, at)
				c = color.RGBA{R: g, G: g, B: g, A: 255}
			}
			fill(img, image.Rect(x0+x*scale, y0+y*scale, x0+(x+1)*scale, y0+(y+1)*scale), c)
		}
	}
}

// meanGrey maps the channel mean at one position to 0–255 over the range of
// the kernel's channel means.
func meanGrey(w []float32, channels, plane, at int) uint8 {
	mean := func(i int) float32 {
		var s float32
		for ch := 0; ch < channels; ch++ {
			s += w[ch*plane+i]
		}
		return s / float32(channels)
	}
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for i := 0; i < plane; i++ {
		m := mean(i)
		lo, hi = min(lo, m), max(hi, m)
	}
	if hi <= lo {
		return 128
	}
	return uint8(math.Round(float64(255 * (mean(at) - lo) / (hi - lo))))
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

// FeatureLayer returns the layer the last fully connected layer reads: its
// output is the last hidden layer's activations, the features the paper
// compares in Figure 4 (AlexNet: fc7 after dropout, 4096 values).
func FeatureLayer(n *check.Network) (*check.Layer, error) {
	for i := len(n.Layers) - 1; i >= 0; i-- {
		if l := n.Layers[i]; l.Op == spec.FC {
			return l.In, nil
		}
	}
	return nil, fmt.Errorf("network %s has no fully connected layer", n.Name)
}

// Features runs the inference program over every image ev delivers (one
// view each) and returns each image's activations of the layer, every GPU's
// part side by side, in image order. It reads each part's output right after
// the step that writes it, so any memory plan serves.
func Features(e *engine.Engine, ev *data.EvalLoader, layer *check.Layer) ([][]float32, error) {
	if ev.Views() != 1 {
		return nil, fmt.Errorf("viz: features of %d views per image; want 1", ev.Views())
	}
	g := e.Plan.Graph
	batch := g.Batch
	x := e.F32(plan.Infer, "data")
	labels := make([]int32, batch)
	names := map[string]int{} // part output → its offset within an image's features
	per := map[string]int{}   // values per image in that part
	width := 0
	if layer.In == nil { // the image itself
		names["data"], per["data"] = 0, int(layer.Out.Elems())
		width = per["data"]
	} else {
		for _, p := range layer.Parts {
			name := partBuffer(layer, p, ".out")
			n := p.Channels() * layer.Out.H * layer.Out.W
			names[name], per[name] = width, n
			width += n
		}
	}
	var out [][]float32
	ev.Reset()
	for n := ev.Next(x, labels); n > 0; n = ev.Next(x, labels) {
		rows := make([][]float32, n)
		for i := range rows {
			rows[i] = make([]float32, width)
		}
		grab := func(name string) {
			off, k := names[name], per[name]
			buf := e.F32(plan.Infer, name)
			for i := 0; i < n; i++ {
				copy(rows[i][off:off+k], buf[i*k:(i+1)*k])
			}
		}
		if _, ok := names["data"]; ok {
			grab("data")
		}
		e.RunChecked(plan.Infer, func(s *lower.Step) bool {
			for _, a := range s.Args {
				if _, ok := names[a.Buf.Name]; ok && a.Write {
					grab(a.Buf.Name)
				}
			}
			return true
		})
		out = append(out, rows...)
	}
	return out, nil
}

// Nearest returns the indices of the k rows of pool nearest q in Euclidean
// distance, nearest first (ties by index).
func Nearest(q []float32, pool [][]float32, k int) []int {
	type cand struct {
		i int
		d float64
	}
	best := make([]cand, 0, k+1)
	for i, p := range pool {
		var d float64
		for j, v := range p {
			t := float64(v - q[j])
			d += t * t
		}
		if len(best) == k && d >= best[k-1].d {
			continue
		}
		at := sort.Search(len(best), func(j int) bool { return best[j].d > d })
		best = append(best, cand{})
		copy(best[at+1:], best[at:])
		best[at] = cand{i, d}
		if len(best) > k {
			best = best[:k]
		}
	}
	out := make([]int, len(best))
	for i, c := range best {
		out[i] = c.i
	}
	return out
}

// Queries picks n images of a set to look up: the first image of class 0,
// of class 1, and so on, going round the classes again for the second
// image of each when n exceeds them.
func Queries(s *data.Set, n int) []int {
	byClass := map[int32][]int{}
	for i, l := range s.Labels {
		byClass[l] = append(byClass[l], i)
	}
	var classes []int32
	for c := range byClass {
		classes = append(classes, c)
	}
	sort.Slice(classes, func(a, b int) bool { return classes[a] < classes[b] })
	var out []int
	for round := 0; len(out) < n; round++ {
		added := false
		for _, c := range classes {
			if round < len(byClass[c]) && len(out) < n {
				out = append(out, byClass[c][round])
				added = true
			}
		}
		if !added {
			break
		}
	}
	return out
}

// Pick returns a set of the chosen images of s, in that order.
func Pick(s *data.Set, idx []int) *data.Set {
	out := &data.Set{Classes: s.Classes, Channels: s.Channels, Size: s.Size}
	for _, i := range idx {
		out.Labels = append(out.Labels, s.Labels[i])
		out.Pixels = append(out.Pixels, s.Image(i)...)
	}
	return out
}

// GridOptions lay out the neighbours grid.
type GridOptions struct {
	Scale int // screen pixels per image pixel; 0: 3
	Gap   int // pixels between images; 0: 2. The query column is 2·Gap further from its neighbours
}

func (o GridOptions) defaults() GridOptions {
	if o.Scale <= 0 {
		o.Scale = 3
	}
	if o.Gap <= 0 {
		o.Gap = 2
	}
	return o
}

// NeighbourGridSize is the size of the grid Neighbours draws for rows
// queries of k neighbours each, of images of the given side.
func NeighbourGridSize(rows, k, side int, opt GridOptions) (w, h int) {
	opt = opt.defaults()
	cell := side * opt.Scale
	return (1+k)*cell + (k+2)*opt.Gap + 2*opt.Gap, rows*cell + (rows+1)*opt.Gap
}

// Neighbours draws one row per query: the query image of queries, then
// the images of pool that neighbours[i] names, as stored (before cropping),
// as in the paper's Figure 4.
func Neighbours(queries *data.Set, pool *data.Set, neighbours [][]int, opt GridOptions) *image.RGBA {
	k := 0
	for _, n := range neighbours {
		k = max(k, len(n))
	}
	w, h := NeighbourGridSize(queries.Len(), k, queries.Size, opt)
	opt = opt.defaults()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fill(img, img.Bounds(), Background)
	cell := queries.Size * opt.Scale
	for r := 0; r < queries.Len(); r++ {
		y0 := opt.Gap + r*(cell+opt.Gap)
		drawImage(img, opt.Gap, y0, queries, r, opt.Scale)
		for j, i := range neighbours[r] {
			x0 := opt.Gap + (j+1)*(cell+opt.Gap) + 2*opt.Gap
			drawImage(img, x0, y0, pool, i, opt.Scale)
		}
	}
	return img
}

func drawImage(img *image.RGBA, x0, y0 int, s *data.Set, i, scale int) {
	px := s.Image(i)
	plane := s.Size * s.Size
	for y := 0; y < s.Size; y++ {
		for x := 0; x < s.Size; x++ {
			at := y*s.Size + x
			c := color.RGBA{R: px[at], G: px[at], B: px[at], A: 255}
			if s.Channels >= 3 {
				c.G, c.B = px[plane+at], px[2*plane+at]
			}
			fill(img, image.Rect(x0+x*scale, y0+y*scale, x0+(x+1)*scale, y0+(y+1)*scale), c)
		}
	}
}

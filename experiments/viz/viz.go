// Package viz shows what a trained network learned, as the paper does: the
// first convolutional layer's kernels as an image grid, one block per GPU
// (Figure 3), and test images beside the training images whose last hidden
// layer's activations lie nearest theirs (Figure 4).
//
// It reads only the plan (runtime/plan) and what runs it: the layers and
// buffers it draws and compares are found in the plan, so it serves a plan
// read back from plan.json as well as one compiled in the process.
package viz

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"sort"
	"strings"

	"github.com/alexnetc/alexnetc/runtime/data"
	"github.com/alexnetc/alexnetc/runtime/device"
	"github.com/alexnetc/alexnetc/runtime/engine"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// Background is the colour between the cells of a grid.
var Background = color.RGBA{R: 255, G: 255, B: 255, A: 255}

// KernelOptions lay out the kernel grid.
type KernelOptions struct {
	Columns int // kernels per row; 0: 16, as in Figure 3
	Scale   int // screen pixels per kernel pixel; 0: about 40 pixels per kernel
	Gap     int // pixels between kernels; 0: 2. GPU blocks are 2·Gap further apart
}

// Conv is a convolutional layer as the kernel grid draws it: its weights
// as the plan holds them, one F × C/groups × k × k buffer per GPU's part,
// GPU 0's first.
type Conv struct {
	Name    string
	Kernel  int            // the side of a kernel
	Filters int            // kernels in all parts
	Weights []*plan.Buffer // one per part
}

// FirstConv returns the plan's first convolutional layer.
func FirstConv(p *plan.Plan) (*Conv, error) {
	for _, l := range p.Model.Layers {
		if l.Op != convOp {
			continue
		}
		c := &Conv{Name: l.Name, Weights: parts(p, l.Name, plan.Weight, ".weight")}
		if len(c.Weights) == 0 {
			return nil, fmt.Errorf("layer %s of network %s has no weights in the plan", l.Name, p.Network)
		}
		for _, w := range c.Weights {
			if len(w.Shape) != 4 || w.Shape[2] != w.Shape[3] || (c.Kernel != 0 && w.Shape[2] != c.Kernel) {
				return nil, fmt.Errorf("weights %s: shape %v, want filters × channels × k × k", w.Name, w.Shape)
			}
			c.Kernel = w.Shape[2]
			c.Filters += w.Shape[0]
		}
		return c, nil
	}
	return nil, fmt.Errorf("network %s has no convolutional layer", p.Network)
}

// The op table's names (plan.Ops) of the layers viz looks for.
const (
	convOp = "conv"
	fcOp   = "fc"
)

// parts returns a layer's buffers of a role whose names end in suffix:
// one per GPU's part ("conv1.weight", or "conv1.gpu0.weight",
// "conv1.gpu1.weight"), in the order of their devices.
func parts(p *plan.Plan, layer string, role plan.Role, suffix string) []*plan.Buffer {
	var out []*plan.Buffer
	for _, b := range p.Buffers {
		if b.Layer == layer && b.Role == role && strings.HasSuffix(b.Name, suffix) {
			out = append(out, b)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Device < out[j].Device })
	return out
}

// KernelGridSize returns the size of the grid Kernels draws for c.
func KernelGridSize(c *Conv, opt KernelOptions) (w, h int) {
	opt = opt.defaults(c.Kernel)
	cell := c.Kernel * opt.Scale
	cols := opt.columns(c)
	w = cols*cell + (cols+1)*opt.Gap
	for i, b := range c.Weights {
		rows := (b.Shape[0] + cols - 1) / cols
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
func (o KernelOptions) columns(c *Conv) int {
	most := 0
	for _, b := range c.Weights {
		most = max(most, b.Shape[0])
	}
	return max(1, min(o.Columns, most))
}

// Kernels draws the weights of the first convolutional layer of the
// backend's plan, read back from it, each kernel scaled on its own to the full range 0–255
// (over all its input channels together, so colours keep their balance):
// RGB for kernels over three channels, grey otherwise (the mean over the
// channels when there are neither one nor three). Each GPU's kernels form
// their own block of rows, GPU 0's first, as in the paper's Figure 3.
func Kernels(e device.Backend, opt KernelOptions) (*image.RGBA, error) {
	c, err := FirstConv(e.Plan())
	if err != nil {
		return nil, err
	}
	k := c.Kernel
	w, h := KernelGridSize(c, opt)
	opt = opt.defaults(k)
	cols := opt.columns(c)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fill(img, img.Bounds(), Background)
	cell := k * opt.Scale
	top := 0
	for i, b := range c.Weights {
		if i > 0 {
			top += 2 * opt.Gap
		}
		weights := make([]float32, b.Elems())
		if err := e.Read(plan.Infer, b.Name, weights); err != nil {
			return nil, err
		}
		filters := b.Shape[0]
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

// Feature is a layer's output as Features reads it: one buffer per GPU's
// part, their values side by side.
type Feature struct {
	Layer   string         // the layer's name; the plan's input ("data") for the image itself
	Buffers []*plan.Buffer // N × ... each, in the order of their devices
	Width   int            // values per image, all parts together
}

// FeatureLayer returns the output of the layer the last fully connected
// layer reads: the last hidden layer's activations, the features the paper
// compares in Figure 4 (AlexNet: fc7 after dropout, 4096 values). The
// network is a chain, so that is the layer before it, or the image when the
// fully connected layer comes first.
func FeatureLayer(p *plan.Plan) (*Feature, error) {
	ls := p.Model.Layers
	for i := len(ls) - 1; i >= 0; i-- {
		if ls[i].Op != fcOp {
			continue
		}
		f := &Feature{Layer: p.Model.Input}
		if i == 0 {
			if b := p.Buffer(p.Model.Input); b != nil {
				f.Buffers = []*plan.Buffer{b}
			}
		} else {
			f.Layer = ls[i-1].Name
			f.Buffers = parts(p, f.Layer, plan.Activation, ".out")
		}
		if len(f.Buffers) == 0 {
			return nil, fmt.Errorf("the plan of network %s holds no output of %s", p.Network, f.Layer)
		}
		for _, b := range f.Buffers {
			if len(b.Shape) == 0 || b.Shape[0] != p.Batch {
				return nil, fmt.Errorf("buffer %s: shape %v, want %d images first", b.Name, b.Shape, p.Batch)
			}
			f.Width += int(b.Elems()) / p.Batch
		}
		return f, nil
	}
	return nil, fmt.Errorf("network %s has no fully connected layer", p.Network)
}

// Features runs the inference program over every image ev delivers (one
// view each) and returns each image's activations of the feature, every
// GPU's part side by side, in image order. It reads each part's output
// right after the step that writes it, so any memory plan serves.
func Features(e *engine.Engine, ev *data.EvalLoader, f *Feature) ([][]float32, error) {
	if ev.Views() != 1 {
		return nil, fmt.Errorf("viz: features of %d views per image; want 1", ev.Views())
	}
	p := e.Plan
	x := e.F32(plan.Infer, p.Model.Input)
	labels := make([]int32, p.Batch)
	at := map[string]int{} // part buffer → its offset within an image's features
	off := 0
	for _, b := range f.Buffers {
		at[b.Name] = off
		off += int(b.Elems()) / p.Batch
	}
	var out [][]float32
	ev.Reset()
	for n := ev.Next(x, labels); n > 0; n = ev.Next(x, labels) {
		rows := make([][]float32, n)
		for i := range rows {
			rows[i] = make([]float32, f.Width)
		}
		grab := func(b *plan.Buffer) {
			o, k := at[b.Name], int(b.Elems())/p.Batch
			buf := e.F32(plan.Infer, b.Name)
			for i := 0; i < n; i++ {
				copy(rows[i][o:o+k], buf[i*k:(i+1)*k])
			}
		}
		if f.Layer == p.Model.Input {
			grab(f.Buffers[0])
		}
		e.RunChecked(plan.Infer, func(s *plan.Step) bool {
			for _, a := range s.Args {
				if _, ok := at[a.Buf.Name]; ok && a.Write {
					grab(a.Buf)
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

package check

import (
	"fmt"
	"strings"

	"github.com/alexnetc/alexnetc/spec"
	"github.com/alexnetc/alexnetc/spec/expr"
)

// layer resolves one layer whose input is already resolved. After an error
// it goes on with the best shape it can, so that the layers after it are
// checked too; it returns nil only when the output shape is unknown.
func (c *checker) layer(n *Network, sl *spec.Layer, in *Layer) *Layer {
	l := &Layer{Spec: sl, Name: sl.Name, Op: sl.Op, In: in, Connect: sl.Input.Connect, InShape: in.Out}
	if !c.place(n, l) {
		return nil
	}
	c.unread(l)
	// What the op is comes from the op table (runtime/plan): its keys, its
	// window, its width, its weights and multiply-adds, its own rule.
	op := l.Def()
	if op == nil {
		c.errorf(sl.Of("op"), "op %q is not in the op table", sl.Op)
		return nil
	}
	keys, err := l.Keys()
	if err != nil {
		c.errorf(sl.Of("op"), "%v", err)
		return nil
	}
	if op.Window != "" {
		side := specKeys[op.Window](sl).(int)
		if !c.window(n, l, side, sl.Stride, sl.Pad, op.Window) {
			return nil
		}
		l.Out.C = l.InShape.C
		if !op.Learned {
			l.Overlapping = side > sl.Stride
		}
	}
	switch {
	case op.Learned:
		width := specKeys[op.Width](sl).(int)
		if op.Flat {
			l.Out = Shape{width, 1, 1}
		} else {
			l.Out.C = width
		}
		c.split(n, l, width, op.Width)
		if _, grouped := keys.Get("groups"); grouped {
			c.groups(l)
		}
		for _, p := range l.Parts {
			g, err := l.Geometry(p, 1)
			if err != nil {
				c.errorf(sl.Of("op"), "%v", err)
				return nil
			}
			weights := int64(1)
			for _, d := range op.Weight(g) {
				weights *= int64(d)
			}
			p.Params = weights + int64(p.Channels())
			p.MACs = op.MACs(g)
		}
		l.Neurons = l.Out.Elems()
	case op.Window != "":
	case op.Flat:
		l.Out = Shape{int(l.InShape.Elems()), 1, 1}
	default:
		l.Out = l.InShape
	}
	if op.Rule != nil {
		if key, msg := op.Rule(keys); key != "" {
			c.errorf(sl.Of(key), "%s", msg)
		}
	}
	if op.Output && len(l.Parts) != 1 {
		c.errorf(sl.Of("input"), "%s %q needs every class on one GPU, but %s has parts on GPUs %s; read %s[all]",
			sl.Op, sl.Name, in.Name, gpuList(in.Parts), in.Name)
		return nil
	}
	for _, p := range l.Parts {
		if !l.Weighted() {
			p.InC = sumReads(p.Reads)
			if p.C1 == 0 {
				// Gathered onto one GPU: the part holds every channel.
				p.C0, p.C1 = 0, l.Out.C
			}
		}
		if len(p.Cross()) > 0 {
			l.CrossGPU = true
		}
		l.Params += p.Params
		l.MACs += p.MACs
	}
	return l
}

// place decides which GPUs hold the layer and what each part reads.
// Layers with filters or units are split over every GPU unless placed on one;
// the others follow their input, each GPU acting on its own part, unless they
// read all GPUs' parts or are placed on one GPU.
func (c *checker) place(n *Network, l *Layer) bool {
	sl, in := l.Spec, l.In
	where := sl.Place
	if where != nil && !where.Split && where.GPU >= n.GPUs {
		c.errorf(sl.Of("place"), "gpu(%d) does not exist: [network] gpus = %d numbers them 0 to %d", where.GPU, n.GPUs, n.GPUs-1)
		return false
	}
	var gpus []int
	switch {
	case where != nil && !where.Split:
		gpus = []int{where.GPU}
	case l.Weighted():
		for g := 0; g < n.GPUs; g++ {
			gpus = append(gpus, g)
		}
	case where != nil && where.Split:
		c.errorf(sl.Of("place"), "a %s layer has no filters or units to split; it follows its input, or write gpu(N)", sl.Op)
		return false
	case sl.Op == spec.Softmax && (l.Connect == expr.All || len(in.Parts) == 1 || in.Replicated):
		gpus = []int{in.Parts[0].GPU}
	default:
		// Follow the input part by part: LRN and pooling act on each
		// GPU's slice of the channels on its own (paper §3.2).
		l.Replicated = in.Replicated
		for _, ip := range in.Parts {
			l.Parts = append(l.Parts, &Part{GPU: ip.GPU, C0: ip.C0, C1: ip.C1, Reads: []Slice{{ip.GPU, ip.C0, ip.C1}}})
		}
		return true
	}
	for _, g := range gpus {
		p := &Part{GPU: g}
		switch {
		case in.Replicated:
			// Every GPU has the whole input; nothing crosses.
			p.Reads = []Slice{{g, 0, in.Out.C}}
		case l.Connect == expr.All:
			for _, ip := range in.Parts {
				p.Reads = append(p.Reads, Slice{ip.GPU, ip.C0, ip.C1})
			}
		default:
			ip := in.PartOn(g)
			if ip == nil {
				c.errorf(sl.Of("input"), "layer %q on GPU %d reads %s[own], but %s has no part on GPU %d (it lives on GPU %s); read %s[all]",
					sl.Name, g, in.Name, in.Name, g, gpuList(in.Parts), in.Name)
				return false
			}
			p.Reads = []Slice{{g, ip.C0, ip.C1}}
		}
		p.InC = sumReads(p.Reads)
		l.Parts = append(l.Parts, p)
	}
	return true
}

// unread reports a part of the input that no part of the layer reads: its
// GPU would compute it for nothing, and its weights would never learn.
func (c *checker) unread(l *Layer) {
	if l.In.Replicated {
		return
	}
	read := map[int]bool{}
	for _, p := range l.Parts {
		for _, r := range p.Reads {
			read[r.GPU] = true
		}
	}
	for _, ip := range l.In.Parts {
		if !read[ip.GPU] {
			c.errorf(l.Spec.Of("input"), "no part of %q reads the part of %s on GPU %d, so it would be computed for nothing; read %s[all]",
				l.Name, l.In.Name, ip.GPU, l.In.Name)
			return
		}
	}
}

// split divides a layer's filters or units evenly over its parts.
func (c *checker) split(n *Network, l *Layer, total int, key string) {
	parts := len(l.Parts)
	if total%parts != 0 {
		c.errorf(l.Spec.Of(key), "%s = %d cannot be split evenly over %d GPUs", key, total, parts)
	}
	each := max(total/parts, 1)
	for i, p := range l.Parts {
		p.C0, p.C1 = i*each, (i+1)*each
	}
}

// groups checks that each part's filters and input channels divide into the
// conv's groups.
func (c *checker) groups(l *Layer) {
	g := l.Spec.Groups
	p := l.Parts[0]
	switch {
	case p.Channels()%g != 0:
		c.errorf(l.Spec.Of("groups"), "groups = %d does not divide the %d filters each GPU holds", g, p.Channels())
	case p.InC%g != 0:
		c.errorf(l.Spec.Of("groups"), "groups = %d does not divide the %d input channels each GPU's part reads", g, p.InC)
	}
}

// window computes the output size of a conv or pooling window over the
// input, under the network's rounding. Its errors leave a usable size
// behind, so that the layers after are checked too; only a window over a
// fully connected layer stops the check.
func (c *checker) window(n *Network, l *Layer, size, stride, pad int, key string) bool {
	sl, in := l.Spec, l.InShape
	if in.H == 1 && in.W == 1 && l.In.Def() != nil && l.In.Def().Learned && l.In.Def().Flat {
		c.errorf(sl.Of("op"), "a %s layer cannot read the fully connected layer %q: it has no spatial extent", sl.Op, l.In.Name)
		return false
	}
	if size > min(in.H, in.W)+2*pad {
		c.errorf(sl.Of(key), "%s = %d is larger than its %d×%d input (with pad %d)", key, size, in.H, in.W, pad)
	}
	if pad >= size {
		c.errorf(sl.Of("pad"), "pad = %d is not smaller than the %s %d: some windows would see only padding", pad, key, size)
	}
	l.PadTop, l.PadLeft, l.PadBottom, l.PadRight = pad, pad, pad, pad
	reported := false
	side := func(name string, s int, extra *int) int {
		span := s + 2*pad - size
		switch {
		case span < 0:
			return 1
		case n.Rounding == spec.Ceil:
			out := 1 + (span+stride-1)/stride
			// The last window may run past the padded input; the pixels it
			// misses are zeros, as in cuda-convnet.
			*extra += (out-1)*stride + size - (s + 2*pad)
			return out
		case span%stride != 0 && !reported:
			reported = true
			c.errorf(sl.Of(key), "%s does not come out whole: (%d + 2·%d − %d) / %d = %s; under rounding = \"floor\" it must divide evenly: change %s, pad or stride, or use rounding = \"ceil\"",
				name, s, pad, size, stride, fraction(span, stride), key)
		}
		return span/stride + 1
	}
	l.Out.H = side("height", in.H, &l.PadBottom)
	l.Out.W = side("width", in.W, &l.PadRight)
	return true
}

func fraction(a, b int) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.4f", float64(a)/float64(b)), "0"), ".")
}

func sumReads(reads []Slice) int {
	n := 0
	for _, r := range reads {
		n += r.C1 - r.C0
	}
	return n
}

func gpuList(parts []*Part) string {
	s := make([]string, len(parts))
	for i, p := range parts {
		s[i] = fmt.Sprint(p.GPU)
	}
	return strings.Join(s, ", ")
}

// settings checks the training, data and evaluation tables against the
// network's input.
func (c *checker) settings() {
	s := c.s
	in, data := s.Input, s.Data
	if data.Crop != 0 && (data.Crop != in.Height || data.Crop != in.Width) {
		c.errorf(data.Of("crop"), "crop = %d, but the network's input is %d×%d", data.Crop, in.Height, in.Width)
	}
	if data.Resize != 0 && (data.Resize < in.Height || data.Resize < in.Width) {
		c.errorf(data.Of("resize"), "resize = %d is smaller than the %d×%d crop taken from it", data.Resize, in.Height, in.Width)
	}
	if data.PCALighting > 0 && in.Channels != 3 {
		c.errorf(data.Of("pca_lighting"), "PCA lighting works on RGB colour, but the input has %d channel(s); set pca_lighting = 0", in.Channels)
	}
	if v := s.Eval.Views; v != 1 && v != 10 {
		c.errorf(s.Eval.Of("views"), "views = %d: use 1 (centre crop) or 10 (four corners and centre, each mirrored)", v)
	}
	if sch := s.Train.Schedule; sch != nil && sch.Kind == expr.Steps {
		for _, e := range sch.At {
			if e > s.Train.Epochs {
				c.errorf(s.Train.Of("schedule"), "steps(at=...) names epoch %d, after the last epoch %d", e, s.Train.Epochs)
				break
			}
		}
	}
}

// total sums the counts of all layers, overall and per GPU.
func (n *Network) total() {
	n.PerGPU = make([]GPU, n.GPUs)
	for _, l := range n.Layers {
		n.Params += l.Params
		n.Neurons += l.Neurons
		n.MACs += l.MACs
		hw := int64(l.Out.H) * int64(l.Out.W)
		for _, p := range l.Parts {
			g := &n.PerGPU[p.GPU]
			g.Params += p.Params
			g.MACs += p.MACs
			g.WeightBytes += p.Params * BytesPerValue
			g.ActivationBytes += int64(p.Channels()) * hw * BytesPerValue
		}
	}
}

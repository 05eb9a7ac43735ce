package viz

import (
	"math"
	"math/rand"
	"testing"

	"github.com/alexnetc/alexnetc/compiler"
	"github.com/alexnetc/alexnetc/compiler/check"
	"github.com/alexnetc/alexnetc/examples"
	"github.com/alexnetc/alexnetc/runtime/data"
	"github.com/alexnetc/alexnetc/runtime/engine"
	"github.com/alexnetc/alexnetc/runtime/plan"
	"github.com/alexnetc/alexnetc/spec"
)

func network(t *testing.T, file string) *check.Network {
	t.Helper()
	src, err := examples.FS.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s, diags := spec.Parse(file, src)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	n, diags := check.Check(s)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	return n
}

func compile(t *testing.T, n *check.Network, batch int, keepAll bool) *plan.Plan {
	t.Helper()
	p, err := compiler.Compile(n, compiler.Options{Batch: batch, KeepAll: keepAll})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newEngine(t *testing.T, n *check.Network, batch int, keepAll bool) *engine.Engine {
	t.Helper()
	e := engine.New(compile(t, n, batch, keepAll), 1)
	e.Init(1)
	return e
}

func noise(n, channels, size int, seed int64) *data.Set {
	r := rand.New(rand.NewSource(seed))
	s := &data.Set{Channels: channels, Size: size, Pixels: make([]uint8, n*channels*size*size), Labels: make([]int32, n), Classes: data.FashionMNISTClasses}
	for i := range s.Pixels {
		s.Pixels[i] = uint8(r.Intn(256))
	}
	for i := range s.Labels {
		s.Labels[i] = int32(i % 10)
	}
	return s
}

func TestKernelGrid(t *testing.T) {
	// Fashion: 32 5×5 grey kernels, 16 per GPU: one row per GPU.
	n := network(t, "fashion.toml")
	e := newEngine(t, n, 2, false)
	c, err := FirstConv(e.Plan)
	if err != nil || c.Name != "conv1" || c.Kernel != 5 || c.Filters != 32 || len(c.Weights) != 2 ||
		c.Weights[0].Name != "conv1.gpu0.weight" || c.Weights[1].Name != "conv1.gpu1.weight" {
		t.Fatalf("first conv %+v, %v", c, err)
	}
	img, err := Kernels(engine.CPU{Engine: e}, KernelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w != 16*40+17*2 || h != 2*(40+2*2)+2*2 {
		t.Errorf("fashion grid %d×%d", w, h)
	}
	// Each kernel spans the full range: some pixel of the first is 0, some 255.
	// The first is GPU 0's first filter: its lightest pixel is its largest
	// weight.
	w0 := e.F32(plan.Infer, "conv1.gpu0.weight")[:25]
	top := 0
	for i, v := range w0 {
		if v > w0[top] {
			top = i
		}
	}
	if c := img.RGBAAt(2+40/5*(top%5), 2+40/5*(top/5)); c.R != 255 {
		t.Errorf("the first kernel's largest weight (%d) drew %v", top, c)
	}
	var lo, hi bool
	for y := 2; y < 42; y++ {
		for x := 2; x < 42; x++ {
			c := img.RGBAAt(x, y)
			lo, hi = lo || c.R == 0, hi || c.R == 255
			if c.R != c.G || c.G != c.B {
				t.Fatalf("a grey kernel drew colour at %d,%d", x, y)
			}
		}
	}
	if !lo || !hi {
		t.Errorf("the first kernel is not scaled to 0–255")
	}
	if c := img.RGBAAt(1, 1); c != Background {
		t.Errorf("the gap is %v", c)
	}

	// The paper's net: 96 11×11 RGB kernels, 48 per GPU, three rows of 16
	// each, as in Figure 3.
	c, err = FirstConv(compile(t, network(t, "alexnet.toml"), 1, false))
	if err != nil || c.Kernel != 11 || c.Filters != 96 {
		t.Fatalf("alexnet first conv %+v, %v", c, err)
	}
	if w, h := KernelGridSize(c, KernelOptions{}); w != 16*44+17*2 || h != 2*(3*44+4*2)+2*2 {
		t.Errorf("alexnet grid %d×%d", w, h)
	}
	// The op names viz looks for are the op table's.
	if plan.OpNamed(convOp) == nil || plan.OpNamed(fcOp) == nil {
		t.Errorf("the op table has no %q or %q", convOp, fcOp)
	}
}

// TestFeatures compares the activations Features reads step by step with
// those a plan that keeps every buffer leaves behind.
func TestFeatures(t *testing.T) {
	n := network(t, "fashion.toml")
	e := newEngine(t, n, 8, false)
	layer, err := FeatureLayer(e.Plan)
	if err != nil || layer.Layer != "drop5" || layer.Width != 512 || len(layer.Buffers) != 2 || layer.Buffers[1].Name != "drop5.gpu1.out" {
		t.Fatalf("feature layer %+v, %v", layer, err)
	}
	set := noise(5, 1, 32, 1)
	st := data.ComputeStats(set)
	aug := data.Augment{Crop: 28, Mean: plan.MeanPixel}
	ev, err := data.NewEvalLoader(set, st, aug, 1, data.Options{Batch: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Close()
	feats, err := Features(e, ev, layer)
	if err != nil {
		t.Fatal(err)
	}
	if len(feats) != 5 || len(feats[0]) != 512 {
		t.Fatalf("%d features of %d", len(feats), len(feats[0]))
	}

	keep := newEngine(t, n, 8, true)
	labels := make([]int32, 8)
	ev.Reset()
	ev.Next(keep.F32(plan.Infer, "data"), labels)
	keep.Run(plan.Infer)
	a, b := keep.F32(plan.Infer, "drop5.gpu0.out"), keep.F32(plan.Infer, "drop5.gpu1.out")
	nonzero := 0
	for i := 0; i < 5; i++ {
		want := append(append([]float32{}, a[i*256:(i+1)*256]...), b[i*256:(i+1)*256]...)
		for j, v := range want {
			if feats[i][j] != v {
				t.Fatalf("image %d feature %d: %v, want %v", i, j, feats[i][j], v)
			}
			if v != 0 {
				nonzero++
			}
		}
	}
	if nonzero == 0 {
		t.Errorf("every feature is zero")
	}
}

// TestFeaturesOfImages: a network whose first layer is fully connected
// compares the images themselves.
func TestFeaturesOfImages(t *testing.T) {
	src, err := examples.FS.ReadFile("fashion.toml")
	if err != nil {
		t.Fatal(err)
	}
	s, diags := spec.Parse("fashion.toml", src)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	patch, diags := spec.ParsePatch("test", "drop conv*, norm*, pool*, fc5, drop5")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if s, diags = s.Apply("", []*spec.Patch{patch}); len(diags) > 0 {
		t.Fatal(diags)
	}
	n, diags := check.Check(s)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	e := newEngine(t, n, 4, false)
	f, err := FeatureLayer(e.Plan)
	if err != nil || f.Layer != "data" || f.Width != 28*28 || len(f.Buffers) != 1 || f.Buffers[0].Name != "data" {
		t.Fatalf("feature layer %+v, %v", f, err)
	}
	set := noise(3, 1, 28, 3)
	ev, err := data.NewEvalLoader(set, nil, data.Augment{Crop: 28}, 1, data.Options{Batch: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Close()
	feats, err := Features(e, ev, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(feats) != 3 {
		t.Fatalf("%d rows", len(feats))
	}
	for i, row := range feats {
		for j, v := range row {
			if want := float64(set.Image(i)[j]) / 255; math.Abs(float64(v)-want) > 1e-6 {
				t.Fatalf("image %d value %d: %v, want the pixel %v", i, j, v, want)
			}
		}
	}
}

func TestNearestAndQueries(t *testing.T) {
	pool := [][]float32{{0, 0}, {5, 5}, {1, 0}, {0, 2}, {1, 1}}
	got := Nearest([]float32{0.9, 0.9}, pool, 3)
	if len(got) != 3 || got[0] != 4 || got[1] != 2 || got[2] != 0 {
		t.Errorf("nearest %v", got)
	}
	if got := Nearest([]float32{0, 0}, pool, 10); len(got) != 5 {
		t.Errorf("k beyond the pool: %v", got)
	}
	s := &data.Set{Labels: []int32{3, 1, 1, 0, 3, 2}}
	if q := Queries(s, 5); len(q) != 5 || q[0] != 3 || q[1] != 1 || q[2] != 5 || q[3] != 0 || q[4] != 2 {
		t.Errorf("queries %v", q)
	}
	if q := Queries(s, 50); len(q) != 6 {
		t.Errorf("more queries than images: %v", q)
	}
}

func TestNeighbourGrid(t *testing.T) {
	test, train := noise(3, 3, 8, 1), noise(20, 3, 8, 2)
	img := Neighbours(Pick(test, []int{0, 2}), train, [][]int{{1, 2, 3}, {4, 5, 6}}, GridOptions{Scale: 2, Gap: 1})
	w, h := NeighbourGridSize(2, 3, 8, GridOptions{Scale: 2, Gap: 1})
	if img.Bounds().Dx() != w || img.Bounds().Dy() != h || w != 4*16+5*1+2 || h != 2*16+3 {
		t.Fatalf("grid %v, want %d×%d", img.Bounds(), w, h)
	}
	// The second row's query is test image 2; its second neighbour train image 5.
	px := func(s *data.Set, i, y, x int) [3]uint8 {
		p := s.Image(i)
		return [3]uint8{p[y*8+x], p[64+y*8+x], p[128+y*8+x]}
	}
	at := func(x, y int) [3]uint8 { c := img.RGBAAt(x, y); return [3]uint8{c.R, c.G, c.B} }
	if at(1+2*3, 1+17+2*4) != px(test, 2, 4, 3) {
		t.Errorf("query pixel")
	}
	if at(1+2*(16+1)+2+2*5, 1+17+2*6) != px(train, 5, 6, 5) {
		t.Errorf("neighbour pixel")
	}
}

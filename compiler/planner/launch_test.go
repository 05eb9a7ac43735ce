package planner_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/alexnetc/alexnetc/compiler"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// TestAlexNetPlan pins the paper network's memory and launch plans at its
// spec's batch of 128: the arenas, and the number of launches and events
// of each program, as they were before the plan became runtime/plan (the
// memory plan and every launch were compared with the old compiler/plan's
// then, and were the same).
func TestAlexNetPlan(t *testing.T) {
	p := build(t, network(t, "../../examples/alexnet.toml", ""), compiler.Options{})
	if p.Batch != 128 || p.Devices() != 2 {
		t.Fatalf("batch %d on %d devices, want 128 on 2", p.Batch, p.Devices())
	}
	want := []plan.DeviceMemory{
		{Persistent: 467_956_352, Transient: [2]int64{189_489_728, 280_625_728}, Arena: 748_582_080, Naive: [2]int64{391_983_680, 762_651_200}},
		{Persistent: 341_209_344, Transient: [2]int64{192_217_664, 357_696_064}, Arena: 698_905_408, Naive: [2]int64{466_444_864, 820_019_776}},
	}
	if !slices.Equal(p.Memory.Devices, want) {
		t.Errorf("memory plan:\n got %+v\nwant %+v", p.Memory.Devices, want)
	}
	for d, dm := range p.Memory.Devices {
		if dm.Arena != dm.Persistent+max(dm.Transient[plan.Infer], dm.Transient[plan.Train]) {
			t.Errorf("device %d: arena %d is not persistent %d + the larger transient %v", d, dm.Arena, dm.Persistent, dm.Transient)
		}
	}
	for _, c := range []struct {
		prog             plan.Program
		launches, events int
	}{{plan.Infer, 115, 20}, {plan.Train, 317, 36}} {
		if got := len(p.Launches[c.prog]); got != c.launches {
			t.Errorf("%s: %d launches, want %d", c.prog, got, c.launches)
		}
		if got := p.Events(c.prog); got != c.events {
			t.Errorf("%s: %d events, want %d", c.prog, got, c.events)
		}
	}
}

// TestTransfers lists the copies between the paper network's GPUs: the
// image, then both halves of pool2, pool5, drop6 for conv3, fc6 and fc7,
// drop7's second half for fc8 (which lives on GPU 0), and the gradients
// back the other way.
func TestTransfers(t *testing.T) {
	p := build(t, network(t, "../../examples/alexnet.toml", ""), compiler.Options{})
	const N = 128
	const image, pool2, pool5, fc = N * 3 * 224 * 224 * 4, N * 128 * 13 * 13 * 4, N * 128 * 6 * 6 * 4, N * 2048 * 4
	forward := []string{
		fmt.Sprintf(": 0→1 %d", image),
		fmt.Sprintf("conv3: 1→0 %d", pool2), fmt.Sprintf("conv3: 0→1 %d", pool2),
		fmt.Sprintf("fc6: 1→0 %d", pool5), fmt.Sprintf("fc6: 0→1 %d", pool5),
		fmt.Sprintf("fc7: 1→0 %d", fc), fmt.Sprintf("fc7: 0→1 %d", fc),
		fmt.Sprintf("fc8: 1→0 %d", fc),
	}
	backward := []string{
		fmt.Sprintf("fc8: 0→1 %d", fc),
		fmt.Sprintf("fc7: 0→1 %d", fc), fmt.Sprintf("fc7: 1→0 %d", fc),
		fmt.Sprintf("fc6: 0→1 %d", pool5), fmt.Sprintf("fc6: 1→0 %d", pool5),
		fmt.Sprintf("conv3: 0→1 %d", pool2), fmt.Sprintf("conv3: 1→0 %d", pool2),
	}
	for _, prog := range plan.Programs {
		var got []string
		for _, l := range p.Transfers(prog) {
			src, dst := l.Args[0], l.Args[1]
			got = append(got, fmt.Sprintf("%s: %d→%d %d", l.Layer, src.Device, dst.Device, src.Rows*src.RowBytes))
			// On the receiving GPU's copy stream, with an event right after
			// it for whoever reads what it wrote.
			ls := p.Launches[prog]
			if l.Stream != plan.CopyStream || l.Device != dst.Device || ls[l.Index+1].Kind != plan.RecordEvent || ls[l.Index+1].Stream != plan.CopyStream {
				t.Errorf("%s: launch %d (%s) is not a copy-stream transfer followed by its event", prog, l.Index, l.Note)
			}
		}
		want := forward
		if prog == plan.Train {
			want = append(slices.Clone(forward), backward...)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s transfers:\n got %q\nwant %q", prog, got, want)
		}
	}
	// pool2's half for conv3 on GPU 0: a row of 128·169 floats per image,
	// into every other such row of conv3's gathered input.
	l := p.Transfers(plan.Infer)[1]
	if src, dst := l.Args[0], l.Args[1]; src.Rows != N || src.RowBytes != 128*169*4 || src.Pitch != 128*169*4 ||
		dst.Start != 128*169*4 || dst.Pitch != 256*169*4 {
		t.Errorf("conv3's transfer: src %+v, dst %+v", src, dst)
	}
}

// kernels returns the kernels of a step's launches, marking loops.
func kernels(ls []plan.Launch, step int) []string {
	var out []string
	for _, l := range ls {
		if l.Step != step {
			continue
		}
		k := l.Kernel
		if l.Loop > 0 {
			k += fmt.Sprintf("×%d", l.Count)
		}
		out = append(out, k)
	}
	return out
}

func constant(l *plan.Launch, name string) float64 {
	if v, ok := l.Constants.Get(name); ok {
		return v.V
	}
	return -1
}

// TestLaunchShapes checks how steps of the paper network become kernels.
func TestLaunchShapes(t *testing.T) {
	p := build(t, network(t, "../../examples/alexnet.toml", ""), compiler.Options{})
	step := func(prog plan.Program, kernel plan.Kernel, note string) int {
		for i, s := range p.Steps[prog] {
			if s.Kernel == kernel && s.Note[:min(len(note), len(s.Note))] == note {
				return i
			}
		}
		t.Fatalf("no %s step %q", kernel, note)
		return -1
	}
	cases := []struct {
		prog   plan.Program
		kernel plan.Kernel
		note   string
		want   []string
	}{
		{plan.Infer, plan.ConvForward, "conv1 on GPU 0", []string{"im2col×128", "sgemm×128", "bias_act"}},
		{plan.Infer, plan.FCForward, "fc6 on GPU 0", []string{"sgemm", "bias_act"}},
		{plan.Train, plan.ConvBackward, "conv2 on GPU 1", []string{"fill", "fill", "act_backward×128", "bias_grad×128", "im2col×128", "sgemm×128", "sgemm×128", "col2im×128"}},
		{plan.Train, plan.ConvBackward, "conv1 on GPU 0", []string{"fill", "fill", "act_backward×128", "bias_grad×128", "im2col×128", "sgemm×128"}},
		{plan.Train, plan.FCBackward, "fc8", []string{"bias_grad", "sgemm", "sgemm"}},
		{plan.Train, plan.FCBackward, "fc7 on GPU 1", []string{"act_backward", "bias_grad", "sgemm", "sgemm"}},
		{plan.Train, plan.SoftmaxLoss, "loss", []string{"softmax", "nll_loss"}},
		{plan.Train, plan.Add, "sum the gradient of pool2", []string{"channel_add"}},
		{plan.Train, plan.SGDUpdate, "SGD on fc8.bias", []string{"sgd"}},
	}
	for _, c := range cases {
		if got := kernels(p.Launches[c.prog], step(c.prog, c.kernel, c.note)); !slices.Equal(got, c.want) {
			t.Errorf("%s %q: got %v, want %v", c.kernel, c.note, got, c.want)
		}
	}

	ls := p.Launches[plan.Infer]
	conv1 := &ls[find(t, ls, kernelFor("sgemm", "conv1", 0))]
	fc6 := &ls[find(t, ls, kernelFor("sgemm", "fc6", 0))]
	im2col := &ls[find(t, ls, kernelFor("im2col", "conv1", 0))]
	lrn := &ls[find(t, ls, kernelFor("lrn_forward", "norm1", 0))]
	for _, c := range []struct {
		l    *plan.Launch
		name string
		want float64
	}{
		{conv1, "M", 48}, {conv1, "N", 55 * 55}, {conv1, "K", 3 * 11 * 11}, {conv1, "beta", 0},
		{fc6, "trans_b", 1}, {fc6, "M", 128}, {fc6, "N", 2048}, {fc6, "K", 9216},
		{im2col, "stride", 4}, {im2col, "pad_l", 0}, {im2col, "OH", 55},
		{lrn, "size", 5}, {lrn, "k", 2}, {lrn, "alpha", float64(float32(1e-4))}, {lrn, "beta", 0.75},
	} {
		if got := constant(c.l, c.name); got != c.want {
			t.Errorf("%s for %s: %s = %g, want %g", c.l.Kernel, c.l.Layer, c.name, got, c.want)
		}
	}
	if conv1.Grid != [3]int{48, 1, 1} || fc6.Grid != [3]int{32, 2, 1} || im2col.Grid != [3]int{(363*3025 + 255) / 256, 1, 1} {
		t.Errorf("grids: conv1 sgemm %v, fc6 sgemm %v, im2col %v", conv1.Grid, fc6.Grid, im2col.Grid)
	}
	// Each image's output lands 48·55·55 floats after the previous one.
	if c := conv1.Args[2]; c.Advance != 48*3025*4 || c.RowBytes != 48*3025*4 {
		t.Errorf("conv1's output argument %+v", c)
	}
}

// TestSingleDeviceHasNoEvents: with every part on one device there is one
// stream and nothing to order.
func TestSingleDeviceHasNoEvents(t *testing.T) {
	p := build(t, network(t, "../../examples/alexnet.toml", ""), compiler.Options{Batch: 4, SingleDevice: true})
	for _, prog := range plan.Programs {
		for _, l := range p.Launches[prog] {
			if l.Kind == plan.RecordEvent || l.Kind == plan.WaitEvent || l.Stream != plan.ComputeStream || l.Peer() {
				t.Fatalf("%s: launch %d: %s on %s", prog, l.Index, l.Kind, l.Stream)
			}
		}
	}
}

// find returns the index of the first launch of the program that matches.
func find(t *testing.T, ls []plan.Launch, match func(l *plan.Launch) bool) int {
	t.Helper()
	for i := range ls {
		if match(&ls[i]) {
			return i
		}
	}
	t.Fatal("no such launch")
	return -1
}

func kernelFor(kernel, layer string, device int) func(l *plan.Launch) bool {
	return func(l *plan.Launch) bool { return l.Kernel == kernel && l.Layer == layer && l.Device == device }
}

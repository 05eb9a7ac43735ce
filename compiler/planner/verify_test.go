package planner_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alexnetc/alexnetc/compiler"
	"github.com/alexnetc/alexnetc/compiler/planner"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// TestVerifyEveryExample plans every example and every variant, at the
// spec's batch and at batch 1, on the spec's GPUs and all on one device,
// and finds no problem in either program.
func TestVerifyEveryExample(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.toml")
	if err != nil || len(files) == 0 {
		t.Fatal("no examples", err)
	}
	files = append(files, "../../testdata/alexnet-small.toml")
	for _, f := range files {
		for _, n := range networks(t, f) {
			for _, opt := range []compiler.Options{{}, {Batch: 1}, {SingleDevice: true}, {Batch: 1, SingleDevice: true}} {
				name := fmt.Sprintf("%s/%s/batch=%d/single=%v", filepath.Base(f), n.Variant, opt.Batch, opt.SingleDevice)
				p := build(t, n, opt)
				if probs := plan.Verify(p); len(probs) > 0 {
					t.Errorf("%s: %d problems:\n%s", name, len(probs), strings.Join(messages(probs[:min(len(probs), 10)]), "\n"))
				}
				if opt.SingleDevice && p.Devices() != 1 {
					t.Errorf("%s: %d devices", name, p.Devices())
				}
				for _, prog := range plan.Programs {
					// Every step is carried out by at least one launch, in order.
					var steps []int
					for _, l := range p.Launches[prog] {
						if l.Step >= 0 && (len(steps) == 0 || steps[len(steps)-1] != l.Step) {
							steps = append(steps, l.Step)
						}
					}
					if want := len(p.Steps[prog]); len(steps) != want || !slices.IsSorted(steps) {
						t.Errorf("%s: %s: launches cover steps %v, want 0..%d in order", name, prog, steps, want-1)
					}
				}
			}
		}
	}
}

// TestVerifyKeepAll: the memory plan that keeps every buffer alive also
// verifies, and keeps every buffer a program uses apart from every other.
func TestVerifyKeepAll(t *testing.T) {
	n := network(t, "../../testdata/alexnet-small.toml", "")
	p := build(t, n, compiler.Options{Batch: 3, KeepAll: true})
	if !p.KeepAll {
		t.Fatal("the plan does not say it keeps every buffer")
	}
	if probs := plan.Verify(p); len(probs) > 0 {
		t.Fatal(messages(probs))
	}
	for _, prog := range plan.Programs {
		var used []*plan.Buffer
		for _, b := range p.Buffers {
			if b.Offset[prog] >= 0 {
				used = append(used, b)
			}
		}
		for i, a := range used {
			for _, b := range used[i+1:] {
				oa, ob := a.Offset[prog], b.Offset[prog]
				if a.Device == b.Device && oa < ob+b.Bytes() && ob < oa+a.Bytes() {
					t.Fatalf("%s: %s and %s share bytes although every buffer is kept", prog, a.Name, b.Name)
				}
			}
		}
	}
	if smaller := build(t, n, compiler.Options{Batch: 3}); smaller.Memory.Devices[0].Arena >= p.Memory.Devices[0].Arena {
		t.Errorf("keeping every buffer takes %d bytes, reusing memory %d", p.Memory.Devices[0].Arena, smaller.Memory.Devices[0].Arena)
	}
}

// remove deletes a launch and renumbers the others.
func remove(ls []plan.Launch, i int) []plan.Launch {
	ls = slices.Delete(ls, i, i+1)
	for j := range ls {
		ls[j].Index = j
	}
	return ls
}

// TestVerifyCatches breaks a real plan in one place at a time and expects
// exactly the problems listed. Offsets and launch numbers come from the
// plan, so that the cases follow changes to the memory plan.
func TestVerifyCatches(t *testing.T) {
	n := network(t, "../../examples/alexnet.toml", "")
	cases := []struct {
		name string
		// breakIt breaks the plan and returns the problems Verify must report.
		breakIt func(t *testing.T, p *plan.Plan) []string
	}{
		{"offset past the arena", func(t *testing.T, p *plan.Plan) []string {
			ls := p.Launches[plan.Train]
			i := find(t, ls, kernelFor("bias_act", "conv3", 0))
			a, arena := &ls[i].Args[1], p.Memory.Devices[0].Arena
			a.Offset = arena - 64
			return []string{fmt.Sprintf("train: launch %d (bias_act for conv3 on 0/compute): passes conv3.gpu0.out at [%d, %d), outside device 0's arena of %d bytes",
				i, a.Offset, a.Offset+a.Bytes, arena)}
		}},
		{"offset off the memory plan", func(t *testing.T, p *plan.Plan) []string {
			ls := p.Launches[plan.Train]
			i := find(t, ls, kernelFor("bias_act", "conv3", 0))
			a := &ls[i].Args[1]
			a.Offset += 64
			return []string{fmt.Sprintf("train: launch %d (bias_act for conv3 on 0/compute): passes conv3.gpu0.out at %d; the memory plan puts it at %d",
				i, a.Offset, a.Offset-64)}
		}},
		{"block of 2048 threads", func(t *testing.T, p *plan.Plan) []string {
			ls := p.Launches[plan.Infer]
			i := find(t, ls, kernelFor("lrn_forward", "norm1", 1))
			ls[i].Block = [3]int{2048, 1, 1}
			return []string{
				fmt.Sprintf("infer: launch %d (lrn_forward for norm1 on 1/compute): block 2048×1×1: dimension 0 must be 1 to 1024 (sm_80, sm_90)", i),
				fmt.Sprintf("infer: launch %d (lrn_forward for norm1 on 1/compute): block 2048×1×1 has 2048 threads, more than 1024 (sm_80, sm_90)", i)}
		}},
		{"too much shared memory", func(t *testing.T, p *plan.Plan) []string {
			ls := p.Launches[plan.Infer]
			i := find(t, ls, kernelFor("sgemm", "fc6", 0))
			ls[i].SharedBytes = 64 << 10
			return []string{fmt.Sprintf("infer: launch %d (sgemm for fc6 on 0/compute): uses 65536 bytes of shared memory, more than the 49152 of static shared memory (sm_80, sm_90)", i)}
		}},
		{"grid too small for the work", func(t *testing.T, p *plan.Plan) []string {
			ls := p.Launches[plan.Infer]
			i := find(t, ls, kernelFor("maxpool_forward", "pool1", 0))
			ls[i].Grid[0]--
			n := 2 * 48 * 27 * 27
			return []string{fmt.Sprintf("infer: launch %d (maxpool_forward for pool1 on 0/compute): is launched as grid [%d 1 1], block [256 1 1], 0 bytes of shared memory; its constants need grid [%d 1 1], block [256 1 1], 0 bytes",
				i, (n+255)/256-1, (n+255)/256)}
		}},
		{"grid too tall", func(t *testing.T, p *plan.Plan) []string {
			ls := p.Launches[plan.Infer]
			i := find(t, ls, kernelFor("sgemm", "fc6", 0))
			ls[i].Grid[1] = 70000
			return []string{fmt.Sprintf("infer: launch %d (sgemm for fc6 on 0/compute): grid 32×70000×1: dimension 1 must be 1 to 65535 (sm_80, sm_90)", i)}
		}},
		{"wait for the transfer dropped", func(t *testing.T, p *plan.Plan) []string {
			// conv3 on GPU 0 starts without waiting for pool2's half from GPU 1.
			ls := p.Launches[plan.Train]
			i := find(t, ls, kernelFor("im2col", "conv3", 0))
			if ls[i-1].Kind != plan.WaitEvent {
				t.Fatalf("launch %d is a %s, not the wait", i-1, ls[i-1].Kind)
			}
			c := find(t, ls, func(l *plan.Launch) bool { return l.Peer() && l.Layer == "conv3" && l.Device == 0 })
			p.Launches[plan.Train] = remove(ls, i-1)
			return []string{fmt.Sprintf("train: launch %d (im2col for conv3 on 0/compute): reads conv3.gpu0.in and launch %d (copy for conv3 on 0/copy) writes conv3.gpu0.in share bytes with no event ordering them", i-1, c)}
		}},
		{"write before the peer copy has read", func(t *testing.T, p *plan.Plan) []string {
			// pool5 on GPU 0 overwrites pool2's output on GPU 0 (its memory
			// is reused) without waiting for GPU 1's copy of it.
			ls := p.Launches[plan.Train]
			i := find(t, ls, kernelFor("maxpool_forward", "pool5", 0))
			if ls[i-1].Kind != plan.WaitEvent {
				t.Fatalf("launch %d is a %s, not the wait", i-1, ls[i-1].Kind)
			}
			c := find(t, ls, func(l *plan.Launch) bool { return l.Peer() && l.Layer == "conv3" && l.Device == 1 })
			p.Launches[plan.Train] = remove(ls, i-1)
			return []string{fmt.Sprintf("train: launch %d (maxpool_forward for pool5 on 0/compute): writes pool5.gpu0.out "+
				"and launch %d (copy for conv3 on 1/copy) reads pool2.gpu0.out share bytes with no event ordering them", i-1, c)}
		}},
		{"swapped launches", func(t *testing.T, p *plan.Plan) []string {
			// fc8's bias and activation before its GEMM.
			ls := p.Launches[plan.Infer]
			i := find(t, ls, kernelFor("sgemm", "fc8", 0))
			ls[i], ls[i+1] = ls[i+1], ls[i]
			ls[i].Index, ls[i+1].Index = i, i+1
			return []string{fmt.Sprintf("infer: launch %d (bias_act for fc8 on 0/compute): reads bytes [0, 8000) of fc8.out before any launch writes them", i)}
		}},
		{"scratch read before written", func(t *testing.T, p *plan.Plan) []string {
			// conv2's GEMM before the im2col that fills its column matrix:
			// scratch still holds conv1's, which does not count.
			ls := p.Launches[plan.Infer]
			i := find(t, ls, kernelFor("im2col", "conv2", 0))
			ls[i], ls[i+1] = ls[i+1], ls[i]
			ls[i].Index, ls[i+1].Index = i, i+1
			return []string{fmt.Sprintf("infer: launch %d (sgemm for conv2 on 0/compute): reads bytes [0, %d) of scratch.dev0 before any launch writes them", i, 48*25*27*27*4)}
		}},
		{"event recorded after its wait", func(t *testing.T, p *plan.Plan) []string {
			ls := p.Launches[plan.Train]
			i := find(t, ls, func(l *plan.Launch) bool { return l.Kind == plan.RecordEvent })
			w := find(t, ls, func(l *plan.Launch) bool { return l.Kind == plan.WaitEvent && l.Event == ls[i].Event })
			r := ls[i]
			ls = append(remove(ls, i), r)
			ls[len(ls)-1].Index = len(ls) - 1
			p.Launches[plan.Train] = ls
			return []string{fmt.Sprintf("train: launch %d (wait on %d/%s): waits for event %d, which no earlier launch records",
				w-1, ls[w-1].Device, ls[w-1].Stream, r.Event)}
		}},
		{"two live buffers overlap", func(t *testing.T, p *plan.Plan) []string {
			// pool2's output on GPU 0 and conv3's gathered input, both alive
			// while the one is copied into the other.
			a, b := p.Buffer("pool2.gpu0.out"), p.Buffer("conv3.gpu0.in")
			oa := b.Offset[plan.Train] + 1024
			a.Offset[plan.Train] = oa
			// Launches that follow the broken memory plan.
			ls, err := planner.Schedule(p, plan.Train)
			if err != nil {
				t.Fatal(err)
			}
			p.Launches[plan.Train] = ls
			ob := b.Offset[plan.Train]
			// Moved there, it also lands on norm2's output, which pool2
			// reads as it writes.
			c := p.Buffer("norm2.gpu0.out")
			oc := c.Offset[plan.Train]
			return []string{
				fmt.Sprintf("train: memory plan: norm2.gpu0.out [%d, %d) and pool2.gpu0.out [%d, %d) overlap on device 0, both alive at steps 11-11",
					oc, oc+c.Bytes(), oa, oa+a.Bytes()),
				fmt.Sprintf("train: memory plan: pool2.gpu0.out [%d, %d) and conv3.gpu0.in [%d, %d) overlap on device 0, both alive at steps 13-16",
					oa, oa+a.Bytes(), ob, ob+b.Bytes())}
		}},
		{"step with a wrong attribute list", func(t *testing.T, p *plan.Plan) []string {
			s := p.Steps[plan.Infer][0]
			s.Attrs = s.Attrs[1:]
			return []string{fmt.Sprintf("infer: step 0 (%s for %s): has attributes %v, the kernel takes %v",
				s.Kernel, s.Layer, s.Attrs.Names(), s.Kernel.Def().Attrs)}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := build(t, n, compiler.Options{Batch: 2})
			if probs := plan.Verify(p); len(probs) > 0 {
				t.Fatalf("the plan fails before it is broken: %v", probs[0])
			}
			want := c.breakIt(t, p)
			got := messages(plan.Verify(p))
			if !slices.Equal(got, want) {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestEveryWaitMatters drops each wait of the paper network's programs in
// turn: the verifier must object to every one, which shows both that it
// sees each cross-stream dependency and that the plan waits for nothing
// it does not need.
func TestEveryWaitMatters(t *testing.T) {
	p := build(t, network(t, "../../examples/alexnet.toml", ""), compiler.Options{Batch: 2})
	waits := 0
	for _, prog := range plan.Programs {
		ls := p.Launches[prog]
		for i, l := range ls {
			if l.Kind != plan.WaitEvent {
				continue
			}
			waits++
			broken := *p
			broken.Launches[prog] = remove(slices.Clone(ls), i)
			if len(plan.Verify(&broken)) == 0 {
				t.Errorf("%s: without launch %d (%s) the plan still verifies", prog, i, l.Note)
			}
		}
	}
	if waits == 0 {
		t.Fatal("the two-GPU plan waits for no event")
	}
}

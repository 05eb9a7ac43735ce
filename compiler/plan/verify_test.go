package plan

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alexnetc/alexnetc/compiler/check"
	"github.com/alexnetc/alexnetc/compiler/lower"
	"github.com/alexnetc/alexnetc/spec"
)

// networks checks a spec file and returns its base network and every
// variant.
func networks(t *testing.T, path string) []*check.Network {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, diags := spec.Parse(path, src)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	nets, diags := check.Variants(s)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	return nets
}

func build(t *testing.T, n *check.Network, opt lower.Options) *Plan {
	t.Helper()
	g, err := lower.Lower(n, opt)
	if err != nil {
		t.Fatal(err)
	}
	return Build(g)
}

func messages(probs []Problem) []string {
	var out []string
	for _, p := range probs {
		out = append(out, p.Error())
	}
	return out
}

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
			for _, opt := range []lower.Options{{}, {Batch: 1}, {SingleDevice: true}, {Batch: 1, SingleDevice: true}} {
				name := fmt.Sprintf("%s/%s/batch=%d/single=%v", filepath.Base(f), n.Variant, opt.Batch, opt.SingleDevice)
				p := build(t, n, opt)
				if probs := Verify(p); len(probs) > 0 {
					t.Errorf("%s: %d problems:\n%s", name, len(probs), strings.Join(messages(probs[:min(len(probs), 10)]), "\n"))
				}
				for _, prog := range Programs {
					// Every lowered step is carried out by at least one launch, in order.
					var steps []int
					for _, l := range p.Launches[prog] {
						if l.Step >= 0 && (len(steps) == 0 || steps[len(steps)-1] != l.Step) {
							steps = append(steps, l.Step)
						}
					}
					if want := len(prog.Steps(p.Graph)); len(steps) != want || !slices.IsSorted(steps) {
						t.Errorf("%s: %s: launches cover steps %v, want 0..%d in order", name, prog, steps, want-1)
					}
				}
			}
		}
	}
}

// TestVerifyKeepAll: the memory plan that keeps every buffer alive also
// verifies.
func TestVerifyKeepAll(t *testing.T) {
	n := networks(t, "../../testdata/alexnet-small.toml")[0]
	g, err := lower.Lower(n, lower.Options{Batch: 3})
	if err != nil {
		t.Fatal(err)
	}
	if probs := Verify(BuildWith(g, Options{KeepAll: true})); len(probs) > 0 {
		t.Fatal(messages(probs))
	}
}

// find returns the index of the first launch of the program that matches.
func find(t *testing.T, ls []Launch, match func(l *Launch) bool) int {
	t.Helper()
	for i := range ls {
		if match(&ls[i]) {
			return i
		}
	}
	t.Fatal("no such launch")
	return -1
}

func kernelFor(kernel, layer string, device int) func(l *Launch) bool {
	return func(l *Launch) bool { return l.Kernel == kernel && l.Layer == layer && l.Device == device }
}

// remove deletes a launch and renumbers the others.
func remove(ls []Launch, i int) []Launch {
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
	n := networks(t, "../../examples/alexnet.toml")[0]
	cases := []struct {
		name string
		// breakIt breaks the plan and returns the problems Verify must report.
		breakIt func(t *testing.T, p *Plan) []string
	}{
		{"offset past the arena", func(t *testing.T, p *Plan) []string {
			ls := p.Launches[Train]
			i := find(t, ls, kernelFor("bias_act", "conv3", 0))
			a, arena := &ls[i].Args[1], p.Memory.Devices[0].Arena
			a.Offset = arena - 64
			return []string{fmt.Sprintf("train: launch %d (bias_act for conv3 on 0/compute): passes conv3.gpu0.out at [%d, %d), outside device 0's arena of %d bytes",
				i, a.Offset, a.Offset+a.Bytes, arena)}
		}},
		{"offset off the memory plan", func(t *testing.T, p *Plan) []string {
			ls := p.Launches[Train]
			i := find(t, ls, kernelFor("bias_act", "conv3", 0))
			a := &ls[i].Args[1]
			a.Offset += 64
			return []string{fmt.Sprintf("train: launch %d (bias_act for conv3 on 0/compute): passes conv3.gpu0.out at %d; the memory plan puts it at %d",
				i, a.Offset, a.Offset-64)}
		}},
		{"block of 2048 threads", func(t *testing.T, p *Plan) []string {
			ls := p.Launches[Infer]
			i := find(t, ls, kernelFor("lrn_forward", "norm1", 1))
			ls[i].Block = [3]int{2048, 1, 1}
			return []string{
				fmt.Sprintf("infer: launch %d (lrn_forward for norm1 on 1/compute): block 2048×1×1: dimension 0 must be 1 to 1024 (sm_80, sm_90)", i),
				fmt.Sprintf("infer: launch %d (lrn_forward for norm1 on 1/compute): block 2048×1×1 has 2048 threads, more than 1024 (sm_80, sm_90)", i)}
		}},
		{"too much shared memory", func(t *testing.T, p *Plan) []string {
			ls := p.Launches[Infer]
			i := find(t, ls, kernelFor("sgemm", "fc6", 0))
			ls[i].SharedBytes = 64 << 10
			return []string{fmt.Sprintf("infer: launch %d (sgemm for fc6 on 0/compute): uses 65536 bytes of shared memory, more than the 49152 of static shared memory (sm_80, sm_90)", i)}
		}},
		{"grid too small for the work", func(t *testing.T, p *Plan) []string {
			ls := p.Launches[Infer]
			i := find(t, ls, kernelFor("maxpool_forward", "pool1", 0))
			ls[i].Grid[0]--
			n := 2 * 48 * 27 * 27
			return []string{fmt.Sprintf("infer: launch %d (maxpool_forward for pool1 on 0/compute): is launched as grid [%d 1 1], block [256 1 1], 0 bytes of shared memory; its constants need grid [%d 1 1], block [256 1 1], 0 bytes",
				i, (n+255)/256-1, (n+255)/256)}
		}},
		{"grid too tall", func(t *testing.T, p *Plan) []string {
			ls := p.Launches[Infer]
			i := find(t, ls, kernelFor("sgemm", "fc6", 0))
			ls[i].Grid[1] = 70000
			return []string{fmt.Sprintf("infer: launch %d (sgemm for fc6 on 0/compute): grid 32×70000×1: dimension 1 must be 1 to 65535 (sm_80, sm_90)", i)}
		}},
		{"wait for the transfer dropped", func(t *testing.T, p *Plan) []string {
			// conv3 on GPU 0 starts without waiting for pool2's half from GPU 1.
			ls := p.Launches[Train]
			i := find(t, ls, kernelFor("im2col", "conv3", 0))
			if ls[i-1].Kind != WaitEvent {
				t.Fatalf("launch %d is a %s, not the wait", i-1, ls[i-1].Kind)
			}
			c := find(t, ls, func(l *Launch) bool { return l.Peer() && l.Layer == "conv3" && l.Device == 0 })
			p.Launches[Train] = remove(ls, i-1)
			return []string{fmt.Sprintf("train: launch %d (im2col for conv3 on 0/compute): reads conv3.gpu0.in and launch %d (copy for conv3 on 0/copy) writes conv3.gpu0.in share bytes with no event ordering them", i-1, c)}
		}},
		{"write before the peer copy has read", func(t *testing.T, p *Plan) []string {
			// pool5 on GPU 0 overwrites pool2's output on GPU 0 (its memory
			// is reused) without waiting for GPU 1's copy of it.
			ls := p.Launches[Train]
			i := find(t, ls, kernelFor("maxpool_forward", "pool5", 0))
			if ls[i-1].Kind != WaitEvent {
				t.Fatalf("launch %d is a %s, not the wait", i-1, ls[i-1].Kind)
			}
			c := find(t, ls, func(l *Launch) bool { return l.Peer() && l.Layer == "conv3" && l.Device == 1 })
			p.Launches[Train] = remove(ls, i-1)
			return []string{fmt.Sprintf("train: launch %d (maxpool_forward for pool5 on 0/compute): writes pool5.gpu0.out "+
				"and launch %d (copy for conv3 on 1/copy) reads pool2.gpu0.out share bytes with no event ordering them", i-1, c)}
		}},
		{"swapped launches", func(t *testing.T, p *Plan) []string {
			// fc8's bias and activation before its GEMM.
			ls := p.Launches[Infer]
			i := find(t, ls, kernelFor("sgemm", "fc8", 0))
			ls[i], ls[i+1] = ls[i+1], ls[i]
			ls[i].Index, ls[i+1].Index = i, i+1
			return []string{fmt.Sprintf("infer: launch %d (bias_act for fc8 on 0/compute): reads bytes [0, 8000) of fc8.out before any launch writes them", i)}
		}},
		{"scratch read before written", func(t *testing.T, p *Plan) []string {
			// conv2's GEMM before the im2col that fills its column matrix:
			// scratch still holds conv1's, which does not count.
			ls := p.Launches[Infer]
			i := find(t, ls, kernelFor("im2col", "conv2", 0))
			ls[i], ls[i+1] = ls[i+1], ls[i]
			ls[i].Index, ls[i+1].Index = i, i+1
			return []string{fmt.Sprintf("infer: launch %d (sgemm for conv2 on 0/compute): reads bytes [0, %d) of scratch.dev0 before any launch writes them", i, 48*25*27*27*4)}
		}},
		{"event recorded after its wait", func(t *testing.T, p *Plan) []string {
			ls := p.Launches[Train]
			i := find(t, ls, func(l *Launch) bool { return l.Kind == RecordEvent })
			w := find(t, ls, func(l *Launch) bool { return l.Kind == WaitEvent && l.Event == ls[i].Event })
			r := ls[i]
			ls = append(remove(ls, i), r)
			ls[len(ls)-1].Index = len(ls) - 1
			p.Launches[Train] = ls
			return []string{fmt.Sprintf("train: launch %d (wait on %d/%s): waits for event %d, which no earlier launch records",
				w-1, ls[w-1].Device, ls[w-1].Stream, r.Event)}
		}},
		{"two live buffers overlap", func(t *testing.T, p *Plan) []string {
			// pool2's output on GPU 0 and conv3's gathered input, both alive
			// while the one is copied into the other.
			g := p.Graph
			a, b := g.Buffer("pool2.gpu0.out"), g.Buffer("conv3.gpu0.in")
			oa := p.Memory.Offset[Train][b.ID] + 1024
			p.Memory.Offset[Train][a.ID] = oa
			p.Launches[Train] = schedule(g, p.Memory, Train) // launches that follow the broken memory plan
			ob := p.Memory.Offset[Train][b.ID]
			// Moved there, it also lands on norm2's output, which pool2
			// reads as it writes.
			c := g.Buffer("norm2.gpu0.out")
			oc := p.Memory.Offset[Train][c.ID]
			return []string{
				fmt.Sprintf("train: memory plan: norm2.gpu0.out [%d, %d) and pool2.gpu0.out [%d, %d) overlap on device 0, both alive at steps 11-11",
					oc, oc+c.Bytes(), oa, oa+a.Bytes()),
				fmt.Sprintf("train: memory plan: pool2.gpu0.out [%d, %d) and conv3.gpu0.in [%d, %d) overlap on device 0, both alive at steps 13-16",
					oa, oa+a.Bytes(), ob, ob+b.Bytes())}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := build(t, n, lower.Options{Batch: 2})
			want := c.breakIt(t, p)
			got := messages(Verify(p))
			if !slices.Equal(got, want) {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestEveryWaitMatters drops each wait of the paper network's training
// step in turn: the verifier must object to every one, which shows both
// that it sees each cross-stream dependency and that the plan waits for
// nothing it does not need.
func TestEveryWaitMatters(t *testing.T) {
	n := networks(t, "../../examples/alexnet.toml")[0]
	p := build(t, n, lower.Options{Batch: 2})
	for _, prog := range Programs {
		ls := p.Launches[prog]
		for i, l := range ls {
			if l.Kind != WaitEvent {
				continue
			}
			broken := *p
			broken.Launches[prog] = remove(slices.Clone(ls), i)
			if len(Verify(&broken)) == 0 {
				t.Errorf("%s: without launch %d (%s) the plan still verifies", prog, i, l.Note)
			}
		}
	}
}

// TestRegionOverlaps compares the strided overlap test with a byte-by-byte
// one.
func TestRegionOverlaps(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func() region {
		r := region{start: rng.Int64N(64), rows: 1 + rng.Int64N(5), rowBytes: 1 + rng.Int64N(8)}
		r.pitch = r.rowBytes + rng.Int64N(8)
		return r
	}
	bytes := func(r region) map[int64]bool {
		m := map[int64]bool{}
		for _, iv := range r.intervals() {
			for b := iv[0]; b < iv[1]; b++ {
				m[b] = true
			}
		}
		return m
	}
	for range 20000 {
		a, b := random(), random()
		want := false
		for x := range bytes(a) {
			want = want || bytes(b)[x]
		}
		if got := a.overlaps(b); got != want {
			t.Fatalf("%+v overlaps %+v: got %v, want %v", a, b, got, want)
		}
	}
}

func TestUncovered(t *testing.T) {
	have := [][2]int64{{10, 20}, {0, 5}, {18, 30}}
	if _, _, ok := uncovered([][2]int64{{0, 5}, {12, 30}}, have); ok {
		t.Error("covered range reported")
	}
	if lo, hi, ok := uncovered([][2]int64{{2, 40}}, have); !ok || lo != 5 || hi != 10 {
		t.Errorf("got [%d, %d) %v, want [5, 10)", lo, hi, ok)
	}
	if lo, hi, ok := uncovered([][2]int64{{25, 40}}, have); !ok || lo != 30 || hi != 40 {
		t.Errorf("got [%d, %d) %v, want [30, 40)", lo, hi, ok)
	}
}

package cudagen_test

import (
	"os"
	"strings"
	"testing"

	"github.com/alexnetc/alexnetc/compiler"
	"github.com/alexnetc/alexnetc/compiler/cudagen"
)

// TestPTXAS compiles the kernels of every example's plans (every variant,
// at the spec's batch and at batch 1, both programs) with nvcc to PTX for
// compute_80 and compute_90, and that PTX with ptxas for sm_80 (A100) and
// sm_90 (H100, H200). Any error or warning fails it, and so does a kernel
// whose block would not fit an SM's registers or whose static shared
// memory is not what the launch plan says. It needs a CUDA toolkit and no
// GPU: ALEXNETC_CUDA names the toolkit's root (make ptxas-test fetches
// Debian's into .cuda/ and sets it).
func TestPTXAS(t *testing.T) {
	root := os.Getenv("ALEXNETC_CUDA")
	if root == "" {
		t.Skip("ALEXNETC_CUDA is not set: make ptxas-test fetches a CUDA toolkit into .cuda/ and runs this test")
	}
	tk, err := cudagen.FindToolkit(root)
	if err != nil {
		t.Fatal(err)
	}
	plans := allPlans(t)
	for _, n := range allNetworks(t) {
		p, err := compiler.Compile(n, compiler.Options{Batch: 1})
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, p)
	}
	m, err := cudagen.Generate(plans...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d plans, %d functions", len(plans), len(m.Funcs))
	for _, arch := range []string{"80", "90"} {
		ptx, err := tk.PTX(m.Source, "compute_"+arch)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(ptx), ".entry "+m.Marker()) {
			t.Errorf("compute_%s: the PTX lacks the marker %s", arch, m.Marker())
		}
		usage, err := tk.Assemble(ptx, "sm_"+arch)
		if err != nil {
			t.Fatal(err)
		}
		maxRegs, spills := 0, 0
		for _, fn := range m.Funcs {
			u, ok := usage[fn.Name]
			if !ok {
				t.Errorf("sm_%s: ptxas compiled no %s", arch, fn.Name)
				continue
			}
			threads := fn.Block[0] * fn.Block[1] * fn.Block[2]
			// 64K registers per SM (sm_80 and sm_90), allocated per warp
			// in units of 256.
			warps := (threads + 31) / 32
			perWarp := (u.Registers*32 + 255) / 256 * 256
			if warps*perWarp > 64<<10 {
				t.Errorf("sm_%s: %s uses %d registers per thread; a block of %d threads does not fit an SM", arch, fn.Name, u.Registers, threads)
			}
			if u.Shared != fn.Shared {
				t.Errorf("sm_%s: %s declares %d bytes of shared memory; the launch plan gives it %d", arch, fn.Name, u.Shared, fn.Shared)
			}
			if u.SpillStore > 0 || u.Stack > 0 {
				spills++
				t.Logf("sm_%s: %s: %d bytes stack frame, %d bytes spill stores", arch, fn.Name, u.Stack, u.SpillStore)
			}
			maxRegs = max(maxRegs, u.Registers)
		}
		t.Logf("sm_%s: %d functions assembled, at most %d registers per thread, %d with a stack frame or spills", arch, len(usage), maxRegs, spills)
	}
}

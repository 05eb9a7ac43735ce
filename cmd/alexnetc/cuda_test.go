package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompileCUDAPackage compiles the Fashion-MNIST net with its kernels as
// PTX and requires the package to build and vet with the cuda tag
// (model_cuda.go embeds the PTX and runs the model through the CUDA
// backend). It needs the CUDA toolkit: ALEXNETC_CUDA names the root that
// scripts/cuda-toolkit.sh unpacked (make cuda runs it so); without it the
// test skips.
func TestCompileCUDAPackage(t *testing.T) {
	root := os.Getenv("ALEXNETC_CUDA")
	if root == "" {
		t.Skip("ALEXNETC_CUDA is not set (make cuda sets it)")
	}
	if err := os.MkdirAll(filepath.Join("..", "..", "build"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(filepath.Join("..", "..", "build"), "cudapkg")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	var out, errOut bytes.Buffer
	if code := run([]string{"compile", "../../examples/fashion.toml", "--ptx", "--cuda-toolkit", root, "-o", dir}, &out, &errOut); code != 0 {
		t.Fatalf("compile --ptx: exit %d: %s", code, errOut.String())
	}
	for _, f := range []string{"model.go", "model_cuda.go", "plan.json", "kernels.cu", "kernels.ptx"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("compile --ptx wrote no %s", f)
		}
	}
	plan, _ := os.ReadFile(filepath.Join(dir, "plan.json"))
	if !strings.Contains(string(plan), `"func":`) || strings.Contains(string(plan), `"module": {"hash":""`) {
		t.Error("plan.json does not record the CUDA module's functions")
	}
	vet := exec.Command("go", "vet", "-tags", "cuda", "./"+filepath.Base(dir))
	vet.Dir = filepath.Join("..", "..", "build")
	vet.Env = append(os.Environ(), "CGO_ENABLED=1", "CGO_CFLAGS=-I"+root+"/usr/include",
		"CGO_LDFLAGS=-L"+root+"/usr/lib/x86_64-linux-gnu/stubs")
	if b, err := vet.CombinedOutput(); err != nil {
		t.Errorf("go vet -tags cuda of the package: %v\n%s", err, b)
	}
}

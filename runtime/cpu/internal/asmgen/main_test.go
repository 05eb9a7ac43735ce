package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedUpToDate runs the generator as go generate does and checks
// that its output matches the files committed in runtime/cpu, so that an
// edit to the generator without regenerating (or an edit to the output by
// hand) fails the tests.
func TestGeneratedUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the generator")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "asmgen")
	if out, err := exec.Command(goCmd, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// The same arguments as the go:generate line in gemm_amd64.go: they are
	// part of the header of each file.
	gen := exec.Command(bin, "-pkg", "cpu", "-out", "gemm_amd64.s", "-stubs", "gemm_stub_amd64.go")
	gen.Dir = tmp
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("asmgen: %v\n%s", err, out)
	}
	for _, name := range []string{"gemm_amd64.s", "gemm_stub_amd64.go"} {
		want, err := os.ReadFile(filepath.Join(tmp, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("..", "..", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("runtime/cpu/%s is not what the generator writes: run go generate in runtime/cpu", name)
		}
	}
}

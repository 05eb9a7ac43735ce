package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alexnetc/alexnetc/runtime/data"
)

// writeFashionSubset writes the first n training and m test images of the
// real Fashion-MNIST as IDX files, so that a training run takes seconds.
func writeFashionSubset(t *testing.T, dir string, n, m int) {
	t.Helper()
	for _, part := range []struct {
		train bool
		count int
		name  string
	}{{true, n, "train"}, {false, m, "t10k"}} {
		set, err := data.FashionMNIST("", part.train)
		if err != nil {
			t.Skipf("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist): %v", err)
		}
		k := set.ImageLen()
		images := binary.BigEndian.AppendUint32(nil, 0x803)
		images = binary.BigEndian.AppendUint32(images, uint32(part.count))
		images = binary.BigEndian.AppendUint32(images, uint32(set.Size))
		images = binary.BigEndian.AppendUint32(images, uint32(set.Size))
		images = append(images, set.Pixels[:part.count*k]...)
		labels := binary.BigEndian.AppendUint32(nil, 0x801)
		labels = binary.BigEndian.AppendUint32(labels, uint32(part.count))
		for _, l := range set.Labels[:part.count] {
			labels = append(labels, byte(l))
		}
		gz(t, filepath.Join(dir, part.name+"-images-idx3-ubyte.gz"), images)
		gz(t, filepath.Join(dir, part.name+"-labels-idx1-ubyte.gz"), labels)
	}
}

func gz(t *testing.T, path string, b []byte) {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "alexnetc")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestKillAndResume kills a training process with SIGKILL in the middle of
// an epoch, resumes it from its last checkpoint, and requires the final
// weights to equal, bit for bit, those of a run that was never interrupted.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("trains three times; skipped with -short")
	}
	dir := t.TempDir()
	writeFashionSubset(t, dir, 2048, 256)
	bin := buildCLI(t)
	args := func(out string, extra ...string) []string {
		return append([]string{"train", "--data", dir, "--epochs", "2", "--batch", "32", "--checkpoint-every", "5", "--out", out}, extra...)
	}
	whole := filepath.Join(dir, "whole")
	if out, err := exec.Command(bin, args(whole)...).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}

	cut := filepath.Join(dir, "cut")
	cmd := exec.Command(bin, args(cut)...)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill once a mid-epoch checkpoint exists and the run has gone on past
	// it: what came after that checkpoint is lost, and must be redone.
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if strings.Contains(lines.Text(), "epoch 1/2 batch") {
			if _, err := os.Stat(filepath.Join(cut, "checkpoint.safetensors")); err == nil {
				break
			}
		}
	}
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if _, err := os.Stat(filepath.Join(cut, "weights.safetensors")); err == nil {
		t.Fatal("the run finished before it was killed; the test proves nothing")
	}
	out, err := exec.Command(bin, args(cut, "--resume")...).CombinedOutput()
	if err != nil {
		t.Fatalf("resumed run: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "resuming from") || !strings.Contains(string(out), "epoch 1, batch") {
		t.Errorf("the resumed run did not start mid-epoch from the checkpoint:\n%s", out)
	}
	a, _ := os.ReadFile(filepath.Join(whole, "weights.safetensors"))
	b, _ := os.ReadFile(filepath.Join(cut, "weights.safetensors"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("final weights differ between the uninterrupted run (%d bytes) and the killed-and-resumed one (%d bytes)", len(a), len(b))
	}
	for _, f := range []string{"metrics.jsonl", "curves.png", "checkpoint.safetensors"} {
		if _, err := os.Stat(filepath.Join(cut, f)); err != nil {
			t.Errorf("resumed run left no %s", f)
		}
	}
}

// TestCorruptCheckpoint refuses a truncated checkpoint and one with a
// flipped byte, with messages that say so.
func TestCorruptCheckpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("trains; skipped with -short")
	}
	dir := t.TempDir()
	writeFashionSubset(t, dir, 256, 64)
	bin := buildCLI(t)
	out := filepath.Join(dir, "run")
	base := []string{"train", "--data", dir, "--epochs", "1", "--batch", "32", "--out", out}
	if b, err := exec.Command(bin, base...).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	ckpt := filepath.Join(out, "checkpoint.safetensors")
	good, _ := os.ReadFile(ckpt)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"truncated", good[:len(good)/2], "is truncated or corrupt"},
		{"flipped byte", flip(good, len(good)-100), "is corrupt: its checksum does not match its contents"},
		{"not a checkpoint", []byte("hello"), "is truncated or corrupt"},
	} {
		os.WriteFile(ckpt, tc.data, 0o644)
		b, err := exec.Command(bin, append(base, "--resume")...).CombinedOutput()
		if err == nil || !strings.Contains(string(b), tc.want) {
			t.Errorf("%s: err %v, output:\n%s\nwant %q", tc.name, err, b, tc.want)
		}
		if strings.Contains(string(b), "goroutine") {
			t.Errorf("%s: a panic:\n%s", tc.name, b)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x40
	return c
}

// TestTrainFromPlanMatchesSpec compiles the training spec into a package
// with its plan.json, trains from the plan.json alone and from the spec,
// and requires every step's loss line, and the weights, to be the same bit
// for bit: the plan is all a run needs.
func TestTrainFromPlanMatchesSpec(t *testing.T) {
	if testing.Short() {
		t.Skip("trains twice; skipped with -short")
	}
	dir := t.TempDir()
	writeFashionSubset(t, dir, 512, 64)
	pkg := filepath.Join(dir, "pkg")
	var out, errOut bytes.Buffer
	if code := run([]string{"compile", "../../examples/fashion.toml", "--batch", "32", "-o", pkg}, &out, &errOut); code != 0 {
		t.Fatalf("compile: exit %d: %s", code, errOut.String())
	}
	losses := func(src, runDir string, extra ...string) []string {
		t.Helper()
		var out, errOut bytes.Buffer
		args := append([]string{"train", src, "--data", dir, "--max-steps", "6", "--train-subset", "256", "--out", runDir}, extra...)
		if code := run(args, &out, &errOut); code != 0 {
			t.Fatalf("train %s: exit %d: %s", src, code, errOut.String())
		}
		var lines []string
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(l, "step ") {
				lines = append(lines, l)
			}
		}
		if len(lines) != 6 {
			t.Fatalf("train %s: %d loss lines, want 6:\n%s", src, len(lines), out.String())
		}
		return lines
	}
	fromPlan := losses(filepath.Join(pkg, "plan.json"), filepath.Join(dir, "plan-run"))
	fromSpec := losses("../../examples/fashion.toml", filepath.Join(dir, "spec-run"), "--batch", "32")
	if strings.Join(fromPlan, "\n") != strings.Join(fromSpec, "\n") {
		t.Errorf("losses differ:\nfrom plan.json:\n%s\nfrom the spec:\n%s", strings.Join(fromPlan, "\n"), strings.Join(fromSpec, "\n"))
	}
	a, _ := os.ReadFile(filepath.Join(dir, "plan-run", "weights.safetensors"))
	b, _ := os.ReadFile(filepath.Join(dir, "spec-run", "weights.safetensors"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("weights differ between the run from plan.json (%d bytes) and from the spec (%d bytes)", len(a), len(b))
	}
}

// TestPlanFileErrors: a plan.json of another format version, one that is
// not a plan, and one that is missing are the user's mistakes: exit status
// 2 and a message naming the file, never a panic.
func TestPlanFileErrors(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if code := run([]string{"plan", "../../examples/fashion.toml", "--json"}, &out, &errOut); code != 0 {
		t.Fatalf("plan --json: exit %d: %s", code, errOut.String())
	}
	good := out.String()
	for _, tc := range []struct{ name, content, want string }{
		{"old.json", strings.Replace(good, `"alexnetc-plan/2"`, `"alexnetc-plan/1"`, 1), "alexnetc-plan/1"},
		{"cut.json", good[:len(good)/2], "plan"},
		{"garbage.json", "hello", "plan"},
	} {
		path := filepath.Join(dir, tc.name)
		os.WriteFile(path, []byte(tc.content), 0o644)
		out.Reset()
		errOut.Reset()
		code := run([]string{"train", path, "--max-steps", "1"}, &out, &errOut)
		msg := errOut.String()
		if code != 2 || !strings.Contains(msg, path) || !strings.Contains(msg, tc.want) || strings.Contains(msg, "goroutine") {
			t.Errorf("%s: exit %d, stderr %q; want status 2 naming the file and %q", tc.name, code, msg, tc.want)
		}
	}
	out.Reset()
	errOut.Reset()
	missing := filepath.Join(dir, "missing.json")
	if code := run([]string{"eval", missing, "--weights", "w.safetensors"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), missing) {
		t.Errorf("missing plan: exit %d, stderr %q", code, errOut.String())
	}
}

// TestDeviceCUDAWithoutTheBuild: asked for the CUDA backend, a binary built
// without it says which build has it, with exit status 2.
func TestDeviceCUDAWithoutTheBuild(t *testing.T) {
	if newCUDA != nil {
		t.Skip("this binary has the CUDA backend")
	}
	for _, cmd := range [][]string{
		{"train", "--device", "cuda"},
		{"eval", "--weights", "w.safetensors", "--device", "cuda"},
		{"predict", "--weights", "w.safetensors", "--device", "cuda", "x.png"},
		{"bench", "--device", "cuda"},
	} {
		var out, errOut bytes.Buffer
		code := run(cmd, &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), "without CUDA") || !strings.Contains(errOut.String(), "make cuda") {
			t.Errorf("%v: exit %d, stderr %q", cmd, code, errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"train", "--device", "tpu"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "want cpu, cuda, cuda-emulator") {
		t.Errorf("--device tpu: exit %d, stderr %q", code, errOut.String())
	}
}

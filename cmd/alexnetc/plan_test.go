package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/alexnetc/alexnetc/compiler"
	"github.com/alexnetc/alexnetc/examples"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

func runPlanCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"plan"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// expectedPlan builds the plan the command should print.
func expectedPlan(t *testing.T, variant string, batch int) *plan.Plan {
	t.Helper()
	n, _, err := loadNetworks("", variant)
	if err != nil {
		t.Fatal(err)
	}
	p, err := compiler.Compile(n, compiler.Options{Batch: batch, Source: specSource("", examples.Default)})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPlanAlexNet: the paper network's plan names the cross-GPU transfers
// before conv3, fc6, fc7 and fc8 with their bytes per batch, and the arena
// of each GPU.
func TestPlanAlexNet(t *testing.T) {
	for _, batch := range []int{128, 1} {
		code, out, errs := runPlanCmd(t, "--batch", fmt.Sprint(batch)) // the embedded examples/alexnet.toml
		if code != 0 || errs != "" {
			t.Fatalf("batch %d: exit %d, stderr %q", batch, code, errs)
		}
		b := int64(batch)
		for _, want := range []struct{ pass, layer, tensor, channels, gpus string }{
			{"forward", "conv1", "data", "0-3", "0 → 1"},
			{"forward", "conv3", "pool2", "128-256", "1 → 0"}, // GPU 0's conv3 reads GPU 1's half of pool2
			{"forward", "conv3", "pool2", "0-128", "0 → 1"},
			{"forward", "fc6", "pool5", "128-256", "1 → 0"},
			{"forward", "fc6", "pool5", "0-128", "0 → 1"},
			{"forward", "fc7", "drop6", "2048-4096", "1 → 0"},
			{"forward", "fc7", "drop6", "0-2048", "0 → 1"},
			{"forward", "fc8", "drop7", "2048-4096", "1 → 0"},
			{"backward", "fc8", "drop7 gradient", "2048-4096", "0 → 1"},
			{"backward", "conv3", "pool2 gradient", "0-128", "1 → 0"},
		} {
			var bytes int64
			switch want.layer {
			case "conv1":
				bytes = 3 * 224 * 224 * 4
			case "conv3":
				bytes = 128 * 13 * 13 * 4
			case "fc6":
				bytes = 128 * 6 * 6 * 4
			default:
				bytes = 2048 * 4
			}
			line := fmt.Sprintf(`(?m)^%s +%s +%s +%s +%s +%s +%s$`, want.pass, want.layer, regexp.QuoteMeta(want.tensor),
				want.channels, want.gpus, commas(bytes), commas(bytes*b))
			if !regexp.MustCompile(line).MatchString(out) {
				t.Errorf("batch %d: no transfer line matching %s in\n%s", batch, line, out)
			}
		}
		if got := strings.Count(out, "\nforward "); got != 8 {
			t.Errorf("batch %d: %d forward transfers, want 8", batch, got)
		}
		p := expectedPlan(t, "", batch)
		for d, dm := range p.Memory.Devices {
			row := fmt.Sprintf(`(?m)^ +%d +%s +%s +%s +%s +`, d, commas(dm.Arena), commas(dm.Persistent), commas(dm.Transient[plan.Infer]), commas(dm.Transient[plan.Train]))
			if !regexp.MustCompile(row).MatchString(out) {
				t.Errorf("batch %d: no arena row for device %d (%s) in\n%s", batch, d, row, out)
			}
		}
		total := len(p.Launches[plan.Infer]) + len(p.Launches[plan.Train])
		if want := fmt.Sprintf("verified: %d launches, 0 problems", total); !strings.Contains(out, want) {
			t.Errorf("batch %d: output lacks %q", batch, want)
		}
	}
}

func TestPlanJSON(t *testing.T) {
	code, out, errs := runPlanCmd(t, "--json", "--batch", "4")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if !json.Valid([]byte(out)) {
		t.Fatal("--json prints invalid JSON")
	}
	want, err := expectedPlan(t, "", 4).JSON()
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Error("--json differs from plan.JSON")
	}
}

func TestPlanLaunches(t *testing.T) {
	code, out, _ := runPlanCmd(t, "--launches", "--batch", "2")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"train launches", "peer copy 1→0 173,056 B", "wait event", "sgemm", "L1×2"} {
		if !strings.Contains(out, want) {
			t.Errorf("--launches output lacks %q", want)
		}
	}
}

// TestPlanOneGPU: a one-GPU variant has nothing to transfer.
func TestPlanOneGPU(t *testing.T) {
	code, out, errs := runPlanCmd(t, "--variant", "one-gpu")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if strings.Contains(out, "cross-GPU transfers") || !strings.Contains(out, "1 device(s)") {
		t.Errorf("one-gpu plan:\n%s", out)
	}
}

func TestPlanBadArguments(t *testing.T) {
	for _, args := range [][]string{{"--batch", "-1"}, {"a.toml", "b.toml"}, {"--nope"}} {
		if code, _, errs := runPlanCmd(t, args...); code != exitBadSpec || errs == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
	if code, _, errs := runPlanCmd(t, "--variant", "nosuch"); code != exitBadSpec || !strings.Contains(errs, "nosuch") {
		t.Errorf("unknown variant: exit %d, stderr %q", code, errs)
	}
}

// TestPlanVerifyFailure: a broken plan is an internal error, with every
// problem on stderr.
func TestPlanVerifyFailure(t *testing.T) {
	p := expectedPlan(t, "", 2)
	ls := p.Launches[plan.Train]
	i := 0
	for ls[i].Kind != plan.KernelLaunch {
		i++
	}
	l := &ls[i]
	l.Block = [3]int{2048, 1, 1}
	var stderr bytes.Buffer
	err := verified(p, &stderr)
	if err == nil || !strings.HasPrefix(err.Error(), "internal compiler error") {
		t.Fatalf("got %v", err)
	}
	if want := fmt.Sprintf("train: launch %d (%s for %s on %d/compute): block 2048×1×1", i, l.Kernel, l.Layer, l.Device); !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q lacks %q", stderr.String(), want)
	}
}

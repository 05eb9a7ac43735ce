package plan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/alexnetc/alexnetc/compiler/lower"
)

// TestJSON: plan.json is valid JSON, the same bytes every time, and says
// what the plan says.
func TestJSON(t *testing.T) {
	n := networks(t, "../../examples/alexnet.toml")[0]
	p := build(t, n, lower.Options{Batch: 8})
	out := p.JSON()
	if again := build(t, n, lower.Options{Batch: 8}).JSON(); !bytes.Equal(out, again) {
		t.Fatal("plan.json differs between two builds of the same graph")
	}
	var doc struct {
		Format  string `json:"format"`
		Network string `json:"network"`
		Batch   int    `json:"batch"`
		Devices []struct {
			Arena     int64            `json:"arena_bytes"`
			Transient map[string]int64 `json:"transient_bytes"`
		} `json:"devices"`
		Buffers []struct {
			Name   string            `json:"name"`
			Offset map[string]*int64 `json:"offset"`
		} `json:"buffers"`
		Programs []struct {
			Name     string            `json:"name"`
			Events   int               `json:"events"`
			Launches []json.RawMessage `json:"launches"`
		} `json:"programs"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Format != Format || doc.Network != "alexnet" || doc.Batch != 8 || len(doc.Devices) != 2 || len(doc.Programs) != 2 {
		t.Errorf("header: %s %s batch %d, %d devices, %d programs", doc.Format, doc.Network, doc.Batch, len(doc.Devices), len(doc.Programs))
	}
	for d, dj := range doc.Devices {
		if dm := p.Memory.Devices[d]; dj.Arena != dm.Arena || dj.Transient["train"] != dm.Transient[Train] {
			t.Errorf("device %d: %+v, plan %+v", d, dj, dm)
		}
	}
	for i, b := range doc.Buffers {
		gb := p.Graph.Buffers[i]
		if b.Name != gb.Name || (b.Offset["infer"] == nil) != (p.Memory.Offset[Infer][i] < 0) {
			t.Errorf("buffer %d: %+v", i, b)
		}
	}
	for i, prog := range doc.Programs {
		if prog.Name != Programs[i].String() || len(prog.Launches) != len(p.Launches[i]) {
			t.Errorf("program %s: %d launches, plan has %d", prog.Name, len(prog.Launches), len(p.Launches[i]))
		}
	}
	// Constants keep the kernel's order, and floats read as floats.
	for _, want := range []string{
		`"constants":{"N":8,"C":48,"H":55,"W":55,"C0":0,"C1":48,"size":5,"k":2.0,"alpha":0.0001,"beta":0.75}`,
		`"alpha":1.0,"beta":0.0}`,
		`"runtime":["lr"]`,
		`"region":{"start":86528,"rows":8,"row_bytes":86528,"pitch":173056}`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("plan.json lacks %s", want)
		}
	}
	// One launch per line, so that diffs of plan.json read launch by launch.
	if lines := strings.Count(string(out), "\n"); lines < len(p.Launches[Infer])+len(p.Launches[Train])+len(p.Graph.Buffers) {
		t.Errorf("plan.json has %d lines", lines)
	}
}

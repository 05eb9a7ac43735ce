package plan_test

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/alexnetc/alexnetc/compiler"
	"github.com/alexnetc/alexnetc/runtime/plan"
	"github.com/alexnetc/alexnetc/spec"
)

// compile compiles a spec file (with a variant applied, "" for none), as
// the CLI does. Only this external test package imports the compiler: the
// plan package itself stays a leaf.
func compile(t *testing.T, path, variant string, opt compiler.Options) *plan.Plan {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, diags := spec.Parse(path, src)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	p, err := compiler.CompileSpec(s, variant, opt)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func encode(t *testing.T, p *plan.Plan) []byte {
	t.Helper()
	out, err := p.JSON()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestJSON: plan.json is valid JSON, the same bytes every time, and says
// what the plan says.
func TestJSON(t *testing.T) {
	p := compile(t, "../../examples/alexnet.toml", "", compiler.Options{Batch: 8})
	out := encode(t, p)
	if again := encode(t, compile(t, "../../examples/alexnet.toml", "", compiler.Options{Batch: 8})); !bytes.Equal(out, again) {
		t.Fatal("plan.json differs between two compilations of the same spec")
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
			Steps    []json.RawMessage `json:"steps"`
			Launches []json.RawMessage `json:"launches"`
		} `json:"programs"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Format != plan.Format || doc.Network != "alexnet" || doc.Batch != 8 || len(doc.Devices) != 2 || len(doc.Programs) != 2 {
		t.Errorf("header: %s %s batch %d, %d devices, %d programs", doc.Format, doc.Network, doc.Batch, len(doc.Devices), len(doc.Programs))
	}
	for d, dj := range doc.Devices {
		if dm := p.Memory.Devices[d]; dj.Arena != dm.Arena || dj.Transient["train"] != dm.Transient[plan.Train] {
			t.Errorf("device %d: %+v, plan %+v", d, dj, dm)
		}
	}
	if len(doc.Buffers) != len(p.Buffers) {
		t.Fatalf("%d buffers, the plan has %d", len(doc.Buffers), len(p.Buffers))
	}
	for i, b := range doc.Buffers {
		pb := p.Buffers[i]
		if b.Name != pb.Name || (b.Offset["infer"] == nil) != (pb.Offset[plan.Infer] < 0) ||
			(b.Offset["train"] != nil && *b.Offset["train"] != pb.Offset[plan.Train]) {
			t.Errorf("buffer %d: %+v, plan %v offsets %v", i, b, pb, pb.Offset)
		}
	}
	for i, prog := range doc.Programs {
		if prog.Name != plan.Programs[i].String() || len(prog.Launches) != len(p.Launches[i]) ||
			len(prog.Steps) != len(p.Steps[i]) || prog.Events != p.Events(plan.Programs[i]) {
			t.Errorf("program %s: %d steps, %d launches, %d events; the plan has %d, %d, %d", prog.Name,
				len(prog.Steps), len(prog.Launches), prog.Events, len(p.Steps[i]), len(p.Launches[i]), p.Events(plan.Programs[i]))
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
	lines := strings.Count(string(out), "\n")
	if want := len(p.Launches[plan.Infer]) + len(p.Launches[plan.Train]) + len(p.Steps[plan.Infer]) + len(p.Steps[plan.Train]) + len(p.Buffers); lines < want {
		t.Errorf("plan.json has %d lines, fewer than its %d buffers, steps and launches", lines, want)
	}
}

// TestJSONRoundTrip: a plan read back from plan.json is the plan that was
// written, field for field, and writes the same bytes again.
func TestJSONRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name, path, variant string
		opt                 compiler.Options
	}{
		{"alexnet", "../../examples/alexnet.toml", "", compiler.Options{Batch: 4}},
		{"alexnet-one-gpu", "../../examples/alexnet.toml", "one-gpu", compiler.Options{Batch: 2}},
		{"small-keep-all", "../../testdata/alexnet-small.toml", "mean-lrn", compiler.Options{Batch: 3, KeepAll: true}},
		{"fashion-single", "../../examples/fashion.toml", "tanh", compiler.Options{Batch: 5, SingleDevice: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := compile(t, c.path, c.variant, c.opt)
			out := encode(t, p)
			q, err := plan.Decode(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			if again := encode(t, q); !bytes.Equal(out, again) {
				t.Error("the plan read back writes other bytes")
			}
			if !reflect.DeepEqual(p.Buffers, q.Buffers) {
				for i := range p.Buffers {
					if !reflect.DeepEqual(p.Buffers[i], q.Buffers[i]) {
						t.Errorf("buffer %d: wrote %+v, read %+v", i, *p.Buffers[i], *q.Buffers[i])
						break
					}
				}
			}
			for _, prog := range plan.Programs {
				if len(p.Steps[prog]) != len(q.Steps[prog]) {
					t.Fatalf("%s: wrote %d steps, read %d", prog, len(p.Steps[prog]), len(q.Steps[prog]))
				}
				for i, s := range p.Steps[prog] {
					if r := q.Steps[prog][i]; !reflect.DeepEqual(s, r) {
						t.Errorf("%s: step %d: wrote %+v, read %+v", prog, i, *s, *r)
						break
					}
				}
				for i, l := range p.Launches[prog] {
					if r := q.Launches[prog][i]; !reflect.DeepEqual(l, r) {
						t.Errorf("%s: launch %d: wrote %+v, read %+v", prog, i, l, r)
						break
					}
				}
			}
			// Everything else a run needs besides the data.
			for _, f := range []struct {
				name       string
				wrote, got any
			}{
				{"header", []any{p.Network, p.Variant, p.Source, p.Batch, p.KeepAll}, []any{q.Network, q.Variant, q.Source, q.Batch, q.KeepAll}},
				{"model", p.Model, q.Model},
				{"training", p.Train, q.Train},
				{"data", p.Data, q.Data},
				{"eval", p.Eval, q.Eval},
				{"memory", p.Memory, q.Memory},
				{"module", p.Module, q.Module},
			} {
				if !reflect.DeepEqual(f.wrote, f.got) {
					t.Errorf("%s: wrote %+v, read %+v", f.name, f.wrote, f.got)
				}
			}
			if probs := plan.Verify(q); len(probs) > 0 {
				t.Errorf("the plan read back fails verification: %v", probs[0])
			}
		})
	}
}

// decodeErr decodes bytes that must be refused and returns the message.
func decodeErr(t *testing.T, data []byte) string {
	t.Helper()
	p, err := plan.Decode(bytes.NewReader(data))
	if err == nil {
		t.Fatalf("decoded %d bytes into a plan of %d buffers; want an error", len(data), len(p.Buffers))
	}
	return err.Error()
}

func wantAll(t *testing.T, msg string, parts ...string) {
	t.Helper()
	for _, part := range parts {
		if !strings.Contains(msg, part) {
			t.Errorf("error %q does not say %q", msg, part)
		}
	}
}

// TestDecodeRefusesOtherFormats: a plan.json of another format version is
// refused with a message that names both versions and how to get a plan
// this alexnetc reads; one without a format is not taken for a plan.
func TestDecodeRefusesOtherFormats(t *testing.T) {
	out := encode(t, compile(t, "../../testdata/alexnet-small.toml", "", compiler.Options{Batch: 2}))
	head := `"format": "` + plan.Format + `"`
	if !bytes.Contains(out, []byte(head)) {
		t.Fatalf("plan.json does not start with %s", head)
	}
	for _, other := range []string{"alexnetc-plan/1", "alexnetc-plan/3", ""} {
		msg := decodeErr(t, bytes.Replace(out, []byte(head), []byte(`"format": "`+other+`"`), 1))
		t.Log(msg)
		wantAll(t, msg, `"`+other+`"`, `"`+plan.Format+`"`, "alexnetc compile")
	}
	msg := decodeErr(t, bytes.Replace(out, []byte(head+",\n"), nil, 1))
	wantAll(t, msg, "not a plan.json", `no "format" field`)
	msg = decodeErr(t, []byte(`{"format": 2}`))
	wantAll(t, msg, "not a plan.json", `"format" field is a JSON number`)
}

// TestDecodeRefusesDamage: truncated or garbled plan.json, and plans that
// are well-formed JSON but not a sound plan, are refused with a message
// that says what is wrong and where.
func TestDecodeRefusesDamage(t *testing.T) {
	out := encode(t, compile(t, "../../testdata/alexnet-small.toml", "", compiler.Options{Batch: 2}))
	lines := bytes.Count(out, []byte("\n"))
	cases := []struct {
		name string
		data []byte
		want []string
	}{
		{"empty", nil, []string{"not a plan.json", "unexpected end of JSON input"}},
		{"garbage", []byte("\x7fELF\x02\x01\x01"), []string{"not a plan.json", "line 1", "invalid character"}},
		{"text", []byte("plan: alexnet\n"), []string{"not a plan.json", "line 1"}},
		{"truncated in half", out[:len(out)/2], []string{"not a plan.json", "unexpected end of JSON input"}},
		{"truncated by a byte", out[:len(out)-2], []string{"not a plan.json", "unexpected end of JSON input"}},
		{"a list", []byte("[1, 2, 3]"), []string{"not a plan.json", "JSON array, not an object"}},
		{"an unknown field", bytes.Replace(out, []byte(`"batch": 2,`), []byte(`"batch": 2, "batches": 3,`), 1),
			[]string{"malformed plan", "batches"}},
		{"a string for a number", bytes.Replace(out, []byte(`"batch": 2,`), []byte(`"batch": "2",`), 1),
			[]string{"malformed plan", "line 6", "batch"}},
		{"no batch", bytes.Replace(out, []byte(`"batch": 2,`), []byte(`"batch": 0,`), 1), []string{"malformed plan", "batch 0"}},
		{"a step's buffer unknown", bytes.Replace(out, []byte(`"buffer":"conv1.gpu0.weight"`), []byte(`"buffer":"conv1.gpu9.weight"`), 1),
			[]string{"malformed plan", `"conv1.gpu9.weight"`, "no buffer"}},
		{"an unknown op", bytes.Replace(out, []byte(`"op":"lrn"`), []byte(`"op":"lrm"`), 1), []string{"malformed plan", `"lrm"`, "op table"}},
		{"a launch off the memory plan", moveLaunchArg(t, out), []string{"the plan fails verification", "the memory plan puts it at"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := decodeErr(t, c.data)
			t.Log(msg)
			wantAll(t, msg, c.want...)
		})
	}
	if lines < 100 {
		t.Errorf("plan.json has %d lines", lines)
	}
}

// moveLaunchArg moves the first launch argument's offset by 64 bytes:
// still valid JSON and a well-formed plan, but one whose launch no longer
// agrees with its memory plan.
func moveLaunchArg(t *testing.T, out []byte) []byte {
	t.Helper()
	i := bytes.Index(out, []byte(`"launches": [`))
	if i < 0 {
		t.Fatal("plan.json has no launches")
	}
	j := bytes.Index(out[i:], []byte(`"offset":`))
	if j < 0 {
		t.Fatal("no launch argument has an offset")
	}
	at := i + j + len(`"offset":`)
	end := at + bytes.IndexByte(out[at:], ',')
	var off int64
	if err := json.Unmarshal(out[at:end], &off); err != nil {
		t.Fatal(err)
	}
	moved, _ := json.Marshal(off + 64)
	return append(append(append([]byte(nil), out[:at]...), moved...), out[end:]...)
}

package plan

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// Format names the version of the plan.json schema (docs/plan.md).
const Format = "alexnetc-plan/1"

// JSON returns the plan as plan.json: a fixed field order, one buffer and
// one launch per line, and the same bytes for the same graph.
func (p *Plan) JSON() []byte {
	g := p.Graph
	var b bytes.Buffer
	line := func(indent string, v any, last bool) {
		b.WriteString(indent)
		b.Write(encode(v))
		if !last {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	field := func(name string, v any) {
		b.WriteString("  " + strconv.Quote(name) + ": ")
		b.Write(encode(v))
		b.WriteString(",\n")
	}
	b.WriteString("{\n")
	field("format", Format)
	field("network", g.Net.Name)
	field("variant", g.Net.Variant)
	field("batch", g.Batch)
	var targets []string
	for _, t := range Targets {
		targets = append(targets, t.Name)
	}
	field("targets", targets)
	b.WriteString("  \"devices\": [\n")
	for d, dm := range p.Memory.Devices {
		line("    ", deviceJSON{d, dm.Arena, dm.Persistent, perProgram{dm.Transient[Infer], dm.Transient[Train]},
			perProgram{dm.Naive[Infer], dm.Naive[Train]}, Streams}, d == len(p.Memory.Devices)-1)
	}
	b.WriteString("  ],\n  \"kernels\": [\n")
	used := p.kernelsUsed()
	for i, k := range used {
		line("    ", kernelJSON{k.Name, k.Block, k.Shared, k.Consts, k.Args, nonNil(k.Runtime), k.Doc}, i == len(used)-1)
	}
	b.WriteString("  ],\n  \"buffers\": [\n")
	for i, buf := range g.Buffers {
		bj := bufferJSON{buf.ID, buf.Name, buf.Device, string(buf.DType), buf.Shape, string(buf.Role), buf.Layer, buf.Bytes(), offsets{}}
		for _, prog := range Programs {
			if off := p.Memory.Offset[prog][buf.ID]; off >= 0 {
				bj.Offset[prog] = &off
			}
		}
		line("    ", bj, i == len(g.Buffers)-1)
	}
	b.WriteString("  ],\n  \"programs\": [\n")
	for _, prog := range Programs {
		ls := p.Launches[prog]
		events := 0
		for _, l := range ls {
			if l.Kind == RecordEvent {
				events++
			}
		}
		b.WriteString("    {\"name\": " + strconv.Quote(prog.String()) + ", \"events\": " + strconv.Itoa(events) + ", \"launches\": [\n")
		for i := range ls {
			line("      ", launchJSON(&ls[i]), i == len(ls)-1)
		}
		b.WriteString("    ]}")
		if prog != Programs[len(Programs)-1] {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("  ]\n}\n")
	return b.Bytes()
}

// MarshalJSON encodes the plan as plan.json.
func (p *Plan) MarshalJSON() ([]byte, error) { return p.JSON(), nil }

// kernelsUsed lists the kernels the plan launches, in the table's order.
func (p *Plan) kernelsUsed() []KernelSpec {
	seen := map[string]bool{}
	for _, ls := range p.Launches {
		for _, l := range ls {
			seen[l.Kernel] = true
		}
	}
	var out []KernelSpec
	for _, k := range Kernels {
		if seen[k.Name] {
			out = append(out, k)
		}
	}
	return out
}

// encode writes one value as compact JSON, leaving <, > and & as they are
// (notes hold arrows and inequalities).
func encode(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("plan: " + err.Error()) // only fixed types go in; an error is a bug here
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type perProgram struct {
	Infer int64 `json:"infer"`
	Train int64 `json:"train"`
}

// offsets holds a buffer's offset per program; null where the program does
// not use it.
type offsets [2]*int64

func (o offsets) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Infer *int64 `json:"infer"`
		Train *int64 `json:"train"`
	}{o[Infer], o[Train]})
}

type deviceJSON struct {
	Device         int        `json:"device"`
	Arena          int64      `json:"arena_bytes"`
	Persistent     int64      `json:"persistent_bytes"`
	Transient      perProgram `json:"transient_bytes"`
	NaiveTransient perProgram `json:"transient_bytes_without_reuse"`
	Streams        []Stream   `json:"streams"`
}

type kernelJSON struct {
	Name      string   `json:"name"`
	Block     [3]int   `json:"block"`
	Shared    int      `json:"shared_bytes"`
	Constants []string `json:"constants"`
	Args      []string `json:"args"`
	Runtime   []string `json:"runtime"`
	Doc       string   `json:"doc"`
}

type bufferJSON struct {
	ID     int     `json:"id"`
	Name   string  `json:"name"`
	Device int     `json:"device"`
	DType  string  `json:"dtype"`
	Shape  []int   `json:"shape"`
	Role   string  `json:"role"`
	Layer  string  `json:"layer"`
	Bytes  int64   `json:"bytes"`
	Offset offsets `json:"offset"`
}

type launchOut struct {
	Index     int       `json:"index"`
	Kind      Kind      `json:"kind"`
	Kernel    string    `json:"kernel,omitempty"`
	Device    int       `json:"device"`
	Stream    Stream    `json:"stream"`
	Grid      *[3]int   `json:"grid,omitempty"`
	Block     *[3]int   `json:"block,omitempty"`
	Shared    *int      `json:"shared_bytes,omitempty"`
	Constants constants `json:"constants,omitempty"`
	Runtime   []string  `json:"runtime,omitempty"`
	Args      []argOut  `json:"args,omitempty"`
	Event     *int      `json:"event,omitempty"`
	Loop      int       `json:"loop,omitempty"`
	Count     int       `json:"count,omitempty"`
	Step      *int      `json:"step,omitempty"`
	Layer     string    `json:"layer,omitempty"`
	Note      string    `json:"note"`
}

type argOut struct {
	Name    string     `json:"name"`
	Buffer  string     `json:"buffer"`
	Device  int        `json:"device"`
	Offset  int64      `json:"offset"`
	Bytes   int64      `json:"bytes"`
	Access  Access     `json:"access"`
	Region  *regionOut `json:"region,omitempty"`
	Advance int64      `json:"advance,omitempty"`
}

type regionOut struct {
	Start    int64 `json:"start"`
	Rows     int64 `json:"rows"`
	RowBytes int64 `json:"row_bytes"`
	Pitch    int64 `json:"pitch"`
}

func launchJSON(l *Launch) launchOut {
	o := launchOut{Index: l.Index, Kind: l.Kind, Kernel: l.Kernel, Device: l.Device, Stream: l.Stream,
		Constants: l.Constants, Runtime: l.Runtime, Layer: l.Layer, Note: l.Note}
	switch l.Kind {
	case KernelLaunch:
		o.Grid, o.Block, o.Shared = &l.Grid, &l.Block, &l.SharedBytes
	case RecordEvent, WaitEvent:
		o.Event = &l.Event
	}
	if l.Kind == KernelLaunch || l.Kind == CopyLaunch {
		o.Step = &l.Step
	}
	if l.Loop > 0 {
		o.Loop, o.Count = l.Loop, l.Count
	}
	for _, a := range l.Args {
		ao := argOut{Name: a.Name, Buffer: a.Buffer, Device: a.Device, Offset: a.Offset, Bytes: a.Bytes, Access: a.Access, Advance: a.Advance}
		if a.Start != 0 || a.Rows != 1 || a.RowBytes != a.Bytes {
			ao.Region = &regionOut{a.Start, a.Rows, a.RowBytes, a.Pitch}
		}
		o.Args = append(o.Args, ao)
	}
	return o
}

// constants encode as one object in the kernel's order. Floats always show
// a point or an exponent, so that a reader tells them from integers, and
// print as the shortest decimal that reads back as the same float32.
type constants []Const

func (cs constants) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, c := range cs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(c.Name) + ":")
		if !c.Float {
			b.WriteString(strconv.FormatInt(int64(c.Value), 10))
			continue
		}
		s := strconv.FormatFloat(c.Value, 'g', -1, 32)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		b.WriteString(s)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

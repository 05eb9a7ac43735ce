package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/alexnetc/alexnetc/compiler/check"
	"github.com/alexnetc/alexnetc/spec"
)

func runCheck(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	variant := fs.String("variant", "", "check and show this variant (every variant is checked either way)")
	asJSON := fs.Bool("json", false, "print the resolved network as JSON")
	pos, err := parseFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError{"expected one spec file"}
	}
	n, all, err := loadNetworks(first(pos), *variant)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report(n))
	}
	printTable(stdout, n)
	if len(all) > 1 {
		var names []string
		for _, v := range all[1:] {
			names = append(names, v.Variant)
		}
		fmt.Fprintf(stdout, "\nvariants (all check clean): %s\n", strings.Join(names, ", "))
	}
	return nil
}

// first returns the spec argument, or "" for the embedded default.
func first(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

func printTable(w io.Writer, n *check.Network) {
	title := n.Name
	if n.Variant != "" {
		title += " (variant " + n.Variant + ")"
	}
	fmt.Fprintf(w, "%s: %d GPU(s), rounding %s, input %s\n\n", title, n.GPUs, n.Rounding, n.Input.Out)
	t := newTable("layer|op|gpus|input|output|per GPU|params|MACs|act bytes/img", false, false, false, false, true, true, true, true, true)
	for _, l := range n.Layers {
		ref := l.In.Name
		if l.Connect.String() == "all" && !l.In.Replicated {
			ref += "[all]"
		}
		if l.CrossGPU {
			ref += " ⇄"
		}
		t.row(l.Name, opName(l), gpus(l), ref, l.Out.String(),
			perGPU(l), commas(l.Params), commas(l.MACs), commas(l.Out.Elems()*check.BytesPerValue))
	}
	t.print(w)
	fmt.Fprintf(w, "\nparameters  %s\nneurons     %s (outputs of conv and fc layers)\nMACs        %s per image, forward (%.2f GFLOP)\n",
		commas(n.Params), commas(n.Neurons), commas(n.MACs), float64(2*n.MACs)/1e9)
	var cross []string
	for _, l := range n.Layers {
		if l.CrossGPU {
			cross = append(cross, l.Name)
		}
	}
	if len(cross) > 0 {
		fmt.Fprintf(w, "reads both GPUs (⇄): %s\n", strings.Join(cross, ", "))
	}
	batch := int64(n.Spec.Train.Batch)
	fmt.Fprintln(w)
	t = newTable(fmt.Sprintf("GPU|params|weight bytes|MACs/img|act bytes/img|act bytes/batch %d", batch), true, true, true, true, true, true)
	for g, s := range n.PerGPU {
		t.row(fmt.Sprint(g), commas(s.Params), commas(s.WeightBytes), commas(s.MACs),
			commas(s.ActivationBytes), commas(s.ActivationBytes*batch))
	}
	t.print(w)
}

func opName(l *check.Layer) string {
	s := l.Spec
	switch l.Op {
	case spec.Conv:
		name := fmt.Sprintf("conv %d/%d/%d", s.Kernel, s.Stride, s.Pad)
		if s.Groups > 1 {
			name += fmt.Sprintf(" g%d", s.Groups)
		}
		return name + act(s.Act)
	case spec.FC:
		return "fc" + act(s.Act)
	case spec.MaxPool, spec.AvgPool:
		return fmt.Sprintf("%s %d/%d", l.Op, s.Size, s.Stride)
	case spec.LRN:
		return fmt.Sprintf("lrn n=%d", s.Size)
	case spec.Dropout:
		return fmt.Sprintf("dropout %g", s.Rate)
	}
	return string(l.Op)
}

func act(a spec.Activation) string {
	if a == spec.Linear || a == "" {
		return ""
	}
	return "+" + string(a)
}

func gpus(l *check.Layer) string {
	s := make([]string, len(l.Parts))
	for i, p := range l.Parts {
		s[i] = fmt.Sprint(p.GPU)
	}
	return strings.Join(s, ",")
}

func perGPU(l *check.Layer) string {
	if len(l.Parts) < 2 {
		return "-"
	}
	s := make([]string, len(l.Parts))
	for i, p := range l.Parts {
		s[i] = fmt.Sprint(p.Channels())
	}
	return strings.Join(s, "+")
}

// commas prints n with thousands separators, as the paper's counts are.
func commas(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + commas(-n)
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// The JSON report: stable field names for machines.
type jsonNetwork struct {
	Name      string      `json:"name"`
	Variant   string      `json:"variant,omitempty"`
	GPUs      int         `json:"gpus"`
	Rounding  string      `json:"rounding"`
	Input     [3]int      `json:"input"`
	Layers    []jsonLayer `json:"layers"`
	Params    int64       `json:"params"`
	Neurons   int64       `json:"neurons"`
	MACs      int64       `json:"macs"`
	CrossGPU  []string    `json:"cross_gpu"`
	PerGPU    []jsonGPU   `json:"per_gpu"`
	Variants  []string    `json:"variants,omitempty"`
	BatchSize int         `json:"batch"`
}

type jsonLayer struct {
	Name       string     `json:"name"`
	Op         string     `json:"op"`
	Input      string     `json:"input"`
	Connect    string     `json:"connect"`
	Output     [3]int     `json:"output"`
	Parts      []jsonPart `json:"parts"`
	CrossGPU   bool       `json:"cross_gpu"`
	Params     int64      `json:"params"`
	Neurons    int64      `json:"neurons"`
	MACs       int64      `json:"macs"`
	ActBytes   int64      `json:"activation_bytes"`
	Padding    *[4]int    `json:"padding,omitempty"` // top, left, bottom, right; bottom and right include ceil rounding's extra
	Activation string     `json:"activation,omitempty"`
	Kernel     int        `json:"kernel,omitempty"` // conv kernel side, or pooling window side
	Stride     int        `json:"stride,omitempty"`
	Groups     int        `json:"groups,omitempty"`
	LRN        *jsonLRN   `json:"lrn,omitempty"`
	Rate       float64    `json:"rate,omitempty"` // dropout
	Weights    string     `json:"weights,omitempty"`
	Bias       string     `json:"bias,omitempty"`
}

type jsonLRN struct {
	Size      int     `json:"size"`
	K         float64 `json:"k"`
	Alpha     float64 `json:"alpha"`
	Beta      float64 `json:"beta"`
	AlphaMode string  `json:"alpha_mode"`
}

type jsonPart struct {
	GPU      int         `json:"gpu"`
	Channels [2]int      `json:"channels"`
	Reads    []jsonSlice `json:"reads"`
	Params   int64       `json:"params"`
	MACs     int64       `json:"macs"`
}

type jsonSlice struct {
	GPU      int    `json:"gpu"`
	Channels [2]int `json:"channels"`
}

type jsonGPU struct {
	Params          int64 `json:"params"`
	WeightBytes     int64 `json:"weight_bytes"`
	MACs            int64 `json:"macs"`
	ActivationBytes int64 `json:"activation_bytes"`
}

func report(n *check.Network) jsonNetwork {
	r := jsonNetwork{Name: n.Name, Variant: n.Variant, GPUs: n.GPUs, Rounding: string(n.Rounding),
		Input:  [3]int{n.Input.Out.C, n.Input.Out.H, n.Input.Out.W},
		Params: n.Params, Neurons: n.Neurons, MACs: n.MACs, CrossGPU: []string{}, BatchSize: n.Spec.Train.Batch}
	for _, v := range n.Spec.Variants {
		r.Variants = append(r.Variants, v.Name)
	}
	for _, l := range n.Layers {
		jl := jsonLayer{Name: l.Name, Op: string(l.Op), Input: l.In.Name, Connect: l.Connect.String(),
			Output: [3]int{l.Out.C, l.Out.H, l.Out.W}, CrossGPU: l.CrossGPU, Params: l.Params,
			Neurons: l.Neurons, MACs: l.MACs, ActBytes: l.Out.Elems() * check.BytesPerValue}
		if l.Op == spec.Conv || l.Op == spec.MaxPool || l.Op == spec.AvgPool {
			jl.Padding = &[4]int{l.PadTop, l.PadLeft, l.PadBottom, l.PadRight}
		}
		sl := l.Spec
		switch l.Op {
		case spec.Conv:
			jl.Kernel, jl.Stride, jl.Groups = sl.Kernel, sl.Stride, sl.Groups
		case spec.MaxPool, spec.AvgPool:
			jl.Kernel, jl.Stride = sl.Size, sl.Stride
		case spec.LRN:
			jl.LRN = &jsonLRN{sl.Size, sl.K, sl.Alpha, sl.Beta, string(sl.AlphaMode)}
		case spec.Dropout:
			jl.Rate = sl.Rate
		}
		if l.Weighted() {
			jl.Activation = string(sl.Act)
			jl.Weights, jl.Bias = sl.Weights.String(), sl.Bias.String()
		}
		for _, p := range l.Parts {
			jp := jsonPart{GPU: p.GPU, Channels: [2]int{p.C0, p.C1}, Params: p.Params, MACs: p.MACs}
			for _, s := range p.Reads {
				jp.Reads = append(jp.Reads, jsonSlice{s.GPU, [2]int{s.C0, s.C1}})
			}
			jl.Parts = append(jl.Parts, jp)
		}
		if l.CrossGPU {
			r.CrossGPU = append(r.CrossGPU, l.Name)
		}
		r.Layers = append(r.Layers, jl)
	}
	for _, g := range n.PerGPU {
		r.PerGPU = append(r.PerGPU, jsonGPU{g.Params, g.WeightBytes, g.MACs, g.ActivationBytes})
	}
	return r
}

package ablate

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/alexnetc/alexnetc/diag"
	"github.com/alexnetc/alexnetc/spec"
)

// BaseName is the name the base network goes by in runs and reports.
const BaseName = "base"

// Variant is one network of an ablation besides the base: a named list of
// patches over the base spec, declared in the spec ([[variant]]) or given on
// the command line (--set).
type Variant struct {
	Name    string
	Doc     string
	Paper   string // the paper's reported effect, quoted in the report
	Patches []*spec.Patch

	// origin and line say where a command-line patch came from: its
	// diagnostics are reported at origin:line:col, line being the patch's
	// place among the flags. Empty for declared variants.
	origin string
	line   int
}

// Declared returns the spec's variants with the given names, in the order
// given; no names means all of them, in the spec's order. An unknown name is
// reported with the names the spec declares.
func Declared(s *spec.Spec, names []string) ([]Variant, diag.List) {
	var out []Variant
	var diags diag.List
	if len(names) == 0 {
		for _, v := range s.Variants {
			names = append(names, v.Name)
		}
	}
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		v := s.FindVariant(name)
		if v == nil {
			// ApplyVariant words the error (with a suggestion) as check does.
			_, errs := s.ApplyVariant(name)
			diags.Append(errs)
			continue
		}
		out = append(out, Variant{Name: v.Name, Doc: v.Doc, Paper: v.Paper, Patches: v.Patch})
	}
	return out, diags
}

// namePrefix matches the optional "NAME:" before a command-line patch. A
// patch itself never starts with a word and a colon: its statements start
// with drop, set or place followed by a space.
var namePrefix = regexp.MustCompile(`^\s*([A-Za-z0-9_][A-Za-z0-9_.+-]*)\s*:`)

// ParsePatches parses patches given on the command line, each "[NAME:]
// PATCH" in the language of a [[variant]]'s patch strings, into one variant
// each. A patch without a name is called set-N, N counting the patches
// from 1 (just "set" when there is one). Diagnostics print as
// origin:N:COL: the N-th patch, the column counted in bytes from the start
// of the flag's text, as if the patches were the lines of a file.
func ParsePatches(origin string, texts []string) ([]Variant, diag.List) {
	var out []Variant
	var diags diag.List
	for i, text := range texts {
		name := fmt.Sprintf("set-%d", i+1)
		if len(texts) == 1 {
			name = "set"
		}
		body := text
		if m := namePrefix.FindStringSubmatchIndex(text); m != nil {
			name = text[m[2]:m[3]]
			// Blank the name out rather than cut it, so that columns still
			// count from the start of the flag's text.
			body = strings.Repeat(" ", m[1]) + text[m[1]:]
		}
		if strings.TrimSpace(body) == "" {
			diags.Add(diag.Pos{File: origin, Line: i + 1, Col: len(text) + 1}, "empty patch; expected drop, set or place")
			continue
		}
		p, errs := spec.ParsePatch(origin, body)
		if len(errs) > 0 {
			diags.Append(onLine(errs, origin, i+1))
			continue
		}
		out = append(out, Variant{Name: name, Doc: strings.TrimSpace(body), Patches: []*spec.Patch{p}, origin: origin, line: i + 1})
	}
	return out, diags
}

// onLine moves the diagnostics at origin (which ParsePatch puts on line 1)
// to the given line.
func onLine(l diag.List, origin string, line int) diag.List {
	out := make(diag.List, len(l))
	for i, d := range l {
		if d.Pos.File == origin && line > 0 {
			d.Pos.Line = line
		}
		out[i] = d
	}
	return out
}

// patchText is the variant's patch as written, statements of all its
// strings joined by "; ".
func (v *Variant) patchText() []string {
	var out []string
	for _, p := range v.Patches {
		out = append(out, strings.TrimSpace(p.Text))
	}
	return out
}

// evalOnly reports whether every statement of the variant only sets keys of
// [eval]: such a variant trains exactly the base network and differs only in
// how it is tested, so it shares the base's runs.
func (v *Variant) evalOnly() bool {
	n := 0
	for _, p := range v.Patches {
		for _, st := range p.Stmts {
			if st.Set == nil || st.Set.Target.Glob != "eval" {
				return false
			}
			n++
		}
	}
	return n > 0
}

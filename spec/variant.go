package spec

import (
	"fmt"
	"math"
	"path"
	"strings"

	"github.com/alexnetc/alexnetc/diag"
	"github.com/alexnetc/alexnetc/spec/expr"
)

// Variant returns a copy of s patched by its variant name. The base network
// is left untouched.
func (s *Spec) ApplyVariant(name string) (*Spec, diag.List) {
	v := s.FindVariant(name)
	if v == nil {
		var names []string
		for _, v := range s.Variants {
			names = append(names, v.Name)
		}
		var l diag.List
		if len(names) == 0 {
			l.Add(diag.Pos{File: s.File}, "no variant %q: the spec declares no variants", name)
		} else {
			l.Add(diag.Pos{File: s.File}, "no variant %q%s; the spec declares %s", name, suggest(name, names), strings.Join(names, ", "))
		}
		return nil, l
	}
	return s.Apply(name, v.Patch)
}

// ParsePatch parses a patch given outside a spec file, such as a command-line
// flag; origin names it in diagnostics ("--set", say), with the column
// counting bytes of text.
func ParsePatch(origin, text string) (*Patch, diag.List) {
	posOf := func(off int) diag.Pos { return diag.Pos{File: origin, Line: 1, Col: off + 1} }
	p, errs := expr.ParsePatch(text, posOf(0), posOf)
	if len(errs) > 0 {
		return nil, errs
	}
	return &Patch{Patch: p, Text: text, posOf: posOf}, nil
}

// Apply returns a copy of s with the patches applied in order, named variant.
// Every statement is applied even after an error, so that all problems are
// reported at once.
func (s *Spec) Apply(variant string, patches []*Patch) (*Spec, diag.List) {
	c := s.clone()
	c.Variant = variant
	var diags diag.List
	for _, p := range patches {
		for _, st := range p.Stmts {
			switch {
			case st.Drop != nil:
				c.drop(p, st.Drop, &diags)
			case st.Set != nil:
				c.set(p, st.Set, &diags)
			case st.Place != nil:
				c.place(p, st.Place, &diags)
			}
		}
	}
	if len(diags) > 0 {
		return nil, diags
	}
	return c, nil
}

// clone copies everything a patch may change.
func (s *Spec) clone() *Spec {
	c := *s
	c.Layers = make([]*Layer, len(s.Layers))
	for i, l := range s.Layers {
		lc := *l
		lc.Where = l.Where.clone()
		c.Layers[i] = &lc
	}
	for _, sec := range sections {
		w := whereOf(sec.of(&c))
		*w = w.clone()
	}
	return &c
}

func (w Where) clone() Where {
	keys := make(map[string]diag.Pos, len(w.Keys))
	for k, v := range w.Keys {
		keys[k] = v
	}
	w.Keys = keys
	return w
}

// match returns the layers a glob matches, reporting a glob that matches none.
func (s *Spec) match(p *Patch, pat *expr.Pattern, diags *diag.List) []*Layer {
	var out []*Layer
	for _, l := range s.Layers {
		if ok, _ := path.Match(pat.Glob, l.Name); ok {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		diags.Add(p.At(pat.Pos.Offset), "%q matches no layer%s", pat.Glob, suggest(pat.Glob, s.layerNames()))
	}
	return out
}

func (s *Spec) layerNames() []string {
	names := make([]string, len(s.Layers))
	for i, l := range s.Layers {
		names[i] = l.Name
	}
	return names
}

// drop removes layers. A layer that read a dropped layer reads what the
// dropped layer read instead; it reads all GPUs' parts if either reference
// did, so that dropping a layer never cuts a path between the GPUs.
func (s *Spec) drop(p *Patch, d *expr.Drop, diags *diag.List) {
	gone := map[string]*Layer{}
	for _, pat := range d.Patterns {
		for _, l := range s.match(p, pat, diags) {
			gone[l.Name] = l
		}
	}
	if len(gone) == 0 {
		return
	}
	source := func(ref *expr.Ref) *expr.Ref {
		r := *ref
		for {
			g, ok := gone[r.Layer]
			if !ok {
				return &r
			}
			r.Layer = g.Input.Layer
			if g.Input.Connect == expr.All {
				r.Connect = expr.All
			}
			r.Explicit = true
		}
	}
	var kept []*Layer
	for _, l := range s.Layers {
		if gone[l.Name] != nil {
			continue
		}
		if _, ok := gone[l.Input.Layer]; ok {
			l.Input = source(l.Input)
		}
		kept = append(kept, l)
	}
	s.Layers = kept
}

// set assigns a field on the matched layers or on a section. A glob applies
// to the matched layers whose kind takes the field; it is an error when none
// does.
func (s *Spec) set(p *Patch, st *expr.Set, diags *diag.List) {
	at := p.At(st.Value.Pos.Offset)
	fieldAt := p.At(st.FieldPos.Offset)
	if sec := findSection(st.Target.Glob); sec != nil {
		f := findField(sec.fields, st.Field)
		if f == nil {
			diags.Add(fieldAt, "[%s] has no key %q%s", sec.name, st.Field, suggest(st.Field, keyNames(sec.fields, "")))
			return
		}
		setField(p, f, sec.of(s), st, at, diags)
		return
	}
	layers := s.match(p, &st.Target, diags)
	if len(layers) == 0 {
		return
	}
	f := findField(layerFields, st.Field)
	if f == nil {
		diags.Add(fieldAt, "layers have no key %q%s", st.Field, suggest(st.Field, keyNames(layerFields, "")))
		return
	}
	if f.key == "name" || f.key == "op" {
		diags.Add(fieldAt, "a patch cannot change a layer's %s; drop the layer instead", f.key)
		return
	}
	applied := false
	for _, l := range layers {
		if !f.takes(l.Op) {
			continue
		}
		applied = true
		if !setField(p, f, l, st, at, diags) {
			return
		}
	}
	if !applied {
		diags.Add(fieldAt, "no layer matched by %q takes %q (it is for %s layers)", st.Target.Glob, st.Field, opList(f.ops))
	}
}

// setField applies one set statement to one table. It reports false after
// an error, so a glob over many layers reports it once.
func setField(p *Patch, f *field, target any, st *expr.Set, at diag.Pos, diags *diag.List) bool {
	where := whereOf(target)
	var v any
	if st.Op == "=" {
		v = nativeValue(st.Value)
	} else {
		if !f.kind.numeric() {
			diags.Add(p.At(st.Pos.Offset), "%s only applies to numbers, and %s is %s", st.Op, f.key, describe(f))
			return false
		}
		factor, ok := st.Value.Number()
		if !ok || factor == 0 || math.IsInf(factor, 0) {
			diags.Add(at, "%s needs a non-zero number, not %s", st.Op, st.Value.String())
			return false
		}
		cur := currentNumber(f, target)
		x := cur * factor
		if st.Op == "/=" {
			x = cur / factor
		}
		if f.kind.integer() {
			if x != math.Trunc(x) {
				name := ""
				if l, isLayer := target.(*Layer); isLayer {
					name = l.Name + "."
				}
				diags.Add(at, "%s%s %s %s gives %.4g, not an integer", name, f.key, st.Op, st.Value.String(), x)
				return false
			}
			v = int64(x)
		} else {
			v = x
		}
	}
	posOf := func(off int) diag.Pos { return at.Shift(off) }
	n := len(*diags)
	if msg := store(f, target, v, at, posOf, func(int) func(int) diag.Pos { return posOf }, diags); msg != "" {
		diags.Add(at, "%s %s", f.key, msg)
		return false
	}
	if len(*diags) > n {
		return false
	}
	where.set(f.key, at)
	return true
}

func currentNumber(f *field, target any) float64 {
	switch x := f.ref(target).(type) {
	case *int:
		return float64(*x)
	case *float64:
		return *x
	}
	panic(fmt.Sprintf("spec: field %s is not numeric", f.key))
}

// nativeValue turns a patch value into what TOML would have decoded, so that
// patches and files go through the same checks.
func nativeValue(v *expr.Value) any {
	if n, ok := v.Int(); ok {
		return int64(n)
	}
	if x, ok := v.Number(); ok {
		return x
	}
	if b, ok := v.Bool(); ok {
		return b
	}
	if s, ok := v.Str(); ok {
		return s
	}
	if list, ok := v.List(); ok {
		out := make([]any, len(list))
		for i, e := range list {
			out[i] = nativeValue(e)
		}
		return out
	}
	// Names and calls are the text of an enum or an expression.
	return v.String()
}

// place changes where the matched layers live.
func (s *Spec) place(p *Patch, st *expr.PlaceStmt, diags *diag.List) {
	for _, pat := range st.Patterns {
		for _, l := range s.match(p, pat, diags) {
			l.Place = st.Place
			l.Where.set("place", p.At(st.Place.Pos.Offset))
		}
	}
}

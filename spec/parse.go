package spec

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"github.com/alexnetc/alexnetc/diag"
	"github.com/alexnetc/alexnetc/spec/expr"
	"github.com/alexnetc/alexnetc/spec/internal/tomlpos"
)

// Parse decodes a spec. It reports every problem it finds, each with its
// file:line:col, and returns a nil Spec when there is any.
func Parse(file string, src []byte) (*Spec, diag.List) {
	d := &decoder{file: file}
	if !d.text(src) {
		return nil, d.diags
	}
	var raw map[string]any
	if _, err := toml.Decode(string(src), &raw); err != nil {
		d.syntax(src, err)
		return nil, d.diags
	}
	d.ix = tomlpos.Build(src)
	s := &Spec{File: file}
	d.spec(s, raw)
	if len(d.diags) > 0 {
		return nil, d.diags.Sort()
	}
	return s, nil
}

type decoder struct {
	file  string
	ix    *tomlpos.Index
	diags diag.List
}

func (d *decoder) errorf(pos diag.Pos, format string, args ...any) {
	d.diags.Add(pos, format, args...)
}

// text rejects what is not a TOML text at all, with a better message than the
// TOML parser would give.
func (d *decoder) text(src []byte) bool {
	start := diag.Pos{File: d.file, Line: 1, Col: 1}
	if len(bytes.TrimSpace(src)) == 0 {
		d.errorf(start, "empty spec: expected [network], [input] and [[layer]] tables")
		return false
	}
	bad := bytes.IndexByte(src, 0)
	if !utf8.Valid(src) {
		for i := 0; i < len(src); {
			r, n := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && n <= 1 {
				if bad < 0 || i < bad {
					bad = i
				}
				break
			}
			i += n
		}
	}
	if bad >= 0 {
		d.errorf(d.offsetPos(src, bad), "not a text file: byte 0x%02x at offset %d is not UTF-8 text", src[bad], bad)
		return false
	}
	return true
}

func (d *decoder) offsetPos(src []byte, off int) diag.Pos {
	line := 1 + bytes.Count(src[:off], []byte("\n"))
	col := off - bytes.LastIndexByte(src[:off], '\n')
	return diag.Pos{File: d.file, Line: line, Col: col}
}

func (d *decoder) syntax(src []byte, err error) {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		msg := pe.Message
		if msg == "" {
			msg = pe.Error()
		}
		// The parser's line has already moved past a newline it complains
		// about; the byte offset has not.
		at := min(max(pe.Position.Start, 0), len(src))
		d.errorf(d.offsetPos(src, at), "TOML syntax: %s", msg)
		return
	}
	d.errorf(diag.Pos{File: d.file, Line: 1, Col: 1}, "TOML: %v", err)
}

// pos returns the position of the value at path, falling back to the key,
// then to the start of the file.
func (d *decoder) pos(path string) diag.Pos {
	if e, ok := d.ix.Lookup(path); ok {
		return d.at(e.Value)
	}
	return diag.Pos{File: d.file, Line: 1, Col: 1}
}

// header returns the position of the table header at path.
func (d *decoder) header(path string) diag.Pos {
	if e, ok := d.ix.Lookup(path); ok {
		return d.at(e.Key)
	}
	return diag.Pos{File: d.file, Line: 1, Col: 1}
}

func (d *decoder) at(p tomlpos.Pos) diag.Pos {
	return diag.Pos{File: d.file, Line: p.Line, Col: p.Col}
}

// inString maps an offset inside the decoded string at path to the file.
func (d *decoder) inString(path string) func(int) diag.Pos {
	return func(off int) diag.Pos {
		if p, ok := d.ix.StringPos(path, off); ok {
			return d.at(p)
		}
		return d.pos(path)
	}
}

// ordered returns the keys of m in the order they appear in the file, so that
// diagnostics come out in reading order.
func (d *decoder) ordered(prefix string, m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	off := func(k string) int {
		if e, ok := d.ix.Lookup(join(prefix, k)); ok {
			return e.Key.Offset
		}
		return math.MaxInt
	}
	sort.Slice(keys, func(i, j int) bool {
		if a, b := off(keys[i]), off(keys[j]); a != b {
			return a < b
		}
		return keys[i] < keys[j]
	})
	return keys
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

var topKeys = []string{"network", "input", "init", "layer", "train", "data", "eval", "variant"}

func (d *decoder) spec(s *Spec, raw map[string]any) {
	for _, k := range d.ordered("", raw) {
		switch k {
		case "layer", "variant":
			tables, ok := raw[k].([]map[string]any)
			if !ok {
				d.errorf(d.header(k), "%s must be an array of tables: write [[%s]]", k, k)
				continue
			}
			for i, t := range tables {
				path := fmt.Sprintf("%s[%d]", k, i)
				if k == "layer" {
					s.Layers = append(s.Layers, d.layer(path, t))
				} else {
					s.Variants = append(s.Variants, d.variant(path, t))
				}
			}
		default:
			sec := findSection(k)
			if sec == nil {
				d.errorf(d.header(k), "unknown table %q%s; expected one of %s", k, suggest(k, topKeys), strings.Join(topKeys, ", "))
				continue
			}
			t, ok := raw[k].(map[string]any)
			if !ok {
				d.errorf(d.header(k), "%s must be a table: write [%s]", k, k)
				continue
			}
			d.table(k, t, sec.fields, sec.of(s), "", k)
		}
	}
	pos1 := diag.Pos{File: d.file, Line: 1, Col: 1}
	for _, sec := range sections {
		if _, ok := raw[sec.name]; ok {
			continue
		}
		if sec.req {
			d.errorf(pos1, "missing [%s] table", sec.name)
			continue
		}
		d.defaults(sec.fields, sec.of(s), pos1, "")
	}
	if _, ok := raw["layer"]; !ok {
		d.errorf(pos1, "missing [[layer]] tables: a network needs at least one layer")
	}
	d.layerDefaults(s)
	d.uniqueNames(s)
}

// table decodes one table's keys into target, then applies the defaults of
// the keys it did not write. op is the layer kind for [[layer]] tables.
func (d *decoder) table(path string, t map[string]any, fields []*field, target any, op Op, what string) {
	hdr := d.header(path)
	where := whereOf(target)
	where.At = hdr
	seen := map[string]bool{}
	for _, k := range d.ordered(path, t) {
		kpath := join(path, k)
		f := findField(fields, k)
		if f == nil {
			d.errorf(d.keyPos(kpath), "unknown key %q in %s%s", k, what, suggest(k, keyNames(fields, op)))
			continue
		}
		if op != "" && !f.takes(op) {
			d.errorf(d.keyPos(kpath), "key %q does not apply to a %s layer (it is for %s)", k, op, opList(f.ops))
			continue
		}
		seen[k] = true
		at := d.pos(kpath)
		if _, isString := t[k].(string); isString {
			// Point inside the quotes, where an expression's text begins.
			at = d.inString(kpath)(0)
		}
		where.set(k, at)
		d.assign(f, target, t[k], at, d.inString(kpath), kpath)
	}
	for _, f := range fields {
		if seen[f.key] || (op != "" && !f.takes(op)) {
			continue
		}
		if f.req || (op != "" && f.needs(op)) {
			d.errorf(hdr, "%s is missing required key %q", what, f.key)
		}
	}
	d.defaults(fields, target, hdr, op)
}

// defaults sets every unwritten key that has a default.
func (d *decoder) defaults(fields []*field, target any, at diag.Pos, op Op) {
	where := whereOf(target)
	if !where.At.IsValid() {
		where.At = at
	}
	for _, f := range fields {
		if f.def == nil || (op != "" && !f.takes(op)) {
			continue
		}
		if _, written := where.Keys[f.key]; written {
			continue
		}
		d.assign(f, target, f.def, at, func(int) diag.Pos { return at }, "")
	}
}

func (d *decoder) keyPos(path string) diag.Pos {
	if e, ok := d.ix.Lookup(path); ok {
		return d.at(e.Key)
	}
	return d.pos(path)
}

func whereOf(target any) *Where {
	return reflect.ValueOf(target).Elem().FieldByName("Where").Addr().Interface().(*Where)
}

func (d *decoder) layer(path string, t map[string]any) *Layer {
	l := &Layer{}
	// The kind decides which keys are allowed, so it is read first.
	if op, ok := t["op"].(string); ok && findOp(op) {
		l.Op = Op(op)
	}
	what := "layer"
	if name, ok := t["name"].(string); ok {
		what = fmt.Sprintf("layer %q", name)
	}
	if l.Op == "" {
		// Without a valid kind only the common keys can be checked.
		common := []*field{}
		for _, f := range layerFields {
			if f.ops == nil {
				common = append(common, f)
			}
		}
		sub := map[string]any{}
		for k, v := range t {
			if findField(common, k) != nil {
				sub[k] = v
			}
		}
		d.table(path, sub, common, l, "", what)
		return l
	}
	d.table(path, t, layerFields, l, l.Op, what)
	return l
}

func findOp(s string) bool {
	for _, op := range Ops {
		if string(op) == s {
			return true
		}
	}
	return false
}

func (d *decoder) variant(path string, t map[string]any) *Variant {
	v := &Variant{}
	d.table(path, t, variantFields, v, "", "variant")
	return v
}

// layerDefaults fills in what depends on other tables: the previous layer as
// input, and the [init] initialisers.
func (d *decoder) layerDefaults(s *Spec) {
	prev := InputName
	for _, l := range s.Layers {
		if l.Input == nil {
			l.Input = &expr.Ref{Layer: prev, Connect: expr.Own}
		}
		if l.Op == Conv || l.Op == FC {
			if l.Weights == nil {
				l.Weights = s.Init.Weights
			}
			if l.Bias == nil {
				l.Bias = s.Init.Bias
			}
		}
		if l.Name != "" {
			prev = l.Name
		}
	}
}

var reserved = map[string]bool{InputName: true, "network": true, "input": true, "init": true, "train": true, "eval": true}

func (d *decoder) uniqueNames(s *Spec) {
	first := map[string]*Layer{}
	for _, l := range s.Layers {
		if l.Name == "" {
			continue
		}
		if reserved[l.Name] {
			d.errorf(l.Of("name"), "layer name %q is reserved", l.Name)
			continue
		}
		if p, dup := first[l.Name]; dup {
			d.errorf(l.Of("name"), "duplicate layer name %q (first defined at %s)", l.Name, p.Of("name"))
			continue
		}
		first[l.Name] = l
	}
	firstV := map[string]*Variant{}
	for _, v := range s.Variants {
		if p, dup := firstV[v.Name]; dup && v.Name != "" {
			d.errorf(v.Of("name"), "duplicate variant name %q (first defined at %s)", v.Name, p.Of("name"))
			continue
		}
		firstV[v.Name] = v
	}
}

// assign type-checks v against the field and stores it. posOf maps offsets
// inside a string value to the file, for errors inside expressions.
func (d *decoder) assign(f *field, target any, v any, at diag.Pos, posOf func(int) diag.Pos, path string) {
	elem := func(i int) func(int) diag.Pos { return d.inString(fmt.Sprintf("%s[%d]", path, i)) }
	if err := store(f, target, v, at, posOf, elem, &d.diags); err != "" {
		d.errorf(at, "%s %s", f.key, err)
	}
}

// store writes v into the field of target. It returns a message fragment
// ("must be ..., not ...") for a value of the wrong type or range, and adds
// the diagnostics of expressions inside strings to diags itself.
// elem gives the position function of an array's i-th string.
func store(f *field, target any, v any, at diag.Pos, posOf func(int) diag.Pos, elem func(int) func(int) diag.Pos, diags *diag.List) string {
	dst := reflect.ValueOf(f.ref(target)).Elem()
	switch f.kind {
	case kString, kName, kEnum:
		s, ok := v.(string)
		if !ok {
			return fmt.Sprintf("must be %s, not %s", describe(f), tomlType(v))
		}
		if f.kind == kName && !isName(s) {
			return fmt.Sprintf("must be a name of letters, digits and _ not starting with a digit, not %q", s)
		}
		if f.kind == kEnum && !contains(f.enum, s) {
			return fmt.Sprintf("must be %s, not %q%s", describe(f), s, suggest(s, f.enum))
		}
		dst.SetString(s)
	case kBool:
		b, ok := v.(bool)
		if !ok {
			return fmt.Sprintf("must be true or false, not %s", tomlType(v))
		}
		dst.SetBool(b)
	case kPosInt, kNatInt:
		n, ok := v.(int64)
		if !ok {
			if x, isFloat := v.(float64); isFloat {
				return fmt.Sprintf("must be %s, not the fraction %v", f.kind, x)
			}
			return fmt.Sprintf("must be %s, not %s", f.kind, tomlType(v))
		}
		if n < 0 || (f.kind == kPosInt && n == 0) {
			return fmt.Sprintf("must be %s, not %d", f.kind, n)
		}
		limit := int64(math.MaxInt32)
		if f.max > 0 {
			limit = f.max
		}
		if n > limit {
			return fmt.Sprintf("must be at most %d, not %d", limit, n)
		}
		dst.SetInt(n)
	case kPosFloat, kNonNeg, kFraction:
		var x float64
		switch n := v.(type) {
		case int64:
			x = float64(n)
		case float64:
			x = n
		default:
			return fmt.Sprintf("must be %s, not %s", f.kind, tomlType(v))
		}
		bad := math.IsNaN(x) || math.IsInf(x, 0) || x < 0 ||
			(f.kind == kPosFloat && x == 0) || (f.kind == kFraction && x >= 1)
		if bad {
			return fmt.Sprintf("must be %s, not %v", f.kind, x)
		}
		dst.SetFloat(x)
	case kRef, kInit, kSchedule, kPlace:
		if n, isNum := v.(int64); isNum && f.kind == kInit {
			v = fmt.Sprintf("constant(%d)", n)
			posOf = func(int) diag.Pos { return at }
		} else if x, isNum := v.(float64); isNum && f.kind == kInit {
			v = fmt.Sprintf("constant(%v)", x)
			posOf = func(int) diag.Pos { return at }
		}
		s, ok := v.(string)
		if !ok {
			return fmt.Sprintf("must be %s written as a string, not %s", f.kind, tomlType(v))
		}
		node, errs := parseExpr(f.kind, s, posOf)
		if len(errs) > 0 {
			diags.Append(errs)
			return ""
		}
		dst.Set(reflect.ValueOf(node))
	case kPatches:
		var strs []any
		switch x := v.(type) {
		case string:
			strs = []any{x}
		case []any:
			strs = x
		default:
			return fmt.Sprintf("must be an array of strings, not %s", tomlType(v))
		}
		var patches []*Patch
		for i, e := range strs {
			s, ok := e.(string)
			if !ok {
				return fmt.Sprintf("must be an array of strings, but element %d is %s", i, tomlType(e))
			}
			elemPos := posOf
			if _, isArray := v.([]any); isArray {
				elemPos = elem(i)
			}
			p, errs := expr.ParsePatch(s, elemPos(0), elemPos)
			if len(errs) > 0 {
				diags.Append(errs)
				continue
			}
			patches = append(patches, &Patch{Patch: p, Text: s, posOf: elemPos})
		}
		dst.Set(reflect.ValueOf(patches))
	}
	return ""
}

func parseExpr(k kind, s string, posOf func(int) diag.Pos) (any, diag.List) {
	switch k {
	case kRef:
		return expr.ParseRef(s, posOf(0), posOf)
	case kInit:
		return expr.ParseInit(s, posOf(0), posOf)
	case kSchedule:
		return expr.ParseSchedule(s, posOf(0), posOf)
	default:
		return expr.ParsePlace(s, posOf(0), posOf)
	}
}

func describe(f *field) string {
	if f.kind == kEnum && len(f.enum) == 2 {
		return quoteList(f.enum)
	}
	if f.kind == kEnum {
		return "one of " + quoteList(f.enum)
	}
	return f.kind.String()
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

func opList(ops []Op) string {
	s := make([]string, len(ops))
	for i, op := range ops {
		s[i] = string(op)
	}
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func tomlType(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", x)
	case int64:
		return fmt.Sprintf("the integer %d", x)
	case float64:
		return fmt.Sprintf("the number %v", x)
	case bool:
		return fmt.Sprintf("the boolean %v", x)
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("a %T", v)
}

func isName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		digit := r >= '0' && r <= '9'
		if !letter && !(digit && i > 0) {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func keyNames(fields []*field, op Op) []string {
	var s []string
	for _, f := range fields {
		if op == "" || f.takes(op) {
			s = append(s, f.key)
		}
	}
	return s
}

func suggest(s string, candidates []string) string { return diag.Suggest(s, candidates) }

package expr

import (
	"math"
	"strconv"
	"strings"

	"github.com/alexnetc/alexnetc/diag"
)

// maxExactInt is the largest integer a float64 holds exactly. Int refuses
// larger numbers because they could not print back as written.
const maxExactInt = 1 << 53

// Number returns the value of a number. It reports false for anything else,
// including a number too large for a float64.
func (v *Value) Number() (float64, bool) {
	if v == nil || v.NumberLit == nil {
		return 0, false
	}
	f, err := strconv.ParseFloat(*v.NumberLit, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// Int returns the value of a number that is a whole number, such as 30 or
// 3e1. It reports false for anything else, including fractions.
func (v *Value) Int() (int, bool) {
	f, ok := v.Number()
	if !ok || f != math.Trunc(f) || math.Abs(f) > maxExactInt {
		return 0, false
	}
	return int(f), true
}

// Str returns the contents of a string, with its escapes decoded.
func (v *Value) Str() (string, bool) {
	if v == nil || v.StringLit == nil {
		return "", false
	}
	s, err := strconv.Unquote(*v.StringLit)
	if err != nil {
		return "", false
	}
	return s, true
}

// Bool returns the value of the names true and false. The language has no
// boolean literals of its own; these two names stand for TOML's booleans so
// that a patch can set a boolean field.
func (v *Value) Bool() (bool, bool) {
	switch name, _ := v.Name(); name {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// Name returns a bare name such as tanh. A call, even one written with empty
// parentheses, is not a name.
func (v *Value) Name() (string, bool) {
	if v == nil || v.CallLit == nil || v.CallLit.Parens {
		return "", false
	}
	return v.CallLit.Name, true
}

// Call returns the value as a call. A bare name counts as a call without
// arguments, because "constant" and "split" are complete schedules and
// placements; use Name first where a name and a call mean different things.
func (v *Value) Call() (*Call, bool) {
	if v == nil || v.CallLit == nil {
		return nil, false
	}
	return v.CallLit, true
}

// List returns the items of a list.
func (v *Value) List() ([]*Value, bool) {
	if v == nil || v.ListLit == nil {
		return nil, false
	}
	return v.ListLit.Items, true
}

// Kind names the type of the value for messages: "number", "string",
// "name", "call" or "list".
func (v *Value) Kind() string {
	switch {
	case v == nil:
		return "nothing"
	case v.NumberLit != nil:
		return "number"
	case v.StringLit != nil:
		return "string"
	case v.CallLit != nil && v.CallLit.Parens:
		return "call"
	case v.CallLit != nil:
		return "name"
	case v.ListLit != nil:
		return "list"
	}
	return "nothing"
}

// String prints the value in canonical form: numbers in their shortest
// exact form, strings with Go quoting, lists and calls with ", " between
// items. Parsing the result gives back an equal value.
func (v *Value) String() string {
	switch {
	case v == nil:
		return ""
	case v.NumberLit != nil:
		if f, ok := v.Number(); ok {
			return formatNumber(f)
		}
		return *v.NumberLit
	case v.StringLit != nil:
		if s, ok := v.Str(); ok {
			return strconv.Quote(s)
		}
		return *v.StringLit
	case v.CallLit != nil:
		return v.CallLit.String()
	case v.ListLit != nil:
		return v.ListLit.String()
	}
	return ""
}

// describe names a value and shows it, as in `name "tanh"` or
// `list [1, 2]`, for "found ..." in messages.
func (v *Value) describe() string {
	s := v.String()
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	switch v.Kind() {
	case "name", "call":
		return v.Kind() + " " + strconv.Quote(s)
	}
	return v.Kind() + " " + s
}

func (l *List) String() string {
	if l == nil {
		return "[]"
	}
	items := make([]string, len(l.Items))
	for i, it := range l.Items {
		items[i] = it.String()
	}
	return "[" + strings.Join(items, ", ") + "]"
}

func (c *Call) String() string {
	if c == nil {
		return ""
	}
	if !c.Parens {
		return c.Name
	}
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		args[i] = a.String()
	}
	return c.Name + "(" + strings.Join(args, ", ") + ")"
}

func (a *Arg) String() string {
	if a.Name == "" {
		return a.Value.String()
	}
	return a.Name + "=" + a.Value.String()
}

func (r *Ref) String() string {
	if !r.Explicit {
		return r.Layer
	}
	return r.Layer + "[" + r.Connect.String() + "]"
}

// formatNumber prints f in the shortest form that parses back to exactly f:
// 5e-4 prints as "0.0005", and very large or small numbers keep an exponent,
// as in "1e-07" or "1e+21", which the number token also accepts. Printing
// the shortest form is what makes the canonical strings round-trip.
func formatNumber(f float64) string {
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// checkValue reports the problems of a parsed value that the grammar lets
// through: numbers too large for a float64, strings with bad escapes, and
// calls with parentheses where only the value of a set may be one. top says
// whether v is that value.
func checkValue(v *Value, top bool, loc locator, diags *diag.List) {
	if v == nil {
		return
	}
	switch {
	case v.NumberLit != nil:
		if _, ok := v.Number(); !ok {
			diags.Add(loc.at(v.Pos), "number %s is out of range", *v.NumberLit)
		}
	case v.StringLit != nil:
		if _, ok := v.Str(); !ok {
			diags.Add(loc.at(v.Pos), "malformed string %s", quoteToken(*v.StringLit))
		}
	case v.CallLit != nil:
		c := v.CallLit
		if c.Parens && !top {
			diags.Add(loc.at(v.Pos), "call %s cannot be nested; a value here is a number, string, name or list", c.Name)
			return
		}
		checkArgs(c, loc, diags)
	case v.ListLit != nil:
		for _, it := range v.ListLit.Items {
			checkValue(it, false, loc, diags)
		}
	}
}

// checkArgs checks the argument values of a call.
func checkArgs(c *Call, loc locator, diags *diag.List) {
	for _, a := range c.Args {
		checkValue(a.Value, false, loc, diags)
	}
}

// String prints the patch in canonical form: statements separated by "; ",
// values in canonical form. Parsing the result gives back an equal patch.
func (p *Patch) String() string {
	stmts := make([]string, len(p.Stmts))
	for i, st := range p.Stmts {
		stmts[i] = st.String()
	}
	return strings.Join(stmts, "; ")
}

func (st *Stmt) String() string {
	switch {
	case st.Drop != nil:
		return "drop " + joinPatterns(st.Drop.Patterns)
	case st.Set != nil:
		return st.Set.String()
	case st.Place != nil:
		return "place " + joinPatterns(st.Place.Patterns) + " on " + st.Place.Where.String()
	}
	return ""
}

func (s *Set) String() string {
	return "set " + s.Target.Glob + "." + s.Field + " " + s.Op + " " + s.Value.String()
}

func (p Pattern) String() string { return p.Glob }

func joinPatterns(ps []*Pattern) string {
	globs := make([]string, len(ps))
	for i, p := range ps {
		globs[i] = p.Glob
	}
	return strings.Join(globs, ", ")
}

package plan

import (
	"fmt"
	"strconv"
	"strings"
)

// Value is one named number: a step's attribute or a kernel's specialised
// constant. Integers and float32 values are both held exactly in V.
type Value struct {
	Name  string
	V     float64
	Float bool // a float32; otherwise an integer
}

// Int is an integer value.
func Int(name string, v int) Value { return Value{Name: name, V: float64(v)} }

// Float is a float32 value.
func Float(name string, v float32) Value { return Value{Name: name, V: float64(v), Float: true} }

// Values is an ordered list of values: a kernel's attributes or constants in
// the kernel's order.
type Values []Value

// Get returns the value of that name.
func (vs Values) Get(name string) (Value, bool) {
	for _, v := range vs {
		if v.Name == name {
			return v, true
		}
	}
	return Value{}, false
}

// Int returns an integer value by name; a missing one is a bug of the
// caller, which the verifier keeps from happening.
func (vs Values) Int(name string) int {
	v, ok := vs.Get(name)
	if !ok || v.Float {
		panic(fmt.Sprintf("plan: no integer attribute %q in %v", name, vs))
	}
	return int(v.V)
}

// F32 returns a float32 value by name.
func (vs Values) F32(name string) float32 {
	v, ok := vs.Get(name)
	if !ok || !v.Float {
		panic(fmt.Sprintf("plan: no float attribute %q in %v", name, vs))
	}
	return float32(v.V)
}

// Names lists the values' names in order.
func (vs Values) Names() []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Name
	}
	return out
}

// ints maps the integer values by name, for grid rules.
func (vs Values) ints() map[string]int {
	m := map[string]int{}
	for _, v := range vs {
		m[v.Name] = int(v.V)
	}
	return m
}

// Text writes a value as plan.json does: integers plainly, float32 values
// as the shortest decimal that reads back as the same float32, always with
// a point or an exponent so that a reader tells them from integers.
func (v Value) Text() string {
	if !v.Float {
		return strconv.FormatInt(int64(v.V), 10)
	}
	s := strconv.FormatFloat(v.V, 'g', -1, 32)
	if !strings.ContainsAny(s, ".eIN") {
		s += ".0"
	}
	return s
}

func (vs Values) String() string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = v.Name + "=" + v.Text()
	}
	return strings.Join(parts, " ")
}

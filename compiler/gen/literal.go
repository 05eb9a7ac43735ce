package gen

import (
	"fmt"
	"math"
	"strconv"

	"github.com/dave/jennifer/jen"

	"github.com/alexnetc/alexnetc/runtime/plan"
)

// cpuPkg is the package the generated code calls. The generator does not
// import it: every name it writes in it comes from the op table
// (plan.CPUCall), and the tests check those names against its source.
const cpuPkg = "github.com/alexnetc/alexnetc/runtime/cpu"

// literal writes a step's kernel as a composite literal of its CPU type
// (plan.CPUCall.Type): the kernel's attributes in the op table's order,
// which is the type's field order, each by name, zeros included, so that a
// call shows all its sizes. An attribute the table lists as an enum
// (plan.CPUCall.Enums) is written as the runtime/cpu constant of its code,
// cpu.ReLU rather than 1.
func literal(d *plan.KernelDef, s *plan.Step) (*jen.Statement, error) {
	if d.CPU.Type == "" || d.CPU.Method == "" {
		return nil, fmt.Errorf("kernel %s has no CPU call in the op table", d.Name)
	}
	fields := make([]jen.Code, 0, len(d.Attrs))
	for _, name := range d.Attrs {
		v, ok := s.Attrs.Get(name)
		if !ok {
			return nil, fmt.Errorf("the step lacks attribute %s of kernel %s", name, d.Name)
		}
		val, err := attrValue(d, v)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %v", d.Name, name, err)
		}
		fields = append(fields, jen.Id(name).Op(":").Add(val))
	}
	return jen.Qual(cpuPkg, d.CPU.Type).Values(fields...), nil
}

// attrValue writes one attribute: a named constant for an enum, else an
// untyped constant, which the field's type converts exactly (a float32 is
// printed with the fewest digits that read back as the same float32).
func attrValue(d *plan.KernelDef, v plan.Value) (jen.Code, error) {
	if names, ok := d.CPU.Enums[v.Name]; ok {
		code := int(v.V)
		if v.Float || float64(code) != v.V || code < 0 || code >= len(names) {
			return nil, fmt.Errorf("%s is no code of %v", v.Text(), names)
		}
		return jen.Qual(cpuPkg, names[code]), nil
	}
	if !v.Float {
		if v.V != math.Trunc(v.V) || math.Abs(v.V) > 1<<53 {
			return nil, fmt.Errorf("%v is not an integer", v.V)
		}
		return jen.Id(strconv.FormatInt(int64(v.V), 10)), nil
	}
	if math.IsNaN(v.V) || math.IsInf(v.V, 0) {
		return nil, fmt.Errorf("%v has no constant form", v.V)
	}
	return jen.Id(floatText(v.V, 32)), nil
}

// floatText prints f with the fewest digits that read back as the same
// value of the given size.
func floatText(f float64, bits int) string {
	return strconv.FormatFloat(f, 'g', -1, bits)
}

// num writes an integer constant. jen.Lit would write int64(n) for an int64.
func num[T ~int | ~int64](n T) *jen.Statement {
	return jen.Id(strconv.FormatInt(int64(n), 10))
}

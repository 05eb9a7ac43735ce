package gen

import (
	"fmt"
	"math"
	"reflect"
	"strconv"

	"github.com/dave/jennifer/jen"

	"github.com/alexnetc/alexnetc/runtime/cpu"
)

// constNames names the constants of runtime/cpu's enumerated parameter
// types, so that a step reads cpu.ReLU rather than 1. A value missing here
// is an error when it is generated; TestConstNames checks every entry
// against the constant of that name in runtime/cpu's source.
var constNames = map[any]string{
	cpu.Identity:  "Identity",
	cpu.ReLU:      "ReLU",
	cpu.Tanh:      "Tanh",
	cpu.Sigmoid:   "Sigmoid",
	cpu.AlphaSum:  "AlphaSum",
	cpu.AlphaMean: "AlphaMean",
}

// literal writes a kernel's parameter struct as a composite literal, every
// field by name in declaration order, zeros included, so that a call shows
// all its sizes. set replaces the value of the fields it names (SGD's LR,
// which the training step takes as an argument).
func literal(params any, set map[string]jen.Code) (*jen.Statement, error) {
	v := reflect.ValueOf(params)
	t := v.Type()
	if t.Kind() != reflect.Struct || t.PkgPath() == "" || t.Name() == "" {
		return nil, fmt.Errorf("gen: kernel parameters %T are not a named struct", params)
	}
	var fields []jen.Code
	used := 0
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			return nil, fmt.Errorf("gen: %s has an unexported field %s that generated code cannot set", t, f.Name)
		}
		val, ok := set[f.Name]
		if ok {
			used++
		} else {
			var err error
			if val, err = scalar(v.Field(i)); err != nil {
				return nil, fmt.Errorf("gen: %s.%s: %v", t, f.Name, err)
			}
		}
		fields = append(fields, jen.Id(f.Name).Op(":").Add(val))
	}
	if used != len(set) {
		return nil, fmt.Errorf("gen: %s lacks a field the generator sets (%v)", t, set)
	}
	return jen.Qual(t.PkgPath(), t.Name()).Values(fields...), nil
}

// scalar writes one field's value: a named constant for an enumerated type,
// else an untyped constant, which the field's type converts exactly (a
// float32 is printed with the fewest digits that read back as the same
// float32).
func scalar(v reflect.Value) (jen.Code, error) {
	if v.Kind() == reflect.Struct {
		return literal(v.Interface(), nil) // a kernel made of two (cpu.LRNMaxPool)
	}
	if v.Type().PkgPath() != "" {
		name, ok := constNames[v.Interface()]
		if !ok {
			return nil, fmt.Errorf("no constant of %s has the value %v; add it to constNames", v.Type(), v.Interface())
		}
		return jen.Qual(v.Type().PkgPath(), name), nil
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return jen.Id(strconv.FormatInt(v.Int(), 10)), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return jen.Id(strconv.FormatUint(v.Uint(), 10)), nil
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%v has no constant form", f)
		}
		return jen.Id(floatText(f, v.Type().Bits())), nil
	case reflect.Bool:
		return jen.Lit(v.Bool()), nil
	}
	return nil, fmt.Errorf("cannot write a %s as a constant", v.Type())
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

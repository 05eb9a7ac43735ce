package engine

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/alexnetc/alexnetc/runtime/cpu"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// cpuTypes are the runtime/cpu types the op table's CPU calls name
// (plan.CPUCall.Type). A new op's CPU kernel type goes here; nothing else in
// the engine knows the kinds of steps.
var cpuTypes = map[string]reflect.Type{
	"Conv":        reflect.TypeFor[cpu.Conv](),
	"FC":          reflect.TypeFor[cpu.FC](),
	"LRN":         reflect.TypeFor[cpu.LRN](),
	"MaxPool":     reflect.TypeFor[cpu.MaxPool](),
	"AvgPool":     reflect.TypeFor[cpu.AvgPool](),
	"Dropout":     reflect.TypeFor[cpu.Dropout](),
	"SoftmaxLoss": reflect.TypeFor[cpu.SoftmaxLoss](),
	"ChannelCopy": reflect.TypeFor[cpu.ChannelCopy](),
	"SGD":         reflect.TypeFor[cpu.SGD](),
}

// kernelValue builds the runtime/cpu value of a step: its kernel's CPU
// type with the step's attributes as its fields. It returns a pointer to
// it, so that the learning rate can be set before each call.
func kernelValue(s *plan.Step) (reflect.Value, *plan.KernelDef, error) {
	d := s.Kernel.Def()
	if d == nil {
		return reflect.Value{}, nil, fmt.Errorf("engine: kernel %q is not in the op table", s.Kernel)
	}
	t, ok := cpuTypes[d.CPU.Type]
	if !ok {
		return reflect.Value{}, nil, fmt.Errorf("engine: kernel %s: no CPU type %q", s.Kernel, d.CPU.Type)
	}
	v := reflect.New(t)
	for _, name := range d.Attrs {
		a, ok := s.Attrs.Get(name)
		if !ok {
			return reflect.Value{}, nil, fmt.Errorf("engine: step of %s lacks attribute %s", s.Kernel, name)
		}
		f := v.Elem().FieldByName(name)
		if !f.IsValid() {
			return reflect.Value{}, nil, fmt.Errorf("engine: cpu.%s has no field %s", d.CPU.Type, name)
		}
		if names, ok := d.CPU.Enums[name]; ok {
			// An enum's code is the value of the runtime/cpu constant the
			// table names at that index (compiler/gen's TestCPUCalls holds
			// the table to that).
			if code := int(a.V); code < 0 || code >= len(names) {
				return reflect.Value{}, nil, fmt.Errorf("engine: %s: %s = %d is out of range", s.Kernel, name, code)
			}
		}
		switch f.Kind() {
		case reflect.Int, reflect.Int32, reflect.Int64:
			f.SetInt(int64(a.V))
		case reflect.Float32, reflect.Float64:
			f.SetFloat(a.V)
		default:
			return reflect.Value{}, nil, fmt.Errorf("engine: cpu.%s.%s has kind %s", d.CPU.Type, name, f.Kind())
		}
	}
	return v, d, nil
}

// cpuMethods are the runtime/cpu methods the op table's CPU calls name
// (plan.CPUCall: "Type.Method"), each bound by the shape of its arguments.
// A new kernel's method goes here, in one line.
var cpuMethods = map[string]binder{
	"Conv.Forward":         f5(cpu.Conv.Forward),
	"Conv.Backward":        f8(cpu.Conv.Backward),
	"FC.Forward":           f4(cpu.FC.Forward),
	"FC.Backward":          f8(cpu.FC.Backward),
	"LRN.Forward":          f2(cpu.LRN.Forward),
	"LRN.Backward":         f4(cpu.LRN.Backward),
	"MaxPool.Forward":      ffi(cpu.MaxPool.Forward),
	"MaxPool.Backward":     iff(cpu.MaxPool.Backward),
	"AvgPool.Forward":      f2(cpu.AvgPool.Forward),
	"AvgPool.Backward":     f2(cpu.AvgPool.Backward),
	"Dropout.Train":        rngffu(cpu.Dropout.Train),
	"Dropout.Test":         f2(cpu.Dropout.Test),
	"Dropout.Backward":     uff(cpu.Dropout.Backward),
	"SoftmaxLoss.Softmax":  f2(cpu.SoftmaxLoss.Softmax),
	"SoftmaxLoss.Loss":     fifLoss(cpu.SoftmaxLoss.Loss),
	"SoftmaxLoss.Backward": fif(cpu.SoftmaxLoss.Backward),
	"ChannelCopy.Copy":     f2(cpu.ChannelCopy.Copy),
	"ChannelCopy.Add":      f2(cpu.ChannelCopy.Add),
	"SGD.Update":           lrf3(cpu.SGD.Update),
}

// bind makes the call of one step of a program: the kernel's CPU method
// with the step's buffers, as views of the arenas, in the kernel's order,
// and the runtime scalars (the device's generator for a seed, the engine's
// learning rate). Calling it allocates nothing.
func (e *Engine) bind(prog plan.Program, s *plan.Step) (func(), error) {
	v, d, err := kernelValue(s)
	if err != nil {
		return nil, err
	}
	bind, ok := cpuMethods[d.CPU.Type+"."+d.CPU.Method]
	if !ok {
		return nil, fmt.Errorf("engine: no CPU method cpu.%s.%s (kernel %s)", d.CPU.Type, d.CPU.Method, s.Kernel)
	}
	var a args
	for _, prm := range d.Params {
		switch {
		case prm.Role == plan.SeedArg:
			a.rng = e.RNGs[s.Device]
		case prm.Role == plan.LRArg:
			a.lr = &e.LR
		case d.CPU.Result == prm.Name:
			a.result = e.view(prog, s.Arg(prm.Name), plan.F32).Interface().([]float32)
			a.loss = &e.Loss
		default:
			a.bufs = append(a.bufs, e.view(prog, s.Arg(prm.Name), prm.DType).Interface())
		}
	}
	call, err := bind(v.Elem().Interface(), &a)
	if err != nil {
		return nil, fmt.Errorf("engine: kernel %s: cpu.%s.%s: %w", s.Kernel, d.CPU.Type, d.CPU.Method, err)
	}
	return call, nil
}

// args are what a step passes: its buffers in the kernel's order, and the
// runtime scalars.
type args struct {
	bufs   []any // []float32, []int32 or []uint8
	rng    *cpu.RNG
	lr     *float32
	result []float32 // where a method's result goes (the loss)
	loss   *float64
}

// A binder binds a runtime/cpu method (a method expression: the receiver
// first) to a kernel value and a step's arguments.
type binder func(k any, a *args) (func(), error)

func (a *args) check(n int) error {
	if len(a.bufs) != n {
		return fmt.Errorf("takes %d buffers, the step passes %d", n, len(a.bufs))
	}
	return nil
}

func buf[T any](a *args, i int) (T, error) {
	v, ok := a.bufs[i].(T)
	if !ok {
		var want T
		return want, fmt.Errorf("operand %d is a %T, the method takes a %T", i, a.bufs[i], want)
	}
	return v, nil
}

// bound builds the call of a method of n buffers once the kernel's type and
// the buffers check out.
func bound[K any](k any, a *args, n int, call func(k K) (func(), error)) (func(), error) {
	kv, ok := k.(K)
	if !ok {
		return nil, fmt.Errorf("the kernel value is a %T", k)
	}
	if err := a.check(n); err != nil {
		return nil, err
	}
	return call(kv)
}

type fs = []float32

func f2[K any](m func(K, fs, fs)) binder {
	return func(k any, a *args) (func(), error) {
		return bound(k, a, 2, func(k K) (func(), error) {
			x, e1 := buf[fs](a, 0)
			y, e2 := buf[fs](a, 1)
			return func() { m(k, x, y) }, errors.Join(e1, e2)
		})
	}
}

func f4[K any](m func(K, fs, fs, fs, fs)) binder {
	return func(k any, a *args) (func(), error) {
		return bound(k, a, 4, func(k K) (func(), error) {
			b, err := floats(a, 4)
			return func() { m(k, b[0], b[1], b[2], b[3]) }, err
		})
	}
}

func f5[K any](m func(K, fs, fs, fs, fs, fs)) binder {
	return func(k any, a *args) (func(), error) {
		return bound(k, a, 5, func(k K) (func(), error) {
			b, err := floats(a, 5)
			return func() { m(k, b[0], b[1], b[2], b[3], b[4]) }, err
		})
	}
}

func f8[K any](m func(K, fs, fs, fs, fs, fs, fs, fs, fs)) binder {
	return func(k any, a *args) (func(), error) {
		return bound(k, a, 8, func(k K) (func(), error) {
			b, err := floats(a, 8)
			return func() { m(k, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]) }, err
		})
	}
}

func floats(a *args, n int) ([]fs, error) {
	out := make([]fs, n)
	var errs []error
	for i := range out {
		var err error
		out[i], err = buf[fs](a, i)
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

func ffi[K any](m func(K, fs, fs, []int32)) binder {
	return func(k any, a *args) (func(), error) {
		return bound(k, a, 3, func(k K) (func(), error) {
			x, e1 := buf[fs](a, 0)
			y, e2 := buf[fs](a, 1)
			z, e3 := buf[[]int32](a, 2)
			return func() { m(k, x, y, z) }, errors.Join(e1, e2, e3)
		})
	}
}

func iff[K any](m func(K, []int32, fs, fs)) binder {
	return func(k any, a *args) (func(), error) {
		return bound(k, a, 3, func(k K) (func(), error) {
			x, e1 := buf[[]int32](a, 0)
			y, e2 := buf[fs](a, 1)
			z, e3 := buf[fs](a, 2)
			return func() { m(k, x, y, z) }, errors.Join(e1, e2, e3)
		})
	}
}

func uff[K any](m func(K, []uint8, fs, fs)) binder {
	return func(k any, a *args) (func(), error) {
		return bound(k, a, 3, func(k K) (func(), error) {
			x, e1 := buf[[]uint8](a, 0)
			y, e2 := buf[fs](a, 1)
			z, e3 := buf[fs](a, 2)
			return func() { m(k, x, y, z) }, errors.Join(e1, e2, e3)
		})
	}
}

func fif[K any](m func(K, fs, []int32, fs)) binder {
	return func(k any, a *args) (func(), error) {
		return bound(k, a, 3, func(k K) (func(), error) {
			x, e1 := buf[fs](a, 0)
			y, e2 := buf[[]int32](a, 1)
			z, e3 := buf[fs](a, 2)
			return func() { m(k, x, y, z) }, errors.Join(e1, e2, e3)
		})
	}
}

func fifLoss[K any](m func(K, fs, []int32, fs) float64) binder {
	return func(k any, a *args) (func(), error) {
		return bound(k, a, 3, func(k K) (func(), error) {
			x, e1 := buf[fs](a, 0)
			y, e2 := buf[[]int32](a, 1)
			z, e3 := buf[fs](a, 2)
			if a.result == nil || len(a.result) < 1 {
				return nil, errors.New("the step has no buffer for the result")
			}
			res, loss := a.result, a.loss
			return func() {
				*loss = m(k, x, y, z)
				res[0] = float32(*loss)
			}, errors.Join(e1, e2, e3)
		})
	}
}

func rngffu[K any](m func(K, *cpu.RNG, fs, fs, []uint8)) binder {
	return func(k any, a *args) (func(), error) {
		return bound(k, a, 3, func(k K) (func(), error) {
			x, e1 := buf[fs](a, 0)
			y, e2 := buf[fs](a, 1)
			z, e3 := buf[[]uint8](a, 2)
			if a.rng == nil {
				return nil, errors.New("the kernel takes a seed the step lacks")
			}
			rng := a.rng
			return func() { m(k, rng, x, y, z) }, errors.Join(e1, e2, e3)
		})
	}
}

func lrf3[K any](m func(K, float32, fs, fs, fs)) binder {
	return func(k any, a *args) (func(), error) {
		return bound(k, a, 3, func(k K) (func(), error) {
			b, err := floats(a, 3)
			if a.lr == nil {
				return nil, errors.New("the kernel takes a learning rate the step lacks")
			}
			lr := a.lr
			return func() { m(k, *lr, b[0], b[1], b[2]) }, err
		})
	}
}

// view is a buffer of the program as a slice of its element type; a nil
// slice of the parameter's type for a buffer left out.
func (e *Engine) view(prog plan.Program, b *plan.Buffer, dt plan.DType) reflect.Value {
	if b != nil {
		dt = b.DType
	}
	switch dt {
	case plan.I32:
		if b == nil {
			return reflect.ValueOf([]int32(nil))
		}
		return reflect.ValueOf(e.Arenas[b.Device].I32(e.offset(prog, b), b.Elems()))
	case plan.U8:
		if b == nil {
			return reflect.ValueOf([]uint8(nil))
		}
		return reflect.ValueOf(e.Arenas[b.Device].U8(e.offset(prog, b), b.Elems()))
	}
	if b == nil {
		return reflect.ValueOf([]float32(nil))
	}
	return reflect.ValueOf(e.Arenas[b.Device].F32(e.offset(prog, b), b.Elems()))
}

// CPUKernel returns the runtime/cpu value of a step (cpu.Conv, cpu.LRN,
// ...), built from its attributes: for tests, bench and the tools that
// look at a step's kernel.
func CPUKernel(s *plan.Step) (any, error) {
	v, _, err := kernelValue(s)
	if err != nil {
		return nil, err
	}
	return v.Elem().Interface(), nil
}

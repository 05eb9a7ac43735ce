// Package safetensors reads and writes the safetensors weight-file format, the
// format PyTorch users load with safetensors.torch.load_file and save with
// safetensors.torch.save_file.
//
// # Format
//
// A file is an 8-byte little-endian unsigned header length N, then N bytes of
// UTF-8 JSON, then the data section. The JSON header is an object that maps
// each tensor name to {"dtype": ..., "shape": [...], "data_offsets": [begin,
// end]}, where the offsets are relative to the start of the data section, plus
// an optional "__metadata__" object of string keys and string values. Writers
// pad the header with trailing spaces so that the data section starts at a
// multiple of 8. Tensor data is little-endian and row-major, and the tensors
// tile the data section exactly: no gaps, no overlaps, nothing after the last.
//
// # Reading and writing
//
// Read is strict: it refuses anything the format does not allow, with an
// error that names the offending tensor or field, and it never allocates much
// more than the bytes it has actually been given, so that a hostile header
// cannot make it reserve gigabytes. Write is deterministic: the same File,
// with its tensors in any order, always gives the same bytes.
//
// Tensor data is kept as raw little-endian bytes. The typed accessors
// (Float32s and friends) and constructors (FromFloat32 and friends) convert
// element by element with encoding/binary rather than reinterpreting memory,
// so the package needs no unsafe code and works on any host byte order.
// File.Float32Into loads a weight straight into a buffer the caller already
// owns, which is how compiled models load their parameters.
package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// DType names the element type of a tensor, spelled as in the safetensors
// header.
type DType string

// The element types the package understands. F32, F64, I32, I64 and U8 have
// typed accessors; the others are carried as raw bytes so that files holding
// them (half-precision checkpoints, masks) can still be read and rewritten.
const (
	Bool   DType = "BOOL"
	U8     DType = "U8"
	I8     DType = "I8"
	F8E4M3 DType = "F8_E4M3"
	F8E5M2 DType = "F8_E5M2"
	I16    DType = "I16"
	U16    DType = "U16"
	F16    DType = "F16"
	BF16   DType = "BF16"
	I32    DType = "I32"
	U32    DType = "U32"
	F32    DType = "F32"
	F64    DType = "F64"
	I64    DType = "I64"
	U64    DType = "U64"
)

// metaKey is the reserved header key for the file's string metadata, which
// no tensor may use as its name.
const metaKey = "__metadata__"

// dtypeSizes maps every known dtype to its element size in bytes. A dtype
// missing here is unknown, and Read and Write refuse it.
var dtypeSizes = map[DType]int{
	Bool: 1, U8: 1, I8: 1, F8E4M3: 1, F8E5M2: 1,
	I16: 2, U16: 2, F16: 2, BF16: 2,
	I32: 4, U32: 4, F32: 4,
	F64: 8, I64: 8, U64: 8,
}

// Size returns the size of one element in bytes, or 0 if the dtype is not one
// the package knows.
func (d DType) Size() int { return dtypeSizes[d] }

// Tensor is one named tensor. Data holds the elements as little-endian bytes
// in row-major order; its length must be the product of Shape times the
// dtype's size. A nil or empty Shape is a scalar (one element); a shape with
// a zero dimension is an empty tensor (no bytes).
//
// Tensors returned by Read share one backing array for their Data, each
// slice capped at its own end, so appending to one never overwrites another.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// File is the contents of a safetensors file. Read returns Tensors sorted by
// name and Metadata nil when the file has none; Write accepts Tensors in any
// order.
type File struct {
	Metadata map[string]string
	Tensors  []Tensor
}

// Get returns the tensor with the given name. It searches linearly, because a
// File is a plain value that callers may build or reorder freely, and weight
// files hold at most a few thousand tensors.
func (f *File) Get(name string) (Tensor, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return Tensor{}, false
}

// Float32Into copies the F32 tensor called name into dst, after checking that
// it exists, that its dtype is F32, that its shape equals shape and that dst
// holds exactly as many elements as shape does. It allocates nothing, so a
// compiled model can load its weights into buffers it already owns; the
// errors name the tensor and both shapes so that a mismatch between a model
// and a checkpoint is easy to diagnose. The error paths format a copy of
// shape, so that shape does not escape and a caller's literal shape stays on
// its stack.
func (f *File) Float32Into(name string, shape []int, dst []float32) error {
	t, ok := f.Get(name)
	if !ok {
		return errorf("no tensor named %q", name)
	}
	if t.DType != F32 {
		return errorf("tensor %q has dtype %s, want F32", name, t.DType)
	}
	if !slices.Equal(t.Shape, shape) {
		return errorf("tensor %q has shape %v, want %v", name, t.Shape, slices.Clone(shape))
	}
	n, ok := numElements(shape)
	if !ok {
		return errorf("tensor %q: shape %v is invalid", name, slices.Clone(shape))
	}
	if int64(len(dst)) != n {
		return errorf("tensor %q: destination holds %d float32s, but shape %v has %d elements", name, len(dst), slices.Clone(shape), n)
	}
	if int64(len(t.Data)) != 4*n {
		return errorf("tensor %q: %d bytes of data, but shape %v of F32 needs %d", name, len(t.Data), slices.Clone(shape), 4*n)
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return nil
}

// Float32s returns a copy of an F32 tensor's elements.
func (t Tensor) Float32s() ([]float32, error) {
	return decode(t, F32, func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) })
}

// Float64s returns a copy of an F64 tensor's elements.
func (t Tensor) Float64s() ([]float64, error) {
	return decode(t, F64, func(b []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b)) })
}

// Int32s returns a copy of an I32 tensor's elements.
func (t Tensor) Int32s() ([]int32, error) {
	return decode(t, I32, func(b []byte) int32 { return int32(binary.LittleEndian.Uint32(b)) })
}

// Int64s returns a copy of an I64 tensor's elements.
func (t Tensor) Int64s() ([]int64, error) {
	return decode(t, I64, func(b []byte) int64 { return int64(binary.LittleEndian.Uint64(b)) })
}

// Uint8s returns a copy of a U8 tensor's elements.
func (t Tensor) Uint8s() ([]uint8, error) {
	return decode(t, U8, func(b []byte) uint8 { return b[0] })
}

// FromFloat32 builds an F32 tensor from values in row-major order. It copies
// shape and values, so the caller may reuse them. It does not check that
// len(values) matches shape; Write and the accessors do, and report it.
func FromFloat32(name string, shape []int, values []float32) Tensor {
	return encode(name, F32, shape, values, func(b []byte, v float32) { binary.LittleEndian.PutUint32(b, math.Float32bits(v)) })
}

// FromFloat64 builds an F64 tensor; see FromFloat32.
func FromFloat64(name string, shape []int, values []float64) Tensor {
	return encode(name, F64, shape, values, func(b []byte, v float64) { binary.LittleEndian.PutUint64(b, math.Float64bits(v)) })
}

// FromInt32 builds an I32 tensor; see FromFloat32.
func FromInt32(name string, shape []int, values []int32) Tensor {
	return encode(name, I32, shape, values, func(b []byte, v int32) { binary.LittleEndian.PutUint32(b, uint32(v)) })
}

// FromInt64 builds an I64 tensor; see FromFloat32.
func FromInt64(name string, shape []int, values []int64) Tensor {
	return encode(name, I64, shape, values, func(b []byte, v int64) { binary.LittleEndian.PutUint64(b, uint64(v)) })
}

// FromUint8 builds a U8 tensor; see FromFloat32.
func FromUint8(name string, shape []int, values []uint8) Tensor {
	return encode(name, U8, shape, values, func(b []byte, v uint8) { b[0] = v })
}

// decode checks that t has dtype want and that its data matches its shape,
// then converts each element with get.
func decode[T any](t Tensor, want DType, get func([]byte) T) ([]T, error) {
	if t.DType != want {
		return nil, errorf("tensor %q has dtype %s, not %s", t.Name, t.DType, want)
	}
	size, ok := byteSize(want, t.Shape)
	if !ok {
		return nil, errorf("tensor %q: shape %v is invalid", t.Name, t.Shape)
	}
	if int64(len(t.Data)) != size {
		return nil, errorf("tensor %q: %d bytes of data, but shape %v of %s needs %d", t.Name, len(t.Data), t.Shape, want, size)
	}
	es := want.Size()
	out := make([]T, len(t.Data)/es)
	for i := range out {
		out[i] = get(t.Data[i*es:])
	}
	return out, nil
}

// encode is the common body of the From constructors.
func encode[T any](name string, dt DType, shape []int, values []T, put func([]byte, T)) Tensor {
	es := dt.Size()
	data := make([]byte, len(values)*es)
	for i, v := range values {
		put(data[i*es:], v)
	}
	return Tensor{Name: name, DType: dt, Shape: slices.Clone(shape), Data: data}
}

// numElements returns the number of elements of a tensor with the given
// shape, or false if a dimension is negative or the count overflows an int64.
// A zero dimension makes the count zero however large the others are, which
// is what the format means by such a shape.
func numElements(shape []int) (int64, bool) {
	zero := false
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d == 0 {
			zero = true
		}
	}
	if zero {
		return 0, true
	}
	n := int64(1)
	for _, d := range shape {
		if int64(d) > math.MaxInt64/n {
			return 0, false
		}
		n *= int64(d)
	}
	return n, true
}

// byteSize returns the number of data bytes of a tensor, or false if the
// dtype is unknown, the shape is invalid or the size overflows.
func byteSize(dt DType, shape []int) (int64, bool) {
	es := int64(dt.Size())
	n, ok := numElements(shape)
	if !ok || es == 0 || n > math.MaxInt64/es {
		return 0, false
	}
	return n * es, true
}

// errorf formats an error with the package prefix, so that every message says
// where it came from.
func errorf(format string, args ...any) error {
	return fmt.Errorf("safetensors: "+format, args...)
}

package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// sampleFile returns a file with a tensor of every known dtype, including a
// scalar and an empty tensor, plus metadata with several keys so that map
// iteration order would show up in the output if Write depended on it.
func sampleFile() *File {
	f := &File{
		Metadata: map[string]string{"format": "pt", "epoch": "90", "note": "quotes \" and \\ and \n\r\t\x01\x1f and <&>", "ünï": "cödé"},
		Tensors: []Tensor{
			FromFloat32("conv1.weight", []int{2, 3}, []float32{1, -2.5, float32(math.Inf(1)), 0, 1e-30, -0}),
			FromFloat32("empty", []int{0, 4}, nil),
			FromFloat64("f64", []int{3}, []float64{math.Pi, -1, math.MaxFloat64}),
			FromInt32("i32", []int{2, 2}, []int32{math.MinInt32, -1, 0, math.MaxInt32}),
			FromInt64("step", nil, []int64{math.MinInt64 + 7}),
			FromUint8("mask", []int{5}, []uint8{0, 1, 2, 254, 255}),
		},
	}
	// The dtypes without typed helpers travel as raw bytes.
	for dt, size := range dtypeSizes {
		data := make([]byte, 3*size)
		for i := range data {
			data[i] = byte(i*7 + size)
		}
		f.Tensors = append(f.Tensors, Tensor{Name: "raw." + string(dt), DType: dt, Shape: []int{3}, Data: data})
	}
	return f
}

func mustWrite(t testing.TB, f *File) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, f); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return b.Bytes()
}

func mustRead(t testing.TB, data []byte) *File {
	t.Helper()
	f, err := Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return f
}

// sameFile reports whether two files hold the same metadata and the same
// tensors, ignoring tensor order and the nil-versus-empty distinction that
// the format cannot express.
func sameFile(a, b *File) bool {
	if !maps.Equal(a.Metadata, b.Metadata) || len(a.Tensors) != len(b.Tensors) {
		return false
	}
	for _, x := range a.Tensors {
		y, ok := b.Get(x.Name)
		if !ok || x.DType != y.DType || !slices.Equal(x.Shape, y.Shape) || !bytes.Equal(x.Data, y.Data) {
			return false
		}
	}
	return true
}

func TestRoundTrip(t *testing.T) {
	want := sampleFile()
	got := mustRead(t, mustWrite(t, want))
	if !sameFile(want, got) {
		t.Fatalf("round trip changed the file:\nwant %+v\ngot  %+v", want, got)
	}
	if !slices.IsSortedFunc(got.Tensors, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) }) {
		t.Errorf("Read returned tensors out of name order")
	}

	// The typed accessors give back exactly what the constructors were given.
	get := func(name string) Tensor {
		tn, ok := got.Get(name)
		if !ok {
			t.Fatalf("tensor %q missing", name)
		}
		return tn
	}
	f32, err := get("conv1.weight").Float32s()
	if err != nil || !slices.Equal(f32, []float32{1, -2.5, float32(math.Inf(1)), 0, 1e-30, -0}) {
		t.Errorf("Float32s = %v, %v", f32, err)
	}
	if e, err := get("empty").Float32s(); err != nil || len(e) != 0 {
		t.Errorf("empty Float32s = %v, %v", e, err)
	}
	f64, err := get("f64").Float64s()
	if err != nil || !slices.Equal(f64, []float64{math.Pi, -1, math.MaxFloat64}) {
		t.Errorf("Float64s = %v, %v", f64, err)
	}
	i32, err := get("i32").Int32s()
	if err != nil || !slices.Equal(i32, []int32{math.MinInt32, -1, 0, math.MaxInt32}) {
		t.Errorf("Int32s = %v, %v", i32, err)
	}
	step := get("step")
	if len(step.Shape) != 0 {
		t.Errorf("scalar shape = %v, want []", step.Shape)
	}
	i64, err := step.Int64s()
	if err != nil || !slices.Equal(i64, []int64{math.MinInt64 + 7}) {
		t.Errorf("Int64s = %v, %v", i64, err)
	}
	u8, err := get("mask").Uint8s()
	if err != nil || !slices.Equal(u8, []uint8{0, 1, 2, 254, 255}) {
		t.Errorf("Uint8s = %v, %v", u8, err)
	}
}

// TestNegativeZero checks that the exact bits of -0 and of a NaN with a
// payload survive a round trip. It compares bits because == cannot tell -0
// from 0 and never finds a NaN equal to itself.
func TestNegativeZero(t *testing.T) {
	in := []float32{float32(math.Copysign(0, -1)), math.Float32frombits(0x7fc00001)}
	got, err := mustRead(t, mustWrite(t, &File{Tensors: []Tensor{FromFloat32("x", []int{2}, in)}})).Tensors[0].Float32s()
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if math.Float32bits(got[i]) != math.Float32bits(in[i]) {
			t.Errorf("element %d: bits %#x, want %#x", i, math.Float32bits(got[i]), math.Float32bits(in[i]))
		}
	}
}

func TestDeterministic(t *testing.T) {
	f := sampleFile()
	first := mustWrite(t, f)
	for i := range 20 {
		g := sampleFile() // Rebuilt, so dtypeSizes and Metadata iterate afresh.
		rot := i % len(g.Tensors)
		g.Tensors = slices.Concat(g.Tensors[rot:], g.Tensors[:rot])
		if i%2 == 1 {
			slices.Reverse(g.Tensors)
		}
		if got := mustWrite(t, g); !bytes.Equal(got, first) {
			t.Fatalf("writing the tensors in another order (rotation %d) changed the bytes", rot)
		}
	}
	if got := mustWrite(t, mustRead(t, first)); !bytes.Equal(got, first) {
		t.Fatalf("rewriting a file Write produced changed its bytes")
	}
}

// golden is a file laid out exactly as Python's
// safetensors.torch.save_file({"a": torch.tensor([1.0, 2.0]),
// "b": torch.tensor([7])}) writes it: the reference writer orders tensors by
// descending dtype and then by name, so the I64 tensor "b" comes first; it
// writes compact JSON with the fields in the order dtype, shape,
// data_offsets; and it pads the 108-byte header with four spaces to 112.
func golden() []byte {
	const header = `{"b":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}` + "    "
	b := []byte{112, 0, 0, 0, 0, 0, 0, 0}
	b = append(b, header...)
	b = append(b, 7, 0, 0, 0, 0, 0, 0, 0) // int64 7
	b = append(b, 0, 0, 0x80, 0x3f)       // float32 1.0
	b = append(b, 0, 0, 0, 0x40)          // float32 2.0
	return b
}

func TestGolden(t *testing.T) {
	g := golden()
	if len(g) != 8+112+16 {
		t.Fatalf("golden file is %d bytes; the hand-built layout is wrong", len(g))
	}
	f := mustRead(t, g)
	if f.Metadata != nil {
		t.Errorf("Metadata = %v, want nil", f.Metadata)
	}
	if len(f.Tensors) != 2 || f.Tensors[0].Name != "a" || f.Tensors[1].Name != "b" {
		t.Fatalf("tensors = %+v, want a then b", f.Tensors)
	}
	dst := make([]float32, 2)
	if err := f.Float32Into("a", []int{2}, dst); err != nil || !slices.Equal(dst, []float32{1, 2}) {
		t.Errorf("a = %v, %v; want [1 2]", dst, err)
	}
	b, _ := f.Get("b")
	if v, err := b.Int64s(); err != nil || !slices.Equal(b.Shape, []int{1}) || !slices.Equal(v, []int64{7}) {
		t.Errorf("b = %v %v, %v; want shape [1] value [7]", b.Shape, v, err)
	}

	// Write lays the same tensors out in name order, with the same JSON
	// style and padding rule as the reference writer.
	out := mustWrite(t, f)
	n := binary.LittleEndian.Uint64(out)
	header := out[8 : 8+n]
	if (8+n)%8 != 0 {
		t.Errorf("data starts at %d, not a multiple of 8", 8+n)
	}
	if !json.Valid(header) {
		t.Errorf("header is not valid JSON: %q", header)
	}
	var parsed map[string]struct {
		DType   string  `json:"dtype"`
		Shape   []int   `json:"shape"`
		Offsets []int64 `json:"data_offsets"`
	}
	if err := json.Unmarshal(header, &parsed); err != nil || len(parsed) != 2 || parsed["a"].DType != "F32" || !slices.Equal(parsed["b"].Offsets, []int64{8, 16}) {
		t.Errorf("header decodes to %+v, %v", parsed, err)
	}
	const want = `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}}    `
	if string(header) != want {
		t.Errorf("header = %q\nwant     %q", header, want)
	}
	if int(8+n)+16 != len(out) {
		t.Errorf("file is %d bytes, want %d", len(out), 8+n+16)
	}
}

// TestWriteAlignment checks the padding rule for headers of every length
// modulo 8, and that an empty File is a valid file too.
func TestWriteAlignment(t *testing.T) {
	for n := range 9 {
		f := &File{Tensors: []Tensor{FromUint8(strings.Repeat("x", n+1), []int{1}, []uint8{9})}}
		if n == 8 {
			f = &File{}
		}
		out := mustWrite(t, f)
		hlen := binary.LittleEndian.Uint64(out)
		if hlen%8 != 0 || !json.Valid(out[8:8+hlen]) {
			t.Errorf("header %q: length %d is not a multiple of 8 or not JSON", out[8:8+hlen], hlen)
		}
		if got := mustRead(t, out); !sameFile(f, got) {
			t.Errorf("round trip of %+v gave %+v", f, got)
		}
	}
}

// file builds a safetensors file from a header written out by hand, so that
// the malformed cases read as what they are.
func file(header string, data ...byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

func TestReadErrors(t *testing.T) {
	four := []byte{1, 2, 3, 4}
	valid := `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`
	tests := []struct {
		name  string
		in    []byte
		limit int64 // 0 means 1 MiB.
		want  string
	}{
		{"short", []byte{1, 2, 3}, 0, "safetensors: file is 3 bytes, too short for the 8-byte header length"},
		{"header past end", append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), 0, "header length 100 is larger than the rest of the file (2 bytes)"},
		{"header past limit", file(valid, four...), 40, "header length 54 exceeds the limit of 40 bytes for the whole file"},
		{"huge header length", append(binary.LittleEndian.AppendUint64(nil, math.MaxUint64), "{}"...), 0, "header length 18446744073709551615 exceeds the limit"},
		{"tiny limit", file(`{}`), 7, "file exceeds the limit of 7 bytes"},
		{"negative limit", file(`{}`), math.MinInt64, "file exceeds the limit of -9223372036854775808 bytes"},
		{"data past limit", file(valid, four...), 8 + 54 + 3, "tensor data of 4 bytes after a 54-byte header exceeds the limit of 65 bytes"},
		{"array header", file(`[1,2]`), 0, "header is not a JSON object"},
		{"leading space", file(` {}`), 0, "header is not a JSON object"},
		{"empty header", file(``), 0, "header is not a JSON object"},
		{"bad JSON", file(`{"a":}`), 0, "header is not valid JSON: invalid character '}'"},
		{"truncated JSON", file(`{"a":{"dtype":"F32"`), 0, "header JSON ends too early"},
		{"after brace", file(`{}{}`), 0, "header has data after its closing brace"},
		{"newline padding", file("{}\n"), 0, "header has data after its closing brace"},
		{"bad UTF-8", file("{\"\xff\":1}"), 0, "header is not valid UTF-8"},
		{"entry not object", file(`{"a":[1]}`), 0, `tensor "a": entry is not a JSON object`},
		{"unknown field", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"offset":0}}`, four...), 0, `tensor "a": unknown field "offset"`},
		{"missing field", file(`{"a":{"dtype":"F32","shape":[1]}}`), 0, `tensor "a": missing field "data_offsets"`},
		{"repeated field", file(`{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, four...), 0, `tensor "a": repeated field "dtype"`},
		{"unknown dtype", file(`{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}`), 0, `tensor "a": unknown dtype "F128"`},
		{"dtype not string", file(`{"a":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}`), 0, `tensor "a": dtype is not a string`},
		{"negative dim", file(`{"a":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,0]}}`), 0, `tensor "a": negative dimension -1 in shape [2 -1]`},
		{"fractional dim", file(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`), 0, `tensor "a": shape holds 1.5, which is not an integer in range`},
		{"nested shape", file(`{"a":{"dtype":"F32","shape":[[1]],"data_offsets":[0,4]}}`), 0, `tensor "a": shape holds [, which is not a number`},
		{"huge shape", file(`{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}`), 0, `tensor "a": shape [4611686018427387904 4] of F32 is too large`},
		{"one offset", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}`), 0, `tensor "a": data_offsets has 1 elements, want 2`},
		{"reversed offsets", file(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}`), 0, `tensor "a": data_offsets [4, 0] end before they begin`},
		{"size mismatch", file(`{"conv1.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,100]}}`), 0, `safetensors: tensor "conv1.weight": data_offsets [0, 100] do not match shape [2 3] of F32 (24 bytes)`},
		{"gap", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, make([]byte, 12)...), 0, `tensor "b": data_offsets [8, 12] leave a gap: the tensor should begin at offset 4`},
		{"leading gap", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)...), 0, `tensor "a": data_offsets [4, 8] leave a gap: the tensor should begin at offset 0`},
		{"overlap", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)...), 0, `tensor "b": data_offsets [4, 8] overlap tensor "a", which ends at offset 8`},
		{"data short", file(`{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`, four...), 0, "data section is 4 bytes, but the tensor offsets need 8"},
		{"trailing bytes", file(valid, 1, 2, 3, 4, 5), 0, "trailing bytes after the last tensor, which ends at data offset 4"},
		{"duplicate name", file(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}`), 0, `duplicate tensor name "a"`},
		{"escaped duplicate", file(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"\u0061":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}`), 0, `duplicate tensor name "a"`},
		{"two metadata", file(`{"__metadata__":{},"__metadata__":{}}`), 0, "header has more than one __metadata__"},
		{"metadata not object", file(`{"__metadata__":"x"}`), 0, "__metadata__ is not a JSON object"},
		{"metadata number", file(`{"__metadata__":{"epoch":90}}`), 0, `__metadata__ value for key "epoch" is not a string`},
		{"metadata null", file(`{"__metadata__":{"epoch":null}}`), 0, `__metadata__ value for key "epoch" is not a string`},
		{"metadata repeat", file(`{"__metadata__":{"k":"1","k":"2"}}`), 0, `__metadata__ repeats the key "k"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			limit := tc.limit
			if limit == 0 {
				limit = 1 << 20
			}
			f, err := Read(bytes.NewReader(tc.in), limit)
			if err == nil {
				t.Fatalf("Read succeeded with %+v; want error %q", f, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\ndoes not contain %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "safetensors: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// TestReadAccepts covers unusual inputs the format allows.
func TestReadAccepts(t *testing.T) {
	// Empty tensors may sit at any boundary, tensors may come in any order in
	// the header, and padding may be absent or longer than 7 spaces.
	in := file(`{"z":{"dtype":"U8","shape":[0,3],"data_offsets":[2,2]},"y":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},"x":{"dtype":"U8","shape":[],"data_offsets":[0,1]},"w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"v":{"dtype":"BF16","shape":[0],"data_offsets":[0,0]}}`+strings.Repeat(" ", 20), 1, 2, 3, 4)
	f := mustRead(t, in)
	var names []string
	for _, tn := range f.Tensors {
		names = append(names, tn.Name)
	}
	if !slices.Equal(names, []string{"v", "w", "x", "y", "z"}) {
		t.Fatalf("names = %v", names)
	}
	y, _ := f.Get("y")
	if !bytes.Equal(y.Data, []byte{3, 4}) {
		t.Errorf("y = %v, want [3 4]", y.Data)
	}
	// The tensors share one buffer; appending to one must not clobber the next.
	w, _ := f.Get("w")
	_ = append(w.Data, 99)
	if y.Data[0] != 3 {
		t.Errorf("appending to w overwrote y")
	}
	// An empty metadata object reads as nil, like an absent one.
	if g := mustRead(t, file(`{"__metadata__":{}}`)); g.Metadata != nil || len(g.Tensors) != 0 {
		t.Errorf("empty file = %+v", g)
	}
}

// TestReadAllocation checks that a header claiming far more bytes than the
// input holds costs memory in proportion to the input, not to the claim.
func TestReadAllocation(t *testing.T) {
	inputs := [][]byte{
		append(binary.LittleEndian.AppendUint64(nil, 1<<40), "{}"...),
		file(`{"a":{"dtype":"F32","shape":[268435456],"data_offsets":[0,1073741824]}}`, 1, 2, 3),
	}
	for _, in := range inputs {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, err := Read(bytes.NewReader(in), 1<<50); err == nil {
			t.Fatalf("Read accepted a truncated file")
		}
		runtime.ReadMemStats(&after)
		if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
			t.Errorf("Read of a %d-byte input allocated %d bytes", len(in), d)
		}
	}
}

type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestReadIOError(t *testing.T) {
	_, err := Read(failReader{}, 1<<20)
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("error = %v, want the reader's error", err)
	}
}

func TestWriteErrors(t *testing.T) {
	ok := FromFloat32("a", []int{1}, []float32{1})
	tests := []struct {
		name string
		f    *File
		want string
	}{
		{"nil", nil, "cannot write a nil File"},
		{"duplicate", &File{Tensors: []Tensor{ok, ok}}, `duplicate tensor name "a"`},
		{"metadata name", &File{Tensors: []Tensor{FromUint8("__metadata__", []int{0}, nil)}}, `a tensor cannot be named "__metadata__"`},
		{"bad UTF-8 name", &File{Tensors: []Tensor{FromUint8("\xff", []int{0}, nil)}}, "is not valid UTF-8"},
		{"bad UTF-8 metadata", &File{Metadata: map[string]string{"k": "\xfe"}}, `__metadata__ entry "k" is not valid UTF-8`},
		{"unknown dtype", &File{Tensors: []Tensor{{Name: "a", DType: "F128", Shape: []int{1}}}}, `tensor "a": unknown dtype "F128"`},
		{"negative dim", &File{Tensors: []Tensor{{Name: "a", DType: U8, Shape: []int{-1}}}}, `tensor "a": invalid shape [-1]`},
		{"short data", &File{Tensors: []Tensor{FromFloat32("w", []int{2, 3}, make([]float32, 5))}}, `tensor "w": 20 bytes of data, but shape [2 3] of F32 needs 24`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			err := Write(&b, tc.f)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
			if b.Len() != 0 {
				t.Errorf("Write wrote %d bytes before failing", b.Len())
			}
		})
	}
}

func TestFloat32Into(t *testing.T) {
	f := &File{Tensors: []Tensor{
		FromFloat32("fc.weight", []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
		FromInt64("steps", nil, []int64{1}),
	}}
	dst := make([]float32, 6)
	if err := f.Float32Into("fc.weight", []int{2, 3}, dst); err != nil || !slices.Equal(dst, []float32{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("Float32Into = %v, %v", dst, err)
	}
	if n := testing.AllocsPerRun(10, func() { _ = f.Float32Into("fc.weight", []int{2, 3}, dst) }); n != 0 {
		t.Errorf("Float32Into allocated %v times", n)
	}
	for _, tc := range []struct {
		name  string
		shape []int
		dst   []float32
		want  string
	}{
		{"fc.bias", []int{3}, dst, `safetensors: no tensor named "fc.bias"`},
		{"steps", nil, dst[:1], `safetensors: tensor "steps" has dtype I64, want F32`},
		{"fc.weight", []int{3, 2}, dst, `safetensors: tensor "fc.weight" has shape [2 3], want [3 2]`},
		{"fc.weight", []int{2, 3}, dst[:5], `safetensors: tensor "fc.weight": destination holds 5 float32s, but shape [2 3] has 6 elements`},
	} {
		if err := f.Float32Into(tc.name, tc.shape, tc.dst); err == nil || err.Error() != tc.want {
			t.Errorf("Float32Into(%q, %v) error = %v\nwant %s", tc.name, tc.shape, err, tc.want)
		}
	}
}

func TestAccessorErrors(t *testing.T) {
	tn := FromInt32("a", []int{2}, []int32{1, 2})
	if _, err := tn.Float32s(); err == nil || err.Error() != `safetensors: tensor "a" has dtype I32, not F32` {
		t.Errorf("Float32s on I32: %v", err)
	}
	tn = FromInt64("b", []int{3}, []int64{1, 2})
	if _, err := tn.Int64s(); err == nil || err.Error() != `safetensors: tensor "b": 16 bytes of data, but shape [3] of I64 needs 24` {
		t.Errorf("Int64s on short data: %v", err)
	}
	tn = Tensor{Name: "c", DType: U8, Shape: []int{-2}}
	if _, err := tn.Uint8s(); err == nil || !strings.Contains(err.Error(), "shape [-2] is invalid") {
		t.Errorf("Uint8s on negative shape: %v", err)
	}
}

// TestReadPiecewise reads a file larger than readUpTo's first buffer through
// readers that deliver it in small pieces or with EOF alongside the last
// bytes, as pipes and network streams do.
func TestReadPiecewise(t *testing.T) {
	big := make([]float32, 300_000)
	for i := range big {
		big[i] = float32(i) * 0.5
	}
	want := &File{Tensors: []Tensor{FromFloat32("big", []int{600, 500}, big), FromUint8("tail", []int{3}, []uint8{1, 2, 3})}}
	data := mustWrite(t, want)
	for _, r := range []io.Reader{
		iotest.HalfReader(bytes.NewReader(data)),
		iotest.DataErrReader(bytes.NewReader(data)),
	} {
		got, err := Read(r, int64(len(data)))
		if err != nil || !sameFile(want, got) {
			t.Fatalf("piecewise read: %v", err)
		}
	}
	if got, err := Read(iotest.OneByteReader(bytes.NewReader(golden())), 1<<20); err != nil || len(got.Tensors) != 2 {
		t.Fatalf("one-byte read of the golden file: %v", err)
	}
}

package safetensors

import (
	"bytes"
	"testing"
)

// FuzzRead feeds Read arbitrary bytes. Read must never panic, must agree with
// itself whatever limit it is given as long as the file fits, and whatever it
// accepts must survive a write and a re-read unchanged; Write's output must
// also be a fixed point, so that rewriting a checkpoint never churns it.
func FuzzRead(f *testing.F) {
	f.Add(golden())
	f.Add(mustWrite(f, sampleFile()))
	f.Add(mustWrite(f, &File{}))
	f.Add(mustWrite(f, &File{Metadata: map[string]string{"k": "v"}, Tensors: []Tensor{FromInt64("s", nil, []int64{3})}}))
	f.Add(file(`{"e":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"BF16","shape":[1,1],"data_offsets":[0,2]}}`, 1, 2))
	f.Add(file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 1, 2, 3))
	f.Add(file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{}}`, 1, 2, 3, 4))
	f.Add(file(`{"__metadata__":{"k":1}}`))
	f.Add(file(`{"a":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,0]}}`))
	f.Add([]byte{255, 255, 255, 255, 255, 255, 255, 255, '{', '}'})
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		// A limit far beyond the input makes the allocation guard, not the
		// limit, responsible for keeping memory in check.
		got, err := Read(bytes.NewReader(data), 1<<50)
		exact, errExact := Read(bytes.NewReader(data), int64(len(data)))
		if (err == nil) != (errExact == nil) {
			t.Fatalf("limit 1<<50 gave %v, exact limit gave %v", err, errExact)
		}
		if err != nil {
			return
		}
		if !sameFile(got, exact) {
			t.Fatalf("the two limits read different files")
		}
		if _, err := Read(bytes.NewReader(data), int64(len(data))-1); err == nil {
			t.Fatalf("Read accepted a %d-byte file with a limit one byte short", len(data))
		}
		var out bytes.Buffer
		if err := Write(&out, got); err != nil {
			t.Fatalf("Write refused a file Read accepted: %v", err)
		}
		again, err := Read(bytes.NewReader(out.Bytes()), int64(out.Len()))
		if err != nil {
			t.Fatalf("Read refused Write's output: %v\n%q", err, out.Bytes())
		}
		if !sameFile(got, again) {
			t.Fatalf("write and re-read changed the file:\n%+v\n%+v", got, again)
		}
		var out2 bytes.Buffer
		if err := Write(&out2, again); err != nil || !bytes.Equal(out.Bytes(), out2.Bytes()) {
			t.Fatalf("rewriting Write's output changed its bytes (%v)", err)
		}
	})
}

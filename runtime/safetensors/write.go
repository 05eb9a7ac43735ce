package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"io"
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Write writes f to w in the safetensors format. The output depends only on
// the contents of f, never on the order of f.Tensors or of map iteration, so
// that checkpoints can be compared byte for byte and cached by hash:
//
//   - the header is compact JSON with "__metadata__" first (omitted when
//     f.Metadata is empty) and its keys sorted, then the tensors sorted by
//     name, each with its fields in the order dtype, shape, data_offsets,
//     as the reference writer emits them;
//   - tensor data follows in the same name order, back to back;
//   - the header is padded with spaces to a multiple of 8 bytes, so the data
//     section starts 8-byte aligned.
//
// Write refuses a File that Read would refuse or could not read back the
// same: duplicate names, a tensor named "__metadata__", unknown dtypes,
// negative dimensions, data whose length does not match the shape, and
// names, keys or values that are not valid UTF-8.
func Write(w io.Writer, f *File) error {
	if f == nil {
		return errorf("cannot write a nil File")
	}
	ts := slices.Clone(f.Tensors)
	slices.SortFunc(ts, func(a, b Tensor) int { return cmp.Compare(a.Name, b.Name) })
	for i, t := range ts {
		if i > 0 && ts[i-1].Name == t.Name {
			return errorf("duplicate tensor name %q", t.Name)
		}
		if t.Name == metaKey {
			return errorf("a tensor cannot be named %q", metaKey)
		}
		if !utf8.ValidString(t.Name) {
			return errorf("tensor name %q is not valid UTF-8", t.Name)
		}
		if t.DType.Size() == 0 {
			return errorf("tensor %q: unknown dtype %q", t.Name, t.DType)
		}
		size, ok := byteSize(t.DType, t.Shape)
		if !ok {
			return errorf("tensor %q: invalid shape %v", t.Name, t.Shape)
		}
		if int64(len(t.Data)) != size {
			return errorf("tensor %q: %d bytes of data, but shape %v of %s needs %d", t.Name, len(t.Data), t.Shape, t.DType, size)
		}
	}
	keys := slices.Sorted(maps.Keys(f.Metadata))
	for _, k := range keys {
		if !utf8.ValidString(k) || !utf8.ValidString(f.Metadata[k]) {
			return errorf("%s entry %q is not valid UTF-8", metaKey, k)
		}
	}

	var h bytes.Buffer
	h.WriteByte('{')
	if len(keys) > 0 {
		h.WriteString(`"` + metaKey + `":{`)
		for i, k := range keys {
			if i > 0 {
				h.WriteByte(',')
			}
			writeString(&h, k)
			h.WriteByte(':')
			writeString(&h, f.Metadata[k])
		}
		h.WriteByte('}')
	}
	var off int64
	for i, t := range ts {
		if i > 0 || len(keys) > 0 {
			h.WriteByte(',')
		}
		writeString(&h, t.Name)
		h.WriteString(`:{"dtype":`)
		writeString(&h, string(t.DType))
		h.WriteString(`,"shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				h.WriteByte(',')
			}
			h.WriteString(strconv.Itoa(d))
		}
		end := off + int64(len(t.Data))
		h.WriteString(`],"data_offsets":[` + strconv.FormatInt(off, 10) + "," + strconv.FormatInt(end, 10) + "]}")
		off = end
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}

	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(h.Len()))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(h.Bytes()); err != nil {
		return err
	}
	for _, t := range ts {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}

// writeString writes s as a JSON string. It escapes only what JSON requires
// (quotes, backslashes and control characters) and leaves other characters
// as UTF-8, like the reference writer, instead of using encoding/json, which
// would also escape <, > and & for HTML's sake.
func writeString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

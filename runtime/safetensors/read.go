package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// entry is one tensor as the header describes it, before its data is read.
type entry struct {
	name       string
	dtype      DType
	shape      []int
	begin, end int64
}

// Read parses a whole safetensors file from r, which must end where the last
// tensor ends. limit is the largest file, in bytes, that Read accepts; a
// header length or tensor data that would take the file past it is refused
// before anything is allocated for it, so limit also bounds memory use.
//
// Read accepts exactly what the format allows: a header that is a JSON object
// (possibly followed by space padding) with no repeated keys, tensor entries
// with exactly the fields dtype, shape and data_offsets, known dtypes,
// non-negative dimensions, offsets that agree with each tensor's shape and
// tile the data section without gaps or overlaps, and an optional
// __metadata__ object whose values are all strings. Anything else is an error
// saying what is wrong and, where there is one, which tensor.
//
// Read allocates in proportion to the bytes r actually delivers, not to the
// sizes the header claims, so a short or hostile input cannot make it reserve
// more than about twice its own length plus 64 KiB.
func Read(r io.Reader, limit int64) (*File, error) {
	var lenBuf [8]byte
	if n, err := io.ReadFull(r, lenBuf[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, errorf("file is %d bytes, too short for the 8-byte header length", n)
		}
		return nil, errorf("reading header length: %w", err)
	}
	if limit < 8 {
		return nil, errorf("file exceeds the limit of %d bytes", limit)
	}
	hlen := binary.LittleEndian.Uint64(lenBuf[:])
	room := limit - 8 // What the limit leaves for header and data.
	if hlen > uint64(room) {
		return nil, errorf("header length %d exceeds the limit of %d bytes for the whole file", hlen, limit)
	}
	header, err := readUpTo(r, int64(hlen))
	if err != nil {
		return nil, errorf("reading header: %w", err)
	}
	if uint64(len(header)) < hlen {
		return nil, errorf("header length %d is larger than the rest of the file (%d bytes)", hlen, len(header))
	}

	meta, entries, err := parseHeader(header)
	if err != nil {
		return nil, err
	}
	total, err := checkLayout(entries)
	if err != nil {
		return nil, err
	}
	if total > room-int64(hlen) {
		return nil, errorf("tensor data of %d bytes after a %d-byte header exceeds the limit of %d bytes for the whole file", total, hlen, limit)
	}
	data, err := readUpTo(r, total)
	if err != nil {
		return nil, errorf("reading tensor data: %w", err)
	}
	if int64(len(data)) < total {
		return nil, errorf("data section is %d bytes, but the tensor offsets need %d", len(data), total)
	}
	// One more byte tells a file that ends where the last tensor does from one
	// with something after it, which the format forbids.
	var extra [1]byte
	if n, err := io.ReadFull(r, extra[:]); n > 0 {
		return nil, errorf("trailing bytes after the last tensor, which ends at data offset %d", total)
	} else if err != io.EOF {
		return nil, errorf("reading past the data section: %w", err)
	}

	f := &File{Tensors: make([]Tensor, len(entries))}
	if len(meta) > 0 {
		f.Metadata = meta
	}
	for i, e := range entries {
		f.Tensors[i] = Tensor{Name: e.name, DType: e.dtype, Shape: e.shape, Data: data[e.begin:e.end:e.end]}
	}
	slices.SortFunc(f.Tensors, func(a, b Tensor) int { return cmp.Compare(a.Name, b.Name) })
	return f, nil
}

// readUpTo reads n bytes from r, or fewer if r ends first, in which case it
// returns what there was and no error. It grows its buffer by doubling from a
// small start instead of allocating n bytes at once, so that a header
// claiming gigabytes costs only as much memory as the bytes that really
// arrive; the final buffer is exactly n bytes, so a genuine file costs at most
// one and a half times its size at the peak.
func readUpTo(r io.Reader, n int64) ([]byte, error) {
	const start = 64 << 10
	if n > math.MaxInt {
		return nil, errors.New("length does not fit in memory")
	}
	buf := make([]byte, 0, min(n, start))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(n, 2*int64(cap(buf))))
			copy(grown, buf)
			buf = grown
		}
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// checkLayout checks that the tensors' byte ranges tile [0, total) exactly,
// and returns total. The format requires contiguity, so a gap or an overlap
// means a corrupt or hand-edited file. Empty tensors occupy no bytes and may
// sit at any boundary between other tensors.
func checkLayout(entries []entry) (int64, error) {
	byOffset := slices.Clone(entries)
	slices.SortFunc(byOffset, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end), cmp.Compare(a.name, b.name))
	})
	var at int64
	prev := ""
	for _, e := range byOffset {
		switch {
		case e.begin > at:
			return 0, errorf("tensor %q: data_offsets [%d, %d] leave a gap: the tensor should begin at offset %d", e.name, e.begin, e.end, at)
		case e.begin < at:
			return 0, errorf("tensor %q: data_offsets [%d, %d] overlap tensor %q, which ends at offset %d", e.name, e.begin, e.end, prev, at)
		}
		at, prev = e.end, e.name
	}
	return at, nil
}

// parseHeader decodes the JSON header. It walks the token stream rather than
// unmarshalling into a map, because a map would silently keep the last of
// two entries with the same name, and because walking lets it refuse a bad
// value as soon as it sees one, without decoding deeply nested junk.
func parseHeader(h []byte) (map[string]string, []entry, error) {
	if !utf8.Valid(h) {
		return nil, nil, errorf("header is not valid UTF-8")
	}
	// Writers pad with spaces only, and the reference reader requires the
	// header to start with the opening brace, so other whitespace is refused.
	h = bytes.TrimRight(h, " ")
	if len(h) == 0 || h[0] != '{' {
		return nil, nil, errorf("header is not a JSON object")
	}
	p := &headerParser{d: json.NewDecoder(bytes.NewReader(h))}
	p.d.UseNumber()
	if err := p.delim('{', "header is not a JSON object"); err != nil {
		return nil, nil, err
	}
	var meta map[string]string
	var entries []entry
	seen := make(map[string]bool)
	for p.d.More() {
		key, err := p.key()
		if err != nil {
			return nil, nil, err
		}
		if seen[key] {
			if key == metaKey {
				return nil, nil, errorf("header has more than one %s", metaKey)
			}
			return nil, nil, errorf("duplicate tensor name %q", key)
		}
		seen[key] = true
		if key == metaKey {
			meta, err = p.metadata()
		} else {
			var e entry
			e, err = p.tensor(key)
			entries = append(entries, e)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	if err := p.delim('}', "header object is not closed"); err != nil {
		return nil, nil, err
	}
	if p.d.InputOffset() != int64(len(h)) {
		return nil, nil, errorf("header has data after its closing brace")
	}
	return meta, entries, nil
}

// headerParser reads the header's JSON tokens and turns syntax errors into
// messages with the package prefix.
type headerParser struct {
	d *json.Decoder
}

// token returns the next token, reporting a truncated or malformed header.
func (p *headerParser) token() (json.Token, error) {
	tok, err := p.d.Token()
	if err == io.EOF {
		return nil, errorf("header JSON ends too early")
	}
	if err != nil {
		return nil, errorf("header is not valid JSON: %v", err)
	}
	return tok, nil
}

// delim consumes the delimiter want, or fails with msg.
func (p *headerParser) delim(want json.Delim, msg string) error {
	tok, err := p.token()
	if err != nil {
		return err
	}
	if tok != want {
		return errorf("%s", msg)
	}
	return nil
}

// key reads an object key. The decoder itself rejects keys that are not
// strings, so anything else here is a syntax error it has already reported.
func (p *headerParser) key() (string, error) {
	tok, err := p.token()
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", errorf("header is not valid JSON: object key %v is not a string", tok)
	}
	return s, nil
}

// metadata reads the __metadata__ object, whose values must all be strings.
func (p *headerParser) metadata() (map[string]string, error) {
	if err := p.delim('{', metaKey+" is not a JSON object"); err != nil {
		return nil, err
	}
	meta := make(map[string]string)
	for p.d.More() {
		k, err := p.key()
		if err != nil {
			return nil, err
		}
		if _, dup := meta[k]; dup {
			return nil, errorf("%s repeats the key %q", metaKey, k)
		}
		tok, err := p.token()
		if err != nil {
			return nil, err
		}
		v, ok := tok.(string)
		if !ok {
			return nil, errorf("%s value for key %q is not a string", metaKey, k)
		}
		meta[k] = v
	}
	return meta, p.delim('}', metaKey+" object is not closed")
}

// tensor reads one tensor entry and checks it on its own: the dtype is known,
// the dimensions are non-negative and the offsets span exactly the bytes the
// shape needs. How the entries fit together is checkLayout's job.
func (p *headerParser) tensor(name string) (entry, error) {
	e := entry{name: name}
	if err := p.delim('{', "tensor "+strconv.Quote(name)+": entry is not a JSON object"); err != nil {
		return e, err
	}
	var haveDType, haveShape, haveOffsets bool
	var offsets []int64
	for p.d.More() {
		field, err := p.key()
		if err != nil {
			return e, err
		}
		switch field {
		case "dtype":
			if haveDType {
				return e, errorf("tensor %q: repeated field %q", name, field)
			}
			haveDType = true
			tok, err := p.token()
			if err != nil {
				return e, err
			}
			s, ok := tok.(string)
			if !ok {
				return e, errorf("tensor %q: dtype is not a string", name)
			}
			e.dtype = DType(s)
			if e.dtype.Size() == 0 {
				return e, errorf("tensor %q: unknown dtype %q", name, s)
			}
		case "shape":
			if haveShape {
				return e, errorf("tensor %q: repeated field %q", name, field)
			}
			haveShape = true
			dims, err := p.ints(name, field)
			if err != nil {
				return e, err
			}
			e.shape = make([]int, len(dims))
			for i, d := range dims {
				if d < 0 {
					return e, errorf("tensor %q: negative dimension %d in shape %v", name, d, dims)
				}
				if d > math.MaxInt {
					return e, errorf("tensor %q: dimension %d is too large", name, d)
				}
				e.shape[i] = int(d)
			}
		case "data_offsets":
			if haveOffsets {
				return e, errorf("tensor %q: repeated field %q", name, field)
			}
			haveOffsets = true
			var err error
			if offsets, err = p.ints(name, field); err != nil {
				return e, err
			}
			if len(offsets) != 2 {
				return e, errorf("tensor %q: data_offsets has %d elements, want 2", name, len(offsets))
			}
			if offsets[0] < 0 || offsets[1] < 0 {
				return e, errorf("tensor %q: negative data_offsets %v", name, offsets)
			}
		default:
			return e, errorf("tensor %q: unknown field %q", name, field)
		}
	}
	if err := p.delim('}', "tensor "+strconv.Quote(name)+": entry is not closed"); err != nil {
		return e, err
	}
	switch {
	case !haveDType:
		return e, errorf("tensor %q: missing field \"dtype\"", name)
	case !haveShape:
		return e, errorf("tensor %q: missing field \"shape\"", name)
	case !haveOffsets:
		return e, errorf("tensor %q: missing field \"data_offsets\"", name)
	}
	e.begin, e.end = offsets[0], offsets[1]
	if e.end < e.begin {
		return e, errorf("tensor %q: data_offsets [%d, %d] end before they begin", name, e.begin, e.end)
	}
	size, ok := byteSize(e.dtype, e.shape)
	if !ok {
		return e, errorf("tensor %q: shape %v of %s is too large", name, e.shape, e.dtype)
	}
	if e.end-e.begin != size {
		return e, errorf("tensor %q: data_offsets [%d, %d] do not match shape %v of %s (%d bytes)", name, e.begin, e.end, e.shape, e.dtype, size)
	}
	return e, nil
}

// ints reads a JSON array of integers, the form of both shape and
// data_offsets. Fractions, exponents and non-numbers are refused, and so is
// anything nested, which keeps the walk flat.
func (p *headerParser) ints(name, field string) ([]int64, error) {
	if err := p.delim('[', "tensor "+strconv.Quote(name)+": "+field+" is not an array"); err != nil {
		return nil, err
	}
	var out []int64
	for p.d.More() {
		tok, err := p.token()
		if err != nil {
			return nil, err
		}
		num, ok := tok.(json.Number)
		if !ok {
			return nil, errorf("tensor %q: %s holds %v, which is not a number", name, field, tok)
		}
		v, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil {
			return nil, errorf("tensor %q: %s holds %s, which is not an integer in range", name, field, num)
		}
		out = append(out, v)
	}
	return out, p.delim(']', "tensor "+strconv.Quote(name)+": "+field+" is not closed")
}

// Package tomlpos records where keys and values sit in a TOML document.
//
// The spec loader decodes documents with github.com/BurntSushi/toml into plain
// maps, and that decoder does not expose source positions afterwards (its key
// metadata also lacks array-of-tables indices). This package re-scans the same
// bytes with a small, forgiving lexer and maps every key path to the position
// of its key and of its value, so that later diagnostics can be printed as
// file:line:col. It assumes the document was already validated by the real
// decoder; on invalid input it still returns whatever it could recognise.
package tomlpos

import (
	"bytes"
	"sort"
	"strconv"
	"strings"
)

// Path names a key: table names, keys and array indices, for example
// "layer[3].filters", "train.lr", "variant[0].patch[2]" or "network.name".
// Elements of arrays of tables and of plain arrays both get a 0-based [i].
// Quoted key segments appear decoded and unquoted, so `"a b" = 1` is "a b".
type Path = string

// ValueKind classifies the value an Entry describes.
type ValueKind int

// The kinds of values. Unknown is only produced for malformed input.
const (
	Unknown ValueKind = iota
	String
	MultilineString
	LiteralString
	MultilineLiteralString
	Integer
	Float
	Bool
	Datetime
	Array
	InlineTable
	Table
	ArrayTable
)

var kindNames = [...]string{"Unknown", "String", "MultilineString", "LiteralString",
	"MultilineLiteralString", "Integer", "Float", "Bool", "Datetime", "Array",
	"InlineTable", "Table", "ArrayTable"}

func (k ValueKind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "ValueKind(" + strconv.Itoa(int(k)) + ")"
	}
	return kindNames[k]
}

// Pos is a source position. Offset is a 0-based byte offset; Line and Col are
// 1-based, and Col counts bytes (a leading BOM therefore occupies columns 1-3).
type Pos struct{ Offset, Line, Col int }

// Entry describes one key of the document.
//
// For a key/value pair Key is the first byte of the (possibly dotted) key and
// Value the first byte of the value token, the opening quote for strings. For
// a [table] or [[array]] header both Key and Value are its first '[' and End
// is just past the closing bracket. The path of an array of tables without an
// index ("layer") points at its first header. Array elements have no key of
// their own, so their Key equals their Value. Tables that only exist because a
// dotted key or header mentions them ("a" in [a.b]) point at that segment.
type Entry struct {
	Key   Pos
	Value Pos
	Kind  ValueKind
	Raw   string // for strings: the exact source between the quotes, escapes not processed
	End   int    // byte offset just past the value
}

// Index maps the paths of one document to their entries.
type Index struct {
	src        []byte
	lineStarts []int
	entries    map[Path]Entry
	order      []Path
}

// maxDepth bounds the nesting of arrays and inline tables so that hostile
// input cannot exhaust the stack; deeper values are simply not indexed.
const maxDepth = 512

// Build indexes src. It never panics; on invalid TOML it is best effort.
func Build(src []byte) *Index {
	ix := &Index{src: src, lineStarts: []int{0}, entries: map[Path]Entry{}}
	for i, c := range src {
		if c == '\n' {
			ix.lineStarts = append(ix.lineStarts, i+1)
		}
	}
	p := &parser{src: src, ix: ix, aot: map[string]int{}, implicit: map[Path]bool{}}
	if bytes.HasPrefix(src, []byte("\xef\xbb\xbf")) {
		p.i = 3
	}
	p.document()
	return ix
}

// Lookup returns the entry for path.
func (ix *Index) Lookup(path Path) (Entry, bool) {
	e, ok := ix.entries[path]
	return e, ok
}

// Paths returns every indexed path in the order it first appears in the document.
func (ix *Index) Paths() []Path { return append([]Path(nil), ix.order...) }

// PosAt converts a byte offset to a position; offsets outside the source are clamped.
func (ix *Index) PosAt(offset int) Pos {
	offset = max(0, min(offset, len(ix.src)))
	l := sort.SearchInts(ix.lineStarts, offset+1) - 1
	return Pos{Offset: offset, Line: l + 1, Col: offset - ix.lineStarts[l] + 1}
}

// StringPos maps a byte offset inside the decoded string value at path to the
// source position of the byte, escape sequence or character that produced it.
// The offset equal to the decoded length maps to the closing quote. Offsets in
// the middle of a multi-byte escape result map to the start of the escape.
func (ix *Index) StringPos(path Path, decodedOffset int) (Pos, bool) {
	e, ok := ix.entries[path]
	if !ok || decodedOffset < 0 {
		return Pos{}, false
	}
	multi := e.Kind == MultilineString || e.Kind == MultilineLiteralString
	basic := e.Kind == String || e.Kind == MultilineString
	if !multi && !basic && e.Kind != LiteralString {
		return Pos{}, false
	}
	start, raw, i := e.Value.Offset+1, e.Raw, 0
	if multi {
		start += 2
		// TOML drops a newline that immediately follows the opening delimiter.
		if len(raw) > 0 && raw[0] == '\n' {
			i = 1
		} else if len(raw) > 1 && raw[0] == '\r' && raw[1] == '\n' {
			i = 2
		}
	}
	for d := 0; ; {
		if i >= len(raw) {
			// One past the last decoded byte is the closing delimiter.
			if decodedOffset == d {
				return ix.PosAt(start + len(raw)), true
			}
			return Pos{}, false
		}
		n, m := 1, 1 // decoded bytes produced, source bytes consumed
		if basic && raw[i] == '\\' {
			var out string
			out, m = escape(raw[i:], multi)
			n = len(out)
		}
		if decodedOffset < d+n {
			return ix.PosAt(start + i), true
		}
		d, i = d+n, i+m
	}
}

// escape decodes the escape sequence at the start of s and reports how many
// source bytes it spans. Malformed escapes, which the decoder would have
// rejected, decode to the escaped byte so that positions stay monotonic.
func escape(s string, multi bool) (string, int) {
	if len(s) < 2 {
		return s, len(s)
	}
	if k := strings.IndexByte(`btnfre"\`, s[1]); k >= 0 {
		return "\b\t\n\f\r\x1b\"\\"[k : k+1], 2
	}
	if k := strings.IndexByte("xuU", s[1]); k >= 0 {
		if n := []int{2, 4, 8}[k]; len(s) >= 2+n {
			if r, err := strconv.ParseUint(s[2:2+n], 16, 32); err == nil {
				return string(rune(r)), 2 + n // invalid code points become U+FFFD
			}
		}
	}
	// A line-ending backslash in a multi-line string swallows all following
	// whitespace and newlines, provided a newline comes before anything else.
	j := len(s) - len(strings.TrimLeft(s[1:], " \t\r\n"))
	if multi && strings.Contains(s[1:j], "\n") {
		return "", j
	}
	return s[1:2], 2
}

type parser struct {
	src      []byte
	i        int
	ix       *Index
	aot      map[string]int // elements seen so far per array-of-tables path
	implicit map[Path]bool  // tables that a later [table] header may still define
}

// segment is one part of a dotted key or table name.
type segment struct {
	name       string
	start, end int
}

func (p *parser) peek() byte {
	if p.i < len(p.src) {
		return p.src[p.i]
	}
	return 0
}

// eat consumes c if it is the next byte.
func (p *parser) eat(c byte) bool {
	if p.i < len(p.src) && p.src[p.i] == c {
		p.i++
		return true
	}
	return false
}

// skipSpace skips blanks and comments, and newlines too if lines is set.
func (p *parser) skipSpace(lines bool) {
	for p.i < len(p.src) {
		switch c := p.src[p.i]; {
		case c == ' ' || c == '\t' || (lines && (c == '\n' || c == '\r')):
			p.i++
		case c == '#':
			for p.i < len(p.src) && p.src[p.i] != '\n' {
				p.i++
			}
		default:
			return
		}
	}
}

func (p *parser) document() {
	table := ""
	for p.skipSpace(true); p.i < len(p.src); p.skipSpace(true) {
		if p.src[p.i] == '[' {
			table = p.header(table)
		} else {
			p.keyValue(table, 0)
		}
		// Whatever remains on the line must be blank or a comment; anything
		// else is an error, so skip it rather than misreading it as a key.
		// This also guarantees progress, as the line had a non-blank byte.
		p.skipSpace(false)
		for p.i < len(p.src) && p.src[p.i] != '\n' {
			p.i++
		}
	}
}

func (p *parser) add(path Path, e Entry, implicit bool) {
	if _, ok := p.ix.entries[path]; ok {
		// Only a [table] header may define a table that was created
		// implicitly, as in [a.b] followed by [a].
		if p.implicit[path] && !implicit && e.Kind == Table {
			delete(p.implicit, path)
			p.ix.entries[path] = e
		}
		return
	}
	p.ix.entries[path] = e
	p.ix.order = append(p.ix.order, path)
	if implicit {
		p.implicit[path] = true
	}
}

// walk extends base by segs. Each segment names a table; if it is an array
// of tables, later names refer to its most recent element, as TOML specifies.
// Tables that do not exist yet are created implicitly.
func (p *parser) walk(base string, segs []segment) string {
	for _, s := range segs {
		base = join(base, s.name)
		if n := p.aot[base]; n > 0 {
			base += index(n - 1)
			continue
		}
		pos := p.ix.PosAt(s.start)
		p.add(base, Entry{Key: pos, Value: pos, Kind: Table, End: s.end}, true)
	}
	return base
}

// header parses a [table] or [[array]] header and returns the table that
// the following key/value pairs belong to.
func (p *parser) header(current string) string {
	start := p.ix.PosAt(p.i)
	p.i++
	arr := p.eat('[')
	segs := p.key()
	if len(segs) == 0 {
		return current
	}
	if p.eat(']') && arr {
		p.eat(']')
	}
	path := join(p.walk("", segs[:len(segs)-1]), segs[len(segs)-1].name)
	e := Entry{Key: start, Value: start, Kind: Table, End: p.i}
	if arr {
		// The array itself is indexed at its first header, each element at its own.
		e.Kind = ArrayTable
		p.add(path, e, false)
		p.aot[path]++
		path += index(p.aot[path] - 1)
	}
	p.add(path, e, false)
	return path
}

// key parses a possibly dotted key made of bare and quoted segments, and
// the blanks after it.
func (p *parser) key() (segs []segment) {
	for {
		p.skipSpace(false)
		s := segment{start: p.i}
		if c := p.peek(); c == '"' || c == '\'' {
			if s.name = p.quoted(c); c == '"' {
				s.name = unescape(s.name)
			}
		} else {
			for p.i < len(p.src) && isBare(p.src[p.i]) {
				p.i++
			}
			if p.i == s.start {
				return segs
			}
			s.name = string(p.src[s.start:p.i])
		}
		s.end = p.i
		segs = append(segs, s)
		p.skipSpace(false)
		if !p.eat('.') {
			return segs
		}
	}
}

// keyValue parses `key = value` inside table base and indexes it.
func (p *parser) keyValue(base string, depth int) {
	key := p.ix.PosAt(p.i)
	segs := p.key()
	if len(segs) == 0 || !p.eat('=') {
		return
	}
	p.skipSpace(false)
	p.value(join(p.walk(base, segs[:len(segs)-1]), segs[len(segs)-1].name), key, depth)
}

// value parses the value at the current offset and indexes it, and
// everything nested in it, under path.
func (p *parser) value(path Path, key Pos, depth int) {
	if depth > maxDepth || p.i >= len(p.src) {
		return
	}
	start := p.i
	e := Entry{Key: key, Value: p.ix.PosAt(start)}
	switch c := p.src[p.i]; c {
	case '"', '\'':
		e.Kind, e.Raw = p.str()
	case '[', '{':
		e.Kind = Array
		if c == '{' {
			e.Kind = InlineTable
		}
		// Add the container first so that Paths lists it before its contents,
		// and fill in End once they have been parsed.
		p.add(path, e, false)
		p.container(path, depth+1)
		if cur := p.ix.entries[path]; cur.Value.Offset == start {
			cur.End = p.i
			p.ix.entries[path] = cur
		}
		return
	default:
		if e.Kind = p.scalar(); p.i == start {
			return
		}
	}
	e.End = p.i
	p.add(path, e, false)
}

// container parses the elements of the array or the pairs of the inline
// table that opens at the current offset. Newlines, comments and a trailing
// comma are accepted in both, as TOML 1.1 allows them in inline tables too.
func (p *parser) container(path Path, depth int) {
	end := byte(']')
	if p.src[p.i] == '{' {
		end = '}'
	}
	p.i++
	for n := 0; ; n++ {
		p.skipSpace(true)
		before := p.i
		if p.eat(end) {
			return
		}
		if end == ']' {
			p.value(path+index(n), p.ix.PosAt(p.i), depth)
		} else {
			p.keyValue(path, depth)
		}
		p.skipSpace(true)
		if p.i == before || !p.eat(',') && p.peek() != end {
			return
		}
	}
}

// str parses any of the four string forms and returns its kind and the raw
// text between the delimiters.
func (p *parser) str() (ValueKind, string) {
	q := p.src[p.i]
	if !bytes.HasPrefix(p.src[p.i:], []byte{q, q, q}) {
		if q == '"' {
			return String, p.quoted(q)
		}
		return LiteralString, p.quoted(q)
	}
	kind := MultilineLiteralString
	if q == '"' {
		kind = MultilineString
	}
	p.i += 3
	from := p.i
	for p.i < len(p.src) {
		switch c := p.src[p.i]; {
		case c == '\\' && q == '"':
			p.i = min(p.i+2, len(p.src))
		case c == q:
			// Up to two quotes may precede the closing delimiter, so a run of
			// three to five quotes ends the string with its last three.
			run := p.i
			for p.eat(q) {
			}
			if p.i-run >= 3 {
				return kind, string(p.src[from : p.i-3])
			}
		default:
			p.i++
		}
	}
	return kind, string(p.src[from:])
}

// quoted scans a single-line string whose opening quote q is at the current
// offset and returns the text between the quotes.
func (p *parser) quoted(q byte) string {
	p.i++
	from := p.i
	for p.i < len(p.src) && p.src[p.i] != q && p.src[p.i] != '\n' {
		if q == '"' && p.src[p.i] == '\\' && p.i+1 < len(p.src) && p.src[p.i+1] != '\n' {
			p.i++
		}
		p.i++
	}
	raw := string(p.src[from:p.i])
	p.eat(q)
	return raw
}

// scalar parses a number, boolean or date/time token and classifies it.
func (p *parser) scalar() ValueKind {
	start := p.i
	for p.i < len(p.src) && isToken(p.src[p.i]) {
		p.i++
	}
	// A local date followed by a space and a time is a single datetime.
	if p.i-start == 10 && isDate(string(p.src[start:p.i])) && p.i+2 < len(p.src) &&
		p.src[p.i] == ' ' && isDigit(p.src[p.i+1]) && isDigit(p.src[p.i+2]) {
		for p.i++; p.i < len(p.src) && isToken(p.src[p.i]); {
			p.i++
		}
	}
	tok := string(p.src[start:p.i])
	unsigned := strings.TrimLeft(tok, "+-")
	switch {
	case tok == "true" || tok == "false":
		return Bool
	case unsigned == "inf" || unsigned == "nan":
		return Float
	case len(tok) > 2 && tok[0] == '0' && strings.IndexByte("xob", tok[1]) >= 0:
		return Integer
	case isDate(tok) || len(tok) >= 5 && tok[2] == ':':
		return Datetime
	case unsigned == "" || !isDigit(unsigned[0]):
		return Unknown
	case strings.ContainsAny(tok, ".eE"):
		return Float
	}
	return Integer
}

// unescape decodes the escapes of a quoted basic-string key.
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			i++
			continue
		}
		out, m := escape(s[i:], false)
		b.WriteString(out)
		i += m
	}
	return b.String()
}

func join(base, name string) string {
	if base == "" {
		return name
	}
	return base + "." + name
}

func index(n int) string { return "[" + strconv.Itoa(n) + "]" }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isBare(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-'
}

func isToken(c byte) bool { return isBare(c) || c == '+' || c == '.' || c == ':' }

// isDate reports whether tok starts with a YYYY-MM-DD date.
func isDate(tok string) bool {
	return len(tok) >= 10 && tok[4] == '-' && tok[7] == '-' &&
		strings.Trim(tok[:4]+tok[5:7]+tok[8:10], "0123456789") == ""
}

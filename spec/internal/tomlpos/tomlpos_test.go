package tomlpos

import (
	"bytes"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// want describes the expected entry for one path. Positions are written as
// "line:col" so the tables stay readable; check derives the expected byte
// offset from them independently of the code under test.
type want struct {
	path  Path
	key   string
	value string
	kind  ValueKind
	text  string // the source text at Value.Offset, which also pins End
	raw   string
}

// lineCol converts "line:col" to a Pos by counting lines in src directly.
func lineCol(t *testing.T, src []byte, lc string) Pos {
	t.Helper()
	l, c, _ := strings.Cut(lc, ":")
	line, _ := strconv.Atoi(l)
	col, _ := strconv.Atoi(c)
	off := 0
	for i := 1; i < line; i++ {
		off += bytes.IndexByte(src[off:], '\n') + 1
	}
	return Pos{Offset: off + col - 1, Line: line, Col: col}
}

func check(t *testing.T, src string, wants []want) *Index {
	t.Helper()
	ix := Build([]byte(src))
	for _, w := range wants {
		e, ok := ix.Lookup(w.path)
		if !ok {
			t.Errorf("%q: not indexed; have %q", w.path, ix.Paths())
			continue
		}
		if k := lineCol(t, []byte(src), w.key); e.Key != k {
			t.Errorf("%q: key at %+v, want %+v", w.path, e.Key, k)
		}
		if v := lineCol(t, []byte(src), w.value); e.Value != v {
			t.Errorf("%q: value at %+v, want %+v", w.path, e.Value, v)
		}
		if e.Kind != w.kind {
			t.Errorf("%q: kind %v, want %v", w.path, e.Kind, w.kind)
		}
		if w.text != "" && src[e.Value.Offset:e.End] != w.text {
			t.Errorf("%q: value text %q, want %q", w.path, src[e.Value.Offset:e.End], w.text)
		}
		if e.Raw != w.raw {
			t.Errorf("%q: raw %q, want %q", w.path, e.Raw, w.raw)
		}
	}
	return ix
}

const constructs = `# Network spec
name = "alexnet"   # trailing comment
"quoted key" = 'lit'
a.b.c = 1_000
hex = 0xDEAD_beef
oct = 0o755
bin = 0b1010
flt = -3.5e-2
inf = +inf
nan = nan
yes = true
when = 1979-05-27 07:32:00Z
day = 1979-05-27
time = 07:32:00.5
ml = """
a""b"""
mll = '''x
y'''
esc = "tab\tq\"\u00e9"

[ net . "b c" ]   # header comment
k = [ 1, # one
  [2, 3],
  { p = "v" },
]
inl = { a = 1, b = "s", c.d = true }
`

func TestConstructs(t *testing.T) {
	check(t, constructs, []want{
		{"name", "2:1", "2:8", String, `"alexnet"`, "alexnet"},
		{"quoted key", "3:1", "3:16", LiteralString, "'lit'", "lit"},
		{"a", "4:1", "4:1", Table, "a", ""},
		{"a.b", "4:3", "4:3", Table, "b", ""},
		{"a.b.c", "4:1", "4:9", Integer, "1_000", ""},
		{"hex", "5:1", "5:7", Integer, "0xDEAD_beef", ""},
		{"oct", "6:1", "6:7", Integer, "0o755", ""},
		{"bin", "7:1", "7:7", Integer, "0b1010", ""},
		{"flt", "8:1", "8:7", Float, "-3.5e-2", ""},
		{"inf", "9:1", "9:7", Float, "+inf", ""},
		{"nan", "10:1", "10:7", Float, "nan", ""},
		{"yes", "11:1", "11:7", Bool, "true", ""},
		{"when", "12:1", "12:8", Datetime, "1979-05-27 07:32:00Z", ""},
		{"day", "13:1", "13:7", Datetime, "1979-05-27", ""},
		{"time", "14:1", "14:8", Datetime, "07:32:00.5", ""},
		{"ml", "15:1", "15:6", MultilineString, "\"\"\"\na\"\"b\"\"\"", "\na\"\"b"},
		{"mll", "17:1", "17:7", MultilineLiteralString, "'''x\ny'''", "x\ny"},
		{"esc", "19:1", "19:7", String, `"tab\tq\"\u00e9"`, `tab\tq\"\u00e9`},
		{"net", "21:3", "21:3", Table, "net", ""},
		{"net.b c", "21:1", "21:1", Table, `[ net . "b c" ]`, ""},
		{"net.b c.k", "22:1", "22:5", Array, "", ""},
		{"net.b c.k[0]", "22:7", "22:7", Integer, "1", ""},
		{"net.b c.k[1]", "23:3", "23:3", Array, "[2, 3]", ""},
		{"net.b c.k[1][0]", "23:4", "23:4", Integer, "2", ""},
		{"net.b c.k[1][1]", "23:7", "23:7", Integer, "3", ""},
		{"net.b c.k[2]", "24:3", "24:3", InlineTable, `{ p = "v" }`, ""},
		{"net.b c.k[2].p", "24:5", "24:9", String, `"v"`, "v"},
		{"net.b c.inl", "26:1", "26:7", InlineTable, `{ a = 1, b = "s", c.d = true }`, ""},
		{"net.b c.inl.a", "26:9", "26:13", Integer, "1", ""},
		{"net.b c.inl.b", "26:16", "26:20", String, `"s"`, "s"},
		{"net.b c.inl.c", "26:25", "26:25", Table, "c", ""},
		{"net.b c.inl.c.d", "26:25", "26:31", Bool, "true", ""},
	})
}

func TestExactOffsetsBOMAndCRLF(t *testing.T) {
	src := "\xef\xbb\xbfa = 1\r\n[t]\r\nb = 'x' # c\r\nm = \"\"\"\r\nab\r\ncd\"\"\"\r\n"
	ix := Build([]byte(src))
	for _, c := range []struct {
		path       Path
		key, value Pos
	}{
		// The BOM is three bytes, and columns count bytes.
		{"a", Pos{3, 1, 4}, Pos{7, 1, 8}},
		{"t", Pos{10, 2, 1}, Pos{10, 2, 1}},
		{"t.b", Pos{15, 3, 1}, Pos{19, 3, 5}},
		{"t.m", Pos{28, 4, 1}, Pos{32, 4, 5}},
	} {
		e, ok := ix.Lookup(c.path)
		if !ok || e.Key != c.key || e.Value != c.value {
			t.Errorf("%q: got %+v (found %v), want key %+v value %+v", c.path, e, ok, c.key, c.value)
		}
	}
	// The CRLF right after """ is trimmed, CRLFs inside the string are kept.
	for off, p := range []Pos{{37, 5, 1}, {38, 5, 2}, {39, 5, 3}, {40, 5, 4}, {41, 6, 1}, {42, 6, 2}, {43, 6, 3}} {
		if got, ok := ix.StringPos("t.m", off); !ok || got != p {
			t.Errorf("StringPos(t.m, %d) = %+v, %v; want %+v", off, got, ok, p)
		}
	}
	if got := ix.PosAt(-5); got != (Pos{0, 1, 1}) {
		t.Errorf("PosAt(-5) = %+v", got)
	}
	if got := ix.PosAt(len(src) + 10); got != (Pos{len(src), 7, 1}) {
		t.Errorf("PosAt(past end) = %+v", got)
	}
}

const layers = `[[layer]]
name = "conv1"
[layer.opts]
pad = 1
[[layer]]
name = "pool"
[train]
lr = 0.01
[[variant]]
id = "a"
[[variant.patch]]
op = "x"
[[variant.patch]]
op = "y"
[[layer]]
name = "fc"
[[variant]]
id = "b"
[[variant.patch]]
op = "z"
`

func TestArrayOfTables(t *testing.T) {
	ix := check(t, layers, []want{
		{"layer", "1:1", "1:1", ArrayTable, "[[layer]]", ""},
		{"layer[0]", "1:1", "1:1", ArrayTable, "[[layer]]", ""},
		{"layer[0].name", "2:1", "2:8", String, `"conv1"`, "conv1"},
		{"layer[0].opts", "3:1", "3:1", Table, "[layer.opts]", ""},
		{"layer[0].opts.pad", "4:1", "4:7", Integer, "1", ""},
		{"layer[1]", "5:1", "5:1", ArrayTable, "[[layer]]", ""},
		{"layer[1].name", "6:1", "6:8", String, `"pool"`, "pool"},
		{"train", "7:1", "7:1", Table, "[train]", ""},
		{"train.lr", "8:1", "8:6", Float, "0.01", ""},
		{"variant[0]", "9:1", "9:1", ArrayTable, "[[variant]]", ""},
		{"variant[0].patch[0]", "11:1", "11:1", ArrayTable, "[[variant.patch]]", ""},
		{"variant[0].patch[0].op", "12:1", "12:6", String, `"x"`, "x"},
		{"variant[0].patch[1].op", "14:1", "14:6", String, `"y"`, "y"},
		{"layer[2]", "15:1", "15:1", ArrayTable, "[[layer]]", ""},
		{"layer[2].name", "16:1", "16:8", String, `"fc"`, "fc"},
		{"variant[1].id", "18:1", "18:6", String, `"b"`, "b"},
		{"variant[1].patch[0]", "19:1", "19:1", ArrayTable, "[[variant.patch]]", ""},
		{"variant[1].patch[0].op", "20:1", "20:6", String, `"z"`, "z"},
	})
	wantOrder := []Path{"layer", "layer[0]", "layer[0].name", "layer[0].opts", "layer[0].opts.pad",
		"layer[1]", "layer[1].name", "train", "train.lr", "variant", "variant[0]", "variant[0].id",
		"variant[0].patch", "variant[0].patch[0]", "variant[0].patch[0].op", "variant[0].patch[1]",
		"variant[0].patch[1].op", "layer[2]", "layer[2].name", "variant[1]", "variant[1].id",
		"variant[1].patch", "variant[1].patch[0]", "variant[1].patch[0].op"}
	if got := ix.Paths(); !reflect.DeepEqual(got, wantOrder) {
		t.Errorf("Paths() =\n%q\nwant\n%q", got, wantOrder)
	}
	for _, p := range []Path{"layer[3]", "variant[2]", "variant[1].patch[1]", "layer.name"} {
		if _, ok := ix.Lookup(p); ok {
			t.Errorf("%q should not be indexed", p)
		}
	}
}

func TestImplicitTableRedefined(t *testing.T) {
	ix := check(t, "[a.b]\nx = 1\n[a]\ny = 2\n", []want{
		{"a", "3:1", "3:1", Table, "[a]", ""},
		{"a.b", "1:1", "1:1", Table, "[a.b]", ""},
		{"a.y", "4:1", "4:5", Integer, "2", ""},
	})
	if got, want := ix.Paths(), []Path{"a", "a.b", "a.b.x", "a.y"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Paths() = %q, want %q", got, want)
	}
}

func TestStringPos(t *testing.T) {
	src := `s = "tab\tq\"\u00e9\U0001F600z"
m = """
one \
    two
x"""
l = '''
C:\path
'''
p = 'a\tb'
n = 5
`
	ix := Build([]byte(src))
	for _, c := range []struct {
		path Path
		off  int
		pos  string // "line:col", or "" when StringPos must fail
	}{
		{"s", 0, "1:6"}, {"s", 3, "1:9"}, {"s", 4, "1:11"}, {"s", 5, "1:12"},
		{"s", 6, "1:14"}, {"s", 7, "1:14"}, {"s", 8, "1:20"}, {"s", 11, "1:20"},
		{"s", 12, "1:30"}, {"s", 13, "1:31"}, {"s", 14, ""}, {"s", -1, ""},
		// The newline after """ is trimmed and the line-ending backslash
		// swallows the following newline and indentation.
		{"m", 0, "3:1"}, {"m", 3, "3:4"}, {"m", 4, "4:5"}, {"m", 7, "4:8"},
		{"m", 8, "5:1"}, {"m", 9, "5:2"}, {"m", 10, ""},
		{"l", 0, "7:1"}, {"l", 2, "7:3"}, {"l", 7, "7:8"}, {"l", 8, "8:1"},
		{"p", 1, "9:7"}, {"p", 2, "9:8"}, {"p", 4, "9:10"},
		{"n", 0, ""}, {"missing", 0, ""},
	} {
		got, ok := ix.StringPos(c.path, c.off)
		if c.pos == "" {
			if ok {
				t.Errorf("StringPos(%q, %d) = %+v, want failure", c.path, c.off, got)
			}
			continue
		}
		if w := lineCol(t, []byte(src), c.pos); !ok || got != w {
			t.Errorf("StringPos(%q, %d) = %+v, %v; want %+v", c.path, c.off, got, ok, w)
		}
	}
}

// seeds are realistic documents shared by the property test and the fuzz corpus.
var seeds = []string{
	constructs,
	layers,
	"[network]\nname = \"alexnet\"\ninput = [3, 227, 227]\n\n[[layer]]\nkind = \"conv\"\nfilters = 96\nkernel = [11, 11]\nstride = 4\n\n[[layer]]\nkind = \"relu\"\n",
	"[train]\nlr = 0.01\nmomentum = 0.9\nepochs = 90\nschedule = [\n  { at = 30, lr = 0.001 },\n  { at = 60, lr = 0.0001 }, # decay\n]\n",
	"\xef\xbb\xbftitle = 'BOM'\r\n[owner]\r\nname = \"Tom\"\r\ndob = 1979-05-27T07:32:00-08:00\r\n",
	"str1 = \"\"\"\nRoses are red\nViolets are blue\"\"\"\nstr2 = \"\"\"\\\n  The quick brown \\\n  fox.\\\n  \"\"\"\nq = \"\"\"Here are two quotation marks: \"\". Simple enough.\"\"\"\nq2 = ''''That,' she said, 'is still pointless.''''\n",
	"[ dog . \"tater.man\" ]\ntype.name = \"pug\"\n[a.b.c]\n[ d.e.f ]\n[ g .  h  . i ]\n[ j . \"ʞ\" . 'l' ]\n",
	"nested = [[1, 2], [\"a\", 'b'], [[3.5], {x = [true, false]}]]\nempty = []\ntbl = {}\nint = [+99, -17, 0, 1_000, 0xdead_beef, 0o01234567, 0b11010110]\nflt = [+1.0, 3.1415, -0.01, 5e+22, 1e06, -2E-2, 6.626e-34, inf, -inf, nan]\n",
	"[[fruits]]\nname = \"apple\"\n[fruits.physical]\ncolor = \"red\"\n[[fruits.varieties]]\nname = \"red delicious\"\n[[fruits.varieties]]\nname = \"granny smith\"\n[[fruits]]\nname = \"banana\"\n[[fruits.varieties]]\nname = \"plantain\"\n",
	"a = \"# not a comment\" # real\nb = ['[', \"]\", '#'] # x\n\"]\" = 1\n['x y'.\"z\"]\nq = 1\n",
	"e1 = \"\"\ne2 = ''\ne3 = \"\"\"\"\"\"\ne4 = ''''''\ne5 = \"\"\"a\"\"\"\"\"\ne6 = '''b'''''\ne7 = \"\"\"\"\"\"\"\"\n",
	"t = {\n  a = 1, # TOML 1.1 allows newlines here\n  b = [\n    2,\n  ],\n}\nn1 = -0\nn2 = +0.0\nx = \"\\e\\x7f\"\ntm = 07:32\n",
	"ld = 1979-05-27\nlt = 00:32:00.999999\nldt = 1979-05-27T00:32:00.999999\nodt = 1979-05-27 07:32:00Z\nuni = \"\\u00e9\\U0001F600\\x41\\e\"\n\"\\u0041b\" = 1\n'lit key' = 2\n",
}

// treeWalk visits every value the decoder produced under the path this
// package would give it. It reports false if a key cannot be written
// unambiguously as a path, because it contains '.', '[' or ']'.
func treeWalk(v any, path Path, visit func(Path, any)) bool {
	if path != "" {
		visit(path, v)
	}
	ok := true
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			ok = k != "" && !strings.ContainsAny(k, ".[]") && ok && treeWalk(x, join(path, k), visit)
		}
	case []map[string]any:
		for i, x := range v {
			ok = ok && treeWalk(x, path+index(i), visit)
		}
	case []any:
		for i, x := range v {
			ok = ok && treeWalk(x, path+index(i), visit)
		}
	}
	return ok
}

// checkAgainstDecoder asserts that every value BurntSushi decodes from src
// has an entry of a fitting kind, that string positions map decoded bytes
// back to the source bytes that produced them, and that every key reported
// by MetaData.Keys is covered once array indices are removed.
func checkAgainstDecoder(t *testing.T, src []byte, ix *Index) {
	var doc map[string]any
	md, err := toml.Decode(string(src), &doc)
	if err != nil {
		return
	}
	kinds := map[string][]ValueKind{
		"string": {String, MultilineString, LiteralString, MultilineLiteralString},
		"int64":  {Integer}, "float64": {Float}, "bool": {Bool}, "time.Time": {Datetime},
		"map[string]interface {}":   {Table, InlineTable, ArrayTable},
		"[]map[string]interface {}": {Array, ArrayTable},
		"[]interface {}":            {Array, ArrayTable},
	}
	if !treeWalk(doc, "", func(path Path, v any) {
		e, ok := ix.Lookup(path)
		if !ok {
			t.Fatalf("decoded %q is not indexed; have %q\n%s", path, ix.Paths(), src)
		}
		typ := reflect.TypeOf(v).String()
		if _, ok := v.(time.Time); ok {
			typ = "time.Time"
		}
		if !containsKind(kinds[typ], e.Kind) {
			t.Fatalf("%q: kind %v for decoded %s\n%s", path, e.Kind, typ, src)
		}
		if s, ok := v.(string); ok {
			basic := e.Kind == String || e.Kind == MultilineString
			for k := 0; k <= len(s); k = sample(k, len(s)) {
				p, ok := ix.StringPos(path, k)
				if !ok || p.Offset >= len(src) {
					t.Fatalf("%q: StringPos(%d) failed\n%s", path, k, src)
				}
				if k < len(s) && src[p.Offset] != s[k] && !(basic && src[p.Offset] == '\\') {
					t.Fatalf("%q: decoded byte %d (%q) maps to %q at %+v\n%s", path, k, s[k], src[p.Offset], p, src)
				}
			}
			if _, ok := ix.StringPos(path, len(s)+1); ok {
				t.Fatalf("%q: StringPos past the end succeeded", path)
			}
		}
	}) {
		return
	}
	have := map[string]bool{}
	for _, p := range ix.Paths() {
		have[arrayIndex.ReplaceAllString(p, "")] = true
	}
	for _, k := range md.Keys() {
		if !have[strings.Join(k, ".")] {
			t.Fatalf("BurntSushi key %q not indexed; have %q\n%s", k, ix.Paths(), src)
		}
	}
}

// sample returns the decoded offset to check after k. It visits every offset
// of short strings but only the ends of long ones, because each StringPos
// call is linear and checking them all would make fuzzing quadratic.
func sample(k, n int) int {
	if k == 64 && n > 128 {
		return n - 64
	}
	return k + 1
}

var arrayIndex = regexp.MustCompile(`\[\d+\]`)

func containsKind(ks []ValueKind, k ValueKind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

func TestAgainstDecoder(t *testing.T) {
	for i, s := range seeds {
		if _, err := toml.Decode(s, new(map[string]any)); err != nil {
			t.Errorf("seed %d is not valid TOML: %v", i, err)
			continue
		}
		checkAgainstDecoder(t, []byte(s), Build([]byte(s)))
	}
}

func FuzzBuild(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		ix := Build(src)
		for _, path := range ix.Paths() {
			e, _ := ix.Lookup(path)
			if e.Key.Offset < 0 || e.Key.Offset > e.Value.Offset || e.Value.Offset > e.End || e.End > len(src) {
				t.Fatalf("%q: offsets out of order: %+v (len %d)", path, e, len(src))
			}
			if ix.PosAt(e.Key.Offset) != e.Key || ix.PosAt(e.Value.Offset) != e.Value {
				t.Fatalf("%q: PosAt disagrees with %+v", path, e)
			}
			if q := map[ValueKind]int{String: 1, LiteralString: 1, MultilineString: 3, MultilineLiteralString: 3}[e.Kind]; q > 0 {
				if from := e.Value.Offset + q; from > len(src) || !bytes.HasPrefix(src[from:], []byte(e.Raw)) {
					t.Fatalf("%q: raw %q is not the source after the quote", path, e.Raw)
				}
				for k := 0; k <= len(e.Raw)+4; k = sample(k, len(e.Raw)) {
					if p, ok := ix.StringPos(path, k); ok && (p.Offset < e.Value.Offset || p.Offset > e.End) {
						t.Fatalf("%q: StringPos(%d) = %+v outside the value %+v", path, k, p, e)
					}
				}
			}
		}
		checkAgainstDecoder(t, src, ix)
	})
}

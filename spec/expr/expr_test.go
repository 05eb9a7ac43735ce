package expr

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/alexnetc/alexnetc/diag"
)

// base is where the tests pretend the string starts in the spec file: line
// 7, column 12, just inside the quotes of a TOML value.
var base = diag.Pos{File: "net.toml", Line: 7, Col: 12}

// shifted is the posOf of a one-line string without escapes.
func shifted(offset int) diag.Pos { return base.Shift(offset) }

// col is the column of the byte at offset in a string parsed at base.
func col(offset int) int { return base.Col + offset }

func TestParseRef(t *testing.T) {
	tests := []struct {
		in       string
		layer    string
		connect  Connect
		explicit bool
		str      string
	}{
		{"pool2", "pool2", Own, false, "pool2"},
		{"pool2[own]", "pool2", Own, true, "pool2[own]"},
		{"pool2[all]", "pool2", All, true, "pool2[all]"},
		{"  conv_5 [ all ] ", "conv_5", All, true, "conv_5[all]"},
		{"_x1", "_x1", Own, false, "_x1"},
	}
	for _, tt := range tests {
		r, diags := ParseRef(tt.in, base, shifted)
		if diags != nil {
			t.Errorf("ParseRef(%q): %v", tt.in, diags)
			continue
		}
		if r.Layer != tt.layer || r.Connect != tt.connect || r.Explicit != tt.explicit {
			t.Errorf("ParseRef(%q) = %+v, want layer %q, connect %v, explicit %v", tt.in, r, tt.layer, tt.connect, tt.explicit)
		}
		if got := r.String(); got != tt.str {
			t.Errorf("ParseRef(%q).String() = %q, want %q", tt.in, got, tt.str)
		}
		if want := strings.Index(tt.in, tt.layer); r.Pos.Offset != want {
			t.Errorf("ParseRef(%q).Pos.Offset = %d, want %d", tt.in, r.Pos.Offset, want)
		}
	}
}

func TestParseInit(t *testing.T) {
	tests := []struct {
		in   string
		want Init
		str  string
	}{
		{"normal(std=0.01)", Init{Kind: Normal, Std: 0.01}, "normal(mean=0, std=0.01)"},
		{"normal(mean=0, std=0.01)", Init{Kind: Normal, Std: 0.01}, "normal(mean=0, std=0.01)"},
		{"normal(std=0.01, mean=0.5)", Init{Kind: Normal, Mean: 0.5, Std: 0.01}, "normal(mean=0.5, std=0.01)"},
		{"normal(0, 0.01)", Init{Kind: Normal, Std: 0.01}, "normal(mean=0, std=0.01)"},
		{"normal(-1, 1e-4)", Init{Kind: Normal, Mean: -1, Std: 1e-4}, "normal(mean=-1, std=0.0001)"},
		{"normal(0, std=5e-4)", Init{Kind: Normal, Std: 5e-4}, "normal(mean=0, std=0.0005)"},
		{"normal(std=1e-7)", Init{Kind: Normal, Std: 1e-7}, "normal(mean=0, std=1e-07)"},
		{"constant(1)", Init{Kind: Constant, Value: 1}, "constant(1)"},
		{"const(1)", Init{Kind: Constant, Value: 1}, "constant(1)"},
		{"constant(value=0)", Init{Kind: Constant}, "constant(0)"},
		{"const(value=-2.5)", Init{Kind: Constant, Value: -2.5}, "constant(-2.5)"},
		{"uniform(low=-0.05, high=0.05)", Init{Kind: Uniform, Low: -0.05, High: 0.05}, "uniform(low=-0.05, high=0.05)"},
		{"uniform(-0.05, 0.05)", Init{Kind: Uniform, Low: -0.05, High: 0.05}, "uniform(low=-0.05, high=0.05)"},
		{"uniform(high=1, low=0)", Init{Kind: Uniform, High: 1}, "uniform(low=0, high=1)"},
		{" normal ( std = 0.01 ) ", Init{Kind: Normal, Std: 0.01}, "normal(mean=0, std=0.01)"},
	}
	for _, tt := range tests {
		in, diags := ParseInit(tt.in, base, shifted)
		if diags != nil {
			t.Errorf("ParseInit(%q): %v", tt.in, diags)
			continue
		}
		want := tt.want
		want.Pos = in.Pos
		if off := strings.IndexFunc(tt.in, func(r rune) bool { return r != ' ' }); in.Pos.Offset != off {
			t.Errorf("ParseInit(%q).Pos.Offset = %d, want %d", tt.in, in.Pos.Offset, off)
		}
		if !reflect.DeepEqual(*in, want) {
			t.Errorf("ParseInit(%q) = %+v, want %+v", tt.in, *in, want)
		}
		if got := in.String(); got != tt.str {
			t.Errorf("ParseInit(%q).String() = %q, want %q", tt.in, got, tt.str)
		}
		again, diags := ParseInit(in.String(), base, shifted)
		if diags != nil {
			t.Errorf("ParseInit(%q) (canonical of %q): %v", in.String(), tt.in, diags)
			continue
		}
		again.Pos = in.Pos
		if !reflect.DeepEqual(again, in) {
			t.Errorf("ParseInit(%q) = %+v, does not round-trip %+v", in.String(), again, in)
		}
	}
}

func TestParseSchedule(t *testing.T) {
	plateau := Schedule{Kind: Plateau, Factor: DefaultFactor, MaxDrops: DefaultMaxDrops, Patience: DefaultPatience}
	tests := []struct {
		in   string
		want Schedule
		str  string
	}{
		{"plateau", plateau, "plateau(factor=0.1, max_drops=3, patience=1)"},
		{"plateau()", plateau, "plateau(factor=0.1, max_drops=3, patience=1)"},
		{"plateau(factor=0.1, max_drops=3, patience=1)", plateau, "plateau(factor=0.1, max_drops=3, patience=1)"},
		{"plateau(factor=0.5, max_drops=0, patience=2)",
			Schedule{Kind: Plateau, Factor: 0.5, Patience: 2},
			"plateau(factor=0.5, max_drops=0, patience=2)"},
		{"plateau(0.2, 5)", Schedule{Kind: Plateau, Factor: 0.2, MaxDrops: 5, Patience: 1},
			"plateau(factor=0.2, max_drops=5, patience=1)"},
		{"plateau(patience=3e0)", Schedule{Kind: Plateau, Factor: 0.1, MaxDrops: 3, Patience: 3},
			"plateau(factor=0.1, max_drops=3, patience=3)"},
		{"steps(at=[30, 60, 80], factor=0.1)", Schedule{Kind: Steps, Factor: 0.1, At: []int{30, 60, 80}},
			"steps(at=[30, 60, 80], factor=0.1)"},
		{"steps(at=[30, 60, 80,])", Schedule{Kind: Steps, Factor: 0.1, At: []int{30, 60, 80}},
			"steps(at=[30, 60, 80], factor=0.1)"},
		{"steps([10], 0.5)", Schedule{Kind: Steps, Factor: 0.5, At: []int{10}},
			"steps(at=[10], factor=0.5)"},
		{"constant", Schedule{Kind: ConstantRate}, "constant"},
		{"constant()", Schedule{Kind: ConstantRate}, "constant"},
	}
	for _, tt := range tests {
		s, diags := ParseSchedule(tt.in, base, shifted)
		if diags != nil {
			t.Errorf("ParseSchedule(%q): %v", tt.in, diags)
			continue
		}
		want := tt.want
		want.Pos = s.Pos
		if !reflect.DeepEqual(*s, want) {
			t.Errorf("ParseSchedule(%q) = %+v, want %+v", tt.in, *s, want)
		}
		if got := s.String(); got != tt.str {
			t.Errorf("ParseSchedule(%q).String() = %q, want %q", tt.in, got, tt.str)
		}
		again, diags := ParseSchedule(s.String(), base, shifted)
		if diags != nil || !reflect.DeepEqual(again, s) {
			t.Errorf("ParseSchedule(%q) = %+v, %v; does not round-trip %+v", s.String(), again, diags, s)
		}
	}
}

func TestParsePlace(t *testing.T) {
	tests := []struct {
		in   string
		want Place
		str  string
	}{
		{"split", Place{Split: true}, "split"},
		{"split()", Place{Split: true}, "split"},
		{"gpu(0)", Place{}, "gpu(0)"},
		{"gpu(1)", Place{GPU: 1}, "gpu(1)"},
		{"gpu(n=3)", Place{GPU: 3}, "gpu(3)"},
	}
	for _, tt := range tests {
		p, diags := ParsePlace(tt.in, base, shifted)
		if diags != nil {
			t.Errorf("ParsePlace(%q): %v", tt.in, diags)
			continue
		}
		want := tt.want
		want.Pos = p.Pos
		if !reflect.DeepEqual(*p, want) {
			t.Errorf("ParsePlace(%q) = %+v, want %+v", tt.in, *p, want)
		}
		if got := p.String(); got != tt.str {
			t.Errorf("ParsePlace(%q).String() = %q, want %q", tt.in, got, tt.str)
		}
		again, diags := ParsePlace(p.String(), base, shifted)
		if diags != nil || !reflect.DeepEqual(again, p) {
			t.Errorf("ParsePlace(%q) = %+v, %v; does not round-trip %+v", p.String(), again, diags, p)
		}
	}
}

func TestParseCall(t *testing.T) {
	src := `f(1, x, "s\"q", [1, [2, b],], k=-5e-4, e=[])`
	c, diags := ParseCall(src, base, shifted)
	if diags != nil {
		t.Fatal(diags)
	}
	if c.Name != "f" || !c.Parens || len(c.Args) != 6 {
		t.Fatalf("got %+v", c)
	}
	want := `f(1, x, "s\"q", [1, [2, b]], k=-0.0005, e=[])`
	if got := c.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if n, ok := c.Args[0].Value.Int(); !ok || n != 1 {
		t.Errorf("arg 0 Int() = %d, %v", n, ok)
	}
	if s, ok := c.Args[1].Value.Name(); !ok || s != "x" {
		t.Errorf("arg 1 Name() = %q, %v", s, ok)
	}
	if s, ok := c.Args[2].Value.Str(); !ok || s != `s"q` {
		t.Errorf("arg 2 Str() = %q, %v", s, ok)
	}
	if items, ok := c.Args[3].Value.List(); !ok || len(items) != 2 || items[1].Kind() != "list" {
		t.Errorf("arg 3 List() = %v, %v", items, ok)
	}
	if a := c.Args[4]; a.Name != "k" || a.Pos.Offset != strings.Index(src, "k=") {
		t.Errorf("arg 4 = %+v", a)
	}
	if f, ok := c.Args[4].Value.Number(); !ok || f != -5e-4 {
		t.Errorf("arg 4 Number() = %v, %v", f, ok)
	}
	if items, ok := c.Args[5].Value.List(); !ok || len(items) != 0 {
		t.Errorf("arg 5 List() = %v, %v", items, ok)
	}

	bare, diags := ParseCall("tanh", base, shifted)
	if diags != nil || bare.Parens || bare.String() != "tanh" {
		t.Errorf("ParseCall(tanh) = %+v, %v", bare, diags)
	}
	empty, diags := ParseCall("f()", base, shifted)
	if diags != nil || !empty.Parens || len(empty.Args) != 0 || empty.String() != "f()" {
		t.Errorf("ParseCall(f()) = %+v, %v", empty, diags)
	}
}

func TestValueHelpers(t *testing.T) {
	num := func(s string) *Value { return &Value{NumberLit: &s} }
	str := func(s string) *Value { return &Value{StringLit: &s} }
	tests := []struct {
		v      *Value
		kind   string
		number float64
		isNum  bool
		intVal int
		isInt  bool
		name   string
		isCall bool
		str    string
	}{
		{num("30"), "number", 30, true, 30, true, "", false, "30"},
		{num("3e1"), "number", 30, true, 30, true, "", false, "30"},
		{num("30.5"), "number", 30.5, true, 0, false, "", false, "30.5"},
		{num("1e300"), "number", 1e300, true, 0, false, "", false, "1e+300"},
		{num("1e999"), "number", 0, false, 0, false, "", false, "1e999"},
		{str(`"a\tb"`), "string", 0, false, 0, false, "", false, `"a\tb"`},
		{&Value{CallLit: &Call{Name: "tanh"}}, "name", 0, false, 0, false, "tanh", true, "tanh"},
		{&Value{CallLit: &Call{Name: "f", Parens: true}}, "call", 0, false, 0, false, "", true, "f()"},
		{&Value{ListLit: &List{Items: []*Value{num("1"), num("2.50")}}}, "list", 0, false, 0, false, "", false, "[1, 2.5]"},
		{nil, "nothing", 0, false, 0, false, "", false, ""},
	}
	for _, tt := range tests {
		if got := tt.v.Kind(); got != tt.kind {
			t.Errorf("%v.Kind() = %q, want %q", tt.v, got, tt.kind)
		}
		if f, ok := tt.v.Number(); f != tt.number || ok != tt.isNum {
			t.Errorf("%v.Number() = %v, %v", tt.v, f, ok)
		}
		if n, ok := tt.v.Int(); n != tt.intVal || ok != tt.isInt {
			t.Errorf("%v.Int() = %v, %v", tt.v, n, ok)
		}
		if s, ok := tt.v.Name(); s != tt.name || ok != (tt.name != "") {
			t.Errorf("%v.Name() = %q, %v", tt.v, s, ok)
		}
		if _, ok := tt.v.Call(); ok != tt.isCall {
			t.Errorf("%v.Call() reports %v", tt.v, ok)
		}
		if got := tt.v.String(); got != tt.str {
			t.Errorf("String() = %q, want %q", got, tt.str)
		}
	}
}

func TestParsePatch(t *testing.T) {
	src := "drop conv1, fc[67];  set conv*.act = tanh; set norm?.k *= 2;" +
		" set train.lr /= 10; set conv[1-4].weights = normal(std=0.02);" +
		` set fc*.name = "x"; place fc6, * on gpu(1); place conv2 on split;`
	p, diags := ParsePatch(src, base, shifted)
	if diags != nil {
		t.Fatal(diags)
	}
	if len(p.Stmts) != 8 {
		t.Fatalf("got %d statements, want 8", len(p.Stmts))
	}
	at := func(sub string) int { return strings.Index(src, sub) }

	drop := p.Stmts[0].Drop
	if drop == nil || len(drop.Patterns) != 2 || drop.Patterns[0].Glob != "conv1" || drop.Patterns[1].Glob != "fc[67]" {
		t.Fatalf("statement 0 = %+v", p.Stmts[0])
	}
	if drop.Patterns[1].Pos.Offset != at("fc[67]") {
		t.Errorf("fc[67] at offset %d, want %d", drop.Patterns[1].Pos.Offset, at("fc[67]"))
	}

	sets := []struct {
		stmt   int
		target string
		field  string
		op     string
		value  string
	}{
		{1, "conv*", "act", "=", "tanh"},
		{2, "norm?", "k", "*=", "2"},
		{3, "train", "lr", "/=", "10"},
		{4, "conv[1-4]", "weights", "=", "normal(std=0.02)"},
		{5, "fc*", "name", "=", `"x"`},
	}
	for _, tt := range sets {
		set := p.Stmts[tt.stmt].Set
		if set == nil {
			t.Errorf("statement %d = %+v, want a set", tt.stmt, p.Stmts[tt.stmt])
			continue
		}
		if set.Target.Glob != tt.target || set.Field != tt.field || set.Op != tt.op || set.Value.String() != tt.value {
			t.Errorf("statement %d = %v, want set %s.%s %s %s", tt.stmt, set, tt.target, tt.field, tt.op, tt.value)
		}
		if want := at(tt.target + "." + tt.field); set.Target.Pos.Offset != want || set.FieldPos.Offset != want+len(tt.target)+1 {
			t.Errorf("statement %d: target at %d, field at %d; want %d, %d",
				tt.stmt, set.Target.Pos.Offset, set.FieldPos.Offset, want, want+len(tt.target)+1)
		}
		if set.Value.Pos.Offset != at(tt.value) {
			t.Errorf("statement %d: value at %d, want %d", tt.stmt, set.Value.Pos.Offset, at(tt.value))
		}
	}
	if c, ok := p.Stmts[4].Set.Value.Call(); !ok || !c.Parens {
		t.Errorf("set weights value is not a call: %v", p.Stmts[4].Set.Value)
	} else if in, diags := ResolveInit(c, shifted); diags != nil || in.Std != 0.02 || in.Pos.Offset != at("normal") {
		t.Errorf("ResolveInit(%v) = %+v, %v", c, in, diags)
	}

	place := p.Stmts[6].Place
	if place == nil || len(place.Patterns) != 2 || place.Patterns[1].Glob != "*" || place.Place == nil || place.Place.GPU != 1 || place.Place.Split {
		t.Errorf("statement 6 = %+v", p.Stmts[6])
	}
	if place := p.Stmts[7].Place; place == nil || !place.Place.Split || place.Pos.Offset != at("place conv2") {
		t.Errorf("statement 7 = %+v", p.Stmts[7])
	}

	want := `drop conv1, fc[67]; set conv*.act = tanh; set norm?.k *= 2; set train.lr /= 10; ` +
		`set conv[1-4].weights = normal(std=0.02); set fc*.name = "x"; place fc6, * on gpu(1); place conv2 on split`
	if got := p.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	again, diags := ParsePatch(p.String(), base, shifted)
	if diags != nil || again.String() != want {
		t.Errorf("canonical patch does not round-trip: %v, %v", again, diags)
	}
}

// TestPatchKeywordsAsNames checks that keywords mean something only where a
// keyword can stand, so layers may be called "set" or "drop", and values may
// be the names drop or on.
func TestPatchKeywordsAsNames(t *testing.T) {
	for _, src := range []string{
		"drop set, drop, place",
		"set drop.place = on",
		"place set on gpu(0)",
		"place on_x, onion on split",
		"set x.mode = drop; drop y",
	} {
		p, diags := ParsePatch(src, base, shifted)
		if diags != nil {
			t.Errorf("ParsePatch(%q): %v", src, diags)
			continue
		}
		if got := p.String(); got != src {
			t.Errorf("ParsePatch(%q).String() = %q", src, got)
		}
	}
}

func TestErrors(t *testing.T) {
	parsers := map[string]func(s string, base diag.Pos, posOf func(int) diag.Pos) diag.List{
		"ref":      func(s string, b diag.Pos, p func(int) diag.Pos) diag.List { _, d := ParseRef(s, b, p); return d },
		"call":     func(s string, b diag.Pos, p func(int) diag.Pos) diag.List { _, d := ParseCall(s, b, p); return d },
		"init":     func(s string, b diag.Pos, p func(int) diag.Pos) diag.List { _, d := ParseInit(s, b, p); return d },
		"schedule": func(s string, b diag.Pos, p func(int) diag.Pos) diag.List { _, d := ParseSchedule(s, b, p); return d },
		"place":    func(s string, b diag.Pos, p func(int) diag.Pos) diag.List { _, d := ParsePlace(s, b, p); return d },
		"patch":    func(s string, b diag.Pos, p func(int) diag.Pos) diag.List { _, d := ParsePatch(s, b, p); return d },
	}
	type want struct {
		offset int
		msg    string
	}
	tests := []struct {
		entry string
		in    string
		want  []want
	}{
		// Layer references.
		{"ref", "pool2[both]", []want{{6, `expected "own" or "all" after "[", found "both"`}}},
		{"ref", "pool2[ALL]", []want{{6, `expected "own" or "all" after "[", found "ALL"`}}},
		{"ref", "pool2[", []want{{6, `unexpected end of expression; expected "own" or "all"`}}},
		{"ref", "pool2[own", []want{{9, `unexpected end of expression; expected "]"`}}},
		{"ref", "", []want{{0, `empty expression; expected a layer name`}}},
		{"ref", "   ", []want{{0, `empty expression; expected a layer name`}}},
		{"ref", "pool2 x", []want{{6, `expected "[" or end of expression after "pool2", found "x"`}}},
		{"ref", "pool2[all]]", []want{{10, `expected end of expression after "]", found "]"`}}},
		{"ref", "[all]", []want{{0, `expected a layer name, found "["`}}},
		{"ref", "pool2\x00", []want{{5, `unexpected character '\x00'`}}},
		{"ref", "po\xffol", []want{{2, `unexpected byte 0xff`}}},
		{"ref", `"pool2`, []want{{0, `unterminated string`}}},
		{"ref", "pool-2", []want{{4, `expected "[" or end of expression after "pool", found "-2"`}}},

		// Calls in general.
		{"call", "f(g(1))", []want{{2, `call g cannot be nested; a value here is a number, string, name or list`}}},
		{"call", `f("\q")`, []want{{2, `malformed string "\"\\q\""`}}},
		{"call", "f(1,)", []want{{4, `expected an argument after ",", found ")"`}}},
		{"call", "f([1, 2", []want{{7, `unexpected end of expression; expected "," or "]"`}}},

		// Initialisers.
		{"init", "normal(std=-1)", []want{{11, `argument "std" to normal must be positive, found -1`}}},
		{"init", "normal(std=0)", []want{{11, `argument "std" to normal must be positive, found 0`}}},
		{"init", "normal(std=0.01, std=0.02)", []want{{17, `duplicate argument "std" to normal`}}},
		{"init", "normal(0, mean=0.01)", []want{{0, `missing argument "std" in call to normal; expected normal(mean, std)`}, {10, `duplicate argument "mean" to normal`}}},
		{"init", "normal(mean=0, 0.01)", []want{{15, `positional argument follows named argument in call to normal`}}},
		{"init", "gauss(1)", []want{{0, `unknown initialiser "gauss"; expected normal, uniform or constant`}}},
		{"init", "normal(sd=0.01)", []want{{0, `missing argument "std" in call to normal; expected normal(mean, std)`}, {7, `unknown argument "sd" to normal; expected mean or std`}}},
		{"init", "normal(std=0.01", []want{{15, `unexpected end of expression; expected "," or ")"`}}},
		{"init", "normal(a b)", []want{{9, `expected "=", "," or ")" after "a", found "b"`}}},
		{"init", "normal x", []want{{7, `expected "(" or end of expression after "normal", found "x"`}}},
		{"init", "3", []want{{0, `expected an initialiser (normal, uniform or constant), found "3"`}}},
		{"init", "", []want{{0, `empty expression; expected an initialiser (normal, uniform or constant)`}}},
		{"init", "uniform(low=0.05, high=-0.05)", []want{{23, `argument "high" to uniform must be greater than low (0.05), found -0.05`}}},
		{"init", "uniform(1)", []want{{0, `missing argument "high" in call to uniform; expected uniform(low, high)`}}},
		{"init", "normal(std=x)", []want{{11, `argument "std" to normal must be a number, found name "x"`}}},
		{"init", "normal(std=[0.01])", []want{{11, `argument "std" to normal must be a number, found list [0.01]`}}},
		{"init", "normal(std=1e999)", []want{{11, `number 1e999 is out of range`}}},
		{"init", "constant(1, 2)", []want{{12, `too many arguments in call to constant; expected constant(value)`}}},
		{"init", "const", []want{{0, `missing argument "value" in call to const; expected const(value)`}}},
		{"init", `normal(std="abc`, []want{{11, `unterminated string`}}},
		{"init", "normal(mean=x, std=-1, lo=2)", []want{
			{12, `argument "mean" to normal must be a number, found name "x"`},
			{19, `argument "std" to normal must be positive, found -1`},
			{23, `unknown argument "lo" to normal; expected mean or std`},
		}},

		// Schedules.
		{"schedule", "steps(at=[30, 20])", []want{{14, `epochs in "at" must be strictly increasing, found 20 after 30`}}},
		{"schedule", "steps(at=[30.5, 0])", []want{{10, `epochs in "at" must be integers, found number 30.5`}, {16, `epochs in "at" must be positive, found 0`}}},
		{"schedule", "steps(at=[])", []want{{9, `argument "at" to steps must list at least one epoch`}}},
		{"schedule", "steps(at=30)", []want{{9, `argument "at" to steps must be a list of epochs, found number 30`}}},
		{"schedule", "steps(factor=0.5)", []want{{0, `missing argument "at" in call to steps; expected steps(at, factor)`}}},
		{"schedule", "plateau(factor=2)", []want{{15, `argument "factor" to plateau must be between 0 and 1, found 2`}}},
		{"schedule", "plateau(factor=1)", []want{{15, `argument "factor" to plateau must be between 0 and 1, found 1`}}},
		{"schedule", "plateau(patience=0, max_drops=-1)", []want{
			{17, `argument "patience" to plateau must be at least 1, found 0`},
			{30, `argument "max_drops" to plateau must be at least 0, found -1`},
		}},
		{"schedule", "plateau(max_drops=1.5)", []want{{18, `argument "max_drops" to plateau must be an integer, found number 1.5`}}},
		{"schedule", "constant(1)", []want{{9, `too many arguments in call to constant; expected constant()`}}},
		{"schedule", "cosine", []want{{0, `unknown schedule "cosine"; expected plateau, steps or constant`}}},

		// Placements.
		{"place", "gpu(-1)", []want{{4, `argument "n" to gpu must be at least 0, found -1`}}},
		{"place", "gpu", []want{{0, `missing argument "n" in call to gpu; expected gpu(n)`}}},
		{"place", "gpu(0", []want{{5, `unexpected end of expression; expected "," or ")"`}}},
		{"place", "gpu(1e30)", []want{{4, `argument "n" to gpu must be an integer, found number 1e+30`}}},
		{"place", "split(2)", []want{{6, `too many arguments in call to split; expected split()`}}},
		{"place", "everywhere", []want{{0, `unknown placement "everywhere"; expected split or gpu(n)`}}},

		// Patches.
		{"patch", "drop", []want{{4, `unexpected end of patch; expected a layer pattern`}}},
		{"patch", "", []want{{0, `empty patch; expected "drop", "set" or "place"`}}},
		{"patch", " \t\n ", []want{{0, `empty patch; expected "drop", "set" or "place"`}}},
		{"patch", "set conv*.act tanh", []want{{14, `expected "=", "*=" or "/=" after "act", found "tanh"`}}},
		{"patch", "set conv*act = tanh", []want{{13, `expected "." after "conv*act", found "="`}}},
		{"patch", "set conv*.act =", []want{{15, `unexpected end of patch; expected a value`}}},
		{"patch", "drop conv[1-", []want{{5, `malformed layer pattern "conv[1-": missing "]"`}}},
		{"patch", "drop fc[]", []want{{5, `malformed layer pattern "fc[]": empty character class`}}},
		{"patch", `drop conv\`, []want{{5, `malformed layer pattern "conv\\": "\" at the end escapes nothing`}}},
		{"patch", "place conv1 on everywhere", []want{{15, `unknown placement "everywhere"; expected split or gpu(n)`}}},
		{"patch", "place conv1 on", []want{{14, `unexpected end of patch; expected a placement (split or gpu(n))`}}},
		{"patch", "place fc6 gpu(0)", []want{{10, `expected "," or "on" after "fc6", found "gpu"`}}},
		{"patch", "drop fc8;; drop fc7", []want{{9, `expected "drop", "set", "place" or end of patch after ";", found ";"`}}},
		{"patch", "remove fc8", []want{{0, `expected "drop", "set" or "place", found "remove"`}}},
		{"patch", "drop conv1 conv2", []want{{11, `expected ",", ";" or end of patch after "conv1", found "conv2"`}}},
		{"patch", "set train.lr /= 0", []want{{16, `cannot divide train.lr by zero`}}},
		{"patch", "set conv*.act *= tanh", []want{{17, `"*=" needs a number, found name "tanh"`}}},
		{"patch", "set a.b = [normal(1)]", []want{{11, `call normal cannot be nested; a value here is a number, string, name or list`}}},
		{"patch", "drop conv1 \x01", []want{{11, `unexpected character '\x01'`}}},
		{"patch", `set conv1.name = "x`, []want{{17, `unterminated string`}}},
		{"patch", "drop conv[; place fc6 on gpu(-1); set x[.y = 1", []want{
			{5, `malformed layer pattern "conv[": missing "]"`},
			{29, `argument "n" to gpu must be at least 0, found -1`},
			{38, `malformed layer pattern "x[": missing "]"`},
		}},
	}
	for _, tt := range tests {
		var offsets []int
		posOf := func(off int) diag.Pos {
			offsets = append(offsets, off)
			return shifted(off)
		}
		diags := parsers[tt.entry](tt.in, base, posOf)
		var want diag.List
		for _, w := range tt.want {
			want.Add(diag.Pos{File: base.File, Line: base.Line, Col: col(w.offset)}, "%s", w.msg)
		}
		if !reflect.DeepEqual(diags, want) {
			t.Errorf("%s %q:\n got: %v\nwant: %v", tt.entry, tt.in, diags, want)
		}
		for _, off := range offsets {
			if off < 0 || off > len(tt.in) {
				t.Errorf("%s %q: posOf called with offset %d outside [0, %d]", tt.entry, tt.in, off, len(tt.in))
			}
		}
	}
}

// TestPosOf checks that positions go through posOf, as they must for a
// multi-line TOML string, and that a nil posOf shifts base.
func TestPosOf(t *testing.T) {
	src := "drop fc8;\n  set conv*act = tanh"
	posOf := func(off int) diag.Pos {
		line, start := base.Line, 0
		if i := strings.LastIndexByte(src[:off], '\n'); i >= 0 {
			line += strings.Count(src[:off], "\n")
			start = i + 1
			return diag.Pos{File: base.File, Line: line, Col: 1 + off - start}
		}
		return base.Shift(off)
	}
	_, diags := ParsePatch(src, base, posOf)
	want := diag.Pos{File: base.File, Line: 8, Col: 16}
	if len(diags) != 1 || diags[0].Pos != want {
		t.Errorf("got %v, want one error at %v", diags, want)
	}

	_, diags = ParseRef("pool2[both]", base, nil)
	if len(diags) != 1 || diags[0].Pos != base.Shift(6) {
		t.Errorf("nil posOf: got %v, want an error at %v", diags, base.Shift(6))
	}
}

// TestGrammarComment checks that the EBNF in the comment above the AST types
// is the exported Grammar, so that the two cannot drift apart.
func TestGrammarComment(t *testing.T) {
	src, err := os.ReadFile("ast.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(Grammar), "\n") {
		want := "//\t" + line
		if line == "" {
			want = "//\n"
		}
		if !strings.Contains(string(src), want) {
			t.Errorf("the grammar comment in ast.go lacks %q", want)
		}
	}
}

func TestValueBool(t *testing.T) {
	for _, tt := range []struct {
		in     string
		val    bool
		isBool bool
	}{
		{"true", true, true},
		{"false", false, true},
		{"True", false, false},
		{"true()", false, false},
		{"1", false, false},
	} {
		p, diags := ParsePatch("set train.flag = "+tt.in, base, shifted)
		if diags != nil {
			t.Fatalf("%q: %v", tt.in, diags)
		}
		if b, ok := p.Stmts[0].Set.Value.Bool(); b != tt.val || ok != tt.isBool {
			t.Errorf("Bool() of %q = %v, %v; want %v, %v", tt.in, b, ok, tt.val, tt.isBool)
		}
	}
}

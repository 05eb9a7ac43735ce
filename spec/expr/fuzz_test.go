package expr

import (
	"reflect"
	"strings"
	"testing"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/alexnetc/alexnetc/diag"
)

// checkDiags asserts what must hold for the diagnostics of any input: every
// one is placed through posOf at an offset within the string, none comes
// from the parser's panic guard, and none is the bare fallback used when the
// error machines lose track of the grammar, which would mean they disagree
// with the participle grammar.
func checkDiags(t *testing.T, what, s string, diags diag.List, offsets []int) {
	t.Helper()
	for _, off := range offsets {
		if off < 0 || off > len(s) {
			t.Fatalf("%s %q: posOf called with offset %d outside [0, %d]", what, s, off, len(s))
		}
	}
	for _, d := range diags {
		if d.Pos.File != base.File || d.Pos.Line != base.Line || d.Pos.Col < base.Col || d.Pos.Col > base.Col+len(s) {
			t.Fatalf("%s %q: diagnostic %v outside the string", what, s, d)
		}
		switch {
		case strings.Contains(d.Msg, "internal parser error"):
			t.Fatalf("%s %q: participle panicked: %v", what, s, d)
		case strings.HasPrefix(d.Msg, `unexpected "`),
			strings.HasPrefix(d.Msg, "unexpected end of") && !strings.Contains(d.Msg, "; expected"):
			t.Fatalf("%s %q: the error machine lost track of the grammar: %v", what, s, d)
		case d.Msg == "" || d.Msg[0] < 'a' && d.Msg[0] != '"' || d.Msg[0] > 'z':
			t.Fatalf("%s %q: message does not start in lower case: %v", what, s, d)
		}
	}
}

// recorder returns a posOf that remembers the offsets it was asked for.
func recorder() (func(int) diag.Pos, *[]int) {
	var offsets []int
	return func(off int) diag.Pos {
		offsets = append(offsets, off)
		return shifted(off)
	}, &offsets
}

// roundTrip parses s with parse, and, when that succeeds, parses the
// canonical form of the result and compares the two results, Pos aside.
func roundTrip[T interface{ String() string }](t *testing.T, what, s string,
	parse func(string, diag.Pos, func(int) diag.Pos) (T, diag.List), clearPos func(T)) {
	t.Helper()
	posOf, offsets := recorder()
	got, diags := parse(s, base, posOf)
	checkDiags(t, what, s, diags, *offsets)
	if (diags == nil) == reflect.ValueOf(got).IsNil() {
		t.Fatalf("%s %q: result %v with diagnostics %v", what, s, got, diags)
	}
	if diags != nil {
		return
	}
	canon := got.String()
	again, diags := parse(canon, base, shifted)
	if diags != nil {
		t.Fatalf("%s %q: canonical form %q does not parse: %v", what, s, canon, diags)
	}
	clearPos(got)
	clearPos(again)
	if !reflect.DeepEqual(got, again) {
		t.Fatalf("%s %q: canonical form %q parses to %+v, not %+v", what, s, canon, again, got)
	}
}

var refSeeds = []string{
	"pool2", "pool2[own]", "pool2[all]", "pool2[both]", "pool2[", "pool2 x", "", "   ",
	"pool2[all]]", "\x00", `"pool2`, "conv_1 [ all ]", "pool2\xff", "[own]", "a[own",
}

func FuzzParseRef(f *testing.F) {
	for _, s := range refSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		roundTrip(t, "ParseRef", s, ParseRef, func(r *Ref) { r.Pos = lexer.Position{} })
	})
}

var callSeeds = []string{
	"normal(std=0.01)", "normal(mean=0, std=0.01)", "normal(0, 0.01)", "constant(1)", "const(value=0)",
	"uniform(low=-0.05, high=0.05)", "uniform(-0.05, 0.05)", "normal(std=-1)", "normal(std=0.01, std=0.02)",
	"normal(mean=0, 0.01)", "gauss(1)", "normal(std=1e999)", "normal(std=[1, 2,])", "normal(std=f(1))",
	"plateau(factor=0.1, max_drops=3, patience=1)", "plateau", "steps(at=[30, 60, 80], factor=0.1)",
	"steps(at=[30, 20])", "plateau(factor=2)", "constant()", "constant", "steps(at=[])",
	"split", "gpu(0)", "gpu(-1)", "gpu", "gpu(1e30)", "split()", `f("a\tb", x, [])`, "normal(std=0.01",
	"normal x", "normal(a b)", "\"", "normal(std=\"x\")", "f(,)", "5e-4", "normal(std=1e-320)",
}

func FuzzParseCall(f *testing.F) {
	for _, s := range callSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		roundTrip(t, "ParseInit", s, ParseInit, func(in *Init) { in.Pos = lexer.Position{} })
		roundTrip(t, "ParseSchedule", s, ParseSchedule, func(sc *Schedule) { sc.Pos = lexer.Position{} })
		roundTrip(t, "ParsePlace", s, ParsePlace, func(p *Place) { p.Pos = lexer.Position{} })

		// A generic call has no canonical value to compare, but its
		// canonical text must parse back to the same text.
		posOf, offsets := recorder()
		c, diags := ParseCall(s, base, posOf)
		checkDiags(t, "ParseCall", s, diags, *offsets)
		if diags == nil {
			again, diags := ParseCall(c.String(), base, shifted)
			if diags != nil || again.String() != c.String() {
				t.Fatalf("ParseCall %q: canonical form %q parses to %v, %v", s, c.String(), again, diags)
			}
		}
	})
}

var patchSeeds = []string{
	"drop conv1, fc[67]; set conv*.act = tanh; place fc6, fc7 on gpu(0);",
	"set conv*.weights = normal(std=0.02)", "set fc[67].dims = [1, 2,]", "set train.lr *= 0.1",
	"set train.lr /= 0", "set x.y *= tanh", "drop", "set conv*.act tanh", "set conv*act = tanh",
	"drop conv[1-", "place conv1 on everywhere", "", " ; ", "drop a;;", "drop on", "place on on split",
	"set a.b = [normal(1)]", "drop \x01", `set a.b = "x`, `drop conv\`, "drop [^0-9]*, norm?",
	"set x.y = f(g(1))", "place a on gpu 3", "set drop.place = on", "drop conv1; drop conv2",
}

func FuzzParsePatch(f *testing.F) {
	for _, s := range patchSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		posOf, offsets := recorder()
		p, diags := ParsePatch(s, base, posOf)
		checkDiags(t, "ParsePatch", s, diags, *offsets)
		if (diags == nil) == (p == nil) {
			t.Fatalf("ParsePatch %q: result %v with diagnostics %v", s, p, diags)
		}
		if diags != nil {
			return
		}
		again, diags := ParsePatch(p.String(), base, shifted)
		if diags != nil || again.String() != p.String() {
			t.Fatalf("ParsePatch %q: canonical form %q parses to %v, %v", s, p.String(), again, diags)
		}
	})
}

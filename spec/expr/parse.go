package expr

import (
	"path"
	"strings"

	"github.com/alecthomas/participle/v2"

	"github.com/alexnetc/alexnetc/diag"
)

// lookahead lets participle back out of "name =" when an argument turns out
// to be a bare name ("f(a, b)"), and out of a trailing separator in lists and
// patches ("[1, 2,]", "drop fc8;").
const lookahead = 3

// One parser per entry point. References and calls share the expression
// lexer; patches have their own, in which a glob with brackets is one token.
var (
	refParser   = participle.MustBuild[Ref](participle.Lexer(exprLexer))
	callParser  = participle.MustBuild[Call](participle.Lexer(exprLexer), participle.UseLookahead(lookahead))
	patchParser = participle.MustBuild[Patch](participle.Lexer(patchLexerDef{}), participle.UseLookahead(lookahead))
)

// The descriptions of what starts each kind of call, for syntax errors.
const (
	initFirst     = "an initialiser (normal, uniform or constant)"
	scheduleFirst = "a schedule (plateau, steps or constant)"
	placeFirst    = "a placement (split or gpu(n))"
)

var (
	refEntry   = entry{noun: "expression", expect: expectRef}
	patchEntry = entry{noun: "patch", expect: expectPatch}
)

// Every Parse function takes the text inside the TOML quotes, s; the file
// position of its first character, base; and posOf, which maps a byte offset
// in s to its file position. When posOf is nil, offsets are added to base's
// column, which is right for a basic string on one line without escapes.
// Every diagnostic is placed with posOf, at the offending token. A result is
// nil exactly when diagnostics are returned.

// ParseRef parses a layer's input reference: "pool2", "pool2[own]" or
// "pool2[all]".
func ParseRef(s string, base diag.Pos, posOf func(int) diag.Pos) (*Ref, diag.List) {
	loc := newLocator(base, posOf)
	ref, _, diags := parse(refParser, exprLexer, refEntry, s, loc)
	return ref, diags
}

// ParseCall parses a call without giving its name a meaning, checking only
// what holds for every call: numbers fit a float64, strings are well formed
// and arguments are not calls themselves.
func ParseCall(s string, base diag.Pos, posOf func(int) diag.Pos) (*Call, diag.List) {
	return parseCall(s, newLocator(base, posOf), "a name")
}

func parseCall(s string, loc locator, first string) (*Call, diag.List) {
	c, _, diags := parse(callParser, exprLexer, callEntry(first), s, loc)
	if diags != nil {
		return nil, diags
	}
	checkArgs(c, loc, &diags)
	if diags != nil {
		return nil, diags
	}
	return c, nil
}

// ParseInit parses and checks a weight or bias initialiser; see Init.
func ParseInit(s string, base diag.Pos, posOf func(int) diag.Pos) (*Init, diag.List) {
	loc := newLocator(base, posOf)
	c, diags := parseCall(s, loc, initFirst)
	if diags != nil {
		return nil, diags
	}
	return ResolveInit(c, loc)
}

// ParseSchedule parses and checks a learning-rate schedule; see Schedule.
func ParseSchedule(s string, base diag.Pos, posOf func(int) diag.Pos) (*Schedule, diag.List) {
	loc := newLocator(base, posOf)
	c, diags := parseCall(s, loc, scheduleFirst)
	if diags != nil {
		return nil, diags
	}
	return ResolveSchedule(c, loc)
}

// ParsePlace parses and checks a placement; see Place.
func ParsePlace(s string, base diag.Pos, posOf func(int) diag.Pos) (*Place, diag.List) {
	loc := newLocator(base, posOf)
	c, diags := parseCall(s, loc, placeFirst)
	if diags != nil {
		return nil, diags
	}
	return ResolvePlace(c, loc)
}

// ParsePatch parses an ablation patch and checks what it can without the
// network: that globs are well formed, that set values are well formed and
// that "*=" and "/=" scale by a usable number, and that placements are valid.
// Whether a pattern matches any layer, or names a section, and whether a
// field exists and accepts the value are for the caller to check.
func ParsePatch(s string, base diag.Pos, posOf func(int) diag.Pos) (*Patch, diag.List) {
	loc := newLocator(base, posOf)
	p, toks, diags := parse(patchParser, patchLexerDef{}, patchEntry, s, loc)
	if diags != nil {
		return nil, diags
	}
	// The token index of each offset, to find the field of a set target.
	index := make(map[int]int, len(toks))
	for i, t := range toks {
		index[t.Pos.Offset] = i
	}
	for _, st := range p.Stmts {
		switch {
		case st.Drop != nil:
			for _, pat := range st.Drop.Patterns {
				checkGlob(pat, loc, &diags)
			}
		case st.Set != nil:
			set := st.Set
			// The grammar makes the field the second token after the
			// target: the pattern, ".", then the name.
			if i, ok := index[set.Target.Pos.Offset]; ok && i+2 < len(toks) {
				set.FieldPos = toks[i+2].Pos
			}
			checkGlob(&set.Target, loc, &diags)
			checkValue(set.Value, true, loc, &diags)
			if set.Op != "=" {
				checkScale(set, loc, &diags)
			}
		case st.Place != nil:
			for _, pat := range st.Place.Patterns {
				checkGlob(pat, loc, &diags)
			}
			pl, pd := ResolvePlace(st.Place.Where, loc)
			st.Place.Place = pl
			diags.Append(pd)
		}
	}
	if diags != nil {
		return nil, diags.Sort()
	}
	return p, nil
}

// checkScale checks the value of "*=" and "/=", which scale a numeric field
// and so need a number, and a nonzero one to divide by.
func checkScale(set *Set, loc locator, diags *diag.List) {
	f, ok := set.Value.Number()
	switch {
	case !ok && set.Value.NumberLit == nil:
		diags.Add(loc.at(set.Value.Pos), "%q needs a number, found %s", set.Op, set.Value.describe())
	case ok && f == 0 && set.Op == "/=":
		diags.Add(loc.at(set.Value.Pos), "cannot divide %s.%s by zero", set.Target.Glob, set.Field)
	}
}

// checkGlob reports a pattern that path.Match rejects. Matching against the
// empty name is enough: path.Match checks the rest of a pattern for syntax
// errors before it reports a mismatch.
func checkGlob(p *Pattern, loc locator, diags *diag.List) {
	if _, err := path.Match(p.Glob, ""); err != nil {
		diags.Add(loc.at(p.Pos), "malformed layer pattern %q%s", p.Glob, globHint(p.Glob))
	}
}

// globHint says what is wrong with a malformed glob, when that is easy.
func globHint(g string) string {
	if strings.Contains(g, "[]") || strings.Contains(g, "[^]") {
		return ": empty character class"
	}
	depth := 0
	for i := 0; i < len(g); i++ {
		switch g[i] {
		case '\\':
			if i == len(g)-1 {
				return `: "\" at the end escapes nothing`
			}
			i++
		case '[':
			depth++
		case ']':
			depth--
		}
	}
	switch {
	case depth > 0:
		return `: missing "]"`
	case depth < 0:
		return `: "]" without "["`
	}
	return ""
}

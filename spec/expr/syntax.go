package expr

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"

	"github.com/alexnetc/alexnetc/diag"
)

// Participle's own messages name grammar nodes ("unexpected token "b"
// (expected "=")") and list only the alternative it tried last, so they are
// not fit for a spec author. The parsers below keep participle's position of
// the offending token, which is reliable, and say what was expected by
// replaying the tokens before it through a small state machine that mirrors
// the grammar. The prefix before the offending token is always one the
// grammar accepts, so the machines only need to track valid input.

// entry describes one entry point for the error messages.
type entry struct {
	// noun names the text in "unexpected end of <noun>" and "empty <noun>".
	noun string
	// expect returns what may follow the tokens of prefix, or false if the
	// machine lost track of the grammar.
	expect func(prefix []lexer.Token) ([]string, bool)
}

// locator turns byte offsets inside the string into file positions.
type locator func(offset int) diag.Pos

func newLocator(base diag.Pos, posOf func(int) diag.Pos) locator {
	if posOf != nil {
		return posOf
	}
	return func(offset int) diag.Pos { return base.Shift(offset) }
}

// at returns the file position of a parsed node.
func (l locator) at(p lexer.Position) diag.Pos { return l(p.Offset) }

// parse runs parser p over s and translates every failure into one
// diagnostic. It returns the tokens too, because some checks after parsing
// need positions that the AST does not keep.
func parse[G any](p *participle.Parser[G], def lexer.Definition, e entry, s string, loc locator) (*G, []lexer.Token, diag.List) {
	var diags diag.List
	// The AST keeps positions inside s; the file name is left out of them
	// so that nobody mistakes their lines and columns for the file's.
	toks, err := lexAll(def, "", s)
	if err != nil {
		off := len(s)
		var lerr *lexer.Error
		if errors.As(err, &lerr) {
			off = lerr.Pos.Offset
		}
		off = clamp(off, s)
		diags.Add(loc(off), "%s", lexMessage(s, off))
		return nil, nil, diags
	}
	ast, err := safeParse(p, s)
	if err == nil {
		return ast, toks, nil
	}
	off := len(s)
	var perr participle.Error
	if errors.As(err, &perr) {
		off = perr.Position().Offset
	}
	off = clamp(off, s)
	// Find the offending token: the first one that starts at or after the
	// reported offset. The last token is EOF, at len(s), so one is found.
	i := 0
	for i < len(toks)-1 && toks[i].Pos.Offset < off {
		i++
	}
	tok := toks[i]
	if len(toks) == 1 {
		// There are no tokens at all: point at the start of the string
		// rather than after any white space it holds.
		want, _ := e.expect(nil)
		diags.Add(loc(0), "empty %s; expected %s", e.noun, orList(want))
		return nil, nil, diags
	}
	want, ok := e.expect(toks[:i])
	switch {
	case tok.EOF() && ok:
		diags.Add(loc(tok.Pos.Offset), "unexpected end of %s; expected %s", e.noun, orList(want))
	case tok.EOF():
		diags.Add(loc(tok.Pos.Offset), "unexpected end of %s", e.noun)
	case !ok:
		diags.Add(loc(tok.Pos.Offset), "unexpected %s", quoteToken(tok.Value))
	case i == 0:
		diags.Add(loc(tok.Pos.Offset), "expected %s, found %s", orList(want), quoteToken(tok.Value))
	default:
		diags.Add(loc(tok.Pos.Offset), "expected %s after %s, found %s",
			orList(want), quoteToken(toks[i-1].Value), quoteToken(tok.Value))
	}
	return nil, nil, diags
}

// safeParse runs the parser and turns a panic inside participle into an
// error, so that no input can crash the compiler. The fuzz tests check that
// this never happens; it is a guard, not a code path.
func safeParse[G any](p *participle.Parser[G], s string) (ast *G, err error) {
	defer func() {
		if r := recover(); r != nil {
			ast, err = nil, fmt.Errorf("internal parser error: %v", r)
		}
	}()
	return p.ParseString("", s)
}

func clamp(off int, s string) int {
	return max(0, min(off, len(s)))
}

// lexMessage says why the lexer stopped at offset off of s.
func lexMessage(s string, off int) string {
	if off >= len(s) {
		return "unexpected end of text"
	}
	if s[off] == '"' {
		return "unterminated string"
	}
	r, size := utf8.DecodeRuneInString(s[off:])
	if r == utf8.RuneError && size <= 1 {
		return fmt.Sprintf("unexpected byte 0x%02x", s[off])
	}
	return fmt.Sprintf("unexpected character %q", r)
}

// quoteToken quotes a token for a message, shortening long ones so that one
// huge string literal does not swamp the diagnostic.
func quoteToken(text string) string {
	const limit = 24
	if utf8.RuneCountInString(text) > limit {
		return fmt.Sprintf("%q...", string([]rune(text)[:limit]))
	}
	return fmt.Sprintf("%q", text)
}

// orList joins alternatives as English does: "a", "a or b", "a, b or c".
func orList(items []string) string {
	switch len(items) {
	case 0:
		return "nothing"
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// Token classes for the state machines. They look at the text rather than the
// token type because the two lexers number their types differently, and the
// text alone tells the classes apart.
func isName(t lexer.Token) bool {
	c := firstByte(t.Value)
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isNumber(t lexer.Token) bool {
	c := firstByte(t.Value)
	return c == '-' || '0' <= c && c <= '9'
}

func isString(t lexer.Token) bool { return firstByte(t.Value) == '"' }

func firstByte(s string) byte {
	if s == "" {
		return 0
	}
	return s[0]
}

// expectRef is the machine of Ref, whose grammar is a straight line.
func expectRef(prefix []lexer.Token) ([]string, bool) {
	switch len(prefix) {
	case 0:
		return []string{"a layer name"}, true
	case 1:
		return []string{`"["`, "end of expression"}, true
	case 2:
		return []string{`"own"`, `"all"`}, true
	case 3:
		return []string{`"]"`}, true
	case 4:
		return []string{"end of expression"}, true
	}
	return nil, false
}

// vstate is where the value machine stands.
type vstate int

const (
	vName      vstate = iota // a call's name comes next
	vValue                   // any value comes next, as after "="
	vAfterName               // a name was read; "(" may follow
	vArgFirst                // after "(": an argument or ")"
	vArg                     // after "," between arguments
	vArgName                 // a name began an argument; "=" may follow
	vListItem                // after "[" or "," in a list: a value or "]"
	vDone                    // a value is complete
)

// valueMachine tracks the Call, Arg, Value and List grammars.
type valueMachine struct {
	st    vstate
	open  []byte   // the unclosed brackets, '(' or '['
	first string   // what a vName state expects, such as "a placement"
	end   []string // what may follow a complete value at the top level
}

// topDone reports whether a complete value stands at the top level, after
// which the enclosing grammar takes over.
func (m *valueMachine) topDone() bool {
	return len(m.open) == 0 && (m.st == vDone || m.st == vAfterName)
}

func (m *valueMachine) feed(t lexer.Token) bool {
	v := t.Value
	switch m.st {
	case vName:
		if !isName(t) {
			return false
		}
		m.st = vAfterName
		return true
	case vValue, vArgFirst, vArg, vListItem:
		switch {
		case m.st == vArgFirst && v == ")", m.st == vListItem && v == "]":
			m.open = m.open[:len(m.open)-1]
			m.st = vDone
		case isName(t) && (m.st == vArgFirst || m.st == vArg):
			m.st = vArgName
		case isName(t):
			m.st = vAfterName
		case isNumber(t), isString(t):
			m.st = vDone
		case v == "[":
			m.open = append(m.open, '[')
			m.st = vListItem
		default:
			return false
		}
		return true
	case vArgName, vAfterName:
		switch {
		case m.st == vArgName && v == "=":
			m.st = vValue
			return true
		case v == "(":
			m.open = append(m.open, '(')
			m.st = vArgFirst
			return true
		}
	}
	// A value is complete: a comma or a closing bracket may follow.
	if len(m.open) == 0 {
		return false
	}
	top := m.open[len(m.open)-1]
	switch {
	case v == ",":
		m.st = vArg
		if top == '[' {
			m.st = vListItem
		}
	case v == ")" && top == '(', v == "]" && top == '[':
		m.open = m.open[:len(m.open)-1]
		m.st = vDone
	default:
		return false
	}
	return true
}

func (m *valueMachine) expect() []string {
	var afterValue []string
	switch {
	case len(m.open) == 0:
		afterValue = m.end
	case m.open[len(m.open)-1] == '(':
		afterValue = []string{`","`, `")"`}
	default:
		afterValue = []string{`","`, `"]"`}
	}
	switch m.st {
	case vName:
		return []string{m.first}
	case vValue:
		return []string{"a value"}
	case vArgFirst:
		return []string{"an argument", `")"`}
	case vArg:
		return []string{"an argument"}
	case vListItem:
		return []string{"a value", `"]"`}
	case vArgName:
		return append([]string{`"="`}, afterValue...)
	case vAfterName:
		// Only a call at the top level may have parentheses, so "(" is
		// offered there alone.
		if len(m.open) == 0 {
			return append([]string{`"("`}, afterValue...)
		}
	}
	return afterValue
}

// callEntry returns the entry of a call whose first token is described by
// first, such as "a schedule (plateau, steps or constant)".
func callEntry(first string) entry {
	return entry{
		noun: "expression",
		expect: func(prefix []lexer.Token) ([]string, bool) {
			m := &valueMachine{first: first, end: []string{"end of expression"}}
			for _, t := range prefix {
				if !m.feed(t) {
					return nil, false
				}
			}
			return m.expect(), true
		},
	}
}

// pstate is where the patch machine stands.
type pstate int

const (
	pFirst      pstate = iota // the first statement
	pNext                     // after ";": another statement or the end
	pDropLayer                // after "drop" or one of its commas
	pDropNext                 // after a pattern of a drop
	pPlaceLayer               // after "place" or one of its commas
	pPlaceNext                // after a pattern of a place
	pSetTarget                // after "set"
	pSetDot                   // after the pattern of a set target
	pSetField                 // after the "." of a set target
	pSetOp                    // after the field of a set target
	pValue                    // in the value machine
)

var patchEnd = []string{`";"`, "end of patch"}

func expectPatch(prefix []lexer.Token) ([]string, bool) {
	st := pFirst
	var m *valueMachine
	for _, t := range prefix {
		v := t.Value
		ok := true
		switch st {
		case pFirst, pNext:
			switch v {
			case "drop":
				st = pDropLayer
			case "set":
				st = pSetTarget
			case "place":
				st = pPlaceLayer
			default:
				ok = false
			}
		case pDropLayer:
			st = pDropNext
		case pDropNext:
			switch v {
			case ",":
				st = pDropLayer
			case ";":
				st = pNext
			default:
				ok = false
			}
		case pPlaceLayer:
			st = pPlaceNext
		case pPlaceNext:
			switch v {
			case ",":
				st = pPlaceLayer
			case "on":
				st = pValue
				m = &valueMachine{first: placeFirst, end: patchEnd}
			default:
				ok = false
			}
		case pSetTarget:
			st = pSetDot
		case pSetDot:
			st, ok = pSetField, v == "."
		case pSetField:
			st, ok = pSetOp, isName(t)
		case pSetOp:
			st = pValue
			m = &valueMachine{st: vValue, end: patchEnd}
			ok = v == "=" || v == "*=" || v == "/="
		case pValue:
			if v == ";" && m.topDone() {
				st = pNext
			} else {
				ok = m.feed(t)
			}
		}
		if !ok {
			return nil, false
		}
	}
	switch st {
	case pFirst:
		return []string{`"drop"`, `"set"`, `"place"`}, true
	case pNext:
		return []string{`"drop"`, `"set"`, `"place"`, "end of patch"}, true
	case pDropLayer, pPlaceLayer:
		return []string{"a layer pattern"}, true
	case pDropNext:
		return append([]string{`","`}, patchEnd...), true
	case pPlaceNext:
		return []string{`","`, `"on"`}, true
	case pSetTarget:
		return []string{"a layer pattern or section name"}, true
	case pSetDot:
		return []string{`"."`}, true
	case pSetField:
		return []string{"a field name"}, true
	case pSetOp:
		return []string{`"="`, `"*="`, `"/="`}, true
	}
	return m.expect(), true
}

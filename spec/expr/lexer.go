package expr

import (
	"io"
	"regexp"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// The token syntax is written once, here, and shared by both lexers so that
// a number or a name means the same thing in a layer reference, a call and a
// patch.
const (
	// identPattern matches a name: a layer, a function, an argument or a
	// field.
	identPattern = `[A-Za-z_][A-Za-z0-9_]*`
	// numberPattern matches an integer or a decimal with an optional
	// exponent, such as 30, -0.05 or 5e-4. The sign is part of the number
	// because the language has no arithmetic, so a lone "-" never occurs.
	numberPattern = `-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?`
	// stringPattern matches a double-quoted string with Go escapes on one
	// line. A string that runs into a newline or the end of the text does
	// not match, which the error reporting turns into "unterminated string".
	stringPattern = `"(?:\\.|[^"\\\n])*"`
	// punctPattern matches the punctuation. The two-character operators come
	// first because the rules are tried in order.
	punctPattern = `\*=|/=|[][(),=;.]`
	// globPattern matches a layer-name glob in path.Match syntax. Brackets
	// are glob characters here, which is why patches need a lexer of their
	// own: in a layer reference "pool2[all]" they are punctuation.
	globPattern = `[A-Za-z0-9_*?\[\]\-^\\]+`
)

// exprLexer tokenises layer references and calls. It has no pattern token,
// so brackets are always punctuation.
var exprLexer = lexer.MustSimple([]lexer.SimpleRule{
	{Name: "ws", Pattern: `\s+`},
	{Name: "Number", Pattern: numberPattern},
	{Name: "Ident", Pattern: identPattern},
	{Name: "String", Pattern: stringPattern},
	{Name: "Punct", Pattern: punctPattern},
})

// Token types of the patch lexer. They carry the same names as the rules of
// exprLexer, so that the Call, Value and List grammars, which name token types,
// work with either lexer.
const (
	patchIdent lexer.TokenType = lexer.EOF - 1 - iota
	patchNumber
	patchString
	patchPunct
	patchPattern
)

var patchSymbols = map[string]lexer.TokenType{
	"EOF":     lexer.EOF,
	"Ident":   patchIdent,
	"Number":  patchNumber,
	"String":  patchString,
	"Punct":   patchPunct,
	"Pattern": patchPattern,
}

// patchRules are tried in order wherever an ordinary token may appear.
var patchRules = []struct {
	typ lexer.TokenType
	re  *regexp.Regexp
}{
	{patchNumber, regexp.MustCompile(`^(?:` + numberPattern + `)`)},
	{patchIdent, regexp.MustCompile(`^(?:` + identPattern + `)`)},
	{patchString, regexp.MustCompile(`^(?:` + stringPattern + `)`)},
	{patchPunct, regexp.MustCompile(`^(?:` + punctPattern + `)`)},
}

var globRE = regexp.MustCompile(`^(?:` + globPattern + `)`)

// patchLexerDef is the lexer of ablation patches. Whether "fc[67]" is one
// glob or a name followed by a list depends on where it stands: a glob after
// "drop", "place", "set" and the commas of their layer lists, ordinary tokens
// after "on" and after the "." of a set target. A regular-expression lexer
// with states cannot tell the keyword "on" from a glob that starts with "on"
// (it takes the first rule that matches, not the longest), so this lexer is
// written by hand; the token syntax is still the shared patterns above.
type patchLexerDef struct{}

var _ lexer.StringDefinition = patchLexerDef{}

func (patchLexerDef) Symbols() map[string]lexer.TokenType { return patchSymbols }

func (d patchLexerDef) Lex(filename string, r io.Reader) (lexer.Lexer, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return d.LexString(filename, string(b))
}

func (patchLexerDef) LexString(filename, s string) (lexer.Lexer, error) {
	return &patchLexer{
		src: s,
		pos: lexer.Position{Filename: filename, Line: 1, Column: 1},
	}, nil
}

// patchMode says what the patch lexer expects next.
type patchMode int

const (
	// modeStmt is the start of a statement, where a keyword is expected.
	modeStmt patchMode = iota
	// modeLayers follows "drop" and "place": globs separated by commas, up to
	// the keyword "on".
	modeLayers
	// modeTarget follows "set": one glob, up to the ".".
	modeTarget
	// modeValue follows "on" and the "." of a set target: ordinary tokens up
	// to the next ";".
	modeValue
)

type patchLexer struct {
	src  string
	pos  lexer.Position
	mode patchMode
}

func (l *patchLexer) Next() (lexer.Token, error) {
	for l.pos.Offset < len(l.src) && isSpace(l.src[l.pos.Offset]) {
		l.pos.Advance(l.src[l.pos.Offset : l.pos.Offset+1])
	}
	if l.pos.Offset >= len(l.src) {
		return lexer.EOFToken(l.pos), nil
	}
	rest := l.src[l.pos.Offset:]
	if l.mode == modeLayers || l.mode == modeTarget {
		if m := globRE.FindString(rest); m != "" {
			if l.mode == modeLayers && m == "on" {
				l.mode = modeValue
				return l.emit(patchIdent, m), nil
			}
			return l.emit(patchPattern, m), nil
		}
	}
	for _, r := range patchRules {
		m := r.re.FindString(rest)
		if m == "" {
			continue
		}
		switch {
		case m == ";":
			l.mode = modeStmt
		case m == "." && l.mode == modeTarget:
			l.mode = modeValue
		case r.typ == patchIdent && l.mode == modeStmt:
			switch m {
			case "drop", "place":
				l.mode = modeLayers
			case "set":
				l.mode = modeTarget
			}
		}
		return l.emit(r.typ, m), nil
	}
	return lexer.Token{}, &lexer.Error{Msg: "invalid input", Pos: l.pos}
}

func (l *patchLexer) emit(typ lexer.TokenType, text string) lexer.Token {
	t := lexer.Token{Type: typ, Value: text, Pos: l.pos}
	l.pos.Advance(text)
	return t
}

// isSpace reports the bytes that `\s` matches in the expression lexer, so
// that both lexers skip the same white space.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

// lexAll returns the tokens of s, ending with EOF, or the lexer's error.
func lexAll(def lexer.Definition, filename, s string) ([]lexer.Token, error) {
	var (
		lx  lexer.Lexer
		err error
	)
	if sd, ok := def.(lexer.StringDefinition); ok {
		lx, err = sd.LexString(filename, s)
	} else {
		lx, err = def.Lex(filename, strings.NewReader(s))
	}
	if err != nil {
		return nil, err
	}
	return lexer.ConsumeAll(lx)
}

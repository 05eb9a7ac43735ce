package gen

import (
	"fmt"
	"go/token"
	"strings"
	"unicode"
)

// PackageName makes a network's name into a package name: lower case, with
// everything but letters and digits dropped, and no leading digits
// ("AlexNet-1gpu" → "alexnet1gpu"). A name with nothing left is "model"; a
// Go keyword gets "net" appended.
func PackageName(network string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(network) {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || b.Len() > 0 && unicode.IsDigit(r)) {
			b.WriteRune(r)
		}
	}
	name := b.String()
	switch {
	case name == "":
		return "model"
	case token.IsKeyword(name):
		return name + "net"
	}
	return name
}

// IsPackageName reports whether name can name a package: an identifier that
// is neither a keyword nor the blank identifier.
func IsPackageName(name string) bool {
	return token.IsIdentifier(name) && name != "_"
}

// exported makes an exported Go identifier from a spec name: the pieces
// between non-alphanumeric characters, each capitalised ("conv1" → "Conv1",
// "fc_out" → "FcOut"). A name that would start with a digit gets an "L"
// (for layer) in front.
func exported(name string) string {
	var b strings.Builder
	for _, piece := range strings.FieldsFunc(name, func(r rune) bool {
		return r >= unicode.MaxASCII || !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		b.WriteString(strings.ToUpper(piece[:1]) + piece[1:])
	}
	s := b.String()
	if s == "" || unicode.IsDigit(rune(s[0])) {
		s = "L" + s
	}
	return s
}

// idents hands out package-level identifiers and refuses to hand one out
// twice, so that two layer names that map to the same Go name ("conv-1" and
// "conv_1") are an error here rather than a compile error in the output.
type idents map[string]string // identifier → what claimed it

func (ids idents) claim(id, what string) error {
	if prev, ok := ids[id]; ok {
		return fmt.Errorf("gen: %s and %s would both be named %s in Go", prev, what, id)
	}
	ids[id] = what
	return nil
}

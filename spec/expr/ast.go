// Package expr parses the small expression language used inside string values
// of an alexnetc network spec: layer input references ("pool2[all]"), calls
// for weight initialisers, learning-rate schedules and placements
// ("normal(std=0.01)", "plateau(factor=0.1)", "gpu(0)"), and ablation
// patches ("drop norm*; set conv*.act = tanh").
//
// Every entry point takes the text inside the TOML quotes, the file position
// of its first character and a function that maps a byte offset inside the
// text to a file position, so that a diagnostic points at the offending
// character in the spec file even when the string holds escapes or spans
// lines. Syntax errors are reported one per string, because the parser stops
// at the first; the checks that follow (unknown functions, bad arguments,
// values out of range) report every problem they find.
//
// The Pos fields of the AST and of the checked results (Init, Schedule,
// Place) are positions inside the string, as participle fills them; their
// Offset is a byte offset that the caller's posOf turns into a file
// position, so a later stage can report a problem at the right column.
package expr

import "github.com/alecthomas/participle/v2/lexer"

// Grammar is the expression language in EBNF. It is quoted in docs/spec.md
// and repeated in the comment above the AST types below.
const Grammar = `Ref      = Name [ "[" ( "own" | "all" ) "]" ] .

Call     = Name [ "(" [ Arg { "," Arg } ] ")" ] .
Arg      = [ Name "=" ] Value .
Value    = Number | String | Name | List .
List     = "[" [ Value { "," Value } [ "," ] ] "]" .

Init     = Call .  (* normal(mean, std) | uniform(low, high) | constant(value) *)
Schedule = Call .  (* plateau(factor, max_drops, patience) | steps(at, factor) | constant *)
Place    = Call .  (* split | gpu(n) *)

Patch    = Stmt { ";" Stmt } [ ";" ] .
Stmt     = "drop" Pattern { "," Pattern }
         | "set" Target ( "=" | "*=" | "/=" ) SetValue
         | "place" Pattern { "," Pattern } "on" Place .
Target   = Pattern "." Name .
SetValue = Name "(" [ Arg { "," Arg } ] ")" | Value .

Name     = ( letter | "_" ) { letter | digit | "_" } .
Number   = [ "-" ] digits [ "." digits ] [ ( "e" | "E" ) [ "+" | "-" ] digits ] .
String   = '"' { character | "\" escape } '"' .  (* Go syntax, one line *)
Pattern  = globchar { globchar } .  (* a path.Match glob: letters, digits, _ * ? [ ] - ^ \ *)
`

// The grammar, as implemented by the participle tags of the types below:
//
//	Ref      = Name [ "[" ( "own" | "all" ) "]" ] .
//
//	Call     = Name [ "(" [ Arg { "," Arg } ] ")" ] .
//	Arg      = [ Name "=" ] Value .
//	Value    = Number | String | Name | List .
//	List     = "[" [ Value { "," Value } [ "," ] ] "]" .
//
//	Init     = Call .  (* normal(mean, std) | uniform(low, high) | constant(value) *)
//	Schedule = Call .  (* plateau(factor, max_drops, patience) | steps(at, factor) | constant *)
//	Place    = Call .  (* split | gpu(n) *)
//
//	Patch    = Stmt { ";" Stmt } [ ";" ] .
//	Stmt     = "drop" Pattern { "," Pattern }
//	         | "set" Target ( "=" | "*=" | "/=" ) SetValue
//	         | "place" Pattern { "," Pattern } "on" Place .
//	Target   = Pattern "." Name .
//	SetValue = Name "(" [ Arg { "," Arg } ] ")" | Value .
//
//	Name     = ( letter | "_" ) { letter | digit | "_" } .
//	Number   = [ "-" ] digits [ "." digits ] [ ( "e" | "E" ) [ "+" | "-" ] digits ] .
//	String   = '"' { character | "\" escape } '"' .  (* Go syntax, one line *)
//	Pattern  = globchar { globchar } .  (* a path.Match glob: letters, digits, _ * ? [ ] - ^ \ *)
//
// A Name and a Call without parentheses are the same thing to the parser, so
// Value holds both in CallLit; the rule that only a set value may be a call
// with parentheses is checked after parsing, where the error message can say
// so. A Pattern token exists only in the patch lexer, which produces it
// after "drop", "set", "place" and the commas of their layer lists; anywhere
// else brackets are punctuation.

// Connect says which GPUs' parts of a split layer's output a layer reads. The
// paper's network lets the kernels of some layers take input from all kernel
// maps of the layer below and others only from the kernel maps on the same
// GPU, which is how it limits communication between the two GPUs.
type Connect int

const (
	// Own means each GPU reads only its own GPU's part of the input layer.
	// It is the default when a reference has no brackets.
	Own Connect = iota
	// All means every GPU reads the parts of all GPUs.
	All
)

// Capture lets participle fill a Connect from the "own" or "all" token.
func (c *Connect) Capture(values []string) error {
	*c = Own
	if len(values) > 0 && values[0] == "all" {
		*c = All
	}
	return nil
}

func (c Connect) String() string {
	if c == All {
		return "all"
	}
	return "own"
}

// Ref is a layer's input reference, the value of the TOML key "input".
type Ref struct {
	Pos lexer.Position
	// Layer is the name of the layer whose output is read.
	Layer string `parser:"@Ident"`
	// Explicit reports whether the connectivity was written in brackets;
	// "pool2" and "pool2[own]" mean the same, but a spec checker may want to
	// tell them apart.
	Explicit bool    `parser:"( @'['"`
	Connect  Connect `parser:"  @( 'own' | 'all' ) ']' )?"`
}

// Call is a name with optional arguments: an initialiser, a schedule, a
// placement, or a call-valued set in a patch. A bare name is a Call without
// parentheses.
type Call struct {
	Pos  lexer.Position
	Name string `parser:"@Ident"`
	// Parens reports whether the call was written with parentheses, so that
	// "constant" and "constant()" print back as written.
	Parens bool   `parser:"( @'('"`
	Args   []*Arg `parser:"  ( @@ ( ',' @@ )* )? ')' )?"`
}

// Arg is one argument of a call. Name is empty for a positional argument.
type Arg struct {
	Pos   lexer.Position
	Name  string `parser:"( @Ident '=' )?"`
	Value *Value `parser:"@@"`
}

// Value is a number, a string, a name, a list, or (only as the value of a
// patch's set statement) a call. Exactly one of the *Lit fields is set. Use
// the methods rather than the fields: they decode the literals and answer
// whether the value has the asked-for type.
type Value struct {
	Pos lexer.Position
	// NumberLit is a number as written, such as "5e-4".
	NumberLit *string `parser:"  @Number"`
	// StringLit is a string as written, quotes and escapes included.
	StringLit *string `parser:"| @String"`
	// CallLit holds a name (a Call without parentheses) or a call.
	CallLit *Call `parser:"| @@"`
	ListLit *List `parser:"| @@"`
}

// List is a bracketed list of values, such as the epochs of a steps
// schedule. A trailing comma is allowed so that long lists diff well.
type List struct {
	Pos   lexer.Position
	Items []*Value `parser:"'[' ( @@ ( ',' @@ )* ','? )? ']'"`
}

// Patch is an ablation patch: statements applied in order to a network spec
// to derive a variant of it, such as the paper's experiments that remove a
// convolutional layer or train on one GPU.
type Patch struct {
	Pos   lexer.Position
	Stmts []*Stmt `parser:"@@ ( ';' @@ )* ';'?"`
}

// Stmt is one statement of a patch. Exactly one of its fields is set.
type Stmt struct {
	Pos   lexer.Position
	Drop  *Drop      `parser:"  @@"`
	Set   *Set       `parser:"| @@"`
	Place *PlaceStmt `parser:"| @@"`
}

// Pattern is a layer-name glob in path.Match syntax, such as "conv*" or
// "fc[67]", or, before the "." of a set target, possibly a section name such
// as "train"; the parser keeps the text and leaves the choice to the caller.
type Pattern struct {
	Pos  lexer.Position
	Glob string `parser:"@Pattern"`
}

// Drop removes the layers matched by any of its patterns.
type Drop struct {
	Pos      lexer.Position
	Patterns []*Pattern `parser:"'drop' @@ ( ',' @@ )*"`
}

// Set sets a field on the matched layers or on a section, or scales a
// numeric field with "*=" or "/=".
type Set struct {
	Pos    lexer.Position
	Target Pattern `parser:"'set' @@ '.'"`
	Field  string  `parser:"@Ident"`
	// FieldPos is the position of Field. It is filled in after parsing.
	FieldPos lexer.Position
	// Op is "=", "*=" or "/=".
	Op    string `parser:"@( '=' | '*=' | '/=' )"`
	Value *Value `parser:"@@"`
}

// PlaceStmt changes the placement of the matched layers.
type PlaceStmt struct {
	Pos      lexer.Position
	Patterns []*Pattern `parser:"'place' @@ ( ',' @@ )* 'on'"`
	// Where is the placement as written.
	Where *Call `parser:"@@"`
	// Place is Where checked and resolved. It is filled in after parsing.
	Place *Place
}

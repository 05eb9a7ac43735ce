// Package gen writes a plan (runtime/plan) as a Go package, with
// github.com/dave/jennifer: every shape a constant, every program a method
// whose body is one call per step with its sizes and arena offsets written
// out. It reads nothing but the plan: each call is the step's CPU call in
// the op table (plan.CPUCall), the runtime/cpu type built from the step's
// attributes and its method given the step's operands, which is exactly
// the call the CPU engine (runtime/engine) makes for the same plan, in the
// same order, so the generated model and the engine compute the same
// numbers bit for bit. The generator knows no kind of step or layer.
//
// The package also embeds plan.json (Plan) and can run its programs on any
// backend of that plan instead (NewOn, backend.go): the same methods, with
// the host's buffers copied to and from the backend.
//
// Generate is the stage's entry point. It returns files; writing them is the
// command's business. The output depends only on the plan and the options —
// no timestamps, no map iteration order — so that regenerating the committed
// packages in generated/ reproduces them byte for byte.
package gen

import (
	"bytes"
	"fmt"
	"go/format"
	"go/parser"
	"go/token"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/alexnetc/alexnetc/runtime/plan"
)

// Options say how the package is named and where it came from.
type Options struct {
	// Package is the Go package name; it must be a valid identifier.
	Package string
	// Spec is the spec's path as the header names it: relative, with
	// forward slashes, as it was given on the command line, so that the
	// output does not depend on where the repository is checked out.
	Spec string
	// CUDA also writes model_cuda.go (build tag cuda): NewCUDA, on the
	// PTX the package embeds from PTXFile. The plan must record its CUDA
	// module (compiler/cudagen.Generate does).
	CUDA bool
}

// File is one generated file.
type File struct {
	Name    string // base name, e.g. "model.go"
	Content []byte
}

// Generate returns the Go package for a plan: model.go, with the model type,
// its programs, its weight initialisation and its safetensors I/O; and
// plan.json, the memory and launch plan the code was generated from, which
// the CUDA backend runs and tools read.
func Generate(p *plan.Plan, opt Options) ([]File, error) {
	if !IsPackageName(opt.Package) {
		return nil, fmt.Errorf("gen: %q is not a valid Go package name", opt.Package)
	}
	if p == nil {
		return nil, fmt.Errorf("gen: no plan to generate")
	}
	f, err := genModel(p, opt)
	if err != nil {
		return nil, err
	}
	src, err := render(f)
	if err != nil {
		return nil, err
	}
	js, err := p.JSON()
	if err != nil {
		return nil, fmt.Errorf("gen: plan.json: %v", err)
	}
	files := []File{{Name: "model.go", Content: src}, {Name: "plan.json", Content: js}}
	if opt.CUDA {
		if p.Module.Marker() == "" {
			return nil, fmt.Errorf("gen: the plan records no CUDA module; generate its kernels first")
		}
		src, err := render(genCUDA(opt))
		if err != nil {
			return nil, err
		}
		files = append(files, File{Name: "model_cuda.go", Content: src})
	}
	return files, nil
}

// render turns a jennifer file into formatted source. jennifer renders
// unformatted; the result is parsed and formatted here, as protoc-gen-go
// does, so that a bug in the generator shows up as an error that carries the
// offending source with line numbers rather than as an opaque message.
func render(f *jen.File) ([]byte, error) {
	f.NoFormat = true
	var buf bytes.Buffer
	if err := f.Render(&buf); err != nil {
		return nil, fmt.Errorf("gen: rendering: %v", err)
	}
	return formatSource(buf.Bytes())
}

// formatSource parses and formats Go source, or returns every syntax error
// with the numbered source.
func formatSource(src []byte) ([]byte, error) {
	fset := token.NewFileSet()
	if _, err := parser.ParseFile(fset, "model.go", src, parser.ParseComments|parser.AllErrors); err != nil {
		return nil, fmt.Errorf("gen: generated code does not parse: %v\n%s", err, numbered(src))
	}
	out, err := format.Source(src)
	if err != nil {
		return nil, fmt.Errorf("gen: formatting generated code: %v\n%s", err, numbered(src))
	}
	return out, nil
}

// numbered prefixes every line of src with its number.
func numbered(src []byte) string {
	var b strings.Builder
	for i, line := range strings.Split(string(src), "\n") {
		fmt.Fprintf(&b, "%5d\t%s\n", i+1, line)
	}
	return b.String()
}

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/alexnetc/alexnetc/compiler"
	"github.com/alexnetc/alexnetc/compiler/check"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// inputError is a bad input file other than a spec (a plan.json, weights):
// exit status 2, with the file named.
type inputError struct {
	file string
	err  error
}

func (e inputError) Error() string {
	if e.file == "" {
		return e.err.Error()
	}
	return e.file + ": " + e.err.Error()
}
func (e inputError) Unwrap() error { return e.err }

// isPlanFile says whether a command's positional argument is a compiled
// plan (plan.json, as `alexnetc compile` writes it) rather than a spec.
func isPlanFile(path string) bool { return strings.HasSuffix(strings.ToLower(path), ".json") }

// readPlan reads a plan.json. A plan of another format version, or one
// that is not a plan at all, is refused, never half-loaded.
func readPlan(path string) (*plan.Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, inputError{path, fmt.Errorf("cannot read the plan: %w", err)}
	}
	p, err := plan.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, inputError{path, err}
	}
	return p, nil
}

// planOptions are what a command asks of the plan it runs.
type planOptions struct {
	variant  string
	batch    int  // 0: the spec's [train] batch, or the plan's
	single   bool // every GPU's part on one device
	keepAll  bool
	dataPath string // overrides [data] path
}

// loadPlan is what train, eval, predict and bench run: a plan.json as it
// was compiled, or a spec (the embedded example when path is empty)
// compiled here. The check.Network comes back too when there was a spec,
// for the commands that print its layers; it is nil for a plan.json.
func loadPlan(path, example string, o planOptions) (*plan.Plan, *check.Network, error) {
	if isPlanFile(path) {
		p, err := readPlan(path)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case o.variant != "" && o.variant != p.Variant:
			return nil, nil, usageError{fmt.Sprintf("--variant %s: %s was compiled for %s; compile the variant from its spec", o.variant, path, variantName(p.Variant))}
		case o.batch != 0 && o.batch != p.Batch:
			return nil, nil, usageError{fmt.Sprintf("--batch %d: %s was compiled for batch %d; compile it again with --batch %d", o.batch, path, p.Batch, o.batch)}
		case o.single && p.Devices() != 1:
			return nil, nil, usageError{fmt.Sprintf("%s runs on %d devices; --devices one needs the spec", path, p.Devices())}
		case o.keepAll && !p.KeepAll:
			return nil, nil, usageError{fmt.Sprintf("%s was compiled without keeping every buffer; use the spec", path)}
		}
		if o.dataPath != "" {
			p.Data.Path = o.dataPath
		}
		return p, nil, nil
	}
	n, _, err := loadNetworksOr(path, o.variant, example)
	if err != nil {
		return nil, nil, err
	}
	if o.dataPath != "" {
		n.Spec.Data.Path = o.dataPath
	}
	p, err := compiler.Compile(n, compiler.Options{Batch: o.batch, SingleDevice: o.single, KeepAll: o.keepAll, Source: specSource(path, example)})
	if err != nil {
		return nil, nil, err
	}
	return p, n, nil
}

// specSource names a spec in a plan, with forward slashes, so that a plan
// compiled on any machine or OS says the same.
func specSource(path, example string) string {
	if path == "" {
		return "examples/" + example + " (embedded)"
	}
	return filepath.ToSlash(path)
}

func variantName(v string) string {
	if v == "" {
		return "the base network"
	}
	return "variant " + v
}

// planName names a plan's run: the network, and its variant if any.
func planName(p *plan.Plan) string {
	if p.Variant != "" {
		return p.Network + "-" + p.Variant
	}
	return p.Network
}

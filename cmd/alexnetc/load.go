package main

import (
	"errors"
	"io/fs"
	"os"

	"github.com/alexnetc/alexnetc/compiler/check"
	"github.com/alexnetc/alexnetc/diag"
	"github.com/alexnetc/alexnetc/examples"
	"github.com/alexnetc/alexnetc/spec"
)

// readSpec reads and parses a spec file; an empty path means the embedded
// paper network. A file that cannot be read is reported like any other spec
// error, at file:1:1.
func readSpec(path string) (*spec.Spec, error) { return readSpecOr(path, examples.Default) }

// readSpecOr reads path, or the named embedded example when path is empty.
func readSpecOr(path, example string) (*spec.Spec, error) {
	var src []byte
	var err error
	if path == "" {
		path = "examples/" + example
		src, err = examples.FS.ReadFile(example)
	} else {
		src, err = os.ReadFile(path)
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		var l diag.List
		l.Add(diag.Pos{File: path, Line: 1, Col: 1}, "cannot read the spec: %v", err)
		return nil, l
	}
	s, diags := spec.Parse(path, src)
	if len(diags) > 0 {
		return nil, diags
	}
	return s, nil
}

// loadNetworks checks the base network and every variant. With a variant
// name it returns that variant's network first; otherwise the base network.
// Errors in any variant fail the whole load, since a spec is checked whole.
func loadNetworks(path, variant string) (*check.Network, []*check.Network, error) {
	return loadNetworksOr(path, variant, examples.Default)
}

// loadNetworksOr is loadNetworks with another embedded default.
func loadNetworksOr(path, variant, example string) (*check.Network, []*check.Network, error) {
	s, err := readSpecOr(path, example)
	if err != nil {
		return nil, nil, err
	}
	nets, diags := check.Variants(s)
	if variant != "" && s.FindVariant(variant) == nil {
		_, errs := s.ApplyVariant(variant)
		diags.Append(errs)
	}
	if len(diags) > 0 {
		return nil, nil, diags
	}
	for _, n := range nets {
		if n.Variant == variant {
			return n, nets, nil
		}
	}
	return nets[0], nets, nil
}

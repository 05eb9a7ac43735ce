package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/alexnetc/alexnetc/compiler/cudagen"
	"github.com/alexnetc/alexnetc/compiler/gen"
	"github.com/alexnetc/alexnetc/examples"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// runCompile lowers, plans and generates a network and writes the package
// into a directory: model.go and plan.json. It is what `//go:generate alexnetc compile model.toml -o .`
// runs, so its output depends only on its arguments and the spec.
func runCompile(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("compile", flag.ContinueOnError)
	out := fs.String("o", "", "write the package into `DIR`, creating it if needed")
	pkg := fs.String("pkg", "", "the package `NAME` (default: the network's name as a Go identifier)")
	variant := fs.String("variant", "", "compile this variant of the network")
	batch := fs.Int("batch", 0, "images per step, `N` (default: the spec's [train] batch)")
	cuda := fs.Bool("cuda", false, "also write kernels.cu: the CUDA C of every kernel the plan launches, specialized with its constants")
	ptx := fs.Bool("ptx", false, "also compile kernels.cu to kernels.ptx (compute_80: A100, H100, H200) with nvcc, so that a GPU machine needs only the driver")
	toolkit := fs.String("cuda-toolkit", "", "where nvcc and ptxas are (`DIR`; default: PATH, then .cuda/ as make cuda leaves it)")
	pos, err := parseFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 1:
		return usageError{"expected one spec file"}
	case *out == "":
		return usageError{"-o DIR is required"}
	case *batch < 0:
		return usageError{fmt.Sprintf("--batch %d: the batch must be positive", *batch)}
	case *pkg != "" && !gen.IsPackageName(*pkg):
		return usageError{fmt.Sprintf("-pkg %q is not a valid Go package name", *pkg)}
	}
	if isPlanFile(first(pos)) {
		return usageError{fmt.Sprintf("%s: compile takes a spec (.toml); the plan is what it writes", first(pos))}
	}
	// The header and the plan name the spec as it was given, with forward
	// slashes, so that regenerating on any machine or OS gives the same
	// bytes.
	specName := specSource(first(pos), examples.Default)
	p, _, err := loadPlan(first(pos), examples.Default, planOptions{variant: *variant, batch: *batch})
	if err != nil {
		return err
	}
	name := *pkg
	if name == "" {
		name = gen.PackageName(p.Network)
	}
	// The kernels first: generating them records the CUDA module in the
	// plan, which plan.json and model_cuda.go then carry.
	var kernels []gen.File
	if *cuda || *ptx {
		if kernels, err = cudaFiles(p, *ptx, *toolkit); err != nil {
			return err
		}
	}
	files, err := gen.Generate(p, gen.Options{Package: name, Spec: specName, CUDA: *ptx})
	if err != nil {
		return err
	}
	files = append(files, kernels...)

	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	var names []string
	for _, f := range files {
		if err := writeAtomic(filepath.Join(*out, f.Name), f.Content); err != nil {
			return err
		}
		names = append(names, f.Name)
	}
	var arenas []string
	for _, dm := range p.Memory.Devices {
		arenas = append(arenas, commas(dm.Arena))
	}
	fmt.Fprintf(stdout, "wrote %s to %s (package %s); arena bytes per device: %s\n",
		strings.Join(names, ", "), *out, name, strings.Join(arenas, ", "))
	return nil
}

// cudaFiles generates the plan's kernels as CUDA C and, when asked, their
// PTX, which the CUDA backend loads through the driver's JIT.
func cudaFiles(p *plan.Plan, ptx bool, root string) ([]gen.File, error) {
	m, err := cudagen.Generate(p)
	if err != nil {
		return nil, err
	}
	files := []gen.File{{Name: "kernels.cu", Content: []byte(m.Source)}}
	if !ptx {
		return files, nil
	}
	tk, err := cudagen.FindToolkit(root)
	if err != nil && root == "" {
		tk, err = cudagen.FindToolkit(".cuda")
	}
	if err != nil {
		return nil, fmt.Errorf("--ptx needs nvcc (give --cuda-toolkit DIR, or run make cuda): %v", err)
	}
	code, err := tk.PTX(m.Source, "compute_80")
	if err != nil {
		return nil, err
	}
	return append(files, gen.File{Name: gen.PTXFile, Content: code}), nil
}

// writeAtomic replaces a file with new contents through a temporary file in
// the same directory, so that an interrupted run never leaves half a file
// behind for the compiler (or git) to trip over.
func writeAtomic(path string, content []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Command cudaptx writes the CUDA kernels of the device check's and the
// bench's networks and compiles them to PTX, for a GPU machine that has the
// driver and nothing else (scripts/device-check.sh runs it). It needs a
// CUDA toolkit but no GPU.
//
//	cudaptx [-toolkit .cuda] [-root .] -o DIR
//
// For each case it writes DIR/kernels-HASH.cu and DIR/kernels-HASH.ptx
// (PTX for compute_80, which the driver compiles for any later GPU), HASH
// naming the module so that runtime/cuda finds the PTX of a plan's kernels.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/alexnetc/alexnetc/compiler/cudagen"
	"github.com/alexnetc/alexnetc/experiments/cudacheck"
	"github.com/alexnetc/alexnetc/runtime/cuda"
)

func main() {
	toolkit := flag.String("toolkit", ".cuda", "root of the CUDA toolkit (scripts/cuda-toolkit.sh unpacks one into .cuda); empty: PATH")
	root := flag.String("root", ".", "the repository root, where the specs are")
	out := flag.String("o", "", "output directory")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: cudaptx [-toolkit DIR] [-root DIR] -o DIR")
		os.Exit(2)
	}
	if err := run(*toolkit, *root, *out); err != nil {
		fmt.Fprintln(os.Stderr, "cudaptx:", err)
		os.Exit(1)
	}
}

func run(toolkit, root, out string) error {
	tk, err := cudagen.FindToolkit(toolkit)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, c := range append(cudacheck.CheckCases[:len(cudacheck.CheckCases):len(cudacheck.CheckCases)], cudacheck.BenchCases...) {
		_, m, err := cudacheck.LoadPlan(root, c)
		if err != nil {
			return fmt.Errorf("%s: %w", c, err)
		}
		if err := cudacheck.WritePTX(tk, out, m); err != nil {
			return fmt.Errorf("%s: %w", c, err)
		}
		fmt.Printf("%-28s %4d functions  %s\n", c, len(m.Funcs), cuda.PTXName(m.Hash))
	}
	return nil
}

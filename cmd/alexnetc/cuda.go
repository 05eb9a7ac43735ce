//go:build cuda

package main

import (
	"fmt"
	"os"

	"github.com/alexnetc/alexnetc/compiler/cudagen"
	"github.com/alexnetc/alexnetc/runtime/cuda"
	"github.com/alexnetc/alexnetc/runtime/device"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

func init() { newCUDA = openCUDA }

// openCUDA makes the CUDA backend of a plan: its kernels generated
// (recording the module's functions in the plan), their PTX read from
// $ALEXNETC_PTX or compiled with the toolkit (PATH, then .cuda/), and the
// plan's devices on the machine's GPUs.
func openCUDA(p *plan.Plan, seed uint64) (device.Backend, error) {
	m, err := cudagen.Generate(p)
	if err != nil {
		return nil, err
	}
	var ptx []byte
	if path := os.Getenv("ALEXNETC_PTX"); path != "" {
		if ptx, err = os.ReadFile(path); err != nil {
			return nil, inputError{path, err}
		}
	} else {
		tk, err := cudagen.FindToolkit("")
		if err != nil {
			tk, err = cudagen.FindToolkit(".cuda")
		}
		if err != nil {
			return nil, fmt.Errorf("--device cuda needs the kernels' PTX: set ALEXNETC_PTX to the kernels.ptx that alexnetc compile --ptx wrote, or put nvcc on PATH: %v", err)
		}
		if ptx, err = tk.PTX(m.Source, cuda.PTXArch); err != nil {
			return nil, err
		}
	}
	drv, err := cuda.NewCU()
	if err != nil {
		return nil, fmt.Errorf("--device cuda: %w", err)
	}
	b, err := cuda.New(p, ptx, drv, cuda.Options{Seed: seed})
	if err != nil {
		drv.Close()
		return nil, err
	}
	return b, nil
}

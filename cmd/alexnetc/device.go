package main

import (
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/alexnetc/alexnetc/compiler/cudagen"
	"github.com/alexnetc/alexnetc/runtime/cuda"
	"github.com/alexnetc/alexnetc/runtime/device"
	"github.com/alexnetc/alexnetc/runtime/engine"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// devices are what --device names: the backends, and the CUDA backend on
// the emulated device (no GPU needed: the CUDA host code, streams and
// events, with the kernels run on the CPU).
var devices = append(slices.Clone(device.Names), "cuda-emulator")

// deviceFlag adds --device to a command.
func deviceFlag(fs *flag.FlagSet) *string {
	return fs.String("device", "cpu", "what runs the plan: "+strings.Join(devices, ", ")+" (cuda needs a binary built with make cuda; cuda-emulator runs the CUDA backend on an emulated GPU, slowly)")
}

// checkDevice refuses a device this binary cannot run, before any work.
func checkDevice(name string) error {
	if !slices.Contains(devices, name) {
		return usageError{fmt.Sprintf("--device %s: want %s", name, strings.Join(devices, ", "))}
	}
	if name == "cuda" && newCUDA == nil {
		return notBuiltError{device.ErrNotBuilt{Backend: "CUDA", Build: "`make cuda` (go build -tags cuda ./cmd/alexnetc), on a machine with the CUDA driver"}}
	}
	return nil
}

// notBuiltError is a request for a part this binary lacks: exit status 2.
type notBuiltError struct{ device.ErrNotBuilt }

// newCUDA makes the CUDA backend of a plan; nil in a binary built without
// the cuda tag (cuda.go sets it).
var newCUDA func(p *plan.Plan, seed uint64) (device.Backend, error)

// newBackend makes the backend a command was asked for.
func newBackend(name string, p *plan.Plan, seed uint64) (device.Backend, error) {
	if err := checkDevice(name); err != nil {
		return nil, err
	}
	switch name {
	case "cuda":
		return newCUDA(p, seed)
	case "cuda-emulator":
		if _, err := cudagen.Generate(p); err != nil { // the module's functions, recorded in the plan
			return nil, err
		}
		return cuda.New(p, []byte(".entry "+p.Module.Marker()), cuda.NewEmulator(p.Devices()), cuda.Options{Seed: seed})
	}
	return engine.NewCPU(p, seed), nil
}

package main

import (
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/alexnetc/alexnetc/runtime/device"
	"github.com/alexnetc/alexnetc/runtime/engine"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// deviceFlag adds --device to a command.
func deviceFlag(fs *flag.FlagSet) *string {
	return fs.String("device", "cpu", "what runs the plan: "+strings.Join(device.Names, " or ")+" (cuda needs a binary built with make cuda)")
}

// checkDevice refuses a device this binary cannot run, before any work.
func checkDevice(name string) error {
	if !slices.Contains(device.Names, name) {
		return usageError{fmt.Sprintf("--device %s: want %s", name, strings.Join(device.Names, " or "))}
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
	if name == "cuda" {
		return newCUDA(p, seed)
	}
	return engine.NewCPU(p, seed), nil
}

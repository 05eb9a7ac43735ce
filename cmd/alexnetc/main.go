// Command alexnetc compiles AlexNet-family network specs.
//
//	alexnetc check [SPEC] [--variant NAME] [--json]
//	alexnetc plan [SPEC] [--variant NAME] [--batch N] [--json] [--launches]
//	alexnetc compile [SPEC] -o DIR [-pkg NAME] [--variant NAME] [--batch N]
//	alexnetc train [SPEC|PLAN] [--variant V] [--data PATH] [--epochs N] [--out DIR] [--resume] [--max-steps N] [--device cpu|cuda]
//	alexnetc eval [SPEC|PLAN] --weights FILE [--views 1|10] [--device cpu|cuda]
//	alexnetc predict --weights FILE [--spec SPEC | --plan PLAN] [--device cpu|cuda] IMAGE...
//	alexnetc ablate [SPEC] [--variants a,b] [--set PATCH]... [--seeds N] [--budget 3e|10m]
//	alexnetc bench [SPEC|PLAN] [--batch N] [--threads N] [--train] [--device cpu|cuda]
//	alexnetc viz [SPEC] --weights FILE [--out DIR]
//
// PLAN is a plan.json as `alexnetc compile` writes it: train, eval,
// predict and bench run from it alone. Errors in a spec print as
// file:line:col: message, all of them, and the command exits with status 2,
// as it does for any other bad input (flags, a plan.json or weights file
// that cannot be used, a device this binary was built without).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/alexnetc/alexnetc/diag"
)

// A command is one verb of the CLI.
type command struct {
	name    string
	args    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = []*command{
	{"check", "[SPEC] [--variant NAME] [--json]", "check a spec (default: the embedded paper network) and print its layer table and totals", runCheck},
	{"plan", "[SPEC] [--variant NAME] [--batch N] [--json] [--launches]", "print the memory plan and the CUDA launch plan", runPlan},
	{"compile", "[SPEC] -o DIR [-pkg NAME] [--variant NAME] [--batch N] [--cuda] [--ptx]", "write a Go package and plan.json for the network (and its CUDA kernels)", runCompile},
	{"train", "[SPEC|PLAN] [--variant V] [--data PATH] [--epochs N] [--out DIR] [--resume] [--batch N] [--checkpoint-every N] [--train-subset N] [--max-steps N] [--device cpu|cuda]", "train (default: examples/fashion.toml on Fashion-MNIST, on the CPU); PLAN is a plan.json from alexnetc compile", runTrain},
	{"eval", "[SPEC|PLAN] --weights FILE [--variant V] [--data PATH] [--views 1|10] [--device cpu|cuda]", "top-1 and top-5 error on the test set", runEval},
	{"predict", "--weights FILE [--spec SPEC | --plan PLAN] [--variant V] [--device cpu|cuda] IMAGE...", "the top-5 labels of images, with probabilities", runPredict},
	{"ablate", "[SPEC] [--base V] [--variants a,b|all|none] [--set '[NAME:] PATCH']... [--seeds N] [--budget 3e|10m] [--train-subset N] [--test-subset N] [--target-error 0.25] [--out DIR]", "train the base network and its variants under the same data, seeds and budget, and report them beside the paper", runAblate},
	{"bench", "[SPEC|PLAN] [--variant V] [--batch N] [--threads N] [--train] [--devices one|spec] [--device cpu|cuda] [--steps N] [--json] [--out FILE]", "time inference or training steps: images/s, per-layer time and GFLOP/s (CPU), peak memory", runBench},
	{"viz", "[SPEC] --weights FILE [--variant V] [--out DIR] [--images N] [--neighbours K] [--train-subset N]", "draw the first layer's kernels and test images' nearest training images by last-hidden-layer features", runViz},
}

// Exit statuses: 2 for bad input (a spec with errors, bad flags), 1 for
// anything else that went wrong.
const (
	exitFailure = 1
	exitBadSpec = 2
)

// usageError is a misuse of the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitBadSpec
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(args[1:], stdout, stderr)
		var diags diag.List
		var ue usageError
		var ie inputError
		var nb notBuiltError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &diags):
			fmt.Fprintln(stderr, diags.Error())
			return exitBadSpec
		case errors.As(err, &ue):
			fmt.Fprintf(stderr, "alexnetc %s: %s\nusage: alexnetc %s %s\n", c.name, ue.msg, c.name, c.args)
			return exitBadSpec
		case errors.As(err, &ie), errors.As(err, &nb):
			fmt.Fprintf(stderr, "alexnetc %s: %v\n", c.name, err)
			return exitBadSpec
		case errors.Is(err, flag.ErrHelp):
			return 0
		default:
			fmt.Fprintf(stderr, "alexnetc %s: %v\n", c.name, err)
			return exitFailure
		}
	}
	fmt.Fprintf(stderr, "alexnetc: unknown command %q%s\n", args[0], diag.Suggest(args[0], commandNames()))
	usage(stderr)
	return exitBadSpec
}

func commandNames() []string {
	var names []string
	for _, c := range commands {
		names = append(names, c.name)
	}
	return names
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: alexnetc COMMAND [arguments]")
	fmt.Fprintln(w)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n           %s\n", c.name, c.args, c.summary)
	}
}

// parseFlags parses flags that may come before, between or after the
// positional arguments (alexnetc check spec.toml --json) and returns the
// positional ones.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) ([]string, error) {
	fs.SetOutput(stderr)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{strings.TrimSpace(err.Error())}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/alexnetc/alexnetc/examples"

	"github.com/alexnetc/alexnetc/compiler/check"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

func runPlan(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	variant := fs.String("variant", "", "plan this variant")
	batch := fs.Int("batch", 0, "images per step (default: the spec's [train] batch)")
	asJSON := fs.Bool("json", false, "print plan.json")
	launches := fs.Bool("launches", false, "also list every launch of both programs")
	pos, err := parseFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError{"expected one spec file"}
	}
	if *batch < 0 {
		return usageError{fmt.Sprintf("--batch %d: must be positive", *batch)}
	}
	p, n, err := loadPlan(first(pos), examples.Default, planOptions{variant: *variant, batch: *batch})
	if err != nil {
		return err
	}
	if err := verified(p, stderr); err != nil {
		return err
	}
	if *asJSON {
		b, err := p.JSON()
		if err != nil {
			return err
		}
		_, err = stdout.Write(b)
		return err
	}
	printPlan(stdout, n, p, *launches)
	return nil
}

// verified runs the plan verifier. A plan that fails it is a bug in the
// compiler, not in the spec: the problems go to stderr, and nothing that a
// runtime might go on to use is printed.
func verified(p *plan.Plan, stderr io.Writer) error {
	probs := plan.Verify(p)
	if len(probs) == 0 {
		return nil
	}
	for _, pr := range probs {
		fmt.Fprintln(stderr, pr)
	}
	return fmt.Errorf("internal compiler error: the plan fails verification (%d problems)", len(probs))
}

// printPlan summarises a plan; n, the checked network, names the tensors
// of the transfers more fully when the plan was compiled here (nil for a
// plan.json).
func printPlan(w io.Writer, n *check.Network, p *plan.Plan, launches bool) {
	g := p
	title := p.Network
	if p.Variant != "" {
		title += " (variant " + p.Variant + ")"
	}
	fmt.Fprintf(w, "%s: %d device(s), batch %d\n\n", title, p.Devices(), p.Batch)

	fmt.Fprintln(w, "memory per device, bytes (transient: reused between buffers whose lifetimes do not overlap)")
	t := newTable("device|arena|persistent|transient infer|transient train|without reuse: infer|train", true, true, true, true, true, true, true)
	for d, dm := range p.Memory.Devices {
		t.row(fmt.Sprint(d), commas(dm.Arena), commas(dm.Persistent), commas(dm.Transient[plan.Infer]), commas(dm.Transient[plan.Train]),
			commas(dm.Naive[plan.Infer]), commas(dm.Naive[plan.Train]))
	}
	t.print(w)

	if transfers := p.Transfers(plan.Train); len(transfers) > 0 {
		fmt.Fprintf(w, "\ncross-GPU transfers of a training step (peer copies on the receiving GPU's copy stream)\n")
		t = newTable("pass|layer|tensor|channels|GPUs|bytes/image|bytes/batch", false, false, false, true, false, true, true)
		var total [2]int64
		for _, l := range transfers {
			tr := describeTransfer(n, g, l)
			t.row(tr.pass, tr.layer, tr.tensor, tr.channels, fmt.Sprintf("%d → %d", l.Args[0].Device, l.Device),
				commas(tr.bytes/int64(g.Batch)), commas(tr.bytes))
			total[boolIndex(tr.pass == "backward")] += tr.bytes
		}
		t.print(w)
		fmt.Fprintf(w, "total per batch: forward %s bytes, backward %s bytes\n", commas(total[0]), commas(total[1]))
	}

	fmt.Fprintln(w)
	count := 0
	for _, prog := range plan.Programs {
		ls := p.Launches[prog]
		count += len(ls)
		var kinds [4]int
		for _, l := range ls {
			kinds[kindIndex(l.Kind)]++
		}
		fmt.Fprintf(w, "%s: %d launches: %d kernels, %d copies, %d events recorded, %d waits\n",
			prog, len(ls), kinds[0], kinds[1], kinds[2], kinds[3])
	}
	if launches {
		for _, prog := range plan.Programs {
			fmt.Fprintf(w, "\n%s launches\n", prog)
			printLaunches(w, p.Launches[prog])
		}
	}
	fmt.Fprintf(w, "\nverified: %d launches, 0 problems (limits of %s)\n", count, targetNames())
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

func kindIndex(k plan.Kind) int {
	switch k {
	case plan.KernelLaunch:
		return 0
	case plan.CopyLaunch:
		return 1
	case plan.RecordEvent:
		return 2
	}
	return 3
}

func targetNames() string {
	var s []string
	for _, t := range plan.Targets {
		s = append(s, t.Name)
	}
	return strings.Join(s, " and ")
}

// transfer is one cross-GPU copy in the spec's words.
type transfer struct {
	pass, layer, tensor, channels string
	bytes                         int64
}

// describeTransfer names what a peer copy moves: the tensor and its channels
// in the numbering of the whole layer, the layer that reads it (forward) or
// whose backward pass sends it, and its size.
func describeTransfer(n *check.Network, g *plan.Plan, l *plan.Launch) transfer {
	st := g.Steps[plan.Train][l.Step]
	cc := struct{ C0, C1, D int }{st.Attrs.Int("C0"), st.Attrs.Int("C1"), st.Attrs.Int("D")}
	tr := transfer{pass: "forward", layer: st.Layer, bytes: l.Args[0].Rows * l.Args[0].RowBytes}
	dst := st.Arg("dst")
	backward := dst.Role == plan.Grad
	if backward {
		tr.pass = "backward"
	}
	if n == nil { // a plan.json: the buffers' own names and channels
		tr.tensor, tr.channels = st.Arg("src").Name, fmt.Sprintf("%d-%d", cc.C0, cc.C1)
		if st.Layer == "" && len(g.Model.Layers) > 0 {
			tr.layer = g.Model.Layers[0].Name
		}
		return tr
	}
	consumer := n.Layer(st.Layer)
	if consumer == nil { // the image, copied to every device
		tr.layer, tr.tensor = firstReader(n), n.Input.Name
		tr.channels = fmt.Sprintf("%d-%d", cc.C0, cc.C1)
		return tr
	}
	tr.tensor = consumer.In.Name
	// The consumer's part on the device that gathers its input: channel o
	// of the gathered input is channel r.C0+o-at of the input layer, for
	// the read r at offset at that holds it.
	gatherDev, o := l.Device, cc.D
	if backward {
		tr.tensor = consumer.In.Name + " gradient"
		gatherDev, o = st.Arg("src").Device, cc.C0
	}
	tr.channels = fmt.Sprintf("%d channels", cc.C1-cc.C0)
	if part := consumer.PartOn(gatherDev); part != nil {
		at := 0
		for _, r := range part.Reads {
			if o >= at && o < at+r.C1-r.C0 {
				c0 := r.C0 + o - at
				tr.channels = fmt.Sprintf("%d-%d", c0, c0+cc.C1-cc.C0)
			}
			at += r.C1 - r.C0
		}
	}
	return tr
}

// firstReader names the first layer that reads the image.
func firstReader(n *check.Network) string {
	for _, l := range n.Layers {
		if l.In == n.Input {
			return l.Name
		}
	}
	return n.Input.Name
}

// printLaunches lists a program's launches, one a line.
func printLaunches(w io.Writer, ls []plan.Launch) {
	t := newTable("#|stream|launch|grid|block|smem|loop|note", true, false, false, false, false, true, false, false)
	for _, l := range ls {
		what, grid, block, smem, loop := "", "", "", "", ""
		switch l.Kind {
		case plan.KernelLaunch:
			what = l.Kernel
			grid = fmt.Sprintf("%d×%d×%d", l.Grid[0], l.Grid[1], l.Grid[2])
			block = fmt.Sprintf("%d×%d×%d", l.Block[0], l.Block[1], l.Block[2])
			smem = commas(int64(l.SharedBytes))
		case plan.CopyLaunch:
			src := l.Args[0]
			what = fmt.Sprintf("copy %s B", commas(src.Rows*src.RowBytes))
			if l.Peer() {
				what = fmt.Sprintf("peer copy %d→%d %s B", src.Device, l.Device, commas(src.Rows*src.RowBytes))
			}
		case plan.RecordEvent, plan.WaitEvent:
			what = fmt.Sprintf("%s event %d", l.Kind, l.Event)
		}
		if l.Loop > 0 {
			loop = fmt.Sprintf("L%d×%d", l.Loop, l.Count)
		}
		t.row(fmt.Sprint(l.Index), fmt.Sprintf("%d/%s", l.Device, l.Stream), what, grid, block, smem, loop, l.Note)
	}
	t.print(w)
}

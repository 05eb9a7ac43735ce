package plan

import (
	"fmt"
	"os"
	"testing"

	"github.com/alexnetc/alexnetc/compiler/check"
	"github.com/alexnetc/alexnetc/compiler/lower"
	"github.com/alexnetc/alexnetc/spec"
)

func TestZZDump(t *testing.T) {
	src, _ := os.ReadFile("../../examples/alexnet.toml")
	s, _ := spec.Parse("alexnet.toml", src)
	n, _ := check.Check(s)
	g, _ := lower.Lower(n, lower.Options{})
	p := Build(g)
	for _, prog := range Programs {
		fmt.Println("==", prog)
		for i, st := range prog.Steps(g) {
			fmt.Printf("%3d d%d %-18s %+v | %s\n", i, st.Device, st.Kernel, st.Params, st.Note)
			for _, a := range st.Args {
				fmt.Printf("      %s=%v w=%v off=%d\n", a.Name, a.Buf, a.Write, p.Offset(prog, a.Buf))
			}
		}
	}
	fmt.Print(p.Memory)
}

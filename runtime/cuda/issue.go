package cuda

import "github.com/alexnetc/alexnetc/compiler/plan"

// Issue walks a program's launches in the order the host issues them:
// launches outside loops once, and the body of a loop (consecutive launches
// with one loop number) Count times in turn, a, b, a, b, ..., calling issue
// with each launch and its iteration.
func Issue(ls []plan.Launch, issue func(l *plan.Launch, iter int) error) error {
	for i := 0; i < len(ls); {
		j := i + 1
		for ls[i].Loop > 0 && j < len(ls) && ls[j].Loop == ls[i].Loop {
			j++
		}
		for it := range max(ls[i].Count, 1) {
			for k := i; k < j; k++ {
				if err := issue(&ls[k], it); err != nil {
					return err
				}
			}
		}
		i = j
	}
	return nil
}

// Address is the byte offset in its device's arena that a kernel receives
// for an argument in iteration iter of its loop; for a copy, where its
// first row starts.
func Address(a plan.Arg, iter int) int64 { return a.Offset + a.Start + int64(iter)*a.Advance }

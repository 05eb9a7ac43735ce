package plan

import (
	"math/rand/v2"
	"testing"
)

// TestRegionOverlaps compares the strided overlap test with a byte-by-byte
// one.
func TestRegionOverlaps(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func() Region {
		r := Region{Start: rng.Int64N(64), Rows: 1 + rng.Int64N(5), RowBytes: 1 + rng.Int64N(8)}
		r.Pitch = r.RowBytes + rng.Int64N(8)
		return r
	}
	bytes := func(r Region) map[int64]bool {
		m := map[int64]bool{}
		for _, iv := range r.intervals() {
			for b := iv[0]; b < iv[1]; b++ {
				m[b] = true
			}
		}
		return m
	}
	overlapping := 0
	for range 20000 {
		a, b := random(), random()
		want := false
		for x := range bytes(a) {
			want = want || bytes(b)[x]
		}
		if got := a.Overlaps(b); got != want {
			t.Fatalf("%+v overlaps %+v: got %v, want %v", a, b, got, want)
		}
		if got := b.Overlaps(a); got != want {
			t.Fatalf("%+v overlaps %+v: got %v, want %v", b, a, got, want)
		}
		if want {
			overlapping++
		}
	}
	// Both answers must be common for the comparison to mean anything.
	if overlapping < 2000 || overlapping > 18000 {
		t.Errorf("%d of 20000 random pairs overlap", overlapping)
	}
}

func TestUncovered(t *testing.T) {
	have := [][2]int64{{10, 20}, {0, 5}, {18, 30}}
	if _, _, ok := uncovered([][2]int64{{0, 5}, {12, 30}}, have); ok {
		t.Error("covered range reported")
	}
	if lo, hi, ok := uncovered([][2]int64{{2, 40}}, have); !ok || lo != 5 || hi != 10 {
		t.Errorf("got [%d, %d) %v, want [5, 10)", lo, hi, ok)
	}
	if lo, hi, ok := uncovered([][2]int64{{25, 40}}, have); !ok || lo != 30 || hi != 40 {
		t.Errorf("got [%d, %d) %v, want [30, 40)", lo, hi, ok)
	}
	if lo, hi, ok := uncovered([][2]int64{{0, 3}}, nil); !ok || lo != 0 || hi != 3 {
		t.Errorf("nothing written: got [%d, %d) %v, want [0, 3)", lo, hi, ok)
	}
}

// TestFootprint: a loop that advances an argument touches one row per
// iteration; a region whose rows touch becomes one range.
func TestFootprint(t *testing.T) {
	l := &Launch{Loop: 1, Count: 4}
	a := Arg{Offset: 1024, Bytes: 4096, Start: 64, Rows: 1, RowBytes: 100, Pitch: 100, Advance: 1000}
	if got, want := Footprint(l, a), (Region{1088, 4, 100, 1000}); got != want {
		t.Errorf("advancing argument: %+v, want %+v", got, want)
	}
	if got := a.Address(3); got != 1024+64+3000 {
		t.Errorf("address in iteration 3: %d", got)
	}
	b := Arg{Offset: 0, Bytes: 400, Start: 0, Rows: 4, RowBytes: 100, Pitch: 100}
	if got, want := Footprint(&Launch{Count: 1}, b), (Region{0, 1, 400, 400}); got != want {
		t.Errorf("rows that touch: %+v, want %+v", got, want)
	}
}

// TestIssue: loops run their body once per iteration, in turn.
func TestIssue(t *testing.T) {
	ls := []Launch{{Kernel: "a", Count: 1}, {Kernel: "b", Loop: 1, Count: 2}, {Kernel: "c", Loop: 1, Count: 2}, {Kernel: "d", Loop: 2, Count: 3}, {Kernel: "e"}}
	var got string
	if err := Issue(ls, func(l *Launch, iter int) error {
		got += l.Kernel + string(rune('0'+iter)) + " "
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := "a0 b0 c0 b1 c1 d0 d1 d2 e0 "; got != want {
		t.Errorf("issued %q, want %q", got, want)
	}
}

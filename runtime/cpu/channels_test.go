package cpu

import "testing"

// TestChannelCopy concatenates two towers' halves into one tensor, hands the
// halves back with Reverse, and adds a gradient with Add.
func TestChannelCopy(t *testing.T) {
	const n, hw = 2, 3
	a := make([]float32, n*2*hw) // tower 0: 2 channels
	b := make([]float32, n*3*hw) // tower 1: 3 channels
	for i := range a {
		a[i] = float32(i)
	}
	for i := range b {
		b[i] = float32(100 + i)
	}
	cat := make([]float32, n*5*hw)
	first := ChannelCopy{N: n, HW: hw, SrcC: 2, C0: 0, C1: 2, DstC: 5, D: 0}
	second := ChannelCopy{N: n, HW: hw, SrcC: 3, C0: 0, C1: 3, DstC: 5, D: 2}
	for _, c := range []ChannelCopy{first, second} {
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	first.Copy(a, cat)
	second.Copy(b, cat)
	for i := 0; i < n; i++ {
		for c := 0; c < 5; c++ {
			for k := 0; k < hw; k++ {
				var want float32
				if c < 2 {
					want = a[(i*2+c)*hw+k]
				} else {
					want = b[(i*3+c-2)*hw+k]
				}
				if got := cat[(i*5+c)*hw+k]; got != want {
					t.Fatalf("image %d channel %d: %g, want %g", i, c, got, want)
				}
			}
		}
	}
	back := make([]float32, len(b))
	second.Reverse().Copy(cat, back)
	for i := range b {
		if back[i] != b[i] {
			t.Fatalf("reverse copy differs at %d", i)
		}
	}
	second.Reverse().Add(cat, back)
	for i := range b {
		if back[i] != 2*b[i] {
			t.Fatalf("add differs at %d", i)
		}
	}
	bad := ChannelCopy{N: n, HW: hw, SrcC: 3, C0: 1, C1: 3, DstC: 5, D: 4}
	if bad.Validate() == nil {
		t.Error("destination range past the tensor accepted")
	}
}

// TestArena checks that a new arena reads as zeros, keeps what is written,
// and that a zero-sized one works too (it cannot be a mapping).
func TestArena(t *testing.T) {
	for _, size := range []int64{0, 64, 3 << 20} {
		a := NewArena(size)
		if a.Size() != size {
			t.Fatalf("size %d: Size() = %d", size, a.Size())
		}
		if size == 0 {
			continue
		}
		f := a.F32(0, size/4)
		for i, v := range f {
			if v != 0 {
				t.Fatalf("size %d: element %d is %g, not zero", size, i, v)
			}
		}
		f[len(f)-1] = 7
		if a.F32(size-4, 1)[0] != 7 {
			t.Fatalf("size %d: the last element did not keep its value", size)
		}
	}
}

package cpu

import (
	"fmt"
	"math"
	"testing"
)

func TestDropoutGradient(t *testing.T) {
	p := Dropout{Len: 40, Rate: 0.5}
	rng := NewRNG(11, 0)
	x := randn(rng, p.Len, 1)
	dy := randn(rng, p.Len, 1)
	mask := make([]uint8, p.Len)
	y := make([]float32, p.Len)
	p.Train(rng, x, y, mask)
	// With the mask held fixed the layer is y = x·mask.
	x64 := to64(x)
	f := func() []float64 {
		y := make([]float64, len(x64))
		for i, v := range x64 {
			y[i] = v * float64(mask[i])
		}
		return y
	}
	expectClose(t, "forward y", y, f(), fwdTol)
	dx := randn(rng, p.Len, 1)
	p.Backward(mask, dy, dx)
	expectClose(t, "dx", dx, numGrad(f, x64, to64(dy)), bwdTol)
}

// TestDropoutRate checks that the fraction dropped on a large tensor is
// within six standard deviations of Rate, that kept units are unscaled, and
// that the test-time forward multiplies by 1−Rate.
func TestDropoutRate(t *testing.T) {
	const n = 1 << 20
	x := make([]float32, n)
	for i := range x {
		x[i] = 1 + float32(i%7)
	}
	for _, rate := range []float32{0.5, 0.2, 0.9} {
		p := Dropout{Len: n, Rate: rate}
		rng := NewRNG(uint64(rate*100), 3)
		y := make([]float32, n)
		mask := make([]uint8, n)
		p.Train(rng, x, y, mask)
		dropped := 0
		for i := range y {
			switch {
			case mask[i] == 0 && y[i] == 0:
				dropped++
			case mask[i] == 1 && y[i] == x[i]:
			default:
				t.Fatalf("rate %g: unit %d has mask %d, x %g, y %g", rate, i, mask[i], x[i], y[i])
			}
		}
		r := float64(rate)
		sigma := math.Sqrt(n * r * (1 - r))
		if d := math.Abs(float64(dropped) - n*r); d > 6*sigma {
			t.Errorf("rate %g: dropped %d of %d, expected %.0f ± %.0f", rate, dropped, n, n*r, 6*sigma)
		}
		t.Logf("rate %g: dropped fraction %.5f", rate, float64(dropped)/n)

		p.Test(x, y)
		for i := range y {
			if y[i] != x[i]*(1-rate) {
				t.Fatalf("rate %g: test-time y[%d] = %g, want %g", rate, i, y[i], x[i]*(1-rate))
			}
		}
	}
}

func TestDropoutExtremes(t *testing.T) {
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8}
	y := make([]float32, 8)
	mask := make([]uint8, 8)
	rng := NewRNG(1, 1)
	Dropout{Len: 8, Rate: 0}.Train(rng, x, y, mask)
	for i := range y {
		if y[i] != x[i] {
			t.Fatal("rate 0 dropped a unit")
		}
	}
	Dropout{Len: 8, Rate: 1}.Train(rng, x, y, mask)
	for i := range y {
		if y[i] != 0 {
			t.Fatal("rate 1 kept a unit")
		}
	}
}

// TestDropoutDeterministic checks that the same seed gives the same mask, in
// place (y aliasing x) as well.
func TestDropoutDeterministic(t *testing.T) {
	p := Dropout{Len: 1000, Rate: 0.5}
	x := randn(NewRNG(0, 0), p.Len, 1)
	y1 := append([]float32(nil), x...)
	y2 := make([]float32, p.Len)
	m1, m2 := make([]uint8, p.Len), make([]uint8, p.Len)
	p.Train(NewRNG(77, 1), y1, y1, m1)
	p.Train(NewRNG(77, 1), x, y2, m2)
	for i := range m1 {
		if m1[i] != m2[i] || y1[i] != y2[i] {
			t.Fatalf("unit %d differs between runs with the same seed", i)
		}
	}
}

// TestDropoutPathsAgree runs Train, Test and Backward on every GEMM path
// (the AVX-512 one has vector loops for them) on lengths that are and are
// not a multiple of 32, with NaNs and signed zeros among the inputs, and
// requires the same bits everywhere.
func TestDropoutPathsAgree(t *testing.T) {
	for _, n := range []int{31, 32, 100, 1000} {
		p := Dropout{Len: n, Rate: 0.5}
		x := tieHeavy(NewRNG(uint64(n), 3), n)
		var ref [][]float32
		for _, path := range gemmPaths() {
			var got [][]float32
			withGEMMPath(t, path, func() {
				y, mask := make([]float32, n), make([]uint8, n)
				p.Train(NewRNG(7, 7), x, y, mask)
				yt, dx := make([]float32, n), make([]float32, n)
				p.Test(x, yt)
				p.Backward(mask, x, dx)
				m := make([]float32, n)
				for i, b := range mask {
					m[i] = float32(b)
				}
				got = [][]float32{y, m, yt, dx}
			})
			if ref == nil {
				ref = got
				continue
			}
			for k, what := range []string{"train y", "mask", "test y", "dx"} {
				sameBits(t, fmt.Sprintf("n=%d %s %s", n, path, what), got[k], ref[k])
			}
		}
	}
}

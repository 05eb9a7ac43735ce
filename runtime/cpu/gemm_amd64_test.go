package cpu

import (
	"fmt"
	"math"
	"testing"
)

// TestPack512 checks the AVX-512 packing routines against the portable
// ones, for both layouts of each operand, panel edges, and numbers of steps
// around the 16 that the transposing packers take at a time. The buffers
// start full of NaN, so a value the assembly fails to write shows.
func TestPack512(t *testing.T) {
	if avx512Gemm != gemmImpls[0] {
		t.Skip("no AVX-512 on this CPU")
	}
	testPack(t, 12, 32, packA512, packB512)
}

// TestPack256 is TestPack512 for the AVX2 path's packing.
func TestPack256(t *testing.T) {
	if chooseGemm("avx2") != avx2Gemm {
		t.Skip("no AVX2 on this CPU")
	}
	testPack(t, 6, 16, packA256, packB256)
}

func testPack(t *testing.T, mr, nr int,
	packA func(trans bool, a []float32, lda, i0, p0, m, kc int, dst []float32),
	packB func(trans bool, b []float32, ldb, p0, j0, kc, n int, dst []float32)) {
	rng := NewRNG(11, 3)
	fill := func(n int) []float32 {
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(math.NaN())
		}
		return d
	}
	same := func(t *testing.T, got, want []float32) {
		t.Helper()
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("element %d: got %g, want %g", i, got[i], want[i])
			}
		}
	}
	for _, kc := range []int{1, 5, 7, 8, 9, 15, 16, 17, 33, 300} {
		for _, trans := range []bool{false, true} {
			for _, m := range []int{1, 5, 6, 7, 11, 12, 13, 25, 36} {
				t.Run(fmt.Sprintf("A_m%d_kc%d_t%v", m, kc, trans), func(t *testing.T) {
					// op(A) is rows i0..i0+m, columns p0..p0+kc of a
					// larger matrix, stored exactly as long as needed.
					i0, p0 := 2, 3
					rows, cols := i0+m+1, p0+kc+2
					if trans {
						rows, cols = cols, rows
					}
					ld := cols + 1
					a := randn(rng, (rows-1)*ld+cols, 1)
					size := roundUp(m, mr) * kc
					got, want := fill(size), fill(size)
					packA(trans, a, ld, i0, p0, m, kc, got)
					packAGo(mr, trans, a, ld, i0, p0, m, kc, want)
					same(t, got, want)
				})
			}
			for _, n := range []int{1, 16, 17, 31, 32, 33, 65, 100} {
				t.Run(fmt.Sprintf("B_n%d_kc%d_t%v", n, kc, trans), func(t *testing.T) {
					p0, j0 := 3, 2
					rows, cols := p0+kc+1, j0+n+2
					if trans {
						rows, cols = cols, rows
					}
					ld := cols + 3
					b := randn(rng, (rows-1)*ld+cols, 1)
					size := roundUp(n, nr) * kc
					got, want := fill(size), fill(size)
					packB(trans, b, ld, p0, j0, kc, n, got)
					packBGo(nr, trans, b, ld, p0, j0, kc, n, want)
					same(t, got, want)
				})
			}
		}
	}
}

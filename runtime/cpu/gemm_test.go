package cpu

import (
	"fmt"
	"math"
	"testing"
)

// naiveGemm is the textbook triple loop in float64, reading the operands
// through explicit index functions so that it shares no code with Sgemm.
func naiveGemm(transA, transB bool, m, n, k int, alpha float64, a []float32, lda int, b []float32, ldb int, beta float64, c []float32, ldc int) []float64 {
	at := func(i, p int) float64 {
		if transA {
			return float64(a[p*lda+i])
		}
		return float64(a[i*lda+p])
	}
	bt := func(p, j int) float64 {
		if transB {
			return float64(b[j*ldb+p])
		}
		return float64(b[p*ldb+j])
	}
	out := to64(c)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for p := 0; p < k; p++ {
				s += at(i, p) * bt(p, j)
			}
			out[i*ldc+j] = alpha*s + beta*float64(c[i*ldc+j])
		}
	}
	return out
}

// TestSgemm covers the four transpose combinations with odd sizes, sizes
// that cross the k and n block edges, leading dimensions wider than the
// matrices (whose padding must stay untouched), and alpha and beta other
// than 0 and 1. The tolerance is fwdTol: the results are sums of up to 300
// products, computed in float32.
func TestSgemm(t *testing.T) {
	sizes := [][3]int{{1, 1, 1}, {3, 5, 7}, {17, 13, 9}, {5, 600, 300}, {33, 31, 129}, {4, 70, 0}}
	for _, sz := range sizes {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			m, n, k := sz[0], sz[1], sz[2]
			transA, transB := tr[0], tr[1]
			t.Run(fmt.Sprintf("%dx%dx%d_tA%v_tB%v", m, n, k, transA, transB), func(t *testing.T) {
				rng := NewRNG(uint64(m*n+k), 5)
				ar, ac := m, k
				if transA {
					ar, ac = k, m
				}
				br, bc := k, n
				if transB {
					br, bc = n, k
				}
				lda, ldb, ldc := ac+3, bc+1, n+2
				a := randn(rng, max(ar*lda, 1), 1)
				b := randn(rng, max(br*ldb, 1), 1)
				c := randn(rng, m*ldc, 1)
				want := naiveGemm(transA, transB, m, n, k, 0.7, a, lda, b, ldb, -0.3, c, ldc)
				Sgemm(transA, transB, m, n, k, 0.7, a, lda, b, ldb, -0.3, c, ldc)
				expectClose(t, "C", c, want, fwdTol)
			})
		}
	}
}

// TestSgemmBetaZero checks that beta = 0 ignores C's old contents, NaN
// included, as the reference BLAS does.
func TestSgemmBetaZero(t *testing.T) {
	a := []float32{1, 2, 3, 4}
	b := []float32{5, 6, 7, 8}
	c := []float32{float32(math.NaN()), float32(math.Inf(1)), 1, 2}
	Sgemm(false, false, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2)
	want := []float32{19, 22, 43, 50}
	for i := range c {
		if c[i] != want[i] {
			t.Fatalf("C = %v, want %v", c, want)
		}
	}
}

func TestAxpy(t *testing.T) {
	y := []float32{1, 2, 3, 4, 5}
	Axpy(2, []float32{1, 1, 1, 1, 1}, y)
	for i, v := range []float32{3, 4, 5, 6, 7} {
		if y[i] != v {
			t.Fatalf("y = %v", y)
		}
	}
}

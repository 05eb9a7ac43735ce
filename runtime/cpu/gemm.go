package cpu

import "fmt"

// Block sizes of Sgemm. A panel of gemmKC rows of B by gemmNC columns
// (128 KiB) stays in the L2 cache while every row of A streams past it, and a
// gemmNC-wide segment of a row of C (2 KiB) stays in the L1 cache while it
// accumulates gemmKC rank-one updates.
const (
	gemmKC = 128
	gemmNC = 512
	// gemmNB is the number of rows of B that the dot-product form (B
	// transposed) keeps in cache while it sweeps the rows of A.
	gemmNB = 64
)

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices, where
// op(A) is m×k and op(B) is k×n. With transA false A is stored m×k with row
// stride lda, with transA true it is stored k×m; likewise B is stored k×n, or
// n×k when transB is true. C is m×n with row stride ldc.
//
// As in the reference BLAS, beta == 0 means C is not read, so C may hold
// garbage (even NaN) on entry. This is the portable Go version: loop order
// i-k-j over a row of C, blocked over k and n. The B-transposed forms use dot
// products of contiguous rows instead, because that keeps both operands
// contiguous.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("cpu.Sgemm: negative size m=%d n=%d k=%d", m, n, k))
	}
	if m == 0 || n == 0 {
		return
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMatrix("A", a, ar, ac, lda)
	checkMatrix("B", b, br, bc, ldb)
	checkMatrix("C", c, m, n, ldc)

	scaleC(m, n, beta, c, ldc)
	if k == 0 || alpha == 0 {
		return
	}
	switch {
	case !transA && !transB:
		gemmNN(m, n, k, alpha, a, lda, b, ldb, c, ldc)
	case transA && !transB:
		gemmTN(m, n, k, alpha, a, lda, b, ldb, c, ldc)
	case !transA && transB:
		gemmNT(m, n, k, alpha, a, lda, b, ldb, c, ldc)
	default:
		gemmTT(m, n, k, alpha, a, lda, b, ldb, c, ldc)
	}
}

// checkMatrix panics with a readable message when buf cannot hold a
// rows×cols matrix with row stride ld; a plain index panic deep inside the
// loops would not say which operand was short.
func checkMatrix(name string, buf []float32, rows, cols, ld int) {
	if rows == 0 || cols == 0 {
		return
	}
	if ld < cols {
		panic(fmt.Sprintf("cpu.Sgemm: ld%s=%d is less than the %d columns of %s", name, ld, cols, name))
	}
	if need := (rows-1)*ld + cols; len(buf) < need {
		panic(fmt.Sprintf("cpu.Sgemm: %s has %d elements, needs %d", name, len(buf), need))
	}
}

// scaleC applies the beta term before any product is added.
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// gemmNN adds alpha·A·B into C, with A m×k and B k×n, both untransposed.
func gemmNN(m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	for j0 := 0; j0 < n; j0 += gemmNC {
		j1 := min(j0+gemmNC, n)
		for p0 := 0; p0 < k; p0 += gemmKC {
			p1 := min(p0+gemmKC, k)
			for i := 0; i < m; i++ {
				crow := c[i*ldc+j0 : i*ldc+j1]
				arow := a[i*lda+p0 : i*lda+p1]
				for p, av := range arow {
					axpyRow(alpha*av, b[(p0+p)*ldb+j0:(p0+p)*ldb+j1], crow)
				}
			}
		}
	}
}

// gemmTN adds alpha·Aᵀ·B into C, with A stored k×m and B k×n.
func gemmTN(m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	for j0 := 0; j0 < n; j0 += gemmNC {
		j1 := min(j0+gemmNC, n)
		for p0 := 0; p0 < k; p0 += gemmKC {
			p1 := min(p0+gemmKC, k)
			for i := 0; i < m; i++ {
				crow := c[i*ldc+j0 : i*ldc+j1]
				for p := p0; p < p1; p++ {
					axpyRow(alpha*a[p*lda+i], b[p*ldb+j0:p*ldb+j1], crow)
				}
			}
		}
	}
}

// gemmNT adds alpha·A·Bᵀ into C, with A m×k and B stored n×k. Each element of
// C is a dot product of a row of A with a row of B.
func gemmNT(m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	for p0 := 0; p0 < k; p0 += gemmNC {
		p1 := min(p0+gemmNC, k)
		for j0 := 0; j0 < n; j0 += gemmNB {
			j1 := min(j0+gemmNB, n)
			for i := 0; i < m; i++ {
				arow := a[i*lda+p0 : i*lda+p1]
				crow := c[i*ldc : i*ldc+n]
				for j := j0; j < j1; j++ {
					crow[j] += alpha * dot(arow, b[j*ldb+p0:j*ldb+p1])
				}
			}
		}
	}
}

// gemmTT adds alpha·Aᵀ·Bᵀ into C, with A stored k×m and B stored n×k. No
// layer needs this form, so it is written for clarity rather than speed.
func gemmTT(m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			brow := b[j*ldb : j*ldb+k]
			var s float32
			for p, bv := range brow {
				s += a[p*lda+i] * bv
			}
			c[i*ldc+j] += alpha * s
		}
	}
}

// axpyRow adds s·x into y; x must be at least as long as y.
func axpyRow(s float32, x, y []float32) {
	x = x[:len(y)]
	i := 0
	for ; i+4 <= len(y); i += 4 {
		y[i] += s * x[i]
		y[i+1] += s * x[i+1]
		y[i+2] += s * x[i+2]
		y[i+3] += s * x[i+3]
	}
	for ; i < len(y); i++ {
		y[i] += s * x[i]
	}
}

// dot returns the inner product of x and y, which have the same length. Four
// partial sums break the dependency chain between additions.
func dot(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// Axpy adds alpha·x into y element by element; x and y have the same length.
// The training loop uses it to sum the gradients of a tensor that feeds two
// layers, such as the input of a cross-tower convolution.
func Axpy(alpha float32, x, y []float32) {
	if len(x) != len(y) {
		panic(fmt.Sprintf("cpu.Axpy: lengths differ (%d and %d)", len(x), len(y)))
	}
	axpyRow(alpha, x, y)
}

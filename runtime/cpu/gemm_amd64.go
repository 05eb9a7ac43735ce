package cpu

import "golang.org/x/sys/cpu"

//go:generate go run ./internal/asmgen -pkg cpu -out gemm_amd64.s -stubs gemm_stub_amd64.go

// The AVX-512 kernel keeps a 12×32 tile of C in 24 of the 32 zmm registers:
// per step of k it loads two vectors of B and broadcasts 12 values of A,
// each feeding two FMAs, which keeps both FMA pipes busy with loads to
// spare (about 200 GFLOP/s on one core of the Zen 5 it was tuned on, with
// its operands in L1). 12 divides most of AlexNet's filter counts per
// group; a 12×16 variant computes the last panel of a product whose n
// leaves at most 16 columns there. Blocks: kc = 512 steps of k (a panel of
// B is 64 KiB), mc = 192 rows of A (384 KiB of packed A in the 1 MiB L2);
// kc from 192 to 1024 and mc from 96 to 384 were tried, and larger kc did
// better, though the machine was shared and differences under about 10%
// were not resolved.
//
// The AVX2 kernel keeps a 6×16 tile in 12 of the 16 ymm registers.
var (
	avx512Gemm = &gemmImpl{name: "avx512", mr: 12, nr: 32, kc: 512, mc: 192, nc: 4096,
		tile: tileAVX512, tileNarrow: tileAVX512Narrow, packA: packA512, packB: packB512,
		packGather: packGather512, packRuns: packRuns512, biasAct: biasAct512,
		lrn075: &lrnKernels{forward: lrnForward512, backT: lrnBackwardT512, backDX: lrnBackwardDX512,
			sumSquares: lrnSumSquares512, add: addFloats512},
		maxPool3s2: maxPool3s2AVX512, scale: scale512, selectByMask: selectByMask512}
	avx2Gemm = &gemmImpl{name: "avx2", mr: 6, nr: 16, kc: 256, mc: 72, nc: 4096,
		tile: tileAVX2, packA: packA256, packB: packB256}
)

// archGemmImpls returns the assembly paths this CPU supports, fastest first.
func archGemmImpls() []*gemmImpl {
	var impls []*gemmImpl
	if cpu.X86.HasAVX512F && cpu.X86.HasBMI2 {
		impls = append(impls, avx512Gemm)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		impls = append(impls, avx2Gemm)
	}
	return impls
}

func tileAVX512(kc int, ap, bp, c []float32, ldc int, alpha, beta float32, rows, cols int) {
	// The kernel trusts its arguments: check the extents it will touch.
	_, _, _ = ap[12*kc-1], bp[32*kc-1], c[(rows-1)*ldc+cols-1]
	sgemmAVX512x12x32(kc, &ap[0], &bp[0], &c[0], ldc, alpha, beta, rows, 1<<cols-1)
}

// tileAVX512Narrow computes a tile of at most 16 columns from a 32-column
// panel of B, with half the work of tileAVX512.
func tileAVX512Narrow(kc int, ap, bp, c []float32, ldc int, alpha, beta float32, rows, cols int) {
	_, _, _ = ap[12*kc-1], bp[32*kc-1], c[(rows-1)*ldc+cols-1]
	sgemmAVX512x12x16(kc, &ap[0], &bp[0], &c[0], ldc, alpha, beta, rows, 1<<cols-1)
}

// avx2Masks holds 16 lanes of all ones and then 16 of zeros: the 16 lanes
// from 16-cols on mark the first cols columns of a tile.
var avx2Masks = func() (m [32]int32) {
	for i := range 16 {
		m[i] = -1
	}
	return m
}()

func tileAVX2(kc int, ap, bp, c []float32, ldc int, alpha, beta float32, rows, cols int) {
	_, _, _ = ap[6*kc-1], bp[16*kc-1], c[(rows-1)*ldc+cols-1]
	sgemmAVX2x6x16(kc, &ap[0], &bp[0], &c[0], ldc, alpha, beta, rows, cols, &avx2Masks[16-cols])
}

// packA512 is packAGo for the AVX-512 path's 12-row panels.
func packA512(trans bool, a []float32, lda, i0, p0, m, kc int, dst []float32) {
	for q := 0; q < m; q += 12 {
		rows := min(12, m-q)
		d := dst[q*kc : (q+12)*kc]
		switch {
		case trans:
			// Step p is the run a[(p0+p)*lda+i0+q:][:rows].
			src := a[p0*lda+i0+q:]
			_ = src[(kc-1)*lda+rows-1]
			gemmPackCopy12(kc, &src[0], lda, &d[0], 1<<rows-1)
		case rows == 12:
			// Row r is the run a[(i0+q+r)*lda+p0:][:kc].
			src := a[(i0+q)*lda+p0:]
			_ = src[11*lda+kc-1]
			gemmPackT12(kc, &src[0], lda, &d[0])
		default:
			packAGo(12, trans, a, lda, i0+q, p0, rows, kc, d)
		}
	}
}

// packB512 is packBGo for the AVX-512 path's 32-column panels.
func packB512(trans bool, b []float32, ldb, p0, j0, kc, n int, dst []float32) {
	for q := 0; q < n; q += 32 {
		cols := min(32, n-q)
		d := dst[q*kc : (q+32)*kc]
		switch {
		case !trans:
			src := b[p0*ldb+j0+q:]
			_ = src[(kc-1)*ldb+cols-1]
			gemmPackCopy32(kc, &src[0], ldb, &d[0], 1<<cols-1)
		case cols == 32:
			src := b[(j0+q)*ldb+p0:]
			_ = src[31*ldb+kc-1]
			gemmPackT32(kc, &src[0], ldb, &d[0])
		default:
			packBGo(32, trans, b, ldb, p0, j0+q, kc, cols, d)
		}
	}
}

// packA256 is packAGo for the AVX2 path's 6-row panels: the assembly
// transposes full panels of op(A) untransposed, Go does the rest.
func packA256(trans bool, a []float32, lda, i0, p0, m, kc int, dst []float32) {
	for q := 0; q < m; q += 6 {
		rows := min(6, m-q)
		d := dst[q*kc : (q+6)*kc]
		if trans || rows < 6 {
			packAGo(6, trans, a, lda, i0+q, p0, rows, kc, d)
			continue
		}
		src := a[(i0+q)*lda+p0:]
		_ = src[5*lda+kc-1]
		gemmPackT6AVX2(kc, &src[0], lda, &d[0], &avx2Masks[16-kc%8])
	}
}

// packB256 is packBGo for the AVX2 path's 16-column panels.
func packB256(trans bool, b []float32, ldb, p0, j0, kc, n int, dst []float32) {
	if !trans {
		packBGo(16, trans, b, ldb, p0, j0, kc, n, dst)
		return
	}
	for q := 0; q < n; q += 16 {
		cols := min(16, n-q)
		d := dst[q*kc : (q+16)*kc]
		if cols < 16 {
			packBGo(16, trans, b, ldb, p0, j0+q, kc, cols, d)
			continue
		}
		src := b[(j0+q)*ldb+p0:]
		_ = src[15*ldb+kc-1]
		gemmPackT16AVX2(kc, &src[0], ldb, &d[0], &avx2Masks[16-kc%8])
	}
}

// packGather512 is packGatherGo for the AVX-512 path's 32-lane panels. The
// gather does not check its offsets: the caller builds them so that every
// lane left in a mask lies inside x.
func packGather512(kb int, x []float32, off, mask, idx []int32, dst []float32) {
	if kb <= 0 {
		return
	}
	_, _, _, _, _ = x[0], off[kb-1], mask[kb-1], idx[31], dst[32*kb-1]
	gemmPackGather32(kb, &x[0], &off[0], &mask[0], &idx[0], &dst[0])
}

// packRuns512 packs a 32-lane panel from runs of lanes (pairs of an offset
// and a lane mask in runs), trusting its offsets as packGather512 does.
func packRuns512(kb int, x []float32, off, mask, runs []int32, dst []float32) {
	if kb <= 0 || len(runs) < 2 {
		return
	}
	_, _, _, _ = x[0], off[kb-1], mask[kb-1], dst[32*kb-1]
	gemmPackRuns32(kb, &x[0], &off[0], &mask[0], &runs[0], len(runs)/2, &dst[0])
}

// biasAct512 is the AVX-512 path's epilogue for panels of up to 32 columns.
func biasAct512(rows int, src []float32, lds int, dst []float32, ldd int, bias []float32, cols int, relu bool) {
	if rows <= 0 || cols <= 0 {
		return
	}
	_, _, _ = src[(rows-1)*lds+cols-1], dst[(rows-1)*ldd+cols-1], bias[rows-1]
	r := 0
	if relu {
		r = 1
	}
	gemmBiasAct32(rows, &src[0], lds, &dst[0], ldd, &bias[0], 1<<cols-1, r)
}

// blocks32 splits n floats into full blocks of 32 and the lane mask of the
// rest, as the AVX-512 elementwise loops take them.
func blocks32(n int) (int, uint64) { return n / 32, 1<<(n%32) - 1 }

func lrnForward512(n int, x []float32, hw, win, own int, y []float32, k, alpha float32) {
	if n <= 0 {
		return
	}
	_, _ = x[(win-1)*hw+n-1], y[n-1]
	if own < 0 || own >= win || n > hw {
		panic("lrnForward512: bad window")
	}
	b, t := blocks32(n)
	lrnForward075(b, t, &x[0], hw, win, own, &y[0], k, alpha)
}

func lrnBackwardT512(s, g, a, t []float32, k, alpha float32) {
	n := len(s)
	if n == 0 {
		return
	}
	_, _, _ = g[n-1], a[n-1], t[n-1]
	b, m := blocks32(n)
	lrnBackwardT075(b, m, &s[0], &g[0], &a[0], &t[0], k, alpha)
}

func lrnBackwardDX512(sum, s, a, g, dx []float32, coef float32) {
	n := len(sum)
	if n == 0 {
		return
	}
	_, _, _, _ = s[n-1], a[n-1], g[n-1], dx[n-1]
	b, m := blocks32(n)
	lrnBackwardDX075(b, m, &sum[0], &s[0], &a[0], &g[0], &dx[0], coef)
}

// maxPool3s2AVX512 pools the row of len(out) 3×3 windows whose first has
// its top left corner at plane[at], 2 apart.
func maxPool3s2AVX512(plane []float32, W, at int, out []float32, arg []int32) int {
	n := len(out)
	if n == 0 {
		return 0
	}
	_, _, _ = plane[at], plane[at+2*(n-1)+2*W+2], arg[n-1]
	// The masks of the last group's loads: columns 0–15, 16–31, 2–17 and
	// 18–33 of the group, of the 2m+1 it reads.
	m := n % 16
	lanes := func(k int) uint64 { return 1<<min(max(k, 0), 16) - 1 }
	tail := lanes(2*m+1) | lanes(2*m+1-16)<<16 | lanes(2*m-1)<<32 | lanes(2*m-17)<<48
	return maxPool3s2(n, &plane[at], at, W, tail, &out[0], &arg[0])
}

func scale512(x, y []float32, s float32) int {
	n := len(x) / 32 * 32
	if n == 0 {
		return 0
	}
	_ = y[n-1]
	scaleFloats(n/32, &x[0], &y[0], s)
	return n
}

func selectByMask512(mask []uint8, x, y []float32) int {
	n := len(mask) / 32 * 32
	if n == 0 {
		return 0
	}
	_, _ = x[n-1], y[n-1]
	selectFloats(n/32, &mask[0], &x[0], &y[0])
	return n
}

func lrnSumSquares512(s, x []float32, hw, win int) {
	n := len(s)
	if n == 0 {
		return
	}
	_ = x[(win-1)*hw+n-1]
	if n > hw || win < 1 {
		panic("lrnSumSquares512: bad window")
	}
	b, t := blocks32(n)
	lrnSumSquares(b, t, &x[0], hw, win, &s[0])
}

func addFloats512(x, y []float32) {
	n := len(y)
	if n == 0 {
		return
	}
	_ = x[n-1]
	b, t := blocks32(n)
	addFloats(b, t, &x[0], &y[0])
}

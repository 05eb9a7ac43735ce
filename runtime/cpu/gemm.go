package cpu

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
)

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices, where
// op(A) is m×k and op(B) is k×n. With transA false A is stored m×k with row
// stride lda, with transA true it is stored k×m; likewise B is stored k×n, or
// n×k when transB is true. C is m×n with row stride ldc.
//
// As in the reference BLAS, beta == 0 means C is not read, so C may hold
// garbage (even NaN) on entry.
//
// The product is computed the way GotoBLAS and BLIS do it: op(B) is packed,
// a block of gemmKC rows by gemmNC columns at a time, into panels NR columns
// wide, and op(A), a block of gemmMC rows by gemmKC columns at a time, into
// panels MR rows tall; a micro-kernel then computes each MR×NR tile of C from
// one panel of each, holding the tile in registers. The transposes are done
// by the packing, so every kernel sees one layout. Which kernel runs is
// chosen once from the CPU's features (see GEMMPath), and the work is split
// across SetThreads goroutines.
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

	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	gemmActive.Load().gemm(gemmThreadCount(m, n, k), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
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

// scaleC applies beta alone, for the products that add nothing (k == 0 or
// alpha == 0).
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

// A gemmImpl is one way of computing the tiles of C: a micro-kernel with its
// tile size and the block sizes that suit it.
type gemmImpl struct {
	name   string
	mr, nr int // the tile: rows of A and columns of B per packed panel
	// kc, mc and nc bound the blocks of k, m and n that are packed at once:
	// a kc×nr panel of B should stay in the L1 cache while the kernel sweeps
	// the mc×kc block of A (in L2) past it, and the kc×nc block of B should
	// fit in the L3 cache.
	kc, mc, nc int
	// tile computes C[0:rows, 0:cols] = alpha·A·B + beta·C, with C's rows ldc
	// apart, from a packed panel of A (kc steps of mr values) and one of B
	// (kc steps of nr values); beta == 0 means C is not read. Rows of C past
	// rows and columns past cols are left alone.
	tile func(kc int, ap, bp, c []float32, ldc int, alpha, beta float32, rows, cols int)
	// tileNarrow, when set, replaces tile for tiles of at most nr/2 columns.
	tileNarrow func(kc int, ap, bp, c []float32, ldc int, alpha, beta float32, rows, cols int)
	// packA and packB, when set, replace packAGo and packBGo (with the
	// same arguments but the tile size).
	packA func(trans bool, a []float32, lda, i0, p0, m, kc int, dst []float32)
	packB func(trans bool, b []float32, ldb, p0, j0, kc, n int, dst []float32)
	// packGather, when set, replaces packGatherGo (with the tile size).
	packGather func(kb int, x []float32, off, mask, idx []int32, dst []float32)
	// packRuns, when set, packs the same panels as packGather from runs of
	// lanes contiguous in x (see convFwdJob.do).
	packRuns func(kb int, x []float32, off, mask, runs []int32, dst []float32)
	// biasAct, when set, is a convolution panel's epilogue: rows rows of
	// cols floats from src (rows lds apart) plus bias[r], through ReLU if
	// relu, to dst (rows ldd apart).
	biasAct func(rows int, src []float32, lds int, dst []float32, ldd int, bias []float32, cols int, relu bool)
	// lrn075, when set, holds vector loops for LRN with β = 0.75 that give
	// the same bits as the Go loops in lrn.go.
	lrn075 *lrnKernels
	// maxPool3s2, when set, is maxRow3x3Go for stride 2 on the first
	// windows of the row; it returns how many it did (it stops before a NaN).
	maxPool3s2 func(plane []float32, W, at int, out []float32, arg []int32) int
	// scale and selectByMask, when set, do the first len/32·32 floats of
	// y = x·s and of y = x where mask ≠ 0 else +0 (Dropout, the softmax's
	// gradient), and return how many they did.
	scale        func(x, y []float32, s float32) int
	selectByMask func(mask []uint8, x, y []float32) int
}

// The paths, fastest first; gemmImpls holds those this CPU can run.
var (
	gemmImpls  = append(archGemmImpls(), goGemm)
	gemmActive atomic.Pointer[gemmImpl]
)

// gemmPathOrder lists every path's name, fastest first, for the fallback of
// ALEXNETC_GEMM.
var gemmPathOrder = []string{"avx512", "avx2", "go"}

func init() {
	gemmActive.Store(chooseGemm(os.Getenv("ALEXNETC_GEMM")))
}

// chooseGemm returns the path named by want (avx512, avx2 or go) when this
// CPU can run it, else the fastest path below it that it can run; an empty
// or unknown name gets the fastest path.
func chooseGemm(want string) *gemmImpl {
	start := 0
	for i, name := range gemmPathOrder {
		if name == want {
			start = i
		}
	}
	for _, name := range gemmPathOrder[start:] {
		for _, g := range gemmImpls {
			if g.name == name {
				return g
			}
		}
	}
	return goGemm
}

// GEMMPath names the kernel Sgemm uses: "avx512", "avx2" or "go". It is the
// fastest the CPU supports unless the environment variable ALEXNETC_GEMM
// asks for a slower one (a path the CPU lacks falls back to the next).
func GEMMPath() string { return gemmActive.Load().name }

// setGEMMPath switches Sgemm to a path as ALEXNETC_GEMM would, and returns
// the name of the path it had, for tests and benchmarks.
func setGEMMPath(want string) (old string) {
	return gemmActive.Swap(chooseGemm(want)).name
}

// gemmThreads is the number of goroutines one Sgemm may use; 0 means
// GOMAXPROCS.
var gemmThreads atomic.Int64

// SetThreads sets the number of goroutines that one Sgemm call splits its
// work across; n <= 0 restores the default, GOMAXPROCS.
func SetThreads(n int) { gemmThreads.Store(int64(max(n, 0))) }

// gemmParallelMin is the number of multiply-adds below which Sgemm stays on
// the calling goroutine: starting and joining another costs a few
// microseconds, several times a product of this size.
const gemmParallelMin = 1 << 18

func gemmThreadCount(m, n, k int) int {
	if m*n*k < gemmParallelMin {
		return 1
	}
	t := int(gemmThreads.Load())
	if t <= 0 {
		t = runtime.GOMAXPROCS(0)
	}
	return t
}

// gemm splits C into one block of whole tiles per goroutine, along n or m,
// and computes each block on its own with gemmSerial. Splitting n means
// every goroutine packs all of A, splitting m that every one packs all of B,
// so the split goes along the longer side unless it has too few tiles to
// share.
func (g *gemmImpl) gemm(threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	mt, nt := ceilDiv(m, g.mr), ceilDiv(n, g.nr)
	alongN := n >= m
	if alongN && nt < threads && mt > nt || !alongN && mt < threads && nt > mt {
		alongN = !alongN
	}
	if m <= g.mc && nt > 1 {
		// A short m is one block of A, which every goroutine packs: less
		// work than waiting for each other to pack a share of it (waking a
		// goroutine costs tens of microseconds on these machines).
		alongN = true
	}
	tiles := mt
	if alongN {
		tiles = nt
	}
	threads = min(threads, tiles)
	if threads <= 1 {
		g.gemmSerial(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	par.mu.Lock()
	defer par.mu.Unlock()
	gemmPar = gemmJob{g: g, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
		b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, alongN: alongN, tiles: tiles}
	runParts(&gemmPar, threads)
	gemmPar = gemmJob{}
}

// gemmJob is a product's arguments while the workers compute it.
type gemmJob struct {
	g              *gemmImpl
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
	alongN         bool
	tiles          int
}

var gemmPar gemmJob

// do computes part t of the product's tiles along the split dimension.
func (j *gemmJob) do(t, threads int) {
	g := j.g
	t0, t1 := share(t, threads, j.tiles)
	if j.alongN {
		j0, j1 := t0*g.nr, min(t1*g.nr, j.n)
		bj := j0 // offset of column j0 of op(B) in b
		if j.transB {
			bj = j0 * j.ldb
		}
		g.gemmSerial(j.transA, j.transB, j.m, j1-j0, j.k, j.alpha, j.a, j.lda, j.b[bj:], j.ldb, j.beta, j.c[j0:], j.ldc)
		return
	}
	i0, i1 := t0*g.mr, min(t1*g.mr, j.m)
	ai := i0 * j.lda // offset of row i0 of op(A) in a
	if j.transA {
		ai = i0
	}
	g.gemmSerial(j.transA, j.transB, i1-i0, j.n, j.k, j.alpha, j.a[ai:], j.lda, j.b, j.ldb, j.beta, j.c[i0*j.ldc:], j.ldc)
}

// gemmShortM computes a product whose m fits one block of A (m <= mc),
// which is the common case in AlexNet: op(A) is a layer's weights, or a
// batch of 128 inputs. It packs all of op(A), then packs one panel of op(B)
// at a time into a buffer that stays in the L1 cache and sweeps the packed
// A past it.
func (g *gemmImpl) gemmShortM(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	kc := ceilDiv(k, ceilDiv(k, g.kc))
	mPad := roundUp(m, g.mr)
	// Block pc of k (kb steps from pc on) is packed at ap[mPad*pc:], its
	// panels of A mr·kb apart; the panel of B follows it.
	s := getGemmScratch(mPad*k, kc*g.nr)
	defer putGemmScratch(s)
	ap, bp := s.a[:mPad*k], s.b[:kc*g.nr]
	for pc := 0; pc < k; pc += kc {
		kb := min(kc, k-pc)
		g.packABlock(transA, a, lda, 0, pc, m, kb, ap[mPad*pc:mPad*(pc+kb)])
	}
	for pc := 0; pc < k; pc += kc {
		kb := min(kc, k-pc)
		blk := ap[mPad*pc : mPad*(pc+kb)]
		betaBlock := beta
		if pc > 0 {
			betaBlock = 1 // the earlier blocks of k are already in C
		}
		for jr := 0; jr < n; jr += g.nr {
			cols := min(g.nr, n-jr)
			g.packBBlock(transB, b, ldb, pc, jr, kb, cols, bp[:g.nr*kb])
			g.sweep(kb, blk, bp[:g.nr*kb], m, cols, c[jr:], ldc, alpha, betaBlock)
		}
	}
}

// gemmSerial computes the whole product on the calling goroutine.
func (g *gemmImpl) gemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m <= g.mc {
		g.gemmShortM(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	// Blocks of near-equal size, so that no thin remainder block is left.
	kc := ceilDiv(k, ceilDiv(k, g.kc))
	mc := roundUp(ceilDiv(m, ceilDiv(m, g.mc)), g.mr)
	nc := roundUp(ceilDiv(n, ceilDiv(n, g.nc)), g.nr)
	s := getGemmScratch(kc*min(mc, roundUp(m, g.mr)), kc*min(nc, roundUp(n, g.nr)))
	defer putGemmScratch(s)

	for jc := 0; jc < n; jc += nc {
		nb := min(nc, n-jc)
		for pc := 0; pc < k; pc += kc {
			kb := min(kc, k-pc)
			betaBlock := beta
			if pc > 0 {
				betaBlock = 1 // the earlier blocks of k are already in C
			}
			g.packBBlock(transB, b, ldb, pc, jc, kb, nb, s.b)
			for ic := 0; ic < m; ic += mc {
				mb := min(mc, m-ic)
				g.packABlock(transA, a, lda, ic, pc, mb, kb, s.a)
				for jr := 0; jr < nb; jr += g.nr {
					cols := min(g.nr, nb-jr)
					g.sweep(kb, s.a, s.b[jr*kb:(jr+g.nr)*kb], mb, cols, c[ic*ldc+jc+jr:], ldc, alpha, betaBlock)
				}
			}
		}
	}
}

// sweep computes the m×cols block of C from a packed block of A (m rows)
// and one packed panel of B, tile by tile down the panel.
func (g *gemmImpl) sweep(kc int, ap, bp []float32, m, cols int, c []float32, ldc int, alpha, beta float32) {
	tile := g.tile
	if cols <= g.nr/2 && g.tileNarrow != nil {
		tile = g.tileNarrow
	}
	for ir := 0; ir < m; ir += g.mr {
		rows := min(g.mr, m-ir)
		tile(kc, ap[ir*kc:(ir+g.mr)*kc], bp, c[ir*ldc:], ldc, alpha, beta, rows, cols)
	}
}

func (g *gemmImpl) packABlock(trans bool, a []float32, lda, i0, p0, m, kc int, dst []float32) {
	if g.packA != nil {
		g.packA(trans, a, lda, i0, p0, m, kc, dst)
	} else {
		packAGo(g.mr, trans, a, lda, i0, p0, m, kc, dst)
	}
}

func (g *gemmImpl) packBBlock(trans bool, b []float32, ldb, p0, j0, kc, n int, dst []float32) {
	if g.packB != nil {
		g.packB(trans, b, ldb, p0, j0, kc, n, dst)
	} else {
		packBGo(g.nr, trans, b, ldb, p0, j0, kc, n, dst)
	}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func roundUp(a, b int) int { return ceilDiv(a, b) * b }

// packAGo copies rows i0..i0+m of op(A), columns p0..p0+kc, into dst as panels
// of mr rows: panel q holds, for each p in turn, the mr values of column p,
// and rows past m are zero.
func packAGo(mr int, trans bool, a []float32, lda, i0, p0, m, kc int, dst []float32) {
	for q := 0; q < m; q += mr {
		rows := min(mr, m-q)
		d := dst[q*kc : (q+mr)*kc]
		if trans {
			// op(A)[i][p] = a[p*lda+i]: each step of p is a contiguous run.
			for p := 0; p < kc; p++ {
				dp := d[p*mr : (p+1)*mr]
				copy(dp, a[(p0+p)*lda+i0+q:][:rows])
				clear(dp[rows:])
			}
			continue
		}
		for r := 0; r < rows; r++ {
			src := a[(i0+q+r)*lda+p0:][:kc]
			for p, v := range src {
				d[p*mr+r] = v
			}
		}
		if rows < mr {
			for p := 0; p < kc; p++ {
				clear(d[p*mr+rows : (p+1)*mr])
			}
		}
	}
}

// packBGo copies rows p0..p0+kc of op(B), columns j0..j0+n, into dst as panels
// of nr columns: panel q holds, for each p in turn, the nr values of row p,
// and columns past n are zero.
func packBGo(nr int, trans bool, b []float32, ldb, p0, j0, kc, n int, dst []float32) {
	if !trans {
		// Row p of B is contiguous: copy it a panel's width at a time.
		for p := 0; p < kc; p++ {
			row := b[(p0+p)*ldb+j0:][:n]
			for q := 0; q < n; q += nr {
				cols := min(nr, n-q)
				dp := dst[q*kc+p*nr : q*kc+(p+1)*nr]
				copy(dp, row[q:q+cols])
				clear(dp[cols:])
			}
		}
		return
	}
	// op(B)[p][j] = b[j*ldb+p]: column j of op(B) is contiguous.
	for q := 0; q < n; q += nr {
		cols := min(nr, n-q)
		d := dst[q*kc : (q+nr)*kc]
		for c := 0; c < cols; c++ {
			src := b[(j0+q+c)*ldb+p0:][:kc]
			for p, v := range src {
				d[p*nr+c] = v
			}
		}
		if cols < nr {
			for p := 0; p < kc; p++ {
				clear(d[p*nr+cols : (p+1)*nr])
			}
		}
	}
}

// gemmScratch holds one goroutine's packed blocks of A and B. Scratch is
// kept for the life of the process rather than in a sync.Pool, which the
// garbage collector empties: a fresh block of several megabytes costs page
// faults on every first touch.
type gemmScratch struct{ a, b []float32 }

var gemmScratchFree struct {
	sync.Mutex
	list []*gemmScratch
}

func getGemmScratch(na, nb int) *gemmScratch {
	f := &gemmScratchFree
	f.Lock()
	var s *gemmScratch
	if n := len(f.list); n > 0 {
		s = f.list[n-1]
		f.list = f.list[:n-1]
	}
	f.Unlock()
	if s == nil {
		s = new(gemmScratch)
	}
	if len(s.a) < na {
		s.a = make([]float32, na)
	}
	if len(s.b) < nb {
		s.b = make([]float32, nb)
	}
	return s
}

func putGemmScratch(s *gemmScratch) {
	f := &gemmScratchFree
	f.Lock()
	f.list = append(f.list, s)
	f.Unlock()
}

// goGemm is the portable path: a 4×4 tile whose sixteen sums the compiler
// can keep in registers (all of them on arm64).
var goGemm = &gemmImpl{name: "go", mr: 4, nr: 4, kc: 256, mc: 64, nc: 1024, tile: tileGo}

func tileGo(kc int, ap, bp, c []float32, ldc int, alpha, beta float32, rows, cols int) {
	ap, bp = ap[:4*kc], bp[:4*kc]
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	for p := 0; p < kc; p++ {
		a := ap[4*p : 4*p+4 : 4*p+4]
		b := bp[4*p : 4*p+4 : 4*p+4]
		a0, a1, a2, a3 := a[0], a[1], a[2], a[3]
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	acc := [4][4]float32{
		{c00, c01, c02, c03},
		{c10, c11, c12, c13},
		{c20, c21, c22, c23},
		{c30, c31, c32, c33},
	}
	for i := 0; i < rows; i++ {
		row := c[i*ldc : i*ldc+cols]
		for j := range row {
			if beta == 0 {
				row[j] = alpha * acc[i][j]
			} else {
				row[j] = alpha*acc[i][j] + beta*row[j]
			}
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

// Axpy adds alpha·x into y element by element; x and y have the same length.
// The training loop uses it to sum the gradients of a tensor that feeds two
// layers, such as the input of a cross-tower convolution.
func Axpy(alpha float32, x, y []float32) {
	if len(x) != len(y) {
		panic(fmt.Sprintf("cpu.Axpy: lengths differ (%d and %d)", len(x), len(y)))
	}
	axpyRow(alpha, x, y)
}

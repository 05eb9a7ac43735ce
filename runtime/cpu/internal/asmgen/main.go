// Command asmgen writes the Go assembly of package cpu, with avo: the
// float32 GEMM micro-kernels and their packing routines (this file), the
// convolutions' epilogue (biasAct), and the LRN (lrn.go), max-pooling
// (pool.go) and elementwise (elementwise.go) loops. Run it through go generate in runtime/cpu:
//
//	go run ./internal/asmgen -pkg cpu -out gemm_amd64.s -stubs gemm_stub_amd64.go
//
// Every kernel computes one MR×NR tile of C from a packed MR-row panel of A
// (MR values per step of k) and an NR-column panel of B (NR values per step
// of k), keeping the whole tile in vector registers:
//
//	C[0:rows, 0:nr] = alpha·(A·B) + beta·C
//
// with beta == 0 meaning C is not read. Rows past rows and columns past nr
// are neither read nor written, which is how the driver handles the edges of
// C; the packed panels hold zeros there.
//
// It also writes the packing routines that fill those panels: copies (a
// step of the panel is contiguous in the source), in-register transposes
// (a lane of the panel is contiguous in the source) and gathers (each lane
// at an offset of its own, which is how a convolution packs its im2col
// matrix straight from the image).
//
// The test in this package checks that the committed output is what the
// generator writes.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// unroll is how many steps of k the main loop of each kernel takes per
// iteration; a remainder loop takes the rest one at a time.
const unroll = 4

func main() {
	ConstraintExpr("amd64")
	// The routines the driver uses: see gemm_amd64.go for why these shapes.
	avx512Kernel(12, 2, 32)
	avx512Kernel(12, 1, 32) // for the last, narrow panel of a 32-column packing
	avx2Kernel(6, 2)
	for _, w := range []int{12, 32} {
		packCopy(w)
		packTranspose(w)
	}
	for _, w := range []int{6, 16} {
		packTransposeAVX2(w)
	}
	packGather(32)
	packRuns(32)
	biasAct(32)
	lrnForward()
	lrnBackwardT()
	lrnBackwardDX()
	lrnSums()
	poolMax3s2()
	elementwiseKernels()
	Generate()
}

// zmm and ymm list the vector registers by number.
var zmm = []reg.VecPhysical{
	reg.Z0, reg.Z1, reg.Z2, reg.Z3, reg.Z4, reg.Z5, reg.Z6, reg.Z7,
	reg.Z8, reg.Z9, reg.Z10, reg.Z11, reg.Z12, reg.Z13, reg.Z14, reg.Z15,
	reg.Z16, reg.Z17, reg.Z18, reg.Z19, reg.Z20, reg.Z21, reg.Z22, reg.Z23,
	reg.Z24, reg.Z25, reg.Z26, reg.Z27, reg.Z28, reg.Z29, reg.Z30, reg.Z31,
}

var ymm = []reg.VecPhysical{
	reg.Y0, reg.Y1, reg.Y2, reg.Y3, reg.Y4, reg.Y5, reg.Y6, reg.Y7,
	reg.Y8, reg.Y9, reg.Y10, reg.Y11, reg.Y12, reg.Y13, reg.Y14, reg.Y15,
}

var masks = []reg.OpmaskPhysical{reg.K1, reg.K2, reg.K3, reg.K4}

// Registers shared by both kernel families.
var (
	rK    = reg.RCX // steps of k left
	rA    = reg.RSI // packed A
	rB    = reg.RDI // packed B
	rC    = reg.RDX // current row of C
	rLdc  = reg.RBX // row stride of C in bytes
	rRows = reg.R8  // rows of C to write
	rIter = reg.R9  // unrolled iterations left
	rTmp  = reg.RAX
)

// kernel describes one micro-kernel: mr rows of C by nv vectors of lanes
// float32 each, built from the instruction set's vector registers.
type kernel struct {
	name     string
	mr, nv   int
	lanes    int
	vec      []reg.VecPhysical
	acc      []reg.VecPhysical // mr·nv accumulators, row-major
	bv       []reg.VecPhysical // nv vectors of B for the current step
	bcast    []reg.VecPhysical // broadcasts of A, used in rotation
	vecBytes int
	bw       int // floats per step of packed B; nv·lanes unless set
}

func newKernel(name string, mr, nv, lanes int, vec []reg.VecPhysical) *kernel {
	k := &kernel{name: name, mr: mr, nv: nv, lanes: lanes, vec: vec, vecBytes: 4 * lanes, bw: nv * lanes}
	n := mr * nv
	if n+nv+1 > len(vec) {
		panic(fmt.Sprintf("%s: %d accumulators and %d vectors of B do not fit %d registers", name, n, nv, len(vec)))
	}
	k.acc = vec[:n]
	k.bv = vec[n : n+nv]
	k.bcast = vec[n+nv:]
	return k
}

func (k *kernel) nr() int { return k.nv * k.lanes }

// step emits one step of k at byte offsets aOff and bOff from the panel
// pointers: nv loads of B, then for every row a broadcast of A and nv FMAs.
func (k *kernel) step(aOff, bOff int) {
	for v := 0; v < k.nv; v++ {
		VMOVUPS(Mem{Base: rB, Disp: bOff + v*k.vecBytes}, k.bv[v])
	}
	for r := 0; r < k.mr; r++ {
		t := k.bcast[r%len(k.bcast)]
		VBROADCASTSS(Mem{Base: rA, Disp: aOff + 4*r}, t)
		for v := 0; v < k.nv; v++ {
			VFMADD231PS(k.bv[v], t, k.acc[r*k.nv+v])
		}
	}
}

// prefetchC asks for the lines of the tile of C while the loop runs, so
// that the loads and stores at its end do not wait for memory. Prefetches
// do not fault, so rows and columns past the edge of C do no harm.
func (k *kernel) prefetchC() {
	MOVQ(rC, rTmp)
	rowBytes := 4 * k.nr()
	for r := 0; r < k.mr; r++ {
		for off := 0; off < rowBytes; off += 64 {
			PREFETCHT0(Mem{Base: rTmp, Disp: off})
		}
		PREFETCHT0(Mem{Base: rTmp, Disp: rowBytes - 1})
		if r+1 < k.mr {
			ADDQ(rLdc, rTmp)
		}
	}
}

// loop emits the zeroing of the accumulators and the loop over k.
func (k *kernel) loop() {
	k.prefetchC()
	for _, z := range k.acc {
		if k.lanes == 16 {
			VPXORD(z, z, z) // VXORPS on zmm would need AVX512DQ
		} else {
			VXORPS(z, z, z)
		}
	}
	aStep, bStep := 4*k.mr, 4*k.bw
	MOVQ(rK, rIter)
	SHRQ(U8(bits(unroll)), rIter)
	JZ(LabelRef(k.name + "_tail"))
	Label(k.name + "_loop")
	for u := 0; u < unroll; u++ {
		k.step(u*aStep, u*bStep)
	}
	ADDQ(U32(unroll*aStep), rA)
	ADDQ(U32(unroll*bStep), rB)
	DECQ(rIter)
	JNZ(LabelRef(k.name + "_loop"))
	Label(k.name + "_tail")
	ANDQ(U8(unroll-1), rK)
	JZ(LabelRef(k.name + "_store"))
	Label(k.name + "_one")
	k.step(0, 0)
	ADDQ(U32(aStep), rA)
	ADDQ(U32(bStep), rB)
	DECQ(rK)
	JNZ(LabelRef(k.name + "_one"))
	Label(k.name + "_store")
}

// bits returns log2 of a power of two.
func bits(n int) int {
	b := 0
	for 1<<b < n {
		b++
	}
	return b
}

// rows emits the loop over the rows of the tile for a store: before row r
// (r ≥ 1) it stops when only r rows are to be written; after each row it
// moves to the next row of C. body emits the stores of one row.
func (k *kernel) rows(label string, body func(r int)) {
	for r := 0; r < k.mr; r++ {
		if r > 0 {
			CMPQ(rRows, U8(r))
			JLE(LabelRef(label))
			ADDQ(rLdc, rC)
		}
		body(r)
	}
	Label(label)
}

// loadCommon loads the arguments every kernel has.
func loadCommon() {
	Load(Param("k"), rK)
	Load(Param("a"), rA)
	Load(Param("b"), rB)
	Load(Param("c"), rC)
	Load(Param("ldc"), rLdc)
	SHLQ(U8(2), rLdc)
	Load(Param("rows"), rRows)
}

// betaIsZero jumps to label when beta is +0 or -0, whose bits are zero
// once the sign is shifted out.
func betaIsZero(label string) {
	MOVL(paramAddr("beta"), reg.R10L)
	SHLL(U8(1), reg.R10L)
	JZ(LabelRef(label))
}

// avx512Kernel emits an mr×(16·nv) kernel. The columns of C that exist are
// given by mask, bit j for column j, and the stores and the loads of C are
// masked with it, so an edge tile costs no more than a full one.
//
// The panels of B are bw floats wide (bw ≥ 16·nv), so that a narrow kernel
// can compute the first columns of a wider panel.
func avx512Kernel(mr, nv, bw int) {
	name := fmt.Sprintf("sgemmAVX512x%dx%d", mr, 16*nv)
	k := newKernel(name, mr, nv, 16, zmm)
	k.bw = bw
	routine(name, "func(k int, a, b, c *float32, ldc int, alpha, beta float32, rows int, mask uint64)", fmt.Sprintf("%s computes a %d×%d tile of C with AVX-512: see package asmgen.", name, mr, 16*nv))
	loadCommon()
	k.loop()

	// Split the column mask into one opmask per vector of a row.
	Load(Param("mask"), rTmp)
	splitLanes(nv)
	alpha, beta, t := k.bv[0], k.bcast[0], k.bcast[1]
	VBROADCASTSS(paramAddr("alpha"), alpha)
	betaIsZero(name + "_beta0")
	VBROADCASTSS(paramAddr("beta"), beta)
	k.rows(name+"_done", func(r int) {
		for v := 0; v < nv; v++ {
			z := k.acc[r*nv+v]
			m := Mem{Base: rC, Disp: v * 64}
			VMULPS(alpha, z, z)
			VMOVUPS_Z(m, masks[v], t)
			VFMADD231PS(beta, t, z)
			VMOVUPS(z, masks[v], m)
		}
	})
	VZEROUPPER()
	RET()

	Label(name + "_beta0")
	k.rows(name+"_done0", func(r int) {
		for v := 0; v < nv; v++ {
			z := k.acc[r*nv+v]
			VMULPS(alpha, z, z)
			VMOVUPS(z, masks[v], Mem{Base: rC, Disp: v * 64})
		}
	})
	VZEROUPPER()
	RET()
}

// avx2Kernel emits an mr×(8·nv) kernel for AVX2 and FMA. A tile narrower
// than 8·nv columns (nr below that) is stored through VMASKMOVPS with the
// lane masks at mask (nv·8 int32, all ones for a column that exists); a
// full tile uses plain loads and stores.
func avx2Kernel(mr, nv int) {
	name := fmt.Sprintf("sgemmAVX2x%dx%d", mr, 8*nv)
	k := newKernel(name, mr, nv, 8, ymm)
	if len(k.bcast) < 2 {
		panic(name + ": needs two spare registers for the store")
	}
	routine(name, "func(k int, a, b, c *float32, ldc int, alpha, beta float32, rows int, nr int, mask *int32)", fmt.Sprintf("%s computes a %d×%d tile of C with AVX2 and FMA: see package asmgen.", name, mr, 8*nv))
	loadCommon()
	k.loop()

	alpha, beta := k.bv[0], k.bcast[0]
	VBROADCASTSS(paramAddr("alpha"), alpha)
	// Narrow tiles need the lane masks, which take the registers of B
	// other than alpha's, so a masked store uses a single spare for C.
	spare := k.bcast[1]
	Load(Param("nr"), rTmp)
	CMPQ(rTmp, U8(k.nr()))
	JNE(LabelRef(name + "_masked"))

	betaIsZero(name + "_beta0")
	VBROADCASTSS(paramAddr("beta"), beta)
	k.rows(name+"_done", func(r int) {
		for v := 0; v < nv; v++ {
			z := k.acc[r*nv+v]
			m := Mem{Base: rC, Disp: v * 32}
			VMULPS(alpha, z, z)
			VFMADD231PS(m, beta, z)
			VMOVUPS(z, m)
		}
	})
	VZEROUPPER()
	RET()

	Label(name + "_beta0")
	k.rows(name+"_done0", func(r int) {
		for v := 0; v < nv; v++ {
			z := k.acc[r*nv+v]
			VMULPS(alpha, z, z)
			VMOVUPS(z, Mem{Base: rC, Disp: v * 32})
		}
	})
	VZEROUPPER()
	RET()

	// Masked stores: the lane mask of each vector is loaded again for every
	// row (from L1), since AVX2 has too few registers to keep nv of them
	// beside alpha, beta and a vector of C.
	Label(name + "_masked")
	mreg := k.bv[1]
	Load(Param("mask"), rTmp)
	betaIsZero(name + "_mbeta0")
	VBROADCASTSS(paramAddr("beta"), beta)
	k.rows(name+"_mdone", func(r int) {
		for v := 0; v < nv; v++ {
			z := k.acc[r*nv+v]
			m := Mem{Base: rC, Disp: v * 32}
			VMOVDQU(Mem{Base: rTmp, Disp: v * 32}, mreg)
			VMULPS(alpha, z, z)
			VMASKMOVPS(m, mreg, spare)
			VFMADD231PS(spare, beta, z)
			VMASKMOVPS(z, mreg, m)
		}
	})
	VZEROUPPER()
	RET()

	Label(name + "_mbeta0")
	k.rows(name+"_mdone0", func(r int) {
		for v := 0; v < nv; v++ {
			z := k.acc[r*nv+v]
			VMOVDQU(Mem{Base: rTmp, Disp: v * 32}, mreg)
			VMULPS(alpha, z, z)
			VMASKMOVPS(z, mreg, Mem{Base: rC, Disp: v * 32})
		}
	})
	VZEROUPPER()
	RET()
}

// paramAddr returns the memory operand of a scalar argument.
func paramAddr(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// packCopy emits gemmPackCopy<w>, which packs k steps of a panel whose
// steps are contiguous in the source: for each p < k it copies the lanes
// set in mask (the first cols ≤ w) from src + p·ld to dst + p·w and zeroes
// the rest of the w. That is op(A) transposed or op(B) untransposed.
func packCopy(w int) {
	name := fmt.Sprintf("gemmPackCopy%d", w)
	nv := (w + 15) / 16
	routine(name, "func(k int, src *float32, ld int, dst *float32, mask uint64)", name+fmt.Sprintf(" copies k rows of up to %d floats, ld apart in src, to dst with AVX-512.", w))
	rSrc, rLd, rDst := reg.RSI, reg.RBX, reg.RDI
	Load(Param("k"), rK)
	Load(Param("src"), rSrc)
	Load(Param("ld"), rLd)
	SHLQ(U8(2), rLd)
	Load(Param("dst"), rDst)
	Load(Param("mask"), rTmp)
	loadMasks(nv, w)
	TESTQ(rK, rK)
	JZ(LabelRef(name + "_done"))
	Label(name + "_loop")
	for v := 0; v < nv; v++ {
		VMOVUPS_Z(Mem{Base: rSrc, Disp: 64 * v}, masks[v], zmm[v])
	}
	for v := 0; v < nv; v++ {
		VMOVUPS(zmm[v], masks[nv+v], Mem{Base: rDst, Disp: 64 * v})
	}
	ADDQ(rLd, rSrc)
	ADDQ(U32(4*w), rDst)
	DECQ(rK)
	JNZ(LabelRef(name + "_loop"))
	doneLabel(name)
}

// routine starts an assembly routine: its TEXT with the Go signature, its
// doc comment, and go:noescape (no routine keeps a pointer it is given).
func routine(name, signature, doc string) {
	TEXT(name, NOSPLIT, signature)
	Doc(doc)
	Pragma("noescape")
}

// vectors returns how many zmm vectors hold w lanes, which must be 16 or 32.
func vectors(name string, w int) int {
	if w != 16 && w != 32 {
		panic(name + ": 16 or 32 lanes")
	}
	return w / 16
}

// doneLabel emits the end of a routine: the label its loops leave by,
// VZEROUPPER and RET.
func doneLabel(name string) {
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// splitLanes sets K1…K(nv) to the lane masks of nv vectors, 16 bits each
// from the lowest bits of RAX (which it shifts).
func splitLanes(nv int) {
	for v := 0; v < nv; v++ {
		KMOVW(reg.EAX, masks[v])
		if v+1 < nv {
			SHRQ(U8(16), rTmp)
		}
	}
}

// storeStep ends a step of a packing loop over rK steps: it stores the nv
// vectors of the step to rDst, moves the step's offset, its mask and rDst
// on to the next step, and loops to label while steps remain.
func storeStep(nv, w int, rOff, rMask, rDst reg.Register, label string) {
	for v := 0; v < nv; v++ {
		VMOVUPS(zmm[v], Mem{Base: rDst, Disp: 64 * v})
	}
	ADDQ(U8(4), rOff)
	ADDQ(U8(4), rMask)
	ADDQ(U32(4*w), rDst)
	DECQ(rK)
	JNZ(LabelRef(label))
}

// loadMasks splits the lane mask in RAX into K1…K(nv), one per vector, and
// sets K(nv+1)…K(2nv) to the lanes of a w-wide row of dst.
func loadMasks(nv, w int) {
	splitLanes(nv)
	for v := 0; v < nv; v++ {
		lanes := min(16, w-16*v)
		MOVL(U32(1<<lanes-1), reg.EAX)
		KMOVW(reg.EAX, masks[nv+v])
	}
}

// packTranspose emits gemmPackT<w>, which packs k steps of a full panel
// whose w lanes are rows of the source, ld apart, each contiguous along k:
// lane l of dst + p·w is src[l·ld + p]. That is op(A) untransposed or
// op(B) transposed. It reads 16 steps of 16 lanes at a time as 16 vectors
// and transposes them in registers; a last partial group of steps is read
// with masked loads, which do not touch memory past the end of a row.
func packTranspose(w int) {
	name := fmt.Sprintf("gemmPackT%d", w)
	routine(name, "func(k int, src *float32, ld int, dst *float32)", name+fmt.Sprintf(" transposes k steps of %d rows, ld apart in src, into dst with AVX-512.", w))
	var (
		rSrc  = reg.RSI // step p of lane 0 of this half
		rLd   = reg.RBX // ld in bytes
		rLd3  = reg.R10 // 3·ld in bytes
		rRow  = reg.R11 // lane 4g of the group being loaded
		rDst  = reg.RDI
		rLeft = reg.R12 // steps left in a partial group
		rBase = reg.R13 // src at step 0, for the second half
	)
	Load(Param("k"), rK)
	Load(Param("src"), rSrc)
	Load(Param("ld"), rLd)
	SHLQ(U8(2), rLd)
	LEAQ(Mem{Base: rLd, Index: rLd, Scale: 2}, rLd3)
	Load(Param("dst"), rDst)
	MOVQ(rSrc, rBase)
	_ = rBase

	halves := (w + 15) / 16
	// block emits the transpose of one group of 16 steps (or fewer, when
	// masked is set: K1 then masks the steps, and rLeft counts them).
	block := func(masked bool, label string) {
		for h := 0; h < halves; h++ {
			lanes := min(16, w-16*h)
			// Lane 16h is 16h·ld past src.
			if h == 0 {
				MOVQ(rSrc, rRow)
			} else {
				MOVQ(rLd, rRow)
				SHLQ(U8(4), rRow)
				ADDQ(rSrc, rRow)
			}
			for l := 0; l < 16; l++ {
				z := zmm[l]
				if l >= lanes {
					VPXORD(z, z, z)
					continue
				}
				var m Mem
				switch l % 4 {
				case 0:
					m = Mem{Base: rRow}
				case 1:
					m = Mem{Base: rRow, Index: rLd, Scale: 1}
				case 2:
					m = Mem{Base: rRow, Index: rLd, Scale: 2}
				case 3:
					m = Mem{Base: rRow, Index: rLd3, Scale: 1}
				}
				if masked {
					VMOVUPS_Z(m, reg.K1, z)
				} else {
					VMOVUPS(m, z)
				}
				if l%4 == 3 && l+1 < lanes {
					LEAQ(Mem{Base: rRow, Index: rLd, Scale: 4}, rRow)
				}
			}
			transpose16()
			// Vector c now holds step c of the 16 lanes.
			for c := 0; c < 16; c++ {
				if masked && c > 0 {
					CMPQ(rLeft, U8(c))
					JLE(LabelRef(fmt.Sprintf("%s_h%d", label, h)))
				}
				m := Mem{Base: rDst, Disp: 4 * (c*w + 16*h)}
				if lanes < 16 {
					VMOVUPS(zmm[c], reg.K2, m)
				} else {
					VMOVUPS(zmm[c], m)
				}
			}
			if masked {
				Label(fmt.Sprintf("%s_h%d", label, h))
			}
		}
	}
	MOVL(U32(1<<min(16, w)-1), reg.EAX) // the lanes of a narrow panel
	KMOVW(reg.EAX, reg.K2)

	CMPQ(rK, U8(16))
	JL(LabelRef(name + "_tail"))
	Label(name + "_loop")
	block(false, name+"_full")
	ADDQ(U8(64), rSrc)
	ADDQ(U32(4*16*w), rDst)
	SUBQ(U8(16), rK)
	CMPQ(rK, U8(16))
	JGE(LabelRef(name + "_loop"))

	Label(name + "_tail")
	TESTQ(rK, rK)
	JZ(LabelRef(name + "_done"))
	MOVQ(rK, rLeft)
	// K1 = the first rLeft steps.
	MOVL(U32(1), reg.EAX)
	SHLXL(reg.ECX, reg.EAX, reg.EAX)
	DECL(reg.EAX)
	KMOVW(reg.EAX, reg.K1)
	block(true, name+"_part")
	doneLabel(name)
}

// transpose16 transposes the 16×16 matrix of float32 in Z0…Z15 (row i in
// Zi) in place, using Z16…Z31 as scratch: first 4×4 transposes within each
// 128-bit block of each group of four rows, then a 4×4 transpose of the
// blocks across the groups.
func transpose16() {
	r, t := zmm[:16], zmm[16:]
	// Rows 4g…4g+3: afterwards r[4g+j] holds, in block b, column 4b+j of
	// those rows.
	for g := 0; g < 4; g++ {
		a, b, c, d := r[4*g], r[4*g+1], r[4*g+2], r[4*g+3]
		t0, t1, t2, t3 := t[4*g], t[4*g+1], t[4*g+2], t[4*g+3]
		VUNPCKLPS(b, a, t0)  // a0 b0 a1 b1
		VUNPCKHPS(b, a, t1)  // a2 b2 a3 b3
		VUNPCKLPS(d, c, t2)  // c0 d0 c1 d1
		VUNPCKHPS(d, c, t3)  // c2 d2 c3 d3
		VUNPCKLPD(t2, t0, a) // a0 b0 c0 d0
		VUNPCKHPD(t2, t0, b) // a1 b1 c1 d1
		VUNPCKLPD(t3, t1, c) // a2 b2 c2 d2
		VUNPCKHPD(t3, t1, d) // a3 b3 c3 d3
	}
	// shuf(x, y, b0, b1, b2, b3) = blocks x.b0, x.b1, y.b2, y.b3.
	shuf := func(x, y, dst reg.VecPhysical, b0, b1, b2, b3 int) {
		VSHUFF32X4(U8(b0|b1<<2|b2<<4|b3<<6), y, x, dst)
	}
	for j := 0; j < 4; j++ {
		u0, u1, u2, u3 := r[j], r[4+j], r[8+j], r[12+j]
		v0, v1, v2, v3 := t[4*j], t[4*j+1], t[4*j+2], t[4*j+3]
		shuf(u0, u1, v0, 0, 1, 0, 1)
		shuf(u0, u1, v1, 2, 3, 2, 3)
		shuf(u2, u3, v2, 0, 1, 0, 1)
		shuf(u2, u3, v3, 2, 3, 2, 3)
		// Column 4b+j of all 16 rows.
		shuf(v0, v2, r[j], 0, 2, 0, 2)
		shuf(v0, v2, r[4+j], 1, 3, 1, 3)
		shuf(v1, v3, r[8+j], 0, 2, 0, 2)
		shuf(v1, v3, r[12+j], 1, 3, 1, 3)
	}
}

// packTransposeAVX2 emits gemmPackT<w>AVX2, packTranspose for AVX2: 8 steps
// of 8 lanes at a time, transposed in ymm registers. The last partial group
// of steps is read through VMASKMOVPS with the lane mask at tail (all ones
// for the k mod 8 steps left), which does not touch memory past a row.
func packTransposeAVX2(w int) {
	name := fmt.Sprintf("gemmPackT%dAVX2", w)
	routine(name, "func(k int, src *float32, ld int, dst *float32, tail *int32)", name+fmt.Sprintf(" transposes k steps of %d rows, ld apart in src, into dst with AVX2.", w))
	var (
		rSrc  = reg.RSI
		rLd   = reg.RBX
		rLd3  = reg.R10
		rRow  = reg.R11
		rDst  = reg.RDI
		rLeft = reg.R12
		rTail = reg.R13
	)
	Load(Param("k"), rK)
	Load(Param("src"), rSrc)
	Load(Param("ld"), rLd)
	SHLQ(U8(2), rLd)
	LEAQ(Mem{Base: rLd, Index: rLd, Scale: 2}, rLd3)
	Load(Param("dst"), rDst)
	Load(Param("tail"), rTail)
	r, t := ymm[:8], ymm[8:]
	halves := (w + 7) / 8
	block := func(masked bool, label string) {
		if masked {
			VMOVDQU(Mem{Base: rTail}, t[7])
		}
		for h := 0; h < halves; h++ {
			lanes := min(8, w-8*h)
			if h == 0 {
				MOVQ(rSrc, rRow)
			} else {
				MOVQ(rLd, rRow)
				SHLQ(U8(3), rRow)
				ADDQ(rSrc, rRow)
			}
			for l := 0; l < 8; l++ {
				if l >= lanes {
					VXORPS(r[l], r[l], r[l])
					continue
				}
				m := []Mem{
					{Base: rRow},
					{Base: rRow, Index: rLd, Scale: 1},
					{Base: rRow, Index: rLd, Scale: 2},
					{Base: rRow, Index: rLd3, Scale: 1},
				}[l%4]
				if masked {
					VMASKMOVPS(m, t[7], r[l])
				} else {
					VMOVUPS(m, r[l])
				}
				if l%4 == 3 && l+1 < lanes {
					LEAQ(Mem{Base: rRow, Index: rLd, Scale: 4}, rRow)
				}
			}
			// 4×4 transposes within the 128-bit halves of rows 0-3 and
			// 4-7, then the halves swapped across the two groups.
			for g := 0; g < 2; g++ {
				a, b, c, d := r[4*g], r[4*g+1], r[4*g+2], r[4*g+3]
				t0, t1, t2, t3 := t[4*g], t[4*g+1], t[4*g+2], t[4*g+3]
				VUNPCKLPS(b, a, t0)
				VUNPCKHPS(b, a, t1)
				VUNPCKLPS(d, c, t2)
				VUNPCKHPS(d, c, t3)
				VUNPCKLPD(t2, t0, a)
				VUNPCKHPD(t2, t0, b)
				VUNPCKLPD(t3, t1, c)
				VUNPCKHPD(t3, t1, d)
			}
			// r[j] (rows 0-3) and r[4+j] (rows 4-7) hold columns j and 4+j
			// in their low and high halves.
			for j := 0; j < 4; j++ {
				VPERM2F128(U8(0x20), r[4+j], r[j], t[j])   // column j
				VPERM2F128(U8(0x31), r[4+j], r[j], t[4+j]) // column 4+j
			}
			for c := 0; c < 8; c++ {
				if masked && c > 0 {
					CMPQ(rLeft, U8(c))
					JLE(LabelRef(fmt.Sprintf("%s_h%d", label, h)))
				}
				off := 4 * (c*w + 8*h)
				if lanes == 8 {
					VMOVUPS(t[c], Mem{Base: rDst, Disp: off})
					continue
				}
				// Six lanes: four, then two from the upper half.
				VMOVUPS(t[c].AsX(), Mem{Base: rDst, Disp: off})
				VEXTRACTF128(U8(1), t[c], r[0].AsX())
				VMOVSD(r[0].AsX(), Mem{Base: rDst, Disp: off + 16})
			}
			if masked {
				Label(fmt.Sprintf("%s_h%d", label, h))
				if h+1 < halves {
					VMOVDQU(Mem{Base: rTail}, t[7])
				}
			}
		}
	}
	if w%8 != 0 && w != 6 {
		panic(name + ": only 6 or multiples of 8 lanes")
	}
	CMPQ(rK, U8(8))
	JL(LabelRef(name + "_tail"))
	Label(name + "_loop")
	block(false, name+"_full")
	ADDQ(U8(32), rSrc)
	ADDQ(U32(4*8*w), rDst)
	SUBQ(U8(8), rK)
	CMPQ(rK, U8(8))
	JGE(LabelRef(name + "_loop"))
	Label(name + "_tail")
	TESTQ(rK, rK)
	JZ(LabelRef(name + "_done"))
	MOVQ(rK, rLeft)
	block(true, name+"_part")
	doneLabel(name)
}

// The registers of the panel-packing routines (packGather, packRuns): the
// source, the steps' offsets and masks, the packed panel, and the source at
// the current step's offset.
var (
	rSrc  = reg.RSI
	rOff  = reg.RBX
	rMask = reg.R8
	rDst  = reg.RDI
	rBase = reg.R9
)

// loadPanelArgs loads the arguments every panel-packing routine has: k,
// src, off, mask and dst.
func loadPanelArgs() {
	Load(Param("k"), rK)
	Load(Param("src"), rSrc)
	Load(Param("off"), rOff)
	Load(Param("mask"), rMask)
	Load(Param("dst"), rDst)
}

// stepBase points rBase at the current step's offset in the source.
func stepBase() {
	MOVLQSX(Mem{Base: rOff}, rTmp)
	LEAQ(Mem{Base: rSrc, Index: rTmp, Scale: 4}, rBase)
}

// packGather emits gemmPackGather<w>, which packs k steps of a w-wide panel
// of B whose lanes sit at offsets of their own: lane l of step p is
// src[off[p] + idx[l]] when bit l of mask[p] is set, and 0 when not. A
// convolution packs its im2col matrix this way without writing it out:
// idx holds, for each output pixel of the panel, where its window starts
// in the image, off[p] where tap p of the filter sits in the window, and
// mask[p] the lanes whose tap p lies inside the image rather than in the
// padding. Masked-off lanes are not read.
func packGather(w int) {
	name := fmt.Sprintf("gemmPackGather%d", w)
	nv := vectors(name, w)
	routine(name, "func(k int, src *float32, off *int32, mask *int32, idx *int32, dst *float32)", name+fmt.Sprintf(" gathers k steps of %d lanes from src into dst with AVX-512.", w))
	loadPanelArgs()
	Load(Param("idx"), rTmp)
	idx := zmm[30:32]
	for v := 0; v < nv; v++ {
		VMOVDQU32(Mem{Base: rTmp, Disp: 64 * v}, idx[v])
	}
	TESTQ(rK, rK)
	JZ(LabelRef(name + "_done"))
	Label(name + "_loop")
	stepBase()
	MOVL(Mem{Base: rMask}, reg.EAX)
	splitLanes(nv)
	for v := 0; v < nv; v++ {
		VPXORD(zmm[v], zmm[v], zmm[v])
		VPGATHERDD(Mem{Base: rBase, Index: idx[v], Scale: 4}, masks[v], zmm[v])
	}
	storeStep(nv, w, rOff, rMask, rDst, name+"_loop")
	doneLabel(name)
}

// packRuns emits gemmPackRuns<w>, which packs the same panels as
// packGather when the lanes fall into a few runs that are contiguous in
// the source, as the output pixels of a stride-1 convolution are: one run
// per image in the panel when the output is as wide as the input. Run s,
// given by the pair runs[2s], runs[2s+1], covers the lanes set in
// runs[2s+1], and lane l of it at step p reads src[off[p] + runs[2s] + l].
// Each run of each step is one masked load per vector, which beats a
// gather by far on CPUs whose gathers fetch a lane or two per cycle.
func packRuns(w int) {
	name := fmt.Sprintf("gemmPackRuns%d", w)
	nv := vectors(name, w)
	routine(name, "func(k int, src *float32, off *int32, mask *int32, runs *int32, nruns int, dst *float32)", name+fmt.Sprintf(" copies k steps of %d lanes from runs in src into dst with AVX-512.", w))
	var (
		rRow  = reg.R10 // the step's mask
		rRun  = reg.R11 // the current run
		rLeft = reg.R12 // runs left
		rAddr = reg.R13 // lane 0's address in the current run
	)
	loadPanelArgs()
	Load(Param("nruns"), rLeft)
	TESTQ(rK, rK)
	JZ(LabelRef(name + "_done"))
	TESTQ(rLeft, rLeft)
	JZ(LabelRef(name + "_done"))
	CMPQ(rLeft, U8(1))
	JNE(LabelRef(name + "_loop"))

	// One run, the usual case: its offset goes into src once, and its
	// lanes stay in a register.
	Load(Param("runs"), rRun)
	MOVLQSX(Mem{Base: rRun}, rTmp)
	LEAQ(Mem{Base: rSrc, Index: rTmp, Scale: 4}, rSrc)
	MOVL(Mem{Base: rRun, Disp: 4}, rLeft.As32())
	Label(name + "_one")
	stepBase()
	MOVL(Mem{Base: rMask}, reg.EAX)
	ANDL(rLeft.As32(), reg.EAX)
	splitLanes(nv)
	for v := 0; v < nv; v++ {
		VMOVUPS_Z(Mem{Base: rBase, Disp: 64 * v}, masks[v], zmm[v])
	}
	storeStep(nv, w, rOff, rMask, rDst, name+"_one")
	JMP(LabelRef(name + "_done"))

	Label(name + "_loop")
	stepBase()
	MOVL(Mem{Base: rMask}, rRow.As32())
	for v := 0; v < nv; v++ {
		VPXORD(zmm[v], zmm[v], zmm[v])
	}
	// The runs and their count come from the arguments for every step:
	// the other registers are all taken.
	Load(Param("runs"), rRun)
	Load(Param("nruns"), rLeft)
	Label(name + "_run")
	MOVLQSX(Mem{Base: rRun}, rTmp)
	LEAQ(Mem{Base: rBase, Index: rTmp, Scale: 4}, rAddr)
	MOVL(Mem{Base: rRun, Disp: 4}, reg.EAX)
	ANDL(rRow.As32(), reg.EAX)
	splitLanes(nv)
	for v := 0; v < nv; v++ {
		VMOVUPS(Mem{Base: rAddr, Disp: 64 * v}, masks[v], zmm[v])
	}
	ADDQ(U8(8), rRun)
	DECQ(rLeft)
	JNZ(LabelRef(name + "_run"))
	storeStep(nv, w, rOff, rMask, rDst, name+"_loop")
	doneLabel(name)
}

// biasAct emits gemmBiasAct<w>, the epilogue of a convolution's panel: for
// each of rows rows, it adds bias[r] to the lanes set in mask of
// src + r·lds and stores them to dst + r·ldd, through max(v, 0) when relu
// is not 0. The max is Go's: a NaN stays a NaN and −0 becomes +0 (VMAXPS
// returns its second operand on a NaN, and +0 added to −0 is +0).
func biasAct(w int) {
	name := fmt.Sprintf("gemmBiasAct%d", w)
	nv := vectors(name, w)
	routine(name, "func(rows int, src *float32, lds int, dst *float32, ldd int, bias *float32, mask uint64, relu int)", name+fmt.Sprintf(" adds a bias per row to rows of up to %d floats and applies ReLU if asked, with AVX-512.", w))
	var (
		rRows = reg.RCX
		rSrc  = reg.RSI
		rLds  = reg.RBX
		rDst  = reg.RDI
		rLdd  = reg.R8
		rBias = reg.R9
		rReLU = reg.R10
	)
	Load(Param("rows"), rRows)
	Load(Param("src"), rSrc)
	Load(Param("lds"), rLds)
	SHLQ(U8(2), rLds)
	Load(Param("dst"), rDst)
	Load(Param("ldd"), rLdd)
	SHLQ(U8(2), rLdd)
	Load(Param("bias"), rBias)
	Load(Param("relu"), rReLU)
	Load(Param("mask"), rTmp)
	splitLanes(nv)
	zero := zmm[31]
	VPXORD(zero, zero, zero)
	TESTQ(rRows, rRows)
	JZ(LabelRef(name + "_done"))
	for _, relu := range []bool{true, false} {
		label := name + "_relu"
		if !relu {
			label = name + "_plain"
			Label(label)
		} else {
			TESTQ(rReLU, rReLU)
			JZ(LabelRef(name + "_plain"))
			Label(label)
		}
		VBROADCASTSS(Mem{Base: rBias}, zmm[2])
		for v := 0; v < nv; v++ {
			VMOVUPS_Z(Mem{Base: rSrc, Disp: 64 * v}, masks[v], zmm[v])
			VADDPS(zmm[2], zmm[v], zmm[v])
			if relu {
				VMAXPS(zmm[v], zero, zmm[v])
				VADDPS(zero, zmm[v], zmm[v])
			}
			VMOVUPS(zmm[v], masks[v], Mem{Base: rDst, Disp: 64 * v})
		}
		ADDQ(U8(4), rBias)
		ADDQ(rLds, rSrc)
		ADDQ(rLdd, rDst)
		DECQ(rRows)
		JNZ(LabelRef(label))
		JMP(LabelRef(name + "_done"))
	}
	doneLabel(name)
}

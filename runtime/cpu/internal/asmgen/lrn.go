package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// The LRN loops for β = 0.75, where s^−β = 1/(√s·√√s). They do exactly the
// float32 operations of the Go loops in lrn.go, in the same order (Go on
// amd64 does not fuse a multiply and an add), so both give the same bits:
// packed VSQRTPS and VDIVPS round as the scalar ones do. Each iteration
// takes 32 floats as two vectors; the last, partial one is masked.

// loopN emits: for each full block of 32 floats, body with all-ones masks;
// then, when tail lanes remain, body once more with masks from tail.
func loopN(name string, rBlocks reg.Register, tail Mem, ptrs []reg.Register, body func(v int)) {
	MOVL(U32(0xffff), reg.EAX)
	KMOVW(reg.EAX, reg.K1)
	KMOVW(reg.EAX, reg.K2)
	TESTQ(rBlocks, rBlocks)
	JZ(LabelRef(name + "_tail"))
	Label(name + "_loop")
	body(0)
	body(1)
	for _, p := range ptrs {
		ADDQ(U32(128), p)
	}
	DECQ(rBlocks)
	JNZ(LabelRef(name + "_loop"))
	Label(name + "_tail")
	MOVQ(tail, rTmp)
	TESTQ(rTmp, rTmp)
	JZ(LabelRef(name + "_done"))
	KMOVW(reg.EAX, reg.K1)
	SHRQ(U8(16), rTmp)
	KMOVW(reg.EAX, reg.K2)
	body(0)
	body(1)
	doneLabel(name)
}

// lrnForward emits lrnForward075: y_i = a_i / (r·√r), r = √(k + α·Σ_j x_j,i²)
// over the win planes x_0 … x_{win−1} (hw floats apart), a the plane own.
func lrnForward() {
	name := "lrnForward075"
	routine(name, "func(blocks int, tail uint64, x *float32, hw int, win int, own int, y *float32, k float32, alpha float32)", name+" normalises one channel plane with AVX-512: see lrn.go.")
	var (
		rOwn = reg.R9 // byte offset of plane own
		rY   = reg.RDI
	)
	loadPlanes()
	Load(Param("own"), rOwn)
	IMULQ(rHW, rOwn)
	Load(Param("y"), rY)
	kv, av := zmm[28], zmm[29]
	VBROADCASTSS(paramAddr("k"), kv)
	VBROADCASTSS(paramAddr("alpha"), av)
	k := []reg.OpmaskPhysical{reg.K1, reg.K2}
	loopN(name, rBlocks, paramAddr("tail"), []reg.Register{rX, rY}, func(v int) {
		s, t, r := zmm[v], zmm[2+v], zmm[4+v]
		d := 64 * v
		sumSquares(name, v, s, t, k[v])
		VMULPS(av, s, s)
		VADDPS(kv, s, s)
		VSQRTPS(s, r)
		VSQRTPS(r, t)
		VMULPS(t, r, r)
		VMOVUPS_Z(Mem{Base: rX, Index: rOwn, Scale: 1, Disp: d}, k[v], t)
		VDIVPS(r, t, t)
		VMOVUPS(t, k[v], Mem{Base: rY, Disp: d})
	})
}

// The registers of the loops over a window of channel planes (lrnForward,
// lrnSums): blocks of 32 lanes left, the first plane at the current lanes,
// the planes' stride in bytes, how many planes, and scratch for the plane
// being added and the planes left.
var (
	rBlocks = reg.RCX
	rX      = reg.RSI
	rHW     = reg.RBX
	rWin    = reg.R8
	rP      = reg.R10
	rJ      = reg.R11
)

// loadPlanes loads the arguments of a loop over a window of planes:
// blocks, x, hw (as bytes) and win.
func loadPlanes() {
	Load(Param("blocks"), rBlocks)
	Load(Param("x"), rX)
	Load(Param("hw"), rHW)
	SHLQ(U8(2), rHW)
	Load(Param("win"), rWin)
}

// sumSquares emits, for vector v of the current lanes, s = x_0², then
// s += x_j² for the planes j = 1 … win−1 in order (rHW bytes apart from
// rX), as lrn.go's sumSquares adds them; t is scratch.
func sumSquares(name string, v int, s, t reg.VecPhysical, k reg.OpmaskPhysical) {
	d := 64 * v
	label := fmt.Sprintf("%s_win%d_%d", name, v, uniq())
	VMOVUPS_Z(Mem{Base: rX, Disp: d}, k, s)
	VMULPS(s, s, s)
	MOVQ(rX, rP)
	MOVQ(rWin, rJ)
	DECQ(rJ)
	JZ(LabelRef(label + "_end"))
	Label(label)
	ADDQ(rHW, rP)
	VMOVUPS_Z(Mem{Base: rP, Disp: d}, k, t)
	VMULPS(t, t, t)
	VADDPS(t, s, s)
	DECQ(rJ)
	JNZ(LabelRef(label))
	Label(label + "_end")
}

// lrnSums emits lrnSumSquares075, s = Σ_j x_j² over win planes as above,
// and addFloats, y += x: the sums of LRN's backward pass.
func lrnSums() {
	name := "lrnSumSquares"
	routine(name, "func(blocks int, tail uint64, x *float32, hw int, win int, s *float32)", name+" sums the squares of win planes with AVX-512: see lrn.go.")
	rS := reg.RDI
	loadPlanes()
	Load(Param("s"), rS)
	k := []reg.OpmaskPhysical{reg.K1, reg.K2}
	loopN(name, rBlocks, paramAddr("tail"), []reg.Register{rX, rS}, func(v int) {
		sumSquares(name, v, zmm[v], zmm[2+v], k[v])
		VMOVUPS(zmm[v], k[v], Mem{Base: rS, Disp: 64 * v})
	})

	name = "addFloats"
	routine(name, "func(blocks int, tail uint64, x, y *float32)", name+" adds x to y with AVX-512: see lrn.go.")
	rY := reg.RDI
	Load(Param("blocks"), rBlocks)
	Load(Param("x"), rX)
	Load(Param("y"), rY)
	loopN(name, rBlocks, paramAddr("tail"), []reg.Register{rX, rY}, func(v int) {
		VMOVUPS_Z(Mem{Base: rY, Disp: 64 * v}, k[v], zmm[v])
		VMOVUPS_Z(Mem{Base: rX, Disp: 64 * v}, k[v], zmm[2+v])
		VADDPS(zmm[2+v], zmm[v], zmm[v])
		VMOVUPS(zmm[v], k[v], Mem{Base: rY, Disp: 64 * v})
	})
}

var uniqN int

func uniq() int { uniqN++; return uniqN }

// lrnBackwardT emits lrnBackwardT075, the first pass of LRN's backward
// step: from s (the sum of squares, overwritten with v = k + α·s), the
// output gradient g and the input a, t = g·a / (v·r·√r) with r = √v.
func lrnBackwardT() {
	name := "lrnBackwardT075"
	routine(name, "func(blocks int, tail uint64, s, dy, a, t *float32, k float32, alpha float32)", name+" computes the first pass of LRN's gradient with AVX-512: see lrn.go.")
	rS, rG, rA, rT := reg.RSI, reg.RBX, reg.R8, reg.RDI
	Load(Param("blocks"), reg.RCX)
	Load(Param("s"), rS)
	Load(Param("dy"), rG)
	Load(Param("a"), rA)
	Load(Param("t"), rT)
	kv, av := zmm[28], zmm[29]
	VBROADCASTSS(paramAddr("k"), kv)
	VBROADCASTSS(paramAddr("alpha"), av)
	k := []reg.OpmaskPhysical{reg.K1, reg.K2}
	loopN(name, reg.RCX, paramAddr("tail"), []reg.Register{rS, rG, rA, rT}, func(v int) {
		s, r, u, w := zmm[v], zmm[2+v], zmm[4+v], zmm[6+v]
		d := 64 * v
		VMOVUPS_Z(Mem{Base: rS, Disp: d}, k[v], s)
		VMULPS(av, s, s)
		VADDPS(kv, s, s)
		VMOVUPS(s, k[v], Mem{Base: rS, Disp: d})
		VSQRTPS(s, r)
		VSQRTPS(r, u)
		VMULPS(r, s, r) // v·r
		VMULPS(u, r, r) // ·√r
		VMOVUPS_Z(Mem{Base: rG, Disp: d}, k[v], w)
		VMOVUPS_Z(Mem{Base: rA, Disp: d}, k[v], u)
		VMULPS(u, w, w)
		VDIVPS(r, w, w)
		VMOVUPS(w, k[v], Mem{Base: rT, Disp: d})
	})
}

// lrnBackwardDX emits lrnBackwardDX075, the second pass: from s (= v), the
// window sum of t, a and g, dx = g / (r·√r) − (coef·a)·sum with r = √v.
func lrnBackwardDX() {
	name := "lrnBackwardDX075"
	routine(name, "func(blocks int, tail uint64, sum, s, a, dy, dx *float32, coef float32)", name+" computes the second pass of LRN's gradient with AVX-512: see lrn.go.")
	rSum, rS, rA, rG, rD := reg.RSI, reg.RBX, reg.R8, reg.R9, reg.RDI
	Load(Param("blocks"), reg.RCX)
	Load(Param("sum"), rSum)
	Load(Param("s"), rS)
	Load(Param("a"), rA)
	Load(Param("dy"), rG)
	Load(Param("dx"), rD)
	cv := zmm[28]
	VBROADCASTSS(paramAddr("coef"), cv)
	k := []reg.OpmaskPhysical{reg.K1, reg.K2}
	loopN(name, reg.RCX, paramAddr("tail"), []reg.Register{rSum, rS, rA, rG, rD}, func(v int) {
		s, r, u, w := zmm[v], zmm[2+v], zmm[4+v], zmm[6+v]
		d := 64 * v
		VMOVUPS_Z(Mem{Base: rS, Disp: d}, k[v], s)
		VSQRTPS(s, r)
		VSQRTPS(r, u)
		VMULPS(u, r, r)
		VMOVUPS_Z(Mem{Base: rG, Disp: d}, k[v], w)
		VDIVPS(r, w, w)
		VMOVUPS_Z(Mem{Base: rA, Disp: d}, k[v], u)
		VMULPS(cv, u, u)
		VMOVUPS_Z(Mem{Base: rSum, Disp: d}, k[v], s)
		VMULPS(s, u, u)
		VSUBPS(u, w, w)
		VMOVUPS(w, k[v], Mem{Base: rD, Disp: d})
	})
}

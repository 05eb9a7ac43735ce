package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// poolMax3s2 emits maxPool3s2: 3×3 max pooling with stride 2 (the paper's
// overlapping pooling) along one row of windows that lie inside the plane,
// 16 windows per iteration. For each window it stores the first maximum in
// row-major order and that element's position in the plane, as maxRow3x3
// in pool.go does: the nine taps of 16 windows are nine vectors (the even
// and odd columns of each input row, split out with VPERMT2PS, and the
// even ones shifted by one), the maximum is their VMAXPS, and the first tap
// equal to it is picked with masked moves from the last tap to the first.
// Equality is ==, so the element kept has its own sign of zero, as in Go.
//
// A NaN in a window makes the maximum depend on the order of the VMAXPS,
// so the routine stops before any group of 16 windows with a NaN in it and
// returns how many windows it did; the caller does the next ones in Go.
//
// Arguments: n windows; src, the plane at the first window's top left
// corner, at, that corner's position in the plane; W, the plane's width;
// tail, the lane masks of the four loads of each row for the last group
// when n is not a multiple of 16 (16 bits each, from the lowest: columns
// 0–15, 16–31, 2–17, 18–33 of the group), and out and arg, the outputs.
func poolMax3s2() {
	name := "maxPool3s2"
	// The permutations that take lanes 0, 2, …, 30 and 1, 3, …, 31 of two
	// vectors.
	evenLanes := GLOBL("poolEvenLanes", RODATA|NOPTR)
	for l := 0; l < 16; l++ {
		DATA(4*l, U32(2*l))
	}
	oddLanes := GLOBL("poolOddLanes", RODATA|NOPTR)
	for l := 0; l < 16; l++ {
		DATA(4*l, U32(2*l+1))
	}
	routine(name, "func(n int, src *float32, at int, w int, tail uint64, out *float32, arg *int32) int", name+" max-pools a row of 3×3 windows with stride 2 with AVX-512: see pool.go.")
	var (
		rN    = reg.RCX // windows left
		rSrc  = reg.RSI
		rW    = reg.RBX // row stride in bytes
		rOut  = reg.RDI
		rArg  = reg.R8
		rDone = reg.R9
		rRow  = reg.R10
		rM    = reg.R11 // windows in this group
	)
	v := zmm[0:9]
	tA, tB, tA2, tB2 := zmm[9], zmm[10], zmm[11], zmm[12]
	even, odd := zmm[13], zmm[14]
	offs := zmm[15:24] // tap e's offset from the window's corner
	base := zmm[24]    // the 16 windows' corners
	mx, val, res := zmm[25], zmm[26], zmm[27]
	kA, kB, kA2, kB2, kEq, kNaN, kT := reg.K1, reg.K2, reg.K3, reg.K4, reg.K5, reg.K6, reg.K7

	Load(Param("n"), rN)
	Load(Param("src"), rSrc)
	Load(Param("w"), rW)
	SHLQ(U8(2), rW)
	Load(Param("out"), rOut)
	Load(Param("arg"), rArg)
	XORQ(rDone, rDone)
	// Constants: the lane permutations, the taps' offsets, the corners.
	VMOVDQU32(evenLanes, even)
	VMOVDQU32(oddLanes, odd)
	// base = at + 2·lane: the odd permutation's lanes minus 1, plus at.
	Load(Param("at"), rRow)
	VPBROADCASTD(rRow.As32(), base)
	VPADDD(even, base, base)
	for e := 0; e < 9; e++ {
		// offs[e] = (e/3)·W + e%3, W in floats.
		Load(Param("w"), rRow)
		IMUL3Q(U32(e/3), rRow, rRow)
		ADDQ(U8(e%3), rRow)
		VPBROADCASTD(rRow.As32(), offs[e])
	}

	Label(name + "_loop")
	CMPQ(rN, U8(16))
	JL(LabelRef(name + "_tail"))
	MOVQ(U32(16), rM)
	MOVL(U32(0xffff), reg.EAX)
	KMOVW(reg.EAX, kA)
	KMOVW(reg.EAX, kB)
	KMOVW(reg.EAX, kA2)
	MOVL(U32(0x7fff), reg.EAX)
	KMOVW(reg.EAX, kB2)
	JMP(LabelRef(name + "_group"))
	Label(name + "_tail")
	TESTQ(rN, rN)
	JZ(LabelRef(name + "_end"))
	MOVQ(rN, rM)
	Load(Param("tail"), rRow)
	for _, k := range []reg.OpmaskPhysical{kA, kB, kA2, kB2} {
		KMOVW(rRow.As32(), k)
		SHRQ(U8(16), rRow)
	}

	Label(name + "_group")
	MOVQ(rSrc, rRow)
	for r := 0; r < 3; r++ {
		if r > 0 {
			ADDQ(rW, rRow)
		}
		VMOVUPS_Z(Mem{Base: rRow}, kA, tA)
		VMOVUPS_Z(Mem{Base: rRow, Disp: 64}, kB, tB)
		VMOVUPS_Z(Mem{Base: rRow, Disp: 8}, kA2, tA2)
		VMOVUPS_Z(Mem{Base: rRow, Disp: 72}, kB2, tB2)
		VMOVAPS(tA, v[3*r])
		VPERMT2PS(tB, even, v[3*r])
		VMOVAPS(tA, v[3*r+1])
		VPERMT2PS(tB, odd, v[3*r+1])
		VMOVAPS(tA2, v[3*r+2])
		VPERMT2PS(tB2, even, v[3*r+2])
	}
	// Stop before a group with a NaN.
	VCMPPS(U8(3), v[0], v[0], kNaN)
	for e := 1; e < 9; e++ {
		VCMPPS(U8(3), v[e], v[e], kT)
		KORW(kT, kNaN, kNaN)
	}
	KORTESTW(kNaN, kNaN)
	JNZ(LabelRef(name + "_end"))

	VMAXPS(v[1], v[0], mx)
	for e := 2; e < 9; e++ {
		VMAXPS(v[e], mx, mx)
	}
	VMOVAPS(v[8], val)
	VMOVDQA32(offs[8], res)
	for e := 7; e >= 0; e-- {
		VCMPPS(U8(0), mx, v[e], kEq)
		VMOVAPS(v[e], kEq, val)
		VMOVDQA32(offs[e], kEq, res)
	}
	VPADDD(base, res, res)
	// Store the group's windows: lanes below rM.
	MOVL(U32(0xffff), reg.EAX)
	BZHIL(rM.As32(), reg.EAX, reg.EAX)
	KMOVW(reg.EAX, kT)
	VMOVUPS(val, kT, Mem{Base: rOut})
	VMOVDQU32(res, kT, Mem{Base: rArg})
	ADDQ(rM, rDone)
	SUBQ(rM, rN)
	ADDQ(U32(128), rSrc)
	ADDQ(U32(64), rOut)
	ADDQ(U32(64), rArg)
	// The next group's corners are 32 floats on.
	MOVL(U32(32), reg.EAX)
	VPBROADCASTD(reg.EAX, tA)
	VPADDD(tA, base, base)
	JMP(LabelRef(name + "_loop"))

	Label(name + "_end")
	Store(rDone, ReturnIndex(0))
	VZEROUPPER()
	RET()
}

package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// Two elementwise loops, 32 floats per iteration over whole blocks of 32
// (the caller does the rest in Go), that do what the Go loops they replace
// do, to the bit: scaleFloats multiplies each float by s (dropout at test
// time, the softmax's gradient), selectFloats keeps a float or writes +0
// by its mask byte (dropout in training and its gradient).
func elementwiseKernels() {
	// scaleFloats: y = x·s.
	name := "scaleFloats"
	routine(name, "func(blocks int, x, y *float32, s float32)", name+" multiplies 32·blocks floats by s with AVX-512: see dropout.go.")
	rN, rX, rY := reg.RCX, reg.RSI, reg.RDI
	Load(Param("blocks"), rN)
	Load(Param("x"), rX)
	Load(Param("y"), rY)
	VBROADCASTSS(paramAddr("s"), zmm[2])
	TESTQ(rN, rN)
	JZ(LabelRef(name + "_done"))
	Label(name + "_loop")
	for v := 0; v < 2; v++ {
		VMULPS(Mem{Base: rX, Disp: 64 * v}, zmm[2], zmm[v])
		VMOVUPS(zmm[v], Mem{Base: rY, Disp: 64 * v})
	}
	ADDQ(U32(128), rX)
	ADDQ(U32(128), rY)
	DECQ(rN)
	JNZ(LabelRef(name + "_loop"))
	doneLabel(name)

	// selectFloats: y = x where the mask byte is not 0, else +0.
	name = "selectFloats"
	routine(name, "func(blocks int, mask *uint8, x, y *float32)", name+" keeps the floats of 32·blocks units whose mask byte is set, with AVX-512: see dropout.go.")
	rM := reg.RBX
	Load(Param("blocks"), rN)
	Load(Param("mask"), rM)
	Load(Param("x"), rX)
	Load(Param("y"), rY)
	TESTQ(rN, rN)
	JZ(LabelRef(name + "_done"))
	Label(name + "_loop")
	for v := 0; v < 2; v++ {
		VPMOVZXBD(Mem{Base: rM, Disp: 16 * v}, zmm[2+v])
		VPTESTMD(zmm[2+v], zmm[2+v], masks[v])
		VMOVUPS_Z(Mem{Base: rX, Disp: 64 * v}, masks[v], zmm[v])
		VMOVUPS(zmm[v], Mem{Base: rY, Disp: 64 * v})
	}
	ADDQ(U8(32), rM)
	ADDQ(U32(128), rX)
	ADDQ(U32(128), rY)
	DECQ(rN)
	JNZ(LabelRef(name + "_loop"))
	doneLabel(name)
}

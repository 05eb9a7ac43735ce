package cpu

import (
	"encoding/binary"
	"fmt"
	"math"
)

// RNG is a PCG32 generator (O'Neill's permuted congruential generator, XSH-RR
// output on a 64-bit LCG). It is small, fast, statistically sound for
// dropout masks and data augmentation, and its whole state is two words, so
// the trainer can checkpoint it and resume the exact same stream: a run
// restarted from a checkpoint draws the same dropout masks it would have
// drawn without the restart.
//
// The zero RNG is not seeded; use NewRNG or Seed. An RNG is not safe for
// concurrent use; give each worker its own stream.
type RNG struct {
	state uint64
	inc   uint64 // always odd: selects one of 2⁶³ independent streams
}

// pcgMult is the 64-bit LCG multiplier of PCG32.
const pcgMult = 6364136223846793005

// NewRNG returns a generator seeded with seed on stream stream. Different
// streams with the same seed give unrelated sequences, which lets each tower
// or worker derive its own generator from one configured seed.
func NewRNG(seed, stream uint64) *RNG {
	r := new(RNG)
	r.Seed(seed, stream)
	return r
}

// Seed resets the generator to the start of the sequence for (seed, stream),
// using PCG32's standard seeding so that known-answer tests apply.
func (r *RNG) Seed(seed, stream uint64) {
	r.state = 0
	r.inc = stream<<1 | 1
	r.Uint32()
	r.state += seed
	r.Uint32()
}

// Uint32 returns the next 32 uniformly distributed bits.
func (r *RNG) Uint32() uint32 {
	old := r.state
	r.state = old*pcgMult + r.inc
	xorshifted := uint32(((old >> 18) ^ old) >> 27)
	rot := uint32(old >> 59)
	return xorshifted>>rot | xorshifted<<((-rot)&31)
}

// Float32 returns a uniform number in [0, 1) with 24 random bits, every
// value a multiple of 2⁻²⁴.
func (r *RNG) Float32() float32 {
	return float32(r.Uint32()>>8) * (1.0 / (1 << 24))
}

// Float64 returns a uniform number in [0, 1) with 53 random bits.
func (r *RNG) Float64() float64 {
	hi := uint64(r.Uint32()) << 21
	lo := uint64(r.Uint32() >> 11)
	return float64(hi|lo) * (1.0 / (1 << 53))
}

// NormFloat64 returns a standard normal number by the Box–Muller transform.
// It uses one of the transform's two outputs and draws fresh uniforms each
// call, so the generator's state stays two words and checkpoints stay exact.
func (r *RNG) NormFloat64() float64 {
	u := 1 - r.Float64() // in (0, 1], so the logarithm is finite
	v := r.Float64()
	return math.Sqrt(-2*math.Log(u)) * math.Cos(2*math.Pi*v)
}

// rngStateSize is the length of the saved state: state then inc, each
// little-endian.
const rngStateSize = 16

// MarshalBinary returns the generator's state as 16 bytes, for checkpoints.
func (r *RNG) MarshalBinary() ([]byte, error) {
	b := make([]byte, rngStateSize)
	binary.LittleEndian.PutUint64(b[0:8], r.state)
	binary.LittleEndian.PutUint64(b[8:16], r.inc)
	return b, nil
}

// UnmarshalBinary restores a state saved by MarshalBinary; the generator
// then continues the saved stream exactly.
func (r *RNG) UnmarshalBinary(b []byte) error {
	if len(b) != rngStateSize {
		return fmt.Errorf("cpu.RNG: state is %d bytes, want %d", len(b), rngStateSize)
	}
	inc := binary.LittleEndian.Uint64(b[8:16])
	if inc&1 == 0 {
		return fmt.Errorf("cpu.RNG: saved increment %#x is even, so the state is not a PCG32 state", inc)
	}
	r.state = binary.LittleEndian.Uint64(b[0:8])
	r.inc = inc
	return nil
}

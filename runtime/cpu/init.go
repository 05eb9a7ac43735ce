package cpu

// FillNormal draws every value from N(mean, std²).
func FillNormal(w []float32, mean, std float64, rng *RNG) {
	for i := range w {
		w[i] = float32(mean + std*rng.NormFloat64())
	}
}

// FillUniform draws every value from U(low, high).
func FillUniform(w []float32, low, high float64, rng *RNG) {
	for i := range w {
		w[i] = float32(low + (high-low)*rng.Float64())
	}
}

// FillConstant sets every value to v.
func FillConstant(w []float32, v float64) {
	for i := range w {
		w[i] = float32(v)
	}
}

// ParamStream is the RNG stream that initialises the i-th learned tensor of
// a network (weights and biases in the order of the lowered graph), so that
// each tensor's draws depend only on the seed and its place, not on what was
// drawn before it. The engine and the generated code both use it.
func ParamStream(i int) uint64 { return 1000 + uint64(i) }

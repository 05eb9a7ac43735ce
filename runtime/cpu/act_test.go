package cpu

import (
	"testing"
)

// TestBiasActGradients checks every activation, on its own and fused with a
// per-channel bias, against the float64 reference.
func TestBiasActGradients(t *testing.T) {
	for _, act := range []Activation{Identity, ReLU, Tanh, Sigmoid, LeakyReLU} {
		t.Run(act.String(), func(t *testing.T) {
			p := BiasAct{N: 2, C: 3, HW: 5, Act: act}
			rng := NewRNG(uint64(act), 6)
			x := randn(rng, p.N*p.C*p.HW, 1.5)
			b := randn(rng, p.C, 0.5)
			dy := randn(rng, len(x), 1)
			x64, b64 := to64(x), to64(b)
			f := func() []float64 {
				y := make([]float64, len(x64))
				for i, v := range x64 {
					c := (i / p.HW) % p.C
					y[i] = refAct(act, v+b64[c])
				}
				return y
			}
			y := append([]float32(nil), x...)
			p.Forward(b, y)
			expectClose(t, "forward y", y, f(), fwdTol)

			dx := make([]float32, len(x))
			db := randn(rng, p.C, 1)
			p.Backward(y, dy, dx, db)
			expectClose(t, "dx", dx, numGrad(f, x64, to64(dy)), bwdTol)
			expectClose(t, "db", db, numGrad(f, b64, to64(dy)), bwdTol)

			// In place, without bias: Activation alone.
			z := append([]float32(nil), x...)
			act.Forward(z)
			g := append([]float32(nil), dy...)
			act.Backward(z, g, g)
			want := make([]float64, len(x))
			for i, v := range x64 {
				want[i] = refAct(act, v)
			}
			expectClose(t, "activation alone", z, want, fwdTol)
			for i := range g {
				if g[i] != dx[i] && act == Identity {
					t.Fatalf("identity backward changed dy at %d", i)
				}
			}
		})
	}
}

func TestParseActivation(t *testing.T) {
	for _, name := range []string{"none", "relu", "tanh", "sigmoid"} {
		a, err := ParseActivation(name)
		if err != nil || a.String() != name {
			t.Errorf("ParseActivation(%q) = %v, %v", name, a, err)
		}
	}
	if _, err := ParseActivation("gelu"); err == nil {
		t.Error("unknown activation accepted")
	}
}

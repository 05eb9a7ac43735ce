package gen_test

import (
	"math"
	"testing"

	"github.com/alexnetc/alexnetc/compiler/cudagen"
	"github.com/alexnetc/alexnetc/generated/fashion"
	"github.com/alexnetc/alexnetc/runtime/cuda"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// TestGeneratedOnEmulatedCUDA runs the generated fashion package on the CUDA
// backend over the emulated device, from the plan it embeds (its kernels
// generated, as alexnetc compile --ptx does): inference must give the
// host model's probabilities to float32 rounding, and training steps must
// run, with finite losses, and move the weights. (The GPU's dropout masks
// are its own, so the training steps' values are not the host's.)
func TestGeneratedOnEmulatedCUDA(t *testing.T) {
	p, err := fashion.Plan()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cudagen.Generate(p); err != nil {
		t.Fatal(err)
	}
	b, err := cuda.New(p, []byte(".entry "+p.Module.Marker()), cuda.NewEmulator(p.Devices()), cuda.Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	mg, err := fashion.NewOn(b)
	if err != nil {
		t.Fatal(err)
	}
	defer mg.Close()
	mh := fashion.New()
	for _, m := range []*fashion.Model{mh, mg} {
		m.Init(4)
		feed(m, nil, plan.Infer, 1)
		m.Infer()
	}
	if err := mg.Err(); err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i, v := range mh.Probabilities() {
		worst = max(worst, math.Abs(float64(v-mg.Probabilities()[i])))
	}
	if worst > 1e-5 {
		t.Errorf("inference on the emulated GPU differs from the host model by %g", worst)
	}
	t.Logf("inference: largest difference %g", worst)
	w0 := append([]float32(nil), mh.Buffer("fc6.weight")...) // the initial weights, which mh has not trained
	for step := range 2 {
		feed(mg, nil, plan.Train, uint64(10+step))
		if loss := mg.TrainStep(0.01); math.IsNaN(loss) || math.IsInf(loss, 0) || loss <= 0 {
			t.Fatalf("step %d: loss %v (%v)", step, loss, mg.Err())
		}
	}
	moved := false
	for i, v := range mg.Buffer("fc6.weight") {
		moved = moved || v != w0[i]
	}
	if !moved {
		t.Error("two training steps on the emulated GPU left fc6's weights as they were")
	}
}

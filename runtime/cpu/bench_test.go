package cpu

import "testing"

// alexConv2 is the paper's conv2 over both towers at batch 8: 96 channels of
// 27×27 in, 256 filters of 5×5 with padding 2, two groups (one per GPU).
var alexConv2 = Conv{N: 8, C: 96, H: 27, W: 27, F: 256, KH: 5, KW: 5, Stride: 1,
	PadT: 2, PadL: 2, PadB: 2, PadR: 2, Groups: 2, OH: 27, OW: 27, Act: ReLU}

// convFlops is 2 × multiply-adds of a forward pass.
func convFlops(p Conv) float64 {
	return 2 * float64(p.N*p.F*p.OH*p.OW*(p.C/p.Groups)*p.KH*p.KW)
}

// alexConvs are the paper's five convolutions at batch 8, as one device
// runs them (the towers as groups), conv1 with cuda-convnet's ceil rounding.
var alexConvs = []struct {
	name string
	p    Conv
}{
	{"conv1", Conv{N: 8, C: 3, H: 224, W: 224, F: 96, KH: 11, KW: 11, Stride: 4, PadB: 3, PadR: 3, Groups: 1, OH: 55, OW: 55, Act: ReLU}},
	{"conv2", alexConv2},
	{"conv3", Conv{N: 8, C: 256, H: 13, W: 13, F: 384, KH: 3, KW: 3, Stride: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1, OH: 13, OW: 13, Act: ReLU}},
	{"conv4", Conv{N: 8, C: 384, H: 13, W: 13, F: 384, KH: 3, KW: 3, Stride: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 2, OH: 13, OW: 13, Act: ReLU}},
	{"conv5", Conv{N: 8, C: 384, H: 13, W: 13, F: 256, KH: 3, KW: 3, Stride: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 2, OH: 13, OW: 13, Act: ReLU}},
}

// BenchmarkConvForward and BenchmarkConvBackward time each of alexConvs,
// in GFLOP/s of its multiply-adds (twice the forward's for backward, which
// computes dx too).
func BenchmarkConvForward(b *testing.B)  { benchmarkConvs(b, false) }
func BenchmarkConvBackward(b *testing.B) { benchmarkConvs(b, true) }

func benchmarkConvs(b *testing.B, backward bool) {
	for _, c := range alexConvs {
		b.Run(c.name, func(b *testing.B) {
			p := c.p
			rng := NewRNG(1, 1)
			x, w, bias := randn(rng, p.InSize(), 1), randn(rng, p.WeightSize(), 0.01), randn(rng, p.BiasSize(), 1)
			y, dy := make([]float32, p.OutSize()), randn(rng, p.OutSize(), 1)
			dx, dw, db := make([]float32, p.InSize()), make([]float32, p.WeightSize()), make([]float32, p.BiasSize())
			scratch := make([]float32, max(p.ForwardScratch(), p.BackwardScratch()))
			p.Forward(x, w, bias, y, scratch)
			flops := convFlops(p)
			for b.Loop() {
				if backward {
					p.Backward(x, w, y, dy, dx, dw, db, scratch)
				} else {
					p.Forward(x, w, bias, y, scratch)
				}
			}
			if backward {
				flops *= 2
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func benchmarkSgemm(b *testing.B, transA, transB bool) {
	const n = 512
	rng := NewRNG(2, 2)
	x, y, z := randn(rng, n*n, 1), randn(rng, n*n, 1), make([]float32, n*n)
	for b.Loop() {
		Sgemm(transA, transB, n, n, n, 1, x, n, y, n, 0, z, n)
	}
	b.ReportMetric(2*n*n*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkSgemm512NN(b *testing.B) { benchmarkSgemm(b, false, false) }
func BenchmarkSgemm512TN(b *testing.B) { benchmarkSgemm(b, true, false) }
func BenchmarkSgemm512NT(b *testing.B) { benchmarkSgemm(b, false, true) }

func BenchmarkLRN(b *testing.B) {
	p := LRN{N: 8, C: 96, H: 55, W: 55, C0: 0, C1: 48, Size: 5, K: 2, Alpha: 1e-4, Beta: 0.75}
	x := randn(NewRNG(3, 3), p.TensorSize(), 1)
	y := make([]float32, p.TensorSize())
	for b.Loop() {
		p.Forward(x, y)
	}
}

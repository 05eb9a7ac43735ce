package data

import (
	"math"
	"testing"

	"github.com/alexnetc/alexnetc/runtime/cpu"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// reconstruct returns Σᵢ λᵢ pᵢ pᵢᵀ.
func reconstruct(values []float64, vectors [][]float64) []float64 {
	n := len(values)
	a := make([]float64, n*n)
	for i, l := range values {
		for r := 0; r < n; r++ {
			for c := 0; c < n; c++ {
				a[r*n+c] += l * vectors[i][r] * vectors[i][c]
			}
		}
	}
	return a
}

func checkEigen(t *testing.T, a []float64, n int) ([]float64, [][]float64) {
	t.Helper()
	values, vectors := SymEigen(a, n)
	scale := 0.0
	for _, v := range a {
		scale = max(scale, math.Abs(v))
	}
	for k, v := range reconstruct(values, vectors) {
		if math.Abs(v-a[k]) > 1e-12*max(scale, 1) {
			t.Fatalf("n=%d: reconstruction [%d] = %v, want %v", n, k, v, a[k])
		}
	}
	for i := range vectors {
		if i > 0 && values[i] > values[i-1] {
			t.Errorf("eigenvalues not decreasing: %v", values)
		}
		for j := range vectors {
			dot := 0.0
			for k := 0; k < n; k++ {
				dot += vectors[i][k] * vectors[j][k]
			}
			want := 0.0
			if i == j {
				want = 1
			}
			if math.Abs(dot-want) > 1e-12 {
				t.Errorf("n=%d: p%d·p%d = %v, want %v", n, i, j, dot, want)
			}
		}
	}
	return values, vectors
}

func TestSymEigenKnown(t *testing.T) {
	// A = Q diag(5, 2, 0.5) Qᵀ with Q a rotation whose columns are the
	// eigenvectors (1,2,2)/3, (2,1,−2)/3, (2,−2,1)/3.
	q := [][]float64{{1, 2, 2}, {2, 1, -2}, {2, -2, 1}}
	for _, v := range q {
		for k := range v {
			v[k] /= 3
		}
	}
	lam := []float64{5, 2, 0.5}
	a := reconstruct(lam, q)
	values, vectors := checkEigen(t, a, 3)
	for i := range lam {
		if math.Abs(values[i]-lam[i]) > 1e-12 {
			t.Errorf("λ%d = %v, want %v", i, values[i], lam[i])
		}
		for k := range q[i] { // the sign convention: largest component positive
			if math.Abs(vectors[i][k]-q[i][k]) > 1e-12 {
				t.Errorf("p%d = %v, want %v", i, vectors[i], q[i])
				break
			}
		}
	}
	// Diagonal, repeated and zero eigenvalues, and a 1×1 matrix.
	checkEigen(t, []float64{2, 0, 0, 0, 2, 0, 0, 0, 2}, 3)
	checkEigen(t, []float64{1, 1, 1, 1, 1, 1, 1, 1, 1}, 3)
	checkEigen(t, []float64{0, 0, 0, 0}, 2)
	if v, p := SymEigen([]float64{0.25}, 1); v[0] != 0.25 || p[0][0] != 1 {
		t.Errorf("1×1: %v %v", v, p)
	}
	rng := cpu.NewRNG(3, 0)
	for n := 2; n <= 6; n++ {
		for trial := 0; trial < 20; trial++ {
			a := make([]float64, n*n)
			for r := 0; r < n; r++ {
				for c := r; c < n; c++ {
					v := rng.NormFloat64()
					a[r*n+c], a[c*n+r] = v, v
				}
			}
			checkEigen(t, a, n)
		}
	}
}

// randomSet returns n images of c×s×s with correlated channels: channel k
// of a pixel is a shared base value plus a channel-specific part, so the
// colour covariance has distinct eigenvalues. Label i is i.
func randomSet(seed uint64, n, c, s int) *Set {
	rng := cpu.NewRNG(seed, 1)
	set := &Set{Channels: c, Size: s, Labels: make([]int32, n), Pixels: make([]uint8, n*c*s*s)}
	plane := s * s
	for i := 0; i < n; i++ {
		set.Labels[i] = int32(i)
		set.Classes = append(set.Classes, "")
		img := set.Image(i)
		for k := 0; k < plane; k++ {
			base := rng.Float64() * 160
			for ch := 0; ch < c; ch++ {
				img[ch*plane+k] = uint8(base + float64(30*ch)*rng.Float64() + float64(k%7))
			}
		}
	}
	return set
}

func TestComputeStats(t *testing.T) {
	set := randomSet(1, 37, 3, 5)
	st := ComputeStats(set)
	C, S, N := 3, 5, 37
	plane := S * S
	// Naive float64 sums.
	mean := make([]float64, C*plane)
	mu := make([]float64, C)
	for i := 0; i < N; i++ {
		for k, p := range set.Image(i) {
			v := float64(p) / 255
			mean[k] += v / float64(N)
			mu[k/plane] += v / float64(N*plane)
		}
	}
	cov := make([]float64, C*C)
	for i := 0; i < N; i++ {
		img := set.Image(i)
		for k := 0; k < plane; k++ {
			for a := 0; a < C; a++ {
				for b := 0; b < C; b++ {
					cov[a*C+b] += (float64(img[a*plane+k])/255 - mu[a]) * (float64(img[b*plane+k])/255 - mu[b]) / float64(N*plane)
				}
			}
		}
	}
	for k := range mean {
		if math.Abs(float64(st.Mean[k])-mean[k]) > 1e-6 {
			t.Fatalf("mean[%d] = %v, want %v", k, st.Mean[k], mean[k])
		}
	}
	for c := range mu {
		if math.Abs(float64(st.ChannelMean[c])-mu[c]) > 1e-6 {
			t.Errorf("channel mean %d = %v, want %v", c, st.ChannelMean[c], mu[c])
		}
	}
	for k := range cov {
		if math.Abs(st.Cov[k]-cov[k]) > 1e-12 {
			t.Errorf("cov[%d] = %v, want %v", k, st.Cov[k], cov[k])
		}
	}
	for k, v := range reconstruct(st.Eigenvalues, st.Eigenvectors) {
		if math.Abs(v-st.Cov[k]) > 1e-12 {
			t.Errorf("eigen reconstruction [%d] = %v, want %v", k, v, st.Cov[k])
		}
	}
	if !(st.Eigenvalues[0] > st.Eigenvalues[1] && st.Eigenvalues[1] > st.Eigenvalues[2] && st.Eigenvalues[2] > 0) {
		t.Errorf("eigenvalues %v: want distinct and positive for this set", st.Eigenvalues)
	}
}

// TestPCALightingStatistics checks the paper's colour augmentation: the
// offset added to an image is the same for every pixel, has mean 0 and
// covariance σ²·P·diag(λ)·Pᵀ (= σ²·Cov, with the √λ convention), and is
// drawn anew each time the image is used.
func TestPCALightingStatistics(t *testing.T) {
	const (
		n, S, batch, epochs = 2048, 2, 128, 10
		sigma               = 0.1
	)
	set := randomSet(2, n, 3, S)
	st := ComputeStats(set)
	aug := Augment{Crop: S, RandomCrop: true, Flip: true, Mean: plan.MeanPixel}
	plain, err := NewLoader(set, st, aug, Options{Batch: batch, Seed: 9, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	aug.Lighting = sigma
	lit, err := NewLoader(set, st, aug, Options{Batch: batch, Seed: 9, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer lit.Close()

	row := 3 * S * S
	x0, x1 := make([]float32, batch*row), make([]float32, batch*row)
	y0, y1 := make([]int32, batch), make([]int32, batch)
	var offsets [][3]float64
	first := make(map[int32][3]float64) // image → its offset in epoch 0
	redrawn := 0
	for e := 0; e < epochs; e++ {
		for plain.Next(x0, y0) {
			if !lit.Next(x1, y1) {
				t.Fatal("the loaders disagree on the epoch's length")
			}
			for r := 0; r < batch; r++ {
				if y0[r] != y1[r] {
					t.Fatalf("row %d: images %d and %d: lighting changed the order", r, y0[r], y1[r])
				}
				var d [3]float64
				for c := 0; c < 3; c++ {
					base := r*row + c*S*S
					d[c] = float64(x1[base] - x0[base])
					for k := 1; k < S*S; k++ {
						if dk := float64(x1[base+k] - x0[base+k]); math.Abs(dk-d[c]) > 1e-6 {
							t.Fatalf("offset of channel %d varies over the image: %v vs %v", c, dk, d[c])
						}
					}
				}
				offsets = append(offsets, d)
				if e == 0 {
					first[y0[r]] = d
				} else if e == 1 {
					if f, ok := first[y0[r]]; ok && f != d {
						redrawn++
					}
				}
			}
		}
		lit.Next(x1, y1) // the epoch's end
	}
	if redrawn < n/2 {
		t.Errorf("only %d images got a new offset in epoch 1", redrawn)
	}

	// Expected covariance σ²·P·diag(λ)·Pᵀ, built from the eigenpairs.
	var want [3][3]float64
	for i, p := range st.Eigenvectors {
		for a := 0; a < 3; a++ {
			for b := 0; b < 3; b++ {
				want[a][b] += sigma * sigma * st.Eigenvalues[i] * p[a] * p[b]
			}
		}
	}
	m := float64(len(offsets))
	var mean [3]float64
	for _, d := range offsets {
		for c := range d {
			mean[c] += d[c] / m
		}
	}
	for c := range mean {
		if se := math.Sqrt(want[c][c] / m); math.Abs(mean[c]) > 5*se {
			t.Errorf("mean offset of channel %d = %.3g, want 0 ± %.2g", c, mean[c], 5*se)
		}
	}
	for a := 0; a < 3; a++ {
		for b := 0; b < 3; b++ {
			got := 0.0
			for _, d := range offsets {
				got += (d[a] - mean[a]) * (d[b] - mean[b]) / m
			}
			se := math.Sqrt((want[a][a]*want[b][b] + want[a][b]*want[a][b]) / m)
			if math.Abs(got-want[a][b]) > 5*se {
				t.Errorf("cov[%d][%d] = %.4g, want %.4g ± %.2g", a, b, got, want[a][b], 5*se)
			}
			if math.Abs(want[a][b]-sigma*sigma*st.Cov[a*3+b]) > 1e-12 {
				t.Errorf("σ²·PΛPᵀ[%d][%d] = %v differs from σ²·Cov = %v", a, b, want[a][b], sigma*sigma*st.Cov[a*3+b])
			}
		}
	}
}

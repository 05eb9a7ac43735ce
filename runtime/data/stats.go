package data

import (
	"fmt"
	"math"
	"sort"
)

// Stats are the statistics of a training set that preprocessing and
// augmentation use, in the scale the network sees (pixel/255, so [0, 1]).
// They are computed with exact integer sums, so they do not depend on the
// number of workers.
type Stats struct {
	Channels, Size int

	// Mean is the mean image, C×S×S: the paper's per-pixel mean.
	Mean []float32
	// ChannelMean is the mean of each channel over all pixels of all images.
	ChannelMean []float32
	// Cov is the C×C covariance (row-major) of a pixel's channel values over
	// all pixels of all images: for RGB images, the colour covariance whose
	// principal components PCA lighting follows.
	Cov []float64
	// Eigenvalues of Cov, in decreasing order, and the matching unit
	// eigenvectors: Cov = Σᵢ λᵢ pᵢ pᵢᵀ with pᵢ = Eigenvectors[i].
	Eigenvalues  []float64
	Eigenvectors [][]float64
}

// ComputeStats computes the Stats of a (training) set.
func ComputeStats(s *Set) *Stats {
	C, S := s.Channels, s.Size
	plane := S * S
	n := s.Len()
	if n == 0 {
		panic("data: ComputeStats of an empty set")
	}
	// Per-image sums are exact in uint64; the shards are fixed by the image
	// ranges parallel hands out, and integer addition does not care about
	// order, so the result is the same for any number of workers.
	type acc struct {
		pix  []uint64 // C×S×S sums of pixel values
		prod []uint64 // C×C sums of products of channel values at a pixel
	}
	const shards = 64
	accs := make([]acc, min(shards, n))
	parallel(len(accs), 0, func(lo, hi int) {
		for a := lo; a < hi; a++ {
			ac := acc{pix: make([]uint64, C*plane), prod: make([]uint64, C*C)}
			for i := n * a / len(accs); i < n*(a+1)/len(accs); i++ {
				img := s.Image(i)
				for k, p := range img {
					ac.pix[k] += uint64(p)
				}
				for c := 0; c < C; c++ {
					for d := c; d < C; d++ {
						pc, pd := img[c*plane:(c+1)*plane], img[d*plane:(d+1)*plane]
						var sum uint64
						for k := range pc {
							sum += uint64(pc[k]) * uint64(pd[k])
						}
						ac.prod[c*C+d] += sum
					}
				}
			}
			accs[a] = ac
		}
	})
	pix := make([]uint64, C*plane)
	prod := make([]uint64, C*C)
	for _, ac := range accs {
		for k, v := range ac.pix {
			pix[k] += v
		}
		for k, v := range ac.prod {
			prod[k] += v
		}
	}

	st := &Stats{Channels: C, Size: S, Mean: make([]float32, C*plane), ChannelMean: make([]float32, C), Cov: make([]float64, C*C)}
	chSum := make([]float64, C)
	for k, v := range pix {
		st.Mean[k] = float32(float64(v) / (255 * float64(n)))
		chSum[k/plane] += float64(v)
	}
	m := float64(n) * float64(plane) // pixels per channel
	mu := make([]float64, C)
	for c := range mu {
		mu[c] = chSum[c] / (255 * m)
		st.ChannelMean[c] = float32(mu[c])
	}
	for c := 0; c < C; c++ {
		for d := c; d < C; d++ {
			v := float64(prod[c*C+d])/(255*255*m) - mu[c]*mu[d]
			st.Cov[c*C+d], st.Cov[d*C+c] = v, v
		}
	}
	st.Eigenvalues, st.Eigenvectors = SymEigen(st.Cov, C)
	return st
}

// SymEigen returns the eigenvalues of the symmetric n×n matrix a (row-major),
// in decreasing order, and the matching unit eigenvectors, by cyclic Jacobi
// rotations. a is not modified. It is meant for the small matrices of colour
// statistics (n = 1 or 3); its cost grows as n³ per sweep.
func SymEigen(a []float64, n int) (values []float64, vectors [][]float64) {
	if len(a) != n*n {
		panic(fmt.Sprintf("data: SymEigen: %d elements for a %d×%d matrix", len(a), n, n))
	}
	m := append([]float64(nil), a...)
	v := make([]float64, n*n) // columns are the eigenvectors
	for i := 0; i < n; i++ {
		v[i*n+i] = 1
	}
	for sweep := 0; sweep < 100; sweep++ {
		off, norm := 0.0, 0.0
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				if i != j {
					off += m[i*n+j] * m[i*n+j]
				}
				norm += m[i*n+j] * m[i*n+j]
			}
		}
		if off <= 1e-30*norm || off == 0 {
			break
		}
		for p := 0; p < n-1; p++ {
			for q := p + 1; q < n; q++ {
				apq := m[p*n+q]
				if apq == 0 {
					continue
				}
				// Choose the rotation angle θ that zeroes m[p][q]:
				// cot 2θ = (a_qq − a_pp) / (2 a_pq), t = tan θ the smaller root.
				theta := (m[q*n+q] - m[p*n+p]) / (2 * apq)
				t := 1 / (math.Abs(theta) + math.Sqrt(theta*theta+1))
				if theta < 0 {
					t = -t
				}
				c := 1 / math.Sqrt(t*t+1)
				s := t * c
				// m ← Jᵀ m J, with J the rotation in the (p, q) plane.
				for k := 0; k < n; k++ {
					mkp, mkq := m[k*n+p], m[k*n+q]
					m[k*n+p] = c*mkp - s*mkq
					m[k*n+q] = s*mkp + c*mkq
				}
				for k := 0; k < n; k++ {
					mpk, mqk := m[p*n+k], m[q*n+k]
					m[p*n+k] = c*mpk - s*mqk
					m[q*n+k] = s*mpk + c*mqk
				}
				for k := 0; k < n; k++ {
					vkp, vkq := v[k*n+p], v[k*n+q]
					v[k*n+p] = c*vkp - s*vkq
					v[k*n+q] = s*vkp + c*vkq
				}
			}
		}
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return m[order[i]*n+order[i]] > m[order[j]*n+order[j]] })
	values = make([]float64, n)
	vectors = make([][]float64, n)
	for r, i := range order {
		values[r] = m[i*n+i]
		vec := make([]float64, n)
		// Fix the sign so that the largest component (the first of those
		// equal to it within rounding) is positive: the decomposition is then
		// a function of the matrix alone.
		biggest := 0.0
		for k := 0; k < n; k++ {
			vec[k] = v[k*n+i]
			biggest = max(biggest, math.Abs(vec[k]))
		}
		big := 0
		for k := 0; k < n; k++ {
			if math.Abs(vec[k]) >= biggest*(1-1e-9) {
				big = k
				break
			}
		}
		if vec[big] < 0 {
			for k := range vec {
				vec[k] = -vec[k]
			}
		}
		vectors[r] = vec
	}
	return values, vectors
}

package cpu

import (
	"fmt"
	"math"
	"testing"
)

// naiveGemm is the textbook triple loop in float64, reading the operands
// through explicit index functions so that it shares no code with Sgemm.
func naiveGemm(transA, transB bool, m, n, k int, alpha float64, a []float32, lda int, b []float32, ldb int, beta float64, c []float32, ldc int) []float64 {
	at := func(i, p int) float64 {
		if transA {
			return float64(a[p*lda+i])
		}
		return float64(a[i*lda+p])
	}
	bt := func(p, j int) float64 {
		if transB {
			return float64(b[j*ldb+p])
		}
		return float64(b[p*ldb+j])
	}
	out := to64(c)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for p := 0; p < k; p++ {
				s += at(i, p) * bt(p, j)
			}
			if beta == 0 {
				out[i*ldc+j] = alpha * s
			} else {
				out[i*ldc+j] = alpha*s + beta*float64(c[i*ldc+j])
			}
		}
	}
	return out
}

// gemmPaths returns the names of the paths this CPU can run, fastest first.
func gemmPaths() []string {
	var names []string
	for _, g := range gemmImpls {
		names = append(names, g.name)
	}
	return names
}

// withGEMMPath runs f with Sgemm switched to the named path.
func withGEMMPath(t testing.TB, path string, f func()) {
	t.Helper()
	old := setGEMMPath(path)
	defer setGEMMPath(old)
	if got := GEMMPath(); got != path {
		t.Fatalf("GEMMPath() = %q after asking for %q", got, path)
	}
	f()
}

// withThreads runs f with SetThreads(n).
func withThreads(n int, f func()) {
	old := int(gemmThreads.Load())
	SetThreads(n)
	defer SetThreads(old)
	f()
}

var transposes = [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}}

// gemmCase is one product to check: sizes, transposes, scalars, and the
// padding of each operand's rows beyond its columns.
type gemmCase struct {
	m, n, k        int
	transA, transB bool
	alpha, beta    float32
	pad            int
}

func (gc gemmCase) String() string {
	return fmt.Sprintf("%dx%dx%d_tA%v_tB%v_a%g_b%g_pad%d", gc.m, gc.n, gc.k, gc.transA, gc.transB, gc.alpha, gc.beta, gc.pad)
}

// operands makes A, B and C for the case, each exactly as long as its
// matrix needs (so that a read past the end would panic or show), with C
// full of NaN when beta is 0.
func (gc gemmCase) operands(seed uint64) (a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	rng := NewRNG(seed, 5)
	ar, ac := gc.m, gc.k
	if gc.transA {
		ar, ac = gc.k, gc.m
	}
	br, bc := gc.k, gc.n
	if gc.transB {
		br, bc = gc.n, gc.k
	}
	lda, ldb, ldc = ac+gc.pad, bc+gc.pad, gc.n+gc.pad
	size := func(rows, cols, ld int) int {
		if rows == 0 || cols == 0 {
			return 0
		}
		return (rows-1)*ld + cols
	}
	a = randn(rng, size(ar, ac, lda), 1)
	b = randn(rng, size(br, bc, ldb), 1)
	c = randn(rng, size(gc.m, gc.n, ldc), 1)
	if gc.beta == 0 {
		for i := 0; i < gc.m; i++ {
			for j := 0; j < gc.n; j++ {
				c[i*ldc+j] = float32(math.NaN())
			}
		}
	}
	return a, max(lda, 1), b, max(ldb, 1), c, max(ldc, 1)
}

// tol is the relative tolerance for the case: float32 sums of k products
// lose about sqrt(k) roundings.
func (gc gemmCase) tol() float64 {
	return max(fwdTol, 2e-7*math.Sqrt(float64(gc.k)))
}

// check runs the case on the current path and compares C, padding
// included, with the float64 reference.
func (gc gemmCase) check(t *testing.T) []float32 {
	t.Helper()
	a, lda, b, ldb, c, ldc := gc.operands(uint64(gc.m*1000003 + gc.n*1009 + gc.k))
	want := naiveGemm(gc.transA, gc.transB, gc.m, gc.n, gc.k, float64(gc.alpha), a, lda, b, ldb, float64(gc.beta), c, ldc)
	Sgemm(gc.transA, gc.transB, gc.m, gc.n, gc.k, gc.alpha, a, lda, b, ldb, gc.beta, c, ldc)
	expectClose(t, "C", c, want, gc.tol())
	return c
}

// gemmSizes are the sizes every path is checked at: the smallest, odd
// ones, sizes around multiples of every path's tile (so that edge tiles
// with each count of rows and columns occur), k across the block of k, m
// across the block of m, and a long k.
func gemmSizes() [][3]int {
	sizes := [][3]int{
		{1, 1, 1}, {13, 17, 19}, {3, 5, 7}, {17, 13, 9}, {5, 600, 300}, {33, 31, 129},
		{1, 100, 3}, {100, 1, 3}, {2, 2, 1},
	}
	seen := map[[3]int]bool{}
	for _, g := range gemmImpls {
		for _, dm := range []int{-1, 0, 1} {
			for _, dn := range []int{-1, 0, 1} {
				for _, mul := range []int{1, 2} {
					m, n := mul*g.mr+dm, mul*g.nr+dn
					if m < 1 || n < 1 || seen[[3]int{m, n}] {
						continue
					}
					seen[[3]int{m, n}] = true
					sizes = append(sizes, [3]int{m, n, 5 + m%7})
				}
			}
		}
		sizes = append(sizes,
			[3]int{g.mr + 1, g.nr + 3, g.kc + 1},       // two blocks of k
			[3]int{g.mc + g.mr + 1, g.nr - 1, 9},       // two blocks of m
			[3]int{3, g.nc + g.nr + 5, 4},              // two blocks of n
			[3]int{2*g.mr + 3, 3*g.nr + 5, 3*g.kc + 7}, // three blocks of k
		)
	}
	return append(sizes, [3]int{7, 9, 2500}, [3]int{64, 64, 1200})
}

// TestSgemmPaths checks every path the CPU can run against the float64
// reference for all transposes at gemmSizes, with alpha and beta other than
// 0 and 1, rows of every operand wider than the matrix (whose padding must
// stay untouched), and 1 to 3 goroutines.
func TestSgemmPaths(t *testing.T) {
	for _, path := range gemmPaths() {
		t.Run(path, func(t *testing.T) {
			withGEMMPath(t, path, func() {
				for _, sz := range gemmSizes() {
					for _, tr := range transposes {
						gc := gemmCase{m: sz[0], n: sz[1], k: sz[2], transA: tr[0], transB: tr[1], alpha: 0.7, beta: -0.3, pad: 3}
						threads := 1 + (sz[0]+sz[1]+sz[2])%3
						t.Run(fmt.Sprintf("%v_t%d", gc, threads), func(t *testing.T) {
							withThreads(threads, func() { gc.check(t) })
						})
					}
				}
			})
		})
	}
}

// TestSgemmAlphaBeta covers the scalars BLAS treats specially: beta 0 (C
// holds NaN and must be overwritten), beta 1, alpha 0 and k 0 (C only
// scaled), negative values, and operands with no padding.
func TestSgemmAlphaBeta(t *testing.T) {
	for _, path := range gemmPaths() {
		t.Run(path, func(t *testing.T) {
			withGEMMPath(t, path, func() {
				for _, ab := range [][2]float32{{1, 0}, {0.5, 0}, {1, 1}, {-2, 0.25}, {0, 0.5}, {0, 0}, {1, -1}} {
					for _, sz := range [][3]int{{1, 1, 1}, {13, 17, 19}, {29, 70, 400}, {4, 70, 0}} {
						for _, tr := range transposes {
							gc := gemmCase{m: sz[0], n: sz[1], k: sz[2], transA: tr[0], transB: tr[1], alpha: ab[0], beta: ab[1]}
							t.Run(gc.String(), func(t *testing.T) { gc.check(t) })
						}
					}
				}
			})
		})
	}
}

// TestSgemmPathsAgree runs the same products on every path and compares
// the paths with each other, on shapes like AlexNet's (scaled down) with
// two goroutines.
func TestSgemmPathsAgree(t *testing.T) {
	paths := gemmPaths()
	if len(paths) < 2 {
		t.Skipf("only the %s path runs on this CPU", paths[0])
	}
	for _, sz := range [][3]int{{48, 3025 / 5, 363}, {128, 729 / 3, 1200 / 4}, {192, 169, 576}, {37, 301, 211}} {
		for _, tr := range transposes {
			gc := gemmCase{m: sz[0], n: sz[1], k: sz[2], transA: tr[0], transB: tr[1], alpha: 1.5, beta: 0.5, pad: 1}
			t.Run(gc.String(), func(t *testing.T) {
				results := make([][]float32, len(paths))
				for i, path := range paths {
					withGEMMPath(t, path, func() {
						withThreads(2, func() { results[i] = gc.check(t) })
					})
				}
				for i := 1; i < len(paths); i++ {
					expectClose(t, paths[0]+" vs "+paths[i], results[i], to64(results[0]), gc.tol())
				}
			})
		}
	}
}

// TestGEMMPathFallback checks that asking for a path the CPU lacks, or for
// no known path, gives a path that runs.
func TestGEMMPathFallback(t *testing.T) {
	for _, want := range []string{"avx512", "avx2", "go", "", "bogus"} {
		g := chooseGemm(want)
		found := false
		for _, h := range gemmImpls {
			found = found || h == g
		}
		if !found {
			t.Errorf("chooseGemm(%q) = %s, which this CPU cannot run", want, g.name)
		}
		if want == "go" && g.name != "go" {
			t.Errorf("chooseGemm(go) = %s", g.name)
		}
	}
	if got, want := chooseGemm("").name, gemmImpls[0].name; got != want {
		t.Errorf("default path %s, want the fastest, %s", got, want)
	}
}

// TestSgemm is the original check through the default path.
func TestSgemm(t *testing.T) {
	sizes := [][3]int{{1, 1, 1}, {3, 5, 7}, {17, 13, 9}, {5, 600, 300}, {33, 31, 129}, {4, 70, 0}}
	for _, sz := range sizes {
		for _, tr := range transposes {
			m, n, k := sz[0], sz[1], sz[2]
			transA, transB := tr[0], tr[1]
			t.Run(fmt.Sprintf("%dx%dx%d_tA%v_tB%v", m, n, k, transA, transB), func(t *testing.T) {
				rng := NewRNG(uint64(m*n+k), 5)
				ar, ac := m, k
				if transA {
					ar, ac = k, m
				}
				br, bc := k, n
				if transB {
					br, bc = n, k
				}
				lda, ldb, ldc := ac+3, bc+1, n+2
				a := randn(rng, max(ar*lda, 1), 1)
				b := randn(rng, max(br*ldb, 1), 1)
				c := randn(rng, m*ldc, 1)
				want := naiveGemm(transA, transB, m, n, k, 0.7, a, lda, b, ldb, -0.3, c, ldc)
				Sgemm(transA, transB, m, n, k, 0.7, a, lda, b, ldb, -0.3, c, ldc)
				expectClose(t, "C", c, want, fwdTol)
			})
		}
	}
}

// TestSgemmBetaZero checks that beta = 0 ignores C's old contents, NaN
// included, as the reference BLAS does.
func TestSgemmBetaZero(t *testing.T) {
	for _, path := range gemmPaths() {
		withGEMMPath(t, path, func() {
			a := []float32{1, 2, 3, 4}
			b := []float32{5, 6, 7, 8}
			c := []float32{float32(math.NaN()), float32(math.Inf(1)), 1, 2}
			Sgemm(false, false, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2)
			want := []float32{19, 22, 43, 50}
			for i := range c {
				if c[i] != want[i] {
					t.Fatalf("%s: C = %v, want %v", path, c, want)
				}
			}
		})
	}
}

func TestAxpy(t *testing.T) {
	y := []float32{1, 2, 3, 4, 5}
	Axpy(2, []float32{1, 1, 1, 1, 1}, y)
	for i, v := range []float32{3, 4, 5, 6, 7} {
		if y[i] != v {
			t.Fatalf("y = %v", y)
		}
	}
}

// sgemmShapes are the forward GEMMs of AlexNet at batch 128 (per image and
// per group for the convolutions: C = W·im2col), a square product, and
// some backward ones.
var sgemmShapes = []struct {
	name           string
	m, n, k        int
	transA, transB bool
}{
	// The fully connected layers' products, which go through Sgemm: the
	// batch times the weights, per tower (fc6) and as one device.
	{"fc6", 128, 2048, 9216, false, true},
	{"fc6-1dev", 128, 4096, 9216, false, true},
	{"fc7-1dev", 128, 4096, 4096, false, true},
	{"fc8", 128, 1000, 4096, false, true},
	// The convolutions' products as single Sgemm calls, per image and
	// tower and as one device with several images side by side. Conv no
	// longer calls Sgemm for them (it packs panels of the whole batch
	// straight from the images: BenchmarkConvForward times that), but
	// they show what the kernel does on the layers' shapes.
	{"conv1", 48, 3025, 363, false, false},
	{"conv2", 128, 729, 1200, false, false},
	{"conv3", 192, 169, 2304, false, false},
	{"conv4", 192, 169, 1728, false, false},
	{"conv5", 128, 169, 1728, false, false},
	{"conv1-1dev", 96, 3025, 363, false, false},
	{"conv3-1dev", 384, 676, 2304, false, false},
	{"conv4-1dev", 192, 676, 1728, false, false},
	{"conv5-1dev", 128, 676, 1728, false, false},
	{"sq2048", 2048, 2048, 2048, false, false},
	// Backward GEMMs of conv2 and fc6: dW = dY·colᵀ, dcol = Wᵀ·dY (which
	// Conv now makes from its own panels too), and fc6's dW = dYᵀ·X.
	{"conv2dW", 128, 1200, 729, false, true},
	{"conv2dX", 1200, 729, 128, true, false},
	{"fc6dW", 2048, 9216, 128, true, false},
}

// BenchmarkSgemm times the AlexNet shapes on every path the CPU runs, on 1
// and 2 goroutines, e.g. -bench 'Sgemm/avx512/conv2/t2'.
func BenchmarkSgemm(b *testing.B) {
	for _, path := range gemmPaths() {
		for _, sh := range sgemmShapes {
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%s/t%d", path, sh.name, threads), func(b *testing.B) {
					rng := NewRNG(7, 7)
					x := randn(rng, sh.m*sh.k, 1)
					// Without transposes lda = k and ldb = n; the stored
					// matrix is k×m or n×k when transposed.
					y := randn(rng, sh.k*sh.n, 1)
					z := make([]float32, sh.m*sh.n)
					lda, ldb := sh.k, sh.n
					if sh.transA {
						lda = sh.m
					}
					if sh.transB {
						ldb = sh.k
					}
					cpu0 := 0.0
					withGEMMPath(b, path, func() {
						withThreads(threads, func() {
							// Once untimed, so that the page faults of the
							// fresh C and the first packing buffers are not
							// counted.
							Sgemm(sh.transA, sh.transB, sh.m, sh.n, sh.k, 1, x, lda, y, ldb, 0, z, sh.n)
							cpu0 = processCPUTime()
							for b.Loop() {
								Sgemm(sh.transA, sh.transB, sh.m, sh.n, sh.k, 1, x, lda, y, ldb, 0, z, sh.n)
							}
						})
					})
					flops := 2 * float64(sh.m) * float64(sh.n) * float64(sh.k) * float64(b.N)
					b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
					if cpu := processCPUTime() - cpu0; cpu > 0 {
						// Per second of CPU time: on a shared machine this
						// shows the kernels' speed when the wall clock
						// also counts time spent waiting for a core.
						b.ReportMetric(flops/cpu/1e9, "GFLOP/cpu-s")
					}
				})
			}
		}
	}
}

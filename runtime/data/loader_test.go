package data

import (
	"math"
	"strings"
	"testing"

	"github.com/alexnetc/alexnetc/runtime/plan"
)

// coordSet returns n images of c×s×s (s ≤ 8, c ≤ 4) whose pixel (ch, y, x)
// is 64·ch + 8y + x, so a patch tells where it came from; label i is i.
func coordSet(n, c, s int) *Set {
	set := &Set{Channels: c, Size: s, Labels: make([]int32, n), Pixels: make([]uint8, n*c*s*s)}
	for i := 0; i < n; i++ {
		set.Labels[i] = int32(i)
		set.Classes = append(set.Classes, "")
		img := set.Image(i)
		for ch := 0; ch < c; ch++ {
			for y := 0; y < s; y++ {
				for x := 0; x < s; x++ {
					img[(ch*s+y)*s+x] = uint8(64*ch + 8*y + x)
				}
			}
		}
	}
	return set
}

// decodePatch recovers the offset and mirroring of a crop×crop patch of a
// coordSet image (mean none, no lighting) and checks that every value of the
// patch agrees with them.
func decodePatch(t *testing.T, x []float32, c, crop int) (oy, ox int, flip bool) {
	t.Helper()
	v := func(k int) int { return int(math.Round(float64(x[k]) * 255)) }
	flip = v(1) < v(0)
	oy, ox = v(0)/8, v(0)%8
	if flip {
		ox -= crop - 1
	}
	for ch := 0; ch < c; ch++ {
		for i := 0; i < crop; i++ {
			for j := 0; j < crop; j++ {
				sx := ox + j
				if flip {
					sx = ox + crop - 1 - j
				}
				want := 64*ch + 8*(oy+i) + sx
				if got := v((ch*crop+i)*crop + j); got != want {
					t.Fatalf("patch (%d,%d,%d) = %d, want %d for offset (%d,%d) flip %v", ch, i, j, got, want, oy, ox, flip)
				}
			}
		}
	}
	return oy, ox, flip
}

type batchRec struct {
	x      []float32
	labels []int32
}

// collect runs a loader for the given number of epochs and records every
// batch and the Position before it.
func collect(t *testing.T, l *Loader, epochs int) (out []batchRec, pos [][2]int) {
	t.Helper()
	n, c, h, w := l.Shape()
	for e := 0; e < epochs; e++ {
		for {
			ep, b := l.Position()
			x, y := make([]float32, n*c*h*w), make([]int32, n)
			if !l.Next(x, y) {
				break
			}
			out = append(out, batchRec{x, y})
			pos = append(pos, [2]int{ep, b})
		}
	}
	return out, pos
}

func sameBatches(t *testing.T, what string, a, b []batchRec) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d batches vs %d", what, len(a), len(b))
	}
	for i := range a {
		if !equal(a[i].labels, b[i].labels) || !equal(a[i].x, b[i].x) {
			t.Fatalf("%s: batch %d differs", what, i)
		}
	}
}

func TestLoaderDeterminismAndSeek(t *testing.T) {
	set := randomSet(5, 300, 3, 10)
	st := ComputeStats(set)
	aug := Augment{Crop: 8, RandomCrop: true, Flip: true, Lighting: 0.1, Mean: plan.MeanPixel}
	mk := func(workers, ahead int) *Loader {
		l, err := NewLoader(set, st, aug, Options{Batch: 32, Seed: 42, Workers: workers, Ahead: ahead})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(l.Close)
		return l
	}
	l1 := mk(1, 1)
	if l1.BatchesPerEpoch() != 9 {
		t.Fatalf("%d batches per epoch, want ⌊300/32⌋ = 9", l1.BatchesPerEpoch())
	}
	a, pos := collect(t, l1, 3)
	b, _ := collect(t, mk(4, 3), 3)
	sameBatches(t, "1 worker vs 4", a, b)
	if len(a) != 27 || pos[0] != [2]int{0, 0} || pos[9] != [2]int{1, 0} || pos[26] != [2]int{2, 8} {
		t.Fatalf("%d batches, positions %v", len(a), pos)
	}
	if e, bb := l1.Position(); e != 3 || bb != 0 {
		t.Errorf("after 3 epochs Position = (%d, %d), want (3, 0)", e, bb)
	}

	// Each epoch is a permutation without repeats, of 288 of the 300 images
	// (the last partial batch is dropped), and epochs differ in order.
	for e := 0; e < 3; e++ {
		seen := map[int32]bool{}
		for _, r := range a[9*e : 9*e+9] {
			for _, l := range r.labels {
				if seen[l] {
					t.Fatalf("epoch %d visits image %d twice", e, l)
				}
				seen[l] = true
			}
		}
		if len(seen) != 288 {
			t.Errorf("epoch %d visits %d images, want 288", e, len(seen))
		}
	}
	if equal(a[0].labels, a[9].labels) {
		t.Error("epochs 0 and 1 start with the same images")
	}

	// Another seed gives other batches.
	other, _ := NewLoader(set, st, aug, Options{Batch: 32, Seed: 43})
	defer other.Close()
	c, _ := collect(t, other, 1)
	if equal(c[0].labels, a[0].labels) {
		t.Error("seeds 42 and 43 give the same first batch")
	}

	// Seek on a fresh loader, on a running one (backwards and forwards), and
	// to the end of an epoch.
	l := mk(3, 2)
	l.Seek(1, 4)
	got, _ := collect(t, l, 2) // the rest of epoch 1, then epoch 2
	sameBatches(t, "Seek(1, 4) on a fresh loader", a[13:], got)
	l.Seek(0, 7)
	x, y := make([]float32, 32*3*8*8), make([]int32, 32)
	if !l.Next(x, y) || !equal(x, a[7].x) || !equal(y, a[7].labels) {
		t.Error("Seek(0, 7) on a running loader does not give batch 7 of epoch 0")
	}
	l.Seek(2, 8)
	if !l.Next(x, y) || !equal(x, a[26].x) {
		t.Error("Seek(2, 8) does not give the last batch of epoch 2")
	}
	l.Seek(0, 9)
	if l.Next(x, y) {
		t.Error("Seek(0, BatchesPerEpoch()) should report the end of epoch 0")
	}
	if e, bb := l.Position(); e != 1 || bb != 0 {
		t.Errorf("after the end of epoch 0, Position = (%d, %d)", e, bb)
	}
	if !l.Next(x, y) || !equal(x, a[9].x) {
		t.Error("after Seek(0, 9) and the epoch's end, Next does not give epoch 1's first batch")
	}
}

func TestLoaderCropsAndFlips(t *testing.T) {
	const n, S, crop, batch = 512, 8, 5, 64
	set := coordSet(n, 2, S)
	l, err := NewLoader(set, nil, Augment{Crop: crop, RandomCrop: true, Flip: true}, Options{Batch: batch, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	row := 2 * crop * crop
	x, y := make([]float32, batch*row), make([]int32, batch)
	var seen [S - crop + 1][S - crop + 1]int
	flips, total := 0, 0
	for e := 0; e < 4; e++ {
		for l.Next(x, y) {
			for r := 0; r < batch; r++ {
				oy, ox, flip := decodePatch(t, x[r*row:(r+1)*row], 2, crop)
				if oy < 0 || ox < 0 || oy > S-crop || ox > S-crop {
					t.Fatalf("offset (%d, %d) outside [0, %d]", oy, ox, S-crop)
				}
				seen[oy][ox]++
				if flip {
					flips++
				}
				total++
			}
		}
	}
	// 2048 draws over 16 offsets: each expected 128 times.
	for oy := range seen {
		for ox, k := range seen[oy] {
			if k < 64 || k > 192 {
				t.Errorf("offset (%d, %d) drawn %d times of %d", oy, ox, k, total)
			}
		}
	}
	if f := float64(flips) / float64(total); math.Abs(f-0.5) > 5*math.Sqrt(0.25/float64(total)) {
		t.Errorf("flipped %d of %d", flips, total)
	}

	// Without random crops and flips: always the unmirrored centre.
	c, err := NewLoader(set, nil, Augment{Crop: crop}, Options{Batch: batch, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for c.Next(x, y) {
		for r := 0; r < batch; r++ {
			if oy, ox, flip := decodePatch(t, x[r*row:(r+1)*row], 2, crop); oy != 1 || ox != 1 || flip {
				t.Fatalf("centre crop at (%d, %d) flip %v, want (1, 1) unflipped", oy, ox, flip)
			}
		}
	}
}

func TestLoaderMeanSubtraction(t *testing.T) {
	const n, S, batch = 256, 6, 32
	set := randomSet(7, n, 3, S)
	st := ComputeStats(set)
	row := 3 * S * S
	for _, mode := range []string{plan.MeanPixel, plan.MeanChannel} {
		l, err := NewLoader(set, st, Augment{Mean: mode}, Options{Batch: batch, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		x, y := make([]float32, batch*row), make([]int32, batch)
		sum := make([]float64, row)
		for l.Next(x, y) {
			for k := range x {
				sum[k%row] += float64(x[k]) / n
			}
		}
		l.Close()
		for c := 0; c < 3; c++ {
			ch := 0.0
			for k := c * S * S; k < (c+1)*S*S; k++ {
				ch += sum[k] / (S * S)
				if mode == plan.MeanPixel && math.Abs(sum[k]) > 1e-5 {
					t.Fatalf("pixel mean: training-set mean at %d is %v after subtraction", k, sum[k])
				}
			}
			if math.Abs(ch) > 1e-5 {
				t.Errorf("%s mean: channel %d averages %v after subtraction", mode, c, ch)
			}
		}
	}
}

func TestLoaderErrors(t *testing.T) {
	set := coordSet(10, 1, 8)
	st := ComputeStats(set)
	cases := []struct {
		aug   Augment
		st    *Stats
		batch int
		want  string
	}{
		{Augment{Crop: 9}, nil, 4, "crop 9 does not fit the set's 8×8 images"},
		{Augment{}, nil, 11, "10 images do not fill one batch of 11"},
		{Augment{}, nil, 0, "batch size 0 must be positive"},
		{Augment{Mean: plan.MeanPixel}, nil, 4, "need the training set's Stats"},
		{Augment{Lighting: 0.1}, nil, 4, "need the training set's Stats"},
		{Augment{Lighting: -1}, st, 4, "σ -1 is negative"},
		{Augment{Mean: "median"}, st, 4, `unknown mean mode "median"`},
		{Augment{Mean: plan.MeanPixel}, ComputeStats(coordSet(2, 1, 6)), 4, "Stats are of 1×6×6 images, the set's are 1×8×8"},
	}
	for _, c := range cases {
		_, err := NewLoader(set, c.st, c.aug, Options{Batch: c.batch})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v batch %d: got %v, want …%s", c.aug, c.batch, err, c.want)
		}
	}
	l, err := NewLoader(set, nil, Augment{}, Options{Batch: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	defer func() {
		if recover() == nil {
			t.Error("Next with a short buffer did not panic")
		}
	}()
	l.Next(make([]float32, 10), make([]int32, 4))
}

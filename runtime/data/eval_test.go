package data

import (
	"math"
	"testing"

	"github.com/alexnetc/alexnetc/runtime/plan"
)

func TestViewOffset(t *testing.T) {
	// 8×8 images, 5×5 patches: corners at 0 and 3, centre at 1.
	want := []struct {
		oy, ox int
		flip   bool
	}{
		{1, 1, false}, {0, 0, false}, {0, 3, false}, {3, 0, false}, {3, 3, false},
		{1, 1, true}, {0, 0, true}, {0, 3, true}, {3, 0, true}, {3, 3, true},
	}
	for v, w := range want {
		if oy, ox, flip := ViewOffset(v, 8, 5); oy != w.oy || ox != w.ox || flip != w.flip {
			t.Errorf("view %d: (%d, %d, %v), want %+v", v, oy, ox, flip, w)
		}
	}
	if oy, ox, _ := ViewOffset(0, 32, 28); oy != 2 || ox != 2 {
		t.Errorf("centre of 32 for 28 at (%d, %d)", oy, ox)
	}
}

func TestEvalLoaderTenViews(t *testing.T) {
	const n, S, crop, batch = 7, 8, 5, 16
	set := coordSet(n, 2, S)
	row := 2 * crop * crop
	for _, workers := range []int{1, 4} {
		e, err := NewEvalLoader(set, nil, Augment{Crop: crop, RandomCrop: true, Flip: true}, 10, Options{Batch: batch, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		if e.Batches() != 5 {
			t.Errorf("%d batches, want ⌈70/16⌉ = 5", e.Batches())
		}
		for pass := 0; pass < 2; pass++ {
			x, y := make([]float32, batch*row), make([]int32, batch)
			g := 0 // global row
			for {
				k := e.Next(x, y)
				if k == 0 {
					break
				}
				for r := 0; r < k; r++ {
					img, v := g/10, g%10
					if y[r] != int32(img) {
						t.Fatalf("row %d labelled %d, want image %d", g, y[r], img)
					}
					oy, ox, flip := decodePatch(t, x[r*row:(r+1)*row], 2, crop)
					if woy, wox, wflip := ViewOffset(v, S, crop); oy != woy || ox != wox || flip != wflip {
						t.Fatalf("image %d view %d: (%d, %d, %v), want (%d, %d, %v)", img, v, oy, ox, flip, woy, wox, wflip)
					}
					g++
				}
				for r := k; r < batch; r++ {
					if y[r] != -1 || x[r*row] != 0 || x[(r+1)*row-1] != 0 {
						t.Fatalf("padding row %d not zeroed and labelled −1", r)
					}
				}
			}
			if g != n*10 {
				t.Fatalf("%d rows, want %d", g, n*10)
			}
			e.Reset()
		}
		e.Close()
	}
}

func TestEvalLoaderCentre(t *testing.T) {
	set := randomSet(4, 9, 3, 6)
	st := ComputeStats(set)
	e, err := NewEvalLoader(set, st, Augment{Crop: 4, Lighting: 0.5, Mean: plan.MeanPixel}, 1, Options{Batch: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	x, y := make([]float32, 4*3*16), make([]int32, 4)
	img := 0
	for k := e.Next(x, y); k > 0; k = e.Next(x, y) {
		for r := 0; r < k; r++ {
			for c := 0; c < 3; c++ {
				for i := 0; i < 4; i++ {
					for j := 0; j < 4; j++ {
						src := (c*6+1+i)*6 + 1 + j
						want := float32(set.Image(img)[src])/255 - st.Mean[src]
						if got := x[r*48+(c*4+i)*4+j]; math.Abs(float64(got-want)) > 1e-6 {
							t.Fatalf("image %d (%d,%d,%d) = %v, want %v", img, c, i, j, got, want)
						}
					}
				}
			}
			img++
		}
	}
	if img != 9 {
		t.Errorf("%d images, want 9", img)
	}
	if _, err := NewEvalLoader(set, st, Augment{}, 11, Options{Batch: 4}); err == nil {
		t.Error("11 views accepted")
	}
}

func TestTopK(t *testing.T) {
	p := []float32{0.1, 0.5, 0.2, 0.2}
	cases := []struct {
		label int32
		k     int
		want  bool
	}{
		{1, 1, true}, {2, 1, false}, {2, 2, true}, // class 2 ties class 3 and wins it
		{3, 2, false}, {3, 3, true}, {0, 3, false}, {0, 4, true}, {0, 5, true},
	}
	for _, c := range cases {
		if got := TopK(p, c.label, c.k); got != c.want {
			t.Errorf("TopK(label %d, k %d) = %v", c.label, c.k, got)
		}
	}
}

func TestScoreAveragesViews(t *testing.T) {
	// Six classes, two views per image, three images.
	rows := [][]float32{
		// Image 0, label 0: view 0 alone says class 1, the average says 0.
		{0.40, 0.60, 0, 0, 0, 0},
		{0.70, 0.10, 0.05, 0.05, 0.05, 0.05},
		// Image 1, label 5: the least probable on average — top-5 error too.
		{0.30, 0.20, 0.20, 0.10, 0.10, 0.10},
		{0.30, 0.20, 0.10, 0.20, 0.15, 0.05},
		// Image 2, label 2: second on average — a top-1 error, top-5 right.
		{0.50, 0.10, 0.40, 0, 0, 0},
		{0.30, 0.30, 0.20, 0.20, 0, 0},
	}
	labels := []int32{0, 0, 5, 5, 2, 2}
	var prob []float32
	for _, r := range rows {
		prob = append(prob, r...)
	}
	s := NewScore(6, 2)
	// Deliver the rows in batches of 3, splitting image 1's views.
	s.Add(prob[:18], labels[:3], 3)
	if s.Images() != 1 {
		t.Fatalf("%d images after 3 rows, want 1", s.Images())
	}
	s.Add(prob[18:], labels[3:], 3)
	if e1, e5 := s.Errors(); s.Images() != 3 || e1 != 2 || e5 != 1 {
		t.Errorf("%d images, %d top-1 and %d top-5 errors; want 3, 2, 1", s.Images(), e1, e5)
	}
	if math.Abs(s.Top1Error()-2.0/3) > 1e-12 || math.Abs(s.Top5Error()-1.0/3) > 1e-12 {
		t.Errorf("errors %v %v", s.Top1Error(), s.Top5Error())
	}
	// One view per image scores each row alone: only image 0's second view
	// is right.
	one := NewScore(6, 1)
	one.Add(prob, labels, 6)
	if e1, _ := one.Errors(); one.Images() != 6 || e1 != 5 {
		t.Errorf("single views: %d images, %d top-1 errors; want 6, 5", one.Images(), e1)
	}
	s.Reset()
	if s.Images() != 0 || s.Top1Error() != 0 {
		t.Error("Reset did not empty the score")
	}
}

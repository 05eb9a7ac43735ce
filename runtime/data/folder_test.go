package data

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// gradient returns a w×h image with R = rx·x, G = gy·y, B = 50.
func gradient(w, h, rx, gy int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, color.NRGBA{uint8(rx * x), uint8(gy * y), 50, 255})
		}
	}
	return img
}

func solid(w, h int, c color.Color) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	return img
}

// pixel returns channel c at (y, x) of image i of a set.
func pixel(s *Set, i, c, y, x int) int {
	return int(s.Image(i)[(c*s.Size+y)*s.Size+x])
}

func TestReadFolder(t *testing.T) {
	root := t.TempDir()
	gray := image.NewGray(image.Rect(0, 0, 30, 30))
	for k := range gray.Pix {
		gray.Pix[k] = 77
	}
	files := map[string][]byte{
		"cat/a.png":      encodePNG(t, gradient(80, 40, 2, 4)), // wide
		"cat/b.JPG":      encodeJPEG(t, solid(40, 70, color.RGBA{30, 160, 220, 255})),
		"cat/broken.png": []byte("this is not a PNG file"),
		"cat/c.png":      encodePNG(t, gray),
		"cat/notes.txt":  []byte("ignored"),
		"dog/d.jpeg":     encodeJPEG(t, solid(100, 50, color.RGBA{200, 100, 50, 255})),
		"dog/e.PNG":      encodePNG(t, gradient(30, 90, 3, 1)),                     // tall
		"dog/f.png":      encodePNG(t, solid(16, 12, color.RGBA{10, 20, 30, 255})), // scaled up
		"stray.png":      encodePNG(t, gray),                                       // not in a class folder
	}
	for name, b := range files {
		writeFile(t, filepath.Join(root, name), b)
	}
	if err := os.Mkdir(filepath.Join(root, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}

	const size = 20
	for _, workers := range []int{1, 3} {
		s, err := ReadFolder(root, size, workers)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(s.Classes, ","); got != "cat,dog,empty" {
			t.Errorf("classes %s", got)
		}
		if s.Len() != 6 || s.Channels != 3 || s.Size != size {
			t.Fatalf("%d images of %d×%d×%d", s.Len(), s.Channels, s.Size, s.Size)
		}
		if want := []int32{0, 0, 0, 1, 1, 1}; !equal(s.Labels, want) {
			t.Errorf("labels %v, want %v", s.Labels, want)
		}
		if s.Skipped != 1 || len(s.SkippedFiles) != 1 || !strings.HasPrefix(s.SkippedFiles[0], filepath.Join(root, "cat/broken.png")+": ") {
			t.Errorf("skipped %d: %q", s.Skipped, s.SkippedFiles)
		}

		// a.png, 80×40: the centre square is x ∈ [20, 60), every source
		// pixel covering half an output pixel; column j samples x = 20.5+2j,
		// row i samples y = 0.5+2i. Border pixels are left out, where the
		// filter is cut by the square's edge.
		for i := 2; i < size-2; i++ {
			for j := 2; j < size-2; j++ {
				r, g := pixel(s, 0, 0, i, j), pixel(s, 0, 1, i, j)
				if math.Abs(float64(r)-2*(20.5+2*float64(j))) > 1 || math.Abs(float64(g)-4*(0.5+2*float64(i))) > 1 {
					t.Fatalf("a.png (%d,%d) = R %d G %d, want %.1f %.1f", i, j, r, g, 2*(20.5+2*float64(j)), 4*(0.5+2*float64(i)))
				}
			}
		}
		// e.PNG, 30×90: the centre square is y ∈ [30, 60); row i samples
		// y = 30 + 1.5(i+0.5) − 0.5, column j samples x = 1.5(j+0.5) − 0.5.
		for i := 2; i < size-2; i++ {
			for j := 2; j < size-2; j++ {
				r, g := float64(pixel(s, 4, 0, i, j)), float64(pixel(s, 4, 1, i, j))
				wy, wx := 30+1.5*(float64(i)+0.5)-0.5, 1.5*(float64(j)+0.5)-0.5
				if math.Abs(g-wy) > 1 || math.Abs(r-3*wx) > 1.5 {
					t.Fatalf("e.PNG (%d,%d) = R %v G %v, want %.2f %.2f", i, j, r, g, 3*wx, wy)
				}
			}
		}
		checkSolid := func(name string, i int, want [3]int, tol int) {
			for c := 0; c < 3; c++ {
				for k := 0; k < size*size; k++ {
					if d := int(s.Image(i)[c*size*size+k]) - want[c]; d > tol || d < -tol {
						t.Fatalf("%s channel %d pixel %d = %d, want %d±%d", name, c, k, s.Image(i)[c*size*size+k], want[c], tol)
					}
				}
			}
		}
		checkSolid("b.JPG", 1, [3]int{30, 160, 220}, 4)
		checkSolid("c.png (grayscale)", 2, [3]int{77, 77, 77}, 0)
		checkSolid("d.jpeg", 3, [3]int{200, 100, 50}, 4)
		checkSolid("f.png", 5, [3]int{10, 20, 30}, 0)
	}
}

func TestReadFolderErrors(t *testing.T) {
	empty := t.TempDir()
	if _, err := ReadFolder(empty, 8, 1); err == nil || err.Error() != "data: "+empty+" has no class folders (want root/<class>/<image>)" {
		t.Errorf("empty root: %v", err)
	}
	noImages := t.TempDir()
	writeFile(t, filepath.Join(noImages, "a", "readme.txt"), []byte("x"))
	if err := os.Mkdir(filepath.Join(noImages, "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFolder(noImages, 8, 1); err == nil || err.Error() != "data: "+noImages+": no .jpg, .jpeg or .png files in its 2 class folders" {
		t.Errorf("no images: %v", err)
	}
	if _, err := ReadFolder(filepath.Join(empty, "missing"), 8, 1); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing root: %v", err)
	}
	bad := t.TempDir()
	writeFile(t, filepath.Join(bad, "x", "1.jpg"), nil)
	want := "data: " + bad + ": none of its 1 image files could be read; the first: " + filepath.Join(bad, "x", "1.jpg") + ": "
	if _, err := ReadFolder(bad, 8, 2); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("all unreadable: %v", err)
	}
}

func TestResized(t *testing.T) {
	// Pixel (c, y, x) = 4x + 100c on 28×28, rescaled to 32: column j
	// samples x = (j+0.5)·28/32 − 0.5, so the value is 4 times that.
	s := &Set{Classes: []string{"a"}, Labels: []int32{0, 0}, Channels: 2, Size: 28}
	s.Pixels = make([]uint8, 2*s.ImageLen())
	for i := 0; i < 2; i++ {
		for c := 0; c < 2; c++ {
			for y := 0; y < 28; y++ {
				for x := 0; x < 28; x++ {
					s.Image(i)[(c*28+y)*28+x] = uint8(4*x + 100*c)
				}
			}
		}
	}
	r := s.Resized(32)
	if r.Size != 32 || r.Len() != 2 || len(r.Pixels) != 2*2*32*32 {
		t.Fatalf("resized to %d, %d images", r.Size, r.Len())
	}
	for i := 0; i < 2; i++ {
		for c := 0; c < 2; c++ {
			for y := 0; y < 32; y++ {
				for x := 2; x < 30; x++ {
					want := 4*((float64(x)+0.5)*28/32-0.5) + 100*float64(c)
					if got := float64(pixel(r, i, c, y, x)); math.Abs(got-want) > 1 {
						t.Fatalf("(%d,%d,%d,%d) = %v, want %.2f", i, c, y, x, got, want)
					}
				}
			}
		}
	}
	if s.Resized(28) != s {
		t.Error("Resized to the same size should return the set itself")
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

package data

import (
	"path/filepath"
	"strings"
	"testing"
)

// cifarBatch returns n records; record r of file f has label (f+r) mod 10
// and pixel (c, y, x) = (f + 5r + 64c + y + x) mod 256.
func cifarBatch(f, n int) []byte {
	var b []byte
	for r := 0; r < n; r++ {
		b = append(b, byte((f+r)%10))
		for c := 0; c < 3; c++ {
			for y := 0; y < 32; y++ {
				for x := 0; x < 32; x++ {
					b = append(b, byte(f+5*r+64*c+y+x))
				}
			}
		}
	}
	return b
}

func TestReadCIFAR10(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "cifar-10-batches-bin")
	for f := 1; f <= 5; f++ {
		writeFile(t, filepath.Join(dir, "data_batch_"+string(rune('0'+f))+".bin"), cifarBatch(f, 3))
	}
	writeFile(t, filepath.Join(dir, "test_batch.bin"), cifarBatch(0, 4))

	// The test split, found through the archive's folder, with the
	// built-in names.
	s, err := ReadCIFAR10(root, false)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 4 || s.Channels != 3 || s.Size != 32 || s.Classes[0] != "airplane" {
		t.Fatalf("%d images %d×%d×%d, classes %q", s.Len(), s.Channels, s.Size, s.Size, s.Classes)
	}

	// The training split, with names from batches.meta.txt.
	names := "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n"
	writeFile(t, filepath.Join(dir, "batches.meta.txt"), []byte(names))
	s, err = ReadCIFAR10(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 15 || s.Classes[9] != "j" || len(s.Classes) != 10 {
		t.Fatalf("%d images, classes %q", s.Len(), s.Classes)
	}
	for i := 0; i < 15; i++ {
		f, r := i/3+1, i%3
		if s.Labels[i] != int32((f+r)%10) {
			t.Errorf("label %d = %d, want %d", i, s.Labels[i], (f+r)%10)
		}
		img := s.Image(i)
		for _, p := range [][3]int{{0, 0, 0}, {1, 3, 5}, {2, 31, 30}} {
			c, y, x := p[0], p[1], p[2]
			if got, want := img[(c*32+y)*32+x], byte(f+5*r+64*c+y+x); got != want {
				t.Errorf("image %d pixel %v = %d, want %d", i, p, got, want)
			}
		}
	}

	// Corrupt files.
	writeFile(t, filepath.Join(dir, "test_batch.bin"), cifarBatch(0, 2)[:3000])
	if _, err := ReadCIFAR10(dir, false); err == nil || !strings.Contains(err.Error(), "3000 bytes is not a whole number of 3073-byte CIFAR-10 records") {
		t.Errorf("truncated batch: %v", err)
	}
	bad := cifarBatch(0, 2)
	bad[cifarRecord] = 10
	writeFile(t, filepath.Join(dir, "test_batch.bin"), bad)
	if _, err := ReadCIFAR10(dir, false); err == nil || !strings.HasSuffix(err.Error(), "test_batch.bin: record 1 has label 10, want 0–9") {
		t.Errorf("bad label: %v", err)
	}
	writeFile(t, filepath.Join(dir, "test_batch.bin"), cifarBatch(0, 1))
	writeFile(t, filepath.Join(dir, "batches.meta.txt"), []byte("a\nb\n"))
	if _, err := ReadCIFAR10(dir, false); err == nil || !strings.HasSuffix(err.Error(), "batches.meta.txt names 2 classes, want 10") {
		t.Errorf("short meta: %v", err)
	}
	if _, err := ReadCIFAR10(t.TempDir(), true); err == nil || !strings.Contains(err.Error(), "data_batch_1.bin: no such file") {
		t.Errorf("missing batches: %v", err)
	}
}

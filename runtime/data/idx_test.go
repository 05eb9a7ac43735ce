package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// idxBytes returns an IDX file: the magic, the dimensions, then body.
func idxBytes(magic uint32, dims []int, body []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, magic)
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(body)
	return b.Bytes()
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func writeFile(t *testing.T, path string, b []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// genIDX returns n images of rows×cols whose pixel (i, y, x) is
// (7i + 3y + x) mod 256, and labels i mod 3.
func genIDX(n, rows, cols int) (images, labels []byte) {
	pix := make([]byte, n*rows*cols)
	lab := make([]byte, n)
	for i := 0; i < n; i++ {
		lab[i] = byte(i % 3)
		for y := 0; y < rows; y++ {
			for x := 0; x < cols; x++ {
				pix[(i*rows+y)*cols+x] = byte(7*i + 3*y + x)
			}
		}
	}
	return idxBytes(idxImagesMagic, []int{n, rows, cols}, pix), idxBytes(idxLabelsMagic, []int{n}, lab)
}

func TestReadIDXGenerated(t *testing.T) {
	dir := t.TempDir()
	img, lab := genIDX(5, 4, 4)
	for _, gz := range []bool{false, true} {
		ip, lp := filepath.Join(dir, "img"), filepath.Join(dir, "lab")
		if gz {
			writeFile(t, ip, gzipBytes(t, img))
			writeFile(t, lp, gzipBytes(t, lab))
		} else {
			writeFile(t, ip, img)
			writeFile(t, lp, lab)
		}
		s, err := ReadIDX(ip, lp)
		if err != nil {
			t.Fatalf("gz=%v: %v", gz, err)
		}
		if s.Len() != 5 || s.Size != 4 || s.Channels != 1 || s.Skipped != 0 {
			t.Fatalf("gz=%v: %d images %d×%d×%d", gz, s.Len(), s.Channels, s.Size, s.Size)
		}
		if want := []string{"0", "1", "2"}; len(s.Classes) != 3 || s.Classes[2] != want[2] {
			t.Errorf("classes %q, want %q", s.Classes, want)
		}
		for i := 0; i < 5; i++ {
			if s.Labels[i] != int32(i%3) {
				t.Errorf("label %d = %d", i, s.Labels[i])
			}
			for y := 0; y < 4; y++ {
				for x := 0; x < 4; x++ {
					if got, want := s.Image(i)[y*4+x], byte(7*i+3*y+x); got != want {
						t.Fatalf("gz=%v: pixel (%d,%d,%d) = %d, want %d", gz, i, y, x, got, want)
					}
				}
			}
		}
	}
}

func TestReadIDXNonSquare(t *testing.T) {
	dir := t.TempDir()
	img, lab := genIDX(2, 3, 7) // 3×7 → the centred 3×3, columns 2..4
	s, err := ReadIDX(writeFile(t, filepath.Join(dir, "i"), img), writeFile(t, filepath.Join(dir, "l"), lab))
	if err != nil {
		t.Fatal(err)
	}
	if s.Size != 3 {
		t.Fatalf("size %d, want 3", s.Size)
	}
	for y := 0; y < 3; y++ {
		for x := 0; x < 3; x++ {
			if got, want := s.Image(1)[y*3+x], byte(7+3*y+x+2); got != want {
				t.Errorf("pixel (%d,%d) = %d, want %d", y, x, got, want)
			}
		}
	}
}

func TestReadIDXErrors(t *testing.T) {
	dir := t.TempDir()
	img, lab := genIDX(4, 2, 2)
	good := func(name string, b []byte) string { return writeFile(t, filepath.Join(dir, name), b) }
	gi, gl := good("img", img), good("lab", lab)
	trunc := good("trunc", img[:len(img)-3])
	long := good("long", append(append([]byte(nil), img...), 1, 2))
	short := good("short", img[:10])
	tiny := good("tiny", img[:2])
	gzTrunc := good("gztrunc", gzipBytes(t, img)[:20])
	_, fewLabels := genIDX(3, 2, 2)
	few := good("few", fewLabels)
	bad := good("bad", idxBytes(0x00000802, []int{4, 2, 2}, img[16:]))

	cases := []struct {
		images, labels, want string
	}{
		{gl, gl, "data: " + gl + ": magic number 0x00000801, want 0x00000803 (IDX images)"},
		{gi, gi, "data: " + gi + ": magic number 0x00000803, want 0x00000801 (IDX labels)"},
		{bad, gl, "data: " + bad + ": magic number 0x00000802, want 0x00000803 (IDX images)"},
		{trunc, gl, "data: " + trunc + ": truncated: the header promises 16 bytes of images, the file holds 13"},
		{long, gl, "data: " + long + ": 2 bytes after the 16 bytes of images the header promises"},
		{short, gl, "data: " + short + ": truncated: 10 bytes, the header needs 16"},
		{tiny, gl, "data: " + tiny + ": truncated: 2 bytes, too short for an IDX header"},
		{gzTrunc, gl, "data: " + gzTrunc + ": truncated gzip stream"},
		{gi, few, "data: " + few + " holds 3 labels but " + gi + " holds 4 images"},
		{filepath.Join(dir, "missing"), gl, "data: open " + filepath.Join(dir, "missing") + ": no such file or directory"},
	}
	for _, c := range cases {
		_, err := ReadIDX(c.images, c.labels)
		if err == nil || err.Error() != c.want {
			t.Errorf("ReadIDX(%s, %s):\n got %v\nwant %s", filepath.Base(c.images), filepath.Base(c.labels), err, c.want)
		}
	}
}

func TestFashionMNISTReal(t *testing.T) {
	if _, err := os.Stat(filepath.Join(FashionMNISTDir, "t10k-images-idx3-ubyte.gz")); err != nil {
		t.Skip("Fashion-MNIST not installed (Debian package dataset-fashion-mnist)")
	}
	s, err := FashionMNIST("", false)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 10000 || s.Size != 28 || s.Channels != 1 || len(s.Pixels) != 10000*28*28 {
		t.Fatalf("%d images of %d×%d×%d", s.Len(), s.Channels, s.Size, s.Size)
	}
	if len(s.Classes) != 10 || s.Classes[0] != "T-shirt/top" || s.Classes[9] != "Ankle boot" {
		t.Errorf("classes %q", s.Classes)
	}
	var count [10]int
	for _, l := range s.Labels {
		count[l]++
	}
	for c, n := range count {
		if n != 1000 {
			t.Errorf("class %d has %d images, want 1000", c, n)
		}
	}
	// Fashion-MNIST images are centred objects on a black background.
	var corner, centre int
	for i := 0; i < s.Len(); i++ {
		corner += int(s.Image(i)[0])
		centre += int(s.Image(i)[14*28+14])
	}
	if corner > centre/20 {
		t.Errorf("corner pixels sum to %d, centre pixels to %d: not the expected layout", corner, centre)
	}
}

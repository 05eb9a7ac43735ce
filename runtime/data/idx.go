package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// The IDX magic numbers: two zero bytes, the element type (0x08, unsigned
// byte) and the number of dimensions.
const (
	idxImagesMagic = 0x00000803 // N×rows×cols unsigned bytes
	idxLabelsMagic = 0x00000801 // N unsigned bytes
)

// FashionMNISTDir is where Debian's dataset-fashion-mnist package installs
// the data set.
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// FashionMNISTClasses are Fashion-MNIST's class names, by label.
var FashionMNISTClasses = []string{
	"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
}

// FashionMNIST reads the training split (60,000 images) or the test split
// (10,000) of Fashion-MNIST from dir, FashionMNISTDir when dir is empty. It
// looks for the files under their original names (train-images-idx3-ubyte,
// t10k-labels-idx1-ubyte, ...), gzipped (.gz) or not. The images are 28×28
// grayscale.
func FashionMNIST(dir string, train bool) (*Set, error) {
	if dir == "" {
		dir = FashionMNISTDir
	}
	prefix := "t10k"
	if train {
		prefix = "train"
	}
	images := findMaybeGz(filepath.Join(dir, prefix+"-images-idx3-ubyte"))
	labels := findMaybeGz(filepath.Join(dir, prefix+"-labels-idx1-ubyte"))
	s, err := ReadIDX(images, labels)
	if err != nil {
		return nil, err
	}
	if len(s.Classes) > len(FashionMNISTClasses) {
		return nil, fmt.Errorf("data: %s: label %d is not a Fashion-MNIST class (0–9)", labels, len(s.Classes)-1)
	}
	s.Classes = FashionMNISTClasses
	return s, nil
}

// findMaybeGz returns path+".gz" when that file exists, else path.
func findMaybeGz(path string) string {
	if _, err := os.Stat(path + ".gz"); err == nil {
		return path + ".gz"
	}
	return path
}

// ReadIDX reads an IDX image file (magic 0x00000803: N×rows×cols unsigned
// bytes) and its IDX label file (magic 0x00000801: N unsigned bytes), either
// of them gzipped or plain (recognised by content, not by name). The magic
// numbers, the sizes the headers promise and the image and label counts are
// checked. Images that are not square are cut to their centred square. The
// classes are named "0", "1", ... up to the largest label.
func ReadIDX(imagesPath, labelsPath string) (*Set, error) {
	img, err := readMaybeGz(imagesPath)
	if err != nil {
		return nil, err
	}
	dims, pix, err := parseIDX(imagesPath, img, idxImagesMagic, "images")
	if err != nil {
		return nil, err
	}
	lab, err := readMaybeGz(labelsPath)
	if err != nil {
		return nil, err
	}
	ldims, labels, err := parseIDX(labelsPath, lab, idxLabelsMagic, "labels")
	if err != nil {
		return nil, err
	}
	n, rows, cols := dims[0], dims[1], dims[2]
	if ldims[0] != n {
		return nil, fmt.Errorf("data: %s holds %d labels but %s holds %d images", labelsPath, ldims[0], imagesPath, n)
	}
	if rows == 0 || cols == 0 {
		return nil, fmt.Errorf("data: %s: images are %d×%d", imagesPath, rows, cols)
	}
	size := min(rows, cols)
	s := &Set{Channels: 1, Size: size, Labels: make([]int32, n)}
	if rows == cols {
		s.Pixels = pix
	} else {
		s.Pixels = make([]uint8, n*size*size)
		y0, x0 := (rows-size)/2, (cols-size)/2
		for i := 0; i < n; i++ {
			src, dst := pix[i*rows*cols:], s.Image(i)
			for y := 0; y < size; y++ {
				copy(dst[y*size:(y+1)*size], src[(y0+y)*cols+x0:])
			}
		}
	}
	maxLabel := 0
	for i, l := range labels {
		s.Labels[i] = int32(l)
		maxLabel = max(maxLabel, int(l))
	}
	for c := 0; c <= maxLabel; c++ {
		s.Classes = append(s.Classes, strconv.Itoa(c))
	}
	return s, nil
}

// readMaybeGz returns the contents of path, gunzipped when it starts with
// gzip's magic bytes.
func readMaybeGz(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		return b, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", path, err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("data: %s: truncated gzip stream", path)
		}
		return nil, fmt.Errorf("data: %s: %w", path, err)
	}
	return out, nil
}

// parseIDX checks an IDX file's header against the wanted magic and returns
// its dimensions and its data, which must be exactly as long as the
// dimensions say.
func parseIDX(path string, b []byte, magic uint32, what string) (dims []int, body []byte, err error) {
	if len(b) < 4 {
		return nil, nil, fmt.Errorf("data: %s: truncated: %d bytes, too short for an IDX header", path, len(b))
	}
	if got := binary.BigEndian.Uint32(b); got != magic {
		return nil, nil, fmt.Errorf("data: %s: magic number 0x%08x, want 0x%08x (IDX %s)", path, got, magic, what)
	}
	nd := int(b[3])
	head := 4 + 4*nd
	if len(b) < head {
		return nil, nil, fmt.Errorf("data: %s: truncated: %d bytes, the header needs %d", path, len(b), head)
	}
	want := 1
	for d := 0; d < nd; d++ {
		n := int(binary.BigEndian.Uint32(b[4+4*d:]))
		if n > 1<<31 || (n > 0 && want > (1<<40)/n) {
			return nil, nil, fmt.Errorf("data: %s: dimension %d is %d, too large", path, d, n)
		}
		dims = append(dims, n)
		want *= n
	}
	switch have := len(b) - head; {
	case have < want:
		return nil, nil, fmt.Errorf("data: %s: truncated: the header promises %d bytes of %s, the file holds %d", path, want, what, have)
	case have > want:
		return nil, nil, fmt.Errorf("data: %s: %d bytes after the %d bytes of %s the header promises", path, have-want, want, what)
	}
	return dims, b[head:], nil
}

package data

import (
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // registers the JPEG decoder for image.Decode
	_ "image/png"  // registers the PNG decoder for image.Decode
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// imageExts are the file name endings ReadFolder reads, compared without
// regard to case.
var imageExts = []string{".jpg", ".jpeg", ".png"}

// ReadFolder reads an ImageNet-style tree, root/<class>/<image>: every
// sub-folder of root is a class (sorted by name, so labels are the same for
// a training and a validation tree with the same folders, empty ones
// included), and every .jpg, .jpeg or .png file directly inside it (any case)
// is an image of that class; other files and deeper folders are ignored.
//
// Images are decoded by workers goroutines (GOMAXPROCS when workers ≤ 0),
// scaled so that the short side is size and cut to the centred size×size
// square (the paper's 256×256 preprocessing), and stored as 3 channels:
// grayscale images are repeated on R, G and B, and transparent pixels are
// composed over black. The order of the set is class by class, files by
// name, whatever the number of workers.
//
// A file that cannot be opened or decoded is skipped and counted in
// Set.Skipped; it is not an error. A root without class folders, with no
// image files, or with none that can be read, is.
func ReadFolder(root string, size, workers int) (*Set, error) {
	if size <= 0 {
		return nil, fmt.Errorf("data: ReadFolder(%s): size %d must be positive", root, size)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	s := &Set{Channels: 3, Size: size}
	var paths []string
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		if !isDir(dir, e) {
			continue
		}
		files, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		label := int32(len(s.Classes))
		s.Classes = append(s.Classes, e.Name())
		for _, f := range files {
			if !hasImageExt(f.Name()) || isDir(filepath.Join(dir, f.Name()), f) {
				continue
			}
			paths = append(paths, filepath.Join(dir, f.Name()))
			s.Labels = append(s.Labels, label)
		}
	}
	if len(s.Classes) == 0 {
		return nil, fmt.Errorf("data: %s has no class folders (want root/<class>/<image>)", root)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("data: %s: no .jpg, .jpeg or .png files in its %d class folders", root, len(s.Classes))
	}

	s.Pixels = make([]uint8, len(paths)*s.ImageLen())
	errs := make([]error, len(paths))
	// Hand out files one at a time rather than in contiguous ranges, so that
	// a class of large images does not leave one worker behind.
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for w := 0; w < min(workers, len(paths)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst := image.NewRGBA(image.Rect(0, 0, size, size))
			for {
				i := int(next.Add(1)) - 1
				if i >= len(paths) {
					return
				}
				errs[i] = decodeInto(s.Image(i), dst, paths[i])
			}
		}()
	}
	wg.Wait()

	// Drop the skipped images, keeping the order of the rest.
	n, k := 0, s.ImageLen()
	for i, err := range errs {
		if err != nil {
			s.skip(paths[i], err)
			continue
		}
		if n != i {
			copy(s.Pixels[n*k:(n+1)*k], s.Pixels[i*k:(i+1)*k])
			s.Labels[n] = s.Labels[i]
		}
		n++
	}
	s.Pixels, s.Labels = s.Pixels[:n*k:n*k], s.Labels[:n:n]
	if n == 0 {
		return nil, fmt.Errorf("data: %s: none of its %d image files could be read; the first: %s", root, len(paths), s.SkippedFiles[0])
	}
	return s, nil
}

// decodeInto decodes the image file at path, scales its centre square into
// dst and writes dst's R, G and B planes into out.
func decodeInto(out []uint8, dst *image.RGBA, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return errors.Unwrap(err) // the path is reported beside the error
	}
	img, _, err := image.Decode(f)
	f.Close()
	if err != nil {
		return err
	}
	if img.Bounds().Empty() {
		return fmt.Errorf("empty image")
	}
	scaleCentre(dst, img)
	plane := len(out) / 3
	for k := 0; k < plane; k++ {
		out[k] = dst.Pix[4*k]
		out[plane+k] = dst.Pix[4*k+1]
		out[2*plane+k] = dst.Pix[4*k+2]
	}
	return nil
}

// hasImageExt reports whether name ends in one of imageExts, in any case.
func hasImageExt(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	for _, e := range imageExts {
		if ext == e {
			return true
		}
	}
	return false
}

// isDir reports whether the entry at path is a folder, following symbolic
// links (data sets are often assembled from links).
func isDir(path string, e os.DirEntry) bool {
	if e.Type()&os.ModeSymlink != 0 {
		st, err := os.Stat(path)
		return err == nil && st.IsDir()
	}
	return e.IsDir()
}

// ReadImages decodes image files for prediction: each file's centre square
// scaled to size×size, with the given number of channels (1: the mean of R,
// G and B, as a grayscale training set has). Unlike ReadFolder, a file that
// cannot be read is an error, naming it.
func ReadImages(paths []string, channels, size int) (*Set, error) {
	if channels != 1 && channels != 3 {
		return nil, fmt.Errorf("data: images with %d channels cannot be read from files", channels)
	}
	s := &Set{Channels: channels, Size: size, Labels: make([]int32, len(paths))}
	s.Pixels = make([]uint8, len(paths)*s.ImageLen())
	rgb := make([]uint8, 3*size*size)
	dst := image.NewRGBA(image.Rect(0, 0, size, size))
	for i, p := range paths {
		if err := decodeInto(rgb, dst, p); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out := s.Image(i)
		if channels == 3 {
			copy(out, rgb)
			continue
		}
		plane := size * size
		for k := range out {
			out[k] = uint8((int(rgb[k]) + int(rgb[plane+k]) + int(rgb[2*plane+k]) + 1) / 3)
		}
	}
	return s, nil
}

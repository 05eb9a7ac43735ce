package data

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CIFAR10Classes are CIFAR-10's class names, by label, used when the data
// folder has no batches.meta.txt.
var CIFAR10Classes = []string{
	"airplane", "automobile", "bird", "cat", "deer",
	"dog", "frog", "horse", "ship", "truck",
}

// cifarRecord is the size of one CIFAR-10 record: a label byte, then the
// 32×32 red, green and blue planes.
const cifarRecord = 1 + 3*32*32

// ReadCIFAR10 reads CIFAR-10's binary version from dir (or from
// dir/cifar-10-batches-bin, the folder the official archive unpacks to): the
// training split is data_batch_1.bin … data_batch_5.bin (50,000 images), the
// test split test_batch.bin (10,000). Each record is one label byte (0–9)
// followed by 3072 bytes, the R, G and B planes of a 32×32 image, row-major,
// which is already the Set's layout. Class names come from batches.meta.txt,
// one per line, when it is present.
func ReadCIFAR10(dir string, train bool) (*Set, error) {
	if st, err := os.Stat(filepath.Join(dir, "cifar-10-batches-bin")); err == nil && st.IsDir() {
		dir = filepath.Join(dir, "cifar-10-batches-bin")
	}
	files := []string{"test_batch.bin"}
	if train {
		files = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}
	}
	s := &Set{Channels: 3, Size: 32, Classes: CIFAR10Classes}
	for _, f := range files {
		path := filepath.Join(dir, f)
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		if len(b) == 0 || len(b)%cifarRecord != 0 {
			return nil, fmt.Errorf("data: %s: %d bytes is not a whole number of %d-byte CIFAR-10 records", path, len(b), cifarRecord)
		}
		for r := 0; r < len(b)/cifarRecord; r++ {
			rec := b[r*cifarRecord : (r+1)*cifarRecord]
			if rec[0] >= 10 {
				return nil, fmt.Errorf("data: %s: record %d has label %d, want 0–9", path, r, rec[0])
			}
			s.Labels = append(s.Labels, int32(rec[0]))
			s.Pixels = append(s.Pixels, rec[1:]...)
		}
	}
	meta := filepath.Join(dir, "batches.meta.txt")
	if b, err := os.ReadFile(meta); err == nil {
		var names []string
		for _, line := range strings.Split(string(b), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				names = append(names, line)
			}
		}
		if len(names) != 10 {
			return nil, fmt.Errorf("data: %s names %d classes, want 10", meta, len(names))
		}
		s.Classes = names
	}
	return s, nil
}

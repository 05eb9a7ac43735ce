package cuda

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/alexnetc/alexnetc/compiler/cudagen"
)

// PTXArch is the virtual architecture the shipped PTX is compiled for: the
// A100's, which the driver also compiles for the H100 and H200 and any
// later GPU.
const PTXArch = "compute_80"

// PTXName is the file name under which a module's PTX is kept: the module's
// hash, so that a plan finds the PTX of exactly its kernels.
func PTXName(m *cudagen.Module) string { return "kernels-" + m.Hash[:16] + ".ptx" }

// FindPTX reads a module's PTX from dir. When dir lacks it and a CUDA
// toolkit is on PATH, it compiles the module's source instead and reports
// that it did.
func FindPTX(dir string, m *cudagen.Module) (ptx []byte, compiled bool, err error) {
	ptx, err = os.ReadFile(filepath.Join(dir, PTXName(m)))
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return ptx, false, err
	}
	tk, terr := cudagen.FindToolkit("")
	if terr != nil {
		return nil, false, fmt.Errorf("no %s in %s, and no CUDA toolkit on PATH to compile it: %v", PTXName(m), dir, terr)
	}
	ptx, err = tk.PTX(m.Source, PTXArch)
	return ptx, err == nil, err
}

// WritePTX compiles a module with a toolkit and writes its source and PTX
// into dir under PTXName.
func WritePTX(tk *cudagen.Toolkit, dir string, m *cudagen.Module) error {
	ptx, err := tk.PTX(m.Source, PTXArch)
	if err != nil {
		return err
	}
	base := filepath.Join(dir, PTXName(m))
	if err := os.WriteFile(base[:len(base)-len(".ptx")]+".cu", []byte(m.Source), 0o644); err != nil {
		return err
	}
	return os.WriteFile(base, ptx, 0o644)
}

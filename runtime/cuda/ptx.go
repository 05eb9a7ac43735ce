package cuda

// PTXArch is the virtual architecture the shipped PTX is compiled for: the
// A100's, which the driver also compiles for the H100 and H200 and any
// later GPU.
const PTXArch = "compute_80"

// PTXName is the file name under which a module's PTX is kept: the module's
// hash, so that a plan finds the PTX of exactly its kernels.
func PTXName(hash string) string {
	if len(hash) > 16 {
		hash = hash[:16]
	}
	return "kernels-" + hash + ".ptx"
}

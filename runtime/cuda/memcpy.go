//go:build cuda

package cuda

// #cgo LDFLAGS: -lcuda
// #include <cuda.h>
//
// static CUresult alexnetc_memcpy2d(CUdeviceptr dst, size_t dpitch, CUdeviceptr src, size_t spitch,
//                                   size_t width, size_t height, CUstream stream) {
// 	CUDA_MEMCPY2D c = {0};
// 	c.srcMemoryType = CU_MEMORYTYPE_UNIFIED;
// 	c.srcDevice = src;
// 	c.srcPitch = spitch;
// 	c.dstMemoryType = CU_MEMORYTYPE_UNIFIED;
// 	c.dstDevice = dst;
// 	c.dstPitch = dpitch;
// 	c.WidthInBytes = width;
// 	c.Height = height;
// 	return cuMemcpy2DAsync(&c, stream);
// }
import "C"

import (
	"fmt"
	"unsafe"

	"gorgonia.org/cu"
)

// memcpy2D copies height rows of width bytes between two arenas, each side
// with its own pitch, on a stream: cuMemcpy2DAsync with unified addresses,
// so that the source may be on another GPU. gorgonia.org/cu v0.9.6 has
// Memcpy2DAsync, but its conversion of the parameters dereferences the
// CUarray fields even when they are unused (nil), so it cannot copy between
// linear allocations; this calls the driver directly.
func memcpy2D(dst cu.DevicePtr, dpitch int64, src cu.DevicePtr, spitch int64, width, height int64, stream cu.Stream) error {
	s := C.CUstream(unsafe.Pointer(stream.C()))
	if r := C.alexnetc_memcpy2d(C.CUdeviceptr(dst), C.size_t(dpitch), C.CUdeviceptr(src), C.size_t(spitch),
		C.size_t(width), C.size_t(height), s); r != C.CUDA_SUCCESS {
		return fmt.Errorf("cuMemcpy2DAsync: CUDA error %d", int(r))
	}
	return nil
}

// Package cuda runs launch plans on NVIDIA GPUs through the CUDA driver
// API (gorgonia.org/cu). The backend itself is built only with the build tag
// cuda: gorgonia.org/cu ends the process in its init when no GPU is
// present, so the default build must never link it. What needs no GPU is
// built always: the dropout draws the kernels make and their seeds, the CPU
// reference that replays them, loading a plan and its PTX, and the list of
// networks the device check runs.
//
// A Backend holds one CUDA context per physical GPU (the primary context),
// one arena per logical device of the plan (a single cuMemAlloc of the
// memory plan's size), two streams per logical device (compute and copy)
// and the events each program records. Run issues a program's launches in
// the plan's order: kernels with the plan's grid and block, loops once per
// image with their arguments advanced, copies as cuMemcpy2DAsync between
// arenas, events recorded and waited on as listed. When the machine has
// fewer GPUs than the plan has devices, logical devices share a GPU: their
// arenas and streams stay separate, and a copy between them is a copy
// within the GPU. docs/cuda.md says how to build it and check it on a GPU.
package cuda

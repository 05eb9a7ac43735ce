// cuda_on_cpu.h lets g++ compile the CUDA C that compiler/cudagen writes,
// so that the kernels can be run and checked on a machine without a GPU
// (compiler/cudagen/emu_test.go). A block's threads run one after another;
// in kernels that synchronise their block, each thread is a coroutine that
// __syncthreads suspends until every thread of the block has reached it.
// Shared memory is a static variable: blocks run one at a time.
//
// It models what the kernels use and nothing more: no warps, atomics or
// memory fences. A race between threads of a block that the GPU could show
// is not found here.
#include <math.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

struct dim3 {
	unsigned x, y, z;
};
static dim3 threadIdx, blockIdx, blockDim, gridDim;

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __shared__ static

static inline int max(int a, int b) { return a > b ? a : b; }
static inline int min(int a, int b) { return a < b ? a : b; }

// The coroutines of the block being run. A coroutine is entered the first
// time with setcontext, on its own stack; after that it and the scheduler
// switch with _setjmp and _longjmp, which unlike swapcontext make no system
// call.
enum { emu_ready, emu_waiting, emu_done };
static jmp_buf emu_scheduler;
static jmp_buf* emu_resume;
static int* emu_state;
static int emu_current;
static void (*emu_call)(void**);
static void** emu_args;

static void __syncthreads() {
	emu_state[emu_current] = emu_waiting;
	if (!_setjmp(emu_resume[emu_current])) _longjmp(emu_scheduler, 1);
}

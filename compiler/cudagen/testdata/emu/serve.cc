// serve.cc is the main program of the emulated module: a server that runs
// the module's kernels on the host for runtime/cuda's emulated device
// (emu_test.go's hostKernels). Memory is one file, mapped by both sides: for
// each launch the test copies the buffers the launch points into there,
// sends the launch, and copies back what it wrote.
//
// Requests, one a line on stdin, each answered "ok" on stdout:
//   map BYTES FILE      map the shared file (again, when it grew)
//   kernel NAME GX GY GZ BX BY BZ NPARAMS, then per parameter one of
//     p OFFSET          a pointer into the shared file
//     f BITS            a float, by its bits
//     u VALUE           an unsigned long long
// A failure ends the server with a message on stderr.
#include <sys/mman.h>
#include <fcntl.h>
#include <unistd.h>

struct EmuKernel {
	const char* name;
	void (*call)(void**);
	bool barrier;
};
extern EmuKernel emu_kernels[];
extern int emu_kernel_count;

static const size_t emu_stack = 64 << 10;

static ucontext_t* emu_fibers;

static void emu_fiber_main() {
	emu_call(emu_args);
	emu_state[emu_current] = emu_done;
	_longjmp(emu_scheduler, 1);
}

static void emu_set_thread(int t) {
	threadIdx.x = t % blockDim.x;
	threadIdx.y = t / blockDim.x % blockDim.y;
	threadIdx.z = t / (blockDim.x * blockDim.y);
}

static void emu_launch(const EmuKernel* k, dim3 grid, dim3 block, void** args) {
	gridDim = grid;
	blockDim = block;
	const int n = block.x * block.y * block.z;
	static char* stacks;
	if (!stacks) {
		stacks = (char*)malloc(emu_stack * 1024);
		emu_fibers = (ucontext_t*)calloc(1024, sizeof(ucontext_t));
		emu_resume = (jmp_buf*)calloc(1024, sizeof(jmp_buf));
		emu_state = (int*)calloc(1024, sizeof(int));
	}
	emu_call = k->call;
	emu_args = args;
	for (unsigned bz = 0; bz < grid.z; bz++)
	for (unsigned by = 0; by < grid.y; by++)
	for (unsigned bx = 0; bx < grid.x; bx++) {
		blockIdx = dim3{bx, by, bz};
		if (!k->barrier) {
			for (int t = 0; t < n; t++) {
				emu_set_thread(t);
				k->call(args);
			}
			continue;
		}
		for (int t = 0; t < n; t++) {
			getcontext(&emu_fibers[t]);
			emu_fibers[t].uc_stack.ss_sp = stacks + t * emu_stack;
			emu_fibers[t].uc_stack.ss_size = emu_stack;
			emu_fibers[t].uc_link = 0;
			makecontext(&emu_fibers[t], emu_fiber_main, 0);
			emu_state[t] = emu_ready;
		}
		// started[t]: the coroutine has run and waits at a barrier.
		static bool started[1024];
		memset(started, 0, sizeof started);
		for (bool alive = true; alive;) {
			alive = false;
			for (int t = 0; t < n; t++) {
				if (emu_state[t] == emu_done) continue;
				emu_set_thread(t);
				emu_current = t;
				emu_state[t] = emu_ready;
				if (!_setjmp(emu_scheduler)) {
					if (started[t]) _longjmp(emu_resume[t], 1);
					started[t] = true;
					setcontext(&emu_fibers[t]);
				}
				if (emu_state[t] != emu_done) alive = true;
			}
		}
	}
}

static void emu_fail(const char* what) {
	fprintf(stderr, "emu: %s\n", what);
	exit(1);
}

int main() {
	char* mem = 0;
	long long size = 0;
	char word[256];
	while (scanf("%255s", word) == 1) {
		if (!strcmp(word, "map")) {
			long long n;
			char name[4096];
			if (scanf("%lld %4095s", &n, name) != 2) emu_fail("bad map line");
			if (mem) munmap(mem, size);
			int fd = open(name, O_RDWR);
			if (fd < 0) emu_fail("cannot open the shared file");
			mem = (char*)mmap(0, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			close(fd);
			if (mem == MAP_FAILED) emu_fail("cannot map the shared file");
			size = n;
		} else if (!strcmp(word, "kernel")) {
			char name[256];
			dim3 g, b;
			int np;
			if (scanf("%255s %u %u %u %u %u %u %d", name, &g.x, &g.y, &g.z, &b.x, &b.y, &b.z, &np) != 8 || np > 32) emu_fail("bad kernel line");
			uint64_t slot[32];
			void* args[32];
			for (int i = 0; i < np; i++) {
				char t[8];
				if (scanf("%7s", t) != 1) emu_fail("bad parameter");
				if (t[0] == 'p') {
					long long off;
					if (scanf("%lld", &off) != 1) emu_fail("bad pointer");
					if (off < 0 || off > size) emu_fail("pointer outside the shared file");
					char* p = mem + off;
					memcpy(&slot[i], &p, sizeof p);
				} else if (t[0] == 'f') {
					uint32_t bits;
					if (scanf("%u", &bits) != 1) emu_fail("bad float");
					slot[i] = 0;
					memcpy(&slot[i], &bits, 4);
				} else {
					unsigned long long v;
					if (scanf("%llu", &v) != 1) emu_fail("bad integer");
					slot[i] = v;
				}
				args[i] = &slot[i];
			}
			const EmuKernel* k = 0;
			for (int i = 0; i < emu_kernel_count; i++) {
				if (!strcmp(emu_kernels[i].name, name)) k = &emu_kernels[i];
			}
			if (!k) emu_fail(name);
			emu_launch(k, g, b, args);
			printf("ok\n");
			fflush(stdout);
		} else {
			emu_fail(word);
		}
	}
	return 0;
}

// run.cc is the main program of the emulated module: it reads the arenas
// and a script of launches and copies (written by emu_test.go), runs them
// in order, and writes the arenas back.
//
// Script lines:
//   arena DEVICE BYTES FILE
//   kernel NAME GX GY GZ BX BY BZ NPARAMS, then per parameter one of
//     p DEVICE OFFSET   a pointer into an arena
//     f BITS            a float, by its bits
//     u VALUE           an unsigned long long
//   copy SRCDEV SRCOFF SRCPITCH DSTDEV DSTOFF DSTPITCH ROWS ROWBYTES
//   end

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

int main(int argc, char** argv) {
	if (argc != 2) emu_fail("usage: emu SCRIPT");
	FILE* in = fopen(argv[1], "r");
	if (!in) emu_fail("cannot open the script");
	char* arena[16] = {0};
	long long size[16] = {0};
	char file[16][4096];
	char word[256];
	while (fscanf(in, "%255s", word) == 1) {
		if (!strcmp(word, "end")) break;
		if (!strcmp(word, "arena")) {
			int d;
			long long n;
			char name[4096];
			if (fscanf(in, "%d %lld %4095s", &d, &n, name) != 3 || d < 0 || d >= 16) emu_fail("bad arena line");
			size[d] = n;
			strcpy(file[d], name);
			arena[d] = (char*)aligned_alloc(64, (size[d] + 63) / 64 * 64);
			FILE* f = fopen(file[d], "rb");
			if (!f || fread(arena[d], 1, size[d], f) != (size_t)size[d]) emu_fail("cannot read an arena");
			fclose(f);
		} else if (!strcmp(word, "kernel")) {
			char name[256];
			dim3 g, b;
			int np;
			if (fscanf(in, "%255s %u %u %u %u %u %u %d", name, &g.x, &g.y, &g.z, &b.x, &b.y, &b.z, &np) != 8) emu_fail("bad kernel line");
			uint64_t slot[32];
			void* args[32];
			for (int i = 0; i < np; i++) {
				char t[8];
				if (fscanf(in, "%7s", t) != 1) emu_fail("bad parameter");
				if (t[0] == 'p') {
					int d;
					long long off;
					if (fscanf(in, "%d %lld", &d, &off) != 2) emu_fail("bad pointer");
					if (off < 0 || off > size[d]) emu_fail("pointer outside its arena");
					char* p = arena[d] + off;
					memcpy(&slot[i], &p, sizeof p);
				} else if (t[0] == 'f') {
					uint32_t bits;
					if (fscanf(in, "%u", &bits) != 1) emu_fail("bad float");
					memcpy(&slot[i], &bits, 4);
				} else {
					unsigned long long v;
					if (fscanf(in, "%llu", &v) != 1) emu_fail("bad integer");
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
		} else if (!strcmp(word, "copy")) {
			int sd, dd;
			long long so, sp, dof, dp, rows, rb;
			if (fscanf(in, "%d %lld %lld %d %lld %lld %lld %lld", &sd, &so, &sp, &dd, &dof, &dp, &rows, &rb) != 8) emu_fail("bad copy line");
			for (long long r = 0; r < rows; r++) memmove(arena[dd] + dof + r * dp, arena[sd] + so + r * sp, rb);
		} else {
			emu_fail(word);
		}
	}
	for (int d = 0; d < 16; d++) {
		if (!arena[d]) continue;
		FILE* f = fopen(file[d], "wb");
		if (!f || fwrite(arena[d], 1, size[d], f) != (size_t)size[d]) emu_fail("cannot write an arena");
		fclose(f);
	}
	return 0;
}

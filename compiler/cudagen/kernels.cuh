// The kernel bodies of alexnetc's CUDA backend, one device function per
// kernel of the launch plan's table (runtime/plan/cuda.go, docs/plan.md).
// Each takes its buffers, its runtime scalars and then its constants as
// plain arguments; the generated __global__ functions below call them with
// the constants written out as literals, so that after inlining every size,
// stride and factor is a compile-time constant (divisions by constants turn
// into multiplications, loops over windows get fixed trip counts). The
// semantics are runtime/cpu's: docs/plan.md's kernel table says which
// function each one mirrors.
//
// Every elementwise kernel runs one thread per unit of work in blocks of
// 256, and the grid has exactly ⌈work/256⌉ blocks, so a thread's index is
// its unit. All index arithmetic is in int: the generator refuses a launch
// whose work does not fit.

#define ALEXNETC_THREADS 256

__device__ __forceinline__ int alexnetc_unit() { return blockIdx.x * ALEXNETC_THREADS + threadIdx.x; }

// act applies an activation: 0 none, 1 relu, 2 tanh, 3 sigmoid, 4 leaky
// relu (slope 0.01, cpu.LeakySlope). ReLU tests
// v < 0 rather than !(v > 0) so that a NaN survives, as on the CPU.
__device__ __forceinline__ float alexnetc_act(float v, int act) {
	switch (act) {
	case 1: return v < 0.0f ? 0.0f : v;
	case 2: return tanhf(v);
	case 3: return 1.0f / (1.0f + expf(-v));
	case 4: return v > 0.0f ? v : 0.01f * v;
	}
	return v;
}

// act_grad is the derivative of the activation, from its output y.
__device__ __forceinline__ float alexnetc_act_grad(float y, float dy, int act) {
	switch (act) {
	case 1: return y > 0.0f ? dy : 0.0f;
	case 2: return dy * (1.0f - y * y);
	case 3: return dy * y * (1.0f - y);
	case 4: return y > 0.0f ? dy : 0.01f * dy;
	}
	return dy;
}

// pow_neg_beta is s^−β; β = 0.75, the paper's, takes two square roots.
__device__ __forceinline__ float alexnetc_pow_neg_beta(float s, float beta) {
	if (beta == 0.75f) {
		return 1.0f / sqrtf(s * sqrtf(s));
	}
	return powf(s, -beta);
}

// im2col: one thread per element of one image's (one group's) column matrix
// [C·KH·KW][OH·OW]; padding reads as 0 (cpu.Conv's im2col).
__device__ __forceinline__ void im2col(const float* x, float* col,
	int C, int H, int W, int KH, int KW, int stride, int pad_t, int pad_l, int OH, int OW) {
	const int i = alexnetc_unit();
	if (i >= C * KH * KW * OH * OW) return;
	const int ow = i % OW, oh = (i / OW) % OH, r = i / (OW * OH);
	const int kw = r % KW, kh = (r / KW) % KH, c = r / (KW * KH);
	const int ih = oh * stride - pad_t + kh, iw = ow * stride - pad_l + kw;
	col[i] = (ih >= 0 && ih < H && iw >= 0 && iw < W) ? x[(c * H + ih) * W + iw] : 0.0f;
}

// col2im: one thread per input pixel of one image, summing the column
// entries that read it in the order (kh, kw) ascending; overwrites dx.
__device__ __forceinline__ void col2im(const float* col, float* dx,
	int C, int H, int W, int KH, int KW, int stride, int pad_t, int pad_l, int OH, int OW) {
	const int i = alexnetc_unit();
	if (i >= C * H * W) return;
	const int iw = i % W, ih = (i / W) % H, c = i / (W * H);
	float s = 0.0f;
	for (int kh = 0; kh < KH; kh++) {
		const int th = ih + pad_t - kh;
		if (th < 0 || th % stride != 0 || th / stride >= OH) continue;
		const int oh = th / stride;
		for (int kw = 0; kw < KW; kw++) {
			const int tw = iw + pad_l - kw;
			if (tw < 0 || tw % stride != 0 || tw / stride >= OW) continue;
			s += col[((c * KH + kh) * KW + kw) * (OH * OW) + oh * OW + tw / stride];
		}
	}
	dx[i] = s;
}

// sgemm: C ← alpha·op(A)·op(B) + beta·C, row-major, op(A) M×K, op(B) K×N.
// A block of 16×16 threads computes a 64×64 tile of C, each thread the 4×4
// outputs (ty + 16i, tx + 16j), so that a warp's loads and stores of C run
// along rows. The K dimension goes in steps of 16: a 64×16 tile of op(A)
// and a 16×64 tile of op(B), both stored k-major, 8 KiB of shared memory.
// Each thread loads 4 elements of each tile, along the dimension that is
// contiguous in memory (k for A, n for B, or the other way when
// transposed). With beta = 0, C is not read.
__device__ __forceinline__ void sgemm(const float* a, const float* b, float* c,
	int trans_a, int trans_b, int M, int N, int K, int lda, int ldb, int ldc, float alpha, float beta) {
	__shared__ float as[16][64];
	__shared__ float bs[16][64];
	const int tx = threadIdx.x, ty = threadIdx.y, t = ty * 16 + tx;
	const int m0 = blockIdx.y * 64, n0 = blockIdx.x * 64;
	float acc[4][4];
#pragma unroll
	for (int i = 0; i < 4; i++) {
#pragma unroll
		for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;
	}
	for (int k0 = 0; k0 < K; k0 += 16) {
#pragma unroll
		for (int r = 0; r < 4; r++) {
			// op(A)[m][k] is a[m·lda + k], or a[k·lda + m] when transposed.
			const int am = trans_a ? t % 64 : t / 16 + 16 * r;
			const int ak = trans_a ? t / 64 + 4 * r : t % 16;
			const int m = m0 + am, k = k0 + ak;
			as[ak][am] = (m < M && k < K) ? (trans_a ? a[k * lda + m] : a[m * lda + k]) : 0.0f;
			// op(B)[k][n] is b[k·ldb + n], or b[n·ldb + k] when transposed.
			const int bn = trans_b ? t / 16 + 16 * r : t % 64;
			const int bk = trans_b ? t % 16 : t / 64 + 4 * r;
			const int n = n0 + bn, kb = k0 + bk;
			bs[bk][bn] = (n < N && kb < K) ? (trans_b ? b[n * ldb + kb] : b[kb * ldb + n]) : 0.0f;
		}
		__syncthreads();
#pragma unroll
		for (int k = 0; k < 16; k++) {
			float av[4], bv[4];
#pragma unroll
			for (int i = 0; i < 4; i++) av[i] = as[k][ty + 16 * i];
#pragma unroll
			for (int j = 0; j < 4; j++) bv[j] = bs[k][tx + 16 * j];
#pragma unroll
			for (int i = 0; i < 4; i++) {
#pragma unroll
				for (int j = 0; j < 4; j++) acc[i][j] += av[i] * bv[j];
			}
		}
		__syncthreads();
	}
#pragma unroll
	for (int i = 0; i < 4; i++) {
#pragma unroll
		for (int j = 0; j < 4; j++) {
			const int m = m0 + ty + 16 * i, n = n0 + tx + 16 * j;
			if (m < M && n < N) {
				float v = alpha * acc[i][j];
				if (beta != 0.0f) v += beta * c[m * ldc + n];
				c[m * ldc + n] = v;
			}
		}
	}
}

// bias_act: y ← act(y + b[c]) over y [N][C][HW] (cpu.BiasAct.Forward).
__device__ __forceinline__ void bias_act(const float* b, float* y, int N, int C, int HW, int act) {
	const int i = alexnetc_unit();
	if (i >= N * C * HW) return;
	y[i] = alexnetc_act(y[i] + b[(i / HW) % C], act);
}

// act_backward: dx ← dy·act′, from the activation's output y.
__device__ __forceinline__ void act_backward(const float* y, const float* dy, float* dx, int len, int act) {
	const int i = alexnetc_unit();
	if (i >= len) return;
	dx[i] = alexnetc_act_grad(y[i], dy[i], act);
}

// bias_grad: one block per channel c; its 256 threads sum dy[n][c][hw] over
// n and hw, then reduce in shared memory: db[c] ← Σ + beta·db[c].
__device__ __forceinline__ void bias_grad(const float* dy, float* db, int N, int C, int HW, float beta) {
	__shared__ float part[ALEXNETC_THREADS];
	const int c = blockIdx.x, t = threadIdx.x;
	float s = 0.0f;
	for (int j = t; j < N * HW; j += ALEXNETC_THREADS) {
		s += dy[((j / HW) * C + c) * HW + j % HW];
	}
	part[t] = s;
	__syncthreads();
	for (int w = ALEXNETC_THREADS / 2; w > 0; w >>= 1) {
		if (t < w) part[t] += part[t + w];
		__syncthreads();
	}
	if (t == 0) db[c] = beta != 0.0f ? part[0] + beta * db[c] : part[0];
}

// fill: x ← value.
__device__ __forceinline__ void fill(float* x, int len, float value) {
	const int i = alexnetc_unit();
	if (i < len) x[i] = value;
}

// alexnetc_lrn_scale is the normaliser k + alpha·Σ x² of channel c over its
// window clipped to the slice [0, cs); xc points at channel 0 of the slice
// at the element's pixel, channels hw apart.
__device__ __forceinline__ float alexnetc_lrn_scale(const float* xc, int c, int cs, int hw, int size, float k, float alpha) {
	const int lo = max(0, c - size / 2), hi = min(cs, c + size / 2 + 1);
	float s = 0.0f;
	for (int j = lo; j < hi; j++) {
		const float v = xc[j * hw];
		s += v * v;
	}
	return k + alpha * s;
}

// lrn_forward on channels [C0, C1) of [N][C][H][W]; x and y point at
// channel C0. The window is clipped to the slice (cpu.LRN.Forward); alpha
// is the factor actually applied. Nothing is saved for the backward pass.
__device__ __forceinline__ void lrn_forward(const float* x, float* y,
	int N, int C, int H, int W, int C0, int C1, int size, float k, float alpha, float beta) {
	const int hw = H * W, cs = C1 - C0;
	const int i = alexnetc_unit();
	if (i >= N * cs * hw) return;
	const int p = i % hw, c = (i / hw) % cs, n = i / (hw * cs);
	const float* xn = x + n * C * hw + p;
	const float s = alexnetc_lrn_scale(xn, c, cs, hw, size, k, alpha);
	y[n * C * hw + c * hw + p] = xn[c * hw] * alexnetc_pow_neg_beta(s, beta);
}

// lrn_backward: dx ← dy·s^−β − 2·alpha·β·x·Σ_j dy_j·x_j·s_j^(−β−1) over the
// clipped window of the element's channel, every s recomputed from x
// (cpu.LRN.Backward).
__device__ __forceinline__ void lrn_backward(const float* x, const float* dy, float* dx,
	int N, int C, int H, int W, int C0, int C1, int size, float k, float alpha, float beta) {
	const int hw = H * W, cs = C1 - C0;
	const int i = alexnetc_unit();
	if (i >= N * cs * hw) return;
	const int p = i % hw, c = (i / hw) % cs, n = i / (hw * cs);
	const int at = n * C * hw + p;       // element (n, channel 0 of the slice, p)
	const int lo = max(0, c - size / 2), hi = min(cs, c + size / 2 + 1);
	float t = 0.0f;
	for (int j = lo; j < hi; j++) {
		const float sj = alexnetc_lrn_scale(x + at, j, cs, hw, size, k, alpha);
		t += dy[at + j * hw] * x[at + j * hw] * alexnetc_pow_neg_beta(sj, beta) / sj;
	}
	const float s = alexnetc_lrn_scale(x + at, c, cs, hw, size, k, alpha);
	dx[at + c * hw] = dy[at + c * hw] * alexnetc_pow_neg_beta(s, beta) - 2.0f * alpha * beta * x[at + c * hw] * t;
}

// Pooling windows: the in-bounds rows [*lo, *hi) of window o along an axis.
__device__ __forceinline__ void alexnetc_span(int o, int stride, int pad, int size, int in, int* lo, int* hi) {
	const int start = o * stride - pad;
	*lo = max(start, 0);
	*hi = min(start + size, in);
}

// maxpool_forward: one thread per output; the first largest in-bounds
// element in row-major order and its index h·W + w in the plane
// (cpu.MaxPool.Forward).
__device__ __forceinline__ void maxpool_forward(const float* x, float* y, int* argmax,
	int N, int C, int H, int W, int size, int stride, int pad_t, int pad_l, int OH, int OW) {
	const int i = alexnetc_unit();
	if (i >= N * C * OH * OW) return;
	const int ow = i % OW, oh = (i / OW) % OH, nc = i / (OW * OH);
	int h0, h1, w0, w1;
	alexnetc_span(oh, stride, pad_t, size, H, &h0, &h1);
	alexnetc_span(ow, stride, pad_l, size, W, &w0, &w1);
	const float* plane = x + nc * H * W;
	float best = 0.0f;
	int at = -1;
	for (int h = h0; h < h1; h++) {
		for (int w = w0; w < w1; w++) {
			const float v = plane[h * W + w];
			if (at < 0 || v > best) {
				best = v;
				at = h * W + w;
			}
		}
	}
	y[i] = best;
	argmax[i] = at;
}

// The outputs o along an axis whose windows cover input position p:
// [*lo, *hi).
__device__ __forceinline__ void alexnetc_cover(int p, int stride, int pad, int size, int out, int* lo, int* hi) {
	const int q = p + pad; // o·stride ≤ q < o·stride + size
	*lo = q - size + 1 <= 0 ? 0 : (q - size + stride) / stride;
	*hi = min(q / stride + 1, out);
}

// maxpool_backward: one thread per input element, summing dy of the
// windows (in row-major order) whose argmax it is; overwrites dx.
__device__ __forceinline__ void maxpool_backward(const int* argmax, const float* dy, float* dx,
	int N, int C, int H, int W, int size, int stride, int pad_t, int pad_l, int OH, int OW) {
	const int i = alexnetc_unit();
	if (i >= N * C * H * W) return;
	const int w = i % W, h = (i / W) % H, nc = i / (W * H);
	int oh0, oh1, ow0, ow1;
	alexnetc_cover(h, stride, pad_t, size, OH, &oh0, &oh1);
	alexnetc_cover(w, stride, pad_l, size, OW, &ow0, &ow1);
	const int me = h * W + w, base = nc * OH * OW;
	float s = 0.0f;
	for (int oh = oh0; oh < oh1; oh++) {
		for (int ow = ow0; ow < ow1; ow++) {
			if (argmax[base + oh * OW + ow] == me) s += dy[base + oh * OW + ow];
		}
	}
	dx[i] = s;
}

// avgpool_forward: one thread per output, the mean of the in-bounds
// elements of its window (cpu.AvgPool.Forward).
__device__ __forceinline__ void avgpool_forward(const float* x, float* y,
	int N, int C, int H, int W, int size, int stride, int pad_t, int pad_l, int OH, int OW) {
	const int i = alexnetc_unit();
	if (i >= N * C * OH * OW) return;
	const int ow = i % OW, oh = (i / OW) % OH, nc = i / (OW * OH);
	int h0, h1, w0, w1;
	alexnetc_span(oh, stride, pad_t, size, H, &h0, &h1);
	alexnetc_span(ow, stride, pad_l, size, W, &w0, &w1);
	const float* plane = x + nc * H * W;
	float s = 0.0f;
	for (int h = h0; h < h1; h++) {
		for (int w = w0; w < w1; w++) s += plane[h * W + w];
	}
	const int count = (h1 - h0) * (w1 - w0);
	y[i] = count > 0 ? s / (float)count : s;
}

// avgpool_backward: one thread per input element, summing dy/count of the
// windows that cover it, in row-major order; overwrites dx.
__device__ __forceinline__ void avgpool_backward(const float* dy, float* dx,
	int N, int C, int H, int W, int size, int stride, int pad_t, int pad_l, int OH, int OW) {
	const int i = alexnetc_unit();
	if (i >= N * C * H * W) return;
	const int w = i % W, h = (i / W) % H, nc = i / (W * H);
	int oh0, oh1, ow0, ow1;
	alexnetc_cover(h, stride, pad_t, size, OH, &oh0, &oh1);
	alexnetc_cover(w, stride, pad_l, size, OW, &ow0, &ow1);
	float s = 0.0f;
	for (int oh = oh0; oh < oh1; oh++) {
		int h0, h1;
		alexnetc_span(oh, stride, pad_t, size, H, &h0, &h1);
		for (int ow = ow0; ow < ow1; ow++) {
			int w0, w1;
			alexnetc_span(ow, stride, pad_l, size, W, &w0, &w1);
			s += dy[(nc * OH + oh) * OW + ow] / (float)((h1 - h0) * (w1 - w0));
		}
	}
	dx[i] = s;
}

// dropout_bits is draw i of a launch: the (i+1)-th output of a SplitMix64
// sequence that starts at seed, upper 32 bits. It is counter-based, so every
// thread draws its own unit's number with no state between threads;
// runtime/cuda's DropoutBits computes the same numbers on the CPU.
__device__ __forceinline__ unsigned int alexnetc_dropout_bits(unsigned long long seed, unsigned long long i) {
	unsigned long long z = seed + (i + 1ull) * 0x9E3779B97F4A7C15ull;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	z ^= z >> 31;
	return (unsigned int)(z >> 32);
}

// dropout_train: the unit is dropped when its draw is below rate·2³², as
// cpu.Dropout.Train compares its PCG32 draw (paper style: kept units pass
// unscaled).
__device__ __forceinline__ void dropout_train(const float* x, float* y, unsigned char* mask, unsigned long long seed,
	int len, float rate) {
	const int i = alexnetc_unit();
	if (i >= len) return;
	const unsigned long long threshold = (unsigned long long)((double)rate * 4294967296.0);
	const bool keep = (unsigned long long)alexnetc_dropout_bits(seed, (unsigned long long)i) >= threshold;
	mask[i] = keep ? 1 : 0;
	y[i] = keep ? x[i] : 0.0f;
}

// dropout_test: y ← scale·x, scale = 1 − rate.
__device__ __forceinline__ void dropout_test(const float* x, float* y, int len, float scale) {
	const int i = alexnetc_unit();
	if (i < len) y[i] = x[i] * scale;
}

// dropout_backward: dx ← dy·mask.
__device__ __forceinline__ void dropout_backward(const unsigned char* mask, const float* dy, float* dx, int len) {
	const int i = alexnetc_unit();
	if (i < len) dx[i] = mask[i] != 0 ? dy[i] : 0.0f;
}

// alexnetc_block_max and alexnetc_block_sum reduce one value per thread of
// a 256-thread block through shared memory; every thread gets the result.
__device__ __forceinline__ float alexnetc_block_max(float v, float* part) {
	const int t = threadIdx.x;
	part[t] = v;
	__syncthreads();
	for (int w = ALEXNETC_THREADS / 2; w > 0; w >>= 1) {
		if (t < w) part[t] = fmaxf(part[t], part[t + w]);
		__syncthreads();
	}
	const float r = part[0];
	__syncthreads();
	return r;
}

__device__ __forceinline__ float alexnetc_block_sum(float v, float* part) {
	const int t = threadIdx.x;
	part[t] = v;
	__syncthreads();
	for (int w = ALEXNETC_THREADS / 2; w > 0; w >>= 1) {
		if (t < w) part[t] += part[t + w];
		__syncthreads();
	}
	const float r = part[0];
	__syncthreads();
	return r;
}

// softmax: one block per row: its maximum, the log of the sum of
// exponentials, and prob ← exp(z − max − log Σ) (cpu.SoftmaxLoss.Softmax).
__device__ __forceinline__ void softmax(const float* logits, float* prob, int N, int classes) {
	__shared__ float part[ALEXNETC_THREADS];
	const int row = blockIdx.x, t = threadIdx.x;
	const float* z = logits + row * classes;
	float m = -INFINITY;
	for (int j = t; j < classes; j += ALEXNETC_THREADS) m = fmaxf(m, z[j]);
	m = alexnetc_block_max(m, part);
	float s = 0.0f;
	for (int j = t; j < classes; j += ALEXNETC_THREADS) s += expf(z[j] - m);
	const float lse = logf(alexnetc_block_sum(s, part));
	for (int j = t; j < classes; j += ALEXNETC_THREADS) prob[row * classes + j] = expf(z[j] - m - lse);
}

// nll_loss: one block; each thread takes rows t, t+256, ...: log-sum-exp of
// the row minus the label's logit; the block sums them and thread 0 writes
// the mean (cpu.SoftmaxLoss.Loss). A label outside [0, classes) makes the
// loss NaN, where the CPU would panic.
__device__ __forceinline__ void nll_loss(const float* logits, const int* labels, float* loss, int N, int classes) {
	__shared__ float part[ALEXNETC_THREADS];
	const int t = threadIdx.x;
	float total = 0.0f;
	for (int row = t; row < N; row += ALEXNETC_THREADS) {
		const float* z = logits + row * classes;
		float m = -INFINITY;
		for (int j = 0; j < classes; j++) m = fmaxf(m, z[j]);
		float s = 0.0f;
		for (int j = 0; j < classes; j++) s += expf(z[j] - m);
		const int label = labels[row];
		total += (label >= 0 && label < classes) ? m + logf(s) - z[label] : NAN;
	}
	total = alexnetc_block_sum(total, part);
	if (t == 0) loss[0] = total / (float)N;
}

// softmax_backward: dlogits ← (prob − [class = label])/N, computed as the CPU
// does: prob·(1/N), then 1/N subtracted at the label.
__device__ __forceinline__ void softmax_backward(const float* prob, const int* labels, float* dlogits, int N, int classes) {
	const int i = alexnetc_unit();
	if (i >= N * classes) return;
	const float inv = 1.0f / (float)N;
	float d = prob[i] * inv;
	if (i % classes == labels[i / classes]) d -= inv;
	dlogits[i] = d;
}

// channel_add: dst[n][c′][hw] += src[n][c′][hw] for c′ < c; src and dst point
// at their first channel, images src_c·HW and dst_c·HW floats apart.
__device__ __forceinline__ void channel_add(const float* src, float* dst, int N, int HW, int src_c, int dst_c, int c) {
	const int i = alexnetc_unit();
	if (i >= N * c * HW) return;
	const int n = i / (c * HW), r = i % (c * HW);
	dst[n * dst_c * HW + r] += src[n * src_c * HW + r];
}

// sgd: v ← momentum·v − weight_decay·lr·w − lr·g; w ← w + v (cpu.SGD.Step).
__device__ __forceinline__ void sgd(float* w, const float* g, float* v, float lr, int len, float momentum, float weight_decay) {
	const int i = alexnetc_unit();
	if (i >= len) return;
	const float decay = weight_decay * lr;
	const float vi = momentum * v[i] - decay * w[i] - lr * g[i];
	v[i] = vi;
	w[i] += vi;
}

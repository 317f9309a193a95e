"""CUDA kernels of the spatial model (CuPy RawModule), one thread per voxel.

Each kernel has a CPU twin computing the same arithmetic on the same (K, N) float32
planes, which the tests compare it with (and which run everywhere, GPU or not):

=================  ==========================================
CUDA kernel        CPU twin
=================  ==========================================
``loglik``         :func:`._loglik_planes.loglik_planes` (and the log-likelihood)
``plain``          :func:`._planes_kernels.plain_planes`
``sweep``          :func:`._planes_kernels.sweep_planes`
``moments``        :func:`._moments.moments_kernel`
``finish``         :func:`._planes_kernels.finish_planes`
``temper``         :func:`._temper_kernel.temper_planes_kernel`
``finite``         ``np.isfinite(features).all(axis=1)``
=================  ==========================================

Differences to the twins are round-off only: ``expf`` instead of :func:`fast_exp`, fused
multiply-adds, and the order of the atomic additions of the moment sums.
"""

from __future__ import annotations

import functools

import numpy as np

#: Most classes and channels the kernels hold in registers.
MAX_CLASSES = 32
MAX_CHANNELS = 8
#: Most moment sums per thread (K (1 + C + C^2)).
MAX_MOMENTS = 64
#: Threads per block.
THREADS = 256

SOURCE = r"""
#define MAXK 32
#define MAXC 8
#define MAXM 64
#define THREADS 256

template <typename T>
__global__ void loglik(const T* __restrict__ x, const unsigned char* __restrict__ valid,
                       int has_valid, long long n, int K, int C,
                       const double* __restrict__ means, const double* __restrict__ prec,
                       const double* __restrict__ cst, float* __restrict__ lp,
                       double* __restrict__ ll_blocks, int want_ll)
{
    // with want_ll, ll_blocks[block] gets the block's sum of log sum_k exp(z_k) over its
    // valid voxels (a fixed-order tree in shared memory: blockDim.x must be THREADS)
    __shared__ double part[THREADS];
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    double ll = 0.0;
    if (i < n && has_valid && !valid[i]) {
        for (int k = 0; k < K; ++k) lp[k * n + i] = 0.0f;
    } else if (i < n) {
        double z[MAXK];
        double d[MAXC];
        double top = 0.0;
        for (int k = 0; k < K; ++k) {
            double sq = 0.0;
            if (C == 1) {
                double y = ((double)x[i] - means[k]) * prec[k];
                sq = y * y;
            } else {
                for (int a = 0; a < C; ++a) d[a] = (double)x[i * C + a] - means[k * C + a];
                for (int b = 0; b < C; ++b) {
                    double y = 0.0;
                    for (int a = 0; a <= b; ++a) y += d[a] * prec[(k * C + a) * C + b];
                    sq += y * y;
                }
            }
            z[k] = cst[k] - 0.5 * sq;
            top = (k == 0 || z[k] > top) ? z[k] : top;
        }
        double total = 0.0;
        for (int k = 0; k < K; ++k) {
            lp[k * n + i] = (float)(z[k] - top);
            total += exp(z[k] - top);
        }
        ll = top + log(total);
    }
    if (!want_ll) return;
    part[threadIdx.x] = ll;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) ll_blocks[blockIdx.x] = part[0];
}

extern "C" __global__ void plain(const float* __restrict__ lp, float* __restrict__ q,
                                 unsigned char* __restrict__ labels,
                                 const unsigned char* __restrict__ valid, int has_valid,
                                 long long n, int K)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float top = lp[i];
    int best = 0;
    for (int k = 1; k < K; ++k) {
        float v = lp[k * n + i];
        if (v > top) { top = v; best = k; }
    }
    float total = 0.0f;
    for (int k = 0; k < K; ++k) total += expf(lp[k * n + i] - top);
    float inv = 1.0f / total;
    if (has_valid && !valid[i]) inv = 0.0f;
    for (int k = 0; k < K; ++k) q[k * n + i] = expf(lp[k * n + i] - top) * inv;
    labels[i] = inv > 0.0f ? (unsigned char)(best + 1) : 0;
}

extern "C" __global__ void sweep(const float* __restrict__ lp, const float* __restrict__ qin,
                                 float* __restrict__ qout, unsigned char* __restrict__ labels,
                                 const float* __restrict__ scale,
                                 const unsigned char* __restrict__ valid, int masked,
                                 int nz, int ny, int nx, int K, float wz, float wy, float wx,
                                 float beta, const unsigned char* __restrict__ cz,
                                 const unsigned char* __restrict__ cy,
                                 const unsigned char* __restrict__ cx,
                                 unsigned long long* changed)
{
    long long n = (long long)nz * ny * nx;
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    int flipped = 0;
    if (i < n) {
        long long plane = (long long)ny * nx;
        int xi = (int)(i % nx);
        long long r = i / nx;
        int yi = (int)(r % ny);
        int zi = (int)(r / ny);
        float s;
        if (masked) {
            s = scale[i];
        } else {
            float row = wz * (float)((zi > 0) + (zi < nz - 1))
                      + wy * (float)((yi > 0) + (yi < ny - 1));
            float present = row + wx * (float)((xi > 0) + (xi < nx - 1));
            s = present > 0.0f ? beta / present : 0.0f;
        }
        float a[MAXK];
        float top = 0.0f;
        int best = 0;
        for (int k = 0; k < K; ++k) {
            const float* qk = qin + k * n;
            float nb = wz * ((zi > 0 ? qk[i - plane] : 0.0f)
                             + (zi < nz - 1 ? qk[i + plane] : 0.0f))
                     + wy * ((yi > 0 ? qk[i - nx] : 0.0f) + (yi < ny - 1 ? qk[i + nx] : 0.0f));
            nb += wx * ((xi > 0 ? qk[i - 1] : 0.0f) + (xi < nx - 1 ? qk[i + 1] : 0.0f));
            float v = lp[k * n + i] + s * nb;
            a[k] = v;
            if (k == 0 || v > top) { top = v; best = k; }
        }
        float total = 0.0f;
        for (int k = 0; k < K; ++k) { a[k] = expf(a[k] - top); total += a[k]; }
        float inv = 1.0f / total;
        if (masked && !valid[i]) inv = 0.0f;
        for (int k = 0; k < K; ++k) qout[k * n + i] = a[k] * inv;
        unsigned char lab = inv > 0.0f ? (unsigned char)(best + 1) : 0;
        flipped = lab != labels[i] && cz[zi] && cy[yi] && cx[xi];
        labels[i] = lab;
    }
    int count = __syncthreads_count(flipped);
    if (threadIdx.x == 0 && count) atomicAdd(changed, (unsigned long long)count);
}

template <typename T>
__global__ void moments(const T* __restrict__ x, const float* __restrict__ q,
                        const unsigned char* __restrict__ valid, int has_valid, long long n,
                        int K, int C, const double* __restrict__ shift, double* out)
{
    int width = 1 + C + C * C;
    double acc[MAXM];
    for (int m = 0; m < K * width; ++m) acc[m] = 0.0;
    double d[MAXC];
    long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        if (has_valid && !valid[i]) continue;
        for (int k = 0; k < K; ++k) {
            double w = (double)q[k * n + i];
            for (int a = 0; a < C; ++a) d[a] = (double)x[i * C + a] - shift[k * C + a];
            acc[k * width] += w;
            for (int a = 0; a < C; ++a) {
                double wd = w * d[a];
                acc[k * width + 1 + a] += wd;
                for (int c = 0; c < C; ++c) acc[k * width + 1 + C + a * C + c] += wd * d[c];
            }
        }
    }
    int lane = threadIdx.x & 31;
    for (int m = 0; m < K * width; ++m) {
        double v = acc[m];
        for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
        if (lane == 0) atomicAdd(out + m, v);
    }
}

extern "C" __global__ void finish(const float* __restrict__ q,
                                  const long long* __restrict__ order, long long n, int K,
                                  unsigned char* __restrict__ labels, float* __restrict__ prob,
                                  float* __restrict__ post, int want_post)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    int best = 0;
    float top = 0.0f;
    for (int k = 0; k < K; ++k) {
        float v = q[order[k] * n + i];
        if (want_post) post[i * K + k] = v;
        if (k == 0 || v > top) { top = v; best = k; }
    }
    labels[i] = top > 0.0f ? (unsigned char)(best + 1) : 0;
    prob[i] = top;
}

extern "C" __global__ void temper(float* __restrict__ q, long long n, int K, float inv_t)
{
    // q_k <- (q_k / q_max)^inv_t, renormalised: the first maximum's term is exactly 1 and
    // earlier classes stay below it, so the label is kept; all-0 voxels stay 0
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    int best = 0;
    float top = q[i];
    for (int k = 1; k < K; ++k) {
        float v = q[k * n + i];
        if (v > top) { top = v; best = k; }
    }
    if (!(top > 0.0f)) return;
    const float below_one = 1.0f - 5.9604645e-08f;
    float total = 0.0f;
    for (int k = 0; k < K; ++k) {
        float v = q[k * n + i];
        float t = v > 0.0f ? expf(fminf(logf(v / top) * inv_t, 0.0f)) : 0.0f;
        if (k == best) t = 1.0f;
        else if (k < best) t = fminf(t, below_one);
        q[k * n + i] = t;
        total += t;
    }
    for (int k = 0; k < K; ++k) q[k * n + i] /= total;
}

template <typename T>
__global__ void finite(const T* __restrict__ x, long long n, int C,
                       unsigned char* __restrict__ ok)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    unsigned char good = 1;
    for (int a = 0; a < C; ++a) good &= (unsigned char)isfinite((double)x[i * C + a]);
    ok[i] &= good;
}
"""

_TYPES = {"float32": "float", "float64": "double"}
_TEMPLATES = ("loglik", "moments", "finite")


@functools.lru_cache(maxsize=1)
def module():
    """The compiled RawModule (compiled once per process, cached on disk by CuPy)."""
    import cupy as cp

    names = [f"{name}<{ctype}>" for name in _TEMPLATES for ctype in _TYPES.values()]
    return cp.RawModule(code=SOURCE, options=("--std=c++14",), name_expressions=names)


def kernel(name: str, dtype=None):
    """A kernel of :data:`SOURCE`; templated ones by the features' dtype."""
    if name in _TEMPLATES:
        return module().get_function(f"{name}<{_TYPES[np.dtype(dtype).name]}>")
    return module().get_function(name)


def grid(n: int) -> tuple[int]:
    """Blocks covering `n` threads."""
    return ((int(n) + THREADS - 1) // THREADS,)

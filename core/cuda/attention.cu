// Fused attention: softmax(q·kᵀ·scale + mask)·v with an online softmax over
// key tiles, so no (Lq, Lk) score matrix is ever stored. One block per query
// row; the backward recomputes scores from the saved log-sum-exp, one block
// per query row for dq and one per key row for dk and dv: no atomics, so the
// gradients are deterministic.
#include "block.h"
#include "check.h"
#include "runtime.h"

extern "C" {
#include "kernels.h"
}

namespace {

struct shape {
    int64_t heads, bh, lq, lk, d, dv;
    double scale;
    at_attention_mask mask;
};

template <typename T> __device__ double mask_at(const shape &s, int64_t bh, int64_t i, int64_t j) {
    if (!s.mask.data) return 0;
    const T *m = (const T *)s.mask.data;
    return (double)m[(bh / s.heads) * s.mask.sb + (bh % s.heads) * s.mask.sh + i * s.mask.sq + j * s.mask.sk];
}

// scale·q_i·k_j + mask for head bh.
template <typename T>
__device__ double score(const shape &s, const T *q, const T *k, int64_t bh, int64_t i, int64_t j) {
    const T *qi = q + (bh * s.lq + i) * s.d, *kj = k + (bh * s.lk + j) * s.d;
    double acc = 0;
    for (int64_t c = 0; c < s.d; c++) acc += (double)qi[c] * (double)kj[c];
    return acc * s.scale + mask_at<T>(s, bh, i, j);
}

template <typename T> __device__ double dot_rows(const T *a, const T *b, int64_t n) {
    double acc = 0;
    for (int64_t c = 0; c < n; c++) acc += (double)a[c] * (double)b[c];
    return acc;
}

// Dynamic shared memory: the tile's probabilities, then the dv accumulators.
template <typename T>
__global__ void forward_rows(shape s, T *o, double *lse, const T *q, const T *k, const T *v) {
    extern __shared__ double smem[];
    double *p = smem, *acc = smem + AT_BLOCK;
    for (int64_t row = blockIdx.x; row < s.bh * s.lq; row += gridDim.x) {
        int64_t bh = row / s.lq, i = row % s.lq;
        for (int64_t c = threadIdx.x; c < s.dv; c += AT_BLOCK) acc[c] = 0;
        double m = -INFINITY, l = 0;
        for (int64_t t0 = 0; t0 < s.lk; t0 += AT_BLOCK) {
            int64_t j = t0 + threadIdx.x;
            double sj = j < s.lk ? score<T>(s, q, k, bh, i, j) : -INFINITY;
            double m_new = fmax(m, at_block_max(sj));
            double pj = sj == -INFINITY ? 0 : exp(sj - m_new);
            p[threadIdx.x] = pj;
            double tile = at_block_sum(pj); // also orders the write of p before the reads below
            if (m_new == -INFINITY) continue; // every key so far is masked out
            double corr = m == -INFINITY ? 0 : exp(m - m_new);
            l = l * corr + tile;
            int64_t n = s.lk - t0 < AT_BLOCK ? s.lk - t0 : AT_BLOCK;
            for (int64_t c = threadIdx.x; c < s.dv; c += AT_BLOCK) {
                double a = acc[c] * corr;
                for (int64_t jj = 0; jj < n; jj++) a += p[jj] * (double)v[(bh * s.lk + t0 + jj) * s.dv + c];
                acc[c] = a;
            }
            m = m_new;
            __syncthreads(); // p is rewritten by the next tile
        }
        for (int64_t c = threadIdx.x; c < s.dv; c += AT_BLOCK) o[row * s.dv + c] = l > 0 ? (T)(acc[c] / l) : (T)0;
        if (threadIdx.x == 0) lse[row] = l > 0 ? m + log(l) : -INFINITY;
        __syncthreads();
    }
}

// delta_i = dO_i · O_i, the softmax backward's row sum.
template <typename T> __global__ void row_deltas(shape s, double *delta, const T *g, const T *o) {
    for (int64_t row = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; row < s.bh * s.lq;
         row += (int64_t)gridDim.x * blockDim.x)
        delta[row] = dot_rows(g + row * s.dv, o + row * s.dv, s.dv);
}

// dS_ij = P_ij·(dO_i·v_j - delta_i), with P_ij = exp(S_ij - lse_i).
template <typename T>
__device__ double dscore(const shape &s, const T *q, const T *k, const T *v, const T *g, const double *lse,
                         const double *delta, int64_t bh, int64_t i, int64_t j, double *prob) {
    int64_t row = bh * s.lq + i;
    double pij = lse[row] == -INFINITY ? 0 : exp(score<T>(s, q, k, bh, i, j) - lse[row]);
    *prob = pij;
    return pij * (dot_rows(g + row * s.dv, v + (bh * s.lk + j) * s.dv, s.dv) - delta[row]);
}

template <typename T>
__global__ void backward_dq(shape s, T *dq, const T *g, const double *lse, const double *delta, const T *q,
                            const T *k, const T *v) {
    extern __shared__ double smem[];
    double *ds = smem, *acc = smem + AT_BLOCK;
    for (int64_t row = blockIdx.x; row < s.bh * s.lq; row += gridDim.x) {
        int64_t bh = row / s.lq, i = row % s.lq;
        for (int64_t c = threadIdx.x; c < s.d; c += AT_BLOCK) acc[c] = 0;
        for (int64_t t0 = 0; t0 < s.lk; t0 += AT_BLOCK) {
            int64_t j = t0 + threadIdx.x, n = s.lk - t0 < AT_BLOCK ? s.lk - t0 : AT_BLOCK;
            double pij;
            ds[threadIdx.x] = j < s.lk ? dscore<T>(s, q, k, v, g, lse, delta, bh, i, j, &pij) : 0;
            __syncthreads();
            for (int64_t c = threadIdx.x; c < s.d; c += AT_BLOCK)
                for (int64_t jj = 0; jj < n; jj++) acc[c] += ds[jj] * (double)k[(bh * s.lk + t0 + jj) * s.d + c];
            __syncthreads();
        }
        for (int64_t c = threadIdx.x; c < s.d; c += AT_BLOCK) dq[row * s.d + c] = (T)(acc[c] * s.scale);
        __syncthreads();
    }
}

// Shared memory: P and dS of the query tile, then the dk and dv accumulators.
template <typename T>
__global__ void backward_dkv(shape s, T *dk, T *dv, const T *g, const double *lse, const double *delta, const T *q,
                             const T *k, const T *v) {
    extern __shared__ double smem[];
    double *p = smem, *ds = smem + AT_BLOCK, *acc_k = smem + 2 * AT_BLOCK, *acc_v = acc_k + s.d;
    for (int64_t col = blockIdx.x; col < s.bh * s.lk; col += gridDim.x) {
        int64_t bh = col / s.lk, j = col % s.lk;
        for (int64_t c = threadIdx.x; c < s.d; c += AT_BLOCK) acc_k[c] = 0;
        for (int64_t c = threadIdx.x; c < s.dv; c += AT_BLOCK) acc_v[c] = 0;
        for (int64_t t0 = 0; t0 < s.lq; t0 += AT_BLOCK) {
            int64_t i = t0 + threadIdx.x, n = s.lq - t0 < AT_BLOCK ? s.lq - t0 : AT_BLOCK;
            double pij = 0, dsij = i < s.lq ? dscore<T>(s, q, k, v, g, lse, delta, bh, i, j, &pij) : 0;
            p[threadIdx.x] = pij;
            ds[threadIdx.x] = dsij;
            __syncthreads();
            for (int64_t c = threadIdx.x; c < s.d; c += AT_BLOCK)
                for (int64_t ii = 0; ii < n; ii++) acc_k[c] += ds[ii] * (double)q[(bh * s.lq + t0 + ii) * s.d + c];
            for (int64_t c = threadIdx.x; c < s.dv; c += AT_BLOCK)
                for (int64_t ii = 0; ii < n; ii++) acc_v[c] += p[ii] * (double)g[(bh * s.lq + t0 + ii) * s.dv + c];
            __syncthreads();
        }
        if (dk)
            for (int64_t c = threadIdx.x; c < s.d; c += AT_BLOCK) dk[col * s.d + c] = (T)(acc_k[c] * s.scale);
        if (dv)
            for (int64_t c = threadIdx.x; c < s.dv; c += AT_BLOCK) dv[col * s.dv + c] = (T)acc_v[c];
        __syncthreads();
    }
}

shape shape_of(const at_attention_mask *mask, int64_t heads, int64_t bh, int64_t lq, int64_t lk, int64_t d, int64_t dv,
               double scale) {
    shape s = {heads, bh, lq, lk, d, dv, scale, {NULL, 0, 0, 0, 0}};
    if (mask) s.mask = *mask;
    return s;
}

// Shared memory above 48 KiB needs an opt-in per kernel; head dims that big
// are far beyond any model here, so say so instead. The block reductions'
// static AT_BLOCK doubles count too.
int check_smem(size_t bytes, int64_t d, int64_t dv) {
    bytes += AT_BLOCK * sizeof(double);
    if (bytes <= 48 * 1024) return 0;
    at_set_error("attention (cuda): head dims %lld and %lld need %zu bytes of shared memory, more than 48 KiB",
                 (long long)d, (long long)dv, bytes);
    return -1;
}

} // namespace

#define DISPATCH(dtype, T, call)                          \
    do {                                                  \
        if ((dtype) == AT_F32) { typedef float T; call; } \
        else { typedef double T; call; }                  \
    } while (0)

extern "C" int at_cuda_attention(void *o, void *lse, const void *q, const void *k, const void *v,
                                 const at_attention_mask *mask, at_dtype dtype, int64_t heads, int64_t bh, int64_t lq,
                                 int64_t lk, int64_t d, int64_t dv, double scale) {
    if (bh * lq == 0) return 0;
    shape s = shape_of(mask, heads, bh, lq, lk, d, dv, scale);
    size_t smem = (AT_BLOCK + (size_t)dv) * sizeof(double);
    if (check_smem(smem, d, dv)) return -1;
    DISPATCH(dtype, T, (forward_rows<T><<<at_cuda_blocks(bh * lq, 1), AT_BLOCK, smem, at_cuda_stream()>>>(
                           s, (T *)o, (double *)lse, (const T *)q, (const T *)k, (const T *)v)));
    AT_CUDA_LAUNCHED(-1);
    return 0;
}

extern "C" int at_cuda_attention_backward(void *dq, void *dk, void *dv, const void *g, const void *o, const void *lse,
                                          const void *q, const void *k, const void *v, const at_attention_mask *mask,
                                          at_dtype dtype, int64_t heads, int64_t bh, int64_t lq, int64_t lk, int64_t d,
                                          int64_t dvn, double scale) {
    cudaStream_t st = at_cuda_stream();
    if (bh * lq == 0 || lk == 0) { // no scores: the gradients asked for are zero, as on the CPU
        size_t es = at_dtype_size(dtype);
        if (dq) AT_CUDA_TRY(cudaMemsetAsync(dq, 0, (size_t)(bh * lq * d) * es, st), -1);
        if (dk) AT_CUDA_TRY(cudaMemsetAsync(dk, 0, (size_t)(bh * lk * d) * es, st), -1);
        if (dv) AT_CUDA_TRY(cudaMemsetAsync(dv, 0, (size_t)(bh * lk * dvn) * es, st), -1);
        return 0;
    }
    shape s = shape_of(mask, heads, bh, lq, lk, d, dvn, scale);
    size_t smem_q = (AT_BLOCK + (size_t)d) * sizeof(double);
    size_t smem_kv = (2 * AT_BLOCK + (size_t)d + (size_t)dvn) * sizeof(double);
    if (check_smem(smem_q, d, dvn) || check_smem(smem_kv, d, dvn)) return -1;
    // From the caching allocator (one pool for everything; with one stream the
    // block is reused only by work queued after these kernels).
    at_storage *delta_block = at_cuda_storage_new((size_t)(bh * lq) * sizeof(double));
    if (!delta_block) return -1;
    double *delta = (double *)delta_block->data;
    DISPATCH(dtype, T, (row_deltas<T><<<at_cuda_blocks(bh * lq, AT_BLOCK), AT_BLOCK, 0, st>>>(
                           s, delta, (const T *)g, (const T *)o)));
    if (dq)
        DISPATCH(dtype, T, (backward_dq<T><<<at_cuda_blocks(bh * lq, 1), AT_BLOCK, smem_q, st>>>(
                               s, (T *)dq, (const T *)g, (const double *)lse, delta, (const T *)q, (const T *)k,
                               (const T *)v)));
    if (dk || dv)
        DISPATCH(dtype, T, (backward_dkv<T><<<at_cuda_blocks(bh * lk, 1), AT_BLOCK, smem_kv, st>>>(
                               s, (T *)dk, (T *)dv, (const T *)g, (const double *)lse, delta, (const T *)q,
                               (const T *)k, (const T *)v)));
    at_storage_release(delta_block);
    AT_CUDA_LAUNCHED(-1);
    return 0;
}

// LayerNorm and softmax over the last dim: one block per row, sums in
// double in a fixed tree order. Parameter gradients sum over rows in fixed
// chunks, then the chunks in order (deterministic).
#include <climits>

#include "block.h"
#include "check.h"
#include "runtime.h"

extern "C" {
#include "kernels.h"
}

namespace {

template <typename T>
__global__ void layernorm_rows(T *y, double *mean, double *rstd, const T *x, const T *w, const T *b, int64_t rows,
                               int64_t n, double eps) {
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const T *xr = x + r * n;
        double s = 0;
        for (int64_t i = threadIdx.x; i < n; i += AT_BLOCK) s += xr[i];
        double mu = at_block_sum(s) / (double)n, v = 0;
        for (int64_t i = threadIdx.x; i < n; i += AT_BLOCK) v += ((double)xr[i] - mu) * ((double)xr[i] - mu);
        double rs = 1.0 / sqrt(at_block_sum(v) / (double)n + eps);
        for (int64_t i = threadIdx.x; i < n; i += AT_BLOCK) {
            double h = ((double)xr[i] - mu) * rs;
            y[r * n + i] = (T)(h * (w ? (double)w[i] : 1.0) + (b ? (double)b[i] : 0.0));
        }
        if (threadIdx.x == 0 && mean) mean[r] = mu, rstd[r] = rs;
    }
}

// dx = rstd * (g·w - mean(g·w) - xhat * mean(g·w * xhat)).
template <typename T>
__global__ void layernorm_dx(T *dx, const T *g, const T *x, const double *mean, const double *rstd, const T *w,
                             int64_t rows, int64_t n) {
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const T *xr = x + r * n, *gr = g + r * n;
        double mu = mean[r], rs = rstd[r], sg = 0, sgx = 0;
        for (int64_t i = threadIdx.x; i < n; i += AT_BLOCK) {
            double gw = (double)gr[i] * (w ? (double)w[i] : 1.0);
            sg += gw;
            sgx += gw * ((double)xr[i] - mu) * rs;
        }
        double mg = at_block_sum(sg) / (double)n, mgx = at_block_sum(sgx) / (double)n;
        for (int64_t i = threadIdx.x; i < n; i += AT_BLOCK) {
            double gw = (double)gr[i] * (w ? (double)w[i] : 1.0);
            dx[r * n + i] = (T)(rs * (gw - mg - ((double)xr[i] - mu) * rs * mgx));
        }
    }
}

// dw and db sum over every row: a few hundred columns alone would occupy a
// handful of blocks, so the rows split into gridDim.y chunks, each summed
// per column into its own partial; a second kernel adds the chunks in order.
const int64_t DWB_CHUNKS = 64;

template <typename T>
__global__ void layernorm_dwb_chunks(double *part_w, double *part_b, const T *g, const T *x, const double *mean,
                                     const double *rstd, int64_t rows, int64_t n) {
    int64_t chunk = blockIdx.y, len = (rows + gridDim.y - 1) / gridDim.y;
    int64_t r0 = chunk * len, r1 = r0 + len < rows ? r0 + len : rows;
    for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < n; c += (int64_t)gridDim.x * blockDim.x) {
        double aw = 0, ab = 0;
        for (int64_t r = r0; r < r1; r++) {
            double gv = g[r * n + c];
            aw += gv * ((double)x[r * n + c] - mean[r]) * rstd[r];
            ab += gv;
        }
        part_w[chunk * n + c] = aw;
        part_b[chunk * n + c] = ab;
    }
}

template <typename T>
__global__ void layernorm_dwb_total(T *dw, T *db, const double *part_w, const double *part_b, int64_t chunks,
                                    int64_t n) {
    for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < n; c += (int64_t)gridDim.x * blockDim.x) {
        double aw = 0, ab = 0;
        for (int64_t k = 0; k < chunks; k++) aw += part_w[k * n + c], ab += part_b[k * n + c];
        if (dw) dw[c] = (T)aw;
        if (db) db[c] = (T)ab;
    }
}

// A row that is all -inf (fully masked) gives zeros, as on the CPU.
template <typename T> __global__ void softmax_rows(T *y, const T *x, int64_t rows, int64_t n) {
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const T *xr = x + r * n;
        double mx = -INFINITY;
        for (int64_t i = threadIdx.x; i < n; i += AT_BLOCK) mx = fmax(mx, (double)xr[i]);
        mx = at_block_max(mx);
        double s = 0;
        if (mx != -INFINITY)
            for (int64_t i = threadIdx.x; i < n; i += AT_BLOCK) s += exp((double)xr[i] - mx);
        s = at_block_sum(s);
        for (int64_t i = threadIdx.x; i < n; i += AT_BLOCK)
            y[r * n + i] = mx == -INFINITY ? (T)0 : (T)(exp((double)xr[i] - mx) / s);
    }
}

template <typename T> __global__ void softmax_grad_rows(T *dx, const T *g, const T *y, int64_t rows, int64_t n) {
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        double ts = 0;
        for (int64_t i = threadIdx.x; i < n; i += AT_BLOCK) ts += (double)g[r * n + i] * (double)y[r * n + i];
        ts = at_block_sum(ts);
        for (int64_t i = threadIdx.x; i < n; i += AT_BLOCK)
            dx[r * n + i] = (T)((double)y[r * n + i] * ((double)g[r * n + i] - ts));
    }
}

unsigned row_blocks(int64_t rows) { return at_cuda_blocks(rows, 1); }

} // namespace

#define DISPATCH(dtype, T, call)                          \
    do {                                                  \
        if ((dtype) == AT_F32) { typedef float T; call; } \
        else { typedef double T; call; }                  \
    } while (0)

extern "C" int at_cuda_layernorm(void *y, void *mean, void *rstd, const void *x, const void *w, const void *b,
                                 at_dtype dtype, int64_t rows, int64_t n, double eps) {
    if (rows == 0) return 0;
    cudaStream_t s = at_cuda_stream();
    DISPATCH(dtype, T, (layernorm_rows<T><<<row_blocks(rows), AT_BLOCK, 0, s>>>(
                           (T *)y, (double *)mean, (double *)rstd, (const T *)x, (const T *)w, (const T *)b, rows, n, eps)));
    AT_CUDA_LAUNCHED(-1);
    return 0;
}

extern "C" int at_cuda_layernorm_backward(void *dx, void *dw, void *db, const void *g, const void *x,
                                          const void *mean, const void *rstd, const void *w, at_dtype dtype,
                                          int64_t rows, int64_t n) {
    cudaStream_t s = at_cuda_stream();
    if (dx && rows > 0)
        DISPATCH(dtype, T, (layernorm_dx<T><<<row_blocks(rows), AT_BLOCK, 0, s>>>(
                               (T *)dx, (const T *)g, (const T *)x, (const double *)mean, (const double *)rstd,
                               (const T *)w, rows, n)));
    AT_CUDA_LAUNCHED(-1);
    if (!(dw || db) || n == 0) return 0;
    size_t es = at_dtype_size(dtype);
    if (rows == 0) { // an empty sum: zeros, as on the CPU
        if (dw) AT_CUDA_TRY(cudaMemsetAsync(dw, 0, (size_t)n * es, s), -1);
        if (db) AT_CUDA_TRY(cudaMemsetAsync(db, 0, (size_t)n * es, s), -1);
        return 0;
    }
    int64_t chunks = rows < DWB_CHUNKS ? rows : DWB_CHUNKS, col_blocks = (n + AT_BLOCK - 1) / AT_BLOCK;
    if (col_blocks > INT_MAX) col_blocks = INT_MAX;
    at_storage *scratch = at_cuda_storage_new((size_t)(2 * chunks * n) * sizeof(double)); // reused in stream order
    if (!scratch) return -1;
    double *part_w = (double *)scratch->data, *part_b = part_w + chunks * n;
    dim3 grid((unsigned)col_blocks, (unsigned)chunks);
    DISPATCH(dtype, T, (layernorm_dwb_chunks<T><<<grid, AT_BLOCK, 0, s>>>(part_w, part_b, (const T *)g, (const T *)x,
                                                                         (const double *)mean,
                                                                         (const double *)rstd, rows, n)));
    DISPATCH(dtype, T, (layernorm_dwb_total<T><<<at_cuda_blocks(n, AT_BLOCK), AT_BLOCK, 0, s>>>(
                           (T *)dw, (T *)db, part_w, part_b, chunks, n)));
    at_storage_release(scratch);
    AT_CUDA_LAUNCHED(-1);
    return 0;
}

extern "C" int at_cuda_softmax(void *y, const void *x, at_dtype dtype, int64_t rows, int64_t n) {
    if (rows == 0) return 0;
    DISPATCH(dtype, T, (softmax_rows<T><<<row_blocks(rows), AT_BLOCK, 0, at_cuda_stream()>>>((T *)y, (const T *)x, rows, n)));
    AT_CUDA_LAUNCHED(-1);
    return 0;
}

extern "C" int at_cuda_softmax_backward(void *dx, const void *g, const void *y, at_dtype dtype, int64_t rows, int64_t n) {
    if (rows == 0) return 0;
    DISPATCH(dtype, T, (softmax_grad_rows<T><<<row_blocks(rows), AT_BLOCK, 0, at_cuda_stream()>>>(
                           (T *)dx, (const T *)g, (const T *)y, rows, n)));
    AT_CUDA_LAUNCHED(-1);
    return 0;
}

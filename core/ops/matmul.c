/* Matrix products on OpenBLAS: at_matmul (numpy semantics, broadcast batch
 * dims) and at_linear (one GEMM over all leading rows).
 *
 * GEMM reads a strided matrix in place whenever one of its two dims has unit
 * stride (a transposed view becomes CblasTrans), so views cost no copy; only
 * other layouts (expanded rows, a strided last dim) are copied first. */
#include "ops_internal.h"

#include <cblas.h>
#include <limits.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* ---- GEMM on strided operands ---- */

static bool fits_blas_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

/* A rows x cols matrix at data with the given element strides. */
typedef struct {
    char *data;
    int64_t srow, scol;
} strided;

static int64_t max1(int64_t v) { return v > 1 ? v : 1; }

/* How GEMM can read a (rows, cols) matrix with strides (srow, scol) in place:
 * row-major as is, or as the transpose of a row-major matrix. */
static bool blas_layout(int64_t rows, int64_t cols, int64_t srow, int64_t scol,
                        CBLAS_TRANSPOSE *trans, int64_t *ld) {
    if (scol == 1 || cols <= 1) {
        int64_t l = rows <= 1 ? max1(cols) : srow;
        if (l >= max1(cols)) {
            *trans = CblasNoTrans;
            *ld = l;
            return true;
        }
    }
    if (srow == 1 || rows <= 1) {
        int64_t l = cols <= 1 ? max1(rows) : scol;
        if (l >= max1(rows)) {
            *trans = CblasTrans;
            *ld = l;
            return true;
        }
    }
    return false;
}

/* c (m x n, row stride ldc, unit column stride) = alpha * a @ b + beta * c,
 * by the device's kernels (dev, the op's slot) when the data lives on a GPU,
 * else OpenBLAS (dev NULL). The caller has checked both layouts with blas_layout. */
static int gemm(const at_kernels *dev, at_dtype dt, int64_t m, int64_t n, int64_t k, double alpha, strided a, strided b,
                double beta, void *c, int64_t ldc) {
    if (m == 0 || n == 0) return 0;
    CBLAS_TRANSPOSE ta = CblasNoTrans, tb = CblasNoTrans;
    int64_t lda = 1, ldb = 1;
    blas_layout(m, k, a.srow, a.scol, &ta, &lda);
    blas_layout(k, n, b.srow, b.scol, &tb, &ldb);
    if (dev)
        return dev->gemm(dt, ta == CblasTrans, tb == CblasTrans, m, n, k, alpha, a.data, lda, b.data, ldb, beta, c,
                         ldc);
    if (k == 0) { /* BLAS would be fine, but its ld rules are not worth the risk */
        size_t es = at_dtype_size(dt);
        for (int64_t i = 0; i < m; i++)
            if (beta == 0) memset((char *)c + (size_t)(i * ldc) * es, 0, (size_t)n * es);
        return 0;
    }
    if (dt == AT_F32)
        cblas_sgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)k, (float)alpha, (const float *)a.data,
                    (int)lda, (const float *)b.data, (int)ldb, (float)beta, c, (int)ldc);
    else
        cblas_dgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)k, alpha, (const double *)a.data,
                    (int)lda, (const double *)b.data, (int)ldb, beta, c, (int)ldc);
    return 0;
}

/* Plain-argument versions for the other ops (attention). */
bool at_blas_readable(int64_t rows, int64_t cols, int64_t srow, int64_t scol) {
    CBLAS_TRANSPOSE t;
    int64_t ld;
    return blas_layout(rows, cols, srow, scol, &t, &ld);
}

void at_gemm_strided(at_dtype dt, int64_t m, int64_t n, int64_t k, double alpha, const void *a,
                     int64_t a_srow, int64_t a_scol, const void *b, int64_t b_srow, int64_t b_scol,
                     double beta, void *c, int64_t ldc) {
    gemm(false, dt, m, n, k, alpha, (strided){(char *)a, a_srow, a_scol}, (strided){(char *)b, b_srow, b_scol},
         beta, c, ldc);
}

/* ---- batched products with broadcasting and batch reduction ---- */

/* out[...] = sum over reduced batch dims of a[...] @ b[...]. The batch dims of
 * a, b and out are aligned right; out may have size 1 (or no dim) where the
 * operands' broadcast batch has more, and sums over those. */
typedef struct {
    const at_kernels *dev; /* the matmul slot's kernels when on a GPU, else NULL */
    at_dtype dtype;
    int nb;                              /* batch dims, after folding */
    int64_t shape[AT_MAX_DIMS];          /* broadcast batch shape */
    int64_t sa[AT_MAX_DIMS], sb[AT_MAX_DIMS], so[AT_MAX_DIMS];
    bool reduced[AT_MAX_DIMS];
    int64_t m, n, k;
    strided a, b;
    char *out;
} bmm_plan;

static int64_t batch_stride(const at_tensor *t, int nb, int d) {
    int td = d - (nb - (t->ndim - 2));
    return td >= 0 && t->shape[td] != 1 ? t->stride[td] : 0;
}

static int64_t batch_size(const at_tensor *t, int nb, int d) {
    int td = d - (nb - (t->ndim - 2));
    return td >= 0 ? t->shape[td] : 1;
}

/* Trailing batch dims whose matrices sit back to back merge into the matrix:
 * into m when b is shared across the dim, into k when out sums over it. One
 * big GEMM is much faster than many small ones, e.g. (B,H,m,k)@(k,n). */
static void fold_batch_dims(bmm_plan *p) {
    CBLAS_TRANSPOSE t;
    int64_t ld;
    while (p->nb > 0) {
        int d = p->nb - 1;
        int64_t s = p->shape[d];
        if (s == 1) {
            p->nb--;
            continue;
        }
        if (!p->reduced[d] && p->sb[d] == 0 && p->so[d] == p->m * p->n) {
            int64_t srow = p->m == 1 ? p->sa[d] : p->a.srow;
            if (p->sa[d] != p->m * srow || !fits_blas_int(p->m * s) ||
                !blas_layout(p->m * s, p->k, srow, p->a.scol, &t, &ld))
                break;
            p->a.srow = srow;
            p->m *= s;
        } else if (p->reduced[d]) {
            int64_t acol = p->k == 1 ? p->sa[d] : p->a.scol;
            int64_t brow = p->k == 1 ? p->sb[d] : p->b.srow;
            if (p->sa[d] != p->k * acol || p->sb[d] != p->k * brow || !fits_blas_int(p->k * s) ||
                !blas_layout(p->m, p->k * s, p->a.srow, acol, &t, &ld) ||
                !blas_layout(p->k * s, p->n, brow, p->b.scol, &t, &ld))
                break;
            p->a.scol = acol;
            p->b.srow = brow;
            p->k *= s;
        } else {
            break;
        }
        p->nb--;
    }
}

/* The element stride between consecutive products along the batch dims
 * (row-major over the non-1 dims), when one stride describes them all. */
static bool uniform_batch_stride(const bmm_plan *p, const int64_t *stride, int64_t *out) {
    int64_t inner = 1, unit = -1;
    for (int d = p->nb - 1; d >= 0; d--) {
        if (p->shape[d] == 1) continue;
        if (unit < 0) unit = stride[d];
        else if (stride[d] != unit * inner) return false;
        inner *= p->shape[d];
    }
    *out = unit < 0 ? 0 : unit;
    return true;
}

/* On the GPU, products a uniform stride apart go to cuBLAS as one strided
 * batched call: (B, H) attention products are many small GEMMs, and one
 * launch each would leave the GPU idle. Returns 1 when the plan does not fit. */
static int run_plan_batched_on_gpu(const bmm_plan *p, int64_t count) {
    int64_t sa, sb, so;
    if (!uniform_batch_stride(p, p->sa, &sa) || !uniform_batch_stride(p, p->sb, &sb) ||
        !uniform_batch_stride(p, p->so, &so))
        return 1;
    CBLAS_TRANSPOSE ta = CblasNoTrans, tb = CblasNoTrans;
    int64_t lda = 1, ldb = 1;
    blas_layout(p->m, p->k, p->a.srow, p->a.scol, &ta, &lda);
    blas_layout(p->k, p->n, p->b.srow, p->b.scol, &tb, &ldb);
    return p->dev->gemm_batched(p->dtype, ta == CblasTrans, tb == CblasTrans, p->m, p->n, p->k, 1.0, p->a.data, lda,
                                sa, p->b.data, ldb, sb, 0.0, p->out, p->n, so, count) ? -1 : 0;
}

static int run_plan(const bmm_plan *p) {
    int64_t n_out = 1, n_red = 1;
    for (int d = 0; d < p->nb; d++) {
        if (p->reduced[d]) n_red *= p->shape[d];
        else n_out *= p->shape[d];
    }
    if (p->dev && n_red == 1 && n_out > 1) {
        int rc = run_plan_batched_on_gpu(p, n_out);
        if (rc <= 0) return rc;
    }
    size_t es = at_dtype_size(p->dtype);
    /* Many small products: one per thread, each GEMM single-threaded (the
     * OpenMP build of OpenBLAS does that inside a parallel region). Few big
     * ones: OpenBLAS threads each. */
    int threads = omp_get_max_threads(), failed = 0;
    /* On the GPU the products queue on one stream from this thread. */
    bool par = !p->dev && n_out > 1 && threads > 1 && (n_out >= threads || p->m * p->n * p->k <= (1 << 18));
    #pragma omp parallel for if (par) schedule(static)
    for (int64_t o = 0; o < n_out; o++) {
        for (int64_t r = 0; r < n_red; r++) {
            int64_t oa = 0, ob = 0, oo = 0, ro = o, rr = r;
            for (int d = p->nb - 1; d >= 0; d--) {
                int64_t i;
                if (p->reduced[d]) i = rr % p->shape[d], rr /= p->shape[d];
                else i = ro % p->shape[d], ro /= p->shape[d];
                oa += i * p->sa[d];
                ob += i * p->sb[d];
                oo += i * p->so[d];
            }
            strided a = {p->a.data + (size_t)oa * es, p->a.srow, p->a.scol};
            strided b = {p->b.data + (size_t)ob * es, p->b.srow, p->b.scol};
            if (gemm(p->dev, p->dtype, p->m, p->n, p->k, 1.0, a, b, r == 0 ? 0.0 : 1.0, p->out + (size_t)oo * es,
                     p->n))
                failed = 1; /* only on the GPU, where the loop runs on one thread */
        }
    }
    return failed ? -1 : 0;
}

/* A GEMM-readable version of t: t itself, or a contiguous copy kept in *copy. */
static const at_tensor *blas_operand(const at_tensor *t, at_tensor **copy) {
    CBLAS_TRANSPOSE tr;
    int64_t ld;
    int nd = t->ndim;
    *copy = NULL;
    if (blas_layout(t->shape[nd - 2], t->shape[nd - 1], t->stride[nd - 2], t->stride[nd - 1], &tr, &ld))
        return t;
    *copy = at_clone_data(t);
    return *copy;
}

/* out = a @ b (summing batch dims where out is smaller). a (..., m, k),
 * b (..., k, n), out contiguous (..., m, n); all views of at least 2 dims
 * whose batch dims broadcast. */
static int batched_matmul(const char *op, const at_tensor *a, const at_tensor *b, const at_tensor *out) {
    int64_t m = a->shape[a->ndim - 2], k = a->shape[a->ndim - 1], n = b->shape[b->ndim - 1];
    if (!fits_blas_int(m) || !fits_blas_int(n) || !fits_blas_int(k) || !fits_blas_int(m * n) ||
        !fits_blas_int(m * k) || !fits_blas_int(k * n)) {
        at_set_error("%s: matrices of %lld x %lld x %lld are too large for BLAS", op, (long long)m,
                     (long long)k, (long long)n);
        return -1;
    }
    const at_kernels *dev = NULL;
    if (at_on_cuda(a) && !(dev = AT_DEVICE_KERNELS(matmul, AT_CUDA))) return -1;
    at_tensor *ca, *cb;
    a = blas_operand(a, &ca);
    b = blas_operand(b, &cb);
    if (!a || !b) {
        at_release(ca);
        at_release(cb);
        return -1;
    }
    bmm_plan p = {.dev = dev, .dtype = a->dtype, .m = m, .n = n, .k = k};
    int na = a->ndim - 2, nbb = b->ndim - 2, no = out->ndim - 2;
    p.nb = na > nbb ? na : nbb;
    if (no > p.nb) p.nb = no;
    int64_t ostride[AT_MAX_DIMS];
    at_contiguous_strides(out->ndim, out->shape, ostride);
    for (int d = 0; d < p.nb; d++) {
        int64_t sa = batch_size(a, p.nb, d), sb = batch_size(b, p.nb, d);
        p.shape[d] = sa == 1 ? sb : sa;
        p.sa[d] = batch_stride(a, p.nb, d);
        p.sb[d] = batch_stride(b, p.nb, d);
        int od = d - (p.nb - no);
        int64_t osize = od >= 0 ? out->shape[od] : 1;
        p.reduced[d] = osize == 1 && p.shape[d] > 1;
        p.so[d] = osize == 1 ? 0 : ostride[od];
    }
    p.a = (strided){at_data(a), a->stride[a->ndim - 2], a->stride[a->ndim - 1]};
    p.b = (strided){at_data(b), b->stride[b->ndim - 2], b->stride[b->ndim - 1]};
    p.out = at_data(out);
    fold_batch_dims(&p);
    int64_t out_n = at_numel(out);
    int rc = 0;
    if (out_n > 0 && p.m > 0 && p.n > 0) {
        bool empty_batch = false;
        for (int d = 0; d < p.nb; d++) empty_batch |= p.shape[d] == 0;
        if (empty_batch && p.dev) rc = at_fill_((at_tensor *)out, 0);
        else if (empty_batch) memset(p.out, 0, (size_t)out_n * at_dtype_size(p.dtype));
        else rc = run_plan(&p);
    }
    at_release(ca);
    at_release(cb);
    return rc;
}

/* ---- at_matmul ---- */

/* A header-only copy of t with a size-1 dim inserted at pos (for numpy's
 * promotion of 1-D operands). Never retained or released. */
static at_tensor with_unit_dim(const at_tensor *t, int pos) {
    at_tensor v = *t;
    for (int d = v.ndim; d > pos; d--) {
        v.shape[d] = v.shape[d - 1];
        v.stride[d] = v.stride[d - 1];
    }
    v.shape[pos] = 1;
    v.stride[pos] = 0;
    v.ndim++;
    return v;
}

static at_tensor swap_last_two(const at_tensor *t) {
    at_tensor v = *t;
    int a = v.ndim - 2, b = v.ndim - 1;
    int64_t s = v.shape[a], st = v.stride[a];
    v.shape[a] = v.shape[b], v.stride[a] = v.stride[b];
    v.shape[b] = s, v.stride[b] = st;
    return v;
}

/* A contiguous tensor of t's shape to receive a result, and a header for it
 * promoted the way the operand was. */
static at_tensor *result_like(const at_tensor *t, int pos, at_tensor *view) {
    at_tensor *r = at_empty_uninit_on(at_device_of(t), t->dtype, t->ndim, t->shape);
    if (r) *view = pos >= 0 ? with_unit_dim(r, pos) : *r;
    return r;
}

static int matmul_backward(at_node *node, const at_tensor *g, at_tensor **gin) {
    const at_tensor *a = node->inputs[0], *b = node->inputs[1];
    bool a1 = a->ndim == 1, b1 = b->ndim == 1;
    at_tensor av = a1 ? with_unit_dim(a, 0) : *a;
    at_tensor bv = b1 ? with_unit_dim(b, 1) : *b;
    at_tensor gv = *g;
    if (a1) gv = with_unit_dim(&gv, gv.ndim - (b1 ? 0 : 1));
    if (b1) gv = with_unit_dim(&gv, gv.ndim);
    if (node->needs_grad[0]) {
        at_tensor out, bt = swap_last_two(&bv);
        gin[0] = result_like(a, a1 ? 0 : -1, &out);
        if (!gin[0] || batched_matmul("matmul backward", &gv, &bt, &out)) goto fail;
    }
    if (node->needs_grad[1]) {
        at_tensor out, at = swap_last_two(&av);
        gin[1] = result_like(b, b1 ? 1 : -1, &out);
        if (!gin[1] || batched_matmul("matmul backward", &at, &gv, &out)) goto fail;
    }
    return 0;
fail:
    for (int i = 0; i < 2; i++) at_release(gin[i]), gin[i] = NULL;
    return -1;
}

at_tensor *at_matmul(at_tensor *a, at_tensor *b) {
    if (at_check_float("matmul", a) || at_check_float("matmul", b) || at_check_same_dtype("matmul", a, b))
        return NULL;
    char sa[128], sb[128];
    if (a->ndim == 0 || b->ndim == 0) {
        at_set_error("matmul: operands need at least 1 dim, got shapes %s and %s",
                     at_shape_str(a, sa, sizeof sa), at_shape_str(b, sb, sizeof sb));
        return NULL;
    }
    bool a1 = a->ndim == 1, b1 = b->ndim == 1;
    at_tensor av = a1 ? with_unit_dim(a, 0) : *a;
    at_tensor bv = b1 ? with_unit_dim(b, 1) : *b;
    int64_t m = av.shape[av.ndim - 2], k = av.shape[av.ndim - 1], n = bv.shape[bv.ndim - 1];
    if (bv.shape[bv.ndim - 2] != k) {
        at_set_error("matmul: shapes %s and %s do not match (inner dims %lld and %lld)",
                     at_shape_str(a, sa, sizeof sa), at_shape_str(b, sb, sizeof sb), (long long)k,
                     (long long)bv.shape[bv.ndim - 2]);
        return NULL;
    }
    /* Output shape: broadcast batch, then m unless a was 1-D, n unless b was. */
    int na = av.ndim - 2, nbb = bv.ndim - 2, nb = na > nbb ? na : nbb, nd = 0;
    int64_t shape[AT_MAX_DIMS + 1];
    for (int d = 0; d < nb; d++) {
        int64_t da = batch_size(&av, nb, d), db = batch_size(&bv, nb, d);
        if (da != db && da != 1 && db != 1) {
            at_set_error("matmul: batch dims of shapes %s and %s do not broadcast",
                         at_shape_str(a, sa, sizeof sa), at_shape_str(b, sb, sizeof sb));
            return NULL;
        }
        shape[nd++] = da == 1 ? db : da;
    }
    if (!a1) shape[nd++] = m;
    if (!b1) shape[nd++] = n;
    if (nd > AT_MAX_DIMS) {
        at_set_error("matmul: result of %d dims exceeds the %d supported", nd, AT_MAX_DIMS);
        return NULL;
    }
    at_tensor *out = at_empty_uninit_on(at_device_of(a), a->dtype, nd, shape);
    if (!out) return NULL;
    at_tensor ov = *out;
    if (a1) ov = with_unit_dim(&ov, ov.ndim - (b1 ? 0 : 1));
    if (b1) ov = with_unit_dim(&ov, ov.ndim);
    if (batched_matmul("matmul", &av, &bv, &ov)) {
        at_release(out);
        return NULL;
    }
    at_tensor *ins[2] = {a, b};
    at_record(&at_op_matmul, out, 2, ins);
    return out;
}

/* ---- at_linear ---- */

/* Views t (..., cols) as one (rows, cols) matrix when its leading dims merge
 * into a single strided dim; false when they do not. */
static bool as_matrix(const at_tensor *t, int64_t *rows, int64_t *srow) {
    int64_t r = 1, st = 0, expect = 0;
    bool have = false;
    for (int d = t->ndim - 2; d >= 0; d--) {
        if (t->shape[d] == 1) continue;
        if (!have) st = t->stride[d], have = true;
        else if (t->stride[d] != expect) return false;
        expect = t->stride[d] * t->shape[d];
        r *= t->shape[d];
    }
    *rows = r;
    *srow = have ? st : max1(t->shape[t->ndim - 1]);
    return true;
}

/* t as a GEMM-readable (rows, cols) matrix, copying it when needed. */
static const at_tensor *linear_rows(const at_tensor *t, at_tensor **copy, strided *mat, int64_t *rows) {
    CBLAS_TRANSPOSE tr;
    int64_t ld, srow = 0, cols = t->shape[t->ndim - 1], scol = t->stride[t->ndim - 1];
    *copy = NULL;
    if (!as_matrix(t, rows, &srow) || !blas_layout(*rows, cols, srow, scol, &tr, &ld)) {
        *copy = at_clone_data(t);
        if (!*copy) return NULL;
        t = *copy;
        as_matrix(t, rows, &srow);
        scol = 1;
    }
    *mat = (strided){at_data(t), srow, scol};
    return t;
}

/* Column sums of a strided (rows, cols) matrix in double, each column summed
 * over the rows in order, so the result does not depend on the threads. */
enum { SUM_COLS = 256 };
#define DEFINE_COLUMN_SUMS(T)                                                                   \
    SIMD_CLONES static void column_block_##T(const T *restrict g, int64_t rows, int64_t c0,     \
                                             int64_t c1, int64_t srow, int64_t scol,            \
                                             T *restrict out) {                                 \
        double acc[SUM_COLS] = {0};                                                             \
        int64_t w = c1 - c0;                                                                    \
        for (int64_t r = 0; r < rows; r++) {                                                    \
            const T *gr = g + r * srow + c0 * scol;                                             \
            if (scol == 1)                                                                      \
                for (int64_t c = 0; c < w; c++) acc[c] += gr[c];                                \
            else                                                                                \
                for (int64_t c = 0; c < w; c++) acc[c] += gr[c * scol];                         \
        }                                                                                       \
        for (int64_t c = 0; c < w; c++) out[c0 + c] = (T)acc[c];                                \
    }                                                                                           \
    static void column_sums_##T(const T *g, int64_t rows, int64_t cols, strided m, T *out) {    \
        int64_t blocks = (cols + SUM_COLS - 1) / SUM_COLS;                                      \
        _Pragma("omp parallel for if (rows * cols >= AT_PARALLEL_MIN)")                         \
        for (int64_t k = 0; k < blocks; k++) {                                                  \
            int64_t c0 = k * SUM_COLS, c1 = c0 + SUM_COLS < cols ? c0 + SUM_COLS : cols;         \
            column_block_##T(g, rows, c0, c1, m.srow, m.scol, out);                             \
        }                                                                                       \
    }
DEFINE_COLUMN_SUMS(float)
DEFINE_COLUMN_SUMS(double)

static int linear_backward(at_node *node, const at_tensor *g, at_tensor **gin) {
    const at_tensor *x = node->inputs[0], *w = node->inputs[1];
    at_dtype dt = x->dtype;
    int64_t out_f = w->shape[0], in_f = w->shape[1], rows;
    at_tensor *gcopy = NULL, *wcopy = NULL, *xcopy = NULL, *ones = NULL;
    at_device dev = at_device_of(x);
    const at_kernels *kd = NULL;
    if (dev != AT_CPU && !(kd = AT_DEVICE_KERNELS(linear, dev))) return -1;
    strided gm, xm;
    int rc = -1;
    const at_tensor *gr = linear_rows(g, &gcopy, &gm, &rows);
    if (!gr) return -1;
    if (node->needs_grad[0]) { /* dx = g·w */
        const at_tensor *wr = blas_operand(w, &wcopy);
        if (!wr) goto done;
        gin[0] = at_empty_uninit_on(dev, dt, x->ndim, x->shape);
        if (!gin[0]) goto done;
        strided wm = {at_data(wr), wr->stride[0], wr->stride[1]};
        if (gemm(kd, dt, rows, in_f, out_f, 1.0, gm, wm, 0.0, at_data(gin[0]), in_f)) goto done;
    }
    if (node->needs_grad[1]) { /* dw = gᵀ·x */
        const at_tensor *xs = node->saved[0] ? node->saved[0] : x;
        int64_t xrows;
        if (!linear_rows(xs, &xcopy, &xm, &xrows)) goto done;
        gin[1] = at_empty_uninit_on(dev, dt, 2, w->shape);
        if (!gin[1]) goto done;
        strided gt = {gm.data, gm.scol, gm.srow};
        if (gemm(kd, dt, out_f, in_f, rows, 1.0, gt, xm, 0.0, at_data(gin[1]), in_f)) goto done;
    }
    if (node->needs_grad[2]) { /* db = sum of g over rows */
        gin[2] = at_empty_uninit_on(dev, dt, 1, &out_f);
        if (!gin[2]) goto done;
        if (kd) { /* a row of ones times g: cuBLAS sums the columns in a fixed order */
            ones = at_full_on(dev, dt, 1, &rows, 1.0);
            if (!ones || gemm(kd, dt, 1, out_f, rows, 1.0, (strided){at_data(ones), rows, 1}, gm, 0.0,
                              at_data(gin[2]), out_f))
                goto done;
        } else if (dt == AT_F32) column_sums_float((const float *)gm.data, rows, out_f, gm, at_data(gin[2]));
        else column_sums_double((const double *)gm.data, rows, out_f, gm, at_data(gin[2]));
    }
    rc = 0;
done:
    if (rc)
        for (int i = 0; i < 3; i++) at_release(gin[i]), gin[i] = NULL;
    at_release(gcopy);
    at_release(wcopy);
    at_release(xcopy);
    at_release(ones);
    return rc;
}

/* Every output row starts as the bias, so GEMM can add onto it (beta = 1). */
static int fill_rows_with_bias(at_tensor *out, int64_t rows, const at_tensor *b) {
    int64_t n = b->shape[0], sb = b->stride[0];
    if (at_on_cuda(out)) { /* a copy from b seen as (rows, n) with a zero row stride */
        at_tensor o2 = *out, b2 = *b;
        o2.ndim = b2.ndim = 2;
        o2.shape[0] = b2.shape[0] = rows, o2.shape[1] = b2.shape[1] = n;
        o2.stride[0] = n, o2.stride[1] = 1;
        b2.stride[0] = 0, b2.stride[1] = sb;
        return at_copy_(&o2, &b2);
    }
    if (out->dtype == AT_F32) {
        float *o = at_data(out);
        const float *bb = at_data(b);
        #pragma omp parallel for if (rows * n >= AT_PARALLEL_MIN)
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < n; c++) o[r * n + c] = bb[c * sb];
    } else {
        double *o = at_data(out);
        const double *bb = at_data(b);
        #pragma omp parallel for if (rows * n >= AT_PARALLEL_MIN)
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < n; c++) o[r * n + c] = bb[c * sb];
    }
    return 0;
}

at_tensor *at_linear(at_tensor *x, at_tensor *w, at_tensor *b) {
    if (at_check_float("linear", x) || at_check_float("linear", w) || at_check_same_dtype("linear", x, w))
        return NULL;
    if (b && (at_check_float("linear", b) || at_check_same_dtype("linear", x, b))) return NULL;
    char sx[128], sw[128], sbias[128];
    if (w->ndim != 2 || x->ndim < 1 || x->shape[x->ndim - 1] != w->shape[1]) {
        at_set_error("linear: input %s does not match weight %s (want x (..., in) and w (out, in))",
                     at_shape_str(x, sx, sizeof sx), at_shape_str(w, sw, sizeof sw));
        return NULL;
    }
    int64_t out_f = w->shape[0], in_f = w->shape[1];
    if (b && (b->ndim != 1 || b->shape[0] != out_f)) {
        at_set_error("linear: bias %s does not match weight %s (want [%lld])", at_shape_str(b, sbias, sizeof sbias),
                     at_shape_str(w, sw, sizeof sw), (long long)out_f);
        return NULL;
    }
    if (!fits_blas_int(out_f) || !fits_blas_int(in_f) || !fits_blas_int(at_numel(x) / max1(in_f))) {
        at_set_error("linear: input %s with weight %s is too large for BLAS", at_shape_str(x, sx, sizeof sx),
                     at_shape_str(w, sw, sizeof sw));
        return NULL;
    }
    const at_kernels *kd = NULL;
    if (at_on_cuda(x) && !(kd = AT_DEVICE_KERNELS(linear, AT_CUDA))) return NULL;
    at_tensor *xcopy, *wcopy;
    strided xm;
    int64_t rows;
    const at_tensor *xr = linear_rows(x, &xcopy, &xm, &rows);
    const at_tensor *wr = xr ? blas_operand(w, &wcopy) : NULL;
    if (!wr) {
        at_release(xcopy);
        return NULL;
    }
    int64_t shape[AT_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = out_f;
    at_tensor *out = at_empty_uninit_on(at_device_of(x), x->dtype, x->ndim, shape);
    strided wt = {at_data(wr), wr->stride[1], wr->stride[0]}; /* wᵀ without a copy */
    if (out && ((b && fill_rows_with_bias(out, rows, b)) ||
                gemm(kd, x->dtype, rows, out_f, in_f, 1.0, xm, wt, b ? 1.0 : 0.0, at_data(out), out_f))) {
        at_release(out);
        out = NULL;
    }
    if (out) {
        at_tensor *ins[3] = {x, w, b};
        at_node *node = at_record(&at_op_linear, out, 3, ins);
        /* dw needs x as rows; keep the copy rather than remake it. */
        if (node && xcopy && w->requires_grad) {
            node->saved[0] = xcopy;
            xcopy = NULL;
        }
    }
    at_release(xcopy);
    at_release(wcopy);
    return out;
}

/* ---- gradient checks ---- */

static int matmul_inputs(int variant, at_rng *rng, at_tensor **in) {
    static const int64_t shapes[][2][4] = {
        {{3, 4}, {4, 5}},             /* 0: plain 2-D */
        {{2, 2, 3, 4}, {4, 3}},       /* 1: (B,H,m,k)@(k,n), folded into one GEMM */
        {{2, 1, 3, 2}, {3, 2, 4}},    /* 2: both batch dims broadcast */
        {{4, 3}, {5, 4}},             /* 3: both operands transposed views */
        {{4}, {2, 4, 3}},             /* 4: 1-D @ batched */
        {{3, 4}, {4}},                /* 5: matrix @ 1-D */
        {{4}, {4}},                   /* 6: dot product */
        {{1, 4}, {3, 2, 4}},          /* 7: expanded rows (copied) @ permuted batch (CblasTrans) */
        {{3, 2, 4}, {4, 3}},          /* 8: batch-strided a (permute) that cannot fold */
    };
    static const int nds[][2] = {{2, 2}, {4, 2}, {4, 3}, {2, 2}, {1, 3}, {2, 1}, {1, 1}, {2, 3}, {3, 2}};
    in[0] = at_gc_randn(rng, true, nds[variant][0], shapes[variant][0]);
    in[1] = at_gc_randn(rng, true, nds[variant][1], shapes[variant][1]);
    return in[0] && in[1] ? 2 : -1;
}

static at_tensor *matmul_forward(int variant, at_tensor **in) {
    at_tensor *a = in[0], *b = in[1], *r = NULL;
    if (variant == 3) {
        a = at_transpose(in[0], 0, 1);
        b = at_transpose(in[1], 0, 1);
    } else if (variant == 7) {
        int64_t shape[2] = {3, 4};
        int perm[3] = {1, 2, 0};
        a = at_expand(in[0], 2, shape);  /* (3,4), row stride 0 */
        b = at_permute(in[1], perm);     /* (2,4,3), strides (4,1,8) */
    } else if (variant == 8) {
        int perm[3] = {1, 0, 2};
        a = at_permute(in[0], perm);     /* (2,3,4), strides (4,8,1) */
    }
    if (a && b) r = at_matmul(a, b);
    if (a != in[0]) at_release(a);
    if (b != in[1]) at_release(b);
    return r;
}

static int linear_inputs(int variant, at_rng *rng, at_tensor **in) {
    int64_t x0[3] = {2, 3, 4}, x1[2] = {4, 3}, x2[1] = {4}, w0[2] = {5, 4}, w1[2] = {4, 5}, b0[1] = {5};
    int64_t x3[3] = {3, 2, 4};
    switch (variant) {
    case 0: in[0] = at_gc_randn(rng, true, 3, x0); in[1] = at_gc_randn(rng, true, 2, w0); break;
    case 1: in[0] = at_gc_randn(rng, true, 2, x1); in[1] = at_gc_randn(rng, true, 2, w1); break;
    case 2: in[0] = at_gc_randn(rng, true, 1, x2); in[1] = at_gc_randn(rng, true, 2, w0); break;
    default: in[0] = at_gc_randn(rng, true, 3, x3); in[1] = at_gc_randn(rng, true, 2, w0); break;
    }
    if (variant == 1) return in[0] && in[1] ? 2 : -1;
    in[2] = at_gc_randn(rng, true, 1, b0);
    return in[0] && in[1] && in[2] ? 3 : -1;
}

static at_tensor *linear_forward(int variant, at_tensor **in) {
    at_tensor *x = in[0], *w = in[1], *r = NULL;
    if (variant == 1) { /* transposed x and w: x copied to rows, w read as is */
        x = at_transpose(in[0], 0, 1);
        w = at_transpose(in[1], 0, 1);
    } else if (variant == 3) { /* leading dims that do not merge: copied */
        int perm[3] = {1, 0, 2};
        x = at_permute(in[0], perm);
    }
    if (x && w) r = at_linear(x, w, variant == 1 ? NULL : in[2]);
    if (x != in[0]) at_release(x);
    if (w != in[1]) at_release(w);
    return r;
}

const at_op_def at_op_matmul = {"matmul", matmul_backward, {9, matmul_inputs, matmul_forward}};
const at_op_def at_op_linear = {"linear", linear_backward, {4, linear_inputs, linear_forward}};

/* Layer normalisation and softmax over the last dim, one row at a time.
 *
 * Row sums run in fixed-width SIMD lanes and column sums over rows in row
 * order, so results do not depend on the thread count. The per-row kernels
 * are compiled for AVX-512, AVX2 and SSE2 (SIMD_CLONES). */
#include "ops_internal.h"

/* Lets the compiler turn selects into vector blends; nothing here reads
 * floating-point exception flags. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include "vmath.h" /* after the pragma: inlining needs the same optimize options */

#include <math.h>
#include <string.h>

/* t itself (retained) when contiguous, else a contiguous copy without history. */
static at_tensor *dense(const at_tensor *t) {
    if (at_is_contiguous(t)) {
        at_retain((at_tensor *)t);
        return (at_tensor *)t;
    }
    return at_clone_data(t);
}

static int64_t row_length(const at_tensor *t) { return t->ndim ? t->shape[t->ndim - 1] : 1; }

/* ---- layernorm ---- */

/* One row: y = (x - mean) * rstd * w + b (w, b may be NULL); returns mean
 * and rstd through *mean, *rstd. Sums run in SIMD lanes of T. */
#define DEFINE_LAYERNORM_ROW(T)                                                                 \
    SIMD_CLONES static void layernorm_row_##T(const T *restrict x, const T *restrict w,          \
                                              const T *restrict b, T *restrict y, int64_t d,     \
                                              double eps, double *mean, double *rstd) {          \
        T s = 0, v = 0;                                                                         \
        _Pragma("omp simd reduction(+ : s)")                                                    \
        for (int64_t i = 0; i < d; i++) s += x[i];                                              \
        T mu = s / (T)d;                                                                        \
        _Pragma("omp simd reduction(+ : v)")                                                    \
        for (int64_t i = 0; i < d; i++) v += (x[i] - mu) * (x[i] - mu);                         \
        T rs = (T)(1.0 / sqrt((double)v / (double)d + eps));                                    \
        if (w && b)                                                                             \
            for (int64_t i = 0; i < d; i++) y[i] = (x[i] - mu) * rs * w[i] + b[i];              \
        else if (w)                                                                             \
            for (int64_t i = 0; i < d; i++) y[i] = (x[i] - mu) * rs * w[i];                     \
        else if (b)                                                                             \
            for (int64_t i = 0; i < d; i++) y[i] = (x[i] - mu) * rs + b[i];                     \
        else                                                                                    \
            for (int64_t i = 0; i < d; i++) y[i] = (x[i] - mu) * rs;                            \
        *mean = mu, *rstd = rs;                                                                 \
    }
DEFINE_LAYERNORM_ROW(float)
DEFINE_LAYERNORM_ROW(double)

/* One row of dx = rstd * (g·w - mean(g·w) - xhat * mean(g·w * xhat)). */
#define DEFINE_LAYERNORM_DX_ROW(T)                                                              \
    SIMD_CLONES static void layernorm_dx_row_##T(const T *restrict x, const T *restrict g,       \
                                                 const T *restrict w, T *restrict dx, int64_t d, \
                                                 T mu, T rs) {                                  \
        T sg = 0, sgx = 0;                                                                      \
        if (w) {                                                                                \
            _Pragma("omp simd reduction(+ : sg, sgx)")                                          \
            for (int64_t i = 0; i < d; i++) {                                                   \
                T gw = g[i] * w[i];                                                             \
                sg += gw;                                                                       \
                sgx += gw * (x[i] - mu);                                                        \
            }                                                                                   \
        } else {                                                                                \
            _Pragma("omp simd reduction(+ : sg, sgx)")                                          \
            for (int64_t i = 0; i < d; i++) {                                                   \
                sg += g[i];                                                                     \
                sgx += g[i] * (x[i] - mu);                                                      \
            }                                                                                   \
        }                                                                                       \
        T mg = sg / (T)d, c = sgx * rs * rs / (T)d;  /* mean(g·w·xhat) * rstd */                \
        if (w)                                                                                  \
            for (int64_t i = 0; i < d; i++) dx[i] = rs * (g[i] * w[i] - mg - (x[i] - mu) * c);  \
        else                                                                                    \
            for (int64_t i = 0; i < d; i++) dx[i] = rs * (g[i] - mg - (x[i] - mu) * c);         \
    }
DEFINE_LAYERNORM_DX_ROW(float)
DEFINE_LAYERNORM_DX_ROW(double)

/* Columns [c0, c1) of dw = sum over rows of g * xhat and db = sum over rows
 * of g (either may be NULL), each column summed over the rows in order. */
enum { LN_COLS = 256 };
#define DEFINE_LAYERNORM_DWB_BLOCK(T)                                                           \
    SIMD_CLONES static void layernorm_dwb_block_##T(const T *restrict x, const T *restrict g,    \
                                                    const double *mean, const double *rstd,     \
                                                    T *dw, T *db, int64_t rows, int64_t d,      \
                                                    int64_t c0, int64_t c1) {                   \
        T aw[LN_COLS] = {0}, ab[LN_COLS] = {0};                                                 \
        int64_t w = c1 - c0;                                                                    \
        for (int64_t r = 0; r < rows; r++) {                                                    \
            const T *xr = x + r * d + c0, *gr = g + r * d + c0;                                 \
            T mu = (T)mean[r], rs = (T)rstd[r];                                                 \
            for (int64_t c = 0; c < w; c++) {                                                   \
                aw[c] += gr[c] * ((xr[c] - mu) * rs);                                           \
                ab[c] += gr[c];                                                                 \
            }                                                                                   \
        }                                                                                       \
        for (int64_t c = 0; c < w; c++) {                                                       \
            if (dw) dw[c0 + c] = aw[c];                                                         \
            if (db) db[c0 + c] = ab[c];                                                         \
        }                                                                                       \
    }
DEFINE_LAYERNORM_DWB_BLOCK(float)
DEFINE_LAYERNORM_DWB_BLOCK(double)

/* The row loops, threaded over rows (or column blocks for dw and db). */
#define DEFINE_LAYERNORM_LOOPS(T)                                                               \
    static void layernorm_forward_##T(const T *x, const T *w, const T *b, T *y, double *mean,   \
                                      double *rstd, int64_t rows, int64_t d, double eps) {      \
        _Pragma("omp parallel for if (rows * d >= AT_PARALLEL_MIN)")                            \
        for (int64_t r = 0; r < rows; r++) {                                                    \
            double mu, rs;                                                                      \
            layernorm_row_##T(x + r * d, w, b, y + r * d, d, eps, &mu, &rs);                     \
            if (mean) mean[r] = mu, rstd[r] = rs;                                               \
        }                                                                                       \
    }                                                                                           \
    static void layernorm_dx_##T(const T *x, const T *g, const T *w, const double *mean,        \
                                 const double *rstd, T *dx, int64_t rows, int64_t d) {          \
        _Pragma("omp parallel for if (rows * d >= AT_PARALLEL_MIN)")                            \
        for (int64_t r = 0; r < rows; r++)                                                      \
            layernorm_dx_row_##T(x + r * d, g + r * d, w, dx + r * d, d, (T)mean[r], (T)rstd[r]); \
    }                                                                                           \
    static void layernorm_dwb_##T(const T *x, const T *g, const double *mean, const double *rstd, \
                                  T *dw, T *db, int64_t rows, int64_t d) {                     \
        int64_t blocks = (d + LN_COLS - 1) / LN_COLS;                                           \
        _Pragma("omp parallel for if (rows * d >= AT_PARALLEL_MIN)")                            \
        for (int64_t k = 0; k < blocks; k++) {                                                  \
            int64_t c0 = k * LN_COLS, c1 = c0 + LN_COLS < d ? c0 + LN_COLS : d;                  \
            layernorm_dwb_block_##T(x, g, mean, rstd, dw, db, rows, d, c0, c1);                 \
        }                                                                                       \
    }
DEFINE_LAYERNORM_LOOPS(float)
DEFINE_LAYERNORM_LOOPS(double)

static void *data_or_null(const at_tensor *t) { return t ? at_data(t) : NULL; }

static int layernorm_backward(at_node *node, const at_tensor *g, at_tensor **gin) {
    const at_tensor *x = node->inputs[0], *w = node->inputs[1];
    int64_t d = row_length(x), rows = d ? at_numel(x) / d : 0;
    const double *mean = at_data(node->saved[0]), *rstd = at_data(node->saved[1]);
    at_tensor *xd = dense(x), *gd = dense(g), *wd = w ? dense(w) : NULL;
    at_device dev = at_device_of(x);
    const at_kernels *k = NULL;
    int rc = -1;
    if (dev != AT_CPU && !(k = AT_DEVICE_KERNELS(layernorm, dev))) goto done;
    if (!xd || !gd || (w && !wd)) goto done;
    if (node->needs_grad[0]) {
        gin[0] = at_empty_uninit_on(dev, x->dtype, x->ndim, x->shape);
        if (!gin[0]) goto done;
        if (k) {
            if (k->layernorm_backward(at_data(gin[0]), NULL, NULL, at_data(gd), at_data(xd), mean, rstd,
                                      data_or_null(wd), x->dtype, rows, d))
                goto done;
        } else if (x->dtype == AT_F32)
            layernorm_dx_float(at_data(xd), at_data(gd), data_or_null(wd), mean, rstd, at_data(gin[0]), rows, d);
        else
            layernorm_dx_double(at_data(xd), at_data(gd), data_or_null(wd), mean, rstd, at_data(gin[0]), rows, d);
    }
    for (int i = 1; i <= 2; i++) {
        if (node->needs_grad[i] && !(gin[i] = at_empty_uninit_on(dev, x->dtype, 1, &d))) goto done;
    }
    if ((node->needs_grad[1] || node->needs_grad[2]) && k) {
        if (k->layernorm_backward(NULL, data_or_null(gin[1]), data_or_null(gin[2]), at_data(gd), at_data(xd),
                                  mean, rstd, NULL, x->dtype, rows, d))
            goto done;
    } else if (node->needs_grad[1] || node->needs_grad[2]) {
        if (x->dtype == AT_F32)
            layernorm_dwb_float(at_data(xd), at_data(gd), mean, rstd, data_or_null(gin[1]),
                                data_or_null(gin[2]), rows, d);
        else
            layernorm_dwb_double(at_data(xd), at_data(gd), mean, rstd, data_or_null(gin[1]),
                                 data_or_null(gin[2]), rows, d);
    }
    rc = 0;
done:
    if (rc)
        for (int i = 0; i < 3; i++) at_release(gin[i]), gin[i] = NULL;
    at_release(xd);
    at_release(gd);
    at_release(wd);
    return rc;
}

static int check_affine(const char *what, const at_tensor *x, const at_tensor *p) {
    if (!p) return 0;
    if (at_check_float("layernorm", p) || at_check_same_dtype("layernorm", x, p)) return -1;
    if (p->ndim != 1 || p->shape[0] != row_length(x)) {
        char sx[128], sp[128];
        at_set_error("layernorm: %s of shape %s does not match the last dim of input %s", what,
                     at_shape_str(p, sp, sizeof sp), at_shape_str(x, sx, sizeof sx));
        return -1;
    }
    return 0;
}

at_tensor *at_layernorm(at_tensor *x, at_tensor *w, at_tensor *b, double eps) {
    if (at_check_float("layernorm", x) || check_affine("weight", x, w) || check_affine("bias", x, b))
        return NULL;
    if (x->ndim == 0 || !(eps >= 0)) {
        char sx[128];
        at_set_error("layernorm: needs an input of at least 1 dim and eps >= 0, got %s and eps %g",
                     at_shape_str(x, sx, sizeof sx), eps);
        return NULL;
    }
    int64_t d = row_length(x), rows = d ? at_numel(x) / d : 0;
    at_tensor *ins[3] = {x, w, b};
    bool grad = at_any_requires_grad(3, ins);
    at_device dev = at_device_of(x);
    const at_kernels *k = NULL;
    if (dev != AT_CPU && !(k = AT_DEVICE_KERNELS(layernorm, dev))) return NULL;
    at_tensor *xd = dense(x), *wd = w ? dense(w) : NULL, *bd = b ? dense(b) : NULL;
    at_tensor *out = at_empty_uninit_on(dev, x->dtype, x->ndim, x->shape);
    at_tensor *mean = grad ? at_empty_uninit_on(dev, AT_F64, 1, &rows) : NULL;
    at_tensor *rstd = grad ? at_empty_uninit_on(dev, AT_F64, 1, &rows) : NULL;
    bool allocated = xd && (!w || wd) && (!b || bd) && out && (!grad || (mean && rstd));
    if (!allocated || (k && k->layernorm(at_data(out), data_or_null(mean), data_or_null(rstd), at_data(xd),
                                         data_or_null(wd), data_or_null(bd), x->dtype, rows, d, eps))) {
        at_release(out);
        out = NULL;
        goto done;
    }
    if (dev == AT_CPU && x->dtype == AT_F32)
        layernorm_forward_float(at_data(xd), data_or_null(wd), data_or_null(bd), at_data(out),
                                data_or_null(mean), data_or_null(rstd), rows, d, eps);
    else if (dev == AT_CPU)
        layernorm_forward_double(at_data(xd), data_or_null(wd), data_or_null(bd), at_data(out),
                                 data_or_null(mean), data_or_null(rstd), rows, d, eps);
    at_node *node = at_record(&at_op_layernorm, out, 3, ins);
    if (node) {
        node->saved[0] = mean, node->saved[1] = rstd;
        mean = rstd = NULL;
        node->fparam[0] = eps;
    }
done:
    at_release(xd);
    at_release(wd);
    at_release(bd);
    at_release(mean);
    at_release(rstd);
    return out;
}

/* ---- softmax ---- */

/* exp(x) for x <= 0 (softmax subtracts the row max first), vectorisable
 * (see vmath.h): libm's expf was most of softmax's time. Below -87 (masked logits, -inf) it gives exactly 0. The
 * clamp and the zeroing are integer operations on the bits: a float compare
 * or select here makes GCC branch, and then the loop stays scalar. */
static inline float softmax_expf(float x) {
    uint32_t u, below = 0xC2AE0000u; /* the bits of -87.0f */
    memcpy(&u, &x, sizeof u);
    uint32_t tiny = u > below;       /* x < -87 when x <= 0 */
    uint32_t uc = u < below ? u : below;
    float xc;
    memcpy(&xc, &uc, sizeof xc);
    float n, p = at_exp_reduced(xc, &n);
    int32_t bits = ((int32_t)n + 127) << 23; /* 2^n */
    float scale, y;
    memcpy(&scale, &bits, sizeof scale);
    y = p * scale;
    uint32_t yb;
    memcpy(&yb, &y, sizeof yb);
    yb &= tiny - 1u;
    memcpy(&y, &yb, sizeof y);
    return y;
}

/* Numerically stable softmax of one row in place: exp(x - max) / sum. A row
 * that is all -inf (fully masked) gives zeros rather than NaN. Shared with
 * attention.c. */
SIMD_CLONES void at_softmax_row_f32(float *y, int64_t n) {
    float mx = -INFINITY;
    #pragma omp simd reduction(max : mx)
    for (int64_t i = 0; i < n; i++) mx = y[i] > mx ? y[i] : mx;
    if (mx == -INFINITY) {
        memset(y, 0, (size_t)n * sizeof *y);
        return;
    }
    for (int64_t i = 0; i < n; i++) y[i] = softmax_expf(y[i] - mx);
    float s = 0; /* in SIMD lanes: a float sum of terms in [0, 1] loses little */
    #pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; i++) s += y[i];
    float inv = 1.0f / s;
    for (int64_t i = 0; i < n; i++) y[i] *= inv;
}

void at_softmax_row_f64(double *y, int64_t n) {
    double mx = -INFINITY;
    for (int64_t i = 0; i < n; i++) mx = y[i] > mx ? y[i] : mx;
    if (mx == -INFINITY) {
        memset(y, 0, (size_t)n * sizeof *y);
        return;
    }
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        y[i] = exp(y[i] - mx);
        s += y[i];
    }
    double inv = 1.0 / s;
    for (int64_t i = 0; i < n; i++) y[i] *= inv;
}

/* g_in = y * (g - sum(g * y)) per row. */
#define DEFINE_SOFTMAX_GRAD_ROW(T)                                                              \
    SIMD_CLONES static void softmax_grad_row_##T(const T *restrict y, const T *restrict g,      \
                                                 T *restrict gi, int64_t n) {                   \
        T ts = 0;                                                                               \
        _Pragma("omp simd reduction(+ : ts)")                                                   \
        for (int64_t i = 0; i < n; i++) ts += g[i] * y[i];                                      \
        for (int64_t i = 0; i < n; i++) gi[i] = y[i] * (g[i] - ts);                             \
    }
DEFINE_SOFTMAX_GRAD_ROW(float)
DEFINE_SOFTMAX_GRAD_ROW(double)

static int softmax_backward(at_node *node, const at_tensor *g, at_tensor **gin) {
    if (!node->needs_grad[0]) return 0;
    const at_tensor *y = node->saved[0];
    int64_t d = row_length(y), rows = d ? at_numel(y) / d : 0;
    at_tensor *gd = dense(g);
    gin[0] = gd ? at_empty_uninit_on(at_device_of(y), y->dtype, y->ndim, y->shape) : NULL;
    if (!gin[0]) {
        at_release(gd);
        return -1;
    }
    if (at_on_cuda(y)) {
        const at_kernels *k = AT_DEVICE_KERNELS(softmax, AT_CUDA);
        int rc = !k || k->softmax_backward(at_data(gin[0]), at_data(gd), at_data(y), y->dtype, rows, d) ? -1 : 0;
        at_release(gd);
        if (rc) at_release(gin[0]), gin[0] = NULL;
        return rc;
    }
    if (y->dtype == AT_F32) {
        const float *yy = at_data(y), *gg = at_data(gd);
        float *o = at_data(gin[0]);
        #pragma omp parallel for if (rows * d >= AT_PARALLEL_MIN)
        for (int64_t r = 0; r < rows; r++) softmax_grad_row_float(yy + r * d, gg + r * d, o + r * d, d);
    } else {
        const double *yy = at_data(y), *gg = at_data(gd);
        double *o = at_data(gin[0]);
        #pragma omp parallel for if (rows * d >= AT_PARALLEL_MIN)
        for (int64_t r = 0; r < rows; r++) softmax_grad_row_double(yy + r * d, gg + r * d, o + r * d, d);
    }
    at_release(gd);
    return 0;
}

at_tensor *at_softmax(at_tensor *x) {
    if (at_check_float("softmax", x)) return NULL;
    if (x->ndim == 0) {
        at_set_error("softmax: needs an input of at least 1 dim, got a 0-dim tensor");
        return NULL;
    }
    at_tensor *out = at_clone_data(x);
    if (!out) return NULL;
    int64_t d = row_length(x), rows = d ? at_numel(x) / d : 0;
    if (at_on_cuda(out)) {
        const at_kernels *k = AT_DEVICE_KERNELS(softmax, AT_CUDA);
        if (!k || k->softmax(at_data(out), at_data(out), x->dtype, rows, d)) {
            at_release(out);
            return NULL;
        }
    } else if (x->dtype == AT_F32) {
        float *y = at_data(out);
        #pragma omp parallel for if (rows * d >= AT_PARALLEL_MIN)
        for (int64_t r = 0; r < rows; r++) at_softmax_row_f32(y + r * d, d);
    } else {
        double *y = at_data(out);
        #pragma omp parallel for if (rows * d >= AT_PARALLEL_MIN)
        for (int64_t r = 0; r < rows; r++) at_softmax_row_f64(y + r * d, d);
    }
    at_node *node = at_record(&at_op_softmax, out, 1, &x);
    if (node) node->saved[0] = at_detach(out);
    return out;
}

/* ---- gradient checks ---- */

/* Variants: 0 x (3,5) with weight and bias; 1 a transposed (2,3,4) view, no
 * affine; 2 weight only; 3 bias only on a 1-D input. */
static int layernorm_inputs(int variant, at_rng *rng, at_tensor **in) {
    int64_t x0[2] = {3, 5}, x1[3] = {2, 4, 3}, x2[2] = {4, 6}, x3[1] = {6}, p5[1] = {5}, p6[1] = {6};
    int n = 0;
    switch (variant) {
    case 0:
        in[n++] = at_gc_randn(rng, true, 2, x0);
        in[n++] = at_gc_randn(rng, true, 1, p5);
        in[n++] = at_gc_randn(rng, true, 1, p5);
        break;
    case 1: in[n++] = at_gc_randn(rng, true, 3, x1); break;
    case 2:
        in[n++] = at_gc_randn(rng, true, 2, x2);
        in[n++] = at_gc_randn(rng, true, 1, p6);
        break;
    default:
        in[n++] = at_gc_randn(rng, true, 1, x3);
        in[n++] = at_gc_randn(rng, true, 1, p6);
        break;
    }
    for (int i = 0; i < n; i++)
        if (!in[i]) return -1;
    return n;
}

static at_tensor *layernorm_forward(int variant, at_tensor **in) {
    switch (variant) {
    case 0: return at_layernorm(in[0], in[1], in[2], 1e-5);
    case 1: {
        at_tensor *xt = at_transpose(in[0], 1, 2);
        at_tensor *r = xt ? at_layernorm(xt, NULL, NULL, 1e-5) : NULL;
        at_release(xt);
        return r;
    }
    case 2: return at_layernorm(in[0], in[1], NULL, 1e-3);
    default: return at_layernorm(in[0], NULL, in[1], 1e-5);
    }
}

static int softmax_inputs(int variant, at_rng *rng, at_tensor **in) {
    static const int64_t shapes[][3] = {{3, 5}, {4, 3}, {6}, {2, 3, 4}};
    static const int nds[] = {2, 2, 1, 3};
    in[0] = at_gc_randn(rng, true, nds[variant], shapes[variant]);
    return in[0] ? 1 : -1;
}

static at_tensor *softmax_forward(int variant, at_tensor **in) {
    if (variant != 1) return at_softmax(in[0]);
    at_tensor *xt = at_transpose(in[0], 0, 1);
    at_tensor *r = xt ? at_softmax(xt) : NULL;
    at_release(xt);
    return r;
}

const at_op_def at_op_layernorm = {"layernorm", layernorm_backward, {4, layernorm_inputs, layernorm_forward}};
const at_op_def at_op_softmax = {"softmax", softmax_backward, {4, softmax_inputs, softmax_forward}};

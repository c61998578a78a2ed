/* Elementwise ops with numpy broadcasting over inputs of any strides.
 *
 * Every op runs one kernel over "runs": stretches of elements along the
 * innermost (coalesced) dim, where each input advances by a fixed stride.
 * Contiguous inputs of the same shape coalesce into a single dim, so the hot
 * case is one tight loop the compiler vectorises. Outputs are contiguous.
 * Pointwise results depend on nothing but the element, so any split of the
 * work between threads gives the same bits. */
#include "ops_internal.h"

/* Lets the compiler turn the selects in the math below into vector blends;
 * nothing here reads floating-point exception flags. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include "vmath.h" /* after the pragma: inlining needs the same optimize options */

#include <math.h>
#include <string.h>

/* A run: n elements; input a (and b, NULL for unary kernels) advance by sa
 * (sb) elements per step; o is contiguous; s is the op's scalar parameter. */
typedef void (*run_fn)(int64_t n, const void *a, int64_t sa, const void *b, int64_t sb, void *o, double s);

typedef struct {
    run_fn f32, f64;
    at_pointwise_op device_op; /* the same op on a GPU (kernels.h: pointwise) */
    const at_op_def *slot;     /* the op whose device slot runs it */
} kernel;

/* The output's shape with each input's strides in it (0 where broadcast),
 * size-1 dims dropped and dims that step evenly through memory merged. */
typedef struct {
    int ndim;
    int64_t shape[AT_MAX_DIMS], sa[AT_MAX_DIMS], sb[AT_MAX_DIMS];
} loop_shape;

static int64_t broadcast_stride(const at_tensor *t, int out_ndim, int d) {
    int i = d - (out_ndim - t->ndim);
    return i < 0 || t->shape[i] == 1 ? 0 : t->stride[i];
}

static void loop_init(loop_shape *L, int nd, const int64_t *shape, const at_tensor *a, const at_tensor *b) {
    L->ndim = 0;
    for (int d = 0; d < nd; d++) {
        if (shape[d] == 1) continue;
        int64_t sa = broadcast_stride(a, nd, d), sb = b ? broadcast_stride(b, nd, d) : 0;
        int k = L->ndim;
        if (k > 0 && L->sa[k - 1] == sa * shape[d] && L->sb[k - 1] == sb * shape[d]) {
            L->shape[k - 1] *= shape[d];
            L->sa[k - 1] = sa, L->sb[k - 1] = sb;
        } else {
            L->shape[k] = shape[d], L->sa[k] = sa, L->sb[k] = sb;
            L->ndim++;
        }
    }
    if (L->ndim == 0) L->ndim = 1, L->shape[0] = 1, L->sa[0] = L->sb[0] = 0;
}

/* Elements per unit of parallel work: big enough that the per-run overhead
 * vanishes, small enough to balance the threads. */
#define RUN_BLOCK 16384

static void loop_run(const loop_shape *L, run_fn f, size_t es, const char *a, const char *b, char *o,
                     double s, int64_t total) {
    int64_t nblocks = (total + RUN_BLOCK - 1) / RUN_BLOCK;
    int last = L->ndim - 1;
    #pragma omp parallel for if (total >= AT_PARALLEL_MIN) schedule(static)
    for (int64_t blk = 0; blk < nblocks; blk++) {
        int64_t i = blk * RUN_BLOCK, end = total - i < RUN_BLOCK ? total : i + RUN_BLOCK;
        int64_t idx[AT_MAX_DIMS], oa = 0, ob = 0, rest = i;
        for (int d = last; d >= 0; d--) {
            idx[d] = rest % L->shape[d];
            rest /= L->shape[d];
            oa += idx[d] * L->sa[d], ob += idx[d] * L->sb[d];
        }
        while (i < end) {
            int64_t n = L->shape[last] - idx[last];
            if (n > end - i) n = end - i;
            f(n, a + oa * (int64_t)es, L->sa[last], b ? b + ob * (int64_t)es : NULL, L->sb[last],
              o + i * (int64_t)es, s);
            i += n;
            idx[last] += n, oa += n * L->sa[last], ob += n * L->sb[last];
            for (int d = last; d > 0 && idx[d] == L->shape[d]; d--) {
                idx[d] = 0, oa -= L->shape[d] * L->sa[d], ob -= L->shape[d] * L->sb[d];
                idx[d - 1]++, oa += L->sa[d - 1], ob += L->sb[d - 1];
            }
        }
    }
}

/* ---- kernels ---- */

/* Binary kernels specialise the stride patterns broadcasting produces, so
 * tensor-tensor, tensor-scalar and scalar-tensor runs all vectorise. */
#define BINARY_KERNEL(name, T, expr)                                                              \
    SIMD_CLONES                                                                                   \
    static void name(int64_t n, const void *pa, int64_t sa, const void *pb, int64_t sb, void *po, \
                     double s_) {                                                                 \
        const T *restrict a = pa, *restrict b = pb;                                               \
        T *restrict o = po;                                                                       \
        T s = (T)s_;                                                                              \
        (void)s;                                                                                  \
        if (sa == 1 && sb == 1) {                                                                 \
            for (int64_t i = 0; i < n; i++) { T x = a[i], y = b[i]; o[i] = (expr); }              \
        } else if (sa == 1 && sb == 0) {                                                          \
            T y = b[0];                                                                           \
            for (int64_t i = 0; i < n; i++) { T x = a[i]; o[i] = (expr); }                        \
        } else if (sa == 0 && sb == 1) {                                                          \
            T x = a[0];                                                                           \
            for (int64_t i = 0; i < n; i++) { T y = b[i]; o[i] = (expr); }                        \
        } else {                                                                                  \
            for (int64_t i = 0; i < n; i++) { T x = a[i * sa], y = b[i * sb]; o[i] = (expr); }    \
        }                                                                                         \
    }

#define UNARY_KERNEL(name, T, expr)                                                               \
    SIMD_CLONES                                                                                   \
    static void name(int64_t n, const void *pa, int64_t sa, const void *pb, int64_t sb, void *po, \
                     double s_) {                                                                 \
        const T *restrict a = pa;                                                                 \
        T *restrict o = po;                                                                       \
        T s = (T)s_;                                                                              \
        (void)pb, (void)sb, (void)s;                                                              \
        if (sa == 1) {                                                                            \
            for (int64_t i = 0; i < n; i++) { T x = a[i]; o[i] = (expr); }                        \
        } else {                                                                                  \
            for (int64_t i = 0; i < n; i++) { T x = a[i * sa]; o[i] = (expr); }                   \
        }                                                                                         \
    }

#define BINARY_OP(name, slot, id, expr32, expr64) \
    BINARY_KERNEL(name##_f32, float, expr32)      \
    BINARY_KERNEL(name##_f64, double, expr64)     \
    static const kernel name##_k = {name##_f32, name##_f64, id, &at_op_##slot};

#define UNARY_OP(name, slot, id, expr32, expr64) \
    UNARY_KERNEL(name##_f32, float, expr32)      \
    UNARY_KERNEL(name##_f64, double, expr64)     \
    static const kernel name##_k = {name##_f32, name##_f64, id, &at_op_##slot};

#define INV_SQRT2 0.70710678118654752440
#define INV_SQRT2PI 0.39894228040143267794

/* ---- f32 math that vectorises ----
 * libm's expf and erff are scalar calls, which keep the compiler from
 * vectorising a loop; these branch-free versions are accurate to a few ulp
 * in both tails. f64 keeps libm: gradient checks run in f64. */

static inline float float_from_bits(int32_t i) {
    float f;
    memcpy(&f, &i, sizeof f);
    return f;
}

/* e^x as 2^n·e^r with |r| <= ln2/2 (Cephes' polynomial for e^r); 2^n is
 * applied in two halves so that denormal results and FLT_MAX stay reachable. */
static inline float vexpf(float x) {
    float xc = x < -104.0f ? -104.0f : x > 89.0f ? 89.0f : x;
    float n, p = at_exp_reduced(xc, &n);
    int32_t k = (int32_t)n, k1 = k >> 1, k2 = k - k1;
    float e = p * float_from_bits((k1 + 127) << 23) * float_from_bits((k2 + 127) << 23);
    return x != x ? x : e;
}

/* e^x for x <= 0 and not NaN (vgaussf's argument): vexpf without its upper
 * clamp and NaN case, which cost a sixth of GELU's time. */
static inline float vexpf_nonpositive(float x) {
    float xc = x > -104.0f ? x : -104.0f;
    float n, p = at_exp_reduced(xc, &n);
    int32_t k = (int32_t)n, k1 = k >> 1, k2 = k - k1;
    return p * float_from_bits((k1 + 127) << 23) * float_from_bits((k2 + 127) << 23);
}

/* e^(-x²/2) = phi(x)/phi(0), from x²/2 split exactly into hi + lo (the FMA
 * gives the product's rounding error): from a rounded x²/2 alone it would be
 * off by x²·2^-24 relative, hundreds of ulp in the tail. |x| is capped at
 * 30, where the result is 0 in f32 either way, so that x² stays finite
 * (a NaN x becomes 30 too: the NaN reaches gelu through vgauss_tailf's t). */
static inline float vgaussf(float x) {
    float a = fabsf(x);
    a = a < 30.0f ? a : 30.0f;
    float sq = a * a, lo = 0.5f * fmaf(a, a, -sq);
    return vexpf_nonpositive(-0.5f * sq) * (1.0f - lo);
}

/* Phi(-|x|) = erfc(z)/2 for z = |x|/sqrt2, given gauss = e^(-z²) (vgaussf):
 * erfc(z) = t·G(t)·e^(-z²) with t = 1/(1 + z/2) and G(t) = erfcx(z)/t, a
 * smooth function of t that a degree-10 polynomial fits within 7.1e-9
 * relative (tests/fit_erfcx.py makes the constants). Working with erfc
 * rather than 1 + erf keeps gelu of a very negative x a small number with
 * all its digits, not a difference of nearly equal ones. */
static inline float vgauss_tailf(float x, float gauss) {
    float z = fabsf(x) * (float)INV_SQRT2;
    float t = 1.0f / (1.0f + 0.5f * z);
    float g = 0.0444073342f;
    g = g * t - 0.240742818f;
    g = g * t + 0.506293952f;
    g = g * t - 0.469458908f;
    g = g * t + 0.142048016f;
    g = g * t - 0.0631966069f;
    g = g * t + 0.0943301469f;
    g = g * t + 0.175255045f;
    g = g * t + 0.246873081f;
    g = g * t + 0.282096118f;
    g = g * t + 0.282094687f;
    return 0.5f * t * g * gauss;
}

/* Phi(x), reflected for x > 0. */
static inline float vphif(float x) {
    float tail = vgauss_tailf(x, vgaussf(x));
    return x < 0 ? tail : 1.0f - tail;
}

/* d/dx x·Phi(x) = Phi(x) + x·phi(x), both from one e^(-x²/2). */
static inline float vgelu_slopef(float x) {
    float gauss = vgaussf(x), tail = vgauss_tailf(x, gauss);
    return (x < 0 ? tail : 1.0f - tail) + x * (float)INV_SQRT2PI * gauss;
}

BINARY_OP(add, add, AT_PW_ADD, x + y, x + y)
BINARY_OP(sub, sub, AT_PW_SUB, x - y, x - y)
BINARY_OP(mul, mul, AT_PW_MUL, x * y, x * y)
BINARY_OP(div, div, AT_PW_DIV, x / y, x / y)
UNARY_OP(scale, scale, AT_PW_SCALE, x * s, x * s)
UNARY_OP(add_scalar, add_scalar, AT_PW_ADD_SCALAR, x + s, x + s)
UNARY_OP(neg, neg, AT_PW_NEG, -x, -x)
UNARY_OP(exp, exp, AT_PW_EXP, vexpf(x), exp(x))
UNARY_OP(log, log, AT_PW_LOG, logf(x), log(x))
UNARY_OP(sqrt, sqrt, AT_PW_SQRT, sqrtf(x), sqrt(x))
/* x < 0 rather than x > 0 so that NaN passes through, as in PyTorch. */
UNARY_OP(relu, relu, AT_PW_RELU, x < 0 ? 0.0f : x, x < 0 ? 0.0 : x)
UNARY_OP(gelu, gelu, AT_PW_GELU, x * vphif(x), 0.5 * x * (1.0 + erf(x * INV_SQRT2)))

/* Backward kernels: x is the incoming gradient, y the saved input or output. */
BINARY_OP(relu_grad, relu, AT_PW_RELU_GRAD, y > 0 ? x : 0.0f, y > 0 ? x : 0.0)
BINARY_OP(sqrt_grad, sqrt, AT_PW_SQRT_GRAD, x * 0.5f / y, x * 0.5 / y)
/* d/dx x·Phi(x) = Phi(x) + x·phi(x). */
BINARY_OP(gelu_grad, gelu, AT_PW_GELU_GRAD,
          x * vgelu_slopef(y),
          x * (0.5 * (1.0 + erf(y * INV_SQRT2)) + y * INV_SQRT2PI * exp(-0.5 * y * y)))

UNARY_OP(abs, abs, AT_PW_ABS, x < 0 ? -x : x, x < 0 ? -x : x)
UNARY_OP(pow, pow, AT_PW_POW, powf(x, s), pow(x, s))
UNARY_OP(sigmoid, sigmoid, AT_PW_SIGMOID, 1.0f / (1.0f + vexpf(-x)), 1.0 / (1.0 + exp(-x)))
UNARY_OP(tanh, tanh, AT_PW_TANH, tanhf(x), tanh(x))
/* Written so that NaN passes through, as relu does. */
UNARY_OP(clamp_min, clamp, AT_PW_CLAMP_MIN, x < s ? s : x, x < s ? s : x)
UNARY_OP(clamp_max, clamp, AT_PW_CLAMP_MAX, x > s ? s : x, x > s ? s : x)
/* abs's gradient at 0 is 0, as in PyTorch. */
BINARY_OP(abs_grad, abs, AT_PW_ABS_GRAD, y > 0 ? x : y < 0 ? -x : 0.0f, y > 0 ? x : y < 0 ? -x : 0.0)
BINARY_OP(sigmoid_grad, sigmoid, AT_PW_SIGMOID_GRAD, x * y * (1.0f - y), x * y * (1.0 - y))
BINARY_OP(tanh_grad, tanh, AT_PW_TANH_GRAD, x * (1.0f - y * y), x * (1.0 - y * y))
/* A bound itself lets the gradient through, as in PyTorch. */
BINARY_OP(clamp_min_grad, clamp, AT_PW_CLAMP_MIN_GRAD, y >= s ? x : 0.0f, y >= s ? x : 0.0)
BINARY_OP(clamp_max_grad, clamp, AT_PW_CLAMP_MAX_GRAD, y <= s ? x : 0.0f, y <= s ? x : 0.0)

/* Comparisons give 1 or 0 in the inputs' dtype; at_compare narrows that to
 * u8. Not differentiable, so not in the op list: compare_slot has no device
 * kernels, so a CUDA input gets the "no CUDA kernel" error naming it. */
static const at_op_def at_op_compare = {"compare", NULL, {0, NULL, NULL}};
BINARY_OP(cmp_eq, compare, 0, x == y, x == y)
BINARY_OP(cmp_ne, compare, 0, x != y, x != y)
BINARY_OP(cmp_lt, compare, 0, x < y, x < y)
BINARY_OP(cmp_le, compare, 0, x <= y, x <= y)
BINARY_OP(cmp_gt, compare, 0, x > y, x > y)
BINARY_OP(cmp_ge, compare, 0, x >= y, x >= y)

/* ---- drivers ---- */

static int check_pair(const char *op, const at_tensor *a, const at_tensor *b) {
    if (at_check_float(op, a) || at_check_float(op, b)) return -1;
    return at_check_same_dtype(op, a, b);
}

/* out = k(a, b) by the kernels of k's op slot; out is released on failure. */
static at_tensor *on_device(const kernel *k, at_tensor *out, const at_tensor *a, const at_tensor *b, double s) {
    const at_kernels *dev = at_op_kernels(k->slot, at_device_of(out));
    if (dev && !dev->pointwise(k->device_op, out, a, b, s)) return out;
    at_release(out);
    return NULL;
}

static at_tensor *run_binary_s(const char *op, const kernel *k, const at_tensor *a, const at_tensor *b, double s) {
    if (check_pair(op, a, b)) return NULL;
    int nd;
    int64_t shape[AT_MAX_DIMS];
    if (at_broadcast_shape(op, a, b, &nd, shape)) return NULL;
    at_tensor *out = at_empty_uninit_on(at_device_of(a), a->dtype, nd, shape);
    int64_t n = out ? at_numel(out) : 0;
    if (n == 0) return out;
    if (at_on_cuda(out)) return on_device(k, out, a, b, s);
    loop_shape L;
    loop_init(&L, nd, shape, a, b);
    loop_run(&L, a->dtype == AT_F32 ? k->f32 : k->f64, at_dtype_size(a->dtype), at_data(a), at_data(b),
             at_data(out), s, n);
    return out;
}

static at_tensor *run_binary(const char *op, const kernel *k, const at_tensor *a, const at_tensor *b) {
    return run_binary_s(op, k, a, b, 0);
}

static at_tensor *run_unary(const char *op, const kernel *k, const at_tensor *a, double s) {
    if (at_check_float(op, a)) return NULL;
    at_tensor *out = at_empty_uninit_on(at_device_of(a), a->dtype, a->ndim, a->shape);
    int64_t n = out ? at_numel(out) : 0;
    if (n == 0) return out;
    if (at_on_cuda(out)) return on_device(k, out, a, NULL, s);
    loop_shape L;
    loop_init(&L, a->ndim, a->shape, a, NULL);
    loop_run(&L, a->dtype == AT_F32 ? k->f32 : k->f64, at_dtype_size(a->dtype), at_data(a), NULL,
             at_data(out), s, n);
    return out;
}

static at_tensor *record1(const at_op_def *op, at_tensor *out, at_tensor *a) {
    at_record(op, out, 1, &a);
    return out;
}

static at_tensor *record2(const at_op_def *op, at_tensor *out, at_tensor *a, at_tensor *b) {
    at_tensor *ins[2] = {a, b};
    at_record(op, out, 2, ins);
    return out;
}

/* Takes ownership of g and returns it summed to the shape of like. */
static at_tensor *unbroadcast(at_tensor *g, const at_tensor *like) {
    if (!g) return NULL;
    at_tensor *r = at_same_shape(g, like) ? (at_retain(g), g) : at_sum_to_shape(g, like->ndim, like->shape);
    at_release(g);
    return r;
}

/* g summed to the shape of like, always a new tensor: two leaves must never
 * share one gradient tensor, or an in-place update of one changes both. */
static at_tensor *grad_like(const at_tensor *g, const at_tensor *like) {
    return at_same_shape(g, like) ? at_clone_data(g) : at_sum_to_shape(g, like->ndim, like->shape);
}

/* Releases what a failed backward had already produced. */
static int fail(at_tensor **gin, int n) {
    for (int i = 0; i < n; i++) {
        at_release(gin[i]);
        gin[i] = NULL;
    }
    return -1;
}

/* ---- add, sub, mul, div ---- */

at_tensor *at_add(at_tensor *a, at_tensor *b) { return record2(&at_op_add, run_binary("add", &add_k, a, b), a, b); }
at_tensor *at_sub(at_tensor *a, at_tensor *b) { return record2(&at_op_sub, run_binary("sub", &sub_k, a, b), a, b); }
at_tensor *at_mul(at_tensor *a, at_tensor *b) { return record2(&at_op_mul, run_binary("mul", &mul_k, a, b), a, b); }
at_tensor *at_div(at_tensor *a, at_tensor *b) { return record2(&at_op_div, run_binary("div", &div_k, a, b), a, b); }

static int add_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    for (int i = 0; i < 2; i++)
        if (n->needs_grad[i] && !(gin[i] = grad_like(g, n->inputs[i]))) return fail(gin, 2);
    return 0;
}

static int sub_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    if (n->needs_grad[0] && !(gin[0] = grad_like(g, n->inputs[0]))) return fail(gin, 2);
    if (n->needs_grad[1]) {
        const at_tensor *b = n->inputs[1]; /* sum first: negating the smaller tensor is cheaper */
        at_tensor *s = at_same_shape(g, b) ? NULL : at_sum_to_shape(g, b->ndim, b->shape);
        gin[1] = at_same_shape(g, b) ? at_neg((at_tensor *)g) : s ? at_neg(s) : NULL;
        at_release(s);
        if (!gin[1]) return fail(gin, 2);
    }
    return 0;
}

static int mul_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    at_tensor *a = n->inputs[0], *b = n->inputs[1];
    if (n->needs_grad[0] && !(gin[0] = unbroadcast(at_mul((at_tensor *)g, b), a))) return fail(gin, 2);
    if (n->needs_grad[1] && !(gin[1] = unbroadcast(at_mul((at_tensor *)g, a), b))) return fail(gin, 2);
    return 0;
}

/* d(a/b)/da = 1/b; d(a/b)/db = -a/b², computed as -(g/b)·a/b. */
static int div_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    at_tensor *a = n->inputs[0], *b = n->inputs[1];
    at_tensor *g_over_b = at_div((at_tensor *)g, b);
    if (!g_over_b) return -1;
    if (n->needs_grad[1]) {
        at_tensor *t = at_mul(g_over_b, a), *q = t ? at_div(t, b) : NULL;
        gin[1] = unbroadcast(q ? at_neg(q) : NULL, b);
        at_release(t);
        at_release(q);
    }
    if (n->needs_grad[0]) {
        at_retain(g_over_b);
        gin[0] = unbroadcast(g_over_b, a);
    }
    at_release(g_over_b);
    if ((n->needs_grad[0] && !gin[0]) || (n->needs_grad[1] && !gin[1])) return fail(gin, 2);
    return 0;
}

/* Shapes per variant: equal; broadcast on both sides; a transposed against a
 * row vector; a narrowed (non-contiguous) against a 0-dim scalar. */
static int binary_inputs_signed(int variant, at_rng *rng, at_tensor **in, bool positive_b) {
    static const int nda[4] = {2, 3, 2, 2}, ndb[4] = {2, 2, 1, 0};
    static const int64_t sha[4][3] = {{3, 4}, {2, 1, 4}, {4, 3}, {3, 6}};
    static const int64_t shb[4][2] = {{3, 4}, {3, 1}, {4}, {0}};
    in[0] = at_gc_randn(rng, true, nda[variant], sha[variant]);
    in[1] = at_gc_randn(rng, !positive_b, ndb[variant], shb[variant]);
    if (!in[0] || !in[1]) return -1;
    if (positive_b) { /* a divisor kept away from zero: e^(x/2) lies in about [0.2, 5] */
        at_tensor *h = at_scale(in[1], 0.5), *e = h ? at_exp(h) : NULL;
        at_release(h);
        at_release(in[1]);
        in[1] = e;
        if (!e || at_set_requires_grad(e, true)) return -1;
    }
    return 2;
}

static int binary_inputs(int variant, at_rng *rng, at_tensor **in) {
    return binary_inputs_signed(variant, rng, in, false);
}

static int div_inputs(int variant, at_rng *rng, at_tensor **in) {
    return binary_inputs_signed(variant, rng, in, true);
}

static at_tensor *binary_case(int variant, at_tensor **in, at_tensor *(*op)(at_tensor *, at_tensor *)) {
    at_tensor *a = variant == 2 ? at_transpose(in[0], 0, 1)
                 : variant == 3 ? at_narrow(in[0], 1, 1, 4)
                                : (at_retain(in[0]), in[0]);
    at_tensor *out = a ? op(a, in[1]) : NULL;
    at_release(a);
    return out;
}

static at_tensor *add_case(int v, at_tensor **in) { return binary_case(v, in, at_add); }
static at_tensor *sub_case(int v, at_tensor **in) { return binary_case(v, in, at_sub); }
static at_tensor *mul_case(int v, at_tensor **in) { return binary_case(v, in, at_mul); }
static at_tensor *div_case(int v, at_tensor **in) { return binary_case(v, in, at_div); }

const at_op_def at_op_add = {"add", add_backward, {4, binary_inputs, add_case}};
const at_op_def at_op_sub = {"sub", sub_backward, {4, binary_inputs, sub_case}};
const at_op_def at_op_mul = {"mul", mul_backward, {4, binary_inputs, mul_case}};
const at_op_def at_op_div = {"div", div_backward, {4, div_inputs, div_case}};

/* ---- scalar ops ---- */

at_tensor *at_scale(at_tensor *a, double s) {
    at_tensor *out = run_unary("scale", &scale_k, a, s);
    at_node *n = at_record(&at_op_scale, out, 1, &a);
    if (n) n->fparam[0] = s;
    return out;
}

at_tensor *at_add_scalar(at_tensor *a, double s) {
    return record1(&at_op_add_scalar, run_unary("add_scalar", &add_scalar_k, a, s), a);
}

at_tensor *at_neg(at_tensor *a) { return record1(&at_op_neg, run_unary("neg", &neg_k, a, 0), a); }

static int scale_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    gin[0] = at_scale((at_tensor *)g, n->fparam[0]);
    return gin[0] ? 0 : -1;
}

static int add_scalar_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    (void)n;
    gin[0] = at_clone_data(g);
    return gin[0] ? 0 : -1;
}

static int neg_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    (void)n;
    gin[0] = at_neg((at_tensor *)g);
    return gin[0] ? 0 : -1;
}

/* Variants: contiguous (3,4); transposed (4,5); 0-dim. */
static int unary_inputs(int variant, at_rng *rng, at_tensor **in) {
    int64_t shape[2] = {variant ? 5 : 3, variant ? 4 : 4};
    in[0] = at_gc_randn(rng, true, variant == 2 ? 0 : 2, shape);
    return in[0] ? 1 : -1;
}

/* Like unary_inputs, but positive values (e^x), for log and sqrt. */
static int positive_inputs(int variant, at_rng *rng, at_tensor **in) {
    if (unary_inputs(variant, rng, in) < 0) return -1;
    at_tensor *e = at_exp(in[0]);
    at_release(in[0]);
    in[0] = e ? at_clone_data(e) : NULL;
    at_release(e);
    return in[0] && at_set_requires_grad(in[0], true) == 0 ? 1 : -1;
}

/* Like unary_inputs, but no value within 0.05 of relu's kink at 0. */
static int kinked_inputs(int variant, at_rng *rng, at_tensor **in) {
    if (unary_inputs(variant, rng, in) < 0) return -1;
    double *p = at_data(in[0]);
    for (int64_t i = 0; i < at_numel(in[0]); i++) p[i] += p[i] < 0 ? -0.05 : 0.05;
    return 1;
}

static at_tensor *unary_case(int variant, at_tensor **in, at_tensor *(*op)(at_tensor *)) {
    at_tensor *a = variant == 1 ? at_transpose(in[0], 0, 1) : (at_retain(in[0]), in[0]);
    at_tensor *out = a ? op(a) : NULL;
    at_release(a);
    return out;
}

static at_tensor *scale_by(at_tensor *a) { return at_scale(a, -1.75); }
static at_tensor *add_scalar_of(at_tensor *a) { return at_add_scalar(a, 0.5); }
static at_tensor *scale_case(int v, at_tensor **in) { return unary_case(v, in, scale_by); }
static at_tensor *add_scalar_case(int v, at_tensor **in) { return unary_case(v, in, add_scalar_of); }
static at_tensor *neg_case(int v, at_tensor **in) { return unary_case(v, in, at_neg); }

const at_op_def at_op_scale = {"scale", scale_backward, {3, unary_inputs, scale_case}};
const at_op_def at_op_add_scalar = {"add_scalar", add_scalar_backward, {3, unary_inputs, add_scalar_case}};
const at_op_def at_op_neg = {"neg", neg_backward, {3, unary_inputs, neg_case}};

/* ---- exp, log, sqrt ---- */

at_tensor *at_exp(at_tensor *a) {
    at_tensor *out = run_unary("exp", &exp_k, a, 0);
    at_node *n = at_record(&at_op_exp, out, 1, &a);
    if (n) n->saved[0] = at_detach(out);
    return out;
}

at_tensor *at_log(at_tensor *a) { return record1(&at_op_log, run_unary("log", &log_k, a, 0), a); }

at_tensor *at_sqrt(at_tensor *a) {
    at_tensor *out = run_unary("sqrt", &sqrt_k, a, 0);
    at_node *n = at_record(&at_op_sqrt, out, 1, &a);
    if (n) n->saved[0] = at_detach(out);
    return out;
}

static int exp_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    gin[0] = at_mul((at_tensor *)g, n->saved[0]);
    return gin[0] ? 0 : -1;
}

static int log_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    gin[0] = at_div((at_tensor *)g, n->inputs[0]);
    return gin[0] ? 0 : -1;
}

static int sqrt_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    gin[0] = run_binary("sqrt backward", &sqrt_grad_k, g, n->saved[0]);
    return gin[0] ? 0 : -1;
}

static at_tensor *exp_case(int v, at_tensor **in) { return unary_case(v, in, at_exp); }
static at_tensor *log_case(int v, at_tensor **in) { return unary_case(v, in, at_log); }
static at_tensor *sqrt_case(int v, at_tensor **in) { return unary_case(v, in, at_sqrt); }

const at_op_def at_op_exp = {"exp", exp_backward, {3, unary_inputs, exp_case}};
const at_op_def at_op_log = {"log", log_backward, {3, positive_inputs, log_case}};
const at_op_def at_op_sqrt = {"sqrt", sqrt_backward, {3, positive_inputs, sqrt_case}};

/* ---- relu, gelu ---- */

at_tensor *at_relu(at_tensor *a) { return record1(&at_op_relu, run_unary("relu", &relu_k, a, 0), a); }
at_tensor *at_gelu(at_tensor *a) { return record1(&at_op_gelu, run_unary("gelu", &gelu_k, a, 0), a); }

static int relu_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    gin[0] = run_binary("relu backward", &relu_grad_k, g, n->inputs[0]);
    return gin[0] ? 0 : -1;
}

static int gelu_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    gin[0] = run_binary("gelu backward", &gelu_grad_k, g, n->inputs[0]);
    return gin[0] ? 0 : -1;
}

static at_tensor *relu_case(int v, at_tensor **in) { return unary_case(v, in, at_relu); }
static at_tensor *gelu_case(int v, at_tensor **in) { return unary_case(v, in, at_gelu); }

const at_op_def at_op_relu = {"relu", relu_backward, {3, kinked_inputs, relu_case}};
const at_op_def at_op_gelu = {"gelu", gelu_backward, {3, unary_inputs, gelu_case}};

/* ---- abs, pow, sigmoid, tanh, clamp ---- */

at_tensor *at_abs(at_tensor *a) { return record1(&at_op_abs, run_unary("abs", &abs_k, a, 0), a); }

at_tensor *at_pow(at_tensor *a, double exponent) {
    at_tensor *out = run_unary("pow", &pow_k, a, exponent);
    at_node *n = at_record(&at_op_pow, out, 1, &a);
    if (n) n->fparam[0] = exponent;
    return out;
}

static at_tensor *with_saved_output(const at_op_def *op, at_tensor *out, at_tensor *a) {
    at_node *n = at_record(op, out, 1, &a);
    if (n) n->saved[0] = at_detach(out);
    return out;
}

at_tensor *at_sigmoid(at_tensor *a) { return with_saved_output(&at_op_sigmoid, run_unary("sigmoid", &sigmoid_k, a, 0), a); }
at_tensor *at_tanh(at_tensor *a) { return with_saved_output(&at_op_tanh, run_unary("tanh", &tanh_k, a, 0), a); }

/* Two passes (max with lo, then min with hi) keep the kernels one scalar
 * each; an open side (an infinite bound) skips its pass. */
at_tensor *at_clamp(at_tensor *a, double lo, double hi) {
    if (at_check_float("clamp", a)) return NULL;
    if (isnan(lo) || isnan(hi) || lo > hi) {
        at_set_error("clamp: the bounds must satisfy min <= max, got min %g and max %g", lo, hi);
        return NULL;
    }
    at_tensor *low = isinf(lo) && lo < 0 ? at_clone_data(a) : run_unary("clamp", &clamp_min_k, a, lo);
    at_tensor *out = low && !(isinf(hi) && hi > 0) ? run_unary("clamp", &clamp_max_k, low, hi) : (at_retain(low), low);
    at_release(low);
    at_node *n = at_record(&at_op_clamp, out, 1, &a);
    if (n) n->fparam[0] = lo, n->fparam[1] = hi;
    return out;
}

static int abs_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    gin[0] = run_binary("abs backward", &abs_grad_k, g, n->inputs[0]);
    return gin[0] ? 0 : -1;
}

/* d/dx x^p = p·x^(p-1), from ops that have device kernels of their own. */
static int pow_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    double p = n->fparam[0];
    at_tensor *d = at_pow(n->inputs[0], p - 1), *pd = d ? at_scale(d, p) : NULL;
    gin[0] = pd ? at_mul((at_tensor *)g, pd) : NULL;
    at_release(d);
    at_release(pd);
    return gin[0] ? 0 : -1;
}

static int sigmoid_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    gin[0] = run_binary("sigmoid backward", &sigmoid_grad_k, g, n->saved[0]);
    return gin[0] ? 0 : -1;
}

static int tanh_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    gin[0] = run_binary("tanh backward", &tanh_grad_k, g, n->saved[0]);
    return gin[0] ? 0 : -1;
}

static int clamp_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    at_tensor *x = n->inputs[0];
    at_tensor *low = run_binary_s("clamp backward", &clamp_min_grad_k, g, x, n->fparam[0]);
    gin[0] = low ? run_binary_s("clamp backward", &clamp_max_grad_k, low, x, n->fparam[1]) : NULL;
    at_release(low);
    return gin[0] ? 0 : -1;
}

/* Like unary_inputs, but no value within 0.05 of clamp's bounds ±0.5. */
static int clamp_inputs(int variant, at_rng *rng, at_tensor **in) {
    if (unary_inputs(variant, rng, in) < 0) return -1;
    double *p = at_data(in[0]);
    for (int64_t i = 0; i < at_numel(in[0]); i++)
        if (fabs(fabs(p[i]) - 0.5) < 0.05) p[i] *= 1.25;
    return 1;
}

static at_tensor *pow_of(at_tensor *a) { return at_pow(a, 2.5); }
static at_tensor *clamp_both(at_tensor *a) { return at_clamp(a, -0.5, 0.5); }
static at_tensor *abs_case(int v, at_tensor **in) { return unary_case(v, in, at_abs); }
static at_tensor *pow_case(int v, at_tensor **in) { return unary_case(v, in, pow_of); }
static at_tensor *sigmoid_case(int v, at_tensor **in) { return unary_case(v, in, at_sigmoid); }
static at_tensor *tanh_case(int v, at_tensor **in) { return unary_case(v, in, at_tanh); }
static at_tensor *clamp_case(int v, at_tensor **in) { return unary_case(v, in, clamp_both); }

const at_op_def at_op_abs = {"abs", abs_backward, {3, kinked_inputs, abs_case}};
const at_op_def at_op_pow = {"pow", pow_backward, {3, positive_inputs, pow_case}};
const at_op_def at_op_sigmoid = {"sigmoid", sigmoid_backward, {3, unary_inputs, sigmoid_case}};
const at_op_def at_op_tanh = {"tanh", tanh_backward, {3, unary_inputs, tanh_case}};
const at_op_def at_op_clamp = {"clamp", clamp_backward, {3, clamp_inputs, clamp_case}};

/* ---- comparisons ---- */

at_tensor *at_compare(at_compare_op op, const at_tensor *a, const at_tensor *b) {
    static const kernel *const ks[] = {&cmp_eq_k, &cmp_ne_k, &cmp_lt_k, &cmp_le_k, &cmp_gt_k, &cmp_ge_k};
    static const char *const names[] = {"eq", "ne", "lt", "le", "gt", "ge"};
    at_tensor *ones = run_binary(names[op], ks[op], a, b);
    at_tensor *mask = ones ? at_to_dtype(ones, AT_U8) : NULL;
    at_release(ones);
    return mask;
}

/* ---- dropout ---- */

/* a with element i (row-major) zeroed when uniform(seed, counter + i) < p and
 * the rest scaled by 1/(1-p). Forward and backward both apply it: the mask is
 * drawn again from (seed, counter) instead of being stored. */
static at_tensor *apply_dropout(const at_tensor *a, double p, uint64_t seed, uint64_t counter) {
    if (at_on_cuda(a)) {
        const at_kernels *k = AT_DEVICE_KERNELS(dropout, AT_CUDA);
        at_tensor *out = k ? at_empty_uninit_on(AT_CUDA, a->dtype, a->ndim, a->shape) : NULL;
        if (out && k->dropout(out, a, p, seed, counter)) at_release(out), out = NULL;
        return out;
    }
    at_tensor *src = at_is_contiguous(a) ? at_detach(a) : at_clone_data(a);
    at_tensor *out = src ? at_empty_uninit(a->dtype, a->ndim, a->shape) : NULL;
    if (!out) {
        at_release(src);
        return NULL;
    }
    int64_t n = at_numel(a);
    double keep = 1.0 / (1.0 - p);
    if (a->dtype == AT_F32) {
        const float *x = at_data(src);
        float *o = at_data(out), k = (float)keep;
        #pragma omp parallel for if (n >= AT_PARALLEL_MIN / 8) schedule(static)
        for (int64_t i = 0; i < n; i++) o[i] = at_uniform_at(seed, counter + (uint64_t)i) < p ? 0.0f : x[i] * k;
    } else {
        const double *x = at_data(src);
        double *o = at_data(out);
        #pragma omp parallel for if (n >= AT_PARALLEL_MIN / 8) schedule(static)
        for (int64_t i = 0; i < n; i++) o[i] = at_uniform_at(seed, counter + (uint64_t)i) < p ? 0.0 : x[i] * keep;
    }
    at_release(src);
    return out;
}

at_tensor *at_dropout(at_tensor *a, double p, bool training, at_rng *rng) {
    if (at_check_float("dropout", a)) return NULL;
    if (!(p >= 0 && p < 1)) {
        at_set_error("dropout: p must be in [0, 1), got %g", p);
        return NULL;
    }
    if (!training || p == 0) {
        at_retain(a);
        return a;
    }
    if (!rng) {
        at_set_error("dropout: training with p = %g needs a random generator", p);
        return NULL;
    }
    uint64_t seed = rng->seed, counter = rng->counter;
    at_tensor *out = apply_dropout(a, p, seed, counter);
    if (!out) return NULL;
    rng->counter += (uint64_t)at_numel(a);
    at_node *n = at_record(&at_op_dropout, out, 1, &a);
    if (n) n->fparam[0] = p, n->seed = seed, n->counter = counter;
    return out;
}

static int dropout_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    gin[0] = apply_dropout(g, n->fparam[0], n->seed, n->counter);
    return gin[0] ? 0 : -1;
}

/* A fresh generator on every call, so each finite-difference evaluation
 * draws the same mask. */
static at_tensor *dropout_case(int variant, at_tensor **in) {
    at_rng rng = at_rng_new(20240611);
    at_tensor *a = variant == 1 ? at_transpose(in[0], 0, 1) : (at_retain(in[0]), in[0]);
    at_tensor *out = a ? at_dropout(a, variant == 2 ? 0.9 : 0.3, true, &rng) : NULL;
    at_release(a);
    return out;
}

const at_op_def at_op_dropout = {"dropout", dropout_backward, {3, unary_inputs, dropout_case}};

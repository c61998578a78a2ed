/* Scaled dot-product attention as one op: softmax(q·kᵀ·scale + mask)·v for
 * every (batch, head), with the probabilities saved for backward.
 *
 * One (batch, head) per OpenMP iteration; its GEMMs run single-threaded
 * inside the parallel region (the OpenMP build of OpenBLAS does that), which
 * beats threading each small GEMM. q, k and v are read in place whenever
 * their last two dims have a unit stride, e.g. heads split off a fused
 * (B, L, 3, H, D) projection by permute. */
#include "ops_internal.h"

#include <stdlib.h>

/* A 4-D tensor seen as B*H matrices: where matrix (b, h) starts, its strides. */
typedef struct {
    char *data;
    int64_t H, sb, sh, srow, scol;
    size_t es;
} head_mats;

static head_mats heads_of(const at_tensor *t) {
    return (head_mats){at_data(t), t->shape[1], t->stride[0], t->stride[1], t->stride[2], t->stride[3],
                       at_dtype_size(t->dtype)};
}

static char *head_at(const head_mats *m, int64_t bh) {
    return m->data + (size_t)((bh / m->H) * m->sb + (bh % m->H) * m->sh) * m->es;
}

/* t itself when GEMM can read its matrices, else a contiguous copy in *copy. */
static const at_tensor *readable(const at_tensor *t, at_tensor **copy) {
    *copy = NULL;
    if (at_blas_readable(t->shape[2], t->shape[3], t->stride[2], t->stride[3])) return t;
    *copy = at_clone_data(t);
    return *copy;
}

/* The additive mask broadcast to (B, H, Lq, Lk): strides, 0 where broadcast. */
typedef struct {
    const char *data;
    int64_t H, s[4];
} mask_view;

static const char *mask_row(const mask_view *m, int64_t bh, int64_t i, size_t es) {
    return m->data + (size_t)((bh / m->H) * m->s[0] + (bh % m->H) * m->s[1] + i * m->s[2]) * es;
}

/* Adds the mask, then softmax row by row in place. */
#define DEFINE_MASKED_SOFTMAX(T, SOFTMAX_ROW)                                                   \
    static void masked_softmax_##T(T *p, int64_t lq, int64_t lk, const mask_view *mask,         \
                                   int64_t bh) {                                                \
        for (int64_t i = 0; i < lq; i++) {                                                      \
            T *y = p + i * lk;                                                                  \
            if (mask->data) {                                                                   \
                const T *m = (const T *)mask_row(mask, bh, i, sizeof(T));                       \
                int64_t sc = mask->s[3];                                                        \
                for (int64_t j = 0; j < lk; j++) y[j] += m[j * sc];                             \
            }                                                                                   \
            SOFTMAX_ROW(y, lk);                                                                 \
        }                                                                                       \
    }
DEFINE_MASKED_SOFTMAX(float, at_softmax_row_f32)
DEFINE_MASKED_SOFTMAX(double, at_softmax_row_f64)

/* dS = P * (dP - rowsum(dP * P)) in place of dP. */
#define DEFINE_SOFTMAX_GRAD(T)                                                                  \
    SIMD_CLONES static void softmax_grad_##T(const T *restrict p, T *restrict dp, int64_t lq,   \
                                             int64_t lk) {                                      \
        for (int64_t i = 0; i < lq; i++) {                                                      \
            const T *pr = p + i * lk;                                                           \
            T *dr = dp + i * lk;                                                                \
            T s = 0;                                                                            \
            _Pragma("omp simd reduction(+ : s)")                                                \
            for (int64_t j = 0; j < lk; j++) s += dr[j] * pr[j];                                \
            for (int64_t j = 0; j < lk; j++) dr[j] = pr[j] * (dr[j] - s);                       \
        }                                                                                       \
    }
DEFINE_SOFTMAX_GRAD(float)
DEFINE_SOFTMAX_GRAD(double)

/* Parallel over (batch, head) when there is more than one and enough work. */
static bool worth_threads(int64_t bh, int64_t flops) { return bh > 1 && flops >= AT_PARALLEL_MIN; }

static at_attention_mask gpu_mask(const at_tensor *mask, int64_t H);
static int attention_backward_on_gpu(at_node *node, const at_tensor *g, at_tensor **gin);

static int attention_backward(at_node *node, const at_tensor *g, at_tensor **gin) {
    if (at_on_cuda(node->inputs[0])) return attention_backward_on_gpu(node, g, gin);
    at_dtype dt = node->inputs[0]->dtype;
    const at_tensor *q = node->saved[1] ? node->saved[1] : node->inputs[0];
    const at_tensor *k = node->saved[2] ? node->saved[2] : node->inputs[1];
    const at_tensor *v = node->saved[3] ? node->saved[3] : node->inputs[2];
    const at_tensor *p = node->saved[0];
    double scale = node->fparam[0];
    int64_t B = q->shape[0], H = q->shape[1], lq = q->shape[2], lk = k->shape[2];
    int64_t d = q->shape[3], dv = v->shape[3], nbh = B * H;
    bool want_q = node->needs_grad[0], want_k = node->needs_grad[1], want_v = node->needs_grad[2];
    at_tensor *gcopy;
    const at_tensor *gr = readable(g, &gcopy);
    if (!gr) return -1;
    for (int i = 0; i < 3; i++) {
        const at_tensor *in = node->inputs[i];
        if (node->needs_grad[i] && !(gin[i] = at_empty_uninit(dt, 4, in->shape))) {
            for (int j = 0; j < i; j++) at_release(gin[j]), gin[j] = NULL;
            at_release(gcopy);
            return -1;
        }
    }
    head_mats hq = heads_of(q), hk = heads_of(k), hv = heads_of(v), hg = heads_of(gr);
    size_t es = at_dtype_size(dt);
    const char *pdata = at_data(p);
    char *dq = want_q ? at_data(gin[0]) : NULL, *dk = want_k ? at_data(gin[1]) : NULL;
    char *dvv = want_v ? at_data(gin[2]) : NULL;
    int failed = 0;
    #pragma omp parallel if (worth_threads(nbh, lq * lk * (d + dv)))
    {
        char *ds = (want_q || want_k) ? malloc((size_t)(lq * lk) * es + 1) : NULL;
        if ((want_q || want_k) && !ds) {
            #pragma omp atomic write
            failed = 1;
        }
        #pragma omp for schedule(static)
        for (int64_t bh = 0; bh < nbh; bh++) {
            if ((want_q || want_k) && !ds) continue;
            const char *pb = pdata + (size_t)(bh * lq * lk) * es;
            const char *gb = head_at(&hg, bh), *qb = head_at(&hq, bh), *kb = head_at(&hk, bh);
            const char *vb = head_at(&hv, bh);
            if (want_v) /* dV = Pᵀ·dO */
                at_gemm_strided(dt, lk, dv, lq, 1.0, pb, 1, lk, gb, hg.srow, hg.scol, 0.0,
                                dvv + (size_t)(bh * lk * dv) * es, dv);
            if (!want_q && !want_k) continue;
            /* dP = dO·vᵀ, then dS through the softmax */
            at_gemm_strided(dt, lq, lk, dv, 1.0, gb, hg.srow, hg.scol, vb, hv.scol, hv.srow, 0.0, ds, lk);
            if (dt == AT_F32) softmax_grad_float((const float *)pb, (float *)ds, lq, lk);
            else softmax_grad_double((const double *)pb, (double *)ds, lq, lk);
            if (want_q) /* dQ = scale·dS·k */
                at_gemm_strided(dt, lq, d, lk, scale, ds, lk, 1, kb, hk.srow, hk.scol, 0.0,
                                dq + (size_t)(bh * lq * d) * es, d);
            if (want_k) /* dK = scale·dSᵀ·q */
                at_gemm_strided(dt, lk, d, lq, scale, ds, 1, lk, qb, hq.srow, hq.scol, 0.0,
                                dk + (size_t)(bh * lk * d) * es, d);
        }
        free(ds);
    }
    at_release(gcopy);
    if (failed) {
        for (int i = 0; i < 3; i++) at_release(gin[i]), gin[i] = NULL;
        at_set_error("attention backward: out of memory for a %lld x %lld score buffer", (long long)lq,
                     (long long)lk);
        return -1;
    }
    return 0;
}

static int check_inputs(const at_tensor *q, const at_tensor *k, const at_tensor *v, const at_tensor *mask) {
    const char *op = "attention";
    if (at_check_float(op, q) || at_check_float(op, k) || at_check_float(op, v) ||
        at_check_same_dtype(op, q, k) || at_check_same_dtype(op, q, v))
        return -1;
    char sq[128], sk[128], sv[128], sm[128];
    if (q->ndim != 4 || k->ndim != 4 || v->ndim != 4 || k->shape[0] != q->shape[0] ||
        v->shape[0] != q->shape[0] || k->shape[1] != q->shape[1] || v->shape[1] != q->shape[1] ||
        k->shape[3] != q->shape[3] || v->shape[2] != k->shape[2]) {
        at_set_error("attention: shapes q %s, k %s, v %s do not fit (want q (B,H,Lq,D), k (B,H,Lk,D), "
                     "v (B,H,Lk,Dv))", at_shape_str(q, sq, sizeof sq), at_shape_str(k, sk, sizeof sk),
                     at_shape_str(v, sv, sizeof sv));
        return -1;
    }
    if (!mask) return 0;
    if (at_check_float(op, mask) || at_check_same_dtype(op, q, mask)) return -1;
    if (mask->requires_grad) {
        at_set_error("attention: the mask %s must not require grad (it gets no gradient)",
                     at_shape_str(mask, sm, sizeof sm));
        return -1;
    }
    int64_t want[4] = {q->shape[0], q->shape[1], q->shape[2], k->shape[2]};
    bool ok = mask->ndim <= 4;
    for (int i = 0; ok && i < mask->ndim; i++) {
        int64_t s = mask->shape[mask->ndim - 1 - i];
        ok = s == 1 || s == want[3 - i];
    }
    if (!ok) {
        at_set_error("attention: mask %s does not broadcast to [%lld, %lld, %lld, %lld]",
                     at_shape_str(mask, sm, sizeof sm), (long long)want[0], (long long)want[1],
                     (long long)want[2], (long long)want[3]);
        return -1;
    }
    return 0;
}

static mask_view mask_view_of(const at_tensor *mask, int64_t H) {
    mask_view m = {NULL, H, {0, 0, 0, 0}};
    if (!mask) return m;
    m.data = at_data(mask);
    for (int i = 0; i < mask->ndim; i++) {
        int md = mask->ndim - 1 - i;
        m.s[3 - i] = mask->shape[md] == 1 ? 0 : mask->stride[md];
    }
    return m;
}

/* ---- on the GPU: the op's fused kernels (its CUDA slot, core/cuda/attention.cu) ---- */

static at_attention_mask gpu_mask(const at_tensor *mask, int64_t H) {
    mask_view m = mask_view_of(mask, H);
    return (at_attention_mask){m.data, m.s[0], m.s[1], m.s[2], m.s[3]};
}

static at_tensor *dense_copy(const at_tensor *t) { return at_is_contiguous(t) ? at_detach(t) : at_clone_data(t); }

/* The node keeps the log-sum-exp of each score row, dense q, k, v and the
 * output: the backward recomputes the probabilities from them. */
static at_tensor *attention_on_gpu(at_tensor *q, at_tensor *k, at_tensor *v, at_tensor *mask, double scale) {
    const at_kernels *ker = AT_DEVICE_KERNELS(attention, AT_CUDA);
    if (!ker) return NULL;
    int64_t B = q->shape[0], H = q->shape[1], lq = q->shape[2], lk = k->shape[2];
    int64_t d = q->shape[3], dv = v->shape[3], rows = B * H * lq;
    int64_t oshape[4] = {B, H, lq, dv};
    at_tensor *qd = dense_copy(q), *kd = dense_copy(k), *vd = dense_copy(v);
    at_tensor *out = at_empty_uninit_on(AT_CUDA, q->dtype, 4, oshape);
    at_tensor *lse = at_empty_uninit_on(AT_CUDA, AT_F64, 1, &rows);
    at_attention_mask m = gpu_mask(mask, H);
    if (!qd || !kd || !vd || !out || !lse ||
        ker->attention(at_data(out), at_data(lse), at_data(qd), at_data(kd), at_data(vd), mask ? &m : NULL,
                       q->dtype, H, B * H, lq, lk, d, dv, scale)) {
        at_release(out);
        out = NULL;
    }
    at_tensor *ins[4] = {q, k, v, mask};
    at_node *node = out ? at_record(&at_op_attention, out, 4, ins) : NULL;
    if (node) {
        node->saved[0] = lse, node->saved[1] = qd, node->saved[2] = kd, node->saved[3] = vd;
        node->saved[4] = at_detach(out);
        node->fparam[0] = scale;
        return out;
    }
    at_release(lse);
    at_release(qd);
    at_release(kd);
    at_release(vd);
    return out;
}

static int attention_backward_on_gpu(at_node *node, const at_tensor *g, at_tensor **gin) {
    const at_kernels *ker = AT_DEVICE_KERNELS(attention, AT_CUDA);
    if (!ker) return -1;
    const at_tensor *lse = node->saved[0], *q = node->saved[1], *k = node->saved[2], *v = node->saved[3];
    const at_tensor *o = node->saved[4], *mask = node->inputs[3];
    int64_t B = q->shape[0], H = q->shape[1], lq = q->shape[2], lk = k->shape[2], d = q->shape[3], dv = v->shape[3];
    at_tensor *gd = dense_copy(g);
    int rc = gd ? 0 : -1;
    for (int i = 0; i < 3 && !rc; i++)
        if (node->needs_grad[i] && !(gin[i] = at_empty_uninit_on(AT_CUDA, q->dtype, 4, node->inputs[i]->shape)))
            rc = -1;
    at_attention_mask m = gpu_mask(mask, H);
    if (!rc)
        rc = ker->attention_backward(gin[0] ? at_data(gin[0]) : NULL, gin[1] ? at_data(gin[1]) : NULL,
                                     gin[2] ? at_data(gin[2]) : NULL, at_data(gd), at_data(o), at_data(lse),
                                     at_data(q), at_data(k), at_data(v), mask ? &m : NULL, q->dtype, H, B * H, lq,
                                     lk, d, dv, node->fparam[0]);
    at_release(gd);
    if (rc)
        for (int i = 0; i < 3; i++) at_release(gin[i]), gin[i] = NULL;
    return rc;
}

/* Without grad the probabilities are not kept: each thread reuses one
 * (Lq, Lk) buffer instead of holding all B·H of them (159 MB in f32 for 64
 * images of 197 tokens and 16 heads). */
at_tensor *at_attention(at_tensor *q, at_tensor *k, at_tensor *v, at_tensor *mask, double scale) {
    if (check_inputs(q, k, v, mask)) return NULL;
    if (at_on_cuda(q)) return attention_on_gpu(q, k, v, mask, scale);
    at_dtype dt = q->dtype;
    int64_t B = q->shape[0], H = q->shape[1], lq = q->shape[2], lk = k->shape[2];
    int64_t d = q->shape[3], dv = v->shape[3], nbh = B * H;
    at_tensor *ins[4] = {q, k, v, mask};
    bool keep = at_any_requires_grad(4, ins);
    at_tensor *cq, *ck, *cv, *out = NULL, *p = NULL;
    const at_tensor *qr = readable(q, &cq), *kr = readable(k, &ck), *vr = readable(v, &cv);
    int64_t pshape[4] = {B, H, lq, lk}, oshape[4] = {B, H, lq, dv};
    if (!qr || !kr || !vr || (keep && !(p = at_empty_uninit(dt, 4, pshape))) || !(out = at_empty_uninit(dt, 4, oshape)))
        goto fail;
    head_mats hq = heads_of(qr), hk = heads_of(kr), hv = heads_of(vr);
    mask_view mv = mask_view_of(mask, H);
    size_t es = at_dtype_size(dt);
    char *pdata = keep ? at_data(p) : NULL, *odata = at_data(out);
    int failed = 0;
    #pragma omp parallel if (worth_threads(nbh, lq * lk * (d + dv)))
    {
        char *scratch = keep ? NULL : malloc((size_t)(lq * lk) * es + 1);
        if (!keep && !scratch) {
            #pragma omp atomic write
            failed = 1;
        }
        #pragma omp for schedule(static)
        for (int64_t bh = 0; bh < nbh; bh++) {
            char *pb = keep ? pdata + (size_t)(bh * lq * lk) * es : scratch;
            if (!pb) continue;
            const char *kb = head_at(&hk, bh);
            /* S = scale·q·kᵀ, then P = softmax(S + mask), then O = P·v */
            at_gemm_strided(dt, lq, lk, d, scale, head_at(&hq, bh), hq.srow, hq.scol, kb, hk.scol, hk.srow,
                            0.0, pb, lk);
            if (dt == AT_F32) masked_softmax_float((float *)pb, lq, lk, &mv, bh);
            else masked_softmax_double((double *)pb, lq, lk, &mv, bh);
            at_gemm_strided(dt, lq, dv, lk, 1.0, pb, lk, 1, head_at(&hv, bh), hv.srow, hv.scol, 0.0,
                            odata + (size_t)(bh * lq * dv) * es, dv);
        }
        free(scratch);
    }
    if (failed) {
        at_set_error("attention: out of memory for a %lld x %lld score buffer", (long long)lq, (long long)lk);
        goto fail;
    }
    at_node *node = at_record(&at_op_attention, out, 4, ins);
    if (node) {
        node->saved[0] = p, node->saved[1] = cq, node->saved[2] = ck, node->saved[3] = cv;
        node->fparam[0] = scale;
        return out;
    }
    at_release(p);
    at_release(cq);
    at_release(ck);
    at_release(cv);
    return out;
fail:
    at_release(p);
    at_release(out);
    at_release(cq);
    at_release(ck);
    at_release(cv);
    return NULL;
}

/* ---- gradient check ---- */

/* Variants: 0 plain, no mask; 1 a padding mask (1,1,1,Lk) hiding the last
 * two keys; 2 heads split off (B,L,H,D) leaves by permute, with a random
 * (B,1,Lq,Lk) mask; 3 q read transposed (CblasTrans), a 2-D mask, q needing
 * no grad. */
static int attention_inputs(int variant, at_rng *rng, at_tensor **in) {
    int64_t q0[4] = {1, 2, 3, 4}, k0[4] = {1, 2, 5, 4}, v0[4] = {1, 2, 5, 3};
    int64_t q2[4] = {2, 3, 2, 2}, k2[4] = {2, 4, 2, 2}, v2[4] = {2, 4, 2, 3}, m2[4] = {2, 1, 3, 4};
    int64_t q3[4] = {1, 2, 4, 3}, m3[2] = {3, 5}, pad[4] = {1, 1, 1, 5};
    int n = 3;
    switch (variant) {
    case 0:
    case 1:
        in[0] = at_gc_randn(rng, true, 4, q0);
        in[1] = at_gc_randn(rng, true, 4, k0);
        in[2] = at_gc_randn(rng, true, 4, v0);
        if (variant == 1) {
            double m[5] = {0, 0, 0, -1e9, -1e9};
            in[n++] = at_from_data(AT_F64, 4, pad, m);
        }
        break;
    case 2:
        in[0] = at_gc_randn(rng, true, 4, q2);
        in[1] = at_gc_randn(rng, true, 4, k2);
        in[2] = at_gc_randn(rng, true, 4, v2);
        in[n++] = at_gc_randn(rng, false, 4, m2);
        break;
    default:
        in[0] = at_gc_randn(rng, false, 4, q3);
        in[1] = at_gc_randn(rng, true, 4, k0);
        in[2] = at_gc_randn(rng, true, 4, v0);
        in[n++] = at_gc_randn(rng, false, 2, m3);
        break;
    }
    for (int i = 0; i < n; i++)
        if (!in[i]) return -1;
    return n;
}

static at_tensor *attention_forward(int variant, at_tensor **in) {
    at_tensor *q = in[0], *k = in[1], *v = in[2], *r = NULL;
    if (variant == 2) {
        int perm[4] = {0, 2, 1, 3};
        q = at_permute(in[0], perm);
        k = at_permute(in[1], perm);
        v = at_permute(in[2], perm);
    } else if (variant == 3) {
        q = at_transpose(in[0], 2, 3);
    }
    if (q && k && v) r = at_attention(q, k, v, variant == 0 ? NULL : in[3], variant == 1 ? 1.0 : 0.5);
    if (q != in[0]) at_release(q);
    if (k != in[1]) at_release(k);
    if (v != in[2]) at_release(v);
    return r;
}

const at_op_def at_op_attention = {"attention", attention_backward, {4, attention_inputs, attention_forward}};

/* Forward values of matmul, linear, layernorm, softmax, attention, embedding
 * and concat, in f32 and f64, against hand-computed numbers and naive loops
 * written here independently of the ops (plain index arithmetic in double).
 * Also: errors that must name the op, and results that must not depend on
 * the thread count. */
#include "autograd.h"
#include "ops.h"
#include "parallel.h"
#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static at_rng rng;

static double tol_for(at_dtype dt) { return dt == AT_F32 ? 2e-5 : 1e-12; }

static at_tensor *randn(at_dtype dt, int nd, const int64_t *shape) { return at_randn(&rng, dt, nd, shape); }

static at_tensor *from_doubles(at_dtype dt, int nd, const int64_t *shape, const double *v) {
    at_tensor *t = at_empty(dt, nd, shape);
    for (int64_t i = 0; i < at_numel(t); i++) {
        int64_t idx[AT_MAX_DIMS], r = i;
        for (int d = nd - 1; d >= 0; d--) idx[d] = r % shape[d], r /= shape[d];
        at_set(t, idx, v[i]);
    }
    return t;
}

/* Compares t (any strides) with want (row-major) relative to the largest
 * magnitude of want; reports the first mismatch. */
static void expect_values(const char *what, const at_tensor *t, int nd, const int64_t *shape,
                          const double *want, double tol) {
    CHECK(t != NULL, "%s: no result: %s", what, at_last_error());
    if (!t) return;
    bool same = t->ndim == nd;
    for (int d = 0; same && d < nd; d++) same = t->shape[d] == shape[d];
    char buf[128];
    CHECK(same, "%s: result shape %s", what, at_shape_str(t, buf, sizeof buf));
    if (!same) return;
    int64_t n = at_numel(t);
    double scale = 1;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    int64_t bad = -1;
    for (int64_t i = 0; i < n && bad < 0; i++) {
        double got = at_get_linear(t, i);
        if (!(fabs(got - want[i]) <= tol * scale)) bad = i;
    }
    CHECK(bad < 0, "%s: element %lld is %.10g, want %.10g", what, (long long)bad,
          bad < 0 ? 0 : at_get_linear(t, bad), bad < 0 ? 0 : want[bad]);
}

/* ---- matmul ---- */

/* Naive (batched, broadcast, numpy 1-D promotion) product in double. */
static double *ref_matmul(const at_tensor *a, const at_tensor *b, int *out_nd, int64_t *out_shape) {
    int an = a->ndim, bn = b->ndim;
    int64_t ash[AT_MAX_DIMS], bsh[AT_MAX_DIMS];
    int pa = an == 1 ? 2 : an, pb = bn == 1 ? 2 : bn;
    if (an == 1) ash[0] = 1, ash[1] = a->shape[0];
    else memcpy(ash, a->shape, sizeof ash);
    if (bn == 1) bsh[0] = b->shape[0], bsh[1] = 1;
    else memcpy(bsh, b->shape, sizeof bsh);
    int nb = (pa > pb ? pa : pb) - 2;
    int64_t batch[AT_MAX_DIMS], nbatch = 1;
    for (int d = 0; d < nb; d++) {
        int da = d - (nb - (pa - 2)), db = d - (nb - (pb - 2));
        int64_t sa = da >= 0 ? ash[da] : 1, sb = db >= 0 ? bsh[db] : 1;
        batch[d] = sa == 1 ? sb : sa;
        nbatch *= batch[d];
    }
    int64_t m = ash[pa - 2], k = ash[pa - 1], n = bsh[pb - 1];
    double *av = at_to_f64_array(a), *bv = at_to_f64_array(b);
    double *out = calloc((size_t)(nbatch * m * n + 1), sizeof *out);
    for (int64_t bi = 0; bi < nbatch; bi++) {
        int64_t idx[AT_MAX_DIMS], r = bi;
        for (int d = nb - 1; d >= 0; d--) idx[d] = r % batch[d], r /= batch[d];
        /* row-major offsets of the (broadcast) matrices in the promoted operands */
        int64_t oa = 0, ob = 0;
        for (int d = 0; d < pa - 2; d++) oa = oa * ash[d] + (ash[d] == 1 ? 0 : idx[d + nb - (pa - 2)]);
        for (int d = 0; d < pb - 2; d++) ob = ob * bsh[d] + (bsh[d] == 1 ? 0 : idx[d + nb - (pb - 2)]);
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t l = 0; l < k; l++) s += av[oa * m * k + i * k + l] * bv[ob * k * n + l * n + j];
                out[bi * m * n + i * n + j] = s;
            }
    }
    int nd = 0;
    for (int d = 0; d < nb; d++) out_shape[nd++] = batch[d];
    if (an != 1) out_shape[nd++] = m;
    if (bn != 1) out_shape[nd++] = n;
    *out_nd = nd;
    free(av);
    free(bv);
    return out;
}

static void check_matmul_case(const char *what, at_tensor *a, at_tensor *b, at_dtype dt) {
    int nd;
    int64_t shape[AT_MAX_DIMS];
    double *want = ref_matmul(a, b, &nd, shape);
    at_tensor *got = at_matmul(a, b);
    char name[160];
    snprintf(name, sizeof name, "matmul %s (%s)", what, at_dtype_name(dt));
    expect_values(name, got, nd, shape, want, tol_for(dt));
    at_release(got);
    free(want);
}

static void test_matmul(at_dtype dt) {
    /* hand-computed */
    int64_t s22[2] = {2, 2};
    double av[4] = {1, 2, 3, 4}, bv[4] = {5, 6, 7, 8}, want[4] = {19, 22, 43, 50};
    at_tensor *a = from_doubles(dt, 2, s22, av), *b = from_doubles(dt, 2, s22, bv);
    at_tensor *c = at_matmul(a, b);
    expect_values("matmul 2x2 by hand", c, 2, s22, want, 0);
    at_release(c);
    at_tensor *at = at_transpose(a, 0, 1); /* [[1,3],[2,4]] */
    double want_t[4] = {26, 30, 38, 44};
    c = at_matmul(at, b);
    expect_values("matmul transposed a by hand", c, 2, s22, want_t, 0);
    at_release(c);
    at_release(at);
    at_release(a);
    at_release(b);

    struct { int na, nb; int64_t sa[4], sb[4]; const char *what; } cases[] = {
        {2, 2, {7, 5}, {5, 3}, "2-D"},
        {4, 2, {2, 3, 4, 5}, {5, 6}, "(B,H,m,k)@(k,n)"},
        {4, 3, {2, 1, 3, 4}, {3, 4, 2}, "broadcast batch both ways"},
        {3, 3, {2, 3, 4}, {2, 4, 5}, "batched"},
        {1, 3, {4}, {2, 4, 3}, "1-D @ batched"},
        {2, 1, {3, 4}, {4}, "matrix @ 1-D"},
        {1, 1, {6}, {6}, "dot"},
        {3, 1, {2, 3, 4}, {4}, "batched @ 1-D"},
        {2, 2, {1, 4}, {4, 1}, "outer-product shapes"},
        {2, 2, {3, 0}, {0, 2}, "empty inner dim"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        a = randn(dt, cases[i].na, cases[i].sa);
        b = randn(dt, cases[i].nb, cases[i].sb);
        check_matmul_case(cases[i].what, a, b, dt);
        at_release(a);
        at_release(b);
    }

    /* transposed operands (read with CblasTrans, no copy) */
    int64_t s53[2] = {5, 3}, s45[2] = {4, 5};
    a = randn(dt, 2, s53);
    b = randn(dt, 2, s45);
    at_tensor *ta = at_transpose(a, 0, 1), *tb = at_transpose(b, 0, 1);
    check_matmul_case("both transposed", ta, tb, dt);
    at_release(ta);
    at_release(tb);
    at_release(a);
    at_release(b);

    /* batched transposed: (B,H,n,k) viewed as (B,H,k,n) for q·kᵀ-like use */
    int64_t s4[4] = {2, 2, 3, 4}, s4b[4] = {2, 2, 5, 4};
    a = randn(dt, 4, s4);
    b = randn(dt, 4, s4b);
    tb = at_transpose(b, 2, 3);
    check_matmul_case("batched a @ bᵀ", a, tb, dt);
    at_release(tb);
    at_release(a);
    at_release(b);

    /* heads split off (B,L,H,D) by permute, times a shared matrix */
    int64_t sblhd[4] = {2, 5, 3, 4}, s46[2] = {4, 6};
    int perm[4] = {0, 2, 1, 3};
    a = randn(dt, 4, sblhd);
    b = randn(dt, 2, s46);
    ta = at_permute(a, perm);
    check_matmul_case("permuted heads @ matrix", ta, b, dt);
    at_release(ta);
    at_release(a);
    at_release(b);

    /* expanded rows (stride 0: copied first) and an expanded batch */
    int64_t s14[2] = {1, 4}, e34[2] = {3, 4}, s145[3] = {1, 4, 5}, e345[3] = {3, 4, 5};
    a = randn(dt, 2, s14);
    b = randn(dt, 3, s145);
    ta = at_expand(a, 2, e34);
    tb = at_expand(b, 3, e345);
    check_matmul_case("expanded operands", ta, tb, dt);
    at_release(ta);
    at_release(tb);
    at_release(a);
    at_release(b);

    /* neither matrix dim has unit stride (a select of the last dim): copied first */
    int64_t s342[3] = {3, 4, 2}, s45b[2] = {4, 5};
    a = randn(dt, 3, s342);
    b = randn(dt, 2, s45b);
    ta = at_select(a, 2, 1); /* (3,4) strides (8,2) */
    check_matmul_case("strided last dim", ta, b, dt);
    tb = at_transpose(ta, 0, 1); /* (4,3) strides (2,8) */
    at_tensor *c3 = randn(dt, 2, (int64_t[2]){3, 2});
    check_matmul_case("strided transposed", tb, c3, dt);
    at_release(c3);
    at_release(ta);
    at_release(tb);
    at_release(a);
    at_release(b);

    /* errors name the op and the shapes */
    int64_t s34[2] = {3, 4}, s35[2] = {3, 5};
    a = randn(dt, 2, s34);
    b = randn(dt, 2, s35);
    c = at_matmul(a, b);
    CHECK(c == NULL && strstr(at_last_error(), "matmul") && strstr(at_last_error(), "[3, 4]"),
          "matmul mismatch error: %s", at_last_error());
    at_release(a);
    at_release(b);
}

/* ---- linear ---- */

static void check_linear_case(const char *what, at_tensor *x, at_tensor *w, at_tensor *b, at_dtype dt) {
    int64_t in = w->shape[1], out = w->shape[0], rows = at_numel(x) / in;
    double *xv = at_to_f64_array(x), *wv = at_to_f64_array(w), *bv = b ? at_to_f64_array(b) : NULL;
    double *want = malloc((size_t)(rows * out) * sizeof *want);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t o = 0; o < out; o++) {
            double s = bv ? bv[o] : 0;
            for (int64_t i = 0; i < in; i++) s += xv[r * in + i] * wv[o * in + i];
            want[r * out + o] = s;
        }
    int64_t shape[AT_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = out;
    at_tensor *y = at_linear(x, w, b);
    char name[160];
    snprintf(name, sizeof name, "linear %s (%s)", what, at_dtype_name(dt));
    expect_values(name, y, x->ndim, shape, want, tol_for(dt));
    at_release(y);
    free(xv);
    free(wv);
    free(bv);
    free(want);
}

static void test_linear(at_dtype dt) {
    int64_t sx[3] = {2, 3, 4}, sw[2] = {5, 4}, sb[1] = {5}, sx1[1] = {4}, sxt[2] = {4, 3}, swt[2] = {4, 5};
    at_tensor *x = randn(dt, 3, sx), *w = randn(dt, 2, sw), *b = randn(dt, 1, sb);
    check_linear_case("3-D x with bias", x, w, b, dt);
    check_linear_case("no bias", x, w, NULL, dt);
    at_tensor *x1 = randn(dt, 1, sx1);
    check_linear_case("1-D x", x1, w, b, dt);
    at_tensor *xt0 = randn(dt, 2, sxt), *wt0 = randn(dt, 2, swt);
    at_tensor *xt = at_transpose(xt0, 0, 1), *wt = at_transpose(wt0, 0, 1); /* (3,4), (5,4) */
    check_linear_case("transposed x and w", xt, wt, b, dt);
    int perm[3] = {1, 0, 2};
    at_tensor *xp = at_permute(x, perm); /* (3,2,4): leading dims do not merge */
    check_linear_case("permuted x", xp, w, b, dt);
    /* hand-computed: [1,2]·[[1,0],[1,1]]ᵀ + [10,20] = [11, 23] */
    int64_t s2[1] = {2}, s22[2] = {2, 2};
    double xv[2] = {1, 2}, wv[4] = {1, 0, 1, 1}, bv[2] = {10, 20}, want[2] = {11, 23};
    at_tensor *hx = from_doubles(dt, 1, s2, xv), *hw = from_doubles(dt, 2, s22, wv), *hb = from_doubles(dt, 1, s2, bv);
    at_tensor *hy = at_linear(hx, hw, hb);
    expect_values("linear by hand", hy, 1, s2, want, 0);
    at_tensor *bad = at_linear(x, wt0, NULL);
    CHECK(bad == NULL && strstr(at_last_error(), "linear"), "linear mismatch error: %s", at_last_error());
    at_release(hy);
    at_release(hx);
    at_release(hw);
    at_release(hb);
    at_release(xp);
    at_release(xt);
    at_release(wt);
    at_release(xt0);
    at_release(wt0);
    at_release(x1);
    at_release(x);
    at_release(w);
    at_release(b);
}

/* ---- layernorm and softmax ---- */

static void test_layernorm(at_dtype dt) {
    int64_t s4[1] = {4};
    double xv[4] = {1, 2, 3, 4}, wv[4] = {1, 2, 1, 0.5}, bv[4] = {0, 1, 0, -1}, want[4];
    double rs = 1 / sqrt(1.25 + 1e-5); /* mean 2.5, biased variance 1.25 */
    for (int i = 0; i < 4; i++) want[i] = (xv[i] - 2.5) * rs * wv[i] + bv[i];
    at_tensor *x = from_doubles(dt, 1, s4, xv), *w = from_doubles(dt, 1, s4, wv), *b = from_doubles(dt, 1, s4, bv);
    at_tensor *y = at_layernorm(x, w, b, 1e-5);
    char name[96];
    snprintf(name, sizeof name, "layernorm by hand (%s)", at_dtype_name(dt));
    expect_values(name, y, 1, s4, want, tol_for(dt));
    at_release(y);
    at_release(x);
    at_release(w);
    at_release(b);

    /* naive loop on a transposed (3,7) view, with and without the affine part */
    int64_t s73[2] = {7, 3}, s7[1] = {7}, s37[2] = {3, 7};
    at_tensor *x0 = randn(dt, 2, s73);
    x = at_transpose(x0, 0, 1);
    w = randn(dt, 1, s7);
    b = randn(dt, 1, s7);
    double *xa = at_to_f64_array(x), *wa = at_to_f64_array(w), *ba = at_to_f64_array(b);
    double ref[21], ref_plain[21];
    for (int r = 0; r < 3; r++) {
        double mu = 0, var = 0;
        for (int i = 0; i < 7; i++) mu += xa[r * 7 + i] / 7;
        for (int i = 0; i < 7; i++) var += (xa[r * 7 + i] - mu) * (xa[r * 7 + i] - mu) / 7;
        for (int i = 0; i < 7; i++) {
            ref_plain[r * 7 + i] = (xa[r * 7 + i] - mu) / sqrt(var + 1e-6);
            ref[r * 7 + i] = ref_plain[r * 7 + i] * wa[i] + ba[i];
        }
    }
    y = at_layernorm(x, w, b, 1e-6);
    snprintf(name, sizeof name, "layernorm transposed (%s)", at_dtype_name(dt));
    expect_values(name, y, 2, s37, ref, 1e2 * tol_for(dt));
    at_release(y);
    y = at_layernorm(x, NULL, NULL, 1e-6);
    snprintf(name, sizeof name, "layernorm plain (%s)", at_dtype_name(dt));
    expect_values(name, y, 2, s37, ref_plain, 1e2 * tol_for(dt));
    at_release(y);
    y = at_layernorm(x0, w, NULL, 1e-5); /* last dim 3, weight of 7 */
    CHECK(y == NULL && strstr(at_last_error(), "layernorm"), "layernorm mismatch error: %s", at_last_error());
    free(xa);
    free(wa);
    free(ba);
    at_release(x);
    at_release(x0);
    at_release(w);
    at_release(b);
}

static void test_softmax(at_dtype dt) {
    int64_t s23[2] = {2, 3}, s32[2] = {3, 2};
    double xv[6] = {1, 2, 3, 1000, 1001, 1002};
    double e1 = exp(-2), e2 = exp(-1), s = e1 + e2 + 1;
    double want[6] = {e1 / s, e2 / s, 1 / s, e1 / s, e2 / s, 1 / s};
    at_tensor *x = from_doubles(dt, 2, s23, xv);
    at_tensor *y = at_softmax(x);
    char name[96];
    snprintf(name, sizeof name, "softmax by hand, large values (%s)", at_dtype_name(dt));
    expect_values(name, y, 2, s23, want, tol_for(dt));
    at_release(y);
    /* over the last dim of a transposed view: columns of x */
    at_tensor *xt = at_transpose(x, 0, 1); /* rows {1,1000},{2,1001},{3,1002} */
    double c = 1 / (1 + exp(999.0));
    double want_t[6];
    for (int i = 0; i < 6; i += 2) want_t[i] = c, want_t[i + 1] = 1 - c;
    y = at_softmax(xt);
    snprintf(name, sizeof name, "softmax transposed (%s)", at_dtype_name(dt));
    expect_values(name, y, 2, s32, want_t, tol_for(dt));
    at_release(y);
    at_release(xt);
    at_release(x);
    /* a fully masked row gives zeros, a partly masked one ignores -inf */
    double mv[6] = {-INFINITY, -INFINITY, -INFINITY, 0, -INFINITY, 0};
    double want_m[6] = {0, 0, 0, 0.5, 0, 0.5};
    x = from_doubles(dt, 2, s23, mv);
    y = at_softmax(x);
    snprintf(name, sizeof name, "softmax with -inf (%s)", at_dtype_name(dt));
    expect_values(name, y, 2, s23, want_m, 0);
    at_release(y);
    at_release(x);
}

/* ---- attention ---- */

/* Naive softmax(q·kᵀ·scale + mask)·v, mask (B,1,1,Lk) or NULL. */
static double *ref_attention(const at_tensor *q, const at_tensor *k, const at_tensor *v, const at_tensor *mask,
                             double scale) {
    int64_t B = q->shape[0], H = q->shape[1], lq = q->shape[2], lk = k->shape[2], d = q->shape[3],
            dv = v->shape[3];
    double *qa = at_to_f64_array(q), *ka = at_to_f64_array(k), *va = at_to_f64_array(v);
    double *ma = mask ? at_to_f64_array(mask) : NULL;
    double *out = calloc((size_t)(B * H * lq * dv), sizeof *out), *p = malloc((size_t)lk * sizeof *p);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < lq; i++) {
                double mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j < lk; j++) {
                    double s = 0;
                    for (int64_t t = 0; t < d; t++)
                        s += qa[((b * H + h) * lq + i) * d + t] * ka[((b * H + h) * lk + j) * d + t];
                    p[j] = s * scale + (ma ? ma[b * lk + j] : 0);
                    mx = fmax(mx, p[j]);
                }
                for (int64_t j = 0; j < lk; j++) sum += p[j] = exp(p[j] - mx);
                for (int64_t t = 0; t < dv; t++) {
                    double o = 0;
                    for (int64_t j = 0; j < lk; j++) o += p[j] / sum * va[((b * H + h) * lk + j) * dv + t];
                    out[((b * H + h) * lq + i) * dv + t] = o;
                }
            }
    free(qa);
    free(ka);
    free(va);
    free(ma);
    free(p);
    return out;
}

static void test_attention(at_dtype dt) {
    int64_t B = 2, H = 2, lq = 3, lk = 4, d = 5, dv = 3;
    int64_t sq[4] = {B, H, lq, d}, sk[4] = {B, H, lk, d}, sv[4] = {B, H, lk, dv}, so[4] = {B, H, lq, dv};
    int64_t sm[4] = {B, 1, 1, lk};
    at_tensor *q = randn(dt, 4, sq), *k = randn(dt, 4, sk), *v = randn(dt, 4, sv);
    /* batch 0 sees all keys, batch 1 has its last key padded out */
    double mv[8] = {0, 0, 0, 0, 0, 0, 0, -INFINITY};
    at_tensor *mask = from_doubles(dt, 4, sm, mv);
    double scale = 1 / sqrt((double)d);
    double *want = ref_attention(q, k, v, mask, scale);
    at_tensor *o = at_attention(q, k, v, mask, scale);
    char name[96];
    snprintf(name, sizeof name, "attention with padding mask (%s)", at_dtype_name(dt));
    expect_values(name, o, 4, so, want, tol_for(dt) * 10);
    at_release(o);

    /* a padded key does not matter: changing its value leaves batch 1 alone */
    at_tensor *v2 = at_clone_data(v);
    for (int64_t h = 0; h < H; h++)
        for (int64_t t = 0; t < dv; t++) at_set(v2, (int64_t[4]){1, h, lk - 1, t}, 1e6);
    at_tensor *o1 = at_attention(q, k, v, mask, scale), *o2 = at_attention(q, k, v2, mask, scale);
    bool same = true;
    for (int64_t i = at_numel(o1) / 2; i < at_numel(o1); i++) same &= at_get_linear(o1, i) == at_get_linear(o2, i);
    CHECK(same, "attention: a padded key changed the output (%s)", at_dtype_name(dt));
    at_release(o1);
    at_release(o2);
    at_release(v2);

    double *want_nomask = ref_attention(q, k, v, NULL, 0.7);
    o = at_attention(q, k, v, NULL, 0.7);
    snprintf(name, sizeof name, "attention without mask (%s)", at_dtype_name(dt));
    expect_values(name, o, 4, so, want_nomask, tol_for(dt) * 10);
    at_release(o);

    /* heads split off (B, L, H, D) by permute give the same values */
    int perm[4] = {0, 2, 1, 3};
    at_tensor *qp = at_permute(q, perm), *kp = at_permute(k, perm), *vp = at_permute(v, perm);
    at_tensor *qc = at_contiguous(qp), *kc = at_contiguous(kp), *vc = at_contiguous(vp); /* (B,L,H,D) */
    at_tensor *qs = at_permute(qc, perm), *ks = at_permute(kc, perm), *vs = at_permute(vc, perm);
    o = at_attention(qs, ks, vs, mask, scale);
    snprintf(name, sizeof name, "attention on permuted heads (%s)", at_dtype_name(dt));
    expect_values(name, o, 4, so, want, tol_for(dt) * 10);
    at_release(o);
    at_release(qp), at_release(kp), at_release(vp), at_release(qc), at_release(kc), at_release(vc);
    at_release(qs), at_release(ks), at_release(vs);

    /* errors: a mask that needs grad, a mask that does not broadcast */
    if (dt == AT_F64) {
        at_tensor *mg = at_clone_data(mask);
        at_set_requires_grad(mg, true);
        o = at_attention(q, k, v, mg, scale);
        CHECK(o == NULL && strstr(at_last_error(), "attention") && strstr(at_last_error(), "grad"),
              "attention grad mask error: %s", at_last_error());
        at_release(mg);
    }
    int64_t sbad[2] = {lq, lk + 1};
    at_tensor *mb = randn(dt, 2, sbad);
    o = at_attention(q, k, v, mb, scale);
    CHECK(o == NULL && strstr(at_last_error(), "attention") && strstr(at_last_error(), "mask"),
          "attention bad mask error: %s", at_last_error());
    at_release(mb);
    free(want);
    free(want_nomask);
    at_release(mask);
    at_release(q);
    at_release(k);
    at_release(v);
}

/* ---- embedding and concat ---- */

static void test_embedding(at_dtype dt) {
    int64_t sw[2] = {5, 3}, si[2] = {2, 2}, so[3] = {2, 2, 3};
    double wv[15];
    for (int i = 0; i < 15; i++) wv[i] = i;
    at_tensor *w = from_doubles(dt, 2, sw, wv);
    int32_t ids32[4] = {4, 0, 2, 4};
    int64_t ids64[4] = {4, 0, 2, 4};
    double want[12] = {12, 13, 14, 0, 1, 2, 6, 7, 8, 12, 13, 14};
    at_tensor *i32 = at_from_data(AT_I32, 2, si, ids32), *i64 = at_from_data(AT_I64, 2, si, ids64);
    at_tensor *e = at_embedding(w, i32);
    expect_values("embedding i32 ids", e, 3, so, want, 0);
    at_release(e);
    e = at_embedding(w, i64);
    expect_values("embedding i64 ids", e, 3, so, want, 0);
    at_release(e);
    /* transposed ids: rows come out in the view's order */
    at_tensor *it = at_transpose(i64, 0, 1); /* {{4,2},{0,4}} */
    double want_t[12] = {12, 13, 14, 6, 7, 8, 0, 1, 2, 12, 13, 14};
    e = at_embedding(w, it);
    expect_values("embedding transposed ids", e, 3, so, want_t, 0);
    at_release(e);
    at_release(it);

    /* gradient: repeated ids add up */
    at_tensor *wg = at_clone_data(w);
    at_set_requires_grad(wg, true);
    e = at_embedding(wg, i64);
    at_tensor *loss = at_sum_all(e);
    int rc = at_backward(loss, NULL);
    double gwant[15] = {1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 2, 2, 2};
    CHECK(rc == 0, "embedding backward: %s", at_last_error());
    if (rc == 0) expect_values("embedding gradient", wg->grad, 2, sw, gwant, 0);
    at_release(loss);
    at_release(e);
    at_release(wg);

    int64_t bad_ids[4] = {1, 7, 0, 0};
    at_tensor *ib = at_from_data(AT_I64, 2, si, bad_ids);
    e = at_embedding(w, ib);
    const char *err = at_last_error();
    CHECK(e == NULL && strstr(err, "embedding") && strstr(err, "7") && strstr(err, "5"),
          "embedding out-of-range error: %s", err);
    int64_t neg_ids[1] = {-1}, s1[1] = {1};
    at_tensor *in = at_from_data(AT_I64, 1, s1, neg_ids);
    e = at_embedding(w, in);
    CHECK(e == NULL && strstr(at_last_error(), "-1"), "embedding negative id error: %s", at_last_error());
    at_release(in);
    at_release(ib);
    at_release(i32);
    at_release(i64);
    at_release(w);
}

static void test_concat(at_dtype dt) {
    int64_t s21[2] = {2, 1}, s22[2] = {2, 2}, s23[2] = {2, 3}, s12[2] = {1, 2};
    double av[2] = {1, 2}, bv[4] = {3, 4, 5, 6}, cv[2] = {7, 8};
    at_tensor *a = from_doubles(dt, 2, s21, av), *b = from_doubles(dt, 2, s22, bv), *c = from_doubles(dt, 2, s12, cv);
    at_tensor *ab[2] = {a, b};
    at_tensor *r = at_concat(2, ab, 1);
    double want[6] = {1, 3, 4, 2, 5, 6};
    expect_values("concat dim 1", r, 2, s23, want, 0);
    at_release(r);
    at_tensor *bc[2] = {b, c};
    int64_t s32[2] = {3, 2};
    double want0[6] = {3, 4, 5, 6, 7, 8};
    r = at_concat(2, bc, -2);
    expect_values("concat dim -2", r, 2, s32, want0, 0);
    at_release(r);
    at_tensor *bt = at_transpose(b, 0, 1); /* {{3,5},{4,6}} */
    at_tensor *tc[2] = {bt, c};
    double want_t[6] = {3, 5, 4, 6, 7, 8};
    r = at_concat(2, tc, 0);
    expect_values("concat transposed", r, 2, s32, want_t, 0);
    at_release(r);
    at_tensor *many[11];
    double want_many[22];
    for (int i = 0; i < 11; i++) {
        many[i] = a;
        want_many[i] = 1, want_many[11 + i] = 2;
    }
    int64_t s211[2] = {2, 11};
    r = at_concat(11, many, 1);
    expect_values("concat of 11", r, 2, s211, want_many, 0);
    at_release(r);
    r = at_concat(2, ab, 0);
    CHECK(r == NULL && strstr(at_last_error(), "concat"), "concat mismatch error: %s", at_last_error());
    at_release(bt);
    at_release(a);
    at_release(b);
    at_release(c);
}

/* ---- f32 backward against f64 (the gradient checks run in f64 only) ---- */

typedef at_tensor *(*apply_fn)(at_tensor **in);

static at_tensor *apply_matmul(at_tensor **in) {
    at_tensor *bt = at_transpose(in[1], 0, 1);
    at_tensor *r = at_matmul(in[0], bt);
    at_release(bt);
    return r;
}
static at_tensor *apply_linear(at_tensor **in) { return at_linear(in[0], in[1], in[2]); }
static at_tensor *apply_layernorm(at_tensor **in) { return at_layernorm(in[0], in[1], in[2], 1e-5); }
static at_tensor *apply_softmax(at_tensor **in) { return at_softmax(in[0]); }
static at_tensor *apply_attention(at_tensor **in) { return at_attention(in[0], in[1], in[2], in[3], 0.3); }
static at_tensor *apply_embedding(at_tensor **in) { return at_embedding(in[0], in[1]); }
static at_tensor *apply_concat(at_tensor **in) { return at_concat(3, in, 1); }

static at_tensor *copy_as(const at_tensor *t, at_dtype dt) {
    if (!at_dtype_is_float(t->dtype)) {
        at_retain((at_tensor *)t);
        return (at_tensor *)t;
    }
    at_tensor *c = at_empty(dt, t->ndim, t->shape);
    at_copy_(c, t);
    if (t->requires_grad) at_set_requires_grad(c, true);
    return c;
}

/* Runs apply on the inputs in f64 and in f32 with the same seed gradient
 * and compares every input gradient. */
static void check_f32_backward(const char *what, apply_fn apply, int n, at_tensor **in64) {
    at_tensor *in32[4];
    for (int i = 0; i < n; i++) in32[i] = copy_as(in64[i], AT_F32);
    at_tensor *o64 = apply(in64), *o32 = apply(in32);
    CHECK(o64 && o32, "%s: forward failed: %s", what, at_last_error());
    if (o64 && o32) {
        at_tensor *seed64 = randn(AT_F64, o64->ndim, o64->shape), *seed32 = copy_as(seed64, AT_F32);
        int rc = at_backward(o64, seed64) || at_backward(o32, seed32);
        CHECK(rc == 0, "%s: backward failed: %s", what, at_last_error());
        for (int i = 0; rc == 0 && i < n; i++) {
            if (!in64[i]->requires_grad) continue;
            double *want = at_to_f64_array(in64[i]->grad);
            char name[128];
            snprintf(name, sizeof name, "%s: f32 gradient of input %d", what, i);
            expect_values(name, in32[i]->grad, in64[i]->ndim, in64[i]->shape, want, 1e-4);
            free(want);
        }
        at_release(seed64);
        at_release(seed32);
    }
    at_release(o64);
    at_release(o32);
    for (int i = 0; i < n; i++) {
        at_release(in32[i]);
        at_release(in64[i]);
    }
}

static at_tensor *leaf(int nd, const int64_t *shape) {
    at_tensor *t = randn(AT_F64, nd, shape);
    at_set_requires_grad(t, true);
    return t;
}

static void test_f32_backward(void) {
    at_tensor *in[4];
    in[0] = leaf(4, (int64_t[4]){2, 3, 5, 16});
    in[1] = leaf(2, (int64_t[2]){7, 16});
    check_f32_backward("matmul (B,H,m,k)@wᵀ", apply_matmul, 2, in);
    in[0] = leaf(3, (int64_t[3]){2, 9, 32});
    in[1] = leaf(2, (int64_t[2]){24, 32});
    in[2] = leaf(1, (int64_t[1]){24});
    check_f32_backward("linear", apply_linear, 3, in);
    in[0] = leaf(2, (int64_t[2]){6, 300});
    in[1] = leaf(1, (int64_t[1]){300});
    in[2] = leaf(1, (int64_t[1]){300});
    check_f32_backward("layernorm", apply_layernorm, 3, in);
    in[0] = leaf(3, (int64_t[3]){2, 5, 40});
    check_f32_backward("softmax", apply_softmax, 1, in);
    in[0] = leaf(4, (int64_t[4]){2, 3, 7, 8});
    in[1] = leaf(4, (int64_t[4]){2, 3, 9, 8});
    in[2] = leaf(4, (int64_t[4]){2, 3, 9, 5});
    in[3] = randn(AT_F64, 4, (int64_t[4]){2, 1, 1, 9});
    check_f32_backward("attention", apply_attention, 4, in);
    in[0] = leaf(2, (int64_t[2]){10, 6});
    in[1] = at_from_data(AT_I64, 1, (int64_t[1]){5}, (int64_t[5]){3, 9, 3, 0, 3});
    check_f32_backward("embedding", apply_embedding, 2, in);
    in[0] = leaf(2, (int64_t[2]){3, 2});
    in[1] = leaf(2, (int64_t[2]){3, 4});
    in[2] = leaf(2, (int64_t[2]){3, 1});
    check_f32_backward("concat", apply_concat, 3, in);
}

/* ---- thread-count independence ---- */

/* Gradients of a layernorm → linear → attention chain, as f32 bytes. Every
 * GEMM here is below OpenBLAS's threading threshold (m·n·k < 64³): OpenBLAS
 * itself gives different bits for different thread counts on larger shapes,
 * so this checks our own loops (row kernels, column sums, heads). */
static float *chain_grads(int threads, int64_t *count) {
    at_set_num_threads(threads);
    at_rng r = at_rng_new(7);
    int64_t sx[3] = {2, 20, 64}, sw[2] = {96, 64}, s64[1] = {64}, sb[1] = {96};
    at_tensor *x = at_randn(&r, AT_F32, 3, sx), *w = at_randn(&r, AT_F32, 2, sw), *b = at_randn(&r, AT_F32, 1, sb);
    at_tensor *lw = at_randn(&r, AT_F32, 1, s64), *lb = at_randn(&r, AT_F32, 1, s64);
    at_tensor *leaves[5] = {x, w, b, lw, lb};
    for (int i = 0; i < 5; i++) at_set_requires_grad(leaves[i], true);
    at_tensor *h = at_layernorm(x, lw, lb, 1e-5);
    at_tensor *qkv = at_linear(h, w, b);                      /* (2,20,96) */
    int64_t s5[5] = {2, 20, 3, 4, 8};
    at_tensor *r5 = at_reshape(qkv, 5, s5);
    int perm[5] = {2, 0, 3, 1, 4};                            /* (3,2,4,20,8) */
    at_tensor *p = at_permute(r5, perm);
    at_tensor *q = at_select(p, 0, 0), *k = at_select(p, 0, 1), *v = at_select(p, 0, 2);
    at_tensor *o = at_attention(q, k, v, NULL, 0.25);
    at_tensor *sq = at_mul(o, o);
    at_tensor *loss = at_sum_all(sq);
    at_backward(loss, NULL);
    *count = 0;
    for (int i = 0; i < 5; i++) *count += at_numel(leaves[i]);
    float *all = malloc((size_t)*count * sizeof *all);
    int64_t at = 0;
    for (int i = 0; i < 5; i++) {
        memcpy(all + at, at_data(leaves[i]->grad), (size_t)at_numel(leaves[i]) * sizeof(float));
        at += at_numel(leaves[i]);
    }
    at_tensor *tmp[] = {h, qkv, r5, p, q, k, v, o, sq, loss, x, w, b, lw, lb};
    for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++) at_release(tmp[i]);
    return all;
}

static void test_thread_independence(void) {
    int before = at_get_num_threads();
    int64_t n1, n2;
    float *g1 = chain_grads(1, &n1), *g2 = chain_grads(2, &n2);
    CHECK(n1 == n2 && memcmp(g1, g2, (size_t)n1 * sizeof(float)) == 0,
          "gradients differ between 1 and 2 threads");
    free(g1);
    free(g2);
    at_set_num_threads(before);
}

int main(void) {
    rng = at_rng_new(42);
    at_dtype dts[2] = {AT_F32, AT_F64};
    for (int i = 0; i < 2; i++) {
        test_matmul(dts[i]);
        test_linear(dts[i]);
        test_layernorm(dts[i]);
        test_softmax(dts[i]);
        test_attention(dts[i]);
        test_embedding(dts[i]);
        test_concat(dts[i]);
    }
    test_f32_backward();
    test_thread_independence();
    return check_summary();
}

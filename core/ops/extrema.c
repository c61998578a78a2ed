/* max and min, over the whole tensor or over one dim with the index of each
 * extreme.
 *
 * The first of equal extremes wins, and a NaN is the extreme (as in
 * PyTorch), so the index always names one element; the gradient goes to that
 * element alone, and the backward scatters g back to the saved places. CPU
 * only for now: the ops' CUDA slots stay empty, so a GPU input gets the one
 * "no CUDA kernel" error naming the op. */
#include "ops_internal.h"
#include "kernels.h"

#include <math.h>
#include <stdlib.h>

/* Flat input positions of the extremes of x seen as (outer, r, inner):
 * where[o * inner + j] for the extreme over k of x[o, k, j]. */
static void find_extremes(const double *x, int64_t outer, int64_t r, int64_t inner, bool want_max, int64_t *where) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            int64_t base = o * r * inner + j, best = base;
            for (int64_t k = 1; k < r && !isnan(x[best]); k++) {
                int64_t p = base + k * inner;
                if (isnan(x[p]) || (want_max ? x[p] > x[best] : x[p] < x[best])) best = p;
            }
            where[o * inner + j] = best;
        }
}

/* dim < 0 reduces everything to a 0-dim tensor. Sets *values (t's dtype,
 * recorded by autograd) and, when indices is not NULL, *indices (i64,
 * 0-based along dim; flat for the whole tensor). */
static int extreme(const at_op_def *op, at_tensor *t, int dim, bool keepdim, at_tensor **values,
                   at_tensor **indices) {
    *values = NULL;
    if (indices) *indices = NULL;
    if (at_on_cuda(t) && !at_op_kernels(op, AT_CUDA)) return -1;
    int64_t n = at_numel(t);
    if (n == 0) {
        at_set_error("%s: the tensor is empty, so it has no %s", op->name, op->name);
        return -1;
    }
    if (dim >= t->ndim) {
        at_set_error("%s: dim %d is out of range for a %d-dim tensor", op->name, dim + 1, t->ndim);
        return -1;
    }
    int64_t outer = 1, r = n, inner = 1, shape[AT_MAX_DIMS];
    int nd = 0;
    if (dim >= 0) {
        outer = 1, inner = 1, r = t->shape[dim];
        for (int d = 0; d < t->ndim; d++) {
            if (d < dim) outer *= t->shape[d];
            if (d > dim) inner *= t->shape[d];
            if (d != dim || keepdim) shape[nd++] = d == dim ? 1 : t->shape[d];
        }
        if (r == 0) {
            at_set_error("%s: dim %d has size 0, so it has no %s", op->name, dim + 1, op->name);
            return -1;
        }
    }
    double *x = at_to_f64_array(t);
    at_tensor *where = x ? at_empty(AT_I64, nd, shape) : NULL;
    at_tensor *v64 = where ? at_empty(AT_F64, nd, shape) : NULL;
    at_tensor *v = v64 ? at_empty(t->dtype, nd, shape) : NULL;
    if (!v) goto fail;
    int64_t *w = at_data(where), m = outer * inner;
    double *vd = at_data(v64);
    find_extremes(x, outer, r, inner, op == &at_op_max, w);
    for (int64_t i = 0; i < m; i++) vd[i] = x[w[i]];
    if (at_copy_(v, v64)) goto fail;
    if (indices) {
        *indices = at_empty(AT_I64, nd, shape);
        if (!*indices) goto fail;
        int64_t *id = at_data(*indices);
        for (int64_t i = 0; i < m; i++) id[i] = dim < 0 ? w[i] : (w[i] / inner) % r;
    }
    at_node *node = at_record(op, v, 1, &t);
    if (node) node->saved[0] = where, where = NULL;
    free(x);
    at_release(where);
    at_release(v64);
    *values = v;
    return 0;
fail:
    free(x);
    at_release(where);
    at_release(v64);
    at_release(v);
    if (indices) at_release(*indices), *indices = NULL;
    return -1;
}

at_tensor *at_max_all(at_tensor *t) {
    at_tensor *v;
    return extreme(&at_op_max, t, -1, false, &v, NULL) ? NULL : v;
}

at_tensor *at_min_all(at_tensor *t) {
    at_tensor *v;
    return extreme(&at_op_min, t, -1, false, &v, NULL) ? NULL : v;
}

int at_max(at_tensor *t, int dim, bool keepdim, at_tensor **values, at_tensor **indices) {
    return extreme(&at_op_max, t, dim, keepdim, values, indices);
}

int at_min(at_tensor *t, int dim, bool keepdim, at_tensor **values, at_tensor **indices) {
    return extreme(&at_op_min, t, dim, keepdim, values, indices);
}

/* g scattered to the saved flat positions of the extremes. */
static int extreme_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    const at_tensor *x = n->inputs[0], *where = n->saved[0];
    at_tensor *g64 = at_empty(AT_F64, x->ndim, x->shape);
    double *gv = g64 ? at_to_f64_array(g) : NULL;
    if (gv) {
        double *out = at_data(g64);
        const int64_t *w = at_data(where);
        for (int64_t i = 0; i < at_numel(where); i++) out[w[i]] += gv[i];
        gin[0] = at_empty(x->dtype, x->ndim, x->shape);
        if (gin[0] && at_copy_(gin[0], g64)) at_release(gin[0]), gin[0] = NULL;
    }
    free(gv);
    at_release(g64);
    return gin[0] ? 0 : -1;
}

/* Variants: the whole (3, 4) tensor; over dim 1; over dim 0 keeping it, of
 * a transposed view. Random normals tie with probability zero, so no finite
 * difference moves the winner. */
static int extreme_inputs(int variant, at_rng *rng, at_tensor **in) {
    int64_t shape[2] = {3, 4};
    (void)variant;
    in[0] = at_gc_randn(rng, true, 2, shape);
    return in[0] ? 1 : -1;
}

static at_tensor *extreme_case(const at_op_def *op, int variant, at_tensor **in) {
    at_tensor *x = variant == 2 ? at_transpose(in[0], 0, 1) : (at_retain(in[0]), in[0]), *v = NULL;
    if (x) {
        if (variant == 0) extreme(op, x, -1, false, &v, NULL);
        else extreme(op, x, variant == 1 ? 1 : 0, variant == 2, &v, NULL);
    }
    at_release(x);
    return v;
}

static at_tensor *max_case(int v, at_tensor **in) { return extreme_case(&at_op_max, v, in); }
static at_tensor *min_case(int v, at_tensor **in) { return extreme_case(&at_op_min, v, in); }

const at_op_def at_op_max = {"max", extreme_backward, {3, extreme_inputs, max_case}};
const at_op_def at_op_min = {"min", extreme_backward, {3, extreme_inputs, min_case}};

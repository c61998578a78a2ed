/* View ops: new headers on the same storage. Their backward maps the
 * gradient back onto the input's shape. */
#include "ops_internal.h"

#include <stdlib.h>
#include <string.h>

/* A header sharing t's storage with a new shape, stride and offset. */
static at_tensor *view_of(at_tensor *t, int ndim, const int64_t *shape, const int64_t *stride, int64_t offset) {
    at_tensor *v = at_detach(t);
    if (!v) return NULL;
    v->ndim = ndim;
    memcpy(v->shape, shape, (size_t)ndim * sizeof *shape);
    memcpy(v->stride, stride, (size_t)ndim * sizeof *stride);
    v->offset = offset;
    return v;
}

/* ---- narrow ---- */

at_tensor *at_narrow(at_tensor *t, int dim, int64_t start, int64_t length) {
    int d = at_norm_dim("narrow", dim, t->ndim);
    if (d < 0) return NULL;
    if (start < 0 || length < 0 || start + length > t->shape[d]) {
        char b[128];
        at_set_error("narrow: range [%lld, %lld) out of bounds for dim %d of shape %s", (long long)start,
                     (long long)(start + length), d, at_shape_str(t, b, sizeof b));
        return NULL;
    }
    int64_t shape[AT_MAX_DIMS];
    memcpy(shape, t->shape, sizeof shape);
    shape[d] = length;
    at_tensor *out = view_of(t, t->ndim, shape, t->stride, t->offset + start * t->stride[d]);
    at_node *n = at_record(&at_op_narrow, out, 1, &t);
    if (n) {
        n->iparam[0] = d;
        n->iparam[1] = start;
    }
    return out;
}

static int narrow_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    at_tensor *in = n->inputs[0];
    at_tensor *full = at_empty_on(at_device_of(in), in->dtype, in->ndim, in->shape);
    if (!full) return -1;
    at_tensor *region = at_narrow(full, (int)n->iparam[0], n->iparam[1], g->shape[n->iparam[0]]);
    int rc = region ? at_copy_(region, g) : -1;
    at_release(region);
    if (rc) {
        at_release(full);
        return -1;
    }
    gin[0] = full;
    return 0;
}

static int one_input(int variant, at_rng *rng, at_tensor **in) {
    int64_t shape[3] = {3, 4, 5};
    in[0] = at_gc_randn(rng, true, 2 + variant % 2, shape);
    return 1;
}

static at_tensor *narrow_case(int variant, at_tensor **in) {
    at_tensor *t = at_transpose(in[0], 0, 1);
    at_tensor *out = at_narrow(t, variant ? -1 : 0, 1, 2);
    at_release(t);
    return out;
}

const at_op_def at_op_narrow = {"narrow", narrow_backward, {2, one_input, narrow_case}};

at_tensor *at_select(at_tensor *t, int dim, int64_t index) {
    int d = at_norm_dim("select", dim, t->ndim);
    if (d < 0) return NULL;
    if (index < 0 || index >= t->shape[d]) {
        char b[128];
        at_set_error("select: index %lld out of range for dim %d of shape %s", (long long)index, d,
                     at_shape_str(t, b, sizeof b));
        return NULL;
    }
    at_tensor *row = at_narrow(t, d, index, 1);
    if (!row) return NULL;
    int64_t shape[AT_MAX_DIMS];
    for (int i = 0, k = 0; i < t->ndim; i++)
        if (i != d) shape[k++] = t->shape[i];
    at_tensor *out = at_reshape(row, t->ndim - 1, shape); /* dropping a size-1 dim is always a view */
    at_release(row);
    return out;
}

/* ---- transpose and permute ---- */

at_tensor *at_permute(at_tensor *t, const int *perm) {
    int64_t shape[AT_MAX_DIMS], stride[AT_MAX_DIMS];
    bool used[AT_MAX_DIMS] = {0};
    for (int i = 0; i < t->ndim; i++) {
        int p = perm[i] < 0 ? perm[i] + t->ndim : perm[i];
        if (p < 0 || p >= t->ndim || used[p]) {
            char b[128];
            at_set_error("permute: entry %d (%d) is not a valid, unused dim of shape %s", i, perm[i],
                         at_shape_str(t, b, sizeof b));
            return NULL;
        }
        used[p] = true;
        shape[i] = t->shape[p];
        stride[i] = t->stride[p];
    }
    at_tensor *out = view_of(t, t->ndim, shape, stride, t->offset);
    at_node *n = at_record(&at_op_permute, out, 1, &t);
    for (int i = 0; n && i < t->ndim; i++) n->iparam[i] = perm[i] < 0 ? perm[i] + t->ndim : perm[i];
    return out;
}

static int permute_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    int inverse[AT_MAX_DIMS];
    for (int i = 0; i < g->ndim; i++) inverse[n->iparam[i]] = i;
    gin[0] = at_permute((at_tensor *)g, inverse);
    return gin[0] ? 0 : -1;
}

static at_tensor *permute_case(int variant, at_tensor **in) {
    int p2[2] = {1, 0}, p3[3] = {2, 0, 1};
    return at_permute(in[0], variant ? p3 : p2);
}

const at_op_def at_op_permute = {"permute", permute_backward, {2, one_input, permute_case}};

at_tensor *at_transpose(at_tensor *t, int dim0, int dim1) {
    int a = at_norm_dim("transpose", dim0, t->ndim), b = at_norm_dim("transpose", dim1, t->ndim);
    if (a < 0 || b < 0) return NULL;
    int64_t shape[AT_MAX_DIMS], stride[AT_MAX_DIMS];
    memcpy(shape, t->shape, sizeof shape);
    memcpy(stride, t->stride, sizeof stride);
    shape[a] = t->shape[b], shape[b] = t->shape[a];
    stride[a] = t->stride[b], stride[b] = t->stride[a];
    at_tensor *out = view_of(t, t->ndim, shape, stride, t->offset);
    at_node *n = at_record(&at_op_transpose, out, 1, &t);
    if (n) n->iparam[0] = a, n->iparam[1] = b;
    return out;
}

static int transpose_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    gin[0] = at_transpose((at_tensor *)g, (int)n->iparam[0], (int)n->iparam[1]);
    return gin[0] ? 0 : -1;
}

static at_tensor *transpose_case(int variant, at_tensor **in) {
    return at_transpose(in[0], 0, variant ? 2 : 1);
}

const at_op_def at_op_transpose = {"transpose", transpose_backward, {2, one_input, transpose_case}};

/* ---- reshape ---- */

/* Strides that let shape view t's elements without copying, following
 * PyTorch's rule: each run of dims that is contiguous in memory may be split
 * or merged freely. Returns false when no such strides exist. */
static bool view_strides(const at_tensor *t, int ndim, const int64_t *shape, int64_t *stride) {
    if (at_is_contiguous(t)) {
        at_contiguous_strides(ndim, shape, stride);
        return true;
    }
    int view_d = ndim - 1;
    int64_t chunk_base = t->stride[t->ndim - 1], tensor_numel = 1, view_numel = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        tensor_numel *= t->shape[d];
        if (d == 0 || (t->shape[d - 1] != 1 && t->stride[d - 1] != tensor_numel * chunk_base)) {
            while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
                stride[view_d] = view_numel * chunk_base;
                view_numel *= shape[view_d];
                view_d--;
            }
            if (view_numel != tensor_numel) return false;
            if (d > 0) {
                chunk_base = t->stride[d - 1];
                tensor_numel = view_numel = 1;
            }
        }
    }
    return view_d == -1;
}

at_tensor *at_reshape(at_tensor *t, int ndim, const int64_t *shape_in) {
    char b[128];
    if (ndim < 0 || ndim > AT_MAX_DIMS) {
        at_set_error("reshape: %d dims requested, at most %d supported", ndim, AT_MAX_DIMS);
        return NULL;
    }
    int64_t shape[AT_MAX_DIMS], known = 1;
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        shape[i] = shape_in[i];
        if (shape[i] == -1 && infer < 0) infer = i;
        else if (shape[i] < 0) {
            at_set_error("reshape: invalid size %lld in dim %d", (long long)shape[i], i);
            return NULL;
        } else known *= shape[i];
    }
    int64_t numel = at_numel(t);
    if (infer >= 0 && known > 0 && numel % known == 0) shape[infer] = numel / known;
    else if (infer >= 0) known = -1;
    if ((infer >= 0 ? shape[infer] * known : known) != numel) {
        at_set_error("reshape: cannot view %s (%lld elements) as the requested %d-dim shape",
                     at_shape_str(t, b, sizeof b), (long long)numel, ndim);
        return NULL;
    }
    int64_t stride[AT_MAX_DIMS];
    at_tensor *out;
    if (numel > 0 && view_strides(t, ndim, shape, stride)) {
        out = view_of(t, ndim, shape, stride, t->offset);
    } else {
        at_tensor *c = at_clone_data(t);
        if (!c) return NULL;
        at_contiguous_strides(ndim, shape, stride);
        out = view_of(c, ndim, shape, stride, 0);
        at_release(c);
    }
    at_record(&at_op_reshape, out, 1, &t);
    return out;
}

static int reshape_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    at_tensor *in = n->inputs[0];
    gin[0] = at_reshape((at_tensor *)g, in->ndim, in->shape);
    return gin[0] ? 0 : -1;
}

static at_tensor *reshape_case(int variant, at_tensor **in) {
    /* variant 0 views a contiguous input; variant 1 must copy a transposed one */
    int64_t flat[2] = {-1, 2};
    at_tensor *t = variant ? at_transpose(in[0], 0, 1) : (at_retain(in[0]), in[0]);
    at_tensor *out = at_reshape(t, 2, flat);
    at_release(t);
    return out;
}

const at_op_def at_op_reshape = {"reshape", reshape_backward, {2, one_input, reshape_case}};

/* ---- expand ---- */

at_tensor *at_expand(at_tensor *t, int ndim, const int64_t *shape_in) {
    char b[128];
    if (ndim < t->ndim || ndim > AT_MAX_DIMS) {
        at_set_error("expand: cannot expand %s to %d dims", at_shape_str(t, b, sizeof b), ndim);
        return NULL;
    }
    int64_t shape[AT_MAX_DIMS], stride[AT_MAX_DIMS];
    int lead = ndim - t->ndim;
    for (int i = 0; i < ndim; i++) {
        int64_t want = shape_in[i];
        if (i < lead) {
            shape[i] = want, stride[i] = 0;
            if (want >= 0) continue;
        } else {
            int64_t have = t->shape[i - lead];
            if (want == -1 || want == have) {
                shape[i] = have, stride[i] = t->stride[i - lead];
                continue;
            }
            if (have == 1 && want >= 0) {
                shape[i] = want, stride[i] = 0;
                continue;
            }
        }
        at_set_error("expand: cannot expand %s to size %lld in dim %d (only size-1 dims expand)",
                     at_shape_str(t, b, sizeof b), (long long)want, i);
        return NULL;
    }
    at_tensor *out = view_of(t, ndim, shape, stride, t->offset);
    at_record(&at_op_expand, out, 1, &t);
    return out;
}

static int expand_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    at_tensor *in = n->inputs[0];
    gin[0] = at_sum_to_shape(g, in->ndim, in->shape);
    return gin[0] ? 0 : -1;
}

static at_tensor *expand_case(int variant, at_tensor **in) {
    at_tensor *col = at_narrow(in[0], -1, 2, 1); /* (3,4,1) or (3,1) */
    int64_t two[2] = {3, 6}, three[4] = {2, 3, 4, 5};
    at_tensor *out = variant ? at_expand(col, 4, three) : at_expand(col, 2, two);
    at_release(col);
    return out;
}

const at_op_def at_op_expand = {"expand", expand_backward, {2, one_input, expand_case}};

/* ---- contiguous and dtype conversion ---- */

at_tensor *at_contiguous(at_tensor *t) {
    if (at_is_contiguous(t)) {
        at_retain(t);
        return t;
    }
    at_tensor *out = at_clone_data(t);
    at_record(&at_op_contiguous, out, 1, &t);
    return out;
}

static int pass_through_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    (void)n;
    gin[0] = at_contiguous((at_tensor *)g);
    return gin[0] ? 0 : -1;
}

static at_tensor *contiguous_case(int variant, at_tensor **in) {
    at_tensor *t = at_transpose(in[0], 0, variant + 1);
    at_tensor *out = at_contiguous(t);
    at_release(t);
    return out;
}

const at_op_def at_op_contiguous = {"contiguous", pass_through_backward, {2, one_input, contiguous_case}};

at_tensor *at_to_dtype(at_tensor *t, at_dtype dtype) {
    if ((unsigned)dtype >= AT_NDTYPES) {
        at_set_error("to: unknown dtype %d", (int)dtype);
        return NULL;
    }
    if (t->dtype == dtype) {
        at_retain(t);
        return t;
    }
    at_tensor *out = at_empty_uninit_on(at_device_of(t), dtype, t->ndim, t->shape);
    if (!out) return NULL;
    if (at_copy_(out, t)) {
        at_release(out);
        return NULL;
    }
    if (dtype == AT_F32 || dtype == AT_F64) at_record(&at_op_to_dtype, out, 1, &t);
    return out;
}

static int to_dtype_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    gin[0] = at_to_dtype((at_tensor *)g, n->inputs[0]->dtype);
    return gin[0] ? 0 : -1;
}

/* An f32 leaf converted to f64: the f64 loss then sees the f32 values exactly,
 * and the finite-difference test uses the perturbation as actually stored. */
static int to_dtype_inputs(int variant, at_rng *rng, at_tensor **in) {
    int64_t shape[2] = {3, 4 + variant};
    in[0] = at_randn(rng, AT_F32, 2, shape);
    if (in[0]) at_set_requires_grad(in[0], true);
    return 1;
}

static at_tensor *to_dtype_case(int variant, at_tensor **in) {
    (void)variant;
    at_tensor *t = at_transpose(in[0], 0, 1);
    at_tensor *out = at_to_dtype(t, AT_F64);
    at_release(t);
    return out;
}

const at_op_def at_op_to_dtype = {"to_dtype", to_dtype_backward, {2, to_dtype_inputs, to_dtype_case}};

/* Indexing and joining: embedding lookup and concatenation. */
#include "ops_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- embedding ---- */

/* The id at logical position i of ids (i32 or i64, any strides). */
static int64_t id_at(const at_tensor *ids, int64_t i) {
    int64_t s = at_storage_index(ids, i);
    return ids->dtype == AT_I32 ? ((const int32_t *)ids->storage->data)[s]
                                : ((const int64_t *)ids->storage->data)[s];
}

/* The ids as a contiguous i64 array, after checking every one is in [0, V). */
static int64_t *checked_ids(const at_tensor *ids, int64_t vocab, int64_t *count) {
    int64_t n = at_numel(ids);
    int64_t *out = malloc((size_t)(n ? n : 1) * sizeof *out);
    if (!out) {
        at_set_error("embedding: out of memory for %lld ids", (long long)n);
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t id = id_at(ids, i);
        if (id < 0 || id >= vocab) {
            char si[128];
            at_set_error("embedding: id %lld (at position %lld of ids %s) is out of range for a vocabulary "
                         "of %lld rows", (long long)id, (long long)i, at_shape_str(ids, si, sizeof si),
                         (long long)vocab);
            free(out);
            return NULL;
        }
        out[i] = id;
    }
    *count = n;
    return out;
}

/* The checked ids as a contiguous i64 tensor on the GPU. They are checked on
 * the host (a few thousand ids at most), so a bad id is an error that names
 * it rather than an out-of-bounds read in a kernel. */
static at_tensor *checked_ids_on_gpu(const at_tensor *ids, int64_t vocab) {
    at_tensor *host = at_on_cuda(ids) ? at_to_device(ids, AT_CPU) : (at_retain((at_tensor *)ids), (at_tensor *)ids);
    int64_t n = 0, *idx = host ? checked_ids(host, vocab, &n) : NULL;
    at_tensor *dev = idx ? at_empty_uninit_on(AT_CUDA, AT_I64, 1, &n) : NULL;
    if (dev && at_device_memcpy(at_data(dev), AT_CUDA, idx, AT_CPU, (size_t)n * sizeof *idx))
        at_release(dev), dev = NULL;
    free(idx);
    at_release(host);
    return dev;
}

/* The weight's gradient on the GPU: zeros, then g's rows added at the ids. */
static at_tensor *embedding_grad_on_gpu(const at_tensor *w, const at_tensor *ids, const at_tensor *g) {
    int64_t dim = w->shape[1];
    const at_kernels *k = AT_DEVICE_KERNELS(embedding, AT_CUDA);
    at_tensor *dev_ids = k ? checked_ids_on_gpu(ids, w->shape[0]) : NULL;
    at_tensor *gd = dev_ids ? at_clone_data(g) : NULL;
    at_tensor *gw = gd ? at_empty_on(AT_CUDA, w->dtype, 2, w->shape) : NULL;
    if (gw && k->embedding_backward(at_data(gw), at_data(gd), at_data(dev_ids), w->dtype, AT_I64,
                                    at_numel(dev_ids), dim))
        at_release(gw), gw = NULL;
    at_release(dev_ids);
    at_release(gd);
    return gw;
}

static at_tensor *embedding_on_gpu(const at_tensor *weight, const at_tensor *ids, int ndim, const int64_t *shape) {
    const at_kernels *k = AT_DEVICE_KERNELS(embedding, AT_CUDA);
    if (!k) return NULL;
    at_tensor *w = at_is_contiguous(weight) ? at_detach(weight) : at_clone_data(weight);
    at_tensor *dev_ids = w ? checked_ids_on_gpu(ids, weight->shape[0]) : NULL;
    at_tensor *out = dev_ids ? at_empty_uninit_on(AT_CUDA, weight->dtype, ndim, shape) : NULL;
    if (out && k->embedding(at_data(out), at_data(w), at_data(dev_ids), weight->dtype, AT_I64,
                            at_numel(dev_ids), weight->shape[1]))
        at_release(out), out = NULL;
    at_release(w);
    at_release(dev_ids);
    return out;
}

static int embedding_backward(at_node *node, const at_tensor *g, at_tensor **gin) {
    if (!node->needs_grad[0]) return 0;
    if (at_on_cuda(node->inputs[0])) {
        gin[0] = embedding_grad_on_gpu(node->inputs[0], node->inputs[1], g);
        return gin[0] ? 0 : -1;
    }
    const at_tensor *w = node->inputs[0];
    int64_t vocab = w->shape[0], dim = w->shape[1], n;
    int64_t *ids = checked_ids(node->inputs[1], vocab, &n);
    if (!ids) return -1;
    at_tensor *gd = NULL;
    if (!at_is_contiguous(g) && !(gd = at_clone_data(g))) {
        free(ids);
        return -1;
    }
    const at_tensor *gr = gd ? gd : g;
    gin[0] = at_empty(w->dtype, 2, w->shape);
    if (!gin[0]) {
        free(ids);
        at_release(gd);
        return -1;
    }
    /* Each column block adds the rows of g in id order: repeated ids sum the
     * same way whatever the thread count. */
    int64_t blocks = (dim + 255) / 256;
    if (w->dtype == AT_F32) {
        const float *gp = at_data(gr);
        float *dw = at_data(gin[0]);
        #pragma omp parallel for if (n * dim >= AT_PARALLEL_MIN)
        for (int64_t blk = 0; blk < blocks; blk++) {
            int64_t c0 = blk * 256, c1 = c0 + 256 < dim ? c0 + 256 : dim;
            for (int64_t i = 0; i < n; i++)
                for (int64_t c = c0; c < c1; c++) dw[ids[i] * dim + c] += gp[i * dim + c];
        }
    } else {
        const double *gp = at_data(gr);
        double *dw = at_data(gin[0]);
        #pragma omp parallel for if (n * dim >= AT_PARALLEL_MIN)
        for (int64_t blk = 0; blk < blocks; blk++) {
            int64_t c0 = blk * 256, c1 = c0 + 256 < dim ? c0 + 256 : dim;
            for (int64_t i = 0; i < n; i++)
                for (int64_t c = c0; c < c1; c++) dw[ids[i] * dim + c] += gp[i * dim + c];
        }
    }
    free(ids);
    at_release(gd);
    return 0;
}

at_tensor *at_embedding(at_tensor *weight, at_tensor *ids) {
    if (at_check_float("embedding", weight)) return NULL;
    char sw[128], si[128];
    if (!ids || (ids->dtype != AT_I32 && ids->dtype != AT_I64) || weight->ndim != 2 ||
        ids->ndim + 1 > AT_MAX_DIMS) {
        at_set_error("embedding: want weight (V, D) and i32/i64 ids of at most %d dims, got weight %s and %s ids %s",
                     AT_MAX_DIMS - 1, at_shape_str(weight, sw, sizeof sw), ids ? at_dtype_name(ids->dtype) : "no",
                     ids ? at_shape_str(ids, si, sizeof si) : "");
        return NULL;
    }
    int64_t vocab = weight->shape[0], dim = weight->shape[1], n;
    int64_t shape[AT_MAX_DIMS];
    memcpy(shape, ids->shape, (size_t)ids->ndim * sizeof *shape);
    shape[ids->ndim] = dim;
    if (at_device_of(ids) != at_device_of(weight)) {
        char s1[128], s2[128];
        at_set_error("embedding: weight %s is on %s, ids %s on %s", at_shape_str(weight, s1, sizeof s1),
                     at_device_name(at_device_of(weight)), at_shape_str(ids, s2, sizeof s2),
                     at_device_name(at_device_of(ids)));
        return NULL;
    }
    if (at_on_cuda(weight)) {
        at_tensor *out = embedding_on_gpu(weight, ids, ids->ndim + 1, shape);
        at_tensor *ins[2] = {weight, ids};
        if (out) at_record(&at_op_embedding, out, 2, ins);
        return out;
    }
    int64_t *idx = checked_ids(ids, vocab, &n);
    if (!idx) return NULL;
    at_tensor *out = at_empty_uninit(weight->dtype, ids->ndim + 1, shape);
    if (!out) {
        free(idx);
        return NULL;
    }
    size_t es = at_dtype_size(weight->dtype);
    const char *w = weight->storage->data;
    char *o = at_data(out);
    int64_t s0 = weight->stride[0], s1 = weight->stride[1];
    #pragma omp parallel for if (n * dim >= AT_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) {
        const char *row = w + (size_t)(weight->offset + idx[i] * s0) * es;
        char *dst = o + (size_t)(i * dim) * es;
        if (s1 == 1) {
            memcpy(dst, row, (size_t)dim * es);
        } else {
            for (int64_t c = 0; c < dim; c++) memcpy(dst + (size_t)c * es, row + (size_t)(c * s1) * es, es);
        }
    }
    free(idx);
    at_tensor *ins[2] = {weight, ids};
    at_record(&at_op_embedding, out, 2, ins);
    return out;
}

/* ---- concat ---- */

/* A header-only narrow of t along dim (never retained or released). */
static at_tensor slice_of(const at_tensor *t, int dim, int64_t start, int64_t len) {
    at_tensor v = *t;
    v.offset += start * t->stride[dim];
    v.shape[dim] = len;
    return v;
}

/* Copies the slice [start, start + len) of dim from src into dst, or the
 * whole of src into that slice of dst (to_slice). Both contiguous: the
 * slice is `outer` blocks of len·inner elements, copied with memcpy. */
static int copy_slice(at_tensor *dst, const at_tensor *src, int dim, int64_t start, int64_t len, bool to_slice) {
    const at_tensor *whole = to_slice ? dst : src, *part = to_slice ? src : dst;
    if (at_on_cuda(whole) || !at_is_contiguous(whole) || !at_is_contiguous(part) || dst->dtype != src->dtype) {
        at_tensor view = slice_of(whole, dim, start, len);
        return to_slice ? at_copy_(&view, part) : at_copy_(dst, &view);
    }
    int64_t outer = 1, inner = 1, total = whole->shape[dim];
    for (int d = 0; d < dim; d++) outer *= whole->shape[d];
    for (int d = dim + 1; d < whole->ndim; d++) inner *= whole->shape[d];
    size_t es = at_dtype_size(dst->dtype), chunk = (size_t)(len * inner) * es;
    char *w = (char *)at_data(whole) + (size_t)(start * inner) * es, *p = at_data(part);
    size_t wstep = (size_t)(total * inner) * es;
    #pragma omp parallel for if (outer * len * inner >= AT_PARALLEL_MIN && outer > 1)
    for (int64_t o = 0; o < outer; o++) {
        if (to_slice) memcpy(w + (size_t)o * wstep, p + (size_t)o * chunk, chunk);
        else memcpy(p + (size_t)o * chunk, w + (size_t)o * wstep, chunk);
    }
    return 0;
}

static int concat_backward(at_node *node, const at_tensor *g, at_tensor **gin) {
    int dim = (int)node->iparam[0];
    int64_t start = 0;
    for (int i = 0; i < node->n_inputs; i++) {
        const at_tensor *in = node->inputs[i];
        int64_t len = in->shape[dim];
        if (node->needs_grad[i]) {
            gin[i] = at_empty_uninit_on(at_device_of(in), in->dtype, in->ndim, in->shape);
            if (!gin[i] || copy_slice(gin[i], g, dim, start, len, false)) {
                for (int j = 0; j <= i; j++) at_release(gin[j]), gin[j] = NULL;
                return -1;
            }
        }
        start += len;
    }
    return 0;
}

static int check_concat(int n, at_tensor *const *ts, int dim) {
    for (int i = 0; i < n; i++) {
        if (!ts[i]) {
            at_set_error("concat: tensor %d is NULL", i);
            return -1;
        }
        if (at_check_float("concat", ts[i]) || at_check_same_dtype("concat", ts[0], ts[i])) return -1;
        bool ok = ts[i]->ndim == ts[0]->ndim;
        for (int d = 0; ok && d < ts[0]->ndim; d++) ok = d == dim || ts[i]->shape[d] == ts[0]->shape[d];
        if (!ok) {
            char s0[128], si[128];
            at_set_error("concat: shapes %s (tensor 0) and %s (tensor %d) differ outside dim %d",
                         at_shape_str(ts[0], s0, sizeof s0), at_shape_str(ts[i], si, sizeof si), i, dim);
            return -1;
        }
    }
    return 0;
}

at_tensor *at_concat(int n, at_tensor *const *ts, int dim) {
    if (n < 1 || !ts || !ts[0]) {
        at_set_error("concat: needs at least one tensor, got %d", n);
        return NULL;
    }
    if (ts[0]->ndim == 0) {
        at_set_error("concat: cannot join 0-dim tensors");
        return NULL;
    }
    int d = at_norm_dim("concat", dim, ts[0]->ndim);
    if (d < 0 || check_concat(n, ts, d)) return NULL;
    /* A node holds at most AT_NODE_MAX_INPUTS inputs: join larger lists in
     * groups, then join the groups, so autograd sees a tree of concats. */
    if (n > AT_NODE_MAX_INPUTS && at_any_requires_grad(n, ts)) {
        at_tensor *parts[AT_NODE_MAX_INPUTS] = {0};
        int groups = 0, per = (n + AT_NODE_MAX_INPUTS - 1) / AT_NODE_MAX_INPUTS;
        at_tensor *out = NULL;
        for (int i = 0; i < n; i += per, groups++) {
            int len = n - i < per ? n - i : per;
            if (!(parts[groups] = at_concat(len, ts + i, d))) goto group_done;
        }
        out = at_concat(groups, parts, d);
    group_done:
        for (int i = 0; i < groups; i++) at_release(parts[i]);
        return out;
    }
    int64_t shape[AT_MAX_DIMS];
    memcpy(shape, ts[0]->shape, sizeof shape);
    shape[d] = 0;
    for (int i = 0; i < n; i++) shape[d] += ts[i]->shape[d];
    at_tensor *out = at_empty_uninit_on(at_device_of(ts[0]), ts[0]->dtype, ts[0]->ndim, shape);
    if (!out) return NULL;
    int64_t start = 0;
    for (int i = 0; i < n; i++) {
        if (copy_slice(out, ts[i], d, start, ts[i]->shape[d], true)) {
            at_release(out);
            return NULL;
        }
        start += ts[i]->shape[d];
    }
    at_node *node = at_record(&at_op_concat, out, n, ts);
    if (node) node->iparam[0] = d;
    return out;
}

/* ---- gradient checks ---- */

/* Variants: 0 i64 ids (2,3) with repeats; 1 i32 1-D ids into a transposed
 * (non-contiguous) weight. The ids are plain data, not requiring grad. */
static int embedding_inputs(int variant, at_rng *rng, at_tensor **in) {
    int64_t w0[2] = {6, 4}, w1[2] = {4, 5}, i0[2] = {2, 3}, i1[1] = {4};
    int64_t ids0[6] = {1, 5, 1, 0, 3, 1};
    int32_t ids1[4] = {4, 0, 4, 2};
    if (variant == 0) {
        in[0] = at_gc_randn(rng, true, 2, w0);
        in[1] = at_from_data(AT_I64, 2, i0, ids0);
    } else {
        in[0] = at_gc_randn(rng, true, 2, w1);
        in[1] = at_from_data(AT_I32, 1, i1, ids1);
    }
    return in[0] && in[1] ? 2 : -1;
}

static at_tensor *embedding_forward(int variant, at_tensor **in) {
    if (variant == 0) return at_embedding(in[0], in[1]);
    at_tensor *wt = at_transpose(in[0], 0, 1); /* (5, 4) */
    at_tensor *r = wt ? at_embedding(wt, in[1]) : NULL;
    at_release(wt);
    return r;
}

/* Variants: 0 three tensors on dim 1; 1 their transposed views on dim -2;
 * 2 eleven tensors (repeats of three leaves), past the node's input limit. */
static int concat_inputs(int variant, at_rng *rng, at_tensor **in) {
    (void)variant;
    int64_t s[3][2] = {{2, 3}, {2, 1}, {2, 4}};
    for (int i = 0; i < 3; i++)
        if (!(in[i] = at_gc_randn(rng, true, 2, s[i]))) return -1;
    return 3;
}

static at_tensor *concat_forward(int variant, at_tensor **in) {
    if (variant == 0) return at_concat(3, in, 1);
    if (variant == 2) {
        at_tensor *ts[11];
        for (int i = 0; i < 11; i++) ts[i] = in[i % 3];
        return at_concat(11, ts, -1);
    }
    at_tensor *ts[3] = {0};
    at_tensor *r = NULL;
    for (int i = 0; i < 3; i++)
        if (!(ts[i] = at_transpose(in[i], 0, 1))) goto done;
    r = at_concat(3, ts, -2);
done:
    for (int i = 0; i < 3; i++) at_release(ts[i]);
    return r;
}

const at_op_def at_op_embedding = {"embedding", embedding_backward, {2, embedding_inputs, embedding_forward}};
const at_op_def at_op_concat = {"concat", concat_backward, {3, concat_inputs, concat_forward}};

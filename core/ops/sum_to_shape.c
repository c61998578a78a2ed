/* Summing a gradient down to a shape: the backward of broadcasting, used by
 * the elementwise ops and expand. It builds on the sum kernel (reduce.c)
 * and on tensor headers only, so the ops that call it never call back. */
#include <stdio.h>

#include "ops_internal.h"

static char *dims_str(int ndim, const int64_t *shape, char *buf, size_t size) {
    size_t at = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && at < size; i++)
        at += (size_t)snprintf(buf + at, size - at, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (at < size) snprintf(buf + at, size - at, "]");
    return buf;
}

at_tensor *at_sum_to_shape(const at_tensor *g, int ndim, const int64_t *shape) {
    char a[128], b[128];
    if (at_check_float("sum_to_shape", g)) return NULL;
    /* target dims aligned to g's trailing dims; the missing leading ones are 1 */
    int64_t target[AT_MAX_DIMS];
    int lead = g->ndim - ndim;
    bool ok = ndim >= 0 && lead >= 0;
    for (int d = 0; ok && d < g->ndim; d++) {
        target[d] = d < lead ? 1 : shape[d - lead];
        ok = target[d] == g->shape[d] || target[d] == 1;
    }
    if (!ok) {
        at_set_error("sum_to_shape: cannot sum %s to %s", at_shape_str(g, a, sizeof a),
                     dims_str(ndim < 0 ? 0 : ndim, shape, b, sizeof b));
        return NULL;
    }
    bool was = at_set_grad_enabled(false), summed = false;
    at_tensor *x = at_is_contiguous(g) ? at_detach(g) : at_clone_data(g);
    /* One pass per run of adjacent dims to sum (size-1 dims join either side). */
    for (int d = 0; x && d < x->ndim;) {
        if (target[d] != 1 || x->shape[d] == 1) {
            d++;
            continue;
        }
        int end = d;
        while (end < x->ndim && target[end] == 1) end++;
        at_tensor *s = at_sum_dims(x, d, end);
        at_release(x);
        x = s;
        d = end;
        summed = true;
    }
    if (x && !summed && x->storage == g->storage) { /* the result must not share g's storage */
        at_tensor *c = at_clone_data(x);
        at_release(x);
        x = c;
    }
    /* x is contiguous with g's numel: the target shape is a header on it. */
    int64_t stride[AT_MAX_DIMS];
    at_contiguous_strides(ndim, shape, stride);
    at_tensor *out = x ? at_from_storage(x->storage, x->dtype, ndim, shape, stride, x->offset) : NULL;
    at_release(x);
    at_set_grad_enabled(was);
    return out;
}

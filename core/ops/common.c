/* Checks and small helpers shared by the op implementations. */
#include "ops_internal.h"

int at_check_float(const char *op, const at_tensor *t) {
    if (!t) {
        at_set_error("%s: tensor is NULL", op);
        return -1;
    }
    if (t->dtype != AT_F32 && t->dtype != AT_F64) {
        char buf[128];
        at_set_error("%s: expected an f32 or f64 tensor, got %s %s", op,
                     at_dtype_name(t->dtype), at_shape_str(t, buf, sizeof buf));
        return -1;
    }
    if (!t->storage || (t->storage->device != AT_CPU && t->storage->device != AT_CUDA)) {
        char buf[128];
        at_set_error("%s: expected a CPU or CUDA tensor, got %s %s elsewhere", op,
                     at_dtype_name(t->dtype), at_shape_str(t, buf, sizeof buf));
        return -1;
    }
    return 0;
}

int at_check_same_dtype(const char *op, const at_tensor *a, const at_tensor *b) {
    if (at_device_of(a) != at_device_of(b)) {
        char sa[128], sb[128];
        at_set_error("%s: tensors on different devices: %s %s on %s and %s %s on %s (move one with to_device)", op,
                     at_dtype_name(a->dtype), at_shape_str(a, sa, sizeof sa), at_device_name(at_device_of(a)),
                     at_dtype_name(b->dtype), at_shape_str(b, sb, sizeof sb), at_device_name(at_device_of(b)));
        return -1;
    }
    if (a->dtype == b->dtype) return 0;
    char sa[128], sb[128];
    at_set_error("%s: dtypes differ: %s %s and %s %s", op, at_dtype_name(a->dtype),
                 at_shape_str(a, sa, sizeof sa), at_dtype_name(b->dtype),
                 at_shape_str(b, sb, sizeof sb));
    return -1;
}

int at_broadcast_shape(const char *op, const at_tensor *a, const at_tensor *b,
                       int *out_ndim, int64_t *out_shape) {
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    /* Align trailing dims; a missing leading dim counts as size 1. */
    for (int i = 0; i < nd; i++) {
        int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
        int64_t da = ia >= 0 ? a->shape[ia] : 1;
        int64_t db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[128], sb[128];
            at_set_error("%s: shapes %s and %s do not broadcast", op,
                         at_shape_str(a, sa, sizeof sa), at_shape_str(b, sb, sizeof sb));
            return -1;
        }
        out_shape[i] = da == 1 ? db : da;
    }
    *out_ndim = nd;
    return 0;
}

void at_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride) {
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        stride[i] = s;
        s *= shape[i];
    }
}

at_tensor *at_gc_randn(at_rng *rng, bool requires_grad, int ndim, const int64_t *shape) {
    at_tensor *t = at_randn(rng, AT_F64, ndim, shape);
    if (t && requires_grad && at_set_requires_grad(t, true) != 0) {
        at_release(t);
        return NULL;
    }
    return t;
}

int at_norm_dim(const char *op, int dim, int ndim) {
    int d = dim < 0 ? dim + ndim : dim;
    if (d < 0 || d >= ndim) {
        at_set_error("%s: dim %d out of range for a %d-dim tensor", op, dim, ndim);
        return -1;
    }
    return d;
}

/* where(mask, a, b): a where the u8 mask is nonzero, b elsewhere, all three
 * broadcast together (masked fill is where with a 0-dim a). The gradient of
 * a is g where the mask is set, of b where it is not, each summed back to
 * its input's shape. CPU only, element by element through the strided views:
 * the op's CUDA slot stays empty, so a GPU input gets the one "no CUDA
 * kernel" error naming it. */
#include "ops_internal.h"
#include "kernels.h"

/* The three inputs' common shape into nd, shape. */
static int where_shape(const at_tensor *mask, const at_tensor *a, const at_tensor *b, int *nd, int64_t *shape) {
    int nab;
    int64_t ab[AT_MAX_DIMS];
    if (at_broadcast_shape("where", a, b, &nab, ab)) return -1;
    at_tensor *like = at_empty_uninit(AT_U8, nab, ab);
    int rc = like ? at_broadcast_shape("where", mask, like, nd, shape) : -1;
    at_release(like);
    return rc;
}

/* out[i] = mask[i] ? a[i] : b[i] over the broadcast shape; a or b may be
 * NULL for zero. Views are made with autograd off: only the op is recorded.
 * Values pass through f64, exact for floats and for integers up to 2^53. */
static at_tensor *select_by_mask(const at_tensor *mask, const at_tensor *a, const at_tensor *b, at_dtype dtype,
                                 int nd, const int64_t *shape) {
    bool was = at_set_grad_enabled(false);
    at_tensor *m = at_expand((at_tensor *)mask, nd, shape);
    at_tensor *x = a ? at_expand((at_tensor *)a, nd, shape) : NULL;
    at_tensor *y = b ? at_expand((at_tensor *)b, nd, shape) : NULL;
    at_tensor *picked = m && (x || !a) && (y || !b) ? at_empty(AT_F64, nd, shape) : NULL;
    at_set_grad_enabled(was);
    double *p = picked ? at_data(picked) : NULL;
    for (int64_t i = 0; p && i < at_numel(picked); i++) {
        const at_tensor *src = at_get_linear(m, i) != 0 ? x : y;
        p[i] = src ? at_get_linear(src, i) : 0;
    }
    at_tensor *out = picked ? at_empty(dtype, nd, shape) : NULL;
    if (out && at_copy_(out, picked)) at_release(out), out = NULL;
    at_release(picked);
    at_release(m);
    at_release(x);
    at_release(y);
    return out;
}

at_tensor *at_where(const at_tensor *mask, at_tensor *a, at_tensor *b) {
    if ((at_on_cuda(mask) || at_on_cuda(a) || at_on_cuda(b)) && !at_op_kernels(&at_op_where, AT_CUDA)) return NULL;
    if (mask->dtype != AT_U8) {
        at_set_error("where: the mask must be u8 (as comparisons give), got %s", at_dtype_name(mask->dtype));
        return NULL;
    }
    if (at_check_same_dtype("where", a, b)) return NULL;
    int nd;
    int64_t shape[AT_MAX_DIMS];
    if (where_shape(mask, a, b, &nd, shape)) return NULL;
    at_tensor *out = select_by_mask(mask, a, b, a->dtype, nd, shape);
    at_tensor *ins[2] = {a, b};
    at_node *n = at_record(&at_op_where, out, 2, ins);
    if (n) n->saved[0] = at_detach(mask);
    return out;
}

/* g where the mask is (not) set, summed to like's shape. */
static at_tensor *masked_grad(const at_tensor *mask, const at_tensor *g, bool where_set, const at_tensor *like) {
    at_tensor *part = select_by_mask(mask, where_set ? g : NULL, where_set ? NULL : g, g->dtype, g->ndim, g->shape);
    if (!part || at_same_shape(part, like)) return part;
    at_tensor *summed = at_sum_to_shape(part, like->ndim, like->shape);
    at_release(part);
    return summed;
}

static int where_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    for (int i = 0; i < 2; i++)
        if (n->needs_grad[i] && !(gin[i] = masked_grad(n->saved[0], g, i == 0, n->inputs[i]))) {
            at_release(gin[0]);
            gin[0] = NULL;
            return -1;
        }
    return 0;
}

/* Variants: three (3, 4) tensors; a (3, 1) mask with a row a and a 0-dim b
 * (the masked-fill shape). The mask is a fixed pattern, not an input to
 * perturb. */
static int where_inputs(int variant, at_rng *rng, at_tensor **in) {
    int64_t full[2] = {3, 4}, col[2] = {3, 1}, row[1] = {4};
    in[0] = at_empty(AT_U8, 2, variant ? col : full);
    in[1] = at_gc_randn(rng, true, variant ? 1 : 2, variant ? row : full);
    in[2] = at_gc_randn(rng, true, variant ? 0 : 2, full);
    if (!in[0] || !in[1] || !in[2]) return -1;
    uint8_t *m = at_data(in[0]);
    for (int64_t i = 0; i < at_numel(in[0]); i++) m[i] = i % 3 == 1;
    return 3;
}

static at_tensor *where_case(int variant, at_tensor **in) {
    (void)variant;
    return at_where(in[0], in[1], in[2]);
}

const at_op_def at_op_where = {"where", where_backward, {2, where_inputs, where_case}};

/* Activation recomputation: a block's forward with no graph, run again in
 * the backward pass. Trades one more forward of the block for the memory of
 * everything it would have stored. */
#include "ops_internal.h"

#include <stdlib.h>

typedef struct {
    at_block_fn fn;
    void *ctx;
    void (*ctx_free)(void *);
    bool has_rng;
} block;

static void block_free(void *p) {
    block *b = p;
    if (b->ctx_free) b->ctx_free(b->ctx);
    free(b);
}

at_tensor *at_checkpoint(at_block_fn fn, void *ctx, void (*ctx_free)(void *), at_rng *rng, int n,
                         at_tensor *const *inputs) {
    if (n < 1 || n > AT_NODE_MAX_INPUTS) {
        at_set_error("checkpoint: a block takes 1 to %d inputs, got %d", AT_NODE_MAX_INPUTS, n);
        if (ctx_free) ctx_free(ctx);
        return NULL;
    }
    if (!at_any_requires_grad(n, inputs)) {
        at_tensor *out = fn(ctx, inputs, rng);
        if (ctx_free) ctx_free(ctx);
        return out;
    }
    block *b = malloc(sizeof *b);
    if (!b) {
        at_set_error("checkpoint: out of memory");
        if (ctx_free) ctx_free(ctx);
        return NULL;
    }
    *b = (block){fn, ctx, ctx_free, rng != NULL};
    at_rng before = rng ? *rng : (at_rng){0};
    bool was = at_set_grad_enabled(false);
    at_tensor *out = fn(ctx, inputs, rng);
    at_set_grad_enabled(was);
    for (int i = 0; out && i < n; i++) {
        if (out == inputs[i] || (out->storage == inputs[i]->storage)) {
            /* The node would be attached to (a view of) an input. */
            at_set_error("checkpoint: the block returned (a view of) its input %d; it must make a new tensor", i);
            at_release(out);
            out = NULL;
        }
    }
    at_node *node = out ? at_record(&at_op_checkpoint, out, n, inputs) : NULL;
    if (!node) {
        block_free(b);
        return out;
    }
    node->ctx = b, node->ctx_free = block_free;
    node->seed = before.seed, node->counter = before.counter;
    return out;
}

/* Runs the block again from detached copies of its inputs, with grad on and
 * the generator as it was, and back-propagates grad_out through that graph:
 * the parameters' gradients accumulate as in the stored graph, and the
 * inputs' gradients are what reached the copies. */
static int checkpoint_backward(at_node *node, const at_tensor *grad_out, at_tensor **grad_in) {
    const block *b = node->ctx;
    at_tensor *leaves[AT_NODE_MAX_INPUTS] = {0}, *out = NULL;
    int rc = -1;
    for (int i = 0; i < node->n_inputs; i++) {
        if (!(leaves[i] = at_detach(node->inputs[i]))) goto done;
        if (node->needs_grad[i]) leaves[i]->requires_grad = true;
    }
    at_rng rng = {node->seed, node->counter};
    bool was = at_set_grad_enabled(true);
    out = b->fn(b->ctx, leaves, b->has_rng ? &rng : NULL);
    rc = !out ? -1 : out->requires_grad ? at_backward(out, grad_out) : 0;
    at_set_grad_enabled(was);
    for (int i = 0; rc == 0 && i < node->n_inputs; i++) {
        if (!node->needs_grad[i]) continue;
        at_tensor *in = node->inputs[i], *g = leaves[i]->grad;
        if (g) at_retain(g);
        else g = at_full_on(at_device_of(in), in->dtype, in->ndim, in->shape, 0.0); /* no path from it */
        if (!(grad_in[i] = g)) rc = -1;
    }
done:
    at_release(out);
    for (int i = 0; i < node->n_inputs; i++) at_release(leaves[i]);
    return rc;
}

/* ---- gradient check ---- */

/* The block: dropout(x·w + y)·w, with w a parameter the block holds (so
 * its gradient reaches w directly, not through the node). */
static at_tensor *case_block(void *ctx, at_tensor *const *in, at_rng *rng) {
    at_tensor *w = ctx, *xw = at_matmul(in[0], w), *sum = xw ? at_add(xw, in[1]) : NULL;
    at_tensor *dropped = sum ? at_dropout(sum, 0.4, true, rng) : NULL;
    at_tensor *out = dropped ? at_matmul(dropped, w) : NULL;
    at_release(xw);
    at_release(sum);
    at_release(dropped);
    return out;
}

static void release_tensor(void *t) { at_release(t); }

/* Variants: 0 x, y and w all require grad; 1 y is plain data, and x a
 * transposed (non-contiguous) view. */
static int checkpoint_inputs(int variant, at_rng *rng, at_tensor **in) {
    int64_t xs[2] = {3, 4}, ws[2] = {4, 4};
    in[0] = at_gc_randn(rng, true, 2, variant == 1 ? (int64_t[2]){4, 3} : xs);
    in[1] = at_gc_randn(rng, variant == 0, 2, xs);
    in[2] = at_gc_randn(rng, true, 2, ws);
    return in[0] && in[1] && in[2] ? 3 : -1;
}

/* A fresh generator on every call, so each finite-difference evaluation
 * draws the same mask. */
static at_tensor *checkpoint_case(int variant, at_tensor **in) {
    at_rng rng = at_rng_new(20261207);
    at_tensor *x = variant == 1 ? at_transpose(in[0], 0, 1) : (at_retain(in[0]), in[0]);
    if (!x) return NULL;
    at_tensor *inputs[2] = {x, in[1]};
    at_retain(in[2]);
    at_tensor *out = at_checkpoint(case_block, in[2], release_tensor, &rng, 2, inputs);
    at_release(x);
    return out;
}

const at_op_def at_op_checkpoint = {"checkpoint", checkpoint_backward, {2, checkpoint_inputs, checkpoint_case}};

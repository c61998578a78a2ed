/* Reverse-mode autograd.
 *
 * An op whose inputs require grad attaches an at_node to its output. The node
 * keeps its inputs alive, plus whatever the backward needs (saved tensors and
 * scalar parameters). Saved copies of an op's own output must be made with
 * at_detach, so a node never references the tensor that references it.
 *
 * at_backward walks the graph from a scalar in reverse topological order and
 * accumulates into .grad of leaves that require grad. Inputs that need no
 * gradient are skipped: node->needs_grad[i] is false and the backward leaves
 * grad_in[i] NULL without computing it.
 */
#ifndef AAPMT_AUTOGRAD_H
#define AAPMT_AUTOGRAD_H

#include "tensor.h"
#include "rng.h"

#define AT_NODE_MAX_INPUTS 8
#define AT_NODE_MAX_SAVED 5

/* Gradient-check case for one op, run by tests/test_gradcheck.c in float64.
 * make_inputs fills inputs (f64 leaves; set requires_grad on those to check)
 * and returns their count; forward applies the op (it may wrap inputs in
 * views first, to exercise non-contiguous strides) and returns a new tensor. */
typedef struct at_gradcheck {
    int variants;
    int (*make_inputs)(int variant, at_rng *rng, at_tensor **inputs);
    at_tensor *(*forward)(int variant, at_tensor **inputs);
} at_gradcheck;

typedef struct at_op_def {
    const char *name;
    /* Sets grad_in[i] (a new reference) for each i with node->needs_grad[i];
     * returns 0, or -1 with at_set_error. grad_out has the output's shape. */
    int (*backward)(at_node *node, const at_tensor *grad_out, at_tensor **grad_in);
    at_gradcheck check;
} at_op_def;

struct at_node {
    int refcount;
    const at_op_def *op;
    int n_inputs;
    at_tensor *inputs[AT_NODE_MAX_INPUTS];
    bool needs_grad[AT_NODE_MAX_INPUTS];
    at_tensor *saved[AT_NODE_MAX_SAVED];
    double fparam[4];
    int64_t iparam[2 * AT_MAX_DIMS + 2];
    uint64_t seed, counter; /* for random ops (dropout) */
    /* State an op owns beyond tensors and numbers (the checkpoint's block),
     * freed with the node by ctx_free. */
    void *ctx;
    void (*ctx_free)(void *ctx);
};

/* ---- grad mode ---- */
bool at_grad_enabled(void);
bool at_set_grad_enabled(bool enabled);   /* returns the previous mode (thread-local) */

/* True when grad is enabled and some input requires grad. */
bool at_any_requires_grad(int n, at_tensor *const *inputs);

/* Attaches a node for op to out if grad is enabled and an input requires grad;
 * returns the node (for the op to fill saved/params) or NULL when none is
 * needed. NULL inputs are allowed (optional arguments). Fails (returns NULL and
 * sets out to need no grad) only on an unregistered op, which at_record_failed
 * reports. */
at_node *at_record(const at_op_def *op, at_tensor *out, int n, at_tensor *const *inputs);

/* Runs backward from a one-element tensor (seed gradient 1), or with an
 * explicit seed gradient of the root's shape. Returns 0 or -1. */
int at_backward(at_tensor *root, const at_tensor *seed_grad);

void at_node_retain(at_node *n);
void at_node_release(at_node *n);

/* Sets requires_grad on a leaf; errors on a non-leaf or non-float tensor. */
int at_set_requires_grad(at_tensor *t, bool requires_grad);
/* Drops the accumulated gradient. */
void at_zero_grad(at_tensor *t);

/* ---- op registry (core/ops/op_list.h) ---- */
int at_op_count(void);
const at_op_def *at_op_at(int i);
bool at_op_registered(const at_op_def *op);
/* The op's position in the table; -1 for an op not in AT_OP_LIST. */
int at_op_index(const at_op_def *op);
/* Whether the op is in AT_OP_GENERIC_LIST: it runs only device services and
 * other ops, so it needs no kernel slot (core/ops/kernels.h). */
bool at_op_is_generic(const at_op_def *op);

#endif

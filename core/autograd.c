/* Reverse-mode autograd, the part ops call: grad mode and recording nodes.
 * Running backward (backward.c) calls the ops, so it lives apart. */
#include "autograd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local bool grad_disabled;

bool at_grad_enabled(void) { return !grad_disabled; }

bool at_set_grad_enabled(bool enabled) {
    bool was = !grad_disabled;
    grad_disabled = !enabled;
    return was;
}

bool at_any_requires_grad(int n, at_tensor *const *inputs) {
    if (grad_disabled) return false;
    for (int i = 0; i < n; i++)
        if (inputs[i] && inputs[i]->requires_grad) return true;
    return false;
}

at_node *at_record(const at_op_def *op, at_tensor *out, int n, at_tensor *const *inputs) {
    if (!out || !at_any_requires_grad(n, inputs)) return NULL;
    if (!at_op_registered(op) || n > AT_NODE_MAX_INPUTS) {
        /* A programming error in the engine, not bad input: every op must be
         * listed in op_list.h so that the gradient-check table covers it. */
        fprintf(stderr, "aapmt: internal error: op '%s' is not in AT_OP_LIST\n", op->name);
        abort();
    }
    at_node *node = calloc(1, sizeof *node);
    if (!node) {
        fprintf(stderr, "aapmt: out of memory recording op '%s'\n", op->name);
        abort();
    }
    node->refcount = 1;
    node->op = op;
    node->n_inputs = n;
    for (int i = 0; i < n; i++) {
        node->inputs[i] = inputs[i];
        if (inputs[i]) {
            at_retain(inputs[i]);
            node->needs_grad[i] = inputs[i]->requires_grad;
        }
    }
    out->requires_grad = true;
    out->grad_fn = node;
    return node;
}

int at_set_requires_grad(at_tensor *t, bool requires_grad) {
    if (t->grad_fn) {
        at_set_error("requires_grad: only leaf tensors can change it (this one was made by '%s')",
                     t->grad_fn->op->name);
        return -1;
    }
    if (requires_grad && t->dtype != AT_F32 && t->dtype != AT_F64) {
        at_set_error("requires_grad: only f32 and f64 tensors can require grad, not %s",
                     at_dtype_name(t->dtype));
        return -1;
    }
    t->requires_grad = requires_grad;
    return 0;
}

void at_zero_grad(at_tensor *t) {
    at_release(t->grad);
    t->grad = NULL;
}

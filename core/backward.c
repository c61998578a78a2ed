/* Reverse-mode autograd: running backward over the recorded graph. */
#include "autograd.h"
#include "ops.h"

#include <stdlib.h>
#include <string.h>

/* The graph in topological order, with each node's accumulated output grad. */
typedef struct {
    at_node **nodes;
    at_tensor **grads;
    int count, cap;
} graph;

static int graph_find(const graph *g, const at_node *n) {
    for (int i = g->count - 1; i >= 0; i--) /* recent nodes are the likely hits */
        if (g->nodes[i] == n) return i;
    return -1;
}

static int graph_push(graph *g, at_node *n) {
    if (g->count == g->cap) {
        int cap = g->cap ? 2 * g->cap : 64;
        at_node **nodes = realloc(g->nodes, (size_t)cap * sizeof *nodes);
        if (nodes) g->nodes = nodes;
        at_tensor **grads = realloc(g->grads, (size_t)cap * sizeof *grads);
        if (grads) g->grads = grads;
        if (!nodes || !grads) return -1;
        g->cap = cap;
    }
    g->nodes[g->count] = n;
    g->grads[g->count] = NULL;
    return g->count++;
}

/* Post-order DFS without recursion (graphs of deep models are thousands of
 * nodes long). Visited marks live in a hash set keyed by node address. */
typedef struct { at_node **slots; size_t cap; } node_set;

static bool set_insert(node_set *s, at_node *n) {
    size_t h = ((uintptr_t)n >> 4) * 0x9E3779B97F4A7C15ull % s->cap;
    while (s->slots[h]) {
        if (s->slots[h] == n) return false;
        h = (h + 1) % s->cap;
    }
    s->slots[h] = n;
    return true;
}

static int topo_sort(at_node *root, graph *g) {
    size_t cap = 1024, depth = 0, stack_cap = 256;
    node_set seen = {calloc(cap, sizeof(at_node *)), cap};
    struct frame { at_node *n; int next; } *stack = malloc(stack_cap * sizeof *stack);
    if (!seen.slots || !stack) goto oom;
    set_insert(&seen, root);
    stack[depth++] = (struct frame){root, 0};
    while (depth) {
        struct frame *f = &stack[depth - 1];
        if (f->next == f->n->n_inputs) {
            if (graph_push(g, f->n) < 0) goto oom;
            depth--;
            continue;
        }
        int i = f->next++;
        at_tensor *in = f->n->inputs[i];
        if (!f->n->needs_grad[i] || !in->grad_fn) continue;
        if ((size_t)g->count * 2 + depth * 2 + 2 >= seen.cap) { /* keep the set under half full */
            node_set bigger = {calloc(seen.cap * 4, sizeof(at_node *)), seen.cap * 4};
            if (!bigger.slots) goto oom;
            for (size_t k = 0; k < seen.cap; k++)
                if (seen.slots[k]) set_insert(&bigger, seen.slots[k]);
            free(seen.slots);
            seen = bigger;
        }
        if (!set_insert(&seen, in->grad_fn)) continue;
        if (depth == stack_cap) {
            stack_cap *= 2;
            void *p = realloc(stack, stack_cap * sizeof *stack);
            if (!p) goto oom;
            stack = p;
        }
        stack[depth++] = (struct frame){in->grad_fn, 0};
    }
    free(seen.slots);
    free(stack);
    return 0;
oom:
    free(seen.slots);
    free(stack);
    at_set_error("backward: out of memory sorting the graph");
    return -1;
}

/* *acc += g, taking ownership of g. */
static int accumulate(at_tensor **acc, at_tensor *g) {
    if (!*acc) {
        *acc = g;
        return 0;
    }
    at_tensor *sum = at_add(*acc, g);
    at_release(g);
    if (!sum) return -1;
    at_release(*acc);
    *acc = sum;
    return 0;
}

static int check_grad(const at_node *n, int i, const at_tensor *gin) {
    const at_tensor *in = n->inputs[i];
    if (gin && at_same_shape(gin, in) && gin->dtype == in->dtype) return 0;
    char a[128], b[128];
    at_set_error("backward of '%s': gradient for input %d is %s %s, the input is %s %s", n->op->name, i,
                 gin ? at_dtype_name(gin->dtype) : "missing", gin ? at_shape_str(gin, a, sizeof a) : "",
                 at_dtype_name(in->dtype), at_shape_str(in, b, sizeof b));
    return -1;
}

static int run_node(graph *g, int k) {
    at_node *n = g->nodes[k];
    at_tensor *gin[AT_NODE_MAX_INPUTS] = {0};
    if (n->op->backward(n, g->grads[k], gin)) {
        for (int i = 0; i < n->n_inputs; i++) at_release(gin[i]); /* any set before the failure */
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n->n_inputs; i++) {
        if (!n->needs_grad[i]) {
            at_release(gin[i]);
            continue;
        }
        if (rc || check_grad(n, i, gin[i])) {
            rc = -1;
            at_release(gin[i]);
            continue;
        }
        at_tensor *in = n->inputs[i];
        if (in->grad_fn) {
            int j = graph_find(g, in->grad_fn);
            rc = accumulate(&g->grads[j], gin[i]);
        } else {
            rc = accumulate(&in->grad, gin[i]);
        }
    }
    return rc;
}

int at_backward(at_tensor *root, const at_tensor *seed_grad) {
    if (!root->requires_grad) {
        at_set_error("backward: the tensor does not require grad (no input of it requires grad)");
        return -1;
    }
    char a[128], b[128];
    if (seed_grad && !at_same_shape(seed_grad, root)) {
        at_set_error("backward: seed gradient of shape %s for a tensor of shape %s",
                     at_shape_str(seed_grad, a, sizeof a), at_shape_str(root, b, sizeof b));
        return -1;
    }
    if (!seed_grad && at_numel(root) != 1) {
        at_set_error("backward: needs a one-element tensor (or a seed gradient), got shape %s",
                     at_shape_str(root, a, sizeof a));
        return -1;
    }
    bool was = at_set_grad_enabled(false);
    int rc = -1;
    at_tensor *seed = seed_grad ? at_to_dtype((at_tensor *)seed_grad, root->dtype)
                                : at_full_on(at_device_of(root), root->dtype, root->ndim, root->shape, 1.0);
    if (!seed) goto done;
    if (!root->grad_fn) { /* a leaf: its gradient is the seed */
        rc = accumulate(&root->grad, seed);
        goto done;
    }
    graph g = {0};
    rc = topo_sort(root->grad_fn, &g);
    if (rc == 0) {
        g.grads[g.count - 1] = seed; /* the root comes last in post-order */
        seed = NULL;
        for (int k = g.count - 1; k >= 0 && rc == 0; k--) {
            rc = run_node(&g, k);
            at_release(g.grads[k]);
            g.grads[k] = NULL;
        }
    }
    for (int k = 0; k < g.count; k++) at_release(g.grads[k]);
    free(g.nodes);
    free(g.grads);
    at_release(seed);
done:
    at_set_grad_enabled(was);
    return rc;
}

/* Small helpers shared by the model files (not a public header). */
#ifndef AAPMT_MODEL_STEPS_H
#define AAPMT_MODEL_STEPS_H

#include "../tensor.h"

/* Replaces *t by next, releasing the old tensor: a forward pass reads as a
 * chain `if (!ir_step(&x, at_op(x, ...))) goto fail;` and holds each
 * activation only as long as it is needed. The argument is evaluated before
 * the old tensor goes, so next may be computed from it. */
static inline at_tensor *ir_step(at_tensor **t, at_tensor *next) {
    at_release(*t);
    *t = next;
    return next;
}

/* t moved to the device of like (t is released): the small masks and
 * constants a model builds on the host follow the activations to the GPU. */
static inline at_tensor *ir_on_device_of(at_tensor *t, const at_tensor *like) {
    if (!t || at_device_of(t) == at_device_of(like)) return t;
    at_tensor *moved = at_to_device(t, at_device_of(like));
    at_release(t);
    return moved;
}

/* A host copy of t to read element by element (t itself, retained, on the host). */
static inline at_tensor *ir_on_host(at_tensor *t) {
    if (!at_on_cuda(t)) {
        at_retain(t);
        return t;
    }
    return at_to_device(t, AT_CPU);
}

/* Retains (or releases) each tensor of a struct made only of tensor
 * pointers, such as a block's parameters: a recomputed block holds its own
 * references until its backward has run. */
static inline void ir_retain_all(void *tensors, size_t bytes) {
    at_tensor **t = tensors;
    for (size_t i = 0; i < bytes / sizeof *t; i++)
        if (t[i]) at_retain(t[i]);
}

static inline void ir_release_all(void *tensors, size_t bytes) {
    at_tensor **t = tensors;
    for (size_t i = 0; i < bytes / sizeof *t; i++) at_release(t[i]);
}

#endif

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

#endif

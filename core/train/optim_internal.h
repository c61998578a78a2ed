/* The optimizer's private layout, shared by optim.c (the update) and
 * optim_state.c (checkpointing the state). */
#ifndef AAPMT_TRAIN_OPTIM_INTERNAL_H
#define AAPMT_TRAIN_OPTIM_INTERNAL_H

#include "optim.h"

/* One parameter's state, created at its first update (torch's lazy init). */
typedef struct {
    at_tensor *exp_avg, *exp_avg_sq, *max_exp_avg_sq, *momentum_buffer;
    int64_t step;
    bool started;   /* state exists: the parameter has been updated at least once */
} param_state;

struct at_optim {
    at_optim_config cfg;
    int n;
    at_tensor **params;
    param_state *state;
};

/* Which state tensors a config keeps. */
static inline bool needs_adam_state(const at_optim_config *c) { return c->kind != AT_OPTIM_SGD; }
static inline bool needs_max_state(const at_optim_config *c) { return c->kind != AT_OPTIM_SGD && c->amsgrad; }
static inline bool needs_momentum_state(const at_optim_config *c) {
    return c->kind == AT_OPTIM_SGD && c->momentum != 0;
}

/* Releases the state's tensors and marks it as never started. */
void at_optim_state_clear(param_state *s);

#endif

/* Learning-rate schedules: the lr to use for optimizer step `step`, counted
 * from 0 (the number of steps already taken), as a PyTorch LambdaLR gives it
 * when scheduler.step() follows each optimizer.step():
 *     lr(step) = base_lr * lambda(step).
 *
 * Every kind starts with an optional linear warmup from 0:
 *     step < warmup:  lr = base_lr * step / warmup
 * (so the first step has lr 0, as in transformers' get_*_schedule_with_warmup).
 * After it, with t = step - warmup and span = max(1, total - warmup):
 *     constant:  base_lr
 *     cosine:    min_lr + (base_lr - min_lr) * 0.5 * (1 + cos(pi * min(1, t / span)))
 *     linear:    min_lr + (base_lr - min_lr) * max(0, (total - step) / span)
 *     step:      base_lr * gamma ^ floor(t / step_size)          (StepLR)
 * With min_lr 0, cosine and linear equal transformers'
 * get_cosine_schedule_with_warmup (num_cycles 0.5) and
 * get_linear_schedule_with_warmup up to `total`; past it cosine stays at
 * min_lr instead of rising again. */
#ifndef AAPMT_TRAIN_SCHEDULE_H
#define AAPMT_TRAIN_SCHEDULE_H

#include <stdint.h>

typedef enum { AT_LR_CONSTANT, AT_LR_COSINE, AT_LR_LINEAR, AT_LR_STEP } at_lr_kind;

typedef struct at_lr_schedule {
    at_lr_kind kind;
    double base_lr;
    double min_lr;          /* cosine, linear: the floor reached at total */
    int64_t warmup;         /* steps of linear warmup (0: none) */
    int64_t total;          /* cosine, linear: the step where decay ends */
    int64_t step_size;      /* step: steps between decays */
    double gamma;           /* step: the factor at each decay */
} at_lr_schedule;

/* Checks the fields (-1 with an error naming the field): lrs >= 0 and finite,
 * warmup >= 0, total > warmup for cosine and linear, step_size >= 1 and gamma
 * >= 0 for step. */
int at_lr_schedule_check(const at_lr_schedule *s);
/* The lr for 0-based step `step` (negative steps count as 0). */
double at_lr_at(const at_lr_schedule *s, int64_t step);
/* "constant", "cosine", "linear", "step" → kind; -1 if unknown. */
int at_lr_kind_from_name(const char *name);
const char *at_lr_kind_name(at_lr_kind kind);

#endif

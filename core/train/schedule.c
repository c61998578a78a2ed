/* Learning-rate schedules (formulas in schedule.h). */
#include "schedule.h"

#include <math.h>
#include <string.h>

#include "../tensor.h"

static const char *const kind_names[] = {"constant", "cosine", "linear", "step"};

const char *at_lr_kind_name(at_lr_kind kind) {
    return kind >= AT_LR_CONSTANT && kind <= AT_LR_STEP ? kind_names[kind] : "?";
}

int at_lr_kind_from_name(const char *name) {
    for (int k = AT_LR_CONSTANT; k <= AT_LR_STEP; k++)
        if (name && !strcmp(name, kind_names[k])) return k;
    return -1;
}

int at_lr_schedule_check(const at_lr_schedule *s) {
    const char *k = at_lr_kind_name(s->kind);
    if (s->kind < AT_LR_CONSTANT || s->kind > AT_LR_STEP)
        return at_set_error("lr schedule: unknown kind %d", (int)s->kind), -1;
    if (!(s->base_lr >= 0) || !isfinite(s->base_lr))
        return at_set_error("lr schedule %s: base_lr must be finite and >= 0, got %g", k, s->base_lr), -1;
    if (s->warmup < 0) {
        at_set_error("lr schedule %s: warmup must be >= 0, got %lld", k, (long long)s->warmup);
        return -1;
    }
    if (s->kind == AT_LR_COSINE || s->kind == AT_LR_LINEAR) {
        if (!(s->min_lr >= 0) || !isfinite(s->min_lr))
            return at_set_error("lr schedule %s: min_lr must be finite and >= 0, got %g", k, s->min_lr), -1;
        if (s->total <= s->warmup) {
            at_set_error("lr schedule %s: total (%lld steps) must exceed warmup (%lld steps)", k,
                         (long long)s->total, (long long)s->warmup);
            return -1;
        }
    }
    if (s->kind == AT_LR_STEP) {
        if (s->step_size < 1)
            return at_set_error("lr schedule step: step_size must be >= 1, got %lld", (long long)s->step_size), -1;
        if (!(s->gamma >= 0) || !isfinite(s->gamma))
            return at_set_error("lr schedule step: gamma must be finite and >= 0, got %g", s->gamma), -1;
    }
    return 0;
}

double at_lr_at(const at_lr_schedule *s, int64_t step) {
    if (step < 0) step = 0;
    if (step < s->warmup) return s->base_lr * ((double)step / (double)s->warmup);
    int64_t t = step - s->warmup;
    double span = s->total - s->warmup > 1 ? (double)(s->total - s->warmup) : 1.0;
    switch (s->kind) {
    case AT_LR_COSINE: {
        double progress = fmin(1.0, (double)t / span);
        return s->min_lr + (s->base_lr - s->min_lr) * (0.5 * (1.0 + cos(M_PI * progress)));
    }
    case AT_LR_LINEAR:
        return s->min_lr + (s->base_lr - s->min_lr) * fmax(0.0, (double)(s->total - step) / span);
    case AT_LR_STEP:
        return s->base_lr * pow(s->gamma, (double)(t / s->step_size));
    default:
        return s->base_lr;
    }
}

/* The optimizer state as named tensors, for checkpoints (names in optim.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optim_internal.h"

static const char *const field_names[] = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq", "momentum_buffer", "step"};
enum { F_EXP_AVG, F_EXP_AVG_SQ, F_MAX_EXP_AVG_SQ, F_MOMENTUM, F_STEP, N_FIELDS };

static bool field_used(const at_optim_config *c, int f) {
    switch (f) {
    case F_EXP_AVG:
    case F_EXP_AVG_SQ: return needs_adam_state(c);
    case F_MAX_EXP_AVG_SQ: return needs_max_state(c);
    case F_MOMENTUM: return needs_momentum_state(c);
    default: return true;   /* step */
    }
}

static at_tensor **field_slot(param_state *s, int f) {
    switch (f) {
    case F_EXP_AVG: return &s->exp_avg;
    case F_EXP_AVG_SQ: return &s->exp_avg_sq;
    case F_MAX_EXP_AVG_SQ: return &s->max_exp_avg_sq;
    case F_MOMENTUM: return &s->momentum_buffer;
    default: return NULL;
    }
}

int at_optim_state_export(const at_optim *o, at_state_dict *sd, const char *prefix) {
    if (!prefix) prefix = "";
    char name[512];
    for (int i = 0; i < o->n; i++) {
        param_state *s = &o->state[i];
        if (!s->started) continue;
        for (int f = 0; f < N_FIELDS; f++) {
            if (!field_used(&o->cfg, f)) continue;
            snprintf(name, sizeof name, "%s%d.%s", prefix, i, field_names[f]);
            at_tensor *t = f == F_STEP ? at_scalar(AT_I64, (double)s->step) : *field_slot(s, f);
            if (!t) return -1;
            int rc = at_sd_put(sd, name, t);
            if (f == F_STEP) at_release(t);
            if (rc) return -1;
        }
    }
    return 0;
}

/* Parses "<i>.<field>" after the prefix; -1 with an error otherwise. */
static int parse_name(const at_optim *o, const char *full, const char *rest, int *index, int *field) {
    const char *kind = at_optim_kind_name(o->cfg.kind);
    char *end;
    long i = strtol(rest, &end, 10);
    if (end == rest || *end != '.' || i < 0 || i >= o->n || rest[0] == '+' || rest[0] == '-') {
        at_set_error("%s: state entry '%s' does not name a parameter index in 0..%d", kind, full, o->n - 1);
        return -1;
    }
    for (int f = 0; f < N_FIELDS; f++) {
        if (strcmp(end + 1, field_names[f]) || !field_used(&o->cfg, f)) continue;
        *index = (int)i;
        *field = f;
        return 0;
    }
    at_set_error("%s%s: state entry '%s' is not a field of this optimizer", kind,
                 o->cfg.amsgrad ? " (amsgrad)" : "", full);
    return -1;
}

/* A private copy of t in the dtype, shape and device of p (a checkpoint's
 * state is read to the host; a model on the GPU keeps its state there). */
static at_tensor *state_copy(const at_tensor *t, const at_tensor *p, const char *full, const char *kind) {
    if (!at_same_shape(t, p)) {
        char a[128], b[128];
        at_set_error("%s: state entry '%s' has shape %s, the parameter has %s", kind, full,
                     at_shape_str(t, a, sizeof a), at_shape_str(p, b, sizeof b));
        return NULL;
    }
    at_tensor *c = at_empty_uninit_on(at_device_of(p), p->dtype, p->ndim, p->shape);
    if (c && at_copy_(c, t)) {
        at_release(c);
        return NULL;
    }
    return c;
}

int at_optim_state_import(at_optim *o, const at_state_dict *sd, const char *prefix) {
    if (!prefix) prefix = "";
    const char *kind = at_optim_kind_name(o->cfg.kind);
    size_t plen = strlen(prefix);
    param_state *fresh = calloc((size_t)(o->n ? o->n : 1), sizeof *fresh);
    unsigned char *seen = calloc((size_t)(o->n ? o->n : 1), 1);   /* bit f: field f was given */
    if (!fresh || !seen) {
        free(fresh);
        free(seen);
        return at_set_error("%s: out of memory loading the state", kind), -1;
    }
    int rc = 0;
    for (int e = 0; e < sd->count && !rc; e++) {
        const char *full = sd->entries[e].name;
        if (strncmp(full, prefix, plen)) continue;
        int i, f;
        if ((rc = parse_name(o, full, full + plen, &i, &f))) break;
        const at_tensor *t = sd->entries[e].tensor;
        seen[i] |= (unsigned char)(1u << f);
        if (f == F_STEP) {
            double v = at_numel(t) == 1 ? at_get_linear(t, 0) : NAN;
            if (!(v >= 0 && v == floor(v) && v < 9e15)) {
                at_set_error("%s: state entry '%s' must hold one non-negative whole number", kind, full);
                rc = -1;
            } else {
                fresh[i].step = (int64_t)v;
            }
            continue;
        }
        at_tensor **slot = field_slot(&fresh[i], f);
        at_release(*slot);
        if (!(*slot = state_copy(t, o->params[i], full, kind))) rc = -1;
    }
    for (int i = 0; i < o->n && !rc; i++) {
        if (!seen[i]) continue;
        for (int f = 0; f < N_FIELDS; f++) {
            if (field_used(&o->cfg, f) && !(seen[i] & (1u << f))) {
                at_set_error("%s: the state of parameter %d lacks '%s%d.%s'", kind, i, prefix, i, field_names[f]);
                rc = -1;
                break;
            }
        }
        fresh[i].started = true;
    }
    for (int i = 0; i < o->n; i++) {
        if (rc) {
            at_optim_state_clear(&fresh[i]);
            continue;
        }
        at_optim_state_clear(&o->state[i]);
        o->state[i] = fresh[i];
    }
    free(fresh);
    free(seen);
    return rc;
}

/* Adam, AdamW and SGD updating parameters in place, with torch 1.13's exact
 * order of operations (see optim.h for the formulas and why fused
 * multiply-adds appear where they do). */
#include "optim_internal.h"
#include "../optim_math.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../autograd.h"
#include "../parallel.h"
#include "../device.h"

/* The element updates live in optim_math.h, shared with the CUDA backend;
 * these loops run them over a CPU parameter. */
#define ADAM_LOOP(T)                                                                                        \
    static void adam_##T(T *p, const T *g, T *m, T *v, T *vmax, int64_t n, const at_update_scalars *s,     \
                         bool decoupled) {                                                                  \
        _Pragma("omp parallel for schedule(static) if (n >= AT_PARALLEL_MIN)")                              \
        for (int64_t i = 0; i < n; i++) at_adam_element_##T(p, g, m, v, vmax, i, s, decoupled);             \
    }
ADAM_LOOP(float)
ADAM_LOOP(double)

#define SGD_LOOP(T)                                                                                         \
    static void sgd_##T(T *p, const T *g, T *buf, int64_t n, const at_update_scalars *s, bool nesterov) {  \
        _Pragma("omp parallel for schedule(static) if (n >= AT_PARALLEL_MIN)")                              \
        for (int64_t i = 0; i < n; i++) at_sgd_element_##T(p, g, buf, i, s, nesterov);                      \
    }
SGD_LOOP(float)
SGD_LOOP(double)

/* ---- construction ---- */

at_optim_config at_optim_defaults(at_optim_kind kind) {
    at_optim_config c = {.kind = kind, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    if (kind == AT_OPTIM_ADAMW) c.weight_decay = 1e-2;
    return c;
}

const char *at_optim_kind_name(at_optim_kind kind) {
    switch (kind) {
    case AT_OPTIM_SGD: return "sgd";
    case AT_OPTIM_ADAM: return "adam";
    case AT_OPTIM_ADAMW: return "adamw";
    }
    return "?";
}

static int check_config(const at_optim_config *c) {
    const char *name = at_optim_kind_name(c->kind);
    if (c->kind != AT_OPTIM_SGD && c->kind != AT_OPTIM_ADAM && c->kind != AT_OPTIM_ADAMW) {
        at_set_error("optimizer: unknown kind %d", (int)c->kind);
        return -1;
    }
    if (!(c->lr >= 0)) return at_set_error("%s: invalid learning rate %g (must be >= 0)", name, c->lr), -1;
    if (!(c->weight_decay >= 0))
        return at_set_error("%s: invalid weight_decay %g (must be >= 0)", name, c->weight_decay), -1;
    if (c->kind == AT_OPTIM_SGD) {
        if (!(c->momentum >= 0)) return at_set_error("sgd: invalid momentum %g (must be >= 0)", c->momentum), -1;
        if (!isfinite(c->dampening)) return at_set_error("sgd: invalid dampening %g", c->dampening), -1;
        if (c->nesterov && (c->momentum <= 0 || c->dampening != 0)) {
            at_set_error("sgd: nesterov needs momentum > 0 and dampening 0 (got momentum %g, dampening %g)",
                         c->momentum, c->dampening);
            return -1;
        }
        return 0;
    }
    if (!(c->eps >= 0)) return at_set_error("%s: invalid eps %g (must be >= 0)", name, c->eps), -1;
    if (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1)) {
        at_set_error("%s: invalid betas (%g, %g) (each must be in [0, 1))", name, c->beta1, c->beta2);
        return -1;
    }
    return 0;
}

static int check_param(const char *name, int i, const at_tensor *p, at_tensor *const *params) {
    char s[128];
    if (!p) return at_set_error("%s: parameter %d is missing (NULL)", name, i), -1;
    if (p->dtype != AT_F32 && p->dtype != AT_F64) {
        at_set_error("%s: parameter %d is %s %s; only f32 and f64 parameters can be optimized", name, i,
                     at_dtype_name(p->dtype), at_shape_str(p, s, sizeof s));
        return -1;
    }
    if (p->grad_fn) {
        at_set_error("%s: parameter %d (%s %s) is not a leaf (it was made by '%s'); optimize the leaf it came from",
                     name, i, at_dtype_name(p->dtype), at_shape_str(p, s, sizeof s), p->grad_fn->op->name);
        return -1;
    }
    if (at_device_of(p) != at_device_of(params[0])) {
        at_set_error("%s: parameter %d (%s %s) is on %s, parameter 0 on %s; keep a model on one device", name, i,
                     at_dtype_name(p->dtype), at_shape_str(p, s, sizeof s), at_device_name(at_device_of(p)),
                     at_device_name(at_device_of(params[0])));
        return -1;
    }
    if (!at_is_contiguous(p)) {
        at_set_error("%s: parameter %d (%s %s) is not contiguous; optimize a contiguous tensor", name, i,
                     at_dtype_name(p->dtype), at_shape_str(p, s, sizeof s));
        return -1;
    }
    for (int j = 0; j < i; j++)
        if (params[j] == p) return at_set_error("%s: parameters %d and %d are the same tensor", name, j, i), -1;
    return 0;
}

at_optim *at_optim_new(const at_optim_config *config, int n, at_tensor *const *params) {
    if (check_config(config)) return NULL;
    const char *name = at_optim_kind_name(config->kind);
    if (n < 0 || (n > 0 && !params)) return at_set_error("%s: invalid parameter list (%d entries)", name, n), NULL;
    for (int i = 0; i < n; i++)
        if (check_param(name, i, params[i], params)) return NULL;
    at_optim *o = calloc(1, sizeof *o);
    if (o) {
        o->params = calloc((size_t)(n ? n : 1), sizeof *o->params);
        o->state = calloc((size_t)(n ? n : 1), sizeof *o->state);
    }
    if (!o || !o->params || !o->state) {
        at_optim_free(o);
        return at_set_error("%s: out of memory for %d parameters", name, n), NULL;
    }
    o->cfg = *config;
    o->n = n;
    for (int i = 0; i < n; i++) {
        at_retain(params[i]);
        o->params[i] = params[i];
    }
    return o;
}

void at_optim_state_clear(param_state *s) {
    at_release(s->exp_avg);
    at_release(s->exp_avg_sq);
    at_release(s->max_exp_avg_sq);
    at_release(s->momentum_buffer);
    memset(s, 0, sizeof *s);
}

void at_optim_free(at_optim *o) {
    if (!o) return;
    for (int i = 0; o->params && i < o->n; i++) at_release(o->params[i]);
    for (int i = 0; o->state && i < o->n; i++) at_optim_state_clear(&o->state[i]);
    free(o->params);
    free(o->state);
    free(o);
}

/* ---- accessors ---- */

double at_optim_lr(const at_optim *o) { return o->cfg.lr; }

int at_optim_set_lr(at_optim *o, double lr) {
    if (!(lr >= 0)) {
        at_set_error("%s: invalid learning rate %g (must be >= 0)", at_optim_kind_name(o->cfg.kind), lr);
        return -1;
    }
    o->cfg.lr = lr;
    return 0;
}

const at_optim_config *at_optim_config_of(const at_optim *o) { return &o->cfg; }
int at_optim_param_count(const at_optim *o) { return o->n; }
at_tensor *at_optim_param(const at_optim *o, int i) { return i >= 0 && i < o->n ? o->params[i] : NULL; }
int64_t at_optim_steps_of(const at_optim *o, int i) { return i >= 0 && i < o->n ? o->state[i].step : 0; }

/* ---- the step ---- */

/* Creates the zero state of parameter i (torch's lazy state initialisation). */
static int state_init(at_optim *o, int i) {
    param_state *s = &o->state[i];
    const at_tensor *p = o->params[i];
    at_device dev = at_device_of(p);
    if (needs_adam_state(&o->cfg)) {
        s->exp_avg = at_empty_on(dev, p->dtype, p->ndim, p->shape);
        s->exp_avg_sq = at_empty_on(dev, p->dtype, p->ndim, p->shape);
        if (!s->exp_avg || !s->exp_avg_sq) goto fail;
        if (needs_max_state(&o->cfg) && !(s->max_exp_avg_sq = at_empty_on(dev, p->dtype, p->ndim, p->shape)))
            goto fail;
    }
    if (needs_momentum_state(&o->cfg) && !(s->momentum_buffer = at_empty_on(dev, p->dtype, p->ndim, p->shape)))
        goto fail;
    s->started = true;
    return 0;
fail:
    at_optim_state_clear(s);
    return -1;
}

static int check_grad(const at_optim *o, int i) {
    const at_tensor *p = o->params[i], *g = p->grad;
    if (g->dtype == p->dtype && at_same_shape(g, p) && at_device_of(g) == at_device_of(p)) return 0;
    char a[128], b[128];
    at_set_error("%s: the gradient of parameter %d is %s %s, the parameter is %s %s",
                 at_optim_kind_name(o->cfg.kind), i, at_dtype_name(g->dtype), at_shape_str(g, a, sizeof a),
                 at_dtype_name(p->dtype), at_shape_str(p, b, sizeof b));
    return -1;
}

static int update_one(at_optim *o, int i, const at_tensor *grad) {
    const at_optim_config *c = &o->cfg;
    param_state *s = &o->state[i];
    at_tensor *p = o->params[i];
    int64_t n = at_numel(p);
    bool f32 = p->dtype == AT_F32;
    at_storage_touch(p->storage);   /* the model's weight version sees the step */
    s->step++;
    at_update_scalars sc = {.lr = c->lr, .beta1 = c->beta1, .beta2 = c->beta2, .eps = c->eps,
                         .wd = c->weight_decay, .momentum = c->momentum, .dampening = c->dampening,
                         .first = s->step == 1};
    if (c->kind == AT_OPTIM_SGD) {
        void *buf = s->momentum_buffer ? at_data(s->momentum_buffer) : NULL;
        if (at_on_cuda(p)) {
            const at_backend *b = at_backend_of(AT_CUDA, "sgd");
            return b ? b->sgd(p->dtype, at_data(p), at_data(grad), buf, n, &sc, c->nesterov) : -1;
        }
        if (f32) sgd_float(at_data(p), at_data(grad), buf, n, &sc, c->nesterov);
        else sgd_double(at_data(p), at_data(grad), buf, n, &sc, c->nesterov);
        return 0;
    }
    /* Python computes these in double from the float step count. */
    double step = (double)s->step;
    double bc1 = 1 - pow(c->beta1, step), bc2 = 1 - pow(c->beta2, step);
    sc.neg_step_size = -(c->lr / bc1);
    sc.bc2_sqrt = sqrt(bc2);
    sc.decay = 1 - c->lr * c->weight_decay;
    bool decoupled = c->kind == AT_OPTIM_ADAMW;
    void *vmax = s->max_exp_avg_sq ? at_data(s->max_exp_avg_sq) : NULL;
    if (at_on_cuda(p)) {
        const at_backend *b = at_backend_of(AT_CUDA, "adam");
        return b ? b->adam(p->dtype, at_data(p), at_data(grad), at_data(s->exp_avg), at_data(s->exp_avg_sq), vmax,
                           n, &sc, decoupled)
                 : -1;
    }
    if (f32)
        adam_float(at_data(p), at_data(grad), at_data(s->exp_avg), at_data(s->exp_avg_sq), vmax, n, &sc, decoupled);
    else
        adam_double(at_data(p), at_data(grad), at_data(s->exp_avg), at_data(s->exp_avg_sq), vmax, n, &sc, decoupled);
    return 0;
}

int at_optim_step(at_optim *o) {
    /* Everything that can fail happens before the first parameter moves. */
    for (int i = 0; i < o->n; i++)
        if (o->params[i]->grad && check_grad(o, i)) return -1;
    for (int i = 0; i < o->n; i++)
        if (o->params[i]->grad && !o->state[i].started && state_init(o, i)) return -1;
    at_tensor **grads = calloc((size_t)(o->n ? o->n : 1), sizeof *grads);
    if (!grads) return at_set_error("%s: out of memory", at_optim_kind_name(o->cfg.kind)), -1;
    int rc = 0;
    for (int i = 0; i < o->n && !rc; i++) {
        at_tensor *g = o->params[i]->grad;
        if (!g) continue;
        grads[i] = at_is_contiguous(g) ? (at_retain(g), g) : at_clone_data(g);
        if (!grads[i]) rc = -1;
    }
    for (int i = 0; i < o->n && !rc; i++)
        if (grads[i] && update_one(o, i, grads[i])) rc = -1;
    for (int i = 0; i < o->n; i++) at_release(grads[i]);
    free(grads);
    return rc;
}

void at_optim_zero_grad(at_optim *o, bool set_to_none) { at_zero_grads(o->n, o->params, set_to_none); }

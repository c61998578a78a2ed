/* Training from Lua: optimizers, gradient clipping, lr schedules, metrics.
 *
 *   opt = aapmt.adam(params [, {lr=1e-3, betas={0.9, 0.999}, eps=1e-8,
 *                              weight_decay=0, amsgrad=false}])
 *   opt = aapmt.adamw(params [, {... as adam, weight_decay=1e-2}])
 *   opt = aapmt.sgd(params [, {lr=1e-3, momentum=0, dampening=0,
 *                             weight_decay=0, nesterov=false}])
 *       params: a list of leaf tensors (f32 or f64, contiguous); the update is
 *       torch.optim's, bit for bit (core/train/optim.h)
 *     opt:step()                    updates every parameter that has a .grad
 *     opt:zero_grad([set_to_none])  drops the gradients (default true), or
 *                                   zeroes them in place (false, torch 1.13's way)
 *     opt:lr(), opt:set_lr(lr)
 *     opt:steps([i])                updates parameter i (default 1) has had
 *     opt:params()                  the parameter list
 *     opt:state()                   {["0.exp_avg"] = tensor, ...}: the live state
 *                                   tensors (not copies), named with PyTorch's
 *                                   0-based parameter numbers: "<i>.exp_avg",
 *                                   "<i>.exp_avg_sq", "<i>.max_exp_avg_sq",
 *                                   "<i>.momentum_buffer", "<i>.step" (0-dim i64);
 *                                   aapmt.save(opt:state(), path) checkpoints it
 *     opt:load_state(table)         replaces the state by copies of table's
 *                                   tensors (e.g. aapmt.load(path)); all or nothing
 *     opt:free()                    also __gc and __close
 *   aapmt.zero_grad(params [, set_to_none])
 *   aapmt.clip_grad_norm(params, max_norm)  → the total 2-norm before clipping
 *                                   (torch.nn.utils.clip_grad_norm_)
 *   sched = aapmt.schedule{kind="cosine", base_lr=, min_lr=0, warmup=0, total=,
 *                          step_size=, gamma=0.1}
 *       kind: "constant", "cosine", "linear" or "step" (formulas in
 *       core/train/schedule.h); sched(n) is the lr of the n-th step, counted
 *       from 1, so opt:set_lr(sched(n)) before the n-th opt:step()
 *   aapmt.metrics.plcc(y, yhat), .srcc, .krcc, .rmse  → a number (NaN where
 *       scipy gives nan: constant or NaN input, fewer than 2 values)
 *   aapmt.metrics.plcc_logistic(y, yhat)  → plcc, params: PLCC after the
 *       5-parameter logistic f(x) = b1 (0.5 - 1/(1 + exp(b2 (x - b3)))) + b4 x
 *       + b5 fitted to (yhat, y) (core/train/metrics.h: p0, tolerances);
 *       params = {b1, ..., b5, sse=, iterations=, converged=}. Where it cannot
 *       be fitted (fewer than 5 values, a constant or non-finite input):
 *       NaN, nil, the reason
 *   aapmt.metrics.all(y, yhat)  → {plcc=, srcc=, krcc=, rmse=, plcc_logistic=, n=}
 *       y and yhat: Lua lists of numbers or tensors of any dtype and shape
 *       (read in order), of the same length
 *   aapmt.metrics.bootstrap(y, yhat, groups [, {resamples=1000, seed=45063,
 *                           level=0.95, paired=yhat_b}])
 *       → {srcc = {value=, low=, high=, sd=, valid=}, plcc = {...}, krcc = {...},
 *          resamples=, level=, seed=, groups=, n=, paired=}
 *       percentile-bootstrap intervals resampling groups (core/train/bootstrap.h:
 *       draws, percentiles, SD): groups is a list of integers or strings (e.g.
 *       each row's prompt), one per row, numbered by first appearance; with
 *       paired, every field is of metric(yhat) - metric(yhat_b) over the same
 *       resamples. value: on all rows; valid: the resamples where the metric
 *       is finite (only those make low, high and sd). 45063 is
 *       AT_BOOTSTRAP_DEFAULT_SEED. Values must be finite; at least 2 rows and
 *       2 groups
 *   aapmt.metrics.bootstrap_sample(groups, seed, k)  → the rows (1-based) of
 *       resample k (1 for the first; the engine's resample k - 1), as
 *       aapmt.metrics.bootstrap with that seed draws them: recompute an
 *       interval from these and aapmt.metrics.srcc etc. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "io/state_dict.h"
#include "train/bootstrap.h"
#include "train/metrics.h"
#include "train/optim.h"
#include "train/schedule.h"

#define LT_OPTIM_TYPE "aapmt.Optimizer"

/* ---- parameter lists ---- */

/* The tensors of the list at idx in a block owned by a new userdata pushed on
 * the stack (freed by the collector); *n gets the count. */
static at_tensor **check_params(lua_State *L, int idx, int *n, const char *fname) {
    if (!lua_istable(L, idx))
        luaL_error(L, "%s: params must be a list of tensors, got a %s", fname, luaL_typename(L, idx));
    lua_Integer len = (lua_Integer)lua_rawlen(L, idx);
    if (len == 0) {
        lua_pushnil(L);
        bool named = lua_next(L, idx) != 0;
        if (named) lua_pop(L, 2);
        luaL_error(L, "%s: params must be a non-empty list of tensors%s", fname,
                   named ? " (a {name = tensor} table has no fixed order: list its tensors)" : "");
    }
    if (len > 1 << 24) luaL_error(L, "%s: too many parameters (%d)", fname, (int)len);
    at_tensor **ts = lua_newuserdatauv(L, sizeof *ts * (size_t)len, 0);
    for (lua_Integer i = 1; i <= len; i++) {
        lua_rawgeti(L, idx, i);
        at_tensor *t = lt_test(L, -1, fname);
        if (!t) luaL_error(L, "%s: params[%d] is a %s, not a tensor", fname, (int)i, luaL_typename(L, -1));
        ts[i - 1] = t;   /* kept alive by the list */
        lua_pop(L, 1);
    }
    *n = (int)len;
    return ts;
}

/* ---- optimizers ---- */

static at_optim *check_opt(lua_State *L, const char *fname) {
    at_optim **p = luaL_checkudata(L, 1, LT_OPTIM_TYPE);
    if (!*p) luaL_error(L, "%s: the optimizer was freed", fname);
    return *p;
}

static int new_optim(lua_State *L, at_optim_kind kind, const char *fname) {
    static const char *const adam_keys[] = {"lr", "betas", "eps", "weight_decay", "amsgrad", NULL};
    static const char *const sgd_keys[] = {"lr", "momentum", "dampening", "weight_decay", "nesterov", NULL};
    int n;
    lua_settop(L, 2);   /* the blocks pushed below go after the arguments */
    at_tensor **params = check_params(L, 1, &n, fname);
    at_optim_config c = at_optim_defaults(kind);
    if (lt_options(L, 2, kind == AT_OPTIM_SGD ? sgd_keys : adam_keys, fname)) {
        c.lr = lt_opt_number(L, 2, "lr", c.lr, fname);
        c.weight_decay = lt_opt_number(L, 2, "weight_decay", c.weight_decay, fname);
        if (kind == AT_OPTIM_SGD) {
            c.momentum = lt_opt_number(L, 2, "momentum", c.momentum, fname);
            c.dampening = lt_opt_number(L, 2, "dampening", c.dampening, fname);
            c.nesterov = lt_opt_bool(L, 2, "nesterov", c.nesterov, fname);
        } else {
            c.eps = lt_opt_number(L, 2, "eps", c.eps, fname);
            c.amsgrad = lt_opt_bool(L, 2, "amsgrad", c.amsgrad, fname);
            if (lua_getfield(L, 2, "betas") != LUA_TNIL) {
                if (!lua_istable(L, -1) || lua_rawlen(L, -1) != 2)
                    luaL_error(L, "%s: option 'betas' must be a list of two numbers", fname);
                lua_rawgeti(L, -1, 1);
                lua_rawgeti(L, -2, 2);
                int ok1, ok2;
                c.beta1 = lua_tonumberx(L, -2, &ok1);
                c.beta2 = lua_tonumberx(L, -1, &ok2);
                if (!ok1 || !ok2) luaL_error(L, "%s: option 'betas' must be a list of two numbers", fname);
                lua_pop(L, 2);
            }
            lua_pop(L, 1);
        }
    }
    at_optim **p = lua_newuserdatauv(L, sizeof *p, 0);
    *p = NULL;
    luaL_setmetatable(L, LT_OPTIM_TYPE);
    if (!(*p = at_optim_new(&c, n, params))) return lt_engine_error(L, fname);
    return 1;
}

static int m_adam(lua_State *L) { return new_optim(L, AT_OPTIM_ADAM, "aapmt.adam"); }
static int m_adamw(lua_State *L) { return new_optim(L, AT_OPTIM_ADAMW, "aapmt.adamw"); }
static int m_sgd(lua_State *L) { return new_optim(L, AT_OPTIM_SGD, "aapmt.sgd"); }

static int o_step(lua_State *L) {
    at_optim *o = check_opt(L, "Optimizer:step");
    if (at_optim_step(o)) return lt_engine_error(L, "Optimizer:step");
    lt_gc_account(L);   /* the first step allocates the state */
    return 0;
}

static int o_zero_grad(lua_State *L) {
    at_optim *o = check_opt(L, "Optimizer:zero_grad");
    at_optim_zero_grad(o, lua_isnoneornil(L, 2) || lua_toboolean(L, 2));
    return 0;
}

static int o_lr(lua_State *L) {
    lua_pushnumber(L, at_optim_lr(check_opt(L, "Optimizer:lr")));
    return 1;
}

static int o_set_lr(lua_State *L) {
    at_optim *o = check_opt(L, "Optimizer:set_lr");
    if (at_optim_set_lr(o, luaL_checknumber(L, 2))) return lt_engine_error(L, "Optimizer:set_lr");
    return 0;
}

static int o_steps(lua_State *L) {
    at_optim *o = check_opt(L, "Optimizer:steps");
    lua_Integer i = luaL_optinteger(L, 2, 1);
    int n = at_optim_param_count(o);
    luaL_argcheck(L, i >= 1 && i <= n, 2, lua_pushfstring(L, "parameter index must be in 1..%d", n));
    lua_pushinteger(L, (lua_Integer)at_optim_steps_of(o, (int)i - 1));
    return 1;
}

static int o_params(lua_State *L) {
    at_optim *o = check_opt(L, "Optimizer:params");
    int n = at_optim_param_count(o);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lt_push_shared(L, at_optim_param(o, i));
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int o_state(lua_State *L) {
    const char *fname = "Optimizer:state";
    at_optim *o = check_opt(L, fname);
    at_state_dict *sd = at_sd_new();
    if (!sd || at_optim_state_export(o, sd, "")) {
        at_sd_free(sd);
        return lt_engine_error(L, fname);
    }
    lua_createtable(L, 0, sd->count);
    for (int i = 0; i < sd->count; i++) {
        lt_push_shared(L, sd->entries[i].tensor);
        lua_setfield(L, -2, sd->entries[i].name);
    }
    at_sd_free(sd);
    return 1;
}

static int o_load_state(lua_State *L) {
    const char *fname = "Optimizer:load_state";
    at_optim *o = check_opt(L, fname);
    at_state_dict *sd = lt_check_state_dict(L, 2, "the state", fname);
    int rc = at_optim_state_import(o, sd, "");
    at_sd_free(sd);
    if (rc) return lt_engine_error(L, fname);
    lt_gc_account(L);
    return 0;
}

static int o_free(lua_State *L) {
    at_optim **p = luaL_checkudata(L, 1, LT_OPTIM_TYPE);
    at_optim_free(*p);
    *p = NULL;
    return 0;
}

static int o_tostring(lua_State *L) {
    at_optim **p = luaL_checkudata(L, 1, LT_OPTIM_TYPE);
    if (!*p) {
        lua_pushliteral(L, "aapmt.Optimizer (freed)");
        return 1;
    }
    const at_optim_config *c = at_optim_config_of(*p);
    lua_pushfstring(L, "aapmt.Optimizer (%s, %d parameters, lr %f)", at_optim_kind_name(c->kind),
                    at_optim_param_count(*p), (lua_Number)c->lr);
    return 1;
}

static int m_zero_grad(lua_State *L) {
    int n;
    lua_settop(L, 2);
    at_tensor **params = check_params(L, 1, &n, "aapmt.zero_grad");
    at_zero_grads(n, params, lua_isnoneornil(L, 2) || lua_toboolean(L, 2));
    return 0;
}

static int m_clip_grad_norm(lua_State *L) {
    const char *fname = "aapmt.clip_grad_norm";
    int n;
    lua_settop(L, 2);
    at_tensor **params = check_params(L, 1, &n, fname);
    double max_norm = luaL_checknumber(L, 2), total;
    if (at_clip_grad_norm(n, params, max_norm, &total)) return lt_engine_error(L, fname);
    lua_pushnumber(L, total);
    return 1;
}

/* ---- schedules ---- */

static int schedule_call(lua_State *L) {
    const at_lr_schedule *s = lua_touserdata(L, lua_upvalueindex(1));
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 1, 1, "the step number counts from 1");
    lua_pushnumber(L, at_lr_at(s, (int64_t)n - 1));
    return 1;
}

static int m_schedule(lua_State *L) {
    const char *fname = "aapmt.schedule";
    static const char *const keys[] = {"kind", "base_lr", "min_lr", "warmup", "total", "step_size", "gamma", NULL};
    luaL_checktype(L, 1, LUA_TTABLE);
    lt_check_options(L, 1, keys, fname);
    at_lr_schedule s = {.kind = AT_LR_CONSTANT, .gamma = 0.1};
    if (lua_getfield(L, 1, "kind") != LUA_TNIL) {
        const char *k = lua_tostring(L, -1);
        int kind = k && lua_type(L, -1) == LUA_TSTRING ? at_lr_kind_from_name(k) : -1;
        if (kind < 0)
            luaL_error(L, "%s: kind must be \"constant\", \"cosine\", \"linear\" or \"step\", got %s", fname,
                       luaL_tolstring(L, -1, NULL));
        s.kind = (at_lr_kind)kind;
    }
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "base_lr") == LUA_TNIL) luaL_error(L, "%s: option 'base_lr' is required", fname);
    lua_pop(L, 1);
    s.base_lr = lt_opt_number(L, 1, "base_lr", 0, fname);
    s.min_lr = lt_opt_number(L, 1, "min_lr", 0, fname);
    s.warmup = lt_opt_integer(L, 1, "warmup", 0, fname);
    s.total = lt_opt_integer(L, 1, "total", 0, fname);
    s.step_size = lt_opt_integer(L, 1, "step_size", 0, fname);
    s.gamma = lt_opt_number(L, 1, "gamma", s.gamma, fname);
    if (at_lr_schedule_check(&s)) return lt_engine_error(L, fname);
    at_lr_schedule *up = lua_newuserdatauv(L, sizeof *up, 0);
    *up = s;
    lua_pushcclosure(L, schedule_call, 1);
    return 1;
}

/* ---- metrics ---- */

/* The values at idx (a tensor or a list of numbers) as doubles in a block
 * owned by a new userdata pushed on the stack; what names them in errors. */
static double *read_values(lua_State *L, int idx, const char *what, int64_t *n, const char *fname) {
    at_tensor *t = lt_test(L, idx, fname);
    if (t) {
        lt_check_host(L, t, fname);
        *n = at_numel(t);
        /* The block first: once v is malloc'd nothing may raise before it is freed. */
        double *block = lua_newuserdatauv(L, sizeof *block * (size_t)(*n ? *n : 1), 0);
        double *v = at_to_f64_array(t);
        if (!v) lt_engine_error(L, fname);
        memcpy(block, v, sizeof *block * (size_t)*n);
        free(v);
        return block;
    }
    if (!lua_istable(L, idx))
        luaL_error(L, "%s: %s must be a tensor or a list of numbers, got a %s", fname, what, luaL_typename(L, idx));
    *n = (int64_t)lua_rawlen(L, idx);
    double *block = lua_newuserdatauv(L, sizeof *block * (size_t)(*n ? *n : 1), 0);
    for (int64_t i = 0; i < *n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        int ok;
        block[i] = lua_tonumberx(L, -1, &ok);
        if (!ok) luaL_error(L, "%s: %s[%d] is a %s, not a number", fname, what, (int)i + 1, luaL_typename(L, -1));
        lua_pop(L, 1);
    }
    return block;
}

static double *check_values(lua_State *L, int idx, int64_t *n, const char *fname) {
    char what[32];
    snprintf(what, sizeof what, "argument #%d", idx);
    return read_values(L, idx, what, n, fname);
}

typedef double (*metric_fn)(const double *, const double *, int64_t);

static int metric(lua_State *L, metric_fn f, const char *fname) {
    int64_t n, m;
    lua_settop(L, 2);
    double *y = check_values(L, 1, &n, fname), *yhat = check_values(L, 2, &m, fname);
    if (n != m) return luaL_error(L, "%s: y has %d values and yhat %d", fname, (int)n, (int)m);
    lua_pushnumber(L, f(y, yhat, n));
    return 1;
}

static int m_plcc(lua_State *L) { return metric(L, at_plcc, "aapmt.metrics.plcc"); }
static int m_srcc(lua_State *L) { return metric(L, at_srcc, "aapmt.metrics.srcc"); }
static int m_krcc(lua_State *L) { return metric(L, at_krcc, "aapmt.metrics.krcc"); }
static int m_rmse(lua_State *L) { return metric(L, at_rmse, "aapmt.metrics.rmse"); }

static int m_plcc_logistic(lua_State *L) {
    const char *fname = "aapmt.metrics.plcc_logistic";
    int64_t n, m;
    lua_settop(L, 2);
    double *y = check_values(L, 1, &n, fname), *yhat = check_values(L, 2, &m, fname);
    if (n != m) return luaL_error(L, "%s: y has %d values and yhat %d", fname, (int)n, (int)m);
    at_logistic_fit fit;
    if (at_plcc_logistic(y, yhat, n, &fit)) {
        lua_pushnumber(L, NAN);
        lua_pushnil(L);
        lua_pushstring(L, at_last_error());
        return 3;
    }
    lua_pushnumber(L, fit.plcc);
    lua_createtable(L, 5, 3);
    for (int j = 0; j < 5; j++) {
        lua_pushnumber(L, fit.params[j]);
        lua_rawseti(L, -2, j + 1);
    }
    lua_pushnumber(L, fit.sse);
    lua_setfield(L, -2, "sse");
    lua_pushinteger(L, fit.iterations);
    lua_setfield(L, -2, "iterations");
    lua_pushboolean(L, fit.converged);
    lua_setfield(L, -2, "converged");
    return 2;
}

static int m_metrics_all(lua_State *L) {
    const char *fname = "aapmt.metrics.all";
    int64_t n, m;
    lua_settop(L, 2);
    double *y = check_values(L, 1, &n, fname), *yhat = check_values(L, 2, &m, fname);
    if (n != m) return luaL_error(L, "%s: y has %d values and yhat %d", fname, (int)n, (int)m);
    at_metrics r = at_metrics_all(y, yhat, n);
    lua_createtable(L, 0, 6);
    lua_pushnumber(L, r.plcc);
    lua_setfield(L, -2, "plcc");
    lua_pushnumber(L, r.plcc_logistic);
    lua_setfield(L, -2, "plcc_logistic");
    lua_pushnumber(L, r.srcc);
    lua_setfield(L, -2, "srcc");
    lua_pushnumber(L, r.krcc);
    lua_setfield(L, -2, "krcc");
    lua_pushnumber(L, r.rmse);
    lua_setfield(L, -2, "rmse");
    lua_pushinteger(L, (lua_Integer)r.n);
    lua_setfield(L, -2, "n");
    return 1;
}

/* ---- bootstrap intervals ---- */

/* The groups at idx, a list of integers or strings, as ids 0..G-1 numbered
 * by first appearance, in a block owned by a new userdata pushed on the
 * stack; *n gets the row count and *count G. Numbering by first appearance
 * keeps the engine's cluster order, and makes strings (prompts) usable:
 * both are Lua table keys, so a table maps them. */
static int64_t *check_groups(lua_State *L, int idx, int64_t *n, int64_t *count, const char *fname) {
    if (!lua_istable(L, idx))
        luaL_error(L, "%s: groups must be a list of integers or strings, got a %s", fname, luaL_typename(L, idx));
    *n = (int64_t)lua_rawlen(L, idx);
    int64_t *ids = lua_newuserdatauv(L, sizeof *ids * (size_t)(*n ? *n : 1), 0);
    lua_newtable(L);   /* group -> id */
    int map = lua_gettop(L);
    *count = 0;
    for (int64_t i = 0; i < *n; i++) {
        int type = lua_rawgeti(L, idx, (lua_Integer)i + 1);
        int exact = type == LUA_TSTRING;
        if (type == LUA_TNUMBER) lua_tointegerx(L, -1, &exact);
        if (!exact && type == LUA_TNUMBER)
            luaL_error(L, "%s: groups[%d] is %s, not an integer or a string", fname, (int)i + 1,
                       luaL_tolstring(L, -1, NULL));
        if (!exact) luaL_error(L, "%s: groups[%d] is a %s, not an integer or a string", fname, (int)i + 1,
                               luaL_typename(L, -1));
        lua_pushvalue(L, -1);
        if (lua_rawget(L, map) == LUA_TNIL) {
            lua_pop(L, 1);
            lua_pushinteger(L, (lua_Integer)*count);
            lua_rawset(L, map);   /* group -> the next id; pops both */
            ids[i] = (*count)++;
        } else {
            ids[i] = (int64_t)lua_tointeger(L, -1);
            lua_pop(L, 2);
        }
    }
    lua_pop(L, 1);
    return ids;
}

static void check_finite(lua_State *L, const double *v, int64_t n, const char *what, const char *fname) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            luaL_error(L, "%s: %s[%d] is %f: the bootstrap needs finite values", fname, what, (int)i + 1, v[i]);
}

static void push_interval(lua_State *L, const at_bootstrap_interval *b, const char *name) {
    lua_createtable(L, 0, 5);
    lua_pushnumber(L, b->value);
    lua_setfield(L, -2, "value");
    lua_pushnumber(L, b->low);
    lua_setfield(L, -2, "low");
    lua_pushnumber(L, b->high);
    lua_setfield(L, -2, "high");
    lua_pushnumber(L, b->sd);
    lua_setfield(L, -2, "sd");
    lua_pushinteger(L, (lua_Integer)b->valid);
    lua_setfield(L, -2, "valid");
    lua_setfield(L, -2, name);
}

typedef struct bootstrap_options {
    int resamples;
    uint64_t seed;
    double level;
    const double *yhat_b;   /* NULL: unpaired */
} bootstrap_options;

/* The options at idx; paired's values get a block pushed on the stack. */
static bootstrap_options check_bootstrap_options(lua_State *L, int idx, int64_t n, const char *fname) {
    static const char *const keys[] = {"resamples", "seed", "level", "paired", NULL};
    bootstrap_options o = {1000, AT_BOOTSTRAP_DEFAULT_SEED, 0.95, NULL};
    if (!lt_options(L, idx, keys, fname)) return o;
    lua_Integer resamples = lt_opt_integer(L, idx, "resamples", o.resamples, fname);
    if (resamples < 1 || resamples > INT_MAX)
        luaL_error(L, "%s: option 'resamples' must be in 1..%d, got %I", fname, INT_MAX, resamples);
    o.resamples = (int)resamples;
    o.seed = (uint64_t)lt_opt_integer(L, idx, "seed", (lua_Integer)o.seed, fname);
    o.level = lt_opt_number(L, idx, "level", o.level, fname);
    if (!(o.level > 0 && o.level < 1)) luaL_error(L, "%s: option 'level' must be in (0, 1), got %f", fname, o.level);
    if (lua_getfield(L, idx, "paired") != LUA_TNIL) {
        int64_t m;
        o.yhat_b = read_values(L, lua_gettop(L), "paired", &m, fname);
        if (m != n) luaL_error(L, "%s: y has %d values and paired (model B's predictions) %d", fname, (int)n, (int)m);
        check_finite(L, o.yhat_b, n, "paired", fname);
    }
    return o;   /* the field and its block stay on the stack */
}

static int m_bootstrap(lua_State *L) {
    const char *fname = "aapmt.metrics.bootstrap";
    int64_t n, m, ng, count;
    lua_settop(L, 4);
    double *y = read_values(L, 1, "y", &n, fname), *yhat = read_values(L, 2, "yhat", &m, fname);
    if (n != m) return luaL_error(L, "%s: y has %d values and yhat %d", fname, (int)n, (int)m);
    int64_t *groups = check_groups(L, 3, &ng, &count, fname);
    if (ng != n) return luaL_error(L, "%s: y has %d values and groups %d", fname, (int)n, (int)ng);
    if (n < 2) return luaL_error(L, "%s: y and yhat have %d values; a bootstrap needs at least 2", fname, (int)n);
    check_finite(L, y, n, "y", fname);
    check_finite(L, yhat, n, "yhat", fname);
    if (count < 2)
        return luaL_error(L, "%s: groups hold %d distinct value over %d rows; resampling groups needs at least 2",
                          fname, (int)count, (int)n);
    bootstrap_options o = check_bootstrap_options(L, 4, n, fname);
    at_bootstrap_result r;
    if (at_bootstrap_ci(y, yhat, o.yhat_b, groups, n, o.resamples, o.seed, o.level, &r))
        return lt_engine_error(L, fname);
    lua_createtable(L, 0, 9);
    push_interval(L, &r.srcc, "srcc");
    push_interval(L, &r.plcc, "plcc");
    push_interval(L, &r.krcc, "krcc");
    lua_pushinteger(L, r.resamples);
    lua_setfield(L, -2, "resamples");
    lua_pushnumber(L, r.level);
    lua_setfield(L, -2, "level");
    lua_pushinteger(L, (lua_Integer)r.seed);
    lua_setfield(L, -2, "seed");
    lua_pushinteger(L, (lua_Integer)r.groups);
    lua_setfield(L, -2, "groups");
    lua_pushinteger(L, (lua_Integer)r.n);
    lua_setfield(L, -2, "n");
    lua_pushboolean(L, r.paired);
    lua_setfield(L, -2, "paired");
    return 1;
}

static int m_bootstrap_sample(lua_State *L) {
    const char *fname = "aapmt.metrics.bootstrap_sample";
    lua_settop(L, 3);
    int exact_seed, exact_k;
    lua_Integer seed = lua_tointegerx(L, 2, &exact_seed), k = lua_tointegerx(L, 3, &exact_k);
    if (!exact_seed || lua_type(L, 2) != LUA_TNUMBER)
        return luaL_error(L, "%s: seed (argument #2) must be an integer, got %s", fname, luaL_tolstring(L, 2, NULL));
    if (!exact_k || lua_type(L, 3) != LUA_TNUMBER || k < 1)
        return luaL_error(L, "%s: k (argument #3) must be a resample number from 1, got %s", fname,
                          luaL_tolstring(L, 3, NULL));
    int64_t n, count, size;
    int64_t *groups = check_groups(L, 1, &n, &count, fname);
    if (n < 1) return luaL_error(L, "%s: groups is empty", fname);
    int64_t *rows = at_bootstrap_sample(groups, n, (uint64_t)seed, (int64_t)k - 1, &size);
    if (!rows) return lt_engine_error(L, fname);
    lua_createtable(L, size < INT_MAX ? (int)size : INT_MAX, 0);
    for (int64_t i = 0; i < size; i++) {
        lua_pushinteger(L, (lua_Integer)rows[i] + 1);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    free(rows);
    return 1;
}

void lt_train_register(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"step", o_step}, {"zero_grad", o_zero_grad}, {"lr", o_lr}, {"set_lr", o_set_lr}, {"steps", o_steps},
        {"params", o_params}, {"state", o_state}, {"load_state", o_load_state}, {"free", o_free}, {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", o_free}, {"__close", o_free}, {"__tostring", o_tostring}, {NULL, NULL}};
    luaL_newmetatable(L, LT_OPTIM_TYPE);
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);

    static const luaL_Reg functions[] = {
        {"adam", m_adam}, {"adamw", m_adamw}, {"sgd", m_sgd}, {"zero_grad", m_zero_grad},
        {"clip_grad_norm", m_clip_grad_norm}, {"schedule", m_schedule}, {NULL, NULL}};
    luaL_setfuncs(L, functions, 0);
    static const luaL_Reg metrics[] = {{"plcc", m_plcc}, {"srcc", m_srcc}, {"krcc", m_krcc}, {"rmse", m_rmse},
                                       {"plcc_logistic", m_plcc_logistic}, {"all", m_metrics_all},
                                       {"bootstrap", m_bootstrap}, {"bootstrap_sample", m_bootstrap_sample},
                                       {NULL, NULL}};
    luaL_newlib(L, metrics);
    lua_setfield(L, -2, "metrics");
}

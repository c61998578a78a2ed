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
 *       (read in order), of the same length */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "io/state_dict.h"
#include "train/metrics.h"
#include "train/optim.h"
#include "train/schedule.h"

#define LT_OPTIM_TYPE "aapmt.Optimizer"

/* ---- option tables ---- */

static void check_keys(lua_State *L, int idx, const char *const *allowed, const char *fname) {
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        const char *key = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        bool known = false;
        for (int i = 0; key && allowed[i]; i++) known |= strcmp(key, allowed[i]) == 0;
        if (!known) {
            if (key) luaL_error(L, "%s: unknown option '%s'", fname, key);
            luaL_error(L, "%s: options are named; found a %s key", fname, luaL_typename(L, -1));
        }
    }
}

static double opt_number(lua_State *L, int idx, const char *key, double def, const char *fname) {
    double v = def;
    if (lua_getfield(L, idx, key) != LUA_TNIL) {
        int ok;
        v = lua_tonumberx(L, -1, &ok);
        if (!ok) luaL_error(L, "%s: option '%s' must be a number, got a %s", fname, key, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    return v;
}

static lua_Integer opt_integer(lua_State *L, int idx, const char *key, lua_Integer def, const char *fname) {
    lua_Integer v = def;
    if (lua_getfield(L, idx, key) != LUA_TNIL) {
        int ok;
        v = lua_tointegerx(L, -1, &ok);
        if (!ok) luaL_error(L, "%s: option '%s' must be an integer, got %s", fname, key, luaL_tolstring(L, -1, NULL));
    }
    lua_pop(L, 1);
    return v;
}

static bool opt_bool(lua_State *L, int idx, const char *key, bool def, const char *fname) {
    bool v = def;
    int type = lua_getfield(L, idx, key);
    if (type != LUA_TNIL) {
        if (type != LUA_TBOOLEAN) luaL_error(L, "%s: option '%s' must be a boolean, got a %s", fname, key,
                                             luaL_typename(L, -1));
        v = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

/* The options table at idx (nil/none: no options), checked against allowed. */
static bool have_options(lua_State *L, int idx, const char *const *allowed, const char *fname) {
    if (lua_isnoneornil(L, idx)) return false;
    luaL_checktype(L, idx, LUA_TTABLE);
    check_keys(L, idx, allowed, fname);
    return true;
}

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
    if (have_options(L, 2, kind == AT_OPTIM_SGD ? sgd_keys : adam_keys, fname)) {
        c.lr = opt_number(L, 2, "lr", c.lr, fname);
        c.weight_decay = opt_number(L, 2, "weight_decay", c.weight_decay, fname);
        if (kind == AT_OPTIM_SGD) {
            c.momentum = opt_number(L, 2, "momentum", c.momentum, fname);
            c.dampening = opt_number(L, 2, "dampening", c.dampening, fname);
            c.nesterov = opt_bool(L, 2, "nesterov", c.nesterov, fname);
        } else {
            c.eps = opt_number(L, 2, "eps", c.eps, fname);
            c.amsgrad = opt_bool(L, 2, "amsgrad", c.amsgrad, fname);
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
    luaL_checktype(L, 2, LUA_TTABLE);
    at_state_dict *sd = at_sd_new();
    if (!sd) return lt_engine_error(L, fname);
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        at_tensor *t = lt_test(L, -1, fname);
        if (lua_type(L, -2) != LUA_TSTRING || !t) {
            at_sd_free(sd);
            return luaL_error(L, "%s: the state must map names (strings) to tensors; found a %s key with a %s value",
                              fname, luaL_typename(L, -2), luaL_typename(L, -1));
        }
        if (at_sd_put(sd, lua_tostring(L, -2), t)) {
            at_sd_free(sd);
            return lt_engine_error(L, fname);
        }
        lua_pop(L, 1);
    }
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
    check_keys(L, 1, keys, fname);
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
    s.base_lr = opt_number(L, 1, "base_lr", 0, fname);
    s.min_lr = opt_number(L, 1, "min_lr", 0, fname);
    s.warmup = opt_integer(L, 1, "warmup", 0, fname);
    s.total = opt_integer(L, 1, "total", 0, fname);
    s.step_size = opt_integer(L, 1, "step_size", 0, fname);
    s.gamma = opt_number(L, 1, "gamma", s.gamma, fname);
    if (at_lr_schedule_check(&s)) return lt_engine_error(L, fname);
    at_lr_schedule *up = lua_newuserdatauv(L, sizeof *up, 0);
    *up = s;
    lua_pushcclosure(L, schedule_call, 1);
    return 1;
}

/* ---- metrics ---- */

/* The values at idx (a tensor or a list of numbers) as doubles in a block
 * owned by a new userdata pushed on the stack. */
static double *check_values(lua_State *L, int idx, int64_t *n, const char *fname) {
    at_tensor *t = lt_test(L, idx, fname);
    if (t) {
        lt_check_host(L, t, fname);
        double *v = at_to_f64_array(t);
        if (!v) lt_engine_error(L, fname);
        *n = at_numel(t);
        double *block = lua_newuserdatauv(L, sizeof *block * (size_t)(*n ? *n : 1), 0);
        memcpy(block, v, sizeof *block * (size_t)*n);
        free(v);
        return block;
    }
    if (!lua_istable(L, idx))
        luaL_error(L, "%s: argument #%d must be a tensor or a list of numbers, got a %s", fname, idx,
                   luaL_typename(L, idx));
    *n = (int64_t)lua_rawlen(L, idx);
    double *block = lua_newuserdatauv(L, sizeof *block * (size_t)(*n ? *n : 1), 0);
    for (int64_t i = 0; i < *n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        int ok;
        block[i] = lua_tonumberx(L, -1, &ok);
        if (!ok) luaL_error(L, "%s: argument #%d[%d] is a %s, not a number", fname, idx, (int)i + 1,
                            luaL_typename(L, -1));
        lua_pop(L, 1);
    }
    return block;
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
                                       {"plcc_logistic", m_plcc_logistic}, {"all", m_metrics_all}, {NULL, NULL}};
    luaL_newlib(L, metrics);
    lua_setfield(L, -2, "metrics");
}

/* Tensor arithmetic (methods and the + - * / unary-minus metamethods),
 * pointwise functions, reductions, softmax and matmul. */
#include <math.h>

#include "binding.h"

typedef enum { ARITH_ADD, ARITH_SUB, ARITH_MUL, ARITH_DIV } arith_op;

static const char *const arith_names[] = {"Tensor:add", "Tensor:sub", "Tensor:mul", "Tensor:div"};
static const char *const arith_meta_names[] = {"Tensor + (__add)", "Tensor - (__sub)",
                                               "Tensor * (__mul)", "Tensor / (__div)"};

static at_tensor *tensor_tensor(arith_op op, at_tensor *a, at_tensor *b) {
    switch (op) {
    case ARITH_ADD: return at_add(a, b);
    case ARITH_SUB: return at_sub(a, b);
    case ARITH_MUL: return at_mul(a, b);
    default: return at_div(a, b);
    }
}

/* a op s, with s a number. Division goes through a 0-dim tensor so that
 * x / 3 rounds like true division rather than x * (1/3). */
static at_tensor *tensor_number(arith_op op, at_tensor *a, double s) {
    switch (op) {
    case ARITH_ADD: return at_add_scalar(a, s);
    case ARITH_SUB: return at_add_scalar(a, -s);
    case ARITH_MUL: return at_scale(a, s);
    default: {
        at_tensor *st = at_scalar(a->dtype, s);
        at_tensor *out = st ? at_div(a, st) : NULL;
        at_release(st);
        return out;
    }
    }
}

/* s op b, with s a number. */
static at_tensor *number_tensor(arith_op op, double s, at_tensor *b) {
    if (op == ARITH_ADD || op == ARITH_MUL) return tensor_number(op, b, s);
    at_tensor *st = at_scalar(b->dtype, s);
    at_tensor *out = st ? tensor_tensor(op, st, b) : NULL;
    at_release(st);
    return out;
}

static int arith(lua_State *L, arith_op op, const char *fname) {
    at_tensor *a = lt_test(L, 1, fname), *b = lt_test(L, 2, fname);
    bool a_num = lua_type(L, 1) == LUA_TNUMBER, b_num = lua_type(L, 2) == LUA_TNUMBER;
    if (a && b) return lt_push(L, tensor_tensor(op, a, b));
    if (a && b_num) return lt_push(L, tensor_number(op, a, lua_tonumber(L, 2)));
    if (a_num && b) return lt_push(L, number_tensor(op, lua_tonumber(L, 1), b));
    return luaL_error(L, "%s: operands must be aapmt tensors or numbers, got %s and %s", fname,
                      a ? LT_TENSOR_TYPE : luaL_typename(L, 1),
                      b ? LT_TENSOR_TYPE : luaL_typename(L, 2));
}

static int t_add(lua_State *L) { lt_check(L, 1, arith_names[0]); return arith(L, ARITH_ADD, arith_names[0]); }
static int t_sub(lua_State *L) { lt_check(L, 1, arith_names[1]); return arith(L, ARITH_SUB, arith_names[1]); }
static int t_mul(lua_State *L) { lt_check(L, 1, arith_names[2]); return arith(L, ARITH_MUL, arith_names[2]); }
static int t_div(lua_State *L) { lt_check(L, 1, arith_names[3]); return arith(L, ARITH_DIV, arith_names[3]); }
static int m_add(lua_State *L) { return arith(L, ARITH_ADD, arith_meta_names[0]); }
static int m_sub(lua_State *L) { return arith(L, ARITH_SUB, arith_meta_names[1]); }
static int m_mul(lua_State *L) { return arith(L, ARITH_MUL, arith_meta_names[2]); }
static int m_div(lua_State *L) { return arith(L, ARITH_DIV, arith_meta_names[3]); }

static int t_neg(lua_State *L) { return lt_push(L, at_neg(lt_check(L, 1, "Tensor:neg"))); }
static int t_exp(lua_State *L) { return lt_push(L, at_exp(lt_check(L, 1, "Tensor:exp"))); }
static int t_log(lua_State *L) { return lt_push(L, at_log(lt_check(L, 1, "Tensor:log"))); }
static int t_sqrt(lua_State *L) { return lt_push(L, at_sqrt(lt_check(L, 1, "Tensor:sqrt"))); }
static int t_relu(lua_State *L) { return lt_push(L, at_relu(lt_check(L, 1, "Tensor:relu"))); }
static int t_gelu(lua_State *L) { return lt_push(L, at_gelu(lt_check(L, 1, "Tensor:gelu"))); }

static int t_abs(lua_State *L) { return lt_push(L, at_abs(lt_check(L, 1, "Tensor:abs"))); }
static int t_sigmoid(lua_State *L) { return lt_push(L, at_sigmoid(lt_check(L, 1, "Tensor:sigmoid"))); }
static int t_tanh(lua_State *L) { return lt_push(L, at_tanh(lt_check(L, 1, "Tensor:tanh"))); }

static int t_pow(lua_State *L) {
    at_tensor *t = lt_check(L, 1, "Tensor:pow");
    if (lua_type(L, 2) != LUA_TNUMBER)
        return luaL_error(L, "Tensor:pow: the exponent must be a number, got %s", luaL_typename(L, 2));
    return lt_push(L, at_pow(t, lua_tonumber(L, 2)));
}

/* t:clamp(min, max); nil leaves that side open. */
static int t_clamp(lua_State *L) {
    at_tensor *t = lt_check(L, 1, "Tensor:clamp");
    double bound[2] = {-INFINITY, INFINITY};
    for (int i = 0; i < 2; i++) {
        if (lua_isnoneornil(L, 2 + i)) continue;
        if (lua_type(L, 2 + i) != LUA_TNUMBER)
            return luaL_error(L, "Tensor:clamp: %s must be a number or nil, got %s", i ? "max" : "min",
                              luaL_typename(L, 2 + i));
        bound[i] = lua_tonumber(L, 2 + i);
    }
    return lt_push(L, at_clamp(t, bound[0], bound[1]));
}

/* t:eq(other) and friends: other is a tensor (broadcast) or a number. */
static int compare(lua_State *L, at_compare_op op, const char *fname) {
    at_tensor *a = lt_check(L, 1, fname), *b = lt_test(L, 2, fname);
    if (b) return lt_push(L, at_compare(op, a, b));
    if (lua_type(L, 2) != LUA_TNUMBER)
        return luaL_error(L, "%s: the other operand must be an aapmt tensor or a number, got %s", fname,
                          luaL_typename(L, 2));
    at_tensor *s = at_scalar(a->dtype, lua_tonumber(L, 2));
    at_tensor *out = s ? at_compare(op, a, s) : NULL;
    at_release(s);
    return lt_push(L, out);
}

static int t_eq(lua_State *L) { return compare(L, AT_CMP_EQ, "Tensor:eq"); }
static int t_ne(lua_State *L) { return compare(L, AT_CMP_NE, "Tensor:ne"); }
static int t_lt(lua_State *L) { return compare(L, AT_CMP_LT, "Tensor:lt"); }
static int t_le(lua_State *L) { return compare(L, AT_CMP_LE, "Tensor:le"); }
static int t_gt(lua_State *L) { return compare(L, AT_CMP_GT, "Tensor:gt"); }
static int t_ge(lua_State *L) { return compare(L, AT_CMP_GE, "Tensor:ge"); }

/* t:sum() sums everything into a 0-dim tensor; t:sum(dim [, keepdim]). */
static int reduce(lua_State *L, bool mean, const char *fname) {
    at_tensor *t = lt_check(L, 1, fname);
    if (lua_isnoneornil(L, 2)) return lt_push(L, mean ? at_mean_all(t) : at_sum_all(t));
    int dim = lt_check_dim(L, 2, t->ndim, fname);
    bool keepdim = lua_toboolean(L, 3);
    return lt_push(L, mean ? at_mean(t, dim, keepdim) : at_sum(t, dim, keepdim));
}

static int t_sum(lua_State *L) { return reduce(L, false, "Tensor:sum"); }
static int t_mean(lua_State *L) { return reduce(L, true, "Tensor:mean"); }

/* Turns a fresh i64 tensor of 0-based positions into Lua's 1-based ones. */
static at_tensor *one_based(at_tensor *indices) {
    int64_t *p = indices ? at_data(indices) : NULL;
    for (int64_t i = 0; p && i < at_numel(indices); i++) p[i]++;
    return indices;
}

/* t:max() is a 0-dim tensor; t:max(dim [, keepdim]) gives values and
 * 1-based i64 indices along dim. argmax gives only the indices: a Lua
 * integer (the 1-based row-major position) for the whole tensor. */
static int extreme(lua_State *L, bool want_max, bool want_values, const char *fname) {
    at_tensor *t = lt_check(L, 1, fname);
    if (lua_isnoneornil(L, 2)) {
        at_tensor *v = NULL, *idx = NULL;
        if (want_values) return lt_push(L, want_max ? at_max_all(t) : at_min_all(t));
        at_tensor *flat = at_reshape(t, 1, (int64_t[]){at_numel(t)});
        bool was = at_set_grad_enabled(false);
        int rc = flat ? (want_max ? at_max : at_min)(flat, 0, false, &v, &idx) : -1;
        at_set_grad_enabled(was);
        at_release(flat);
        at_release(v);
        if (rc) return lt_engine_error(L, fname);
        lua_pushinteger(L, (lua_Integer)((int64_t *)at_data(idx))[0] + 1);
        at_release(idx);
        return 1;
    }
    int dim = lt_check_dim(L, 2, t->ndim, fname);
    bool keepdim = lua_toboolean(L, 3);
    at_tensor *v = NULL, *idx = NULL;
    if ((want_max ? at_max : at_min)(t, dim, keepdim, &v, &idx)) return lt_engine_error(L, fname);
    if (!want_values) {
        at_release(v);
        return lt_push(L, one_based(idx));
    }
    lt_push(L, v);
    lt_push(L, one_based(idx));
    return 2;
}

static int t_max(lua_State *L) { return extreme(L, true, true, "Tensor:max"); }
static int t_min(lua_State *L) { return extreme(L, false, true, "Tensor:min"); }
static int t_argmax(lua_State *L) { return extreme(L, true, false, "Tensor:argmax"); }
static int t_argmin(lua_State *L) { return extreme(L, false, false, "Tensor:argmin"); }

static int t_softmax(lua_State *L) {
    at_tensor *t = lt_check(L, 1, "Tensor:softmax");
    return lt_push(L, lt_softmax_dim(L, t, 2, "Tensor:softmax"));
}

static int t_matmul(lua_State *L) {
    at_tensor *a = lt_check(L, 1, "Tensor:matmul");
    return lt_push(L, at_matmul(a, lt_check(L, 2, "Tensor:matmul")));
}

void lt_math_register(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"add", t_add}, {"sub", t_sub}, {"mul", t_mul}, {"div", t_div}, {"neg", t_neg},
        {"exp", t_exp}, {"log", t_log}, {"sqrt", t_sqrt}, {"relu", t_relu}, {"gelu", t_gelu},
        {"abs", t_abs}, {"pow", t_pow}, {"sigmoid", t_sigmoid}, {"tanh", t_tanh}, {"clamp", t_clamp},
        {"eq", t_eq}, {"ne", t_ne}, {"lt", t_lt}, {"le", t_le}, {"gt", t_gt}, {"ge", t_ge},
        {"max", t_max}, {"min", t_min}, {"argmax", t_argmax}, {"argmin", t_argmin},
        {"sum", t_sum}, {"mean", t_mean}, {"softmax", t_softmax}, {"matmul", t_matmul},
        {NULL, NULL}};
    luaL_setfuncs(L, methods, 0);
}

void lt_arith_metamethods(lua_State *L) {
    static const luaL_Reg meta[] = {
        {"__add", m_add}, {"__sub", m_sub}, {"__mul", m_mul}, {"__div", m_div},
        {"__unm", t_neg}, {NULL, NULL}};
    luaL_setfuncs(L, meta, 0);
}

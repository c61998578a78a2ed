/* aapmt.cuda(): what the CUDA backend sees and holds; aapmt.cuda_empty_cache
 * and aapmt.set_matmul_precision. */
#include "binding.h"
#include "device.h"

static void set_number(lua_State *L, const char *key, double v) {
    lua_pushnumber(L, v);
    lua_setfield(L, -2, key);
}

/* {built, devices, description, in_use, cached, peak, precision}: bytes of
 * device memory handed out, kept for reuse, and the high-water mark. */
static int c_cuda(lua_State *L) {
    static const char *precisions[] = {"f32", "tf32", "bf16"};
    lua_createtable(L, 0, 7);
#ifdef AAPMT_HAVE_CUDA
    lua_pushboolean(L, 1);
#else
    lua_pushboolean(L, 0);
#endif
    lua_setfield(L, -2, "built");
    lua_pushinteger(L, at_device_count(AT_CUDA));
    lua_setfield(L, -2, "devices");
    lua_pushstring(L, at_device_describe(AT_CUDA));
    lua_setfield(L, -2, "description");
    at_cache_stats s = at_device_memory_stats(AT_CUDA);
    set_number(L, "in_use", (double)s.in_use);
    set_number(L, "cached", (double)s.cached);
    set_number(L, "peak", (double)s.peak_in_use);
    lua_pushstring(L, precisions[at_get_matmul_precision()]);
    lua_setfield(L, -2, "precision");
    return 1;
}

static int c_empty_cache(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)at_device_empty_cache(AT_CUDA));
    return 1;
}

static int c_set_matmul_precision(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    int p = at_matmul_precision_from_name(name);
    if (p < 0) return luaL_error(L, "aapmt.set_matmul_precision: unknown precision '%s' (f32, tf32 or bf16)", name);
    at_set_matmul_precision((at_matmul_precision)p);
    return 0;
}

void lt_cuda_register(lua_State *L) {
    static const luaL_Reg functions[] = {{"cuda", c_cuda}, {"cuda_empty_cache", c_empty_cache},
                                         {"set_matmul_precision", c_set_matmul_precision}, {NULL, NULL}};
    luaL_setfuncs(L, functions, 0);
}

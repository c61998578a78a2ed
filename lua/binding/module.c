/* luaopen_aapmt: the module table, registering every part of the binding,
 * plus the functions about the engine as a whole (threads, grad mode, memory,
 * seeding the default random generator of default_rng.c). */
#define _GNU_SOURCE   /* dladdr, RTLD_NODELETE */
#include <dlfcn.h>
#include <time.h>
#include <unistd.h>

#include "binding.h"
#include "device.h"

#ifndef AAPMT_VERSION
#define AAPMT_VERSION "unknown"
#endif

/* aapmt.manual_seed(n): restarts the default generator (draws given no seed). */
static int m_manual_seed(lua_State *L) {
    *lt_default_rng(L) = at_rng_new((uint64_t)luaL_checkinteger(L, 1));
    return 0;
}

static int m_set_num_threads(lua_State *L) {
    lua_Integer n = luaL_checkinteger(L, 1);
    if (n < 1) return luaL_error(L, "aapmt.set_num_threads: need at least 1 thread, got %d", (int)n);
    at_set_num_threads((int)n);
    return 0;
}

static int m_get_num_threads(lua_State *L) {
    lua_pushinteger(L, at_get_num_threads());
    return 1;
}

/* aapmt.no_grad(fn, ...): calls fn with grad recording off and restores the
 * previous mode whether fn returns or raises. */
static int m_no_grad(lua_State *L) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    bool was = at_set_grad_enabled(false);
    int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    at_set_grad_enabled(was);
    if (status != LUA_OK) return lua_error(L);
    return lua_gettop(L);
}

static int m_grad_enabled(lua_State *L) {
    lua_pushboolean(L, at_grad_enabled());
    return 1;
}

static int m_memory(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)at_storage_live_bytes());
    return 1;
}

/* aapmt.clock(): monotonic wall-clock seconds, for rates and ETAs (os.clock
 * counts CPU time of all threads). */
static int m_clock(lua_State *L) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
    return 1;
}

/* aapmt.isatty(fd): whether a file descriptor (2 for stderr) is a terminal. */
static int m_isatty(lua_State *L) {
    lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
    return 1;
}

static int m_is_tensor(lua_State *L) {
    lua_pushboolean(L, luaL_testudata(L, 1, LT_TENSOR_TYPE) != NULL);
    return 1;
}

/* lua_close unloads C modules, but OpenMP (and OpenBLAS) worker threads
 * started by the engine keep running code from the libraries this module
 * pulled in, so unloading would crash the process at exit. Loading ourselves
 * again with RTLD_NODELETE pins the module and its dependencies. Inside the
 * aapmt program this just names the executable, which is never unloaded. */
static void pin_module(void) {
    Dl_info info;
    if (dladdr((void *)pin_module, &info) && info.dli_fname)
        dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

int luaopen_aapmt(lua_State *L) {
    pin_module();
    at_backends_init(); /* under plain lua5.4 nothing else would register the GPU backend */
    lt_gc_register(L);
    lt_tensor_register(L);
    static const luaL_Reg functions[] = {
        {"manual_seed", m_manual_seed}, {"set_num_threads", m_set_num_threads},
        {"get_num_threads", m_get_num_threads}, {"no_grad", m_no_grad},
        {"grad_enabled", m_grad_enabled}, {"memory", m_memory}, {"is_tensor", m_is_tensor},
        {"clock", m_clock}, {"isatty", m_isatty},
        {NULL, NULL}};
    luaL_newlib(L, functions);
    lt_constructors_register(L);
    lt_functions_register(L);
    lt_tokenizer_register(L);
    lt_model_register(L);
    lt_checkpoint_register(L);
    lt_files_register(L);
    lt_file_lock_register(L);
    lt_data_register(L);
    lt_train_register(L);
    lt_loader_register(L);
    lt_demo_db_register(L);
    lt_cuda_register(L);
    lua_pushstring(L, AAPMT_VERSION);
    lua_setfield(L, -2, "version");
#ifdef AAPMT_HAVE_CUDA
    lua_pushboolean(L, 1);
#else
    lua_pushboolean(L, 0);
#endif
    lua_setfield(L, -2, "have_cuda");
    /* aapmt.experiment{...}, for experiment files: the declaration lives in
     * Lua (lua/aapmt/experiment.lua), loaded on first use. */
    if (luaL_loadstring(L, "local aapmt = ...\n"
                           "function aapmt.experiment(fields)\n"
                           "  return require('aapmt.experiment').declare(fields)\n"
                           "end") != LUA_OK)
        return lua_error(L);
    lua_pushvalue(L, -2);
    lua_call(L, 1, 0);
    /* aapmt.Tensor is the methods table: Lua code may add methods to it. */
    luaL_getmetatable(L, LT_TENSOR_TYPE);
    lua_getfield(L, -1, "methods");
    lua_setfield(L, -3, "Tensor");
    lua_pop(L, 1);
    return 1;
}

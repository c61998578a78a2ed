/* The state's default random generator, shared by the parts of the binding
 * that draw when given no seed (constructors, functions, model). It lives
 * apart from module.c so the parts depend on it, and module.c on the parts. */
#include "binding.h"

static const char rng_key = 'r';   /* its address keys the default generator */

at_rng *lt_default_rng(lua_State *L) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &rng_key);
    at_rng *rng = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!rng) {
        rng = lua_newuserdatauv(L, sizeof *rng, 0);
        *rng = at_rng_new(0);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &rng_key);
    }
    return rng;
}

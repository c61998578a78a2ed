/* Letting the Lua collector see the C memory that tensors hold.
 *
 * A tensor userdata is a few bytes to Lua but may own megabytes of storage,
 * so a loop making large temporaries would grow without bound before Lua's
 * own pacing ever ran a cycle (Torch7 users sprinkled collectgarbage() for
 * this). After each new tensor we compare the engine's live storage bytes
 * with a threshold and run a full collection when it is passed; the next
 * threshold is the surviving bytes plus a headroom proportional to them, so
 * the cost of collecting stays amortised as memory legitimately grows. */
#include "binding.h"

/* Below this, temporaries accumulate freely: a collection would cost more
 * than the memory it returns. */
#define LT_GC_MIN_HEADROOM ((size_t)64 << 20)

typedef struct lt_gc_state {
    size_t threshold;   /* live storage bytes that trigger the next collection */
} lt_gc_state;

static const char gc_state_key = 'g';   /* its address keys the registry */

static size_t threshold_for(size_t live) {
    size_t headroom = live / 2 > LT_GC_MIN_HEADROOM ? live / 2 : LT_GC_MIN_HEADROOM;
    return live + headroom;
}

void lt_gc_register(lua_State *L) {
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &gc_state_key) != LUA_TNIL) {
        lua_pop(L, 1);   /* already there: the module was opened twice */
        return;
    }
    lua_pop(L, 1);
    lt_gc_state *st = lua_newuserdatauv(L, sizeof *st, 0);
    st->threshold = threshold_for(at_storage_live_bytes());
    lua_rawsetp(L, LUA_REGISTRYINDEX, &gc_state_key);
}

void lt_gc_account(lua_State *L) {
    size_t live = at_storage_live_bytes();
    lua_rawgetp(L, LUA_REGISTRYINDEX, &gc_state_key);
    lt_gc_state *st = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!st) return;
    /* Memory released since (t:free(), a big model dropped) lowers the bar. */
    size_t lower = threshold_for(live);
    if (lower < st->threshold) st->threshold = lower;
    if (live <= st->threshold) return;
    lua_gc(L, LUA_GCCOLLECT);
    st->threshold = threshold_for(at_storage_live_bytes());
}

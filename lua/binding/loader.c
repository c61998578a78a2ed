/* aapmt.loader{...}: the background data loader (core/data/loader.h) from
 * Lua: batches of preprocessed images decoded by worker threads ahead of
 * the training loop, in a seeded order that depends only on (seed, epoch).
 *
 *   aapmt.loader{paths=, targets=, size=224, batch=, seed=0, shuffle=true,
 *                drop_last=false, workers=0, prefetch=2, cache_bytes=0,
 *                max_image_pixels=0}
 *       paths: list of image files (row i is paths[i]); targets: an
 *       (#paths, M) float tensor or a list of #paths lists of M numbers, or
 *       nil for none; size: the image side; batch: rows a batch (required);
 *       workers: decoding threads (0: one a core); prefetch: batches
 *       prepared ahead; cache_bytes: keep up to that many bytes of decoded
 *       images (3 * size * size bytes each) so later epochs skip decoding;
 *       max_image_pixels: the decompression-bomb bound (0: the default,
 *       AAPMT_MAX_IMAGE_PIXELS or Pillow's).
 *   ld:epoch(e [, start_batch])  starts epoch e (any integer; the order is a
 *       function of seed and e) at batch start_batch, 1-based (default 1:
 *       the whole epoch; to resume after k batches pass k + 1)
 *   ld:next()    pixels (B, 3, S, S) f32, targets (B, M) f32, rows (B) i64
 *                (1-based rows into paths), and the batch's 1-based position;
 *                nil at the end of the epoch. A file that cannot be decoded
 *                raises an error naming it, the batch and the row (1-based),
 *                and ends the epoch: every later next() raises the same
 *                error (never nil, which would read as a finished epoch)
 *                until ld:epoch starts another.
 *   ld:batches() batches an epoch; #ld  rows
 *   ld:stats()   {decodes=, cache_hits=, cache_bytes=} since the start
 *   ld:close()   stops the workers (also __gc / __close); fine mid-epoch
 *
 * Batches are bit-identical whatever workers and prefetch are, and with or
 * without the cache. */
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "data/loader.h"

#define LT_LOADER_TYPE "aapmt.Loader"

static at_loader *check_loader(lua_State *L, const char *fname) {
    at_loader **p = luaL_checkudata(L, 1, LT_LOADER_TYPE);
    if (!*p) luaL_error(L, "%s: the loader was closed", fname);
    return *p;
}

static const char *const known_options[] = {"paths", "targets", "size", "batch", "seed", "shuffle",
                                            "drop_last", "workers", "prefetch", "cache_bytes", "max_image_pixels", NULL};

/* targets= as a tensor, or a list of rows lists of numbers: a tensor
 * reference the caller releases, or NULL for none. Raises on errors (a
 * tensor being filled is owned by a userdata on the stack meanwhile). */
static at_tensor *read_targets(lua_State *L, int64_t rows, const char *fname) {
    lua_getfield(L, 1, "targets");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    at_tensor *t = lt_test(L, -1, fname);
    if (t) {
        lt_check_host(L, t, fname);
        at_retain(t);
        lua_pop(L, 1);
        return t;
    }
    if (!lua_istable(L, -1))
        luaL_error(L, "%s: targets must be a tensor or a list of lists of numbers, got %s", fname,
                   luaL_typename(L, -1));
    if ((int64_t)luaL_len(L, -1) != rows)
        luaL_error(L, "%s: targets has %I rows but paths has %I", fname, (lua_Integer)luaL_len(L, -1),
                   (lua_Integer)rows);
    lua_rawgeti(L, -1, 1);
    if (!lua_istable(L, -1)) luaL_error(L, "%s: targets[1] must be a list of numbers", fname);
    int64_t m = (int64_t)luaL_len(L, -1);
    lua_pop(L, 1);
    int64_t shape[2] = {rows, m};
    /* A userdata owns the tensor while the table is read, so an error frees it. */
    lt_push(L, at_empty(AT_F32, 2, shape));
    t = lt_check(L, -1, fname);
    float *d = at_data(t);
    for (int64_t i = 0; i < rows; i++) {
        lua_rawgeti(L, -2, (lua_Integer)i + 1);
        if (!lua_istable(L, -1) || (int64_t)luaL_len(L, -1) != m)
            luaL_error(L, "%s: targets[%I] must be a list of %I numbers", fname, (lua_Integer)i + 1, (lua_Integer)m);
        for (int64_t j = 0; j < m; j++) {
            lua_rawgeti(L, -1, (lua_Integer)j + 1);
            int isnum;
            lua_Number v = lua_tonumberx(L, -1, &isnum);
            if (!isnum)
                luaL_error(L, "%s: targets[%I][%I] must be a number, got %s", fname, (lua_Integer)i + 1,
                           (lua_Integer)j + 1, luaL_typename(L, -1));
            d[i * m + j] = (float)v;
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    at_retain(t);
    lua_pop(L, 2);
    return t;
}

static int ld_new(lua_State *L) {
    const char *fname = "aapmt.loader";
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lt_check_options(L, 1, known_options, fname);
    lua_getfield(L, 1, "paths");
    if (!lua_istable(L, -1)) luaL_error(L, "%s: paths must be a list of image files, got %s", fname, luaL_typename(L, -1));
    int64_t rows = (int64_t)luaL_len(L, -1);
    if (rows < 1) luaL_error(L, "%s: paths is empty", fname);
    /* The path strings stay referenced by the paths table (kept at index 2)
     * until the loader has copied them. */
    const char **paths = lua_newuserdatauv(L, (size_t)rows * sizeof *paths, 0);
    for (int64_t i = 0; i < rows; i++) {
        lua_rawgeti(L, 2, (lua_Integer)i + 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s: paths[%I] must be a string, got %s", fname, (lua_Integer)i + 1, luaL_typename(L, -1));
        paths[i] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    at_loader_options o = {0};
    o.paths = paths;
    o.rows = rows;
    lua_Integer size = lt_opt_integer(L, 1, "size", 224, fname);
    lua_Integer batch = lt_opt_integer(L, 1, "batch", 0, fname);
    lua_Integer workers = lt_opt_integer(L, 1, "workers", 0, fname);
    lua_Integer prefetch = lt_opt_integer(L, 1, "prefetch", 2, fname);
    lua_Integer cache = lt_opt_integer(L, 1, "cache_bytes", 0, fname);
    if (batch < 1 || batch > 1 << 30) luaL_error(L, "%s: batch must be a positive integer, got %I", fname, batch);
    if (size < 1 || size > 65536) luaL_error(L, "%s: size must be in 1..65536, got %I", fname, size);
    if (workers < 0 || workers > 256) luaL_error(L, "%s: workers must be in 0..256 (0: one a core), got %I", fname, workers);
    if (prefetch < 1 || prefetch > 1 << 20) luaL_error(L, "%s: prefetch must be at least 1, got %I", fname, prefetch);
    if (cache < 0) luaL_error(L, "%s: cache_bytes must be at least 0, got %I", fname, cache);
    o.size = (int)size;
    o.batch = (int)batch;
    o.workers = (int)workers;
    o.prefetch = (int)prefetch;
    o.cache_bytes = (size_t)cache;
    lua_Integer max_pixels = lt_opt_integer(L, 1, "max_image_pixels", 0, fname);
    if (max_pixels < 0) luaL_error(L, "%s: max_image_pixels must be at least 1 (0: the default), got %I", fname, max_pixels);
    o.max_pixels = (int64_t)max_pixels;
    o.seed = (uint64_t)lt_opt_integer(L, 1, "seed", 0, fname);
    o.shuffle = lt_opt_bool(L, 1, "shuffle", true, fname);
    o.drop_last = lt_opt_bool(L, 1, "drop_last", false, fname);
    at_tensor *targets = read_targets(L, rows, fname);
    o.targets = targets;
    at_loader **p = lua_newuserdatauv(L, sizeof *p, 0);
    *p = NULL;
    luaL_setmetatable(L, LT_LOADER_TYPE);
    *p = at_loader_new(&o);
    at_release(targets);
    if (!*p) return lt_engine_error(L, fname);
    return 1;
}

static int ld_epoch(lua_State *L) {
    const char *fname = "Loader:epoch";
    at_loader *l = check_loader(L, fname);
    lua_Integer epoch = luaL_checkinteger(L, 2);
    lua_Integer start = luaL_optinteger(L, 3, 1);
    int64_t nb = at_loader_batches_per_epoch(l);
    if (start < 1 || start > nb + 1)
        luaL_error(L, "%s: start batch %I outside 1..%I (%I batches an epoch)", fname, start,
                   (lua_Integer)nb + 1, (lua_Integer)nb);
    if (at_loader_start_epoch(l, (int64_t)epoch, (int64_t)start - 1) < 0) return lt_engine_error(L, fname);
    return 0;
}

static int ld_next(lua_State *L) {
    const char *fname = "Loader:next";
    at_loader *l = check_loader(L, fname);
    at_loader_batch b;
    int rc = at_loader_next(l, &b);
    if (rc < 0) return lt_engine_error(L, fname);
    if (rc == 0) {
        lua_pushnil(L);
        return 1;
    }
    int64_t n = b.rows->shape[0];
    int64_t *rows = at_data(b.rows);
    for (int64_t i = 0; i < n; i++) rows[i] += 1;
    lua_Integer index = (lua_Integer)b.index + 1;
    /* Each lt_push takes one reference (an allocation failure in between would leak the rest). */
    at_tensor *targets = b.targets, *rowt = b.rows;
    lt_push(L, b.pixels);
    lt_push(L, targets);
    lt_push(L, rowt);
    lua_pushinteger(L, index);
    return 4;
}

static int ld_batches(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)at_loader_batches_per_epoch(check_loader(L, "Loader:batches")));
    return 1;
}

static int ld_len(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)at_loader_rows(check_loader(L, "Loader:__len")));
    return 1;
}

static int ld_stats(lua_State *L) {
    at_loader_stats st = at_loader_get_stats(check_loader(L, "Loader:stats"));
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, (lua_Integer)st.decodes);
    lua_setfield(L, -2, "decodes");
    lua_pushinteger(L, (lua_Integer)st.cache_hits);
    lua_setfield(L, -2, "cache_hits");
    lua_pushinteger(L, (lua_Integer)st.cache_used);
    lua_setfield(L, -2, "cache_bytes");
    return 1;
}

static int ld_close(lua_State *L) {
    at_loader **p = luaL_checkudata(L, 1, LT_LOADER_TYPE);
    at_loader_free(*p);
    *p = NULL;
    return 0;
}

static int ld_tostring(lua_State *L) {
    at_loader **p = luaL_checkudata(L, 1, LT_LOADER_TYPE);
    if (!*p) lua_pushliteral(L, "aapmt.Loader (closed)");
    else
        lua_pushfstring(L, "aapmt.Loader (%I rows, %I batches an epoch, %d workers)",
                        (lua_Integer)at_loader_rows(*p), (lua_Integer)at_loader_batches_per_epoch(*p),
                        at_loader_workers(*p));
    return 1;
}

void lt_loader_register(lua_State *L) {
    static const luaL_Reg methods[] = {{"epoch", ld_epoch}, {"next", ld_next}, {"batches", ld_batches},
                                       {"stats", ld_stats}, {"close", ld_close}, {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", ld_close}, {"__close", ld_close}, {"__len", ld_len},
                                    {"__tostring", ld_tostring}, {NULL, NULL}};
    luaL_newmetatable(L, LT_LOADER_TYPE);
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_pushcfunction(L, ld_new);
    lua_setfield(L, -2, "loader");
}

/* aapmt.demo_db([{images=, size=, seed=, per_prompt=}]): the built-in
 * synthetic database (core/demo/demo_db.h) as a userdata. Rows are 1-based,
 * as everywhere in Lua: row 1 is demo_00000.png.
 *
 *   db:size() (also #db), db:nprompts(), db:config()
 *   db:row(i)                   {name, prompt, drawn, prompt_index, mos_quality,
 *                                mos_align, mos_authenticity, and the factors}
 *   db:image(i)                 u8 tensor (size, size, 3): the RGB pixels
 *   db:preprocess(rows [, size]) f32 (#rows, 3, size, size), ImageReward's
 *                                transform of the rows listed (drawn in parallel)
 *   db:write(dir)               dir/images/<name> and dir/demo.csv, atomically
 *   db:write_images(dir, first, count), db:write_csv(dir)   the same in pieces
 *   db:free() */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "demo/demo_db.h"

#define LT_DEMO_DB_TYPE "aapmt.DemoDB"

static at_demo_db *check_db(lua_State *L, const char *fname) {
    at_demo_db **p = luaL_checkudata(L, 1, LT_DEMO_DB_TYPE);
    if (!*p) luaL_error(L, "%s: the database was freed", fname);
    return *p;
}

static int db_new(lua_State *L) {
    const char *fname = "aapmt.demo_db";
    at_demo_db_config c = at_demo_db_defaults();
    static const char *const options[] = {"images", "size", "seed", "per_prompt", NULL};
    if (lt_options(L, 1, options, fname)) {
        lua_Integer images = lt_opt_integer(L, 1, "images", c.nimages, fname);
        lua_Integer size = lt_opt_integer(L, 1, "size", c.size, fname);
        lua_Integer seed = lt_opt_integer(L, 1, "seed", (lua_Integer)c.seed, fname);
        lua_Integer per_prompt = lt_opt_integer(L, 1, "per_prompt", c.images_per_prompt, fname);
        if (seed < 0) luaL_error(L, "%s: seed must be at least 0, got %I", fname, seed);
        if (size < AT_DEMO_MIN_SIZE || size > AT_DEMO_MAX_SIZE)
            luaL_error(L, "%s: the image size must be in %d..%d pixels, got %I", fname, AT_DEMO_MIN_SIZE,
                       AT_DEMO_MAX_SIZE, size);
        if (per_prompt < 1 || per_prompt > INT_MAX)
            luaL_error(L, "%s: images per prompt must be in 1..%d, got %I", fname, INT_MAX, per_prompt);
        c.nimages = images;   /* the engine checks its range */
        c.size = (int)size;
        c.seed = (uint64_t)seed;
        c.images_per_prompt = (int)per_prompt;
    }
    at_demo_db **p = lua_newuserdatauv(L, sizeof *p, 0);
    *p = NULL;
    luaL_setmetatable(L, LT_DEMO_DB_TYPE);
    if (!(*p = at_demo_db_new(&c))) return lt_engine_error(L, fname);
    return 1;
}

static int64_t row_index(lua_State *L, const at_demo_db *db, lua_Integer i, const char *fname) {
    lua_Integer n = at_demo_db_config_of(db)->nimages;
    if (i < 1 || i > n) luaL_error(L, "%s: row %I out of range 1..%I", fname, i, n);
    return i - 1;
}

static int64_t check_row(lua_State *L, const at_demo_db *db, int idx, const char *fname) {
    return row_index(L, db, luaL_checkinteger(L, idx), fname);
}

static int db_size(lua_State *L) {
    lua_pushinteger(L, at_demo_db_config_of(check_db(L, "DemoDB:size"))->nimages);
    return 1;
}

static int db_nprompts(lua_State *L) {
    lua_pushinteger(L, at_demo_db_nprompts(check_db(L, "DemoDB:nprompts")));
    return 1;
}

static void set_number(lua_State *L, const char *key, double v) {
    lua_pushnumber(L, v);
    lua_setfield(L, -2, key);
}
static void set_integer(lua_State *L, const char *key, lua_Integer v) {
    lua_pushinteger(L, v);
    lua_setfield(L, -2, key);
}
static void set_string(lua_State *L, const char *key, const char *v) {
    lua_pushstring(L, v);
    lua_setfield(L, -2, key);
}

static int db_config(lua_State *L) {
    const at_demo_db_config *c = at_demo_db_config_of(check_db(L, "DemoDB:config"));
    lua_createtable(L, 0, 4);
    set_integer(L, "images", c->nimages);
    set_integer(L, "size", c->size);
    set_integer(L, "seed", (lua_Integer)c->seed);
    set_integer(L, "per_prompt", c->images_per_prompt);
    return 1;
}

static int db_row(lua_State *L) {
    const char *fname = "DemoDB:row";
    at_demo_db *db = check_db(L, fname);
    at_demo_row r;
    if (at_demo_db_row(db, check_row(L, db, 2, fname), &r)) return lt_engine_error(L, fname);
    char words[160];
    unsigned mismatches = at_demo_mismatches(&r.scene, &r.shown);
    lua_createtable(L, 0, 20);
    set_string(L, "name", r.name);
    set_string(L, "prompt", r.prompt);
    set_string(L, "drawn", r.drawn);
    set_integer(L, "prompt_index", r.prompt_index + 1);
    set_number(L, "mos_quality", r.mos[AT_DEMO_QUALITY]);
    set_number(L, "mos_align", r.mos[AT_DEMO_ALIGN]);
    set_number(L, "mos_authenticity", r.mos[AT_DEMO_AUTHENTICITY]);
    set_number(L, "blur", r.f.blur);
    set_number(L, "noise", r.f.noise);
    set_number(L, "blockiness", r.f.blockiness);
    set_number(L, "banding", r.f.banding);
    set_number(L, "low_contrast", r.f.low_contrast);
    set_integer(L, "mismatches", at_demo_count_bits(mismatches));
    at_demo_mismatch_names(mismatches, words, sizeof words);
    set_string(L, "mismatch_kinds", words);
    set_number(L, "shading", r.f.shading);
    set_number(L, "shadow", r.f.shadow);
    set_number(L, "texture", r.f.texture);
    set_integer(L, "artifacts", at_demo_count_bits(r.f.artifacts));
    at_demo_artifact_names(r.f.artifacts, words, sizeof words);
    set_string(L, "artifact_kinds", words);
    return 1;
}

static int db_image(lua_State *L) {
    const char *fname = "DemoDB:image";
    at_demo_db *db = check_db(L, fname);
    int64_t i = check_row(L, db, 2, fname);
    at_image *im = at_demo_db_image(db, i, NULL);
    if (!im) return lt_engine_error(L, fname);
    int64_t shape[3] = {im->height, im->width, 3};
    at_tensor *t = at_empty(AT_U8, 3, shape);
    if (t) memcpy(at_data(t), im->pixels, (size_t)im->height * im->width * 3);
    at_image_free(im);
    return lt_push(L, t);
}

static int db_preprocess(lua_State *L) {
    const char *fname = "DemoDB:preprocess";
    at_demo_db *db = check_db(L, fname);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer size = luaL_optinteger(L, 3, at_demo_db_config_of(db)->size);
    if (size < 1 || size > AT_DEMO_MAX_SIZE) luaL_error(L, "%s: size must be in 1..%d, got %I", fname,
                                                        AT_DEMO_MAX_SIZE, size);
    lua_Integer n = (lua_Integer)lua_rawlen(L, 2);
    if (n == 0) return luaL_error(L, "%s: needs at least one row", fname);
    int64_t *rows = lua_newuserdatauv(L, sizeof *rows * (size_t)n, 0);   /* freed by the GC */
    for (lua_Integer k = 0; k < n; k++) {
        lua_rawgeti(L, 2, k + 1);
        int isint;
        lua_Integer i = lua_tointegerx(L, -1, &isint);
        if (!isint) luaL_error(L, "%s: rows[%I] is a %s, not an integer", fname, k + 1, luaL_typename(L, -1));
        rows[k] = row_index(L, db, i, fname);
        lua_pop(L, 1);
    }
    return lt_push(L, at_demo_db_preprocess(db, rows, n, (int)size));
}

static int db_write(lua_State *L) {
    const char *fname = "DemoDB:write";
    at_demo_db *db = check_db(L, fname);
    if (at_demo_db_write(db, luaL_checkstring(L, 2))) return lt_engine_error(L, fname);
    return 0;
}

static int db_write_images(lua_State *L) {
    const char *fname = "DemoDB:write_images";
    at_demo_db *db = check_db(L, fname);
    const char *dir = luaL_checkstring(L, 2);
    int64_t first = check_row(L, db, 3, fname);
    lua_Integer count = luaL_checkinteger(L, 4);
    if (count < 0) luaL_error(L, "%s: count must be at least 0, got %I", fname, count);
    if (at_demo_db_write_images(db, dir, first, count)) return lt_engine_error(L, fname);
    return 0;
}

static int db_write_csv(lua_State *L) {
    const char *fname = "DemoDB:write_csv";
    at_demo_db *db = check_db(L, fname);
    if (at_demo_db_write_csv(db, luaL_checkstring(L, 2))) return lt_engine_error(L, fname);
    return 0;
}

static int db_gc(lua_State *L) {
    at_demo_db **p = luaL_checkudata(L, 1, LT_DEMO_DB_TYPE);
    at_demo_db_free(*p);
    *p = NULL;
    return 0;
}

static int db_tostring(lua_State *L) {
    at_demo_db **p = luaL_checkudata(L, 1, LT_DEMO_DB_TYPE);
    if (!*p) {
        lua_pushliteral(L, "aapmt.DemoDB (freed)");
        return 1;
    }
    const at_demo_db_config *c = at_demo_db_config_of(*p);
    lua_pushfstring(L, "aapmt.DemoDB (%I images, %I prompts, %dx%d, seed %I)", (lua_Integer)c->nimages,
                    (lua_Integer)at_demo_db_nprompts(*p), c->size, c->size, (lua_Integer)c->seed);
    return 1;
}

void lt_demo_db_register(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"size", db_size}, {"nprompts", db_nprompts}, {"config", db_config}, {"row", db_row},
        {"image", db_image}, {"preprocess", db_preprocess}, {"write", db_write},
        {"write_images", db_write_images}, {"write_csv", db_write_csv}, {"free", db_gc}, {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", db_gc}, {"__close", db_gc}, {"__tostring", db_tostring},
                                    {"__len", db_size}, {NULL, NULL}};
    luaL_newmetatable(L, LT_DEMO_DB_TYPE);
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_pushcfunction(L, db_new);
    lua_setfield(L, -2, "demo_db");
}

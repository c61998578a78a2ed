/* Rating databases and content-isolated splits (core/data) from Lua.
 *
 *   aapmt.dataset{kind=, csv=, images=, targets=, name_column=, prompt_column=,
 *                 skip_missing=}
 *       kind "agiqa3k" | "aigciqa2023" | "csv" (default "csv"); csv: the
 *       ratings file; images: the image folder (optional: without it rows
 *       have no image and nothing is checked); targets: list of target
 *       columns (default: {"mos_align", "mos_quality"} for AGIQA-3K,
 *       {"mos_align", "mos_quality", "mos_authenticity"} for AIGCIQA2023,
 *       none for csv); skip_missing: rows whose image is missing are left out
 *       and counted (see ds:skipped()) instead of failing.
 *   ds:size(), #ds              rows kept
 *   ds:row(i), ds[i]            {name=, prompt=, image=, targets={...}, line=, csv_row=}
 *                               (line: in the CSV file; csv_row: 1-based data row);
 *                               i outside 1..#ds is an error, never nil
 *   ds:column(name)             list: "name", "prompt", "image", "line", "csv_row"
 *                               or a target name
 *   ds:targets()                the target names, in order
 *   ds:skipped()                rows skipped for a missing image, and the first
 *                               missing path (or nil)
 *   ds:split{seed=, train_fraction=0.8}   the paper's split (numpy's shuffle)
 *   ds:split{file=}             a fixed split: the file lists the test prompts
 *   ds:split{test_prompts={...}}          a fixed split from a list
 *       each returns train rows, test rows (1-based, CSV order), the test
 *       prompts and the train prompts (numpy's shuffled order for a seed)
 *   ds:splits{seed=, rounds=k, train_fraction=0.8}
 *       k splits, round r seeded with seed + r - 1: a list of tables
 *       {seed=, train=, test=, test_prompts=, train_prompts=}
 *   ds:free()                   (also __gc / __close)
 *   aapmt.split_prompts(prompts, seed [, train_fraction])
 *       the paper's split of a list of per-row prompts: train indices, test
 *       indices (1-based into the list), test prompts, train prompts
 *   aapmt.read_csv(path)        {header={...}, rows={{...}, ...}, lines={...},
 *                               index_column=bool}: every cell as a string
 *
 * Errors raise with the engine's message (file, line and column named). */
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "data/csv.h"
#include "data/dataset.h"
#include "data/split.h"

#define LT_DATASET_TYPE "aapmt.Dataset"

static at_dataset *check_ds(lua_State *L, const char *fname) {
    at_dataset **p = luaL_checkudata(L, 1, LT_DATASET_TYPE);
    if (!*p) luaL_error(L, "%s: the dataset was freed", fname);
    return *p;
}

/* The strings of the list at idx, in a scratch userdata left on the stack
 * (it and the list keep them alive). */
static const char **string_list(lua_State *L, int idx, int64_t *n, const char *what, const char *fname) {
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    *n = (int64_t)lua_rawlen(L, idx);
    const char **list = lua_newuserdatauv(L, sizeof *list * (size_t)(*n ? *n : 1), 0);
    for (int64_t i = 0; i < *n; i++) {
        lua_rawgeti(L, idx, i + 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s: %s %d is a %s, not a string", fname, what, (int)i + 1, luaL_typename(L, -1));
        list[i] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    return list;
}

static void push_strings(lua_State *L, char *const *s, int64_t n) {
    lua_createtable(L, (int)n, 0);
    for (int64_t i = 0; i < n; i++) {
        lua_pushstring(L, s[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

static void push_rows(lua_State *L, const int64_t *rows, int64_t n) {
    lua_createtable(L, (int)n, 0);
    for (int64_t i = 0; i < n; i++) {
        lua_pushinteger(L, rows[i] + 1);
        lua_rawseti(L, -2, i + 1);
    }
}

/* Pushes train, test, test prompts, train prompts; frees s. */
static int push_split(lua_State *L, at_split *s) {
    push_rows(L, s->train, s->ntrain);
    push_rows(L, s->test, s->ntest);
    push_strings(L, at_split_test_prompts(s), at_split_ntest_prompts(s));
    push_strings(L, s->prompts, s->ntrain_prompts);
    at_split_free(s);
    return 4;
}

/* ---- aapmt.dataset ---- */

static int ds_new(lua_State *L) {
    const char *fname = "aapmt.dataset";
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const keys[] = {"kind", "csv", "images", "targets", "name_column", "prompt_column",
                                       "skip_missing", NULL};
    lt_check_options(L, 1, keys, fname);
    at_dataset_options o = {.kind = AT_DATASET_CSV};
    const char *kind = lt_opt_string(L, 1, "kind", NULL, fname);
    if (kind && at_dataset_kind_parse(kind, &o.kind))
        return luaL_error(L, "%s: kind '%s' is not one of agiqa3k, aigciqa2023, csv", fname, kind);
    if (!(o.csv_path = lt_opt_string(L, 1, "csv", NULL, fname))) return luaL_error(L, "%s: option 'csv' (the ratings file) is missing", fname);
    o.image_dir = lt_opt_string(L, 1, "images", NULL, fname);
    o.name_column = lt_opt_string(L, 1, "name_column", NULL, fname);
    o.prompt_column = lt_opt_string(L, 1, "prompt_column", NULL, fname);
    lua_getfield(L, 1, "skip_missing");
    o.skip_missing_images = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "targets") != LUA_TNIL) {
        int64_t n;
        if (!lua_istable(L, -1)) return luaL_error(L, "%s: option 'targets' must be a list of column names", fname);
        o.targets = string_list(L, -1, &n, "target", fname);
        o.ntargets = (int)n;
    }
    at_dataset **p = lua_newuserdatauv(L, sizeof *p, 0);
    *p = NULL;
    luaL_setmetatable(L, LT_DATASET_TYPE);
    if (!(*p = at_dataset_load(&o))) return lt_engine_error(L, fname);
    return 1;
}

static int ds_size(lua_State *L) {
    lua_pushinteger(L, check_ds(L, "Dataset:size")->size);
    return 1;
}

static int64_t check_row(lua_State *L, const at_dataset *ds, int idx, const char *fname) {
    lua_Integer i = luaL_checkinteger(L, idx);
    if (i < 1 || i > ds->size)
        luaL_error(L, "%s: row %d is outside 1..%d", fname, (int)i, (int)ds->size);
    return (int64_t)i - 1;
}

static void push_targets(lua_State *L, const at_dataset *ds, int64_t r) {
    lua_createtable(L, ds->ntargets, 0);
    for (int t = 0; t < ds->ntargets; t++) {
        lua_pushnumber(L, at_dataset_target(ds, r, t));
        lua_rawseti(L, -2, t + 1);
    }
}

static int ds_row(lua_State *L) {
    const char *fname = "Dataset:row";
    at_dataset *ds = check_ds(L, fname);
    int64_t r = check_row(L, ds, 2, fname);
    lua_createtable(L, 0, 6);
    lua_pushstring(L, ds->names[r]);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, ds->prompts[r]);
    lua_setfield(L, -2, "prompt");
    if (ds->images[r]) {
        lua_pushstring(L, ds->images[r]);
        lua_setfield(L, -2, "image");
    }
    push_targets(L, ds, r);
    lua_setfield(L, -2, "targets");
    lua_pushinteger(L, ds->line[r]);
    lua_setfield(L, -2, "line");
    lua_pushinteger(L, ds->csv_row[r] + 1);
    lua_setfield(L, -2, "csv_row");
    return 1;
}

/* ds[i] is ds:row(i); any other key is a method (the upvalue's table). */
static int ds_index(lua_State *L) {
    if (lua_type(L, 2) == LUA_TNUMBER) {
        lua_settop(L, 2);
        lua_pushcfunction(L, ds_row);
        lua_insert(L, 1);
        lua_call(L, 2, 1);
        return 1;
    }
    lua_gettable(L, lua_upvalueindex(1));
    return 1;
}

static int ds_column(lua_State *L) {
    const char *fname = "Dataset:column";
    at_dataset *ds = check_ds(L, fname);
    const char *name = luaL_checkstring(L, 2);
    int target = at_dataset_target_index(ds, name);
    int which = strcmp(name, "name") == 0 ? 1 : strcmp(name, "prompt") == 0 ? 2 : strcmp(name, "image") == 0 ? 3
              : strcmp(name, "line") == 0 ? 4 : strcmp(name, "csv_row") == 0 ? 5 : target >= 0 ? 6 : 0;
    if (!which) return luaL_error(L, "%s: no column '%s' (name, prompt, image, line, csv_row or a target)", fname, name);
    if (which == 3 && !ds->image_dir) return luaL_error(L, "%s: the dataset was loaded without an image folder", fname);
    lua_createtable(L, (int)ds->size, 0);
    for (int64_t r = 0; r < ds->size; r++) {
        switch (which) {
        case 1: lua_pushstring(L, ds->names[r]); break;
        case 2: lua_pushstring(L, ds->prompts[r]); break;
        case 3: lua_pushstring(L, ds->images[r]); break;
        case 4: lua_pushinteger(L, ds->line[r]); break;
        case 5: lua_pushinteger(L, ds->csv_row[r] + 1); break;
        default: lua_pushnumber(L, at_dataset_target(ds, r, target)); break;
        }
        lua_rawseti(L, -2, r + 1);
    }
    return 1;
}

static int ds_targets(lua_State *L) {
    at_dataset *ds = check_ds(L, "Dataset:targets");
    push_strings(L, ds->target_names, ds->ntargets);
    return 1;
}

static int ds_skipped(lua_State *L) {
    at_dataset *ds = check_ds(L, "Dataset:skipped");
    lua_pushinteger(L, ds->skipped);
    if (ds->first_skipped) lua_pushstring(L, ds->first_skipped);
    else lua_pushnil(L);
    return 2;
}

static int ds_split(lua_State *L) {
    const char *fname = "Dataset:split";
    at_dataset *ds = check_ds(L, fname);
    luaL_checktype(L, 2, LUA_TTABLE);
    static const char *const keys[] = {"seed", "train_fraction", "file", "test_prompts", NULL};
    lt_check_options(L, 2, keys, fname);
    int fixed = lt_has_option(L, 2, "file") + lt_has_option(L, 2, "test_prompts");
    if (fixed + lt_has_option(L, 2, "seed") != 1)
        return luaL_error(L, "%s: give exactly one of seed (the paper's split), file or test_prompts", fname);
    at_split *s;
    if (lt_has_option(L, 2, "seed")) {
        lua_Integer seed = lt_opt_integer(L, 2, "seed", 0, fname);
        s = at_dataset_split(ds, seed, lt_opt_number(L, 2, "train_fraction", AT_SPLIT_PAPER_FRACTION, fname));
    } else {
        if (lt_has_option(L, 2, "train_fraction")) return luaL_error(L, "%s: a fixed split takes no train_fraction", fname);
        const char *file = lt_opt_string(L, 2, "file", NULL, fname);
        if (file) {
            s = at_dataset_split_fixed_file(ds, file);
        } else {
            int64_t n;
            if (lua_getfield(L, 2, "test_prompts") != LUA_TTABLE)
                return luaL_error(L, "%s: test_prompts must be a list of prompts", fname);
            const char **list = string_list(L, -1, &n, "test prompt", fname);
            s = at_split_fixed(ds->csv_prompts, ds->csv_rows, ds->keep, list, n, "test_prompts");
        }
    }
    if (!s) return lt_engine_error(L, fname);
    return push_split(L, s);
}

static int ds_splits(lua_State *L) {
    const char *fname = "Dataset:splits";
    at_dataset *ds = check_ds(L, fname);
    luaL_checktype(L, 2, LUA_TTABLE);
    static const char *const keys[] = {"seed", "rounds", "train_fraction", NULL};
    lt_check_options(L, 2, keys, fname);
    if (!lt_has_option(L, 2, "seed") || !lt_has_option(L, 2, "rounds")) return luaL_error(L, "%s: needs seed and rounds", fname);
    lua_Integer seed = lt_opt_integer(L, 2, "seed", 0, fname), k = lt_opt_integer(L, 2, "rounds", 0, fname);
    double fraction = lt_opt_number(L, 2, "train_fraction", AT_SPLIT_PAPER_FRACTION, fname);
    if (k < 1 || k > 100000) return luaL_error(L, "%s: rounds must be in 1..100000, got %d", fname, (int)k);
    at_split **rounds = lua_newuserdatauv(L, sizeof *rounds * (size_t)k, 0);
    if (at_dataset_split_rounds(ds, seed, (int)k, fraction, rounds)) return lt_engine_error(L, fname);
    lua_createtable(L, (int)k, 0);
    static const char *const names[] = {"train", "test", "test_prompts", "train_prompts"};
    for (int r = 0; r < k; r++) {
        lua_createtable(L, 0, 5);
        int t = lua_gettop(L);
        lua_pushinteger(L, rounds[r]->seed);
        lua_setfield(L, t, "seed");
        push_split(L, rounds[r]);
        for (int i = 3; i >= 0; i--) lua_setfield(L, t, names[i]);   /* pops them, last first */
        lua_rawseti(L, -2, r + 1);
    }
    return 1;
}

static int ds_free(lua_State *L) {
    at_dataset **p = luaL_checkudata(L, 1, LT_DATASET_TYPE);
    at_dataset_free(*p);
    *p = NULL;
    return 0;
}

static int ds_tostring(lua_State *L) {
    at_dataset **p = luaL_checkudata(L, 1, LT_DATASET_TYPE);
    if (!*p) lua_pushliteral(L, "aapmt.Dataset (freed)");
    else lua_pushfstring(L, "aapmt.Dataset (%s, %I rows, %d targets: %s)", at_dataset_kind_name((*p)->kind),
                         (lua_Integer)(*p)->size, (*p)->ntargets, (*p)->csv_path);
    return 1;
}

/* ---- functions ---- */

static int split_prompts(lua_State *L) {
    const char *fname = "aapmt.split_prompts";
    lua_Integer seed = luaL_checkinteger(L, 2);
    double fraction = luaL_optnumber(L, 3, AT_SPLIT_PAPER_FRACTION);
    int64_t n;
    const char **prompts = string_list(L, 1, &n, "prompt", fname);   /* pushes past the arguments */
    at_split *s = at_split_random(prompts, n, NULL, seed, fraction);
    if (!s) return lt_engine_error(L, fname);
    return push_split(L, s);
}

static int read_csv(lua_State *L) {
    at_csv *csv = at_csv_read(luaL_checkstring(L, 1));
    if (!csv) return lt_engine_error(L, "aapmt.read_csv");
    lua_createtable(L, 0, 4);
    push_strings(L, csv->header, csv->ncols);
    lua_setfield(L, -2, "header");
    lua_createtable(L, (int)csv->nrows, 0);
    for (int64_t r = 0; r < csv->nrows; r++) {
        push_strings(L, csv->cells + r * csv->ncols, csv->ncols);
        lua_rawseti(L, -2, r + 1);
    }
    lua_setfield(L, -2, "rows");
    lua_createtable(L, (int)csv->nrows, 0);
    for (int64_t r = 0; r < csv->nrows; r++) {
        lua_pushinteger(L, csv->line[r]);
        lua_rawseti(L, -2, r + 1);
    }
    lua_setfield(L, -2, "lines");
    lua_pushboolean(L, csv->index_column);
    lua_setfield(L, -2, "index_column");
    at_csv_free(csv);
    return 1;
}

void lt_data_register(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"size", ds_size}, {"row", ds_row}, {"column", ds_column}, {"targets", ds_targets},
        {"skipped", ds_skipped}, {"split", ds_split}, {"splits", ds_splits}, {"free", ds_free}, {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", ds_free}, {"__close", ds_free}, {"__len", ds_size},
                                    {"__tostring", ds_tostring}, {NULL, NULL}};
    luaL_newmetatable(L, LT_DATASET_TYPE);
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_pushcclosure(L, ds_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    static const luaL_Reg functions[] = {
        {"dataset", ds_new}, {"split_prompts", split_prompts}, {"read_csv", read_csv}, {NULL, NULL}};
    luaL_setfuncs(L, functions, 0);
}

/* The ImageReward model and image preprocessing from Lua (the engine side;
 * lua/aapmt/imagereward.lua builds score/rank/features on it).
 *
 *   aapmt.imagereward_load(checkpoint [, config_json [, copy]])  a model
 *   aapmt.imagereward_random([config_json [, seed [, {init=}]]])  random weights; init
 *       "fine_tune" (default: the usual stds) or "from_scratch" (fan-in stds)
 *   model:forward(pixels, ids, mask [, {training=, seed=, cross_attention=, image_tokens=,
 *                                        metric_attention=}])
 *       → {features=, rewards=, scores= [, cross_attention={...}] [, image_tokens=]
 *          [, metric_scores= (B, metrics)] [, metric_attention={self={...}, cross={...}}]}
 *   model:head(features)        raw rewards of (N, hidden) features
 *   model:encode_image(pixels)  the ViT output, no grad
 *   model:forward_encoded(encoding, ids, mask [, {cross_attention=, metric_attention=}])
 *   model:score_texts(encoding, ids, mask)  every text against every image
 *   model:score_rows(encoding, ids, mask)   T texts of each image's own, rows t*B + i
 *   model:weight_version()      → version, id: the weights' write stamp and the
 *                               model's process-unique id (ir_model_weight_version)
 *   model:image_size(), model:config(), model:parameters(), model:fix_rate(r),
 *   model:metric_head_random(), model:init_metric_head(seed)   the Metric Transformer's weights
 *   model:save(path)            the weights as safetensors, written atomically
 *   model:free()
 *   aapmt.preprocess(paths [, size])  (N, 3, size, size) f32, ImageReward's transform
 *   aapmt.read_model_config([path])  a config file checked, as model:config() shows it
 *                               (ImageReward-v1.0's without a path); no model is built */
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "io/image.h"
#include "model/imagereward.h"

#define LT_MODEL_TYPE "aapmt.ImageReward"

static ir_model *check_model(lua_State *L, const char *fname) {
    ir_model **p = luaL_checkudata(L, 1, LT_MODEL_TYPE);
    if (!*p) luaL_error(L, "%s: the model was freed", fname);
    return *p;
}

static int push_model(lua_State *L, ir_model *m, const char *fname) {
    if (!m) return lt_engine_error(L, fname);
    ir_model **p = lua_newuserdatauv(L, sizeof *p, 0);
    *p = m;
    luaL_setmetatable(L, LT_MODEL_TYPE);
    return 1;
}

/* A config from an optional JSON path; false when none was given. */
static bool opt_config(lua_State *L, int idx, ir_config *cfg, const char *fname) {
    if (lua_isnoneornil(L, idx)) return false;
    if (ir_config_load(luaL_checkstring(L, idx), cfg)) lt_engine_error(L, fname);
    return true;
}

static int model_load(lua_State *L) {
    const char *fname = "aapmt.imagereward_load";
    const char *path = luaL_checkstring(L, 1);
    ir_config cfg;
    bool have = opt_config(L, 2, &cfg, fname);
    ir_model *m = ir_model_load(path, have ? &cfg : NULL, lua_toboolean(L, 3));
    if (!m && have) /* say which config the checkpoint was measured against */
        return luaL_error(L, "%s (model config %s)", at_last_error(), lua_tostring(L, 2));
    return push_model(L, m, fname);
}

/* aapmt.imagereward_random([config [, seed [, {init = "fine_tune" | "from_scratch"}]]]) */
static int model_random(lua_State *L) {
    const char *fname = "aapmt.imagereward_random";
    ir_config cfg;
    if (!opt_config(L, 1, &cfg, fname)) ir_config_default(&cfg);
    uint64_t seed = (uint64_t)luaL_optinteger(L, 2, 0);
    bool scratch = false;
    static const char *const options[] = {"init", NULL};
    if (lt_options(L, 3, options, fname)) {
        const char *init = lt_opt_string(L, 3, "init", "fine_tune", fname);
        scratch = strcmp(init, "from_scratch") == 0;
        if (!scratch && strcmp(init, "fine_tune") != 0)
            return luaL_error(L, "%s: init must be 'fine_tune' or 'from_scratch', got '%s'", fname, init);
    }
    return push_model(L, scratch ? ir_model_random_from_scratch(&cfg, seed) : ir_model_random(&cfg, seed), fname);
}

static void set_tensor(lua_State *L, const char *key, at_tensor *t) {
    if (!t) return;
    lt_push_shared(L, t);
    lua_setfield(L, -2, key);
}

/* t[key] = {tensors[0], ..., tensors[n - 1]}, when tensors is set. */
static void set_tensor_list(lua_State *L, const char *key, at_tensor **tensors, int n) {
    if (!tensors) return;
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lt_push_shared(L, tensors[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, key);
}

/* The input at idx on the model's device: host batches (the data loader's,
 * the tokenizer's) go to the GPU here, so experiments need no change but
 * the model's device. A new reference the caller releases. */
static at_tensor *input_on(lua_State *L, int idx, const ir_model *m, const char *fname) {
    at_tensor *t = lt_check(L, idx, fname);
    at_device want = at_device_of(ir_model_param(m, 0));
    if (at_device_of(t) == want) {
        at_retain(t);
        return t;
    }
    at_tensor *moved = at_to_device(t, want);
    if (!moved) lt_engine_error(L, fname);
    return moved;
}

/* Arguments 2..4 (pixels or an encoding, ids, mask) on the model's device,
 * each held by a to-be-closed slot pushed on the stack, so they are released
 * however the call ends. */
static void hold_inputs(lua_State *L, const ir_model *m, at_tensor **inputs, const char *fname) {
    for (int i = 0; i < 3; i++) {
        inputs[i] = input_on(L, 2 + i, m, fname);
        lt_push(L, inputs[i]);
        lua_toclose(L, -1);
    }
}

static int push_output(lua_State *L, ir_output *out);

static int model_forward(lua_State *L) {
    const char *fname = "ImageReward:forward";
    ir_model *m = check_model(L, fname);
    lua_settop(L, 5); /* the options, or nil, stay at 5 under the slots pushed below */
    static const char *const options[] = {"training", "seed", "cross_attention", "image_tokens", "metric_attention",
                                          "recompute", NULL};
    bool have_options = lt_options(L, 5, options, fname);
    at_tensor *inputs[3];
    hold_inputs(L, m, inputs, fname);
    at_tensor *pixels = inputs[0], *ids = inputs[1], *mask = inputs[2];
    ir_forward_opts opts = {0};
    at_rng rng = at_rng_new(0);
    if (have_options) {
        opts.training = lt_opt_bool(L, 5, "training", false, fname);
        opts.want_cross_attention = lt_opt_bool(L, 5, "cross_attention", false, fname);
        opts.want_image_tokens = lt_opt_bool(L, 5, "image_tokens", false, fname);
        opts.want_metric_attention = lt_opt_bool(L, 5, "metric_attention", false, fname);
        opts.recompute = lt_opt_bool(L, 5, "recompute", false, fname);
    }
    if (opts.training) {
        if (lt_has_option(L, 5, "seed")) {
            rng = at_rng_new((uint64_t)lt_opt_integer(L, 5, "seed", 0, fname));
            opts.rng = &rng;
        } else {
            opts.rng = lt_default_rng(L);
        }
    }
    ir_output out = {0};
    if (ir_model_forward(m, pixels, ids, mask, &opts, &out)) return lt_engine_error(L, fname);
    return push_output(L, &out);
}

/* The output table of forward (and of forward_encoded); clears out. */
static int push_output(lua_State *L, ir_output *out) {
    lua_createtable(L, 0, 5);
    set_tensor(L, "features", out->features);
    set_tensor(L, "rewards", out->rewards);
    set_tensor(L, "scores", out->scores);
    set_tensor(L, "image_tokens", out->image_tokens);
    set_tensor(L, "metric_scores", out->metric_scores);
    set_tensor_list(L, "cross_attention", out->cross_attention, out->n_cross_attention);
    if (out->metric_self_attention) {
        lua_createtable(L, 0, 2);
        set_tensor_list(L, "self", out->metric_self_attention, out->n_metric_attention);
        set_tensor_list(L, "cross", out->metric_cross_attention, out->n_metric_attention);
        lua_setfield(L, -2, "metric_attention");
    }
    ir_output_clear(out);
    return 1;
}

/* net:encode_image(pixels): the ViT output (B, tokens, width), no grad,
 * for net:score_texts. */
static int model_encode_image(lua_State *L) {
    const char *fname = "ImageReward:encode_image";
    ir_model *m = check_model(L, fname);
    at_tensor *pixels = input_on(L, 2, m, fname);
    bool was = at_set_grad_enabled(false);
    at_tensor *image = ir_model_encode_image(m, pixels, NULL);
    at_set_grad_enabled(was);
    at_release(pixels);
    if (!image) return lt_engine_error(L, fname);
    return lt_push(L, image);
}

/* net:forward_encoded(encoding, ids, mask [, {cross_attention=, metric_attention=}]):
 * forward's table (no grad, no dropout) from an encode_image encoding with
 * one row per text. */
static int model_forward_encoded(lua_State *L) {
    const char *fname = "ImageReward:forward_encoded";
    ir_model *m = check_model(L, fname);
    lua_settop(L, 5); /* the options, or nil, stay at 5 under the slots pushed below */
    static const char *const options[] = {"cross_attention", "metric_attention", NULL};
    ir_forward_opts opts = {0};
    if (lt_options(L, 5, options, fname)) {
        opts.want_cross_attention = lt_opt_bool(L, 5, "cross_attention", false, fname);
        opts.want_metric_attention = lt_opt_bool(L, 5, "metric_attention", false, fname);
    }
    at_tensor *inputs[3];
    hold_inputs(L, m, inputs, fname);
    ir_output out = {0};
    bool was = at_set_grad_enabled(false);
    int rc = ir_model_forward_encoded(m, inputs[0], inputs[1], inputs[2], &opts, &out);
    at_set_grad_enabled(was);
    if (rc) return lt_engine_error(L, fname);
    return push_output(L, &out);
}

typedef int (*score_fn)(const ir_model *, at_tensor *, at_tensor *, at_tensor *, ir_output *);

/* The image side of the encoding shared by every text: score_texts and
 * score_rows differ only in which texts go with which image. */
static int score_shared(lua_State *L, const char *fname, score_fn score) {
    ir_model *m = check_model(L, fname);
    lua_settop(L, 4);
    at_tensor *inputs[3];
    hold_inputs(L, m, inputs, fname);
    ir_output out = {0};
    if (score(m, inputs[0], inputs[1], inputs[2], &out)) return lt_engine_error(L, fname);
    return push_output(L, &out);
}

/* net:score_texts(encoding, ids, mask): {scores=, rewards= (texts, images),
 * features= (texts, images, hidden), metric_scores=} for every text against
 * every image of the encoding. */
static int model_score_texts(lua_State *L) {
    return score_shared(L, "ImageReward:score_texts", ir_model_score_texts);
}

/* net:score_rows(encoding, ids, mask): forward_encoded's table for T texts
 * per image (ids, mask (T*B, L), row t*B + i against image i). */
static int model_score_rows(lua_State *L) {
    return score_shared(L, "ImageReward:score_rows", ir_model_score_rows);
}

static int model_head(lua_State *L) {
    const char *fname = "ImageReward:head";
    ir_model *m = check_model(L, fname);
    return lt_push(L, ir_model_head(m, lt_check(L, 2, fname), false, NULL));
}

static int model_to(lua_State *L) {
    ir_model *m = check_model(L, "ImageReward:to");
    const char *name = luaL_checkstring(L, 2);
    int device = at_device_from_name(name);
    if (device < 0) return luaL_error(L, "ImageReward:to: unknown device '%s' (cpu or cuda)", name);
    if (ir_model_to_device(m, (at_device)device)) return lt_engine_error(L, "ImageReward:to");
    lua_settop(L, 1);
    return 1;
}

static int model_device(lua_State *L) {
    lua_pushstring(L, at_device_name(at_device_of(ir_model_param(check_model(L, "ImageReward:device"), 0))));
    return 1;
}

/* net:weight_version() → version, id. The version grows with every write
 * into the weights the engine makes (optimizer steps, copies and fills into
 * them or their views, a move to another device); the id tells models apart
 * (a load makes a new model). Together they key the REPL's encoding cache. */
static int model_weight_version(lua_State *L) {
    ir_model *m = check_model(L, "ImageReward:weight_version");
    lua_pushinteger(L, (lua_Integer)ir_model_weight_version(m));
    lua_pushinteger(L, (lua_Integer)m->id);
    return 2;
}

static int model_image_size(lua_State *L) {
    lua_pushinteger(L, check_model(L, "ImageReward:image_size")->cfg.vision.image_size);
    return 1;
}

static void set_int(lua_State *L, const char *key, int64_t v) {
    lua_pushinteger(L, v);
    lua_setfield(L, -2, key);
}

static void push_config(lua_State *L, const ir_config *c) {
    lua_createtable(L, 0, 2);
    lua_createtable(L, 0, 6);
    set_int(L, "image_size", c->vision.image_size);
    set_int(L, "patch_size", c->vision.patch_size);
    set_int(L, "width", c->vision.width);
    set_int(L, "depth", c->vision.depth);
    set_int(L, "heads", c->vision.heads);
    lua_pushnumber(L, c->vision.mlp_ratio);
    lua_setfield(L, -2, "mlp_ratio");
    lua_setfield(L, -2, "vision");
    lua_createtable(L, 0, 6);
    set_int(L, "hidden_size", c->text.hidden_size);
    set_int(L, "num_hidden_layers", c->text.num_hidden_layers);
    set_int(L, "num_attention_heads", c->text.num_attention_heads);
    set_int(L, "intermediate_size", c->text.intermediate_size);
    set_int(L, "vocab_size", c->text.vocab_size);
    set_int(L, "max_position_embeddings", c->text.max_position_embeddings);
    lua_setfield(L, -2, "text");
    const ir_metric_head_config *mh = &c->metric_head;
    if (mh->kind != IR_METRICS_NONE) {
        lua_createtable(L, 0, 6);
        lua_pushstring(L, mh->kind == IR_METRICS_CODED ? "coded" : "metric_attention");
        lua_setfield(L, -2, "kind");
        lua_createtable(L, (int)mh->metrics, 0);
        for (int i = 0; i < mh->metrics; i++) {
            lua_pushstring(L, mh->names[i]);
            lua_rawseti(L, -2, i + 1);
        }
        lua_setfield(L, -2, "metrics");
        set_int(L, "heads", mh->heads);
        set_int(L, "ffn", mh->ffn);
        set_int(L, "layers", mh->layers);
        lua_pushnumber(L, mh->dropout);
        lua_setfield(L, -2, "dropout");
        lua_setfield(L, -2, "metric_head");
    }
}

static int model_config(lua_State *L) {
    push_config(L, &check_model(L, "ImageReward:config")->cfg);
    return 1;
}

/* aapmt.read_model_config([path]): a config file read and checked as a
 * model load would (ImageReward-v1.0's without a path), as net:config()
 * shows it, without building the model; errors name the file and key. */
static int read_model_config(lua_State *L) {
    ir_config cfg;
    const char *path = luaL_optstring(L, 1, NULL);
    if (!path) ir_config_default(&cfg);
    else if (ir_config_load(path, &cfg) || ir_config_validate(&cfg, path))
        return lt_engine_error(L, "aapmt.read_model_config");
    push_config(L, &cfg);
    return 1;
}



/* { {name=, tensor=}, ... } in state_dict order. */
static int model_parameters(lua_State *L) {
    ir_model *m = check_model(L, "ImageReward:parameters");
    int n = ir_model_param_count(m);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_createtable(L, 0, 2);
        lua_pushstring(L, ir_model_param_name(m, i));
        lua_setfield(L, -2, "name");
        set_tensor(L, "tensor", ir_model_param(m, i));
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int model_fix_rate(lua_State *L) {
    const char *fname = "ImageReward:fix_rate";
    ir_model *m = check_model(L, fname);
    if (ir_model_apply_fix_rate(m, luaL_checknumber(L, 2))) return lt_engine_error(L, fname);
    return 0;
}

/* model:metric_head_random() → whether the metric head's weights are random
 * (not from the checkpoint); model:init_metric_head(seed) draws new ones. */
static int model_metric_head_random(lua_State *L) {
    lua_pushboolean(L, check_model(L, "ImageReward:metric_head_random")->metric_head_random);
    return 1;
}

static int model_init_metric_head(lua_State *L) {
    const char *fname = "ImageReward:init_metric_head";
    ir_model *m = check_model(L, fname);
    if (ir_model_init_metric_head(m, (uint64_t)luaL_checkinteger(L, 2))) return lt_engine_error(L, fname);
    m->metric_head_random = true;
    return 0;
}

static int model_save(lua_State *L) {
    const char *fname = "ImageReward:save";
    ir_model *m = check_model(L, fname);
    at_state_dict *sd = ir_model_export(m);
    int rc = sd ? at_save_safetensors(sd, luaL_checkstring(L, 2)) : -1;
    at_sd_free(sd);
    if (rc) return lt_engine_error(L, fname);
    return 0;
}

static int model_gc(lua_State *L) {
    ir_model **p = luaL_checkudata(L, 1, LT_MODEL_TYPE);
    ir_model_free(*p);
    *p = NULL;
    return 0;
}

static int model_tostring(lua_State *L) {
    ir_model **p = luaL_checkudata(L, 1, LT_MODEL_TYPE);
    if (!*p) {
        lua_pushliteral(L, "aapmt.ImageReward (freed)");
        return 1;
    }
    const ir_config *c = &(*p)->cfg;
    lua_pushfstring(L, "aapmt.ImageReward (ViT %I px, width %I, depth %I; BERT width %I, %I layers; %d tensors)",
                    (lua_Integer)c->vision.image_size, (lua_Integer)c->vision.width,
                    (lua_Integer)c->vision.depth, (lua_Integer)c->text.hidden_size,
                    (lua_Integer)c->text.num_hidden_layers, ir_model_param_count(*p));
    return 1;
}

/* aapmt.preprocess(paths[, size[, {max_pixels = N}]]): max_pixels bounds
 * each image's pixel count (default: AAPMT_MAX_IMAGE_PIXELS or Pillow's). */
static int preprocess(lua_State *L) {
    const char *fname = "aapmt.preprocess";
    static const char *const options[] = {"max_pixels", NULL};
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer size = luaL_optinteger(L, 2, 224);
    if (size < 1 || size > 8192) return luaL_error(L, "%s: size must be in 1..8192, got %d", fname, (int)size);
    lua_Integer max_pixels = 0;
    if (lt_options(L, 3, options, fname)) {
        max_pixels = lt_opt_integer(L, 3, "max_pixels", 0, fname);
        if (max_pixels < 1) return luaL_error(L, "%s: max_pixels must be at least 1, got %I", fname, max_pixels);
    }
    int n = (int)lua_rawlen(L, 1);
    if (n == 0) return luaL_error(L, "%s: needs at least one image path", fname);
    const char **paths = lua_newuserdatauv(L, sizeof *paths * (size_t)n, 0);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, 1, i + 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "%s: image %d is a %s, not a path", fname, i + 1, luaL_typename(L, -1));
        paths[i] = lua_tostring(L, -1);   /* kept alive by the table */
        lua_pop(L, 1);
    }
    return lt_push(L, at_image_preprocess_files(paths, n, (int)size, (int64_t)max_pixels));
}

void lt_model_register(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"forward", model_forward}, {"encode_image", model_encode_image},
        {"forward_encoded", model_forward_encoded}, {"score_texts", model_score_texts},
        {"score_rows", model_score_rows},
        {"head", model_head}, {"to", model_to}, {"device", model_device}, {"image_size", model_image_size},
        {"weight_version", model_weight_version},
        {"config", model_config}, {"parameters", model_parameters}, {"fix_rate", model_fix_rate},
        {"save", model_save}, {"metric_head_random", model_metric_head_random},
        {"init_metric_head", model_init_metric_head}, {"free", model_gc}, {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", model_gc}, {"__close", model_gc}, {"__tostring", model_tostring},
                                    {NULL, NULL}};
    luaL_newmetatable(L, LT_MODEL_TYPE);
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    static const luaL_Reg functions[] = {{"imagereward_load", model_load}, {"imagereward_random", model_random},
                                         {"preprocess", preprocess}, {"read_model_config", read_model_config},
                                         {NULL, NULL}};
    luaL_setfuncs(L, functions, 0);
}

/* Model config: the built-in ImageReward-v1.0 sizes and a strict JSON reader. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "../io/read_whole.h"
#include "../tensor.h"

void ir_config_default(ir_config *cfg) {
    *cfg = (ir_config){
        .vision = {.image_size = 224, .patch_size = 16, .width = 1024, .depth = 24, .heads = 16,
                   .mlp_ratio = 4.0, .layer_norm_eps = 1e-6, .drop_path_rate = 0.1},
        .text = {.hidden_size = 768, .num_hidden_layers = 12, .num_attention_heads = 12,
                 .intermediate_size = 3072, .vocab_size = 30524, .max_position_embeddings = 512,
                 .layer_norm_eps = 1e-12, .hidden_dropout_prob = 0.1, .attention_probs_dropout_prob = 0.1},
        .head = {.hidden = {1024, 128, 64, 16}, .dropout = {0.2, 0.2, 0.1}},
    };
}

/* ---- typed key readers: each names source and "block.key" on failure ---- */

typedef struct {
    const char *source;
    const char *block;
} reader;

static const cJSON *item(const reader *r, const cJSON *obj, const char *key, bool required) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it && required)
        at_set_error("model config %s: key \"%s.%s\" is missing", r->source, r->block, key);
    return it;
}

static const char *json_kind(const cJSON *it) {
    if (cJSON_IsString(it)) return "a string";
    if (cJSON_IsBool(it)) return "a boolean";
    if (cJSON_IsArray(it)) return "an array";
    if (cJSON_IsObject(it)) return "an object";
    if (cJSON_IsNull(it)) return "null";
    return "a number";
}

/* A positive integer (a JSON number with no fractional part). */
static int read_size(const reader *r, const cJSON *obj, const char *key, int64_t *out) {
    const cJSON *it = item(r, obj, key, true);
    if (!it) return -1;
    double v = it->valuedouble;
    if (!cJSON_IsNumber(it) || v != floor(v) || v < 1 || v > 1e12) {
        if (cJSON_IsNumber(it))
            at_set_error("model config %s: key \"%s.%s\" must be a positive integer, got %g", r->source,
                         r->block, key, v);
        else
            at_set_error("model config %s: key \"%s.%s\" must be a positive integer, got %s", r->source,
                         r->block, key, json_kind(it));
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

/* A number in [lo, hi) (or [lo, hi] when hi_inclusive); absent keeps *out
 * unless required. */
static int read_number(const reader *r, const cJSON *obj, const char *key, bool required, double lo,
                       double hi, bool hi_inclusive, double *out) {
    const cJSON *it = item(r, obj, key, required);
    if (!it) return required ? -1 : 0;
    double v = it->valuedouble;
    if (!cJSON_IsNumber(it)) {
        at_set_error("model config %s: key \"%s.%s\" must be a number, got %s", r->source, r->block, key,
                     json_kind(it));
        return -1;
    }
    if (!(v >= lo && (hi_inclusive ? v <= hi : v < hi))) {
        at_set_error("model config %s: key \"%s.%s\" must be in [%g, %g%c, got %g", r->source, r->block, key,
                     lo, hi, hi_inclusive ? ']' : ')', v);
        return -1;
    }
    *out = v;
    return 0;
}

/* An optional key that, when present, must hold the one value this model implements. */
static int require_string(const reader *r, const cJSON *obj, const char *key, const char *want) {
    const cJSON *it = item(r, obj, key, false);
    if (!it) return 0;
    if (!cJSON_IsString(it) || strcmp(it->valuestring, want) != 0) {
        at_set_error("model config %s: key \"%s.%s\" must be \"%s\" (the only one implemented), got %s%s%s",
                     r->source, r->block, key, want, cJSON_IsString(it) ? "\"" : "",
                     cJSON_IsString(it) ? it->valuestring : json_kind(it), cJSON_IsString(it) ? "\"" : "");
        return -1;
    }
    return 0;
}

static const cJSON *block(const char *source, const cJSON *root, const char *name, bool required) {
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!b) {
        if (required) at_set_error("model config %s: block \"%s\" is missing", source, name);
        return NULL;
    }
    if (!cJSON_IsObject(b)) {
        at_set_error("model config %s: \"%s\" must be an object, got %s", source, name, json_kind(b));
        return NULL;
    }
    return b;
}

/* Our own block: a misspelt key is an error, not a silently used default. */
static int reject_unknown(const reader *r, const cJSON *obj, const char *const *known) {
    for (const cJSON *it = obj->child; it; it = it->next) {
        bool ok = false;
        for (int i = 0; known[i] && !ok; i++) ok = strcmp(it->string, known[i]) == 0;
        if (!ok) {
            at_set_error("model config %s: unknown key \"%s.%s\"", r->source, r->block, it->string);
            return -1;
        }
    }
    return 0;
}

static int parse_vision(const char *source, const cJSON *v, ir_vision_config *out) {
    static const char *const known[] = {"image_size", "patch_size", "width", "depth", "heads", "mlp_ratio",
                                        "layer_norm_eps", "drop_path_rate", NULL};
    reader r = {source, "vision"};
    if (reject_unknown(&r, v, known) || read_size(&r, v, "image_size", &out->image_size) ||
        read_size(&r, v, "patch_size", &out->patch_size) || read_size(&r, v, "width", &out->width) ||
        read_size(&r, v, "depth", &out->depth) || read_size(&r, v, "heads", &out->heads) ||
        read_number(&r, v, "mlp_ratio", true, 1e-9, 1e6, true, &out->mlp_ratio) ||
        read_number(&r, v, "layer_norm_eps", false, 0, 1, true, &out->layer_norm_eps) ||
        read_number(&r, v, "drop_path_rate", false, 0, 1, false, &out->drop_path_rate))
        return -1;
    return 0;
}

static int parse_text(const char *source, const cJSON *t, ir_text_config *out) {
    reader r = {source, "text"};
    const cJSON *cross = item(&r, t, "add_cross_attention", false);
    if (cross && !cJSON_IsTrue(cross)) {
        at_set_error("model config %s: key \"text.add_cross_attention\" must be true (every layer of this "
                     "model attends to the image), got %s", source, cJSON_IsFalse(cross) ? "false" : json_kind(cross));
        return -1;
    }
    if (read_size(&r, t, "hidden_size", &out->hidden_size) ||
        read_size(&r, t, "num_hidden_layers", &out->num_hidden_layers) ||
        read_size(&r, t, "num_attention_heads", &out->num_attention_heads) ||
        read_size(&r, t, "intermediate_size", &out->intermediate_size) ||
        read_size(&r, t, "vocab_size", &out->vocab_size) ||
        read_size(&r, t, "max_position_embeddings", &out->max_position_embeddings) ||
        read_number(&r, t, "layer_norm_eps", true, 0, 1, true, &out->layer_norm_eps) ||
        read_number(&r, t, "hidden_dropout_prob", false, 0, 1, false, &out->hidden_dropout_prob) ||
        read_number(&r, t, "attention_probs_dropout_prob", false, 0, 1, false,
                    &out->attention_probs_dropout_prob) ||
        require_string(&r, t, "hidden_act", "gelu") ||
        require_string(&r, t, "position_embedding_type", "absolute"))
        return -1;
    return 0;
}

static int read_array(const reader *r, const cJSON *obj, const char *key, int n, bool sizes, int64_t *isz,
                      double *rates) {
    const cJSON *a = item(r, obj, key, false);
    if (!a) return 0;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n) {
        at_set_error("model config %s: key \"%s.%s\" must be an array of %d %s, got %s", r->source, r->block, key,
                     n, sizes ? "positive integers" : "rates in [0, 1)",
                     cJSON_IsArray(a) ? "an array of another length" : json_kind(a));
        return -1;
    }
    int i = 0;
    for (const cJSON *it = a->child; it; it = it->next, i++) {
        double v = it->valuedouble;
        bool ok = cJSON_IsNumber(it) && (sizes ? v == floor(v) && v >= 1 && v <= 1e12 : v >= 0 && v < 1);
        if (!ok) {
            at_set_error("model config %s: key \"%s.%s\" entry %d must be %s", r->source, r->block, key, i,
                         sizes ? "a positive integer" : "a rate in [0, 1)");
            return -1;
        }
        if (sizes) isz[i] = (int64_t)v;
        else rates[i] = v;
    }
    return 0;
}

static int parse_head(const char *source, const cJSON *h, ir_head_config *out) {
    static const char *const known[] = {"hidden_sizes", "dropouts", NULL};
    reader r = {source, "head"};
    if (reject_unknown(&r, h, known) ||
        read_array(&r, h, "hidden_sizes", IR_HEAD_HIDDEN, true, out->hidden, NULL) ||
        read_array(&r, h, "dropouts", 3, false, NULL, out->dropout))
        return -1;
    return 0;
}

/* "metrics": 1..IR_MAX_METRICS distinct non-empty names. */
static int read_metric_names(const reader *r, const cJSON *obj, bool required, ir_metric_head_config *out) {
    const cJSON *a = item(r, obj, "metrics", required);
    if (!a) return required ? -1 : 0;
    int n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : -1;
    if (n < 1 || n > IR_MAX_METRICS) {
        at_set_error("model config %s: key \"%s.metrics\" must be an array of 1 to %d metric names, got %s",
                     r->source, r->block, IR_MAX_METRICS, n < 0 ? json_kind(a) : "an array of another length");
        return -1;
    }
    int i = 0;
    for (const cJSON *it = a->child; it; it = it->next, i++) {
        if (!cJSON_IsString(it) || !it->valuestring[0] || strlen(it->valuestring) >= IR_METRIC_NAME_MAX) {
            at_set_error("model config %s: key \"%s.metrics\" entry %d must be a name of 1 to %d characters",
                         r->source, r->block, i, IR_METRIC_NAME_MAX - 1);
            return -1;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(out->names[j], it->valuestring) == 0) {
                at_set_error("model config %s: key \"%s.metrics\" names \"%s\" twice", r->source, r->block,
                             it->valuestring);
                return -1;
            }
        snprintf(out->names[i], IR_METRIC_NAME_MAX, "%s", it->valuestring);
    }
    out->metrics = n;
    return 0;
}

static int parse_metric_head(const char *source, const cJSON *h, const ir_text_config *text,
                             ir_metric_head_config *out) {
    static const char *const known[] = {"kind", "metrics", "heads", "ffn", "layers", "dropout", NULL};
    reader r = {source, "metric_head"};
    if (reject_unknown(&r, h, known)) return -1;
    const cJSON *kind = item(&r, h, "kind", true);
    if (!kind) return -1;
    bool coded = cJSON_IsString(kind) && strcmp(kind->valuestring, "coded") == 0;
    bool attention = cJSON_IsString(kind) && strcmp(kind->valuestring, "metric_attention") == 0;
    if (!coded && !attention) {
        at_set_error("model config %s: key \"metric_head.kind\" must be \"coded\" or \"metric_attention\"",
                     source);
        return -1;
    }
    ir_metric_head_config c = {.kind = coded ? IR_METRICS_CODED : IR_METRICS_ATTENTION, .dropout = 0.1};
    double dropout = c.dropout;
    if (coded) {
        c.metrics = 3, c.heads = 3, c.ffn = 2048, c.layers = 1;
        snprintf(c.names[0], IR_METRIC_NAME_MAX, "align");
        snprintf(c.names[1], IR_METRIC_NAME_MAX, "quality");
        snprintf(c.names[2], IR_METRIC_NAME_MAX, "authenticity");
    } else {
        c.heads = text->num_attention_heads, c.ffn = 4 * text->hidden_size, c.layers = 2;
    }
    if (read_metric_names(&r, h, attention, &c) ||
        (item(&r, h, "heads", false) && read_size(&r, h, "heads", &c.heads)) ||
        (item(&r, h, "ffn", false) && read_size(&r, h, "ffn", &c.ffn)) ||
        (item(&r, h, "layers", false) && read_size(&r, h, "layers", &c.layers)) ||
        read_number(&r, h, "dropout", false, 0, 1, false, &dropout))
        return -1;
    c.dropout = dropout;
    if (coded && (c.metrics != 3 || c.layers != 1)) {
        at_set_error("model config %s: the coded Metric Transformer has 3 metrics and 1 layer", source);
        return -1;
    }
    if (text->hidden_size % c.heads != 0) {
        at_set_error("model config %s: text.hidden_size %lld is not a multiple of metric_head.heads %lld", source,
                     (long long)text->hidden_size, (long long)c.heads);
        return -1;
    }
    if (c.ffn > 1 << 20 || c.layers > 64) {
        at_set_error("model config %s: metric_head sizes out of range (ffn up to 1048576, layers up to 64)",
                     source);
        return -1;
    }
    *out = c;
    return 0;
}

int ir_config_validate(const ir_config *cfg, const char *source) {
    const ir_vision_config *v = &cfg->vision;
    const ir_text_config *t = &cfg->text;
    if (v->image_size % v->patch_size != 0) {
        at_set_error("model config %s: vision.image_size %lld is not a multiple of vision.patch_size %lld", source,
                     (long long)v->image_size, (long long)v->patch_size);
        return -1;
    }
    if (v->width % v->heads != 0) {
        at_set_error("model config %s: vision.width %lld is not a multiple of vision.heads %lld", source,
                     (long long)v->width, (long long)v->heads);
        return -1;
    }
    if (ir_vision_mlp_hidden(v) < 1) {
        at_set_error("model config %s: vision.width %lld times vision.mlp_ratio %g leaves no MLP units", source,
                     (long long)v->width, v->mlp_ratio);
        return -1;
    }
    if (t->hidden_size % t->num_attention_heads != 0) {
        at_set_error("model config %s: text.hidden_size %lld is not a multiple of text.num_attention_heads %lld",
                     source, (long long)t->hidden_size, (long long)t->num_attention_heads);
        return -1;
    }
    /* Sizes far beyond any real model would only overflow the products below. */
    if (v->image_size > 65536 || v->width > 65536 || v->depth > 1024 || t->hidden_size > 65536 ||
        t->num_hidden_layers > 1024 || t->intermediate_size > 1 << 20 || t->vocab_size > 1 << 24 ||
        t->max_position_embeddings > 1 << 20 || ir_vision_mlp_hidden(v) > 1 << 20) {
        at_set_error("model config %s: sizes out of the supported range (widths up to 65536, depths up to 1024)",
                     source);
        return -1;
    }
    return 0;
}

int ir_config_parse(const char *json, const char *source, ir_config *cfg) {
    if (!source) source = "(text)";
    cJSON *root = cJSON_Parse(json);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        at_set_error("model config %s: not valid JSON (near byte %lld)", source,
                     at && at >= json ? (long long)(at - json) : -1LL);
        return -1;
    }
    ir_config c;
    ir_config_default(&c);   /* the optional keys keep these values */
    int rc = -1;
    const cJSON *v, *t, *h = NULL, *mh = NULL;
    if (!cJSON_IsObject(root)) {
        at_set_error("model config %s: the top level must be an object", source);
        goto done;
    }
    for (const cJSON *it = root->child; it; it = it->next) {
        static const char *const blocks[] = {"vision", "text", "head", "metric_head"};
        bool known = false;
        for (int i = 0; i < 4 && !known; i++) known = strcmp(it->string, blocks[i]) == 0;
        if (!known) {
            at_set_error("model config %s: unknown block \"%s\" (the blocks are vision, text, head and "
                         "metric_head)", source, it->string);
            goto done;
        }
    }
    if (!(v = block(source, root, "vision", true)) || !(t = block(source, root, "text", true))) goto done;
    if (cJSON_GetObjectItemCaseSensitive(root, "head") && !(h = block(source, root, "head", true))) goto done;
    if (cJSON_GetObjectItemCaseSensitive(root, "metric_head") && !(mh = block(source, root, "metric_head", true)))
        goto done;
    if (parse_vision(source, v, &c.vision) || parse_text(source, t, &c.text) || (h && parse_head(source, h, &c.head)) ||
        ir_config_validate(&c, source) || (mh && parse_metric_head(source, mh, &c.text, &c.metric_head)))
        goto done;
    *cfg = c;
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

int ir_config_load(const char *path, ir_config *cfg) {
    /* Configs are a few hundred bytes; a megabyte is plenty and bounds what a
     * wrong path (a checkpoint, say) makes us read. */
    static const at_file_kind config_file = {NULL, 1 << 20, true};
    size_t n;
    char *text = at_read_whole(path, &config_file, &n, "model config %s", path);
    if (!text) return -1;
    int rc = ir_config_parse(text, path, cfg);
    free(text);
    return rc;
}

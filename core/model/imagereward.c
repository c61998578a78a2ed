/* ImageReward assembly: parameter table, loading, the head and the forward. */
#include "imagereward.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../autograd.h"
#include "../ops.h"
#include "steps.h"
#include "text_side.h"

const char *const ir_unused_keys[] = {"blip.vision_proj.", "blip.text_proj.",
                                      "blip.text_encoder.embeddings.position_ids", NULL};

static const int head_layer_index[5] = {0, 2, 4, 6, 7};

/* ImageReward.py MLP init: every weight ~ N(0, 1/(in + 1)) with in = 768. */
static void head_params(ir_model *m) {
    int64_t in = m->cfg.text.hidden_size, sizes[6];
    sizes[0] = in;
    for (int i = 0; i < IR_HEAD_HIDDEN; i++) sizes[i + 1] = m->cfg.head.hidden[i];
    sizes[5] = 1;
    for (int i = 0; i < 5; i++) {
        int64_t w[2] = {sizes[i + 1], sizes[i]}, b[1] = {sizes[i + 1]};
        ir_params_add(&m->params, &m->head_w[i], IR_INIT_RANDOM, 1.0 / (double)(in + 1), 2, w, "mlp.layers.%d.weight",
                      head_layer_index[i]);
        ir_params_add(&m->params, &m->head_b[i], IR_INIT_ZERO, 0, 1, b, "mlp.layers.%d.bias", head_layer_index[i]);
    }
}

/* The model with its table of (still empty) parameter slots. */
static ir_model *model_new(const ir_config *cfg_in) {
    ir_config def;
    if (!cfg_in) ir_config_default(&def);
    const ir_config *cfg = cfg_in ? cfg_in : &def;
    if (ir_config_validate(cfg, "(given)")) return NULL;
    ir_model *m = calloc(1, sizeof *m);
    if (!m) {
        at_set_error("model: out of memory");
        return NULL;
    }
    static uint64_t last_id;
    m->id = __atomic_add_fetch(&last_id, 1, __ATOMIC_RELAXED);
    m->cfg = *cfg;
    if (ir_vit_init(&m->vit, &cfg->vision) || ir_bert_init(&m->bert, &cfg->text, cfg->vision.width)) {
        ir_model_free(m);
        return NULL;
    }
    ir_vit_params(&m->vit, "blip.visual_encoder.", &m->params);
    ir_bert_params(&m->bert, "blip.text_encoder.", &m->params);
    head_params(m);
    m->metric_first = m->params.count;
    if (cfg->metric_head.kind != IR_METRICS_NONE) {
        if (ir_metric_head_init(&m->metric, &cfg->metric_head, cfg->text.hidden_size)) {
            ir_model_free(m);
            return NULL;
        }
        ir_metric_head_params(&m->metric, &m->params);
    }
    if (ir_params_ok(&m->params)) {
        ir_model_free(m);
        return NULL;
    }
    return m;
}

void ir_model_free(ir_model *m) {
    if (!m) return;
    ir_params_release_tensors(&m->params);
    ir_params_free(&m->params);
    ir_vit_free(&m->vit);
    ir_bert_free(&m->bert);
    ir_metric_head_free(&m->metric);
    free(m);
}

/* Marks every parameter of p written (at_storage_touch), after its tensors
 * were replaced. */
static void touch_params(const ir_params *p) {
    for (int i = 0; i < p->count; i++)
        if (*p->items[i].slot) at_storage_touch((*p->items[i].slot)->storage);
}

/* The table's slots [first, first + count) as a table of their own. */
static ir_params params_view(const ir_params *p, int first, int count) {
    return (ir_params){.count = count, .cap = count, .items = p->items + first};
}

int ir_model_init_metric_head(ir_model *m, uint64_t seed) {
    if (m->cfg.metric_head.kind == IR_METRICS_NONE) {
        at_set_error("model: no metric head to initialise (its config has no \"metric_head\" block)");
        return -1;
    }
    ir_params head = params_view(&m->params, m->metric_first, m->params.count - m->metric_first);
    ir_params_release_tensors(&head);
    at_rng rng = at_rng_new(seed);
    int rc = ir_params_init_random(&head, &rng);
    touch_params(&head);   /* new tensors start unwritten (stamp 0): mark the change */
    return rc;
}

ir_model *ir_model_from_state_dict(const ir_config *cfg, const at_state_dict *sd, bool copy, const char *source) {
    ir_model *m = model_new(cfg);
    if (!m) return NULL;
    source = source ? source : "(state dict)";
    /* AAPMT saved its Metric Transformer in every checkpoint, used or not. */
    const char *const without_head[] = {"blip.vision_proj.", "blip.text_proj.",
                                        "blip.text_encoder.embeddings.position_ids", "ImageAssessmentModel.", NULL};
    bool has_head = m->metric_first < m->params.count;
    bool sd_has_head = has_head && at_sd_get(sd, m->params.items[m->metric_first].name);
    int rc;
    if (has_head && !sd_has_head) {
        ir_params backbone = params_view(&m->params, 0, m->metric_first);
        rc = ir_params_load(&backbone, sd, ir_unused_keys, copy, source);
        if (!rc) rc = ir_model_init_metric_head(m, 0);
        m->metric_head_random = true;
    } else {
        rc = ir_params_load(&m->params, sd, has_head ? ir_unused_keys : without_head, copy, source);
    }
    if (rc) {
        ir_model_free(m);
        return NULL;
    }
    return m;
}

ir_model *ir_model_load(const char *path, const ir_config *cfg, bool copy) {
    at_state_dict *sd = at_load_checkpoint(path);
    if (!sd) return NULL;
    ir_model *m = ir_model_from_state_dict(cfg, sd, copy, path);
    at_sd_free(sd);   /* the parameters keep the storage they use */
    return m;
}

ir_model *ir_model_random(const ir_config *cfg, uint64_t seed) {
    ir_model *m = model_new(cfg);
    at_rng rng = at_rng_new(seed);
    if (m && ir_params_init_random(&m->params, &rng)) {
        ir_model_free(m);
        return NULL;
    }
    return m;
}

ir_model *ir_model_random_from_scratch(const ir_config *cfg, uint64_t seed) {
    ir_model *m = model_new(cfg);
    if (!m) return NULL;
    for (int i = 0; i < m->params.count; i++) {
        ir_param *it = &m->params.items[i];
        if (it->init != IR_INIT_RANDOM || it->ndim < 2) continue;
        const char *name = it->name;
        size_t n = strlen(name);
        double fan_in = 1;
        for (int d = 1; d < it->ndim; d++) fan_in *= (double)it->shape[d];
        bool embedding = n >= 17 && strcmp(name + n - 17, "embeddings.weight") == 0;
        if (embedding) it->std = 1.0;
        else if (strncmp(name, "mlp.layers.", 11) == 0) it->std = 1 / sqrt(fan_in);
        else if (!strstr(name, "pos_embed") && !strstr(name, "cls_token")) it->std = 1 / sqrt(3 * fan_in);
    }
    at_rng rng = at_rng_new(seed);
    if (ir_params_init_random(&m->params, &rng)) {
        ir_model_free(m);
        return NULL;
    }
    return m;
}

at_state_dict *ir_model_export(const ir_model *m) { return ir_params_export(&m->params); }

int ir_model_param_count(const ir_model *m) { return m->params.count; }

const char *ir_model_param_name(const ir_model *m, int i) {
    return i >= 0 && i < m->params.count ? m->params.items[i].name : NULL;
}

int ir_model_to_device(ir_model *m, at_device device) {
    bool moves = false;
    for (int i = 0; i < m->params.count && !moves; i++)
        moves = *m->params.items[i].slot && at_device_of(*m->params.items[i].slot) != device;
    if (!moves) return 0;
    int rc = ir_params_to_device(&m->params, device);
    touch_params(&m->params);   /* moved or not (a failure stops part way), the weights' tensors changed */
    return rc;
}

uint64_t ir_model_weight_version(const ir_model *m) {
    uint64_t v = 0;
    for (int i = 0; i < m->params.count; i++) {
        const at_tensor *t = *m->params.items[i].slot;
        uint64_t s = t && t->storage ? at_storage_version(t->storage) : 0;
        if (s > v) v = s;
    }
    return v;
}

at_tensor *ir_model_param(const ir_model *m, int i) {
    return i >= 0 && i < m->params.count ? *m->params.items[i].slot : NULL;
}

int ir_model_set_requires_grad(ir_model *m, bool requires_grad) {
    for (int i = 0; i < m->params.count; i++)
        if (at_set_requires_grad(*m->params.items[i].slot, requires_grad)) return -1;
    return 0;
}

/* Freezes the parameters whose names start with prefix, in table order, up
 * to and including the first whose name after the prefix contains needle. */
static int freeze_through(ir_model *m, const char *prefix, const char *needle) {
    size_t n = strlen(prefix);
    bool freezing = true;
    for (int i = 0; i < m->params.count; i++) {
        const char *name = m->params.items[i].name;
        if (strncmp(name, prefix, n) != 0) continue;
        if (at_set_requires_grad(*m->params.items[i].slot, !freezing)) return -1;
        if (freezing && strstr(name + n, needle)) freezing = false;
    }
    return 0;
}

int ir_model_apply_fix_rate(ir_model *m, double fix_rate) {
    if (!(fix_rate >= 0 && fix_rate <= 1)) {
        at_set_error("model: fix_rate must be in [0, 1], got %g", fix_rate);
        return -1;
    }
    /* ImageReward's training code takes the freezing branch only when
     * fix_rate > 0: with 0 everything trains. */
    if (fix_rate == 0) return ir_model_set_requires_grad(m, true);
    char text_needle[64], vision_needle[64];
    /* Python's int() truncates, as the cast does. */
    snprintf(text_needle, sizeof text_needle, "layer.%d", (int)((double)m->cfg.text.num_hidden_layers * fix_rate));
    snprintf(vision_needle, sizeof vision_needle, "blocks.%d", (int)((double)m->cfg.vision.depth * fix_rate));
    if (ir_model_set_requires_grad(m, true) || freeze_through(m, "blip.text_encoder.", text_needle) ||
        freeze_through(m, "blip.visual_encoder.", vision_needle))
        return -1;
    return 0;
}

/* ---- forward ---- */

at_tensor *ir_model_head(const ir_model *m, at_tensor *features, bool training, at_rng *rng) {
    char sf[128];
    if (!features || features->ndim != 2 || features->shape[1] != m->cfg.text.hidden_size) {
        at_set_error("model head: features must be (B, %lld), got %s", (long long)m->cfg.text.hidden_size,
                     features ? at_shape_str(features, sf, sizeof sf) : "no tensor");
        return NULL;
    }
    int64_t B = features->shape[0];
    at_retain(features);
    at_tensor *x = features;
    /* Linear, Dropout, Linear, Dropout, Linear, Dropout, Linear, Linear: no activations. */
    for (int i = 0; x && i < 5; i++) {
        if (ir_step(&x, at_linear(x, m->head_w[i], m->head_b[i])) && i < 3)
            ir_step(&x, at_dropout(x, m->cfg.head.dropout[i], training, rng));
    }
    if (x) ir_step(&x, at_reshape(x, 1, &B));
    return x;
}

at_tensor *ir_normalise_rewards(at_tensor *rewards) {
    /* In f32 like torch's tensor-minus-Python-float: the constants are
     * rounded to the tensor's dtype first. */
    at_tensor *mean = ir_on_device_of(at_scalar(rewards->dtype, IR_SCORE_MEAN), rewards);
    at_tensor *std = ir_on_device_of(at_scalar(rewards->dtype, IR_SCORE_STD), rewards);
    at_tensor *s = mean && std ? at_sub(rewards, mean) : NULL;
    if (s) ir_step(&s, at_div(s, std));
    at_release(mean);
    at_release(std);
    return s;
}

void ir_output_clear(ir_output *out) {
    at_release(out->image_tokens);
    at_release(out->features);
    at_release(out->rewards);
    at_release(out->scores);
    for (int i = 0; i < out->n_cross_attention; i++) at_release(out->cross_attention[i]);
    free(out->cross_attention);
    at_release(out->metric_scores);
    for (int i = 0; i < out->n_metric_attention; i++) {
        if (out->metric_self_attention) at_release(out->metric_self_attention[i]);
        if (out->metric_cross_attention) at_release(out->metric_cross_attention[i]);
    }
    free(out->metric_self_attention);
    free(out->metric_cross_attention);
    *out = (ir_output){0};
}

/* Length of the text actually run: columns that are padding in every row are
 * dropped from the end. Their keys get -10000 (exp underflows to exactly 0),
 * so they change no real position. Kept whole if some row is all padding:
 * its softmax spreads over all L keys. */
static int64_t text_length(const at_tensor *mask) {
    int64_t B = mask->shape[0], L = mask->shape[1], keep = 0;
    for (int64_t b = 0; b < B; b++) {
        int64_t last = -1;
        for (int64_t j = 0; j < L; j++)
            if (at_get_linear(mask, b * L + j) != 0) last = j;
        if (last < 0) return L;
        if (last + 1 > keep) keep = last + 1;
    }
    return keep;
}

/* The rates the encoders run with are the model's current ones: m->cfg's
 * rates may have been changed since loading (its sizes may not). Checks them,
 * and that training with any of them has a generator. */
static int check_rates(const ir_model *m, const ir_forward_opts *opts) {
    const ir_config *c = &m->cfg;
    double rates[7] = {c->vision.drop_path_rate, c->text.hidden_dropout_prob, c->text.attention_probs_dropout_prob,
                       c->head.dropout[0], c->head.dropout[1], c->head.dropout[2], c->metric_head.dropout};
    bool any = false;
    for (int i = 0; i < 7; i++) {
        if (!(rates[i] >= 0 && rates[i] < 1)) {
            at_set_error("model: dropout and drop-path rates must be in [0, 1), got %g", rates[i]);
            return -1;
        }
        any = any || rates[i] > 0;
    }
    if (opts->training && any && !opts->rng) {
        at_set_error("model: training with dropout or drop-path needs a random generator (opts.rng)");
        return -1;
    }
    return 0;
}

static int check_text(const at_tensor *ids, const at_tensor *mask, const at_tensor *images, const char *what) {
    char si[128], sm[128];
    if (!ids || !mask || ids->ndim != 2 || !at_same_shape(ids, mask)) {
        at_set_error("model: ids %s and mask %s must both be (B, L)", ids ? at_shape_str(ids, si, sizeof si) : "(none)",
                     mask ? at_shape_str(mask, sm, sizeof sm) : "(none)");
        return -1;
    }
    if (images && images->ndim >= 1 && images->shape[0] != ids->shape[0]) {
        at_set_error("model: %lld images but %lld prompts (%s %s, ids %s)", (long long)images->shape[0],
                     (long long)ids->shape[0], what, at_shape_str(images, sm, sizeof sm),
                     at_shape_str(ids, si, sizeof si));
        return -1;
    }
    return 0;
}

at_tensor *ir_model_encode_image(const ir_model *m, at_tensor *pixels, const ir_forward_opts *opts_in) {
    ir_forward_opts opts = opts_in ? *opts_in : (ir_forward_opts){0};
    if (check_rates(m, &opts)) return NULL;
    ir_vit vit = m->vit;
    vit.cfg.drop_path_rate = m->cfg.vision.drop_path_rate;
    vit.recompute = opts.recompute;
    return ir_vit_forward(&vit, pixels, opts.training, opts.rng);
}

int ir_model_trim_text(at_tensor *ids, at_tensor *mask, at_tensor **ids_run, at_tensor **mask_run) {
    int64_t L = text_length(mask);
    *ids_run = at_narrow(ids, 1, 0, L);
    *mask_run = *ids_run ? at_narrow(mask, 1, 0, L) : NULL;
    if (*mask_run) return 0;
    at_release(*ids_run);
    *ids_run = NULL;
    return -1;
}

int ir_model_outputs_of_hidden(const ir_model *m, at_tensor *h, at_tensor *mask_run, const ir_forward_opts *opts,
                               ir_output *out) {
    const ir_config *c = &m->cfg;
    at_tensor *cls = at_select(h, 1, 0);
    out->features = cls ? at_contiguous(cls) : NULL;
    at_release(cls);
    if (!out->features || !(out->rewards = ir_model_head(m, out->features, opts->training, opts->rng)) ||
        !(out->scores = ir_normalise_rewards(out->rewards)))
        return -1;
    if (c->metric_head.kind == IR_METRICS_NONE) return 0;
    ir_mt_probe mp = {.want_attention = opts->want_metric_attention};
    ir_metric_head head = m->metric;
    head.cfg.dropout = c->metric_head.dropout;
    out->metric_scores = ir_metric_head_forward(&head, h, mask_run, opts->training, opts->rng, &mp);
    if (mp.self_attention || mp.cross_attention) {
        out->metric_self_attention = mp.self_attention;
        out->metric_cross_attention = mp.cross_attention;
        out->n_metric_attention = (int)c->metric_head.layers;
    }
    return out->metric_scores ? 0 : -1;
}

int ir_model_forward_encoded(const ir_model *m, at_tensor *image, at_tensor *ids, at_tensor *mask,
                             const ir_forward_opts *opts_in, ir_output *out) {
    ir_forward_opts opts = opts_in ? *opts_in : (ir_forward_opts){0};
    *out = (ir_output){0};
    if (check_text(ids, mask, image, "image tokens") || check_rates(m, &opts)) return -1;
    const ir_config *c = &m->cfg;
    ir_bert bert = m->bert;
    bert.cfg.hidden_dropout_prob = c->text.hidden_dropout_prob;
    bert.cfg.attention_probs_dropout_prob = c->text.attention_probs_dropout_prob;
    bert.recompute = opts.recompute;
    at_tensor *ids_run = NULL, *mask_run = NULL, *h = NULL;
    ir_bert_probe probe = {.want_cross_attention = opts.want_cross_attention};
    if (ir_model_trim_text(ids, mask, &ids_run, &mask_run) ||
        !(h = ir_bert_forward(&bert, ids_run, mask_run, image, opts.training, opts.rng, &probe)))
        goto fail;
    if (opts.want_cross_attention) {
        out->cross_attention = probe.cross_attention;
        out->n_cross_attention = (int)m->cfg.text.num_hidden_layers;
    }
    if (ir_model_outputs_of_hidden(m, h, mask_run, &opts, out)) goto fail;
    if (opts.want_image_tokens) {
        at_retain(image);
        out->image_tokens = image;
    }
    at_release(h);
    at_release(ids_run);
    at_release(mask_run);
    return 0;
fail:
    at_release(h);
    at_release(ids_run);
    at_release(mask_run);
    ir_output_clear(out);
    return -1;
}

int ir_model_forward(const ir_model *m, at_tensor *pixels, at_tensor *ids, at_tensor *mask,
                     const ir_forward_opts *opts, ir_output *out) {
    *out = (ir_output){0};
    if (check_text(ids, mask, pixels, "pixels")) return -1;
    at_tensor *image = ir_model_encode_image(m, pixels, opts);
    int rc = image ? ir_model_forward_encoded(m, image, ids, mask, opts, out) : -1;
    at_release(image);
    return rc;
}

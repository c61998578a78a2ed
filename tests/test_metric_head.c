/* The Metric Transformer against PyTorch (tests/fixtures/make_metric_head_
 * fixtures.py): both variants' outputs, attention maps and gradients on a
 * tiny ImageReward; the coded variant's zero gradient for Wq, Wk against the
 * metric_attention variant's live cross-metric attention; loading with and
 * without the head's weights; config errors. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "autograd.h"
#include "check.h"
#include "io/state_dict.h"
#include "model/imagereward.h"
#include "ops.h"

#define FIXTURES AAPMT_TEST_FIXTURES "/metric_head"

static double max_abs(const at_tensor *t) {
    double m = 0;
    for (int64_t i = 0; t && i < at_numel(t); i++) m = fmax(m, fabs(at_get_linear(t, i)));
    return m;
}

/* Largest |a - e| over max(largest |e|, floor). */
static double rel_error(const at_tensor *a, const at_tensor *e, double floor) {
    if (!a || !e || at_numel(a) != at_numel(e)) return INFINITY;
    double diff = 0;
    for (int64_t i = 0; i < at_numel(e); i++) diff = fmax(diff, fabs(at_get_linear(a, i) - at_get_linear(e, i)));
    double scale = fmax(max_abs(e), floor);
    return scale > 0 ? diff / scale : diff;
}

static at_tensor *expect(const at_state_dict *sd, const char *name) {
    at_tensor *t = at_sd_get(sd, name);
    CHECK(t != NULL, "expected tensor %s is in the fixture", name);
    return t;
}

static ir_model *load_variant(const char *variant, ir_config *cfg, at_state_dict **ex) {
    char path[512];
    snprintf(path, sizeof path, FIXTURES "/%s_config.json", variant);
    CHECK(ir_config_load(path, cfg) == 0, "config %s: %s", path, at_last_error());
    snprintf(path, sizeof path, FIXTURES "/%s_imagereward.pt", variant);
    ir_model *m = ir_model_load(path, cfg, false);
    CHECK(m != NULL, "load %s: %s", path, at_last_error());
    CHECK(m && !m->metric_head_random, "%s: the head's weights come from the checkpoint", variant);
    snprintf(path, sizeof path, FIXTURES "/%s_expected.safetensors", variant);
    *ex = at_load_safetensors(path);
    CHECK(*ex != NULL, "load %s: %s", path, at_last_error());
    return m;
}

static void test_eval(const char *variant, ir_model *m, const at_state_dict *ex) {
    ir_forward_opts opts = {.want_metric_attention = true};
    ir_output out;
    int rc = ir_model_forward(m, expect(ex, "pixels"), expect(ex, "ids"), expect(ex, "mask"), &opts, &out);
    CHECK(rc == 0, "%s forward: %s", variant, at_last_error());
    if (rc) return;
    double r = rel_error(out.metric_scores, expect(ex, "metric_scores"), 0);
    CHECK(r <= 1e-5, "%s metric scores: relative error %.3g", variant, r);
    printf("%s: metric scores, relative error %.3g\n", variant, r);
    if (m->cfg.metric_head.kind == IR_METRICS_ATTENTION) {
        CHECK(out.n_metric_attention == 2, "two layers of metric attention maps, got %d", out.n_metric_attention);
        for (int l = 0; l < out.n_metric_attention; l++) {
            char name[64];
            snprintf(name, sizeof name, "self_attention.%d", l);
            r = rel_error(out.metric_self_attention[l], expect(ex, name), 0);
            CHECK(r <= 1e-5, "%s: relative error %.3g", name, r);
            /* Ours cover the 10 columns some prompt uses; PyTorch's all 12,
             * the last two with weight exactly 0. */
            snprintf(name, sizeof name, "cross_attention.%d", l);
            at_tensor *e = expect(ex, name), *got = out.metric_cross_attention[l];
            if (!e || !got) continue;
            at_tensor *part = at_narrow(e, 3, 0, got->shape[3]);
            r = rel_error(got, part, 0);
            CHECK(got->shape[3] == 10 && r <= 1e-5, "%s: %lld columns, relative error %.3g", name,
                  (long long)got->shape[3], r);
            at_release(part);
        }
    } else {
        CHECK(out.metric_self_attention == NULL, "the coded variant has no metric attention maps");
    }
    ir_output_clear(&out);
}

/* Training mode, every dropout off, loss = sum(metric_scores · weights). */
static void test_gradients(const char *variant, ir_model *m, const at_state_dict *ex) {
    ir_config saved = m->cfg;
    m->cfg.vision.drop_path_rate = m->cfg.text.hidden_dropout_prob = m->cfg.text.attention_probs_dropout_prob = 0;
    m->cfg.head.dropout[0] = m->cfg.head.dropout[1] = m->cfg.head.dropout[2] = 0;
    m->cfg.metric_head.dropout = 0;
    CHECK(ir_model_set_requires_grad(m, true) == 0, "requires grad: %s", at_last_error());
    at_rng rng = at_rng_new(3);
    ir_forward_opts opts = {.training = true, .rng = &rng};
    ir_output out;
    int rc = ir_model_forward(m, expect(ex, "pixels"), expect(ex, "ids"), expect(ex, "mask"), &opts, &out);
    CHECK(rc == 0, "%s training forward: %s", variant, at_last_error());
    if (rc) goto done;
    at_tensor *w = expect(ex, "weights"), *weighted = w ? at_mul(out.metric_scores, w) : NULL;
    at_tensor *loss = weighted ? at_sum_all(weighted) : NULL;
    CHECK(loss && at_backward(loss, NULL) == 0, "backward: %s", at_last_error());
    CHECK(loss && fabs(at_get_linear(loss, 0) - at_get_linear(expect(ex, "loss"), 0)) <=
                      1e-5 * fabs(at_get_linear(expect(ex, "loss"), 0)),
          "%s loss", variant);
    double largest = 0, worst = 0;
    for (int i = 0; i < ex->count; i++)
        if (!strncmp(ex->entries[i].name, "grad.", 5)) largest = fmax(largest, max_abs(ex->entries[i].tensor));
    int compared = 0;
    for (int i = 0; i < ir_model_param_count(m); i++) {
        char name[300];
        snprintf(name, sizeof name, "grad.%s", ir_model_param_name(m, i));
        at_tensor *e = at_sd_get(ex, name);
        if (!e) continue;
        at_tensor *g = ir_model_param(m, i)->grad;
        /* The floor: tensors whose exact gradient is zero hold rounding noise. */
        double r = g ? rel_error(g, e, 1e-3 * largest) : (max_abs(e) == 0 ? 0 : INFINITY);
        worst = fmax(worst, r);
        CHECK(r <= 1e-4, "%s: relative error %.3g", name, r);
        compared++;
    }
    CHECK(compared >= 30, "%s: %d gradients compared", variant, compared);
    printf("%s: %d gradients, worst relative error %.3g\n", variant, compared, worst);

    /* What separates the variants: AAPMT's Wq, Wk get exactly nothing (one
     * token: the softmax is 1); the paper's metric tokens attend to each
     * other, so their query weights learn. */
    for (int i = 0; i < ir_model_param_count(m); i++) {
        const char *name = ir_model_param_name(m, i);
        at_tensor *g = ir_model_param(m, i)->grad;
        if (strstr(name, "ImageAssessmentModel.wq_") || strstr(name, "ImageAssessmentModel.wk_"))
            CHECK(g && max_abs(g) == 0, "%s: the coded variant's gradient is exactly zero, got %g", name, max_abs(g));
        if (strstr(name, ".self_attn.q.weight") || strstr(name, ".self_attn.k.weight"))
            CHECK(g && max_abs(g) > 1e-6, "%s: cross-metric attention receives gradient (%g)", name, max_abs(g));
        if (strstr(name, "ImageAssessmentModel.wv_"))
            CHECK(g && max_abs(g) > 1e-6, "%s: the read-out matrices learn", name);
    }
    at_release(weighted);
    at_release(loss);
    ir_output_clear(&out);
done:
    for (int i = 0; i < ir_model_param_count(m); i++) at_zero_grad(ir_model_param(m, i));
    ir_model_set_requires_grad(m, false);
    m->cfg = saved;
}

/* A checkpoint without the head (ImageReward.pt's case) under a config with
 * one: the backbone loads, the head is drawn; a checkpoint with AAPMT's head
 * under a config without one loads, leaving those keys unused. */
static void test_loading(const ir_config *coded_cfg) {
    ir_config plain = *coded_cfg;
    plain.metric_head = (ir_metric_head_config){0};
    ir_model *m = ir_model_load(FIXTURES "/coded_imagereward.pt", &plain, false);
    CHECK(m != NULL, "AAPMT's ImageAssessmentModel keys are unused without a metric head: %s", at_last_error());
    at_state_dict *backbone = m ? ir_model_export(m) : NULL;
    ir_model_free(m);
    ir_model *drawn = backbone ? ir_model_from_state_dict(coded_cfg, backbone, false, "backbone") : NULL;
    CHECK(drawn && drawn->metric_head_random, "no head in the checkpoint: drawn at random: %s", at_last_error());
    ir_model *again = backbone ? ir_model_from_state_dict(coded_cfg, backbone, false, "backbone") : NULL;
    if (drawn && again) {
        at_tensor *a = ir_model_param(drawn, drawn->metric_first), *b = ir_model_param(again, again->metric_first);
        CHECK(rel_error(a, b, 0) == 0, "the drawn head is reproducible");
        CHECK(ir_model_init_metric_head(again, 5) == 0, "init_metric_head: %s", at_last_error());
        b = ir_model_param(again, again->metric_first);
        CHECK(rel_error(a, b, 0) > 0, "another seed draws another head");
    }
    ir_model_free(drawn);
    ir_model_free(again);
    at_sd_free(backbone);
}

static void expect_config_error(const char *block, const char *fragment) {
    char json[1024];
    snprintf(json, sizeof json,
             "{\"vision\": {\"image_size\": 16, \"patch_size\": 8, \"width\": 16, \"depth\": 1, \"heads\": 2, "
             "\"mlp_ratio\": 4.0}, \"text\": {\"hidden_size\": 24, \"num_hidden_layers\": 2, "
             "\"num_attention_heads\": 2, \"intermediate_size\": 48, \"vocab_size\": 60, "
             "\"max_position_embeddings\": 40, \"layer_norm_eps\": 1e-12}%s}",
             block);
    ir_config cfg;
    int rc = ir_config_parse(json, "cfg.json", &cfg);
    CHECK(rc != 0 && strstr(at_last_error(), fragment), "config %s: expected an error with '%s', got '%s'", block,
          fragment, rc ? at_last_error() : "success");
}

static void test_config_errors(void) {
    expect_config_error(", \"metric_head\": {\"kind\": \"mlp\"}", "\"coded\" or \"metric_attention\"");
    expect_config_error(", \"metric_head\": {\"kind\": \"metric_attention\"}", "metric_head.metrics\" is missing");
    expect_config_error(", \"metric_head\": {\"kind\": \"metric_attention\", \"metrics\": []}", "1 to 16 metric names");
    expect_config_error(", \"metric_head\": {\"kind\": \"metric_attention\", \"metrics\": [\"a\", \"a\"]}",
                        "names \"a\" twice");
    expect_config_error(", \"metric_head\": {\"kind\": \"metric_attention\", \"metrics\": [\"a\"], \"heads\": 5}",
                        "not a multiple of metric_head.heads 5");
    expect_config_error(", \"metric_head\": {\"kind\": \"coded\", \"metrics\": [\"a\", \"b\"]}", "3 metrics");
    expect_config_error(", \"metric_head\": {\"kind\": \"coded\", \"layer\": 2}", "unknown key \"metric_head.layer\"");
    expect_config_error(", \"metric_heads\": {\"kind\": \"coded\"}", "unknown block \"metric_heads\"");
}

int main(void) {
    test_config_errors();
    const char *variants[2] = {"coded", "attention"};
    ir_config coded_cfg = {0};
    for (int v = 0; v < 2; v++) {
        ir_config cfg;
        at_state_dict *ex = NULL;
        ir_model *m = load_variant(variants[v], &cfg, &ex);
        if (v == 0) coded_cfg = cfg;
        if (m && ex) {
            test_eval(variants[v], m, ex);
            test_gradients(variants[v], m, ex);
        }
        at_sd_free(ex);
        ir_model_free(m);
    }
    if (coded_cfg.metric_head.kind == IR_METRICS_CODED) test_loading(&coded_cfg);
    return check_summary();
}

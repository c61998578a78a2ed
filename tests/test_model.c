/* ImageReward in C against PyTorch on a tiny model of the same architecture
 * (tests/fixtures/make_model_fixtures.py): eval outputs, a training-mode
 * gradient step, dropout reproducibility, config errors and the key report. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd.h"
#include "check.h"
#include "io/state_dict.h"
#include "model/imagereward.h"
#include "ops.h"

#define FIXTURES AAPMT_TEST_FIXTURES "/model"
static const char *const config_path = FIXTURES "/tiny_config.json";
static const char *const checkpoint_path = FIXTURES "/tiny_imagereward.pt";
static const char *const expected_path = FIXTURES "/tiny_expected.safetensors";

/* Largest |a - e| over max(largest |e|, floor): a relative error that stays
 * meaningful when single entries are near zero. The floor is for tensors
 * whose exact value is zero, such as the gradient of a key bias (softmax
 * ignores a shift shared by all keys): they hold rounding noise only. */
static double max_abs(const at_tensor *t) {
    double m = 0;
    for (int64_t i = 0; t && i < at_numel(t); i++) m = fmax(m, fabs(at_get_linear(t, i)));
    return m;
}

static double rel_error(const at_tensor *a, const at_tensor *e, double floor) {
    if (!a || !e || at_numel(a) != at_numel(e)) return INFINITY;
    double diff = 0;
    for (int64_t i = 0; i < at_numel(e); i++) diff = fmax(diff, fabs(at_get_linear(a, i) - at_get_linear(e, i)));
    double scale = fmax(max_abs(e), floor);
    return scale > 0 ? diff / scale : diff;
}

static void check_close_floor(const char *what, const at_tensor *a, const at_tensor *e, double tol, double floor,
                              double *worst) {
    double r = rel_error(a, e, floor);
    if (worst && r > *worst) *worst = r;
    CHECK(r <= tol, "%s: relative error %.3g (tolerance %g)", what, r, tol);
}

static void check_close(const char *what, const at_tensor *a, const at_tensor *e, double tol, double *worst) {
    check_close_floor(what, a, e, tol, 0, worst);
}

static at_tensor *expect(const at_state_dict *sd, const char *name) {
    at_tensor *t = at_sd_get(sd, name);
    CHECK(t != NULL, "expected tensor %s is in %s", name, expected_path);
    return t;
}

static void test_eval(ir_model *m, const at_state_dict *ex) {
    at_tensor *pixels = expect(ex, "pixels"), *ids = expect(ex, "ids"), *mask = expect(ex, "mask");
    if (!pixels || !ids || !mask) return;
    ir_forward_opts opts = {.want_image_tokens = true, .want_cross_attention = true};
    ir_output out;
    int rc = ir_model_forward(m, pixels, ids, mask, &opts, &out);
    CHECK(rc == 0, "forward: %s", at_last_error());
    if (rc) return;
    double worst = 0;
    check_close("vit tokens", out.image_tokens, expect(ex, "vit_tokens"), 1e-5, &worst);
    check_close("features", out.features, expect(ex, "features"), 1e-5, &worst);
    check_close("rewards", out.rewards, expect(ex, "rewards"), 1e-5, &worst);
    check_close("scores", out.scores, expect(ex, "scores"), 1e-5, &worst);
    for (int64_t i = 0; i < at_numel(out.scores); i++) {
        double s = at_get_linear(out.scores, i), e = at_get_linear(expect(ex, "scores"), i);
        CHECK(fabs(s - e) <= 1e-5 * fabs(e), "score %lld: %.9g vs %.9g", (long long)i, s, e);
    }
    /* The maps cover the longest real prompt (10 of the 12 columns). */
    CHECK(out.n_cross_attention == 2, "two layers of cross-attention maps, got %d", out.n_cross_attention);
    for (int l = 0; l < out.n_cross_attention; l++) {
        char name[64];
        snprintf(name, sizeof name, "cross_attention.%d", l);
        at_tensor *e = expect(ex, name), *got = out.cross_attention[l];
        if (!e || !got) continue;
        CHECK(got->ndim == 4 && got->shape[2] == 10 && got->shape[3] == e->shape[3], "map shape");
        at_tensor *part = at_narrow(e, 2, 0, got->shape[2]);
        check_close(name, got, part, 1e-5, &worst);
        at_release(part);
    }
    printf("eval: worst relative error %.3g\n", worst);
    ir_output_clear(&out);

    /* Batch of one gives the same score as in the batch of three. */
    at_tensor *p1 = at_narrow(pixels, 0, 1, 1), *i1 = at_narrow(ids, 0, 1, 1), *m1 = at_narrow(mask, 0, 1, 1);
    rc = ir_model_forward(m, p1, i1, m1, NULL, &out);
    CHECK(rc == 0, "forward of one: %s", at_last_error());
    if (!rc) CHECK_NEAR(at_get_linear(out.scores, 0), at_get_linear(expect(ex, "scores"), 1), 1e-5, "single score");
    ir_output_clear(&out);
    at_release(p1);
    at_release(i1);
    at_release(m1);
}

/* model.train() with every dropout and drop-path off, loss = sum(scores²).
 * attention_p 0 runs the fused attention op; a rate too small to ever drop
 * (its 1/(1-p) rounds to 1 in f32) runs the op-by-op path that training
 * with attention dropout takes, which must give the same gradients. */
static void test_gradients(ir_model *m, const at_state_dict *ex, double attention_p) {
    ir_config saved = m->cfg;
    m->cfg.vision.drop_path_rate = 0;
    m->cfg.text.hidden_dropout_prob = 0;
    m->cfg.text.attention_probs_dropout_prob = attention_p;
    m->cfg.head.dropout[0] = m->cfg.head.dropout[1] = m->cfg.head.dropout[2] = 0;
    CHECK(ir_model_set_requires_grad(m, true) == 0, "requires grad: %s", at_last_error());
    at_tensor *pixels = at_clone_data(expect(ex, "pixels"));
    at_set_requires_grad(pixels, true);
    at_rng rng = at_rng_new(7);
    ir_forward_opts opts = {.training = true, .rng = &rng};
    ir_output out;
    int rc = ir_model_forward(m, pixels, expect(ex, "ids"), expect(ex, "mask"), &opts, &out);
    CHECK(rc == 0, "training forward: %s", at_last_error());
    if (rc) goto done;
    at_tensor *sq = at_mul(out.scores, out.scores), *loss = sq ? at_sum_all(sq) : NULL;
    CHECK(loss && at_backward(loss, NULL) == 0, "backward: %s", at_last_error());
    check_close("loss", loss, expect(ex, "loss"), 1e-5, NULL);
    /* 1e-2 of the largest gradient entry anywhere: the floor for tensors
     * whose exact gradient is zero. */
    double largest = 0, worst = 0;
    for (int i = 0; i < ex->count; i++)
        if (!strncmp(ex->entries[i].name, "grad.", 5)) largest = fmax(largest, max_abs(ex->entries[i].tensor));
    int compared = 0;
    for (int i = 0; i < ir_model_param_count(m); i++) {
        char name[300];
        snprintf(name, sizeof name, "grad.%s", ir_model_param_name(m, i));
        at_tensor *g = ir_model_param(m, i)->grad, *e = expect(ex, name);
        CHECK(g != NULL, "%s has a gradient", name);
        if (g && e) check_close_floor(name, g, e, 1e-4, 1e-2 * largest, &worst), compared++;
    }
    check_close("grad.pixels", pixels->grad, expect(ex, "grad.pixels"), 1e-4, &worst);
    /* padding_idx = 0: the [PAD] row of the word embeddings gets nothing. */
    at_tensor *wg = m->bert.word_emb->grad;
    if (wg) {
        double row0 = 0;
        for (int64_t c = 0; c < wg->shape[1]; c++) row0 = fmax(row0, fabs(at_get_linear(wg, c)));
        CHECK(row0 == 0, "word embedding row 0 gradient is %g", row0);
    }
    printf("gradients (attention dropout %g): %d parameters + pixels, worst relative error %.3g\n", attention_p,
           compared, worst);
    at_release(sq);
    at_release(loss);
    ir_output_clear(&out);
done:
    at_release(pixels);
    for (int i = 0; i < ir_model_param_count(m); i++) at_zero_grad(ir_model_param(m, i));
    ir_model_set_requires_grad(m, false);
    m->cfg = saved;
}

static double first_score(ir_model *m, const at_state_dict *ex, bool training, uint64_t seed, double *second) {
    at_rng rng = at_rng_new(seed);
    ir_forward_opts opts = {.training = training, .rng = &rng};
    ir_output out;
    if (ir_model_forward(m, expect(ex, "pixels"), expect(ex, "ids"), expect(ex, "mask"), &opts, &out)) {
        CHECK(0, "forward (training %d): %s", training, at_last_error());
        return NAN;
    }
    double s = at_get_linear(out.scores, 0);
    if (second) *second = at_get_linear(out.scores, 2);
    ir_output_clear(&out);
    return s;
}

static void test_dropout(ir_model *m, const at_state_dict *ex) {
    double b1, b2, b3;
    double a1 = first_score(m, ex, true, 11, &b1), a2 = first_score(m, ex, true, 11, &b2);
    double a3 = first_score(m, ex, true, 12, &b3), e = first_score(m, ex, false, 0, NULL);
    CHECK(a1 == a2 && b1 == b2, "same seed, same scores: %.9g %.9g", a1, a2);
    CHECK(a1 != a3 || b1 != b3, "another seed, other scores: %.9g %.9g", a1, a3);
    CHECK(a1 != e, "training differs from eval: %.9g %.9g", a1, e);
    /* Training without a generator is refused, not run with a fixed mask. */
    ir_forward_opts opts = {.training = true};
    ir_output out;
    CHECK(ir_model_forward(m, expect(ex, "pixels"), expect(ex, "ids"), expect(ex, "mask"), &opts, &out) == -1 &&
              strstr(at_last_error(), "random generator"),
          "training without rng: %s", at_last_error());
    /* Each regulariser alone changes the output too. */
    ir_config saved = m->cfg;
    m->cfg.text.hidden_dropout_prob = m->cfg.text.attention_probs_dropout_prob = 0;
    m->cfg.head.dropout[0] = m->cfg.head.dropout[1] = m->cfg.head.dropout[2] = 0;
    m->cfg.vision.drop_path_rate = 0.9;   /* block 1 of 2 drops with 0.9 */
    double d1 = first_score(m, ex, true, 1, NULL), d2 = first_score(m, ex, true, 2, NULL);
    double d3 = first_score(m, ex, true, 3, NULL), d4 = first_score(m, ex, true, 4, NULL);
    CHECK(!(d1 == e && d2 == e && d3 == e && d4 == e), "drop-path changes some output");
    m->cfg = saved;
}

/* Wrong inputs give errors naming what is wrong, never a crash. */
static void test_bad_inputs(ir_model *m, const at_state_dict *ex) {
    at_tensor *pixels = expect(ex, "pixels"), *ids = expect(ex, "ids"), *mask = expect(ex, "mask");
    ir_output out;
    at_tensor *p2 = at_narrow(pixels, 0, 0, 2);
    CHECK(ir_model_forward(m, p2, ids, mask, NULL, &out) == -1 && strstr(at_last_error(), "2 images but 3 prompts"),
          "batch mismatch: %s", at_last_error());
    int64_t small[4] = {3, 3, 16, 16}, long_ids[2] = {3, 41};
    at_tensor *tiny = at_zeros(AT_F32, 4, small), *many = at_zeros(AT_I64, 2, long_ids);
    at_tensor *many_mask = at_full(AT_I64, 2, long_ids, 1), *bad_ids = at_clone_data(ids);
    CHECK(ir_model_forward(m, tiny, ids, mask, NULL, &out) == -1 && strstr(at_last_error(), "(B, 3, 32, 32)"),
          "wrong image size: %s", at_last_error());
    CHECK(ir_model_forward(m, pixels, many, many_mask, NULL, &out) == -1 && strstr(at_last_error(), "L <= 40"),
          "prompt longer than the positions: %s", at_last_error());
    ((int64_t *)at_data(bad_ids))[3] = 60;
    CHECK(ir_model_forward(m, pixels, bad_ids, mask, NULL, &out) == -1 && strstr(at_last_error(), "id 60"),
          "id out of the vocabulary: %s", at_last_error());
    CHECK(ir_model_forward(m, pixels, ids, many_mask, NULL, &out) == -1 && strstr(at_last_error(), "mask"),
          "mask of another shape: %s", at_last_error());
    CHECK(out.scores == NULL && out.features == NULL, "a failed forward leaves no outputs");
    at_release(p2);
    at_release(tiny);
    at_release(many);
    at_release(many_mask);
    at_release(bad_ids);
}

static at_state_dict *copy_without(const at_state_dict *sd, const char *skip) {
    at_state_dict *out = at_sd_new();
    for (int i = 0; out && i < sd->count; i++)
        if (!skip || strcmp(sd->entries[i].name, skip) != 0) at_sd_put(out, sd->entries[i].name, sd->entries[i].tensor);
    return out;
}

static void test_key_report(const ir_config *cfg) {
    ir_model *m = ir_model_random(cfg, 3);
    CHECK(m != NULL, "random model: %s", at_last_error());
    if (!m) return;
    at_state_dict *sd = ir_model_export(m);
    CHECK(sd && sd->count == ir_model_param_count(m), "export has every parameter");
    /* The real checkpoint's unused keys are accepted. */
    at_state_dict *bad = copy_without(sd, NULL);
    int64_t proj[2] = {256, 32}, pid[2] = {1, 40};
    at_tensor *unused = at_zeros(AT_F32, 2, proj), *ids = at_zeros(AT_I64, 2, pid);
    at_sd_put(bad, "blip.vision_proj.weight", unused);
    at_sd_put(bad, "blip.text_encoder.embeddings.position_ids", ids);
    ir_model *ok = ir_model_from_state_dict(cfg, bad, false, "with-unused");
    CHECK(ok != NULL, "unused keys are ignored: %s", at_last_error());
    ir_model_free(ok);
    at_sd_free(bad);

    /* One missing, one unexpected and one mis-shaped key: one message. */
    bad = copy_without(sd, "blip.text_encoder.encoder.layer.1.crossattention.self.key.bias");
    int64_t wrong[2] = {24, 24};
    at_tensor *extra = at_zeros(AT_F32, 1, proj), *misshaped = at_zeros(AT_F32, 2, wrong);
    at_sd_put(bad, "blip.itm_head.weight", extra);
    at_sd_put(bad, "blip.text_encoder.encoder.layer.0.crossattention.self.value.weight", misshaped);
    ir_model *fail = ir_model_from_state_dict(cfg, bad, false, "broken.pt");
    const char *msg = at_last_error();
    CHECK(fail == NULL, "a bad state dict is refused");
    CHECK(strstr(msg, "broken.pt") && strstr(msg, "1 missing: blip.text_encoder.encoder.layer.1.crossattention.self.key.bias") &&
              strstr(msg, "1 unexpected: blip.itm_head.weight") &&
              strstr(msg, "1 mis-shaped: blip.text_encoder.encoder.layer.0.crossattention.self.value.weight is f32 [24, 24], want [24, 32]"),
          "the message names all three: %s", msg);
    ir_model_free(fail);
    at_sd_free(bad);

    /* f16 weights are converted to f32 on load; round trip of the export. */
    at_state_dict *half = at_sd_new();
    for (int i = 0; i < sd->count; i++) {
        at_tensor *t = sd->entries[i].tensor, *h = at_empty(AT_F16, t->ndim, t->shape);
        at_copy_(h, t);
        at_sd_put(half, sd->entries[i].name, h);
        at_release(h);
    }
    ir_model *hm = ir_model_from_state_dict(cfg, half, false, "half");
    CHECK(hm && ir_model_param(hm, 5)->dtype == AT_F32, "f16 state dict loads as f32: %s", at_last_error());
    ir_model *copy = ir_model_from_state_dict(cfg, sd, false, "export");
    CHECK(copy && at_data(ir_model_param(copy, 5)) == at_data(ir_model_param(m, 5)), "f32 weights are not copied");
    ir_model_free(copy);
    copy = ir_model_from_state_dict(cfg, sd, true, "export");
    CHECK(copy && at_data(ir_model_param(copy, 5)) != at_data(ir_model_param(m, 5)), "copy = true copies");
    ir_model_free(copy);
    ir_model_free(hm);
    at_sd_free(half);
    at_release(unused);
    at_release(ids);
    at_release(extra);
    at_release(misshaped);
    at_sd_free(sd);
    ir_model_free(m);
}

static void expect_config_error(const char *json, const char *fragment) {
    ir_config c;
    int rc = ir_config_parse(json, "cfg.json", &c);
    const char *msg = at_last_error();
    CHECK(rc == -1 && strstr(msg, "cfg.json") && strstr(msg, fragment), "config error naming \"%s\": %s", fragment,
          rc ? msg : "(accepted)");
}

#define VISION "\"vision\":{\"image_size\":32,\"patch_size\":16,\"width\":32,\"depth\":2,\"heads\":2,\"mlp_ratio\":4}"
#define TEXT_KEYS "\"hidden_size\":24,\"num_hidden_layers\":2,\"num_attention_heads\":2,\"intermediate_size\":48," \
                  "\"vocab_size\":60,\"max_position_embeddings\":40"

static void test_config(void) {
    ir_config c, d;
    CHECK(ir_config_load(config_path, &c) == 0, "tiny config: %s", at_last_error());
    CHECK(c.vision.width == 32 && c.text.hidden_size == 24 && c.head.hidden[0] == 40 && c.vision.drop_path_rate == 0.1,
          "tiny config values");
    ir_config_default(&d);
    CHECK(d.vision.width == 1024 && d.vision.depth == 24 && d.text.vocab_size == 30524 && d.head.hidden[0] == 1024,
          "default is ImageReward-v1.0");
    CHECK(ir_config_parse("{" VISION ",\"text\":{" TEXT_KEYS ",\"layer_norm_eps\":1e-12,\"architectures\":[\"BertModel\"],"
                          "\"encoder_width\":768,\"add_cross_attention\":true}}", "ok", &c) == 0,
          "med_config.json keys are accepted: %s", at_last_error());
    CHECK(c.text.attention_probs_dropout_prob == 0.1 && c.head.dropout[0] == 0.2, "optional keys default");
    expect_config_error("{" VISION ",\"text\":{" TEXT_KEYS "}}", "\"text.layer_norm_eps\" is missing");
    expect_config_error("{" VISION ",\"text\":{" TEXT_KEYS ",\"layer_norm_eps\":\"1e-12\"}}",
                        "\"text.layer_norm_eps\" must be a number, got a string");
    expect_config_error("{\"vision\":{\"image_size\":32,\"patch_size\":16.5,\"width\":32,\"depth\":2,\"heads\":2,"
                        "\"mlp_ratio\":4},\"text\":{" TEXT_KEYS ",\"layer_norm_eps\":1e-12}}",
                        "\"vision.patch_size\" must be a positive integer, got 16.5");
    expect_config_error("{\"vision\":{\"image_size\":32,\"patch_size\":16,\"width\":32,\"depth\":2,\"heads\":2,"
                        "\"mlp_ratio\":4,\"patchsize\":16},\"text\":{" TEXT_KEYS ",\"layer_norm_eps\":1e-12}}",
                        "unknown key \"vision.patchsize\"");
    expect_config_error("{\"text\":{" TEXT_KEYS ",\"layer_norm_eps\":1e-12}}", "block \"vision\" is missing");
    expect_config_error("{" VISION ",\"text\":{" TEXT_KEYS ",\"layer_norm_eps\":1e-12,\"hidden_act\":\"relu\"}}",
                        "\"text.hidden_act\" must be \"gelu\"");
    expect_config_error("{" VISION ",\"text\":{" TEXT_KEYS ",\"layer_norm_eps\":1e-12,\"hidden_dropout_prob\":1.5}}",
                        "\"text.hidden_dropout_prob\" must be in [0, 1)");
    expect_config_error("{\"vision\":{\"image_size\":32,\"patch_size\":16,\"width\":30,\"depth\":2,\"heads\":4,"
                        "\"mlp_ratio\":4},\"text\":{" TEXT_KEYS ",\"layer_norm_eps\":1e-12}}",
                        "vision.width 30 is not a multiple of vision.heads 4");
    expect_config_error("{" VISION ",\"text\":{" TEXT_KEYS ",\"layer_norm_eps\":1e-12},\"head\":{\"hidden_sizes\":[1,2]}}",
                        "\"head.hidden_sizes\" must be an array of 4");
    expect_config_error("{" VISION ",\"text\":{" TEXT_KEYS ",\"layer_norm_eps\":1e-12", "not valid JSON");
    CHECK(ir_config_load(FIXTURES "/no-such-config.json", &c) == -1 && strstr(at_last_error(), "no-such-config.json"),
          "missing file: %s", at_last_error());
    CHECK(ir_config_load(checkpoint_path, &c) == -1 && strstr(at_last_error(), "tiny_imagereward.pt"),
          "a checkpoint is not a config: %s", at_last_error());
}

static void test_fix_rate(ir_model *m) {
    /* int(2 · 0.5) = 1: text frozen through encoder.layer.1.attention.self.query.weight,
     * vision through blocks.1.norm1.weight. */
    CHECK(ir_model_apply_fix_rate(m, 0.5) == 0, "fix_rate: %s", at_last_error());
    const char *first_trainable[2] = {"blip.text_encoder.encoder.layer.1.attention.self.query.bias",
                                      "blip.visual_encoder.blocks.1.norm1.bias"};
    const char *last_frozen[2] = {"blip.text_encoder.encoder.layer.1.attention.self.query.weight",
                                  "blip.visual_encoder.blocks.1.norm1.weight"};
    int trainable = 0;
    for (int i = 0; i < ir_model_param_count(m); i++) {
        const char *name = ir_model_param_name(m, i);
        bool rg = ir_model_param(m, i)->requires_grad;
        trainable += rg;
        for (int k = 0; k < 2; k++) {
            if (!strcmp(name, first_trainable[k])) CHECK(rg, "%s trains", name);
            if (!strcmp(name, last_frozen[k])) CHECK(!rg, "%s is frozen", name);
        }
        if (!strncmp(name, "mlp.", 4)) CHECK(rg, "%s trains", name);
        if (strstr(name, "cls_token") || strstr(name, "word_embeddings")) CHECK(!rg, "%s is frozen", name);
    }
    /* vision: 4 + 12 + 1 frozen of 4 + 24 + 2; text: 4 + 26 + 1 of 4 + 52; head: all 10 */
    CHECK(trainable == (30 - 17) + (56 - 31) + 10, "trainable count %d", trainable);
    /* 0 skips freezing, as ImageReward's training code does: everything trains again. */
    CHECK(ir_model_apply_fix_rate(m, 0) == 0, "fix_rate 0: %s", at_last_error());
    int all = 0;
    for (int i = 0; i < ir_model_param_count(m); i++) all += ir_model_param(m, i)->requires_grad;
    CHECK(all == ir_model_param_count(m), "fix_rate 0 leaves %d of %d trainable", all, ir_model_param_count(m));
    ir_model_set_requires_grad(m, false);
}

int main(void) {
    test_config();
    ir_config cfg;
    if (ir_config_load(config_path, &cfg)) {
        fprintf(stderr, "cannot read the config: %s\n", at_last_error());
        return 1;
    }
    test_key_report(&cfg);
    ir_model *m = ir_model_load(checkpoint_path, &cfg, false);
    CHECK(m != NULL, "load %s: %s", checkpoint_path, at_last_error());
    at_state_dict *ex = at_load_safetensors(expected_path);
    CHECK(ex != NULL, "load %s: %s", expected_path, at_last_error());
    if (m && ex) {
        test_eval(m, ex);
        test_gradients(m, ex, 0);
        test_gradients(m, ex, 1e-12);
        test_dropout(m, ex);
        test_bad_inputs(m, ex);
        test_fix_rate(m);
        /* A model of the wrong size names the file and the keys. */
        ir_model *wrong = ir_model_load(checkpoint_path, NULL, false);
        CHECK(!wrong && strstr(at_last_error(), "tiny_imagereward.pt") && strstr(at_last_error(), "mis-shaped"),
              "the default config does not fit the tiny checkpoint: %.300s", at_last_error());
    }
    at_sd_free(ex);
    ir_model_free(m);
    return check_summary();
}

/* ir_model_score_texts, and ir_model_score_rows (texts per image), against
 * scoring each text on its own: every output
 * (features, rewards, scores, the Metric Transformer's metric_scores) of
 * every (text, image) pair, on the tiny models of tests/fixtures (no metric
 * head, AAPMT's coded head, the paper's metric attention), with texts of
 * different lengths and several images. score_texts computes each
 * cross-attention layer's image keys and values once per image and stacks
 * the texts' queries: a mix-up of images or texts there shows up here,
 * because every image gives every text a clearly different score. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "autograd.h"
#include "check.h"
#include "io/state_dict.h"
#include "model/imagereward.h"
#include "ops.h"

#define FIXTURES AAPMT_TEST_FIXTURES
#define TOL 1e-6   /* absolute, and relative: |a - e| <= TOL + TOL·|e| */

/* What score_texts is compared on: a per-row output's values for one text. */
typedef struct {
    const char *name;
    at_tensor *got;        /* (texts, images, ...) from score_texts */
    at_tensor *expected;   /* (images, ...) from the text's own forward */
} compared;

static ir_model *load(const char *dir, const char *variant, ir_config *cfg, at_state_dict **ex) {
    char path[512];
    snprintf(path, sizeof path, FIXTURES "/%s/%s_config.json", dir, variant);
    CHECK(ir_config_load(path, cfg) == 0, "config %s: %s", path, at_last_error());
    snprintf(path, sizeof path, FIXTURES "/%s/%s_imagereward.pt", dir, variant);
    ir_model *m = ir_model_load(path, cfg, false);
    CHECK(m != NULL, "load %s: %s", path, at_last_error());
    snprintf(path, sizeof path, FIXTURES "/%s/%s_expected.safetensors", dir, variant);
    *ex = at_load_safetensors(path);
    CHECK(*ex != NULL, "load %s: %s", path, at_last_error());
    return m;
}

/* The fixture's texts (real lengths 10, 6 and 8 of 12 columns) and a fourth
 * of 3 tokens: four texts, so texts and images differ in number. */
static void four_texts(const at_state_dict *ex, at_tensor **ids, at_tensor **mask) {
    at_tensor *fids = at_sd_get(ex, "ids"), *fmask = at_sd_get(ex, "mask");
    int64_t shape[2] = {4, fids->shape[1]};
    *ids = at_zeros(AT_I64, 2, shape);
    *mask = at_zeros(AT_I64, 2, shape);
    int64_t *id = at_data(*ids), *mk = at_data(*mask), L = shape[1];
    for (int64_t i = 0; i < 3 * L; i++) id[i] = (int64_t)at_get_linear(fids, i), mk[i] = (int64_t)at_get_linear(fmask, i);
    int64_t short_text[3] = {11, 5, 7};
    for (int j = 0; j < 3; j++) id[3 * L + j] = short_text[j], mk[3 * L + j] = 1;
}

/* Row t of (texts, L) repeated for each of `images` rows. */
static at_tensor *text_for_each_image(at_tensor *t, int64_t text, int64_t images) {
    int64_t shape[2] = {images, t->shape[1]};
    at_tensor *row = at_narrow(t, 0, text, 1), *e = row ? at_expand(row, 2, shape) : NULL;
    at_tensor *c = e ? at_contiguous(e) : NULL;
    at_release(row);
    at_release(e);
    return c;
}

static double max_abs(const at_tensor *t) {
    double m = 0;
    for (int64_t i = 0; i < at_numel(t); i++) m = fmax(m, fabs(at_get_linear(t, i)));
    return m;
}

/* Largest |a - e| - TOL·s over the entries of got's slice [text] against
 * expected, where s is |e|, or the largest |e| when on_scale: <= TOL
 * passes. */
static double excess(const at_tensor *got, int64_t text, const at_tensor *expected, bool on_scale) {
    int64_t n = expected ? at_numel(expected) : 0;
    if (!got || !n || got->shape[0] * n != at_numel(got)) return INFINITY;
    double worst = 0, scale = max_abs(expected);
    for (int64_t i = 0; i < n; i++) {
        double a = at_get_linear(got, text * n + i), e = at_get_linear(expected, i);
        worst = fmax(worst, fabs(a - e) - TOL * (on_scale ? scale : fabs(e)));
    }
    return worst;
}

/* The smallest difference between two images' values of one text's
 * per-image output (images, ...): far above TOL, or the comparison could
 * not tell images apart. */
static double closest_images(const at_tensor *per_image) {
    int64_t images = per_image->shape[0], n = at_numel(per_image) / images;
    double closest = INFINITY;
    for (int64_t i = 0; i < images; i++)
        for (int64_t j = i + 1; j < images; j++) {
            double largest = 0;
            for (int64_t c = 0; c < n; c++)
                largest = fmax(largest, fabs(at_get_linear(per_image, i * n + c) - at_get_linear(per_image, j * n + c)));
            closest = fmin(closest, largest);
        }
    return closest;
}

/* score_texts on `images` images and `texts` of the four texts against a
 * forward_encoded per text. */
static void compare(const char *variant, ir_model *m, at_tensor *encoding, at_tensor *ids, at_tensor *mask) {
    int64_t images = encoding->shape[0], texts = ids->shape[0];
    ir_output all;
    int rc = ir_model_score_texts(m, encoding, ids, mask, &all);
    CHECK(rc == 0, "%s: score_texts: %s", variant, at_last_error());
    if (rc) return;
    bool metrics = m->cfg.metric_head.kind != IR_METRICS_NONE;
    CHECK(all.scores->ndim == 2 && all.scores->shape[0] == texts && all.scores->shape[1] == images,
          "%s: scores are (texts, images)", variant);
    CHECK((all.metric_scores != NULL) == metrics, "%s: metric scores exactly when there is a metric head", variant);
    double worst = 0;
    for (int64_t t = 0; t < texts; t++) {
        at_tensor *tids = text_for_each_image(ids, t, images), *tmask = text_for_each_image(mask, t, images);
        ir_output one;
        rc = tids && tmask ? ir_model_forward_encoded(m, encoding, tids, tmask, NULL, &one) : -1;
        CHECK(rc == 0, "%s: forward_encoded of text %lld: %s", variant, (long long)t, at_last_error());
        compared outs[4] = {{"features", all.features, rc ? NULL : one.features},
                            {"rewards", all.rewards, rc ? NULL : one.rewards},
                            {"scores", all.scores, rc ? NULL : one.scores},
                            {"metric_scores", all.metric_scores, rc ? NULL : one.metric_scores}};
        /* The metric heads end in layers that amplify the features'
         * rounding (a few float32 ulps: the per-text forward trims to the
         * text's own length and runs other GEMM shapes, the old repeated
         * encoding did the same), so their raw outputs are held to TOL of
         * their largest magnitude rather than of each entry. */
        for (int o = 0; !rc && o < (metrics ? 4 : 3); o++) {
            double e = excess(outs[o].got, t, outs[o].expected, o == 3);
            worst = fmax(worst, e);
            CHECK(e <= TOL, "%s, %lld texts x %lld images, text %lld: %s off by %.3g beyond the relative part",
                  variant, (long long)texts, (long long)images, (long long)t, outs[o].name, e);
        }
        if (!rc && images > 1) {
            double apart = closest_images(metrics ? one.metric_scores : one.scores);
            CHECK(apart > 1e3 * TOL, "%s, text %lld: two images score within %.3g: a swap would go unseen",
                  variant, (long long)t, apart);
        }
        if (!rc) ir_output_clear(&one);
        at_release(tids);
        at_release(tmask);
    }
    printf("%s, %lld texts x %lld images: worst |a - e| beyond %g·|e| (metric scores: ·max|e|): %.3g (tolerance %g)\n",
           variant, (long long)texts, (long long)images, TOL, worst, TOL);
    ir_output_clear(&all);
}

/* score_rows with texts that differ from image to image: 2 texts for each
 * of 3 images, row t·3 + i text (t·3 + i) mod 4, each row against a
 * forward_encoded of its own text and image. */
static void compare_rows(const char *variant, ir_model *m, at_tensor *encoding, at_tensor *ids, at_tensor *mask) {
    int64_t images = encoding->shape[0], L = ids->shape[1], rows = 2 * images, shape[2] = {rows, L};
    at_tensor *rids = at_zeros(AT_I64, 2, shape), *rmask = at_zeros(AT_I64, 2, shape);
    int64_t *id = at_data(rids), *mk = at_data(rmask);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < L; j++)
            id[r * L + j] = (int64_t)at_get_linear(ids, (r % 4) * L + j),
            mk[r * L + j] = (int64_t)at_get_linear(mask, (r % 4) * L + j);
    ir_output all;
    int rc = ir_model_score_rows(m, encoding, rids, rmask, &all);
    CHECK(rc == 0 && all.scores->ndim == 1 && all.scores->shape[0] == rows, "%s: score_rows: %s", variant,
          at_last_error());
    double worst = 0;
    for (int64_t r = 0; !rc && r < rows; r++) {
        at_tensor *img = at_narrow(encoding, 0, r % images, 1), *rid = at_narrow(rids, 0, r, 1);
        at_tensor *rmk = at_narrow(rmask, 0, r, 1);
        ir_output one;
        int rc1 = ir_model_forward_encoded(m, img, rid, rmk, NULL, &one);
        CHECK(rc1 == 0, "%s: forward_encoded of row %lld: %s", variant, (long long)r, at_last_error());
        compared outs[3] = {{"features", all.features, rc1 ? NULL : one.features},
                            {"rewards", all.rewards, rc1 ? NULL : one.rewards},
                            {"scores", all.scores, rc1 ? NULL : one.scores}};
        for (int o = 0; !rc1 && o < 3; o++) {
            double e = excess(outs[o].got, r, outs[o].expected, false);
            worst = fmax(worst, e);
            CHECK(e <= TOL, "%s, score_rows row %lld: %s off by %.3g beyond the relative part", variant, (long long)r,
                  outs[o].name, e);
        }
        if (!rc1) ir_output_clear(&one);
        at_release(img);
        at_release(rid);
        at_release(rmk);
    }
    printf("%s, score_rows, 2 texts for each of %lld images: worst beyond %g·|e|: %.3g\n", variant,
           (long long)images, TOL, worst);
    if (!rc) ir_output_clear(&all);
    /* 4 rows for 3 images: not T texts for each. */
    at_tensor *four = at_narrow(rids, 0, 0, 4), *four_mask = at_narrow(rmask, 0, 0, 4);
    CHECK(ir_model_score_rows(m, encoding, four, four_mask, &all) != 0 && strstr(at_last_error(), "(T*B, L)"),
          "%s: 4 rows for 3 images are refused: %s", variant, at_last_error());
    at_release(four);
    at_release(four_mask);
    at_release(rids);
    at_release(rmask);
}

static void test_errors(ir_model *m, at_tensor *encoding, at_tensor *ids, at_tensor *mask) {
    ir_output out;
    at_tensor *narrow = at_narrow(mask, 1, 0, 5);
    CHECK(ir_model_score_texts(m, encoding, ids, narrow, &out) != 0 && strstr(at_last_error(), "score_texts"),
          "a mask of another shape is refused: %s", at_last_error());
    at_release(narrow);
    /* 4 texts' rows against 3 images: not a row count the image divides. */
    at_tensor *ids3 = at_narrow(ids, 0, 0, 3), *mask3 = at_narrow(mask, 0, 0, 3);
    CHECK(!ir_bert_forward_shared_image(&m->bert, ids3, mask3, encoding, 2) &&
              strstr(at_last_error(), "an image for every text"),
          "3 rows are not 2 texts for each of 3 images: %s", at_last_error());
    CHECK(!ir_bert_forward_shared_image(&m->bert, ids3, mask3, encoding, 0) && strstr(at_last_error(), "one text"),
          "no texts: %s", at_last_error());
    at_release(ids3);
    at_release(mask3);
}

static void test_variant(const char *dir, const char *variant) {
    ir_config cfg;
    at_state_dict *ex = NULL;
    ir_model *m = load(dir, variant, &cfg, &ex);
    at_tensor *ids = NULL, *mask = NULL, *encoding = NULL;
    if (m && ex) {
        four_texts(ex, &ids, &mask);
        encoding = ir_model_encode_image(m, at_sd_get(ex, "pixels"), NULL);
        CHECK(encoding && encoding->shape[0] == 3, "%s: three images encoded: %s", variant, at_last_error());
    }
    if (encoding && ids && mask) {
        compare(variant, m, encoding, ids, mask);
        at_tensor *one_image = at_narrow(encoding, 0, 1, 1), *one_id = at_narrow(ids, 0, 1, 1);
        at_tensor *one_mask = at_narrow(mask, 0, 1, 1);
        compare(variant, m, one_image, ids, mask);
        compare(variant, m, encoding, one_id, one_mask);
        at_release(one_image);
        at_release(one_id);
        at_release(one_mask);
        compare_rows(variant, m, encoding, ids, mask);
        test_errors(m, encoding, ids, mask);
    }
    at_release(encoding);
    at_release(ids);
    at_release(mask);
    at_sd_free(ex);
    ir_model_free(m);
}

int main(void) {
    test_variant("model", "tiny");
    test_variant("metric_head", "coded");
    test_variant("metric_head", "attention");
    return check_summary();
}

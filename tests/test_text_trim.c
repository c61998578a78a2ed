/* Padding trimmed: ir_model_forward_encoded runs BERT only to the batch's
 * longest real text (columns that are padding in every row are dropped).
 * Its [CLS] features, rewards and scores must equal BERT over all 35
 * columns within 1e-6 absolute + 1e-6 relative, for a batch of short texts
 * and for one where a single text fills all 35 (nothing can be dropped,
 * so the result is the same tensor arithmetic, bit for bit). */
#include <math.h>
#include <stdio.h>

#include "autograd.h"
#include "check.h"
#include "io/state_dict.h"
#include "model/imagereward.h"
#include "ops.h"

#define FIXTURES AAPMT_TEST_FIXTURES "/model"
#define L 35

/* Three texts of real lengths lens[i] (ids 1..59 of the tiny vocabulary), padded to L. */
static void texts(const int lens[3], at_tensor **ids, at_tensor **mask) {
    int64_t shape[2] = {3, L};
    *ids = at_zeros(AT_I64, 2, shape);
    *mask = at_zeros(AT_I64, 2, shape);
    int64_t *id = at_data(*ids), *mk = at_data(*mask);
    for (int b = 0; b < 3; b++)
        for (int j = 0; j < lens[b]; j++) id[b * L + j] = 1 + (b * 17 + j * 7) % 59, mk[b * L + j] = 1;
}

/* The reference: BERT over every column, then the same head. */
static at_tensor *untrimmed_features(const ir_model *m, at_tensor *encoding, at_tensor *ids, at_tensor *mask) {
    at_tensor *h = ir_bert_forward(&m->bert, ids, mask, encoding, false, NULL, NULL);
    at_tensor *cls = h ? at_select(h, 1, 0) : NULL, *f = cls ? at_contiguous(cls) : NULL;
    at_release(h);
    at_release(cls);
    return f;
}

/* Largest |a - e| - 1e-6·|e| (<= 1e-6 passes); *diff gets the largest |a - e|. */
static double worst_excess(const at_tensor *a, const at_tensor *e, double *diff) {
    double worst = -INFINITY;
    *diff = 0;
    for (int64_t i = 0; i < at_numel(e); i++) {
        double x = at_get_linear(a, i), y = at_get_linear(e, i);
        worst = fmax(worst, fabs(x - y) - 1e-6 * fabs(y));
        *diff = fmax(*diff, fabs(x - y));
    }
    return worst;
}

static void compare(const ir_model *m, at_tensor *encoding, const int lens[3], const char *what, bool bitwise) {
    at_tensor *ids, *mask;
    texts(lens, &ids, &mask);
    ir_output out;
    at_tensor *ref = untrimmed_features(m, encoding, ids, mask);
    at_tensor *ref_rewards = ref ? ir_model_head(m, ref, false, NULL) : NULL;
    int rc = ir_model_forward_encoded(m, encoding, ids, mask, NULL, &out);
    CHECK(rc == 0 && ref && ref_rewards, "%s: forward: %s", what, at_last_error());
    if (rc == 0 && ref && ref_rewards) {
        double df, dr, ef = worst_excess(out.features, ref, &df), er = worst_excess(out.rewards, ref_rewards, &dr);
        CHECK(ef <= 1e-6 && er <= 1e-6, "%s: features off by %.3g, rewards by %.3g beyond 1e-6 relative", what, ef, er);
        if (bitwise) {
            bool same = true;
            for (int64_t i = 0; i < at_numel(ref); i++) same = same && at_get_linear(out.features, i) == at_get_linear(ref, i);
            CHECK(same, "%s: a text of all 35 columns leaves nothing to trim: the same bits", what);
        }
        printf("%s: features differ from the 35-column path by at most %.3g, rewards by %.3g\n", what, df, dr);
        ir_output_clear(&out);
    }
    at_release(ref);
    at_release(ref_rewards);
    at_release(ids);
    at_release(mask);
}

int main(void) {
    ir_config cfg;
    CHECK(ir_config_load(FIXTURES "/tiny_config.json", &cfg) == 0, "config: %s", at_last_error());
    ir_model *m = ir_model_load(FIXTURES "/tiny_imagereward.pt", &cfg, false);
    at_state_dict *ex = at_load_safetensors(FIXTURES "/tiny_expected.safetensors");
    at_tensor *encoding = m && ex ? ir_model_encode_image(m, at_sd_get(ex, "pixels"), NULL) : NULL;
    CHECK(encoding && encoding->shape[0] == 3, "three images encoded: %s", at_last_error());
    if (encoding) {
        compare(m, encoding, (int[3]){9, 4, 12}, "short texts (trimmed to 12 of 35)", false);
        compare(m, encoding, (int[3]){9, 35, 3}, "one text of 35 tokens", true);
    }
    at_release(encoding);
    at_sd_free(ex);
    ir_model_free(m);
    return check_summary();
}

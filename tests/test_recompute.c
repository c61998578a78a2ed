/* Activation recomputation (ir_forward_opts.recompute) against the stored
 * graph on the tiny model with every dropout and drop-path rate on: the
 * outputs, the generator's state after the forward, and every gradient
 * (parameters and pixels) must be the same bit for bit, whether all of the
 * model trains or its first layers are frozen, for two forwards in one
 * backward (two metrics) and for a gradient accumulated over two steps. */
#include <stdio.h>
#include <string.h>

#include "autograd.h"
#include "check.h"
#include "io/state_dict.h"
#include "model/imagereward.h"
#include "ops.h"
#include "tensor.h"

#define FIXTURES AAPMT_TEST_FIXTURES "/model"

typedef struct {
    int n;
    at_tensor *grads[512];   /* each parameter's gradient, then the pixels' */
    at_tensor *scores;
    at_rng rng_after;
    size_t live_after_forward;   /* bytes of tensor storage held once the forward has run */
} result;

static bool same_bits(const at_tensor *a, const at_tensor *b) {
    if (!a || !b) return a == b;
    if (!at_same_shape(a, b) || a->dtype != b->dtype) return false;
    for (int64_t i = 0; i < at_numel(a); i++) {
        double x = at_get_linear(a, i), y = at_get_linear(b, i);
        if (memcmp(&x, &y, sizeof x)) return false;
    }
    return true;
}

static void result_free(result *r) {
    for (int i = 0; i < r->n; i++) at_release(r->grads[i]);
    at_release(r->scores);
    *r = (result){0};
}

/* loss = Σ scores² over `forwards` forwards (seeds 11, 12, ...), backward;
 * repeated `steps` times without clearing, as gradient accumulation does. */
static int run(ir_model *m, const at_state_dict *ex, bool recompute, int forwards, int steps, result *r) {
    *r = (result){0};
    at_tensor *pixels = at_clone_data(at_sd_get(ex, "pixels"));
    at_set_requires_grad(pixels, true);
    at_rng rng = at_rng_new(11);
    ir_forward_opts opts = {.training = true, .rng = &rng, .recompute = recompute};
    int rc = -1;
    for (int s = 0; s < steps; s++) {
        at_tensor *loss = NULL;
        size_t base = at_storage_live_bytes();
        for (int f = 0; f < forwards; f++) {
            ir_output out;
            if (ir_model_forward(m, pixels, at_sd_get(ex, "ids"), at_sd_get(ex, "mask"), &opts, &out)) goto done;
            at_tensor *sq = at_mul(out.scores, out.scores), *sum = sq ? at_sum_all(sq) : NULL;
            if (!r->scores) at_retain(r->scores = out.scores);
            ir_output_clear(&out);
            at_release(sq);
            if (!sum) goto done;
            at_tensor *next = loss ? at_add(loss, sum) : (at_retain(sum), sum);
            at_release(sum);
            at_release(loss);
            if (!(loss = next)) goto done;
        }
        if (s == 0) r->live_after_forward = at_storage_live_bytes() - base;
        rc = at_backward(loss, NULL);
        at_release(loss);
        if (rc) goto done;
    }
    r->rng_after = rng;
    for (int i = 0; i < ir_model_param_count(m); i++) {
        at_tensor *g = ir_model_param(m, i)->grad;
        if (g) at_retain(g);
        r->grads[r->n++] = g;
        at_zero_grad(ir_model_param(m, i));
    }
    at_retain(r->grads[r->n++] = pixels->grad);
done:
    at_release(pixels);
    return rc;
}

static void compare(ir_model *m, const at_state_dict *ex, const char *what, int forwards, int steps) {
    result stored, recomputed;
    int a = run(m, ex, false, forwards, steps, &stored), b = run(m, ex, true, forwards, steps, &recomputed);
    CHECK(a == 0 && b == 0, "%s: forward and backward: %s", what, at_last_error());
    if (a == 0 && b == 0) {
        CHECK(same_bits(stored.scores, recomputed.scores), "%s: the scores", what);
        CHECK(stored.rng_after.counter == recomputed.rng_after.counter, "%s: generator at %llu, %llu", what,
              (unsigned long long)stored.rng_after.counter, (unsigned long long)recomputed.rng_after.counter);
        int differ = 0, with_grad = 0;
        for (int i = 0; i < stored.n; i++) {
            with_grad += stored.grads[i] != NULL;
            if (!same_bits(stored.grads[i], recomputed.grads[i])) {
                const char *name = i < ir_model_param_count(m) ? ir_model_param_name(m, i) : "pixels";
                if (differ++ < 5) CHECK(0, "%s: the gradient of %s differs", what, name);
            }
        }
        CHECK(differ == 0, "%s: %d of %d gradients differ", what, differ, stored.n);
        CHECK(with_grad > 10, "%s: only %d tensors got a gradient", what, with_grad);
        /* The point of it: the graph holds block inputs, not activations. */
        CHECK(recomputed.live_after_forward < stored.live_after_forward / 2, "%s: %zu bytes held, stored %zu", what,
              recomputed.live_after_forward, stored.live_after_forward);
        printf("%s: %d gradients identical; after the forward %zu bytes held (stored graph %zu)\n", what, with_grad,
               recomputed.live_after_forward, stored.live_after_forward);
    }
    result_free(&stored);
    result_free(&recomputed);
}

int main(void) {
    ir_config cfg;
    if (ir_config_load(FIXTURES "/tiny_config.json", &cfg)) {
        fprintf(stderr, "cannot read the config: %s\n", at_last_error());
        return 1;
    }
    cfg.vision.drop_path_rate = 0.5;
    cfg.text.hidden_dropout_prob = 0.2;
    cfg.text.attention_probs_dropout_prob = 0.3;
    cfg.head.dropout[0] = cfg.head.dropout[1] = cfg.head.dropout[2] = 0.1;
    ir_model *m = ir_model_load(FIXTURES "/tiny_imagereward.pt", &cfg, false);
    at_state_dict *ex = at_load_safetensors(FIXTURES "/tiny_expected.safetensors");
    CHECK(m && ex, "load the tiny model and its inputs: %s", at_last_error());
    if (m && ex) {
        CHECK(ir_model_set_requires_grad(m, true) == 0, "requires grad: %s", at_last_error());
        compare(m, ex, "all trainable", 1, 1);
        compare(m, ex, "two forwards in one backward", 2, 1);
        compare(m, ex, "accumulated over two steps", 1, 2);
        CHECK(ir_model_apply_fix_rate(m, 0.5) == 0, "fix_rate: %s", at_last_error());
        compare(m, ex, "first layers frozen", 1, 1);
    }
    at_sd_free(ex);
    ir_model_free(m);
    return check_summary();
}

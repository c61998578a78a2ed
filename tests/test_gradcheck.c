/* The gradient-check table: for every op in AT_OP_LIST, central finite
 * differences in float64 against the op's backward, on the random shapes,
 * broadcasts and non-contiguous views its check case builds. An op without a
 * check case fails the test. */
#include "autograd.h"
#include "ops.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

#define STEP 1e-6
#define ABS_TOL 1e-6
#define REL_TOL 1e-5
#define MAX_PROBES 48   /* elements probed per input, spread over the tensor */

/* loss = sum(forward(inputs) * weights), in f64. */
static double eval_loss(const at_gradcheck *c, int variant, at_tensor **in, const at_tensor *weights) {
    at_tensor *out = c->forward(variant, in);
    if (!out) return NAN;
    at_tensor *o64 = at_to_dtype(out, AT_F64);
    at_tensor *prod = o64 ? at_mul(o64, (at_tensor *)weights) : NULL;
    at_tensor *sum = prod ? at_sum_all(prod) : NULL;
    double v = sum ? at_item(sum) : NAN;
    at_release(sum);
    at_release(prod);
    at_release(o64);
    at_release(out);
    return v;
}

static void check_input(const char *op, int variant, const at_gradcheck *c, at_tensor **in, int k,
                        const at_tensor *weights) {
    at_tensor *x = in[k];
    CHECK(x->grad != NULL, "%s[%d]: input %d requires grad but got no gradient", op, variant, k);
    if (!x->grad) return;
    int64_t n = at_numel(x);
    int64_t probes = n < MAX_PROBES ? n : MAX_PROBES;
    double worst = 0;
    int bad = 0;
    for (int64_t p = 0; p < probes; p++) {
        int64_t e = p * n / probes;
        int64_t idx[AT_MAX_DIMS], rest = e;
        for (int d = x->ndim - 1; d >= 0; d--) idx[d] = rest % x->shape[d], rest /= x->shape[d];
        double orig = at_get(x, idx);
        at_set(x, idx, orig + STEP);
        double xp = at_get(x, idx);
        double lp = eval_loss(c, variant, in, weights);
        at_set(x, idx, orig - STEP);
        double xm = at_get(x, idx);
        double lm = eval_loss(c, variant, in, weights);
        at_set(x, idx, orig);
        double numeric = (lp - lm) / (xp - xm);
        double analytic = at_get(x->grad, idx);
        double err = fabs(numeric - analytic);
        if (!(err <= ABS_TOL + REL_TOL * fabs(numeric))) {
            if (bad++ < 3)
                fprintf(stderr, "  %s[%d] input %d element %lld: analytic %.10g numeric %.10g\n", op,
                        variant, k, (long long)e, analytic, numeric);
        }
        if (err > worst) worst = err;
    }
    CHECK(bad == 0, "%s[%d]: input %d: %d of %lld probed gradients off (worst abs error %.3g)", op,
          variant, k, bad, (long long)probes, worst);
}

static void check_op(int index, const at_op_def *op) {
    const at_gradcheck *c = &op->check;
    CHECK(c->variants > 0 && c->make_inputs && c->forward, "op '%s' has no gradient check", op->name);
    if (!(c->variants > 0 && c->make_inputs && c->forward)) return;
    for (int v = 0; v < c->variants; v++) {
        at_rng rng = at_rng_new(1000 + 17 * (uint64_t)index + (uint64_t)v);
        at_tensor *in[AT_NODE_MAX_INPUTS] = {0};
        int n = c->make_inputs(v, &rng, in);
        CHECK(n > 0, "%s[%d]: make_inputs failed: %s", op->name, v, at_last_error());
        if (n <= 0) continue;
        at_tensor *out = c->forward(v, in);
        CHECK(out != NULL, "%s[%d]: forward failed: %s", op->name, v, at_last_error());
        if (out) {
            CHECK(out->grad_fn && out->grad_fn->op == op, "%s[%d]: the case's output was not made by the op",
                  op->name, v);
            at_tensor *weights = at_randn(&rng, AT_F64, out->ndim, out->shape);
            at_tensor *o64 = at_to_dtype(out, AT_F64);
            at_tensor *prod = at_mul(o64, weights);
            at_tensor *loss = prod ? at_sum_all(prod) : NULL;
            int rc = loss ? at_backward(loss, NULL) : -1;
            CHECK(rc == 0, "%s[%d]: backward failed: %s", op->name, v, at_last_error());
            bool was = at_set_grad_enabled(false);
            for (int k = 0; rc == 0 && k < n; k++)
                if (in[k]->requires_grad) check_input(op->name, v, c, in, k, weights);
            at_set_grad_enabled(was);
            at_release(loss);
            at_release(prod);
            at_release(o64);
            at_release(weights);
            at_release(out);
        }
        for (int k = 0; k < n; k++) at_release(in[k]);
    }
}

int main(int argc, char **argv) {
    const char *only = argc > 1 ? argv[1] : NULL;
    for (int i = 0; i < at_op_count(); i++) {
        const at_op_def *op = at_op_at(i);
        if (only && strcmp(only, op->name) != 0) continue;
        int before = check_failed;
        check_op(i, op);
        printf("%-12s %s\n", op->name, check_failed == before ? "ok" : "FAILED");
    }
    return check_summary();
}

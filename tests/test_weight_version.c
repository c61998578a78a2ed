/* A model's weight version (ir_model_weight_version) and the storage write
 * stamps under it: every write the engine makes into a parameter, or a view
 * of one, moves the version; writes elsewhere, reads and forwards do not;
 * two models never share an id. The REPL's encoding cache is keyed by these
 * (lua/aapmt/imagereward.lua). */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "model/imagereward.h"
#include "ops.h"
#include "train/optim.h"

#define FIXTURES AAPMT_TEST_FIXTURES
static const char *const tiny_config = FIXTURES "/model/tiny_config.json";
static const char *const head_config = FIXTURES "/metric_head/attention_config.json";

static void test_storage_stamps(void) {
    int64_t shape[1] = {4};
    at_tensor *a = at_zeros(AT_F32, 1, shape), *b = at_zeros(AT_F32, 1, shape);
    CHECK(at_storage_version(a->storage) == 0, "a new storage is unwritten");
    uint64_t sa = at_storage_touch(a->storage), sb = at_storage_touch(b->storage);
    CHECK(sa > 0 && sb > sa, "stamps come from one clock: %llu then %llu", (unsigned long long)sa,
          (unsigned long long)sb);
    CHECK(at_storage_version(a->storage) == sa, "the storage keeps its stamp");
    at_tensor *view = at_narrow(a, 0, 1, 2);
    CHECK(at_fill_(view, 3) == 0 && at_storage_version(a->storage) > sb, "a fill of a view stamps the storage");
    at_release(view);
    at_release(a);
    at_release(b);
}

/* The version now, checked against before: larger when what moves it, equal otherwise. */
static uint64_t check_moves(ir_model *m, uint64_t before, bool moves, const char *what) {
    uint64_t after = ir_model_weight_version(m);
    if (moves) CHECK(after > before, "%s moves the version (%llu to %llu)", what, (unsigned long long)before,
                     (unsigned long long)after);
    else CHECK(after == before, "%s leaves the version (%llu to %llu)", what, (unsigned long long)before,
               (unsigned long long)after);
    return after;
}

static void test_writes(const ir_config *cfg) {
    ir_model *m = ir_model_random(cfg, 1), *other = ir_model_random(cfg, 1);
    CHECK(m && other, "random models: %s", at_last_error());
    if (!m || !other) goto done;
    CHECK(m->id != other->id && m->id > 0 && other->id > 0, "two models, two ids (%llu, %llu)",
          (unsigned long long)m->id, (unsigned long long)other->id);
    uint64_t v = ir_model_weight_version(m);
    int last = ir_model_param_count(m) - 1;
    at_tensor *p = ir_model_param(m, 0), *q = ir_model_param(m, last);

    int64_t at[AT_MAX_DIMS] = {0};
    double x = at_get(p, at);
    v = check_moves(m, v, false, "a read");
    at_set(q, at, x + 1);
    v = check_moves(m, v, true, "at_set into the last parameter");
    at_tensor *copy = at_clone_data(p);
    CHECK(copy && at_copy_(p, copy) == 0, "copy back: %s", at_last_error());
    v = check_moves(m, v, true, "at_copy_ into a parameter");
    at_fill_(copy, 0);
    v = check_moves(m, v, false, "a write into a copy of a parameter");
    at_release(copy);
    at_tensor *view = at_detach(p);
    at_fill_(view, x);
    at_release(view);
    v = check_moves(m, v, true, "a fill of a detached view of a parameter");
    at_fill_(ir_model_param(other, 0), 0);
    v = check_moves(m, v, false, "a write into another model's weights");

    /* A step updates the parameters that have a gradient. */
    at_optim_config oc = at_optim_defaults(AT_OPTIM_ADAM);
    at_tensor *params[2] = {p, q};
    at_optim *o = at_optim_new(&oc, 2, params);
    CHECK(o != NULL, "adam: %s", at_last_error());
    if (o) {
        CHECK(at_optim_step(o) == 0, "a step without gradients: %s", at_last_error());
        v = check_moves(m, v, false, "a step that updates nothing");
        q->grad = at_full(q->dtype, q->ndim, q->shape, 1.0);
        CHECK(at_optim_step(o) == 0, "a step: %s", at_last_error());
        v = check_moves(m, v, true, "an optimizer step");
        at_optim_free(o);
    }
    CHECK(ir_model_to_device(m, AT_CPU) == 0, "to cpu: %s", at_last_error());
    check_moves(m, v, false, "a move to the device it is on");
done:
    ir_model_free(m);
    ir_model_free(other);
}

static void test_new_metric_head(void) {
    ir_config cfg;
    if (ir_config_load(head_config, &cfg)) {
        CHECK(0, "read %s: %s", head_config, at_last_error());
        return;
    }
    ir_model *m = ir_model_random(&cfg, 2);
    CHECK(m != NULL, "a model with a metric head: %s", at_last_error());
    if (!m) return;
    uint64_t v = ir_model_weight_version(m);
    CHECK(ir_model_init_metric_head(m, 5) == 0, "init_metric_head: %s", at_last_error());
    check_moves(m, v, true, "new metric-head weights (new tensors)");
    ir_model_free(m);
}

int main(void) {
    test_storage_stamps();
    ir_config cfg;
    if (ir_config_load(tiny_config, &cfg)) {
        fprintf(stderr, "cannot read %s: %s\n", tiny_config, at_last_error());
        return 1;
    }
    test_writes(&cfg);
    test_new_metric_head();
    return check_summary();
}

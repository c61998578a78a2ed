/* The CUDA backend beyond single ops: without a GPU, moving a tensor there
 * fails with a message that says why; with one, copies round-trip every
 * dtype (also past the pinned staging size), the caching allocator reuses and
 * releases memory, mixed-device ops are refused, and the tiny ImageReward
 * (tests/fixtures/model) gives the CPU's scores and gradients, and its AdamW
 * step the CPU's parameters; so does the full-size ImageReward-v1.0 (random
 * weights) for one training step with dropout (AAPMT_SKIP_FULL_MODEL=1 skips
 * that part, which needs about 10 GB of host memory).
 * Exits 77 after the first part when there is no GPU. */
#include "autograd.h"
#include "device.h"
#include "ops.h"
#include "model/config.h"
#include "model/imagereward.h"
#include "io/state_dict.h"
#include "train/optim.h"
#include "check.h"
#include "model_batch.h"

#include <math.h>
#include <string.h>

/* The fixtures folder; AAPMT_FIXTURES overrides the build's path, for a
 * bundled copy run on a GPU machine (tests/bench/cuda/run.sh). */
static void fixture(char *path, size_t size, const char *name) {
    const char *dir = getenv("AAPMT_FIXTURES");
    snprintf(path, size, "%s/model/%s", dir ? dir : AAPMT_TEST_FIXTURES, name);
}

static void test_without_gpu(void) {
    int64_t shape[2] = {2, 3};
    at_tensor *t = at_full(AT_F32, 2, shape, 1.5);
    at_tensor *moved = at_to_device(t, AT_CUDA);
    CHECK(!moved && (strstr(at_last_error(), "GPU") || strstr(at_last_error(), "CUDA")),
          "without a GPU, to_device says why: %s", at_last_error());
    CHECK(at_device_from_name("cuda") == AT_CUDA && at_device_from_name("cpu") == AT_CPU &&
              at_device_from_name("tpu") == -1 && strcmp(at_device_name(AT_CUDA), "cuda") == 0,
          "device names");
    at_tensor *same = at_to_device(t, AT_CPU), *sum = same ? at_sum_all(same) : NULL;
    CHECK(sum && same->storage != t->storage && at_item(sum) == 9.0, "to_device(cpu) copies");
    at_release(sum);
    at_release(same);
    at_release(t);
}

/* Every dtype there and back, contiguous and transposed; 3M f32 values pass
 * the 8 MiB staging buffers in chunks. */
static void test_copies(void) {
    at_rng rng = at_rng_new(3);
    int64_t big[2] = {3, 1 << 20};
    at_tensor *x = at_randn(&rng, AT_F32, 2, big);
    at_tensor *g = at_to_device(x, AT_CUDA), *back = g ? at_to_device(g, AT_CPU) : NULL;
    CHECK(back && memcmp(at_data(back), at_data(x), (size_t)at_numel(x) * 4) == 0, "12 MB round trip is exact");
    at_release(back);
    at_tensor *gt = g ? at_transpose(g, 0, 1) : NULL, *tb = gt ? at_to_device(gt, AT_CPU) : NULL;
    at_tensor *xt = at_transpose(x, 0, 1), *xc = at_contiguous(xt);
    CHECK(tb && memcmp(at_data(tb), at_data(xc), (size_t)at_numel(x) * 4) == 0, "a transposed GPU view copies back");
    at_release(tb), at_release(gt), at_release(xt), at_release(xc), at_release(g), at_release(x);
    for (int d = 0; d < AT_NDTYPES; d++) {
        int64_t n = 7;
        at_tensor *h = at_full(d, 1, &n, 3.0), *dev = at_to_device(h, AT_CUDA);
        at_tensor *conv = dev ? at_to_dtype(dev, AT_F64) : NULL, *host = conv ? at_to_device(conv, AT_CPU) : NULL;
        CHECK(host && at_get_linear(host, 6) == 3.0, "%s through the GPU and converted there", at_dtype_name(d));
        at_release(h), at_release(dev), at_release(conv), at_release(host);
    }
}

static void test_allocator(void) {
    at_device_synchronize(AT_CUDA);
    at_device_empty_cache(AT_CUDA);
    at_cache_stats before = at_device_memory_stats(AT_CUDA);
    int64_t n = 1 << 20;
    at_tensor *a = at_empty_on(AT_CUDA, AT_F32, 1, &n);
    at_release(a);
    at_tensor *b = at_empty_on(AT_CUDA, AT_F32, 1, &n);
    at_cache_stats s = at_device_memory_stats(AT_CUDA);
    CHECK(b && s.raw_allocs == before.raw_allocs + 1 && s.reuses == before.reuses + 1,
          "a freed block is reused (%llu raw allocations, %llu reuses)", (unsigned long long)s.raw_allocs,
          (unsigned long long)s.reuses);
    at_release(b);
    size_t freed = at_device_empty_cache(AT_CUDA);
    CHECK(freed >= (size_t)n * 4 && at_device_memory_stats(AT_CUDA).cached == 0, "empty_cache releases %zu bytes", freed);
}

static void test_mixed_devices(void) {
    int64_t n = 4;
    at_tensor *h = at_full(AT_F32, 1, &n, 1), *d = at_to_device(h, AT_CUDA);
    at_tensor *sum = d ? at_add(h, d) : NULL;
    CHECK(!sum && strstr(at_last_error(), "different devices") && strstr(at_last_error(), "cuda"),
          "a CPU and a GPU tensor are not added: %s", at_last_error());
    at_release(h), at_release(d);
}

/* Values of a (CPU) and b (GPU) further apart than tol·(1 + |a|); the first
 * few are printed. */
static int count_differences(const char *what, const at_tensor *a, const at_tensor *b, double tol) {
    double *x = at_to_f64_array(a), *y = at_to_f64_array(b);
    int bad = x && y ? 0 : 1;
    for (int64_t j = 0; x && y && j < at_numel(a); j++) {
        if (fabs(x[j] - y[j]) <= tol * (1 + fabs(x[j]))) continue;
        if (bad++ < 3) fprintf(stderr, "  %s[%lld]: GPU %.9g, CPU %.9g\n", what, (long long)j, y[j], x[j]);
    }
    free(x);
    free(y);
    return bad;
}

static at_tensor *on_gpu(const at_state_dict *sd, const char *name) {
    const at_tensor *t = at_sd_get(sd, name);
    return t ? at_to_device(t, AT_CUDA) : NULL;
}

/* One AdamW step (learning rate lr) on both devices from the CPU's
 * gradients, which replace the GPU's: the parameters must then agree to the
 * last bits, not just to the gradients' tolerance (Adam divides by tiny
 * second moments). pc and pg are the model's parameters on each device. */
static void adamw_step_agrees(const ir_model *cpu, at_tensor **pc, at_tensor **pg, double lr, const char *what) {
    int n = ir_model_param_count(cpu);
    for (int i = 0; i < n; i++) {
        at_release(pg[i]->grad);
        pg[i]->grad = pc[i]->grad ? at_to_device(pc[i]->grad, AT_CUDA) : NULL;
    }
    at_optim_config c = at_optim_defaults(AT_OPTIM_ADAMW);
    c.lr = lr;
    at_optim *sc = at_optim_new(&c, n, pc), *sg = at_optim_new(&c, n, pg);
    bool stepped = sc && sg && at_optim_step(sc) == 0 && at_optim_step(sg) == 0;
    CHECK(stepped, "%s: AdamW step: %s", what, at_last_error());
    int bad = 0;
    for (int i = 0; i < n && stepped; i++) bad += count_differences(ir_model_param_name(cpu, i), pc[i], pg[i], 1e-7);
    CHECK(bad == 0, "%s: %d parameter values differ after the AdamW step", what, bad);
    at_optim_free(sc), at_optim_free(sg);
}

/* Scores, every parameter's gradient and one Adam step of the tiny model. */
static void test_model(void) {
    ir_config cfg;
    char expected[4096], config[4096], checkpoint[4096];
    fixture(expected, sizeof expected, "tiny_expected.safetensors");
    fixture(config, sizeof config, "tiny_config.json");
    fixture(checkpoint, sizeof checkpoint, "tiny_imagereward.pt");
    at_state_dict *ex = at_load_safetensors(expected);
    if (ir_config_load(config, &cfg) || !ex) {
        CHECK(0, "fixtures: %s", at_last_error());
        at_sd_free(ex);
        return;
    }
    ir_model *cpu = ir_model_load(checkpoint, &cfg, true);
    ir_model *gpu = ir_model_load(checkpoint, &cfg, true);
    CHECK(cpu && gpu && ir_model_to_device(gpu, AT_CUDA) == 0, "load and move: %s", at_last_error());
    at_tensor *pix = on_gpu(ex, "pixels"), *ids = on_gpu(ex, "ids"), *mask = on_gpu(ex, "mask");
    if (cpu && gpu && pix && ids && mask) {
        ir_model_set_requires_grad(cpu, true);
        ir_model_set_requires_grad(gpu, true);
        ir_output oc, og;
        int rc = ir_model_forward(cpu, (at_tensor *)at_sd_get(ex, "pixels"), (at_tensor *)at_sd_get(ex, "ids"),
                                  (at_tensor *)at_sd_get(ex, "mask"), NULL, &oc);
        int rg = ir_model_forward(gpu, pix, ids, mask, NULL, &og);
        CHECK(rc == 0 && rg == 0, "forward: %s", at_last_error());
        if (rc == 0 && rg == 0) {
            CHECK(count_differences("score", oc.scores, og.scores, 1e-4) == 0, "scores on the GPU match the CPU's");
            at_tensor *lc = at_sum_all(oc.scores), *lg = at_sum_all(og.scores);
            CHECK(at_backward(lc, NULL) == 0 && at_backward(lg, NULL) == 0, "backward: %s", at_last_error());
            int n = ir_model_param_count(cpu), bad = 0;
            at_tensor **pc = calloc((size_t)n, sizeof *pc), **pg = calloc((size_t)n, sizeof *pg);
            for (int i = 0; i < n; i++) {
                pc[i] = ir_model_param(cpu, i), pg[i] = ir_model_param(gpu, i);
                bad += count_differences(ir_model_param_name(cpu, i), pc[i]->grad, pg[i]->grad, 1e-4);
            }
            CHECK(bad == 0, "%d gradient values differ", bad);
            adamw_step_agrees(cpu, pc, pg, 1e-3, "the tiny model");
            free(pc), free(pg);
            at_release(lc), at_release(lg);
            ir_output_clear(&oc), ir_output_clear(&og);
        }
    }
    at_release(pix), at_release(ids), at_release(mask);
    ir_model_free(cpu);
    ir_model_free(gpu);
    at_sd_free(ex);
}

/* clip_grad_norm over gradients on the GPU gives the CPU's norm and scaled
 * gradients (f32 norms rounded per gradient, as torch does). */
static void test_clip_grad_norm(void) {
    enum { N = 3 };
    int64_t sizes[N] = {5, 70000, 1};
    at_tensor *pc[N], *pg[N];
    at_rng rng = at_rng_new(3);
    for (int i = 0; i < N; i++) {
        pc[i] = at_zeros(AT_F32, 1, &sizes[i]);
        pg[i] = at_to_device(pc[i], AT_CUDA);
        pc[i]->grad = at_randn(&rng, AT_F32, 1, &sizes[i]);
        pg[i]->grad = pc[i]->grad ? at_to_device(pc[i]->grad, AT_CUDA) : NULL;
    }
    double norm_c = 0, norm_g = 0;
    int rc = at_clip_grad_norm(N, pc, 1.0, &norm_c), rg = at_clip_grad_norm(N, pg, 1.0, &norm_g);
    CHECK(rc == 0 && rg == 0, "clip_grad_norm: %s", at_last_error());
    CHECK(fabs(norm_c - norm_g) <= 1e-6 * norm_c, "total norm on the GPU %.9g, on the CPU %.9g", norm_g, norm_c);
    int bad = 0;
    for (int i = 0; i < N; i++) bad += count_differences("clipped gradient", pc[i]->grad, pg[i]->grad, 1e-6);
    CHECK(bad == 0, "clipped gradients on the GPU match the CPU's");
    for (int i = 0; i < N; i++) at_release(pc[i]), at_release(pg[i]);
}

/* ||a - b|| / ||a||, a on the CPU and b on the GPU. */
static double relative_error(const at_tensor *a, const at_tensor *b) {
    double *x = at_to_f64_array(a), *y = at_to_f64_array(b), diff = 0, norm = 0;
    for (int64_t j = 0; x && y && j < at_numel(a); j++) {
        diff += (x[j] - y[j]) * (x[j] - y[j]);
        norm += x[j] * x[j];
    }
    double e = x && y ? sqrt(diff) / (sqrt(norm) + 1e-30) : INFINITY;
    free(x);
    free(y);
    return e;
}

/* One training step of ImageReward-v1.0 on both devices from the same
 * weights and dropout seed: scores, loss, every gradient (relative norm
 * error, the largest printed), and the AdamW step from the same gradients. */
static void test_full_model(void) {
    if (getenv("AAPMT_SKIP_FULL_MODEL")) {
        printf("skipped ImageReward-v1.0: AAPMT_SKIP_FULL_MODEL is set\n");
        return;
    }
    ir_config cfg;
    ir_config_default(&cfg);
    ir_model *cpu = ir_model_random(&cfg, 5), *gpu = ir_model_random(&cfg, 5);
    at_tensor *pixels = NULL, *ids = NULL, *mask = NULL;
    model_batch(&cfg, 2, &pixels, &ids, &mask);
    at_tensor *gp = pixels ? at_to_device(pixels, AT_CUDA) : NULL, *gi = ids ? at_to_device(ids, AT_CUDA) : NULL;
    at_tensor *gm = mask ? at_to_device(mask, AT_CUDA) : NULL;
    int64_t B = 2;
    at_tensor *tc = at_full(AT_F32, 1, &B, 0.5), *tg = at_full_on(AT_CUDA, AT_F32, 1, &B, 0.5);
    bool ready = cpu && gpu && ir_model_to_device(gpu, AT_CUDA) == 0 && gp && gi && gm && tc && tg &&
                 ir_model_set_requires_grad(cpu, true) == 0 && ir_model_set_requires_grad(gpu, true) == 0;
    CHECK(ready, "ImageReward-v1.0 on both devices: %s", at_last_error());
    if (ready) {
        at_rng rc = at_rng_new(9), rg = at_rng_new(9);
        ir_forward_opts fc = {.training = true, .rng = &rc}, fg = {.training = true, .rng = &rg};
        ir_output oc = {0}, og = {0};
        int ok = ir_model_forward(cpu, pixels, ids, mask, &fc, &oc) == 0;
        ok = ok && ir_model_forward(gpu, gp, gi, gm, &fg, &og) == 0;
        at_tensor *lc = ok ? at_mse_loss(oc.scores, tc) : NULL, *lg = ok ? at_mse_loss(og.scores, tg) : NULL;
        ok = lc && lg && at_backward(lc, NULL) == 0 && at_backward(lg, NULL) == 0;
        CHECK(ok, "ImageReward-v1.0 forward and backward: %s", at_last_error());
        if (ok) {
            CHECK(count_differences("v1.0 score", oc.scores, og.scores, 1e-3) == 0,
                  "ImageReward-v1.0 training-mode scores on the GPU match the CPU's");
            CHECK(count_differences("v1.0 loss", lc, lg, 1e-3) == 0, "and its loss");
            int n = ir_model_param_count(cpu), worst_at = 0;
            double worst = 0;
            at_tensor **pc = calloc((size_t)n, sizeof *pc), **pg = calloc((size_t)n, sizeof *pg);
            for (int i = 0; i < n; i++) {
                pc[i] = ir_model_param(cpu, i), pg[i] = ir_model_param(gpu, i);
                double e = pc[i]->grad && pg[i]->grad ? relative_error(pc[i]->grad, pg[i]->grad) : INFINITY;
                if (!(e <= worst)) worst = e, worst_at = i;
            }
            printf("ImageReward-v1.0: largest relative gradient error %.2e (%s)\n", worst,
                   ir_model_param_name(cpu, worst_at));
            CHECK(worst <= 1e-3, "every ImageReward-v1.0 gradient within 1e-3 (relative norm) of the CPU's");
            adamw_step_agrees(cpu, pc, pg, 1e-5, "ImageReward-v1.0");
            free(pc), free(pg);
        }
        at_release(lc), at_release(lg);
        ir_output_clear(&oc), ir_output_clear(&og);
    }
    at_release(pixels), at_release(ids), at_release(mask), at_release(gp), at_release(gi), at_release(gm);
    at_release(tc), at_release(tg);
    ir_model_free(cpu);
    ir_model_free(gpu);
}

/* Before at_backends_init no tensor reaches the GPU, and the error says so. */
static void test_before_init(void) {
    int64_t n = 4;
    at_tensor *t = at_full(AT_F32, 1, &n, 1.0);
    at_tensor *moved = at_to_device(t, AT_CUDA);
    CHECK(!moved && strstr(at_last_error(), "CUDA backend is not"), "before init, to_device says why: %s",
          at_last_error());
    at_release(moved);
    at_release(t);
}

int main(void) {
    test_before_init();
    at_backends_init();
    if (at_device_count(AT_CUDA) == 0) {
        test_without_gpu();
        if (check_failed) return check_summary();
        printf("skipped the GPU part: %s\n", at_device_describe(AT_CUDA));
        return 77;
    }
    printf("%s\n", at_device_describe(AT_CUDA));
    test_copies();
    test_allocator();
    test_mixed_devices();
    test_model();
    test_clip_grad_norm();
    test_full_model();
    return check_summary();
}

/* aapmt_bench_cuda: ImageReward-v1.0 (random weights) on the GPU: scoring in
 * images per second at each batch size, one AdamW training step, and the
 * measured BF16 matmul peak that MFU is taken against. tests/bench/cuda/run.sh
 * runs it next to torch_cuda.py on the same card.
 *
 * Lines (medians over --reps after --warmup):
 *     peak_bf16_tflops <T>
 *     score_b<B>  median <ms> ms  <images/s> img/s  mfu <percent>
 *     train_b<B>  median <ms> ms  <images/s> img/s  mfu <percent>
 * MFU counts 138 GFLOP per image forward (ViT-L/16 at 224 px and the text
 * side) and three times that for a training step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "autograd.h"
#include "device.h"
#include "ops/kernels.h"
#include "model/imagereward.h"
#include "ops.h"
#include "train/optim.h"
#include "../../model_batch.h"

#define GFLOP_PER_IMAGE 138.0

static const char usage[] =
    "usage: aapmt_bench_cuda [options]\n"
    "  --precision P   f32, tf32 or bf16 matmuls (default bf16)\n"
    "  --batches LIST  scoring batch sizes, comma-separated (default 1,256)\n"
    "  --train-batch N training step batch (default 32; 0 skips training)\n"
    "  --reps N        timed repetitions (default 10)\n"
    "  --warmup N      untimed repetitions first (default 3)\n";

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static void *must(void *p, const char *what) {
    if (!p) {
        fprintf(stderr, "aapmt_bench_cuda: %s failed: %s\n", what, at_last_error());
        exit(1);
    }
    return p;
}

static void must_ok(int rc, const char *what) {
    if (rc) must(NULL, what);
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The batch of tests/bench/model: random pixels, 35-token prompts with 20 real. */
static void make_batch(const ir_config *cfg, int B, at_tensor **pixels, at_tensor **ids, at_tensor **mask) {
    at_tensor *p, *i, *m;
    must_ok(model_batch(cfg, B, &p, &i, &m), "the batch");
    *pixels = must(at_to_device(p, AT_CUDA), "pixels to the GPU");
    *ids = must(at_to_device(i, AT_CUDA), "ids to the GPU");
    *mask = must(at_to_device(m, AT_CUDA), "mask to the GPU");
    at_release(p), at_release(i), at_release(m);
}

/* The kernels in the matmul op's CUDA slot. */
static const at_kernels *matmul_kernels(void) {
    for (int i = 0; i < at_op_count(); i++)
        if (strcmp(at_op_at(i)->name, "matmul") == 0) return must((void *)at_op_kernels(at_op_at(i), AT_CUDA), "matmul kernels");
    return must(NULL, "the matmul op");
}

/* The BF16 tensor-core peak as cuBLAS reaches it: 8192³ GEMMs. */
static double peak_bf16_tflops(void) {
    const at_kernels *k = matmul_kernels();
    int64_t n = 8192, shape[2] = {n, n};
    at_tensor *a = must(at_empty_on(AT_CUDA, AT_BF16, 2, shape), "a"), *b = must(at_empty_on(AT_CUDA, AT_BF16, 2, shape), "b");
    at_tensor *c = must(at_empty_on(AT_CUDA, AT_BF16, 2, shape), "c");
    double times[10];
    for (int r = -2; r < 10; r++) {
        double t0 = now_ms();
        must_ok(k->gemm(AT_BF16, false, false, n, n, n, 1.0, at_data(a), n, at_data(b), n, 0.0, at_data(c), n) ||
                    at_device_synchronize(AT_CUDA),
                "bf16 gemm");
        if (r >= 0) times[r] = now_ms() - t0;
    }
    at_release(a), at_release(b), at_release(c);
    return 2.0 * n * n * n / (median(times, 10) * 1e-3) / 1e12;
}

static void report(const char *what, int B, double *times, int reps, double gflop_per_image, double peak) {
    double ms = median(times, reps), ips = B / (ms * 1e-3);
    printf("%s_b%d  median %.3f ms  %.1f img/s  mfu %.1f%%\n", what, B, ms, ips,
           100.0 * ips * gflop_per_image / (peak * 1e3));
    fflush(stdout);
}

static void bench_scoring(const ir_model *m, const ir_config *cfg, int B, int reps, int warmup, double peak) {
    at_tensor *pixels, *ids, *mask;
    make_batch(cfg, B, &pixels, &ids, &mask);
    double *times = calloc((size_t)reps, sizeof *times);
    bool was = at_set_grad_enabled(false);
    for (int r = -warmup; r < reps; r++) {
        double t0 = now_ms();
        ir_output out;
        must_ok(ir_model_forward(m, pixels, ids, mask, NULL, &out) || at_device_synchronize(AT_CUDA), "scoring");
        if (r >= 0) times[r] = now_ms() - t0;
        ir_output_clear(&out);
    }
    at_set_grad_enabled(was);
    report("score", B, times, reps, GFLOP_PER_IMAGE, peak);
    free(times);
    at_release(pixels), at_release(ids), at_release(mask);
}

/* Forward in training mode, MSE against fixed targets, backward, AdamW. */
static void bench_training(ir_model *m, const ir_config *cfg, int B, int reps, int warmup, double peak) {
    at_tensor *pixels, *ids, *mask;
    make_batch(cfg, B, &pixels, &ids, &mask);
    int64_t nb = B;
    at_tensor *target = must(at_full_on(AT_CUDA, AT_F32, 1, &nb, 0.5), "target");
    must_ok(ir_model_set_requires_grad(m, true), "requires_grad");
    int n = ir_model_param_count(m);
    at_tensor **params = calloc((size_t)n, sizeof *params);
    for (int i = 0; i < n; i++) params[i] = ir_model_param(m, i);
    at_optim_config oc = at_optim_defaults(AT_OPTIM_ADAMW);
    oc.lr = 1e-5;
    at_optim *opt = must(at_optim_new(&oc, n, params), "optimizer");
    at_rng rng = at_rng_new(11);
    ir_forward_opts fo = {.training = true, .rng = &rng};
    double *times = calloc((size_t)reps, sizeof *times);
    for (int r = -warmup; r < reps; r++) {
        double t0 = now_ms();
        ir_output out;
        must_ok(ir_model_forward(m, pixels, ids, mask, &fo, &out), "training forward");
        at_tensor *loss = must(at_mse_loss(out.scores, target), "loss");
        must_ok(at_backward(loss, NULL) || at_optim_step(opt), "backward and step");
        at_optim_zero_grad(opt, true);
        must_ok(at_device_synchronize(AT_CUDA), "synchronize");
        if (r >= 0) times[r] = now_ms() - t0;
        at_release(loss);
        ir_output_clear(&out);
    }
    report("train", B, times, reps, 3 * GFLOP_PER_IMAGE, peak);
    at_optim_free(opt);
    free(params);
    free(times);
    at_release(target), at_release(pixels), at_release(ids), at_release(mask);
}

static int parse_count(const char *flag, const char *text) {
    char *end;
    long v = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v < 0 || v > 100000) {
        fprintf(stderr, "aapmt_bench_cuda: %s wants a count, got '%s'\n%s", flag, text, usage);
        exit(2);
    }
    return (int)v;
}

int main(int argc, char **argv) {
    int reps = 10, warmup = 3, train_batch = 32, batches[8] = {1, 256}, n_batches = 2;
    const char *precision = "bf16";
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            fputs(usage, stdout);
            return 0;
        }
        if (!value) {
            fprintf(stderr, "aapmt_bench_cuda: unknown option or missing value: %s\n%s", arg, usage);
            return 2;
        }
        i++;
        if (!strcmp(arg, "--reps")) reps = parse_count(arg, value);
        else if (!strcmp(arg, "--warmup")) warmup = parse_count(arg, value);
        else if (!strcmp(arg, "--train-batch")) train_batch = parse_count(arg, value);
        else if (!strcmp(arg, "--precision")) precision = value;
        else if (!strcmp(arg, "--batches")) {
            char buf[256];
            snprintf(buf, sizeof buf, "%s", value);
            n_batches = 0;
            for (char *tok = strtok(buf, ","); tok && n_batches < 8; tok = strtok(NULL, ","))
                batches[n_batches++] = parse_count(arg, tok);
        } else {
            fprintf(stderr, "aapmt_bench_cuda: unknown option %s\n%s", arg, usage);
            return 2;
        }
    }
    int p = at_matmul_precision_from_name(precision);
    if (p < 0 || reps < 1) {
        fprintf(stderr, "aapmt_bench_cuda: --precision is f32, tf32 or bf16 (got %s); --reps at least 1\n", precision);
        return 2;
    }
    at_backends_init();
    if (at_device_count(AT_CUDA) == 0) {
        printf("skipped: %s\n", at_device_describe(AT_CUDA));
        return 77;
    }
    at_set_matmul_precision((at_matmul_precision)p);
    printf("# aapmt %s, %s matmuls, %d reps after %d warm-up\n", at_device_describe(AT_CUDA), precision, reps, warmup);
    double peak = peak_bf16_tflops();
    printf("peak_bf16_tflops %.1f\n", peak);
    ir_config cfg;
    ir_config_default(&cfg);
    ir_model *m = must(ir_model_random(&cfg, 1), "random ImageReward-v1.0");
    must_ok(ir_model_to_device(m, AT_CUDA), "model to the GPU");
    for (int i = 0; i < n_batches; i++) bench_scoring(m, &cfg, batches[i], reps, warmup, peak);
    if (train_batch > 0) bench_training(m, &cfg, train_batch, reps, warmup, peak);
    at_cache_stats s = at_device_memory_stats(AT_CUDA);
    printf("device_memory peak %.1f MiB\n", s.peak_in_use / 1048576.0);
    ir_model_free(m);
    return 0;
}

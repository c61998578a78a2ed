/* aapmt_bench_model: scoring speed of the full-size ImageReward-v1.0 (random
 * weights) on the CPU, in images per second at each batch size, and the
 * process's peak memory. tests/bench/model/run.sh runs it next to
 * torch_model.py, the same architecture in PyTorch.
 *
 * Each figure is one line
 *     score_b<B>  median <ms> ms  min <ms> ms  <images/s> img/s
 * and a last line "peak_rss <MiB> MiB". */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model/imagereward.h"
#include "ops.h"
#include "parallel.h"

static const char usage[] =
    "usage: aapmt_bench_model [options]\n"
    "  --threads N     threads for our loops and OpenBLAS (default: the cores we may run on)\n"
    "  --reps N        timed repetitions per batch size (default 3)\n"
    "  --warmup N      untimed repetitions first (default 1)\n"
    "  --batches LIST  batch sizes, comma-separated (default 1,8)\n"
    "  --texts N       also time N prompts against each batch from one image encoding\n"
    "                  (ir_model_score_texts; default 3, 0: off)\n"
    "  --config FILE   a model config (default: ImageReward-v1.0)\n"
    "  --coretype      print the OpenBLAS kernel set to use on this CPU and exit\n";

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static void *must(void *p, const char *what) {
    if (!p) {
        fprintf(stderr, "aapmt_bench_model: %s failed: %s\n", what, at_last_error());
        exit(1);
    }
    return p;
}

static int available_cores(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    return 1;
}

static int parse_count(const char *flag, const char *text) {
    char *end;
    long v = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v < 0 || v > 100000) {
        fprintf(stderr, "aapmt_bench_model: %s wants a count, got '%s'\n%s", flag, text, usage);
        exit(2);
    }
    return (int)v;
}

/* VmHWM from /proc/self/status: the resident high-water mark, in KiB. */
static long peak_rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kib = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return kib;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(double *times, int reps) {
    qsort(times, (size_t)reps, sizeof *times, compare_doubles);
    return reps % 2 ? times[reps / 2] : 0.5 * (times[reps / 2 - 1] + times[reps / 2]);
}

/* A batch as the scorer sees it: preprocessed-looking pixels and a 35-token
 * prompt of which 20 are real (ImageReward pads every prompt to 35). */
static void make_batch(const ir_config *cfg, int B, at_rng *rng, at_tensor **pixels, at_tensor **ids, at_tensor **mask) {
    int64_t S = cfg->vision.image_size, ps[4] = {B, 3, S, S}, ts[2] = {B, 35};
    *pixels = must(at_randn(rng, AT_F32, 4, ps), "pixels");
    *ids = must(at_zeros(AT_I64, 2, ts), "ids");
    *mask = must(at_zeros(AT_I64, 2, ts), "mask");
    int64_t *id = at_data(*ids), *m = at_data(*mask), V = cfg->text.vocab_size;
    for (int b = 0; b < B; b++)
        for (int j = 0; j < 20; j++) {
            id[b * 35 + j] = j == 0 ? 101 % V : j == 19 ? 102 % V : 1000 + (b * 37 + j * 101) % (V - 1000 > 0 ? V - 1000 : 1);
            m[b * 35 + j] = 1;
        }
}

int main(int argc, char **argv) {
    at_keep_freed_memory();   /* as the aapmt program does (tensor.h) */
    /* The fast OpenBLAS kernels, as the aapmt program picks them (parallel.h). */
    const char *better = at_blas_better_coretype();
    if (argc == 2 && !strcmp(argv[1], "--coretype")) {
        printf("%s\n", getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : better ? better : "");
        return 0;
    }
    if (better && !getenv("OPENBLAS_CORETYPE")) {
        setenv("OPENBLAS_CORETYPE", better, 1);
        execv("/proc/self/exe", argv);
        unsetenv("OPENBLAS_CORETYPE");
    }
    int threads = available_cores(), reps = 3, warmup = 1, batches[8] = {1, 8}, n_batches = 2, texts = 3;
    const char *config_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            fputs(usage, stdout);
            return 0;
        }
        if (!value) {
            fprintf(stderr, "aapmt_bench_model: unknown option or missing value: %s\n%s", arg, usage);
            return 2;
        }
        i++;
        if (!strcmp(arg, "--threads")) threads = parse_count(arg, value);
        else if (!strcmp(arg, "--reps")) reps = parse_count(arg, value);
        else if (!strcmp(arg, "--warmup")) warmup = parse_count(arg, value);
        else if (!strcmp(arg, "--texts")) texts = parse_count(arg, value);
        else if (!strcmp(arg, "--config")) config_path = value;
        else if (!strcmp(arg, "--batches")) {
            char buf[256];
            snprintf(buf, sizeof buf, "%s", value);
            n_batches = 0;
            for (char *tok = strtok(buf, ","); tok && n_batches < 8; tok = strtok(NULL, ","))
                batches[n_batches++] = parse_count(arg, tok);
        } else {
            fprintf(stderr, "aapmt_bench_model: unknown option %s\n%s", arg, usage);
            return 2;
        }
    }
    if (threads < 1 || reps < 1 || n_batches < 1) {
        fprintf(stderr, "aapmt_bench_model: threads, reps and batches must be at least 1\n");
        return 2;
    }
    at_set_num_threads(threads);
    ir_config cfg;
    if (config_path) {
        if (ir_config_load(config_path, &cfg)) must(NULL, "config");
    } else {
        ir_config_default(&cfg);
    }
    printf("# aapmt ImageReward, %d threads, OpenBLAS core %s, %d reps after %d warm-up\n", threads,
           at_blas_coretype(), reps, warmup);
    double t0 = now_ms();
    ir_model *m = must(ir_model_random(&cfg, 1234), "random model");
    printf("# random init %.1f s, %d tensors\n", (now_ms() - t0) * 1e-3, ir_model_param_count(m));
    fflush(stdout);
    at_rng rng = at_rng_new(99);
    for (int bi = 0; bi < n_batches; bi++) {
        int B = batches[bi];
        at_tensor *pixels, *ids, *mask;
        make_batch(&cfg, B, &rng, &pixels, &ids, &mask);
        double *times = must(calloc((size_t)reps, sizeof *times), "times");
        for (int r = -warmup; r < reps; r++) {
            ir_output out;
            double start = now_ms();
            if (ir_model_forward(m, pixels, ids, mask, NULL, &out)) must(NULL, "forward");
            double ms = now_ms() - start;
            if (r == -warmup) printf("# batch %d: first score %.9g\n", B, at_get_linear(out.scores, 0));
            ir_output_clear(&out);
            if (r >= 0) times[r] = ms;
        }
        double median = median_of(times, reps);
        char name[32];
        snprintf(name, sizeof name, "score_b%d", B);
        printf("%-12s median %10.1f ms  min %10.1f ms  %8.3f img/s\n", name, median, times[0], B / (median * 1e-3));
        fflush(stdout);
        if (texts > 0) { /* texts prompts (here the same ids) against the batch, one encoding */
            int64_t ts[2] = {texts, 35};
            at_tensor *tids = must(at_zeros(AT_I64, 2, ts), "ids"), *tmask = must(at_zeros(AT_I64, 2, ts), "mask");
            for (int t = 0; t < texts; t++) {
                memcpy((int64_t *)at_data(tids) + t * 35, at_data(ids), 35 * sizeof(int64_t));
                memcpy((int64_t *)at_data(tmask) + t * 35, at_data(mask), 35 * sizeof(int64_t));
            }
            for (int r = -warmup; r < reps; r++) {
                ir_output out;
                double start = now_ms();
                at_tensor *image = must(ir_model_encode_image(m, pixels, NULL), "encode_image");
                if (ir_model_score_texts(m, image, tids, tmask, &out)) must(NULL, "score_texts");
                double ms = now_ms() - start;
                at_release(image);
                ir_output_clear(&out);
                if (r >= 0) times[r] = ms;
            }
            median = median_of(times, reps);
            snprintf(name, sizeof name, "texts%d_b%d", texts, B);
            printf("%-12s median %10.1f ms  min %10.1f ms  %8.3f img/s\n", name, median, times[0],
                   texts * B / (median * 1e-3));
            fflush(stdout);
            at_release(tids);
            at_release(tmask);
        }
        free(times);
        at_release(pixels);
        at_release(ids);
        at_release(mask);
    }
    printf("peak_rss %.0f MiB\n", peak_rss_kib() / 1024.0);
    ir_model_free(m);
    return 0;
}

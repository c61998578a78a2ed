/* aapmt_bench: GEMM GFLOP/s, one ViT block forward+backward and the block's
 * ops one by one, on the CPU. tests/bench/run.sh runs it next to PyTorch. */
#define _GNU_SOURCE
#include "bench.h"

#include <cblas.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parallel.h"

static const char usage[] =
    "usage: aapmt_bench [options]\n"
    "  --threads N     threads for our loops and OpenBLAS (default: the cores we may run on)\n"
    "  --reps N        timed repetitions per figure (default 10; GEMM and single ops use 2N)\n"
    "  --warmup N      untimed repetitions first (default 2)\n"
    "  --batches LIST  block batch sizes, comma-separated (default 1,8)\n"
    "  --only LIST     sections to run: gemm,block,ops (default all)\n"
    "Prints one line per figure: name, median and min milliseconds, GFLOP/s at the median.\n";

/* Cores this process may run on, which a container or taskset can limit. */
static int available_cores(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    return 1;
}

static int parse_count(const char *flag, const char *text, long min) {
    char *end;
    long v = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v < min || v > 100000) {
        fprintf(stderr, "aapmt_bench: %s wants an integer >= %ld, got '%s'\n%s", flag, min, text, usage);
        exit(2);
    }
    return (int)v;
}

static void parse_batches(bench_config *cfg, const char *text) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    cfg->n_batches = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (cfg->n_batches == 8) {
            fprintf(stderr, "aapmt_bench: --batches takes at most 8 sizes\n");
            exit(2);
        }
        cfg->batches[cfg->n_batches++] = parse_count("--batches", tok, 1);
    }
}

static void parse_sections(bench_config *cfg, const char *text) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    cfg->gemm = cfg->block = cfg->ops = false;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (!strcmp(tok, "gemm")) cfg->gemm = true;
        else if (!strcmp(tok, "block")) cfg->block = true;
        else if (!strcmp(tok, "ops")) cfg->ops = true;
        else {
            fprintf(stderr, "aapmt_bench: unknown section '%s' in --only\n%s", tok, usage);
            exit(2);
        }
    }
}

int main(int argc, char **argv) {
    at_keep_freed_memory();   /* as the aapmt program does (tensor.h) */
    bench_config cfg = {.threads = available_cores(), .warmup = 2, .reps = 10,
                        .batches = {1, 8}, .n_batches = 2, .gemm = true, .block = true, .ops = true};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            fputs(usage, stdout);
            return 0;
        }
        if (!value) {
            fprintf(stderr, "aapmt_bench: unknown option or missing value: %s\n%s", arg, usage);
            return 2;
        }
        if (!strcmp(arg, "--threads")) cfg.threads = parse_count(arg, value, 1);
        else if (!strcmp(arg, "--reps")) cfg.reps = parse_count(arg, value, 1);
        else if (!strcmp(arg, "--warmup")) cfg.warmup = parse_count(arg, value, 0);
        else if (!strcmp(arg, "--batches")) parse_batches(&cfg, value);
        else if (!strcmp(arg, "--only")) parse_sections(&cfg, value);
        else {
            fprintf(stderr, "aapmt_bench: unknown option %s\n%s", arg, usage);
            return 2;
        }
        i++;
    }
    at_set_num_threads(cfg.threads);
    /* The GEMM kernels OpenBLAS picked decide most of the time; say which. */
    printf("# aapmt %s, %d threads, %d reps (median, min), OpenBLAS core %s\n", AAPMT_VERSION,
           at_get_num_threads(), cfg.reps, openblas_get_corename());
    if (cfg.gemm) bench_gemm(&cfg);
    if (cfg.block)
        for (int i = 0; i < cfg.n_batches; i++) bench_block(&cfg, cfg.batches[i]);
    if (cfg.ops) bench_ops(&cfg);
    return 0;
}

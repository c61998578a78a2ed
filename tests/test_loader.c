/* The background data loader (core/data/loader.h): order, coverage,
 * drop_last, resume, thread-count and cache bit-identity, decode counts,
 * errors naming the file, and shutdown mid-epoch. Images are tiny PNGs of
 * assorted sizes written into a temporary folder. Run it under ASan too
 * (AAPMT_SANITIZE=ON) for the leak and race-free shutdown checks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stb/stb_image_write.h>

#include "check.h"
#include "io/image.h"
#include "rng.h"
#include "tensor.h"
#include "data/loader.h"

#define NROWS 23
#define SIZE 32
#define METRICS 2

static char dir[64];
static char *paths[NROWS];
static at_tensor *targets;       /* (NROWS, METRICS) f64 */
static at_tensor *reference;     /* (NROWS, 3, SIZE, SIZE): at_image_preprocess_files */
static const size_t image_floats = 3 * SIZE * SIZE;

static void write_images(void) {
    strcpy(dir, "/tmp/aapmt_loader_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    for (int i = 0; i < NROWS; i++) {
        int w = 32 + (i * 7) % 29, h = 32 + (i * 11) % 23;
        unsigned char *px = malloc((size_t)w * h * 3);
        for (int k = 0; k < w * h * 3; k++) px[k] = (unsigned char)(at_uniform_at(99 + i, k) * 256);
        char path[128];
        snprintf(path, sizeof path, "%s/img_%02d.png", dir, i);
        if (!stbi_write_png(path, w, h, 3, px, w * 3)) {
            fprintf(stderr, "cannot write %s\n", path);
            exit(1);
        }
        paths[i] = strdup(path);
        free(px);
    }
    int64_t shape[2] = {NROWS, METRICS};
    targets = at_empty(AT_F64, 2, shape);
    for (int i = 0; i < NROWS; i++)
        for (int m = 0; m < METRICS; m++) ((double *)at_data(targets))[i * METRICS + m] = i * 10 + m + 0.25;
    reference = at_image_preprocess_files((const char *const *)paths, NROWS, SIZE, 0);
    if (!reference) {
        fprintf(stderr, "reference: %s\n", at_last_error());
        exit(1);
    }
}

static void remove_images(void) {
    for (int i = 0; i < NROWS; i++) {
        unlink(paths[i]);
        free(paths[i]);
    }
    rmdir(dir);
    at_release(targets);
    at_release(reference);
}

static at_loader_options options(int batch, uint64_t seed, int workers, int prefetch) {
    at_loader_options o = {0};
    o.paths = (const char *const *)paths;
    o.rows = NROWS;
    o.targets = targets;
    o.size = SIZE;
    o.batch = batch;
    o.seed = seed;
    o.shuffle = true;
    o.workers = workers;
    o.prefetch = prefetch;
    return o;
}

/* One epoch's batches concatenated: pixels, rows and targets, and the batch
 * sizes. Returns the number of batches, -1 on a loader error. */
typedef struct epoch_run {
    float *pixels;
    int64_t rows[NROWS];
    float targets[NROWS * METRICS];
    int nbatch, nrows, sizes[NROWS];
} epoch_run;

static int run_epoch(at_loader *l, int64_t epoch, int64_t start, epoch_run *run) {
    memset(run, 0, sizeof *run);
    run->pixels = calloc(NROWS * image_floats, sizeof(float));
    if (at_loader_start_epoch(l, epoch, start) < 0) return -1;
    at_loader_batch b;
    int rc;
    while ((rc = at_loader_next(l, &b)) == 1) {
        int64_t n = b.pixels->shape[0];
        CHECK(b.index == start + run->nbatch && b.epoch == epoch, "batch %lld of epoch %lld",
              (long long)b.index, (long long)b.epoch);
        CHECK(b.rows->shape[0] == n && b.targets->shape[0] == n && b.targets->shape[1] == METRICS,
              "batch shapes agree");
        memcpy(run->pixels + run->nrows * image_floats, at_data(b.pixels), n * image_floats * sizeof(float));
        memcpy(run->rows + run->nrows, at_data(b.rows), n * sizeof(int64_t));
        memcpy(run->targets + run->nrows * METRICS, at_data(b.targets), n * METRICS * sizeof(float));
        run->sizes[run->nbatch++] = (int)n;
        run->nrows += (int)n;
        at_loader_batch_release(&b);
    }
    return rc < 0 ? -1 : run->nbatch;
}

static bool same_run(const epoch_run *a, const epoch_run *b) {
    return a->nrows == b->nrows && a->nbatch == b->nbatch &&
           !memcmp(a->rows, b->rows, a->nrows * sizeof(int64_t)) &&
           !memcmp(a->pixels, b->pixels, a->nrows * image_floats * sizeof(float)) &&
           !memcmp(a->targets, b->targets, a->nrows * METRICS * sizeof(float));
}

static void test_order(void) {
    int64_t a[NROWS], b[NROWS], c[NROWS], d[NROWS];
    at_loader_epoch_order(7, true, 0, NROWS, a);
    at_loader_epoch_order(7, true, 0, NROWS, b);
    at_loader_epoch_order(8, true, 0, NROWS, c);
    at_loader_epoch_order(7, true, 1, NROWS, d);
    CHECK(!memcmp(a, b, sizeof a), "same seed and epoch, same order");
    CHECK(memcmp(a, c, sizeof a), "another seed, another order");
    CHECK(memcmp(a, d, sizeof a), "another epoch, another order");
    int seen[NROWS] = {0}, moved = 0;
    for (int i = 0; i < NROWS; i++) {
        if (a[i] >= 0 && a[i] < NROWS) seen[a[i]]++;
        moved += a[i] != i;
    }
    int once = 1;
    for (int i = 0; i < NROWS; i++) once &= seen[i] == 1;
    CHECK(once, "the order is a permutation");
    CHECK(moved > NROWS / 2, "the order is shuffled (%d rows moved)", moved);
    at_loader_epoch_order(7, false, 3, NROWS, a);
    int identity = 1;
    for (int i = 0; i < NROWS; i++) identity &= a[i] == i;
    CHECK(identity, "no shuffle: rows in order");
    /* Many rows: every position is reached (no stuck tail of the shuffle). */
    int64_t big[1000];
    at_loader_epoch_order(1, true, 0, 1000, big);
    int64_t sum = 0;
    for (int i = 0; i < 1000; i++) sum += big[i];
    CHECK(sum == 999 * 1000 / 2 && big[999] != 999, "a 1000-row permutation");
}

static void test_epoch_contents(void) {
    at_loader_options o = options(5, 42, 2, 2);
    at_loader *l = at_loader_new(&o);
    CHECK(l != NULL, "loader: %s", at_last_error());
    if (!l) return;
    CHECK(at_loader_batches_per_epoch(l) == 5, "23 rows of 5: 5 batches");
    epoch_run run;
    int n = run_epoch(l, 0, 0, &run);
    CHECK(n == 5, "5 batches, got %d (%s)", n, at_last_error());
    CHECK(run.sizes[0] == 5 && run.sizes[4] == 3, "batch sizes 5 ... 3");
    int64_t order[NROWS];
    at_loader_epoch_order(42, true, 0, NROWS, order);
    CHECK(!memcmp(order, run.rows, sizeof order), "rows follow the epoch's order");
    int pixels_ok = 1, targets_ok = 1;
    for (int i = 0; i < run.nrows; i++) {
        int64_t r = run.rows[i];
        pixels_ok &= !memcmp(run.pixels + i * image_floats, (float *)at_data(reference) + r * image_floats,
                             image_floats * sizeof(float));
        for (int m = 0; m < METRICS; m++) targets_ok &= run.targets[i * METRICS + m] == (float)(r * 10 + m + 0.25);
    }
    CHECK(pixels_ok, "pixels equal at_image_preprocess_files row by row");
    CHECK(targets_ok, "targets follow their rows");
    CHECK(at_loader_next(l, &(at_loader_batch){0}) == 0, "after the end, next stays 0");
    epoch_run again;
    run_epoch(l, 0, 0, &again);
    CHECK(same_run(&run, &again), "epoch 0 again: the same batches");
    epoch_run other;
    run_epoch(l, 1, 0, &other);
    CHECK(memcmp(other.rows, run.rows, sizeof run.rows), "epoch 1: another order");
    free(run.pixels);
    free(again.pixels);
    free(other.pixels);
    at_loader_free(l);

    o.seed = 43;
    l = at_loader_new(&o);
    run_epoch(l, 0, 0, &other);
    CHECK(memcmp(other.rows, order, sizeof order), "another seed: another order");
    free(other.pixels);
    at_loader_free(l);

    o.shuffle = false;
    o.targets = NULL;
    l = at_loader_new(&o);
    at_loader_start_epoch(l, 5, 0);
    at_loader_batch b;
    CHECK(at_loader_next(l, &b) == 1 && ((int64_t *)at_data(b.rows))[4] == 4 && b.targets->shape[1] == 0,
          "no shuffle, no targets: rows 0..4 and (5, 0) targets");
    at_loader_batch_release(&b);
    at_loader_free(l);
}

static void test_drop_last_and_resume(void) {
    at_loader_options o = options(5, 3, 3, 2);
    o.drop_last = true;
    at_loader *l = at_loader_new(&o);
    epoch_run run;
    int n = run_epoch(l, 2, 0, &run);
    CHECK(n == 4 && run.nrows == 20, "drop_last: 4 full batches (%d, %d rows)", n, run.nrows);
    int64_t order[NROWS];
    at_loader_epoch_order(3, true, 2, NROWS, order);
    CHECK(!memcmp(order, run.rows, 20 * sizeof(int64_t)), "drop_last keeps the order's first 20");
    free(run.pixels);
    at_loader_free(l);

    o.drop_last = false;
    l = at_loader_new(&o);
    epoch_run full, tail;
    run_epoch(l, 3, 0, &full);
    n = run_epoch(l, 3, 2, &tail);
    CHECK(n == 3 && tail.nrows == 13, "resume at batch 2: 3 batches left (%d)", n);
    CHECK(!memcmp(tail.rows, full.rows + 10, 13 * sizeof(int64_t)) &&
              !memcmp(tail.pixels, full.pixels + 10 * image_floats, 13 * image_floats * sizeof(float)),
          "resumed batches equal the uninterrupted epoch's");
    free(tail.pixels);
    n = run_epoch(l, 3, 5, &tail);
    CHECK(n == 0, "resume at the end: nothing left");
    free(tail.pixels);
    CHECK(at_loader_start_epoch(l, 3, 6) < 0 && strstr(at_last_error(), "start batch 6"),
          "a start past the end is an error: %s", at_last_error());
    /* Restarting mid-epoch drops the queued work. */
    at_loader_start_epoch(l, 0, 0);
    at_loader_batch b;
    at_loader_next(l, &b);
    at_loader_batch_release(&b);
    n = run_epoch(l, 3, 0, &tail);
    CHECK(n == 5 && same_run(&tail, &full), "a restart mid-epoch gives the new epoch intact");
    free(tail.pixels);
    free(full.pixels);
    at_loader_free(l);

    /* A batch larger than the data: one short batch, or none with drop_last. */
    o = options(30, 3, 2, 2);
    l = at_loader_new(&o);
    n = run_epoch(l, 0, 0, &tail);
    CHECK(n == 1 && tail.nrows == NROWS, "batch 30 of 23 rows: one batch (%d)", n);
    free(tail.pixels);
    at_loader_free(l);
    o.drop_last = true;
    l = at_loader_new(&o);
    CHECK(at_loader_batches_per_epoch(l) == 0, "drop_last with batch 30: no batch");
    n = run_epoch(l, 0, 0, &tail);
    CHECK(n == 0, "drop_last with batch 30: the epoch is empty (%d)", n);
    free(tail.pixels);
    at_loader_free(l);
}

static void test_threads_identical(void) {
    int workers[] = {1, 2, 4, 4}, prefetch[] = {1, 2, 1, 4};
    epoch_run first = {0};
    for (int k = 0; k < 4; k++) {
        at_loader_options o = options(4, 11, workers[k], prefetch[k]);
        at_loader *l = at_loader_new(&o);
        CHECK(at_loader_workers(l) == workers[k], "worker count");
        epoch_run run;
        run_epoch(l, 1, 0, &run);
        if (k == 0) first = run;
        else {
            CHECK(same_run(&first, &run), "%d workers, prefetch %d: bit-identical to 1 worker",
                  workers[k], prefetch[k]);
            free(run.pixels);
        }
        at_loader_free(l);
    }
    free(first.pixels);
    at_loader_options o = options(4, 11, 0, 0);
    at_loader *l = at_loader_new(&o);
    CHECK(at_loader_workers(l) >= 1, "default workers: one a core (%d)", at_loader_workers(l));
    at_loader_free(l);
}

static void test_cache(void) {
    at_loader_options o = options(6, 5, 2, 2);
    at_loader *plain = at_loader_new(&o);
    o.cache_bytes = (size_t)1 << 30;
    at_loader *cached = at_loader_new(&o);
    o.cache_bytes = 10 * image_floats;   /* bytes for 10 uint8 images */
    at_loader *small = at_loader_new(&o);
    for (int e = 0; e < 3; e++) {
        epoch_run a, b, c;
        run_epoch(plain, e, 0, &a);
        run_epoch(cached, e, 0, &b);
        run_epoch(small, e, 0, &c);
        CHECK(same_run(&a, &b) && same_run(&a, &c), "epoch %d: cache on and off bit-identical", e);
        free(a.pixels);
        free(b.pixels);
        free(c.pixels);
        at_loader_stats st = at_loader_get_stats(cached);
        CHECK(st.decodes == NROWS && st.cache_hits == (int64_t)e * NROWS,
              "epoch %d: %lld decodes, %lld cache hits", e, (long long)st.decodes, (long long)st.cache_hits);
        CHECK(st.cache_used == NROWS * image_floats, "cache holds every image");
        st = at_loader_get_stats(small);
        CHECK(st.cache_used == 10 * image_floats && st.cache_hits == (int64_t)e * 10 &&
                  st.decodes == NROWS + (int64_t)e * (NROWS - 10),
              "bounded cache, epoch %d: %zu bytes, %lld hits, %lld decodes", e, st.cache_used,
              (long long)st.cache_hits, (long long)st.decodes);
    }
    at_loader_stats st = at_loader_get_stats(plain);
    CHECK(st.decodes == 3 * NROWS && st.cache_hits == 0, "no cache: every epoch decodes");
    at_loader_free(plain);
    at_loader_free(cached);
    at_loader_free(small);
}

static void test_errors(void) {
    char bad[128];
    snprintf(bad, sizeof bad, "%s/image/truncated.png", AAPMT_TEST_FIXTURES);
    char *saved = paths[13];
    const char *missing = "/nonexistent/loader/missing.png";
    for (int k = 0; k < 2; k++) {
        paths[13] = k ? (char *)missing : bad;
        at_loader_options o = options(4, 9, 3, 3);
        o.cache_bytes = k ? (size_t)1 << 20 : 0;
        at_loader *l = at_loader_new(&o);
        int64_t order[NROWS];
        at_loader_epoch_order(9, true, 0, NROWS, order);
        int64_t pos = 0;
        while (order[pos] != 13) pos++;
        at_loader_start_epoch(l, 0, 0);
        at_loader_batch b;
        int rc, got = 0;
        while ((rc = at_loader_next(l, &b)) == 1) {
            got++;
            at_loader_batch_release(&b);
        }
        CHECK(rc == -1 && got == pos / 4, "the error comes at batch %lld (got %d batches first)",
              (long long)(pos / 4), got);
        CHECK(strstr(at_last_error(), paths[13]) != NULL, "the error names the file: %s", at_last_error());
        char where[64];
        snprintf(where, sizeof where, "batch %lld of 6, row %lld of the batch", (long long)(pos / 4) + 1,
                 (long long)(pos % 4) + 1);
        CHECK(strstr(at_last_error(), where) != NULL, "the error names %s (1-based): %s", where, at_last_error());
        char first[512];
        snprintf(first, sizeof first, "%s", at_last_error());
        at_set_error("something else");
        CHECK(at_loader_next(l, &b) == -1 && strcmp(at_last_error(), first) == 0,
              "a failed epoch keeps failing with the same error: %s", at_last_error());
        /* Resuming past the bad batch works. */
        epoch_run run;
        int n = run_epoch(l, 0, pos / 4 + 1, &run);
        CHECK(n == 6 - (int)(pos / 4 + 1), "resume after the bad batch: %d batches", n);
        free(run.pixels);
        at_loader_start_epoch(l, 0, 0);   /* left running into the error: free must not hang */
        at_loader_free(l);
    }
    paths[13] = saved;

    at_loader_options o = options(4, 9, 1, 1);
    o.rows = 0;
    CHECK(!at_loader_new(&o) && strstr(at_last_error(), "loader"), "no rows: %s", at_last_error());
    o = options(0, 9, 1, 1);
    CHECK(!at_loader_new(&o), "batch 0 refused");
    int64_t shape[2] = {NROWS - 1, 2};
    at_tensor *wrong = at_zeros(AT_F32, 2, shape);
    o = options(4, 9, 1, 1);
    o.targets = wrong;
    CHECK(!at_loader_new(&o) && strstr(at_last_error(), "[22, 2]"), "targets of 22 rows: %s", at_last_error());
    at_release(wrong);
}

static void test_early_destroy(void) {
    for (int k = 0; k < 3; k++) {
        at_loader_options o = options(3, 1, 4, 4);
        o.cache_bytes = k == 2 ? (size_t)1 << 20 : 0;
        at_loader *l = at_loader_new(&o);
        if (k >= 1) at_loader_start_epoch(l, 0, 0);
        if (k == 2) {
            at_loader_batch b;
            CHECK(at_loader_next(l, &b) == 1, "a first batch");
            at_loader_batch_release(&b);   /* the batch may also outlive the loader */
        }
        at_loader_free(l);
    }
    /* A batch kept past the loader's end stays valid. */
    at_loader_options o = options(3, 1, 2, 2);
    at_loader *l = at_loader_new(&o);
    at_loader_start_epoch(l, 0, 0);
    at_loader_batch b;
    at_loader_next(l, &b);
    at_loader_free(l);
    CHECK(b.pixels->shape[0] == 3 && ((float *)at_data(b.pixels))[0] == ((float *)at_data(b.pixels))[0],
          "the batch outlives the loader");
    at_loader_batch_release(&b);
    at_loader_free(NULL);
}

int main(void) {
    write_images();
    test_order();
    test_epoch_contents();
    test_drop_last_and_resume();
    test_threads_identical();
    test_cache();
    test_errors();
    test_early_destroy();
    remove_images();
    return check_summary();
}

/* The background data loader: batches of preprocessed images, decoded by
 * worker threads ahead of the training loop, in a seeded order.
 *
 * Order. Epoch e visits the rows in a permutation that depends only on
 * (seed, e): a Fisher-Yates shuffle (i from n-1 down to 1, swap i with j)
 * whose j is drawn from Philox4x32-10 (core/rng.h) keyed by the seed at
 * counter e * 2^40 + i, as j = floor(r * (i + 1) / 2^64) for the 64-bit
 * draw r (bias below (i + 1) / 2^64). Without shuffling the order is
 * 0, 1, ..., n-1. Batch k of an epoch holds order[k*B, k*B + B); the last,
 * shorter batch is dropped when drop_last is set. Because the order is a
 * pure function of (seed, epoch), a run resumes exactly by starting epoch e
 * at the batch position it had reached (at_loader_start_epoch).
 *
 * Pixels. Each row is ImageReward's preprocessing (core/io/image.h) of its
 * file at the loader's size. Rows are independent, so the contents of every
 * batch are bit-identical whatever the number of workers and the prefetch
 * depth; only the timing changes.
 *
 * Threads. `workers` pthreads claim single images (batch by batch, row by
 * row) from at most `prefetch` batches past the one the consumer waits for,
 * decode them straight into the batch tensor and signal when a batch is
 * complete. The consumer receives batches strictly in order. The workers run
 * beside the caller's own (OpenMP) threads; on a machine whose cores are all
 * busy training, fewer workers may be better.
 *
 * Cache. With cache_bytes > 0, the uint8 RGB pixels after resize and centre
 * crop (at_image_resize_center_crop: 3 * S * S bytes an image) are kept for
 * as many images as fit in cache_bytes (first come, never evicted), so later
 * epochs skip decoding those. ToTensor and Normalize are a function of the
 * uint8 value, so a cached image gives the same floats bit for bit as a
 * decoded one (the tests check this against at_image_preprocess).
 *
 * Errors. A file that cannot be decoded fails the batch that needed it: the
 * consumer gets -1 from at_loader_next with an error naming the epoch, the
 * batch and the row in it (both counted from 1, as the Lua API counts them:
 * "batch 3 of 6, row 1 of the batch") and the file (the first failing row
 * of the batch). The epoch then ends: the workers idle, and every later
 * at_loader_next gives -1 with the same error (never 0, which would read as
 * a finished epoch) until the next at_loader_start_epoch or at_loader_free. at_loader_free may be called at any time, mid-epoch too:
 * it stops the workers (each finishes the image it holds), joins them and
 * frees everything. */
#ifndef AAPMT_TRAIN_LOADER_H
#define AAPMT_TRAIN_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../tensor.h"

typedef struct at_loader_options {
    const char *const *paths;  /* rows image files (copied) */
    int64_t rows;
    /* Per-row targets: a (rows, M) tensor of any float dtype (copied to f32),
     * or NULL for none (batches then carry (B, 0) targets). */
    const at_tensor *targets;
    int size;                  /* image side S (224 for ImageReward) */
    int batch;                 /* rows a batch, B */
    uint64_t seed;
    bool shuffle;
    bool drop_last;
    int workers;               /* <= 0: one a core */
    int prefetch;              /* batches in flight ahead of the consumer; <= 0: 2 */
    size_t cache_bytes;        /* 0: no cache */
    int64_t max_pixels;        /* decompression-bomb bound; <= 0: the default */
} at_loader_options;

typedef struct at_loader at_loader;

typedef struct at_loader_batch {
    at_tensor *pixels;   /* (B, 3, S, S) f32 */
    at_tensor *targets;  /* (B, M) f32 */
    at_tensor *rows;     /* (B) i64: the rows (0-based, in the options' order) */
    int64_t epoch, index;   /* this batch's epoch and position in it */
} at_loader_batch;

/* Checks the options, copies paths and targets and starts the workers. No
 * epoch is running until at_loader_start_epoch. NULL after an error. */
at_loader *at_loader_new(const at_loader_options *opts);
/* Stops the workers and frees everything; fine mid-epoch and with NULL. */
void at_loader_free(at_loader *l);

/* Starts (or restarts) epoch `epoch` at batch position start_batch (0 for
 * the whole epoch; batches_per_epoch gives an empty epoch). Work queued for
 * a previous epoch is dropped. -1 after an error (bad position). */
int at_loader_start_epoch(at_loader *l, int64_t epoch, int64_t start_batch);
/* The next batch of the running epoch, in order: 1 and *out filled (the
 * caller owns the three tensors); 0 at the end of the epoch (or with no
 * epoch started); -1 after an error, and again at every call until the
 * next start (see above). */
int at_loader_next(at_loader *l, at_loader_batch *out);
void at_loader_batch_release(at_loader_batch *b);   /* releases the tensors, NULL-safe */

int64_t at_loader_batches_per_epoch(const at_loader *l);
int64_t at_loader_rows(const at_loader *l);
int at_loader_workers(const at_loader *l);
/* Epoch e's order of rows: fills out[0, rows). Needs no loader, so a
 * caller may inspect or store it. */
void at_loader_epoch_order(uint64_t seed, bool shuffle, int64_t epoch, int64_t rows, int64_t *out);

/* Counters since the loader began: images decoded from their files, images
 * served from the cache, and the cache's bytes in use. */
typedef struct at_loader_stats {
    int64_t decodes, cache_hits;
    size_t cache_used;
} at_loader_stats;
at_loader_stats at_loader_get_stats(at_loader *l);

#endif

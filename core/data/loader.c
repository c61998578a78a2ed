/* The background data loader (loader.h says what it promises).
 *
 * One mutex guards the whole state; workers hold it only to claim an image
 * and to report it done, never while decoding. Batch k lives in slot
 * k % prefetch, so a worker may claim batch k only once the consumer has
 * taken batch k - prefetch (k < cur + prefetch). Every restart of an epoch
 * (and an epoch ended by an error) bumps `gen`; a worker whose image was
 * claimed under an older gen drops its result, and the batch tensor it wrote
 * into stays alive through the reference it took when claiming. */
#define _GNU_SOURCE
#include "loader.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../io/image.h"
#include "../rng.h"

/* The CLIP constants of preprocess.c, narrowed to float32 the same way; the
 * cache's conversion must equal at_image_preprocess bit for bit (tested). */
static const double clip_mean[3] = {0.48145466, 0.4578275, 0.40821073};
static const double clip_std[3] = {0.26862954, 0.26130258, 0.27577711};

typedef struct slot {
    int64_t batch;       /* -1 when free */
    int64_t nrows, remaining;
    at_tensor *pixels;
    int64_t error_row;   /* the first failing row in the batch, or -1 */
    char *error;
} slot;

struct at_loader {
    char **paths;
    int64_t rows;
    at_tensor *targets;          /* (rows, M) f32 */
    int size, batch, prefetch, nworkers;
    uint64_t seed;
    bool shuffle, drop_last;
    int64_t max_pixels, nbatch;
    float table[3][256];         /* uint8 -> normalised float, per channel */

    pthread_mutex_t mu;
    pthread_cond_t work_cv, ready_cv;
    pthread_t *threads;
    bool stop, active;
    uint64_t gen;
    int64_t epoch, cur, claim_batch, claim_row;
    int64_t *perm;
    slot *slots;
    char *failure;               /* the error that ended the epoch, repeated until the next start */

    size_t cache_bytes, cache_used;
    uint8_t **cache;             /* per row: HWC RGB pixels, or NULL; NULL without a cache */
    int64_t decodes, cache_hits;
};

void at_loader_epoch_order(uint64_t seed, bool shuffle, int64_t epoch, int64_t rows, int64_t *out) {
    for (int64_t i = 0; i < rows; i++) out[i] = i;
    if (!shuffle) return;
    uint64_t base = (uint64_t)epoch << 40;
    for (int64_t i = rows - 1; i > 0; i--) {
        uint32_t r[4];
        at_philox4x32(seed, base + (uint64_t)i, r);
        uint64_t draw = (uint64_t)r[0] << 32 | r[1];
        int64_t j = (int64_t)(((unsigned __int128)draw * (uint64_t)(i + 1)) >> 64);
        int64_t t = out[i];
        out[i] = out[j];
        out[j] = t;
    }
}

static int64_t rows_in_batch(const at_loader *l, int64_t b) {
    int64_t left = l->rows - b * l->batch;
    return left < l->batch ? left : l->batch;
}

static void slot_clear(slot *s) {
    at_release(s->pixels);
    free(s->error);
    s->pixels = NULL;
    s->error = NULL;
    s->batch = -1;
    s->error_row = -1;
}

static void uint8_to_floats(const at_loader *l, const uint8_t *hwc, float *chw) {
    size_t plane = (size_t)l->size * l->size;
    for (size_t i = 0; i < plane; i++)
        for (int c = 0; c < 3; c++) chw[c * plane + i] = l->table[c][hwc[3 * i + c]];
}

/* Decodes row `row` into row r of pixels. With a cache, *fresh gets a copy
 * of the uint8 pixels for the caller to store (or free). */
static int fill_row(const at_loader *l, int64_t row, const uint8_t *cached, at_tensor *pixels,
                    int64_t r, uint8_t **fresh) {
    size_t plane = (size_t)l->size * l->size;
    float *dst = (float *)at_data(pixels) + (size_t)r * 3 * plane;
    if (cached) {
        uint8_to_floats(l, cached, dst);
        return 0;
    }
    if (!l->cache) return at_image_preprocess_file_into(l->paths[row], l->max_pixels, pixels, r);
    at_image *im = at_image_load(l->paths[row], l->max_pixels);
    if (!im) return -1;
    at_image *rgb = at_image_resize_center_crop(im, l->size);
    at_image_free(im);
    if (!rgb) return -1;
    uint8_to_floats(l, rgb->pixels, dst);
    *fresh = malloc(3 * plane);
    if (*fresh) memcpy(*fresh, rgb->pixels, 3 * plane);
    at_image_free(rgb);
    return 0;
}

static bool work_available(const at_loader *l) {
    return l->active && l->claim_batch < l->nbatch && l->claim_batch < l->cur + l->prefetch;
}

/* Called with the lock held when a worker claims row 0 of batch b. */
static void slot_begin(at_loader *l, slot *s, int64_t b) {
    slot_clear(s);
    s->batch = b;
    s->nrows = s->remaining = rows_in_batch(l, b);
    int64_t shape[4] = {s->nrows, 3, l->size, l->size};
    s->pixels = at_empty_uninit(AT_F32, 4, shape);
    if (!s->pixels) {
        s->error = strdup(at_last_error());
        s->error_row = 0;
    }
}

static void finish_row(at_loader *l, slot *s, int64_t r, char *error) {
    if (error && (s->error_row < 0 || r < s->error_row)) {
        free(s->error);
        s->error = error;
        s->error_row = r;
    } else {
        free(error);
    }
    if (--s->remaining == 0) pthread_cond_broadcast(&l->ready_cv);
}

static char *copy_error(const char *path) {
    const char *message = at_last_error();
    size_t n = strlen(message) + strlen(path) + 8;
    char *e = malloc(n);
    if (!e) return NULL;
    if (strstr(message, path)) snprintf(e, n, "%s", message);
    else snprintf(e, n, "%s: %s", path, message);
    return e;
}

static void *worker_main(void *arg) {
    at_loader *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->stop && !work_available(l)) pthread_cond_wait(&l->work_cv, &l->mu);
        if (l->stop) break;
        int64_t b = l->claim_batch, r = l->claim_row;
        slot *s = &l->slots[b % l->prefetch];
        if (r == 0) slot_begin(l, s, b);
        if (!s->pixels) {   /* no memory for the batch: it fails as a whole */
            l->claim_batch++;
            l->claim_row = 0;
            s->remaining = 1;
            finish_row(l, s, 0, NULL);
            continue;
        }
        if (++l->claim_row == s->nrows) {
            l->claim_batch++;
            l->claim_row = 0;
        }
        int64_t row = l->perm[b * l->batch + r];
        uint64_t gen = l->gen;
        at_tensor *pixels = s->pixels;
        at_retain(pixels);
        const uint8_t *cached = l->cache ? l->cache[row] : NULL;
        pthread_mutex_unlock(&l->mu);

        uint8_t *fresh = NULL;
        char *error = NULL;
        if (fill_row(l, row, cached, pixels, r, &fresh) < 0) {
            error = copy_error(l->paths[row]);
            if (!error) error = strdup("out of memory for an error message");
        }

        pthread_mutex_lock(&l->mu);
        if (cached) l->cache_hits++;
        else l->decodes++;
        size_t bytes = (size_t)3 * l->size * l->size;
        if (fresh && !l->cache[row] && l->cache_used + bytes <= l->cache_bytes) {
            l->cache[row] = fresh;
            l->cache_used += bytes;
        } else {
            free(fresh);
        }
        if (gen == l->gen) finish_row(l, s, r, error);
        else free(error);
        at_release(pixels);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void stop_workers(at_loader *l, int started) {
    pthread_mutex_lock(&l->mu);
    l->stop = true;
    pthread_cond_broadcast(&l->work_cv);
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < started; i++) pthread_join(l->threads[i], NULL);
}

static void loader_destroy(at_loader *l) {
    if (l->slots)
        for (int i = 0; i < l->prefetch; i++) slot_clear(&l->slots[i]);
    if (l->paths)
        for (int64_t i = 0; i < l->rows; i++) free(l->paths[i]);
    if (l->cache)
        for (int64_t i = 0; i < l->rows; i++) free(l->cache[i]);
    free(l->paths);
    free(l->cache);
    free(l->slots);
    free(l->perm);
    free(l->threads);
    free(l->failure);
    at_release(l->targets);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->work_cv);
    pthread_cond_destroy(&l->ready_cv);
    free(l);
}

static int check_options(const at_loader_options *o) {
    char shape[128];
    if (!o || !o->paths || o->rows <= 0) {
        at_set_error("loader: need at least one image path (got %lld)", o ? (long long)o->rows : 0LL);
        return -1;
    }
    if (o->rows >= (int64_t)1 << 40) {
        at_set_error("loader: %lld rows, at most 2^40 supported", (long long)o->rows);
        return -1;
    }
    for (int64_t i = 0; i < o->rows; i++)
        if (!o->paths[i]) {
            at_set_error("loader: image path of row %lld is missing", (long long)i);
            return -1;
        }
    if (o->size <= 0 || o->size > 65536 || o->batch <= 0) {
        at_set_error("loader: image size (got %d) and batch size (got %d) must be positive",
                     o->size, o->batch);
        return -1;
    }
    if (o->targets && (o->targets->ndim != 2 || o->targets->shape[0] != o->rows ||
                       !at_dtype_is_float(o->targets->dtype))) {
        at_set_error("loader: targets must be a float (rows, metrics) tensor with %lld rows, got %s %s",
                     (long long)o->rows, at_dtype_name(o->targets->dtype),
                     at_shape_str(o->targets, shape, sizeof shape));
        return -1;
    }
    return 0;
}

static void build_table(at_loader *l) {
    for (int c = 0; c < 3; c++) {
        float mean = (float)clip_mean[c], std = (float)clip_std[c];
        for (int v = 0; v < 256; v++) l->table[c][v] = ((float)v / 255.0f - mean) / std;
    }
}

at_loader *at_loader_new(const at_loader_options *o) {
    if (check_options(o) < 0) return NULL;
    at_loader *l = calloc(1, sizeof *l);
    if (!l) {
        at_set_error("loader: out of memory");
        return NULL;
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->work_cv, NULL);
    pthread_cond_init(&l->ready_cv, NULL);
    l->rows = o->rows;
    l->size = o->size;
    l->batch = o->batch;
    l->seed = o->seed;
    l->shuffle = o->shuffle;
    l->drop_last = o->drop_last;
    l->max_pixels = o->max_pixels;
    l->prefetch = o->prefetch > 0 ? o->prefetch : 2;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    l->nworkers = o->workers > 0 ? o->workers : (cores > 0 ? (int)cores : 1);
    if (l->nworkers > 256) l->nworkers = 256;
    l->nbatch = o->drop_last ? o->rows / o->batch : (o->rows + o->batch - 1) / o->batch;
    l->cache_bytes = o->cache_bytes;
    build_table(l);

    int64_t tshape[2] = {o->rows, o->targets ? o->targets->shape[1] : 0};
    l->paths = calloc((size_t)o->rows, sizeof *l->paths);
    l->perm = malloc((size_t)o->rows * sizeof *l->perm);
    l->slots = calloc((size_t)l->prefetch, sizeof *l->slots);
    l->threads = calloc((size_t)l->nworkers, sizeof *l->threads);
    if (o->cache_bytes) l->cache = calloc((size_t)o->rows, sizeof *l->cache);
    l->targets = at_empty(AT_F32, 2, tshape);
    bool ok = l->paths && l->perm && l->slots && l->threads && l->targets &&
              (!o->cache_bytes || l->cache);
    for (int64_t i = 0; ok && i < o->rows; i++) ok = (l->paths[i] = strdup(o->paths[i])) != NULL;
    if (!ok) {
        loader_destroy(l);
        at_set_error("loader: out of memory for %lld rows", (long long)o->rows);
        return NULL;
    }
    if (o->targets && at_copy_(l->targets, o->targets) < 0) {
        loader_destroy(l);
        return NULL;
    }
    for (int i = 0; i < l->prefetch; i++) slot_clear(&l->slots[i]);
    for (int i = 0; i < l->nworkers; i++) {
        if (pthread_create(&l->threads[i], NULL, worker_main, l) != 0) {
            int wanted = l->nworkers;
            stop_workers(l, i);
            loader_destroy(l);
            at_set_error("loader: could not start worker thread %d of %d", i + 1, wanted);
            return NULL;
        }
    }
    return l;
}

void at_loader_free(at_loader *l) {
    if (!l) return;
    stop_workers(l, l->nworkers);
    loader_destroy(l);
}

/* With the lock held: drops every batch of the running epoch. */
static void drop_epoch(at_loader *l) {
    l->gen++;
    l->active = false;
    for (int i = 0; i < l->prefetch; i++) slot_clear(&l->slots[i]);
}

int at_loader_start_epoch(at_loader *l, int64_t epoch, int64_t start_batch) {
    if (start_batch < 0 || start_batch > l->nbatch) {
        at_set_error("loader: start batch %lld outside the epoch's 0..%lld", (long long)start_batch,
                     (long long)l->nbatch);
        return -1;
    }
    pthread_mutex_lock(&l->mu);
    drop_epoch(l);
    free(l->failure);
    l->failure = NULL;
    at_loader_epoch_order(l->seed, l->shuffle, epoch, l->rows, l->perm);
    l->epoch = epoch;
    l->cur = l->claim_batch = start_batch;
    l->claim_row = 0;
    l->active = true;
    pthread_cond_broadcast(&l->work_cv);
    pthread_mutex_unlock(&l->mu);
    return 0;
}

/* With the lock held: the targets and rows of batch s, moved into out. */
static int take_batch(at_loader *l, slot *s, at_loader_batch *out) {
    int64_t n = s->nrows, m = l->targets->shape[1];
    int64_t tshape[2] = {n, m};
    at_tensor *targets = at_empty_uninit(AT_F32, 2, tshape);
    at_tensor *rows = at_empty_uninit(AT_I64, 1, &n);
    if (!targets || !rows) {
        at_release(targets);
        at_release(rows);
        return -1;
    }
    const int64_t *order = l->perm + s->batch * l->batch;
    const float *all = at_data(l->targets);
    for (int64_t i = 0; i < n; i++) {
        ((int64_t *)at_data(rows))[i] = order[i];
        memcpy((float *)at_data(targets) + i * m, all + order[i] * m, (size_t)m * sizeof(float));
    }
    out->pixels = s->pixels;
    out->targets = targets;
    out->rows = rows;
    out->epoch = l->epoch;
    out->index = s->batch;
    s->pixels = NULL;
    return 0;
}

int at_loader_next(at_loader *l, at_loader_batch *out) {
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&l->mu);
    if (l->failure) {   /* a failed epoch has no end to report: the caller would take it for done */
        at_set_error("%s", l->failure);
        pthread_mutex_unlock(&l->mu);
        return -1;
    }
    if (!l->active || l->cur >= l->nbatch) {
        l->active = false;
        pthread_mutex_unlock(&l->mu);
        return 0;
    }
    slot *s = &l->slots[l->cur % l->prefetch];
    while (!(s->batch == l->cur && s->remaining == 0)) pthread_cond_wait(&l->ready_cv, &l->mu);
    int rc = 1;
    if (s->error) {
        at_set_error("loader: epoch %lld, batch %lld of %lld, row %lld of the batch: %s", (long long)l->epoch,
                     (long long)l->cur + 1, (long long)l->nbatch, (long long)s->error_row + 1, s->error);
        rc = -1;
    } else if (take_batch(l, s, out) < 0) {
        rc = -1;
    }
    if (rc < 0) {
        drop_epoch(l);
        l->failure = strdup(at_last_error());
    } else {
        slot_clear(s);
        l->cur++;
        pthread_cond_broadcast(&l->work_cv);
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

void at_loader_batch_release(at_loader_batch *b) {
    if (!b) return;
    at_release(b->pixels);
    at_release(b->targets);
    at_release(b->rows);
    b->pixels = b->targets = b->rows = NULL;
}

int64_t at_loader_batches_per_epoch(const at_loader *l) { return l->nbatch; }
int64_t at_loader_rows(const at_loader *l) { return l->rows; }
int at_loader_workers(const at_loader *l) { return l->nworkers; }

at_loader_stats at_loader_get_stats(at_loader *l) {
    pthread_mutex_lock(&l->mu);
    at_loader_stats st = {l->decodes, l->cache_hits, l->cache_used};
    pthread_mutex_unlock(&l->mu);
    return st;
}

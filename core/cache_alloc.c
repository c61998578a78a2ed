/* Caching allocator (see cache_alloc.h). */
#include "cache_alloc.h"
#include "tensor.h"

#include <pthread.h>
#include <stdlib.h>

#define SMALL_STEP 512u
#define SMALL_LIMIT ((size_t)1 << 20)
#define LARGE_STEP ((size_t)2 << 20)

struct at_cache_alloc {
    at_raw_allocator raw;
    pthread_mutex_t lock;
    at_cache_block *free_list; /* sorted by size, smallest first */
    at_cache_stats stats;
};

size_t at_cache_round(size_t nbytes) {
    if (nbytes == 0) nbytes = 1;
    if (nbytes > SIZE_MAX - LARGE_STEP) return SIZE_MAX; /* no allocator can give it; never wrap to 0 */
    size_t step = nbytes <= SMALL_LIMIT ? SMALL_STEP : LARGE_STEP;
    return (nbytes + step - 1) / step * step;
}

at_cache_alloc *at_cache_alloc_new(at_raw_allocator raw) {
    at_cache_alloc *c = calloc(1, sizeof *c);
    if (!c) {
        at_set_error("cache allocator: out of host memory");
        return NULL;
    }
    c->raw = raw;
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void at_cache_alloc_destroy(at_cache_alloc *c) {
    if (!c) return;
    at_cache_alloc_release(c);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* Unlinks the smallest free block that fits size without wasting more than a
 * quarter of it; NULL when none does. Called with the lock held. */
static at_cache_block *take_fitting(at_cache_alloc *c, size_t size) {
    for (at_cache_block **p = &c->free_list; *p; p = &(*p)->next) {
        at_cache_block *b = *p;
        if (b->size < size) continue;
        if (b->size - size > b->size / 4) return NULL; /* sorted: the rest are larger still */
        *p = b->next;
        b->next = NULL;
        return b;
    }
    return NULL;
}

static size_t release_locked(at_cache_alloc *c) {
    size_t freed = 0;
    while (c->free_list) {
        at_cache_block *b = c->free_list;
        c->free_list = b->next;
        c->raw.free(b->ptr, c->raw.ctx);
        freed += b->size;
        c->stats.raw_frees++;
        free(b);
    }
    c->stats.cached -= freed;
    return freed;
}

static void count_in_use(at_cache_alloc *c, size_t size) {
    c->stats.in_use += size;
    if (c->stats.in_use > c->stats.peak_in_use) c->stats.peak_in_use = c->stats.in_use;
}

at_cache_block *at_cache_alloc_get(at_cache_alloc *c, size_t nbytes) {
    size_t size = at_cache_round(nbytes);
    pthread_mutex_lock(&c->lock);
    at_cache_block *b = take_fitting(c, size);
    if (b) {
        c->stats.cached -= b->size;
        c->stats.reuses++;
        count_in_use(c, b->size);
        pthread_mutex_unlock(&c->lock);
        return b;
    }
    b = calloc(1, sizeof *b);
    void *ptr = b ? c->raw.alloc(size, c->raw.ctx) : NULL;
    if (b && !ptr) { /* out of device memory: give back what the cache holds and retry */
        release_locked(c);
        ptr = c->raw.alloc(size, c->raw.ctx);
    }
    if (!ptr) {
        at_set_error("device memory: cannot allocate %zu bytes (%zu in use, peak %zu)", nbytes,
                     c->stats.in_use, c->stats.peak_in_use);
        pthread_mutex_unlock(&c->lock);
        free(b);
        return NULL;
    }
    b->ptr = ptr;
    b->size = size;
    c->stats.raw_allocs++;
    count_in_use(c, size);
    pthread_mutex_unlock(&c->lock);
    return b;
}

void at_cache_alloc_put(at_cache_alloc *c, at_cache_block *b) {
    if (!b) return;
    pthread_mutex_lock(&c->lock);
    at_cache_block **p = &c->free_list;
    while (*p && (*p)->size < b->size) p = &(*p)->next;
    b->next = *p;
    *p = b;
    c->stats.in_use -= b->size;
    c->stats.cached += b->size;
    pthread_mutex_unlock(&c->lock);
}

size_t at_cache_alloc_release(at_cache_alloc *c) {
    pthread_mutex_lock(&c->lock);
    size_t freed = release_locked(c);
    pthread_mutex_unlock(&c->lock);
    return freed;
}

at_cache_stats at_cache_alloc_stats(at_cache_alloc *c) {
    pthread_mutex_lock(&c->lock);
    at_cache_stats s = c->stats;
    pthread_mutex_unlock(&c->lock);
    return s;
}

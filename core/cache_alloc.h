/* A caching allocator for device memory, written against any raw allocator.
 *
 * cudaMalloc and cudaFree are slow and cudaFree synchronises the device, so
 * freed blocks are kept and handed out again for requests of a similar size.
 * The logic is plain C over two function pointers, so it is tested on the
 * CPU with a counting malloc (tests/test_cache_alloc.c); core/cuda/runtime.cu
 * plugs in cudaMalloc/cudaFree.
 *
 * Sizes are rounded up (512 B steps up to 1 MiB, 2 MiB steps above) so that
 * shapes that recur during training reuse blocks exactly. A request takes the
 * smallest free block that fits and wastes at most a quarter of it; blocks
 * are never split. All kernels run on one stream, so a block freed by the
 * host can be reused at once: the stream orders its old and new users. */
#ifndef AAPMT_CACHE_ALLOC_H
#define AAPMT_CACHE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    void *(*alloc)(size_t nbytes, void *ctx); /* NULL when out of memory */
    void (*free)(void *ptr, void *ctx);
    void *ctx;
} at_raw_allocator;

typedef struct at_cache_block {
    void *ptr;
    size_t size;                 /* rounded size held */
    struct at_cache_block *next; /* in the free list, smallest first */
} at_cache_block;

typedef struct {
    size_t in_use;      /* bytes in blocks handed out */
    size_t cached;      /* bytes in free blocks kept for reuse */
    size_t peak_in_use;
    uint64_t raw_allocs, raw_frees, reuses;
} at_cache_stats;

typedef struct at_cache_alloc at_cache_alloc;

at_cache_alloc *at_cache_alloc_new(at_raw_allocator raw);
/* Frees every cached block; blocks still in use are the caller's leak. */
void at_cache_alloc_destroy(at_cache_alloc *c);

/* A block of at least nbytes, or NULL with an error naming the size and what
 * the cache holds. When the raw allocator fails, the cache is emptied and the
 * request retried once. Thread-safe. */
at_cache_block *at_cache_alloc_get(at_cache_alloc *c, size_t nbytes);
void at_cache_alloc_put(at_cache_alloc *c, at_cache_block *b);
/* Returns cached blocks to the raw allocator; the number of bytes freed. */
size_t at_cache_alloc_release(at_cache_alloc *c);
at_cache_stats at_cache_alloc_stats(at_cache_alloc *c);
/* The size a request of nbytes is rounded to. */
size_t at_cache_round(size_t nbytes);

#endif

/* The caching allocator's policy, on the CPU with a counting malloc as the
 * raw allocator (the CUDA backend plugs in cudaMalloc the same way). */
#include "cache_alloc.h"
#include "tensor.h"
#include "check.h"

#include <string.h>

typedef struct {
    int allocs, frees, live;
    size_t live_bytes, limit; /* refuse requests past limit, like a full GPU */
} counting;

static void *counting_alloc(size_t n, void *ctx) {
    counting *c = ctx;
    if (c->live_bytes + n > c->limit) return NULL;
    c->allocs++, c->live++, c->live_bytes += n;
    size_t *p = malloc(n + sizeof(size_t));
    *p = n;
    return p + 1;
}

static void counting_free(void *ptr, void *ctx) {
    counting *c = ctx;
    size_t *p = (size_t *)ptr - 1;
    c->frees++, c->live--, c->live_bytes -= *p;
    free(p);
}

static at_cache_alloc *new_cache(counting *c, size_t limit) {
    memset(c, 0, sizeof *c);
    c->limit = limit;
    return at_cache_alloc_new((at_raw_allocator){counting_alloc, counting_free, c});
}

static void test_rounding(void) {
    CHECK(at_cache_round(1) == 512 && at_cache_round(512) == 512 && at_cache_round(513) == 1024,
          "small sizes round to 512 B");
    CHECK(at_cache_round((1 << 20) + 1) == (size_t)2 << 20, "large sizes round to 2 MiB: %zu",
          at_cache_round((1 << 20) + 1));
    CHECK(at_cache_round(0) == 512, "an empty request still gets a block");
    CHECK(at_cache_round(SIZE_MAX - 64) == SIZE_MAX, "a request near SIZE_MAX does not wrap to a small block");
}

static void test_impossible_request(void) {
    counting raw;
    at_cache_alloc *c = new_cache(&raw, (size_t)1 << 30);
    at_cache_block *b = at_cache_alloc_get(c, SIZE_MAX - 64);
    CHECK(!b && strstr(at_last_error(), "cannot allocate 18446744073709551551 bytes"),
          "an impossible request fails, naming its size: %s", at_last_error());
    at_cache_alloc_destroy(c);
}

static void test_reuse_and_stats(void) {
    counting raw;
    at_cache_alloc *c = new_cache(&raw, (size_t)1 << 30);
    at_cache_block *a = at_cache_alloc_get(c, 1000), *b = at_cache_alloc_get(c, 3000);
    CHECK(a && b && a->size == 1024 && b->size == 3072, "rounded blocks");
    memset(a->ptr, 1, 1000); /* the memory is really there (ASan checks it) */
    at_cache_stats s = at_cache_alloc_stats(c);
    CHECK(s.in_use == 4096 && s.cached == 0 && raw.allocs == 2, "two raw allocations in use");

    at_cache_alloc_put(c, a);
    at_cache_alloc_put(c, b);
    s = at_cache_alloc_stats(c);
    CHECK(s.in_use == 0 && s.cached == 4096 && raw.frees == 0, "freed blocks are kept, not freed");
    CHECK(s.peak_in_use == 4096, "peak remembers the high-water mark");

    at_cache_block *again = at_cache_alloc_get(c, 900); /* rounds to 1024: reuses a */
    CHECK(again && again->size == 1024 && raw.allocs == 2, "same size class reuses the cached block");
    at_cache_block *mid = at_cache_alloc_get(c, 2600); /* 3072 fits with 1/6 waste */
    CHECK(mid && mid->size == 3072 && raw.allocs == 2, "a slightly larger block is reused");
    at_cache_alloc_put(c, mid);
    at_cache_block *tiny = at_cache_alloc_get(c, 100); /* 512: 3072 would waste too much */
    CHECK(tiny && tiny->size == 512 && raw.allocs == 3, "a much larger cached block is not wasted");
    CHECK(at_cache_alloc_stats(c).reuses == 2, "two reuses counted");

    at_cache_alloc_put(c, again);
    at_cache_alloc_put(c, tiny);
    size_t freed = at_cache_alloc_release(c);
    s = at_cache_alloc_stats(c);
    CHECK(freed == 1024 + 3072 + 512 && s.cached == 0 && raw.live == 0, "release gives everything back: %zu",
          freed);
    at_cache_alloc_destroy(c);
}

static void test_out_of_memory(void) {
    counting raw;
    at_cache_alloc *c = new_cache(&raw, 4096);
    at_cache_block *a = at_cache_alloc_get(c, 2048);
    at_cache_alloc_put(c, a); /* cached, but too small for the next request */
    at_cache_block *b = at_cache_alloc_get(c, 3072);
    CHECK(b && raw.frees == 1, "a full device empties the cache and retries");
    at_cache_block *d = at_cache_alloc_get(c, 4096);
    CHECK(!d && strstr(at_last_error(), "cannot allocate 4096 bytes") && strstr(at_last_error(), "3072 in use"),
          "a request that cannot fit names the size and the use: %s", at_last_error());
    at_cache_alloc_put(c, b);
    at_cache_alloc_destroy(c);
    CHECK(raw.live == 0, "destroy frees the cached blocks");
}

int main(void) {
    test_rounding();
    test_reuse_and_stats();
    test_out_of_memory();
    test_impossible_request();
    return check_summary();
}

/* at_keep_freed_memory (tensor.h): with it, a tensor of activations' size
 * allocated, filled and freed again and again reuses the same pages; without
 * it glibc maps each one afresh and every round faults its pages in again
 * (two or more faults a round even with huge pages, 1024 without). */
#include <stdio.h>
#include <sys/resource.h>

#include "check.h"
#include "ops.h"
#include "tensor.h"

#define ROUNDS 50

static long minor_faults(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

/* Page faults over ROUNDS rounds of a 4 MiB tensor made, filled, freed. */
static long faults_of_rounds(void) {
    int64_t n = 1 << 20;
    long before = 0;
    for (int r = 0; r <= ROUNDS; r++) {
        if (r == 1) before = minor_faults();   /* round 0 maps the memory once */
        at_tensor *t = at_empty_uninit(AT_F32, 1, &n);
        if (!t || at_fill_(t, 1.0)) return -1;
        at_release(t);
    }
    return minor_faults() - before;
}

int main(void) {
#if defined(__SANITIZE_ADDRESS__)
    printf("skipped: AddressSanitizer's allocator ignores glibc's mallopt\n");
    return 77;
#elif !defined(__GLIBC__)
    printf("skipped: at_keep_freed_memory changes nothing without glibc\n");
    return 77;
#else
    long unkept = faults_of_rounds();
    at_keep_freed_memory();
    long kept = faults_of_rounds();
    printf("page faults over %d rounds: %ld as glibc leaves it, %ld with freed memory kept\n", ROUNDS, unkept, kept);
    CHECK(unkept >= 0 && kept >= 0, "the tensors were made: %s", at_last_error());
    CHECK(kept < ROUNDS / 2, "%ld page faults over %d rounds with freed memory kept", kept, ROUNDS);
    CHECK(unkept >= 2 * ROUNDS, "as glibc leaves it, %ld faults over %d rounds: the check would not see a change",
          unkept, ROUNDS);
    return check_summary();
#endif
}

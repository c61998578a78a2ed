/* For the checkpoint harnesses: after a successful load, every tensor's
 * extreme elements are read, so a view that reaches past its storage (or a
 * storage past the input) shows up as an overread here and not in a user's
 * forward pass. O(ndim) a tensor: a view of 2^40 elements costs nothing. */
#ifndef AAPMT_FUZZ_CHECKPOINT_H
#define AAPMT_FUZZ_CHECKPOINT_H

#include "fuzz_common.h"
#include "io/state_dict.h"

static volatile unsigned char fuzz_sink;

static inline void fuzz_touch_extremes(const at_tensor *t) {
    if (at_numel(t) == 0) return;
    int64_t lo = t->offset, hi = t->offset;
    for (int d = 0; d < t->ndim; d++) {
        int64_t reach = (t->shape[d] - 1) * t->stride[d];
        if (reach > 0) hi += reach;
        else lo += reach;
    }
    size_t es = at_dtype_size(t->dtype);
    const unsigned char *base = t->storage->data;
    if (lo < 0 || (size_t)(hi + 1) * es > t->storage->nbytes) {
        fprintf(stderr, "fuzz: a view reaches elements [%lld, %lld] of a %zu-byte storage\n",
                (long long)lo, (long long)hi, t->storage->nbytes);
        abort();
    }
    fuzz_sink ^= base[(size_t)lo * es];
    fuzz_sink ^= base[(size_t)hi * es + es - 1];
}

static inline void fuzz_check_state_dict(at_state_dict *sd) {
    for (int i = 0; i < sd->count; i++) {
        if (at_sd_get(sd, sd->entries[i].name) != sd->entries[i].tensor) {
            fprintf(stderr, "fuzz: entry '%s' is not found by its own name\n", sd->entries[i].name);
            abort();
        }
        fuzz_touch_extremes(sd->entries[i].tensor);
    }
}

#endif

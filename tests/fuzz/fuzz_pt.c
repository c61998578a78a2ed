/* Fuzzing PyTorch checkpoints: the zip reader, the legacy format and the
 * safe unpickler (core/io/pt.c, zip.c, pickle.c), fed from memory through
 * the same entry point at_load_checkpoint uses. Inputs that are neither a
 * zip nor a legacy file go to the unpickler directly, in both of its
 * persistent-id modes, so mutations need not keep a zip valid to reach it. */
#include "fuzz_checkpoint.h"
#include "io/checkpoint_internal.h"
#include "io/pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    at_mapped_file *m = fuzz_mapped(data, size);
    if (at_looks_like_pt(m->data, m->size)) {
        at_state_dict *sd = at_load_pt_mapped(m, "fuzz");
        if (sd) fuzz_check_state_dict(sd);
        at_sd_free(sd);
    } else {
        for (int legacy = 0; legacy < 2; legacy++) {
            at_unpickler *u = at_unpickler_new("fuzz", legacy);
            size_t used = 0;
            const at_pv *v = at_unpickle(u, m->data, m->size, &used);
            if (v && (used == 0 || used > m->size)) {
                fprintf(stderr, "fuzz: the unpickler says it used %zu of %zu bytes\n", used, m->size);
                abort();
            }
            at_unpickler_free(u);
        }
    }
    fuzz_mapped_free(m);
    return 0;
}

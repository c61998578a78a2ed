/* Fuzzing safetensors (core/io/safetensors.c) from memory, through the
 * loader at_load_checkpoint uses (the JSON header itself is cJSON's). */
#include "fuzz_checkpoint.h"
#include "io/checkpoint_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    at_mapped_file *m = fuzz_mapped(data, size);
    at_state_dict *sd = at_load_safetensors_mapped(m, "fuzz");
    if (sd) fuzz_check_state_dict(sd);
    at_sd_free(sd);
    fuzz_mapped_free(m);
    return 0;
}

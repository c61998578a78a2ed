/* Fuzzing the model-config reader (core/model/config.c): JSON text, which
 * must parse to a config or fail with an error; a config that parses is
 * validated too (sizes that must divide, ...). */
#include "fuzz_common.h"
#include "model/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *json = malloc(size + 1);
    memcpy(json, data, size);
    json[size] = 0;
    ir_config cfg;
    if (ir_config_parse(json, "fuzz.json", &cfg) == 0) (void)ir_config_validate(&cfg, "fuzz.json");
    free(json);
    return 0;
}

/* at_load_checkpoint: any supported checkpoint file, its format sniffed
 * from the first bytes. Formats depend on the container (state_dict.c);
 * this dispatcher depends on the formats. */
#include <stdio.h>
#include <string.h>

#include "checkpoint_internal.h"

at_state_dict *at_load_checkpoint(const char *path) {
    const char *op = "load_checkpoint";
    at_mapped_file *m = at_mapped_file_open(op, path);
    if (!m) return NULL;
    at_state_dict *sd = NULL;
    if (at_looks_like_safetensors(m->data, m->size)) {
        sd = at_load_safetensors_mapped(m, op);
    } else if (at_looks_like_pt(m->data, m->size)) {
        sd = at_load_pt_mapped(m, op);
    } else {
        char start[64] = "";
        for (size_t i = 0; i < m->size && i < 8; i++)
            snprintf(start + 3 * i, sizeof start - 3 * i, "%02x ", m->data[i]);
        if (start[0]) start[strlen(start) - 1] = 0;
        at_set_error("%s: %s: neither a PyTorch checkpoint (zip or legacy .pt) nor safetensors "
                     "(the file starts with bytes %s)", op, path, start);
    }
    at_mapped_file_release(m);
    return sd;
}

/* at_load_checkpoint: any supported checkpoint file, its format sniffed
 * from the first bytes; at_save_checkpoint: the format asked for, or the one
 * the file name suggests. Formats depend on the container (state_dict.c);
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

static bool ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && strcmp(s + n - k, tail) == 0;
}

int at_save_checkpoint(const at_state_dict *sd, const char *path, at_save_format format) {
    if (format == AT_SAVE_BY_EXTENSION)
        format = ends_with(path, ".pt") || ends_with(path, ".pth") ? AT_SAVE_PT : AT_SAVE_SAFETENSORS;
    return format == AT_SAVE_PT ? at_save_pt(sd, path) : at_save_safetensors(sd, path);
}

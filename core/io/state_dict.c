/* The state dict container (the formats are read by pt.c and safetensors.c,
 * and chosen between by checkpoint.c).
 *
 * Names are found through an open-addressing hash index, so building and
 * querying a 625-entry dict (or a hostile one with millions) stays linear. */
#include "state_dict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static uint64_t hash_name(const char *s) {
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The slot holding name, or the empty slot where it would go. */
static int find_slot(const at_state_dict *sd, const char *name) {
    unsigned mask = (unsigned)sd->nslots - 1;
    for (unsigned i = (unsigned)hash_name(name) & mask;; i = (i + 1) & mask) {
        int e = sd->slots[i];
        if (e < 0 || strcmp(sd->entries[e].name, name) == 0) return (int)i;
    }
}

static int rebuild_index(at_state_dict *sd, int nslots) {
    int *slots = malloc((size_t)nslots * sizeof *slots);
    if (!slots) {
        at_set_error("state_dict: out of memory");
        return -1;
    }
    free(sd->slots);
    sd->slots = slots;
    sd->nslots = nslots;
    for (int i = 0; i < nslots; i++) slots[i] = -1;
    for (int e = 0; e < sd->count; e++) slots[find_slot(sd, sd->entries[e].name)] = e;
    return 0;
}

at_state_dict *at_sd_new(void) {
    at_state_dict *sd = calloc(1, sizeof *sd);
    if (!sd || rebuild_index(sd, 16)) {
        free(sd);
        at_set_error("state_dict: out of memory");
        return NULL;
    }
    return sd;
}

void at_sd_free(at_state_dict *sd) {
    if (!sd) return;
    for (int i = 0; i < sd->count; i++) {
        free(sd->entries[i].name);
        at_release(sd->entries[i].tensor);
    }
    free(sd->entries);
    free(sd->slots);
    free(sd);
}

int at_sd_put(at_state_dict *sd, const char *name, at_tensor *tensor) {
    if (!tensor || !name) {
        at_set_error("state_dict: put '%s' without a tensor", name ? name : "(null)");
        return -1;
    }
    int slot = find_slot(sd, name);
    int e = sd->slots[slot];
    if (e >= 0) {
        at_retain(tensor);
        at_release(sd->entries[e].tensor);
        sd->entries[e].tensor = tensor;
        return 0;
    }
    if (sd->count == sd->cap) {
        int cap = sd->cap ? 2 * sd->cap : 16;
        at_sd_entry *entries = realloc(sd->entries, (size_t)cap * sizeof *entries);
        if (!entries) {
            at_set_error("state_dict: out of memory");
            return -1;
        }
        sd->entries = entries;
        sd->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy) {
        at_set_error("state_dict: out of memory");
        return -1;
    }
    at_retain(tensor);
    sd->entries[sd->count] = (at_sd_entry){copy, tensor};
    sd->slots[slot] = sd->count++;
    /* Keep the index at most half full. */
    if (2 * sd->count > sd->nslots && rebuild_index(sd, 2 * sd->nslots)) return -1;
    return 0;
}

at_tensor *at_sd_get(const at_state_dict *sd, const char *name) {
    int e = sd->slots[find_slot(sd, name)];
    return e >= 0 ? sd->entries[e].tensor : NULL;
}

int at_sd_strip_prefix(at_state_dict *sd, const char *prefix) {
    size_t n = strlen(prefix);
    if (n == 0 || sd->count == 0) return 0;
    for (int i = 0; i < sd->count; i++)
        if (strncmp(sd->entries[i].name, prefix, n) != 0) return 0;
    for (int i = 0; i < sd->count; i++) {
        char *name = sd->entries[i].name;
        memmove(name, name + n, strlen(name + n) + 1);
    }
    /* Distinct names stay distinct once the same prefix is gone. */
    if (rebuild_index(sd, sd->nslots)) return -1;
    return sd->count;
}

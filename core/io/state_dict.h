/* A state dict: named tensors in file order, as a checkpoint holds them.
 * Tensors loaded from a file may borrow its mmap'd bytes; the map's storage
 * stays alive as long as any tensor references it. */
#ifndef AAPMT_STATE_DICT_H
#define AAPMT_STATE_DICT_H

#include "../tensor.h"

typedef struct {
    char *name;
    at_tensor *tensor;
} at_sd_entry;

typedef struct at_state_dict {
    int count, cap;
    at_sd_entry *entries;
} at_state_dict;

at_state_dict *at_sd_new(void);
void at_sd_free(at_state_dict *sd);    /* releases every tensor; NULL is fine */
/* Adds (or replaces) name → tensor; the dict takes a new reference. */
int at_sd_put(at_state_dict *sd, const char *name, at_tensor *tensor);
at_tensor *at_sd_get(const at_state_dict *sd, const char *name);   /* borrowed; NULL if absent */

/* Reads a checkpoint by its content: a PyTorch .pt (zip) file or safetensors.
 * A leading "module." on every key is stripped. Errors name the file and the
 * key, opcode or offset at fault. */
at_state_dict *at_load_checkpoint(const char *path);
at_state_dict *at_load_pt(const char *path);
at_state_dict *at_load_safetensors(const char *path);
/* Writes safetensors atomically (a temporary file beside path, then rename). */
int at_save_safetensors(const at_state_dict *sd, const char *path);

#endif

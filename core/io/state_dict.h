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
    int *slots;     /* private: hash index of entries by name (-1 = empty) */
    int nslots;
} at_state_dict;

at_state_dict *at_sd_new(void);
void at_sd_free(at_state_dict *sd);    /* releases every tensor; NULL is fine */
/* Adds (or replaces) name → tensor; the dict takes a new reference. */
int at_sd_put(at_state_dict *sd, const char *name, at_tensor *tensor);
at_tensor *at_sd_get(const at_state_dict *sd, const char *name);   /* borrowed; NULL if absent */
/* Removes prefix from every name, only when every name starts with it (as
 * DDP's "module." does). Returns how many names changed. */
int at_sd_strip_prefix(at_state_dict *sd, const char *prefix);

/* Reads a checkpoint by its content: a PyTorch .pt (zip, or the legacy
 * pre-1.6 format) or safetensors. Every loader strips a leading "module."
 * that is on every key. Tensors keep the file's dtype (f16/bf16 stay
 * f16/bf16, int64 stays i64). They borrow the mapped file without copying
 * when their bytes are aligned (always so in torch.save zip files and in
 * files from at_save_safetensors); the map is private, so writing into a
 * loaded tensor never changes the file. Errors name the file and the key,
 * opcode, global or offset at fault. */
at_state_dict *at_load_checkpoint(const char *path);
at_state_dict *at_load_pt(const char *path);
at_state_dict *at_load_safetensors(const char *path);
/* Writes safetensors atomically (a temporary file beside path, fsync, then
 * rename), tensors ordered by decreasing element size so every one stays
 * aligned; non-contiguous tensors are written in logical order. */
int at_save_safetensors(const at_state_dict *sd, const char *path);
/* Writes a PyTorch checkpoint as torch.save writes a state dict (the zip
 * format, storages 64-byte aligned; see pt_write.c), atomically as above,
 * so torch.load(path, weights_only=True) reads it. Each tensor is written
 * contiguously in its own storage. */
int at_save_pt(const at_state_dict *sd, const char *path);

typedef enum { AT_SAVE_BY_EXTENSION, AT_SAVE_SAFETENSORS, AT_SAVE_PT } at_save_format;
/* By extension, a path ending in .pt or .pth gets PyTorch's format and any
 * other safetensors. */
int at_save_checkpoint(const at_state_dict *sd, const char *path, at_save_format format);

#endif

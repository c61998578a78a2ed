/* Shared between the checkpoint readers (pt.c, safetensors.c) and the
 * dispatch in checkpoint.c: loaders that work on a file already mapped. */
#ifndef AAPMT_IO_CHECKPOINT_INTERNAL_H
#define AAPMT_IO_CHECKPOINT_INTERNAL_H

#include "mapped_file.h"
#include "state_dict.h"

/* The first bytes of each format. */
bool at_looks_like_pt(const unsigned char *data, size_t size);
bool at_looks_like_safetensors(const unsigned char *data, size_t size);

/* Errors are prefixed with op (the public function the user called). The
 * map is retained by the tensors that borrow it, not consumed. */
at_state_dict *at_load_pt_mapped(at_mapped_file *m, const char *op);
at_state_dict *at_load_safetensors_mapped(at_mapped_file *m, const char *op);

/* at_save_pt with zip64 fields from a lower size or offset than the
 * format needs (zip64_from; 0 is the format's own), so a test can check
 * zip64 archives without writing 4 GiB. */
int at_save_pt_zip64_from(const at_state_dict *sd, const char *path, uint64_t zip64_from);

#endif

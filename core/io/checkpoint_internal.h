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

#endif

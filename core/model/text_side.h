/* ir_model_forward_encoded after the image encoding, in the parts that
 * score_texts.c runs around its own BERT forward, so the two cannot drift
 * apart. Not a public header. */
#ifndef AAPMT_MODEL_TEXT_SIDE_H
#define AAPMT_MODEL_TEXT_SIDE_H

#include "imagereward.h"

/* ids, mask (B, L) narrowed to (B, L'): the trailing columns that are
 * padding in every row dropped (see text_length in imagereward.c). Views;
 * 0, or -1 with both outputs NULL. */
int ir_model_trim_text(at_tensor *ids, at_tensor *mask, at_tensor **ids_run, at_tensor **mask_run);
/* From BERT's hidden states h (B, L', hidden) and the trimmed mask: out's
 * features, rewards, scores and, with a metric head, metric_scores (and its
 * attention maps when opts asks). opts is not NULL. On -1, out may hold some
 * of them: the caller clears it. */
int ir_model_outputs_of_hidden(const ir_model *m, at_tensor *h, at_tensor *mask_run, const ir_forward_opts *opts,
                               ir_output *out);

#endif

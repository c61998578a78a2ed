/* Multi-head attention plumbing shared by BERT (bert.c) and the Metric
 * Transformer (metric_head.c). Not a public header. */
#ifndef AAPMT_MODEL_HEADS_H
#define AAPMT_MODEL_HEADS_H

#include "../tensor.h"

/* (B, L, H·D) → (B, H, L, D) as a view. */
at_tensor *ir_split_heads(at_tensor *x, int64_t H);
/* (B, H, L, D) → (B, L, H·D). */
at_tensor *ir_merge_heads(at_tensor *x);
/* BERT's get_extended_attention_mask: (1 - mask)·(-10000) as (B, 1, 1, L),
 * added to attention scores so padded keys get no weight. No grad. */
at_tensor *ir_extended_mask(at_tensor *mask);
/* softmax(q·kᵀ·scale + mask) on the side, for probing only: no graph. */
at_tensor *ir_attention_probabilities(at_tensor *q, at_tensor *k, at_tensor *mask, double scale);

#endif

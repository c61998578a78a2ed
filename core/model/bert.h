/* BLIP's "med" BERT text encoder in multimodal mode: word + absolute
 * position embeddings (no token types), then post-LN layers of
 * self-attention → cross-attention to the image tokens → feed-forward. */
#ifndef AAPMT_MODEL_BERT_H
#define AAPMT_MODEL_BERT_H

#include <stdbool.h>

#include "../rng.h"
#include "../tensor.h"
#include "config.h"
#include "params.h"

typedef struct ir_bert_attention {
    at_tensor *q_w, *q_b, *k_w, *k_b, *v_w, *v_b;   /* k, v take the encoder width in cross-attention */
    at_tensor *out_w, *out_b, *ln_w, *ln_b;
} ir_bert_attention;

typedef struct ir_bert_layer {
    ir_bert_attention self, cross;
    at_tensor *inter_w, *inter_b, *out_w, *out_b, *ln_w, *ln_b;
} ir_bert_layer;

typedef struct ir_bert {
    ir_text_config cfg;
    int64_t encoder_width;   /* width of the image tokens cross-attention reads */
    at_tensor *word_emb, *pos_emb, *emb_ln_w, *emb_ln_b;
    ir_bert_layer *layers;
    /* How a forward runs, set on a copy: in training with a graph, keep only
     * each layer's inputs and recompute the layer in the backward pass. */
    bool recompute;
} ir_bert;

/* What one forward pass may hand back besides the hidden states. */
typedef struct ir_bert_probe {
    bool want_cross_attention;
    at_tensor **cross_attention;   /* filled: num_hidden_layers tensors (B, heads, L, N), no grad */
} ir_bert_probe;

int ir_bert_init(ir_bert *bert, const ir_text_config *cfg, int64_t encoder_width);
void ir_bert_params(ir_bert *bert, const char *prefix, ir_params *p);
void ir_bert_free(ir_bert *bert);

/* ids (B, L) i64/i32, mask (B, L) (any dtype, nonzero = a real token),
 * image (B, N, encoder_width) → hidden states (B, L, hidden). Every image
 * token is attended to. training turns on dropout, drawn from rng. probe may
 * be NULL. */
at_tensor *ir_bert_forward(const ir_bert *bert, at_tensor *ids, at_tensor *mask, at_tensor *image, bool training,
                           at_rng *rng, ir_bert_probe *probe);
/* Many texts against the same images, without dropout (for scoring): ids,
 * mask (texts·B, L) whose row t·B + i is text t against image i, and image
 * (B, N, encoder_width), one row per image → hidden states (texts·B, L,
 * hidden), those of ir_bert_forward on the image repeated to texts·B rows
 * within float rounding. But each cross-attention layer projects an image's
 * tokens to keys and values once, not once per text, and the queries of all
 * its texts attend to them in one at_attention call. */
at_tensor *ir_bert_forward_shared_image(const ir_bert *bert, at_tensor *ids, at_tensor *mask, at_tensor *image,
                                        int64_t texts);

#endif

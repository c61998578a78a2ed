/* BLIP's ViT image encoder (timm VisionTransformer as BLIP configures it):
 * conv patch embedding, [CLS] token and learned positions, pre-LN blocks
 * with fused qkv attention and an exact-GELU MLP, a final LayerNorm, and
 * per-sample stochastic depth when training. */
#ifndef AAPMT_MODEL_VIT_H
#define AAPMT_MODEL_VIT_H

#include <stdbool.h>

#include "../rng.h"
#include "../tensor.h"
#include "config.h"
#include "params.h"

typedef struct ir_vit_block {
    at_tensor *norm1_w, *norm1_b, *qkv_w, *qkv_b, *proj_w, *proj_b;
    at_tensor *norm2_w, *norm2_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
} ir_vit_block;

typedef struct ir_vit {
    ir_vision_config cfg;
    at_tensor *cls_token;             /* (1, 1, W) */
    at_tensor *pos_embed;             /* (1, tokens, W) */
    at_tensor *patch_w, *patch_b;     /* (W, 3, P, P) as in the checkpoint, (W) */
    ir_vit_block *blocks;             /* depth of them */
    at_tensor *norm_w, *norm_b;
    /* How a forward runs, set on a copy: in training with a graph, keep only
     * each block's input and recompute the block in the backward pass. */
    bool recompute;
} ir_vit;

/* Sets the sizes and allocates the block table (tensors still NULL). */
int ir_vit_init(ir_vit *vit, const ir_vision_config *cfg);
/* Lists the slots under prefix (e.g. "blip.visual_encoder.") in state_dict order. */
void ir_vit_params(ir_vit *vit, const char *prefix, ir_params *p);
void ir_vit_free(ir_vit *vit);   /* frees the table; tensors are released through the params */

/* pixels (B, 3, S, S) f32 → all tokens (B, 1 + (S/P)², W) after the final
 * LayerNorm. training turns on stochastic depth, drawn from rng. */
at_tensor *ir_vit_forward(const ir_vit *vit, at_tensor *pixels, bool training, at_rng *rng);

#endif

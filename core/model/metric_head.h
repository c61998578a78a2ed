/* The Metric Transformer: several metrics (alignment, quality, authenticity,
 * ...) from one ImageReward backbone, in two variants (config.h,
 * "metric_head").
 *
 * coded — AAPMT's published ImageAssessmentModel, kept exactly: one pre-LN
 *   encoder layer (nn.MultiheadAttention with `heads` heads, FFN with ReLU,
 *   dropout) on the [CLS] feature F alone, then per metric m
 *       score_m = mean(softmax(q·kᵀ/√d) ⊙ v),  q, k, v = x·Wq_m, x·Wk_m, x·Wv_m
 *   AAPMT ran one image per pass, so the attention sees one token: its
 *   softmax is exactly 1, self-attention is out_proj(v_proj(·)), score_m is
 *   a linear read-out of x, and Wq, Wk get zero gradient. Each image here is
 *   its own length-1 sequence, as then (never attention across a batch).
 *   Outputs in AAPMT's order: align, quality, authenticity — computed with
 *   the matrices the original names *_quality, *_text_image_correspondence
 *   and *_authenticity, which its training script fed the alignment,
 *   quality and authenticity MOS (the names are only labels; docs/aapmt.md §3.3).
 *   Parameters under the original keys "ImageAssessmentModel.*", so AAPMT's
 *   checkpoints load.
 *
 * metric_attention — what the paper's Eq. 2 and Figure 4 describe: a
 *   learned token per metric; `layers` pre-LN layers in which the metric
 *   tokens attend to each other (cross-metric attention), then to every
 *   text token (the BERT output, padding masked), then an FFN with GELU;
 *   a final LayerNorm and one scalar per metric (its own weight vector and
 *   bias). Parameters under "metric_attention.*".
 *
 * Dropout (rate `dropout`) acts on the residual branches in training. */
#ifndef AAPMT_MODEL_METRIC_HEAD_H
#define AAPMT_MODEL_METRIC_HEAD_H

#include <stdbool.h>

#include "../rng.h"
#include "../tensor.h"
#include "config.h"
#include "params.h"

typedef struct ir_mt_attention {
    at_tensor *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *out_w, *out_b;
} ir_mt_attention;

typedef struct ir_mt_layer {
    at_tensor *ln1_w, *ln1_b, *ln2_w, *ln2_b, *ln3_w, *ln3_b;
    ir_mt_attention self, cross;
    at_tensor *ffn1_w, *ffn1_b, *ffn2_w, *ffn2_b;
} ir_mt_layer;

typedef struct ir_metric_head {
    ir_metric_head_config cfg;
    int64_t width;   /* the text hidden size */
    /* coded */
    at_tensor *wq[3], *wk[3], *wv[3];   /* per output: align, quality, authenticity */
    at_tensor *in_proj_w, *in_proj_b, *out_proj_w, *out_proj_b;
    at_tensor *linear1_w, *linear1_b, *linear2_w, *linear2_b, *norm1_w, *norm1_b, *norm2_w, *norm2_b;
    /* metric_attention */
    at_tensor *tokens;          /* (metrics, width) */
    ir_mt_layer *layers;
    at_tensor *norm_w, *norm_b, *out_w, *out_b;   /* out_w (metrics, width), out_b (metrics) */
} ir_metric_head;

/* What a forward may hand back for inspection: per layer, the metric
 * tokens' attention probabilities (no grad), self (B, heads, M, M) and
 * cross (B, heads, M, L). metric_attention only. */
typedef struct ir_mt_probe {
    bool want_attention;
    at_tensor **self_attention, **cross_attention;   /* filled: cfg.layers tensors each */
} ir_mt_probe;

int ir_metric_head_init(ir_metric_head *h, const ir_metric_head_config *cfg, int64_t width);
/* Appends the head's slots to p (after the backbone's and the MLP's). */
void ir_metric_head_params(ir_metric_head *h, ir_params *p);
void ir_metric_head_free(ir_metric_head *h);
/* The prefix every slot name of the head starts with. */
const char *ir_metric_head_prefix(const ir_metric_head_config *cfg);

/* text (B, L, width): the text encoder's output; mask (B, L) (nonzero = a
 * real token). → scores (B, metrics). The coded variant reads text[:, 0]. */
at_tensor *ir_metric_head_forward(const ir_metric_head *h, at_tensor *text, at_tensor *mask, bool training,
                                  at_rng *rng, ir_mt_probe *probe);

#endif

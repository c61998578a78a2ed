/* ImageReward: BLIP's ViT and cross-attention BERT, the [CLS] feature, a
 * linear reward head and the published score normalisation.
 *
 * Parameters are at_tensor leaves named by ImageReward's state_dict keys
 * ("blip.visual_encoder.…", "blip.text_encoder.…", "mlp.layers.…"). A model
 * loaded from a checkpoint uses the checkpoint's f32 bytes in place (they may
 * be a read-only mmap: pass copy = true to train in place). */
#ifndef AAPMT_MODEL_IMAGEREWARD_H
#define AAPMT_MODEL_IMAGEREWARD_H

#include <stdbool.h>
#include <stdint.h>

#include "../io/state_dict.h"
#include "../rng.h"
#include "../tensor.h"
#include "bert.h"
#include "config.h"
#include "metric_head.h"
#include "params.h"
#include "vit.h"

/* score = (r - mean) / std, from ImageReward.py. */
#define IR_SCORE_MEAN 0.16717362830052426
#define IR_SCORE_STD 1.0333394966054072

typedef struct ir_model {
    uint64_t id;     /* process-unique, counted from 1: no two models share one */
    ir_config cfg;   /* its dropout and drop-path rates may be changed between forwards, not its sizes */
    ir_vit vit;
    ir_bert bert;
    at_tensor *head_w[5], *head_b[5];   /* mlp.layers.{0,2,4,6,7} */
    ir_metric_head metric;              /* the Metric Transformer, when cfg.metric_head has one */
    ir_params params;                   /* every parameter, in state_dict order; the metric head's last */
    int metric_first;                   /* index of the metric head's first parameter (count when none) */
    bool metric_head_random;            /* the checkpoint had no metric head: it was initialised randomly */
} ir_model;

/* Checkpoint keys a model has no use for: BLIP's contrastive projections and
 * the position-id buffer (always 0, 1, 2, ...). NULL-terminated; entries
 * ending in '.' are prefixes. */
extern const char *const ir_unused_keys[];

/* From a state dict: every key and shape is compared with cfg first, and all
 * missing, unexpected and mis-shaped keys are reported in one error naming
 * source. cfg NULL means ImageReward-v1.0. The dict may be freed afterwards.
 * The Metric Transformer is optional on both sides, as in AAPMT (which
 * loaded with strict=False): a config with a metric head and a checkpoint
 * without one (ImageReward.pt) gives the head random weights (seed 0; see
 * ir_model_init_metric_head) and sets metric_head_random; a checkpoint
 * holding AAPMT's ImageAssessmentModel.* loaded under a config without a
 * metric head leaves those keys unused. */
ir_model *ir_model_from_state_dict(const ir_config *cfg, const at_state_dict *sd, bool copy, const char *source);
/* From a checkpoint file (.pt or safetensors, see io/state_dict.h). */
ir_model *ir_model_load(const char *path, const ir_config *cfg, bool copy);
/* Freshly initialised weights (zero-mean random weights of the usual
 * stds, unit LayerNorm scales, zero biases), reproducible from seed: for
 * benchmarks and tests. */
ir_model *ir_model_random(const ir_config *cfg, uint64_t seed);
/* The same with weights for training from scratch: the usual stds above
 * suit fine-tuning a pretrained model, but from random weights ImageReward's
 * head (five linear layers at std 1/(hidden+1), nothing between them) starts
 * with an output and gradients that are a product of five tiny factors, and
 * training stalls at the mean score. Here every linear weight has
 * nn.Linear's std 1/sqrt(3 fan_in), the head's 1/sqrt(fan_in) so its
 * product keeps unit scale, and the word and position embeddings std 1. */
ir_model *ir_model_random_from_scratch(const ir_config *cfg, uint64_t seed);
void ir_model_free(ir_model *m);   /* NULL is fine */
/* Moves every parameter to device ("cuda" runs the model on the GPU). Inputs
 * must then be on the same device. */
int ir_model_to_device(ir_model *m, at_device device);
/* Changes whenever any parameter may have changed: the largest write stamp
 * of the parameters' storages (at_storage_touch), so every optimizer step,
 * at_copy_, at_fill_ or at_set into a parameter or a view of one, a move to
 * another device and new metric-head weights give a larger value. Loading
 * makes a new model (a new id): with the id, it names the weights a cached
 * output was computed with. Writes that bypass the engine (through at_data
 * without at_storage_touch, or into the file a checkpoint is mapped from)
 * are not seen. */
uint64_t ir_model_weight_version(const ir_model *m);
/* New random weights for the metric head alone, from seed. */
int ir_model_init_metric_head(ir_model *m, uint64_t seed);

/* The parameters under their checkpoint names (references to the same
 * tensors), e.g. for at_save_safetensors. */
at_state_dict *ir_model_export(const ir_model *m);

/* Parameters in state_dict order, for optimizers. */
int ir_model_param_count(const ir_model *m);
const char *ir_model_param_name(const ir_model *m, int i);
at_tensor *ir_model_param(const ir_model *m, int i);   /* borrowed */
int ir_model_set_requires_grad(ir_model *m, bool requires_grad);
/* ImageReward's fine-tuning split (train/src/ImageReward.py, fix_rate 0.7):
 * text parameters are frozen in order up to and including the first whose
 * name contains "layer.<int(layers·fix_rate)>", vision parameters likewise up
 * to "blocks.<int(depth·fix_rate)>"; the rest and the head train. 0 freezes
 * nothing (the training code skips the rule then). */
int ir_model_apply_fix_rate(ir_model *m, double fix_rate);

typedef struct ir_forward_opts {
    bool training;              /* dropout and drop-path on, drawn from rng */
    at_rng *rng;                /* required when training with nonzero rates */
    bool want_image_tokens;     /* keep the ViT output */
    bool want_cross_attention;  /* per-layer cross-attention probabilities */
    bool want_metric_attention; /* the metric tokens' attention probabilities (metric_attention head) */
    /* Keep only each ViT block's and BERT layer's inputs for the backward
     * pass, which runs each again (same masks, same gradients bit for bit):
     * about a third more time for a fraction of the memory. */
    bool recompute;
} ir_forward_opts;

typedef struct ir_output {
    at_tensor *image_tokens;     /* (B, tokens, vision width) when asked for */
    at_tensor *features;         /* (B, text hidden): the [CLS] position of the last layer */
    at_tensor *rewards;          /* (B): the head's raw output r */
    at_tensor *scores;           /* (B): (r - IR_SCORE_MEAN) / IR_SCORE_STD */
    /* When asked for: num_hidden_layers tensors (B, heads, L', tokens), no
     * grad, where L' <= L is the longest real prompt in the batch (trailing
     * columns that are padding in every row are not computed: they cannot
     * change any real position). */
    at_tensor **cross_attention;
    int n_cross_attention;
    /* With a metric head: (B, metrics) raw outputs, and when asked for, per
     * layer, the metric tokens' attention probabilities (see metric_head.h). */
    at_tensor *metric_scores;
    at_tensor **metric_self_attention, **metric_cross_attention;
    int n_metric_attention;
} ir_output;

/* pixels (B, 3, S, S) f32 (preprocessed), ids (B, L) i64/i32, mask (B, L)
 * (nonzero = real token). Fills out (cleared first); returns 0 or -1. With
 * parameters (or pixels) that require grad, the outputs carry history for
 * at_backward. */
int ir_model_forward(const ir_model *m, at_tensor *pixels, at_tensor *ids, at_tensor *mask,
                     const ir_forward_opts *opts, ir_output *out);
/* The forward in its two parts, so one image encoding serves many texts:
 * the image side alone (the ViT output, (B, tokens, vision width); opts may
 * be NULL) and everything after it, from such an encoding with one row per
 * text (an encoding repeated for several texts gives each text's scores).
 * ir_model_forward is the one then the other; in training, the generator
 * draws in the same order. */
at_tensor *ir_model_encode_image(const ir_model *m, at_tensor *pixels, const ir_forward_opts *opts);
int ir_model_forward_encoded(const ir_model *m, at_tensor *image, at_tensor *ids, at_tensor *mask,
                             const ir_forward_opts *opts, ir_output *out);
/* score_texts.c: every text against every image, from one encoding (images,
 * tokens, width) and ids, mask (texts, L): out's features (texts, images,
 * hidden), rewards and scores (texts, images), metric_scores (texts,
 * images, metrics); no grad, no dropout. The ViT output and, in every
 * cross-attention layer, the image tokens' keys and values are computed
 * once per image and read by all the texts. Equal to ir_model_forward on
 * each (text, image) pair within float rounding (the same sums, grouped
 * into other GEMMs). */
int ir_model_score_texts(const ir_model *m, at_tensor *image, at_tensor *ids, at_tensor *mask, ir_output *out);
/* The same sharing for T texts of each image's own (an experiment's task
 * texts, a row's own prompt among them): ids, mask (T*B, L) whose row
 * t*B + i is scored against image i of the encoding (B, tokens, width);
 * out's tensors have T*B rows in that order. */
int ir_model_score_rows(const ir_model *m, at_tensor *image, at_tensor *ids, at_tensor *mask, ir_output *out);
void ir_output_clear(ir_output *out);

/* The head alone on features (B, text hidden) → raw rewards (B), and the
 * normalisation: ImageReward's inference_rank runs the head once on the
 * concatenated features of all images. */
at_tensor *ir_model_head(const ir_model *m, at_tensor *features, bool training, at_rng *rng);
at_tensor *ir_normalise_rewards(at_tensor *rewards);

#endif

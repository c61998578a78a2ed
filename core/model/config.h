/* ImageReward model sizes and regularisation rates.
 *
 * A config is JSON with a "vision" block (our own key names) and a "text"
 * block that uses the key names of BLIP's med_config.json, so that file's
 * contents can be pasted in as they are:
 *
 *   { "vision": { "image_size": 224, "patch_size": 16, "width": 1024,
 *                 "depth": 24, "heads": 16, "mlp_ratio": 4.0 },
 *     "text":   { "hidden_size": 768, "num_hidden_layers": 12,
 *                 "num_attention_heads": 12, "intermediate_size": 3072,
 *                 "vocab_size": 30524, "max_position_embeddings": 512,
 *                 "layer_norm_eps": 1e-12 } }
 *
 * Those keys are required. Optional: vision "drop_path_rate" (0.1) and
 * "layer_norm_eps" (1e-6); text "hidden_dropout_prob" and
 * "attention_probs_dropout_prob" (0.1 each, BLIP's med_config values); a
 * "head" block with "hidden_sizes" (four widths, [1024, 128, 64, 16]) and
 * "dropouts" (three rates, [0.2, 0.2, 0.1]). Other med_config keys are
 * accepted and ignored, except that "hidden_act", "position_embedding_type"
 * and "add_cross_attention" must say what this model does. The
 * cross-attention width is always the vision width (BLIP overwrites
 * med_config's encoder_width with it). */
#ifndef AAPMT_MODEL_CONFIG_H
#define AAPMT_MODEL_CONFIG_H

#include <stdint.h>

typedef struct ir_vision_config {
    int64_t image_size, patch_size, width, depth, heads;
    double mlp_ratio;
    double layer_norm_eps;   /* 1e-6 */
    double drop_path_rate;   /* block i drops with rate·i/(depth-1) in training */
} ir_vision_config;

typedef struct ir_text_config {
    int64_t hidden_size, num_hidden_layers, num_attention_heads, intermediate_size;
    int64_t vocab_size, max_position_embeddings;
    double layer_norm_eps;                 /* 1e-12 */
    double hidden_dropout_prob;            /* embeddings, attention and FFN outputs */
    double attention_probs_dropout_prob;   /* self- and cross-attention probabilities */
} ir_text_config;

#define IR_HEAD_HIDDEN 4

/* The reward head: Linear(text hidden → h0) Dropout(d0) Linear(h0 → h1)
 * Dropout(d1) Linear(h1 → h2) Dropout(d2) Linear(h2 → h3) Linear(h3 → 1),
 * no activations (mlp.layers.{0,2,4,6,7}). */
typedef struct ir_head_config {
    int64_t hidden[IR_HEAD_HIDDEN];
    double dropout[3];
} ir_head_config;

/* The Metric Transformer (AAPMT's several-metrics head, metric_head.h), in
 * an optional "metric_head" block:
 *   {"kind": "coded"}  AAPMT's published code: one pre-LN encoder layer on
 *       the [CLS] feature and a read-out per metric; three outputs named
 *       align, quality, authenticity (AAPMT's order). Optional "heads" (3),
 *       "ffn" (2048), "dropout" (0.1), "metrics" (three labels).
 *   {"kind": "metric_attention", "metrics": ["quality", "align", ...]}  the
 *       paper's design: a learned token per metric attending to the other
 *       metrics and to every text token over "layers" (2) pre-LN layers.
 *       Optional "heads" (text heads), "ffn" (4 × text hidden), "dropout"
 *       (0.1).
 * Absent: kind IR_METRICS_NONE, the model has the MLP head only. */
enum { IR_METRICS_NONE, IR_METRICS_CODED, IR_METRICS_ATTENTION };
#define IR_MAX_METRICS 16
#define IR_METRIC_NAME_MAX 32

typedef struct ir_metric_head_config {
    int kind;
    int64_t metrics;
    char names[IR_MAX_METRICS][IR_METRIC_NAME_MAX];
    int64_t heads, ffn, layers;
    double dropout;
} ir_metric_head_config;

typedef struct ir_config {
    ir_vision_config vision;
    ir_text_config text;
    ir_head_config head;
    ir_metric_head_config metric_head;
} ir_config;

/* ImageReward-v1.0: ViT-L/16 at 224 px, BERT-base with cross-attention. */
void ir_config_default(ir_config *cfg);
/* Reads a JSON config file. Returns 0, or -1 with an error naming the file
 * and the key at fault (missing, wrong type or out of range). */
int ir_config_load(const char *path, ir_config *cfg);
/* The same from JSON text; source names it in errors. */
int ir_config_parse(const char *json, const char *source, ir_config *cfg);
/* Checks the sizes fit together (width divisible by heads, ...); source
 * names the config in the error. */
int ir_config_validate(const ir_config *cfg, const char *source);

/* Derived sizes. */
static inline int64_t ir_vision_tokens(const ir_vision_config *v) {
    int64_t g = v->image_size / v->patch_size;
    return g * g + 1;
}
static inline int64_t ir_vision_mlp_hidden(const ir_vision_config *v) {
    return (int64_t)(v->width * v->mlp_ratio);
}

#endif

/* BLIP med.py BertModel forward in multimodal mode (no pooler). */
#include "bert.h"

#include <math.h>
#include <stdlib.h>

#include "../autograd.h"
#include "../ops.h"
#include "heads.h"
#include "steps.h"

int ir_bert_init(ir_bert *bert, const ir_text_config *cfg, int64_t encoder_width) {
    *bert = (ir_bert){.cfg = *cfg, .encoder_width = encoder_width};
    bert->layers = calloc((size_t)cfg->num_hidden_layers, sizeof *bert->layers);
    if (!bert->layers) {
        at_set_error("bert: out of memory for %lld layers", (long long)cfg->num_hidden_layers);
        return -1;
    }
    return 0;
}

void ir_bert_free(ir_bert *bert) {
    free(bert->layers);
    bert->layers = NULL;
}

static void attention_params(ir_bert_attention *a, int64_t D, int64_t kv_in, ir_params *p, double std,
                             const char *prefix, long long layer, const char *kind) {
    int64_t sq[2] = {D, D}, kv[2] = {D, kv_in}, vec[1] = {D};
    const char *f = prefix;
    ir_params_add(p, &a->q_w, IR_INIT_RANDOM, std, 2, sq, "%sencoder.layer.%lld.%s.self.query.weight", f, layer, kind);
    ir_params_add(p, &a->q_b, IR_INIT_ZERO, 0, 1, vec, "%sencoder.layer.%lld.%s.self.query.bias", f, layer, kind);
    ir_params_add(p, &a->k_w, IR_INIT_RANDOM, std, 2, kv, "%sencoder.layer.%lld.%s.self.key.weight", f, layer, kind);
    ir_params_add(p, &a->k_b, IR_INIT_ZERO, 0, 1, vec, "%sencoder.layer.%lld.%s.self.key.bias", f, layer, kind);
    ir_params_add(p, &a->v_w, IR_INIT_RANDOM, std, 2, kv, "%sencoder.layer.%lld.%s.self.value.weight", f, layer, kind);
    ir_params_add(p, &a->v_b, IR_INIT_ZERO, 0, 1, vec, "%sencoder.layer.%lld.%s.self.value.bias", f, layer, kind);
    ir_params_add(p, &a->out_w, IR_INIT_RANDOM, std, 2, sq, "%sencoder.layer.%lld.%s.output.dense.weight", f, layer,
                  kind);
    ir_params_add(p, &a->out_b, IR_INIT_ZERO, 0, 1, vec, "%sencoder.layer.%lld.%s.output.dense.bias", f, layer, kind);
    ir_params_add(p, &a->ln_w, IR_INIT_ONE, 0, 1, vec, "%sencoder.layer.%lld.%s.output.LayerNorm.weight", f, layer,
                  kind);
    ir_params_add(p, &a->ln_b, IR_INIT_ZERO, 0, 1, vec, "%sencoder.layer.%lld.%s.output.LayerNorm.bias", f, layer,
                  kind);
}

/* BERT's initializer_range. */
#define WEIGHT_STD 0.02

void ir_bert_params(ir_bert *bert, const char *prefix, ir_params *p) {
    const ir_text_config *c = &bert->cfg;
    int64_t D = c->hidden_size, I = c->intermediate_size;
    int64_t word[2] = {c->vocab_size, D}, pos[2] = {c->max_position_embeddings, D}, vec[1] = {D};
    int64_t inter[2] = {I, D}, inter_b[1] = {I}, out[2] = {D, I};
    ir_params_add(p, &bert->word_emb, IR_INIT_RANDOM, WEIGHT_STD, 2, word, "%sembeddings.word_embeddings.weight", prefix);
    ir_params_add(p, &bert->pos_emb, IR_INIT_RANDOM, WEIGHT_STD, 2, pos, "%sembeddings.position_embeddings.weight",
                  prefix);
    ir_params_add(p, &bert->emb_ln_w, IR_INIT_ONE, 0, 1, vec, "%sembeddings.LayerNorm.weight", prefix);
    ir_params_add(p, &bert->emb_ln_b, IR_INIT_ZERO, 0, 1, vec, "%sembeddings.LayerNorm.bias", prefix);
    for (int64_t i = 0; i < c->num_hidden_layers; i++) {
        ir_bert_layer *l = &bert->layers[i];
        long long n = (long long)i;
        attention_params(&l->self, D, D, p, WEIGHT_STD, prefix, n, "attention");
        attention_params(&l->cross, D, bert->encoder_width, p, WEIGHT_STD, prefix, n, "crossattention");
        ir_params_add(p, &l->inter_w, IR_INIT_RANDOM, WEIGHT_STD, 2, inter, "%sencoder.layer.%lld.intermediate.dense.weight",
                      prefix, n);
        ir_params_add(p, &l->inter_b, IR_INIT_ZERO, 0, 1, inter_b, "%sencoder.layer.%lld.intermediate.dense.bias", prefix, n);
        ir_params_add(p, &l->out_w, IR_INIT_RANDOM, WEIGHT_STD, 2, out, "%sencoder.layer.%lld.output.dense.weight", prefix, n);
        ir_params_add(p, &l->out_b, IR_INIT_ZERO, 0, 1, vec, "%sencoder.layer.%lld.output.dense.bias", prefix, n);
        ir_params_add(p, &l->ln_w, IR_INIT_ONE, 0, 1, vec, "%sencoder.layer.%lld.output.LayerNorm.weight", prefix, n);
        ir_params_add(p, &l->ln_b, IR_INIT_ZERO, 0, 1, vec, "%sencoder.layer.%lld.output.LayerNorm.bias", prefix, n);
    }
}

/* softmax(q·kᵀ/√D + mask) with dropout on the probabilities, then ·v. The
 * fused at_attention has no dropout, so training with a nonzero rate takes
 * the op-by-op path. */
static at_tensor *attend(at_tensor *q, at_tensor *k, at_tensor *v, at_tensor *mask, double scale, double p,
                         bool training, at_rng *rng) {
    if (!training || p <= 0) return at_attention(q, k, v, mask, scale);
    at_tensor *s = at_transpose(k, 2, 3);
    if (s && ir_step(&s, at_matmul(q, s)) && ir_step(&s, at_scale(s, scale)) &&
        (!mask || ir_step(&s, at_add(s, mask))) && ir_step(&s, at_softmax(s)) &&
        ir_step(&s, at_dropout(s, p, true, rng)))
        ir_step(&s, at_matmul(s, v));
    return s;
}

/* The key and value projections of kv (h itself, or the image tokens),
 * split into heads: (B, H, N, d) each. */
static int project_kv(const ir_bert *bert, const ir_bert_attention *a, at_tensor *kv, at_tensor **k, at_tensor **v) {
    int64_t H = bert->cfg.num_attention_heads;
    *k = at_linear(kv, a->k_w, a->k_b);
    *v = *k && ir_step(k, ir_split_heads(*k, H)) ? at_linear(kv, a->v_w, a->v_b) : NULL;
    if (*v && ir_step(v, ir_split_heads(*v, H))) return 0;
    at_release(*k);
    at_release(*v);
    *k = *v = NULL;
    return -1;
}

/* BertSelfOutput: the heads' merged context x through the output dense,
 * dropout, the residual h and LayerNorm. */
static at_tensor *attention_output(const ir_bert *bert, const ir_bert_attention *a, at_tensor *x, at_tensor *h,
                                   bool training, at_rng *rng) {
    const ir_text_config *c = &bert->cfg;
    at_tensor *y = at_linear(x, a->out_w, a->out_b);
    if (y && ir_step(&y, at_dropout(y, c->hidden_dropout_prob, training, rng)) && ir_step(&y, at_add(y, h)))
        ir_step(&y, at_layernorm(y, a->ln_w, a->ln_b, c->layer_norm_eps));
    return y;
}

/* BertAttention: multi-head attention of h over the keys and values k, v
 * (project_kv's), output dense, dropout, residual, LayerNorm. */
static at_tensor *attention_block(const ir_bert *bert, const ir_bert_attention *a, at_tensor *h, at_tensor *k,
                                  at_tensor *v, at_tensor *mask, bool training, at_rng *rng, at_tensor **probs_out) {
    const ir_text_config *c = &bert->cfg;
    int64_t H = c->num_attention_heads;
    double scale = 1.0 / sqrt((double)(c->hidden_size / H));
    at_tensor *q = at_linear(h, a->q_w, a->q_b), *x = NULL;
    if (!q || !ir_step(&q, ir_split_heads(q, H))) goto done;
    if (probs_out && !(*probs_out = ir_attention_probabilities(q, k, NULL, scale))) goto done;
    if ((x = attend(q, k, v, mask, scale, c->attention_probs_dropout_prob, training, rng)) &&
        ir_step(&x, ir_merge_heads(x)))
        ir_step(&x, attention_output(bert, a, x, h, training, rng));
done:
    at_release(q);
    return x;
}

static at_tensor *feed_forward(const ir_bert *bert, const ir_bert_layer *l, at_tensor *h, bool training, at_rng *rng) {
    const ir_text_config *c = &bert->cfg;
    at_tensor *x = at_linear(h, l->inter_w, l->inter_b);
    if (x && ir_step(&x, at_gelu(x)) && ir_step(&x, at_linear(x, l->out_w, l->out_b)) &&
        ir_step(&x, at_dropout(x, c->hidden_dropout_prob, training, rng)) && ir_step(&x, at_add(x, h)))
        ir_step(&x, at_layernorm(x, l->ln_w, l->ln_b, c->layer_norm_eps));
    return x;
}

/* nn.Embedding(padding_idx=0): the [PAD] row gets no gradient. The ids at
 * pad positions read a detached copy of the same values, so the forward is
 * unchanged (e·1 + e·0 = e) and no gradient reaches row 0. */
static at_tensor *shield_pad_row(at_tensor *emb, at_tensor *ids) {
    int64_t B = ids->shape[0], L = ids->shape[1], shape[3] = {B, L, 1};
    at_tensor *keep = at_empty_uninit(AT_F32, 3, shape), *drop = at_empty_uninit(AT_F32, 3, shape);
    at_tensor *fixed = at_detach(emb), *a = NULL, *b = NULL, *out = NULL, *host_ids = ir_on_host(ids);
    if (keep && drop && fixed && host_ids) {
        float *k = at_data(keep), *d = at_data(drop);
        for (int64_t i = 0; i < B * L; i++)
            k[i] = at_get_linear(host_ids, i) != 0 ? 1.0f : 0.0f, d[i] = 1.0f - k[i];
        keep = ir_on_device_of(keep, emb);
        drop = ir_on_device_of(drop, emb);
        if (keep && drop && (a = at_mul(emb, keep)) && (b = at_mul(fixed, drop))) out = at_add(a, b);
    }
    at_release(host_ids);
    at_release(keep);
    at_release(drop);
    at_release(fixed);
    at_release(a);
    at_release(b);
    return out;
}

static at_tensor *embeddings(const ir_bert *bert, at_tensor *ids, bool training, at_rng *rng) {
    const ir_text_config *c = &bert->cfg;
    int64_t L = ids->shape[1];
    at_tensor *x = at_embedding(bert->word_emb, ids), *pos = NULL;
    if (!x) return NULL;
    if (at_grad_enabled() && bert->word_emb->requires_grad && !ir_step(&x, shield_pad_row(x, ids))) return NULL;
    if ((pos = at_narrow(bert->pos_emb, 0, 0, L)) && ir_step(&x, at_add(x, pos)) &&
        ir_step(&x, at_layernorm(x, bert->emb_ln_w, bert->emb_ln_b, c->layer_norm_eps)))
        ir_step(&x, at_dropout(x, c->hidden_dropout_prob, training, rng));
    if (!pos) ir_step(&x, NULL);
    at_release(pos);
    return x;
}

/* image has one row per `texts` rows of ids: 1 but in the shared-image forward. */
static int check_inputs_texts(const ir_bert *bert, const at_tensor *ids, const at_tensor *mask, const at_tensor *image,
                              int64_t texts) {
    const ir_text_config *c = &bert->cfg;
    char si[128], sm[128], se[128];
    if (!ids || !mask || !image) {
        at_set_error("bert: ids, mask and image tokens are all required");
        return -1;
    }
    if (ids->ndim != 2 || (ids->dtype != AT_I64 && ids->dtype != AT_I32) || ids->shape[0] < 1 || ids->shape[1] < 1 ||
        ids->shape[1] > c->max_position_embeddings) {
        at_set_error("bert: ids must be i64 or i32 (B, L) with 1 <= L <= %lld, got %s %s",
                     (long long)c->max_position_embeddings, at_dtype_name(ids->dtype), at_shape_str(ids, si, sizeof si));
        return -1;
    }
    if (!at_same_shape(ids, mask) || mask->dtype == AT_F16 || mask->dtype == AT_BF16) {
        at_set_error("bert: mask %s %s must have the shape of ids %s (f32/f64/i32/i64/u8)", at_dtype_name(mask->dtype),
                     at_shape_str(mask, sm, sizeof sm), at_shape_str(ids, si, sizeof si));
        return -1;
    }
    if (image->ndim != 3 || image->shape[0] * texts != ids->shape[0] || image->shape[2] != bert->encoder_width ||
        image->dtype != AT_F32) {
        at_set_error("bert: image tokens must be f32 (%lld, N, %lld) to match ids %s%s, got %s %s",
                     (long long)(ids->shape[0] / texts), (long long)bert->encoder_width,
                     at_shape_str(ids, si, sizeof si), texts > 1 ? " (an image for every text)" : "",
                     at_dtype_name(image->dtype), at_shape_str(image, se, sizeof se));
        return -1;
    }
    return 0;
}

static int check_inputs(const ir_bert *bert, const at_tensor *ids, const at_tensor *mask, const at_tensor *image) {
    return check_inputs_texts(bert, ids, mask, image, 1);
}

/* One layer as at_checkpoint runs it: the sizes, the layer's parameters
 * (retained while the checkpoint needs them) and where its cross-attention
 * probabilities go (a probe is never recomputed). */
typedef struct {
    ir_bert bert;   /* only cfg is read */
    ir_bert_layer layer;
    bool training;
    at_tensor **probs;
} layer_ctx;

/* Inputs: h, the cross-attention's key and value of the image tokens, the
 * self-attention mask. */
static at_tensor *run_layer(void *ctx, at_tensor *const *in, at_rng *rng) {
    const layer_ctx *c = ctx;
    const ir_bert_layer *l = &c->layer;
    at_tensor *k = NULL, *v = NULL, *h = NULL;
    if (project_kv(&c->bert, &l->self, in[0], &k, &v)) return NULL;
    if ((h = attention_block(&c->bert, &l->self, in[0], k, v, in[3], c->training, rng, NULL)) &&
        ir_step(&h, attention_block(&c->bert, &l->cross, h, in[1], in[2], NULL, c->training, rng, c->probs)))
        ir_step(&h, feed_forward(&c->bert, l, h, c->training, rng));
    at_release(k);
    at_release(v);
    return h;
}

static void layer_ctx_free(void *ctx) {
    layer_ctx *c = ctx;
    ir_release_all(&c->layer, sizeof c->layer);
    free(c);
}

/* Self-attention, cross-attention to the image tokens, feed-forward. With
 * recomputation and a graph to build through h, only the layer's inputs are
 * kept for the backward pass and the layer runs again there. The image
 * tokens' key and value are computed outside and kept (two (B, H, N, d)
 * tensors a layer): every layer reads the same image tokens, and their
 * gradient must add up the layers' contributions in the order the stored
 * graph does (layer 11's value, then its key, then layer 10's, ...), which
 * it does when they are the node's inputs after h. A layer whose h needs no
 * gradient (the first trainable one after frozen ones) stores its
 * activations, or its own parameters would get no gradient. */
static at_tensor *layer_forward(const ir_bert *bert, const ir_bert_layer *l, at_tensor *h, at_tensor *image,
                                at_tensor *mask, bool training, at_rng *rng, at_tensor **probs) {
    at_tensor *k = NULL, *v = NULL, *out = NULL;
    if (project_kv(bert, &l->cross, image, &k, &v)) return NULL;
    at_tensor *in[4] = {h, k, v, mask};
    layer_ctx here = {.bert = {.cfg = bert->cfg}, .layer = *l, .training = training, .probs = probs};
    if (!bert->recompute || probs || !at_grad_enabled() || !h->requires_grad) {
        out = run_layer(&here, in, rng);
    } else {
        layer_ctx *c = malloc(sizeof *c);
        if (c) {
            *c = here;
            ir_retain_all(&c->layer, sizeof c->layer);
            out = at_checkpoint(run_layer, c, layer_ctx_free, rng, 4, in);
        } else {
            at_set_error("bert: out of memory for a recomputed layer");
        }
    }
    at_release(k);
    at_release(v);
    return out;
}

at_tensor *ir_bert_forward(const ir_bert *bert, at_tensor *ids, at_tensor *mask, at_tensor *image, bool training,
                           at_rng *rng, ir_bert_probe *probe) {
    const ir_text_config *c = &bert->cfg;
    if (check_inputs(bert, ids, mask, image)) return NULL;
    if (training && (c->hidden_dropout_prob > 0 || c->attention_probs_dropout_prob > 0) && !rng) {
        at_set_error("bert: training with dropout needs a random generator");
        return NULL;
    }
    bool want_probs = probe && probe->want_cross_attention;
    if (want_probs) {
        probe->cross_attention = calloc((size_t)c->num_hidden_layers, sizeof *probe->cross_attention);
        if (!probe->cross_attention) {
            at_set_error("bert: out of memory for %lld attention maps", (long long)c->num_hidden_layers);
            return NULL;
        }
    }
    /* The image mask is all ones, so cross-attention adds nothing. */
    at_tensor *ext = ir_extended_mask(mask), *h = ext ? embeddings(bert, ids, training, rng) : NULL;
    for (int64_t i = 0; h && i < c->num_hidden_layers; i++) {
        at_tensor **probs = want_probs ? &probe->cross_attention[i] : NULL;
        ir_step(&h, layer_forward(bert, &bert->layers[i], h, image, ext, training, rng, probs));
    }
    at_release(ext);
    if (!h && want_probs) {
        for (int64_t i = 0; i < c->num_hidden_layers; i++) at_release(probe->cross_attention[i]);
        free(probe->cross_attention);
        probe->cross_attention = NULL;
    }
    return h;
}

/* ---- many texts against the same images (ir_bert_forward_shared_image) ---- */

/* Queries x (T·B, L, H·d), row t·B + i, as (B, H, T·L, d): image i's T texts
 * one after another along the query axis. A copy: no strides reach them. */
static at_tensor *stack_texts(at_tensor *x, int64_t texts, int64_t H) {
    int64_t B = x->shape[0] / texts, L = x->shape[1], d = x->shape[2] / H;
    int64_t split[5] = {texts, B, L, H, d}, stacked[4] = {B, H, texts * L, d};
    int to_image_major[5] = {1, 3, 0, 2, 4};
    at_tensor *t = at_reshape(x, 5, split);
    if (t && ir_step(&t, at_permute(t, to_image_major)) && ir_step(&t, at_contiguous(t)))
        ir_step(&t, at_reshape(t, 4, stacked));
    return t;
}

/* stack_texts undone on the attention output: (B, H, T·L, d) → (T·B, L, H·d). */
static at_tensor *unstack_texts(at_tensor *x, int64_t texts) {
    int64_t B = x->shape[0], H = x->shape[1], L = x->shape[2] / texts, d = x->shape[3];
    int64_t split[5] = {B, H, texts, L, d}, rows[3] = {texts * B, L, H * d};
    int to_text_major[5] = {2, 0, 3, 1, 4};
    at_tensor *t = at_reshape(x, 5, split);
    if (t && ir_step(&t, at_permute(t, to_text_major))) ir_step(&t, at_reshape(t, 3, rows));
    return t;
}

/* attention_block's cross-attention without dropout, on keys and values of
 * the image alone: every text's queries against its image's k, v in one
 * at_attention (the image mask is all ones, so no mask). */
static at_tensor *shared_cross_attention(const ir_bert *bert, const ir_bert_attention *a, at_tensor *h, at_tensor *k,
                                         at_tensor *v, int64_t texts) {
    const ir_text_config *c = &bert->cfg;
    int64_t H = c->num_attention_heads;
    double scale = 1.0 / sqrt((double)(c->hidden_size / H));
    at_tensor *x = at_linear(h, a->q_w, a->q_b);
    if (x && ir_step(&x, stack_texts(x, texts, H)) && ir_step(&x, at_attention(x, k, v, NULL, scale)) &&
        ir_step(&x, unstack_texts(x, texts)))
        ir_step(&x, attention_output(bert, a, x, h, false, NULL));
    return x;
}

at_tensor *ir_bert_forward_shared_image(const ir_bert *bert, at_tensor *ids, at_tensor *mask, at_tensor *image,
                                        int64_t texts) {
    if (texts < 1) {
        at_set_error("bert: the shared-image forward needs at least one text, got %lld", (long long)texts);
        return NULL;
    }
    if (check_inputs_texts(bert, ids, mask, image, texts)) return NULL;
    at_tensor *ext = ir_extended_mask(mask), *h = ext ? embeddings(bert, ids, false, NULL) : NULL;
    for (int64_t i = 0; h && i < bert->cfg.num_hidden_layers; i++) {
        const ir_bert_layer *l = &bert->layers[i];
        at_tensor *sk = NULL, *sv = NULL, *k = NULL, *v = NULL;   /* self-attention's, and the image's per image */
        bool ok = !project_kv(bert, &l->self, h, &sk, &sv) &&
                  ir_step(&h, attention_block(bert, &l->self, h, sk, sv, ext, false, NULL, NULL)) &&
                  !project_kv(bert, &l->cross, image, &k, &v) &&
                  ir_step(&h, shared_cross_attention(bert, &l->cross, h, k, v, texts)) &&
                  ir_step(&h, feed_forward(bert, l, h, false, NULL));
        if (!ok) ir_step(&h, NULL);
        at_release(sk);
        at_release(sv);
        at_release(k);
        at_release(v);
    }
    at_release(ext);
    return h;
}

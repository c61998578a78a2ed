/* The Metric Transformer, coded and metric_attention variants (metric_head.h). */
#include "metric_head.h"

#include <math.h>
#include <stdlib.h>

#include "../ops.h"
#include "heads.h"
#include "steps.h"

/* nn.LayerNorm's default epsilon: both variants are built from torch.nn layers. */
#define MT_LN_EPS 1e-5

static const char *const coded_labels[3] = {"quality", "text_image_correspondence", "authenticity"};

const char *ir_metric_head_prefix(const ir_metric_head_config *cfg) {
    return cfg->kind == IR_METRICS_CODED ? "ImageAssessmentModel." : "metric_attention.";
}

int ir_metric_head_init(ir_metric_head *h, const ir_metric_head_config *cfg, int64_t width) {
    *h = (ir_metric_head){.cfg = *cfg, .width = width};
    if (cfg->kind == IR_METRICS_ATTENTION) {
        h->layers = calloc((size_t)cfg->layers, sizeof *h->layers);
        if (!h->layers) {
            at_set_error("model: out of memory for %lld Metric Transformer layers", (long long)cfg->layers);
            return -1;
        }
    }
    return 0;
}

void ir_metric_head_free(ir_metric_head *h) {
    free(h->layers);
    h->layers = NULL;
}

/* Slots in the original's state_dict order: the module's own matrices,
 * then the encoder layer's (nn.Module lists a module's parameters before
 * its children's). Stds follow torch's initialisers: randn for the
 * matrices, xavier_uniform for in_proj, 1/√(3·fan_in) for nn.Linear. */
static void coded_params(ir_metric_head *h, ir_params *p) {
    int64_t d = h->width, F = h->cfg.ffn;
    int64_t dd[2] = {d, d}, in_w[2] = {3 * d, d}, in_b[1] = {3 * d}, vec[1] = {d};
    int64_t l1[2] = {F, d}, l1b[1] = {F}, l2[2] = {d, F};
    const char *pre = "ImageAssessmentModel.";
    for (int m = 0; m < 3; m++) {
        ir_params_add(p, &h->wq[m], IR_INIT_RANDOM, 1.0, 2, dd, "%swq_%s", pre, coded_labels[m]);
        ir_params_add(p, &h->wk[m], IR_INIT_RANDOM, 1.0, 2, dd, "%swk_%s", pre, coded_labels[m]);
        ir_params_add(p, &h->wv[m], IR_INIT_RANDOM, 1.0, 2, dd, "%swv_%s", pre, coded_labels[m]);
    }
    ir_params_add(p, &h->in_proj_w, IR_INIT_RANDOM, sqrt(0.5 / (double)d), 2, in_w,
                  "%sencoder.self_attn.in_proj_weight", pre);
    ir_params_add(p, &h->in_proj_b, IR_INIT_ZERO, 0, 1, in_b, "%sencoder.self_attn.in_proj_bias", pre);
    ir_params_add(p, &h->out_proj_w, IR_INIT_RANDOM, 1 / sqrt(3.0 * (double)d), 2, dd,
                  "%sencoder.self_attn.out_proj.weight", pre);
    ir_params_add(p, &h->out_proj_b, IR_INIT_ZERO, 0, 1, vec, "%sencoder.self_attn.out_proj.bias", pre);
    ir_params_add(p, &h->linear1_w, IR_INIT_RANDOM, 1 / sqrt(3.0 * (double)d), 2, l1, "%sencoder.linear1.weight", pre);
    ir_params_add(p, &h->linear1_b, IR_INIT_ZERO, 0, 1, l1b, "%sencoder.linear1.bias", pre);
    ir_params_add(p, &h->linear2_w, IR_INIT_RANDOM, 1 / sqrt(3.0 * (double)F), 2, l2, "%sencoder.linear2.weight", pre);
    ir_params_add(p, &h->linear2_b, IR_INIT_ZERO, 0, 1, vec, "%sencoder.linear2.bias", pre);
    ir_params_add(p, &h->norm1_w, IR_INIT_ONE, 0, 1, vec, "%sencoder.norm1.weight", pre);
    ir_params_add(p, &h->norm1_b, IR_INIT_ZERO, 0, 1, vec, "%sencoder.norm1.bias", pre);
    ir_params_add(p, &h->norm2_w, IR_INIT_ONE, 0, 1, vec, "%sencoder.norm2.weight", pre);
    ir_params_add(p, &h->norm2_b, IR_INIT_ZERO, 0, 1, vec, "%sencoder.norm2.bias", pre);
}

#define MT_STD 0.02   /* BERT's initializer_range, for every metric_attention weight */

static void attention_params(ir_mt_attention *a, int64_t d, ir_params *p, long long layer, const char *which) {
    int64_t dd[2] = {d, d}, vec[1] = {d};
    const char *pre = "metric_attention.";
    at_tensor **w[4] = {&a->q_w, &a->k_w, &a->v_w, &a->out_w}, **b[4] = {&a->q_b, &a->k_b, &a->v_b, &a->out_b};
    const char *names[4] = {"q", "k", "v", "out"};
    for (int i = 0; i < 4; i++) {
        ir_params_add(p, w[i], IR_INIT_RANDOM, MT_STD, 2, dd, "%slayers.%lld.%s.%s.weight", pre, layer, which, names[i]);
        ir_params_add(p, b[i], IR_INIT_ZERO, 0, 1, vec, "%slayers.%lld.%s.%s.bias", pre, layer, which, names[i]);
    }
}

static void attention_head_params(ir_metric_head *h, ir_params *p) {
    int64_t d = h->width, F = h->cfg.ffn, M = h->cfg.metrics;
    int64_t md[2] = {M, d}, m1[1] = {M}, vec[1] = {d}, f1[2] = {F, d}, f1b[1] = {F}, f2[2] = {d, F};
    const char *pre = "metric_attention.";
    ir_params_add(p, &h->tokens, IR_INIT_RANDOM, MT_STD, 2, md, "%stokens", pre);
    for (long long i = 0; i < h->cfg.layers; i++) {
        ir_mt_layer *l = &h->layers[i];
        ir_params_add(p, &l->ln1_w, IR_INIT_ONE, 0, 1, vec, "%slayers.%lld.norm1.weight", pre, i);
        ir_params_add(p, &l->ln1_b, IR_INIT_ZERO, 0, 1, vec, "%slayers.%lld.norm1.bias", pre, i);
        attention_params(&l->self, d, p, i, "self_attn");
        ir_params_add(p, &l->ln2_w, IR_INIT_ONE, 0, 1, vec, "%slayers.%lld.norm2.weight", pre, i);
        ir_params_add(p, &l->ln2_b, IR_INIT_ZERO, 0, 1, vec, "%slayers.%lld.norm2.bias", pre, i);
        attention_params(&l->cross, d, p, i, "cross_attn");
        ir_params_add(p, &l->ln3_w, IR_INIT_ONE, 0, 1, vec, "%slayers.%lld.norm3.weight", pre, i);
        ir_params_add(p, &l->ln3_b, IR_INIT_ZERO, 0, 1, vec, "%slayers.%lld.norm3.bias", pre, i);
        ir_params_add(p, &l->ffn1_w, IR_INIT_RANDOM, MT_STD, 2, f1, "%slayers.%lld.ffn.linear1.weight", pre, i);
        ir_params_add(p, &l->ffn1_b, IR_INIT_ZERO, 0, 1, f1b, "%slayers.%lld.ffn.linear1.bias", pre, i);
        ir_params_add(p, &l->ffn2_w, IR_INIT_RANDOM, MT_STD, 2, f2, "%slayers.%lld.ffn.linear2.weight", pre, i);
        ir_params_add(p, &l->ffn2_b, IR_INIT_ZERO, 0, 1, vec, "%slayers.%lld.ffn.linear2.bias", pre, i);
    }
    ir_params_add(p, &h->norm_w, IR_INIT_ONE, 0, 1, vec, "%snorm.weight", pre);
    ir_params_add(p, &h->norm_b, IR_INIT_ZERO, 0, 1, vec, "%snorm.bias", pre);
    ir_params_add(p, &h->out_w, IR_INIT_RANDOM, MT_STD, 2, md, "%sout.weight", pre);
    ir_params_add(p, &h->out_b, IR_INIT_ZERO, 0, 1, m1, "%sout.bias", pre);
}

void ir_metric_head_params(ir_metric_head *h, ir_params *p) {
    if (h->cfg.kind == IR_METRICS_CODED) coded_params(h, p);
    else if (h->cfg.kind == IR_METRICS_ATTENTION) attention_head_params(h, p);
}

/* ---- coded ---- */

/* x + dropout(branch): the residual step of both variants. */
static at_tensor *residual(at_tensor *x, at_tensor *branch, double p, bool training, at_rng *rng) {
    at_tensor *d = branch ? at_dropout(branch, p, training, rng) : NULL, *out = d ? at_add(x, d) : NULL;
    at_release(branch);
    at_release(d);
    return out;
}

/* The encoder layer on one-token sequences: attention over a single key is
 * exactly out_proj(v), so the query and key rows of in_proj take no part. */
static at_tensor *coded_encoder(const ir_metric_head *h, at_tensor *f, bool training, at_rng *rng) {
    int64_t d = h->width;
    double p = h->cfg.dropout;
    at_tensor *wv = at_narrow(h->in_proj_w, 0, 2 * d, d), *bv = wv ? at_narrow(h->in_proj_b, 0, 2 * d, d) : NULL;
    at_tensor *x = NULL, *a = bv ? at_layernorm(f, h->norm1_w, h->norm1_b, MT_LN_EPS) : NULL;
    if (a && ir_step(&a, at_linear(a, wv, bv)) && ir_step(&a, at_linear(a, h->out_proj_w, h->out_proj_b)) &&
        (x = residual(f, a, p, training, rng))) {
        a = NULL;
        at_tensor *b = at_layernorm(x, h->norm2_w, h->norm2_b, MT_LN_EPS);
        if (b && ir_step(&b, at_linear(b, h->linear1_w, h->linear1_b)) && ir_step(&b, at_relu(b)) &&
            ir_step(&b, at_dropout(b, p, training, rng)) && ir_step(&b, at_linear(b, h->linear2_w, h->linear2_b)))
            ir_step(&x, residual(x, b, p, training, rng));
        else {
            at_release(b);
            ir_step(&x, NULL);
        }
    }
    at_release(a);
    at_release(wv);
    at_release(bv);
    return x;
}

/* calculate_score for each image alone: the 1×1 score q·kᵀ/√d, its softmax
 * (exactly 1, kept so Wq and Wk get their zero gradient as in the
 * original), times v, averaged: (B, 1). */
static at_tensor *coded_score(const ir_metric_head *h, at_tensor *x, int m) {
    at_tensor *q = at_matmul(x, h->wq[m]), *k = q ? at_matmul(x, h->wk[m]) : NULL;
    at_tensor *v = k ? at_matmul(x, h->wv[m]) : NULL, *s = v ? at_mul(q, k) : NULL;
    if (s && ir_step(&s, at_sum(s, -1, true)) && ir_step(&s, at_scale(s, 1 / sqrt((double)h->width))) &&
        ir_step(&s, at_softmax(s)) && ir_step(&s, at_mul(s, v)))
        ir_step(&s, at_mean(s, -1, true));
    at_release(q);
    at_release(k);
    at_release(v);
    return s;
}

static at_tensor *coded_forward(const ir_metric_head *h, at_tensor *text, bool training, at_rng *rng) {
    at_tensor *cls = at_select(text, 1, 0), *x = cls ? coded_encoder(h, cls, training, rng) : NULL;
    at_tensor *scores[3] = {NULL, NULL, NULL}, *out = NULL;
    for (int m = 0; x && m < 3; m++)
        if (!(scores[m] = coded_score(h, x, m))) goto done;
    if (x) out = at_concat(3, scores, 1);
done:
    for (int m = 0; m < 3; m++) at_release(scores[m]);
    at_release(cls);
    at_release(x);
    return out;
}

/* ---- metric_attention ---- */

static at_tensor *multi_head(const ir_metric_head *h, const ir_mt_attention *a, at_tensor *x, at_tensor *kv,
                             at_tensor *mask, at_tensor **probs_out) {
    int64_t H = h->cfg.heads;
    double scale = 1.0 / sqrt((double)(h->width / H));
    at_tensor *q = at_linear(x, a->q_w, a->q_b), *k = NULL, *v = NULL, *o = NULL;
    if (!q || !ir_step(&q, ir_split_heads(q, H))) goto done;
    if (!(k = at_linear(kv, a->k_w, a->k_b)) || !ir_step(&k, ir_split_heads(k, H))) goto done;
    if (!(v = at_linear(kv, a->v_w, a->v_b)) || !ir_step(&v, ir_split_heads(v, H))) goto done;
    if (probs_out && !(*probs_out = ir_attention_probabilities(q, k, mask, scale))) goto done;
    if ((o = at_attention(q, k, v, mask, scale)) && ir_step(&o, ir_merge_heads(o)))
        ir_step(&o, at_linear(o, a->out_w, a->out_b));
done:
    at_release(q);
    at_release(k);
    at_release(v);
    return o;
}

static at_tensor *attention_layer(const ir_metric_head *h, const ir_mt_layer *l, at_tensor *x, at_tensor *text,
                                  at_tensor *mask, bool training, at_rng *rng, at_tensor **self_p,
                                  at_tensor **cross_p) {
    double p = h->cfg.dropout;
    at_retain(x);
    at_tensor *n = at_layernorm(x, l->ln1_w, l->ln1_b, MT_LN_EPS);
    if (!n || !ir_step(&x, residual(x, multi_head(h, &l->self, n, n, NULL, self_p), p, training, rng))) goto fail;
    if (!ir_step(&n, at_layernorm(x, l->ln2_w, l->ln2_b, MT_LN_EPS)) ||
        !ir_step(&x, residual(x, multi_head(h, &l->cross, n, text, mask, cross_p), p, training, rng)))
        goto fail;
    if (!ir_step(&n, at_layernorm(x, l->ln3_w, l->ln3_b, MT_LN_EPS)) ||
        !ir_step(&n, at_linear(n, l->ffn1_w, l->ffn1_b)) || !ir_step(&n, at_gelu(n)) ||
        !ir_step(&n, at_linear(n, l->ffn2_w, l->ffn2_b)))
        goto fail;
    ir_step(&x, residual(x, n, p, training, rng));
    return x;
fail:
    at_release(n);
    at_release(x);
    return NULL;
}

static at_tensor *attention_forward(const ir_metric_head *h, at_tensor *text, at_tensor *mask, bool training,
                                    at_rng *rng, ir_mt_probe *probe) {
    int64_t B = text->shape[0], M = h->cfg.metrics, shape[3] = {B, M, h->width};
    at_tensor *ext = ir_extended_mask(mask), *x = ext ? at_expand(h->tokens, 3, shape) : NULL;
    if (x) ir_step(&x, at_contiguous(x));
    bool probing = probe && probe->want_attention;
    if (probing) {
        probe->self_attention = calloc((size_t)h->cfg.layers, sizeof *probe->self_attention);
        probe->cross_attention = calloc((size_t)h->cfg.layers, sizeof *probe->cross_attention);
        if (!probe->self_attention || !probe->cross_attention) {
            at_set_error("model: out of memory for the Metric Transformer's attention probes");
            ir_step(&x, NULL);
        }
    }
    for (int64_t i = 0; x && i < h->cfg.layers; i++)
        ir_step(&x, attention_layer(h, &h->layers[i], x, text, ext, training, rng,
                                    probing ? &probe->self_attention[i] : NULL,
                                    probing ? &probe->cross_attention[i] : NULL));
    if (x && ir_step(&x, at_layernorm(x, h->norm_w, h->norm_b, MT_LN_EPS)) && ir_step(&x, at_mul(x, h->out_w)) &&
        ir_step(&x, at_sum(x, -1, false)))
        ir_step(&x, at_add(x, h->out_b));
    at_release(ext);
    return x;
}

at_tensor *ir_metric_head_forward(const ir_metric_head *h, at_tensor *text, at_tensor *mask, bool training,
                                  at_rng *rng, ir_mt_probe *probe) {
    char st[128];
    if (!text || text->ndim != 3 || text->shape[2] != h->width || !mask || mask->ndim != 2 ||
        mask->shape[0] != text->shape[0] || mask->shape[1] != text->shape[1]) {
        at_set_error("Metric Transformer: text states must be (B, L, %lld) with a (B, L) mask, got %s",
                     (long long)h->width, text ? at_shape_str(text, st, sizeof st) : "no tensor");
        return NULL;
    }
    if (h->cfg.kind == IR_METRICS_CODED) return coded_forward(h, text, training, rng);
    if (h->cfg.kind == IR_METRICS_ATTENTION) return attention_forward(h, text, mask, training, rng, probe);
    at_set_error("Metric Transformer: this model has none (add a \"metric_head\" block to its config)");
    return NULL;
}

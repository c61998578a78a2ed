/* BLIP ViT forward (vit.py VisionTransformer / Block / Attention / Mlp). */
#include "vit.h"

#include <math.h>
#include <stdlib.h>

#include "../autograd.h"
#include "../ops.h"
#include "steps.h"

int ir_vit_init(ir_vit *vit, const ir_vision_config *cfg) {
    *vit = (ir_vit){.cfg = *cfg};
    vit->blocks = calloc((size_t)cfg->depth, sizeof *vit->blocks);
    if (!vit->blocks) {
        at_set_error("vit: out of memory for %lld blocks", (long long)cfg->depth);
        return -1;
    }
    return 0;
}

void ir_vit_free(ir_vit *vit) {
    free(vit->blocks);
    vit->blocks = NULL;
}

/* timm's trunc_normal_(std=.02) for weights and positions; any zero-mean
 * values of that std do for benchmarks and tests. */
#define WEIGHT_STD 0.02

void ir_vit_params(ir_vit *vit, const char *prefix, ir_params *p) {
    const ir_vision_config *c = &vit->cfg;
    int64_t W = c->width, P = c->patch_size, hid = ir_vision_mlp_hidden(c), tokens = ir_vision_tokens(c);
    int64_t cls[3] = {1, 1, W}, pos[3] = {1, tokens, W}, patch[4] = {W, 3, P, P};
    int64_t vec[1] = {W}, qkv[2] = {3 * W, W}, qkvb[1] = {3 * W}, proj[2] = {W, W};
    int64_t fc1[2] = {hid, W}, fc1b[1] = {hid}, fc2[2] = {W, hid};
    ir_params_add(p, &vit->cls_token, IR_INIT_RANDOM, WEIGHT_STD, 3, cls, "%scls_token", prefix);
    ir_params_add(p, &vit->pos_embed, IR_INIT_RANDOM, WEIGHT_STD, 3, pos, "%spos_embed", prefix);
    ir_params_add(p, &vit->patch_w, IR_INIT_RANDOM, WEIGHT_STD, 4, patch, "%spatch_embed.proj.weight", prefix);
    ir_params_add(p, &vit->patch_b, IR_INIT_ZERO, 0, 1, vec, "%spatch_embed.proj.bias", prefix);
    for (int64_t i = 0; i < c->depth; i++) {
        ir_vit_block *b = &vit->blocks[i];
        const char *f = prefix;
        long long n = (long long)i;
        ir_params_add(p, &b->norm1_w, IR_INIT_ONE, 0, 1, vec, "%sblocks.%lld.norm1.weight", f, n);
        ir_params_add(p, &b->norm1_b, IR_INIT_ZERO, 0, 1, vec, "%sblocks.%lld.norm1.bias", f, n);
        ir_params_add(p, &b->qkv_w, IR_INIT_RANDOM, WEIGHT_STD, 2, qkv, "%sblocks.%lld.attn.qkv.weight", f, n);
        ir_params_add(p, &b->qkv_b, IR_INIT_ZERO, 0, 1, qkvb, "%sblocks.%lld.attn.qkv.bias", f, n);
        ir_params_add(p, &b->proj_w, IR_INIT_RANDOM, WEIGHT_STD, 2, proj, "%sblocks.%lld.attn.proj.weight", f, n);
        ir_params_add(p, &b->proj_b, IR_INIT_ZERO, 0, 1, vec, "%sblocks.%lld.attn.proj.bias", f, n);
        ir_params_add(p, &b->norm2_w, IR_INIT_ONE, 0, 1, vec, "%sblocks.%lld.norm2.weight", f, n);
        ir_params_add(p, &b->norm2_b, IR_INIT_ZERO, 0, 1, vec, "%sblocks.%lld.norm2.bias", f, n);
        ir_params_add(p, &b->fc1_w, IR_INIT_RANDOM, WEIGHT_STD, 2, fc1, "%sblocks.%lld.mlp.fc1.weight", f, n);
        ir_params_add(p, &b->fc1_b, IR_INIT_ZERO, 0, 1, fc1b, "%sblocks.%lld.mlp.fc1.bias", f, n);
        ir_params_add(p, &b->fc2_w, IR_INIT_RANDOM, WEIGHT_STD, 2, fc2, "%sblocks.%lld.mlp.fc2.weight", f, n);
        ir_params_add(p, &b->fc2_b, IR_INIT_ZERO, 0, 1, vec, "%sblocks.%lld.mlp.fc2.bias", f, n);
    }
    ir_params_add(p, &vit->norm_w, IR_INIT_ONE, 0, 1, vec, "%snorm.weight", prefix);
    ir_params_add(p, &vit->norm_b, IR_INIT_ZERO, 0, 1, vec, "%snorm.bias", prefix);
}

/* Conv2d(3 → W, kernel P, stride P) as a Linear over patches: the image is
 * cut into (row, column) patches of (channel, y, x) values by views, so the
 * conv weight, reshaped to (W, 3·P·P), applies unchanged and autograd sees
 * only ordinary ops. Returns (B, patches, W). */
static at_tensor *patch_embed(const ir_vit *vit, at_tensor *pixels) {
    int64_t B = pixels->shape[0], P = vit->cfg.patch_size, g = vit->cfg.image_size / P, W = vit->cfg.width;
    int64_t split[6] = {B, 3, g, P, g, P}, rows[3] = {B, g * g, 3 * P * P}, wshape[2] = {W, 3 * P * P};
    int perm[6] = {0, 2, 4, 1, 3, 5};
    at_tensor *x = at_reshape(pixels, 6, split), *w = NULL, *out = NULL;
    if (x && ir_step(&x, at_permute(x, perm)) && ir_step(&x, at_reshape(x, 3, rows)) &&
        (w = at_reshape(vit->patch_w, 2, wshape)))
        out = at_linear(x, w, vit->patch_b);
    at_release(x);
    at_release(w);
    return out;
}

/* timm DropPath: each sample's residual branch is kept with probability
 * 1 - p and then scaled by 1/(1 - p), or dropped whole. */
static at_tensor *drop_path(at_tensor *branch, double p, bool training, at_rng *rng) {
    if (!training || p <= 0) {
        at_retain(branch);
        return branch;
    }
    int64_t B = branch->shape[0], shape[3] = {B, 1, 1};
    at_tensor *mask = at_rand(rng, AT_F32, 3, shape);
    if (!mask) return NULL;
    float *m = at_data(mask);
    double keep = 1.0 - p;
    for (int64_t i = 0; i < B; i++) m[i] = (float)(floor(keep + m[i]) / keep);
    mask = ir_on_device_of(mask, branch);
    at_tensor *out = mask ? at_mul(branch, mask) : NULL;
    at_release(mask);
    return out;
}

/* softmax(q·kᵀ/√D)·v over heads split from one fused projection, then the
 * output projection. x is (B, N, W) after norm1. */
static at_tensor *self_attention(const ir_vit *vit, const ir_vit_block *b, at_tensor *x) {
    int64_t B = x->shape[0], N = x->shape[1], W = vit->cfg.width, H = vit->cfg.heads, D = W / H;
    int64_t split[5] = {B, N, 3, H, D}, merged[3] = {B, N, W};
    int to_heads[5] = {2, 0, 3, 1, 4}, to_tokens[4] = {0, 2, 1, 3};
    at_tensor *qkv = at_linear(x, b->qkv_w, b->qkv_b), *q = NULL, *k = NULL, *v = NULL, *a = NULL;
    if (qkv && ir_step(&qkv, at_reshape(qkv, 5, split)) && ir_step(&qkv, at_permute(qkv, to_heads)) &&
        (q = at_select(qkv, 0, 0)) && (k = at_select(qkv, 0, 1)) && (v = at_select(qkv, 0, 2)) &&
        (a = at_attention(q, k, v, NULL, 1.0 / sqrt((double)D))) && ir_step(&a, at_permute(a, to_tokens)) &&
        ir_step(&a, at_reshape(a, 3, merged)))
        ir_step(&a, at_linear(a, b->proj_w, b->proj_b));
    at_release(qkv);
    at_release(q);
    at_release(k);
    at_release(v);
    return a;
}

static at_tensor *mlp(const ir_vit_block *b, at_tensor *x) {
    at_tensor *h = at_linear(x, b->fc1_w, b->fc1_b);
    if (h && ir_step(&h, at_gelu(h))) ir_step(&h, at_linear(h, b->fc2_w, b->fc2_b));
    return h;
}

/* x + DropPath(branch(LN(x))), for both halves of a block. */
static at_tensor *residual(const ir_vit *vit, const ir_vit_block *b, at_tensor *x, bool attention, double p,
                           bool training, at_rng *rng) {
    double eps = vit->cfg.layer_norm_eps;
    at_tensor *h = attention ? at_layernorm(x, b->norm1_w, b->norm1_b, eps) : at_layernorm(x, b->norm2_w, b->norm2_b, eps);
    if (h && ir_step(&h, attention ? self_attention(vit, b, h) : mlp(b, h)) &&
        ir_step(&h, drop_path(h, p, training, rng)))
        ir_step(&h, at_add(x, h));
    return h;
}

/* One block as at_checkpoint runs it: the sizes, the block's parameters
 * (retained while the checkpoint needs them) and its drop-path rate. */
typedef struct {
    ir_vit vit;   /* only cfg is read */
    ir_vit_block block;
    double p;
    bool training;
} block_ctx;

static at_tensor *run_block(void *ctx, at_tensor *const *in, at_rng *rng) {
    const block_ctx *c = ctx;
    at_tensor *x = residual(&c->vit, &c->block, in[0], true, c->p, c->training, rng);
    if (x) ir_step(&x, residual(&c->vit, &c->block, x, false, c->p, c->training, rng));
    return x;
}

static void block_ctx_free(void *ctx) {
    block_ctx *c = ctx;
    ir_release_all(&c->block, sizeof c->block);
    free(c);
}

/* Both residual halves of a block. With recomputation and a graph to build
 * through x, only x is kept for the backward pass (the whole block, drop
 * path included, runs again there); a block whose input needs no gradient
 * (the first trainable one after frozen ones) stores its activations, or its
 * own parameters would get no gradient. */
static at_tensor *block_forward(const ir_vit *vit, const ir_vit_block *b, at_tensor *x, double p, bool training,
                                at_rng *rng) {
    block_ctx here = {.vit = {.cfg = vit->cfg}, .block = *b, .p = p, .training = training};
    if (!vit->recompute || !at_grad_enabled() || !x->requires_grad) return run_block(&here, &x, rng);
    block_ctx *c = malloc(sizeof *c);
    if (!c) {
        at_set_error("vit: out of memory for a recomputed block");
        return NULL;
    }
    *c = here;
    ir_retain_all(&c->block, sizeof c->block);
    return at_checkpoint(run_block, c, block_ctx_free, rng, 1, &x);
}

at_tensor *ir_vit_forward(const ir_vit *vit, at_tensor *pixels, bool training, at_rng *rng) {
    const ir_vision_config *c = &vit->cfg;
    char sp[128];
    if (!pixels || pixels->ndim != 4 || pixels->shape[0] < 1 || pixels->shape[1] != 3 ||
        pixels->shape[2] != c->image_size || pixels->shape[3] != c->image_size || pixels->dtype != AT_F32) {
        at_set_error("vit: pixels must be f32 (B, 3, %lld, %lld), got %s %s", (long long)c->image_size,
                     (long long)c->image_size, pixels ? at_dtype_name(pixels->dtype) : "no tensor",
                     pixels ? at_shape_str(pixels, sp, sizeof sp) : "");
        return NULL;
    }
    if (training && c->drop_path_rate > 0 && !rng) {
        at_set_error("vit: training with drop_path_rate %g needs a random generator", c->drop_path_rate);
        return NULL;
    }
    int64_t B = pixels->shape[0], cls_shape[3] = {B, 1, c->width};
    at_tensor *x = patch_embed(vit, pixels), *cls = NULL;
    if (!x || !(cls = at_expand(vit->cls_token, 3, cls_shape))) goto fail;
    at_tensor *parts[2] = {cls, x};
    if (!ir_step(&x, at_concat(2, parts, 1)) || !ir_step(&x, at_add(x, vit->pos_embed))) goto fail;
    for (int64_t i = 0; i < c->depth; i++) {
        /* torch.linspace(0, rate, depth)[i]: block 0 never drops */
        double p = c->depth > 1 ? c->drop_path_rate * (double)i / (double)(c->depth - 1) : 0.0;
        if (!ir_step(&x, block_forward(vit, &vit->blocks[i], x, p, training, rng))) goto fail;
    }
    if (!ir_step(&x, at_layernorm(x, vit->norm_w, vit->norm_b, c->layer_norm_eps))) goto fail;
    at_release(cls);
    return x;
fail:
    at_release(cls);
    at_release(x);
    return NULL;
}

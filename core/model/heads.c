/* Multi-head attention plumbing (heads.h). */
#include "heads.h"

#include "../autograd.h"
#include "../ops.h"
#include "steps.h"

at_tensor *ir_split_heads(at_tensor *x, int64_t H) {
    int64_t B = x->shape[0], L = x->shape[1], split[4] = {B, L, H, x->shape[2] / H};
    int perm[4] = {0, 2, 1, 3};
    at_tensor *t = at_reshape(x, 4, split);
    if (t) ir_step(&t, at_permute(t, perm));
    return t;
}

at_tensor *ir_merge_heads(at_tensor *x) {
    int64_t merged[3] = {x->shape[0], x->shape[2], x->shape[1] * x->shape[3]};
    int to_tokens[4] = {0, 2, 1, 3};
    at_tensor *t = at_permute(x, to_tokens);
    if (t) ir_step(&t, at_reshape(t, 3, merged));
    return t;
}

at_tensor *ir_extended_mask(at_tensor *mask) {
    int64_t B = mask->shape[0], L = mask->shape[1], shape[4] = {B, 1, 1, L};
    at_tensor *ext = at_empty_uninit(AT_F32, 4, shape), *host = ext ? ir_on_host(mask) : NULL;
    if (!host) {
        at_release(ext);
        return NULL;
    }
    float *e = at_data(ext);
    for (int64_t i = 0; i < B * L; i++) e[i] = (1.0f - (float)at_get_linear(host, i)) * -10000.0f;
    at_release(host);
    return ir_on_device_of(ext, mask);
}

at_tensor *ir_attention_probabilities(at_tensor *q, at_tensor *k, at_tensor *mask, double scale) {
    bool was = at_set_grad_enabled(false);
    at_tensor *kt = at_transpose(k, 2, 3), *s = kt ? at_matmul(q, kt) : NULL;
    if (s && ir_step(&s, at_scale(s, scale)) && (!mask || ir_step(&s, at_add(s, mask)))) ir_step(&s, at_softmax(s));
    at_release(kt);
    at_set_grad_enabled(was);
    return s;
}

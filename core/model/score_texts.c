/* Every text against every image from one image encoding: the ViT, by far
 * the larger encoder, runs once per image however many texts are scored
 * (ImageReward's Python score, and scoring text by text, rerun it for each). */
#include "imagereward.h"

#include "../autograd.h"
#include "../ops.h"

/* A (texts * images, ...) tensor, contiguous, from t: row (k, i) is t's row
 * i when t has one row per image (t is (images, ...)), or t's row k when
 * per_text (t is (texts, ...)). */
static at_tensor *repeat_rows(at_tensor *t, int64_t texts, int64_t images, bool per_text) {
    int64_t one[AT_MAX_DIMS + 1], big[AT_MAX_DIMS + 1], flat[AT_MAX_DIMS];
    int nd = t->ndim;
    one[0] = per_text ? texts : 1, one[1] = per_text ? 1 : images;
    big[0] = texts, big[1] = images, flat[0] = texts * images;
    for (int d = 1; d < nd; d++) one[d + 1] = big[d + 1] = flat[d] = t->shape[d];
    at_tensor *u = at_reshape(t, nd + 1, one);
    at_tensor *e = u ? at_expand(u, nd + 1, big) : NULL;
    at_tensor *c = e ? at_contiguous(e) : NULL;
    at_tensor *r = c ? at_reshape(c, nd, flat) : NULL;
    at_release(u);
    at_release(e);
    at_release(c);
    return r;
}

/* t (texts * images, rest...) seen as (texts, images, rest...), in place. */
static int unflatten(at_tensor **t, int64_t texts, int64_t images) {
    if (!*t) return 0;
    int64_t shape[AT_MAX_DIMS];
    int nd = (*t)->ndim + 1;
    if (nd > AT_MAX_DIMS) {
        at_set_error("score_texts: an output of %d dims cannot gain one", (*t)->ndim);
        return -1;
    }
    shape[0] = texts, shape[1] = images;
    for (int d = 1; d < (*t)->ndim; d++) shape[d + 1] = (*t)->shape[d];
    at_tensor *r = at_reshape(*t, nd, shape);
    if (!r) return -1;
    at_release(*t);
    *t = r;
    return 0;
}

int ir_model_score_texts(const ir_model *m, at_tensor *image, at_tensor *ids, at_tensor *mask, ir_output *out) {
    *out = (ir_output){0};
    if (!image || image->ndim != 3 || !ids || ids->ndim != 2 || !mask) {
        at_set_error("score_texts: needs an image encoding (images, tokens, width) and ids, mask (texts, L)");
        return -1;
    }
    int64_t images = image->shape[0], texts = ids->shape[0];
    bool was = at_set_grad_enabled(false);
    at_tensor *img = repeat_rows(image, texts, images, false);
    at_tensor *rid = img ? repeat_rows(ids, texts, images, true) : NULL;
    at_tensor *rmask = rid ? repeat_rows(mask, texts, images, true) : NULL;
    int rc = rmask ? ir_model_forward_encoded(m, img, rid, rmask, NULL, out) : -1;
    at_set_grad_enabled(was);
    at_release(img);
    at_release(rid);
    at_release(rmask);
    if (rc == 0 && (unflatten(&out->features, texts, images) || unflatten(&out->rewards, texts, images) ||
                    unflatten(&out->scores, texts, images) || unflatten(&out->metric_scores, texts, images))) {
        ir_output_clear(out);
        rc = -1;
    }
    return rc;
}

/* Every text against every image from one image encoding: the ViT, by far
 * the larger encoder, runs once per image however many texts are scored
 * (ImageReward's Python score, and scoring text by text, rerun it for each),
 * and so do the cross-attention layers' key and value projections of the
 * image tokens (ir_bert_forward_shared_image). */
#include "imagereward.h"

#include "../autograd.h"
#include "../ops.h"
#include "text_side.h"

/* A (texts * images, ...) tensor, contiguous, from t (texts, ...): row
 * (k, i) is t's row k. */
static at_tensor *repeat_rows(at_tensor *t, int64_t texts, int64_t images) {
    int64_t one[AT_MAX_DIMS + 1], big[AT_MAX_DIMS + 1], flat[AT_MAX_DIMS];
    int nd = t->ndim;
    one[0] = texts, one[1] = 1;
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

int ir_model_score_rows(const ir_model *m, at_tensor *image, at_tensor *ids, at_tensor *mask, ir_output *out) {
    *out = (ir_output){0};
    char si[128], se[128];
    if (!image || image->ndim != 3 || !ids || ids->ndim != 2 || !mask || !at_same_shape(ids, mask) ||
        image->shape[0] < 1 || ids->shape[0] < 1 || ids->shape[0] % image->shape[0] != 0) {
        at_set_error("score_rows: needs an image encoding (B, tokens, width) and ids, mask (T*B, L), got %s and ids %s",
                     image ? at_shape_str(image, se, sizeof se) : "none", ids ? at_shape_str(ids, si, sizeof si) : "none");
        return -1;
    }
    at_tensor *ids_run = NULL, *mask_run = NULL, *h = NULL;
    bool was = at_set_grad_enabled(false);
    int rc = -1;
    if (!ir_model_trim_text(ids, mask, &ids_run, &mask_run) &&
        (h = ir_bert_forward_shared_image(&m->bert, ids_run, mask_run, image, ids->shape[0] / image->shape[0])))
        rc = ir_model_outputs_of_hidden(m, h, mask_run, &(ir_forward_opts){0}, out);
    at_set_grad_enabled(was);
    at_release(ids_run);
    at_release(mask_run);
    at_release(h);
    if (rc) ir_output_clear(out);
    return rc;
}

int ir_model_score_texts(const ir_model *m, at_tensor *image, at_tensor *ids, at_tensor *mask, ir_output *out) {
    *out = (ir_output){0};
    if (!image || image->ndim != 3 || !ids || ids->ndim != 2 || !mask || !at_same_shape(ids, mask)) {
        at_set_error("score_texts: needs an image encoding (images, tokens, width) and ids, mask (texts, L)");
        return -1;
    }
    int64_t images = image->shape[0], texts = ids->shape[0];
    /* Trimming the repeated rows trims the texts: the same longest text. */
    at_tensor *rids = repeat_rows(ids, texts, images), *rmask = rids ? repeat_rows(mask, texts, images) : NULL;
    int rc = rmask ? ir_model_score_rows(m, image, rids, rmask, out) : -1;
    at_release(rids);
    at_release(rmask);
    if (rc == 0 && (unflatten(&out->features, texts, images) || unflatten(&out->rewards, texts, images) ||
                    unflatten(&out->scores, texts, images) || unflatten(&out->metric_scores, texts, images))) {
        ir_output_clear(out);
        rc = -1;
    }
    return rc;
}

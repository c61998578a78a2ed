/* Gradients over a parameter list: zero_grad and clip_grad_norm (torch's
 * arithmetic; see optim.h). */
#include <math.h>
#include <stdlib.h>

#include "../autograd.h"
#include "../device.h"
#include "../ops.h"
#include "../parallel.h"
#include "optim.h"

/* Makes p->grad a contiguous tensor whose bytes nothing else sees, so it can
 * be changed in place: backward may hand the same gradient tensor to two
 * inputs, or a view of a gradient it keeps. */
static int own_grad(at_tensor *p) {
    at_tensor *g = p->grad;
    if (g->refcount == 1 && g->storage->refcount == 1 && at_is_contiguous(g)) return 0;
    at_tensor *copy = at_clone_data(g);
    if (!copy) return -1;
    at_release(g);
    p->grad = copy;
    return 0;
}

void at_zero_grads(int n, at_tensor *const *params, bool set_to_none) {
    for (int i = 0; i < n; i++) {
        at_tensor *p = params[i];
        if (!p || !p->grad) continue;
        if (set_to_none || own_grad(p)) at_zero_grad(p);   /* no memory for a private copy: drop it */
        else at_fill_(p->grad, 0);
    }
}

#define SUMSQ_BLOCK 4096

/* Sum of squares in double, in fixed blocks summed in order: the same bits
 * for any thread count. */
static double sum_squares(const at_tensor *t) {
    int64_t n = at_numel(t), nb = (n + SUMSQ_BLOCK - 1) / SUMSQ_BLOCK;
    double local[64], *part = nb <= 64 ? local : malloc((size_t)nb * sizeof *part);
    if (!part) return NAN;
    const float *xf = t->dtype == AT_F32 ? at_data(t) : NULL;
    const double *xd = t->dtype == AT_F64 ? at_data(t) : NULL;
#pragma omp parallel for schedule(static) if (n >= AT_PARALLEL_MIN)
    for (int64_t b = 0; b < nb; b++) {
        int64_t i0 = b * SUMSQ_BLOCK, i1 = i0 + SUMSQ_BLOCK < n ? i0 + SUMSQ_BLOCK : n;
        double lane[8] = {0};
        int64_t i = i0;
        if (xf)
            for (; i + 8 <= i1; i += 8)
                for (int l = 0; l < 8; l++) lane[l] += (double)xf[i + l] * xf[i + l];
        else
            for (; i + 8 <= i1; i += 8)
                for (int l = 0; l < 8; l++) lane[l] += xd[i + l] * xd[i + l];
        for (int l = 0; i < i1; i++, l++) {
            double x = xf ? xf[i] : xd[i];
            lane[l] += x * x;
        }
        part[b] = ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
    }
    double s = 0;
    for (int64_t b = 0; b < nb; b++) s += part[b];
    if (part != local) free(part);
    return s;
}

static void scale_grad(at_tensor *g, double coef) {
    if (at_on_cuda(g)) {
        bool was = at_set_grad_enabled(false);
        at_tensor *scaled = at_scale(g, coef);
        if (scaled) at_copy_(g, scaled);
        at_release(scaled);
        at_set_grad_enabled(was);
        return;
    }
    int64_t n = at_numel(g);
    if (g->dtype == AT_F32) {
        float *x = at_data(g), c = (float)coef;
#pragma omp parallel for schedule(static) if (n >= AT_PARALLEL_MIN)
        for (int64_t i = 0; i < n; i++) x[i] *= c;
    } else {
        double *x = at_data(g);
#pragma omp parallel for schedule(static) if (n >= AT_PARALLEL_MIN)
        for (int64_t i = 0; i < n; i++) x[i] *= coef;
    }
}

/* Each gradient's sum of squares (0 where there is none). Those on the GPU
 * are summed there into one array read back once: a read per parameter
 * would wait on the GPU hundreds of times a step. */
static double *gradient_squares(int n, at_tensor *const *params) {
    double *squares = calloc((size_t)(n > 0 ? n : 1), sizeof *squares);
    if (!squares) {
        at_set_error("clip_grad_norm: out of memory");
        return NULL;
    }
    int64_t count = n;
    at_tensor *on_gpu = NULL;
    for (int i = 0; i < n; i++) {
        at_tensor *g = params[i] ? params[i]->grad : NULL;
        if (!g) continue;
        if (!at_on_cuda(g)) {
            squares[i] = sum_squares(g);
            continue;
        }
        const at_backend *b = at_backend_of(AT_CUDA, "clip_grad_norm");
        if (!b || (!on_gpu && !(on_gpu = at_empty_on(AT_CUDA, AT_F64, 1, &count)))) goto fail;
        if (b->sum_squares((double *)at_data(on_gpu) + i, at_data(g), g->dtype, at_numel(g))) goto fail;
    }
    if (on_gpu) {
        double *read = at_to_f64_array(on_gpu);
        if (!read) goto fail;
        for (int i = 0; i < n; i++)
            if (params[i] && params[i]->grad && at_on_cuda(params[i]->grad)) squares[i] = read[i];
        free(read);
        at_release(on_gpu);
    }
    return squares;
fail:
    at_release(on_gpu);
    free(squares);
    return NULL;
}

int at_clip_grad_norm(int n, at_tensor *const *params, double max_norm, double *total_norm) {
    *total_norm = 0;
    bool any = false, f64 = false;
    for (int i = 0; i < n; i++) {
        at_tensor *g = params[i] ? params[i]->grad : NULL;
        if (!g) continue;
        if (g->dtype != AT_F32 && g->dtype != AT_F64) {
            char s[128];
            at_set_error("clip_grad_norm: the gradient of parameter %d is %s %s; only f32 and f64 tensors",
                         i, at_dtype_name(g->dtype), at_shape_str(g, s, sizeof s));
            return -1;
        }
        any = true;
        f64 |= g->dtype == AT_F64;
    }
    if (!any) return 0;
    for (int i = 0; i < n; i++)
        if (params[i] && params[i]->grad && own_grad(params[i])) return -1;
    double *squares = gradient_squares(n, params);
    if (!squares) return -1;
    /* torch: the norm of the stacked per-gradient norms, each in the
     * gradients' dtype; then clamp(max_norm * (1 / (total + 1e-6)), max=1). */
    double sum = 0;
    for (int i = 0; i < n; i++) {
        if (!params[i] || !params[i]->grad) continue;
        double norm = sqrt(squares[i]);
        if (!f64) norm = (float)norm;
        sum += norm * norm;
    }
    free(squares);
    double total = sqrt(sum), coef;
    if (f64) {
        coef = (1.0 / (total + 1e-6)) * max_norm;
    } else {
        total = (float)total;
        float recip = 1.0f / ((float)total + (float)1e-6);
        coef = recip * (float)max_norm;
    }
    if (coef > 1.0) coef = 1.0;   /* a NaN coefficient stays NaN, as with torch.clamp */
    for (int i = 0; i < n; i++)
        if (params[i] && params[i]->grad) scale_grad(params[i]->grad, coef);
    *total_norm = total;
    return 0;
}

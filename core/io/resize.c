/* Pillow 9.4's Image.resize(size, BICUBIC), step for step (Resample.c,
 * Geometry.c ImagingScaleAffine, Convert.c), computed over one window of the
 * output only. Every output pixel of Pillow's two passes depends only on its
 * own coefficients and the rows and columns they cover, so leaving out the
 * pixels a crop would throw away changes none of the others.
 *
 * The coefficients are computed in double precision in exactly Pillow's
 * expression order; floating-point contraction is off here because a fused
 * multiply-add would round differently from the compiled Pillow. */
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "image.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define PRECISION_BITS (32 - 8 - 2)

/* Keys' cubic with a = -0.5, Pillow's bicubic_filter. */
static double bicubic(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

/* Filter taps for output indices [first, first + n) of an in_size -> out_size
 * resize: Pillow's precompute_coeffs (support 2) and normalize_coeffs_8bpc. */
typedef struct {
    int ksize;
    int *start, *count;   /* the input range of each output index */
    double *weights;      /* ksize a row, normalised to sum 1 */
    int32_t *fixed;       /* the same in 22-bit fixed point */
} taps;

static void taps_free(taps *t) {
    free(t->start);
    free(t->count);
    free(t->weights);
    free(t->fixed);
}

static int taps_make(taps *t, int in_size, int out_size, int first, int n) {
    /* Pillow passes the box as floats: (double)(in1 - in0) / outSize. */
    double scale = (double)((float)in_size - 0.0f) / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 2.0 * filterscale;
    t->ksize = (int)ceil(support) * 2 + 1;
    t->start = malloc(sizeof(int) * (size_t)n);
    t->count = malloc(sizeof(int) * (size_t)n);
    t->weights = calloc((size_t)n * (size_t)t->ksize, sizeof(double));
    t->fixed = calloc((size_t)n * (size_t)t->ksize, sizeof(int32_t));
    if (!t->start || !t->count || !t->weights || !t->fixed) {
        taps_free(t);
        at_set_error("image resize: out of memory for %d filter taps", n);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        int xx = first + i;
        double center = 0.0 + (xx + 0.5) * scale;
        double ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double *k = t->weights + (size_t)i * t->ksize;
        for (int x = 0; x < xmax; x++) {
            double w = bicubic((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (int x = 0; x < xmax; x++)
            if (ww != 0.0) k[x] /= ww;
        int32_t *f = t->fixed + (size_t)i * t->ksize;
        for (int x = 0; x < xmax; x++)
            f[x] = k[x] < 0 ? (int)(-0.5 + k[x] * (1 << PRECISION_BITS))
                            : (int)(0.5 + k[x] * (1 << PRECISION_BITS));
        t->start[i] = xmin;
        t->count[i] = xmax;
    }
    return 0;
}

static inline uint8_t clip8(int v) {
    v >>= PRECISION_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Pillow's ROUND_UP for the 32-bit passes. */
static inline int32_t round_up(double f) { return (int32_t)(f >= 0.0 ? f + 0.5F : f - 0.5F); }

/* One row of the horizontal pass, for a channel count known at compile time
 * so the channel loops unroll and the sums stay in registers. */
static inline __attribute__((always_inline)) void horizontal_row_u8(const uint8_t *in, uint8_t *out,
                                                                    const taps *t, int n, const int c) {
    for (int i = 0; i < n; i++) {
        const int32_t *k = t->fixed + (size_t)i * t->ksize;
        const uint8_t *p = in + (size_t)t->start[i] * c;
        int ss[4];
        for (int ch = 0; ch < c; ch++) ss[ch] = 1 << (PRECISION_BITS - 1);
        for (int x = 0; x < t->count[i]; x++)
            for (int ch = 0; ch < c; ch++) ss[ch] += p[x * c + ch] * k[x];
        for (int ch = 0; ch < c; ch++) out[i * c + ch] = clip8(ss[ch]);
    }
}

/* Horizontal pass: rows [row0, row0 + rows) of src (width src_w) into dst
 * (width n = the horizontal taps' count). */
static void horizontal_u8(const uint8_t *src, int src_w, int row0, int rows, int c,
                          const taps *t, int n, uint8_t *dst) {
    for (int y = 0; y < rows; y++) {
        const uint8_t *in = src + (size_t)(row0 + y) * src_w * c;
        uint8_t *out = dst + (size_t)y * n * c;
        switch (c) {
        case 1: horizontal_row_u8(in, out, t, n, 1); break;
        case 2: horizontal_row_u8(in, out, t, n, 2); break;
        case 3: horizontal_row_u8(in, out, t, n, 3); break;
        default: horizontal_row_u8(in, out, t, n, 4); break;
        }
    }
}

/* Vertical pass: output rows from src (w pixels a row, its row 0 being
 * input row base). Each pixel still sums its taps in Pillow's order. */
static int vertical_u8(const uint8_t *src, int w, int base, int c, const taps *t, int n,
                       uint8_t *dst) {
    size_t row = (size_t)w * c;
    int *acc = malloc(sizeof(int) * row);
    if (!acc) {
        at_set_error("image resize: out of memory");
        return -1;
    }
    for (int j = 0; j < n; j++) {
        const int32_t *k = t->fixed + (size_t)j * t->ksize;
        const uint8_t *in = src + (size_t)(t->start[j] - base) * row;
        for (size_t v = 0; v < row; v++) acc[v] = 1 << (PRECISION_BITS - 1);
        for (int y = 0; y < t->count[j]; y++) {
            const uint8_t *line = in + (size_t)y * row;
            int32_t ky = k[y];
            for (size_t v = 0; v < row; v++) acc[v] += line[v] * ky;
        }
        uint8_t *out = dst + (size_t)j * row;
        for (size_t v = 0; v < row; v++) out[v] = clip8(acc[v]);
    }
    free(acc);
    return 0;
}

static void horizontal_i32(const int32_t *src, int src_w, int row0, int rows, const taps *t, int n,
                           int32_t *dst) {
    for (int y = 0; y < rows; y++) {
        const int32_t *in = src + (size_t)(row0 + y) * src_w;
        for (int i = 0; i < n; i++) {
            const double *k = t->weights + (size_t)i * t->ksize;
            const int32_t *p = in + t->start[i];
            double ss = 0.0;
            for (int x = 0; x < t->count[i]; x++) ss += p[x] * k[x];
            dst[(size_t)y * n + i] = round_up(ss);
        }
    }
}

static int vertical_i32(const int32_t *src, int w, int base, const taps *t, int n, int32_t *dst) {
    double *acc = malloc(sizeof(double) * (size_t)w);
    if (!acc) {
        at_set_error("image resize: out of memory");
        return -1;
    }
    for (int j = 0; j < n; j++) {
        const double *k = t->weights + (size_t)j * t->ksize;
        const int32_t *in = src + (size_t)(t->start[j] - base) * w;
        for (int v = 0; v < w; v++) acc[v] = 0.0;
        for (int y = 0; y < t->count[j]; y++)
            for (int v = 0; v < w; v++) acc[v] += in[(size_t)y * w + v] * k[y];
        for (int v = 0; v < w; v++) dst[(size_t)j * w + v] = round_up(acc[v]);
    }
    free(acc);
    return 0;
}

/* Pillow's RGBA -> RGBa and La: MULDIV255, rounding. */
static inline uint8_t muldiv255(unsigned a, unsigned b) {
    unsigned t = a * b + 128;
    return (uint8_t)(((t >> 8) + t) >> 8);
}

static void premultiply(uint8_t *p, size_t pixels, int c) {
    for (size_t i = 0; i < pixels; i++, p += c)
        for (int k = 0; k < c - 1; k++) p[k] = muldiv255(p[k], p[c - 1]);
}

/* Pillow's RGBa -> RGBA and La -> LA: truncating division, clipped. */
static void unpremultiply(uint8_t *p, size_t pixels, int c) {
    for (size_t i = 0; i < pixels; i++, p += c) {
        unsigned alpha = p[c - 1];
        if (alpha == 255 || alpha == 0) continue;
        for (int k = 0; k < c - 1; k++) {
            unsigned v = 255u * p[k] / alpha;
            p[k] = (uint8_t)(v > 255 ? 255 : v);
        }
    }
}

/* Pillow resizes "1" and "P" with NEAREST through ImagingScaleAffine: source
 * positions accumulated in double from the first output pixel on. */
static void nearest_window(const at_image *im, int out_w, int out_h, int x0, int y0, int w, int h,
                           at_image *out, int *xtab) {
    double ax = (double)((float)im->width - 0.0f) / out_w;
    double ay = (double)((float)im->height - 0.0f) / out_h;
    double xo = 0.0 + ax * 0.5, yo = 0.0 + ay * 0.5;
    for (int x = 0; x < x0 + w; x++, xo += ax)
        if (x >= x0) xtab[x - x0] = xo < 0.0 ? -1 : (int)xo;
    for (int y = 0; y < y0; y++) yo += ay;
    int c = im->channels;
    const uint8_t *src = im->pixels;
    uint8_t *dst = out->pixels;
    for (int y = 0; y < h; y++, yo += ay) {
        int yi = yo < 0.0 ? -1 : (int)yo;
        if (yi < 0 || yi >= im->height) continue;   /* stays 0, as Pillow's fill */
        for (int x = 0; x < w; x++) {
            int xi = xtab[x];
            if (xi < 0 || xi >= im->width) continue;
            memcpy(dst + ((size_t)y * w + x) * c, src + ((size_t)yi * im->width + xi) * c, (size_t)c);
        }
    }
}

static void copy_window(const at_image *im, int x0, int y0, at_image *out) {
    size_t value = im->mode == AT_IMAGE_I ? sizeof(int32_t) : 1;
    size_t row = (size_t)out->width * im->channels * value;
    for (int y = 0; y < out->height; y++)
        memcpy((char *)out->pixels + (size_t)y * row,
               (const char *)im->pixels +
                   (((size_t)(y0 + y) * im->width + x0) * im->channels) * value,
               row);
}

/* Bicubic for the 8-bit and 32-bit modes: horizontal first over only the
 * input rows the vertical pass reads, as ImagingResampleInner does; a pass
 * whose size does not change is skipped, as there. */
static int bicubic_window(const at_image *src, int out_w, int out_h, int x0, int y0, int w, int h,
                          at_image *out) {
    bool need_h = out_w != src->width, need_v = out_h != src->height;
    bool wide = src->mode == AT_IMAGE_I;
    int c = src->channels;
    size_t value = wide ? sizeof(int32_t) : 1;
    size_t line = (size_t)w * c * value;   /* bytes a row of the window */
    taps tv = {0}, th = {0};
    void *mid = NULL;
    int rc = -1;

    if (need_v && taps_make(&tv, src->height, out_h, y0, h) < 0) return -1;
    /* The input rows the window needs: those the vertical taps cover. */
    int row0 = need_v ? tv.start[0] : y0;
    int row1 = need_v ? tv.start[h - 1] + tv.count[h - 1] : y0 + h;
    /* Rows [row0, row1) of the horizontal pass, or of the source's columns
     * [x0, x0 + w) when there is none. */
    void *target = need_v ? NULL : out->pixels;
    if (!target) {
        target = mid = malloc((size_t)(row1 - row0) * line);
        if (!mid) {
            at_set_error("image resize: out of memory for %d x %d intermediate pixels", w, row1 - row0);
            goto done;
        }
    }
    if (need_h) {
        if (taps_make(&th, src->width, out_w, x0, w) < 0) goto done;
        if (wide) horizontal_i32(src->pixels, src->width, row0, row1 - row0, &th, w, target);
        else horizontal_u8(src->pixels, src->width, row0, row1 - row0, c, &th, w, target);
    } else {
        for (int y = row0; y < row1; y++)
            memcpy((char *)target + (size_t)(y - row0) * line,
                   (const char *)src->pixels + ((size_t)y * src->width + x0) * c * value, line);
    }
    if (need_v) {
        int ok = wide ? vertical_i32(mid, w, row0, &tv, h, out->pixels)
                      : vertical_u8(mid, w, row0, c, &tv, h, out->pixels);
        if (ok < 0) goto done;
    }
    rc = 0;
done:
    free(mid);
    taps_free(&tv);
    taps_free(&th);
    return rc;
}

at_image *at_image_resize_window(const at_image *im, int out_w, int out_h, int x0, int y0, int w,
                                 int h) {
    if (!im || !im->pixels) {
        at_set_error("image resize: no image");
        return NULL;
    }
    if (out_w <= 0 || out_h <= 0 || w <= 0 || h <= 0 || x0 < 0 || y0 < 0 || x0 > out_w - w ||
        y0 > out_h - h) {
        at_set_error("image resize: window %d x %d at (%d, %d) is not inside a %d x %d output "
                     "(input %d x %d %s)", w, h, x0, y0, out_w, out_h, im->width, im->height,
                     at_image_mode_name(im->mode));
        return NULL;
    }
    at_image *out = at_image_new(w, h, im->mode);
    if (!out) return NULL;
    if (out_w == im->width && out_h == im->height) {   /* Pillow: self.copy() */
        copy_window(im, x0, y0, out);
        return out;
    }
    if (im->mode == AT_IMAGE_P || im->mode == AT_IMAGE_1) {
        int *xtab = malloc(sizeof(int) * (size_t)w);
        if (!xtab) {
            at_image_free(out);
            at_set_error("image resize: out of memory");
            return NULL;
        }
        nearest_window(im, out_w, out_h, x0, y0, w, h, out, xtab);
        free(xtab);
        return out;
    }
    const at_image *src = im;
    at_image *premultiplied = NULL;
    bool alpha = im->mode == AT_IMAGE_LA || im->mode == AT_IMAGE_RGBA;
    if (alpha) {   /* Pillow: convert to "La"/"RGBa", resize, convert back */
        premultiplied = at_image_new(im->width, im->height, im->mode);
        if (!premultiplied) {
            at_image_free(out);
            return NULL;
        }
        memcpy(premultiplied->pixels, im->pixels, (size_t)im->width * im->height * im->channels);
        premultiply(premultiplied->pixels, (size_t)im->width * im->height, im->channels);
        src = premultiplied;
    }
    int rc = bicubic_window(src, out_w, out_h, x0, y0, w, h, out);
    at_image_free(premultiplied);
    if (rc < 0) {
        at_image_free(out);
        return NULL;
    }
    if (alpha) unpremultiply(out->pixels, (size_t)w * h, out->channels);
    return out;
}

at_image *at_image_resize(const at_image *im, int out_w, int out_h) {
    return at_image_resize_window(im, out_w, out_h, 0, 0, out_w, out_h);
}

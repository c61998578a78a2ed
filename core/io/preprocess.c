/* ImageReward's _transform(n_px) on a decoded image, bit for bit:
 *   Resize(n_px, BICUBIC)  torchvision 0.14 on a PIL image: shorter side to
 *                          n_px, longer to int(n_px * long / short); an image
 *                          already that size is returned as it is
 *   CenterCrop(n_px)       offsets int(round((H - n_px) / 2.0)), Python's
 *                          round: half to even
 *   convert("RGB")         Pillow's conversion from the image's mode
 *   ToTensor, Normalize    float32: v / 255, then (x - mean) / std with the
 *                          OpenAI CLIP constants as float32 tensors
 * Resize and crop are done together (at_image_resize_window). */
#include "image.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Python floats, narrowed to float32 as torch.as_tensor(mean, float32) does. */
static const double clip_mean[3] = {0.48145466, 0.4578275, 0.40821073};
static const double clip_std[3] = {0.26862954, 0.26130258, 0.27577711};

static inline uint8_t muldiv255(unsigned a, unsigned b) {
    unsigned t = a * b + 128;
    return (uint8_t)(((t >> 8) + t) >> 8);
}

at_image *at_image_to_rgb(const at_image *im) {
    if (!im || !im->pixels) {
        at_set_error("image convert: no image");
        return NULL;
    }
    at_image *out = at_image_new(im->width, im->height, AT_IMAGE_RGB);
    if (!out) return NULL;
    size_t n = (size_t)im->width * im->height;
    const uint8_t *s = im->pixels;
    const int32_t *si = im->pixels;
    uint8_t *d = out->pixels;
    for (size_t i = 0; i < n; i++, d += 3) {
        switch (im->mode) {
        case AT_IMAGE_1:
        case AT_IMAGE_L: d[0] = d[1] = d[2] = s[i]; break;
        case AT_IMAGE_LA: d[0] = d[1] = d[2] = s[2 * i]; break;
        case AT_IMAGE_I: {   /* Pillow's i2rgb clips */
            int32_t v = si[i];
            d[0] = d[1] = d[2] = (uint8_t)(v <= 0 ? 0 : v >= 255 ? 255 : v);
            break;
        }
        case AT_IMAGE_P:
        case AT_IMAGE_RGB: memcpy(d, s + 3 * i, 3); break;
        case AT_IMAGE_RGBA: memcpy(d, s + 4 * i, 3); break;   /* alpha dropped, not composited */
        case AT_IMAGE_CMYK: {   /* Pillow's cmyk2rgb */
            const uint8_t *p = s + 4 * i;
            unsigned nk = 255u - p[3];
            for (int k = 0; k < 3; k++) {
                int v = (int)nk - muldiv255(p[k], nk);
                d[k] = (uint8_t)(v < 0 ? 0 : v);
            }
            break;
        }
        }
    }
    return out;
}

/* torchvision's _compute_resized_output_size for an int size. */
static int resized_size(const at_image *im, int size, int *out_w, int *out_h) {
    int64_t w = im->width, h = im->height;
    int64_t shorter = w <= h ? w : h, longer = w <= h ? h : w;
    double scaled = (double)(size * longer) / (double)shorter;
    if (scaled >= 2147483647.0) {
        at_set_error("image preprocess: a %lld x %lld image resized to %d on its shorter side is "
                     "too large", (long long)w, (long long)h, size);
        return -1;
    }
    int new_long = (int)scaled;
    *out_w = w <= h ? size : new_long;
    *out_h = w <= h ? new_long : size;
    return 0;
}

/* int(round(d / 2.0)) for d >= 0, with Python's half-to-even rounding. */
static int centre_offset(int d) {
    int half = d / 2;
    if (d % 2 && half % 2) half++;
    return half;
}

at_image *at_image_resize_center_crop(const at_image *im, int size) {
    if (!im || !im->pixels) {
        at_set_error("image preprocess: no image");
        return NULL;
    }
    if (size <= 0) {
        at_set_error("image preprocess: image size must be positive, got %d", size);
        return NULL;
    }
    int new_w, new_h;
    if (resized_size(im, size, &new_w, &new_h) < 0) return NULL;
    at_image *cropped = at_image_resize_window(im, new_w, new_h, centre_offset(new_w - size),
                                               centre_offset(new_h - size), size, size);
    if (!cropped || cropped->mode == AT_IMAGE_RGB) return cropped;
    at_image *rgb = at_image_to_rgb(cropped);
    at_image_free(cropped);
    return rgb;
}

int at_image_preprocess(const at_image *im, int size, float *out) {
    at_image *rgb = at_image_resize_center_crop(im, size);
    if (!rgb) return -1;
    float table[3][256];
    for (int c = 0; c < 3; c++) {
        float mean = (float)clip_mean[c], std = (float)clip_std[c];
        for (int v = 0; v < 256; v++) table[c][v] = ((float)v / 255.0f - mean) / std;
    }
    size_t plane = (size_t)size * size;
    const uint8_t *p = rgb->pixels;
    for (size_t i = 0; i < plane; i++)
        for (int c = 0; c < 3; c++) out[c * plane + i] = table[c][p[3 * i + c]];
    at_image_free(rgb);
    return 0;
}

at_tensor *at_image_preprocess_tensor(const at_image *im, int size) {
    if (size <= 0) {
        at_set_error("image preprocess: image size must be positive, got %d", size);
        return NULL;
    }
    int64_t shape[3] = {3, size, size};
    at_tensor *t = at_empty_uninit(AT_F32, 3, shape);
    if (!t) return NULL;
    if (at_image_preprocess(im, size, at_data(t)) < 0) {
        at_release(t);
        return NULL;
    }
    return t;
}

static int check_batch(const at_tensor *batch, int64_t row) {
    char shape[128];
    if (!batch) {
        at_set_error("image preprocess: no batch tensor");
        return -1;
    }
    if (batch->dtype != AT_F32 || batch->ndim != 4 || batch->shape[1] != 3 ||
        batch->shape[2] != batch->shape[3] || batch->shape[2] <= 0 || !at_is_contiguous(batch)) {
        at_set_error("image preprocess: batch must be a contiguous f32 (B, 3, S, S) tensor, got %s %s%s",
                     at_dtype_name(batch->dtype), at_shape_str(batch, shape, sizeof shape),
                     at_is_contiguous(batch) ? "" : " (not contiguous)");
        return -1;
    }
    if (row < 0 || row >= batch->shape[0]) {
        at_set_error("image preprocess: row %lld outside batch %s", (long long)row,
                     at_shape_str(batch, shape, sizeof shape));
        return -1;
    }
    return 0;
}

int at_image_preprocess_into(const at_image *im, at_tensor *batch, int64_t row) {
    if (check_batch(batch, row) < 0) return -1;
    int64_t size = batch->shape[2];
    if (size > 65536) {
        at_set_error("image preprocess: image size %lld too large", (long long)size);
        return -1;
    }
    float *dst = (float *)at_data(batch) + row * 3 * size * size;
    return at_image_preprocess(im, (int)size, dst);
}

int at_image_preprocess_file_into(const char *path, int64_t max_pixels, at_tensor *batch,
                                  int64_t row) {
    if (check_batch(batch, row) < 0) return -1;
    at_image *im = at_image_load(path, max_pixels);
    if (!im) return -1;
    int rc = at_image_preprocess_into(im, batch, row);
    at_image_free(im);
    return rc;
}

at_tensor *at_image_preprocess_files(const char *const *paths, int n, int size, int64_t max_pixels) {
    if (n <= 0 || !paths || size <= 0) {
        at_set_error("image preprocess: need at least one file and a positive size (got %d files, "
                     "size %d)", n, size);
        return NULL;
    }
    int64_t shape[4] = {n, 3, size, size};
    at_tensor *batch = at_empty_uninit(AT_F32, 4, shape);
    char **errors = calloc((size_t)n, sizeof(char *));
    unsigned char *failed = calloc((size_t)n, 1);
    if (!batch || !errors || !failed) {
        at_release(batch);
        free(errors);
        free(failed);
        at_set_error("image preprocess: out of memory for %d images of %d x %d", n, size, size);
        return NULL;
    }
    /* Errors are per thread (at_set_error is thread-local): keep each
     * file's message and report the first in input order. */
#pragma omp parallel for schedule(dynamic, 1) if (n > 1)
    for (int i = 0; i < n; i++) {
        if (at_image_preprocess_file_into(paths[i], max_pixels, batch, i) < 0) {
            const char *message = at_last_error();
            failed[i] = 1;
            errors[i] = malloc(strlen(message) + 1);
            if (errors[i]) strcpy(errors[i], message);
        }
    }
    for (int i = 0; i < n; i++)
        if (failed[i]) {
            at_set_error("%s", errors[i] ? errors[i] : "image preprocess: failed (no memory for the message)");
            at_release(batch);
            batch = NULL;
            break;
        }
    for (int i = 0; i < n; i++) free(errors[i]);
    free(errors);
    free(failed);
    return batch;
}

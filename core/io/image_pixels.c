/* Images as buffers: making and freeing them, their modes, and the pixel
 * limit every decoder checks (image.c, image_gif.c) before allocating. */
#include "image.h"
#include "image_internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

static const char *const mode_names[] = {"1", "L", "P", "I", "LA", "RGB", "RGBA", "CMYK"};
static const int mode_channels[] = {1, 1, 3, 1, 2, 3, 4, 4};

const char *at_image_mode_name(at_image_mode mode) {
    return (unsigned)mode < sizeof mode_names / sizeof *mode_names ? mode_names[mode] : "?";
}

int at_image_mode_channels(at_image_mode mode) {
    return (unsigned)mode < sizeof mode_channels / sizeof *mode_channels ? mode_channels[mode] : 0;
}

at_image *at_image_new(int width, int height, at_image_mode mode) {
    int channels = at_image_mode_channels(mode);
    if (width <= 0 || height <= 0 || channels == 0) {
        at_set_error("image: cannot make a %d x %d image of mode %s", width, height,
                     at_image_mode_name(mode));
        return NULL;
    }
    size_t value_size = mode == AT_IMAGE_I ? sizeof(int32_t) : 1;
    size_t bytes = (size_t)width * (size_t)height * (size_t)channels * value_size;
    at_image *im = malloc(sizeof *im);
    void *pixels = calloc(bytes, 1);
    if (!im || !pixels) {
        free(im);
        free(pixels);
        at_set_error("image: out of memory for a %d x %d %s image (%zu bytes)", width, height,
                     at_image_mode_name(mode), bytes);
        return NULL;
    }
    *im = (at_image){width, height, mode, channels, pixels};
    return im;
}

void at_image_free(at_image *im) {
    if (!im) return;
    free(im->pixels);
    free(im);
}

/* The limit a caller's max_pixels of 0 or less stands for: the environment's
 * AT_IMAGE_MAX_PIXELS_ENV when set (read at each check, so a service may set
 * it before any image is read; getenv is safe from the loader's threads while
 * nothing calls setenv), else the default. -1 after an error. */
int64_t at_image_pixel_limit(int64_t max_pixels) {
    if (max_pixels > 0) return max_pixels;
    const char *text = getenv(AT_IMAGE_MAX_PIXELS_ENV);
    if (!text || !*text) return AT_IMAGE_MAX_PIXELS_DEFAULT;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end || v < 1) {
        at_set_error("%s='%s' is not a positive whole number of pixels", AT_IMAGE_MAX_PIXELS_ENV, text);
        return -1;
    }
    return v;
}

int at_image_check_pixels(const char *name, int64_t w, int64_t h, int64_t max_pixels) {
    if (w <= 0 || h <= 0) {
        at_set_error("image '%s': invalid size %lld x %lld", name, (long long)w, (long long)h);
        return -1;
    }
    int64_t limit = at_image_pixel_limit(max_pixels);
    if (limit < 0) return -1;
    /* w > limit / h is w * h > limit without overflow: PNG sizes go to 2^32 - 1. */
    if (w > limit / h) {
        at_set_error("image '%s': %lld x %lld = %.0f pixels exceeds the limit of %lld pixels "
                     "(a possible decompression bomb; %s or the max_pixels option sets the limit)", name,
                     (long long)w, (long long)h, (double)w * (double)h, (long long)limit,
                     AT_IMAGE_MAX_PIXELS_ENV);
        return -1;
    }
    return 0;
}

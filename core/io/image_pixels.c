/* Images as buffers: making and freeing them, their modes, and the pixel
 * limit every decoder checks (image.c, image_gif.c) before allocating. */
#include "image.h"
#include "image_internal.h"

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

static int64_t pixel_limit(int64_t max_pixels) {
    return max_pixels > 0 ? max_pixels : AT_IMAGE_MAX_PIXELS_DEFAULT;
}

int at_image_check_pixels(const char *name, int64_t w, int64_t h, int64_t max_pixels) {
    if (w <= 0 || h <= 0) {
        at_set_error("image '%s': invalid size %lld x %lld", name, (long long)w, (long long)h);
        return -1;
    }
    /* w > limit / h is w * h > limit without overflow: PNG sizes go to 2^32 - 1. */
    if (w > pixel_limit(max_pixels) / h) {
        at_set_error("image '%s': %lld x %lld = %.0f pixels exceeds the limit of %lld pixels "
                     "(a possible decompression bomb)", name, (long long)w, (long long)h,
                     (double)w * (double)h, (long long)pixel_limit(max_pixels));
        return -1;
    }
    return 0;
}

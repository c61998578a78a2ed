/* Fuzzing the image decoders (core/io/image.c, image_gif.c): JPEG through
 * libjpeg-turbo, PNG/BMP/TGA through stb_image (compiled in, instrumented,
 * by build.sh), GIF through our own decoder; the format is sniffed from the
 * bytes, so one harness reaches them all. An image that decodes also goes
 * through ImageReward's preprocessing at a small size, which covers the
 * resize and convert("RGB") paths of every mode a decoder can produce. */
#include "fuzz_common.h"
#include "io/image.h"

/* 512 x 512: large enough for every header path, small enough to stay fast. */
#define FUZZ_MAX_PIXELS ((int64_t)512 * 512)

static volatile unsigned char fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    at_image *im = at_image_decode(data, size, "fuzz", FUZZ_MAX_PIXELS);
    if (!im) return 0;
    if (im->width <= 0 || im->height <= 0 || (int64_t)im->width * im->height > FUZZ_MAX_PIXELS ||
        im->channels != at_image_mode_channels(im->mode)) {
        fprintf(stderr, "fuzz: decoded %d x %d x %d of mode %s\n", im->width, im->height, im->channels,
                at_image_mode_name(im->mode));
        abort();
    }
    size_t value = im->mode == AT_IMAGE_I ? 4 : 1;
    size_t last = ((size_t)im->width * im->height * im->channels - 1) * value;
    fuzz_sink ^= ((const unsigned char *)im->pixels)[last];
    float out[3 * 7 * 7];
    if (at_image_preprocess(im, 7, out) != 0) {
        fprintf(stderr, "fuzz: a decoded image failed preprocessing: %s\n", at_last_error());
        abort();
    }
    at_image_free(im);
    return 0;
}

/* Images: decoding, and ImageReward's preprocessing, bit-exact with the
 * Python reference (Pillow 9.4 + torchvision 0.14).
 *
 * A decoded image keeps the pixel mode Pillow would give it, because the
 * mode decides how Pillow resizes it (bicubic, nearest for palette and
 * bilevel images, premultiplied for alpha, double precision for 32-bit
 * grey) and how convert("RGB") treats it afterwards. ImageReward converts to
 * RGB only after resizing and cropping, so the mode must survive until then.
 *
 * Decoders: JPEG through libjpeg-turbo with Pillow's settings (islow IDCT,
 * fancy upsampling, warnings silent, data missing before the last row is an
 * error as in Pillow without LOAD_TRUNCATED_IMAGES); PNG, BMP, TGA and GIF
 * through stb_image, with the mode read from the file's header as Pillow's
 * plugins read it. The format comes from the content, never the file name.
 * Where stb and Pillow differ, image.c says so at the top.
 *
 * Errors: functions return NULL or -1 after at_set_error with a message that
 * names the file (or the name given for a memory buffer). */
#ifndef AAPMT_IO_IMAGE_H
#define AAPMT_IO_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "../tensor.h"

/* Pillow's modes, by the name Pillow uses for them. */
typedef enum {
    AT_IMAGE_1,    /* "1": bilevel, stored as 0/255, 1 byte a pixel */
    AT_IMAGE_L,    /* "L": grey */
    AT_IMAGE_P,    /* "P": palette image, stored with the palette applied (RGB) */
    AT_IMAGE_I,    /* "I": 32-bit signed grey (16-bit PNG), int32_t a pixel */
    AT_IMAGE_LA,   /* "LA": grey + alpha, not premultiplied */
    AT_IMAGE_RGB,  /* "RGB" */
    AT_IMAGE_RGBA, /* "RGBA": not premultiplied */
    AT_IMAGE_CMYK, /* "CMYK": as Pillow holds it (Adobe JPEGs already inverted) */
} at_image_mode;

typedef struct {
    int width, height;
    at_image_mode mode;
    int channels;   /* values a pixel: 1, 2, 3 or 4 (at_image_mode_channels) */
    void *pixels;   /* row-major, width * channels values a row: uint8_t, or
                       int32_t for AT_IMAGE_I */
} at_image;

/* Pillow refuses images over 2 * Image.MAX_IMAGE_PIXELS pixels as
 * decompression bombs; that is the default bound here too. */
#define AT_IMAGE_MAX_PIXELS_DEFAULT ((int64_t)2 * 89478485)
/* The environment variable that replaces the default (a service lowers it). */
#define AT_IMAGE_MAX_PIXELS_ENV "AAPMT_MAX_IMAGE_PIXELS"
/* The bound a max_pixels argument means: itself when positive, else the
 * environment's value or the default; -1 after an error (a malformed value). */
int64_t at_image_pixel_limit(int64_t max_pixels);

const char *at_image_mode_name(at_image_mode mode);   /* "RGB", "P", ... */
int at_image_mode_channels(at_image_mode mode);
/* A zero-filled image; NULL after an error on a bad size or no memory. */
at_image *at_image_new(int width, int height, at_image_mode mode);
void at_image_free(at_image *im);                      /* NULL is fine */

/* Decodes a file, or bytes in memory (name is only for messages). A
 * max_pixels of 0 or less means the environment's limit or the default
 * (at_image_pixel_limit); the bound is checked against the header before
 * any pixel memory is allocated. A file is read whole first, at most 1 GiB
 * (AAPMT_MAX_IMAGE_BYTES; read_whole.h). */
at_image *at_image_load(const char *path, int64_t max_pixels);
at_image *at_image_decode(const void *data, size_t size, const char *name, int64_t max_pixels);

/* ---- resize.c: Pillow's Image.resize((out_w, out_h), BICUBIC) ----
 * As Pillow does it: an unchanged size is a plain copy; "1" and "P" are
 * resized with NEAREST; "LA" and "RGBA" are premultiplied, resized and
 * divided back (both steps in Pillow's integer arithmetic); 8-bit modes use
 * Pillow's 22-bit fixed-point bicubic (a = -0.5), horizontal pass first;
 * "I" uses its double-precision path. Only the window [x0, x0 + w) x
 * [y0, y0 + h) of the output is computed, so this is crop(resize(im)) in one
 * step and costs what the window costs. The result keeps the mode. */
at_image *at_image_resize_window(const at_image *im, int out_w, int out_h,
                                 int x0, int y0, int w, int h);
at_image *at_image_resize(const at_image *im, int out_w, int out_h);

/* ---- preprocess.c: ImageReward's _transform(size) ----
 * Resize(size, BICUBIC) -> CenterCrop(size) -> convert("RGB") -> ToTensor()
 * -> Normalize(CLIP mean, CLIP std), torchvision 0.14 on a PIL image. */

/* Pillow's convert("RGB") from any mode. */
at_image *at_image_to_rgb(const at_image *im);
/* The shorter side to size, the longer to int(size * long / short); then
 * the centred size x size window (offsets rounded half to even) and
 * convert("RGB"): the uint8 pixels ToTensor sees. */
at_image *at_image_resize_center_crop(const at_image *im, int size);
/* The whole transform: 3 * size * size floats, channel-major (C, H, W). */
int at_image_preprocess(const at_image *im, int size, float *out);
/* The same as a new f32 tensor (3, size, size). */
at_tensor *at_image_preprocess_tensor(const at_image *im, int size);
/* Fills row `row` of a contiguous f32 batch (B, 3, size, size), size taken
 * from the batch. Rows are independent, so a data loader may fill several
 * at once from different threads. */
int at_image_preprocess_into(const at_image *im, at_tensor *batch, int64_t row);
int at_image_preprocess_file_into(const char *path, int64_t max_pixels,
                                  at_tensor *batch, int64_t row);
/* Decodes and preprocesses n files in parallel into a new (n, 3, size, size)
 * f32 tensor. On failure: NULL, and the error of the first failing file in
 * input order. */
at_tensor *at_image_preprocess_files(const char *const *paths, int n, int size,
                                     int64_t max_pixels);

#endif

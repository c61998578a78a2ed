/* Shared by the image decoders (image.c, image_gif.c) and image_pixels.c,
 * which holds what both use; not a public header. */
#ifndef AAPMT_IMAGE_INTERNAL_H
#define AAPMT_IMAGE_INTERNAL_H

#include "image.h"

static inline unsigned at_le16(const uint8_t *p) { return (unsigned)p[1] << 8 | p[0]; }

/* 0, or -1 naming the file when w x h is empty or over the pixel limit
 * (max_pixels <= 0: Pillow's decompression-bomb limit). */
int at_image_check_pixels(const char *name, int64_t w, int64_t h, int64_t max_pixels);

/* The first frame of a GIF, with Pillow's mode ("P", or "L" for a grey ramp). */
at_image *at_image_decode_gif(const uint8_t *d, size_t n, const char *name, int64_t max_pixels);

#endif

/* GIF: the first frame, decoded as Pillow's GifDecode does.
 * Our own LZW decoder rather than stb's, because Pillow's result depends on
 * the indices: the canvas starts filled with the transparent index (else 0),
 * the first frame is written into its rectangle (the canvas grows when the
 * rectangle reaches past the logical screen), and decoding is done the moment
 * the last pixel is written. Like Pillow, a sub-block is used only when all
 * its bytes are in the file, empty sub-blocks are skipped, and running out of
 * data, or an end code, before the last pixel is an error (Pillow reports
 * "image file is truncated"; it would resume after an end code only when the
 * file still had unread chunks of 64 KiB, which we do not follow). */
#include "image.h"
#include "image_internal.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *d;
    size_t n, pos;
    size_t block_left;   /* bytes left in the current sub-block */
    uint32_t bits;
    int nbits;
} gif_bits;

/* The next code of `size` bits: 0, or -1 when the data runs out. */
static int gif_code(gif_bits *b, int size, int *code) {
    while (b->nbits < size) {
        if (b->block_left > 0) {
            b->bits |= (uint32_t)b->d[b->pos++] << b->nbits;
            b->nbits += 8;
            b->block_left--;
            continue;
        }
        if (b->pos >= b->n || b->pos + 1 + (size_t)b->d[b->pos] > b->n) return -1;
        b->block_left = b->d[b->pos++];
    }
    *code = (int)(b->bits & ((1u << size) - 1));
    b->bits >>= size;
    b->nbits -= size;
    return 0;
}

/* Decodes the LZW data at d[pos] into the w x h rectangle at (x0, y0) of a
 * canvas `stride` wide. 0 when done, -1 truncated, -2 corrupt. */
static int gif_lzw(const uint8_t *d, size_t n, size_t pos, bool interlaced, uint8_t *canvas,
                   int stride, int x0, int y0, int w, int h) {
    if (w == 0 || h == 0) return 0;
    if (pos >= n) return -1;
    int min_size = d[pos++];
    if (min_size > 11) return -2;
    static const int pass_start[4] = {0, 4, 2, 1}, pass_step[4] = {8, 8, 4, 2};
    int clear = 1 << min_size, end = clear + 1, next = clear + 2, size = min_size + 1;
    int prev = -1, pass = interlaced ? 0 : 3, x = 0, y = 0;
    uint16_t prefix[4096];
    uint8_t suffix[4096], first[4096], stack[4096];
    for (int i = 0; i < clear; i++) suffix[i] = first[i] = (uint8_t)i;
    gif_bits b = {d, n, pos, 0, 0, 0};
    for (;;) {
        int code;
        if (gif_code(&b, size, &code) < 0) return -1;
        if (code == clear) {
            next = clear + 2;
            size = min_size + 1;
            prev = -1;
            continue;
        }
        if (code == end) return -1;
        int top = 0, c = code;
        if (prev < 0) {                            /* first code after a clear */
            if (code > clear) return -2;
        } else {
            if (code > next) return -2;
            if (code == next) {                    /* the KwKwK case */
                stack[top++] = first[prev];
                c = prev;
            }
            while (c >= clear) {
                stack[top++] = suffix[c];
                c = prefix[c];
            }
        }
        stack[top++] = (uint8_t)c;
        if (prev >= 0 && next < 4096) {
            prefix[next] = (uint16_t)prev;
            suffix[next] = (uint8_t)c;             /* the first byte of this string */
            first[next] = first[prev];
            if (next == (1 << size) - 1 && size < 12) size++;
            next++;
        }
        prev = code;
        while (top > 0) {
            canvas[(size_t)(y0 + y) * stride + x0 + x] = stack[--top];
            if (++x < w) continue;
            x = 0;
            y += interlaced ? pass_step[pass] : 1;
            while (y >= h && pass < 3) y = pass_start[++pass];
            if (y >= h) return 0;
        }
    }
}

typedef struct {
    int screen_w, screen_h;
    int x, y, w, h;             /* first frame's rectangle */
    bool interlaced;
    int transparency;           /* index, or -1 */
    const uint8_t *table;       /* the frame's colour table: local, else global */
    int table_entries;
    bool has_palette;           /* Pillow's mode: "P" if true, "L" if not */
    size_t data;                /* offset of the LZW minimum code size */
} gif_frame;

static bool palette_needed(const uint8_t *p, int entries) {
    for (int i = 0; i < entries; i++)
        if (p[3 * i] != i || p[3 * i + 1] != i || p[3 * i + 2] != i) return true;
    return false;
}

/* Reads up to the first image descriptor. Returns 0, or -1 truncated, -2 no image. */
static int gif_first_frame(const uint8_t *d, size_t n, gif_frame *g) {
    if (n < 13) return -1;
    g->screen_w = (int)at_le16(d + 6);
    g->screen_h = (int)at_le16(d + 8);
    size_t pos = 13;
    const uint8_t *global = NULL;
    int global_entries = 0;
    if (d[10] & 0x80) {
        global_entries = 1 << ((d[10] & 7) + 1);
        global = d + pos;
        pos += 3 * (size_t)global_entries;
        if (pos > n) return -1;
    }
    bool global_needed = global && palette_needed(global, global_entries);
    g->transparency = -1;
    while (pos < n) {
        uint8_t tag = d[pos++];
        if (tag == 0x3B) return -2;
        if (tag == 0x21) {                       /* extension: label, then sub-blocks */
            if (pos >= n) return -1;
            uint8_t label = d[pos++];
            bool first = true;
            for (;;) {
                if (pos >= n) return -1;
                size_t len = d[pos++];
                if (len == 0) break;
                if (pos + len > n) return -1;
                if (label == 0xF9 && first && len >= 4 && (d[pos] & 1)) g->transparency = d[pos + 3];
                first = false;
                pos += len;
            }
        } else if (tag == 0x2C) {                /* the first image descriptor */
            if (pos + 9 > n) return -1;
            g->x = (int)at_le16(d + pos);
            g->y = (int)at_le16(d + pos + 2);
            g->w = (int)at_le16(d + pos + 4);
            g->h = (int)at_le16(d + pos + 6);
            uint8_t flags = d[pos + 8];
            g->interlaced = flags & 0x40;
            pos += 9;
            g->table = global;
            g->table_entries = global_entries;
            g->has_palette = global_needed;
            if (flags & 0x80) {
                g->table_entries = 1 << ((flags & 7) + 1);
                g->table = d + pos;
                pos += 3 * (size_t)g->table_entries;
                if (pos > n) return -1;
                g->has_palette = palette_needed(g->table, g->table_entries);
            }
            g->data = pos;
            return 0;
        }   /* other bytes: skipped, as Pillow does */
    }
    return -1;
}

at_image *at_image_decode_gif(const uint8_t *d, size_t n, const char *name, int64_t max_pixels) {
    gif_frame g;
    memset(&g, 0, sizeof g);
    int found = gif_first_frame(d, n, &g);
    if (found < 0) {
        at_set_error(found == -1 ? "image '%s': the file is truncated (GIF header)"
                                 : "image '%s': cannot decode GIF: no image in the file", name);
        return NULL;
    }
    int64_t w = g.screen_w > g.x + g.w ? g.screen_w : g.x + g.w;
    int64_t h = g.screen_h > g.y + g.h ? g.screen_h : g.y + g.h;
    if (at_image_check_pixels(name, w, h, max_pixels) < 0) return NULL;
    uint8_t *canvas = malloc((size_t)w * (size_t)h);
    at_image *im = at_image_new((int)w, (int)h, g.has_palette ? AT_IMAGE_P : AT_IMAGE_L);
    if (!canvas || !im) {
        free(canvas);
        at_image_free(im);
        at_set_error("image '%s': out of memory for %lld x %lld pixels", name, (long long)w, (long long)h);
        return NULL;
    }
    memset(canvas, g.transparency >= 0 ? g.transparency : 0, (size_t)w * (size_t)h);
    int rc = gif_lzw(d, n, g.data, g.interlaced, canvas, (int)w, g.x, g.y, g.w, g.h);
    if (rc < 0) {
        free(canvas);
        at_image_free(im);
        at_set_error(rc == -1 ? "image '%s': the file is truncated (GIF data ends before the last pixel)"
                              : "image '%s': cannot decode GIF: corrupt LZW data", name);
        return NULL;
    }
    /* Pillow's palettes start as the grey ramp; the file's entries replace
     * the first ones. "L" images are their indices. */
    uint8_t *out = im->pixels;
    for (size_t i = 0; i < (size_t)w * (size_t)h; i++) {
        int index = canvas[i];
        for (int k = 0; k < im->channels; k++)
            out[i * im->channels + k] =
                g.has_palette && index < g.table_entries ? g.table[3 * index + k] : (uint8_t)index;
    }
    free(canvas);
    return im;
}


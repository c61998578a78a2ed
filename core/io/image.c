/* Image decoding with the modes and pixels Pillow 9.4's Image.open gives.
 *
 * JPEG: libjpeg-turbo, the library Pillow links, with Pillow's settings:
 * islow IDCT and fancy upsampling (libjpeg's defaults, which Pillow keeps
 * outside draft mode), 1 component -> "L", 3 -> "RGB" (JCS_RGB), 4 -> "CMYK"
 * (JCS_CMYK, then inverted: Pillow always assumes Adobe polarity, rawmode
 * "CMYK;I"). Warnings are silent, as Pillow's output_message is empty; errors
 * longjmp back here. Pillow feeds libjpeg through a suspending source and
 * raises "image file is truncated" when libjpeg still wants bytes at the end
 * of the file and has not returned the last row; our source does the same:
 * asked for bytes past the end before the last row, it fails; after it, it
 * supplies the EOI that jpeg_finish_decompress looks for (Pillow accepts a
 * missing EOI then too).
 *
 * PNG, BMP, TGA: stb_image decodes; the mode is read from the header as
 * Pillow's plugin reads it, and stb is asked for that many channels:
 *   PNG  grey 1 bit -> "1"; grey 2/4/8 bit -> "L" (both scale 2/4-bit values
 *        by 0x55 / 0x11); grey 16 bit -> "I" (the full 16-bit value, via
 *        stbi_load_16); RGB 8/16 -> "RGB", RGBA 8/16 -> "RGBA", grey+alpha 8
 *        -> "LA" (16-bit values: both keep the high byte); grey+alpha 16 ->
 *        "RGBA" with R = G = B (Pillow's "LA;16B" rawmode); palette -> "P"
 *        (held expanded to RGB: nearest resizing commutes with the lookup).
 *        tRNS never adds an alpha channel (Pillow keeps it in info only and
 *        convert("RGB") ignores it). Gamma, ICC and sRGB chunks are ignored by
 *        both. Chunk CRCs before the first IDAT are checked, as Pillow does;
 *        stb checks none. Difference kept, for corrupt files only: stb
 *        inflates the whole image data and skips zlib's Adler-32, Pillow
 *        stops inflating at the last row and zlib checks the Adler-32 when it
 *        gets there, so damaged image data may be refused by one and not the
 *        other (valid files decode identically).
 *   BMP  1/4/8 bit -> "P", or "1"/"L" when the palette is the identity grey
 *        ramp (Pillow drops it then); 24 bit and 32 bit BI_RGB -> "RGB" (the
 *        4th byte ignored, as Pillow's "BGRX"); 32 bit BITFIELDS with alpha
 *        mask 0xFF000000 in a >= 52-byte header -> "RGBA". Differences kept:
 *        16-bit BMPs (stb expands 5 bits as (v*33)>>2, Pillow as v*255/31: up
 *        to 1 level apart), RLE BMPs (stb cannot decode them: an error), and
 *        a 32-bit alpha channel that is all zero (stb makes it opaque).
 *   TGA  colour-mapped -> "P", grey 8 -> "L", grey 16 -> "LA", true colour
 *        15/16/24 -> "RGB", 32 -> "RGBA"; right-to-left files are mirrored as
 *        Pillow mirrors them (stb does not). 1-bit TGAs: stb cannot decode.
 *   BMP and TGA files whose pixel data ends early are refused here, as
 *   Pillow refuses them (stb would fill in the missing pixels).
 * GIF: decoded in image_gif.c, since stb's composited RGBA loses
 *   what Pillow keeps: the indices of transparent and unpainted pixels. The
 *   first frame; "P" when its palette is not the identity grey ramp, else
 *   "L" (Pillow's _is_palette_needed).
 * The format is sniffed from the bytes as Pillow does; TGA, which has no
 * signature, is tried last with Pillow's header checks. */
#include "image.h"
#include "image_internal.h"
#include "crc32.h"
#include "read_whole.h"

#include <limits.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <stb_image.h>

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* ---- JPEG ---- */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX + 64];
} jpeg_failure;

typedef struct {
    struct jpeg_source_mgr pub;
    bool rows_done;   /* every scanline returned: the end of data is no longer an error */
} jpeg_memory_source;

static void jpeg_fail(j_common_ptr cinfo) {
    jpeg_failure *f = (jpeg_failure *)cinfo->err;
    f->pub.format_message(cinfo, f->message);
    longjmp(f->jump, 1);
}

static void jpeg_bail(j_decompress_ptr cinfo, const char *message) {
    jpeg_failure *f = (jpeg_failure *)cinfo->err;
    snprintf(f->message, sizeof f->message, "%s", message);
    longjmp(f->jump, 1);
}

static void jpeg_quiet(j_common_ptr cinfo) { (void)cinfo; }
static void source_init(j_decompress_ptr cinfo) { (void)cinfo; }
static void source_term(j_decompress_ptr cinfo) { (void)cinfo; }

static boolean source_fill(j_decompress_ptr cinfo) {
    static const JOCTET eoi[2] = {0xFF, JPEG_EOI};
    jpeg_memory_source *src = (jpeg_memory_source *)cinfo->src;
    if (!src->rows_done)
        jpeg_bail(cinfo, "the file is truncated (JPEG data ends before the last row)");
    src->pub.next_input_byte = eoi;
    src->pub.bytes_in_buffer = sizeof eoi;
    return TRUE;
}

static void source_skip(j_decompress_ptr cinfo, long count) {
    struct jpeg_source_mgr *src = cinfo->src;
    if (count <= 0) return;
    while ((size_t)count > src->bytes_in_buffer) {
        count -= (long)src->bytes_in_buffer;
        source_fill(cinfo);
    }
    src->next_input_byte += count;
    src->bytes_in_buffer -= (size_t)count;
}

static at_image *decode_jpeg(const uint8_t *data, size_t size, const char *name, int64_t max_pixels) {
    struct jpeg_decompress_struct cinfo;
    jpeg_failure failure;
    jpeg_memory_source source;
    at_image *volatile im = NULL;
    JSAMPROW *volatile rows = NULL;

    cinfo.err = jpeg_std_error(&failure.pub);
    failure.pub.error_exit = jpeg_fail;
    failure.pub.output_message = jpeg_quiet;
    failure.message[0] = 0;
    if (setjmp(failure.jump)) {
        jpeg_destroy_decompress(&cinfo);
        at_image_free(im);
        free(rows);
        at_set_error("image '%s': cannot decode JPEG: %s", name, failure.message);
        return NULL;
    }
    jpeg_create_decompress(&cinfo);
    memset(&source, 0, sizeof source);
    source.pub.init_source = source_init;
    source.pub.fill_input_buffer = source_fill;
    source.pub.skip_input_data = source_skip;
    source.pub.resync_to_restart = jpeg_resync_to_restart;
    source.pub.term_source = source_term;
    source.pub.next_input_byte = data;
    source.pub.bytes_in_buffer = size;
    cinfo.src = &source.pub;

    jpeg_read_header(&cinfo, TRUE);
    at_image_mode mode;
    switch (cinfo.num_components) {
    case 1: mode = AT_IMAGE_L; cinfo.out_color_space = JCS_GRAYSCALE; break;
    case 3: mode = AT_IMAGE_RGB; cinfo.out_color_space = JCS_RGB; break;
    case 4: mode = AT_IMAGE_CMYK; cinfo.out_color_space = JCS_CMYK; break;
    default: {
        char message[96];
        snprintf(message, sizeof message, "cannot handle %d-component images", cinfo.num_components);
        jpeg_bail(&cinfo, message);
    }
    }
    if (at_image_check_pixels(name, cinfo.image_width, cinfo.image_height, max_pixels) < 0) {
        jpeg_destroy_decompress(&cinfo);
        return NULL;
    }
    cinfo.dct_method = JDCT_ISLOW;
    cinfo.do_fancy_upsampling = TRUE;
    jpeg_start_decompress(&cinfo);

    im = at_image_new((int)cinfo.output_width, (int)cinfo.output_height, mode);
    rows = malloc(sizeof(JSAMPROW) * cinfo.output_height);
    if (!im || !rows) jpeg_bail(&cinfo, "out of memory");
    size_t stride = (size_t)im->width * (size_t)im->channels;
    for (int y = 0; y < im->height; y++) rows[y] = (uint8_t *)im->pixels + (size_t)y * stride;
    while (cinfo.output_scanline < cinfo.output_height)
        jpeg_read_scanlines(&cinfo, rows + cinfo.output_scanline,
                            cinfo.output_height - cinfo.output_scanline);
    source.rows_done = true;
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(rows);

    if (mode == AT_IMAGE_CMYK) {
        uint8_t *p = im->pixels;
        size_t n = stride * (size_t)im->height;
        for (size_t i = 0; i < n; i++) p[i] = (uint8_t)~p[i];
    }
    return im;
}

/* ---- stb_image ---- */

/* stb's reason for a failure, printable ("corrupt data" when it has none). */
static const char *stb_reason(char *buf, size_t size) {
    const char *r = stbi_failure_reason();
    size_t i = 0;
    for (; r && r[i] && i + 1 < size; i++) buf[i] = r[i] >= 0x20 && r[i] < 0x7F ? r[i] : '?';
    buf[i] = 0;
    return i ? buf : "corrupt data";
}

/* A chunk type for messages: four bytes, non-printable ones as '?'. */
static const char *chunk_name(const uint8_t *type, char buf[5]) {
    for (int i = 0; i < 4; i++) buf[i] = type[i] >= 0x20 && type[i] < 0x7F ? (char)type[i] : '?';
    buf[4] = 0;
    return buf;
}

/* Decodes with stb into `mode`, asking stb for that mode's channels; 16-bit
 * grey goes through stbi_load_16 into "I". */
static at_image *decode_stb(const uint8_t *data, size_t size, const char *name, const char *format,
                            at_image_mode mode, int64_t max_pixels) {
    int w, h, n;
    char why[64];
    if (size > INT_MAX) {
        at_set_error("image '%s': %s file too large (%zu bytes)", name, format, size);
        return NULL;
    }
    if (!stbi_info_from_memory(data, (int)size, &w, &h, &n)) {
        at_set_error("image '%s': cannot decode %s (corrupt or truncated: %s)", name, format,
                     stb_reason(why, sizeof why));
        return NULL;
    }
    if (at_image_check_pixels(name, w, h, max_pixels) < 0) return NULL;
    int channels = at_image_mode_channels(mode);
    void *pixels = mode == AT_IMAGE_I
                       ? (void *)stbi_load_16_from_memory(data, (int)size, &w, &h, &n, 1)
                       : (void *)stbi_load_from_memory(data, (int)size, &w, &h, &n, channels);
    if (!pixels) {
        at_set_error("image '%s': cannot decode %s (corrupt or truncated: %s)", name, format,
                     stb_reason(why, sizeof why));
        return NULL;
    }
    at_image *im = at_image_new(w, h, mode);
    if (im) {
        size_t count = (size_t)w * (size_t)h * (size_t)channels;
        if (mode == AT_IMAGE_I) {
            const uint16_t *src = pixels;
            int32_t *dst = im->pixels;
            for (size_t i = 0; i < count; i++) dst[i] = src[i];
        } else {
            memcpy(im->pixels, pixels, count);
        }
    }
    stbi_image_free(pixels);
    if (!im) at_set_error("image '%s': out of memory for %d x %d pixels", name, w, h);
    return im;
}

/* ---- PNG: the mode from IHDR, and Pillow's CRC checks before IDAT ---- */

static at_image *decode_png(const uint8_t *d, size_t n, const char *name, int64_t max_pixels) {
    if (n < 33 || be32(d + 8) != 13 || memcmp(d + 12, "IHDR", 4) != 0) {
        at_set_error("image '%s': broken PNG file (no IHDR chunk)", name);
        return NULL;
    }
    int64_t w = be32(d + 16), h = be32(d + 20);
    int depth = d[24], color = d[25];
    at_image_mode mode;
    bool ok = depth == 8 || depth == 16;
    switch (color) {
    case 0:
        ok = depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16;
        mode = depth == 1 ? AT_IMAGE_1 : depth == 16 ? AT_IMAGE_I : AT_IMAGE_L;
        break;
    case 2: mode = AT_IMAGE_RGB; break;
    case 3:
        ok = depth == 1 || depth == 2 || depth == 4 || depth == 8;
        mode = AT_IMAGE_P;
        break;
    case 4: mode = depth == 16 ? AT_IMAGE_RGBA : AT_IMAGE_LA; break;
    case 6: mode = AT_IMAGE_RGBA; break;
    default: ok = false; mode = AT_IMAGE_L;
    }
    if (!ok) {
        at_set_error("image '%s': unsupported PNG bit depth %d for colour type %d", name, depth, color);
        return NULL;
    }
    if (at_image_check_pixels(name, w, h, max_pixels) < 0) return NULL;
    size_t pos = 8;
    while (pos + 8 <= n) {
        size_t length = be32(d + pos);
        const uint8_t *type = d + pos + 4;
        if (memcmp(type, "IDAT", 4) == 0) break;
        char chunk[5];
        if (length > n || pos + 12 + length > n) {
            at_set_error("image '%s': the file is truncated (PNG chunk %s)", name, chunk_name(type, chunk));
            return NULL;
        }
        if (at_crc32(0, type, 4 + length) != be32(d + pos + 8 + length)) {
            at_set_error("image '%s': broken PNG file (bad checksum in chunk %s)", name,
                         chunk_name(type, chunk));
            return NULL;
        }
        pos += 12 + length;
    }
    /* stb grows its buffer to each IDAT's declared length before reading it,
     * so a 50-byte file could cost 4 GB. A chunk whose data runs past the end
     * is refused by stb and Pillow alike: refuse it here, before any memory. */
    while (pos + 8 <= n) {
        size_t length = be32(d + pos);
        const uint8_t *type = d + pos + 4;
        char chunk[5];
        if (length > n - pos - 8) {
            at_set_error("image '%s': the file is truncated (PNG chunk %s at byte %zu has %zu bytes, %zu remain)",
                         name, chunk_name(type, chunk), pos, length, n - pos - 8);
            return NULL;
        }
        if (memcmp(type, "IEND", 4) == 0) break;
        pos += 12 + length;
    }
    return decode_stb(d, n, name, "PNG", mode, max_pixels);
}

/* ---- BMP: Pillow's BmpImagePlugin mode rules ---- */

static at_image *decode_bmp(const uint8_t *d, size_t n, const char *name, int64_t max_pixels) {
    if (n < 26) {
        at_set_error("image '%s': the file is truncated (BMP header)", name);
        return NULL;
    }
    uint32_t header = le32(d + 14);
    unsigned bits;
    uint32_t compression = 0, colors = 0, alpha_mask = 0;
    size_t padding;
    if (header == 12) {
        bits = at_le16(d + 24);
        padding = 3;
    } else if (header >= 40 && n >= 14 + 40) {
        bits = at_le16(d + 28);
        compression = le32(d + 30);
        colors = le32(d + 46);
        padding = 4;
        if (header >= 52 && n >= 14 + 56) alpha_mask = le32(d + 14 + 52);
    } else {
        at_set_error("image '%s': unsupported BMP header size %u", name, (unsigned)header);
        return NULL;
    }
    int64_t width = header == 12 ? (int64_t)at_le16(d + 18) : (int64_t)(int32_t)le32(d + 18);
    int64_t height = header == 12 ? (int64_t)at_le16(d + 20) : (int64_t)(int32_t)le32(d + 22);
    if (height < 0) height = -height;   /* top-down rows */
    if (compression == 0 || compression == 3) {   /* Pillow reads every row or fails */
        /* Rows are padded to 4 bytes, but the last row's padding may be missing. */
        int64_t stride = ((width * bits + 31) >> 3) & ~(int64_t)3, last = (width * bits + 7) / 8;
        /* offset + stride * (height - 1) + last > n, without overflowing
         * on a header that claims 2^31 rows of 2^16-bit pixels. */
        int64_t room = (int64_t)n - (int64_t)le32(d + 10) - last;
        if (width > 0 && height > 0 && (room < 0 || (stride > 0 && height - 1 > room / stride))) {
            at_set_error("image '%s': the file is truncated (BMP pixel data)", name);
            return NULL;
        }
    }
    if (compression == 1 || compression == 2) {
        at_set_error("image '%s': RLE-compressed BMP files are not supported", name);
        return NULL;
    }
    if (compression != 0 && compression != 3) {
        at_set_error("image '%s': unsupported BMP compression (%u)", name, (unsigned)compression);
        return NULL;
    }
    at_image_mode mode = AT_IMAGE_RGB;
    if (bits == 1 || bits == 4 || bits == 8) {
        if (!colors) colors = 1u << bits;
        size_t start = 14 + header;
        bool grey = colors <= 256 && start + padding * colors <= n;
        for (uint32_t i = 0; grey && i < colors; i++) {
            unsigned v = colors == 2 ? i * 255 : i;
            const uint8_t *c = d + start + padding * i;
            grey = c[0] == v && c[1] == v && c[2] == v;
        }
        mode = !grey ? AT_IMAGE_P : colors == 2 ? AT_IMAGE_1 : AT_IMAGE_L;
    } else if (bits == 32 && compression == 3 && alpha_mask == 0xFF000000u) {
        mode = AT_IMAGE_RGBA;
    } else if (bits != 16 && bits != 24 && bits != 32) {
        at_set_error("image '%s': unsupported BMP pixel depth (%u)", name, bits);
        return NULL;
    }
    return decode_stb(d, n, name, "BMP", mode, max_pixels);
}

/* ---- TGA: Pillow's TgaImagePlugin header checks and modes ---- */

static bool tga_mode(const uint8_t *d, size_t n, at_image_mode *mode) {
    if (n < 18) return false;
    int colormap = d[1], type = d[2], depth = d[16];
    if (colormap > 1 || at_le16(d + 12) == 0 || at_le16(d + 14) == 0) return false;
    if (depth != 1 && depth != 8 && depth != 16 && depth != 24 && depth != 32) return false;
    switch (type) {
    case 3: case 11: *mode = depth == 1 ? AT_IMAGE_1 : depth == 16 ? AT_IMAGE_LA : AT_IMAGE_L; return true;
    case 1: case 9: *mode = AT_IMAGE_P; return true;
    case 2: case 10: *mode = depth == 32 ? AT_IMAGE_RGBA : AT_IMAGE_RGB; return true;
    default: return false;
    }
}

/* Whether the pixel data is all there: Pillow's raw and RLE decoders fail
 * when the file ends before the last pixel; stb fills in. */
static bool tga_complete(const uint8_t *d, size_t n) {
    size_t pos = 18 + (size_t)d[0];
    if (d[1]) pos += (size_t)at_le16(d + 5) * (((size_t)d[7] + 7) / 8);
    size_t bytes = ((size_t)d[16] + 7) / 8;
    size_t pixels = (size_t)at_le16(d + 12) * at_le16(d + 14);
    if (!(d[2] & 8)) return pos + at_le16(d + 14) * (((size_t)at_le16(d + 12) * d[16] + 7) / 8) <= n;
    while (pixels > 0) {
        if (pos >= n) return false;
        uint8_t packet = d[pos++];
        size_t count = (size_t)(packet & 0x7F) + 1;
        size_t len = packet & 0x80 ? bytes : count * bytes;
        if (pos + len > n) return false;
        pos += len;
        pixels -= count < pixels ? count : pixels;
    }
    return true;
}

static at_image *decode_tga(const uint8_t *d, size_t n, const char *name, at_image_mode mode,
                            int64_t max_pixels) {
    if (!tga_complete(d, n)) {
        at_set_error("image '%s': the file is truncated (TGA pixel data)", name);
        return NULL;
    }
    at_image *im = decode_stb(d, n, name, "TGA", mode, max_pixels);
    if (im && (d[17] & 0x10)) {   /* right-to-left: Pillow mirrors, stb does not */
        uint8_t *p = im->pixels;
        int c = im->channels;
        for (int y = 0; y < im->height; y++) {
            uint8_t *row = p + (size_t)y * im->width * c;
            for (int a = 0, b = im->width - 1; a < b; a++, b--)
                for (int k = 0; k < c; k++) {
                    uint8_t t = row[a * c + k];
                    row[a * c + k] = row[b * c + k];
                    row[b * c + k] = t;
                }
        }
    }
    return im;
}

/* ---- dispatch ---- */

at_image *at_image_decode(const void *data, size_t size, const char *name, int64_t max_pixels) {
    const uint8_t *d = data;
    if (!name) name = "<memory>";
    if (!d || size == 0) {
        at_set_error("image '%s': the file is empty", name);
        return NULL;
    }
    if (size >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF)
        return decode_jpeg(d, size, name, max_pixels);
    if (size >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) return decode_png(d, size, name, max_pixels);
    if (size >= 6 && (memcmp(d, "GIF87a", 6) == 0 || memcmp(d, "GIF89a", 6) == 0))
        return at_image_decode_gif(d, size, name, max_pixels);
    if (size >= 2 && d[0] == 'B' && d[1] == 'M') return decode_bmp(d, size, name, max_pixels);

    static const struct { const char *magic; size_t len; const char *format; } others[] = {
        {"RIFF", 4, "WebP or another RIFF"}, {"II*\0", 4, "TIFF"}, {"MM\0*", 4, "TIFF"},
        {"8BPS", 4, "PSD"}, {"\0\0\0\x0cjP  ", 8, "JPEG 2000"}, {"\xff\x4f\xff\x51", 4, "JPEG 2000"},
    };
    for (size_t i = 0; i < sizeof others / sizeof *others; i++)
        if (size >= others[i].len && memcmp(d, others[i].magic, others[i].len) == 0) {
            at_set_error("image '%s': unsupported image format (%s); use JPEG, PNG, BMP, TGA or GIF",
                         name, others[i].format);
            return NULL;
        }
    at_image_mode mode;
    if (tga_mode(d, size, &mode)) return decode_tga(d, size, name, mode, max_pixels);
    at_set_error("image '%s': cannot identify the image format (not JPEG, PNG, BMP, TGA or GIF)", name);
    return NULL;
}

at_image *at_image_load(const char *path, int64_t max_pixels) {
    size_t size;
    char *data = at_read_whole(path, &AT_IMAGE_FILE, &size, "image '%s'", path);
    if (!data) return NULL;
    at_image *im = at_image_decode(data, size, path, max_pixels);
    free(data);
    return im;
}

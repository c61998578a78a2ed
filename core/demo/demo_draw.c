/* Drawing a demo row (demo_db.h): the background, soft shadows, the objects
 * with their shading, outline and texture, then the authenticity artifacts,
 * then the quality degradations, in that order, as a camera and a codec
 * would add them after the scene. Sizes are fractions of the side, so every
 * effect looks the same at 32 or 224 pixels. Pixels are floats in [0, 1]
 * until the end. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../rng.h"
#include "../tensor.h"
#include "demo_db.h"
#include "demo_internal.h"

#define DOMAIN_NOISE 3ull

/* Object radii, times the side: as large as two objects side by side allow
 * (centres at 0.26 and 0.74), so shapes and shading cover many patches. */
#define LARGE_RADIUS 0.24f
#define SMALL_RADIUS 0.18f
#define NOISE_SD 0.15          /* at severity 1, in [0, 1] units (38 levels) */
#define BLUR_SIGMA 0.028f      /* at severity 1, times the side (at least BLUR_MIN_SIGMA pixels) */
#define BLUR_MIN_SIGMA 2.0f
#define CONTRAST_LOSS 0.7f
#define BLOCK_PULL 0.9f
#define SHADOW_DARKNESS 0.5f
#define VIGNETTE 0.7f          /* a lit scene's corners darken this much at full shading */
#define FRINGE_SHIFT 0.04f     /* colour fringe: red and blue apart by twice this, times the side */

typedef struct placed {
    bool present;
    int shape;
    float rgb[3];
    float cx, cy, r, cosa, sina;   /* pixels */
} placed;

typedef struct scene_ctx {
    const at_demo_row *row;
    int size;
    placed obj[2];
    int nobj;
    float light[3], half[3];       /* light and Blinn half vector */
    float shadow_dx, shadow_dy, shadow_soft, outline;
    float bg[3], bg_tint[3], bg_dir[2];
    uint64_t texture_key;
} scene_ctx;

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ---- texture: two octaves of value noise, in [-1, 1] ---- */
static float lattice(uint64_t key, int64_t ix, int64_t iy) {
    uint64_t h = at_demo_mix64(key ^ at_demo_mix64((uint64_t)ix * 0x9E3779B97F4A7C15ull + (uint64_t)iy));
    return (float)(h >> 40) * (2.0f / 16777216.0f) - 1;
}

static float value_noise(uint64_t key, float x, float y) {
    float fx = floorf(x), fy = floorf(y), tx = x - fx, ty = y - fy;
    int64_t ix = (int64_t)fx, iy = (int64_t)fy;
    tx = tx * tx * (3 - 2 * tx);
    ty = ty * ty * (3 - 2 * ty);
    float a = lattice(key, ix, iy), b = lattice(key, ix + 1, iy);
    float c = lattice(key, ix, iy + 1), d = lattice(key, ix + 1, iy + 1);
    return (a + (b - a) * tx) + ((c + (d - c) * tx) - (a + (b - a) * tx)) * ty;
}

static float texture_at(const scene_ctx *c, float x, float y) {
    /* cells of 3 pixels at least, so texture never looks like per-pixel noise */
    float coarse = fmaxf((float)c->size / 10, 5), fine = fmaxf((float)c->size / 25, 3);
    return 0.65f * value_noise(c->texture_key, x / coarse, y / coarse) +
           0.35f * value_noise(c->texture_key ^ 0x5bd1e995u, x / fine, y / fine);
}

/* ---- shapes: signed distances in units of the object's radius ---- */
static float sd_box(float x, float y, float bx, float by) {
    float qx = fabsf(x) - bx, qy = fabsf(y) - by;
    float ox = fmaxf(qx, 0), oy = fmaxf(qy, 0);
    return sqrtf(ox * ox + oy * oy) + fminf(fmaxf(qx, qy), 0);
}

/* Equilateral triangle of half side 1 pointing up (y up), centroid at 0. */
static float sd_triangle(float x, float y) {
    const float k = 1.7320508f;
    x = fabsf(x) - 1;
    y = y + 1 / k;
    if (x + k * y > 0) {
        float nx = (x - k * y) / 2, ny = (-k * x - y) / 2;
        x = nx;
        y = ny;
    }
    x -= clampf(x, -2, 0);
    float d = sqrtf(x * x + y * y);
    return y < 0 ? d : -d;
}

/* Five-pointed star (y up), outer radius r, inner ratio rf. */
static float sd_star5(float x, float y, float r, float rf) {
    const float k1x = 0.809016994f, k1y = -0.587785252f, k2x = -k1x, k2y = k1y;
    x = fabsf(x);
    float d1 = fmaxf(k1x * x + k1y * y, 0);
    x -= 2 * d1 * k1x;
    y -= 2 * d1 * k1y;
    float d2 = fmaxf(k2x * x + k2y * y, 0);
    x -= 2 * d2 * k2x;
    y -= 2 * d2 * k2y;
    x = fabsf(x);
    y -= r;
    float bax = rf * -k1y, bay = rf * k1x - 1;
    float h = clampf((x * bax + y * bay) / (bax * bax + bay * bay), 0, r);
    float dx = x - bax * h, dy = y - bay * h, len = sqrtf(dx * dx + dy * dy);
    return y * bax - x * bay > 0 ? len : -len;
}

/* x right, y down, both in radii from the centre. */
static float shape_distance(int shape, float x, float y) {
    switch (shape) {
    case AT_DEMO_CIRCLE: return sqrtf(x * x + y * y) - 1;
    case AT_DEMO_SQUARE: return sd_box(x, y, 0.82f, 0.82f);
    case AT_DEMO_TRIANGLE: return sd_triangle(x / 1.05f, -y / 1.05f + 0.2887f) * 1.05f;
    case AT_DEMO_STAR: return sd_star5(x, -y, 1.1f, 0.45f);
    case AT_DEMO_RING: return fabsf(sqrtf(x * x + y * y) - 0.75f) - 0.25f;
    default: return fminf(sd_box(x, y, 0.95f, 0.32f), sd_box(x, y, 0.32f, 0.95f));
    }
}

/* Distance in pixels from (x, y) to the object's edge, negative inside. */
static float object_distance(const placed *o, float x, float y) {
    float dx = (x - o->cx) / o->r, dy = (y - o->cy) / o->r;
    float u = dx * o->cosa + dy * o->sina, v = -dx * o->sina + dy * o->cosa;
    return shape_distance(o->shape, u, v) * o->r;
}

/* ---- the scene ---- */
static void place_objects(scene_ctx *c) {
    static const float single_x[AT_DEMO_NPOSITIONS] = {0.5f, 0.27f, 0.73f, 0.5f, 0.5f};
    static const float single_y[AT_DEMO_NPOSITIONS] = {0.5f, 0.5f, 0.5f, 0.27f, 0.73f};
    const at_demo_scene *sc = &c->row->shown;
    const at_demo_layout *l = &c->row->layout;
    float S = (float)c->size;
    c->nobj = sc->nobjects == 1 ? 1 : 2;
    for (int j = 0; j < c->nobj; j++) {
        placed *o = &c->obj[j];
        const at_demo_object *src = &sc->obj[j];
        float x, y, jx, jy;
        if (c->nobj == 1) {
            int p = sc->place >= 0 && sc->place < AT_DEMO_NPOSITIONS ? sc->place : 0;
            x = single_x[p];
            y = single_y[p];
            jx = jy = 0.04f;
        } else {
            int rel = sc->place >= 0 && sc->place < AT_DEMO_NRELATIONS ? sc->place : 0;
            bool first_low = rel == AT_DEMO_LEFT_OF || rel == AT_DEMO_ABOVE;   /* obj 0 at 0.26 */
            float along = (j == 0) == first_low ? 0.26f : 0.74f;
            bool horizontal = rel == AT_DEMO_LEFT_OF || rel == AT_DEMO_RIGHT_OF;
            x = horizontal ? along : 0.5f;
            y = horizontal ? 0.5f : along;
            jx = horizontal ? 0.02f : 0.08f;
            jy = horizontal ? 0.08f : 0.02f;
        }
        o->present = src->present;
        o->shape = src->shape;
        at_demo_colour_rgb(src->colour, o->rgb);
        o->cx = (x + jx * l->jitter_x[j]) * S;
        o->cy = (y + jy * l->jitter_y[j]) * S;
        o->r = (src->size == AT_DEMO_LARGE ? LARGE_RADIUS : SMALL_RADIUS) * l->radius_scale[j] * S;
        o->cosa = cosf(l->angle[j]);
        o->sina = sinf(l->angle[j]);
    }
}

static void normalize3(float v[3]) {
    float n = sqrtf(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    for (int k = 0; k < 3; k++) v[k] /= n;
}

static void setup(scene_ctx *c, const at_demo_row *row, int size) {
    memset(c, 0, sizeof *c);
    c->row = row;
    c->size = size;
    place_objects(c);
    float S = (float)size, theta = atan2f(-0.65f, -0.55f) + row->layout.light;   /* from the top left */
    c->light[0] = 0.75f * cosf(theta);
    c->light[1] = 0.75f * sinf(theta);
    c->light[2] = 0.66f;
    normalize3(c->light);
    for (int k = 0; k < 3; k++) c->half[k] = c->light[k] + (k == 2);
    normalize3(c->half);
    c->shadow_dx = -cosf(theta) * 0.07f * S;
    c->shadow_dy = -sinf(theta) * 0.07f * S;
    c->shadow_soft = fmaxf(1, 0.03f * S);
    c->outline = fmaxf(1, 0.018f * S);
    at_demo_colour_rgb(row->shown.bg_colour, c->bg);
    float lum = 0.3f * c->bg[0] + 0.59f * c->bg[1] + 0.11f * c->bg[2];
    for (int k = 0; k < 3; k++) c->bg_tint[k] = lum < 0.6f ? c->bg[k] + 0.4f * (1 - c->bg[k]) : 0.7f * c->bg[k];
    c->bg_dir[0] = cosf(row->layout.bg_angle);
    c->bg_dir[1] = sinf(row->layout.bg_angle);
    c->texture_key = at_demo_mix64(row->seed ^ at_demo_mix64((uint64_t)row->index + 0x1234567ull));
}

static void background_at(const scene_ctx *c, float x, float y, float tex, float out[3]) {
    float S = (float)c->size, along = ((x - S / 2) * c->bg_dir[0] + (y - S / 2) * c->bg_dir[1]) / S;
    const at_demo_factors *f = &c->row->f;
    for (int k = 0; k < 3; k++) out[k] = c->bg[k];
    if (c->row->shown.background == AT_DEMO_GRADIENT) {
        float t = clampf(along + 0.5f, 0, 1);
        for (int k = 0; k < 3; k++) {
            float light = c->bg[k] + 0.35f * (1 - c->bg[k]), dark = 0.55f * c->bg[k];
            out[k] = light + (dark - light) * t;
        }
    } else if (c->row->shown.background == AT_DEMO_STRIPED) {
        /* stripes across bg_dir rotated a quarter turn; anti-aliased edges */
        float period = c->row->layout.bg_period * S;
        float across = (-(x - S / 2) * c->bg_dir[1] + (y - S / 2) * c->bg_dir[0]) / period;
        float phase = across - floorf(across);
        float edge = (fabsf(phase - 0.5f) - 0.25f) * period;   /* pixels, > 0 in the tint */
        float a = clampf(0.5f + edge, 0, 1);
        for (int k = 0; k < 3; k++) out[k] = c->bg[k] + (c->bg_tint[k] - c->bg[k]) * a;
    }
    float dx = (x - S / 2) / (0.7f * S), dy = (y - S / 2) / (0.7f * S);
    float shade = (1 - VIGNETTE * (float)f->shading * (dx * dx + dy * dy)) * (1 + 0.06f * (float)f->texture * tex);
    for (int k = 0; k < 3; k++) out[k] *= shade;
}

static void object_colour(const scene_ctx *c, const placed *o, float x, float y, float d, float tex,
                          float out[3]) {
    float s = (float)c->row->f.shading;
    float ux = (x - o->cx) / o->r, uy = (y - o->cy) / o->r, r2 = fminf(ux * ux + uy * uy, 1);
    float n[3] = {0.9f * ux, 0.9f * uy, sqrtf(1 - 0.8f * r2)};
    normalize3(n);
    float diff = fmaxf(0, n[0] * c->light[0] + n[1] * c->light[1] + n[2] * c->light[2]);
    float spec = powf(fmaxf(0, n[0] * c->half[0] + n[1] * c->half[1] + n[2] * c->half[2]), 24);
    float bevel = 0.75f + 0.25f * clampf(-d / (0.15f * o->r), 0, 1);
    float grain = 1 + 0.35f * (float)c->row->f.texture * tex;
    for (int k = 0; k < 3; k++) {
        float lit = (o->rgb[k] * (0.35f + 0.8f * diff) + 0.4f * spec) * bevel;
        out[k] = (o->rgb[k] + s * (lit - o->rgb[k])) * grain;
    }
}

static void draw_scene(const scene_ctx *c, float *px) {
    const at_demo_factors *f = &c->row->f;
    float outline_strength = clampf(1 - 4 * (float)f->shading, 0, 1);
    int S = c->size;
    for (int yi = 0; yi < S; yi++)
        for (int xi = 0; xi < S; xi++) {
            float x = xi + 0.5f, y = yi + 0.5f, tex = texture_at(c, x, y), rgb[3];
            background_at(c, x, y, tex, rgb);
            for (int j = 0; j < c->nobj && f->shadow > 0; j++) {
                if (!c->obj[j].present) continue;
                float d = object_distance(&c->obj[j], x - c->shadow_dx, y - c->shadow_dy);
                float a = clampf(0.5f - d / (2 * c->shadow_soft), 0, 1);
                for (int k = 0; k < 3; k++) rgb[k] *= 1 - SHADOW_DARKNESS * (float)f->shadow * a;
            }
            for (int j = c->nobj - 1; j >= 0; j--) {   /* object 0 on top */
                const placed *o = &c->obj[j];
                if (!o->present) continue;
                float d = object_distance(o, x, y), a = clampf(0.5f - d, 0, 1), col[3];
                if (a > 0) {
                    object_colour(c, o, x, y, d, tex, col);
                    for (int k = 0; k < 3; k++) rgb[k] += (col[k] - rgb[k]) * a;
                }
                float line = outline_strength * clampf(c->outline / 2 + 0.5f - fabsf(d), 0, 1);
                for (int k = 0; k < 3; k++) rgb[k] += (0.06f - rgb[k]) * line;
            }
            float *p = px + ((size_t)yi * S + xi) * 3;
            for (int k = 0; k < 3; k++) p[k] = clampf(rgb[k], 0, 1);
        }
}

/* ---- artifacts ---- */
static const placed *artifact_target(const scene_ctx *c, int target) {
    int j = target < c->nobj ? target : 0;
    if (!c->obj[j].present && c->nobj == 2) j = 1 - j;
    return &c->obj[j];
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* A piece of an object copied elsewhere with hard edges. */
static void paste_fragment(const scene_ctx *c, float *px, float *scratch) {
    int S = c->size;
    const at_demo_patch *a = &c->row->layout.fragment;
    const placed *o = artifact_target(c, a->target);
    int side = clampi((int)lroundf(a->w * o->r), 2, S);
    int sx = clampi((int)lroundf(o->cx + a->x * o->r) - side / 2, 0, S - side);
    int sy = clampi((int)lroundf(o->cy + a->y * o->r) - side / 2, 0, S - side);
    int tx = clampi(sx + (int)lroundf(a->dx * S), 0, S - side);
    int ty = clampi(sy + (int)lroundf(a->dy * S), 0, S - side);
    memcpy(scratch, px, (size_t)S * S * 3 * sizeof *px);
    for (int y = 0; y < side; y++)
        memcpy(px + ((size_t)(ty + y) * S + tx) * 3, scratch + ((size_t)(sy + y) * S + sx) * 3,
               (size_t)side * 3 * sizeof *px);
}

static void invert_patch(const scene_ctx *c, float *px) {
    int S = c->size;
    const at_demo_patch *a = &c->row->layout.inversion;
    const placed *o = artifact_target(c, a->target);
    int w = clampi((int)lroundf(a->w * S), 1, S), h = clampi((int)lroundf(a->h * S), 1, S);
    int x0 = clampi((int)lroundf(o->cx + a->x * o->r) - w / 2, 0, S - w);
    int y0 = clampi((int)lroundf(o->cy + a->y * o->r) - h / 2, 0, S - h);
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++)
            for (int k = 0; k < 3; k++) px[((size_t)y * S + x) * 3 + k] = 1 - px[((size_t)y * S + x) * 3 + k];
}

/* A band of rows through an object shifted sideways, as a torn scan. */
static void tear_band(const scene_ctx *c, float *px, float *scratch) {
    int S = c->size;
    const at_demo_patch *a = &c->row->layout.tear;
    const placed *o = artifact_target(c, a->target);
    int h = clampi((int)lroundf(a->h * S), 1, S);
    int y0 = clampi((int)lroundf(o->cy + a->y * o->r) - h / 2, 0, S - h);
    int shift = (int)lroundf(a->dx * S);
    if (shift == 0) shift = a->dx < 0 ? -1 : 1;
    for (int y = y0; y < y0 + h; y++) {
        float *line = px + (size_t)y * S * 3;
        memcpy(scratch, line, (size_t)S * 3 * sizeof *px);
        for (int x = 0; x < S; x++)
            for (int k = 0; k < 3; k++) line[x * 3 + k] = scratch[clampi(x - shift, 0, S - 1) * 3 + k];
    }
}

/* Chromatic aberration: red shifted right, blue left, green in place. */
static void colour_fringe(const scene_ctx *c, float *px, float *scratch) {
    int S = c->size, shift = (int)lroundf(FRINGE_SHIFT * S);
    if (shift < 1) shift = 1;
    memcpy(scratch, px, (size_t)S * S * 3 * sizeof *px);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            float *p = px + ((size_t)y * S + x) * 3;
            p[0] = scratch[((size_t)y * S + clampi(x - shift, 0, S - 1)) * 3 + 0];
            p[2] = scratch[((size_t)y * S + clampi(x + shift, 0, S - 1)) * 3 + 2];
        }
}

/* ---- degradations ---- */
static void lower_contrast(float *px, size_t n, double s) {
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += px[i];
    float mean = (float)(sum / (double)n), keep = 1 - CONTRAST_LOSS * (float)s;
    for (size_t i = 0; i < n; i++) px[i] = mean + (px[i] - mean) * keep;
}

static void blur(float *px, float *scratch, int S, double s) {
    float sigma = (float)s * fmaxf(BLUR_SIGMA * S, BLUR_MIN_SIGMA);
    if (sigma < 0.25f) return;
    int radius = (int)ceilf(3 * sigma);
    if (radius > S) radius = S;
    float *w = malloc(sizeof *w * (size_t)(2 * radius + 1)), total = 0;
    if (!w) return;   /* no memory for 50 floats: leave the image sharp rather than fail */
    for (int k = -radius; k <= radius; k++) total += w[k + radius] = expf(-(float)(k * k) / (2 * sigma * sigma));
    for (int k = 0; k <= 2 * radius; k++) w[k] /= total;
    for (int pass = 0; pass < 2; pass++) {   /* rows, then columns */
        memcpy(scratch, px, (size_t)S * S * 3 * sizeof *px);
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                for (int ch = 0; ch < 3; ch++) {
                    float acc = 0;
                    for (int k = -radius; k <= radius; k++) {
                        int xx = pass == 0 ? clampi(x + k, 0, S - 1) : x;
                        int yy = pass == 1 ? clampi(y + k, 0, S - 1) : y;
                        acc += w[k + radius] * scratch[((size_t)yy * S + xx) * 3 + ch];
                    }
                    px[((size_t)y * S + x) * 3 + ch] = acc;
                }
    }
    free(w);
}

static void add_noise(float *px, int S, double s, uint64_t seed, int64_t index) {
    double sd = s * NOISE_SD;
    uint64_t base = DOMAIN_NOISE << 56 | (uint64_t)index << 24;
    for (size_t p = 0; p < (size_t)S * S; p++) {
        uint32_t r[4];
        at_philox4x32(seed, base + p, r);
        double u1 = (r[0] + 0.5) / 4294967296.0, u2 = r[1] / 4294967296.0;
        double u3 = (r[2] + 0.5) / 4294967296.0, u4 = r[3] / 4294967296.0;
        double m1 = sqrt(-2 * log(u1)), m3 = sqrt(-2 * log(u3));
        double n[3] = {m1 * cos(2 * M_PI * u2), m1 * sin(2 * M_PI * u2), m3 * cos(2 * M_PI * u4)};
        for (int k = 0; k < 3; k++) px[p * 3 + k] += (float)(sd * n[k]);
    }
}

/* Each block pulled toward its mean, as a coarse codec flattens detail. */
static void blockiness(float *px, int S, double s) {
    int B = (S + 14) / 28 < 2 ? 2 : (S + 14) / 28;
    float keep = 1 - BLOCK_PULL * (float)s;
    for (int by = 0; by < S; by += B)
        for (int bx = 0; bx < S; bx += B) {
            int h = by + B <= S ? B : S - by, w = bx + B <= S ? B : S - bx;
            for (int k = 0; k < 3; k++) {
                float sum = 0;
                for (int y = by; y < by + h; y++)
                    for (int x = bx; x < bx + w; x++) sum += px[((size_t)y * S + x) * 3 + k];
                float mean = sum / (float)(w * h);
                for (int y = by; y < by + h; y++)
                    for (int x = bx; x < bx + w; x++) {
                        float *v = &px[((size_t)y * S + x) * 3 + k];
                        *v = mean + (*v - mean) * keep;
                    }
            }
        }
}

static void banding(float *px, size_t n, double s) {
    float levels = (float)lround(3 + (1 - s) * 12) - 1;   /* 13 levels at the least severity, 3 at the most */
    for (size_t i = 0; i < n; i++) px[i] = roundf(clampf(px[i], 0, 1) * levels) / levels;
}

int at_demo_render(const at_demo_row *row, int size, uint8_t *rgb) {
    if (size < AT_DEMO_MIN_SIZE || size > AT_DEMO_MAX_SIZE) {
        at_set_error("demo_db: the image size must be in %d..%d pixels, got %d", AT_DEMO_MIN_SIZE,
                     AT_DEMO_MAX_SIZE, size);
        return -1;
    }
    size_t n = (size_t)size * size * 3;
    float *px = malloc(n * sizeof *px), *scratch = malloc(n * sizeof *px);
    if (!px || !scratch) {
        free(px);
        free(scratch);
        at_set_error("demo_db: out of memory drawing a %dx%d image", size, size);
        return -1;
    }
    scene_ctx c;
    setup(&c, row, size);
    draw_scene(&c, px);
    const at_demo_factors *f = &row->f;
    if (f->artifacts & AT_DEMO_ART_FRAGMENT) paste_fragment(&c, px, scratch);
    if (f->artifacts & AT_DEMO_ART_INVERSION) invert_patch(&c, px);
    if (f->artifacts & AT_DEMO_ART_TEAR) tear_band(&c, px, scratch);
    if (f->artifacts & AT_DEMO_ART_FRINGE) colour_fringe(&c, px, scratch);
    if (f->low_contrast > 0) lower_contrast(px, n, f->low_contrast);
    if (f->blur > 0) blur(px, scratch, size, f->blur);
    if (f->noise > 0) add_noise(px, size, f->noise, row->seed, row->index);
    if (f->blockiness > 0) blockiness(px, size, f->blockiness);
    if (f->banding > 0) banding(px, n, f->banding);
    for (size_t i = 0; i < n; i++) rgb[i] = (uint8_t)(clampf(px[i], 0, 1) * 255 + 0.5f);
    free(px);
    free(scratch);
    return 0;
}

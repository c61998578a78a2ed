/* The demo database: prompts, the factors of each image and its scores (the
 * generative model is described in demo_db.h; the pixels are demo_draw.c's,
 * the files demo_db_write.c's). */
#include "demo_db.h"
#include "demo_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../rng.h"
#include "../tensor.h"

/* ---- the score model: z per metric, MOS = 5 * sigmoid(z) + rater noise ----
 * Chosen so each MOS spreads over [0, 5] with mean near 2.5 and sd near 1,
 * like AGIQA-3K's, and so each metric is mostly its own factors. */
#define Q_BASE 2.2
#define Q_BLUR 2.4
#define Q_NOISE 2.0
#define Q_BLOCKINESS 1.8
#define Q_BANDING 1.1         /* shows only where colour varies (gradients, shading): flat fills hide it */
#define Q_LOW_CONTRAST 1.7
#define Q_ARTIFACT 0.35        /* each artifact */
#define Q_SHADING 0.3          /* nicer rendering, a little better quality */

#define A_BASE 1.6
#define A_SHAPE 1.5
#define A_COLOUR 1.2
#define A_COLOUR_FAR 1.0       /* times the colours' distance in [0, 1] */
#define A_SIZE 0.6
#define A_MISSING 3.0          /* one of two objects */
#define A_MISSING_ONLY 4.5     /* the only object: nothing asked for is there */
#define A_PLACE 1.0
#define A_BG_COLOUR 1.0
#define A_BG_COLOUR_FAR 0.5
#define A_BG_KIND 0.4
#define A_BLUR 0.5             /* blurred, noisy, low-contrast content is harder to see */
#define A_NOISE 0.3
#define A_LOW_CONTRAST 0.4

/* Authenticity leans on what a tiny model trained for minutes at 48 pixels
 * can see: shading most (with the darker corners of a lit scene), the
 * inverted patch and the colour fringe, whole-image or high-contrast cues.
 * It learns little of the soft shadow, the fragment and the tear, almost
 * nothing of fine texture, so those weigh less: a predictor that knew the
 * visible factors exactly and nothing of these would reach SRCC 0.97, which
 * leaves the tiny Metric Transformer of tests/lua/test_metric_learning.lua
 * room to pass its bar. */
#define U_BASE 0.25
#define U_SHADING 2.2
#define U_SHADOW 0.25
#define U_TEXTURE 0.1      /* fine texture is hard to tell from noise at small sizes */
#define U_FRAGMENT 0.4
#define U_INVERSION 1.6
#define U_TEAR 0.4
#define U_FRINGE 1.5
#define U_BLOCKINESS 0.4
#define U_BANDING 0.4

#define RATER_NOISE_SD 0.12

/* ---- factor distributions ---- */
#define P_ONE_OBJECT 0.5
#define P_DEGRADATION 0.4      /* each of the five, independently */
#define MIN_SEVERITY 0.15
static const double p_mismatches[] = {0.35, 0.35, 0.2, 0.1};   /* 0, 1, 2, 3 differences */
static const double p_artifacts[] = {0.55, 0.3, 0.15};       /* 0, 1, 2 impossible artifacts */
#define P_FRINGE 0.4

/* Counter domains: every draw is Philox at (domain << 56 | owner << 24 | k). */
#define DOMAIN_PROMPT 1ull
#define DOMAIN_IMAGE 2ull
#define MAX_ATTEMPTS 4096

static const char *shape_names[AT_DEMO_NSHAPES] = {"circle", "square", "triangle", "star", "ring",
                                                   "cross"};
static const char *colour_names[AT_DEMO_NCOLOURS] = {"red", "green", "blue", "yellow",
                                                     "orange", "purple", "white", "black"};
static const char *size_names[2] = {"small", "large"};
static const char *position_words[AT_DEMO_NPOSITIONS] = {"in the center", "on the left", "on the right",
                                                         "at the top", "at the bottom"};
static const char *relation_words[AT_DEMO_NRELATIONS] = {"to the left of", "to the right of", "above",
                                                         "below"};
static const char *background_formats[AT_DEMO_NBACKGROUNDS] = {"on a plain %s background",
                                                               "on a %s gradient background",
                                                               "on a %s striped background"};

struct at_demo_db {
    at_demo_db_config cfg;
    int64_t nprompts;
    at_demo_scene *scenes;   /* one a prompt */
};

/* ---- draws ---- */
typedef struct {
    uint64_t seed, base;
    uint64_t next;
} stream;

static stream stream_at(uint64_t seed, uint64_t domain, uint64_t owner) {
    return (stream){seed, domain << 56 | owner << 24, 0};
}
static double unif(stream *s) { return at_uniform_at(s->seed, s->base + s->next++); }
static double gauss(stream *s) { return at_normal_at(s->seed, s->base + s->next++); }
static int pick(stream *s, int n) {
    int k = (int)(unif(s) * n);
    return k < n ? k : n - 1;
}
/* An integer in [0, n) other than avoid_a, avoid_b and avoid_c (-1: none). */
static int pick_avoiding(stream *s, int n, int avoid_a, int avoid_b, int avoid_c) {
    int allowed[16], m = 0;
    for (int k = 0; k < n; k++)
        if (k != avoid_a && k != avoid_b && k != avoid_c) allowed[m++] = k;
    return allowed[pick(s, m)];
}
static int pick_other(stream *s, int n, int avoid_a, int avoid_b) {
    return pick_avoiding(s, n, avoid_a, avoid_b, -1);
}
static int pick_weighted(stream *s, const double *p, int n) {
    double u = unif(s), acc = 0;
    for (int k = 0; k < n - 1; k++)
        if (u < (acc += p[k])) return k;
    return n - 1;
}
static double severity(stream *s, double p_present, double lo) {
    double present = unif(s), level = unif(s);   /* both drawn always: fixed stream positions */
    return present < p_present ? lo + (1 - lo) * level : 0;
}

/* ---- prompts ---- */
static void draw_scene(stream *s, at_demo_scene *sc) {
    memset(sc, 0, sizeof *sc);
    sc->nobjects = unif(s) < P_ONE_OBJECT ? 1 : 2;
    sc->background = pick(s, AT_DEMO_NBACKGROUNDS);
    sc->bg_colour = pick(s, AT_DEMO_NCOLOURS);
    for (int j = 0; j < sc->nobjects; j++) {
        at_demo_object *o = &sc->obj[j];
        o->shape = pick(s, AT_DEMO_NSHAPES);
        o->colour = pick_other(s, AT_DEMO_NCOLOURS, sc->bg_colour, -1);
        o->size = pick(s, 2);
        o->present = true;
    }
    sc->place = pick(s, sc->nobjects == 1 ? AT_DEMO_NPOSITIONS : AT_DEMO_NRELATIONS);
}

static uint32_t scene_code(const at_demo_scene *sc) {
    uint32_t c = (uint32_t)(sc->nobjects - 1);
    c = c << 2 | (uint32_t)sc->background;
    c = c << 3 | (uint32_t)sc->bg_colour;
    c = c << 3 | (uint32_t)sc->place;
    for (int j = 0; j < 2; j++) {
        const at_demo_object *o = &sc->obj[j];
        c = c << 7 | (j < sc->nobjects ? (uint32_t)(o->shape << 4 | o->colour << 1 | o->size) : 0u);
    }
    return c;
}

/* A pair whose objects look alike would hide a swap of places. */
static bool scene_usable(const at_demo_scene *sc) {
    if (sc->nobjects < 2) return true;
    const at_demo_object *a = &sc->obj[0], *b = &sc->obj[1];
    return a->shape != b->shape || a->colour != b->colour || a->size != b->size;
}

/* Distinct prompts: prompt p is the first draw of its own streams (p, attempt)
 * whose scene no earlier prompt has. */
static int draw_prompts(at_demo_db *db) {
    int64_t cap = 64;
    while (cap < 2 * db->nprompts) cap *= 2;
    uint32_t *slots = calloc((size_t)cap, sizeof *slots);   /* code + 1, 0 = empty */
    db->scenes = malloc((size_t)db->nprompts * sizeof *db->scenes);
    if (!slots || !db->scenes) {
        free(slots);
        at_set_error("demo_db: out of memory for %lld prompts", (long long)db->nprompts);
        return -1;
    }
    for (int64_t p = 0; p < db->nprompts; p++) {
        bool placed = false;
        for (int attempt = 0; attempt < MAX_ATTEMPTS && !placed; attempt++) {
            stream s = stream_at(db->cfg.seed, DOMAIN_PROMPT, (uint64_t)p << 12 | (uint64_t)attempt);
            draw_scene(&s, &db->scenes[p]);
            if (!scene_usable(&db->scenes[p])) continue;
            uint32_t code = scene_code(&db->scenes[p]);
            int64_t k = (int64_t)(at_demo_mix64(code) & (uint64_t)(cap - 1));
            while (slots[k] && slots[k] != code + 1) k = (k + 1) & (cap - 1);
            if (slots[k]) continue;
            slots[k] = code + 1;
            placed = true;
        }
        if (!placed) {
            free(slots);
            at_set_error("demo_db: could not find a new prompt for prompt %lld", (long long)p);
            return -1;
        }
    }
    free(slots);
    return 0;
}

at_demo_db_config at_demo_db_defaults(void) {
    return (at_demo_db_config){.nimages = 1000, .size = 224, .seed = 42, .images_per_prompt = 10};
}

at_demo_db *at_demo_db_new(const at_demo_db_config *cfg) {
    at_demo_db_config c = cfg ? *cfg : at_demo_db_defaults();
    if (c.nimages < 1 || c.nimages > AT_DEMO_MAX_IMAGES) {
        at_set_error("demo_db: the number of images must be in 1..%lld, got %lld",
                     (long long)AT_DEMO_MAX_IMAGES, (long long)c.nimages);
        return NULL;
    }
    if (c.size < AT_DEMO_MIN_SIZE || c.size > AT_DEMO_MAX_SIZE) {
        at_set_error("demo_db: the image size must be in %d..%d pixels, got %d", AT_DEMO_MIN_SIZE,
                     AT_DEMO_MAX_SIZE, c.size);
        return NULL;
    }
    if (c.images_per_prompt < 1) {
        at_set_error("demo_db: images per prompt must be at least 1, got %d", c.images_per_prompt);
        return NULL;
    }
    int64_t nprompts = (c.nimages + c.images_per_prompt - 1) / c.images_per_prompt;
    if (nprompts > AT_DEMO_MAX_PROMPTS) {
        at_set_error("demo_db: %lld images at %d a prompt need %lld prompts; at most %d are drawn "
                     "(ask for more images per prompt)", (long long)c.nimages, c.images_per_prompt,
                     (long long)nprompts, AT_DEMO_MAX_PROMPTS);
        return NULL;
    }
    at_demo_db *db = calloc(1, sizeof *db);
    if (!db) {
        at_set_error("demo_db: out of memory");
        return NULL;
    }
    db->cfg = c;
    db->nprompts = nprompts;
    if (draw_prompts(db)) {
        at_demo_db_free(db);
        return NULL;
    }
    return db;
}

void at_demo_db_free(at_demo_db *db) {
    if (!db) return;
    free(db->scenes);
    free(db);
}

const at_demo_db_config *at_demo_db_config_of(const at_demo_db *db) { return &db->cfg; }
int64_t at_demo_db_nprompts(const at_demo_db *db) { return db->nprompts; }

/* ---- what an image shows: the prompt's scene with 0-3 differences ----
 * The weights say how often each kind is drawn: mostly what a viewer (and a
 * small model) notices first, colour and a missing object; then shape and
 * background colour. Size, place and background kind are rare: a tiny model
 * trained for minutes does not learn them, and differences it cannot see
 * would only cap its held-out alignment SRCC (tests/lua/test_demo_learning.lua). */
enum { CH_SHAPE, CH_COLOUR, CH_SIZE, CH_MISSING, CH_PLACE, CH_BG_COLOUR, CH_BG_KIND };
typedef struct { int kind, obj; double weight; } change;

static int possible_changes(const at_demo_scene *sc, change *out) {
    int n = 0;
    for (int j = 0; j < sc->nobjects; j++) {
        out[n++] = (change){CH_SHAPE, j, 0.3};
        out[n++] = (change){CH_COLOUR, j, 2.0};
        out[n++] = (change){CH_SIZE, j, 0.08};
        out[n++] = (change){CH_MISSING, j, sc->nobjects == 2 ? 1.0 : 0.3};
    }
    out[n++] = (change){CH_PLACE, -1, 0.1};
    out[n++] = (change){CH_BG_COLOUR, -1, 0.4};
    out[n++] = (change){CH_BG_KIND, -1, 0.05};
    return n;
}

/* Changes that make no sense together: a missing object has no attributes and
 * no place relative to the other; at most one of two objects goes missing. */
static bool conflicts(const change *a, const change *b) {
    bool a_miss = a->kind == CH_MISSING, b_miss = b->kind == CH_MISSING;
    if (a_miss && b_miss) return true;
    if (a_miss || b_miss) {
        const change *m = a_miss ? a : b, *o = a_miss ? b : a;
        if (o->kind == CH_PLACE) return true;
        if (o->obj == m->obj) return true;
    }
    return false;
}

static void draw_shown(stream *s, const at_demo_scene *want, at_demo_scene *shown) {
    *shown = *want;
    change all[16], chosen[3];
    int n = possible_changes(want, all), m = pick_weighted(s, p_mismatches, 4), nchosen = 0;
    for (int c = 0; c < m && n > 0; c++) {
        double total = 0;
        for (int k = 0; k < n; k++) total += all[k].weight;
        double u = unif(s) * total;
        int k = 0;
        while (k < n - 1 && (u -= all[k].weight) >= 0) k++;
        chosen[nchosen++] = all[k];
        /* remove what is taken or now impossible */
        int kept = 0;
        for (int q = 0; q < n; q++)
            if (q != k && !conflicts(&all[q], &all[k])) all[kept++] = all[q];
        n = kept;
    }
    /* Background first, so object colours can avoid the shown one. */
    for (int c = 0; c < nchosen; c++) {
        if (chosen[c].kind == CH_BG_KIND)
            shown->background = pick_other(s, AT_DEMO_NBACKGROUNDS, want->background, -1);
        if (chosen[c].kind == CH_BG_COLOUR)
            shown->bg_colour = pick_avoiding(s, AT_DEMO_NCOLOURS, want->bg_colour, want->obj[0].colour,
                                             want->nobjects == 2 ? want->obj[1].colour : -1);
    }
    for (int c = 0; c < nchosen; c++) {
        at_demo_object *o = chosen[c].obj >= 0 ? &shown->obj[chosen[c].obj] : NULL;
        switch (chosen[c].kind) {
        case CH_SHAPE: o->shape = pick_other(s, AT_DEMO_NSHAPES, o->shape, -1); break;
        case CH_COLOUR: o->colour = pick_other(s, AT_DEMO_NCOLOURS, o->colour, shown->bg_colour); break;
        case CH_SIZE: o->size = 1 - o->size; break;
        case CH_MISSING: o->present = false; break;
        case CH_PLACE:
            shown->place = pick_other(s, want->nobjects == 1 ? AT_DEMO_NPOSITIONS : AT_DEMO_NRELATIONS,
                                      want->place, -1);
            break;
        default: break;
        }
    }
}

/* ---- factors, layout, scores ---- */
static void draw_factors(stream *s, at_demo_factors *f) {
    f->blur = severity(s, P_DEGRADATION, MIN_SEVERITY);
    f->noise = severity(s, P_DEGRADATION, MIN_SEVERITY);
    f->blockiness = severity(s, P_DEGRADATION, MIN_SEVERITY);
    f->banding = severity(s, P_DEGRADATION, MIN_SEVERITY);
    f->low_contrast = severity(s, P_DEGRADATION, MIN_SEVERITY);
    f->shading = severity(s, 0.7, 0.15);
    f->shadow = severity(s, 0.5, 0.4);
    f->texture = severity(s, 0.6, 0.2);
    int nart = pick_weighted(s, p_artifacts, 3);
    f->artifacts = 0;
    while (at_demo_count_bits(f->artifacts) < nart) f->artifacts |= 1u << pick(s, 3);
}

static float signed_unit(stream *s) { return (float)(2 * unif(s) - 1); }

static void draw_layout(stream *s, at_demo_layout *l) {
    for (int j = 0; j < 2; j++) {
        l->jitter_x[j] = signed_unit(s);
        l->jitter_y[j] = signed_unit(s);
        l->radius_scale[j] = 1 + 0.08f * signed_unit(s);
        l->angle[j] = 0.2f * signed_unit(s);
    }
    l->bg_angle = (float)(2 * M_PI * unif(s));
    l->bg_period = (float)(0.08 + 0.06 * unif(s));
    l->light = 0.3f * signed_unit(s);
    l->fragment.target = pick(s, 2);
    l->fragment.x = 0.5f * signed_unit(s);
    l->fragment.y = 0.5f * signed_unit(s);
    l->fragment.w = (float)(1.0 + 0.5 * unif(s));
    double a = 2 * M_PI * unif(s), r = 0.3 + 0.2 * unif(s);
    l->fragment.dx = (float)(r * cos(a));
    l->fragment.dy = (float)(r * sin(a));
    l->inversion.target = pick(s, 2);
    l->inversion.x = 0.8f * signed_unit(s);
    l->inversion.y = 0.8f * signed_unit(s);
    l->inversion.w = (float)(0.12 + 0.12 * unif(s));
    l->inversion.h = (float)(0.12 + 0.12 * unif(s));
    l->tear.target = pick(s, 2);
    l->tear.y = 0.5f * signed_unit(s);
    l->tear.h = (float)(0.06 + 0.07 * unif(s));
    float shift = (float)(0.06 + 0.08 * unif(s));
    l->tear.dx = unif(s) < 0.5 ? -shift : shift;
}

static double colour_distance(int a, int b) {
    float pa[3], pb[3];
    at_demo_colour_rgb(a, pa);
    at_demo_colour_rgb(b, pb);
    double d = 0;
    for (int c = 0; c < 3; c++) d += (pa[c] - pb[c]) * (pa[c] - pb[c]);
    return sqrt(d / 3);
}

static double alignment_penalty(const at_demo_scene *want, const at_demo_scene *shown) {
    double p = 0;
    for (int j = 0; j < want->nobjects; j++) {
        const at_demo_object *w = &want->obj[j], *o = &shown->obj[j];
        if (!o->present) {
            p += want->nobjects == 1 ? A_MISSING_ONLY : A_MISSING;
            continue;
        }
        if (o->shape != w->shape) p += A_SHAPE;
        if (o->colour != w->colour) p += A_COLOUR + A_COLOUR_FAR * colour_distance(o->colour, w->colour);
        if (o->size != w->size) p += A_SIZE;
    }
    if (shown->place != want->place) p += A_PLACE;
    if (shown->bg_colour != want->bg_colour)
        p += A_BG_COLOUR + A_BG_COLOUR_FAR * colour_distance(shown->bg_colour, want->bg_colour);
    if (shown->background != want->background) p += A_BG_KIND;
    return p;
}

static double sigmoid5(double z) { return 5 / (1 + exp(-z)); }

void at_demo_expected_scores(const at_demo_row *row, double out[AT_DEMO_NMETRICS]) {
    const at_demo_factors *f = &row->f;
    unsigned art = f->artifacts;
    double zq = Q_BASE - Q_BLUR * f->blur - Q_NOISE * f->noise - Q_BLOCKINESS * f->blockiness -
                Q_BANDING * f->banding - Q_LOW_CONTRAST * f->low_contrast -
                Q_ARTIFACT * at_demo_count_bits(art & AT_DEMO_ART_IMPOSSIBLE) + Q_SHADING * (f->shading - 0.5);
    double za = A_BASE - alignment_penalty(&row->scene, &row->shown) - A_BLUR * f->blur -
                A_NOISE * f->noise - A_LOW_CONTRAST * f->low_contrast;
    double zu = U_BASE + U_SHADING * f->shading + U_SHADOW * f->shadow + U_TEXTURE * f->texture -
                (art & AT_DEMO_ART_FRAGMENT ? U_FRAGMENT : 0) -
                (art & AT_DEMO_ART_INVERSION ? U_INVERSION : 0) - (art & AT_DEMO_ART_TEAR ? U_TEAR : 0) -
                (art & AT_DEMO_ART_FRINGE ? U_FRINGE : 0) - U_BLOCKINESS * f->blockiness - U_BANDING * f->banding;
    out[AT_DEMO_QUALITY] = sigmoid5(zq);
    out[AT_DEMO_ALIGN] = sigmoid5(za);
    out[AT_DEMO_AUTHENTICITY] = sigmoid5(zu);
}

int at_demo_db_row(const at_demo_db *db, int64_t i, at_demo_row *row) {
    if (i < 0 || i >= db->cfg.nimages) {
        at_set_error("demo_db: row %lld out of range for a database of %lld images", (long long)i,
                     (long long)db->cfg.nimages);
        return -1;
    }
    memset(row, 0, sizeof *row);
    row->index = i;
    row->prompt_index = i / db->cfg.images_per_prompt;
    row->seed = db->cfg.seed;
    snprintf(row->name, sizeof row->name, "demo_%05lld.png", (long long)i);
    row->scene = db->scenes[row->prompt_index];
    stream s = stream_at(db->cfg.seed, DOMAIN_IMAGE, (uint64_t)i);
    draw_shown(&s, &row->scene, &row->shown);
    s.next = 1000;   /* fixed starting points keep each group's draws apart */
    draw_factors(&s, &row->f);
    s.next = 1500;   /* the fringe came later than the other factors: its own position keeps their draws */
    if (unif(&s) < P_FRINGE) row->f.artifacts |= AT_DEMO_ART_FRINGE;
    s.next = 2000;
    draw_layout(&s, &row->layout);
    s.next = 3000;
    double expected[AT_DEMO_NMETRICS];
    at_demo_expected_scores(row, expected);
    for (int m = 0; m < AT_DEMO_NMETRICS; m++) {
        row->rater_noise[m] = RATER_NOISE_SD * gauss(&s);
        double v = expected[m] + row->rater_noise[m];
        row->mos[m] = v < 0 ? 0 : v > 5 ? 5 : v;
    }
    at_demo_describe(&row->scene, row->prompt, sizeof row->prompt);
    at_demo_describe(&row->shown, row->drawn, sizeof row->drawn);
    return 0;
}

at_image *at_demo_db_image(const at_demo_db *db, int64_t i, at_demo_row *row) {
    at_demo_row local;
    if (!row) row = &local;
    if (at_demo_db_row(db, i, row)) return NULL;
    at_image *im = at_image_new(db->cfg.size, db->cfg.size, AT_IMAGE_RGB);
    if (!im) return NULL;
    if (at_demo_render(row, db->cfg.size, im->pixels)) {
        at_image_free(im);
        return NULL;
    }
    return im;
}

at_tensor *at_demo_db_preprocess(const at_demo_db *db, const int64_t *rows, int64_t n, int size) {
    if (n < 1 || size < 1) {
        at_set_error("demo_db: preprocess needs at least one row and a positive size, got %lld rows, size %d",
                     (long long)n, size);
        return NULL;
    }
    for (int64_t k = 0; k < n; k++)
        if (rows[k] < 0 || rows[k] >= db->cfg.nimages) {
            at_set_error("demo_db: row %lld out of range for a database of %lld images", (long long)rows[k],
                         (long long)db->cfg.nimages);
            return NULL;
        }
    int64_t shape[4] = {n, 3, size, size};
    at_tensor *batch = at_empty(AT_F32, 4, shape);
    if (!batch) return NULL;
    int failed = 0;
    char message[1024] = "";
#pragma omp parallel for schedule(dynamic, 1) if (n > 1)
    for (int64_t k = 0; k < n; k++) {
        at_image *im = at_demo_db_image(db, rows[k], NULL);
        if (!im || at_image_preprocess_into(im, batch, k)) {
#pragma omp critical(demo_db_preprocess_error)
            if (!failed) {   /* only memory can fail here: any message will do */
                failed = 1;
                snprintf(message, sizeof message, "%s", at_last_error());
            }
        }
        at_image_free(im);
    }
    if (failed) {
        at_release(batch);
        at_set_error("%s", message);
        return NULL;
    }
    return batch;
}

/* ---- words ---- */
unsigned at_demo_mismatches(const at_demo_scene *want, const at_demo_scene *shown) {
    unsigned m = 0;
    for (int j = 0; j < want->nobjects; j++) {
        const at_demo_object *w = &want->obj[j], *o = &shown->obj[j];
        if (!o->present) {
            m |= AT_DEMO_MM_MISSING0 << j;
            continue;
        }
        if (o->shape != w->shape) m |= AT_DEMO_MM_SHAPE0 << j;
        if (o->colour != w->colour) m |= AT_DEMO_MM_COLOUR0 << j;
        if (o->size != w->size) m |= AT_DEMO_MM_SIZE0 << j;
    }
    if (shown->place != want->place) m |= AT_DEMO_MM_PLACE;
    if (shown->bg_colour != want->bg_colour) m |= AT_DEMO_MM_BG_COLOUR;
    if (shown->background != want->background) m |= AT_DEMO_MM_BG_KIND;
    return m;
}

int at_demo_count_bits(unsigned bits) {
    int n = 0;
    for (; bits; bits &= bits - 1) n++;
    return n;
}

static int object_words(const at_demo_object *o, char *out, int size) {
    return snprintf(out, (size_t)size, "a %s %s %s", size_names[o->size], colour_names[o->colour],
                    shape_names[o->shape]);
}

/* Where object j of a pair is when the other is gone. */
static int lone_position(int relation, int j) {
    static const int first[AT_DEMO_NRELATIONS] = {AT_DEMO_LEFT, AT_DEMO_RIGHT, AT_DEMO_TOP, AT_DEMO_BOTTOM};
    static const int second[AT_DEMO_NRELATIONS] = {AT_DEMO_RIGHT, AT_DEMO_LEFT, AT_DEMO_BOTTOM, AT_DEMO_TOP};
    return j == 0 ? first[relation] : second[relation];
}

void at_demo_describe(const at_demo_scene *s, char *out, int size) {
    char a[64], b[64], bg[64];
    snprintf(bg, sizeof bg, background_formats[s->background], colour_names[s->bg_colour]);
    int shown[2], n = 0;
    for (int j = 0; j < s->nobjects; j++)
        if (s->obj[j].present) shown[n++] = j;
    if (n == 2) {
        object_words(&s->obj[0], a, sizeof a);
        object_words(&s->obj[1], b, sizeof b);
        snprintf(out, (size_t)size, "%s %s %s, %s", a, relation_words[s->place], b, bg);
    } else if (n == 1) {
        object_words(&s->obj[shown[0]], a, sizeof a);
        int pos = s->nobjects == 1 ? s->place : lone_position(s->place, shown[0]);
        snprintf(out, (size_t)size, "%s %s, %s", a, position_words[pos], bg);
    } else {
        snprintf(out, (size_t)size, "nothing, %s", bg);
    }
}

static void bit_names(unsigned bits, const char *const *names, int nnames, char *out, int size) {
    int used = snprintf(out, (size_t)size, "%s", bits ? "" : "none");
    for (int k = 0; k < nnames && used < size; k++)
        if (bits & (1u << k))
            used += snprintf(out + used, (size_t)(size - used), "%s%s", used ? ";" : "", names[k]);
}

void at_demo_mismatch_names(unsigned mismatches, char *out, int size) {
    static const char *names[] = {"shape0", "shape1", "colour0", "colour1", "size0", "size1",
                                  "missing0", "missing1", "place", "bg_colour", "bg_kind"};
    bit_names(mismatches, names, 11, out, size);
}

void at_demo_artifact_names(unsigned artifacts, char *out, int size) {
    static const char *names[] = {"fragment", "inversion", "tear", "fringe"};
    bit_names(artifacts, names, 4, out, size);
}

/* ---- the vocabulary ---- */

/* The texts train.run feeds for the fixed-text metrics (quality,
 * authenticity: lua/aapmt/train_config.lua's task_prompts), so a model
 * trained from scratch on the demo tokenizes them without [UNK] too. */
static const char *task_texts[] = {"extremely high quality image, with vivid details", "very authentic image"};

static int compare_words(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Splits text as BERT's BasicTokenizer does for our ASCII words: on spaces,
 * with each punctuation mark a word of its own; "%s" (a format's slot) is skipped. */
static void add_words(const char *text, char words[][24], int *n, int max) {
    for (const char *p = text; *p;) {
        if (*p == ' ' || (p[0] == '%' && p[1] == 's')) {
            p += *p == ' ' ? 1 : 2;
            continue;
        }
        int len = 0;
        if (ispunct((unsigned char)*p)) len = 1;
        else
            while (p[len] && p[len] != ' ' && !ispunct((unsigned char)p[len])) len++;
        if (*n < max && len < 24) {
            memcpy(words[*n], p, (size_t)len);
            words[(*n)++][len] = 0;
        }
        p += len;
    }
}

char *at_demo_vocab_text(void) {
    static const char *specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    enum { MAX_WORDS = 256 };
    char words[MAX_WORDS][24];
    int n = 0;
    const char *const *lists[] = {shape_names, colour_names, size_names, position_words, relation_words,
                                  background_formats, task_texts};
    const int counts[] = {AT_DEMO_NSHAPES, AT_DEMO_NCOLOURS, 2, AT_DEMO_NPOSITIONS, AT_DEMO_NRELATIONS,
                          AT_DEMO_NBACKGROUNDS, 2};
    for (int l = 0; l < 7; l++)
        for (int k = 0; k < counts[l]; k++) add_words(lists[l][k], words, &n, MAX_WORDS);
    add_words("a nothing ,", words, &n, MAX_WORDS);   /* at_demo_describe's own words */
    const char *sorted[MAX_WORDS];
    for (int k = 0; k < n; k++) sorted[k] = words[k];
    qsort(sorted, (size_t)n, sizeof *sorted, compare_words);
    size_t cap = 64;
    for (int k = 0; k < n; k++) cap += strlen(sorted[k]) + 1;
    char *out = malloc(cap);
    if (!out) {
        at_set_error("demo_db: out of memory for the vocabulary");
        return NULL;
    }
    size_t used = 0;
    for (int k = 0; k < 5; k++) used += (size_t)snprintf(out + used, cap - used, "%s\n", specials[k]);
    for (int k = 0; k < n; k++)
        if (k == 0 || strcmp(sorted[k], sorted[k - 1]))
            used += (size_t)snprintf(out + used, cap - used, "%s\n", sorted[k]);
    return out;
}

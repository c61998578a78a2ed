/* The built-in demo database: a synthetic image-assessment database drawn by
 * the program, so the engine trains end to end with no download.
 *
 * It looks like AGIQA-3K / AIGCIQA2023 to the rest of the engine: a folder
 * images/ of PNGs and a CSV demo.csv with columns name, prompt, mos_quality,
 * mos_align, mos_authenticity (MOS in [0, 5], as AAPMT scales them), several
 * images a prompt (10 by default, as AGIQA-3K) so content-isolated splits by
 * prompt work, and extra columns with the factors that made each score.
 *
 * The generative model. A prompt describes a scene: one or two objects (shape
 * circle/square/triangle/star/ring/cross, one of 8 colours, small or
 * large), where they are (one object: center/left/right/top/bottom; two: the
 * first left of/right of/above/below the second) and a background (plain,
 * gradient or striped, in a colour no object has), e.g.
 *   "a large red circle to the left of a small yellow square, on a plain
 *    blue background".
 * Prompts are distinct (drawn, then redrawn on a repeat). Each image of a
 * prompt draws independent factors, one group per metric, and its MOS is
 *   mos = clamp(5 * sigmoid(z) + rater noise, 0, 5),  rater noise ~ N(0, 0.12)
 * with z a sum of the factors below (the weights are in demo_db.c, named):
 *  - quality: five degradations applied after drawing, each present with
 *    probability 0.4 at a severity in [0.15, 1]: low contrast, Gaussian blur,
 *    Gaussian noise, JPEG-like blockiness (blocks pulled toward their mean),
 *    colour banding (posterised to 13..3 levels; it costs less, as flat
 *    fills hide it). z falls linearly with each severity;
 *    the impossible artifacts (below) cost a little quality too.
 *  - alignment: the image shows a scene that differs from the prompt's in
 *    0-3 ways (probabilities 0.35/0.35/0.2/0.1), mostly in what a viewer
 *    (and a small model at 48 pixels) notices first: an object of another
 *    colour (costing more the further the colour; the commonest kind), an
 *    object missing; less often another shape or background colour; seldom
 *    the objects in other places, the other size, another background kind.
 *    z falls with each difference; blur, noise and low contrast hide the
 *    content and cost a little alignment.
 *  - authenticity: how physical the rendering looks: shading (flat cartoon
 *    fill with an outline at 0, lit and specular at 1), a soft drop shadow,
 *    surface texture, all raising z; "impossible" artifacts lowering it: a
 *    duplicated fragment of an object pasted elsewhere, a colour-inverted
 *    patch, a torn (sideways shifted) band (0-2 of these, probabilities
 *    0.55/0.3/0.15), and, independently with probability 0.4, a colour
 *    fringe; blockiness and banding lower it a little. Shaded scenes are
 *    lit from the middle (darker corners), a cue that shows at any size.
 * The groups are drawn independently, so the metrics correlate only through
 * the small cross terms (|r| about 0.25 for quality-authenticity, under 0.1
 * for the others): a model must learn each one. The rater noise leaves a
 * perfect model SRCC of about 0.99. Everything scales with the image side,
 * so small images (32-64 pixels, for tests and quick training) show the
 * same effects. Alignment is the hard metric to learn on held-out prompts:
 * it needs colours, shapes and places bound to words, and it generalises
 * with the number of distinct prompts, so quick training runs do better
 * with fewer images a prompt (e.g. 2) and more prompts. A tiny ImageReward
 * trained from scratch learns both (tests/lua/test_demo_learning.lua:
 * 64000 images at 48 pixels, 2 a prompt, held-out prompts), and with a
 * Metric Transformer all three at once (tests/lua/test_metric_learning.lua).
 *
 * Determinism: every random decision is a Philox draw (rng.h) at a counter
 * made of (domain, row, draw number), so row i depends only on (seed, i,
 * images_per_prompt), and files are byte-identical whatever the thread count.
 * Rows are generated in parallel with OpenMP.
 *
 * Errors: NULL or -1 after at_set_error("demo_db: ...") naming the path. */
#ifndef AAPMT_TRAIN_DEMO_DB_H
#define AAPMT_TRAIN_DEMO_DB_H

#include <stdbool.h>
#include <stdint.h>

#include "../io/image.h"

enum { AT_DEMO_QUALITY, AT_DEMO_ALIGN, AT_DEMO_AUTHENTICITY, AT_DEMO_NMETRICS };

enum { AT_DEMO_CIRCLE, AT_DEMO_SQUARE, AT_DEMO_TRIANGLE, AT_DEMO_STAR, AT_DEMO_RING, AT_DEMO_CROSS,
       AT_DEMO_NSHAPES };
enum { AT_DEMO_RED, AT_DEMO_GREEN, AT_DEMO_BLUE, AT_DEMO_YELLOW, AT_DEMO_ORANGE,
       AT_DEMO_PURPLE, AT_DEMO_WHITE, AT_DEMO_BLACK, AT_DEMO_NCOLOURS };
enum { AT_DEMO_SMALL, AT_DEMO_LARGE };
/* Where a lone object is. */
enum { AT_DEMO_CENTER, AT_DEMO_LEFT, AT_DEMO_RIGHT, AT_DEMO_TOP, AT_DEMO_BOTTOM,
       AT_DEMO_NPOSITIONS };
/* Where object 0 is relative to object 1. */
enum { AT_DEMO_LEFT_OF, AT_DEMO_RIGHT_OF, AT_DEMO_ABOVE, AT_DEMO_BELOW, AT_DEMO_NRELATIONS };
enum { AT_DEMO_PLAIN, AT_DEMO_GRADIENT, AT_DEMO_STRIPED, AT_DEMO_NBACKGROUNDS };

/* How a shown scene differs from the prompt's (at_demo_mismatches). */
enum {
    AT_DEMO_MM_SHAPE0 = 1 << 0, AT_DEMO_MM_SHAPE1 = 1 << 1,
    AT_DEMO_MM_COLOUR0 = 1 << 2, AT_DEMO_MM_COLOUR1 = 1 << 3,
    AT_DEMO_MM_SIZE0 = 1 << 4, AT_DEMO_MM_SIZE1 = 1 << 5,
    AT_DEMO_MM_MISSING0 = 1 << 6, AT_DEMO_MM_MISSING1 = 1 << 7,
    AT_DEMO_MM_PLACE = 1 << 8, AT_DEMO_MM_BG_COLOUR = 1 << 9, AT_DEMO_MM_BG_KIND = 1 << 10,
};
/* Authenticity artifacts. The first three are "impossible" edits of the
 * scene, 0-2 of them an image; the colour fringe (red and blue channels
 * shifted apart sideways, as a cheap lens or a bad upscaler leaves them) is
 * drawn on its own. */
enum { AT_DEMO_ART_FRAGMENT = 1 << 0, AT_DEMO_ART_INVERSION = 1 << 1, AT_DEMO_ART_TEAR = 1 << 2,
       AT_DEMO_ART_FRINGE = 1 << 3 };
#define AT_DEMO_ART_IMPOSSIBLE (AT_DEMO_ART_FRAGMENT | AT_DEMO_ART_INVERSION | AT_DEMO_ART_TEAR)

typedef struct at_demo_object {
    int shape, colour, size;
    bool present;      /* false: left out of the image (a shown scene only) */
} at_demo_object;

typedef struct at_demo_scene {
    int nobjects;      /* 1 or 2 */
    at_demo_object obj[2];
    int place;         /* one object: AT_DEMO_CENTER...; two: AT_DEMO_LEFT_OF... */
    int background, bg_colour;
} at_demo_scene;

/* The factors behind an image's scores; severities and strengths in [0, 1],
 * 0 meaning absent. */
typedef struct at_demo_factors {
    double blur, noise, blockiness, banding, low_contrast;   /* quality */
    double shading, shadow, texture;                          /* authenticity, up */
    unsigned artifacts;                                       /* AT_DEMO_ART_*, down */
} at_demo_factors;

/* An artifact, placed relative to object `target` (the other one when it is
 * absent): offsets x, y in its radii; sizes w, h and moves dx, dy as
 * fractions of the side (the fragment's side w in radii). */
typedef struct at_demo_patch {
    float x, y, w, h, dx, dy;
    int target;
} at_demo_patch;

/* Where things go, as fractions of the image side, so a row renders at any
 * size. Object positions are the shown scene's place plus this jitter (in
 * [-1, 1], scaled by the renderer). */
typedef struct at_demo_layout {
    float jitter_x[2], jitter_y[2], radius_scale[2], angle[2];
    float bg_angle, bg_period;    /* gradient direction, stripe direction and period */
    float light;                  /* light direction jitter */
    at_demo_patch fragment, inversion, tear;
} at_demo_layout;

#define AT_DEMO_TEXT_MAX 192

typedef struct at_demo_row {
    int64_t index, prompt_index;
    uint64_t seed;
    char name[32];                   /* demo_00000.png */
    char prompt[AT_DEMO_TEXT_MAX];   /* the scene asked for */
    char drawn[AT_DEMO_TEXT_MAX];    /* the scene shown, in the same words */
    at_demo_scene scene, shown;
    at_demo_factors f;
    at_demo_layout layout;
    double rater_noise[AT_DEMO_NMETRICS];
    double mos[AT_DEMO_NMETRICS];    /* quality, align, authenticity, in [0, 5] */
} at_demo_row;

typedef struct at_demo_db_config {
    int64_t nimages;        /* rows; default 1000 */
    int size;               /* image side in pixels, 8..4096; default 224 (ImageReward's input) */
    uint64_t seed;          /* default 42 */
    int images_per_prompt;  /* default 10 (AGIQA-3K); the last prompt may have fewer */
} at_demo_db_config;

#define AT_DEMO_MIN_SIZE 8
#define AT_DEMO_MAX_SIZE 4096
#define AT_DEMO_MAX_IMAGES ((int64_t)1 << 31)
#define AT_DEMO_MAX_PROMPTS 100000

typedef struct at_demo_db at_demo_db;

at_demo_db_config at_demo_db_defaults(void);
/* Draws the prompts; checks the config (NULL after an error naming the bad value). */
at_demo_db *at_demo_db_new(const at_demo_db_config *cfg);
void at_demo_db_free(at_demo_db *db);   /* NULL is fine */
const at_demo_db_config *at_demo_db_config_of(const at_demo_db *db);
int64_t at_demo_db_nprompts(const at_demo_db *db);

/* Row i (0-based) without its pixels. -1 after an error for i out of range. */
int at_demo_db_row(const at_demo_db *db, int64_t i, at_demo_row *row);
/* Row i's pixels: a new RGB image of the db's size (row may be NULL). */
at_image *at_demo_db_image(const at_demo_db *db, int64_t i, at_demo_row *row);

/* Training without files: rows[0..n) (0-based) drawn in parallel and put
 * through ImageReward's transform (io/image.h, at_image_preprocess_into) at
 * `size` (the db's size or any other): a new f32 tensor (n, 3, size, size). */
at_tensor *at_demo_db_preprocess(const at_demo_db *db, const int64_t *rows, int64_t n, int size);

/* Draws a row at any size into rgb (size * size * 3 bytes, row-major). What
 * is drawn follows row->shown, row->f and row->layout, so a caller may change
 * them (e.g. more blur, another colour) and draw again. -1 on a bad size. */
int at_demo_render(const at_demo_row *row, int size, uint8_t *rgb);

/* Scores without rater noise: 5 * sigmoid(z) per metric, from the row's
 * scene, shown scene and factors (row->mos is this plus rater noise, clamped). */
void at_demo_expected_scores(const at_demo_row *row, double out[AT_DEMO_NMETRICS]);
/* AT_DEMO_MM_* bits of the differences between the asked and the shown scene. */
unsigned at_demo_mismatches(const at_demo_scene *want, const at_demo_scene *shown);
int at_demo_count_bits(unsigned bits);
/* The scene in words, as prompts are written (drawn scenes may lack objects). */
void at_demo_describe(const at_demo_scene *s, char *out, int size);
/* Names for the CSV: "shape0;colour1" ("none" when 0). */
void at_demo_mismatch_names(unsigned mismatches, char *out, int size);
void at_demo_artifact_names(unsigned artifacts, char *out, int size);
/* A palette colour in [0, 1]. */
void at_demo_colour_rgb(int colour, float rgb[3]);
/* A BERT vocab.txt for training on the demo from scratch: [PAD] [UNK] [CLS]
 * [SEP] [MASK] (ids 0-4), then every word and punctuation mark a prompt or a
 * drawn scene can use and the words of train.run's fixed texts (quality,
 * authenticity), lower case, sorted, one a line. Every prompt tokenizes
 * without [UNK]. A new string (free it), or NULL when out of memory. */
char *at_demo_vocab_text(void);

/* ---- demo_db_write.c: the folder ----
 * dir/images/<name> for each row, dir/vocab.txt (at_demo_vocab_text, for
 * a model trained from scratch: pass it as train.run's vocab) and
 * dir/demo.csv. Every file is written to a
 * temporary name in its folder and renamed, so a reader never sees half a
 * file; the CSV comes last, so its presence means the images are complete.
 * dir and dir/images are created as needed (parents of dir too). */
#define AT_DEMO_CSV_NAME "demo.csv"
#define AT_DEMO_IMAGE_DIR "images"
#define AT_DEMO_VOCAB_NAME "vocab.txt"
int at_demo_db_write(const at_demo_db *db, const char *dir);
/* The same in pieces, for progress reports: rows [first, first + count). */
int at_demo_db_write_images(const at_demo_db *db, const char *dir, int64_t first, int64_t count);
/* The CSV, with vocab.txt written just before it. */
int at_demo_db_write_csv(const at_demo_db *db, const char *dir);
/* The CSV's header line, without the line end. */
const char *at_demo_csv_header(void);

#endif

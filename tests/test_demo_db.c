/* The built-in demo database (core/demo/demo_db.h): determinism (same seed,
 * same bytes, whatever the thread count), the CSV's columns and ranges, the
 * PNGs decoding with the project's own loader, the scores responding to
 * their factors as documented (in the numbers and in the pixels), the three
 * metrics only partly correlated, the vocab.txt written beside them
 * tokenizing every prompt without [UNK], atomic writing and clear errors. */
#include <dirent.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "io/image.h"
#include "io/tokenizer.h"
#include "tensor.h"
#include "demo/demo_db.h"

#define SIZE 40

static at_demo_db *make_db(int64_t n, int size, uint64_t seed) {
    at_demo_db_config c = at_demo_db_defaults();
    c.nimages = n;
    c.size = size;
    c.seed = seed;
    at_demo_db *db = at_demo_db_new(&c);
    CHECK(db != NULL, "demo_db_new: %s", at_last_error());
    return db;
}

/* ---- files ---- */
static void remove_tree(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            remove_tree(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Names in a folder that look like our temporary files. */
static int count_temporaries(const char *path) {
    DIR *d = opendir(path);
    int n = 0;
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp-")) n++;
    closedir(d);
    return n;
}

static bool same_file(const char *a, const char *b) {
    size_t na, nb;
    char *pa = check_read_file(a, &na), *pb = check_read_file(b, &nb);
    bool same = pa && pb && na == nb && memcmp(pa, pb, na) == 0;
    free(pa);
    free(pb);
    return same;
}

/* ---- a small RFC 4180 reader for the checks ---- */
typedef struct {
    int nrows, ncols;      /* ncols of the header; rows exclude it */
    char ***cells;         /* [row + 1][col], row 0 the header */
    int *widths;           /* fields of each record */
} table;

static table parse_csv(char *text) {
    table t = {0};
    int cap = 16;
    t.cells = calloc((size_t)cap, sizeof *t.cells);
    t.widths = calloc((size_t)cap, sizeof *t.widths);
    char *p = text;
    int nrec = 0;
    while (*p) {
        if (nrec == cap) {
            cap *= 2;
            t.cells = realloc(t.cells, (size_t)cap * sizeof *t.cells);
            t.widths = realloc(t.widths, (size_t)cap * sizeof *t.widths);
        }
        char **fields = malloc(64 * sizeof *fields);
        int nf = 0;
        for (;;) {
            char *out = p, *start = p;
            if (*p == '"') {
                p++;
                for (;;) {
                    if (*p == '"' && p[1] == '"') *out++ = '"', p += 2;
                    else if (*p == '"') { p++; break; }
                    else if (!*p) break;
                    else *out++ = *p++;
                }
            } else {
                while (*p && *p != ',' && *p != '\n') *out++ = *p++;
            }
            char sep = *p;
            *out = 0;
            if (nf < 64) fields[nf++] = start;
            if (sep == ',') { p++; continue; }
            if (sep == '\n') p++;
            break;
        }
        t.cells[nrec] = fields;
        t.widths[nrec++] = nf;
    }
    t.nrows = nrec - 1;
    t.ncols = nrec ? t.widths[0] : 0;
    return t;
}

static void free_table(table *t) {
    for (int r = 0; r <= t->nrows; r++) free(t->cells[r]);
    free(t->cells);
    free(t->widths);
}

static int column(const table *t, const char *name) {
    for (int c = 0; c < t->ncols; c++)
        if (!strcmp(t->cells[0][c], name)) return c;
    return -1;
}

/* ---- statistics ---- */
static double pearson(const double *x, const double *y, int n) {
    double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < n; i++) mx += x[i] / n, my += y[i] / n;
    for (int i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxy / sqrt(sxx * syy);
}

static const double *rank_key;
static int by_key(const void *a, const void *b) {
    double x = rank_key[*(const int *)a], y = rank_key[*(const int *)b];
    return x < y ? -1 : x > y;
}

/* Average ranks for ties. */
static void ranks(const double *x, int n, double *out) {
    int *order = malloc(sizeof *order * (size_t)n);
    for (int i = 0; i < n; i++) order[i] = i;
    rank_key = x;
    qsort(order, (size_t)n, sizeof *order, by_key);
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && x[order[j + 1]] == x[order[i]]) j++;
        for (int k = i; k <= j; k++) out[order[k]] = (i + j) / 2.0;
        i = j + 1;
    }
    free(order);
}

static double spearman(const double *x, const double *y, int n) {
    double *rx = malloc(sizeof *rx * (size_t)n), *ry = malloc(sizeof *ry * (size_t)n);
    ranks(x, n, rx);
    ranks(y, n, ry);
    double r = pearson(rx, ry, n);
    free(rx);
    free(ry);
    return r;
}

/* ---- pixel measures ---- */
static double edge_energy(const uint8_t *p, int S) {
    double e = 0;
    for (int y = 0; y < S; y++)
        for (int x = 0; x + 1 < S; x++)
            for (int k = 0; k < 3; k++) e += abs(p[(y * S + x + 1) * 3 + k] - p[(y * S + x) * 3 + k]);
    return e / (S * (S - 1) * 3);
}

static double pixel_sd(const uint8_t *p, int S) {
    double m = 0, v = 0;
    int n = S * S * 3;
    for (int i = 0; i < n; i++) m += p[i] / (double)n;
    for (int i = 0; i < n; i++) v += (p[i] - m) * (p[i] - m) / n;
    return sqrt(v);
}

static int distinct_values(const uint8_t *p, int S) {
    bool seen[256] = {false};
    int n = 0;
    for (int i = 0; i < S * S * 3; i++)
        if (!seen[p[i]]) seen[p[i]] = true, n++;
    return n;
}

static double mean_abs_diff(const uint8_t *a, const uint8_t *b, int S) {
    double d = 0;
    for (int i = 0; i < S * S * 3; i++) d += abs(a[i] - b[i]);
    return d / (S * S * 3);
}

/* ---- the tests ---- */
static void test_config_errors(void) {
    at_demo_db_config c = at_demo_db_defaults();
    CHECK(c.size == 224 && c.images_per_prompt == 10, "defaults: size %d, %d a prompt", c.size,
          c.images_per_prompt);
    c.size = 4;
    CHECK(!at_demo_db_new(&c) && strstr(at_last_error(), "image size must be in 8..4096 pixels, got 4"),
          "size 4: %s", at_last_error());
    c = at_demo_db_defaults();
    c.nimages = 0;
    CHECK(!at_demo_db_new(&c) && strstr(at_last_error(), "got 0"), "0 images: %s", at_last_error());
    c = at_demo_db_defaults();
    c.images_per_prompt = 0;
    CHECK(!at_demo_db_new(&c) && strstr(at_last_error(), "per prompt"), "0 a prompt: %s", at_last_error());
    at_demo_db *db = make_db(25, SIZE, 1);
    at_demo_row row;
    CHECK(db && at_demo_db_nprompts(db) == 3, "25 images at 10 a prompt: %lld prompts",
          db ? (long long)at_demo_db_nprompts(db) : -1LL);
    CHECK(db && at_demo_db_row(db, 25, &row) == -1 && strstr(at_last_error(), "row 25 out of range"),
          "row 25: %s", at_last_error());
    uint8_t rgb[3];
    CHECK(db && at_demo_db_row(db, 0, &row) == 0 && at_demo_render(&row, 2, rgb) == -1,
          "render at 2 pixels must fail");
    at_demo_db_free(db);
}

static void test_memory_determinism(void) {
    at_demo_db *a = make_db(30, SIZE, 7), *b = make_db(30, SIZE, 7), *c = make_db(30, SIZE, 8);
    if (!a || !b || !c) goto done;
    int same = 0, differ = 0, prompts_differ = 0;
    for (int64_t i = 0; i < 30; i++) {
        at_demo_row ra, rb, rc;
        at_image *ia = at_demo_db_image(a, i, &ra), *ib = at_demo_db_image(b, i, &rb),
                 *ic = at_demo_db_image(c, i, &rc);
        CHECK(ia && ib && ic, "image %lld: %s", (long long)i, at_last_error());
        if (ia && ib && ic) {
            CHECK(ia->width == SIZE && ia->height == SIZE && ia->mode == AT_IMAGE_RGB, "image %lld: %dx%d %s",
                  (long long)i, ia->width, ia->height, at_image_mode_name(ia->mode));
            size_t n = (size_t)SIZE * SIZE * 3;
            same += memcmp(ia->pixels, ib->pixels, n) == 0 && !strcmp(ra.prompt, rb.prompt) &&
                    ra.mos[0] == rb.mos[0] && ra.mos[1] == rb.mos[1] && ra.mos[2] == rb.mos[2];
            differ += memcmp(ia->pixels, ic->pixels, n) != 0;
            prompts_differ += strcmp(ra.prompt, rc.prompt) != 0;
        }
        at_image_free(ia);
        at_image_free(ib);
        at_image_free(ic);
    }
    CHECK(same == 30, "seed 7 twice: %d of 30 rows identical", same);
    CHECK(differ == 30 && prompts_differ >= 25, "seeds 7 and 8: %d of 30 images and %d prompts differ", differ,
          prompts_differ);
done:
    at_demo_db_free(a);
    at_demo_db_free(b);
    at_demo_db_free(c);
}

/* The in-memory training path equals ImageReward's transform of the image. */
static void test_preprocess(void) {
    at_demo_db *db = make_db(12, SIZE, 21);
    if (!db) return;
    int64_t rows[3] = {7, 0, 11};
    at_tensor *batch = at_demo_db_preprocess(db, rows, 3, 32);
    CHECK(batch && batch->ndim == 4 && batch->shape[0] == 3 && batch->shape[1] == 3 && batch->shape[2] == 32 &&
              batch->shape[3] == 32, "preprocess: %s", batch ? "wrong shape" : at_last_error());
    for (int k = 0; batch && k < 3; k++) {
        at_image *im = at_demo_db_image(db, rows[k], NULL);
        at_tensor *one = im ? at_image_preprocess_tensor(im, 32) : NULL;
        CHECK(one && memcmp(at_data(one), (float *)at_data(batch) + (size_t)k * 3 * 32 * 32,
                            sizeof(float) * 3 * 32 * 32) == 0, "preprocess row %d differs", k);
        at_release(one);
        at_image_free(im);
    }
    at_release(batch);
    rows[1] = 12;
    CHECK(!at_demo_db_preprocess(db, rows, 3, 32) && strstr(at_last_error(), "row 12 out of range"),
          "preprocess row 12: %s", at_last_error());
    at_demo_db_free(db);
}

/* The rows of a prompt are consecutive, prompts are distinct, and a prompt
 * describes its scene; the drawn text equals the prompt exactly when
 * nothing was changed. */
static void test_prompts(void) {
    at_demo_db *db = make_db(400, SIZE, 3);
    if (!db) return;
    char prev[AT_DEMO_TEXT_MAX] = "";
    int groups = 0, consistent = 0, described = 0, ones = 0;
    char (*seen)[AT_DEMO_TEXT_MAX] = calloc(40, AT_DEMO_TEXT_MAX);
    for (int64_t i = 0; i < 400; i++) {
        at_demo_row r;
        if (at_demo_db_row(db, i, &r)) break;
        if (i % 10 == 0) {
            for (int g = 0; g < groups; g++) CHECK(strcmp(seen[g], r.prompt), "prompt repeated: %s", r.prompt);
            snprintf(seen[groups++], AT_DEMO_TEXT_MAX, "%s", r.prompt);
            ones += r.scene.nobjects == 1;
        } else {
            CHECK(!strcmp(prev, r.prompt), "row %lld changed prompt inside its group", (long long)i);
        }
        snprintf(prev, sizeof prev, "%s", r.prompt);
        unsigned mm = at_demo_mismatches(&r.scene, &r.shown);
        consistent += (mm == 0) == (strcmp(r.prompt, r.drawn) == 0);
        described += at_demo_count_bits(mm) <= 3 && r.prompt_index == i / 10;
    }
    CHECK(groups == 40 && ones > 4 && ones < 28, "%d groups, %d with one object", groups, ones);
    CHECK(consistent == 400 && described == 400, "%d consistent, %d described of 400", consistent, described);
    at_demo_row r;
    at_demo_db_row(db, 0, &r);
    r.scene.nobjects = 2;
    r.scene.obj[0] = (at_demo_object){AT_DEMO_CIRCLE, AT_DEMO_RED, AT_DEMO_LARGE, true};
    r.scene.obj[1] = (at_demo_object){AT_DEMO_SQUARE, AT_DEMO_YELLOW, AT_DEMO_SMALL, true};
    r.scene.place = AT_DEMO_LEFT_OF;
    r.scene.background = AT_DEMO_PLAIN;
    r.scene.bg_colour = AT_DEMO_BLUE;
    char text[AT_DEMO_TEXT_MAX];
    at_demo_describe(&r.scene, text, sizeof text);
    CHECK(!strcmp(text, "a large red circle to the left of a small yellow square, on a plain blue background"),
          "describe: %s", text);
    r.scene.obj[0].present = false;
    at_demo_describe(&r.scene, text, sizeof text);
    CHECK(!strcmp(text, "a small yellow square on the right, on a plain blue background"), "describe: %s", text);
    free(seen);
    at_demo_db_free(db);
}

/* The noise-free scores move the documented way with each factor. */
static void test_score_model(void) {
    at_demo_db *db = make_db(10, SIZE, 5);
    if (!db) return;
    at_demo_row base;
    at_demo_db_row(db, 0, &base);
    base.shown = base.scene;
    memset(&base.f, 0, sizeof base.f);
    double s[AT_DEMO_NMETRICS], prev[AT_DEMO_NMETRICS];
    const char *names[] = {"blur", "noise", "blockiness", "banding", "low_contrast"};
    for (int k = 0; k < 5; k++) {
        at_demo_row r = base;
        double *factor[] = {&r.f.blur, &r.f.noise, &r.f.blockiness, &r.f.banding, &r.f.low_contrast};
        for (int step = 0; step <= 4; step++) {
            *factor[k] = step / 4.0;
            at_demo_expected_scores(&r, s);
            if (step)
                CHECK(s[AT_DEMO_QUALITY] < prev[AT_DEMO_QUALITY] - 0.05, "more %s must lower quality: %g -> %g",
                      names[k], prev[AT_DEMO_QUALITY], s[AT_DEMO_QUALITY]);
            memcpy(prev, s, sizeof s);
        }
    }
    /* alignment: each difference lowers it, more differences lower it more */
    at_demo_row r = base;
    at_demo_expected_scores(&r, prev);
    CHECK(prev[AT_DEMO_ALIGN] > 3.5, "a faithful image aligns well: %g", prev[AT_DEMO_ALIGN]);
    r.shown.obj[0].colour = (r.scene.obj[0].colour + 1) % AT_DEMO_NCOLOURS;
    at_demo_expected_scores(&r, s);
    CHECK(s[AT_DEMO_ALIGN] < prev[AT_DEMO_ALIGN] - 0.3, "a wrong colour must lower alignment: %g -> %g",
          prev[AT_DEMO_ALIGN], s[AT_DEMO_ALIGN]);
    CHECK(fabs(s[AT_DEMO_QUALITY] - prev[AT_DEMO_QUALITY]) < 1e-12, "a wrong colour leaves quality alone");
    memcpy(prev, s, sizeof s);
    r.shown.obj[0].shape = (r.scene.obj[0].shape + 1) % AT_DEMO_NSHAPES;
    at_demo_expected_scores(&r, s);
    CHECK(s[AT_DEMO_ALIGN] < prev[AT_DEMO_ALIGN] - 0.3, "a second mismatch lowers it more: %g -> %g",
          prev[AT_DEMO_ALIGN], s[AT_DEMO_ALIGN]);
    r = base;
    r.shown.obj[0].present = false;
    at_demo_expected_scores(&r, s);
    CHECK(s[AT_DEMO_ALIGN] < 2.5, "a missing object: alignment %g", s[AT_DEMO_ALIGN]);
    /* authenticity: realism raises it, artifacts lower it; the impossible
     * artifacts cost a little quality, the fringe none */
    r = base;
    at_demo_expected_scores(&r, prev);
    r.f.shading = 1;
    r.f.shadow = 1;
    r.f.texture = 1;
    at_demo_expected_scores(&r, s);
    CHECK(s[AT_DEMO_AUTHENTICITY] > prev[AT_DEMO_AUTHENTICITY] + 1, "realistic rendering: %g -> %g",
          prev[AT_DEMO_AUTHENTICITY], s[AT_DEMO_AUTHENTICITY]);
    /* from medium realism, where the sigmoid is steep enough to show each step */
    r.f.shading = r.f.shadow = r.f.texture = 0.5;
    at_demo_expected_scores(&r, prev);
    for (unsigned a = 1; a <= AT_DEMO_ART_FRINGE; a <<= 1) {
        r.f.artifacts |= a;
        at_demo_expected_scores(&r, s);
        CHECK(s[AT_DEMO_AUTHENTICITY] < prev[AT_DEMO_AUTHENTICITY] - 0.2, "artifact %u: %g -> %g", a,
              prev[AT_DEMO_AUTHENTICITY], s[AT_DEMO_AUTHENTICITY]);
        if (a & AT_DEMO_ART_IMPOSSIBLE)
            CHECK(s[AT_DEMO_QUALITY] < prev[AT_DEMO_QUALITY], "artifact %u costs quality", a);
        else
            CHECK(s[AT_DEMO_QUALITY] == prev[AT_DEMO_QUALITY], "the fringe leaves quality alone");
        memcpy(prev, s, sizeof s);
    }
    at_demo_db_free(db);
}

/* The pixels show what the factors say. */
static void test_pixels_follow_factors(void) {
    enum { S = 64 };
    at_demo_db *db = make_db(10, S, 11);
    if (!db) return;
    at_demo_row base;
    at_demo_db_row(db, 0, &base);
    base.shown = base.scene;
    memset(&base.f, 0, sizeof base.f);
    static uint8_t clean[S * S * 3], img[S * S * 3];
    at_demo_render(&base, S, clean);
    double e_clean = edge_energy(clean, S), prev = e_clean;
    for (int step = 1; step <= 3; step++) {
        at_demo_row r = base;
        r.f.blur = step / 3.0;
        at_demo_render(&r, S, img);
        double e = edge_energy(img, S);
        CHECK(e < prev, "blur %d/3: edge energy %g, before %g", step, e, prev);
        prev = e;
    }
    at_demo_row r = base;
    r.f.noise = 1;
    at_demo_render(&r, S, img);
    CHECK(edge_energy(img, S) > 3 * e_clean, "noise: edge energy %g vs %g", edge_energy(img, S), e_clean);
    r = base;
    r.f.low_contrast = 1;
    at_demo_render(&r, S, img);
    CHECK(pixel_sd(img, S) < 0.5 * pixel_sd(clean, S), "low contrast: sd %g vs %g", pixel_sd(img, S),
          pixel_sd(clean, S));
    r = base;
    r.f.banding = 1;
    at_demo_render(&r, S, img);
    CHECK(distinct_values(img, S) <= 4 && distinct_values(clean, S) > 20, "banding: %d values, clean %d",
          distinct_values(img, S), distinct_values(clean, S));
    r = base;
    r.f.blockiness = 1;
    at_demo_render(&r, S, img);
    CHECK(edge_energy(img, S) < e_clean && mean_abs_diff(img, clean, S) > 0.5, "blockiness changes the image");
    r = base;
    r.shown.obj[0].colour = (r.scene.obj[0].colour + 1) % AT_DEMO_NCOLOURS;
    if (r.shown.obj[0].colour == r.shown.bg_colour)
        r.shown.obj[0].colour = (r.shown.obj[0].colour + 1) % AT_DEMO_NCOLOURS;
    at_demo_render(&r, S, img);
    CHECK(mean_abs_diff(img, clean, S) > 1, "another colour shows: %g", mean_abs_diff(img, clean, S));
    r = base;
    r.shown.obj[0].present = false;
    at_demo_render(&r, S, img);
    CHECK(mean_abs_diff(img, clean, S) > 1, "a missing object shows: %g", mean_abs_diff(img, clean, S));
    for (unsigned a = 1; a <= AT_DEMO_ART_FRINGE; a <<= 1) {
        r = base;
        r.f.artifacts = a;
        at_demo_render(&r, S, img);
        CHECK(mean_abs_diff(img, clean, S) > 0.3, "artifact %u shows: %g", a, mean_abs_diff(img, clean, S));
    }
    r = base;
    r.f.shading = 1;
    at_demo_render(&r, S, img);
    CHECK(mean_abs_diff(img, clean, S) > 1, "shading shows: %g", mean_abs_diff(img, clean, S));
    at_demo_db_free(db);
}

/* Over many rows: each metric follows its factors, the metrics are only
 * partly correlated, and the MOS spread over [0, 5] like AGIQA-3K's. */
static void test_statistics(void) {
    enum { N = 600 };
    at_demo_db *db = make_db(N, SIZE, 42);
    if (!db) return;
    static double mos[AT_DEMO_NMETRICS][N], degradation[N], mismatches[N], realism[N], expected[N];
    int fringes = 0, too_many_artifacts = 0;
    for (int i = 0; i < N; i++) {
        at_demo_row r;
        at_demo_db_row(db, i, &r);
        fringes += (r.f.artifacts & AT_DEMO_ART_FRINGE) != 0;
        too_many_artifacts += at_demo_count_bits(r.f.artifacts & AT_DEMO_ART_IMPOSSIBLE) > 2;
        for (int m = 0; m < AT_DEMO_NMETRICS; m++) mos[m][i] = r.mos[m];
        degradation[i] = r.f.blur + r.f.noise + r.f.blockiness + r.f.banding + r.f.low_contrast;
        mismatches[i] = at_demo_count_bits(at_demo_mismatches(&r.scene, &r.shown));
        realism[i] = r.f.shading + r.f.shadow + r.f.texture - at_demo_count_bits(r.f.artifacts);
        double s[AT_DEMO_NMETRICS];
        at_demo_expected_scores(&r, s);
        expected[i] = s[AT_DEMO_QUALITY];
    }
    CHECK(fringes > 0.33 * N && fringes < 0.47 * N, "%d of %d images have a fringe, want about 40 %%", fringes, N);
    CHECK(too_many_artifacts == 0, "%d images with more than 2 impossible artifacts", too_many_artifacts);
    double rq = spearman(degradation, mos[AT_DEMO_QUALITY], N);
    double ra = spearman(mismatches, mos[AT_DEMO_ALIGN], N);
    double ru = spearman(realism, mos[AT_DEMO_AUTHENTICITY], N);
    CHECK(rq < -0.8 && ra < -0.7 && ru > 0.7, "factor vs MOS: quality %g, align %g, authenticity %g", rq, ra, ru);
    CHECK(spearman(expected, mos[AT_DEMO_QUALITY], N) > 0.97, "rater noise leaves the ranking: %g",
          spearman(expected, mos[AT_DEMO_QUALITY], N));
    for (int a = 0; a < AT_DEMO_NMETRICS; a++)
        for (int b = a + 1; b < AT_DEMO_NMETRICS; b++) {
            double r = pearson(mos[a], mos[b], N);
            CHECK(fabs(r) < 0.5, "metrics %d and %d correlate %g", a, b, r);
        }
    for (int m = 0; m < AT_DEMO_NMETRICS; m++) {
        double mean = 0, sd = 0;
        for (int i = 0; i < N; i++) mean += mos[m][i] / N;
        for (int i = 0; i < N; i++) sd += (mos[m][i] - mean) * (mos[m][i] - mean) / N;
        sd = sqrt(sd);
        CHECK(mean > 1.8 && mean < 3.2 && sd > 0.8 && sd < 1.6, "metric %d: mean %g sd %g", m, mean, sd);
    }
    at_demo_db_free(db);
}

static void check_folder(const char *dir, at_demo_db *db, int64_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/demo.csv", dir);
    char *text = check_read_file(path, NULL);
    CHECK(text != NULL, "cannot read %s", path);
    if (!text) return;
    table t = parse_csv(text);
    const char *want[] = {"name", "prompt", "mos_quality", "mos_align", "mos_authenticity", "blur", "noise",
                          "blockiness", "banding", "low_contrast", "mismatches", "mismatch_kinds", "shading",
                          "shadow", "texture", "artifacts", "artifact_kinds", "drawn"};
    int nwant = (int)(sizeof want / sizeof *want);
    CHECK(t.ncols == nwant, "%d columns, want %d", t.ncols, nwant);
    for (int c = 0; c < nwant && c < t.ncols; c++)
        CHECK(!strcmp(t.cells[0][c], want[c]), "column %d is '%s', want '%s'", c, t.cells[0][c], want[c]);
    CHECK(t.nrows == n, "%d rows, want %lld", t.nrows, (long long)n);
    int name = column(&t, "name"), prompt = column(&t, "prompt"), bad = 0;
    for (int r = 1; r <= t.nrows && r <= n; r++) {
        bad += t.widths[r] != nwant;
        at_demo_row row;
        at_demo_db_row(db, r - 1, &row);
        bad += strcmp(t.cells[r][name], row.name) != 0 || strcmp(t.cells[r][prompt], row.prompt) != 0;
        for (int c = 2; c < 17; c++) {
            if (c == 11 || c == 16) continue;   /* kinds, as words */
            char *end;
            double v = strtod(t.cells[r][c], &end);
            double hi = c < 5 ? 5 : c == 10 || c == 15 ? 3 : 1;
            if (*end || v < 0 || v > hi) {
                bad++;
                fprintf(stderr, "row %d column %s: '%s'\n", r, want[c], t.cells[r][c]);
            }
        }
        for (int m = 0; m < 3; m++) bad += fabs(strtod(t.cells[r][2 + m], NULL) - row.mos[m]) > 5e-7;
        snprintf(path, sizeof path, "%s/images/%s", dir, t.cells[r][name]);
        at_image *im = at_image_load(path, 0);
        int size = at_demo_db_config_of(db)->size;
        CHECK(im && im->width == size && im->height == size && im->mode == AT_IMAGE_RGB, "%s: %s", path,
              im ? "wrong size or mode" : at_last_error());
        at_image *mem = at_demo_db_image(db, r - 1, NULL);
        if (im && mem) {
            size_t nbytes = (size_t)im->width * im->height * 3;
            CHECK(memcmp(im->pixels, mem->pixels, nbytes) == 0,
                  "%s: the PNG's pixels differ from the in-memory image", path);
        }
        at_image_free(im);
        at_image_free(mem);
    }
    CHECK(bad == 0, "%d bad cells", bad);
    free_table(&t);
    free(text);
    /* the prompts have commas: the file must quote them */
    snprintf(path, sizeof path, "%s/demo.csv", dir);
    text = check_read_file(path, NULL);
    CHECK(text && strstr(text, "\ndemo_00000.png,\"a "), "prompts with commas are quoted");
    free(text);
    CHECK(count_temporaries(dir) == 0, "temporary files left in %s", dir);
    snprintf(path, sizeof path, "%s/images", dir);
    CHECK(count_temporaries(path) == 0, "temporary files left in %s", path);
}

/* The folder's vocab.txt: the specials first, then words that cover every
 * prompt and drawn scene (and train.run's fixed texts) with no [UNK]. */
static void test_vocab(const char *dir, at_demo_db *db) {
    char path[1024];
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    char *text = check_read_file(path, NULL), *want = at_demo_vocab_text();
    CHECK(text && want && !strcmp(text, want), "%s holds at_demo_vocab_text()", path);
    CHECK(want && !strncmp(want, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", 31), "the specials come first");
    free(text);
    free(want);
    at_tokenizer *tok = at_tokenizer_load(path);
    CHECK(tok != NULL, "load %s: %s", path, at_last_error());
    if (!tok) return;
    CHECK(at_tokenizer_id(tok, "[UNK]") == 1 && at_tokenizer_size(tok) < 64, "[UNK] is 1, %lld tokens",
          (long long)at_tokenizer_size(tok));
    int64_t ids[AT_TOKENIZER_MAX_LEN], mask[AT_TOKENIZER_MAX_LEN];
    int unknown = 0, texts = 0, longest = 0;
    const char *fixed[] = {"extremely high quality image, with vivid details", "very authentic image"};
    for (int64_t i = -2; i < at_demo_db_config_of(db)->nimages; i++) {
        at_demo_row r;
        if (i >= 0 && at_demo_db_row(db, i, &r)) break;
        for (int k = 0; k < (i < 0 ? 1 : 2); k++) {
            const char *t = i < 0 ? fixed[i + 2] : k ? r.drawn : r.prompt;
            if (at_tokenize(tok, t, AT_TOKENIZER_MAX_LEN, ids, mask) < 0) {
                unknown++;
                continue;
            }
            texts++;
            int len = 0, unknown_here = 0;
            for (int j = 0; j < AT_TOKENIZER_MAX_LEN; j++) {
                unknown_here += ids[j] == 1;
                len += (int)mask[j];
            }
            if (len > longest) longest = len;
            if (unknown_here) fprintf(stderr, "[UNK] in '%s'\n", t);
            unknown += unknown_here;
        }
    }
    CHECK(unknown == 0 && texts > 1000, "%d of %d texts have [UNK]", unknown, texts);
    CHECK(longest < AT_TOKENIZER_MAX_LEN, "the longest prompt (%d tokens) fits uncut", longest);
    at_tokenizer_free(tok);
}

static void test_files(const char *root) {
    enum { N = 24 };
    at_demo_db *db = make_db(N, SIZE, 99), *other = make_db(N, SIZE, 100);
    if (!db || !other) return;
    char one[512], two[512], three[512];
    snprintf(one, sizeof one, "%s/one", root);
    snprintf(two, sizeof two, "%s/nested/two/", root);   /* parents created; trailing slash fine */
    snprintf(three, sizeof three, "%s/three", root);
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    CHECK(at_demo_db_write(db, one) == 0, "write %s: %s", one, at_last_error());
    omp_set_num_threads(3);
    CHECK(at_demo_db_write(db, two) == 0, "write %s: %s", two, at_last_error());
    omp_set_num_threads(threads);
    CHECK(at_demo_db_write(other, three) == 0, "write %s: %s", three, at_last_error());
    check_folder(one, db, N);
    at_demo_db *many = make_db(2000, 8, 7);   /* enough prompts to use every word */
    if (many) test_vocab(one, many);
    at_demo_db_free(many);
    char a[1024], b[1024], c[1024];
    int same = 0, differ = 0;
    for (int i = -1; i < N; i++) {
        const char *name = i < 0 ? "demo.csv" : NULL;
        char image[64];
        snprintf(image, sizeof image, "images/demo_%05d.png", i);
        snprintf(a, sizeof a, "%s/%s", one, name ? name : image);
        snprintf(b, sizeof b, "%s%s", two, name ? name : image);
        snprintf(c, sizeof c, "%s/%s", three, name ? name : image);
        same += same_file(a, b);
        differ += !same_file(a, c);
    }
    CHECK(same == N + 1, "1 and 3 threads: %d of %d files byte-identical", same, N + 1);
    CHECK(differ == N + 1, "seeds 99 and 100: %d of %d files differ", differ, N + 1);

    /* in pieces, as the command does for its progress bar: same bytes */
    char four[512];
    snprintf(four, sizeof four, "%s/four", root);
    CHECK(at_demo_db_write_images(db, four, 0, 10) == 0 && at_demo_db_write_images(db, four, 10, N - 10) == 0 &&
              at_demo_db_write_csv(db, four) == 0, "write in pieces: %s", at_last_error());
    snprintf(a, sizeof a, "%s/demo.csv", one);
    snprintf(b, sizeof b, "%s/demo.csv", four);
    CHECK(same_file(a, b), "the CSV written in pieces is the same");
    CHECK(at_demo_db_write_images(db, four, 20, 5) == -1 && strstr(at_last_error(), "outside"),
          "rows past the end: %s", at_last_error());

    /* an output folder that cannot be made */
    char file[512], blocked[600];
    snprintf(file, sizeof file, "%s/a_file", root);
    FILE *f = fopen(file, "w");
    if (f) fclose(f);
    snprintf(blocked, sizeof blocked, "%s/sub", file);
    CHECK(at_demo_db_write(db, blocked) == -1 && strstr(at_last_error(), "a_file' is not a folder"),
          "a file in the way: %s", at_last_error());
    CHECK(at_demo_db_write(db, "/proc/aapmt_demo_db_test") == -1 &&
              strstr(at_last_error(), "cannot create the folder '/proc/aapmt_demo_db_test'"),
          "/proc: %s", at_last_error());
    /* an image folder that cannot be written: a file named images/<name>/ is
     * in the way of the rename, and the error names it */
    char five[512], in_way[700];
    snprintf(five, sizeof five, "%s/five", root);
    snprintf(in_way, sizeof in_way, "%s/images/demo_00003.png/x", five);
    char mk[700];
    snprintf(mk, sizeof mk, "%s/images/demo_00003.png", five);
    mkdir(five, 0755);
    snprintf(a, sizeof a, "%s/images", five);
    mkdir(a, 0755);
    mkdir(mk, 0755);
    f = fopen(in_way, "w");
    if (f) fclose(f);
    CHECK(at_demo_db_write(db, five) == -1 && strstr(at_last_error(), "demo_00003.png: renaming"),
          "a folder in the way of image 3: %s", at_last_error());
    snprintf(a, sizeof a, "%s/demo.csv", five);
    CHECK(access(a, F_OK) != 0, "no CSV after a failed image");
    snprintf(a, sizeof a, "%s/images", five);
    CHECK(count_temporaries(a) == 0, "no temporary file left after a failure");
    at_demo_db_free(db);
    at_demo_db_free(other);
}

int main(void) {
    char root[] = "/tmp/aapmt_test_demo_db_XXXXXX";
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    test_config_errors();
    test_memory_determinism();
    test_prompts();
    test_preprocess();
    test_score_model();
    test_pixels_follow_factors();
    test_statistics();
    test_files(root);
    remove_tree(root);
    return check_summary();
}

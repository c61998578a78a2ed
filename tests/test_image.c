/* Image decoding and ImageReward's preprocessing against Pillow 9.4 +
 * torchvision 0.14 (fixtures from tests/fixtures/make_image_fixtures.py):
 * decoded pixels, resized + cropped uint8 pixels exactly, normalised floats
 * within 1e-6, the errors Pillow raises, and the batch path.
 *
 *   test_image          the committed fixtures
 *   test_image agiqa    ten real AGIQA-3K JPEGs at 224 (skips, 77, without them) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "io/image.h"

#define FIXTURES AAPMT_TEST_FIXTURES "/image/"

static uint32_t crc32(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return ~c;
}

static size_t pixel_bytes(const at_image *im) {
    return (size_t)im->width * im->height * im->channels * (im->mode == AT_IMAGE_I ? 4 : 1);
}

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Checks the resized RGB pixels and the floats of one image against a line's
 * expectations; what: the case's name for messages. */
static void check_expected(const at_image *im, int size, const char *what, uint32_t rgb_crc,
                           long long rgb_sum, const char *raw, int nfloats, const int *index,
                           const double *value) {
    at_image *rgb = at_image_resize_center_crop(im, size);
    CHECK(rgb != NULL, "%s: resize/crop failed: %s", what, at_last_error());
    if (!rgb) return;
    CHECK(rgb->mode == AT_IMAGE_RGB && rgb->width == size && rgb->height == size, "%s: got %d x %d %s",
          what, rgb->width, rgb->height, at_image_mode_name(rgb->mode));
    size_t n = (size_t)size * size * 3;
    const uint8_t *p = rgb->pixels;
    long long sum = 0;
    for (size_t i = 0; i < n; i++) sum += p[i];
    CHECK(crc32(p, n) == rgb_crc && sum == rgb_sum, "%s: pixels crc %08x sum %lld, want %08x %lld",
          what, crc32(p, n), sum, rgb_crc, rgb_sum);
    if (raw) {
        char path[512];
        snprintf(path, sizeof path, FIXTURES "%s", raw);
        size_t raw_size = 0;
        uint8_t *want = (uint8_t *)check_read_file(path, &raw_size);
        CHECK(want && raw_size == n, "%s: cannot read %s", what, path);
        if (want && raw_size == n) {
            int worst = 0;
            size_t differ = 0;
            for (size_t i = 0; i < n; i++) {
                int d = abs((int)p[i] - (int)want[i]);
                differ += d != 0;
                if (d > worst) worst = d;
            }
            CHECK(differ == 0, "%s: %zu of %zu values differ, by up to %d", what, differ, n, worst);
        }
        free(want);
    }
    at_image_free(rgb);

    float *x = malloc(sizeof(float) * n);
    CHECK(x && at_image_preprocess(im, size, x) == 0, "%s: preprocess failed: %s", what, at_last_error());
    if (x)
        for (int i = 0; i < nfloats; i++)
            CHECK_NEAR(x[index[i]], value[i], 1e-6, what);
    free(x);
}

/* The decoded pixels in the fixture's canonical layout ("I" as int32 LE). */
static uint32_t decoded_crc(const at_image *im) {
    return crc32(im->pixels, pixel_bytes(im));
}

static void test_cases(void) {
    FILE *f = fopen(FIXTURES "cases.txt", "r");
    CHECK(f != NULL, "cannot open " FIXTURES "cases.txt");
    if (!f) return;
    char line[4096];
    int cases = 0, errors = 0;
    while (fgets(line, sizeof line, f)) {
        char kind[8], name[128], mode[8], raw[160];
        int size, nfloats, used;
        unsigned dec_crc, rgb_crc;
        long long rgb_sum;
        char path[512];
        if (sscanf(line, "%7s %127s", kind, name) != 2) continue;
        snprintf(path, sizeof path, FIXTURES "%s", name);
        if (strcmp(kind, "error") == 0) {
            errors++;
            at_image *im = at_image_load(path, 0);
            CHECK(im == NULL, "%s: Pillow refuses it, we decoded %d x %d %s", name,
                  im ? im->width : 0, im ? im->height : 0, im ? at_image_mode_name(im->mode) : "");
            if (!im) CHECK(strstr(at_last_error(), name) != NULL, "%s: error does not name the file: %s",
                           name, at_last_error());
            at_image_free(im);
            /* The memory path refuses it as well. */
            size_t n = 0;
            uint8_t *data = (uint8_t *)check_read_file(path, &n);
            at_image *again = at_image_decode(data, n, name, 0);
            CHECK(again == NULL, "%s: decoded from memory", name);
            at_image_free(again);
            free(data);
            continue;
        }
        if (sscanf(line, "ok %*s %d %7s %x %x %lld %159s %d%n", &size, mode, &dec_crc, &rgb_crc,
                   &rgb_sum, raw, &nfloats, &used) != 7 || nfloats > 16) {
            CHECK(0, "bad line in cases.txt: %s", line);
            continue;
        }
        int index[16];
        double value[16];
        const char *rest = line + used;
        for (int i = 0; i < nfloats; i++) {
            int k;
            if (sscanf(rest, "%d %lf%n", &index[i], &value[i], &k) != 2) nfloats = i;
            rest += k;
        }
        cases++;
        char what[200];
        snprintf(what, sizeof what, "%s at %d", name, size);
        at_image *im = at_image_load(path, 0);
        CHECK(im != NULL, "%s: %s", what, at_last_error());
        if (!im) continue;
        CHECK(strcmp(at_image_mode_name(im->mode), mode) == 0, "%s: mode %s, Pillow says %s", what,
              at_image_mode_name(im->mode), mode);
        CHECK(decoded_crc(im) == dec_crc, "%s: decoded pixels crc %08x, Pillow's %08x", what,
              decoded_crc(im), dec_crc);
        check_expected(im, size, what, rgb_crc, rgb_sum, strcmp(raw, "-") ? raw : NULL, nfloats,
                       index, value);

        /* The same bytes from memory decode to the same pixels. */
        size_t n = 0;
        uint8_t *data = (uint8_t *)check_read_file(path, &n);
        at_image *mem = at_image_decode(data, n, name, 0);
        CHECK(mem && mem->mode == im->mode && mem->width == im->width && mem->height == im->height &&
                  memcmp(mem->pixels, im->pixels, pixel_bytes(im)) == 0,
              "%s: memory decode differs", what);
        at_image_free(mem);
        free(data);
        at_image_free(im);
    }
    fclose(f);
    CHECK(cases >= 30 && errors >= 8, "cases.txt has %d good and %d bad files", cases, errors);
    printf("image fixtures: %d decoded and preprocessed like Pillow, %d refused like Pillow\n", cases,
           errors);
}

/* Computing only a window of the resize gives that window of the full one. */
static void test_window(void) {
    const char *files[] = {"rgb_37x23.png", "rgba_45x67.png", "palette_50x40.png", "grey16_40x30.png",
                           "la_40x52.png", "cmyk.jpg", "bilevel_50x30.png"};
    const int sizes[][2] = {{53, 31}, {20, 70}, {45, 67}, {45, 12}, {200, 3}, {1, 1}};
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        char path[512];
        snprintf(path, sizeof path, FIXTURES "%s", files[f]);
        at_image *im = at_image_load(path, 0);
        CHECK(im != NULL, "%s: %s", files[f], at_last_error());
        if (!im) continue;
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            int ow = sizes[s][0], oh = sizes[s][1];
            at_image *full = at_image_resize(im, ow, oh);
            int x0 = ow / 3, y0 = oh / 4, w = ow - x0 - ow / 5, h = oh - y0 - oh / 6;
            at_image *part = at_image_resize_window(im, ow, oh, x0, y0, w, h);
            CHECK(full && part, "%s to %d x %d: %s", files[f], ow, oh, at_last_error());
            if (!full || !part) {
                at_image_free(full);
                at_image_free(part);
                continue;
            }
            size_t value = im->mode == AT_IMAGE_I ? 4 : 1;
            size_t row = (size_t)w * im->channels * value;
            int same = 1;
            for (int y = 0; y < h; y++)
                same &= memcmp((char *)part->pixels + y * row,
                               (char *)full->pixels + (((size_t)(y0 + y) * ow + x0) * im->channels) * value,
                               row) == 0;
            CHECK(same, "%s to %d x %d: window (%d, %d) %d x %d differs from the full resize", files[f],
                  ow, oh, x0, y0, w, h);
            at_image_free(full);
            at_image_free(part);
        }
        at_image_free(im);
    }
}

static void test_batch(void) {
    const char *names[] = {"rgb_300x200_420.jpg", "grey_61x47.png", "rgba_45x67.png", "palette_40x30.gif",
                           "cmyk.jpg"};
    enum { N = 5, S = 48 };
    char paths[N][512];
    const char *list[N];
    for (int i = 0; i < N; i++) {
        snprintf(paths[i], sizeof paths[i], FIXTURES "%s", names[i]);
        list[i] = paths[i];
    }
    at_tensor *batch = at_image_preprocess_files(list, N, S, 0);
    CHECK(batch && batch->ndim == 4 && batch->shape[0] == N && batch->shape[1] == 3 &&
              batch->shape[2] == S && batch->shape[3] == S && batch->dtype == AT_F32,
          "batch: %s", batch ? "wrong shape" : at_last_error());
    for (int i = 0; batch && i < N; i++) {
        at_image *im = at_image_load(list[i], 0);
        at_tensor *one = im ? at_image_preprocess_tensor(im, S) : NULL;
        CHECK(one && memcmp(at_data(one), (float *)at_data(batch) + (size_t)i * 3 * S * S,
                            sizeof(float) * 3 * S * S) == 0,
              "batch row %d (%s) differs from the single image", i, names[i]);
        /* And filling one row of an existing batch does the same. */
        int64_t shape[4] = {2, 3, S, S};
        at_tensor *two = at_zeros(AT_F32, 4, shape);
        CHECK(at_image_preprocess_file_into(list[i], 0, two, 1) == 0 && one &&
                  memcmp(at_data(one), (float *)at_data(two) + 3 * S * S, sizeof(float) * 3 * S * S) == 0,
              "row fill %d: %s", i, at_last_error());
        at_release(two);
        at_release(one);
        at_image_free(im);
    }
    at_release(batch);

    /* A bad file: NULL, and the first failing file in input order is named. */
    const char *bad[] = {list[0], FIXTURES "truncated.jpg", list[1], FIXTURES "empty.jpg"};
    at_tensor *none = at_image_preprocess_files(bad, 4, S, 0);
    CHECK(none == NULL && strstr(at_last_error(), "truncated.jpg"), "bad batch: %s", at_last_error());
    at_release(none);
}

static void test_errors(void) {
    at_image *im = at_image_load(FIXTURES "rgb_300x200_420.jpg", 1000);
    CHECK(im == NULL && strstr(at_last_error(), "decompression bomb"), "max_pixels 1000: %s",
          at_last_error());
    at_image_free(im);
    im = at_image_load(FIXTURES "rgb_37x23.png", 37 * 23);   /* exactly at the bound: fine */
    CHECK(im != NULL, "max_pixels at the size: %s", at_last_error());
    at_image_free(im);
    im = at_image_load(FIXTURES "no_such_file.png", 0);
    CHECK(im == NULL && strstr(at_last_error(), "no_such_file.png"), "missing file: %s", at_last_error());
    at_image_free(im);
    im = at_image_decode(NULL, 0, "nothing", 0);
    CHECK(im == NULL && strstr(at_last_error(), "nothing"), "empty buffer: %s", at_last_error());

    im = at_image_load(FIXTURES "rgb_37x23.png", 0);
    CHECK(im != NULL, "load: %s", at_last_error());
    if (!im) return;
    CHECK(at_image_resize_window(im, 10, 10, 5, 5, 6, 6) == NULL, "window past the output");
    CHECK(at_image_resize(im, 0, 10) == NULL, "zero width");
    CHECK(at_image_resize_center_crop(im, 0) == NULL, "size 0");
    int64_t shape[4] = {2, 3, 8, 8};
    at_tensor *wrong = at_zeros(AT_F64, 4, shape);
    CHECK(at_image_preprocess_into(im, wrong, 0) < 0 && strstr(at_last_error(), "f64"), "f64 batch: %s",
          at_last_error());
    at_release(wrong);
    at_tensor *batch = at_zeros(AT_F32, 4, shape);
    CHECK(at_image_preprocess_into(im, batch, 2) < 0 && strstr(at_last_error(), "row 2"), "row 2: %s",
          at_last_error());
    CHECK(at_image_preprocess_into(im, batch, 1) == 0, "row 1: %s", at_last_error());
    at_release(batch);
    at_image_free(im);
}

static int test_agiqa(void) {
    const char *dir = AAPMT_SHARED_DIR "/datasets/AGIQA-3K/images";
    FILE *f = fopen(FIXTURES "agiqa.txt", "r");
    char probe[512];
    snprintf(probe, sizeof probe, "%s/AttnGAN_normal_000.jpg", dir);
    FILE *g = fopen(probe, "rb");
    if (!f || !g) {
        printf("skipped: %s\n", f ? "no AGIQA-3K images under " AAPMT_SHARED_DIR : "no agiqa.txt fixture");
        if (f) fclose(f);
        if (g) fclose(g);
        return 77;
    }
    fclose(g);
    char line[4096];
    int images = 0;
    double spent = 0;
    while (fgets(line, sizeof line, f)) {
        char name[256];
        unsigned want_crc;
        long long want_sum;
        int nfloats, used;
        if (sscanf(line, "%255s %x %lld %d%n", name, &want_crc, &want_sum, &nfloats, &used) != 4 ||
            nfloats > 16)
            continue;
        int index[16];
        double value[16];
        const char *rest = line + used;
        for (int i = 0; i < nfloats; i++) {
            int k;
            if (sscanf(rest, "%d %lf%n", &index[i], &value[i], &k) != 2) nfloats = i;
            rest += k;
        }
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        double t0 = seconds();
        at_image *im = at_image_load(path, 0);
        CHECK(im != NULL, "%s: %s", name, at_last_error());
        if (!im) continue;
        at_tensor *x = at_image_preprocess_tensor(im, 224);
        spent += seconds() - t0;
        at_release(x);
        check_expected(im, 224, name, want_crc, want_sum, NULL, nfloats, index, value);
        at_image_free(im);
        images++;
    }
    fclose(f);
    CHECK(images == 10, "agiqa.txt: %d images", images);
    printf("AGIQA-3K: %d real JPEGs match Pillow + torchvision exactly; decode + preprocess %.2f ms each\n",
           images, images ? spent / images * 1e3 : 0.0);
    return -1;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "agiqa") == 0) {
        int rc = test_agiqa();
        if (rc == 77) return 77;
        return check_summary();
    }
    test_cases();
    test_window();
    test_batch();
    test_errors();
    return check_summary();
}

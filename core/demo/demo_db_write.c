/* The demo database as a folder: images/<name> (PNG through stb_image_write),
 * vocab.txt and demo.csv (RFC 4180). Each file goes to a temporary name beside
 * its final one and is renamed, so readers see whole files or none; the images
 * and vocab.txt are synced before the CSV is written, and the CSV is synced
 * before its rename, so a present demo.csv means a complete database even
 * after a crash. */
#define _GNU_SOURCE   /* mkstemp, syncfs */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stb_image_write.h"   /* the implementation is in libstb */

#include "../tensor.h"
#include "demo_db.h"

static const char csv_header[] =
    "name,prompt,mos_quality,mos_align,mos_authenticity,"
    "blur,noise,blockiness,banding,low_contrast,"
    "mismatches,mismatch_kinds,shading,shadow,texture,artifacts,artifact_kinds,drawn";

const char *at_demo_csv_header(void) { return csv_header; }

/* ---- a growing byte buffer ---- */
typedef struct {
    char *data;
    size_t len, cap;
    bool failed;
} buffer;

static void buffer_add(buffer *b, const void *data, size_t n) {
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = 0;
}

static void buffer_printf(buffer *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buffer_printf(buffer *b, const char *fmt, ...) {
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof small) b->failed = true;   /* our fields are short */
    else buffer_add(b, small, (size_t)n);
}

/* RFC 4180: a field with a comma, quote or line end is quoted, quotes doubled. */
static void buffer_field(buffer *b, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        buffer_add(b, s, strlen(s));
        return;
    }
    buffer_add(b, "\"", 1);
    for (const char *q; (q = strchr(s, '"')); s = q + 1) {
        buffer_add(b, s, (size_t)(q - s + 1));   /* up to and including the quote */
        buffer_add(b, "\"", 1);                  /* and its double */
    }
    buffer_add(b, s, strlen(s));
    buffer_add(b, "\"", 1);
}

static void png_sink(void *ctx, void *data, int size) { buffer_add(ctx, data, (size_t)size); }

/* ---- files ---- */
static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s%s", dir, *dir && dir[strlen(dir) - 1] == '/' ? "" : "/", name);
    else at_set_error("demo_db: out of memory");
    return p;
}

/* mkdir -p. */
static int make_dirs(const char *path) {
    if (!*path) {
        at_set_error("demo_db: the output folder is an empty path");
        return -1;
    }
    char *p = strdup(path);
    if (!p) {
        at_set_error("demo_db: out of memory");
        return -1;
    }
    for (char *s = p + 1;; s++) {
        char c = *s;
        if (c != '/' && c != 0) continue;
        *s = 0;
        struct stat st;
        if (mkdir(p, 0755) && errno != EEXIST) {
            at_set_error("demo_db: cannot create the folder '%s': %s", p, strerror(errno));
            free(p);
            return -1;
        }
        if (stat(p, &st) || !S_ISDIR(st.st_mode)) {
            at_set_error("demo_db: '%s' is not a folder", p);
            free(p);
            return -1;
        }
        *s = c;
        if (!c) break;
    }
    free(p);
    return 0;
}

static int write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes path through a temporary file beside it; durable (fsync of the file
 * and its folder) when asked. */
static int write_atomic(const char *path, const char *data, size_t n, bool durable) {
    size_t tlen = strlen(path) + 16;
    char *tmp = malloc(tlen);
    if (!tmp) {
        at_set_error("demo_db: out of memory");
        return -1;
    }
    snprintf(tmp, tlen, "%s.tmp-XXXXXX", path);
    const char *failed = NULL;
    int err = 0, fd = mkstemp(tmp);
    if (fd < 0) {
        failed = "creating a temporary file beside it";
        err = errno;
    } else {
        if (fchmod(fd, 0644) || write_all(fd, data, n)) failed = "writing", err = errno;
        if (!failed && durable && fsync(fd)) failed = "syncing", err = errno;
        if (close(fd) && !failed) failed = "closing", err = errno;
        if (!failed && rename(tmp, path)) failed = "renaming the temporary file onto it", err = errno;
        if (failed) unlink(tmp);
    }
    free(tmp);
    if (failed) {
        at_set_error("demo_db: %s: %s failed: %s", path, failed, strerror(err ? err : EIO));
        return -1;
    }
    return 0;
}

static void sync_folder(const char *dir, bool whole_filesystem) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    if (whole_filesystem) syncfs(fd);   /* every image written before, in one call */
    else fsync(fd);
    close(fd);
}

/* ---- images ---- */
static int write_image(const at_demo_db *db, const char *image_dir, int64_t i, uint8_t *rgb) {
    int S = at_demo_db_config_of(db)->size;
    at_demo_row row;
    if (at_demo_db_row(db, i, &row) || at_demo_render(&row, S, rgb)) return -1;
    buffer png = {0};
    int ok = stbi_write_png_to_func(png_sink, &png, S, S, 3, rgb, S * 3);
    char *path = join(image_dir, row.name);
    int rc = -1;
    if (!ok || png.failed) at_set_error("demo_db: out of memory encoding %s as PNG", row.name);
    else if (path) rc = write_atomic(path, png.data, png.len, false);
    free(path);
    free(png.data);
    return rc;
}

int at_demo_db_write_images(const at_demo_db *db, const char *dir, int64_t first, int64_t count) {
    int64_t n = at_demo_db_config_of(db)->nimages;
    if (first < 0 || count < 0 || first > n || count > n - first) {
        at_set_error("demo_db: rows %lld..%lld are outside the database's %lld", (long long)first,
                     (long long)(first + count - 1), (long long)n);
        return -1;
    }
    char *image_dir = join(dir, AT_DEMO_IMAGE_DIR);
    if (!image_dir || make_dirs(image_dir)) {
        free(image_dir);
        return -1;
    }
    size_t nbytes = (size_t)at_demo_db_config_of(db)->size * at_demo_db_config_of(db)->size * 3;
    /* The error reported is the first failing row's, whatever the threads. */
    _Atomic int64_t fail_at = INT64_MAX;
    char message[1024] = "";
#pragma omp parallel if (count > 1)
    {
        uint8_t *rgb = malloc(nbytes);
#pragma omp for schedule(dynamic, 1)
        for (int64_t k = 0; k < count; k++) {
            int64_t i = first + k;
            if (i > atomic_load(&fail_at)) continue;
            int rc = -1;
            if (!rgb) at_set_error("demo_db: out of memory for an image of %zu bytes", nbytes);
            else rc = write_image(db, image_dir, i, rgb);
            if (rc) {
#pragma omp critical(demo_db_error)
                if (i < atomic_load(&fail_at)) {
                    atomic_store(&fail_at, i);
                    snprintf(message, sizeof message, "%s", at_last_error());
                }
            }
        }
        free(rgb);
    }
    free(image_dir);
    if (atomic_load(&fail_at) != INT64_MAX) {
        at_set_error("%s", message);
        return -1;
    }
    return 0;
}

/* ---- the CSV ---- */
static void csv_row(buffer *b, const at_demo_row *r) {
    char mm[160], art[64];
    unsigned mismatches = at_demo_mismatches(&r->scene, &r->shown);
    at_demo_mismatch_names(mismatches, mm, sizeof mm);
    at_demo_artifact_names(r->f.artifacts, art, sizeof art);
    buffer_field(b, r->name);
    buffer_add(b, ",", 1);
    buffer_field(b, r->prompt);
    const at_demo_factors *f = &r->f;
    buffer_printf(b, ",%.6f,%.6f,%.6f,%.4f,%.4f,%.4f,%.4f,%.4f,%d,", r->mos[AT_DEMO_QUALITY],
                  r->mos[AT_DEMO_ALIGN], r->mos[AT_DEMO_AUTHENTICITY], f->blur, f->noise, f->blockiness,
                  f->banding, f->low_contrast, at_demo_count_bits(mismatches));
    buffer_field(b, mm);
    buffer_printf(b, ",%.4f,%.4f,%.4f,%d,", f->shading, f->shadow, f->texture, at_demo_count_bits(f->artifacts));
    buffer_field(b, art);
    buffer_add(b, ",", 1);
    buffer_field(b, r->drawn);
    buffer_add(b, "\n", 1);
}

static int write_vocab(const char *dir) {
    char *path = join(dir, AT_DEMO_VOCAB_NAME), *text = at_demo_vocab_text();
    int rc = path && text ? write_atomic(path, text, strlen(text), false) : -1;
    free(path);
    free(text);
    return rc;
}

int at_demo_db_write_csv(const at_demo_db *db, const char *dir) {
    if (make_dirs(dir)) return -1;
    char *image_dir = join(dir, AT_DEMO_IMAGE_DIR), *path = join(dir, AT_DEMO_CSV_NAME);
    buffer b = {0};
    int rc = -1;
    if (image_dir && path && !write_vocab(dir)) {
        buffer_add(&b, csv_header, strlen(csv_header));
        buffer_add(&b, "\n", 1);
        int64_t n = at_demo_db_config_of(db)->nimages;
        at_demo_row row;
        for (int64_t i = 0; i < n && !b.failed; i++) {
            if (at_demo_db_row(db, i, &row)) goto done;
            csv_row(&b, &row);
        }
        if (b.failed) {
            at_set_error("demo_db: %s: out of memory building the CSV", path);
            goto done;
        }
        sync_folder(image_dir, true);
        if (write_atomic(path, b.data, b.len, true)) goto done;
        sync_folder(dir, false);
        rc = 0;
    }
done:
    free(b.data);
    free(image_dir);
    free(path);
    return rc;
}

int at_demo_db_write(const at_demo_db *db, const char *dir) {
    if (at_demo_db_write_images(db, dir, 0, at_demo_db_config_of(db)->nimages)) return -1;
    return at_demo_db_write_csv(db, dir);
}

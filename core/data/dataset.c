/* Loading a rating database: columns and targets per kind, image checks,
 * and the splits over its prompts; see dataset.h. */
#include "dataset.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../tensor.h"

#define WHO "dataset"

/* AIGCIQA2023's MOS under AAPMT's names and the published ones. */
static const char *const aigc_names[3][2] = {
    {"mos_align", "correspondence_mos"},
    {"mos_quality", "quality_mos"},
    {"mos_authenticity", "authenticity_mos"},
};
static const char *const agiqa_default[] = {"mos_align", "mos_quality"};
static const char *const aigc_default[] = {"mos_align", "mos_quality", "mos_authenticity"};

const char *at_dataset_kind_name(at_dataset_kind kind) {
    switch (kind) {
    case AT_DATASET_AGIQA3K: return "agiqa3k";
    case AT_DATASET_AIGCIQA2023: return "aigciqa2023";
    default: return "csv";
    }
}

int at_dataset_kind_parse(const char *name, at_dataset_kind *kind) {
    if (strcasecmp(name, "csv") == 0) *kind = AT_DATASET_CSV;
    else if (strcasecmp(name, "agiqa3k") == 0 || strcasecmp(name, "agiqa-3k") == 0) *kind = AT_DATASET_AGIQA3K;
    else if (strcasecmp(name, "aigciqa2023") == 0) *kind = AT_DATASET_AIGCIQA2023;
    else return -1;
    return 0;
}

/* AIGCIQA2023 MOS index (0..2) of a target name under either naming, or -1. */
static int aigc_mos(const char *name) {
    for (int m = 0; m < 3; m++)
        if (strcmp(name, aigc_names[m][0]) == 0 || strcmp(name, aigc_names[m][1]) == 0) return m;
    return -1;
}

static int need_column(const at_csv *csv, const char *name, const char *what) {
    int col = at_csv_find(csv, name);
    if (col < 0) at_set_error(WHO ": %s, line %lld: no column '%s' (%s)", csv->path,
                              (long long)csv->header_line, name, what);
    return col;
}

/* The CSV column of an AIGCIQA2023 MOS: AAPMT's name or the published one. */
static int aigc_column(const at_csv *csv, int m) {
    int renamed = at_csv_find(csv, aigc_names[m][0]), published = at_csv_find(csv, aigc_names[m][1]);
    if (renamed >= 0 && published >= 0) {
        at_set_error(WHO ": %s, line %lld: both '%s' and '%s' are present; which one is the MOS is "
                     "ambiguous", csv->path, (long long)csv->header_line, aigc_names[m][0], aigc_names[m][1]);
        return -1;
    }
    if (renamed < 0 && published < 0) {
        at_set_error(WHO ": %s, line %lld: no column '%s' (or '%s', as AIGCIQA2023 publishes it)",
                     csv->path, (long long)csv->header_line, aigc_names[m][0], aigc_names[m][1]);
        return -1;
    }
    return renamed >= 0 ? renamed : published;
}

/* Reads the targets of every CSV row into values (csv_rows * ntargets),
 * scaling AIGCIQA2023's MOS to [0, 5] over all rows. */
static int read_targets(at_dataset *ds, const char *const *names, double *values) {
    const at_csv *csv = ds->csv;
    int nt = ds->ntargets;
    for (int t = 0; t < nt; t++) {
        int col, m = -1;
        if (ds->kind == AT_DATASET_AIGCIQA2023) {
            if ((m = aigc_mos(names[t])) < 0) {
                at_set_error(WHO ": AIGCIQA2023 targets are mos_align, mos_quality and "
                             "mos_authenticity (or the published names), scaled to [0, 5]; '%s' is "
                             "not one (kind 'csv' reads raw columns)", names[t]);
                return -1;
            }
            if ((col = aigc_column(csv, m)) < 0) return -1;
        } else if ((col = need_column(csv, names[t], "a target")) < 0) {
            return -1;
        }
        for (int t2 = 0; t2 < t; t2++)
            if (strcmp(ds->target_names[t2], m >= 0 ? aigc_names[m][0] : names[t]) == 0) {
                at_set_error(WHO ": target '%s' is asked for twice", names[t]);
                return -1;
            }
        if (!(ds->target_names[t] = strdup(m >= 0 ? aigc_names[m][0] : names[t]))) {
            at_set_error(WHO ": out of memory");
            return -1;
        }
        double lo = 0, hi = 0;
        for (int64_t r = 0; r < ds->csv_rows; r++) {
            double v;
            if (at_csv_number(csv, r, col, WHO, &v)) return -1;
            values[r * nt + t] = v;
            if (r == 0 || v < lo) lo = v;
            if (r == 0 || v > hi) hi = v;
        }
        if (m < 0 || ds->csv_rows == 0) continue;
        if (!(hi > lo)) {
            at_set_error(WHO ": %s, column '%s': every row has the same value %g, so it cannot be "
                         "min-max scaled", csv->path, csv->header[col], lo);
            return -1;
        }
        for (int64_t r = 0; r < ds->csv_rows; r++)
            values[r * nt + t] = (values[r * nt + t] - lo) / (hi - lo) * 5.0;
    }
    return 0;
}

static char *join_path(const char *dir, const char *name) {
    size_t nd = strlen(dir), nn = strlen(name);
    int slash = nd > 0 && dir[nd - 1] == '/';
    char *s = malloc(nd + nn + 2);
    if (s) snprintf(s, nd + nn + 2, "%s%s%s", dir, slash ? "" : "/", name);
    return s;
}

/* 0: the image is there and readable; 1: missing; -1: error set. */
static int check_image(const at_dataset *ds, int64_t r, int name_col, const char *path) {
    const at_csv *csv = ds->csv;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    const char *problem = NULL;
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) return 1;
        problem = strerror(errno);
    } else {
        struct stat st;
        if (fstat(fd, &st) != 0) problem = strerror(errno);
        else if (!S_ISREG(st.st_mode)) problem = "not a regular file";
        else if (st.st_size == 0) problem = "the file is empty";
        close(fd);
    }
    if (!problem) return 0;
    at_set_error(WHO ": %s, line %lld, column '%s': image '%s' cannot be read: %s", csv->path,
                 (long long)csv->line[r], csv->header[name_col], path, problem);
    return -1;
}

static int check_folder(const char *dir) {
    struct stat st;
    if (stat(dir, &st) != 0) {
        at_set_error(WHO ": image folder '%s': %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        at_set_error(WHO ": image folder '%s' is not a folder", dir);
        return -1;
    }
    return 0;
}

/* Names, prompts, images and targets of the kept rows. */
static int fill_rows(at_dataset *ds, int name_col, int prompt_col, const double *values,
                     bool skip_missing) {
    const at_csv *csv = ds->csv;
    int64_t n = ds->csv_rows;
    for (int64_t r = 0; r < n; r++) {
        const char *name = at_csv_cell(csv, r, name_col), *prompt = at_csv_cell(csv, r, prompt_col);
        if (!prompt[0] || !name[0]) {
            int col = !prompt[0] ? prompt_col : name_col;
            at_set_error(WHO ": %s, line %lld, column '%s': the cell is empty", csv->path,
                         (long long)csv->line[r], csv->header[col]);
            return -1;
        }
        ds->csv_prompts[r] = prompt;
        char *image = NULL;
        if (ds->image_dir) {
            if (!(image = join_path(ds->image_dir, name))) return -1;
            int status = check_image(ds, r, name_col, image);
            if (status == 1 && !skip_missing) {
                at_set_error(WHO ": %s, line %lld, column '%s': image '%s' does not exist (rows whose "
                             "image is missing can be skipped on request)", csv->path,
                             (long long)csv->line[r], csv->header[name_col], image);
                status = -1;
            }
            if (status != 0) {
                if (status == 1) {
                    ds->keep[r] = -1;
                    ds->skipped++;
                    if (!ds->first_skipped) ds->first_skipped = image;
                    else free(image);
                    continue;
                }
                free(image);
                return -1;
            }
        }
        int64_t i = ds->size++;
        ds->keep[r] = i;
        ds->names[i] = name;
        ds->prompts[i] = prompt;
        ds->images[i] = image;
        ds->csv_row[i] = r;
        ds->line[i] = csv->line[r];
        memcpy(ds->targets + i * ds->ntargets, values + r * ds->ntargets, sizeof *values * (size_t)ds->ntargets);
    }
    if (ds->size == 0) {
        if (n == 0) at_set_error(WHO ": %s has a header but no rows", csv->path);
        else at_set_error(WHO ": %s: none of its %lld images is in '%s' (first missing: '%s')",
                          csv->path, (long long)n, ds->image_dir, ds->first_skipped);
        return -1;
    }
    return 0;
}

static void *alloc_rows(int64_t n, size_t item) {
    return calloc((size_t)(n ? n : 1), item);
}

at_dataset *at_dataset_load(const at_dataset_options *o) {
    if (!o->csv_path) {
        at_set_error(WHO ": no CSV file given");
        return NULL;
    }
    if (o->image_dir && check_folder(o->image_dir)) return NULL;
    at_dataset *ds = calloc(1, sizeof *ds);
    double *values = NULL;
    if (!ds) goto oom;
    ds->kind = o->kind;
    if (!(ds->csv = at_csv_read(o->csv_path))) goto fail;
    const at_csv *csv = ds->csv;
    int name_col = need_column(csv, o->name_column ? o->name_column : "name", "the image file names");
    if (name_col < 0) goto fail;
    int prompt_col = need_column(csv, o->prompt_column ? o->prompt_column : "prompt", "the prompts");
    if (prompt_col < 0) goto fail;

    const char *const *names = o->targets;
    ds->ntargets = o->targets ? o->ntargets : 0;
    if (!o->targets && o->kind == AT_DATASET_AGIQA3K) names = agiqa_default, ds->ntargets = 2;
    if (!o->targets && o->kind == AT_DATASET_AIGCIQA2023) names = aigc_default, ds->ntargets = 3;
    int64_t n = ds->csv_rows = csv->nrows;
    ds->csv_path = strdup(o->csv_path);
    ds->image_dir = o->image_dir ? strdup(o->image_dir) : NULL;
    ds->target_names = alloc_rows(ds->ntargets, sizeof *ds->target_names);
    values = alloc_rows(n * ds->ntargets, sizeof *values);
    ds->names = alloc_rows(n, sizeof *ds->names);
    ds->prompts = alloc_rows(n, sizeof *ds->prompts);
    ds->images = alloc_rows(n, sizeof *ds->images);
    ds->targets = alloc_rows(n * ds->ntargets, sizeof *ds->targets);
    ds->csv_row = alloc_rows(n, sizeof *ds->csv_row);
    ds->line = alloc_rows(n, sizeof *ds->line);
    ds->csv_prompts = alloc_rows(n, sizeof *ds->csv_prompts);
    ds->keep = alloc_rows(n, sizeof *ds->keep);
    if (!ds->csv_path || (o->image_dir && !ds->image_dir) || !ds->target_names || !values ||
        !ds->names || !ds->prompts || !ds->images || !ds->targets || !ds->csv_row || !ds->line ||
        !ds->csv_prompts || !ds->keep)
        goto oom;
    if (read_targets(ds, names, values)) goto fail;
    if (fill_rows(ds, name_col, prompt_col, values, o->skip_missing_images)) goto fail;
    free(values);
    return ds;
oom:
    at_set_error(WHO ": %s: out of memory", o->csv_path);
fail:
    free(values);
    at_dataset_free(ds);
    return NULL;
}

void at_dataset_free(at_dataset *ds) {
    if (!ds) return;
    if (ds->images)
        for (int64_t i = 0; i < ds->size; i++) free(ds->images[i]);
    if (ds->target_names)
        for (int t = 0; t < ds->ntargets; t++) free(ds->target_names[t]);
    free(ds->csv_path);
    free(ds->image_dir);
    free(ds->names);
    free(ds->prompts);
    free(ds->images);
    free(ds->target_names);
    free(ds->targets);
    free(ds->csv_row);
    free(ds->line);
    free(ds->csv_prompts);
    free(ds->keep);
    free(ds->first_skipped);
    at_csv_free(ds->csv);
    free(ds);
}

int at_dataset_target_index(const at_dataset *ds, const char *name) {
    int m = ds->kind == AT_DATASET_AIGCIQA2023 ? aigc_mos(name) : -1;
    const char *canonical = m >= 0 ? aigc_names[m][0] : name;
    for (int t = 0; t < ds->ntargets; t++)
        if (strcmp(ds->target_names[t], canonical) == 0) return t;
    return -1;
}

at_split *at_dataset_split(const at_dataset *ds, int64_t seed, double train_fraction) {
    return at_split_random(ds->csv_prompts, ds->csv_rows, ds->keep, seed, train_fraction);
}

int at_dataset_split_rounds(const at_dataset *ds, int64_t seed, int k, double train_fraction,
                            at_split **out) {
    return at_split_rounds(ds->csv_prompts, ds->csv_rows, ds->keep, seed, k, train_fraction, out);
}

at_split *at_dataset_split_fixed_file(const at_dataset *ds, const char *path) {
    return at_split_fixed_file(ds->csv_prompts, ds->csv_rows, ds->keep, path);
}

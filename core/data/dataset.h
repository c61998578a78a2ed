/* Rating databases as rows of (image, prompt, targets), read from their CSV.
 * Background: docs/aapmt.md §1.
 *
 *  AT_DATASET_AGIQA3K     columns name, prompt, ..., mos_quality, mos_align
 *                         (and std_*); targets are raw: default
 *                         {mos_align, mos_quality}, any numeric column may be
 *                         asked for.
 *  AT_DATASET_AIGCIQA2023 columns name, prompt and the MOS, either as
 *                         published (quality_mos, authenticity_mos,
 *                         correspondence_mos) or as AAPMT renamed them
 *                         (mos_quality, mos_authenticity, mos_align; a file
 *                         with both names of one MOS is refused as
 *                         ambiguous). Targets are named the AAPMT way (either
 *                         name is accepted when asking), default {mos_align,
 *                         mos_quality, mos_authenticity}, and each is min-max
 *                         scaled to [0, 5] over every CSV row, before any row
 *                         is skipped or split, computed as AAPMT's pandas
 *                         did: (y - min) / (max - min) * 5 (this order matches
 *                         the 16 digits of the values AAPMT printed).
 *  AT_DATASET_CSV         any database: an image-name column, a prompt column
 *                         and any list of raw target columns (possibly none).
 * Default target order follows AAPMT's dataset items (idx, prompt, img_path,
 * mos_align, mos_quality, mos_authenticity) and its multi-metric outputs.
 * A leading unnamed index column (pandas' to_csv) is ignored.
 *
 * Images: with an image folder, row i's image is folder/name. The folder
 * must exist. Each image must exist, be a regular non-empty file, and open
 * for reading; decoding is the data loader's job. A missing image is an
 * error unless skip_missing_images is set: then its row is left out and
 * counted in `skipped` (with the first such path) for the caller to log.
 * An unreadable or empty image is always an error. Without an image folder
 * rows carry no image path and nothing is checked (enough for splits).
 *
 * Errors (NULL after at_set_error) name the CSV, the line and the column:
 * missing columns, empty names or prompts, non-numeric targets, images.
 *
 * Splits (split.h) use every CSV row's prompt, skipped rows included, so a
 * seed gives the paper's prompts however many images are present; the row
 * lists hold dataset rows (0-based). */
#ifndef AAPMT_TRAIN_DATASET_H
#define AAPMT_TRAIN_DATASET_H

#include <stdbool.h>
#include <stdint.h>

#include "csv.h"
#include "split.h"

typedef enum at_dataset_kind {
    AT_DATASET_CSV,
    AT_DATASET_AGIQA3K,
    AT_DATASET_AIGCIQA2023,
} at_dataset_kind;

typedef struct at_dataset_options {
    at_dataset_kind kind;
    const char *csv_path;          /* required */
    const char *image_dir;         /* NULL: no images (see above) */
    const char *name_column;       /* NULL: "name" */
    const char *prompt_column;     /* NULL: "prompt" */
    const char *const *targets;    /* NULL: the kind's default (none for AT_DATASET_CSV) */
    int ntargets;
    bool skip_missing_images;
} at_dataset_options;

typedef struct at_dataset {
    at_dataset_kind kind;
    char *csv_path, *image_dir;    /* image_dir NULL when none */
    int64_t size;                  /* rows kept */
    const char **names, **prompts; /* per row (strings owned by csv) */
    char **images;                 /* per row: folder/name, or NULL without a folder */
    int ntargets;
    char **target_names;
    double *targets;               /* size * ntargets, row-major */
    int64_t *csv_row;              /* per row: its 0-based data row in the CSV */
    int64_t *line;                 /* per row: its line in the CSV file */
    int64_t csv_rows;              /* data rows in the CSV */
    const char **csv_prompts;      /* csv_rows: every CSV row's prompt */
    int64_t *keep;                 /* csv_rows: its dataset row, -1 when skipped */
    int64_t skipped;               /* rows skipped for a missing image */
    char *first_skipped;           /* the first missing image, or NULL */
    at_csv *csv;
} at_dataset;

at_dataset *at_dataset_load(const at_dataset_options *opts);
void at_dataset_free(at_dataset *ds);   /* NULL is fine */

/* "csv", "agiqa3k", "aigciqa2023"; parse accepts those and "agiqa-3k"
 * (any case); returns -1 for others (no error set). */
const char *at_dataset_kind_name(at_dataset_kind kind);
int at_dataset_kind_parse(const char *name, at_dataset_kind *kind);
/* Index of a target by its name (either AIGCIQA2023 name works), or -1. */
int at_dataset_target_index(const at_dataset *ds, const char *name);
static inline double at_dataset_target(const at_dataset *ds, int64_t row, int target) {
    return ds->targets[row * ds->ntargets + target];
}

/* The splits of split.h over the dataset's CSV prompts. */
at_split *at_dataset_split(const at_dataset *ds, int64_t seed, double train_fraction);
int at_dataset_split_rounds(const at_dataset *ds, int64_t seed, int k, double train_fraction,
                            at_split **out);
at_split *at_dataset_split_fixed_file(const at_dataset *ds, const char *path);

#endif

/* The data part of the training engine: CSV reading, the rating databases,
 * and the paper's content-isolated splits against numpy and pandas.
 *
 *   test_data          numpy's MT19937 and shuffle, the CSV dialect, small
 *                      databases and their splits (tests/fixtures/data, made
 *                      by tests/fixtures/make_data_fixtures.py)
 *   test_data --real   the real databases in shared/datasets against the
 *                      splits numpy and pandas give (exit 77 when absent) */
#define _GNU_SOURCE
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "tensor.h"
#include "data/csv.h"
#include "data/dataset.h"
#include "data/mt19937.h"
#include "data/split.h"

#define FIX AAPMT_TEST_FIXTURES "/data/"
#define DATASETS AAPMT_SHARED_DIR "/datasets"

static char tmpdir[64];

/* ---- helpers ---- */

static uint64_t fnv1a(const void *data, size_t n, uint64_t h) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3u;
    return h;
}
#define FNV_START 0xcbf29ce484222325u

/* Prompts joined by '\n', hashed as the fixture script does. */
static uint64_t prompts_hash(char *const *prompts, int64_t n) {
    uint64_t h = FNV_START;
    for (int64_t i = 0; i < n; i++) {
        if (i) h = fnv1a("\n", 1, h);
        h = fnv1a(prompts[i], strlen(prompts[i]), h);
    }
    return h;
}

static uint64_t perm_hash(const int64_t *perm, int64_t n) {
    uint64_t h = FNV_START;
    char buf[32];
    for (int64_t i = 0; i < n; i++) {
        int len = snprintf(buf, sizeof buf, i ? " %lld" : "%lld", (long long)perm[i]);
        h = fnv1a(buf, (size_t)len, h);
    }
    return h;
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

static char *tmp_path(const char *name) {
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int contains(const char *s, const char *fragment) {
    return s && strstr(s, fragment) != NULL;
}

/* The error of the last failure contains every fragment. */
#define CHECK_ERROR(ok, ...)                                                                   \
    do {                                                                                       \
        const char *frags_[] = {__VA_ARGS__};                                                  \
        CHECK(!(ok), "expected a failure");                                                    \
        for (size_t k_ = 0; k_ < sizeof frags_ / sizeof *frags_; k_++)                         \
            CHECK(contains(at_last_error(), frags_[k_]), "error '%s' lacks '%s'", at_last_error(), \
                  frags_[k_]);                                                                 \
    } while (0)

/* ---- numpy's generator and shuffle ---- */

static void test_numpy_shuffles(void) {
    char *text = read_text(FIX "numpy_shuffles.txt");
    CHECK(text != NULL, "cannot read numpy_shuffles.txt");
    if (!text) return;
    int nraw = 0, nshuffle = 0, nfull = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *p = line;
        if (strncmp(line, "raw ", 4) == 0) {
            long long seed = strtoll(p + 4, &p, 10), start = strtoll(p, &p, 10);
            at_mt19937 mt;
            at_mt19937_seed(&mt, (uint32_t)seed);
            for (long long i = 0; i < start; i++) at_mt19937_next32(&mt);
            for (int i = 0; i < 5; i++) {
                unsigned long long want = strtoull(p, &p, 10);
                uint32_t got = at_mt19937_next32(&mt);
                CHECK(got == want, "seed %lld output %lld: %u, numpy %llu", seed, start + i, got, want);
            }
            nraw++;
        } else if (strncmp(line, "shuffle ", 8) == 0) {
            long long seed = strtoll(p + 8, &p, 10), n = strtoll(p, &p, 10);
            uint64_t want_hash = strtoull(p, &p, 16);
            int64_t *perm = malloc(sizeof *perm * (size_t)(n ? n : 1));
            at_mt19937 mt;
            at_mt19937_seed(&mt, (uint32_t)seed);
            at_numpy_shuffle_indices(&mt, n, perm);
            CHECK(perm_hash(perm, n) == want_hash, "seed %lld n %lld: the shuffle differs from numpy's", seed, n);
            while (*p == ' ') p++;
            if (*p) {
                int same = 1;
                for (int64_t i = 0; i < n; i++) same &= perm[i] == strtoll(p, &p, 10);
                CHECK(same, "seed %lld n %lld: the permutation differs from numpy's", seed, n);
                nfull++;
            }
            free(perm);
            nshuffle++;
        }
    }
    CHECK(nraw >= 24 && nshuffle >= 130 && nfull >= 75, "fixture lines: %d raw, %d shuffles, %d full",
          nraw, nshuffle, nfull);
    free(text);
    /* random_interval's 64-bit branch: masked draws stay in range. */
    at_mt19937 mt;
    at_mt19937_seed(&mt, 5);
    uint64_t max = 6000000000ull, worst = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t v = at_mt19937_interval(&mt, max);
        if (v > worst) worst = v;
    }
    CHECK(worst <= max && worst > max / 2, "64-bit interval draws: max seen %llu", (unsigned long long)worst);
}

/* ---- CSV ---- */

static int hexval(int c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

static void check_against_pandas(const char *name) {
    char path[512], expected_path[512];
    snprintf(path, sizeof path, FIX "%s.csv", name);
    snprintf(expected_path, sizeof expected_path, FIX "%s.expected", name);
    at_csv *csv = at_csv_read(path);
    char *text = read_text(expected_path);
    CHECK(csv && text, "%s: %s", name, csv ? "no expected file" : at_last_error());
    if (!csv || !text) goto done;
    int ncells = 0, bad = 0;
    int64_t max_row = -1;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        char *p = line;
        long row = strtol(p, &p, 10), col = strtol(p, &p, 10);
        while (*p == ' ') p++;
        char want[512];
        size_t n = 0;
        for (; p[0] && p[1] && n < sizeof want - 1; p += 2) want[n++] = (char)(hexval(p[0]) * 16 + hexval(p[1]));
        want[n] = '\0';
        if (row > max_row) max_row = row;
        if (col >= csv->ncols || row >= csv->nrows) {
            bad++;
            continue;
        }
        const char *got = row < 0 ? csv->header[col] : at_csv_cell(csv, row, (int)col);
        if (strcmp(got, want) != 0) {
            bad++;
            fprintf(stderr, "%s: row %ld column %ld: '%s', pandas '%s'\n", name, row, col, got, want);
        }
        ncells++;
    }
    CHECK(bad == 0 && ncells > 10, "%s: %d of %d cells differ from pandas", name, bad, ncells);
    CHECK(csv->nrows == max_row + 1, "%s: %lld rows, pandas %lld", name, (long long)csv->nrows,
          (long long)max_row + 1);
done:
    at_csv_free(csv);
    free(text);
}

static at_csv *parse(const char *text) { return at_csv_parse(text, strlen(text), "mem.csv"); }

static void test_csv(void) {
    check_against_pandas("tricky");
    check_against_pandas("plain");

    at_csv *csv = at_csv_read(FIX "tricky.csv");
    if (csv) {
        CHECK(csv->index_column == 1 && csv->ncols == 4, "tricky: index column %d, %d columns",
              csv->index_column, csv->ncols);
        CHECK(at_csv_find(csv, "prompt") == 2 && at_csv_find(csv, "") == -1 && at_csv_find(csv, "x") == -1,
              "column lookup");
        /* Lines as an editor shows them: row 2's prompt spans lines 4-6, line 7 is blank. */
        static const int64_t lines[] = {2, 3, 4, 8, 9, 10, 11};
        for (int r = 0; r < 7; r++)
            CHECK(csv->line[r] == lines[r], "tricky row %d: line %lld, expected %lld", r,
                  (long long)csv->line[r], (long long)lines[r]);
        double v = 0;
        CHECK(at_csv_number(csv, 3, 3, "t", &v) == 0 && v == 0.3, "' 3e-1' is 0.3: %g", v);
        CHECK(at_csv_number(csv, 4, 3, "t", &v) == 0 && v == 7, "'  7  ' is 7: %g", v);
        CHECK(at_csv_number(csv, 5, 3, "t", &v) == 0 && v == 100, "1e2: %g", v);
        CHECK_ERROR(at_csv_number(csv, 0, 2, "t", &v) == 0, "t: ", "tricky.csv, line 2, column 'prompt'",
                    "'a cat, on a mat' is not a number");
        CHECK_ERROR(at_csv_number(csv, 4, 2, "t", &v) == 0, "line 9, column 'prompt': the empty cell is not a number");
    }
    at_csv_free(csv);

    /* Line ends: \n, \r\n and lone \r; no final line end. */
    csv = parse("a,b\rx,1\r\ny,2\nz,3");
    CHECK(csv && csv->nrows == 3 && csv->line[2] == 4 && strcmp(at_csv_cell(csv, 2, 0), "z") == 0,
          "mixed line ends: %s", csv ? "wrong rows" : at_last_error());
    CHECK(csv && csv->index_column == 0, "no index column");
    at_csv_free(csv);
    csv = parse("Unnamed: 0,a\n0,x\n");
    CHECK(csv && csv->index_column == 1 && at_csv_find(csv, "Unnamed: 0") == -1, "'Unnamed: 0' is an index");
    at_csv_free(csv);
    csv = parse("a,b\n\n\n");
    CHECK(csv && csv->nrows == 0, "header only");
    at_csv_free(csv);

    /* Malformed files: the error names the file, the line and the column. */
    CHECK_ERROR(parse("a,b\n1,\"open\n\n"), "csv: mem.csv, line 2, column 2: the quoted field never ends");
    CHECK_ERROR(parse("a,b\n1,2\n3,\"x\"y\n"), "mem.csv, line 3, column 2: 'y' after the closing quote");
    CHECK_ERROR(parse("a,b\n1,2\n\"two\nlines\",2,3\n"), "mem.csv, line 3: 3 fields, but the header (line 1) has 2");
    CHECK_ERROR(parse("a,b\n1\n"), "line 2: 1 fields");
    CHECK_ERROR(parse("a,b,a\n1,2,3\n"), "columns 1 and 3 are both called 'a'");
    CHECK_ERROR(parse(""), "mem.csv: no header line");
    CHECK_ERROR(parse("\xEF\xBB\xBF\n\r\n"), "no header line");
    CHECK_ERROR(at_csv_read(FIX "no-such.csv"), "csv: ", "no-such.csv: cannot open: No such file");
}

/* ---- small databases ---- */

/* Makes tmpdir/NAME with an image file for every CSV row but those listed. */
static char *make_images(const char *name, const char *csv_path, const char *const *missing, int nmissing) {
    char *dir = tmp_path(name);
    mkdir(dir, 0755);
    at_csv *csv = at_csv_read(csv_path);
    int col = csv ? at_csv_find(csv, "name") : -1;
    for (int64_t r = 0; csv && r < csv->nrows; r++) {
        const char *file = at_csv_cell(csv, r, col);
        int skip = 0;
        for (int k = 0; k < nmissing; k++) skip |= strcmp(file, missing[k]) == 0;
        if (skip) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, file);
        write_file(path, "not decoded here");
    }
    at_csv_free(csv);
    return dir;
}

typedef struct expected_split {
    char file[64];
    long seed;
    double fraction;
    int64_t ntrain_prompts, ntrain, ntest, train[64], test[64];
    uint64_t order_hash;
} expected_split;

static int read_expected_splits(expected_split *out, int max) {
    char *text = read_text(FIX "mini.expected");
    int n = 0;
    for (char *line = text ? strtok(text, "\n") : NULL; line && n < max; line = strtok(NULL, "\n")) {
        if (strncmp(line, "split ", 6) != 0) continue;
        expected_split *e = &out[n++];
        char *p = line + 6;
        int len = 0;
        sscanf(p, "%63s %ld %lf %lld train%n", e->file, &e->seed, &e->fraction, (long long *)&e->ntrain_prompts, &len);
        p += len;
        e->ntrain = e->ntest = 0;
        while (*p == ' ') p++;
        while (*p != ';') {
            e->train[e->ntrain++] = strtoll(p, &p, 10);
            while (*p == ' ') p++;
        }
        p = strstr(p, "test") + 4;
        while (*p == ' ') p++;
        while (*p != ';') {
            e->test[e->ntest++] = strtoll(p, &p, 10);
            while (*p == ' ') p++;
        }
        e->order_hash = strtoull(strstr(p, "order") + 5, NULL, 16);
    }
    free(text);
    return n;
}

static int same_rows(const int64_t *a, int64_t na, const int64_t *b, int64_t nb) {
    if (na != nb) return 0;
    for (int64_t i = 0; i < na; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

static void test_targets(void) {
    char *text = read_text(FIX "mini.expected");
    at_dataset *agiqa = at_dataset_load(&(at_dataset_options){.kind = AT_DATASET_AGIQA3K, .csv_path = FIX "agiqa_mini.csv"});
    at_dataset *published = at_dataset_load(&(at_dataset_options){.kind = AT_DATASET_AIGCIQA2023,
                                                                   .csv_path = FIX "aigc_published.csv"});
    at_dataset *renamed = at_dataset_load(&(at_dataset_options){.kind = AT_DATASET_AIGCIQA2023,
                                                                 .csv_path = FIX "aigc_renamed.csv"});
    CHECK(text && agiqa && published && renamed, "loading the small databases: %s", at_last_error());
    if (!text || !agiqa || !published || !renamed) goto done;
    CHECK(agiqa->ntargets == 2 && strcmp(agiqa->target_names[0], "mos_align") == 0 &&
          strcmp(agiqa->target_names[1], "mos_quality") == 0, "AGIQA-3K default targets");
    CHECK(published->ntargets == 3 && strcmp(published->target_names[2], "mos_authenticity") == 0,
          "AIGCIQA2023 default targets");
    CHECK(at_dataset_target_index(published, "quality_mos") == 1 &&
          at_dataset_target_index(published, "mos_quality") == 1 &&
          at_dataset_target_index(agiqa, "quality_mos") == -1, "target lookup by either name");
    CHECK(agiqa->size == 19 && agiqa->images[0] == NULL && strcmp(agiqa->prompts[4], "line\nbreak") == 0,
          "agiqa_mini rows");
    int n = 0, bad = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char file[64], name[64];
        long row;
        double want;
        if (sscanf(line, "target %63s %ld %63s %lf", file, &row, name, &want) != 4) continue;
        if (strcmp(file, "agiqa_mini.csv") == 0) {
            bad += at_dataset_target(agiqa, row, at_dataset_target_index(agiqa, name)) != want;
        } else {
            int t = at_dataset_target_index(published, name);
            bad += at_dataset_target(published, row, t) != want;
            bad += at_dataset_target(renamed, row, t) != want;
        }
        n++;
    }
    CHECK(n == 19 * 2 + 24 * 3 && bad == 0, "%d targets, %d differ from pandas (bit for bit)", n, bad);
    /* A chosen subset and order; a raw column of AGIQA-3K. */
    at_dataset *some = at_dataset_load(&(at_dataset_options){
        .kind = AT_DATASET_AIGCIQA2023, .csv_path = FIX "aigc_published.csv",
        .targets = (const char *[]){"authenticity_mos"}, .ntargets = 1});
    CHECK(some && some->ntargets == 1 && strcmp(some->target_names[0], "mos_authenticity") == 0 &&
          at_dataset_target(some, 3, 0) == at_dataset_target(published, 3, 2), "one AIGCIQA2023 target");
    at_dataset_free(some);
    some = at_dataset_load(&(at_dataset_options){.kind = AT_DATASET_AGIQA3K, .csv_path = FIX "agiqa_mini.csv",
                                                 .targets = (const char *[]){"std_align"}, .ntargets = 1});
    CHECK(some && at_dataset_target(some, 0, 0) == 0.25, "a raw AGIQA-3K column");
    at_dataset_free(some);
done:
    free(text);
    at_dataset_free(agiqa);
    at_dataset_free(published);
    at_dataset_free(renamed);
}

static void test_dataset_errors(void) {
    at_dataset_options o = {.kind = AT_DATASET_AIGCIQA2023, .csv_path = FIX "aigc_published.csv",
                            .targets = (const char *[]){"quality_std"}, .ntargets = 1};
    CHECK_ERROR(at_dataset_load(&o), "'quality_std' is not one");
    o.targets = (const char *[]){"mos_quality", "quality_mos"}, o.ntargets = 2;
    CHECK_ERROR(at_dataset_load(&o), "target 'quality_mos' is asked for twice");

    write_file(tmp_path("both.csv"), "name,prompt,quality_mos,mos_quality\na.png,p,1,2\nb.png,q,3,4\n");
    o = (at_dataset_options){.kind = AT_DATASET_AIGCIQA2023, .csv_path = tmp_path("both.csv"),
                             .targets = (const char *[]){"mos_quality"}, .ntargets = 1};
    CHECK_ERROR(at_dataset_load(&o), "both.csv, line 1: both 'mos_quality' and 'quality_mos' are present");
    write_file(tmp_path("flat.csv"), "name,prompt,quality_mos\na.png,p,1\nb.png,q,1\n");
    o.csv_path = tmp_path("flat.csv");
    CHECK_ERROR(at_dataset_load(&o), "flat.csv, column 'quality_mos': every row has the same value 1");
    o.csv_path = FIX "agiqa_mini.csv";
    o.targets = (const char *[]){"authenticity_mos"};
    CHECK_ERROR(at_dataset_load(&o), "agiqa_mini.csv, line 1: no column 'mos_authenticity' (or 'authenticity_mos'");

    write_file(tmp_path("bad.csv"), "\xEF\xBB\xBF" "name,prompt,mos_quality,mos_align\r\n"
                                    "a.jpg,\"one, two\",1.5,2\r\nb.jpg,\"x\ny\",2,abc\r\n");
    o = (at_dataset_options){.kind = AT_DATASET_AGIQA3K, .csv_path = tmp_path("bad.csv")};
    CHECK_ERROR(at_dataset_load(&o), "dataset: ", "bad.csv, line 3, column 'mos_align': 'abc' is not a number");
    write_file(tmp_path("noalign.csv"), "name,prompt,mos_quality\na.jpg,p,1\n");
    o.csv_path = tmp_path("noalign.csv");
    CHECK_ERROR(at_dataset_load(&o), "noalign.csv, line 1: no column 'mos_align' (a target)");
    write_file(tmp_path("noprompt.csv"), "name,mos_quality,mos_align\na.jpg,1,1\n");
    o.csv_path = tmp_path("noprompt.csv");
    CHECK_ERROR(at_dataset_load(&o), "no column 'prompt' (the prompts)");
    write_file(tmp_path("empty_prompt.csv"), "name,prompt,mos_quality,mos_align\na.jpg,p,1,1\nb.jpg,,1,1\n");
    o.csv_path = tmp_path("empty_prompt.csv");
    CHECK_ERROR(at_dataset_load(&o), "empty_prompt.csv, line 3, column 'prompt': the cell is empty");
    write_file(tmp_path("header_only.csv"), "name,prompt,mos_quality,mos_align\n");
    o.csv_path = tmp_path("header_only.csv");
    CHECK_ERROR(at_dataset_load(&o), "header_only.csv has a header but no rows");
    o.csv_path = tmp_path("none.csv");
    CHECK_ERROR(at_dataset_load(&o), "cannot open", "none.csv");
}

static void test_images(void) {
    const char *csv = FIX "agiqa_mini.csv";
    const char *missing[] = {"gen0_003.jpg", "gen2_006.jpg"};
    char *all = make_images("all", csv, NULL, 0);
    char *some = make_images("some", csv, missing, 2);
    at_dataset_options o = {.kind = AT_DATASET_AGIQA3K, .csv_path = csv, .image_dir = all};
    at_dataset *ds = at_dataset_load(&o);
    CHECK(ds && ds->size == 19 && ds->skipped == 0 && contains(ds->images[18], "/all/gen2_006.jpg"),
          "every image present: %s", ds ? "wrong rows" : at_last_error());
    at_dataset_free(ds);

    o.image_dir = some;
    CHECK_ERROR(at_dataset_load(&o), "agiqa_mini.csv, line 5, column 'name': image '", "some/gen0_003.jpg' does not exist");
    o.skip_missing_images = true;
    ds = at_dataset_load(&o);
    CHECK(ds && ds->size == 17 && ds->skipped == 2 && contains(ds->first_skipped, "gen0_003.jpg"),
          "skipping missing images: %s", ds ? "wrong counts" : at_last_error());
    if (ds) {
        CHECK(ds->csv_row[3] == 4 && ds->line[3] == 6 && strcmp(ds->names[3], "gen0_004.jpg") == 0 &&
              ds->keep[3] == -1 && ds->keep[4] == 3, "rows after a skipped one keep their CSV row and line");
        /* The split keeps the paper's prompts: the same as with every image, minus the skipped rows. */
        at_dataset *full = at_dataset_load(&(at_dataset_options){.kind = AT_DATASET_AGIQA3K, .csv_path = csv});
        at_split *a = at_dataset_split(ds, 42, 0.8), *b = full ? at_dataset_split(full, 42, 0.8) : NULL;
        CHECK(a && b && prompts_hash(a->prompts, a->nprompts) == prompts_hash(b->prompts, b->nprompts) &&
              a->ntrain + a->ntest == 17 && b->ntrain + b->ntest == 19, "a split with skipped rows");
        int ok = 1;
        for (int64_t i = 0; a && i < a->ntest; i++) ok &= strcmp(ds->names[a->test[i]], "gen0_003.jpg") != 0;
        for (int64_t i = 0; a && b && i < a->ntest; i++) {
            const char *name = ds->names[a->test[i]];
            int found = 0;
            for (int64_t j = 0; j < b->ntest; j++) found |= strcmp(full->names[b->test[j]], name) == 0;
            ok &= found;
        }
        CHECK(ok, "test rows with skipped images are the full split's test rows that remain");
        at_split_free(a);
        at_split_free(b);
        at_dataset_free(full);
    }
    at_dataset_free(ds);

    /* Unreadable images are errors even when skipping missing ones. */
    char path[1024];
    snprintf(path, sizeof path, "%s/gen0_003.jpg", some);
    mkdir(path, 0755);
    CHECK_ERROR(at_dataset_load(&o), "line 5, column 'name': image '", "gen0_003.jpg' cannot be read: not a regular file");
    rmdir(path);
    write_file(path, "");
    CHECK_ERROR(at_dataset_load(&o), "gen0_003.jpg' cannot be read: the file is empty");
    if (geteuid() != 0) {   /* root reads anything */
        write_file(path, "x");
        chmod(path, 0);
        CHECK_ERROR(at_dataset_load(&o), "gen0_003.jpg' cannot be read: Permission denied");
    }
    remove(path);

    o.image_dir = tmp_path("no-such-folder");
    CHECK_ERROR(at_dataset_load(&o), "dataset: image folder '", "no-such-folder': No such file or directory");
    o.image_dir = FIX "agiqa_mini.csv";
    CHECK_ERROR(at_dataset_load(&o), "agiqa_mini.csv' is not a folder");
    o.image_dir = tmp_path("empty");
    mkdir(o.image_dir, 0755);
    CHECK_ERROR(at_dataset_load(&o), "none of its 19 images is in '");

    /* A generic database: other column names, any targets. */
    write_file(tmp_path("generic.csv"), ",file,text,score,other\n0,a.png,\"p, 1\",1.25,x\n1,b.png,p2,2.5,y\n");
    char *gen = tmp_path("gen");
    mkdir(gen, 0755);
    write_file(tmp_path("gen/a.png"), "a");
    write_file(tmp_path("gen/b.png"), "b");
    o = (at_dataset_options){.kind = AT_DATASET_CSV, .csv_path = tmp_path("generic.csv"), .image_dir = gen,
                             .name_column = "file", .prompt_column = "text",
                             .targets = (const char *[]){"score"}, .ntargets = 1};
    ds = at_dataset_load(&o);
    CHECK(ds && ds->size == 2 && strcmp(ds->prompts[0], "p, 1") == 0 && at_dataset_target(ds, 1, 0) == 2.5 &&
          contains(ds->images[1], "gen/b.png"), "a generic CSV database: %s", ds ? "wrong rows" : at_last_error());
    at_dataset_free(ds);
    o.targets = (const char *[]){"other"};
    CHECK_ERROR(at_dataset_load(&o), "generic.csv, line 2, column 'other': 'x' is not a number");
    o.targets = NULL, o.ntargets = 0;
    ds = at_dataset_load(&o);
    CHECK(ds && ds->ntargets == 0 && ds->size == 2, "a generic database without targets");
    at_dataset_free(ds);
    o.name_column = NULL;
    CHECK_ERROR(at_dataset_load(&o), "no column 'name' (the image file names)");
}

static void test_mini_splits(void) {
    static expected_split e[64];
    int n = read_expected_splits(e, 64);
    CHECK(n == 20, "%d expected splits", n);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        char path[512];
        snprintf(path, sizeof path, FIX "%.63s", e[i].file);
        at_dataset *ds = at_dataset_load(&(at_dataset_options){
            .kind = contains(e[i].file, "aigc") ? AT_DATASET_AIGCIQA2023 : AT_DATASET_AGIQA3K, .csv_path = path});
        at_split *s = ds ? at_dataset_split(ds, e[i].seed, e[i].fraction) : NULL;
        int ok = s && s->ntrain_prompts == e[i].ntrain_prompts &&
                 same_rows(s->train, s->ntrain, e[i].train, e[i].ntrain) &&
                 same_rows(s->test, s->ntest, e[i].test, e[i].ntest) &&
                 prompts_hash(s->prompts, s->nprompts) == e[i].order_hash;
        if (!ok) fprintf(stderr, "split of %s, seed %ld, fraction %g differs from numpy's\n", e[i].file, e[i].seed,
                         e[i].fraction);
        bad += !ok;
        at_split_free(s);
        at_dataset_free(ds);
    }
    CHECK(bad == 0, "%d of %d small splits differ from numpy and pandas", bad, n);
}

static void test_split_api(void) {
    const char *rows[] = {"b", "a", "b", "c", "d", "a", "e", "c", "f", "g"};
    const int64_t nrows = 10;
    /* Content isolation: no prompt on both sides; every row once. */
    for (int64_t seed = 0; seed < 50; seed++) {
        at_split *s = at_split_random(rows, nrows, NULL, seed, 0.8);
        int ok = s && s->nprompts == 7 && s->ntrain_prompts == 5 && s->ntrain + s->ntest == nrows;
        for (int64_t i = 0; ok && i < s->ntrain; i++)
            for (int64_t j = 0; j < s->ntest; j++) ok &= strcmp(rows[s->train[i]], rows[s->test[j]]) != 0;
        for (int64_t i = 1; ok && i < s->ntest; i++) ok &= s->test[i] > s->test[i - 1];
        CHECK(ok, "seed %lld: a content-isolated split", (long long)seed);
        at_split_free(s);
    }
    /* The unique prompts are shuffled as np.arange(7) is. */
    at_split *s = at_split_random(rows, nrows, NULL, 42, 0.8);
    at_mt19937 mt;
    int64_t perm[7];
    at_mt19937_seed(&mt, 42);
    at_numpy_shuffle_indices(&mt, 7, perm);
    const char *unique[] = {"b", "a", "c", "d", "e", "f", "g"};
    int ok = s != NULL;
    for (int k = 0; ok && k < 7; k++) ok &= strcmp(s->prompts[k], unique[perm[k]]) == 0;
    CHECK(ok, "prompts in numpy's shuffled order");
    CHECK(s && at_split_ntest_prompts(s) == 2 && at_split_test_prompts(s) == s->prompts + 5, "test prompts");
    at_split_free(s);

    /* Fractions: 0 keeps everything for test, 1 for train; int() truncates. */
    s = at_split_random(rows, nrows, NULL, 1, 0.0);
    CHECK(s && s->ntrain == 0 && s->ntest == 10, "fraction 0");
    at_split_free(s);
    s = at_split_random(rows, nrows, NULL, 1, 1.0);
    CHECK(s && s->ntrain == 10 && s->ntest == 0, "fraction 1");
    at_split_free(s);
    s = at_split_random(rows, nrows, NULL, 1, 0.7);   /* int(0.7 * 7) = 4 */
    CHECK(s && s->ntrain_prompts == 4, "int(0.7 * 7)");
    at_split_free(s);
    CHECK_ERROR(at_split_random(rows, nrows, NULL, -1, 0.8), "split: seed -1 is outside numpy's range 0..4294967295");
    CHECK_ERROR(at_split_random(rows, nrows, NULL, 4294967296LL, 0.8), "seed 4294967296 is outside");
    s = at_split_random(rows, nrows, NULL, 4294967295LL, 0.8);
    CHECK(s != NULL, "the largest numpy seed");
    at_split_free(s);
    CHECK_ERROR(at_split_random(rows, nrows, NULL, 1, 1.5), "train fraction 1.5 is not in [0, 1]");
    CHECK_ERROR(at_split_random(rows, nrows, NULL, 1, NAN), "train fraction ", "nan is not in [0, 1]");
    const char *holes[] = {"a", "", "b"};
    CHECK_ERROR(at_split_random(holes, 3, NULL, 1, 0.8), "split: row 2 has an empty prompt");
    s = at_split_random(rows, 0, NULL, 1, 0.8);
    CHECK(s && s->nprompts == 0 && s->ntrain == 0 && s->ntest == 0, "no rows");
    at_split_free(s);
    int64_t bad_keep[10] = {0, 1, -1, 1, 2, 3, 4, 5, 6, 7};
    CHECK_ERROR(at_split_random(rows, nrows, bad_keep, 1, 0.8), "numbered increasingly");

    /* Rounds: round r is the split with seed + r. */
    at_split *round[3];
    CHECK(at_split_rounds(rows, nrows, NULL, 100, 3, 0.8, round) == 0, "rounds: %s", at_last_error());
    for (int r = 0; r < 3; r++) {
        at_split *one = at_split_random(rows, nrows, NULL, 100 + r, 0.8);
        CHECK(one && round[r]->seed == 100 + r && same_rows(one->test, one->ntest, round[r]->test, round[r]->ntest) &&
              prompts_hash(one->prompts, one->nprompts) == prompts_hash(round[r]->prompts, round[r]->nprompts),
              "round %d", r);
        at_split_free(one);
        at_split_free(round[r]);
    }
    CHECK_ERROR(at_split_rounds(rows, nrows, NULL, 4294967294LL, 3, 0.8, round) == 0, "seeds 4294967294..4294967296 of 3 rounds");
    CHECK_ERROR(at_split_rounds(rows, nrows, NULL, 1, 0, 0.8, round) == 0, "0 rounds asked");

    /* A fixed split from a file: BOM, CRLF, blank lines; unknown and repeated prompts name their line. */
    write_file(tmp_path("test_prompts.txt"), "\xEF\xBB\xBF" "c\r\n\r\ng\n");
    s = at_split_fixed_file(rows, nrows, NULL, tmp_path("test_prompts.txt"));
    CHECK(s && s->seed == AT_SPLIT_FIXED_SEED && s->ntrain_prompts == 5 && s->ntest == 3 && s->test[0] == 3 &&
              s->test[1] == 7 && s->test[2] == 9 && strcmp(s->prompts[5], "c") == 0 && strcmp(s->prompts[6], "g") == 0 &&
              strcmp(s->prompts[0], "b") == 0,
          "a fixed split: %s", s ? "wrong rows" : at_last_error());
    at_split_free(s);
    write_file(tmp_path("unknown.txt"), "c\n\nnot a prompt\n");
    CHECK_ERROR(at_split_fixed_file(rows, nrows, NULL, tmp_path("unknown.txt")), "unknown.txt', line 3: 'not a prompt' is not a prompt of the data");
    write_file(tmp_path("twice.txt"), "c\nd\nc\n");
    CHECK_ERROR(at_split_fixed_file(rows, nrows, NULL, tmp_path("twice.txt")), "twice.txt', line 3: 'c' is listed twice (first at line 1)");
    write_file(tmp_path("blank.txt"), "\n\n");
    CHECK_ERROR(at_split_fixed_file(rows, nrows, NULL, tmp_path("blank.txt")), "blank.txt' lists no test prompts");
    CHECK_ERROR(at_split_fixed_file(rows, nrows, NULL, tmp_path("absent.txt")), "split: the test prompts file '", "absent.txt': cannot open");
    const char *list[] = {"a", "zzz"};
    CHECK_ERROR(at_split_fixed(rows, nrows, NULL, list, 2, "my list"), "my list, test prompt 2: 'zzz' is not a prompt");
}

/* ---- the real databases ---- */

static int real_data(void) {
    char *text = read_text(FIX "real_splits.txt");
    at_dataset *agiqa = at_dataset_load(&(at_dataset_options){
        .kind = AT_DATASET_AGIQA3K, .csv_path = DATASETS "/AGIQA-3K/AGIQA-3K.csv"});
    if (!agiqa) {
        printf("skipped: the real databases are not in %s (%s)\n", DATASETS, at_last_error());
        free(text);
        return 77;
    }
    at_dataset *with_images = at_dataset_load(&(at_dataset_options){
        .kind = AT_DATASET_AGIQA3K, .csv_path = DATASETS "/AGIQA-3K/AGIQA-3K.csv",
        .image_dir = DATASETS "/AGIQA-3K/images", .skip_missing_images = true});
    at_dataset *aigc = at_dataset_load(&(at_dataset_options){
        .kind = AT_DATASET_AIGCIQA2023, .csv_path = DATASETS "/AIGCIQA2023/AIGCIQA2023.csv"});
    CHECK(text && with_images && aigc, "loading: %s", at_last_error());
    if (!text || !with_images || !aigc) goto done;
    CHECK(agiqa->size == 2982 && aigc->size == 2400, "%lld and %lld rows", (long long)agiqa->size, (long long)aigc->size);
    CHECK(with_images->size == 1669 && with_images->skipped == 2982 - 1669, "%lld rows with images, %lld skipped",
          (long long)with_images->size, (long long)with_images->skipped);
    CHECK_ERROR(at_dataset_load(&(at_dataset_options){.kind = AT_DATASET_AGIQA3K,
                                                      .csv_path = DATASETS "/AGIQA-3K/AGIQA-3K.csv",
                                                      .image_dir = DATASETS "/AGIQA-3K/images"}),
                "AGIQA-3K.csv, line ", ", column 'name': image '", "' does not exist");
    int nsplits = 0, nscaled = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char db[32], order_hex[17], test_hex[17];
        long long seed, nprompts, ntrain_prompts, ntrain, ntest, kept_train, kept_test;
        double fraction, want[3];
        long row;
        if (sscanf(line, "unique %31s %lld %16s", db, &nprompts, order_hex) == 3) {
            at_dataset *ds = strcmp(db, "agiqa3k") == 0 ? agiqa : aigc;
            at_split *s = at_split_fixed(ds->csv_prompts, ds->csv_rows, NULL, ds->csv_prompts, 1, "first");
            /* The fixed split lists train prompts in first-appearance order, then the test one. */
            CHECK(s && s->nprompts == nprompts, "%s: %lld unique prompts", db, nprompts);
            if (s) {
                char **order = malloc(sizeof *order * (size_t)s->nprompts);
                order[0] = s->prompts[s->nprompts - 1];
                for (int64_t i = 0; i + 1 < s->nprompts; i++) order[i + 1] = s->prompts[i];
                CHECK(prompts_hash(order, s->nprompts) == strtoull(order_hex, NULL, 16),
                      "%s: unique prompts in pandas' order", db);
                free(order);
            }
            at_split_free(s);
        } else if (sscanf(line, "split %31s %lld %lf %lld %lld %lld %lld %16s %16s %lld %lld", db, &seed, &fraction,
                          &nprompts, &ntrain_prompts, &ntrain, &ntest, order_hex, test_hex, &kept_train,
                          &kept_test) == 11) {
            int is_agiqa = strcmp(db, "agiqa3k") == 0;
            at_split *s = at_dataset_split(is_agiqa ? agiqa : aigc, seed, fraction);
            CHECK(s && s->nprompts == nprompts && s->ntrain_prompts == ntrain_prompts && s->ntrain == ntrain &&
                      s->ntest == ntest,
                  "%s seed %lld fraction %g: %lld/%lld prompts, %lld/%lld rows (numpy: %lld/%lld, %lld/%lld)", db, seed,
                  fraction, s ? (long long)s->ntrain_prompts : -1, s ? (long long)(s->nprompts - s->ntrain_prompts) : -1,
                  s ? (long long)s->ntrain : -1, s ? (long long)s->ntest : -1, ntrain_prompts, nprompts - ntrain_prompts,
                  ntrain, ntest);
            if (s) {
                CHECK(prompts_hash(s->prompts, s->nprompts) == strtoull(order_hex, NULL, 16),
                      "%s seed %lld: numpy's shuffled prompts", db, seed);
                CHECK(prompts_hash(at_split_test_prompts(s), at_split_ntest_prompts(s)) == strtoull(test_hex, NULL, 16),
                      "%s seed %lld fraction %g: numpy's test prompts", db, seed, fraction);
            }
            at_split_free(s);
            if (is_agiqa) {
                s = at_dataset_split(with_images, seed, fraction);
                CHECK(s && s->ntrain == kept_train && s->ntest == kept_test,
                      "%s seed %lld with the images present: %lld/%lld rows, expected %lld/%lld", db, seed,
                      s ? (long long)s->ntrain : -1, s ? (long long)s->ntest : -1, kept_train, kept_test);
                at_split_free(s);
            }
            nsplits++;
        } else if (sscanf(line, "scaled %31s %ld %lf %lf %lf", db, &row, &want[0], &want[1], &want[2]) == 5) {
            for (int t = 0; t < 3; t++)
                CHECK(at_dataset_target(aigc, row, t) == want[t], "AIGCIQA2023 row %ld %s: %.17g, pandas %.17g", row,
                      aigc->target_names[t], at_dataset_target(aigc, row, t), want[t]);
            nscaled++;
        }
    }
    CHECK(nsplits >= 12 && nscaled >= 12, "%d splits and %d scaled rows checked", nsplits, nscaled);
    /* The paper's test sizes, stated outright. */
    static const struct { int64_t seed, ntest; } paper[] = {{42, 599}, {100, 595}, {200, 595}};
    for (int i = 0; i < 3; i++) {
        at_split *s = at_dataset_split(agiqa, paper[i].seed, AT_SPLIT_PAPER_FRACTION);
        CHECK(s && s->ntest == paper[i].ntest, "AGIQA-3K seed %lld: %lld test images", (long long)paper[i].seed,
              s ? (long long)s->ntest : -1);
        at_split_free(s);
    }
    at_split *s = at_dataset_split(aigc, 42, AT_SPLIT_PAPER_FRACTION);
    CHECK(s && s->ntest == 480, "AIGCIQA2023 seed 42: 480 test images");
    at_split_free(s);
done:
    free(text);
    at_dataset_free(agiqa);
    at_dataset_free(with_images);
    at_dataset_free(aigc);
    return check_summary();
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--real") == 0) return real_data();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/aapmt_test_data.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_numpy_shuffles();
    test_csv();
    test_targets();
    test_dataset_errors();
    test_images();
    test_mini_splits();
    test_split_api();
    nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_summary();
}

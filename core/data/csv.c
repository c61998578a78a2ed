/* The CSV reader; see csv.h for the dialect. One pass over the text copies
 * each unquoted cell into a single block (quotes removed, so the block never
 * outgrows the text) and records where each cell starts. */
#include "csv.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/read_whole.h"
#include "../tensor.h"

typedef struct parser {
    const char *text, *name;
    size_t len, pos;
    int64_t line;        /* current physical line, 1-based */
    char *out;           /* write position in the block */
    char **cells;        /* every field of every record, header included */
    size_t ncells, cap_cells;
    struct record_info { int64_t line, width; } *records;   /* first line, fields */
    size_t nrecords, cap_records;
} parser;

static bool grow(void **p, size_t *cap, size_t need, size_t item) {
    if (need <= *cap) return true;
    size_t cap2 = *cap ? 2 * *cap : 1024;
    while (cap2 < need) cap2 *= 2;
    void *q = realloc(*p, cap2 * item);
    if (!q) return false;
    *p = q;
    *cap = cap2;
    return true;
}

/* Consumes a line end at pos (\r\n, \n or \r), if there is one. */
static bool eat_line_end(parser *ps) {
    if (ps->pos >= ps->len) return false;
    char c = ps->text[ps->pos];
    if (c == '\n' || c == '\r') {
        ps->pos += (c == '\r' && ps->pos + 1 < ps->len && ps->text[ps->pos + 1] == '\n') ? 2 : 1;
        ps->line++;
        return true;
    }
    return false;
}

/* A NUL would silently cut the cell short (cells are NUL-terminated), so a
 * text with one is refused; it is most likely a binary file or UTF-16. */
static int nul_byte(parser *ps, int field) {
    at_set_error("csv: %s, line %lld, column %d: NUL byte (a binary or UTF-16 file?)", ps->name,
                 (long long)ps->line, field);
    return -1;
}

/* One quoted field, pos at its opening quote. */
static int quoted_field(parser *ps, int field) {
    int64_t start_line = ps->line;
    ps->pos++;
    for (;;) {
        if (ps->pos >= ps->len) {
            at_set_error("csv: %s, line %lld, column %d: the quoted field never ends (no closing '\"')",
                         ps->name, (long long)start_line, field);
            return -1;
        }
        char c = ps->text[ps->pos];
        if (c == '"') {
            if (ps->pos + 1 < ps->len && ps->text[ps->pos + 1] == '"') {
                *ps->out++ = '"';
                ps->pos += 2;
                continue;
            }
            ps->pos++;
            break;
        }
        if (c == '\n' || (c == '\r' && !(ps->pos + 1 < ps->len && ps->text[ps->pos + 1] == '\n')))
            ps->line++;
        if (c == '\0') return nul_byte(ps, field);
        *ps->out++ = c;
        ps->pos++;
    }
    if (ps->pos < ps->len) {
        char c = ps->text[ps->pos];
        if (c != ',' && c != '\n' && c != '\r') {
            at_set_error("csv: %s, line %lld, column %d: '%c' after the closing quote of a quoted "
                         "field (a quote inside a quoted field must be doubled)",
                         ps->name, (long long)ps->line, field, c);
            return -1;
        }
    }
    return 0;
}

/* One record; leaves pos after its line end. Sets *blank for a blank line. */
static int record(parser *ps, bool *blank) {
    size_t first = ps->ncells;
    int64_t line = ps->line;
    bool any_quote = false;
    for (int field = 1;; field++) {
        if (!grow((void **)&ps->cells, &ps->cap_cells, ps->ncells + 1, sizeof *ps->cells)) goto oom;
        ps->cells[ps->ncells++] = ps->out;
        if (ps->pos < ps->len && ps->text[ps->pos] == '"') {
            any_quote = true;
            if (quoted_field(ps, field)) return -1;
        } else {
            while (ps->pos < ps->len) {
                char c = ps->text[ps->pos];
                if (c == ',' || c == '\n' || c == '\r') break;
                if (c == '\0') return nul_byte(ps, field);
                *ps->out++ = c;
                ps->pos++;
            }
        }
        *ps->out++ = '\0';
        if (ps->pos < ps->len && ps->text[ps->pos] == ',') {
            ps->pos++;
            continue;
        }
        eat_line_end(ps);
        break;
    }
    size_t width = ps->ncells - first;
    *blank = width == 1 && !any_quote && ps->cells[first][0] == '\0';
    if (*blank) {
        ps->ncells = first;
        return 0;
    }
    if (!grow((void **)&ps->records, &ps->cap_records, ps->nrecords + 1, sizeof *ps->records)) goto oom;
    ps->records[ps->nrecords].line = line;
    ps->records[ps->nrecords++].width = (int64_t)width;
    return 0;
oom:
    at_set_error("csv: %s: out of memory", ps->name);
    return -1;
}

static bool is_index_name(const char *name) {
    return name[0] == '\0' || strcmp(name, "Unnamed: 0") == 0;
}

typedef struct named_column { const char *name; int col; } named_column;

static int by_name_then_column(const void *a, const void *b) {
    const named_column *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->col > y->col) - (x->col < y->col);
}

/* Names must be unique. Sorting the names makes this n log n (comparing every
 * pair took minutes for 100,000 columns); the pair named is the one a scan
 * from the left meets first: the earliest column repeating an earlier name,
 * and that name's first column. */
static int check_header(const at_csv *csv) {
    named_column *sorted = malloc(sizeof *sorted * (size_t)csv->ncols);
    if (!sorted) {
        at_set_error("csv: %s: out of memory", csv->path);
        return -1;
    }
    int n = 0;
    for (int i = csv->index_column; i < csv->ncols; i++)
        if (csv->header[i][0]) sorted[n++] = (named_column){csv->header[i], i};   /* "": never looked up */
    qsort(sorted, (size_t)n, sizeof *sorted, by_name_then_column);
    int first = -1, repeat = -1;
    for (int k = 1; k < n; k++) {
        bool starts_repeat = strcmp(sorted[k].name, sorted[k - 1].name) == 0 &&
                             (k == 1 || strcmp(sorted[k - 1].name, sorted[k - 2].name) != 0);
        if (starts_repeat && (repeat < 0 || sorted[k].col < repeat)) first = sorted[k - 1].col, repeat = sorted[k].col;
    }
    free(sorted);
    if (repeat < 0) return 0;
    at_set_error("csv: %s, line %lld: columns %d and %d are both called '%s'", csv->path,
                 (long long)csv->header_line, first + 1, repeat + 1, csv->header[repeat]);
    return -1;
}

at_csv *at_csv_parse(const char *text, size_t len, const char *name) {
    parser ps = {.text = text, .name = name, .len = len, .line = 1};
    at_csv *csv = calloc(1, sizeof *csv);
    if (!csv || !(csv->path = strdup(name)) || !(csv->block = malloc(len + 2))) {
        at_set_error("csv: %s: out of memory", name);
        at_csv_free(csv);
        return NULL;
    }
    ps.out = csv->block;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) ps.pos = 3;
    while (ps.pos < ps.len) {
        bool blank;
        if (record(&ps, &blank)) goto fail;
    }
    if (ps.nrecords == 0) {
        at_set_error("csv: %s: no header line (the file is empty)", name);
        goto fail;
    }
    csv->ncols = (int)ps.records[0].width;
    csv->header = ps.cells;
    csv->header_line = ps.records[0].line;
    csv->index_column = is_index_name(csv->header[0]);
    csv->nrows = (int64_t)ps.nrecords - 1;
    csv->cells = ps.cells + csv->ncols;
    ps.cells = NULL;
    for (int64_t r = 0; r < csv->nrows; r++) {
        if (ps.records[r + 1].width != csv->ncols) {
            at_set_error("csv: %s, line %lld: %lld fields, but the header (line %lld) has %d",
                         name, (long long)ps.records[r + 1].line, (long long)ps.records[r + 1].width,
                         (long long)csv->header_line, csv->ncols);
            goto fail;
        }
    }
    csv->line = malloc(sizeof *csv->line * (size_t)(csv->nrows ? csv->nrows : 1));
    if (!csv->line) {
        at_set_error("csv: %s: out of memory", name);
        goto fail;
    }
    for (int64_t r = 0; r < csv->nrows; r++) csv->line[r] = ps.records[r + 1].line;
    free(ps.records);
    if (check_header(csv)) {
        at_csv_free(csv);
        return NULL;
    }
    return csv;
fail:
    free(ps.cells);
    free(ps.records);
    at_csv_free(csv);
    return NULL;
}

at_csv *at_csv_read(const char *path) {
    size_t len;
    char *text = at_read_whole(path, &AT_TEXT_FILE, &len, "csv: %s", path);
    if (!text) return NULL;
    at_csv *csv = at_csv_parse(text, len, path);
    free(text);
    return csv;
}

void at_csv_free(at_csv *csv) {
    if (!csv) return;
    free(csv->path);
    free(csv->header);   /* the cell pointers: header first, then the rows */
    free(csv->line);
    free(csv->block);
    free(csv);
}

int at_csv_find(const at_csv *csv, const char *name) {
    if (!name[0]) return -1;
    for (int i = csv->index_column; i < csv->ncols; i++)
        if (strcmp(csv->header[i], name) == 0) return i;
    return -1;
}

int at_csv_number(const at_csv *csv, int64_t row, int col, const char *who, double *out) {
    const char *s = at_csv_cell(csv, row, col);
    const char *p = s;
    while (*p == ' ' || *p == '\t') p++;
    char *end = (char *)p;
    double v = 0.0;
    if (*p) {
        errno = 0;
        v = strtod(p, &end);
        while (*end == ' ' || *end == '\t') end++;
    }
    if (!*p || *end || !isfinite(v)) {
        char shown[64];
        snprintf(shown, sizeof shown, "%s", s);
        at_set_error("%s: %s, line %lld, column '%s': %s%s%s is not a number", who, csv->path,
                     (long long)csv->line[row], csv->header[col], *s ? "'" : "",
                     *s ? shown : "the empty cell", *s ? "'" : "");
        return -1;
    }
    *out = v;
    return 0;
}

/* Reading CSV files as pandas.read_csv reads the rating files (RFC 4180).
 *
 *  - Fields are separated by commas; records end with \n, \r\n or \r.
 *  - A field that starts with a double quote is quoted: it ends at the next
 *    lone quote, "" inside it is one quote, and commas and line ends inside
 *    it are part of the field. A closing quote followed by anything but a
 *    comma or the end of the record is an error. A quote inside an unquoted
 *    field is kept as a character (pandas does the same).
 *  - A UTF-8 byte-order mark at the start is skipped.
 *  - Blank lines are skipped (pandas' skip_blank_lines).
 *  - The first record is the header. An empty first name (what
 *    DataFrame.to_csv writes for the index) or "Unnamed: 0" (the same after a
 *    pandas round trip) marks an unnamed index column: index_column is 1 and
 *    lookups by name never find it. Other names must be unique.
 *  - Every record must have as many fields as the header (pandas would fill
 *    short records with NaN; here that is an error, so nothing is guessed).
 *  - Cells are kept as text, byte for byte (no whitespace trimming, no NA
 *    strings); at_csv_number converts one when a number is wanted.
 *  - A NUL byte anywhere is an error naming its line and column (a binary or
 *    UTF-16 file), since cells are NUL-terminated strings.
 *
 * Lines in messages are 1-based physical lines of the file, as an editor
 * shows them (a quoted field with line breaks makes its record span several;
 * the record's first line is named). Columns are named by their header. */
#ifndef AAPMT_TRAIN_CSV_H
#define AAPMT_TRAIN_CSV_H

#include <stddef.h>
#include <stdint.h>

typedef struct at_csv {
    char *path;           /* as given, for messages */
    int ncols;
    char **header;        /* ncols names */
    int64_t header_line;
    int index_column;     /* 1: column 0 is an unnamed index */
    int64_t nrows;        /* data records */
    char **cells;         /* nrows * ncols, row-major, NUL-terminated */
    int64_t *line;        /* nrows: the line where each record starts */
    char *block;          /* storage of every cell */
} at_csv;

/* Reads and parses a file; NULL after at_set_error("csv: PATH...") when it
 * cannot be read (io/read_whole.h: at most 2 GiB, AAPMT_MAX_TEXT_BYTES; no
 * NUL byte) or is malformed (naming line and column). */
at_csv *at_csv_read(const char *path);
/* Parses text held in memory; name stands for the path in messages. */
at_csv *at_csv_parse(const char *text, size_t len, const char *name);
void at_csv_free(at_csv *csv);   /* NULL is fine */

/* The column called name, or -1 (no error set). */
int at_csv_find(const at_csv *csv, const char *name);
static inline const char *at_csv_cell(const at_csv *csv, int64_t row, int col) {
    return csv->cells[row * csv->ncols + col];
}
/* The cell as a finite double (surrounding spaces allowed). Returns -1 after
 * at_set_error("who: PATH, line L, column 'C': 'x' is not a number") for an
 * empty, non-numeric, NaN or infinite cell. */
int at_csv_number(const at_csv *csv, int64_t row, int col, const char *who, double *out);

#endif

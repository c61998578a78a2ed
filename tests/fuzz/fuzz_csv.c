/* Fuzzing the CSV reader (core/data/csv.c) from memory: a parse that
 * succeeds must give a rectangular table of NUL-terminated cells with
 * non-decreasing lines, and every cell goes through at_csv_number. */
#include "fuzz_common.h"
#include "data/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* The exact bytes on the heap, so a read one past the end is caught. */
    char *text = malloc(size ? size : 1);
    if (size) memcpy(text, data, size);
    at_csv *csv = at_csv_parse(text, size, "fuzz.csv");
    if (csv) {
        if (csv->ncols < 1 || csv->nrows < 0) abort();
        for (int c = 0; c < csv->ncols; c++) {
            /* Empty names are pandas' "Unnamed: i", never looked up (csv.h). */
            if (c >= csv->index_column && csv->header[c][0] && at_csv_find(csv, csv->header[c]) != c) {
                fprintf(stderr, "fuzz: column %d ('%s') is not found by its name\n", c, csv->header[c]);
                abort();
            }
        }
        for (int64_t r = 0; r < csv->nrows; r++) {
            if (csv->line[r] <= csv->header_line || (r && csv->line[r] <= csv->line[r - 1])) abort();
            for (int c = 0; c < csv->ncols; c++) {
                double x;
                (void)strlen(at_csv_cell(csv, r, c));
                (void)at_csv_number(csv, r, c, "fuzz", &x);
            }
        }
    }
    at_csv_free(csv);
    free(text);
    return 0;
}

/* Content-isolated splits: the paper's numpy-seeded one, k rounds of it, and
 * a fixed list of test prompts; see split.h. */
#include "split.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/read_whole.h"
#include "../tensor.h"
#include "mt19937.h"
#include "prompt_index.h"

#define NUMPY_SEED_MAX 4294967295LL

/* A prompt shortened for messages. */
static const char *shown(const char *prompt, char *buf, size_t size) {
    size_t n = strlen(prompt);
    if (n < size) return prompt;
    snprintf(buf, size, "%.*s...", (int)size - 4, prompt);
    return buf;
}

static at_split *split_alloc(int64_t nprompts, int64_t nrows) {
    at_split *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->prompts = calloc((size_t)(nprompts ? nprompts : 1), sizeof *s->prompts);
    s->train = malloc(sizeof *s->train * (size_t)(nrows ? nrows : 1));
    s->test = malloc(sizeof *s->test * (size_t)(nrows ? nrows : 1));
    if (!s->prompts || !s->train || !s->test) {
        at_split_free(s);
        return NULL;
    }
    s->nprompts = nprompts;
    return s;
}

void at_split_free(at_split *s) {
    if (!s) return;
    if (s->prompts)
        for (int64_t i = 0; i < s->nprompts; i++) free(s->prompts[i]);
    free(s->prompts);
    free(s->train);
    free(s->test);
    free(s);
}

/* Fills prompts[] from order (unique indices, train first) and the row lists
 * from which side each unique prompt is on. */
static int fill(at_split *s, const at_prompt_index *ix, const int64_t *order, int64_t nrows,
                const int64_t *keep) {
    bool *is_train = calloc((size_t)(ix->n ? ix->n : 1), sizeof *is_train);
    if (!is_train) return -1;
    for (int64_t k = 0; k < ix->n; k++) {
        if (!(s->prompts[k] = strdup(ix->unique[order[k]]))) {
            free(is_train);
            return -1;
        }
        if (k < s->ntrain_prompts) is_train[order[k]] = true;
    }
    for (int64_t r = 0; r < nrows; r++) {
        int64_t row = keep ? keep[r] : r;
        if (row < 0) continue;
        if (is_train[ix->of_row[r]]) s->train[s->ntrain++] = row;
        else s->test[s->ntest++] = row;
    }
    free(is_train);
    return 0;
}

static int check_keep(const int64_t *keep, int64_t nrows) {
    int64_t last = -1;
    for (int64_t r = 0; keep && r < nrows; r++) {
        if (keep[r] < 0) continue;
        if (keep[r] <= last) {
            at_set_error("split: kept rows must be numbered increasingly (CSV row %lld is %lld after %lld)",
                         (long long)r + 1, (long long)keep[r], (long long)last);
            return -1;
        }
        last = keep[r];
    }
    return 0;
}

at_split *at_split_random(const char *const *prompts, int64_t nrows, const int64_t *keep,
                          int64_t seed, double train_fraction) {
    if (seed < 0 || seed > NUMPY_SEED_MAX) {
        at_set_error("split: seed %lld is outside numpy's range 0..4294967295", (long long)seed);
        return NULL;
    }
    if (!(train_fraction >= 0.0 && train_fraction <= 1.0)) {
        at_set_error("split: train fraction %g is not in [0, 1]", train_fraction);
        return NULL;
    }
    if (check_keep(keep, nrows)) return NULL;
    at_prompt_index ix;
    if (at_prompt_index_build(&ix, prompts, nrows, "split")) return NULL;
    at_split *s = split_alloc(ix.n, nrows);
    int64_t *order = malloc(sizeof *order * (size_t)(ix.n ? ix.n : 1));
    at_mt19937 *mt = malloc(sizeof *mt);
    bool ok = s && order && mt;
    if (ok) {
        at_mt19937_seed(mt, (uint32_t)seed);
        at_numpy_shuffle_indices(mt, ix.n, order);
        s->seed = seed;
        s->train_fraction = train_fraction;
        s->ntrain_prompts = (int64_t)(train_fraction * (double)ix.n);   /* Python's int(0.8 * n) */
        ok = fill(s, &ix, order, nrows, keep) == 0;
    }
    free(order);
    free(mt);
    at_prompt_index_free(&ix);
    if (!ok) {
        at_split_free(s);
        at_set_error("split: out of memory");
        return NULL;
    }
    return s;
}

int at_split_rounds(const char *const *prompts, int64_t nrows, const int64_t *keep, int64_t seed,
                    int k, double train_fraction, at_split **out) {
    if (k < 1) {
        at_set_error("split: %d rounds asked, need at least 1", k);
        return -1;
    }
    if (seed < 0 || seed + k - 1 > NUMPY_SEED_MAX) {
        at_set_error("split: seeds %lld..%lld of %d rounds leave numpy's range 0..4294967295",
                     (long long)seed, (long long)seed + k - 1, k);
        return -1;
    }
    for (int r = 0; r < k; r++) {
        if (!(out[r] = at_split_random(prompts, nrows, keep, seed + r, train_fraction))) {
            for (int i = 0; i < r; i++) {
                at_split_free(out[i]);
                out[i] = NULL;
            }
            return -1;
        }
    }
    return 0;
}

/* The fixed split over test prompts named by `where` (a line number each). */
static at_split *split_fixed_lines(const char *const *prompts, int64_t nrows, const int64_t *keep,
                                   const char *const *test, const int64_t *line, int64_t ntest,
                                   const char *source, const char *unit) {
    if (check_keep(keep, nrows)) return NULL;
    if (ntest == 0) {
        at_set_error("split: %s lists no test prompts", source);
        return NULL;
    }
    at_prompt_index ix;
    if (at_prompt_index_build(&ix, prompts, nrows, "split")) return NULL;
    int64_t *listed_at = malloc(sizeof *listed_at * (size_t)(ix.n ? ix.n : 1));
    int64_t *order = malloc(sizeof *order * (size_t)(ix.n ? ix.n : 1));
    at_split *s = split_alloc(ix.n, nrows);
    if (!listed_at || !order || !s) {
        at_set_error("split: out of memory");
        goto fail;
    }
    for (int64_t u = 0; u < ix.n; u++) listed_at[u] = -1;
    for (int64_t i = 0; i < ntest; i++) {
        char buf[96];
        int64_t u = test[i] ? at_prompt_index_find(&ix, test[i]) : -1;
        if (u < 0) {
            at_set_error("split: %s, %s %lld: '%s' is not a prompt of the data", source, unit,
                         (long long)line[i], test[i] ? shown(test[i], buf, sizeof buf) : "(none)");
            goto fail;
        }
        if (listed_at[u] >= 0) {
            at_set_error("split: %s, %s %lld: '%s' is listed twice (first at %s %lld)", source, unit,
                         (long long)line[i], shown(test[i], buf, sizeof buf), unit,
                         (long long)line[listed_at[u]]);
            goto fail;
        }
        listed_at[u] = i;
    }
    int64_t k = 0;
    for (int64_t u = 0; u < ix.n; u++)
        if (listed_at[u] < 0) order[k++] = u;
    s->ntrain_prompts = k;
    for (int64_t i = 0; i < ntest; i++) order[k++] = at_prompt_index_find(&ix, test[i]);
    s->seed = AT_SPLIT_FIXED_SEED;
    s->train_fraction = ix.n ? (double)s->ntrain_prompts / (double)ix.n : 0.0;
    if (fill(s, &ix, order, nrows, keep)) {
        at_set_error("split: out of memory");
        goto fail;
    }
    free(listed_at);
    free(order);
    at_prompt_index_free(&ix);
    return s;
fail:
    free(listed_at);
    free(order);
    at_split_free(s);
    at_prompt_index_free(&ix);
    return NULL;
}

at_split *at_split_fixed(const char *const *prompts, int64_t nrows, const int64_t *keep,
                         const char *const *test_prompts, int64_t ntest, const char *source) {
    int64_t *line = malloc(sizeof *line * (size_t)(ntest ? ntest : 1));
    if (!line) {
        at_set_error("split: out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < ntest; i++) line[i] = i + 1;
    at_split *s = split_fixed_lines(prompts, nrows, keep, test_prompts, line, ntest,
                                    source ? source : "the list", "test prompt");
    free(line);
    return s;
}

at_split *at_split_fixed_file(const char *const *prompts, int64_t nrows, const int64_t *keep,
                              const char *path) {
    size_t len;
    char *text = at_read_whole(path, &AT_TEXT_FILE, &len, "split: the test prompts file '%s'", path);
    if (!text) return NULL;

    /* Lines, in place: each '\n' (and a '\r' before it) becomes a terminator. */
    size_t nlines = 1;
    for (size_t i = 0; i < len; i++) nlines += text[i] == '\n';
    const char **test = malloc(sizeof *test * nlines);
    int64_t *line = malloc(sizeof *line * nlines);
    int64_t ntest = 0;
    char *p = text;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;
    for (int64_t number = 1; test && line && p <= text + len; number++) {
        char *end = memchr(p, '\n', (size_t)(text + len - p));
        if (!end) end = text + len;
        char *next = end + 1;
        if (end > p && end[-1] == '\r') end--;
        *end = '\0';
        if (*p) {
            test[ntest] = p;
            line[ntest++] = number;
        }
        p = next;
    }
    char source[512];
    snprintf(source, sizeof source, "'%s'", path);
    at_split *s = NULL;
    if (!test || !line) at_set_error("split: out of memory");
    else s = split_fixed_lines(prompts, nrows, keep, test, line, ntest, source, "line");
    free(test);
    free(line);
    free(text);
    return s;
}

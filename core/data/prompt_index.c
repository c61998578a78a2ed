/* Unique prompts and their hash index; see prompt_index.h. */
#include "prompt_index.h"

#include <stdlib.h>
#include <string.h>

#include "../tensor.h"

static uint64_t fnv1a(const char *s) {
    uint64_t h = 0xcbf29ce484222325u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3u;
    return h;
}

/* The slot holding prompt, or the empty slot where it would go. */
static int64_t probe(const at_prompt_index *ix, const char *prompt) {
    int64_t mask = ix->cap - 1, i = (int64_t)(fnv1a(prompt) & (uint64_t)mask);
    while (ix->slots[i] && strcmp(ix->unique[ix->slots[i] - 1], prompt) != 0) i = (i + 1) & mask;
    return i;
}

int at_prompt_index_build(at_prompt_index *ix, const char *const *prompts, int64_t nrows,
                          const char *who) {
    memset(ix, 0, sizeof *ix);
    ix->cap = 16;
    while (ix->cap < 2 * nrows) ix->cap *= 2;   /* at most half full */
    ix->slots = calloc((size_t)ix->cap, sizeof *ix->slots);
    ix->unique = malloc(sizeof *ix->unique * (size_t)(nrows ? nrows : 1));
    ix->of_row = malloc(sizeof *ix->of_row * (size_t)(nrows ? nrows : 1));
    if (!ix->slots || !ix->unique || !ix->of_row) {
        at_prompt_index_free(ix);
        at_set_error("%s: out of memory indexing %lld prompts", who, (long long)nrows);
        return -1;
    }
    for (int64_t r = 0; r < nrows; r++) {
        if (!prompts[r] || !prompts[r][0]) {
            at_set_error("%s: row %lld has an empty prompt", who, (long long)r + 1);
            at_prompt_index_free(ix);
            return -1;
        }
        int64_t slot = probe(ix, prompts[r]);
        if (!ix->slots[slot]) {
            ix->unique[ix->n] = prompts[r];
            ix->slots[slot] = ++ix->n;
        }
        ix->of_row[r] = ix->slots[slot] - 1;
    }
    return 0;
}

int64_t at_prompt_index_find(const at_prompt_index *ix, const char *prompt) {
    return ix->slots[probe(ix, prompt)] - 1;
}

void at_prompt_index_free(at_prompt_index *ix) {
    free(ix->slots);
    free(ix->unique);
    free(ix->of_row);
    memset(ix, 0, sizeof *ix);
}

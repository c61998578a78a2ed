/* Unique prompts in order of first appearance (pandas' Series.unique), with
 * a hash lookup from prompt to its index. Internal to core/data. */
#ifndef AAPMT_TRAIN_PROMPT_INDEX_H
#define AAPMT_TRAIN_PROMPT_INDEX_H

#include <stdint.h>

typedef struct at_prompt_index {
    int64_t n;                 /* unique prompts */
    const char **unique;       /* borrowed from the caller's strings, first-appearance order */
    int64_t *of_row;           /* of_row[r] = index of row r's prompt in unique */
    int64_t cap;               /* hash slots (a power of two) */
    int64_t *slots;            /* unique index + 1, 0 = empty */
} at_prompt_index;

/* Fails (after at_set_error naming who and the 1-based row) on a NULL or
 * empty prompt, or when out of memory. */
int at_prompt_index_build(at_prompt_index *ix, const char *const *prompts, int64_t nrows,
                          const char *who);
/* Index of prompt in unique, or -1. */
int64_t at_prompt_index_find(const at_prompt_index *ix, const char *prompt);
void at_prompt_index_free(at_prompt_index *ix);

#endif

/* Content-isolated train/test splits: no prompt has images on both sides.
 *
 * The paper's split (docs/aapmt.md §1.3), exactly:
 *   prompts = df["prompt"].unique()      # first appearance in CSV order
 *   np.random.seed(seed); np.random.shuffle(prompts)
 *   train = prompts[:int(0.8 * len(prompts))], test = the rest
 *   train_df, test_df = df[df.prompt.isin(train)], df[df.prompt.isin(test)]
 * with numpy's legacy MT19937 (see mt19937.h), so seeds 42, 100 and 200
 * give the paper's held-out prompts. The fraction is configurable; the
 * number of train prompts is (int64_t)(fraction * n), the same IEEE product
 * and truncation as Python's int(0.8 * n).
 *
 * Repeated splits: round r of k is the split with seed + r, so round 0 is the
 * paper's split and every round is what a paper-style run with that seed
 * would use. A fixed split reads the test prompts from a file instead.
 *
 * Rows and "keep": the prompts given are one per CSV row, all of them, so
 * that the unique-prompt order (and hence the shuffle) is the paper's even
 * when some rows are left out of the data (their image is missing). keep is
 * NULL (every row is used; output row = CSV row) or gives for each CSV row
 * its 0-based row in the caller's data, -1 for a row left out; kept rows must
 * be numbered increasingly. train and test then list the caller's rows, in
 * CSV order. A prompt whose rows were all left out still takes its place in
 * the shuffle and in prompts[], with no rows.
 *
 * Errors (NULL after at_set_error): a NULL or empty prompt, a seed outside
 * numpy's 0..2^32-1, a fraction outside [0, 1], an unknown or repeated
 * prompt in a fixed split (named with its line). */
#ifndef AAPMT_TRAIN_SPLIT_H
#define AAPMT_TRAIN_SPLIT_H

#include <stdint.h>

#define AT_SPLIT_PAPER_FRACTION 0.8
#define AT_SPLIT_FIXED_SEED (-1)

typedef struct at_split {
    int64_t seed;              /* numpy seed, or AT_SPLIT_FIXED_SEED */
    double train_fraction;     /* as asked; for a fixed split the share of train prompts */
    int64_t nprompts;          /* unique prompts */
    int64_t ntrain_prompts;    /* prompts[0 .. ntrain_prompts-1] are train, the rest test */
    char **prompts;            /* random split: numpy's shuffled order; fixed split: train
                                  prompts in first-appearance order, then the file's order */
    int64_t ntrain, ntest;     /* rows */
    int64_t *train, *test;     /* 0-based rows (see keep above), ascending */
} at_split;

/* The paper's split with a given numpy seed and train fraction (0.8). */
at_split *at_split_random(const char *const *prompts, int64_t nrows, const int64_t *keep,
                          int64_t seed, double train_fraction);
/* k rounds: out[r] = at_split_random(..., seed + r, ...). Returns 0, or -1
 * (nothing left allocated in out) when any round fails or seed + k - 1
 * leaves numpy's seed range. */
int at_split_rounds(const char *const *prompts, int64_t nrows, const int64_t *keep, int64_t seed,
                    int k, double train_fraction, at_split **out);
/* A fixed split: the test prompts are the lines of a text file (UTF-8, an
 * optional BOM, \n or \r\n line ends, blank lines ignored; each line is a
 * whole prompt, spaces included; at most 2 GiB, AAPMT_MAX_TEXT_BYTES, and no
 * NUL byte: io/read_whole.h); every other prompt is train. */
at_split *at_split_fixed_file(const char *const *prompts, int64_t nrows, const int64_t *keep,
                              const char *path);
/* The same from a list; source names the list in messages ("test prompt 3
 * of <source>"). */
at_split *at_split_fixed(const char *const *prompts, int64_t nrows, const int64_t *keep,
                         const char *const *test_prompts, int64_t ntest, const char *source);
void at_split_free(at_split *s);   /* NULL is fine */

/* The test prompts: s->prompts + s->ntrain_prompts, s->nprompts - s->ntrain_prompts of them. */
static inline char *const *at_split_test_prompts(const at_split *s) { return s->prompts + s->ntrain_prompts; }
static inline int64_t at_split_ntest_prompts(const at_split *s) { return s->nprompts - s->ntrain_prompts; }

#endif

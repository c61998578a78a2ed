/* Fuzzing the tokenizer (core/io/tokenizer*.c) with the committed test
 * vocabulary (tests/fixtures/tokenizer/vocab.txt, 341 words + [DEC] [ENC]).
 * The first byte picks max_len (2..65, so truncation and padding both
 * happen); the rest is the prompt, arbitrary bytes: invalid UTF-8 must be an
 * error, anything else exactly max_len ids in range with a 1...1 0...0 mask. */
#include "fuzz_common.h"
#include "io/tokenizer.h"

static at_tokenizer *tok;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    tok = at_tokenizer_load(AAPMT_FUZZ_ROOT "/tests/fixtures/tokenizer/vocab.txt");
    if (!tok) {
        fprintf(stderr, "fuzz: %s\n", at_last_error());
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    int max_len = 2 + data[0] % 64;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    int64_t ids[65], mask[65];
    int n = at_tokenize_n(tok, text, len, max_len, ids, mask);
    if (n >= 0) {
        if (n < 2 || n > max_len) abort();
        for (int i = 0; i < max_len; i++)
            if (ids[i] < 0 || ids[i] >= at_tokenizer_size(tok) || mask[i] != (i < n)) abort();
    }
    int64_t *pieces = NULL;
    int64_t np = at_tokenize_pieces(tok, text, len, &pieces);
    if ((np >= 0) != (n >= 0)) {
        fprintf(stderr, "fuzz: at_tokenize_n and at_tokenize_pieces disagree on validity\n");
        abort();
    }
    for (int64_t i = 0; i < np; i++)
        if (pieces[i] < 0 || pieces[i] >= at_tokenizer_size(tok)) abort();
    if (n >= 0 && n != (np < max_len - 2 ? np : max_len - 2) + 2) {
        fprintf(stderr, "fuzz: %lld pieces but %d tokens at max_len %d\n", (long long)np, n, max_len);
        abort();
    }
    free(pieces);
    return 0;
}

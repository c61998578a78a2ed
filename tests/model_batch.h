/* A batch for the full-size model checks (tests/test_cuda.c) and the CUDA
 * benchmark (tests/bench/cuda/bench_cuda.c), on the CPU: pixels drawn from
 * N(0, 1) and prompts of 35 tokens of which 20 are real ([CLS], 18 ids
 * spread over the vocabulary above 1000, [SEP]), as ImageReward's tokenizer
 * pads them. 0, or -1 with the error set (the outputs then NULL). */
#ifndef AAPMT_TESTS_MODEL_BATCH_H
#define AAPMT_TESTS_MODEL_BATCH_H

#include "model/config.h"
#include "rng.h"
#include "tensor.h"

#define MODEL_BATCH_TOKENS 35
#define MODEL_BATCH_REAL_TOKENS 20

static inline int model_batch(const ir_config *cfg, int64_t B, at_tensor **pixels, at_tensor **ids,
                              at_tensor **mask) {
    at_rng rng = at_rng_new(7);
    int64_t S = cfg->vision.image_size, ps[4] = {B, 3, S, S}, ts[2] = {B, MODEL_BATCH_TOKENS};
    *pixels = at_randn(&rng, AT_F32, 4, ps);
    *ids = at_zeros(AT_I64, 2, ts);
    *mask = at_zeros(AT_I64, 2, ts);
    if (!*pixels || !*ids || !*mask) {
        at_release(*pixels), at_release(*ids), at_release(*mask);
        *pixels = *ids = *mask = NULL;
        return -1;
    }
    int64_t *id = at_data(*ids), *mk = at_data(*mask), V = cfg->text.vocab_size;
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < MODEL_BATCH_REAL_TOKENS; j++) {
            int64_t *t = &id[b * MODEL_BATCH_TOKENS + j];
            *t = j == 0 ? 101 : j == MODEL_BATCH_REAL_TOKENS - 1 ? 102 : 1000 + (b * 37 + j * 101) % (V - 1000);
            mk[b * MODEL_BATCH_TOKENS + j] = 1;
        }
    return 0;
}

#endif

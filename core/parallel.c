#include "parallel.h"

#include <cblas.h>
#include <omp.h>
#include <strings.h>

void at_set_num_threads(int n) {
    if (n < 1) n = 1;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int at_get_num_threads(void) { return omp_get_max_threads(); }

const char *at_blas_coretype(void) { return openblas_get_corename(); }

const char *at_blas_pick_coretype(const char *corename, bool avx512, bool avx2_fma) {
    if (strcasecmp(corename, "prescott") != 0) return NULL;
    if (avx512) return "SkylakeX";
    return avx2_fma ? "Haswell" : NULL;
}

const char *at_blas_better_coretype(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    bool avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return at_blas_pick_coretype(openblas_get_corename(), avx512, avx2_fma);
#else
    return NULL;
#endif
}

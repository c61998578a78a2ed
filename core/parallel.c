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

const char *at_blas_better_coretype(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (strcasecmp(openblas_get_corename(), "prescott") != 0) return NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return NULL;
}

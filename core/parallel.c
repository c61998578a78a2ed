#include "parallel.h"

#include <cblas.h>
#include <omp.h>

void at_set_num_threads(int n) {
    if (n < 1) n = 1;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int at_get_num_threads(void) { return omp_get_max_threads(); }

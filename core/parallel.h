/* Threading policy: OpenMP for our own loops, OpenBLAS threads for GEMM.
 * Our loops split work by index only, and every reduction sums fixed-size
 * blocks in a fixed order, so their results do not depend on the thread
 * count. OpenBLAS GEMM kernels do depend on it (they split the k dimension
 * differently), so results built on GEMM are bit-identical only for a fixed
 * thread count: always the same for the same seed and threads. */
#ifndef AAPMT_PARALLEL_H
#define AAPMT_PARALLEL_H

#include <stdbool.h>

/* Below this many elements a loop runs on one thread: waking the pool costs
 * more than it saves. */
#define AT_PARALLEL_MIN 32768

void at_set_num_threads(int n);   /* OpenMP and OpenBLAS together */
int at_get_num_threads(void);

/* OpenBLAS 0.3.21 does not recognise recent Intel CPUs (Sapphire and Emerald
 * Rapids) and falls back to its slowest kernels ("Prescott"), 4-7x slower at
 * GEMM. When that happened and the CPU has AVX-512 (or AVX2), returns the
 * kernel set to ask for through OPENBLAS_CORETYPE ("SkylakeX" or "Haswell");
 * otherwise NULL: OpenBLAS's own choice stands (on a Zen 5 EPYC it picks
 * its AVX-512 kernels, "Cooperlake", by itself). The variable is read when
 * OpenBLAS loads, so a program must set it and re-execute itself. */
const char *at_blas_better_coretype(void);
/* The decision alone: the kernels OpenBLAS picked and what the CPU has. */
const char *at_blas_pick_coretype(const char *corename, bool avx512, bool avx2_fma);
const char *at_blas_coretype(void);   /* the kernels OpenBLAS is using */

#endif

/* Threading policy: OpenMP for our own loops, OpenBLAS threads for GEMM.
 * Our loops split work by index only, and every reduction sums fixed-size
 * blocks in a fixed order, so their results do not depend on the thread
 * count. OpenBLAS GEMM kernels do depend on it (they split the k dimension
 * differently), so results built on GEMM are bit-identical only for a fixed
 * thread count: always the same for the same seed and threads. */
#ifndef AAPMT_PARALLEL_H
#define AAPMT_PARALLEL_H

/* Below this many elements a loop runs on one thread: waking the pool costs
 * more than it saves. */
#define AT_PARALLEL_MIN 32768

void at_set_num_threads(int n);   /* OpenMP and OpenBLAS together */
int at_get_num_threads(void);

#endif

/* The two OpenMP calls core/ makes, for the fuzz build only: clang compiles
 * without -fopenmp there (pragmas ignored, one thread, crashes replay the
 * same way), and libgomp, which OpenBLAS already links, provides them. gcc's
 * own omp.h uses attributes clang rejects, and libomp's needs libomp-dev. */
#ifndef AAPMT_FUZZ_OMP_H
#define AAPMT_FUZZ_OMP_H
void omp_set_num_threads(int n);
int omp_get_max_threads(void);
#endif

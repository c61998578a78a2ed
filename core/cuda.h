/* What the CUDA backend can see. Built only when nvcc was found (the
 * AAPMT_HAVE_CUDA define); otherwise these report that CUDA is not built. */
#ifndef AAPMT_CUDA_H
#define AAPMT_CUDA_H

#ifdef AAPMT_HAVE_CUDA
/* Number of usable GPUs; 0 when no driver or device is present. */
int at_cuda_device_count(void);
/* One line: the runtime version and devices, or why none can be used. */
const char *at_cuda_describe(void);
#else
static inline int at_cuda_device_count(void) { return 0; }
static inline const char *at_cuda_describe(void) { return "CUDA backend not built (configure with nvcc and -DAAPMT_CUDA=ON)"; }
#endif

#endif

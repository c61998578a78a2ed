/* Checked CUDA and cuBLAS calls: on failure the error names the call, the
 * file and the line, and the enclosing function returns its failure value. */
#ifndef AAPMT_CUDA_CHECK_H
#define AAPMT_CUDA_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime.h>

extern "C" {
#include "../tensor.h"
}

const char *at_cublas_status_name(cublasStatus_t s);

#define AT_CUDA_TRY(call, fail_value)                                                              \
    do {                                                                                           \
        cudaError_t at_err_ = (call);                                                              \
        if (at_err_ != cudaSuccess) {                                                              \
            (void)cudaGetLastError(); /* consume it, or the next launch check reports it again */  \
            at_set_error("CUDA error %s (%s) in %s at %s:%d", cudaGetErrorName(at_err_),            \
                         cudaGetErrorString(at_err_), #call, __FILE__, __LINE__);                  \
            return fail_value;                                                                     \
        }                                                                                          \
    } while (0)

#define AT_CUBLAS_TRY(call, fail_value)                                                            \
    do {                                                                                           \
        cublasStatus_t at_st_ = (call);                                                            \
        if (at_st_ != CUBLAS_STATUS_SUCCESS) {                                                     \
            at_set_error("cuBLAS error %s in %s at %s:%d", at_cublas_status_name(at_st_), #call,   \
                         __FILE__, __LINE__);                                                      \
            return fail_value;                                                                     \
        }                                                                                          \
    } while (0)

/* A kernel launch: checks the launch itself (bad configuration); errors
 * while it runs surface at the next synchronising call. */
#define AT_CUDA_LAUNCHED(fail_value) AT_CUDA_TRY(cudaGetLastError(), fail_value)

#endif

// The CUDA runtime state: the device, one stream, the cuBLAS handle, the
// caching allocator and pinned staging buffers for host copies.
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "runtime.h"

extern "C" {
#include "kernels.h"
}

namespace {

struct runtime {
    bool ready;
    cudaStream_t stream;
    cublasHandle_t blas;
    at_cache_alloc *cache;
    // Two pinned buffers, so filling one overlaps the copy out of the other.
    void *staging[2];
    cudaEvent_t staging_free[2];
};

runtime rt;
pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
const size_t STAGING_BYTES = (size_t)8 << 20;

void *raw_alloc(size_t n, void *) {
    void *p = NULL;
    if (cudaMalloc(&p, n) != cudaSuccess) {
        cudaGetLastError(); // out of memory is not sticky; clear it for the retry
        return NULL;
    }
    return p;
}

void raw_free(void *p, void *) { cudaFree(p); }

// Undoes a partial start, so a failed start holds nothing and can be retried.
void teardown() {
    for (int i = 0; i < 2; i++) {
        if (rt.staging_free[i]) cudaEventDestroy(rt.staging_free[i]);
        if (rt.staging[i]) cudaFreeHost(rt.staging[i]);
        rt.staging_free[i] = NULL, rt.staging[i] = NULL;
    }
    if (rt.blas) cublasDestroy(rt.blas);
    if (rt.stream) cudaStreamDestroy(rt.stream);
    rt.blas = NULL, rt.stream = NULL;
    cudaGetLastError();
}

int start() {
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess || n == 0) {
        cudaGetLastError();
        at_set_error("cuda: no usable GPU (%s)", err != cudaSuccess ? cudaGetErrorString(err) : "no device found");
        return -1;
    }
    AT_CUDA_TRY(cudaSetDevice(0), -1);
    AT_CUDA_TRY(cudaStreamCreateWithFlags(&rt.stream, cudaStreamNonBlocking), -1);
    AT_CUBLAS_TRY(cublasCreate(&rt.blas), -1);
    AT_CUBLAS_TRY(cublasSetStream(rt.blas, rt.stream), -1);
    for (int i = 0; i < 2; i++) {
        AT_CUDA_TRY(cudaMallocHost(&rt.staging[i], STAGING_BYTES), -1);
        AT_CUDA_TRY(cudaEventCreateWithFlags(&rt.staging_free[i], cudaEventDisableTiming), -1);
    }
    rt.cache = at_cache_alloc_new(at_raw_allocator{raw_alloc, raw_free, NULL});
    return rt.cache ? 0 : -1;
}

int init_locked() {
    if (start()) {
        teardown();
        return -1;
    }
    __atomic_store_n(&rt.ready, true, __ATOMIC_RELEASE); // after everything it publishes
    return 0;
}

void release_block(at_storage *s) { at_cache_alloc_put(rt.cache, (at_cache_block *)s->owner); }

} // namespace

const char *at_cublas_status_name(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "CUBLAS_STATUS_UNKNOWN";
    }
}

int at_cuda_ready(void) {
    if (__atomic_load_n(&rt.ready, __ATOMIC_ACQUIRE)) return 0;
    pthread_mutex_lock(&init_lock);
    int rc = rt.ready ? 0 : init_locked();
    pthread_mutex_unlock(&init_lock);
    return rc;
}

cudaStream_t at_cuda_stream(void) { return rt.stream; }
cublasHandle_t at_cuda_blas(void) { return rt.blas; }


extern "C" {

int at_cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); // clear the sticky error so later calls start clean
        return 0;
    }
    return n;
}

const char *at_cuda_describe(void) {
    static char line[256];
    int runtime_version = 0, n = 0;
    cudaRuntimeGetVersion(&runtime_version);
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
        snprintf(line, sizeof line, "CUDA runtime %d.%d built in; no usable GPU (%s)", runtime_version / 1000,
                 runtime_version % 1000 / 10, cudaGetErrorString(err));
        cudaGetLastError();
        return line;
    }
    cudaDeviceProp prop;
    char name[96] = "unknown";
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) snprintf(name, sizeof name, "%.95s", prop.name);
    snprintf(line, sizeof line, "CUDA runtime %d.%d built in; %d GPU(s), first: %s", runtime_version / 1000,
             runtime_version % 1000 / 10, n, name);
    return line;
}

at_storage *at_cuda_storage_new(size_t nbytes) {
    if (at_cuda_ready()) return NULL;
    at_cache_block *b = at_cache_alloc_get(rt.cache, nbytes);
    if (!b) return NULL;
    at_storage *s = at_storage_borrow(b->ptr, nbytes, release_block, b);
    if (!s) {
        at_cache_alloc_put(rt.cache, b);
        return NULL;
    }
    s->device = AT_CUDA;
    return s;
}

int at_cuda_memcpy(void *dst, at_device dst_device, const void *src, at_device src_device, size_t nbytes) {
    if (nbytes == 0) return 0;
    if (dst_device == AT_CPU && src_device == AT_CPU) {
        memcpy(dst, src, nbytes);
        return 0;
    }
    if (at_cuda_ready()) return -1;
    if (dst_device == AT_CUDA && src_device == AT_CUDA) {
        AT_CUDA_TRY(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToDevice, rt.stream), -1);
        return 0;
    }
    // Host memory moves through the pinned buffers in chunks: pageable memory
    // would make the driver stage it anyway, one slow synchronous copy at a time.
    static pthread_mutex_t staging_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&staging_lock);
    int rc = 0;
    for (size_t done = 0, i = 0; done < nbytes && rc == 0; done += STAGING_BYTES, i ^= 1) {
        size_t n = nbytes - done < STAGING_BYTES ? nbytes - done : STAGING_BYTES;
        cudaError_t err;
        if (dst_device == AT_CUDA) {
            err = cudaEventSynchronize(rt.staging_free[i]);
            if (err == cudaSuccess) {
                memcpy(rt.staging[i], (const char *)src + done, n);
                err = cudaMemcpyAsync((char *)dst + done, rt.staging[i], n, cudaMemcpyHostToDevice, rt.stream);
            }
            if (err == cudaSuccess) err = cudaEventRecord(rt.staging_free[i], rt.stream);
        } else {
            err = cudaMemcpyAsync(rt.staging[i], (const char *)src + done, n, cudaMemcpyDeviceToHost, rt.stream);
            if (err == cudaSuccess) err = cudaStreamSynchronize(rt.stream);
            if (err == cudaSuccess) memcpy((char *)dst + done, rt.staging[i], n);
        }
        if (err != cudaSuccess) {
            cudaGetLastError(); // consumed, so the next launch check does not report it again
            at_set_error("cuda: copying %zu bytes %s: %s", nbytes, dst_device == AT_CUDA ? "to the GPU" : "from the GPU",
                         cudaGetErrorString(err));
            rc = -1;
        }
    }
    pthread_mutex_unlock(&staging_lock);
    return rc;
}

int at_cuda_synchronize(void) {
    if (at_cuda_ready()) return -1;
    AT_CUDA_TRY(cudaStreamSynchronize(rt.stream), -1);
    return 0;
}

at_cache_stats at_cuda_memory_stats(void) {
    at_cache_stats none;
    memset(&none, 0, sizeof none);
    return rt.ready ? at_cache_alloc_stats(rt.cache) : none;
}

size_t at_cuda_empty_cache(void) {
    if (!rt.ready || cudaStreamSynchronize(rt.stream) != cudaSuccess) return 0;
    return at_cache_alloc_release(rt.cache);
}


} // extern "C"

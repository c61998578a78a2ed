// Device discovery for the CUDA backend.
#include <cuda_runtime.h>
#include <stdio.h>

extern "C" {
#include "../cuda.h"
}

extern "C" int at_cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); // clear the sticky error so later calls start clean
        return 0;
    }
    return n;
}

extern "C" const char *at_cuda_describe(void) {
    static char line[256];
    int runtime = 0, n = 0;
    cudaRuntimeGetVersion(&runtime);
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
        snprintf(line, sizeof line, "CUDA runtime %d.%d built in; no usable GPU (%s)", runtime / 1000,
                 runtime % 1000 / 10, cudaGetErrorString(err));
        cudaGetLastError();
        return line;
    }
    cudaDeviceProp prop;
    char name[96] = "unknown";
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) snprintf(name, sizeof name, "%.95s", prop.name);
    snprintf(line, sizeof line, "CUDA runtime %d.%d built in; %d GPU(s), first: %s", runtime / 1000,
             runtime % 1000 / 10, n, name);
    return line;
}

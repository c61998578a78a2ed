// Block-wide reductions in a fixed tree order (deterministic). Every thread
// of the block must call them; all get the result.
#ifndef AAPMT_CUDA_BLOCK_H
#define AAPMT_CUDA_BLOCK_H

#define AT_BLOCK 128

__device__ static inline double at_block_reduce(double v, bool take_max) {
    __shared__ double part[AT_BLOCK];
    part[threadIdx.x] = v;
    __syncthreads();
    for (int w = AT_BLOCK / 2; w > 0; w /= 2) {
        if ((int)threadIdx.x < w) {
            double o = part[threadIdx.x + w];
            part[threadIdx.x] = take_max ? fmax(part[threadIdx.x], o) : part[threadIdx.x] + o;
        }
        __syncthreads();
    }
    double r = part[0];
    __syncthreads(); // part is reused by the next call
    return r;
}

__device__ static inline double at_block_sum(double v) { return at_block_reduce(v, false); }
__device__ static inline double at_block_max(double v) { return at_block_reduce(v, true); }

#endif

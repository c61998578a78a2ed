/* Philox4x32-10 and the uniform draw built on it, as inline code that both
 * the C library (rng.c) and the CUDA kernels (core/cuda/) compile, so dropout
 * masks on the GPU are bit-identical to those on the CPU. */
#ifndef AAPMT_PHILOX_H
#define AAPMT_PHILOX_H

#include <stdint.h>

#ifdef __CUDACC__
#define AT_HOST_DEVICE __host__ __device__
#else
#define AT_HOST_DEVICE
#endif

#define AT_PHILOX_M0 0xD2511F53u
#define AT_PHILOX_M1 0xCD9E8D57u
#define AT_PHILOX_W0 0x9E3779B9u
#define AT_PHILOX_W1 0xBB67AE85u

/* The key is the 64-bit seed, the counter is (index, 0). */
AT_HOST_DEVICE static inline void at_philox_block(uint64_t seed, uint64_t counter, uint32_t out[4]) {
    uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)AT_PHILOX_M0 * c0, p1 = (uint64_t)AT_PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
        k0 += AT_PHILOX_W0;
        k1 += AT_PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* 53 random bits as a double in [0, 1). */
AT_HOST_DEVICE static inline double at_philox_unit53(uint32_t hi, uint32_t lo) {
    return (double)(((uint64_t)hi << 21) ^ (lo >> 11)) * (1.0 / 9007199254740992.0);
}

AT_HOST_DEVICE static inline double at_philox_uniform(uint64_t seed, uint64_t index) {
    uint32_t r[4];
    at_philox_block(seed, index, r);
    return at_philox_unit53(r[0], r[1]);
}

#endif

/* Which OpenBLAS kernels the aapmt program asks for (core/parallel.h): the
 * decision for each kernel set OpenBLAS may pick and each CPU, and, given the
 * program's path, that the program really runs with the kernels its CPU
 * should get (it restarts itself with OPENBLAS_CORETYPE set). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check.h"
#include "parallel.h"

static void expect(const char *corename, bool avx512, bool avx2_fma, const char *want) {
    const char *got = at_blas_pick_coretype(corename, avx512, avx2_fma);
    bool same = want ? got && strcmp(got, want) == 0 : got == NULL;
    CHECK(same, "OpenBLAS picked %s, avx512 %d, avx2+fma %d: asked for %s, want %s", corename, avx512, avx2_fma,
          got ? got : "nothing", want ? want : "nothing");
}

/* The kernels `aapmt --version` names, run with OPENBLAS_CORETYPE unset. */
static void program_kernels(const char *exe, char *out, size_t size) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "env -u OPENBLAS_CORETYPE '%s' --version", exe);
    FILE *p = popen(cmd, "r");
    out[0] = 0;
    char line[512];
    while (p && fgets(line, sizeof line, p))
        if (strncmp(line, "OpenBLAS kernels: ", 18) == 0) snprintf(out, size, "%.100s", line + 18);
    if (p) pclose(p);
    out[strcspn(out, "\n")] = 0;
}

int main(int argc, char **argv) {
    /* Unknown Intel CPU: the Prescott fallback is replaced by what the CPU can run. */
    expect("Prescott", true, true, "SkylakeX");
    expect("Prescott", false, true, "Haswell");
    expect("Prescott", false, false, NULL);
    /* Zen 4/5: AVX2 kernels on an AVX-512 CPU. */
    expect("Haswell", true, true, "SkylakeX");
    expect("Zen", true, true, "SkylakeX");
    /* OpenBLAS's choice stands where it already fits the CPU. */
    expect("Haswell", false, true, NULL);
    expect("Zen", false, true, NULL);
    expect("SkylakeX", true, true, NULL);
    expect("Cooperlake", true, true, NULL);

    if (argc > 1) {
        __builtin_cpu_init();
        bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
        char kernels[128];
        program_kernels(argv[1], kernels, sizeof kernels);
        const char *own = at_blas_coretype();   /* OpenBLAS's choice in this process, no restart */
        printf("this CPU: avx512 %d; OpenBLAS alone picks %s; the program runs %s\n", avx512, own, kernels);
        CHECK(kernels[0], "'%s --version' names no OpenBLAS kernels", argv[1]);
        const char *better = at_blas_better_coretype();
        const char *want = better ? better : own;
        /* Asked for SkylakeX, OpenBLAS runs Cooperlake on a CPU with AVX-512 BF16:
         * the same SGEMM kernels. */
        bool avx512_kernels = strcasecmp(kernels, "SkylakeX") == 0 || strcasecmp(kernels, "Cooperlake") == 0;
        bool same = strcasecmp(kernels, want) == 0 || (strcmp(want, "SkylakeX") == 0 && avx512_kernels);
        CHECK(same, "the program runs %s, want %s", kernels, want);
    }
    return check_summary();
}

/* Which OpenBLAS kernels the aapmt program asks for (core/parallel.h): the
 * decision for each kernel set OpenBLAS may pick and each CPU, and, given the
 * program's path, that the program never runs the Prescott fallback on an
 * AVX2 CPU and that a user's own OPENBLAS_CORETYPE wins. */
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

/* The kernels `aapmt --version` names, run with OPENBLAS_CORETYPE set to
 * coretype, or unset when coretype is NULL. */
static void program_kernels(const char *exe, const char *coretype, char *out, size_t size) {
    char cmd[4096];
    if (coretype)
        snprintf(cmd, sizeof cmd, "OPENBLAS_CORETYPE=%s '%s' --version", coretype, exe);
    else
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
    /* An unknown CPU: the Prescott fallback is replaced by what the CPU can run. */
    expect("Prescott", true, true, "SkylakeX");
    expect("Prescott", false, true, "Haswell");
    expect("Prescott", false, false, NULL);
    /* OpenBLAS's choice stands wherever it recognised the CPU. */
    expect("Haswell", true, true, NULL);
    expect("Zen", true, true, NULL);
    expect("Haswell", false, true, NULL);
    expect("Zen", false, true, NULL);
    expect("SkylakeX", true, true, NULL);
    expect("Cooperlake", true, true, NULL);

    if (argc > 1) {
        __builtin_cpu_init();
        bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        char alone[128], asked[128];
        program_kernels(argv[1], NULL, alone, sizeof alone);
        program_kernels(argv[1], "Haswell", asked, sizeof asked);
        printf("the program runs %s by itself, %s when asked for Haswell\n", alone, asked);
        CHECK(alone[0], "'%s --version' names no OpenBLAS kernels", argv[1]);
        /* Never the slowest kernels on a CPU that has AVX2. */
        CHECK(!avx2 || strcasecmp(alone, "Prescott") != 0, "the program runs Prescott on an AVX2 CPU");
        /* A user's own OPENBLAS_CORETYPE wins. */
        if (avx2) CHECK(strcasecmp(asked, "Haswell") == 0, "asked for Haswell, the program runs %s", asked);
    }
    return check_summary();
}

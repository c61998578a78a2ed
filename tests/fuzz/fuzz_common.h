/* Shared by the fuzz harnesses (tests/fuzz/fuzz_*.c): ways to hand the
 * fuzzer's bytes to entry points that want a file or a mapped file.
 *
 * Every harness checks one promise: bad input gives an error, never a crash,
 * a leak, an overread or undefined behaviour. The sanitizers do the checking;
 * a harness only calls the reader and frees what it returns. */
#ifndef AAPMT_FUZZ_COMMON_H
#define AAPMT_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tensor.h"
#include "io/mapped_file.h"

/* The bytes as a file the readers can open by path, without touching the
 * disk: a memfd, named through /proc/self/fd. Returns the fd (close it when
 * done) and writes the path into path[64]; aborts when memfd is missing,
 * since a harness that silently tests nothing is worse than none. */
static inline int fuzz_memfd(const uint8_t *data, size_t size, char path[64]) {
    int fd = memfd_create("fuzz-input", MFD_CLOEXEC);
    if (fd < 0) {
        perror("fuzz: memfd_create");
        abort();
    }
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0) {
            perror("fuzz: write");
            abort();
        }
        done += (size_t)n;
    }
    snprintf(path, 64, "/proc/self/fd/%d", fd);
    return fd;
}

/* A mapped file whose bytes are a heap copy of exactly size bytes, so that
 * AddressSanitizer sees a read one byte past the end (an mmap would hide it
 * in the page's slack). The count starts at 2, the fuzzer's reference plus
 * one that keeps the library from ever munmapping the heap buffer; when the
 * harness is done, every tensor must have given its reference back. */
static inline at_mapped_file *fuzz_mapped(const uint8_t *data, size_t size) {
    at_mapped_file *m = calloc(1, sizeof *m);
    m->data = malloc(size ? size : 1);
    if (size) memcpy(m->data, data, size);
    m->size = size;
    m->path = strdup("fuzz-input");
    m->refcount = 2;
    return m;
}

static inline void fuzz_mapped_free(at_mapped_file *m) {
    if (m->refcount != 2) {
        fprintf(stderr, "fuzz: %d references to the mapped input were not given back\n", m->refcount - 2);
        abort();
    }
    free(m->data);
    free(m->path);
    free(m);
}

#endif

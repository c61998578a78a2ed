/* Mapping checkpoint files: see mapped_file.h. */
#define _GNU_SOURCE
#include "mapped_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

at_mapped_file *at_mapped_file_open(const char *op, const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        at_set_error("%s: %s: %s", op, path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        at_set_error("%s: %s: %s", op, path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        at_set_error("%s: %s: not a regular file", op, path);
        close(fd);
        return NULL;
    }
    if (st.st_size == 0) {
        at_set_error("%s: %s: the file is empty", op, path);
        close(fd);
        return NULL;
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        at_set_error("%s: %s: too large to map (%lld bytes)", op, path, (long long)st.st_size);
        close(fd);
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    /* Private and writable: copy-on-write pages for in-place updates. */
    void *data = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (data == MAP_FAILED) {
        at_set_error("%s: %s: mmap of %zu bytes failed: %s", op, path, size, strerror(map_errno));
        return NULL;
    }
    at_mapped_file *m = calloc(1, sizeof *m);
    char *name = strdup(path);
    if (!m || !name) {
        free(m);
        free(name);
        munmap(data, size);
        at_set_error("%s: %s: out of memory", op, path);
        return NULL;
    }
    m->refcount = 1;
    m->data = data;
    m->size = size;
    m->path = name;
    return m;
}

void at_mapped_file_retain(at_mapped_file *m) { __atomic_add_fetch(&m->refcount, 1, __ATOMIC_RELAXED); }

void at_mapped_file_release(at_mapped_file *m) {
    if (!m || __atomic_sub_fetch(&m->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
    munmap(m->data, m->size);
    free(m->path);
    free(m);
}

static void release_borrowed(at_storage *s) { at_mapped_file_release(s->owner); }

at_storage *at_mapped_file_storage(at_mapped_file *m, uint64_t offset, uint64_t nbytes,
                                   size_t elem_size, bool swap_bytes) {
    unsigned char *src = m->data + offset;
    if (!swap_bytes && (uintptr_t)src % elem_size == 0) {
        at_storage *s = at_storage_borrow(src, (size_t)nbytes, release_borrowed, m);
        if (s) at_mapped_file_retain(m);
        return s;
    }
    at_storage *s = at_storage_new_uninit((size_t)nbytes);
    if (!s) return NULL;
    unsigned char *dst = s->data;
    if (!swap_bytes) {
        memcpy(dst, src, (size_t)nbytes);
    } else {
        for (size_t i = 0; i + elem_size <= nbytes; i += elem_size)
            for (size_t b = 0; b < elem_size; b++) dst[i + b] = src[i + elem_size - 1 - b];
    }
    return s;
}

bool at_utf8_valid(const unsigned char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int extra;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) extra = 1, cp = c & 0x1F, min = 0x80;
        else if ((c & 0xF0) == 0xE0) extra = 2, cp = c & 0x0F, min = 0x800;
        else if ((c & 0xF8) == 0xF0) extra = 3, cp = c & 0x07, min = 0x10000;
        else return false;
        if (len - i <= (size_t)extra) return false;
        for (int k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += (size_t)extra + 1;
    }
    return true;
}

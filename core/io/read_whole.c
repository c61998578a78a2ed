/* Reading a whole file with a cap: see read_whole.h. */
#include "read_whole.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../error.h"

const at_file_kind AT_TEXT_FILE = {"AAPMT_MAX_TEXT_BYTES", (uint64_t)2 << 30, true};
const at_file_kind AT_IMAGE_FILE = {"AAPMT_MAX_IMAGE_BYTES", (uint64_t)1 << 30, false};

/* Small enough that a bad byte near the start stops the read early, large
 * enough that the calls cost nothing next to the copying. */
enum { CHUNK = 1 << 20 };

/* The limit in force for kind; -1 after an error naming the variable when it
 * is malformed (a silent default would hide the typo). */
static int file_limit(const at_file_kind *kind, const char *who, uint64_t *limit) {
    *limit = kind->default_limit;
    const char *v = kind->limit_env ? getenv(kind->limit_env) : NULL;
    if (!v) return 0;
    const char *p = v;
    uint64_t n = 0;
    bool overflow = false;
    for (; *p >= '0' && *p <= '9'; p++)
        overflow |= __builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, (uint64_t)(*p - '0'), &n);
    int shift = 0;
    if (p > v && *p) {
        const char *units = "KMG", *u = strchr(units, *p);
        if (u) shift = 10 * (int)(u - units + 1), p++;
    }
    overflow |= shift && n > UINT64_MAX >> shift;
    if (p == v || *p || n == 0 || overflow) {
        at_set_error("%s: %s='%s' is not a byte count (a whole number above 0, optionally ending in K, M or G)",
                     who, kind->limit_env, v);
        return -1;
    }
    /* Beyond 2^62 bytes a limit is as good as none; capping it keeps the
     * buffer arithmetic (limit + 2) from wrapping. */
    *limit = n << shift < (uint64_t)1 << 62 ? n << shift : (uint64_t)1 << 62;
    return 0;
}

/* The physical line of offset: \n, \r\n and \r each end one. */
static long long line_of(const char *text, size_t offset) {
    long long line = 1;
    for (size_t i = 0; i < offset; i++)
        line += text[i] == '\n' || (text[i] == '\r' && (i + 1 == offset || text[i + 1] != '\n'));
    return line;
}

static void limit_error(const char *who, const at_file_kind *kind, uint64_t limit, const char *what) {
    char raise[128] = "";
    if (kind->limit_env) snprintf(raise, sizeof raise, " (%s sets it)", kind->limit_env);
    at_set_error("%s: %s the limit of %llu bytes%s", who, what, (unsigned long long)limit, raise);
}

char *at_read_whole(const char *path, const at_file_kind *kind, size_t *len, const char *who_format, ...) {
    char who[1024];
    va_list ap;
    va_start(ap, who_format);
    vsnprintf(who, sizeof who, who_format, ap);
    va_end(ap);
    *len = 0;
    uint64_t limit;
    if (file_limit(kind, who, &limit)) return NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        at_set_error("%s: cannot open: %s", who, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        at_set_error("%s: cannot read: %s", who, strerror(errno));
        close(fd);
        return NULL;
    }
    bool regular = S_ISREG(st.st_mode);
    if (regular && (uint64_t)st.st_size > limit) {
        char what[64];
        snprintf(what, sizeof what, "%llu bytes is over", (unsigned long long)st.st_size);
        limit_error(who, kind, limit, what);
        close(fd);
        return NULL;
    }
    /* A regular file gets room for its size, one byte more (so reaching its
     * end needs no second allocation) and the NUL; anything else grows. The
     * buffer never needs more than limit + 2: one byte past the limit is
     * where reading stops. */
    size_t cap = regular ? (size_t)st.st_size + 2 : CHUNK, n = 0;
    if (cap > limit + 2) cap = (size_t)limit + 2;
    char *buf = malloc(cap);
    if (!buf) goto out_of_memory;
    for (;;) {
        if (n > limit) {
            limit_error(who, kind, limit, "more bytes arrived than");
            goto fail;
        }
        if (n + 1 == cap) {
            size_t bigger = cap > (limit + 2) / 2 ? (size_t)limit + 2 : 2 * cap;
            char *grown = realloc(buf, bigger);
            if (!grown) goto out_of_memory;
            buf = grown;
            cap = bigger;
        }
        ssize_t got = read(fd, buf + n, cap - 1 - n < CHUNK ? cap - 1 - n : CHUNK);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            at_set_error("%s: cannot read: %s", who, strerror(errno));
            goto fail;
        }
        if (got == 0) break;
        const char *nul = kind->text ? memchr(buf + n, 0, (size_t)got) : NULL;
        if (nul) {
            size_t at = (size_t)(nul - buf);
            at_set_error("%s: NUL byte at offset %zu (line %lld): not a text file (binary, or UTF-16?)", who, at,
                         line_of(buf, at));
            goto fail;
        }
        n += (size_t)got;
    }
    close(fd);
    buf[n] = '\0';
    *len = n;
    return buf;
out_of_memory:
    at_set_error("%s: out of memory reading %zu bytes", who, n);
fail:
    close(fd);
    free(buf);
    return NULL;
}

/* SHA-256 of strings and files, and the stat facts a hash cache needs. */
#include "file_hash.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "../tensor.h"

#define CHUNK (1u << 20)

static void to_hex(const unsigned char *digest, unsigned n, char *hex) {
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[2 * n] = '\0';
}

void at_sha256_hex(const void *data, size_t len, char hex[AT_SHA256_HEX]) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_Digest(data, len, digest, &n, EVP_sha256(), NULL);
    to_hex(digest, n, hex);
}

int at_file_facts_of(const char *op, const char *path, at_file_facts *out) {
    struct stat st;
    if (stat(path, &st) != 0) {
        at_set_error("%s: %s: %s", op, path, strerror(errno));
        return -1;
    }
    out->size = (int64_t)st.st_size;
    out->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + (int64_t)st.st_mtim.tv_nsec;
    out->ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + (int64_t)st.st_ctim.tv_nsec;
    out->inode = (int64_t)st.st_ino;
    out->is_file = S_ISREG(st.st_mode);
    out->is_dir = S_ISDIR(st.st_mode);
    return 0;
}

int at_sha256_file(const char *op, const char *path, char hex[AT_SHA256_HEX]) {
    at_file_facts facts;
    if (at_file_facts_of(op, path, &facts)) return -1;
    if (!facts.is_file) {
        at_set_error("%s: %s: not a regular file", op, path);
        return -1;
    }
    FILE *f = fopen(path, "rb");
    unsigned char *buf = malloc(CHUNK);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = -1;
    if (!f) {
        at_set_error("%s: %s: %s", op, path, strerror(errno));
    } else if (!buf || !ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        at_set_error("%s: %s: out of memory", op, path);
    } else {
        size_t got;
        while ((got = fread(buf, 1, CHUNK, f)) > 0) EVP_DigestUpdate(ctx, buf, got);
        if (ferror(f)) {
            at_set_error("%s: %s: read error: %s", op, path, strerror(errno));
        } else {
            unsigned char digest[EVP_MAX_MD_SIZE];
            unsigned n = 0;
            EVP_DigestFinal_ex(ctx, digest, &n);
            to_hex(digest, n, hex);
            rc = 0;
        }
    }
    EVP_MD_CTX_free(ctx);
    free(buf);
    if (f) fclose(f);
    return rc;
}

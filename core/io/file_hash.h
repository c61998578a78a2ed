/* Content hashes of files and strings (SHA-256, through OpenSSL's libcrypto,
 * which uses the CPU's SHA instructions where it has them: a 1.7 GB
 * checkpoint hashes in about a second), and the file facts a hash cache is
 * keyed by.
 *
 * The experiment layer fingerprints what a result depends on (start weights,
 * databases, vocabularies) by content, so a file replaced under the same
 * name is noticed; it caches each file's hash by (path, size, mtime in
 * nanoseconds) so the bytes are read once. */
#ifndef AAPMT_IO_FILE_HASH_H
#define AAPMT_IO_FILE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define AT_SHA256_HEX 65   /* 64 hex digits and the NUL */

/* The SHA-256 of len bytes, as lower-case hex into hex. */
void at_sha256_hex(const void *data, size_t len, char hex[AT_SHA256_HEX]);

/* The SHA-256 of a regular file's bytes, read in 1 MiB chunks (never the
 * whole file at once). Returns 0, or -1 with at_set_error("op: path: why")
 * for a file that cannot be opened or read, or is not a regular file (a pipe
 * or device would never end). */
int at_sha256_file(const char *op, const char *path, char hex[AT_SHA256_HEX]);

typedef struct at_file_facts {
    int64_t size;
    int64_t mtime_ns;   /* modification time, nanoseconds since the epoch */
    int64_t ctime_ns;   /* status change time: moves on every write, even when
                           a copy (cp -p, rsync -t) restores the mtime */
    int64_t inode;
    int is_file, is_dir;
} at_file_facts;

/* stat(2) of path (following links). Returns 0, or -1 with at_set_error. */
int at_file_facts_of(const char *op, const char *path, at_file_facts *out);

#endif

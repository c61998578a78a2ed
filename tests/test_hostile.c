/* The hostile-input corpus: one list of every attack the readers must turn
 * into a clean error (NULL or -1, and a message naming the problem), never a
 * crash, code execution or a huge allocation. Each input is built here, in
 * memory or in a temporary folder, so the list reads as the attacks it holds.
 *
 * Where an attack is also covered elsewhere with a real torch/Pillow-made
 * file, the case says which test holds the fuller version:
 *   test_checkpoint.c (fixtures from tests/fixtures/make_checkpoint_fixtures.py),
 *   test_image.c, test_data.c. */
#define _GNU_SOURCE   /* mkdtemp */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "io/image.h"
#include "io/pickle.h"
#include "io/state_dict.h"
#include "io/tokenizer.h"
#include "io/zip.h"
#include "data/csv.h"
#include "data/split.h"

static char tmpdir[256];

static int contains(const char *s, const char *part) { return s && strstr(s, part) != NULL; }

/* AAPMT_HOSTILE_VERBOSE=1 prints every message, to read them all at once. */
static void expect_error(int failed, const char *what, const char *fragment) {
    if (getenv("AAPMT_HOSTILE_VERBOSE")) printf("%-40s %s\n", what, at_last_error());
    CHECK(failed, "%s: accepted", what);
    CHECK(contains(at_last_error(), fragment), "%s: error '%s' lacks '%s'", what, at_last_error(), fragment);
}

/* ---- a growable byte buffer ---- */

typedef struct {
    unsigned char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *data, size_t len) {
    if (b->n + len > b->cap) {
        b->cap = (b->n + len) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    if (len) memcpy(b->p + b->n, data, len);
    b->n += len;
}
static void put8(buf *b, unsigned v) { unsigned char c = (unsigned char)v; put(b, &c, 1); }
static void put16(buf *b, unsigned v) { put8(b, v & 0xff), put8(b, v >> 8 & 0xff); }
static void put32(buf *b, uint32_t v) { put16(b, v & 0xffff), put16(b, v >> 16); }
static void put64(buf *b, uint64_t v) { put32(b, (uint32_t)v), put32(b, (uint32_t)(v >> 32)); }
static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

static char *write_temp(const char *name, const void *data, size_t len) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) abort();
    fclose(f);
    return path;
}

/* ---- pickles (unpickler in memory) ---- */

static void expect_pickle_error(const char *what, const void *bytes, size_t len, const char *fragment) {
    at_unpickler *u = at_unpickler_new("hostile", false);
    size_t used = 0;
    const at_pv *v = at_unpickle(u, bytes, len, &used);
    expect_error(v == NULL, what, fragment);
    at_unpickler_free(u);
}
#define PICKLE(what, literal, fragment) expect_pickle_error(what, literal, sizeof literal - 1, fragment)

static void test_pickles(void) {
    /* Code execution (test_checkpoint.c loads the same through whole .pt files). */
    PICKLE("os.system through GLOBAL", "\x80\x02" "cos\nsystem\nX\x04\x00\x00\x00" "echo\x85R.",
           "global 'os.system' is not allowed");
    PICKLE("builtins.eval through STACK_GLOBAL",
           "\x80\x04\x8c\x08" "builtins\x94\x8c\x04" "eval\x94\x93\x8c\x01" "1\x85R.",
           "global 'builtins.eval' is not allowed");
    PICKLE("posix.system", "\x80\x02" "cposix\nsystem\n.", "global 'posix.system' is not allowed");
    PICKLE("INST", "\x80\x02(X\x04\x00\x00\x00" "echoios\nsystem\n.", "(INST): opcode 0x69 'i' is not allowed");
    PICKLE("OBJ", "\x80\x02(cos\nsystem\nX\x04\x00\x00\x00" "echoo.", "global 'os.system' is not allowed");
    PICKLE("OBJ on an allowed class", "\x80\x02(ccollections\nOrderedDict\no.",
           "(OBJ): opcode 0x6f 'o' is not allowed");
    PICKLE("REDUCE on a non-global", "\x80\x02K\x01)R.", "calling a int");
    PICKLE("NEWOBJ on torch.Size", "\x80\x02" "ctorch\nSize\n)\x81.", "only collections.OrderedDict may be created");
    PICKLE("EXT1 (copyreg extension registry)", "\x80\x02\x82\x01.", "(EXT1): opcode 0x82 is not allowed");
    PICKLE("PERSID of an unknown kind", "\x80\x02(X\x06\x00\x00\x00moduleK\x01tQ.", "persistent id of kind 'module'");

    /* Memo bombs. A huge LONG_BINPUT index would size the memo at 2^31 slots;
     * an index beyond the pickle's length cannot be legitimate. */
    PICKLE("LONG_BINPUT 2^31-1", "\x80\x02K\x01r\xff\xff\xff\x7f.", "memo index 2147483647 is out of range");
    PICKLE("LONG_BINPUT 2^26-1 in a tiny pickle", "\x80\x02K\x01r\xff\xff\xff\x03.",
           "memo index 67108863 is out of range");
    PICKLE("BINGET of a slot never set", "\x80\x02h\x07.", "memo index 7 was never set");
    PICKLE("LONG_BINGET far away", "\x80\x02K\x01\x94j\x00\x00\x00\x10.", "memo index 268435456 was never set");
    {
        /* 2 million MEMOIZEs: accepted, and bounded by the input (one 8-byte
         * slot per input byte); the memo never grows faster than the pickle. */
        size_t n = 2000000;
        unsigned char *p = malloc(n + 5);
        memcpy(p, "\x80\x04K\x01", 4);
        memset(p + 4, 0x94, n);
        p[n + 4] = '.';
        at_unpickler *u = at_unpickler_new("hostile", false);
        size_t used = 0;
        const at_pv *v = at_unpickle(u, p, n + 5, &used);
        CHECK(v && v->kind == AT_PV_INT && used == n + 5, "2M MEMOIZEs: %s", v ? "wrong value" : at_last_error());
        at_unpickler_free(u);
        /* One memoised value pushed 1.1 million times (BINGET): the stack bound stops it. */
        size_t gets = 1100000, len = 5 + 2 * gets + 1;
        unsigned char *q = malloc(len);
        memcpy(q, "\x80\x04K\x01\x94", 5);
        for (size_t i = 0; i < gets; i++) q[5 + 2 * i] = 'h', q[6 + 2 * i] = 0;
        q[len - 1] = '.';
        expect_pickle_error("1.1M BINGETs", q, len, "values on the stack");
        free(p);
        free(q);
    }
    /* A list appended into itself: a cycle, refused as unbounded nesting. */
    {
        buf b = {0};
        puts_(&b, "\x80\x04]\x94");
        for (int i = 0; i < 200; i++) put(&b, "h\x00" "a", 3);
        puts_(&b, ".");
        expect_pickle_error("self-containing list", b.p, b.n, "nested more than 100 deep");
        free(b.p);
    }
    /* Deep nesting (test_checkpoint.c: deep_nesting.pt, 1025 MARKs). */
    {
        buf b = {0};
        puts_(&b, "\x80\x02K\x01");
        for (int i = 0; i < 100000; i++) put8(&b, 0x85);   /* TUPLE1 */
        puts_(&b, ".");
        expect_pickle_error("100000 nested TUPLE1", b.p, b.n, "nested more than 100 deep");
        b.n = 0;
        puts_(&b, "\x80\x02");
        for (int i = 0; i < 100000; i++) put8(&b, '(');
        puts_(&b, ".");
        expect_pickle_error("100000 MARKs", b.p, b.n, "more than 1024 nested MARKs");
        b.n = 0;
        puts_(&b, "\x80\x02");
        for (int i = 0; i < 100000; i++) put8(&b, ']');
        for (int i = 0; i < 99999; i++) put8(&b, 'a');
        puts_(&b, ".");
        expect_pickle_error("100000 nested lists", b.p, b.n, "nested more than 100 deep");
        free(b.p);
    }
    /* Lengths that lie. */
    PICKLE("BINUNICODE claiming 2 GB", "\x80\x02X\xff\xff\xff\x7f" "abc.", "truncated: needs 2147483647 more bytes");
    PICKLE("BINBYTES8", "\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\x7f.", "(BINBYTES8): opcode 0x8e is not allowed");
    PICKLE("LONG1 of 255 bytes", "\x80\x02\x8a\xff.", "does not fit 64 bits");

    /* Tensor views reaching outside their storage (test_checkpoint.c:
     * view_past_storage.pt through a whole file). The storage holds 4 floats. */
#define STORAGE4 "(X\x07\x00\x00\x00" "storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x04tQ"
#define REBUILD "\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n(" STORAGE4
    PICKLE("view: offset 2 + 3 elements", REBUILD "K\x02K\x03\x85K\x01\x85\x89}tR.",
           "reaches past storage '0' of 4 elements");
    PICKLE("view: stride 2 over 3 elements", REBUILD "K\x00K\x03\x85K\x02\x85\x89}tR.",
           "reaches past storage '0' of 4 elements");
    PICKLE("view: empty view at offset 5", REBUILD "K\x05K\x00\x85K\x01\x85\x89}tR.",
           "reaches past storage '0' of 4 elements");
    PICKLE("view: stride overflowing int64",
           REBUILD "K\x00K\x02\x85\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f\x85\x89}tR.",
           "reaches past storage '0' of 4 elements");
    PICKLE("view: negative offset", REBUILD "J\xff\xff\xff\xffK\x01\x85K\x01\x85\x89}tR.",
           "storage offset is not a non-negative int");
    PICKLE("storage claiming 2^62 elements",
           "\x80\x02(X\x07\x00\x00\x00" "storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00"
           "cpu\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x40tQ.",
           "element count is not a valid int");
    PICKLE("view in bounds (fails only at STOP)",
           REBUILD "K\x00K\x04\x85K\x01\x85\x89}tRK\x01.", "2 values");
#undef REBUILD
#undef STORAGE4
}

/* ---- zip archives ---- */

typedef struct {
    const char *name;
    const char *data;      /* written after the local header; NULL: nothing */
    uint32_t size;         /* central directory sizes; 0: strlen(data) */
    uint32_t usize;        /* uncompressed size, when it differs from size */
    uint16_t method;
    const unsigned char *extra;   /* central-directory extra field */
    uint16_t extra_len;
} zspec;

/* A zip archive laid out as the specs say, central directory and end record after. */
static buf make_zip(const zspec *e, int n, int claimed_count) {
    buf b = {0}, cd = {0};
    for (int i = 0; i < n; i++) {
        uint32_t offset = (uint32_t)b.n, len = e[i].data ? (uint32_t)strlen(e[i].data) : 0;
        uint32_t size = e[i].size ? e[i].size : len, usize = e[i].usize ? e[i].usize : size;
        put32(&b, 0x04034b50), put16(&b, 20), put16(&b, 0), put16(&b, e[i].method), put32(&b, 0), put32(&b, 0);
        put32(&b, size), put32(&b, usize), put16(&b, (unsigned)strlen(e[i].name)), put16(&b, 0);
        puts_(&b, e[i].name);
        if (e[i].data) puts_(&b, e[i].data);
        put32(&cd, 0x02014b50), put16(&cd, 20), put16(&cd, 20), put16(&cd, 0), put16(&cd, e[i].method);
        put32(&cd, 0), put32(&cd, 0), put32(&cd, size), put32(&cd, usize);
        put16(&cd, (unsigned)strlen(e[i].name)), put16(&cd, e[i].extra_len), put16(&cd, 0), put16(&cd, 0);
        put16(&cd, 0), put32(&cd, 0), put32(&cd, offset);
        puts_(&cd, e[i].name);
        put(&cd, e[i].extra, e[i].extra_len);
    }
    uint32_t cd_offset = (uint32_t)b.n;
    put(&b, cd.p, cd.n);
    int count = claimed_count ? claimed_count : n;
    put32(&b, 0x06054b50), put16(&b, 0), put16(&b, 0), put16(&b, (unsigned)count), put16(&b, (unsigned)count);
    put32(&b, (uint32_t)cd.n), put32(&b, cd_offset), put16(&b, 0);
    free(cd.p);
    return b;
}

static void expect_zip(const char *what, const zspec *e, int n, int claimed_count, const char *fragment) {
    buf b = make_zip(e, n, claimed_count);
    at_zip z;
    int rc = at_zip_read(&z, b.p, b.n, "hostile", what);
    expect_error(rc != 0, what, fragment);
    if (rc == 0) at_zip_free(&z);
    free(b.p);
}

static void test_zips(void) {
    /* The builder itself makes archives the reader accepts. */
    zspec good[] = {{"x/data.pkl", "\x80\x02}.", 0, 0, 0, NULL, 0}, {"x/version", "3\n", 0, 0, 0, NULL, 0}};
    buf b = make_zip(good, 2, 0);
    at_zip z;
    int rc = at_zip_read(&z, b.p, b.n, "hostile", "good.zip");
    CHECK(rc == 0 && z.count == 2 && at_zip_find(&z, "x/version") && at_zip_find(&z, "x/version")->size == 2,
          "well-formed archive: %s", rc ? at_last_error() : "wrong entries");
    if (rc == 0) at_zip_free(&z);
    free(b.p);

    /* Names climbing out (test_checkpoint.c: dotdot.pt). */
    zspec dotdot[] = {{"x/../../etc/passwd", "root", 0, 0, 0, NULL, 0}};
    expect_zip("dotdot.zip", dotdot, 1, 0, "entry 'x/../../etc/passwd': unsafe name");
    zspec absolute[] = {{"/etc/passwd", "root", 0, 0, 0, NULL, 0}};
    expect_zip("absolute.zip", absolute, 1, 0, "unsafe name");
    zspec backslash[] = {{"x\\..\\evil", "root", 0, 0, 0, NULL, 0}};
    expect_zip("backslash.zip", backslash, 1, 0, "unsafe name");

    /* Overlapping data: entry a's bytes are entry b's local header and data
     * (the "non-recursive zip bomb" layout: many entries sharing bytes). */
    zspec overlap[] = {{"a", NULL, 30 + 1 + 3, 0, 0, NULL, 0}, {"b", "xyz", 0, 0, 0, NULL, 0}};
    expect_zip("overlap.zip", overlap, 2, 0, "overlap");
    /* Data running into the central directory (which follows at byte 34). */
    zspec into_cd[] = {{"a", "xyz", 13, 0, 0, NULL, 0}};
    expect_zip("into_cd.zip", into_cd, 1, 0, "entry 'a' overlaps the central directory at offset 34");
    /* Two directory entries for one local header. */
    {
        zspec one[] = {{"a", "xyz", 0, 0, 0, NULL, 0}};
        buf z1 = make_zip(one, 1, 0);
        /* Duplicate the central entry (47 bytes: 46 + name "a") and fix the end record. */
        size_t cd = z1.n - 22 - 47;
        buf z2 = {0};
        put(&z2, z1.p, cd + 47);
        put(&z2, z1.p + cd, 47);
        put32(&z2, 0x06054b50), put16(&z2, 0), put16(&z2, 0), put16(&z2, 2), put16(&z2, 2);
        put32(&z2, 94), put32(&z2, (uint32_t)cd), put16(&z2, 0);
        rc = at_zip_read(&z, z2.p, z2.n, "hostile", "shared_header.zip");
        expect_error(rc != 0, "shared_header.zip", "entries 'a' and 'a' overlap");
        if (rc == 0) at_zip_free(&z);
        free(z1.p);
        free(z2.p);
    }

    /* Compression (test_checkpoint.c: compressed.pt made by Python's zipfile). */
    zspec deflate[] = {{"x/data.pkl", "\x03\x00", 2, 4000000000u, 8, NULL, 0}};
    expect_zip("deflate.zip", deflate, 1, 0, "compression method 8 (deflate) is not supported");
    zspec bzip2[] = {{"x/data.pkl", "BZh9", 0, 0, 12, NULL, 0}};
    expect_zip("bzip2.zip", bzip2, 1, 0, "compression method 12 is not supported");

    /* Zip bombs: sizes that claim far more than the file holds. Nothing is
     * inflated or allocated by size; every claim is checked against the buffer. */
    zspec stored_lie[] = {{"x/data.pkl", "tiny", 4, 4000000000u, 0, NULL, 0}};
    expect_zip("stored_size_lie.zip", stored_lie, 1, 0, "stored entry with compressed size 4 != size 4000000000");
    zspec huge_stored[] = {{"x/data.pkl", "tiny", 0xf0000000u, 0, 0, NULL, 0}};
    expect_zip("huge_stored.zip", huge_stored, 1, 0, "run past the end of the file");
    unsigned char z64[20] = {1, 0, 16};   /* zip64 extra: usize, csize = 2^40 */
    z64[4 + 5] = 1, z64[12 + 5] = 1;
    zspec zip64_bomb[] = {{"x/data.pkl", "tiny", 0xffffffffu, 0, 0, z64, 20}};
    expect_zip("zip64_bomb.zip", zip64_bomb, 1, 0, "1099511627776 bytes at offset");
    expect_zip("count_bomb.zip", good, 2, 65534, "65534 entries cannot fit a central directory of");
    zspec encrypted[] = {{"x/data.pkl", "tiny", 0, 0, 0, NULL, 0}};
    buf e = make_zip(encrypted, 1, 0);
    e.p[e.n - 22 - 46 - 10 + 8] |= 1;   /* the central entry's flags: encrypted */
    rc = at_zip_read(&z, e.p, e.n, "hostile", "encrypted.zip");
    expect_error(rc != 0, "encrypted.zip", "entry 'x/data.pkl' is encrypted");
    if (rc == 0) at_zip_free(&z);
    free(e.p);

    /* A local header whose name length (0xffff) disagrees with the central
     * directory's: the message says so, not "names a different entry". */
    {
        buf l = make_zip(good, 2, 0);
        l.p[26] = 0xff, l.p[27] = 0xff;
        rc = at_zip_read(&z, l.p, l.n, "hostile", "local_name_length.zip");
        expect_error(rc != 0, "local_name_length.zip",
                     "entry 'x/data.pkl': its local header at offset 0 gives a name of 65535 bytes, the central "
                     "directory 10");
        if (rc == 0) at_zip_free(&z);
        free(l.p);
    }
    /* An archive comment holding an end record's signature (and a record
     * after it) is only a comment: the true end record is the one whose
     * comment ends the file. */
    {
        buf c = make_zip(good, 2, 0);
        buf fake = {0};
        put32(&fake, 0x06054b50), put16(&fake, 0), put16(&fake, 0), put16(&fake, 1), put16(&fake, 1);
        put32(&fake, 46), put32(&fake, 0), put16(&fake, 0);
        puts_(&fake, " (a comment)");
        c.n -= 2;   /* rewrite the real record's comment length */
        put16(&c, (unsigned)fake.n);
        put(&c, fake.p, fake.n);
        rc = at_zip_read(&z, c.p, c.n, "hostile", "comment_with_end_record.zip");
        CHECK(rc == 0 && z.count == 2 && at_zip_find(&z, "x/version"), "comment_with_end_record.zip: %s",
              rc ? at_last_error() : "wrong entries");
        if (rc == 0) at_zip_free(&z);
        free(c.p);
        free(fake.p);
    }

    /* The same attack through the public loader: os.system in a whole .pt file. */
    zspec evil[] = {{"evil/data.pkl", "\x80\x02" "cos\nsystem\n\x8c\x04" "echo\x85R.", 0, 0, 0, NULL, 0},
                    {"evil/version", "3\n", 0, 0, 0, NULL, 0}};
    buf pt = make_zip(evil, 2, 0);
    const char *path = write_temp("evil.pt", pt.p, pt.n);
    at_state_dict *sd = at_load_checkpoint(path);
    expect_error(sd == NULL, "evil.pt", "evil.pt: evil/data.pkl: byte 2 (GLOBAL)");
    CHECK(contains(at_last_error(), "global 'os.system' is not allowed"), "evil.pt: %s", at_last_error());
    at_sd_free(sd);
    free(pt.p);

    /* A name with a NUL byte, {"../\0": 1}: as a C string it would be cut
     * short. make_zip copies data as a C string, so the NULs (in the name and
     * its length) are put in afterwards in place of the '#'s. */
    zspec nul_key[] = {{"nul/data.pkl", "\x80\x02}X\x04###../#K\x01s.", 0, 0, 0, NULL, 0},
                       {"nul/version", "3\n", 0, 0, 0, NULL, 0}};
    pt = make_zip(nul_key, 2, 0);
    static const char placeholder[] = "X\x04###../#";
    unsigned char *hashes = memmem(pt.p, pt.n, placeholder, sizeof placeholder - 1);
    CHECK(hashes, "nul_key.pt: the placeholder is in the archive");
    if (hashes) hashes[2] = hashes[3] = hashes[4] = hashes[8] = 0;
    sd = at_load_checkpoint(write_temp("nul_key.pt", pt.p, pt.n));
    expect_error(sd == NULL, "nul_key.pt", "nul_key.pt: entry 0 of the state dict: its key holds a NUL byte at key "
                                           "byte 3, after '../' (a tensor name cannot hold NUL)");
    at_sd_free(sd);
    free(pt.p);
}

/* ---- safetensors (test_checkpoint.c holds overlap/offsets/header fixtures too) ---- */

static void expect_safetensors(const char *name, const char *header, uint64_t claimed_len, const void *data,
                               size_t data_len, const char *fragment) {
    buf b = {0};
    put64(&b, claimed_len ? claimed_len : strlen(header));
    puts_(&b, header);
    put(&b, data, data_len);
    const char *path = write_temp(name, b.p, b.n);
    at_state_dict *sd = at_load_checkpoint(path);
    expect_error(sd == NULL, name, fragment);
    at_sd_free(sd);
    free(b.p);
}

static void test_safetensors(void) {
    static const float f[4] = {1, 2, 3, 4};
    expect_safetensors("overlap.safetensors",
                       "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]},"
                       "\"c\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}",
                       0, f, 16, "'b' starts at byte 4 of the buffer, expected 8 (overlap)");
    expect_safetensors("same_range.safetensors",
                       "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
                       0, f, 16, "expected 16 (overlap)");
    expect_safetensors("out_of_range.safetensors",
                       "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,4096]}}", 0, f, 16,
                       "'w': data_offsets [0, 4096] lie outside the 16-byte buffer");
    expect_safetensors("reversed.safetensors",
                       "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[16,0]}}", 0, f, 16, "'w': data_offsets [16, 0] lie outside");
    expect_safetensors("offsets_2_53.safetensors",
                       "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[9007199254740000,9007199254740016]}}",
                       0, f, 16, "lie outside");
    expect_safetensors("offsets_2_64.safetensors",
                       "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,18446744073709551616]}}", 0, f,
                       16, "data_offsets is not two non-negative integers");
    expect_safetensors("huge_shape.safetensors",
                       "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
                       "\"data_offsets\":[0,16]}}", 0, f, 16, "'w': shape is too large");
    /* Huge headers: the length is checked before a byte of the header is read. */
    expect_safetensors("header_2_40.safetensors", "{}", (uint64_t)1 << 40, NULL, 0,
                       "header length 1099511627776 runs past");
    expect_safetensors("header_2_64.safetensors", "{}", UINT64_MAX, NULL, 0, "header length 18446744073709551615");
    {
        /* 100 MB + 1 of header in a sparse file of that size: refused by the
         * 100 MB limit (the reference implementation's), not by the file size. */
        char path[512];
        snprintf(path, sizeof path, "%s/header_100MB.safetensors", tmpdir);
        FILE *fp = fopen(path, "wb");
        unsigned char len[8] = {0};
        uint64_t n = 100000001;
        for (int i = 0; i < 8; i++) len[i] = (unsigned char)(n >> (8 * i));
        fwrite(len, 1, 8, fp);
        fputc('{', fp);
        fclose(fp);
        CHECK(truncate(path, 8 + (off_t)n + 16) == 0, "truncate");
        at_state_dict *sd = at_load_safetensors(path);
        expect_error(sd == NULL, "header_100MB.safetensors", "header length 100000001 exceeds the 100000000-byte limit");
        at_sd_free(sd);
        unlink(path);
    }
    {
        /* A header of 10 MB of spaces inside the limit is parsed, not feared:
         * an empty object with spaces is what the reference accepts too. */
        size_t n = 10 * 1000 * 1000;
        buf b = {0};
        put64(&b, n);
        puts_(&b, "{");
        b.cap = b.n + n;
        b.p = realloc(b.p, b.cap);
        memset(b.p + b.n, ' ', n - 2);
        b.n += n - 2;
        puts_(&b, "}");
        const char *path = write_temp("spaces.safetensors", b.p, b.n);
        at_state_dict *sd = at_load_safetensors(path);
        CHECK(sd && sd->count == 0, "10 MB of spaces: %s", sd ? "tensors" : at_last_error());
        at_sd_free(sd);
        free(b.p);
        unlink(path);
    }
    /* NULs in strings: cJSON would end the string there, so "w\u0000a" and
     * "w\u0000b" would both load as "w" (and be called the same name twice). */
    expect_safetensors("nul_escaped_key.safetensors",
                       "{\"w\\u0000a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                       "\"w\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 0, f, 8,
                       "nul_escaped_key.safetensors: safetensors: header byte 3: a NUL character (\\u0000) in the "
                       "key, after 'w' (a tensor name cannot hold NUL");
    expect_safetensors("nul_in_value.safetensors",
                       "{\"w\":{\"dtype\":\"F32\\u0000x\",\"shape\":[1],\"data_offsets\":[0,4]}}", 0, f, 4,
                       "header byte 18: a NUL character (\\u0000) in the string, after 'F32'");
    {
        /* A raw NUL byte, in a key and between tokens (where cJSON skips it as space). */
        static const char raw_key[] = "{\"w\0a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        static const char raw_space[] = "{\0}";
        buf b = {0};
        put64(&b, sizeof raw_key - 1), put(&b, raw_key, sizeof raw_key - 1), put(&b, f, 4);
        at_state_dict *sd = at_load_checkpoint(write_temp("nul_raw_key.safetensors", b.p, b.n));
        expect_error(sd == NULL, "nul_raw_key.safetensors", "header byte 3: a NUL byte in the key, after 'w'");
        at_sd_free(sd);
        b.n = 0;
        put64(&b, sizeof raw_space - 1), put(&b, raw_space, sizeof raw_space - 1);
        sd = at_load_checkpoint(write_temp("nul_raw_space.safetensors", b.p, b.n));
        expect_error(sd == NULL, "nul_raw_space.safetensors", "header byte 1 is a NUL byte");
        at_sd_free(sd);
        free(b.p);
        /* An escaped backslash before "u0000" is no NUL: the name is w\u0000, 7 characters. */
        b = (buf){0};
        const char *h = "{\"w\\\\u0000\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        put64(&b, strlen(h)), puts_(&b, h), put(&b, f, 4);
        const char *path = write_temp("escaped_backslash.safetensors", b.p, b.n);
        sd = at_load_checkpoint(path);
        CHECK(sd && sd->count == 1 && strcmp(sd->entries[0].name, "w\\u0000") == 0, "escaped backslash: %s",
              sd ? sd->entries[0].name : at_last_error());
        at_sd_free(sd);
        free(b.p);
    }
    char deep[4096] = "{\"__metadata__\":";
    for (int i = 0; i < 2000; i++) strcat(deep, "[");
    expect_safetensors("deep_json.safetensors", deep, 0, NULL, 0, "not valid JSON");
}

/* ---- images: headers claiming 100000 x 100000 ---- */

static void expect_image(const char *name, const buf *b, const char *fragment) {
    at_image *im = at_image_decode(b->p, b->n, name, 0);
    expect_error(im == NULL, name, fragment);
    at_image_free(im);
}

static void put_be32(buf *b, uint32_t v) { put8(b, v >> 24), put8(b, v >> 16 & 0xff), put8(b, v >> 8 & 0xff), put8(b, v & 0xff); }

static void test_images(void) {
    const char *bomb = "100000 x 100000 = 10000000000 pixels exceeds the limit of 178956970 pixels";
    buf b = {0};
    /* PNG (test_image.c: a real bomb file against a small max_pixels). */
    put(&b, "\x89PNG\r\n\x1a\n", 8), put_be32(&b, 13), puts_(&b, "IHDR");
    put_be32(&b, 100000), put_be32(&b, 100000), put8(&b, 8), put8(&b, 2), put8(&b, 0), put8(&b, 0), put8(&b, 0);
    put_be32(&b, 0);
    expect_image("bomb.png", &b, bomb);
    /* 2^32 - 1 square: the product overflows 64-bit checks done naively. */
    memset(b.p + 16, 0xff, 8);
    expect_image("bomb_4g.png", &b, "4294967295 x 4294967295");
    /* GIF: 16-bit sizes, so 100000 wide comes from the frame's offset + width. */
    b.n = 0;
    puts_(&b, "GIF89a"), put16(&b, 1), put16(&b, 1), put8(&b, 0), put8(&b, 0), put8(&b, 0);
    put8(&b, 0x2c), put16(&b, 34465), put16(&b, 34465), put16(&b, 65535), put16(&b, 65535), put8(&b, 0);
    put8(&b, 8), put8(&b, 0), put8(&b, 0x3b);
    expect_image("bomb.gif", &b, bomb);
    /* BMP: 24-bit 100000 x 100000 needs 30 GB of rows; a tiny file is refused
     * as truncated before anything is allocated. */
    b.n = 0;
    puts_(&b, "BM"), put32(&b, 54), put32(&b, 0), put32(&b, 54);
    put32(&b, 40), put32(&b, 100000), put32(&b, 100000), put16(&b, 1), put16(&b, 24), put32(&b, 0);
    put32(&b, 0), put32(&b, 2835), put32(&b, 2835), put32(&b, 0), put32(&b, 0);
    expect_image("bomb.bmp", &b, "the file is truncated (BMP pixel data)");
    /* BMP with a negative (top-down) height of -2^31. */
    b.p[22] = 0, b.p[23] = 0, b.p[24] = 0, b.p[25] = 0x80;
    expect_image("bomb_topdown.bmp", &b, "the file is truncated (BMP pixel data)");
    /* TGA RLE: 65535 x 65535 of run-length packets, far fewer than it claims. */
    b.n = 0;
    put8(&b, 0), put8(&b, 0), put8(&b, 10), put16(&b, 0), put16(&b, 0), put8(&b, 0);
    put16(&b, 0), put16(&b, 0), put16(&b, 65535), put16(&b, 65535), put8(&b, 24), put8(&b, 0);
    for (int i = 0; i < 64; i++) put8(&b, 0xff), put8(&b, 1), put8(&b, 2), put8(&b, 3);
    expect_image("bomb.tga", &b, "the file is truncated (TGA pixel data)");
    /* JPEG: SOF0 claiming 65500 x 65500, checked right after the header. */
    b.n = 0;
    put(&b, "\xff\xd8", 2);
    put(&b, "\xff\xdb\x00\x43\x00", 5);
    for (int i = 0; i < 64; i++) put8(&b, 1);
    put(&b, "\xff\xc0\x00\x0b\x08", 5), put8(&b, 0xff), put8(&b, 0xdc), put8(&b, 0xff), put8(&b, 0xdc);
    put(&b, "\x01\x01\x11\x00", 4);
    put(&b, "\xff\xc4\x00\x14\x00", 5);
    put8(&b, 1);
    for (int i = 0; i < 15; i++) put8(&b, 0);
    put8(&b, 0);
    put(&b, "\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00", 10);
    put(&b, "\x00\x00\xff\xd9", 4);
    expect_image("bomb.jpg", &b, "65500 x 65500 = 4290250000 pixels exceeds the limit");
    /* 13000 x 13000 is under the default (as in Pillow) but over a limit a
     * service sets in the environment; a max_pixels argument wins over it. */
    b.p[76] = 13000 >> 8, b.p[77] = 13000 & 0xff, b.p[78] = 13000 >> 8, b.p[79] = 13000 & 0xff;
    setenv("AAPMT_MAX_IMAGE_PIXELS", "1000000", 1);
    expect_image("big.jpg", &b, "13000 x 13000 = 169000000 pixels exceeds the limit of 1000000 pixels");
    at_image *im = at_image_decode(b.p, b.n, "big_small_limit.jpg", 100);
    expect_error(im == NULL, "big_small_limit.jpg", "exceeds the limit of 100 pixels");
    at_image_free(im);
    setenv("AAPMT_MAX_IMAGE_PIXELS", "12 million", 1);
    expect_image("big_bad_env.jpg", &b, "AAPMT_MAX_IMAGE_PIXELS='12 million' is not a positive whole number");
    setenv("AAPMT_MAX_IMAGE_PIXELS", "0", 1);
    expect_image("big_zero_env.jpg", &b, "AAPMT_MAX_IMAGE_PIXELS='0' is not a positive whole number");
    unsetenv("AAPMT_MAX_IMAGE_PIXELS");
    free(b.p);
}

/* ---- CSV (test_data.c covers the dialect itself) ---- */

static void test_csv(void) {
    at_csv *c = at_csv_parse("a,b\n1,x\0y\n", 10, "nul.csv");
    expect_error(c == NULL, "NUL byte", "csv: nul.csv, line 2, column 2: NUL byte");
    at_csv_free(c);
    c = at_csv_parse("a,b\n1,\"x\0y\"\n", 12, "nul_quoted.csv");
    expect_error(c == NULL, "NUL byte in quotes", "nul_quoted.csv, line 2, column 2: NUL byte");
    at_csv_free(c);
    c = at_csv_parse("a\0,b\n1,2\n", 9, "nul_header.csv");
    expect_error(c == NULL, "NUL byte in the header", "nul_header.csv, line 1, column 1: NUL byte");
    at_csv_free(c);
    const char *text = "a,b\n1,2\n3,\"never\nends,4\n";
    c = at_csv_parse(text, strlen(text), "unbalanced.csv");
    expect_error(c == NULL, "unbalanced quote", "unbalanced.csv, line 3, column 2: the quoted field never ends");
    at_csv_free(c);
    text = "a,b\n1,\"x\"y\n";
    c = at_csv_parse(text, strlen(text), "stray.csv");
    expect_error(c == NULL, "text after a closing quote", "stray.csv, line 2, column 2: 'y' after the closing quote");
    at_csv_free(c);
    /* A 10 MB field, plain and quoted (with quotes and line breaks inside):
     * parsed exactly, byte for byte; the reader's memory is the text's size. */
    size_t big = 10 * 1000 * 1000;
    buf b = {0};
    puts_(&b, "a,b\n1,");
    size_t start = b.n;
    b.cap = b.n + big + 64;
    b.p = realloc(b.p, b.cap);
    memset(b.p + b.n, 'x', big);
    b.n += big;
    puts_(&b, "\n");
    c = at_csv_parse((const char *)b.p, b.n, "big.csv");
    CHECK(c && c->nrows == 1 && strlen(at_csv_cell(c, 0, 1)) == big, "10 MB field: %s",
          c ? "wrong cell" : at_last_error());
    at_csv_free(c);
    b.n = start;
    puts_(&b, "\"");
    for (size_t i = 0; i < big / 4; i++) puts_(&b, i % 1000 == 0 ? "\n\"\"x" : "yyyy");
    puts_(&b, "\"\n2,z\n");
    c = at_csv_parse((const char *)b.p, b.n, "big_quoted.csv");
    CHECK(c && c->nrows == 2 && c->line[1] == (int64_t)(3 + big / 4000) && at_csv_cell(c, 0, 1)[0] == '\n' &&
          at_csv_cell(c, 0, 1)[1] == '"' && strlen(at_csv_cell(c, 0, 1)) == big - big / 4000,
          "10 MB quoted field: %s", c ? "wrong cells or lines" : at_last_error());
    at_csv_free(c);
    /* The same unbalanced quote at the end of 10 MB names its line, not the last one. */
    b.n = start;
    puts_(&b, "\"");
    memset(b.p + b.n, '\n', 1000);
    b.n += 1000;
    c = at_csv_parse((const char *)b.p, b.n, "big_unbalanced.csv");
    expect_error(c == NULL, "unbalanced quote before 1000 lines", "big_unbalanced.csv, line 2, column 2");
    at_csv_free(c);
    free(b.p);
}

static double seconds_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A million cells as 100,000 columns by 10 records. With duplicates, three
 * names repeat: columns 4 and 7 those of columns 2 and 1, the last that of
 * column 50001. */
static buf wide_csv(bool duplicates) {
    enum { COLUMNS = 100000, RECORDS = 10 };
    buf b = {0};
    char cell[32];
    for (int c = 0; c < COLUMNS; c++) {
        int named = c;
        if (duplicates) named = c == 3 ? 1 : c == 6 ? 0 : c == COLUMNS - 1 ? 50000 : c;
        snprintf(cell, sizeof cell, "column_%06d%c", named, c + 1 < COLUMNS ? ',' : '\n');
        puts_(&b, cell);
    }
    for (int r = 1; r < RECORDS; r++)
        for (int c = 0; c < COLUMNS; c++) {
            snprintf(cell, sizeof cell, "%d%c", r, c + 1 < COLUMNS ? ',' : '\n');
            puts_(&b, cell);
        }
    return b;
}

/* The header check once compared every pair of names: 100,000 columns took
 * half a minute or more; now well under a second (10 s leaves room for a
 * sanitizer build on a busy machine). */
static void test_csv_wide(void) {
    buf b = wide_csv(false);
    double start = seconds_now();
    at_csv *c = at_csv_parse((const char *)b.p, b.n, "wide.csv");
    double took = seconds_now() - start;
    CHECK(c && c->ncols == 100000 && c->nrows == 9 && strcmp(c->header[99999], "column_099999") == 0,
          "100,000 columns: %s", c ? "wrong table" : at_last_error());
    CHECK(took < 10, "100,000 columns took %.1f s", took);
    at_csv_free(c);
    free(b.p);
    /* The pair named is the repeat met first from the left, with the name's first column. */
    b = wide_csv(true);
    start = seconds_now();
    c = at_csv_parse((const char *)b.p, b.n, "wide_duplicates.csv");
    took = seconds_now() - start;
    expect_error(c == NULL, "duplicate names in 100,000 columns",
                 "wide_duplicates.csv, line 1: columns 2 and 4 are both called 'column_000001'");
    CHECK(took < 10, "100,000 columns with duplicates took %.1f s", took);
    at_csv_free(c);
    free(b.p);
}

/* ---- reading whole files: size limits, pipes, early refusal (io/read_whole.h) ---- */

static const char *file_of(const char *name, const char *start, size_t size, char fill) {
    buf b = {0};
    puts_(&b, start);
    while (b.n < size) put8(&b, (unsigned char)fill);
    const char *path = write_temp(name, b.p, size);
    free(b.p);
    return path;
}

/* A child writing fill to the FIFO at path until the reader goes away (its
 * write then fails, or SIGPIPE ends it): a stream that never ends. */
static pid_t endless_writer(const char *path, char fill) {
    pid_t pid = fork();
    if (pid == 0) {
        char chunk[65536];
        memset(chunk, fill, sizeof chunk);
        int fd = open(path, O_WRONLY);
        while (fd >= 0 && write(fd, chunk, sizeof chunk) > 0) continue;
        _exit(0);
    }
    return pid;
}

static void stop(pid_t pid) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static long peak_rss_kb(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

static void test_read_limits(void) {
    char path[512], want[640];
    /* Regular files over the limit: refused by their size, naming it and the variable. */
    setenv("AAPMT_MAX_TEXT_BYTES", "1K", 1);
    setenv("AAPMT_MAX_IMAGE_BYTES", "1K", 1);
    at_csv *c = at_csv_read(file_of("limit.csv", "a\n", 1024, 'x'));
    CHECK(c && c->nrows == 1, "a CSV of exactly the limit: %s", c ? "wrong table" : at_last_error());
    at_csv_free(c);
    snprintf(path, sizeof path, "%s", file_of("over.csv", "a\n", 1025, 'x'));
    c = at_csv_read(path);
    snprintf(want, sizeof want, "csv: %s: 1025 bytes is over the limit of 1024 bytes (AAPMT_MAX_TEXT_BYTES sets it)",
             path);
    expect_error(c == NULL, "CSV over the limit", want);
    const char *prompts[] = {"p"};
    at_split *s = at_split_fixed_file(prompts, 1, NULL, path);
    expect_error(s == NULL, "split file over the limit", "over.csv': 1025 bytes is over the limit of 1024 bytes");
    at_split_free(s);
    at_tokenizer *t = at_tokenizer_load(path);
    expect_error(t == NULL, "vocabulary over the limit", "tokenizer: vocabulary");
    CHECK(contains(at_last_error(), "over.csv: 1025 bytes is over the limit of 1024"), "%s", at_last_error());
    at_tokenizer_free(t);
    at_image *im = at_image_load(path, 0);
    expect_error(im == NULL, "image over the limit",
                 "over.csv': 1025 bytes is over the limit of 1024 bytes (AAPMT_MAX_IMAGE_BYTES sets it)");
    at_image_free(im);

    /* Malformed limits are errors naming the variable, never a silent default. */
    const char *malformed[] = {"", "12x", "0", "-1", "1.5G", "1 K", "K", "18446744073709551616", "17179869184G"};
    for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++) {
        setenv("AAPMT_MAX_TEXT_BYTES", malformed[i], 1);
        c = at_csv_read(path);
        snprintf(want, sizeof want, "AAPMT_MAX_TEXT_BYTES='%s' is not a byte count", malformed[i]);
        expect_error(c == NULL, want, want);
    }
    setenv("AAPMT_MAX_TEXT_BYTES", "2M", 1);
    c = at_csv_read(path);
    CHECK(c != NULL, "2M: %s", at_last_error());
    at_csv_free(c);

    /* Pipes and devices: refused as soon as the limit is passed, so a stream
     * that never ends (here a CSV line that never ends) is not read whole.
     * The alarm fails the test where a reader would read on forever. */
    setenv("AAPMT_MAX_TEXT_BYTES", "1M", 1);
    setenv("AAPMT_MAX_IMAGE_BYTES", "1M", 1);
    alarm(120);
    snprintf(path, sizeof path, "%s/endless.fifo", tmpdir);
    CHECK(mkfifo(path, 0600) == 0, "mkfifo");
    pid_t writer = endless_writer(path, 'x');
    c = at_csv_read(path);
    stop(writer);
    snprintf(want, sizeof want, "csv: %s: more bytes arrived than the limit of 1048576 bytes (AAPMT_MAX_TEXT_BYTES", path);
    expect_error(c == NULL, "endless FIFO", want);
    writer = endless_writer(path, 'x');
    im = at_image_load(path, 0);
    stop(writer);
    expect_error(im == NULL, "endless FIFO as an image", "more bytes arrived than the limit of 1048576 bytes");
    im = at_image_load("/dev/zero", 0);
    expect_error(im == NULL, "/dev/zero as an image",
                 "image '/dev/zero': more bytes arrived than the limit of 1048576 bytes (AAPMT_MAX_IMAGE_BYTES");
    c = at_csv_read("/dev/zero");
    expect_error(c == NULL, "/dev/zero as a CSV", "csv: /dev/zero: NUL byte at offset 0 (line 1)");
    alarm(0);
    unsetenv("AAPMT_MAX_TEXT_BYTES");
    unsetenv("AAPMT_MAX_IMAGE_BYTES");

    /* Text is checked as it arrives: the first NUL stops the read. A 1 GiB
     * sparse file under the default limit is refused at once, in little
     * memory (reading it whole took a gigabyte). */
    snprintf(path, sizeof path, "%s/sparse.csv", tmpdir);
    FILE *f = fopen(path, "wb");
    fclose(f);
    CHECK(truncate(path, (off_t)1 << 30) == 0, "truncate");
    long rss = peak_rss_kb();
    double start = seconds_now();
    c = at_csv_read(path);
    double took = seconds_now() - start;
    expect_error(c == NULL, "1 GiB sparse CSV", "sparse.csv: NUL byte at offset 0 (line 1): not a text file");
    CHECK(took < 5, "the sparse CSV took %.1f s", took);
    CHECK(peak_rss_kb() - rss < 256 * 1024, "the sparse CSV took %ld MB more memory", (peak_rss_kb() - rss) / 1024);
    unlink(path);
    /* A NUL past the first chunk is found where it is: its offset and line. */
    buf b = {0};
    for (int i = 0; i < 400000; i++) puts_(&b, "x\r\n");
    put8(&b, 0);
    snprintf(path, sizeof path, "%s", write_temp("late_nul.txt", b.p, b.n));
    free(b.p);
    s = at_split_fixed_file(prompts, 1, NULL, path);
    expect_error(s == NULL, "NUL after 1.2 MB", "late_nul.txt': NUL byte at offset 1200000 (line 400001)");
    at_split_free(s);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "%s", "/tmp/aapmt_hostile_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_pickles();
    test_zips();
    test_safetensors();
    test_images();
    test_csv();
    test_csv_wide();
    test_read_limits();
    DIR *d = opendir(tmpdir);
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
        if (e->d_name[0] != '.') unlink(path);
    }
    if (d) closedir(d);
    rmdir(tmpdir);
    return check_summary();
}

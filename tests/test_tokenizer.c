/* The BERT tokenizer against fixtures/tokenizer/cases.json, the ids a Python
 * re-implementation of transformers' BertTokenizer gives for tricky prompts
 * (made by fixtures/make_tokenizer_fixtures.py), plus vocab.txt parsing,
 * finding the vocabulary, and bad input. */
#include "check.h"
#include "io/tokenizer.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIXTURES AAPMT_TEST_FIXTURES "/tokenizer"

static void write_file(const char *path, const char *bytes, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(bytes, 1, n, f);
    fclose(f);
}

static size_t unhex(const char *hex, char *out) {
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (char)v;
    }
    return n;
}

static bool ids_equal(const int64_t *got, const cJSON *want, int n) {
    if (cJSON_GetArraySize(want) != n) return false;
    for (int i = 0; i < n; i++)
        if (got[i] != (int64_t)cJSON_GetArrayItem(want, i)->valuedouble) return false;
    return true;
}

static void print_ids(const char *what, const int64_t *ids, int64_t n) {
    fprintf(stderr, "  %s:", what);
    for (int64_t i = 0; i < n; i++) fprintf(stderr, " %lld", (long long)ids[i]);
    fputc('\n', stderr);
}

/* Every case of cases.json: pieces before framing, then the 35 (or 8) ids and mask. */
static void test_cases(const at_tokenizer *tok) {
    char *json = check_read_file(FIXTURES "/cases.json", NULL);
    CHECK(json != NULL, "cannot read %s", FIXTURES "/cases.json");
    cJSON *doc = json ? cJSON_Parse(json) : NULL;
    free(json);
    if (!doc) return;
    CHECK(at_tokenizer_size(tok) == (int64_t)cJSON_GetObjectItem(doc, "vocab_lines")->valuedouble + 2,
          "size %lld", (long long)at_tokenizer_size(tok));
    CHECK(at_tokenizer_id(tok, "[DEC]") == (int64_t)cJSON_GetObjectItem(doc, "dec_id")->valuedouble,
          "[DEC] id %lld", (long long)at_tokenizer_id(tok, "[DEC]"));
    CHECK(at_tokenizer_id(tok, "[ENC]") == (int64_t)cJSON_GetObjectItem(doc, "enc_id")->valuedouble,
          "[ENC] id %lld", (long long)at_tokenizer_id(tok, "[ENC]"));
    const cJSON *c;
    int ncases = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(doc, "cases")) {
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        const char *hex = cJSON_GetObjectItem(c, "text_hex")->valuestring;
        int max_len = (int)cJSON_GetObjectItem(c, "max_length")->valuedouble;
        char *text = malloc(strlen(hex) / 2 + 1);
        size_t n = unhex(hex, text);
        text[n] = '\0';
        ncases++;

        int64_t *pieces = NULL;
        int64_t np = at_tokenize_pieces(tok, text, n, &pieces);
        const cJSON *want_pieces = cJSON_GetObjectItem(c, "piece_ids");
        bool ok = np >= 0 && ids_equal(pieces, want_pieces, (int)np);
        CHECK(ok, "case '%s' (max_length %d): word pieces differ", name, max_len);
        if (!ok && np >= 0) print_ids("got", pieces, np);
        /* the piece strings too, so a failure names the token */
        const cJSON *ws = cJSON_GetObjectItem(c, "pieces");
        for (int64_t i = 0; ok && i < np; i++) {
            const char *s = at_tokenizer_token(tok, pieces[i]);
            CHECK(s && strcmp(s, cJSON_GetArrayItem(ws, (int)i)->valuestring) == 0,
                  "case '%s': piece %lld is '%s', want '%s'", name, (long long)i, s ? s : "(null)",
                  cJSON_GetArrayItem(ws, (int)i)->valuestring);
        }
        free(pieces);

        int64_t ids[64], mask[64];
        int real = at_tokenize_n(tok, text, n, max_len, ids, mask);
        const cJSON *want_ids = cJSON_GetObjectItem(c, "input_ids");
        const cJSON *want_mask = cJSON_GetObjectItem(c, "attention_mask");
        int want_real = 0;
        for (int i = 0; i < cJSON_GetArraySize(want_mask); i++)
            want_real += (int)cJSON_GetArrayItem(want_mask, i)->valuedouble;
        CHECK(real == want_real, "case '%s': %d real tokens, want %d (%s)", name, real, want_real,
              real < 0 ? at_last_error() : "");
        ok = real >= 0 && ids_equal(ids, want_ids, max_len);
        CHECK(ok, "case '%s' (max_length %d): input_ids differ", name, max_len);
        if (!ok && real >= 0) print_ids("got", ids, max_len);
        CHECK(real >= 0 && ids_equal(mask, want_mask, max_len), "case '%s': attention_mask differs", name);
        /* [SEP] closes the real tokens even after truncation */
        CHECK(real >= 2 && ids[real - 1] == at_tokenizer_id(tok, "[SEP]"), "case '%s': [SEP] not last", name);

        /* the NUL-terminated entry point agrees when the text has no NUL */
        if (strlen(text) == n) {
            int64_t ids2[64], mask2[64];
            int real2 = at_tokenize(tok, text, max_len, ids2, mask2);
            CHECK(real2 == real && memcmp(ids, ids2, (size_t)max_len * sizeof *ids) == 0,
                  "case '%s': at_tokenize differs from at_tokenize_n", name);
        }
        free(text);
    }
    CHECK(ncases > 50, "only %d cases read", ncases);
    cJSON_Delete(doc);
}

/* Text that is not UTF-8 is refused with its offset; other misuse too. */
static void test_bad_input(const at_tokenizer *tok) {
    static const struct { const char *bytes; size_t n; size_t offset; } bad[] = {
        {"ab\x80", 3, 2},                 /* stray continuation byte */
        {"cat \xe4\xb8", 6, 4},          /* truncated 3-byte sequence */
        {"\xc0\xaf", 2, 0},               /* overlong "/" */
        {"x\xed\xa0\x80y", 5, 1},         /* encoded surrogate U+D800 */
        {"\xf4\x90\x80\x80", 4, 0},       /* beyond U+10FFFF */
        {"\xff", 1, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t ids[35], mask[35];
        int r = at_tokenize_n(tok, bad[i].bytes, bad[i].n, 35, ids, mask);
        char want[64];
        snprintf(want, sizeof want, "offset %zu", bad[i].offset);
        CHECK(r == -1 && strstr(at_last_error(), "UTF-8") && strstr(at_last_error(), want),
              "bad UTF-8 #%zu: got %d, error '%s'", i, r, at_last_error());
    }
    int64_t ids[35], mask[35];
    CHECK(at_tokenize(tok, "a cat", 1, ids, mask) == -1 && strstr(at_last_error(), "max_len 1"),
          "max_len 1: %s", at_last_error());
    CHECK(at_tokenize(tok, NULL, 35, ids, mask) == -1, "NULL text accepted");
    /* max_len 2: only [CLS] [SEP] */
    CHECK(at_tokenize(tok, "a cat", 2, ids, mask) == 2 && ids[0] == at_tokenizer_id(tok, "[CLS]") &&
              ids[1] == at_tokenizer_id(tok, "[SEP]"), "max_len 2");
    /* the mask is optional */
    CHECK(at_tokenize(tok, "a cat", 35, ids, NULL) == 4, "NULL mask");
}

/* Random valid UTF-8 of every kind of code point: no crash, sane output. */
static void test_random_text(const at_tokenizer *tok) {
    uint64_t s = 12345;
    char buf[4096];
    for (int iter = 0; iter < 300; iter++) {
        size_t n = 0;
        int len = 1 + (int)((s >> 33) % 400);
        for (int k = 0; k < len; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            uint32_t r = (uint32_t)(s >> 33);
            int32_t cp = r % 4 == 0 ? (int32_t)(r >> 2) % 128
                       : r % 4 == 1 ? (int32_t)(r >> 2) % 0x3000
                       : r % 4 == 2 ? 0x4E00 + (int32_t)(r >> 2) % 0x100
                                    : (int32_t)(r >> 2) % 0x110000;
            if (cp >= 0xD800 && cp <= 0xDFFF) cp = 'x';
            unsigned char *o = (unsigned char *)buf + n;
            if (cp < 0x80) { o[0] = (unsigned char)cp; n += 1; }
            else if (cp < 0x800) { o[0] = 0xC0 | cp >> 6; o[1] = 0x80 | (cp & 63); n += 2; }
            else if (cp < 0x10000) { o[0] = 0xE0 | cp >> 12; o[1] = 0x80 | (cp >> 6 & 63); o[2] = 0x80 | (cp & 63); n += 3; }
            else { o[0] = 0xF0 | cp >> 18; o[1] = 0x80 | (cp >> 12 & 63); o[2] = 0x80 | (cp >> 6 & 63); o[3] = 0x80 | (cp & 63); n += 4; }
        }
        int64_t ids[35], mask[35];
        int r = at_tokenize_n(tok, buf, n, 35, ids, mask);
        bool ok = r >= 2 && r <= 35;
        for (int i = 0; ok && i < 35; i++)
            ok = ids[i] >= 0 && ids[i] < at_tokenizer_size(tok) && mask[i] == (i < r);
        CHECK(ok, "random text %d: result %d (%s)", iter, r, r < 0 ? at_last_error() : "ids out of range");
    }
}

static void test_batch(const at_tokenizer *tok) {
    const char *texts[3] = {"a photo of a cat", "", "一只猫"};
    at_tensor *ids, *mask;
    CHECK(at_tokenize_batch(tok, texts, 3, 35, &ids, &mask) == 0, "batch: %s", at_last_error());
    if (!ids) return;
    CHECK(ids->dtype == AT_I64 && ids->ndim == 2 && ids->shape[0] == 3 && ids->shape[1] == 35 &&
              mask->shape[0] == 3, "batch shapes");
    for (int i = 0; i < 3; i++) {
        int64_t row[35], mrow[35];
        at_tokenize(tok, texts[i], 35, row, mrow);
        CHECK(memcmp(row, (int64_t *)at_data(ids) + i * 35, sizeof row) == 0 &&
                  memcmp(mrow, (int64_t *)at_data(mask) + i * 35, sizeof mrow) == 0,
              "batch row %d differs", i);
    }
    at_release(ids);
    at_release(mask);
    const char *bad[2] = {"fine", "\xff"};
    CHECK(at_tokenize_batch(tok, bad, 2, 35, &ids, &mask) == -1 && !ids && !mask &&
              strstr(at_last_error(), "text 2 of 2"), "bad batch: %s", at_last_error());
}

/* ---- vocab.txt parsing ---- */

static at_tokenizer *load_text(const char *dir, const char *bytes, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/v.txt", dir);
    write_file(path, bytes, n);
    return at_tokenizer_load(path);
}

static void test_vocab_files(const char *dir) {
    /* \r\n, \r and a missing final newline all end lines, as in Python */
    const char crlf[] = "[PAD]\r\n[UNK]\r[CLS]\n[SEP]\r\ncat\r\n##s";
    at_tokenizer *t = load_text(dir, crlf, sizeof crlf - 1);
    CHECK(t && at_tokenizer_id(t, "cat") == 4 && at_tokenizer_id(t, "##s") == 5 &&
              at_tokenizer_id(t, "[DEC]") == 6 && at_tokenizer_id(t, "[ENC]") == 7 && at_tokenizer_size(t) == 8,
          "CRLF vocab: %s", t ? "wrong ids" : at_last_error());
    if (t) {
        int64_t ids[8], mask[8];
        int r = at_tokenize(t, "Cats [MASK]", 8, ids, mask);
        /* no [MASK] in this vocab: it maps to [UNK], as transformers does */
        CHECK(r == 5 && ids[0] == 2 && ids[1] == 4 && ids[2] == 5 && ids[3] == 1 && ids[4] == 3 && ids[5] == 0,
              "CRLF vocab tokenize: %d", r);
    }
    at_tokenizer_free(t);

    /* a repeated token keeps its last line; added ids follow the distinct count */
    const char dup[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\ncat\ncat\ndog\n";
    t = load_text(dir, dup, sizeof dup - 1);
    CHECK(t && at_tokenizer_id(t, "cat") == 5 && at_tokenizer_id(t, "[DEC]") == 6 &&
              at_tokenizer_id(t, "[ENC]") == 7, "duplicate tokens");
    at_tokenizer_free(t);

    /* [DEC] already in the file: its line id, and [ENC] takes the next */
    const char has_dec[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[DEC]\nx\n";
    t = load_text(dir, has_dec, sizeof has_dec - 1);
    CHECK(t && at_tokenizer_id(t, "[DEC]") == 4 && at_tokenizer_id(t, "[ENC]") == 6 &&
              strcmp(at_tokenizer_token(t, 6), "[ENC]") == 0 && at_tokenizer_token(t, 7) == NULL,
          "[DEC] in vocab");
    at_tokenizer_free(t);

    const char no_unk[] = "[PAD]\n[CLS]\n[SEP]\n";
    t = load_text(dir, no_unk, sizeof no_unk - 1);
    CHECK(!t && strstr(at_last_error(), "[UNK]") && strstr(at_last_error(), "v.txt"),
          "vocab without [UNK]: %s", at_last_error());
    at_tokenizer_free(t);

    t = load_text(dir, "", 0);
    CHECK(!t && strstr(at_last_error(), "[PAD] [UNK] [CLS] [SEP]"), "empty vocab: %s", at_last_error());
    at_tokenizer_free(t);

    const char bad_utf8[] = "[PAD]\n[UNK]\nca\xfft\n[CLS]\n[SEP]\n";
    t = load_text(dir, bad_utf8, sizeof bad_utf8 - 1);
    CHECK(!t && strstr(at_last_error(), "line 3") && strstr(at_last_error(), "UTF-8"),
          "vocab with bad UTF-8: %s", at_last_error());
    at_tokenizer_free(t);

    /* a checkpoint passed as the vocab: refused, not read as tokens */
    char bin[600];
    for (size_t i = 0; i < sizeof bin; i++) bin[i] = (char)(i * 37 + 11);
    t = load_text(dir, bin, sizeof bin);
    CHECK(!t, "binary file accepted as a vocab");
    at_tokenizer_free(t);

    t = at_tokenizer_load("/nonexistent/dir/vocab.txt");
    CHECK(!t && strstr(at_last_error(), "/nonexistent/dir/vocab.txt"), "missing vocab: %s", at_last_error());
    CHECK(at_tokenizer_load(NULL) == NULL, "NULL path");
}

/* ---- finding vocab.txt ---- */

static void mkdirs(const char *path) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    mkdir(tmp, 0755);
}

static void touch_vocab(const char *dir) {
    char p[1024];
    mkdirs(dir);
    snprintf(p, sizeof p, "%s/vocab.txt", dir);
    write_file(p, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n", 24);
}

static bool ends_with(const char *s, const char *tail) {
    size_t a = s ? strlen(s) : 0, b = strlen(tail);
    return a >= b && strcmp(s + a - b, tail) == 0;
}

static void test_find_vocab(const char *dir) {
    const char *envs[] = {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "TRANSFORMERS_CACHE", "HF_HOME", "XDG_CACHE_HOME"};
    for (size_t i = 0; i < sizeof envs / sizeof *envs; i++) unsetenv(envs[i]);
    char home[512], p[1024], ckpt[1024];
    snprintf(home, sizeof home, "%s/home", dir);
    mkdirs(home);
    setenv("HOME", home, 1);

    /* nothing anywhere: the error lists each place */
    snprintf(ckpt, sizeof ckpt, "%s/ckpt/ImageReward.pt", dir);
    char *found = at_tokenizer_find_vocab(NULL, ckpt);
    CHECK(!found && strstr(at_last_error(), "/ckpt/vocab.txt") &&
              strstr(at_last_error(), "home/.cache/huggingface/hub/models--bert-base-uncased/snapshots/*/vocab.txt") &&
              strstr(at_last_error(), "models--google-bert--bert-base-uncased"),
          "nothing found: %s", at_last_error());
    free(found);

    /* the hub cache under HOME: any snapshot, then the one refs/main names */
    snprintf(p, sizeof p, "%s/.cache/huggingface/hub/models--bert-base-uncased/snapshots/aaa", home);
    touch_vocab(p);
    found = at_tokenizer_find_vocab(NULL, ckpt);
    CHECK(ends_with(found, "snapshots/aaa/vocab.txt"), "HOME cache: %s", found ? found : at_last_error());
    free(found);
    snprintf(p, sizeof p, "%s/.cache/huggingface/hub/models--bert-base-uncased/snapshots/bbb", home);
    touch_vocab(p);
    snprintf(p, sizeof p, "%s/.cache/huggingface/hub/models--bert-base-uncased/refs", home);
    mkdirs(p);
    strcat(p, "/main");
    write_file(p, "bbb\n", 4);
    found = at_tokenizer_find_vocab(NULL, ckpt);
    CHECK(ends_with(found, "snapshots/bbb/vocab.txt"), "refs/main: %s", found ? found : at_last_error());
    free(found);

    /* HF_HOME comes before HOME's default */
    snprintf(p, sizeof p, "%s/hfhome/hub/models--google-bert--bert-base-uncased/snapshots/ccc", dir);
    touch_vocab(p);
    snprintf(p, sizeof p, "%s/hfhome", dir);
    setenv("HF_HOME", p, 1);
    found = at_tokenizer_find_vocab(NULL, NULL);
    CHECK(ends_with(found, "hfhome/hub/models--google-bert--bert-base-uncased/snapshots/ccc/vocab.txt"),
          "HF_HOME: %s", found ? found : at_last_error());
    free(found);

    /* HUGGINGFACE_HUB_CACHE before HF_HOME */
    snprintf(p, sizeof p, "%s/hubcache/models--bert-base-uncased/snapshots/ddd", dir);
    touch_vocab(p);
    snprintf(p, sizeof p, "%s/hubcache", dir);
    setenv("HUGGINGFACE_HUB_CACHE", p, 1);
    found = at_tokenizer_find_vocab(NULL, NULL);
    CHECK(ends_with(found, "hubcache/models--bert-base-uncased/snapshots/ddd/vocab.txt"),
          "HUGGINGFACE_HUB_CACHE: %s", found ? found : at_last_error());
    free(found);

    /* beside the checkpoint beats the cache */
    snprintf(p, sizeof p, "%s/ckpt", dir);
    touch_vocab(p);
    found = at_tokenizer_find_vocab(NULL, ckpt);
    CHECK(ends_with(found, "/ckpt/vocab.txt"), "beside checkpoint: %s", found ? found : at_last_error());
    free(found);

    /* an explicit file or folder beats everything; a missing one is an error */
    snprintf(p, sizeof p, "%s/ckpt/vocab.txt", dir);
    found = at_tokenizer_find_vocab(p, NULL);
    CHECK(found && strcmp(found, p) == 0, "explicit file");
    free(found);
    snprintf(p, sizeof p, "%s/hubcache/models--bert-base-uncased/snapshots/ddd", dir);
    found = at_tokenizer_find_vocab(p, ckpt);
    CHECK(ends_with(found, "ddd/vocab.txt"), "explicit folder");
    free(found);
    found = at_tokenizer_find_vocab("/no/such/vocab.txt", ckpt);
    CHECK(!found && strstr(at_last_error(), "/no/such/vocab.txt"), "explicit missing: %s", at_last_error());
    free(found);
    for (size_t i = 0; i < sizeof envs / sizeof *envs; i++) unsetenv(envs[i]);
}

/* Ids of the real bert-base-uncased, when its vocab is in the cache. */
static void test_real_vocab(void) {
    char *path = at_tokenizer_find_vocab(NULL, NULL);
    at_tokenizer *tok = path ? at_tokenizer_load(path) : NULL;
    if (!tok || at_tokenizer_size(tok) != 30524) {
        printf("real bert-base-uncased vocab not found in the HF cache: those checks skipped\n");
    } else {
        int64_t ids[35], mask[35];
        int r = at_tokenize(tok, "Hello world", 35, ids, mask);
        CHECK(r == 4 && ids[0] == 101 && ids[1] == 7592 && ids[2] == 2088 && ids[3] == 102 && ids[4] == 0,
              "real vocab: 'Hello world'");
        CHECK(at_tokenizer_id(tok, "[DEC]") == 30522 && at_tokenizer_id(tok, "[ENC]") == 30523 &&
                  at_tokenizer_id(tok, "[UNK]") == 100 && at_tokenizer_id(tok, "[MASK]") == 103,
              "real vocab special ids");
    }
    at_tokenizer_free(tok);
    free(path);
}

int main(void) {
    test_real_vocab();   /* before test_find_vocab changes HOME */
    at_tokenizer *tok = at_tokenizer_load(FIXTURES "/vocab.txt");
    CHECK(tok != NULL, "load fixture vocab: %s", at_last_error());
    if (!tok) return check_summary();
    at_special_ids sp = at_tokenizer_special_ids(tok);
    CHECK(sp.pad == 0 && sp.unk == 100 && sp.cls == 101 && sp.sep == 102 && sp.mask == 103,
          "special ids %lld %lld %lld %lld %lld", (long long)sp.pad, (long long)sp.unk, (long long)sp.cls,
          (long long)sp.sep, (long long)sp.mask);
    test_cases(tok);
    test_bad_input(tok);
    test_random_text(tok);
    test_batch(tok);
    at_tokenizer_free(tok);

    char dir[] = "/tmp/aapmt_tokenizer_XXXXXX";
    if (mkdtemp(dir)) {
        test_vocab_files(dir);
        test_find_vocab(dir);
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        CHECK(system(cmd) == 0, "cleanup %s", dir);
    } else {
        CHECK(0, "mkdtemp failed");
    }
    return check_summary();
}

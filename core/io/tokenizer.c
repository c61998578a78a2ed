/* The BERT tokenizer: vocab.txt (finding and reading it), WordPiece, and the
 * [CLS] … [SEP] / truncate / pad framing ImageReward feeds its text encoder.
 * Text to words is in tokenizer_text.c. */
#include "tokenizer.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "read_whole.h"


struct at_tokenizer {
    char *text;            /* the file's bytes, each line's end overwritten by NUL */
    int64_t nlines;
    char **line;           /* token of each line (into text) */
    size_t *line_len;      /* its length in bytes (a token may hold a NUL) */
    int64_t *slot;         /* open-addressing hash: line index + 1, 0 = empty */
    size_t nslots;
    int64_t nunique;       /* distinct tokens: transformers' len(vocab) */
    size_t max_token_bytes;
    at_special_ids sp;
    int64_t size;
};

/* ---- the vocabulary hash ---- */

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* The slot holding token s, or the empty slot where it would go. */
static size_t find_slot(const at_tokenizer *t, const char *s, size_t n) {
    size_t i = (size_t)hash_bytes(s, n) & (t->nslots - 1);
    for (;;) {
        int64_t l = t->slot[i];
        if (l == 0) return i;
        if (t->line_len[l - 1] == n && memcmp(t->line[l - 1], s, n) == 0) return i;
        i = (i + 1) & (t->nslots - 1);
    }
}

static int64_t vocab_lookup(const at_tokenizer *t, const char *s, size_t n) {
    int64_t l = t->slot[find_slot(t, s, n)];
    return l ? l - 1 : -1;
}

int64_t at_tokenizer_id(const at_tokenizer *tok, const char *token) {
    if (!tok || !token) return -1;
    if (strcmp(token, "[DEC]") == 0) return tok->sp.dec;
    if (strcmp(token, "[ENC]") == 0) return tok->sp.enc;
    return vocab_lookup(tok, token, strlen(token));
}

const char *at_tokenizer_token(const at_tokenizer *tok, int64_t id) {
    if (!tok || id < 0) return NULL;
    if (id == tok->sp.dec) return "[DEC]";
    if (id == tok->sp.enc) return "[ENC]";
    return id < tok->nlines ? tok->line[id] : NULL;
}

int64_t at_tokenizer_size(const at_tokenizer *tok) { return tok ? tok->size : 0; }

at_special_ids at_tokenizer_special_ids(const at_tokenizer *tok) { return tok->sp; }

/* ---- reading vocab.txt ---- */

void at_tokenizer_free(at_tokenizer *tok) {
    if (!tok) return;
    free(tok->text);
    free(tok->line);
    free(tok->line_len);
    free(tok->slot);
    free(tok);
}

/* Splits the text into lines as Python's universal newlines do (\n, \r\n
 * and \r each end a line; a last line without one still counts) and checks
 * each is UTF-8, as Python's strict decoder would. */
static int split_lines(at_tokenizer *t, size_t n, const char *path) {
    int64_t cap = 0;
    size_t pos = 0;
    while (pos < n) {
        size_t end = pos;
        while (end < n && t->text[end] != '\n' && t->text[end] != '\r') end++;
        for (size_t p = pos; p < end;) {
            utf8proc_int32_t c;
            utf8proc_ssize_t len = utf8proc_iterate((const utf8proc_uint8_t *)t->text + p,
                                                    (utf8proc_ssize_t)(end - p), &c);
            if (len <= 0) {
                at_set_error("tokenizer: %s line %lld is not valid UTF-8 (byte offset %zu)", path,
                             (long long)t->nlines + 1, p);
                return -1;
            }
            p += (size_t)len;
        }
        if (t->nlines == cap) {
            cap = cap ? cap * 2 : 32768;
            char **nl = realloc(t->line, (size_t)cap * sizeof *nl);
            if (nl) t->line = nl;
            size_t *nn = realloc(t->line_len, (size_t)cap * sizeof *nn);
            if (nn) t->line_len = nn;
            if (!nl || !nn) {
                at_set_error("tokenizer: out of memory reading %s", path);
                return -1;
            }
        }
        t->line[t->nlines] = t->text + pos;
        t->line_len[t->nlines++] = end - pos;
        size_t next = end + 1;
        if (end + 1 < n && t->text[end] == '\r' && t->text[end + 1] == '\n') next++;
        t->text[end] = '\0';   /* the terminator (or the buffer's final NUL) */
        pos = next;
    }
    return 0;
}

static int build_hash(at_tokenizer *t) {
    t->nslots = 16;
    while (t->nslots < (size_t)t->nlines * 2) t->nslots *= 2;
    t->slot = calloc(t->nslots, sizeof *t->slot);
    if (!t->slot) {
        at_set_error("tokenizer: out of memory hashing %lld tokens", (long long)t->nlines);
        return -1;
    }
    for (int64_t i = 0; i < t->nlines; i++) {
        size_t s = find_slot(t, t->line[i], t->line_len[i]);
        if (t->slot[s] == 0) t->nunique++;
        t->slot[s] = i + 1;   /* a repeated token: the last line wins, as in Python's dict */
        if (t->line_len[i] > t->max_token_bytes) t->max_token_bytes = t->line_len[i];
    }
    return 0;
}

/* transformers maps the special tokens through the vocabulary, and adds
 * [DEC] and [ENC] (ids len(vocab), len(vocab)+1) only when it lacks them. */
static int resolve_special(at_tokenizer *t, const char *path) {
    const char *need[4] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]"};
    int64_t *dst[4] = {&t->sp.pad, &t->sp.unk, &t->sp.cls, &t->sp.sep};
    char missing[64] = "";
    for (int i = 0; i < 4; i++) {
        *dst[i] = vocab_lookup(t, need[i], strlen(need[i]));
        if (*dst[i] < 0) strcat(strcat(missing, " "), need[i]);
    }
    if (missing[0]) {
        at_set_error("tokenizer: %s lacks%s: not a BERT vocab.txt (%lld lines)", path, missing,
                     (long long)t->nlines);
        return -1;
    }
    t->sp.mask = vocab_lookup(t, "[MASK]", 6);
    if (t->sp.mask < 0) t->sp.mask = t->sp.unk;
    int64_t next = t->nunique;
    t->sp.dec = vocab_lookup(t, "[DEC]", 5);
    if (t->sp.dec < 0) t->sp.dec = next++;
    t->sp.enc = vocab_lookup(t, "[ENC]", 5);
    if (t->sp.enc < 0) t->sp.enc = next++;
    t->size = t->nlines;
    if (t->sp.dec + 1 > t->size) t->size = t->sp.dec + 1;
    if (t->sp.enc + 1 > t->size) t->size = t->sp.enc + 1;
    return 0;
}

at_tokenizer *at_tokenizer_load(const char *vocab_path) {
    if (!vocab_path) {
        at_set_error("tokenizer: no vocabulary path given");
        return NULL;
    }
    at_tokenizer *t = calloc(1, sizeof *t);
    size_t n = 0;
    if (!t || !(t->text = at_read_whole(vocab_path, &AT_TEXT_FILE, &n, "tokenizer: vocabulary %s", vocab_path))) {
        if (!t) at_set_error("tokenizer: out of memory");
        at_tokenizer_free(t);
        return NULL;
    }
    if (split_lines(t, n, vocab_path) || build_hash(t) || resolve_special(t, vocab_path)) {
        at_tokenizer_free(t);
        return NULL;
    }
    return t;
}

/* ---- WordPiece ---- */

typedef struct {
    int64_t *v;
    int64_t n, cap;
} id_vec;

static bool id_push(id_vec *a, int64_t id) {
    if (a->n == a->cap) {
        int64_t cap2 = a->cap ? a->cap * 2 : 64;
        int64_t *nv = realloc(a->v, (size_t)cap2 * sizeof *nv);
        if (!nv) return false;
        a->v = nv;
        a->cap = cap2;
    }
    a->v[a->n++] = id;
    return true;
}

/* Greedy longest-match-first over one word of n code points. */
static bool wordpiece(const at_tokenizer *t, const int32_t *cps, int64_t n, id_vec *out) {
    if (n > AT_TOKENIZER_MAX_WORD_CHARS) return id_push(out, t->sp.unk);
    char utf8[AT_TOKENIZER_MAX_WORD_CHARS * 4];
    size_t off[AT_TOKENIZER_MAX_WORD_CHARS + 1];
    off[0] = 0;
    for (int64_t i = 0; i < n; i++)
        off[i + 1] = off[i] + (size_t)utf8proc_encode_char(cps[i], (utf8proc_uint8_t *)utf8 + off[i]);
    char key[2 + sizeof utf8] = "##";
    int64_t first_piece = out->n;
    for (int64_t start = 0; start < n;) {
        size_t prefix = start > 0 ? 2 : 0;
        int64_t id = -1, end = n;
        for (; end > start; end--) {
            size_t len = prefix + off[end] - off[start];
            if (len > t->max_token_bytes) continue;   /* longer than any token */
            memcpy(key + 2, utf8 + off[start], off[end] - off[start]);
            id = vocab_lookup(t, key + 2 - prefix, len);
            if (id >= 0) break;
        }
        if (id < 0) {   /* no piece fits here: the whole word is unknown */
            out->n = first_piece;
            return id_push(out, t->sp.unk);
        }
        if (!id_push(out, id)) return false;
        start = end;
    }
    return true;
}

/* ---- whole prompts ---- */

/* The special tokens transformers splits out before anything else. */
static int64_t match_special(const at_tokenizer *t, const int32_t *c, int64_t left, int64_t *len) {
    static const char *names[7] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", "[ENC]"};
    const int64_t ids[7] = {t->sp.pad, t->sp.unk, t->sp.cls, t->sp.sep, t->sp.mask, t->sp.dec, t->sp.enc};
    for (int k = 0; k < 7; k++) {
        int64_t m = (int64_t)strlen(names[k]), i = 0;
        while (i < m && i < left && c[i] == names[k][i]) i++;
        if (i == m) {
            *len = m;
            return ids[k];
        }
    }
    return -1;
}

static bool tokenize_segment(const at_tokenizer *t, const int32_t *cps, int64_t n, id_vec *out) {
    if (n == 0) return true;
    at_words w = {0};
    bool ok = at_basic_tokenize(cps, n, &w) == 0;
    for (int64_t i = 0; ok && i < w.count; i++)
        ok = wordpiece(t, w.cps + w.start[i], w.start[i + 1] - w.start[i], out);
    at_words_free(&w);
    return ok;
}

int64_t at_tokenize_pieces(const at_tokenizer *tok, const char *text, size_t nbytes, int64_t **pieces) {
    *pieces = NULL;
    if (!tok || (!text && nbytes)) {
        at_set_error("tokenize: no %s given", tok ? "text" : "tokenizer");
        return -1;
    }
    int32_t *cps;
    int64_t n = at_utf8_decode(text, nbytes, &cps);
    if (n < 0) return -1;
    id_vec out = {0};
    bool ok = true;
    int64_t seg = 0;
    for (int64_t i = 0; i < n && ok;) {
        int64_t len, id = cps[i] == '[' ? match_special(tok, cps + i, n - i, &len) : -1;
        if (id < 0) {
            i++;
            continue;
        }
        ok = tokenize_segment(tok, cps + seg, i - seg, &out) && id_push(&out, id);
        i += len;
        seg = i;
    }
    /* cps is NULL for an empty text, and NULL + 0 is undefined in C. */
    if (ok && n > seg) ok = tokenize_segment(tok, cps + seg, n - seg, &out);
    free(cps);
    if (!ok) {
        free(out.v);
        at_set_error("tokenize: out of memory on a text of %zu bytes", nbytes);
        return -1;
    }
    *pieces = out.v;
    return out.n;
}

int at_tokenize_n(const at_tokenizer *tok, const char *text, size_t nbytes, int max_len,
                  int64_t *ids, int64_t *mask) {
    if (max_len < 2) {
        at_set_error("tokenize: max_len %d is too small ([CLS] and [SEP] need 2)", max_len);
        return -1;
    }
    int64_t *pieces;
    int64_t n = at_tokenize_pieces(tok, text, nbytes, &pieces);
    if (n < 0) return -1;
    int keep = n < max_len - 2 ? (int)n : max_len - 2;   /* truncation drops from the right */
    ids[0] = tok->sp.cls;
    if (keep > 0) memcpy(ids + 1, pieces, (size_t)keep * sizeof *ids);
    ids[keep + 1] = tok->sp.sep;
    for (int i = 0; i < max_len; i++) {
        if (i >= keep + 2) ids[i] = tok->sp.pad;
        if (mask) mask[i] = i < keep + 2;
    }
    free(pieces);
    return keep + 2;
}

int at_tokenize(const at_tokenizer *tok, const char *text, int max_len, int64_t *ids, int64_t *mask) {
    if (!text) {
        at_set_error("tokenize: no text given (NULL)");
        return -1;
    }
    return at_tokenize_n(tok, text, strlen(text), max_len, ids, mask);
}

int at_tokenize_batch(const at_tokenizer *tok, const char *const *texts, int n, int max_len,
                      at_tensor **ids, at_tensor **mask) {
    *ids = *mask = NULL;
    if (n < 0 || max_len < 2) {
        at_set_error("tokenize: batch of %d texts with max_len %d (need n >= 0, max_len >= 2)", n, max_len);
        return -1;
    }
    int64_t shape[2] = {n, max_len};
    at_tensor *t_ids = at_empty(AT_I64, 2, shape), *t_mask = at_empty(AT_I64, 2, shape);
    bool ok = t_ids && t_mask;
    for (int i = 0; ok && i < n; i++) {
        int64_t *row = (int64_t *)at_data(t_ids) + (size_t)i * (size_t)max_len;
        int64_t *mrow = (int64_t *)at_data(t_mask) + (size_t)i * (size_t)max_len;
        if (at_tokenize(tok, texts[i], max_len, row, mrow) < 0) {
            char inner[768];
            snprintf(inner, sizeof inner, "%s", at_last_error());
            at_set_error("%s (text %d of %d in the batch)", inner, i + 1, n);
            ok = false;
        }
    }
    if (!ok) {
        at_release(t_ids);
        at_release(t_mask);
        return -1;
    }
    *ids = t_ids;
    *mask = t_mask;
    return 0;
}

/* Text to words for the BERT tokenizer: transformers' per-character
 * lower-casing and BasicTokenizer (clean, CJK spacing, strip accents,
 * whitespace and punctuation split), on code points, with utf8proc's tables.
 *
 * Python runs these steps token by token (clean → CJK → split on whitespace
 * → lower → NFD → drop Mn → split on punctuation → split on whitespace). We
 * run them as one pass over the code points, which gives the same words:
 * every step but NFD maps one character at a time, and NFD's canonical
 * reordering never crosses a space (spaces have combining class 0). */
#include "tokenizer.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ---- character classes, as transformers and CPython define them ---- */

/* tokenization_utils._is_control: category C* (Cc Cf Cs Co Cn), except the
 * three controls BERT treats as whitespace. */
static bool is_control(int32_t c) {
    if (c == '\t' || c == '\n' || c == '\r') return false;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CN:
        return true;
    default:
        return false;
    }
}

/* tokenization_utils._is_whitespace. */
static bool is_bert_whitespace(int32_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
           utf8proc_category(c) == UTF8PROC_CATEGORY_ZS;
}

/* What Python's str.split() splits on (CPython's makeunicodedata: category
 * Zs or bidirectional class WS, B or S). After cleaning, only the space,
 * U+2028 and U+2029 are left of these. */
static bool is_python_space(int32_t c) {
    const utf8proc_property_t *p = utf8proc_get_property(c);
    return p->category == UTF8PROC_CATEGORY_ZS || p->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
           p->bidi_class == UTF8PROC_BIDI_CLASS_B || p->bidi_class == UTF8PROC_BIDI_CLASS_S;
}

/* tokenization_utils._is_punctuation: all non-alphanumeric printable ASCII
 * (so $ + < = > ^ ` | ~ count, though Unicode files them as symbols), and
 * category P*. */
static bool is_punctuation(int32_t c) {
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
        (c >= 123 && c <= 126))
        return true;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return true;
    default:
        return false;
    }
}

/* BasicTokenizer._is_chinese_char: the CJK Unified Ideographs blocks only
 * (not Hangul, kana or CJK punctuation). */
static bool is_cjk(int32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* Python's str.lower() of one character: the simple mapping, except U+0130
 * (capital I with dot), the only character whose full lower-case mapping is
 * longer (i + combining dot above). Checked against CPython for every code
 * point. The final-sigma rule never applies: transformers lowers one
 * character at a time. */
static int lower_char(int32_t c, int32_t out[2]) {
    if (c == 0x130) {
        out[0] = 'i';
        out[1] = 0x307;
        return 2;
    }
    out[0] = utf8proc_tolower(c);
    return 1;
}

/* ---- growable arrays ---- */

typedef struct {
    int32_t *v;
    int64_t n, cap;
} cp_vec;

static bool cp_reserve(int32_t **v, int64_t *cap, int64_t need) {
    if (need <= *cap) return true;
    int64_t cap2 = *cap ? *cap : 64;
    while (cap2 < need) cap2 *= 2;
    int32_t *nv = realloc(*v, (size_t)cap2 * sizeof **v);
    if (!nv) return false;
    *v = nv;
    *cap = cap2;
    return true;
}

static bool cp_push(cp_vec *a, int32_t c) {
    if (!cp_reserve(&a->v, &a->cap, a->n + 1)) return false;
    a->v[a->n++] = c;
    return true;
}

void at_words_free(at_words *w) {
    if (!w) return;
    free(w->cps);
    free(w->start);
    memset(w, 0, sizeof *w);
}

/* Closes the word being built (if it has any characters). */
static bool words_close(at_words *w, int64_t *open_from) {
    if (w->ncps == *open_from) return true;
    if (w->count + 2 > w->start_cap) {
        int64_t cap2 = w->start_cap ? w->start_cap * 2 : 64;
        int64_t *ns = realloc(w->start, (size_t)cap2 * sizeof *ns);
        if (!ns) return false;
        w->start = ns;
        w->start_cap = cap2;
    }
    w->start[w->count] = *open_from;
    w->start[++w->count] = w->ncps;
    *open_from = w->ncps;
    return true;
}

static bool words_add_char(at_words *w, int32_t c) {
    if (!cp_reserve(&w->cps, &w->cps_cap, w->ncps + 1)) return false;
    w->cps[w->ncps++] = c;
    return true;
}

/* ---- UTF-8 ---- */

int64_t at_utf8_decode(const char *text, size_t nbytes, int32_t **out) {
    *out = NULL;
    if (nbytes == 0) return 0;
    int32_t *cps = malloc(nbytes * sizeof *cps);   /* at most one code point per byte */
    if (!cps) {
        at_set_error("tokenize: out of memory decoding %zu bytes of text", nbytes);
        return -1;
    }
    const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)text;
    size_t pos = 0;
    int64_t n = 0;
    while (pos < nbytes) {
        utf8proc_int32_t c;
        utf8proc_ssize_t len = utf8proc_iterate(s + pos, (utf8proc_ssize_t)(nbytes - pos), &c);
        if (len <= 0) {
            at_set_error("tokenize: text is not valid UTF-8 (byte 0x%02X at offset %zu)",
                         s[pos], pos);
            free(cps);
            return -1;
        }
        cps[n++] = c;
        pos += (size_t)len;
    }
    *out = cps;
    return n;
}

/* ---- BasicTokenizer ---- */

/* Appends the canonical decomposition of c to a, keeping canonical order:
 * a mark moves before earlier marks of a higher combining class (stable). */
static bool append_nfd(cp_vec *a, int32_t c) {
    utf8proc_int32_t dec[32];
    int boundclass = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(c, dec, 32, UTF8PROC_DECOMPOSE, &boundclass);
    if (n < 0 || n > 32) {   /* cannot happen for a valid code point */
        dec[0] = c;
        n = 1;
    }
    for (utf8proc_ssize_t i = 0; i < n; i++) {
        if (!cp_push(a, dec[i])) return false;
        int ccc = utf8proc_get_property(dec[i])->combining_class;
        for (int64_t j = a->n - 1; ccc != 0 && j > 0; j--) {
            int prev = utf8proc_get_property(a->v[j - 1])->combining_class;
            if (prev <= ccc) break;
            int32_t t = a->v[j - 1];
            a->v[j - 1] = a->v[j];
            a->v[j] = t;
        }
    }
    return true;
}

int at_basic_tokenize(const int32_t *cps, int64_t n, at_words *words) {
    cp_vec nfd = {0};
    bool ok = true;
    /* Lower, clean, space out CJK, decompose. */
    for (int64_t i = 0; i < n && ok; i++) {
        int32_t low[2];
        int nl = lower_char(cps[i], low);
        for (int k = 0; k < nl && ok; k++) {
            int32_t c = low[k];
            if (c == 0 || c == 0xFFFD || is_control(c)) continue;
            if (is_bert_whitespace(c))
                ok = cp_push(&nfd, ' ');
            else if (is_cjk(c))
                ok = cp_push(&nfd, ' ') && append_nfd(&nfd, c) && cp_push(&nfd, ' ');
            else
                ok = append_nfd(&nfd, c);
        }
    }
    /* Drop non-spacing marks (the accents); split on whitespace and around
     * punctuation. */
    int64_t open_from = words->ncps;
    for (int64_t i = 0; i < nfd.n && ok; i++) {
        int32_t c = nfd.v[i];
        if (utf8proc_category(c) == UTF8PROC_CATEGORY_MN) continue;
        if (is_python_space(c)) {
            ok = words_close(words, &open_from);
        } else if (is_punctuation(c)) {
            ok = words_close(words, &open_from) && words_add_char(words, c) &&
                 words_close(words, &open_from);
        } else {
            ok = words_add_char(words, c);
        }
    }
    if (ok) ok = words_close(words, &open_from);
    free(nfd.v);
    if (!ok) {
        at_set_error("tokenize: out of memory splitting %lld characters into words", (long long)n);
        return -1;
    }
    return 0;
}

/* The text tokenizer of ImageReward: Hugging Face's slow BertTokenizer for
 * bert-base-uncased, with [DEC] and [ENC] added after the vocabulary, called
 * as tokenizer(prompt, padding='max_length', truncation=True, max_length=35).
 * Background: docs/imagereward.md §1.3.
 *
 * Pipeline for one prompt (exactly transformers' order):
 *  1. special tokens ([PAD] [UNK] [CLS] [SEP] [MASK] [DEC] [ENC], exact,
 *     case-sensitive) are split out and map straight to their ids;
 *  2. the rest is lower-cased one code point at a time (Python str.lower of
 *     each character, as transformers' regex does: so no final-sigma rule);
 *  3. BasicTokenizer: drop U+0000, U+FFFD and category C* (but \t \n \r);
 *     whitespace (\t \n \r, Zs) becomes a space; spaces around CJK
 *     ideographs; NFD, then drop category Mn; split on Python whitespace and
 *     around punctuation (ASCII 33-47, 58-64, 91-96, 123-126, and P*);
 *  4. WordPiece per word: longer than 100 code points → [UNK]; else greedy
 *     longest match from the left, continuations prefixed "##"; any
 *     unmatched position turns the whole word into [UNK].
 *  5. [CLS] + the first max_len-2 pieces + [SEP], padded with [PAD] to max_len.
 *
 * Unicode data comes from utf8proc (Unicode 15.0 in Debian's 2.8). Checked
 * against CPython 3.11 (Unicode 14.0) over every code point: category,
 * lower-casing (str.lower), NFD and str.split's whitespace agree except on
 * the 4489 code points new in Unicode 15, which Python 3.11 drops as
 * unassigned (Cn) where we keep them. Python 3.12 uses Unicode 15.0 too, so
 * it should agree everywhere.
 *
 * A loaded tokenizer is read-only: threads may tokenize with it at once.
 *
 * Input text must be valid UTF-8: anything else (bad bytes, overlong forms,
 * encoded surrogates) is an error naming the byte offset, where Python would
 * have failed to decode it in the first place. */
#ifndef AAPMT_TOKENIZER_H
#define AAPMT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "../tensor.h"

#define AT_TOKENIZER_MAX_LEN 35          /* ImageReward's max_length */
#define AT_TOKENIZER_MAX_WORD_CHARS 100  /* WordPiece's max_input_chars_per_word */

typedef struct at_tokenizer at_tokenizer;

/* Where vocab.txt is: explicit_path (a file, or a folder holding vocab.txt)
 * when given, and then nothing else; else vocab.txt beside checkpoint_path
 * (when given); else bert-base-uncased (or google-bert/bert-base-uncased) in
 * the Hugging Face hub cache: $HF_HUB_CACHE, $HUGGINGFACE_HUB_CACHE,
 * $TRANSFORMERS_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub,
 * ~/.cache/huggingface/hub, the snapshot named by refs/main first. Returns a
 * malloc'd path, or NULL with an error listing every place it looked. */
char *at_tokenizer_find_vocab(const char *explicit_path, const char *checkpoint_path);

/* Reads a vocab.txt as transformers does: UTF-8, one token per line (\n,
 * \r\n or \r end a line), id = line number from 0, a repeated token keeps its
 * last line. [PAD], [UNK], [CLS] and [SEP] must be present. [DEC] and [ENC]
 * take the next free ids (30522 and 30523 for bert-base-uncased) unless the
 * file already has them. The file is read as text (read_whole.h): at most
 * 2 GiB (AAPMT_MAX_TEXT_BYTES), and a NUL byte is refused. */
at_tokenizer *at_tokenizer_load(const char *vocab_path);
void at_tokenizer_free(at_tokenizer *tok);   /* NULL is fine */

/* Number of ids in use, added tokens included (30524 for bert-base-uncased):
 * the vocabulary size the text embedding needs. */
int64_t at_tokenizer_size(const at_tokenizer *tok);
/* Id of an exact token string ("[CLS]", "##ing", "[DEC]"); -1 if absent. */
int64_t at_tokenizer_id(const at_tokenizer *tok, const char *token);
/* Token string of an id (borrowed); NULL when the id is out of range. */
const char *at_tokenizer_token(const at_tokenizer *tok, int64_t id);
/* The ids of the special tokens. */
typedef struct {
    int64_t pad, unk, cls, sep, mask, dec, enc;
} at_special_ids;
at_special_ids at_tokenizer_special_ids(const at_tokenizer *tok);

/* Tokenizes a NUL-terminated prompt into exactly max_len ids and attention
 * mask values (1 for [CLS], pieces, [SEP]; 0 for padding). Returns the number
 * of real tokens (2..max_len), or -1 on error (invalid UTF-8, max_len < 2). */
int at_tokenize(const at_tokenizer *tok, const char *text, int max_len, int64_t *ids, int64_t *mask);
/* The same on nbytes of text, which may hold NUL characters (dropped, as
 * Python drops U+0000). */
int at_tokenize_n(const at_tokenizer *tok, const char *text, size_t nbytes, int max_len,
                  int64_t *ids, int64_t *mask);
/* A batch as i64 tensors [n, max_len]: *ids and *mask are new references. */
int at_tokenize_batch(const at_tokenizer *tok, const char *const *texts, int n, int max_len,
                      at_tensor **ids, at_tensor **mask);

/* For debugging: the word-piece ids of a prompt before [CLS]/[SEP],
 * truncation and padding (at_tokenizer_token gives their strings). Returns
 * their count and a malloc'd array in *pieces (NULL when empty), or -1. */
int64_t at_tokenize_pieces(const at_tokenizer *tok, const char *text, size_t nbytes, int64_t **pieces);

/* ---- lower level: text to words (core/io/tokenizer_text.c) ---- */

/* Words as code points, back to back: word i is cps[start[i] .. start[i+1]). */
typedef struct {
    int32_t *cps;
    int64_t ncps, cps_cap;
    int64_t *start;   /* count + 1 entries once count > 0 */
    int64_t count, start_cap;
} at_words;

void at_words_free(at_words *w);   /* frees the arrays; the struct is reusable after */

/* Decodes UTF-8 into a malloc'd code point array (*out, NULL when empty);
 * returns the count, or -1 naming the offset of the first invalid byte. */
int64_t at_utf8_decode(const char *text, size_t nbytes, int32_t **out);

/* Steps 2-3 above (lower-casing and BasicTokenizer) on code points; appends
 * the words to *words. Returns 0, or -1 when out of memory. */
int at_basic_tokenize(const int32_t *cps, int64_t n, at_words *words);

#endif

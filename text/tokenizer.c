#include "text/tokenizer.h"

#include <errno.h>
#include <json-c/json.h>
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "text/jsonscan.h"
#include "text/pretok.h"
#include "text/utf8.h"

#define MAX_FILE (1u << 30)   /* a tokenizer file over 1 GiB is not one */
#define MAX_AFFIX 16          /* specials a template may add before or after */

typedef struct {
    char *content;            /* as matched in text */
    size_t len;
    char *decoded;            /* as the ByteLevel decoder gives it back */
    size_t dec_len;
    int32_t id;
    int special, normalized, lstrip, rstrip;
} added_token;

typedef enum { KIND_BYTES, KIND_BPE } kind;

struct rmens_tokenizer {
    kind kind;
    char name[64], sha256[65], klass[64];
    int32_t vocab_size, bos, eos, pad;
    rmens_bpe *bpe;
    rmens_pretok *pre;
    added_token *added;
    size_t n_added;
    int32_t *added_of;        /* id -> index in added, or -1 (vocab_size entries) */
    /* added tokens by first byte, longest first: [0] matched on raw text, [1] after
     * normalization (the "normalized" flag) */
    int32_t *bucket[2][256];
    int n_bucket[2][256];
    int32_t prefix[MAX_AFFIX], suffix[MAX_AFFIX];
    int n_prefix, n_suffix;
    char *chat_template;
};

/* ------------------------------------------------------------ accessors */

const char *rmens_tokenizer_name(const rmens_tokenizer *t) { return t->name; }
const char *rmens_tokenizer_sha256(const rmens_tokenizer *t) { return t->sha256; }
int32_t rmens_tokenizer_vocab_size(const rmens_tokenizer *t) { return t->vocab_size; }
int32_t rmens_tokenizer_bos_id(const rmens_tokenizer *t) { return t->bos; }
int32_t rmens_tokenizer_eos_id(const rmens_tokenizer *t) { return t->eos; }
int32_t rmens_tokenizer_pad_id(const rmens_tokenizer *t) { return t->pad; }
const char *rmens_tokenizer_class(const rmens_tokenizer *t) { return t->klass; }
const char *rmens_tokenizer_chat_template(const rmens_tokenizer *t) { return t->chat_template; }
int rmens_tokenizer_is_bytes(const rmens_tokenizer *t) { return t->kind == KIND_BYTES; }

const char *rmens_tokenizer_identity(const rmens_tokenizer *t, char *buf, size_t n)
{
    if (t->kind == KIND_BYTES)
        snprintf(buf, n, "bytes");
    else
        snprintf(buf, n, "%.60s@%s", t->name, t->sha256);
    return buf;
}

int rmens_tokenizer_same(const char *a, const char *b)
{
    const char *sa = strrchr(a, '@'), *sb = strrchr(b, '@');
    return strcmp(a, b) == 0 || (sa && sb && strcmp(sa, sb) == 0);
}

int32_t rmens_tokenizer_token_id(const rmens_tokenizer *t, const char *s)
{
    size_t n = strlen(s);
    if (t->kind == KIND_BYTES)
        return n == 1 ? (unsigned char)s[0] : -1;
    for (size_t i = 0; i < t->n_added; i++)
        if (t->added[i].len == n && memcmp(t->added[i].content, s, n) == 0)
            return t->added[i].id;
    return n ? rmens_bpe_lookup(t->bpe, s, n) : -1;
}

int rmens_tokenizer_is_special(const rmens_tokenizer *t, int32_t id)
{
    if (t->kind == KIND_BYTES)
        return id == RMENS_BYTES_EOT;
    return id >= 0 && id < t->vocab_size && t->added_of[id] >= 0 && t->added[t->added_of[id]].special;
}

static void byte_alphabet(int16_t byte_of[324]);

const char *rmens_tokenizer_token(const rmens_tokenizer *t, int32_t id, char *buf, size_t cap)
{
    if (id < 0 || id >= t->vocab_size || cap == 0)
        return NULL;
    if (t->kind == KIND_BYTES) {
        if (id == RMENS_BYTES_EOT)
            return snprintf(buf, cap, "<|endoftext|>") < (int)cap ? buf : NULL;
        return snprintf(buf, cap, "<0x%02X>", (unsigned)id) < (int)cap ? buf : NULL;
    }
    if (t->added_of[id] >= 0) {
        const added_token *a = &t->added[t->added_of[id]];
        return a->len < cap ? memcpy(buf, a->content, a->len + 1) : NULL;
    }
    int16_t byte_of[324];
    uint16_t cp_of[256];
    byte_alphabet(byte_of);
    for (int c = 0; c < 324; c++)
        if (byte_of[c] >= 0)
            cp_of[byte_of[c]] = (uint16_t)c;
    size_t n, o = 0;
    const unsigned char *p = (const unsigned char *)rmens_bpe_token(t->bpe, id, &n);
    for (size_t i = 0; i < n; i++) {
        uint16_t c = cp_of[p[i]];
        if (o + 3 > cap)
            return NULL;
        if (c < 0x80) {
            buf[o++] = (char)c;
        } else {
            buf[o++] = (char)(0xC0 | (c >> 6));
            buf[o++] = (char)(0x80 | (c & 0x3F));
        }
    }
    buf[o] = 0;
    return buf;
}

void rmens_tokenizer_free(rmens_tokenizer *t)
{
    if (!t)
        return;
    rmens_bpe_free(t->bpe);
    rmens_pretok_free(t->pre);
    for (size_t i = 0; i < t->n_added; i++) {
        free(t->added[i].content);
        free(t->added[i].decoded);
    }
    free(t->added);
    free(t->added_of);
    for (int s = 0; s < 2; s++)
        for (int b = 0; b < 256; b++)
            free(t->bucket[s][b]);
    free(t->chat_template);
    free(t);
}

rmens_status rmens_tokenizer_bytes(rmens_tokenizer **out)
{
    rmens_tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory for a tokenizer");
    t->kind = KIND_BYTES;
    snprintf(t->name, sizeof t->name, "bytes");
    t->vocab_size = RMENS_BYTES_VOCAB;
    t->bos = t->pad = -1;
    t->eos = RMENS_BYTES_EOT;
    *out = t;
    return RMENS_OK;
}

/* ------------------------------------------------------------ GPT-2's byte alphabet */

/* bytes_to_unicode(): printable Latin-1 bytes stand for themselves, the other 68 bytes
 * for U+0100 upwards in byte order. byte_of[cp] inverts it (-1: not in the alphabet). */
static void byte_alphabet(int16_t byte_of[324])
{
    for (int i = 0; i < 324; i++)
        byte_of[i] = -1;
    int k = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
        byte_of[printable ? b : 256 + k++] = (int16_t)b;
    }
}

/* Maps a byte-level string (UTF-8 of alphabet characters) to the bytes it stands for;
 * *n bytes written to out (which holds at least strlen(s)); -1 if a character is not
 * in the alphabet. */
static int from_byte_level(const int16_t *byte_of, const char *s, size_t len, char *out, size_t *n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0;
    if (rmens_utf8_valid_prefix(s, len) != len)
        return -1;
    for (size_t i = 0; i < len;) {
        size_t k;
        uint32_t cp = rmens_utf8_decode(u + i, &k);
        if (cp >= 324 || byte_of[cp] < 0)
            return -1;
        out[o++] = (char)byte_of[cp];
        i += k;
    }
    *n = o;
    return 0;
}

/* ------------------------------------------------------------ reading files */

static rmens_status read_file(const char *path, char **buf, size_t *len)
{
    *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return rmens_fail(RMENS_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)MAX_FILE) {
        fclose(f);
        return rmens_fail(RMENS_ERR_IO, "%s: not a regular file of at most 1 GiB", path);
    }
    char *b = malloc((size_t)st.st_size + 1);
    size_t n = b ? fread(b, 1, (size_t)st.st_size, f) : 0;
    int bad = !b || ferror(f) || n != (size_t)st.st_size;
    fclose(f);
    if (bad) {
        free(b);
        return rmens_fail(b ? RMENS_ERR_IO : RMENS_ERR_NOMEM, "%s: cannot read", path);
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return RMENS_OK;
}

static rmens_status parse_json(const char *path, const char *buf, size_t len, json_object **out)
{
    *out = NULL;
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory parsing %s", path);
    json_object *o = json_tokener_parse_ex(tok, buf, (int)len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!o || e != json_tokener_success) {
        json_object_put(o);
        return rmens_fail(RMENS_ERR_INPUT, "%s: not valid JSON at byte %zu: %s", path, end,
                          e == json_tokener_continue ? "the file ends early" : json_tokener_error_desc(e));
    }
    for (; end < len; end++)
        if (!strchr(" \t\r\n", buf[end])) {
            json_object_put(o);
            return rmens_fail(RMENS_ERR_INPUT, "%s: text after the JSON value at byte %zu", path, end);
        }
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return rmens_fail(RMENS_ERR_INPUT, "%s: not a JSON object", path);
    }
    *out = o;
    return RMENS_OK;
}

static void sha256_hex(const char *const *bufs, const size_t *lens, int n, char hex[65])
{
    struct sha256_ctx c;
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_init(&c);
    for (int i = 0; i < n; i++)
        sha256_update(&c, lens[i], (const uint8_t *)bufs[i]);
    sha256_digest(&c, sizeof d, d);
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
        sprintf(hex + 2 * i, "%02x", d[i]);
}

/* Field access with the field's path in every message. */
typedef struct {
    const char *file;
} ctx;

#define FAIL(c, ...) rmens_fail_context(rmens_fail(RMENS_ERR_INPUT, __VA_ARGS__), "%s: ", (c)->file)

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static int is_null(json_object *v) { return v == NULL || json_object_is_type(v, json_type_null); }

static const char *type_of(json_object *o)
{
    json_object *t = get(o, "type");
    return t && json_object_is_type(t, json_type_string) ? json_object_get_string(t) : NULL;
}

static rmens_status get_bool(const ctx *c, json_object *o, const char *field, const char *key,
                             int dflt, int *out)
{
    json_object *v = get(o, key);
    if (is_null(v)) {
        *out = dflt;
        return RMENS_OK;
    }
    if (!json_object_is_type(v, json_type_boolean))
        return FAIL(c, "%s.%s is not true or false", field, key);
    *out = json_object_get_boolean(v);
    return RMENS_OK;
}

/* ------------------------------------------------------------ components */

/* A component of tokenizer.json: fn gets it with its type ("null" when absent), or each
 * item of a Sequence (whose list is under key) in turn, with the field's path. */
typedef rmens_status (*component_fn)(const ctx *c, rmens_tokenizer *t, json_object *o, const char *type,
                                     const char *field, void *arg);

static rmens_status walk(const ctx *c, rmens_tokenizer *t, json_object *o, const char *key, const char *field,
                         component_fn fn, void *arg)
{
    if (is_null(o))
        return fn(c, t, NULL, "null", field, arg);
    const char *type = type_of(o);
    if (!type)
        return FAIL(c, "%s has no \"type\"", field);
    if (strcmp(type, "Sequence") != 0)
        return fn(c, t, o, type, field, arg);
    json_object *list = get(o, key);
    if (!list || !json_object_is_type(list, json_type_array))
        return FAIL(c, "%s.%s is not a list", field, key);
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        char sub[128];
        snprintf(sub, sizeof sub, "%s.%s[%zu]", field, key, i);
        RMENS_TRY(walk(c, t, json_object_array_get_idx(list, i), key, sub, fn, arg));
    }
    return RMENS_OK;
}

static rmens_status load_normalizer(const ctx *c, rmens_tokenizer *t, json_object *n, const char *type,
                                    const char *field, void *arg)
{
    (void)n;
    (void)arg;
    if (strcmp(type, "null") == 0)
        return RMENS_OK;
    if (strcmp(type, "NFC") == 0) {
        rmens_pretok_set_nfc(t->pre, 1);
        return RMENS_OK;
    }
    return FAIL(c, "%s: normalizer type \"%s\" is not supported (only NFC, or none)", field, type);
}

/* arg: int, set once the ByteLevel step is read (it must be the last). */
static rmens_status load_pretok(const ctx *c, rmens_tokenizer *t, json_object *p, const char *type,
                                const char *field, void *arg)
{
    int *byte_level = arg;
    if (strcmp(type, "null") == 0)
        return FAIL(c, "%s is null: a byte-level BPE needs a ByteLevel pre-tokenizer", field);
    if (*byte_level)
        return FAIL(c, "%s: a %s step after ByteLevel is not supported", field, type);
    if (strcmp(type, "ByteLevel") == 0) {
        int prefix, regex;
        RMENS_TRY(get_bool(c, p, field, "add_prefix_space", 1, &prefix));
        RMENS_TRY(get_bool(c, p, field, "use_regex", 1, &regex));
        *byte_level = 1;
        return rmens_fail_context(rmens_pretok_add_byte_level(t->pre, prefix, regex), "%s: %s: ", c->file, field);
    }
    if (strcmp(type, "Digits") == 0) {
        int single;
        RMENS_TRY(get_bool(c, p, field, "individual_digits", 0, &single));
        rmens_status st = rmens_pretok_add_split(t->pre, single ? "\\p{N}" : "\\p{N}+", 0, RMENS_SPLIT_ISOLATED);
        return st == RMENS_OK ? st : rmens_fail_context(st, "%s: %s: ", c->file, field);
    }
    if (strcmp(type, "Split") == 0) {
        json_object *pat = get(p, "pattern"), *re = pat ? get(pat, "Regex") : NULL,
                    *lit = pat ? get(pat, "String") : NULL, *beh = get(p, "behavior");
        int invert;
        RMENS_TRY(get_bool(c, p, field, "invert", 0, &invert));
        if (invert)
            return FAIL(c, "%s.invert: an inverted Split is not supported", field);
        json_object *s = re ? re : lit;
        if (!s || !json_object_is_type(s, json_type_string))
            return FAIL(c, "%s.pattern is not {\"Regex\": string} or {\"String\": string}", field);
        int b = beh && json_object_is_type(beh, json_type_string)
                    ? rmens_split_behavior_from_name(json_object_get_string(beh)) : -1;
        if (b < 0)
            return FAIL(c, "%s.behavior is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous", field);
        rmens_status st = rmens_pretok_add_split(t->pre, json_object_get_string(s), re == NULL,
                                                 (rmens_split_behavior)b);
        return st == RMENS_OK ? st : rmens_fail_context(st, "%s: %s.pattern: ", c->file, field);
    }
    return FAIL(c, "%s: pre-tokenizer type \"%s\" is not supported (ByteLevel, Split, Digits, Sequence)",
                field, type);
}

/* arg: int, set when a ByteLevel decoder is read. */
static rmens_status load_decoder(const ctx *c, rmens_tokenizer *t, json_object *d, const char *type,
                                 const char *field, void *arg)
{
    (void)t;
    (void)d;
    if (strcmp(type, "ByteLevel") == 0) {
        *(int *)arg = 1;
        return RMENS_OK;
    }
    return FAIL(c, "%s: decoder type \"%s\" is not supported (only ByteLevel)", field, type);
}

static rmens_status template_ids(const ctx *c, json_object *specials, const char *name,
                                 int32_t *ids, int *n, const char *field)
{
    json_object *s = specials ? get(specials, name) : NULL, *list = s ? get(s, "ids") : NULL;
    if (!list || !json_object_is_type(list, json_type_array))
        return FAIL(c, "%s: special token \"%s\" has no ids in special_tokens", field, name);
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *v = json_object_array_get_idx(list, i);
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
            json_object_get_int64(v) >= (1 << 24))
            return FAIL(c, "%s: special_tokens[\"%s\"].ids[%zu] is not a valid id", field, name, i);
        if (*n == MAX_AFFIX)
            return FAIL(c, "%s: more than %d special tokens around the text", field, MAX_AFFIX);
        ids[(*n)++] = (int32_t)json_object_get_int64(v);
    }
    return RMENS_OK;
}

static rmens_status load_post(const ctx *c, rmens_tokenizer *t, json_object *p, const char *type,
                              const char *field, void *arg)
{
    (void)arg;
    if (strcmp(type, "null") == 0 || strcmp(type, "ByteLevel") == 0)
        return RMENS_OK;  /* ByteLevel: offsets only */
    if (strcmp(type, "TemplateProcessing") == 0) {
        if (t->n_prefix || t->n_suffix)
            return FAIL(c, "%s: a second TemplateProcessing is not supported", field);
        json_object *single = get(p, "single"), *specials = get(p, "special_tokens");
        if (!single || !json_object_is_type(single, json_type_array))
            return FAIL(c, "%s.single is not a list", field);
        int seen_a = 0;
        for (size_t i = 0; i < json_object_array_length(single); i++) {
            json_object *it = json_object_array_get_idx(single, i), *sp = get(it, "SpecialToken"),
                        *seq = get(it, "Sequence"), *id = sp ? get(sp, "id") : seq ? get(seq, "id") : NULL;
            if (!id || !json_object_is_type(id, json_type_string))
                return FAIL(c, "%s.single[%zu] is neither {\"SpecialToken\": {\"id\": ...}} nor {\"Sequence\": {\"id\": \"A\"}}", field, i);
            if (seq) {
                if (strcmp(json_object_get_string(id), "A") != 0 || seen_a)
                    return FAIL(c, "%s.single[%zu]: only one Sequence \"A\" is supported", field, i);
                seen_a = 1;
            } else {
                RMENS_TRY(template_ids(c, specials, json_object_get_string(id), seen_a ? t->suffix : t->prefix,
                                       seen_a ? &t->n_suffix : &t->n_prefix, field));
            }
        }
        if (!seen_a)
            return FAIL(c, "%s.single has no Sequence \"A\"", field);
        return RMENS_OK;
    }
    return FAIL(c, "%s: post-processor type \"%s\" is not supported (ByteLevel, TemplateProcessing, Sequence)",
                field, type);
}

/* ------------------------------------------------------------ added tokens */

static rmens_status add_added(const ctx *c, rmens_tokenizer *t, const int16_t *byte_of, const char *content,
                              int32_t id, int special, int normalized, int lstrip, int rstrip,
                              const char *field)
{
    size_t len = strlen(content);
    if (len == 0)
        return FAIL(c, "%s.content is empty", field);
    if (rmens_utf8_valid_prefix(content, len) != len)
        return FAIL(c, "%s.content is not valid UTF-8", field);
    if (id < 0 || id >= (1 << 24))
        return FAIL(c, "%s.id %d is out of range", field, (int)id);
    for (size_t i = 0; i < t->n_added; i++)
        if (t->added[i].id == id)
            return FAIL(c, "%s.id %d is given to two added tokens", field, (int)id);
    added_token *a = realloc(t->added, (t->n_added + 1) * sizeof *a);
    if (!a)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory for added tokens");
    t->added = a;
    a = &t->added[t->n_added];
    memset(a, 0, sizeof *a);
    a->content = strdup(content);
    a->decoded = malloc(len + 1);
    if (!a->content || !a->decoded) {
        free(a->content);
        free(a->decoded);
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory for added tokens");
    }
    t->n_added++;
    a->len = len;
    a->id = id;
    a->special = special;
    a->normalized = normalized;
    a->lstrip = lstrip;
    a->rstrip = rstrip;
    /* Decoding gives an added token's content as it is, beside the byte-level text of
     * the model's tokens (Hugging Face's decode since tokenizers 0.20; transformers.js). */
    memcpy(a->decoded, content, len);
    a->dec_len = len;
    size_t ml, bl;
    const char *mine = rmens_bpe_token(t->bpe, id, &ml);
    if (mine && (from_byte_level(byte_of, content, len, a->decoded, &bl) || bl != ml || memcmp(mine, a->decoded, ml) != 0))
        return FAIL(c, "%s: id %d is already the model's token for other text", field, (int)id);
    memcpy(a->decoded, content, len);
    return RMENS_OK;
}

static rmens_status load_added(const ctx *c, rmens_tokenizer *t, const int16_t *byte_of, json_object *list)
{
    if (is_null(list))
        return RMENS_OK;
    if (!json_object_is_type(list, json_type_array))
        return FAIL(c, "added_tokens is not a list");
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *o = json_object_array_get_idx(list, i), *id = get(o, "id"), *content = get(o, "content");
        char field[48];
        snprintf(field, sizeof field, "added_tokens[%zu]", i);
        if (!o || !json_object_is_type(o, json_type_object))
            return FAIL(c, "%s is not an object", field);
        if (!id || !json_object_is_type(id, json_type_int))
            return FAIL(c, "%s.id is not an integer", field);
        if (!content || !json_object_is_type(content, json_type_string))
            return FAIL(c, "%s.content is not a string", field);
        int special, normalized, lstrip, rstrip, single;
        RMENS_TRY(get_bool(c, o, field, "special", 0, &special));
        RMENS_TRY(get_bool(c, o, field, "normalized", !special, &normalized));
        RMENS_TRY(get_bool(c, o, field, "lstrip", 0, &lstrip));
        RMENS_TRY(get_bool(c, o, field, "rstrip", 0, &rstrip));
        RMENS_TRY(get_bool(c, o, field, "single_word", 0, &single));
        if (single)
            return FAIL(c, "%s.single_word: single-word added tokens are not supported", field);
        int64_t v = json_object_get_int64(id);
        RMENS_TRY(add_added(c, t, byte_of, json_object_get_string(content),
                            v < 0 || v >= (1 << 24) ? -1 : (int32_t)v, special, normalized, lstrip,
                            rstrip, field));
    }
    return RMENS_OK;
}

/* Longest first, then by index: the first match in a bucket is the longest. */
static void sort_bucket(int32_t *bk, int n, const added_token *a)
{
    for (int i = 1; i < n; i++) {
        int32_t x = bk[i];
        int k = i;
        while (k > 0 && a[bk[k - 1]].len < a[x].len)
            bk[k] = bk[k - 1], k--;
        bk[k] = x;
    }
}

/* The id index and the match buckets, once every token is known. */
static rmens_status index_tokens(const ctx *c, rmens_tokenizer *t)
{
    int32_t end = rmens_bpe_id_end(t->bpe);
    for (size_t i = 0; i < t->n_added; i++)
        if (t->added[i].id + 1 > end)
            end = t->added[i].id + 1;
    t->vocab_size = end;
    t->added_of = malloc((size_t)end * sizeof *t->added_of);
    if (!t->added_of)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory for a tokenizer");
    for (int32_t i = 0; i < end; i++)
        t->added_of[i] = -1;
    for (size_t i = 0; i < t->n_added; i++) {
        const added_token *a = &t->added[i];
        t->added_of[a->id] = (int32_t)i;
        int s = a->normalized;  /* matched after normalization, as HF does */
        unsigned char b = (unsigned char)a->content[0];
        int32_t *bk = realloc(t->bucket[s][b], (size_t)(t->n_bucket[s][b] + 1) * sizeof *bk);
        if (!bk)
            return rmens_fail(RMENS_ERR_NOMEM, "out of memory for a tokenizer");
        bk[t->n_bucket[s][b]++] = (int32_t)i;
        t->bucket[s][b] = bk;
    }
    for (int s = 0; s < 2; s++)
        for (int b = 0; b < 256; b++)
            sort_bucket(t->bucket[s][b], t->n_bucket[s][b], t->added);
    for (int32_t i = 0; i < end; i++) {
        size_t l;
        if (t->added_of[i] < 0 && !rmens_bpe_token(t->bpe, i, &l))
            return FAIL(c, "no token has id %d (ids must run from 0 to %d without gaps)", (int)i, (int)end - 1);
    }
    for (int k = 0; k < t->n_prefix + t->n_suffix; k++) {
        int32_t id = k < t->n_prefix ? t->prefix[k] : t->suffix[k - t->n_prefix];
        if (id >= end)
            return FAIL(c, "post_processor: special id %d is not a token", (int)id);
    }
    return RMENS_OK;
}

/* ------------------------------------------------------------ tokenizer_config.json */

static rmens_status special_from_config(const ctx *c, rmens_tokenizer *t, json_object *cfg,
                                        const char *key, int32_t *id)
{
    json_object *v = get(cfg, key);
    if (is_null(v))
        return RMENS_OK;
    if (json_object_is_type(v, json_type_object))
        v = get(v, "content");
    if (!v || !json_object_is_type(v, json_type_string))
        return FAIL(c, "%s is neither a string nor {\"content\": string}", key);
    *id = rmens_tokenizer_token_id(t, json_object_get_string(v));
    if (*id < 0)
        return FAIL(c, "%s \"%s\" is not a token of the tokenizer", key, json_object_get_string(v));
    return RMENS_OK;
}

static rmens_status load_config(rmens_tokenizer *t, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return RMENS_OK;  /* optional */
    char *buf;
    size_t len;
    json_object *cfg = NULL;
    RMENS_TRY(read_file(path, &buf, &len));
    rmens_status s = parse_json(path, buf, len, &cfg);
    free(buf);
    if (s != RMENS_OK)
        return s;
    ctx c = {path};
    if ((s = special_from_config(&c, t, cfg, "bos_token", &t->bos)) == RMENS_OK &&
        (s = special_from_config(&c, t, cfg, "eos_token", &t->eos)) == RMENS_OK)
        s = special_from_config(&c, t, cfg, "pad_token", &t->pad);
    json_object *k = get(cfg, "tokenizer_class"), *tpl = get(cfg, "chat_template");
    if (s == RMENS_OK && k && json_object_is_type(k, json_type_string))
        snprintf(t->klass, sizeof t->klass, "%s", json_object_get_string(k));
    if (s == RMENS_OK && tpl && json_object_is_type(tpl, json_type_string) &&
        !(t->chat_template = strdup(json_object_get_string(tpl))))
        s = rmens_fail(RMENS_ERR_NOMEM, "out of memory reading %s", path);
    json_object_put(cfg);
    return s;
}

/* ------------------------------------------------------------ tokenizer.json */

static rmens_status add_vocab_token(const ctx *c, rmens_tokenizer *t, const int16_t *byte_of,
                                    const char *key, size_t klen, int64_t id, char *scratch)
{
    size_t n;
    if (from_byte_level(byte_of, key, klen, scratch, &n))
        return FAIL(c, "model.vocab[\"%.40s\"]: not a byte-level token (a character outside GPT-2's byte alphabet)", key);
    if (id < 0 || id >= (1 << 24))
        return FAIL(c, "model.vocab[\"%.40s\"]: id %lld is out of range", key, (long long)id);
    rmens_status s = rmens_bpe_add_token(t->bpe, scratch, n, (int32_t)id);
    return s == RMENS_OK ? s : rmens_fail_context(s, "%s: model.vocab[\"%.40s\"]: ", c->file, key);
}

static rmens_status add_merge_pair(const ctx *c, rmens_tokenizer *t, const int16_t *byte_of,
                                   const char *a, size_t alen, const char *b, size_t blen,
                                   size_t rank, char *sa, char *sb, const char *field)
{
    size_t na, nb;
    if (alen == 0 || blen == 0 || from_byte_level(byte_of, a, alen, sa, &na) ||
        from_byte_level(byte_of, b, blen, sb, &nb))
        return FAIL(c, "%s[%zu] is not two byte-level tokens", field, rank);
    rmens_status s = rmens_bpe_add_merge(t->bpe, sa, na, sb, nb, (uint32_t)rank);
    return s == RMENS_OK ? s : rmens_fail_context(s, "%s: %s[%zu] (\"%.*s\" + \"%.*s\"): ", c->file, field,
                                                 rank, (int)(alen > 40 ? 40 : alen), a, (int)(blen > 40 ? 40 : blen), b);
}

/* The two members json-c would pay most for (text/jsonscan.h): where model.vocab (an
 * object) and model.merges (a list) lie in the file, found by one strict scan of the
 * whole file. Not found (or of another type): length 2, text "{}" or "[]", for json-c's
 * checks to report. */
typedef struct {
    size_t vocab_at, vocab_len, merges_at, merges_len, n_vocab;
} bulk;

static rmens_status scan_failed(const char *path, const rmens_jscan *s)
{
    return rmens_fail(RMENS_ERR_INPUT, "%s: not valid JSON at byte %zu: %s", path, s->err_at, s->err);
}

static rmens_status locate_bulk(const char *path, const char *buf, size_t len, bulk *b)
{
    memset(b, 0, sizeof *b);
    rmens_jscan s;
    rmens_jscan_init(&s, buf, len);
    if (rmens_jscan_peek(&s) != '{')
        return RMENS_OK;  /* json-c says what it is instead */
    int seen_model = 0, seen_vocab = 0, seen_merges = 0, more;
    for (more = rmens_jscan_open(&s, '{'); more > 0; more = rmens_jscan_next(&s, '}')) {
        if (rmens_jscan_string(&s) || rmens_jscan_colon(&s))
            break;
        if (strcmp(s.str, "model") != 0 || rmens_jscan_peek(&s) != '{') {
            if (rmens_jscan_skip(&s, NULL))
                break;
            continue;
        }
        if (seen_model++) {
            rmens_jscan_free(&s);
            return rmens_fail(RMENS_ERR_INPUT, "%s: \"model\" appears twice", path);
        }
        for (more = rmens_jscan_open(&s, '{'); more > 0; more = rmens_jscan_next(&s, '}')) {
            if (rmens_jscan_string(&s) || rmens_jscan_colon(&s))
                break;
            int v = strcmp(s.str, "vocab") == 0, mg = strcmp(s.str, "merges") == 0;
            if ((v && seen_vocab++) || (mg && seen_merges++)) {
                rmens_jscan_free(&s);
                return rmens_fail(RMENS_ERR_INPUT, "%s: model.%s appears twice", path, v ? "vocab" : "merges");
            }
            int c = rmens_jscan_peek(&s);
            size_t at = (size_t)(s.p - buf), n = 0;
            if (rmens_jscan_skip(&s, &n))
                break;
            if (v && c == '{')
                b->vocab_at = at, b->vocab_len = (size_t)(s.p - buf) - at, b->n_vocab = n;
            if (mg && c == '[')
                b->merges_at = at, b->merges_len = (size_t)(s.p - buf) - at;
        }
        if (s.err)
            break;
    }
    rmens_jscan_free(&s);
    return s.err ? scan_failed(path, &s) : RMENS_OK;
}

/* A vocabulary object {"token": id, ...} (model.vocab, or a whole vocab.json) at
 * text[0, len), which lies at byte base of the file. */
static rmens_status read_vocab(const ctx *c, rmens_tokenizer *t, const int16_t *byte_of, const char *text,
                               size_t len, size_t base)
{
    if (len == 0)
        return RMENS_OK;
    rmens_jscan s;
    rmens_jscan_init(&s, text, len);
    char *scratch = NULL;
    size_t cap = 0;
    rmens_status st = RMENS_OK;
    int more;
    for (more = rmens_jscan_open(&s, '{'); more > 0 && st == RMENS_OK; more = rmens_jscan_next(&s, '}')) {
        if (rmens_jscan_string(&s) || rmens_jscan_colon(&s))
            break;
        if (s.str_len + 1 > cap) {
            cap = 2 * s.str_len + 64;
            free(scratch);
            if (!(scratch = malloc(cap))) {
                st = rmens_fail(RMENS_ERR_NOMEM, "out of memory reading %s", c->file);
                break;
            }
        }
        int64_t id;
        int integral = 0, k = rmens_jscan_peek(&s);
        if ((k == '-' || (k >= '0' && k <= '9')) && rmens_jscan_number(&s, &id, &integral))
            break;
        if (!integral)
            st = FAIL(c, "model.vocab[\"%.40s\"] is not an integer id", s.str);
        else
            st = add_vocab_token(c, t, byte_of, s.str, s.str_len, id, scratch);
    }
    if (st == RMENS_OK && s.err) {
        s.err_at += base;
        st = scan_failed(c->file, &s);
    }
    free(scratch);
    rmens_jscan_free(&s);
    return st;
}

/* model.merges at text[0, len) (byte base of the file): "left right" or ["left", "right"]. */
static rmens_status read_merges(const ctx *c, rmens_tokenizer *t, const int16_t *byte_of, const char *text,
                                size_t len, size_t base)
{
    if (len == 0)
        return RMENS_OK;
    rmens_jscan s;
    rmens_jscan_init(&s, text, len);
    char *a = NULL, *sa = NULL, *sb = NULL;  /* the left side of a list pair; byte scratch */
    size_t acap = 0, scap = 0, alen = 0, i = 0;
    rmens_status st = RMENS_OK;
    int more;
    for (more = rmens_jscan_open(&s, '['); more > 0 && st == RMENS_OK; more = rmens_jscan_next(&s, ']'), i++) {
        int k = rmens_jscan_peek(&s), pair = 0;
        const char *b = NULL;
        size_t blen = 0;
        if (k == '"') {
            if (rmens_jscan_string(&s))
                break;
            const char *sp = memchr(s.str, ' ', s.str_len);
            if (!sp || memchr(sp + 1, ' ', s.str_len - (size_t)(sp + 1 - s.str))) {
                st = FAIL(c, "model.merges[%zu] is not \"left right\" (one space)", i);
                break;
            }
            alen = (size_t)(sp - s.str);
            b = sp + 1;
            blen = s.str_len - alen - 1;
        } else if (k == '[' && rmens_jscan_open(&s, '[') > 0 && rmens_jscan_peek(&s) == '"' &&
                   !rmens_jscan_string(&s)) {
            /* exactly two strings, else the message below */
            alen = s.str_len;
            if (alen + 1 > acap) {
                free(a);
                acap = 2 * alen + 64;
                if (!(a = malloc(acap))) {
                    st = rmens_fail(RMENS_ERR_NOMEM, "out of memory reading %s", c->file);
                    break;
                }
            }
            memcpy(a, s.str, alen + 1);
            pair = rmens_jscan_next(&s, ']') > 0 && rmens_jscan_peek(&s) == '"' && !rmens_jscan_string(&s) &&
                   rmens_jscan_next(&s, ']') == 0;
            b = s.str;
            blen = s.str_len;
        }
        if (k != '"' && !pair) {
            st = FAIL(c, "model.merges[%zu] is neither \"left right\" nor [\"left\", \"right\"]", i);
            break;
        }
        if (alen + blen + 2 > scap) {
            scap = 2 * (alen + blen) + 64;
            free(sa);
            free(sb);
            sa = malloc(scap);
            sb = malloc(scap);
            if (!sa || !sb) {
                st = rmens_fail(RMENS_ERR_NOMEM, "out of memory reading %s", c->file);
                break;
            }
        }
        st = add_merge_pair(c, t, byte_of, pair ? a : s.str, alen, b, blen, i, sa, sb, "model.merges");
    }
    if (st == RMENS_OK && s.err) {
        s.err_at += base;
        st = scan_failed(c->file, &s);
    }
    free(a);
    free(sa);
    free(sb);
    rmens_jscan_free(&s);
    return st;
}

static rmens_status load_model(const ctx *c, rmens_tokenizer *t, const int16_t *byte_of, json_object *m,
                              const char *buf, const bulk *bk)
{
    if (!m || !json_object_is_type(m, json_type_object))
        return FAIL(c, "model is missing or not an object");
    const char *type = type_of(m);
    if (!type)
        return FAIL(c, "model has no \"type\" (only BPE is supported)");
    if (strcmp(type, "BPE") != 0)
        return FAIL(c, "model.type \"%s\" is not supported (only byte-level BPE)", type);
    int fallback, ignore;
    RMENS_TRY(get_bool(c, m, "model", "byte_fallback", 0, &fallback));
    RMENS_TRY(get_bool(c, m, "model", "ignore_merges", 0, &ignore));
    if (fallback)
        return FAIL(c, "model.byte_fallback: byte-fallback BPE (SentencePiece style) is not supported");
    json_object *dropout = get(m, "dropout");
    if (!is_null(dropout))
        return FAIL(c, "model.dropout: BPE dropout is not supported");
    static const char *const affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        json_object *v = get(m, affixes[i]);
        if (!is_null(v) && (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) != 0))
            return FAIL(c, "model.%s: a non-empty value is not supported", affixes[i]);
    }
    rmens_bpe_set_ignore_merges(t->bpe, ignore);
    json_object *vocab = get(m, "vocab"), *merges = get(m, "merges");
    if (!vocab || !json_object_is_type(vocab, json_type_object))
        return FAIL(c, "model.vocab is missing or not an object");
    if (!merges || !json_object_is_type(merges, json_type_array))
        return FAIL(c, "model.merges is missing or not a list");
    /* json-c saw them blanked ("{}", "[]"); their text is read here, from the file */
    RMENS_TRY(read_vocab(c, t, byte_of, buf + bk->vocab_at, bk->vocab_len, bk->vocab_at));
    RMENS_TRY(read_merges(c, t, byte_of, buf + bk->merges_at, bk->merges_len, bk->merges_at));
    rmens_status s = rmens_bpe_check_bytes(t->bpe);
    return s == RMENS_OK ? s : rmens_fail_context(s, "%s: model.vocab: ", c->file);
}

static rmens_status load_tokenizer_json(rmens_tokenizer *t, const char *path, const char *buf, size_t len)
{
    bulk bk;
    RMENS_TRY(locate_bulk(path, buf, len, &bk));
    /* json-c parses the file with the vocabulary and merges blanked, offsets unchanged */
    char *rest = malloc(len + 1);
    if (!rest)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory reading %s", path);
    memcpy(rest, buf, len + 1);
    if (bk.vocab_len)
        memset(rest + bk.vocab_at + 1, ' ', bk.vocab_len - 2);
    if (bk.merges_len)
        memset(rest + bk.merges_at + 1, ' ', bk.merges_len - 2);
    json_object *root = NULL;
    rmens_status s = parse_json(path, rest, len, &root);
    free(rest);
    if (s != RMENS_OK)
        return s;
    ctx c = {path};
    int16_t byte_of[324];
    byte_alphabet(byte_of);
    int byte_level = 0, byte_decoder = 0;
    json_object *m = get(root, "model");
    s = rmens_bpe_new(&t->bpe, bk.n_vocab);
    static const char *const unsupported[] = {"truncation", "padding"};
    for (int i = 0; s == RMENS_OK && i < 2; i++)
        if (!is_null(get(root, unsupported[i])))
            s = FAIL(&c, "%s: only null is supported (rmens truncates by its own rule)", unsupported[i]);
    if (s == RMENS_OK)
        s = load_model(&c, t, byte_of, m, buf, &bk);
    if (s == RMENS_OK)
        s = walk(&c, t, get(root, "normalizer"), "normalizers", "normalizer", load_normalizer, NULL);
    if (s == RMENS_OK)
        s = walk(&c, t, get(root, "pre_tokenizer"), "pretokenizers", "pre_tokenizer", load_pretok, &byte_level);
    if (s == RMENS_OK && !byte_level)
        s = FAIL(&c, "pre_tokenizer has no ByteLevel step: not a byte-level BPE");
    if (s == RMENS_OK)
        s = walk(&c, t, get(root, "post_processor"), "processors", "post_processor", load_post, NULL);
    if (s == RMENS_OK)
        s = walk(&c, t, get(root, "decoder"), "decoders", "decoder", load_decoder, &byte_decoder);
    if (s == RMENS_OK && !byte_decoder)
        s = FAIL(&c, "decoder has no ByteLevel step");
    if (s == RMENS_OK)
        s = load_added(&c, t, byte_of, get(root, "added_tokens"));
    if (s == RMENS_OK)
        s = index_tokens(&c, t);
    json_object_put(root);
    return s;
}

/* ------------------------------------------------------------ vocab.json + merges.txt */

static rmens_status load_pair(rmens_tokenizer *t, const char *vpath, const char *vbuf, size_t vlen,
                              const char *mpath, const char *mbuf, size_t mlen)
{
    ctx c = {vpath};
    int16_t byte_of[324];
    byte_alphabet(byte_of);
    /* vocab.json is one vocabulary object: checked whole, then read as model.vocab is */
    rmens_jscan js;
    rmens_jscan_init(&js, vbuf, vlen);
    size_t n = 0;
    int root = rmens_jscan_peek(&js), bad = rmens_jscan_skip(&js, &n), after = rmens_jscan_peek(&js);
    rmens_status s = RMENS_OK;
    if (bad)
        s = scan_failed(vpath, &js);
    else if (after >= 0)
        s = rmens_fail(RMENS_ERR_INPUT, "%s: text after the JSON value at byte %zu", vpath, (size_t)(js.p - vbuf));
    else if (root != '{')
        s = rmens_fail(RMENS_ERR_INPUT, "%s: not a JSON object", vpath);
    rmens_jscan_free(&js);
    if (s == RMENS_OK)
        s = rmens_bpe_new(&t->bpe, n);
    if (s == RMENS_OK)
        s = read_vocab(&c, t, byte_of, vbuf, vlen, 0);
    /* merges.txt: an optional "#version" line, then "left right" per line */
    ctx cm = {mpath};
    size_t rank = 0;
    char *scratch = malloc(mlen + 1), *sb = malloc(mlen + 1);
    if (s == RMENS_OK && (!scratch || !sb))
        s = rmens_fail(RMENS_ERR_NOMEM, "out of memory reading %s", mpath);
    for (size_t at = 0, line = 1; s == RMENS_OK && at < mlen; line++) {
        const char *l = mbuf + at, *nl = memchr(l, '\n', mlen - at);
        size_t ll = nl ? (size_t)(nl - l) : mlen - at;
        at += ll + 1;
        if (ll && l[ll - 1] == '\r')
            ll--;
        if (ll == 0 || (line == 1 && ll >= 8 && memcmp(l, "#version", 8) == 0))
            continue;
        const char *sp = memchr(l, ' ', ll);
        if (!sp || memchr(sp + 1, ' ', ll - (size_t)(sp + 1 - l)))
            s = FAIL(&cm, "line %zu is not \"left right\" (one space)", line);
        else
            s = add_merge_pair(&cm, t, byte_of, l, (size_t)(sp - l), sp + 1, ll - (size_t)(sp + 1 - l), rank++,
                               scratch, sb, "merges");
    }
    free(scratch);
    free(sb);
    if (s == RMENS_OK && (s = rmens_bpe_check_bytes(t->bpe)) != RMENS_OK)
        s = rmens_fail_context(s, "%s: ", vpath);
    /* GPT2TokenizerFast: ByteLevel(add_prefix_space=False) with GPT-2's regex, and
     * <|endoftext|> (when the vocabulary has it) as the special bos/eos/unk token. */
    if (s == RMENS_OK)
        s = rmens_pretok_add_byte_level(t->pre, 0, 1);
    int32_t eot = rmens_bpe_lookup(t->bpe, "<|endoftext|>", 13);
    if (s == RMENS_OK && eot >= 0)
        s = add_added(&c, t, byte_of, "<|endoftext|>", eot, 1, 0, 0, 0, "<|endoftext|>");
    if (s == RMENS_OK)
        s = index_tokens(&c, t);
    t->bos = t->eos = eot;
    return s;
}

/* ------------------------------------------------------------ load */

static int exists(const char *dir, const char *name, char *out, size_t cap)
{
    struct stat st;
    snprintf(out, cap, "%s/%s", dir, name);
    if (stat(out, &st) == 0 && S_ISREG(st.st_mode))
        return 1;
    out[0] = 0;
    return 0;
}

static const char *base_name(const char *p, char *out, size_t cap)
{
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        n--;
    size_t s = n;
    while (s > 0 && p[s - 1] != '/')
        s--;
    snprintf(out, cap, "%.*s", (int)(n - s), p + s);
    return out;
}

rmens_status rmens_tokenizer_load(rmens_tokenizer **out, const char *path)
{
    *out = NULL;
    if (!path || !*path)
        return rmens_fail(RMENS_ERR_ARG, "no tokenizer path given");
    struct stat st;
    if (stat(path, &st) != 0)
        return rmens_fail(RMENS_ERR_IO, "%s: %s", path, strerror(errno));
    size_t pl = strlen(path) + 32;
    char *dir = malloc(pl), *json = malloc(pl), *vocab = malloc(pl), *merges = malloc(pl), *cfg = malloc(pl);
    rmens_tokenizer *t = calloc(1, sizeof *t);
    char *b1 = NULL, *b2 = NULL;
    size_t l1 = 0, l2 = 0;
    rmens_status s = RMENS_OK;
    if (!dir || !json || !vocab || !merges || !cfg || !t) {
        s = rmens_fail(RMENS_ERR_NOMEM, "out of memory for a tokenizer");
        goto exit;
    }
    t->kind = KIND_BPE;
    t->bos = t->eos = t->pad = -1;
    json[0] = vocab[0] = 0;
    if (S_ISDIR(st.st_mode)) {
        snprintf(dir, pl, "%s", path);
        if (!exists(dir, "tokenizer.json", json, pl) &&
            !(exists(dir, "vocab.json", vocab, pl) && exists(dir, "merges.txt", merges, pl)) &&
            !(exists(dir, "encoder.json", vocab, pl) && exists(dir, "vocab.bpe", merges, pl))) {
            s = rmens_fail(RMENS_ERR_IO, "%s: no tokenizer.json, vocab.json + merges.txt, or encoder.json + vocab.bpe in this directory", path);
            goto exit;
        }
    } else {
        char base[256];
        base_name(path, base, sizeof base);
        snprintf(dir, pl, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = 0;
        else
            snprintf(dir, pl, ".");
        if (strcmp(base, "vocab.json") == 0 || strcmp(base, "encoder.json") == 0) {
            snprintf(vocab, pl, "%s", path);
            if (!exists(dir, strcmp(base, "vocab.json") == 0 ? "merges.txt" : "vocab.bpe", merges, pl)) {
                s = rmens_fail(RMENS_ERR_IO, "%s: no %s beside it", path,
                               strcmp(base, "vocab.json") == 0 ? "merges.txt" : "vocab.bpe");
                goto exit;
            }
        } else {
            snprintf(json, pl, "%s", path);
        }
    }
    base_name(S_ISDIR(st.st_mode) ? path : dir, t->name, sizeof t->name);
    if ((s = rmens_pretok_new(&t->pre)) != RMENS_OK)
        goto exit;
    if (json[0]) {
        if ((s = read_file(json, &b1, &l1)) != RMENS_OK)
            goto exit;
        const char *bufs[] = {b1};
        sha256_hex(bufs, &l1, 1, t->sha256);
        if ((s = load_tokenizer_json(t, json, b1, l1)) != RMENS_OK)
            goto exit;
    } else {
        if ((s = read_file(vocab, &b1, &l1)) != RMENS_OK || (s = read_file(merges, &b2, &l2)) != RMENS_OK)
            goto exit;
        const char *bufs[] = {b1, b2};
        size_t lens[] = {l1, l2};
        sha256_hex(bufs, lens, 2, t->sha256);
        if ((s = load_pair(t, vocab, b1, l1, merges, b2, l2)) != RMENS_OK)
            goto exit;
    }
    if (exists(dir, "tokenizer_config.json", cfg, pl))
        s = load_config(t, cfg);
exit:
    free(b1);
    free(b2);
    free(dir);
    free(json);
    free(vocab);
    free(merges);
    free(cfg);
    if (s != RMENS_OK)
        rmens_tokenizer_free(t);
    else
        *out = t;
    return s;
}

/* ------------------------------------------------------------ encode */

typedef struct {
    rmens_tokenizer *t;
    rmens_ids *out;
    unsigned flags;
    int oom;
} enc;

static int white_before(const char *s, size_t end)
{
    size_t k = rmens_utf8_prev_len((const unsigned char *)s, end), n;
    return rmens_unicode_white_space(rmens_utf8_decode((const unsigned char *)s + end - k, &n)) ? (int)k : 0;
}

static int white_at(const char *s, size_t at)
{
    size_t n;
    return rmens_unicode_white_space(rmens_utf8_decode((const unsigned char *)s + at, &n)) ? (int)n : 0;
}

static int bpe_piece(void *arg, const char *s, size_t n)
{
    enc *e = arg;
    return rmens_bpe_encode(e->t->bpe, s, n, e->out) ? -1 : 0;
}

static int text_piece(enc *e, int stage, const char *s, size_t n);

/* Hugging Face's AddedVocabulary::find_matches: leftmost-longest matches of the added
 * tokens (of one stage), lstrip/rstrip taking white space into the token, special
 * tokens skipped when they are to be read as text; the text between goes on. */
static int split_added(enc *e, int stage, const char *s, size_t n)
{
    rmens_tokenizer *t = e->t;
    size_t start_offset = 0;
    for (size_t i = 0; i < n;) {
        int nb = t->n_bucket[stage][(unsigned char)s[i]];
        const added_token *hit = NULL;
        for (int k = 0; k < nb && !hit; k++) {
            const added_token *a = &t->added[t->bucket[stage][(unsigned char)s[i]][k]];
            if (a->len <= n - i && memcmp(s + i, a->content, a->len) == 0)
                hit = a;
        }
        if (!hit) {
            i++;
            continue;
        }
        size_t start = i, stop = i + hit->len;
        i = stop;
        if (hit->special && (e->flags & RMENS_TOKENIZE_SPECIAL_AS_TEXT))
            continue;
        if (hit->lstrip) {
            size_t ns = start;
            for (int w; ns > 0 && (w = white_before(s, ns)) > 0;)
                ns -= (size_t)w;
            start = ns > start_offset ? ns : start_offset;
        }
        if (hit->rstrip)
            for (int w; stop < n && (w = white_at(s, stop)) > 0;)
                stop += (size_t)w;
        if (start_offset < start && text_piece(e, stage, s + start_offset, start - start_offset))
            return -1;
        if (rmens_ids_push(e->out, hit->id))
            return -1;
        start_offset = stop;
    }
    if (start_offset < n)
        return text_piece(e, stage, s + start_offset, n - start_offset);
    return 0;
}

static int text_piece(enc *e, int stage, const char *s, size_t n)
{
    if (stage == 0) {
        const char *norm;
        size_t nn;
        if (rmens_pretok_normalize(e->t->pre, s, n, &norm, &nn) != RMENS_OK)
            return -2;
        if (norm != s) {
            /* the normalized text lives in the pre-tokenizer's buffer until the next
             * normalize, which only a later stage-0 piece calls */
            return split_added(e, 1, norm, nn);
        }
        return split_added(e, 1, s, n);
    }
    return rmens_pretok_run(e->t->pre, s, n, bpe_piece, e);
}

rmens_status rmens_tokenizer_encode_append(rmens_tokenizer *t, const char *text, size_t len,
                                           unsigned flags, rmens_ids *out)
{
    if (t->kind == KIND_BYTES) {
        for (size_t i = 0; i < len; i++)
            if (rmens_ids_push(out, (unsigned char)text[i]))
                return rmens_fail(RMENS_ERR_NOMEM, "out of memory tokenizing");
        if ((flags & RMENS_TOKENIZE_ADD_SPECIAL) && rmens_ids_push(out, RMENS_BYTES_EOT))
            return rmens_fail(RMENS_ERR_NOMEM, "out of memory tokenizing");
        return RMENS_OK;
    }
    size_t valid = rmens_utf8_valid_prefix(text, len);
    if (valid != len)
        return rmens_fail(RMENS_ERR_INPUT, "the text is not valid UTF-8 (at byte %zu)", valid);
    int add = (flags & RMENS_TOKENIZE_ADD_SPECIAL) != 0;
    for (int k = 0; add && k < t->n_prefix; k++)
        if (rmens_ids_push(out, t->prefix[k]))
            return rmens_fail(RMENS_ERR_NOMEM, "out of memory tokenizing");
    enc e = {t, out, flags, 0};
    int rc = split_added(&e, 0, text, len);
    if (rc == -2)
        return rmens_fail_context(RMENS_ERR_INPUT, "tokenizer %s: ", t->name);
    if (rc)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory tokenizing (or a regex failed on the text)");
    for (int k = 0; add && k < t->n_suffix; k++)
        if (rmens_ids_push(out, t->suffix[k]))
            return rmens_fail(RMENS_ERR_NOMEM, "out of memory tokenizing");
    return RMENS_OK;
}

rmens_status rmens_tokenizer_encode(rmens_tokenizer *t, const char *text, size_t len, unsigned flags,
                                    int32_t **ids, size_t *n)
{
    rmens_ids v = {0};
    *ids = NULL;
    *n = 0;
    rmens_status s = rmens_tokenizer_encode_append(t, text, len, flags, &v);
    if (s != RMENS_OK) {
        rmens_ids_free(&v);
        return s;
    }
    if (!v.v && !(v.v = malloc(sizeof *v.v)))
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory tokenizing");
    *ids = v.v;
    *n = v.n;
    return RMENS_OK;
}

/* ------------------------------------------------------------ decode */

rmens_status rmens_tokenizer_decode(const rmens_tokenizer *t, const int32_t *ids, size_t n,
                                    unsigned flags, char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = 0;
        if (ids[i] < 0 || ids[i] >= t->vocab_size)
            return rmens_fail(RMENS_ERR_ARG, "id %d (position %zu) is not in the vocabulary of %d", (int)ids[i], i,
                              (int)t->vocab_size);
        if (t->kind == KIND_BYTES)
            l = ids[i] == RMENS_BYTES_EOT ? 0 : 1;
        else if (t->added_of[ids[i]] >= 0)
            l = t->added[t->added_of[ids[i]]].dec_len;
        else
            rmens_bpe_token(t->bpe, ids[i], &l);
        total += l;
    }
    char *raw = malloc(total + 1), *o = malloc(3 * total + 1);
    if (!raw || !o) {
        free(raw);
        free(o);
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory decoding");
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = 0;
        const char *p;
        if (t->kind == KIND_BYTES) {
            if (ids[i] == RMENS_BYTES_EOT)
                continue;
            raw[at++] = (char)ids[i];
            continue;
        }
        if (t->added_of[ids[i]] >= 0) {
            const added_token *a = &t->added[t->added_of[ids[i]]];
            if (a->special && (flags & RMENS_DECODE_SKIP_SPECIAL))
                continue;
            p = a->decoded;
            l = a->dec_len;
        } else {
            p = rmens_bpe_token(t->bpe, ids[i], &l);
        }
        memcpy(raw + at, p, l);
        at += l;
    }
    if (t->kind == KIND_BYTES) {
        memcpy(o, raw, at);  /* bytes come back as they went in, valid UTF-8 or not */
        *len = at;
    } else {
        *len = rmens_utf8_lossy(o, raw, at);
    }
    o[*len] = 0;
    free(raw);
    *text = o;
    return RMENS_OK;
}

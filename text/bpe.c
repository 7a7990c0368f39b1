#include "text/bpe.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"

#define MAX_ID (1 << 24)          /* ids beyond any real vocabulary are refused */
#define CACHE_SLOTS (1u << 15)    /* word cache: cleared when half full */
#define CACHE_MAX_WORD 256        /* longer pieces are not cached (as in HF: MAX_LENGTH) */

int rmens_grow(void **buf, size_t *cap, size_t need, size_t elt)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *p = realloc(*buf, c * elt);
    if (!p)
        return -1;
    *buf = p;
    *cap = c;
    return 0;
}

int rmens_ids_push(rmens_ids *ids, int32_t id)
{
    if (ids->n == ids->cap && rmens_grow((void **)&ids->v, &ids->cap, ids->n + 1, sizeof *ids->v))
        return -1;
    ids->v[ids->n++] = id;
    return 0;
}

void rmens_ids_free(rmens_ids *ids)
{
    free(ids->v);
    ids->v = NULL;
    ids->n = ids->cap = 0;
}

typedef struct {
    uint64_t key;   /* (left id << 32) | right id */
    uint32_t rank;
    int32_t id;     /* the merged token; -1 marks an empty slot */
} merge_slot;

typedef struct {
    uint64_t hash;
    uint32_t key_off, key_len, ids_off, n_ids;
    int used;
} cache_slot;

typedef struct {
    uint32_t rank, pos;
    int32_t id;
} heap_item;

struct rmens_bpe {
    /* vocabulary: bytes of id i at pool + off[i], len[i] (-1: no such id) */
    char *pool;
    size_t pool_n, pool_cap;
    uint32_t *off;
    int32_t *len;
    int32_t id_end, id_cap;
    int32_t *slot;            /* string table: id + 1, 0 empty */
    size_t slot_mask, n_tokens;
    int32_t byte_id[256];
    int ignore_merges;
    /* merges */
    merge_slot *merges;
    size_t merge_mask, n_merges;
    /* word cache */
    cache_slot *cache;
    size_t cache_used;
    char *cache_keys;
    int32_t *cache_ids;
    size_t keys_n, keys_cap, cids_n, cids_cap;
    /* scratch for one word */
    int32_t *sym, *prev, *next;
    heap_item *heap;
    size_t scratch_cap, heap_cap;
};

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

static size_t merge_hash(uint64_t key, size_t mask)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & mask;
}

rmens_status rmens_bpe_new(rmens_bpe **out, size_t hint)
{
    *out = NULL;
    rmens_bpe *b = calloc(1, sizeof *b);
    if (!b)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory for a BPE vocabulary");
    size_t slots = 1024;
    while (slots < 2 * hint + 2)
        slots *= 2;
    b->slot = calloc(slots, sizeof *b->slot);
    b->slot_mask = slots - 1;
    b->merges = malloc(slots * sizeof *b->merges);
    b->merge_mask = slots - 1;
    b->cache = calloc(CACHE_SLOTS, sizeof *b->cache);
    if (!b->slot || !b->merges || !b->cache) {
        rmens_bpe_free(b);
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory for a BPE vocabulary");
    }
    for (size_t i = 0; i < slots; i++)
        b->merges[i].id = -1;
    for (int i = 0; i < 256; i++)
        b->byte_id[i] = -1;
    *out = b;
    return RMENS_OK;
}

void rmens_bpe_free(rmens_bpe *b)
{
    if (!b)
        return;
    free(b->pool); free(b->off); free(b->len); free(b->slot); free(b->merges);
    free(b->cache); free(b->cache_keys); free(b->cache_ids);
    free(b->sym); free(b->prev); free(b->next); free(b->heap);
    free(b);
}

void rmens_bpe_set_ignore_merges(rmens_bpe *b, int on) { b->ignore_merges = on; }
int32_t rmens_bpe_id_end(const rmens_bpe *b) { return b->id_end; }
int64_t rmens_bpe_merge_count(const rmens_bpe *b) { return (int64_t)b->n_merges; }

int32_t rmens_bpe_lookup(const rmens_bpe *b, const char *bytes, size_t len)
{
    if (len == 1 && b->byte_id[(unsigned char)bytes[0]] >= 0)
        return b->byte_id[(unsigned char)bytes[0]];
    for (size_t i = fnv1a(bytes, len) & b->slot_mask;; i = (i + 1) & b->slot_mask) {
        int32_t s = b->slot[i];
        if (!s)
            return -1;
        int32_t id = s - 1;
        if ((size_t)b->len[id] == len && memcmp(b->pool + b->off[id], bytes, len) == 0)
            return id;
    }
}

const char *rmens_bpe_token(const rmens_bpe *b, int32_t id, size_t *len)
{
    if (id < 0 || id >= b->id_end || b->len[id] < 0)
        return NULL;
    *len = (size_t)b->len[id];
    return b->pool + b->off[id];
}

static int grow_slots(rmens_bpe *b)
{
    size_t n = 2 * (b->slot_mask + 1);
    int32_t *s = calloc(n, sizeof *s);
    if (!s)
        return -1;
    for (int32_t id = 0; id < b->id_end; id++) {
        if (b->len[id] < 0)
            continue;
        size_t i = fnv1a(b->pool + b->off[id], (size_t)b->len[id]) & (n - 1);
        while (s[i])
            i = (i + 1) & (n - 1);
        s[i] = id + 1;
    }
    free(b->slot);
    b->slot = s;
    b->slot_mask = n - 1;
    return 0;
}

rmens_status rmens_bpe_add_token(rmens_bpe *b, const char *bytes, size_t len, int32_t id)
{
    if (id < 0 || id >= MAX_ID)
        return rmens_fail(RMENS_ERR_INPUT, "id %d is out of range (0 to %d)", (int)id, MAX_ID - 1);
    if (len == 0 || len > (1u << 20))
        return rmens_fail(RMENS_ERR_INPUT, "token %d has %s", (int)id, len ? "over 1 MiB" : "no bytes");
    if (id >= b->id_cap) {
        int32_t cap = b->id_cap ? b->id_cap : 1024;
        while (cap <= id)
            cap *= 2;
        uint32_t *off = realloc(b->off, (size_t)cap * sizeof *off);
        if (off)
            b->off = off;
        int32_t *ln = realloc(b->len, (size_t)cap * sizeof *ln);
        if (ln)
            b->len = ln;
        if (!off || !ln)
            return rmens_fail(RMENS_ERR_NOMEM, "out of memory for a BPE vocabulary");
        for (int32_t i = b->id_cap; i < cap; i++)
            b->len[i] = -1;
        b->id_cap = cap;
    }
    if (id < b->id_end && b->len[id] >= 0)
        return rmens_fail(RMENS_ERR_INPUT, "id %d is given to two tokens", (int)id);
    if (rmens_bpe_lookup(b, bytes, len) >= 0)
        return rmens_fail(RMENS_ERR_INPUT, "a token appears twice (ids %d and %d)",
                          (int)rmens_bpe_lookup(b, bytes, len), (int)id);
    if (b->pool_n + len > b->pool_cap) {
        size_t cap = b->pool_cap ? b->pool_cap : 1 << 16;
        while (cap < b->pool_n + len)
            cap *= 2;
        char *p = realloc(b->pool, cap);
        if (!p)
            return rmens_fail(RMENS_ERR_NOMEM, "out of memory for a BPE vocabulary");
        b->pool = p;
        b->pool_cap = cap;
    }
    if (2 * (b->n_tokens + 1) > b->slot_mask + 1 && grow_slots(b))
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory for a BPE vocabulary");
    memcpy(b->pool + b->pool_n, bytes, len);
    b->off[id] = (uint32_t)b->pool_n;
    b->len[id] = (int32_t)len;
    b->pool_n += len;
    if (id >= b->id_end)
        b->id_end = id + 1;
    size_t i = fnv1a(bytes, len) & b->slot_mask;
    while (b->slot[i])
        i = (i + 1) & b->slot_mask;
    b->slot[i] = id + 1;
    b->n_tokens++;
    if (len == 1)
        b->byte_id[(unsigned char)bytes[0]] = id;
    return RMENS_OK;
}

static merge_slot *merge_find(const rmens_bpe *b, uint64_t key)
{
    for (size_t i = merge_hash(key, b->merge_mask);; i = (i + 1) & b->merge_mask) {
        merge_slot *m = &b->merges[i];
        if (m->id < 0 || m->key == key)
            return m;
    }
}

static int grow_merges(rmens_bpe *b)
{
    size_t n = 2 * (b->merge_mask + 1);
    merge_slot *m = malloc(n * sizeof *m), *old = b->merges;
    if (!m)
        return -1;
    for (size_t i = 0; i < n; i++)
        m[i].id = -1;
    size_t old_n = b->merge_mask + 1;
    b->merges = m;
    b->merge_mask = n - 1;
    for (size_t i = 0; i < old_n; i++)
        if (old[i].id >= 0)
            *merge_find(b, old[i].key) = old[i];
    free(old);
    return 0;
}

rmens_status rmens_bpe_add_merge(rmens_bpe *b, const char *a, size_t alen, const char *c,
                                 size_t clen, uint32_t rank)
{
    int32_t ia = rmens_bpe_lookup(b, a, alen), ic = rmens_bpe_lookup(b, c, clen);
    if (ia < 0 || ic < 0)
        return rmens_fail(RMENS_ERR_INPUT, "merge %u names a token that is not in the vocabulary (its %s part)",
                          rank, ia < 0 ? "left" : "right");
    char stack[512];
    char *joined = alen + clen <= sizeof stack ? stack : malloc(alen + clen);
    if (!joined)
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory for a BPE merge");
    memcpy(joined, a, alen);
    memcpy(joined + alen, c, clen);
    int32_t id = rmens_bpe_lookup(b, joined, alen + clen);
    if (joined != stack)
        free(joined);
    if (id < 0)
        return rmens_fail(RMENS_ERR_INPUT, "merge %u makes a token that is not in the vocabulary", rank);
    if (2 * (b->n_merges + 1) > b->merge_mask + 1 && grow_merges(b))
        return rmens_fail(RMENS_ERR_NOMEM, "out of memory for BPE merges");
    uint64_t key = ((uint64_t)(uint32_t)ia << 32) | (uint32_t)ic;
    merge_slot *m = merge_find(b, key);
    if (m->id < 0)
        b->n_merges++;
    m->key = key;
    m->rank = rank;
    m->id = id;
    return RMENS_OK;
}

rmens_status rmens_bpe_check_bytes(const rmens_bpe *b)
{
    for (int i = 0; i < 256; i++)
        if (b->byte_id[i] < 0)
            return rmens_fail(RMENS_ERR_INPUT,
                              "the vocabulary has no token for byte 0x%02X: not a byte-level BPE", i);
    return RMENS_OK;
}

/* ---------------------------------------------------------------- merge loop */

static int heap_less(const heap_item *x, const heap_item *y)
{
    return x->rank != y->rank ? x->rank < y->rank : x->pos < y->pos;
}

static void heap_push(heap_item *h, size_t *n, heap_item it)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(&it, &h[p]))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = it;
}

static heap_item heap_pop(heap_item *h, size_t *n)
{
    heap_item top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && heap_less(&h[c + 1], &h[c]))
            c++;
        if (!heap_less(&h[c], &last))
            break;
        h[i] = h[c];
        i = c;
    }
    if (*n)
        h[i] = last;
    return top;
}

static const merge_slot *merge_get(const rmens_bpe *b, int32_t x, int32_t y)
{
    const merge_slot *m = merge_find(b, ((uint64_t)(uint32_t)x << 32) | (uint32_t)y);
    return m->id >= 0 ? m : NULL;
}

static int scratch(rmens_bpe *b, size_t n)
{
    if (n <= b->scratch_cap)
        return 0;
    size_t cap = n < 256 ? 256 : n;
    int32_t *s = realloc(b->sym, cap * sizeof *s);
    if (s) b->sym = s;
    int32_t *p = realloc(b->prev, cap * sizeof *p);
    if (p) b->prev = p;
    int32_t *x = realloc(b->next, cap * sizeof *x);
    if (x) b->next = x;
    if (!s || !p || !x)
        return -1;
    b->scratch_cap = cap;
    return 0;
}

static int push_merge(rmens_bpe *b, size_t *hn, int32_t pos, const merge_slot *m)
{
    if (rmens_grow((void **)&b->heap, &b->heap_cap, *hn + 1, sizeof *b->heap))
        return -1;
    heap_push(b->heap, hn, (heap_item){m->rank, (uint32_t)pos, m->id});
    return 0;
}

/* Hugging Face's Word::merge_all: the symbols sym[] with their links, a min-heap of
 * candidate merges; an entry whose pair changed since it was pushed is skipped. */
static int merge_all(rmens_bpe *b, const char *w, size_t n, rmens_ids *out)
{
    if (scratch(b, n))
        return -1;
    int32_t *sym = b->sym, *prev = b->prev, *next = b->next;
    size_t hn = 0;
    for (size_t i = 0; i < n; i++) {
        sym[i] = b->byte_id[(unsigned char)w[i]];
        prev[i] = (int32_t)i - 1;
        next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        const merge_slot *m = merge_get(b, sym[i], sym[i + 1]);
        if (m && push_merge(b, &hn, (int32_t)i, m))
            return -1;
    }
    while (hn) {
        heap_item top = heap_pop(b->heap, &hn);
        int32_t pos = (int32_t)top.pos;
        if (sym[pos] < 0 || next[pos] < 0)
            continue;
        int32_t right = next[pos];
        const merge_slot *m = merge_get(b, sym[pos], sym[right]);
        if (!m || m->id != top.id)
            continue;
        sym[pos] = top.id;
        sym[right] = -1;  /* removed */
        next[pos] = next[right];
        if (next[right] >= 0)
            prev[next[right]] = pos;
        if (prev[pos] >= 0 && (m = merge_get(b, sym[prev[pos]], sym[pos])) &&
            push_merge(b, &hn, prev[pos], m))
            return -1;
        if (next[pos] >= 0 && (m = merge_get(b, sym[pos], sym[next[pos]])) &&
            push_merge(b, &hn, pos, m))
            return -1;
    }
    for (int32_t i = 0; i >= 0; i = next[i])
        if (rmens_ids_push(out, sym[i]))
            return -1;
    return 0;
}

/* ---------------------------------------------------------------- word cache */

static void cache_clear(rmens_bpe *b)
{
    memset(b->cache, 0, CACHE_SLOTS * sizeof *b->cache);
    b->cache_used = b->keys_n = b->cids_n = 0;
}

static int append(void **buf, size_t *n, size_t *cap, const void *src, size_t len, size_t elt)
{
    if (rmens_grow(buf, cap, *n + len, elt))
        return -1;
    memcpy((char *)*buf + *n * elt, src, len * elt);
    *n += len;
    return 0;
}

int rmens_bpe_encode(rmens_bpe *b, const char *w, size_t n, rmens_ids *out)
{
    if (n == 0)
        return 0;
    if (b->ignore_merges || n == 1) {
        int32_t id = rmens_bpe_lookup(b, w, n);
        if (id >= 0)
            return rmens_ids_push(out, id);
    }
    if (n > CACHE_MAX_WORD)
        return merge_all(b, w, n, out);
    uint64_t h = fnv1a(w, n);
    size_t i = (size_t)h & (CACHE_SLOTS - 1);
    for (; b->cache[i].used; i = (i + 1) & (CACHE_SLOTS - 1)) {
        cache_slot *c = &b->cache[i];
        if (c->hash == h && c->key_len == n && memcmp(b->cache_keys + c->key_off, w, n) == 0) {
            for (uint32_t k = 0; k < c->n_ids; k++)
                if (rmens_ids_push(out, b->cache_ids[c->ids_off + k]))
                    return -1;
            return 0;
        }
    }
    size_t first = out->n;
    if (merge_all(b, w, n, out))
        return -1;
    if (2 * (b->cache_used + 1) > CACHE_SLOTS) {
        cache_clear(b);
        i = (size_t)h & (CACHE_SLOTS - 1);
    }
    cache_slot c = {h, (uint32_t)b->keys_n, (uint32_t)n, (uint32_t)b->cids_n,
                    (uint32_t)(out->n - first), 1};
    if (append((void **)&b->cache_keys, &b->keys_n, &b->keys_cap, w, n, 1) ||
        append((void **)&b->cache_ids, &b->cids_n, &b->cids_cap, out->v + first, out->n - first,
               sizeof(int32_t))) {
        cache_clear(b);  /* a cache that cannot grow is simply dropped */
        return 0;
    }
    b->cache[i] = c;
    b->cache_used++;
    return 0;
}

/* PyTorch checkpoints: what torch.save writes.
 *
 * The zip format (torch >= 1.6): data.pkl describes the state dict and each
 * storage is an uncompressed entry data/<key>, 64-byte aligned, so tensors
 * are views straight into the mapped file. The legacy format (older torch, or
 * _use_new_zipfile_serialization=False): a run of pickles followed by the raw
 * storages, copied only when misaligned. Both go through the safe unpickler;
 * names are mapped via the pickle, never by position. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint_internal.h"
#include "pickle.h"
#include "zip.h"

/* pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2): the legacy file's first pickle. */
static const unsigned char legacy_magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                             0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};

static bool is_zip(const unsigned char *d, size_t n) { return n >= 4 && memcmp(d, "PK\3\4", 4) == 0; }
static bool is_legacy(const unsigned char *d, size_t n) {
    return n >= sizeof legacy_magic && memcmp(d, legacy_magic, sizeof legacy_magic) == 0;
}
static bool is_tar(const unsigned char *d, size_t n) { return n >= 262 && memcmp(d + 257, "ustar", 5) == 0; }

bool at_looks_like_pt(const unsigned char *data, size_t size) {
    return is_zip(data, size) || is_legacy(data, size) || is_tar(data, size);
}

static bool host_is_big_endian(void) {
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 0;
}

/* Where a storage's bytes are, by its key: the zip entry or the legacy record. */
typedef struct {
    const char *key;
    uint64_t offset, size;
} storage_place;

typedef struct {
    const char *op;
    at_mapped_file *m;
    bool swap_bytes;
    /* zip */
    const at_zip *zip;
    char prefix[512];
    /* legacy: sorted by key, names in place_names */
    storage_place *places;
    int nplaces;
    char *place_names;
    at_state_dict *storages;   /* key -> a 1-D view of the whole storage, loaded once */
} loader;

static int place_cmp(const void *a, const void *b) {
    return strcmp(((const storage_place *)a)->key, ((const storage_place *)b)->key);
}

static int locate(loader *L, const char *key, uint64_t *offset, uint64_t *size) {
    if (L->zip) {
        size_t len = strlen(L->prefix) + strlen(key) + 7;
        char *name = malloc(len);
        if (!name) {
            at_set_error("%s: %s: out of memory", L->op, L->m->path);
            return -1;
        }
        snprintf(name, len, "%sdata/%s", L->prefix, key);
        const at_zip_entry *e = at_zip_find(L->zip, name);
        if (!e) at_set_error("%s: %s: storage '%s' has no record '%s' in the archive", L->op, L->m->path, key, name);
        free(name);
        if (!e) return -1;
        *offset = e->data_offset;
        *size = e->size;
        return 0;
    }
    storage_place want = {key, 0, 0};
    const storage_place *p = bsearch(&want, L->places, (size_t)L->nplaces, sizeof want, place_cmp);
    if (!p) {
        at_set_error("%s: %s: storage '%s' is not in the file's storage list", L->op, L->m->path, key);
        return -1;
    }
    *offset = p->offset;
    *size = p->size;
    return 0;
}

/* The whole storage a tensor views, as a 1-D tensor; loaded at its first use. */
static at_tensor *storage_for(loader *L, const at_pv *s, const char *tensor_name) {
    char key[256];
    if (s->u.storage.key_len >= sizeof key) {
        at_set_error("%s: %s: '%s': storage key of %zu bytes is too long", L->op, L->m->path, tensor_name,
                     s->u.storage.key_len);
        return NULL;
    }
    memcpy(key, s->u.storage.key, s->u.storage.key_len);
    key[s->u.storage.key_len] = 0;
    at_dtype dtype = s->u.storage.dtype;
    int64_t numel = s->u.storage.numel;
    at_tensor *whole = at_sd_get(L->storages, key);
    if (whole) {
        if (whole->dtype != dtype || whole->shape[0] != numel) {
            at_set_error("%s: %s: '%s': storage '%s' is used as %lld %s elements but was %lld %s before",
                         L->op, L->m->path, tensor_name, key, (long long)numel, at_dtype_name(dtype),
                         (long long)whole->shape[0], at_dtype_name(whole->dtype));
            return NULL;
        }
        return whole;
    }
    uint64_t offset, size, elsize = at_dtype_size(dtype), nbytes = (uint64_t)numel * elsize;
    if (locate(L, key, &offset, &size)) return NULL;
    if (size < nbytes) {
        at_set_error("%s: %s: '%s': storage '%s' of %lld %s elements needs %llu bytes but its record has %llu",
                     L->op, L->m->path, tensor_name, key, (long long)numel, at_dtype_name(dtype),
                     (unsigned long long)nbytes, (unsigned long long)size);
        return NULL;
    }
    at_storage *st = at_mapped_file_storage(L->m, offset, nbytes, elsize, L->swap_bytes && elsize > 1);
    if (!st) return NULL;
    whole = at_from_storage(st, dtype, 1, &numel, NULL, 0);
    at_storage_release(st);
    if (!whole) return NULL;
    int rc = at_sd_put(L->storages, key, whole);
    at_release(whole);
    return rc ? NULL : whole;
}

/* The pickled object must be a dict of name -> tensor; other values are skipped. */
static at_state_dict *build_state_dict(loader *L, const at_pv *root) {
    if (root->kind != AT_PV_DICT) {
        at_set_error("%s: %s: the checkpoint holds a %s, not a state dict", L->op, L->m->path,
                     at_pv_kind_name(root->kind));
        return NULL;
    }
    at_state_dict *sd = at_sd_new();
    L->storages = at_sd_new();
    char *name = NULL;
    bool skipped = false;
    at_pv_kind skipped_kind = AT_PV_NONE;
    bool ok = sd && L->storages;
    for (int i = 0; ok && i < root->u.dict.n; i++) {
        const at_pv *k = root->u.dict.keys[i], *v = root->u.dict.values[i];
        if (k->kind != AT_PV_STR) {
            at_set_error("%s: %s: entry %d of the state dict has a %s key, not a name", L->op, L->m->path, i,
                         at_pv_kind_name(k->kind));
            ok = false;
            break;
        }
        const char *nul = memchr(k->u.str.s, 0, k->u.str.len);
        if (nul) {   /* names are C strings: this one would be cut short at the NUL */
            int before = (int)(nul - k->u.str.s);
            at_set_error("%s: %s: entry %d of the state dict: its key holds a NUL byte at key byte %d, after "
                         "'%.*s%s' (a tensor name cannot hold NUL)", L->op, L->m->path, i, before,
                         before < 64 ? before : 64, k->u.str.s, before > 64 ? "..." : "");
            ok = false;
            break;
        }
        free(name);
        name = malloc(k->u.str.len + 1);
        if (!name) {
            at_set_error("%s: %s: out of memory", L->op, L->m->path);
            ok = false;
            break;
        }
        memcpy(name, k->u.str.s, k->u.str.len);
        name[k->u.str.len] = 0;
        if (v->kind != AT_PV_TENSOR) {
            if (!skipped) skipped = true, skipped_kind = v->kind;
            continue;
        }
        at_tensor *whole = storage_for(L, v->u.tensor.storage, name);
        at_tensor *t = whole ? at_from_storage(whole->storage, whole->dtype, v->u.tensor.ndim, v->u.tensor.shape,
                                               v->u.tensor.stride, v->u.tensor.offset)
                             : NULL;
        if (!t) {
            char why[512];
            snprintf(why, sizeof why, "%s", at_last_error());
            if (whole) at_set_error("%s: %s: '%s': %s", L->op, L->m->path, name, why);
            ok = false;
            break;
        }
        ok = at_sd_put(sd, name, t) == 0;
        at_release(t);
    }
    if (ok && sd->count == 0 && skipped) {
        at_set_error("%s: %s: the top-level dict holds no tensors (a value is a %s; nested checkpoints such as "
                     "{'state_dict': ...} are not supported)", L->op, L->m->path, at_pv_kind_name(skipped_kind));
        ok = false;
    }
    free(name);
    at_sd_free(L->storages);
    L->storages = NULL;
    if (!ok) {
        at_sd_free(sd);
        return NULL;
    }
    if (at_sd_strip_prefix(sd, "module.") < 0) {
        at_sd_free(sd);
        return NULL;
    }
    return sd;
}

/* A small text record such as "little" or "3\n", trimmed, into buf. */
static const char *record_text(const loader *L, const at_zip_entry *e, char *buf, size_t size) {
    size_t n = e->size < size - 1 ? (size_t)e->size : size - 1;
    memcpy(buf, L->m->data + e->data_offset, n);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ')) n--;
    buf[n] = 0;
    return buf;
}

static const at_zip_entry *find_in(const loader *L, const char *rest) {
    char name[600];
    snprintf(name, sizeof name, "%s%s", L->prefix, rest);
    return at_zip_find(L->zip, name);
}

static at_state_dict *load_zip(loader *L) {
    at_zip zip;
    const char *op = L->op, *path = L->m->path;
    if (at_zip_read(&zip, L->m->data, L->m->size, op, path)) return NULL;
    L->zip = &zip;
    at_state_dict *sd = NULL;
    at_unpickler *u = NULL;
    /* As torch does: the folder of the first entry is the archive's name. */
    const char *first = zip.count ? zip.entries[0].name : "";
    const char *slash = strchr(first, '/');
    if (!zip.count || !slash || (size_t)(slash - first) + 2 > sizeof L->prefix) {
        at_set_error("%s: %s: not a torch.save archive (%s)", op, path,
                     zip.count ? "its first entry is not inside a folder" : "the zip is empty");
        goto done;
    }
    snprintf(L->prefix, sizeof L->prefix, "%.*s", (int)(slash - first + 1), first);
    const at_zip_entry *pkl = find_in(L, "data.pkl");
    bool has_code = false;
    size_t plen = strlen(L->prefix);
    for (int i = 0; i < zip.count && !has_code; i++)
        has_code = strncmp(zip.entries[i].name, L->prefix, plen) == 0 &&
                   strncmp(zip.entries[i].name + plen, "code/", 5) == 0;
    if (find_in(L, "constants.pkl") || has_code) {
        at_set_error("%s: %s: a TorchScript archive (torch.jit.save), not a torch.save state dict", op, path);
        goto done;
    }
    if (!pkl) {
        at_set_error("%s: %s: no %sdata.pkl in the archive (not a torch.save file)", op, path, L->prefix);
        goto done;
    }
    char text[32];
    const at_zip_entry *version = find_in(L, "version");
    if (!version) version = find_in(L, ".data/version");
    if (version) {
        char *end;
        long v = strtol(record_text(L, version, text, sizeof text), &end, 10);
        if (*end || end == text || v < 1 || v > 10) {
            at_set_error("%s: %s: unsupported archive version '%s'", op, path, text);
            goto done;
        }
    }
    const at_zip_entry *order = find_in(L, "byteorder");
    bool big = false;
    if (order) {
        record_text(L, order, text, sizeof text);
        if (strcmp(text, "big") != 0 && strcmp(text, "little") != 0) {
            at_set_error("%s: %s: unknown byteorder '%s'", op, path, text);
            goto done;
        }
        big = strcmp(text, "big") == 0;
    }
    L->swap_bytes = big != host_is_big_endian();
    char where[700];
    snprintf(where, sizeof where, "%s: %s: %sdata.pkl", op, path, L->prefix);
    size_t used;
    const at_pv *root;
    if (!(u = at_unpickler_new(where, false)) ||
        !(root = at_unpickle(u, L->m->data + pkl->data_offset, (size_t)pkl->size, &used)))
        goto done;
    sd = build_state_dict(L, root);
done:
    at_unpickler_free(u);
    at_zip_free(&zip);
    L->zip = NULL;
    return sd;
}

/* One of the legacy format's leading pickles. */
static const at_pv *legacy_pickle(loader *L, at_unpickler *u, size_t *pos) {
    size_t used;
    const at_pv *v = at_unpickle(u, L->m->data + *pos, L->m->size - *pos, &used);
    if (v) *pos += used;
    return v;
}

static const at_pv *dict_lookup(const at_pv *d, const char *key) {
    for (int i = 0; i < d->u.dict.n; i++) {
        const at_pv *k = d->u.dict.keys[i];
        if (k->kind == AT_PV_STR && k->u.str.len == strlen(key) && memcmp(k->u.str.s, key, k->u.str.len) == 0)
            return d->u.dict.values[i];
    }
    return NULL;
}

/* Storages that the state dict's tensors use, by key: to size the raw records. */
static int storage_cmp(const void *a, const void *b) {
    const at_pv *x = *(const at_pv *const *)a, *y = *(const at_pv *const *)b;
    size_t n = x->u.storage.key_len < y->u.storage.key_len ? x->u.storage.key_len : y->u.storage.key_len;
    int c = memcmp(x->u.storage.key, y->u.storage.key, n);
    return c ? c : (x->u.storage.key_len > y->u.storage.key_len) - (x->u.storage.key_len < y->u.storage.key_len);
}

/* After the pickles: for each key of the key list, an int64 element count and the bytes. */
static int read_legacy_storages(loader *L, const at_pv *root, const at_pv *keys, size_t pos) {
    const char *op = L->op, *path = L->m->path;
    int n = root->u.dict.n, nused = 0, nkeys = keys->u.seq.n;
    size_t names_size = 1;
    for (int i = 0; i < nkeys; i++) {
        const at_pv *k = keys->u.seq.items[i];
        if (k->kind != AT_PV_STR || memchr(k->u.str.s, 0, k->u.str.len)) {
            at_set_error("%s: %s: storage list item %d is not a key", op, path, i);
            return -1;
        }
        names_size += k->u.str.len + 1;   /* each is at most the pickle's length: no overflow */
    }
    const at_pv **used = malloc((size_t)(n ? n : 1) * sizeof *used);
    L->places = calloc((size_t)(nkeys ? nkeys : 1), sizeof *L->places);
    L->place_names = malloc(names_size);
    if (!used || !L->places || !L->place_names) {
        free(used);
        at_set_error("%s: %s: out of memory", op, path);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (root->u.dict.values[i]->kind == AT_PV_TENSOR) used[nused++] = root->u.dict.values[i]->u.tensor.storage;
    qsort(used, (size_t)nused, sizeof *used, storage_cmp);
    char *name = L->place_names;
    int rc = -1;
    for (int i = 0; i < nkeys; i++) {
        const at_pv *k = keys->u.seq.items[i];
        at_pv probe = {.kind = AT_PV_STORAGE, .u.storage = {.key = k->u.str.s, .key_len = k->u.str.len}};
        const at_pv *pp = &probe, **hit = bsearch(&pp, used, (size_t)nused, sizeof *used, storage_cmp);
        if (!hit) {
            at_set_error("%s: %s: storage '%.*s' is stored but no tensor uses it, so its size is unknown", op, path,
                         (int)k->u.str.len, k->u.str.s);
            goto done;
        }
        if (L->m->size - pos < 8) {
            at_set_error("%s: %s: storage '%.*s': truncated at byte %zu", op, path, (int)k->u.str.len, k->u.str.s,
                         pos);
            goto done;
        }
        uint64_t count = 0;
        for (int b = 7; b >= 0; b--) count = count << 8 | L->m->data[pos + (size_t)b];
        if (L->swap_bytes) count = __builtin_bswap64(count);
        pos += 8;
        const at_pv *s = *hit;
        uint64_t nbytes = (uint64_t)s->u.storage.numel * at_dtype_size(s->u.storage.dtype);
        if (count != (uint64_t)s->u.storage.numel) {
            at_set_error("%s: %s: storage '%.*s': the record at byte %zu holds %llu elements, the pickle says %lld",
                         op, path, (int)k->u.str.len, k->u.str.s, pos - 8, (unsigned long long)count,
                         (long long)s->u.storage.numel);
            goto done;
        }
        if (nbytes > L->m->size - pos) {
            at_set_error("%s: %s: storage '%.*s': %llu bytes at byte %zu run past the end of the file (%zu bytes; "
                         "truncated?)", op, path, (int)k->u.str.len, k->u.str.s, (unsigned long long)nbytes, pos,
                         L->m->size);
            goto done;
        }
        memcpy(name, k->u.str.s, k->u.str.len);
        name[k->u.str.len] = 0;
        L->places[L->nplaces++] = (storage_place){name, pos, nbytes};
        name += k->u.str.len + 1;
        pos += nbytes;
    }
    qsort(L->places, (size_t)L->nplaces, sizeof *L->places, place_cmp);
    for (int i = 1; i < L->nplaces; i++)
        if (strcmp(L->places[i - 1].key, L->places[i].key) == 0) {
            at_set_error("%s: %s: storage '%s' is stored twice", op, path, L->places[i].key);
            goto done;
        }
    rc = 0;
done:
    free(used);
    return rc;
}

static at_state_dict *load_legacy(loader *L) {
    const char *op = L->op, *path = L->m->path;
    char where[600];
    snprintf(where, sizeof where, "%s: %s: legacy pickle", op, path);
    at_unpickler *u = at_unpickler_new(where, true);
    if (!u) return NULL;
    at_state_dict *sd = NULL;
    size_t pos = sizeof legacy_magic;
    const at_pv *protocol = legacy_pickle(L, u, &pos), *info = NULL, *root = NULL, *keys = NULL;
    if (!protocol) goto done;
    if (protocol->kind != AT_PV_INT || protocol->u.i != 1001) {
        at_set_error("%s: %s: legacy format with an unknown protocol version", op, path);
        goto done;
    }
    if (!(info = legacy_pickle(L, u, &pos))) goto done;
    const at_pv *little = info->kind == AT_PV_DICT ? dict_lookup(info, "little_endian") : NULL;
    if (!little || little->kind != AT_PV_BOOL) {
        at_set_error("%s: %s: legacy format without its system information (little_endian)", op, path);
        goto done;
    }
    L->swap_bytes = little->u.b == host_is_big_endian();
    if (!(root = legacy_pickle(L, u, &pos)) || !(keys = legacy_pickle(L, u, &pos))) goto done;
    if (root->kind != AT_PV_DICT) {
        at_set_error("%s: %s: the checkpoint holds a %s, not a state dict", op, path, at_pv_kind_name(root->kind));
        goto done;
    }
    if (keys->kind != AT_PV_LIST) {
        at_set_error("%s: %s: legacy format: the storage list is a %s", op, path, at_pv_kind_name(keys->kind));
        goto done;
    }
    if (read_legacy_storages(L, root, keys, pos) == 0) sd = build_state_dict(L, root);
done:
    free(L->places);
    free(L->place_names);
    L->places = NULL;
    L->place_names = NULL;
    at_unpickler_free(u);
    return sd;
}

at_state_dict *at_load_pt_mapped(at_mapped_file *m, const char *op) {
    loader L = {.op = op, .m = m};
    if (is_zip(m->data, m->size)) return load_zip(&L);
    if (is_legacy(m->data, m->size)) return load_legacy(&L);
    if (is_tar(m->data, m->size)) {
        at_set_error("%s: %s: the old tar-based torch checkpoint format is not supported; "
                     "re-save it with a newer torch", op, m->path);
        return NULL;
    }
    at_set_error("%s: %s: not a PyTorch checkpoint (no zip or legacy pickle header)", op, m->path);
    return NULL;
}

at_state_dict *at_load_pt(const char *path) {
    at_mapped_file *m = at_mapped_file_open("load_pt", path);
    if (!m) return NULL;
    at_state_dict *sd = at_load_pt_mapped(m, "load_pt");
    at_mapped_file_release(m);
    return sd;
}

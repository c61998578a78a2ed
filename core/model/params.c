/* Named parameter slots: load with a full key report, random init, export. */
#include "params.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../autograd.h"
#include "../ops.h"

void ir_params_add(ir_params *p, at_tensor **slot, ir_init_kind init, double std, int ndim,
                   const int64_t *shape, const char *fmt, ...) {
    if (p->failed) return;
    if (p->count == p->cap) {
        int cap = p->cap ? 2 * p->cap : 64;
        ir_param *items = realloc(p->items, (size_t)cap * sizeof *items);
        if (!items) {
            p->failed = true;
            return;
        }
        p->items = items, p->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    char buf[256];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *name = strdup(buf);
    if (!name) {
        p->failed = true;
        return;
    }
    ir_param *it = &p->items[p->count++];
    *it = (ir_param){.name = name, .slot = slot, .ndim = ndim, .init = init, .std = std};
    memcpy(it->shape, shape, (size_t)ndim * sizeof *shape);
}

int ir_params_ok(const ir_params *p) {
    if (!p->failed) return 0;
    at_set_error("model: out of memory listing the parameters");
    return -1;
}

void ir_params_free(ir_params *p) {
    for (int i = 0; i < p->count; i++) free(p->items[i].name);
    free(p->items);
    *p = (ir_params){0};
}

void ir_params_release_tensors(ir_params *p) {
    for (int i = 0; i < p->count; i++) {
        at_release(*p->items[i].slot);
        *p->items[i].slot = NULL;
    }
}

/* ---- the key report ---- */

/* A growing message; on out of memory it keeps what it has. */
typedef struct {
    char *s;
    size_t len, cap;
} text_buf;

static void tb_add(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_add(text_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char piece[512];
    int n = vsnprintf(piece, sizeof piece, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    size_t len = (size_t)n < sizeof piece ? (size_t)n : sizeof piece - 1;
    if (b->len + len + 1 > b->cap) {
        size_t cap = (b->cap ? 2 * b->cap : 1024) + len;
        char *s = realloc(b->s, cap);
        if (!s) return;
        b->s = s, b->cap = cap;
    }
    memcpy(b->s + b->len, piece, len);
    b->len += len;
    b->s[b->len] = '\0';
}

static void shape_text(int ndim, const int64_t *shape, char *buf, size_t size) {
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (used < size) snprintf(buf + used, size - used, "]");
}

static bool shape_matches(const ir_param *it, const at_tensor *t) {
    if (t->ndim != it->ndim) return false;
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] != it->shape[d]) return false;
    return true;
}

static bool is_ignored(const char *name, const char *const *ignored) {
    for (int i = 0; ignored && ignored[i]; i++) {
        size_t n = strlen(ignored[i]);
        if (n && ignored[i][n - 1] == '.' ? strncmp(name, ignored[i], n) == 0 : strcmp(name, ignored[i]) == 0)
            return true;
    }
    return false;
}

/* Slot index by name through a sorted index: the full model has 600-odd
 * keys, and a quadratic scan of names would be the slowest part of loading. */
typedef struct {
    const char *name;
    int index;
} name_index;

static int compare_names(const void *a, const void *b) {
    return strcmp(((const name_index *)a)->name, ((const name_index *)b)->name);
}

static int find_slot(const name_index *idx, int n, const char *name) {
    name_index key = {name, 0};
    const name_index *hit = bsearch(&key, idx, (size_t)n, sizeof *idx, compare_names);
    return hit ? hit->index : -1;
}

/* Compares sd with the table; fills found[i] with the sd tensor for slot i.
 * Returns the message (caller frees) when anything is wrong, else NULL. */
static char *key_report(const ir_params *p, const at_state_dict *sd, const char *const *ignored,
                        const at_tensor **found, bool *out_of_memory) {
    text_buf missing = {0}, unexpected = {0}, misshaped = {0};
    int n_missing = 0, n_unexpected = 0, n_misshaped = 0;
    name_index *idx = malloc((size_t)(p->count ? p->count : 1) * sizeof *idx);
    if (!idx) {
        *out_of_memory = true;
        return NULL;
    }
    for (int i = 0; i < p->count; i++) idx[i] = (name_index){p->items[i].name, i};
    qsort(idx, (size_t)p->count, sizeof *idx, compare_names);
    for (int k = 0; k < sd->count; k++) {
        const char *name = sd->entries[k].name;
        const at_tensor *t = sd->entries[k].tensor;
        int i = find_slot(idx, p->count, name);
        if (i < 0) {
            if (!is_ignored(name, ignored))
                tb_add(&unexpected, "%s%s", n_unexpected++ ? ", " : "", name);
            continue;
        }
        const ir_param *it = &p->items[i];
        if (!shape_matches(it, t) || !at_dtype_is_float(t->dtype) || t->storage->device != AT_CPU) {
            char want[128], got[128];
            shape_text(it->ndim, it->shape, want, sizeof want);
            at_shape_str(t, got, sizeof got);
            tb_add(&misshaped, "%s%s is %s %s, want %s f32", n_misshaped++ ? ", " : "", name,
                   at_dtype_name(t->dtype), got, want);
            continue;
        }
        found[i] = t;
    }
    free(idx);
    for (int i = 0; i < p->count; i++) {
        bool present = found[i] != NULL;
        if (!present) /* a mis-shaped key is present but reported above */
            for (int k = 0; k < sd->count && !present; k++) present = strcmp(sd->entries[k].name, p->items[i].name) == 0;
        if (!present) tb_add(&missing, "%s%s", n_missing++ ? ", " : "", p->items[i].name);
    }
    char *msg = NULL;
    if (n_missing || n_unexpected || n_misshaped) {
        text_buf all = {0};
        if (n_missing) tb_add(&all, "; %d missing: %s", n_missing, missing.s ? missing.s : "?");
        if (n_unexpected) tb_add(&all, "; %d unexpected: %s", n_unexpected, unexpected.s ? unexpected.s : "?");
        if (n_misshaped) tb_add(&all, "; %d mis-shaped: %s", n_misshaped, misshaped.s ? misshaped.s : "?");
        msg = all.s;
        if (!msg) *out_of_memory = true;
    }
    free(missing.s);
    free(unexpected.s);
    free(misshaped.s);
    return msg;
}

/* The parameter for a checkpoint tensor: the same bytes when f32 and
 * contiguous (and no copy asked for), else a new f32 copy. */
static at_tensor *adopt(const at_tensor *t, bool copy) {
    if (t->dtype == AT_F32 && !copy && at_is_contiguous(t)) return at_detach(t);
    at_tensor *out = at_empty_uninit(AT_F32, t->ndim, t->shape);
    if (out && at_copy_(out, t)) {
        at_release(out);
        return NULL;
    }
    return out;
}

int ir_params_load(ir_params *p, const at_state_dict *sd, const char *const *ignored, bool copy,
                   const char *source) {
    if (ir_params_ok(p)) return -1;
    const at_tensor **found = calloc((size_t)(p->count ? p->count : 1), sizeof *found);
    if (!found) {
        at_set_error("model: out of memory loading %s", source);
        return -1;
    }
    bool oom = false;
    char *msg = key_report(p, sd, ignored, found, &oom);
    if (oom || msg) {
        if (msg) at_set_error("model: checkpoint %s does not fit the model config%s", source, msg);
        else at_set_error("model: out of memory checking the keys of %s", source);
        free(msg);
        free(found);
        return -1;
    }
    for (int i = 0; i < p->count; i++) {
        at_tensor *t = adopt(found[i], copy);
        if (!t) {
            ir_params_release_tensors(p);
            free(found);
            return -1;
        }
        at_release(*p->items[i].slot);
        *p->items[i].slot = t;
    }
    free(found);
    return 0;
}

/* Uniform values with the given std, four per Philox block and threaded:
 * the full model has 446 M weights, and drawing each through Box-Muller
 * (at_randn) takes longer than the benchmarks that need them. Counter-based,
 * so the values do not depend on the thread count. */
static at_tensor *random_uniform(at_rng *rng, int ndim, const int64_t *shape, double std) {
    at_tensor *t = at_empty_uninit(AT_F32, ndim, shape);
    if (!t) return NULL;
    int64_t n = at_numel(t), blocks = (n + 3) / 4;
    float *p = at_data(t);
    uint64_t seed = rng->seed, base = rng->counter;
    float half_width = (float)(std * 1.7320508075688772); /* std of U(-a, a) is a/√3 */
    #pragma omp parallel for schedule(static) if (n >= (1 << 16))
    for (int64_t b = 0; b < blocks; b++) {
        uint32_t r[4];
        at_philox4x32(seed, base + (uint64_t)b, r);
        for (int j = 0; j < 4 && 4 * b + j < n; j++)
            p[4 * b + j] = ((float)(r[j] >> 8) * 0x1.0p-23f - 1.0f) * half_width;
    }
    rng->counter += (uint64_t)blocks;
    return t;
}

int ir_params_init_random(ir_params *p, at_rng *rng) {
    if (ir_params_ok(p)) return -1;
    for (int i = 0; i < p->count; i++) {
        const ir_param *it = &p->items[i];
        at_tensor *t = it->init == IR_INIT_RANDOM
                           ? random_uniform(rng, it->ndim, it->shape, it->std)
                           : at_full(AT_F32, it->ndim, it->shape, it->init == IR_INIT_ONE ? 1.0 : 0.0);
        if (!t) {
            ir_params_release_tensors(p);
            return -1;
        }
        at_release(*it->slot);
        *it->slot = t;
    }
    return 0;
}

at_state_dict *ir_params_export(const ir_params *p) {
    if (ir_params_ok(p)) return NULL;
    at_state_dict *sd = at_sd_new();
    if (!sd) return NULL;
    for (int i = 0; i < p->count; i++) {
        at_tensor *t = *p->items[i].slot;
        if (!t) {
            at_set_error("model: parameter %s has no tensor to export", p->items[i].name);
            at_sd_free(sd);
            return NULL;
        }
        /* A detached header: the dict must not hand out the leaf with its grad. */
        at_tensor *d = at_detach(t);
        int rc = d ? at_sd_put(sd, p->items[i].name, d) : -1;
        at_release(d);
        if (rc) {
            at_sd_free(sd);
            return NULL;
        }
    }
    return sd;
}

int ir_params_to_device(ir_params *p, at_device device) {
    for (int i = 0; i < p->count; i++) {
        at_tensor **slot = p->items[i].slot;
        if (!*slot || at_device_of(*slot) == device) continue;
        at_tensor *moved = at_to_device(*slot, device);
        if (!moved || at_set_requires_grad(moved, (*slot)->requires_grad)) {
            char why[512];
            snprintf(why, sizeof why, "%s", at_last_error());
            at_set_error("to_device: parameter %s: %s", p->items[i].name, why);
            at_release(moved);
            return -1;
        }
        at_release(*slot);
        *slot = moved;
    }
    return 0;
}

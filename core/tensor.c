/* Tensor headers, storage, construction and element access. */
#include "tensor.h"
#include "autograd.h"
#include "parallel.h"
#include "device.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

char *at_shape_str(const at_tensor *t, char *buf, size_t size) {
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < t->ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (n < size) snprintf(buf + n, size - n, "]");
    return buf;
}

/* ---- graph nodes ----
 * A tensor holds the node that made it and a node its inputs, so a node's
 * lifetime is the tensors': it is released here, with them. */

void at_node_retain(at_node *n) { __atomic_add_fetch(&n->refcount, 1, __ATOMIC_RELAXED); }

void at_node_release(at_node *n) {
    if (!n || __atomic_sub_fetch(&n->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
    for (int i = 0; i < n->n_inputs; i++) at_release(n->inputs[i]);
    for (int i = 0; i < AT_NODE_MAX_SAVED; i++) at_release(n->saved[i]);
    if (n->ctx_free) n->ctx_free(n->ctx);
    free(n);
}

/* ---- dtypes ---- */

static const struct { const char *name; size_t size; } dtype_info[AT_NDTYPES] = {
    [AT_F32] = {"f32", 4}, [AT_F64] = {"f64", 8}, [AT_F16] = {"f16", 2}, [AT_BF16] = {"bf16", 2},
    [AT_I32] = {"i32", 4}, [AT_I64] = {"i64", 8}, [AT_U8] = {"u8", 1},
};

size_t at_dtype_size(at_dtype d) { return dtype_info[d].size; }
const char *at_dtype_name(at_dtype d) { return (unsigned)d < AT_NDTYPES ? dtype_info[d].name : "?"; }
bool at_dtype_is_float(at_dtype d) { return d == AT_F32 || d == AT_F64 || d == AT_F16 || d == AT_BF16; }

int at_dtype_from_name(const char *name) {
    for (int d = 0; d < AT_NDTYPES; d++)
        if (strcmp(name, dtype_info[d].name) == 0) return d;
    return -1;
}

static uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* IEEE binary16, round to nearest even, with subnormals, inf and NaN. */
uint16_t at_f32_to_f16(float f) {
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t abs = x & 0x7fffffffu;
    if (abs >= 0x7f800000u) /* inf or NaN (keep NaN quiet) */
        return sign | 0x7c00 | (abs > 0x7f800000u ? 0x200 : 0);
    if (abs >= 0x477ff000u) return sign | 0x7c00; /* rounds past 65504 */
    if (abs < 0x38800000u) {                      /* f16 subnormal or zero */
        /* Adding 0.5 (as a float) aligns the mantissa so the FPU rounds to even. */
        float r = bits_f32(abs) + 0.5f;
        return sign | (uint16_t)(f32_bits(r) - 0x3f000000u);
    }
    uint32_t mant_odd = (abs >> 13) & 1;
    abs += 0xc8000fffu + mant_odd; /* rebias exponent (-112 << 23) and round */
    return sign | (uint16_t)(abs >> 13);
}

float at_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (mant << 13));
    if (exp == 0) return (sign ? -1.0f : 1.0f) * ldexpf((float)mant, -24);
    return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t at_f32_to_bf16(float f) {
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40); /* quiet NaN */
    x += 0x7fffu + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

float at_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

/* ---- storage ---- */

static size_t live_bytes;

size_t at_storage_live_bytes(void) { return __atomic_load_n(&live_bytes, __ATOMIC_RELAXED); }

static void release_owned(at_storage *s) {
    __atomic_sub_fetch(&live_bytes, s->nbytes, __ATOMIC_RELAXED);
    free(s->data);
}

/* Activations of a training step are hundreds of megabytes, allocated and
 * freed every step; glibc maps blocks that large afresh each time, and
 * faulting them in 4 KiB pages cost about as much as the arithmetic on
 * them (a small-config training step took twice as long, under a VM).
 * Blocks of 2 MiB and more are therefore 2 MiB-aligned and asked for as
 * transparent huge pages, which Linux faults in 512 times fewer steps
 * (Debian's default THP mode, "madvise", grants them only when asked). */
#define HUGE_PAGE ((size_t)2 << 20)

static void *storage_alloc(size_t nbytes) {
    if (nbytes < HUGE_PAGE) return aligned_alloc(64, (nbytes + 63) / 64 * 64);
    size_t alloc = (nbytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    void *data = aligned_alloc(HUGE_PAGE, alloc);
#ifdef MADV_HUGEPAGE
    if (data) madvise(data, alloc, MADV_HUGEPAGE);   /* advice only: a refusal changes nothing */
#endif
    return data;
}

void at_keep_freed_memory(void) {
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

at_storage *at_storage_new_uninit(size_t nbytes) {
    at_storage *s = calloc(1, sizeof *s);
    void *data = storage_alloc(nbytes ? nbytes : 64);
    if (!s || !data) {
        free(s);
        free(data);
        at_set_error("out of memory allocating %zu bytes", nbytes);
        return NULL;
    }
    s->refcount = 1;
    s->device = AT_CPU;
    s->data = data;
    s->nbytes = nbytes;
    s->release = release_owned;
    __atomic_add_fetch(&live_bytes, nbytes, __ATOMIC_RELAXED);
    return s;
}

at_storage *at_storage_new(size_t nbytes) {
    at_storage *s = at_storage_new_uninit(nbytes);
    if (s) memset(s->data, 0, s->nbytes);
    return s;
}

at_storage *at_storage_borrow(void *data, size_t nbytes, void (*release)(at_storage *), void *owner) {
    at_storage *s = calloc(1, sizeof *s);
    if (!s) {
        at_set_error("out of memory");
        return NULL;
    }
    s->refcount = 1;
    s->device = AT_CPU;
    s->data = data;
    s->nbytes = nbytes;
    s->release = release;
    s->owner = owner;
    return s;
}

static uint64_t write_clock;

uint64_t at_storage_touch(at_storage *s) {
    uint64_t stamp = __atomic_add_fetch(&write_clock, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&s->version, stamp, __ATOMIC_RELAXED);
    return stamp;
}

uint64_t at_storage_version(const at_storage *s) { return __atomic_load_n(&s->version, __ATOMIC_RELAXED); }

void at_storage_retain(at_storage *s) { __atomic_add_fetch(&s->refcount, 1, __ATOMIC_RELAXED); }

void at_storage_release(at_storage *s) {
    if (!s || __atomic_sub_fetch(&s->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
    if (s->release) s->release(s);
    free(s);
}

/* ---- lifetime ---- */

void at_retain(at_tensor *t) { __atomic_add_fetch(&t->refcount, 1, __ATOMIC_RELAXED); }

void at_release(at_tensor *t) {
    if (!t || __atomic_sub_fetch(&t->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
    at_storage_release(t->storage);
    at_release(t->grad);
    if (t->grad_fn) at_node_release(t->grad_fn);
    free(t);
}

/* ---- construction ---- */

/* "(2, 3, 4)" for error messages, in a buffer per thread so a message can
 * hold it without a caller's buffer. */
static const char *dims_str(int ndim, const int64_t *shape) {
    static _Thread_local char buf[AT_MAX_DIMS * 22 + 4];
    size_t used = 0;
    buf[used++] = '(';
    for (int i = 0; i < ndim && used < sizeof buf; i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (used < sizeof buf - 1) buf[used++] = ')';
    buf[used < sizeof buf ? used : sizeof buf - 1] = '\0';
    return buf;
}

static int check_shape(const char *op, int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > AT_MAX_DIMS) {
        at_set_error("%s: %d dims requested, at most %d supported", op, ndim, AT_MAX_DIMS);
        return -1;
    }
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            at_set_error("%s: negative size %lld in dim %d", op, (long long)shape[i], i);
            return -1;
        }
        /* A count past int64 would wrap (to 0 for 2^32 x 2^32) and pass for a
         * tiny tensor, so every later index would run off its storage. */
        if (__builtin_mul_overflow(n, shape[i], &n)) {
            at_set_error("%s: out of memory: shape %s has more than 2^63 elements", op, dims_str(ndim, shape));
            return -1;
        }
    }
    return 0;
}

static int64_t shape_numel(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

static at_tensor *header_on(at_storage *s, at_dtype dtype, int ndim, const int64_t *shape,
                            const int64_t *stride, int64_t offset) {
    at_tensor *t = calloc(1, sizeof *t);
    if (!t) {
        at_set_error("out of memory");
        return NULL;
    }
    t->refcount = 1;
    t->dtype = dtype;
    t->ndim = ndim;
    t->offset = offset;
    t->storage = s;
    int64_t st = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        t->shape[i] = shape[i];
        t->stride[i] = stride ? stride[i] : st;
        st *= shape[i];
    }
    return t;
}

static at_tensor *new_tensor(at_device device, at_dtype dtype, int ndim, const int64_t *shape, bool zero) {
    if (check_shape("empty", ndim, shape)) return NULL;
    size_t nbytes;
    if (__builtin_mul_overflow((size_t)shape_numel(ndim, shape), at_dtype_size(dtype), &nbytes) ||
        nbytes > SIZE_MAX - 64) {
        at_set_error("out of memory: a %s tensor of shape %s needs more than 2^64 bytes", at_dtype_name(dtype),
                     dims_str(ndim, shape));
        return NULL;
    }
    const at_backend *backend = NULL;
    if (device != AT_CPU && !(backend = at_backend_of(device, "cuda"))) return NULL;
    at_storage *s = backend ? backend->storage_new(nbytes)
                  : zero            ? at_storage_new(nbytes)
                                    : at_storage_new_uninit(nbytes);
    if (!s && backend) return NULL; /* the allocator's error names the size and what is in use */
    if (!s) {
        at_set_error("out of memory: a %s tensor of shape %s needs %zu bytes (%.2f GB)", at_dtype_name(dtype),
                     dims_str(ndim, shape), nbytes, nbytes / 1e9);
        return NULL;
    }
    at_tensor *t = header_on(s, dtype, ndim, shape, NULL, 0);
    if (!t) at_storage_release(s);
    if (t && zero && backend && backend->fill(t, 0)) {
        at_release(t);
        return NULL;
    }
    return t;
}

at_tensor *at_empty(at_dtype dtype, int ndim, const int64_t *shape) { return new_tensor(AT_CPU, dtype, ndim, shape, true); }

at_tensor *at_empty_uninit(at_dtype dtype, int ndim, const int64_t *shape) {
    return new_tensor(AT_CPU, dtype, ndim, shape, false);
}

at_tensor *at_empty_on(at_device device, at_dtype dtype, int ndim, const int64_t *shape) {
    return new_tensor(device, dtype, ndim, shape, true);
}

at_tensor *at_empty_uninit_on(at_device device, at_dtype dtype, int ndim, const int64_t *shape) {
    return new_tensor(device, dtype, ndim, shape, false);
}

at_tensor *at_full_on(at_device device, at_dtype dtype, int ndim, const int64_t *shape, double value) {
    at_tensor *t = at_empty_on(device, dtype, ndim, shape);
    if (t && value != 0 && at_fill_(t, value)) {
        at_release(t);
        return NULL;
    }
    return t;
}

at_tensor *at_zeros(at_dtype dtype, int ndim, const int64_t *shape) { return at_empty(dtype, ndim, shape); }

at_tensor *at_full(at_dtype dtype, int ndim, const int64_t *shape, double value) {
    at_tensor *t = at_empty(dtype, ndim, shape);
    if (t && value != 0) at_fill_(t, value);
    return t;
}

at_tensor *at_from_data(at_dtype dtype, int ndim, const int64_t *shape, const void *data) {
    at_tensor *t = at_empty_uninit(dtype, ndim, shape);
    if (t) memcpy(at_data(t), data, (size_t)at_numel(t) * at_dtype_size(dtype));
    return t;
}

at_tensor *at_scalar(at_dtype dtype, double value) { return at_full(dtype, 0, NULL, value); }

at_tensor *at_from_storage(at_storage *s, at_dtype dtype, int ndim, const int64_t *shape,
                           const int64_t *stride, int64_t offset) {
    if (check_shape("from_storage", ndim, shape)) return NULL;
    /* Every element must lie inside the storage: check the lowest and highest address. */
    int64_t lo = offset, hi = offset, contiguous[AT_MAX_DIMS];
    bool empty = shape_numel(ndim, shape) == 0;
    if (!stride) {
        for (int i = ndim - 1, st = 1; i >= 0; st *= (int)shape[i], i--) contiguous[i] = st;
        stride = contiguous;
    }
    for (int i = 0; i < ndim && !empty; i++) {
        int64_t st = stride[i];
        if (st > INT64_MAX / 2 / (shape[i] ? shape[i] : 1) || st < -(INT64_MAX / 2) / (shape[i] ? shape[i] : 1)) {
            at_set_error("from_storage: stride %lld in dim %d overflows", (long long)st, i);
            return NULL;
        }
        if (st >= 0) hi += (shape[i] - 1) * st;
        else lo += (shape[i] - 1) * st;
    }
    size_t es = at_dtype_size(dtype);
    if (!empty && (lo < 0 || (uint64_t)(hi + 1) * es > s->nbytes)) {
        at_set_error("from_storage: view (offset %lld, elements %lld..%lld of %s) lies outside "
                     "a storage of %zu bytes", (long long)offset, (long long)lo, (long long)hi,
                     at_dtype_name(dtype), s->nbytes);
        return NULL;
    }
    at_tensor *t = header_on(s, dtype, ndim, shape, stride, offset);
    if (t) at_storage_retain(s);
    return t;
}

at_tensor *at_detach(const at_tensor *t) {
    at_tensor *d = header_on(t->storage, t->dtype, t->ndim, t->shape, t->stride, t->offset);
    if (d) at_storage_retain(t->storage);
    return d;
}

at_tensor *at_clone_data(const at_tensor *t) {
    at_tensor *c = at_empty_uninit_on(at_device_of(t), t->dtype, t->ndim, t->shape);
    if (c && at_copy_(c, t)) {
        at_release(c);
        return NULL;
    }
    return c;
}

/* ---- inspection ---- */

int64_t at_numel(const at_tensor *t) { return shape_numel(t->ndim, t->shape); }

bool at_is_contiguous(const at_tensor *t) {
    int64_t st = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != st) return false;
        st *= t->shape[i];
    }
    return true;
}

bool at_same_shape(const at_tensor *a, const at_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

static double read_elem(const void *base, at_dtype d, int64_t i) {
    switch (d) {
    case AT_F32: return ((const float *)base)[i];
    case AT_F64: return ((const double *)base)[i];
    case AT_F16: return at_f16_to_f32(((const uint16_t *)base)[i]);
    case AT_BF16: return at_bf16_to_f32(((const uint16_t *)base)[i]);
    case AT_I32: return ((const int32_t *)base)[i];
    case AT_I64: return (double)((const int64_t *)base)[i];
    case AT_U8: return ((const uint8_t *)base)[i];
    default: return NAN;
    }
}

/* Float to integer conversions saturate (NaN gives 0) and truncate toward
 * zero: C leaves an out-of-range conversion undefined. 2^63 is the first
 * double past INT64_MAX. */
static int64_t saturate(double v, double lo, double hi) {
    if (v != v) return 0;
    if (v <= lo) return (int64_t)lo;
    if (v >= hi) return v >= 9223372036854775808.0 ? INT64_MAX : (int64_t)hi;
    return (int64_t)v;
}

static void write_elem(void *base, at_dtype d, int64_t i, double v) {
    switch (d) {
    case AT_F32: ((float *)base)[i] = (float)v; break;
    case AT_F64: ((double *)base)[i] = v; break;
    case AT_F16: ((uint16_t *)base)[i] = at_f32_to_f16((float)v); break;
    case AT_BF16: ((uint16_t *)base)[i] = at_f32_to_bf16((float)v); break;
    case AT_I32: ((int32_t *)base)[i] = (int32_t)saturate(v, INT32_MIN, INT32_MAX); break;
    case AT_I64: ((int64_t *)base)[i] = saturate(v, -9223372036854775808.0, 9223372036854775808.0); break;
    case AT_U8: ((uint8_t *)base)[i] = (uint8_t)saturate(v, 0, 255); break;
    default: break;
    }
}

/* Element i of t's storage, read through the host when it lives on the GPU. */
static double read_stored(const at_tensor *t, int64_t i) {
    if (!at_on_cuda(t)) return read_elem(t->storage->data, t->dtype, i);
    uint64_t word = 0;
    size_t es = at_dtype_size(t->dtype);
    if (at_device_memcpy(&word, AT_CPU, (char *)t->storage->data + (size_t)i * es, AT_CUDA, es)) return NAN;
    return read_elem(&word, t->dtype, 0);
}

int64_t at_storage_index(const at_tensor *t, int64_t linear) {
    int64_t idx = t->offset;
    for (int d = t->ndim - 1; d >= 0; d--) {
        idx += (linear % t->shape[d]) * t->stride[d];
        linear /= t->shape[d];
    }
    return idx;
}

double at_get_linear(const at_tensor *t, int64_t linear) {
    return read_stored(t, at_storage_index(t, linear));
}

static int64_t index_of(const at_tensor *t, const int64_t *index, const char *op) {
    int64_t idx = t->offset;
    for (int d = 0; d < t->ndim; d++) {
        if (index[d] < 0 || index[d] >= t->shape[d]) {
            char b[128];
            at_set_error("%s: index %lld out of range for dim %d of a tensor of shape %s", op,
                         (long long)index[d], d, at_shape_str(t, b, sizeof b));
            return -1;
        }
        idx += index[d] * t->stride[d];
    }
    return idx;
}

double at_get(const at_tensor *t, const int64_t *index) {
    int64_t i = index_of(t, index, "get");
    return i < 0 ? NAN : read_stored(t, i);
}

void at_set(at_tensor *t, const int64_t *index, double value) {
    int64_t i = index_of(t, index, "set");
    if (i < 0) return;
    at_storage_touch(t->storage);
    if (!at_on_cuda(t)) {
        write_elem(t->storage->data, t->dtype, i, value);
        return;
    }
    uint64_t word = 0;
    size_t es = at_dtype_size(t->dtype);
    write_elem(&word, t->dtype, 0, value);
    at_device_memcpy((char *)t->storage->data + (size_t)i * es, AT_CUDA, &word, AT_CPU, es);
}

double at_item(const at_tensor *t) {
    if (at_numel(t) != 1) {
        char b[128];
        at_set_error("item: tensor of shape %s has %lld elements, expected 1",
                     at_shape_str(t, b, sizeof b), (long long)at_numel(t));
        return NAN;
    }
    return at_get_linear(t, 0);
}

/* ---- copies ---- */

/* Storage offset of row r (all dims but the last) of t. */
static int64_t row_offset(const at_tensor *t, int64_t r) {
    int64_t idx = t->offset;
    for (int d = t->ndim - 2; d >= 0; d--) {
        idx += (r % t->shape[d]) * t->stride[d];
        r /= t->shape[d];
    }
    return idx;
}

/* n elements of size es from src (stride ss) to dst (stride ds), typed by
 * size so the compiler emits plain moves instead of memcpy calls. */
static void copy_strided(char *dst, int64_t ds, const char *src, int64_t ss, int64_t n, size_t es) {
#define COPY_AS(T)                                                              \
    for (int64_t i = 0; i < n; i++) ((T *)dst)[i * ds] = ((const T *)src)[i * ss]; \
    return;
    switch (es) {
    case 1: COPY_AS(uint8_t)
    case 2: COPY_AS(uint16_t)
    case 4: COPY_AS(uint32_t)
    default: COPY_AS(uint64_t)
    }
#undef COPY_AS
}

/* A copy between devices: first a contiguous copy of src on dst's device
 * (a plain memcpy across the bus), then a copy on that device. */
static int copy_across(at_tensor *dst, const at_tensor *src) {
    at_tensor *moved = at_to_device(src, at_device_of(dst));
    int rc = moved ? at_copy_(dst, moved) : -1;
    at_release(moved);
    return rc;
}

int at_copy_(at_tensor *dst, const at_tensor *src) {
    if (!at_same_shape(dst, src)) {
        char a[128], b[128];
        at_set_error("copy: destination shape %s differs from source shape %s",
                     at_shape_str(dst, a, sizeof a), at_shape_str(src, b, sizeof b));
        return -1;
    }
    if (at_device_of(dst) != at_device_of(src)) return copy_across(dst, src);
    if (dst->storage) at_storage_touch(dst->storage);   /* before: a failed copy may have written part */
    if (at_on_cuda(dst)) {
        const at_backend *b = at_backend_of(AT_CUDA, "copy");
        return b ? b->copy(dst, src) : -1;
    }
    int64_t n = at_numel(src);
    if (n == 0) return 0;
    size_t es = at_dtype_size(src->dtype);
    if (dst->dtype == src->dtype && at_is_contiguous(dst) && at_is_contiguous(src)) {
        memcpy(at_data(dst), at_data(src), (size_t)n * es);
        return 0;
    }
    int64_t inner = dst->ndim ? dst->shape[dst->ndim - 1] : 1;
    int64_t rows = n / inner;
    int64_t ss = src->ndim ? src->stride[src->ndim - 1] : 1;
    int64_t ds = dst->ndim ? dst->stride[dst->ndim - 1] : 1;
    char *sbase = src->storage->data, *dbase = dst->storage->data;
    bool same = dst->dtype == src->dtype;
    #pragma omp parallel for if (n >= AT_PARALLEL_MIN)
    for (int64_t r = 0; r < rows; r++) {
        int64_t so = row_offset(src, r), dof = row_offset(dst, r);
        if (!same) {
            for (int64_t i = 0; i < inner; i++)
                write_elem(dbase, dst->dtype, dof + i * ds, read_elem(sbase, src->dtype, so + i * ss));
        } else if (ss == 1 && ds == 1) {
            memcpy(dbase + (size_t)dof * es, sbase + (size_t)so * es, (size_t)inner * es);
        } else {
            copy_strided(dbase + (size_t)dof * es, ds, sbase + (size_t)so * es, ss, inner, es);
        }
    }
    return 0;
}

int at_fill_(at_tensor *t, double value) {
    if (t->storage) at_storage_touch(t->storage);
    if (at_on_cuda(t)) {
        const at_backend *b = at_backend_of(AT_CUDA, "fill");
        return b ? b->fill(t, value) : -1;
    }
    int64_t n = at_numel(t);
    if (t->dtype == AT_F32 && at_is_contiguous(t)) {
        float *p = at_data(t);
        for (int64_t i = 0; i < n; i++) p[i] = (float)value;
        return 0;
    }
    for (int64_t i = 0; i < n; i++) write_elem(t->storage->data, t->dtype, at_storage_index(t, i), value);
    return 0;
}

double *at_to_f64_array(const at_tensor *t) {
    if (at_on_cuda(t)) {
        at_tensor *host = at_to_device(t, AT_CPU);
        double *out = host ? at_to_f64_array(host) : NULL;
        at_release(host);
        return out;
    }
    int64_t n = at_numel(t);
    double *out = malloc((size_t)(n ? n : 1) * sizeof *out);
    if (!out) {
        at_set_error("out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) out[i] = at_get_linear(t, i);
    return out;
}

/* ---- devices ---- */

const char *at_device_name(at_device d) { return d == AT_CUDA ? "cuda" : d == AT_CPU ? "cpu" : "?"; }

int at_device_from_name(const char *name) {
    return strcmp(name, "cpu") == 0 ? AT_CPU : strcmp(name, "cuda") == 0 ? AT_CUDA : -1;
}

at_tensor *at_to_device(const at_tensor *t, at_device device) {
    at_device from = at_device_of(t);
    if (from == device) return at_clone_data(t);
    /* Contiguous on the source device first, so one memcpy moves it all. */
    at_tensor *dense = at_is_contiguous(t) ? at_detach(t) : at_clone_data(t);
    at_tensor *out = dense ? at_empty_uninit_on(device, t->dtype, t->ndim, t->shape) : NULL;
    if (out && at_device_memcpy(at_data(out), device, at_data(dense), from,
                                (size_t)at_numel(t) * at_dtype_size(t->dtype))) {
        at_release(out);
        out = NULL;
    }
    at_release(dense);
    return out;
}

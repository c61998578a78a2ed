/* Tensors: dtypes and conversions, storage lifetime, views, copies, RNG. */
#include "tensor.h"
#include "ops.h"
#include "rng.h"
#include "parallel.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

static void test_half_conversions(void) {
    /* Reference bit patterns from numpy: np.float32(x).astype(np.float16).view(np.uint16). */
    struct { float f; uint16_t h; } f16[] = {
        {1.0f, 0x3c00}, {-2.0f, 0xc000}, {65504.0f, 0x7bff}, {65520.0f, 0x7c00}, {1e-8f, 0x0000},
        {6.1e-5f, 0x03ff}, {5.96e-8f, 0x0001}, {0.1f, 0x2e66}, {1.0009765625f, 0x3c01},
        {1.00048828125f, 0x3c00} /* tie rounds to even */, {1.00146484375f, 0x3c02},
    };
    for (size_t i = 0; i < sizeof f16 / sizeof f16[0]; i++)
        CHECK(at_f32_to_f16(f16[i].f) == f16[i].h, "f16(%g) = 0x%04x, numpy gives 0x%04x", f16[i].f,
              at_f32_to_f16(f16[i].f), f16[i].h);
    for (uint32_t h = 0; h < 0x7c00; h++) /* every finite positive half round-trips */
        if (at_f32_to_f16(at_f16_to_f32((uint16_t)h)) != h) {
            CHECK(0, "f16 0x%04x does not round-trip", h);
            break;
        }
    CHECK(at_f16_to_f32(0x7c00) == INFINITY, "f16 inf");
    CHECK(isnan(at_f16_to_f32(at_f32_to_f16(NAN))), "f16 NaN stays NaN");
    /* bf16: round to nearest even on the upper 16 bits. */
    CHECK(at_f32_to_bf16(1.0f) == 0x3f80, "bf16(1)");
    CHECK(at_f32_to_bf16(1.00390625f) == 0x3f80, "bf16 tie to even: 0x%04x", at_f32_to_bf16(1.00390625f));
    CHECK(at_f32_to_bf16(1.01171875f) == 0x3f82, "bf16 tie up to even: 0x%04x", at_f32_to_bf16(1.01171875f));
    CHECK(at_bf16_to_f32(0xc040) == -3.0f, "bf16 -3");
}

static int released;
static void count_release(at_storage *s) { (void)s; released++; }

static void test_storage_and_views(void) {
    size_t base = at_storage_live_bytes();
    int64_t shape[3] = {2, 3, 4};
    at_tensor *t = at_empty(AT_F32, 3, shape);
    CHECK(at_storage_live_bytes() == base + 96, "live bytes count the new storage");
    for (int64_t i = 0; i < 24; i++) ((float *)at_data(t))[i] = (float)i;

    at_tensor *tr = at_transpose(t, 0, 2); /* (4,3,2) */
    CHECK(tr->storage == t->storage && !at_is_contiguous(tr), "transpose is a view");
    int64_t idx[3] = {3, 1, 1};
    CHECK(at_get(tr, idx) == 1 * 12 + 1 * 4 + 3, "transposed element read");
    at_tensor *nar = at_narrow(tr, 1, 1, 2);
    int64_t idx2[3] = {0, 0, 1};
    CHECK(at_get(nar, idx2) == 12 + 4, "narrow offsets into the view");
    at_tensor *c = at_contiguous(nar);
    CHECK(c->storage != t->storage && at_is_contiguous(c), "contiguous copies a strided view");
    CHECK(at_get(c, idx2) == 16, "copied value");

    int64_t flat[2] = {6, -1};
    at_tensor *r = at_reshape(t, 2, flat);
    CHECK(r && r->storage == t->storage && r->shape[1] == 4, "reshape of contiguous data is a view");
    at_tensor *rt = at_reshape(tr, 2, flat);
    CHECK(rt && rt->storage != t->storage, "reshape of a transposed tensor copies");
    int64_t bad[2] = {5, -1};
    CHECK(at_reshape(t, 2, bad) == NULL && strstr(at_last_error(), "reshape"), "bad reshape: %s", at_last_error());

    int64_t one[2] = {1, 4}, big[3] = {5, 3, 4};
    at_tensor *row = at_zeros(AT_F64, 2, one);
    at_tensor *ex = at_expand(row, 3, big);
    CHECK(ex && ex->stride[0] == 0 && ex->stride[1] == 0 && ex->stride[2] == 1, "expand uses zero strides");
    CHECK(at_expand(t, 3, big) == NULL, "expand of a non-1 dim fails: %s", at_last_error());
    at_tensor *sel = at_select(t, 1, 2);
    int64_t i2[2] = {1, 3};
    CHECK(sel && sel->ndim == 2 && at_get(sel, i2) == 12 + 8 + 3, "select drops the dim");

    at_tensor *h = at_to_dtype(t, AT_F16);
    at_tensor *back = at_to_dtype(h, AT_F32);
    CHECK(back && memcmp(at_data(back), at_data(t), 96) == 0, "small integers survive f32→f16→f32");

    at_release(t);
    CHECK(at_storage_live_bytes() > base, "views keep storage alive");
    at_release(tr); at_release(nar); at_release(c); at_release(r); at_release(rt); at_release(row);
    at_release(ex); at_release(sel); at_release(h); at_release(back);
    CHECK(at_storage_live_bytes() == base, "all storage freed: %zu live, %zu before", at_storage_live_bytes(), base);

    float region[8] = {0};
    at_storage *s = at_storage_borrow(region, sizeof region, count_release, NULL);
    int64_t four[1] = {4}, st[1] = {2};
    at_tensor *b = at_from_storage(s, AT_F32, 1, four, st, 2); /* last element would be 8 of 0..7 */
    CHECK(b == NULL, "a view reaching past the storage is refused");
    CHECK(strstr(at_last_error(), "outside") != NULL, "message: %s", at_last_error());
    int64_t grid[2] = {3, 4};
    CHECK(at_from_storage(s, AT_F32, 2, grid, NULL, 0) == NULL, "a contiguous [3, 4] view needs 12 elements, not 8");
    int64_t huge[1] = {INT64_MAX / 4};
    CHECK(at_from_storage(s, AT_F32, 1, four, huge, 0) == NULL && strstr(at_last_error(), "overflow"),
          "overflowing strides are refused: %s", at_last_error());
    b = at_from_storage(s, AT_F32, 1, four, st, 0);
    at_storage_release(s);
    CHECK(b && released == 0, "the view holds the borrowed storage");
    at_release(b);
    CHECK(released == 1, "borrowed storage released through its callback");
}

static void test_copy_and_item(void) {
    int64_t shape[2] = {2, 2};
    int32_t ids[4] = {1, -2, 3, 400};
    at_tensor *i = at_from_data(AT_I32, 2, shape, ids);
    at_tensor *u = at_to_dtype(i, AT_U8);
    int64_t k[2] = {1, 1}, z[2] = {0, 1};
    CHECK(at_get(u, k) == 255 && at_get(u, z) == 0, "u8 conversion saturates");
    CHECK(isnan(at_item(i)) && strstr(at_last_error(), "item"), "item of 4 elements fails");
    int64_t out[2] = {2, 5};
    CHECK(isnan(at_get(i, out)) && strstr(at_last_error(), "out of range"), "get out of range: %s", at_last_error());
    at_release(i);
    at_release(u);
}

static void test_rng(void) {
    uint32_t r[4];
    at_philox4x32(0, 0, r); /* Random123 known-answer test, counter 0, key 0 */
    CHECK(r[0] == 0x6627e8d5u && r[1] == 0xe169c58du && r[2] == 0xbc57ac4cu && r[3] == 0x9b00dbd8u,
          "philox4x32-10 KAT: %08x %08x %08x %08x", r[0], r[1], r[2], r[3]);
    int64_t shape[1] = {200000};
    at_set_num_threads(1);
    at_rng a = at_rng_new(42);
    at_tensor *one = at_randn(&a, AT_F32, 1, shape);
    at_set_num_threads(2);
    at_rng b = at_rng_new(42);
    at_tensor *two = at_randn(&b, AT_F32, 1, shape);
    CHECK(memcmp(at_data(one), at_data(two), 800000) == 0, "randn is bit-identical across thread counts");
    CHECK(a.counter == 200000, "the counter advances by numel");
    double mean = 0, var = 0;
    for (int i = 0; i < 200000; i++) mean += ((float *)at_data(one))[i];
    mean /= 200000;
    for (int i = 0; i < 200000; i++) var += pow(((float *)at_data(one))[i] - mean, 2);
    var /= 200000;
    CHECK(fabs(mean) < 0.01 && fabs(var - 1) < 0.02, "normal moments: mean %g var %g", mean, var);
    at_tensor *next = at_randn(&a, AT_F32, 1, shape);
    CHECK(memcmp(at_data(one), at_data(next), 800000) != 0, "a second draw differs");
    at_release(one);
    at_release(two);
    at_release(next);
}

int main(void) {
    test_half_conversions();
    test_storage_and_views();
    test_copy_and_item();
    test_rng();
    return check_summary();
}

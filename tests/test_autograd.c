/* Autograd semantics: accumulation, no-grad mode, frozen parameters,
 * shared subexpressions, deep graphs, and errors. */
#include "autograd.h"
#include "ops.h"
#include "check.h"

#include <string.h>

static at_tensor *leaf(double v) {
    at_tensor *t = at_scalar(AT_F64, v);
    at_set_requires_grad(t, true);
    return t;
}

static void test_accumulation_and_sharing(void) {
    at_tensor *x = leaf(3.0);
    /* y = x*x + x: a shared input reached by two paths; dy/dx = 2x + 1 = 7 */
    at_tensor *sq = at_mul(x, x), *y = at_add(sq, x);
    CHECK(at_backward(y, NULL) == 0, "backward: %s", at_last_error());
    CHECK(x->grad && at_item(x->grad) == 7.0, "dy/dx = %g", x->grad ? at_item(x->grad) : NAN);
    CHECK(at_backward(y, NULL) == 0, "second backward");
    CHECK(at_item(x->grad) == 14.0, "gradients accumulate: %g", at_item(x->grad));
    at_zero_grad(x);
    CHECK(x->grad == NULL, "zero_grad drops the gradient");
    at_release(sq); at_release(y); at_release(x);
}

static void test_no_grad_and_frozen(void) {
    at_tensor *w = leaf(2.0), *frozen = at_scalar(AT_F64, 5.0);
    bool was = at_set_grad_enabled(false);
    at_tensor *ng = at_mul(w, frozen);
    at_set_grad_enabled(was);
    CHECK(ng->grad_fn == NULL && !ng->requires_grad, "no-grad mode records nothing");

    at_tensor *c = at_mul(frozen, frozen);
    CHECK(c->grad_fn == NULL, "ops on frozen tensors record nothing");
    at_tensor *y = at_mul(w, frozen);
    CHECK(y->grad_fn && y->grad_fn->needs_grad[0] && !y->grad_fn->needs_grad[1], "needs_grad per input");
    CHECK(at_backward(y, NULL) == 0, "backward");
    CHECK(at_item(w->grad) == 5.0 && frozen->grad == NULL, "only the trainable leaf gets a gradient");
    at_tensor *plain = at_scalar(AT_F64, 1.0);
    CHECK(at_backward(plain, NULL) == -1 && strstr(at_last_error(), "does not require grad"),
          "backward of a constant: %s", at_last_error());
    CHECK(at_set_requires_grad(y, false) == -1 && strstr(at_last_error(), "leaf"), "non-leaf: %s", at_last_error());
    int64_t two[1] = {2};
    at_tensor *ids = at_zeros(AT_I64, 1, two);
    CHECK(at_set_requires_grad(ids, true) == -1 && strstr(at_last_error(), "i64"), "int: %s", at_last_error());
    at_tensor *ones = at_full(AT_F64, 1, two, 1.0), *vec = at_mul(w, ones);
    CHECK(vec && at_backward(vec, NULL) == -1 && strstr(at_last_error(), "one-element"), "non-scalar: %s",
          at_last_error());
    at_release(w); at_release(frozen); at_release(ng); at_release(c); at_release(y); at_release(plain);
    at_release(ids); at_release(vec); at_release(ones);
}

static void test_deep_graph(void) {
    /* 20000 chained ops: the backward walk must not recurse on the C stack. */
    at_tensor *x = leaf(1.0), *y = x;
    at_retain(y);
    for (int i = 0; i < 20000; i++) {
        at_tensor *next = at_scale(y, 1.0);
        at_release(y);
        y = next;
    }
    CHECK(at_backward(y, NULL) == 0, "deep backward: %s", at_last_error());
    CHECK(x->grad && at_item(x->grad) == 1.0, "deep gradient");
    at_release(y);
    at_release(x);
}

static void test_views_share_gradient(void) {
    /* z = sum(A[:, 0:2]) + sum(Aᵀ): each element of A gets 1 or 2. */
    int64_t shape[2] = {3, 4};
    at_tensor *a = at_zeros(AT_F64, 2, shape);
    at_set_requires_grad(a, true);
    at_tensor *n = at_narrow(a, 1, 0, 2), *t = at_transpose(a, 0, 1);
    at_tensor *s1 = at_sum_all(n), *s2 = at_sum_all(t), *z = at_add(s1, s2);
    CHECK(at_backward(z, NULL) == 0, "backward: %s", at_last_error());
    int64_t i0[2] = {2, 1}, i1[2] = {2, 3};
    CHECK(at_get(a->grad, i0) == 2.0 && at_get(a->grad, i1) == 1.0, "view gradients add up");
    at_release(n); at_release(t); at_release(s1); at_release(s2); at_release(z); at_release(a);
}

int main(void) {
    size_t base = at_storage_live_bytes();
    test_accumulation_and_sharing();
    test_no_grad_and_frozen();
    test_deep_graph();
    test_views_share_gradient();
    CHECK(at_storage_live_bytes() == base, "graphs free their storage: %zu bytes left",
          at_storage_live_bytes() - base);
    return check_summary();
}

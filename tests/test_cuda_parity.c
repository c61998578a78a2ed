/* Backend parity, like ggml's test-backend-ops: every op of AT_OP_LIST with
 * a CUDA kernel in its slot (core/ops/kernels.h), and every generic op, on
 * every shape, broadcast and view its gradient-check case builds, runs
 * forward and backward on the GPU and on the CPU, in f64 and in f32, and the
 * outputs and input gradients must agree within per-dtype tolerances.
 *
 * First, on any machine, it walks the slots: an op with a CUDA kernel and no
 * parity case fails, a generic op must have no slot, an empty slot gives the
 * one error naming the op. Then it skips (exit 77, saying why) when the CUDA
 * backend is not built or no GPU is present. On a machine with a GPU it is
 * the first thing to run. */
#include "autograd.h"
#include "device.h"
#include "ops/kernels.h"
#include "ops.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

/* |gpu - cpu| <= tol · (1 + max |cpu|) over the tensor. f64 differs only by
 * summation order; f32 also by the CPU's vectorised exp/erf. */
static double tolerance(at_dtype dt) { return dt == AT_F64 ? 1e-10 : 2e-5; }

static double max_abs(const double *a, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

/* Compares two tensors of one shape (any devices); returns the worst error
 * relative to the scale, or INFINITY when shapes differ or a read fails. */
static double relative_error(const at_tensor *gpu, const at_tensor *cpu) {
    if (!at_same_shape(gpu, cpu)) return INFINITY;
    double *g = at_to_f64_array(gpu), *c = at_to_f64_array(cpu), worst = g && c ? 0 : INFINITY;
    int64_t n = at_numel(cpu);
    double scale = g && c ? 1 + max_abs(c, n) : 1;
    for (int64_t i = 0; g && c && i < n; i++) {
        double e = fabs(g[i] - c[i]) / scale;
        if (!(e <= worst)) worst = e; /* NaN counts as the worst */
    }
    free(g);
    free(c);
    return worst;
}

/* The case's inputs in dtype dt on device, as leaves with the same
 * requires_grad (ids and other integer inputs keep their dtype). */
static int inputs_as(at_tensor **src, int n, at_dtype dt, at_device device, at_tensor **dst) {
    for (int i = 0; i < n; i++) {
        at_dtype want = at_dtype_is_float(src[i]->dtype) ? dt : src[i]->dtype;
        at_tensor *conv = at_to_dtype(src[i], want);
        dst[i] = conv ? at_to_device(conv, device) : NULL;
        at_release(conv);
        if (!dst[i] || (src[i]->requires_grad && at_set_requires_grad(dst[i], true))) return -1;
    }
    return 0;
}

/* Forward, then backward from seed (moved to the output's device). */
static at_tensor *run(const at_gradcheck *c, int variant, at_tensor **in, const at_tensor *seed) {
    at_tensor *out = c->forward(variant, in);
    if (!out || !out->grad_fn) return out;
    at_tensor *s = at_to_dtype((at_tensor *)seed, out->dtype);
    at_tensor *moved = s ? at_to_device(s, at_device_of(out)) : NULL;
    int rc = moved ? at_backward(out, moved) : -1;
    at_release(s);
    at_release(moved);
    if (rc) {
        at_release(out);
        return NULL;
    }
    return out;
}

static void check_case(const at_op_def *op, int variant, at_tensor **in, int n, at_dtype dt) {
    const char *dn = at_dtype_name(dt);
    at_tensor *cpu_in[AT_NODE_MAX_INPUTS] = {0}, *gpu_in[AT_NODE_MAX_INPUTS] = {0};
    at_tensor *cpu_out = NULL, *gpu_out = NULL, *seed = NULL;
    bool ok = inputs_as(in, n, dt, AT_CPU, cpu_in) == 0 && inputs_as(in, n, dt, AT_CUDA, gpu_in) == 0;
    CHECK(ok, "%s[%d] %s: inputs: %s", op->name, variant, dn, at_last_error());
    if (ok) cpu_out = op->check.forward(variant, cpu_in);
    if (cpu_out) { /* one random seed gradient for both backends */
        at_rng rng = at_rng_new(77 + (uint64_t)variant);
        seed = at_randn(&rng, AT_F64, cpu_out->ndim, cpu_out->shape);
        at_release(cpu_out);
        cpu_out = run(&op->check, variant, cpu_in, seed);
        CHECK(cpu_out != NULL, "%s[%d] %s: CPU: %s", op->name, variant, dn, at_last_error());
    }
    if (cpu_out) {
        gpu_out = run(&op->check, variant, gpu_in, seed);
        CHECK(gpu_out != NULL, "%s[%d] %s: CUDA: %s", op->name, variant, dn, at_last_error());
    }
    if (gpu_out) {
        CHECK(at_on_cuda(gpu_out), "%s[%d] %s: the output left the GPU", op->name, variant, dn);
        double e = relative_error(gpu_out, cpu_out);
        CHECK(e <= tolerance(dt), "%s[%d] %s: output differs by %.3g (tolerance %.1g)", op->name, variant, dn, e,
              tolerance(dt));
        for (int i = 0; i < n; i++) {
            if (!in[i]->requires_grad) continue;
            bool both = cpu_in[i]->grad && gpu_in[i]->grad;
            CHECK(both, "%s[%d] %s: input %d has a gradient on one backend only", op->name, variant, dn, i);
            if (!both) continue;
            CHECK(at_on_cuda(gpu_in[i]->grad), "%s[%d] %s: gradient %d left the GPU", op->name, variant, dn, i);
            e = relative_error(gpu_in[i]->grad, cpu_in[i]->grad);
            CHECK(e <= tolerance(dt), "%s[%d] %s: gradient of input %d differs by %.3g (tolerance %.1g)", op->name,
                  variant, dn, i, e, tolerance(dt));
        }
    }
    at_release(seed);
    at_release(cpu_out);
    at_release(gpu_out);
    for (int i = 0; i < n; i++) at_release(cpu_in[i]), at_release(gpu_in[i]);
}

static void check_op(int index, const at_op_def *op) {
    const at_gradcheck *c = &op->check;
    for (int v = 0; v < c->variants; v++) {
        at_rng rng = at_rng_new(5000 + 31 * (uint64_t)index + (uint64_t)v);
        at_tensor *in[AT_NODE_MAX_INPUTS] = {0};
        int n = c->make_inputs(v, &rng, in);
        CHECK(n > 0, "%s[%d]: make_inputs failed: %s", op->name, v, at_last_error());
        if (n > 0) {
            check_case(op, v, in, n, AT_F64);
            check_case(op, v, in, n, AT_F32);
        }
        for (int i = 0; i < AT_NODE_MAX_INPUTS; i++) at_release(in[i]);
    }
}

/* The slots after at_backends_init; returns how many ops have a CUDA kernel. */
static int check_slots(void) {
    int with_kernels = 0;
    for (int i = 0; i < at_op_count(); i++) {
        const at_op_def *op = at_op_at(i);
        const at_kernels *k = at_op_kernels(op, AT_CUDA);
        if (at_op_is_generic(op)) {
            CHECK(!k, "%s: a generic op has a CUDA slot", op->name);
            CHECK(at_op_set_kernels(op->name, AT_CUDA, k) != 0 && strstr(at_last_error(), op->name),
                  "%s: a generic op refuses a kernel", op->name);
            continue;
        }
        if (!k) {
            CHECK(strstr(at_last_error(), op->name) && strstr(at_last_error(), "no CUDA kernel"),
                  "%s: the empty slot's error names the op: %s", op->name, at_last_error());
            continue;
        }
        with_kernels++;
        CHECK(op->check.variants > 0 && op->check.make_inputs && op->check.forward,
              "%s has a CUDA kernel and no parity case", op->name);
    }
#ifdef AAPMT_HAVE_CUDA
    CHECK(with_kernels > 0, "a CUDA build registers kernels (%d ops have them)", with_kernels);
    /* Emptying a slot gives the error; filling it again restores the op. */
    const at_op_def *gelu = NULL;
    for (int i = 0; i < at_op_count(); i++)
        if (strcmp(at_op_at(i)->name, "gelu") == 0) gelu = at_op_at(i);
    const at_kernels *k = at_op_kernels(gelu, AT_CUDA);
    CHECK(k && at_op_set_kernels("gelu", AT_CUDA, NULL) == 0 && !at_op_kernels(gelu, AT_CUDA) &&
              strcmp(at_last_error(), "op gelu has no CUDA kernel in this build") == 0,
          "an emptied slot: %s", at_last_error());
    CHECK(at_op_set_kernels("gelu", AT_CUDA, k) == 0 && at_op_kernels(gelu, AT_CUDA) == k, "a slot refilled");
#else
    CHECK(with_kernels == 0, "a build without CUDA registers no kernels (%d ops have them)", with_kernels);
#endif
    CHECK(at_op_set_kernels("no_such_op", AT_CUDA, NULL) != 0 && strstr(at_last_error(), "no_such_op"),
          "an unknown op name is refused: %s", at_last_error());
    return with_kernels;
}

int main(void) {
    at_backends_init();
    int with_kernels = check_slots();
    printf("%d ops have a CUDA kernel, each with a parity case\n", with_kernels);
    if (check_failed) return check_summary();
    if (at_device_count(AT_CUDA) == 0) {
        printf("skipped: no GPU to compare against the CPU: %s\n", at_device_describe(AT_CUDA));
        return 77;
    }
    printf("%s\n", at_device_describe(AT_CUDA));
    for (int i = 0; i < at_op_count(); i++) {
        const at_op_def *op = at_op_at(i);
        if (at_op_is_generic(op) || at_op_kernels(op, AT_CUDA)) check_op(i, op);
        else printf("%s: no CUDA kernel, not compared\n", op->name);
    }
    at_device_synchronize(AT_CUDA);
    at_cache_stats s = at_device_memory_stats(AT_CUDA);
    printf("device memory: %zu bytes in use, %zu cached, peak %zu\n", s.in_use, s.cached, s.peak_in_use);
    return check_summary();
}

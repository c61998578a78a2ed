/* Every differentiable op, each defined once (name, backward, gradient
 * check) in its own source file. tests/test_gradcheck.c walks this list, and
 * tests/test_cuda_parity.c the ops' device slots (kernels.h).
 *
 * AT_OP_GENERIC_LIST names the ops that need no kernel of their own on a
 * device: views, and ops built from other ops and the device services
 * (copy, fill) of core/device.h. Every other op has a slot per device. */
#define AT_OP_LIST(X) \
    X(narrow) X(transpose) X(permute) X(reshape) X(expand) X(contiguous) X(to_dtype) \
    X(add) X(sub) X(mul) X(div) X(scale) X(add_scalar) X(neg) \
    X(exp) X(log) X(sqrt) X(relu) X(gelu) X(dropout) \
    X(abs) X(pow) X(sigmoid) X(tanh) X(clamp) X(where) \
    X(sum) X(sum_all) X(max) X(min) \
    X(matmul) X(linear) X(layernorm) X(softmax) X(attention) \
    X(embedding) X(concat) X(mse_loss) X(sse_loss) X(checkpoint)

#define AT_OP_GENERIC_LIST(X) \
    X(narrow) X(transpose) X(permute) X(reshape) X(expand) X(contiguous) X(to_dtype) \
    X(concat) X(mse_loss) X(sse_loss) X(checkpoint)

/* Optimizers that update parameter tensors in place: Adam, AdamW and SGD with
 * PyTorch's exact arithmetic, plus zero_grad and clip_grad_norm.
 *
 * Parameters are CPU leaf tensors (f32 or f64, contiguous); their gradients
 * are the .grad that at_backward accumulated. A parameter whose .grad is NULL
 * is skipped by a step, as torch.optim skips p.grad is None: its state is
 * created at its first step with a gradient and its step count advances only
 * when it is updated. Gradient accumulation needs nothing special: backward
 * adds into .grad until zero_grad.
 *
 * Exactness. The update follows torch 1.13's single-tensor ("for-loop") code
 * operation by operation, in the parameter's dtype, with Python's double
 * scalars rounded to that dtype where torch rounds them, and with a fused
 * multiply-add exactly where torch's AVX2 kernels fuse one (add with alpha,
 * addcmul). Per step and parameter, for Adam (AdamW differs in one place):
 *
 *   step += 1
 *   g   = grad                       (Adam: g = fma(param, wd, grad))
 *   (AdamW: param = param * (1 - lr*wd), the factor computed in double)
 *   m   = fma(g, 1-beta1, m*beta1)
 *   v   = fma((1-beta2)*g, g, v*beta2)
 *   (amsgrad: vmax = max(vmax, v), NaN propagating; used in place of v below)
 *   bc1 = 1 - beta1^step, bc2 = 1 - beta2^step              (double)
 *   denom = sqrt(v) / sqrt(bc2) + eps
 *   param = param + ((-lr/bc1) * m) / denom
 *
 * SGD (torch.optim.SGD): g = fma(param, wd, grad); with momentum, the buffer
 * is a copy of g at the first step and fma(g, 1-dampening, buf*momentum)
 * later; nesterov uses fma(buf, momentum, g); param = fma(g, -lr, param).
 *
 * In f32 the fused operations are computed as one double multiply-add rounded
 * once to float (the product of two floats is exact in double), which equals
 * fmaf except in ties too rare to matter. tests/test_train_math.c checks
 * f32 against torch to 1e-6 relative (f64 to 1e-13) and reports how many
 * values are bit-identical: all of them on its fixture (12 configurations,
 * 6 steps each, vector-loop and tail sizes). Parameters change in place, so
 * everything sharing their storage (views, tensors a pending backward saved)
 * sees the new values: step after backward, as in torch.
 *
 * State, for checkpoints: at_optim_state_export puts each parameter's state
 * into a state dict under PyTorch's 0-based parameter numbering,
 * "<prefix><i>.exp_avg", ".exp_avg_sq", ".max_exp_avg_sq" (amsgrad),
 * ".momentum_buffer" (SGD with momentum) and ".step" (a 0-dim i64); a
 * parameter that has never been updated has no entries. The hyper-parameters
 * are not part of it: they come from the run's config. */
#ifndef AAPMT_TRAIN_OPTIM_H
#define AAPMT_TRAIN_OPTIM_H

#include <stdbool.h>

#include "../io/state_dict.h"
#include "../tensor.h"

typedef enum { AT_OPTIM_SGD, AT_OPTIM_ADAM, AT_OPTIM_ADAMW } at_optim_kind;

typedef struct at_optim_config {
    at_optim_kind kind;
    double lr;
    double beta1, beta2, eps;   /* Adam, AdamW */
    bool amsgrad;               /* Adam, AdamW */
    /* Adam and SGD: L2 penalty added to the gradient; AdamW: decoupled decay
     * (param *= 1 - lr*weight_decay before the Adam step). */
    double weight_decay;
    double momentum, dampening; /* SGD */
    bool nesterov;              /* SGD */
} at_optim_config;

typedef struct at_optim at_optim;

/* PyTorch's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0
 * (AdamW: 1e-2), no amsgrad; SGD without momentum. */
at_optim_config at_optim_defaults(at_optim_kind kind);
const char *at_optim_kind_name(at_optim_kind kind);   /* "sgd", "adam", "adamw" */

/* Checks the config as torch does (lr, eps, weight decay >= 0, betas in
 * [0, 1), nesterov needs momentum > 0 and no dampening) and the parameters
 * (CPU f32/f64 leaves, contiguous, each listed once). The optimizer keeps a
 * reference to each parameter. */
at_optim *at_optim_new(const at_optim_config *config, int n, at_tensor *const *params);
void at_optim_free(at_optim *o);   /* NULL is fine */

/* One update of every parameter that has a gradient. Checks every gradient
 * (shape and dtype of its parameter) and allocates any new state before
 * changing anything, so on an error no parameter has moved. */
int at_optim_step(at_optim *o);
/* Drops every gradient (set_to_none, the default from torch 2.0 on) or fills
 * it with zeros in place (torch 1.13's default). With zeros, a parameter
 * keeps being updated by its momentum in steps where it got no gradient. */
void at_optim_zero_grad(at_optim *o, bool set_to_none);

double at_optim_lr(const at_optim *o);
int at_optim_set_lr(at_optim *o, double lr);   /* -1 for a negative or NaN lr */
const at_optim_config *at_optim_config_of(const at_optim *o);
int at_optim_param_count(const at_optim *o);
at_tensor *at_optim_param(const at_optim *o, int i);   /* borrowed */
int64_t at_optim_steps_of(const at_optim *o, int i);  /* updates param i has had */

/* Adds the state tensors (shared with the optimizer, not copies: save them
 * before the next step) to sd with names prefixed by prefix (may be NULL). */
int at_optim_state_export(const at_optim *o, at_state_dict *sd, const char *prefix);
/* Replaces the whole state by the entries of sd that start with prefix
 * (copies, converted to each parameter's dtype). Every such entry must name
 * a parameter index and a field this optimizer has, with the parameter's
 * shape, and each parameter's state must be complete or absent; otherwise
 * nothing changes and the error names the entry. */
int at_optim_state_import(at_optim *o, const at_state_dict *sd, const char *prefix);

/* ---- over a plain list of parameters ---- */
void at_zero_grads(int n, at_tensor *const *params, bool set_to_none);
/* torch.nn.utils.clip_grad_norm_ with norm_type 2: total is the 2-norm of all
 * gradients together (parameters without one are ignored; 0 when none has
 * one), and every gradient is multiplied by min(1, max_norm / (total + 1e-6))
 * computed in the gradients' dtype (f64 when any gradient is f64). A
 * gradient that shares its bytes with another tensor is first replaced by a
 * private copy, so scaling it in place cannot reach anything else. A NaN or
 * infinite total is returned and propagates into the gradients, as in torch
 * with error_if_nonfinite=False. The squares are summed in double (in fixed
 * blocks, so any thread count gives the same bits); torch sums an f32 norm in
 * float, so an f32 total can differ from torch's in its last bit. */
int at_clip_grad_norm(int n, at_tensor *const *params, double max_norm, double *total_norm);

#endif

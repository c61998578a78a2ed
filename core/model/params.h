/* A model's parameters as a table of named slots, in state_dict order.
 *
 * Each model lists its slots once (name, expected shape, how to initialise),
 * and loading, random initialisation, export and freezing all walk the same
 * table, so they cannot disagree about names or shapes. */
#ifndef AAPMT_MODEL_PARAMS_H
#define AAPMT_MODEL_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "../io/state_dict.h"
#include "../rng.h"
#include "../tensor.h"

typedef enum {
    IR_INIT_ZERO,     /* biases, LayerNorm shifts */
    IR_INIT_ONE,      /* LayerNorm scales */
    IR_INIT_RANDOM,   /* zero-mean random values with the slot's std (uniform) */
} ir_init_kind;

typedef struct ir_param {
    char *name;         /* full key, e.g. "blip.visual_encoder.blocks.0.attn.qkv.weight" */
    at_tensor **slot;   /* where the model keeps the leaf */
    int ndim;
    int64_t shape[4];
    ir_init_kind init;
    double std;
} ir_param;

typedef struct ir_params {
    int count, cap;
    ir_param *items;
    bool failed;        /* an add ran out of memory; reported by ir_params_ok */
} ir_params;

/* Appends a slot; the name is printf-formatted. Out of memory marks the
 * table failed instead of returning an error at each call site. */
void ir_params_add(ir_params *p, at_tensor **slot, ir_init_kind init, double std, int ndim,
                   const int64_t *shape, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
int ir_params_ok(const ir_params *p);   /* 0, or -1 with an error */
void ir_params_free(ir_params *p);      /* frees the names, not the tensors */

/* Fills every slot from sd, comparing every key and shape first. Keys of sd
 * that no slot takes are unexpected unless listed in ignored (exact names,
 * NULL-terminated) or matching an ignored prefix (ending in '.'). All
 * missing, unexpected and mis-shaped keys go into one error naming source.
 * f32 tensors are used without a copy unless copy is set; f16, bf16 and f64
 * ones are converted to f32. */
int ir_params_load(ir_params *p, const at_state_dict *sd, const char *const *ignored, bool copy,
                   const char *source);
/* New f32 leaves drawn from rng (random slots) or constants. */
int ir_params_init_random(ir_params *p, at_rng *rng);
/* A new state dict referencing the parameters under their names. */
at_state_dict *ir_params_export(const ir_params *p);
/* Moves every slot's tensor to device (keeping requires_grad); on failure
 * the slots already moved stay moved and the error names the parameter. */
int ir_params_to_device(ir_params *p, at_device device);
/* Releases every slot's tensor and sets it to NULL. */
void ir_params_release_tensors(ir_params *p);

#endif

/* The Lua binding of the aapmt engine: shared pieces of the module `aapmt`.
 *
 * A tensor is a full userdata holding one reference to an at_tensor; the
 * pointer becomes NULL once the tensor is released (t:free(), a to-be-closed
 * variable, or the collector), and every later use raises "tensor was freed".
 *
 * Lua counts from 1 (like Torch7): dims and indices given by Lua code are
 * 1-based, negative ones count from the end (-1 is the last); the helpers
 * below convert them to the 0-based C API.
 *
 * Errors are Lua errors whose message names the function ("aapmt.matmul",
 * "Tensor:sum") and what was wrong; failures inside the engine pass on
 * at_last_error(), which already names the op, shapes and dtypes. */
#ifndef AAPMT_LUA_BINDING_H
#define AAPMT_LUA_BINDING_H

#include <lua.h>
#include <lauxlib.h>

#include "autograd.h"
#include "ops.h"
#include "parallel.h"
#include "rng.h"
#include "tensor.h"

#define LT_TENSOR_TYPE "aapmt.Tensor"

typedef struct lt_tensor {
    at_tensor *t;   /* NULL once released */
} lt_tensor;

/* ---- tensor userdata (tensor_udata.c) ---- */
/* Pushes a new userdata owning t (the caller's reference moves into it).
 * A NULL t raises the engine's error instead. Tells the collector about the
 * C memory now held, collecting when it has grown (see gc_account.c). */
int lt_push(lua_State *L, at_tensor *t);
/* Like lt_push, but for a tensor the caller keeps: retains it first. */
int lt_push_shared(lua_State *L, at_tensor *t);
/* The tensor at idx, or a Lua error naming fname: wrong type or freed. */
at_tensor *lt_check(lua_State *L, int idx, const char *fname);
/* The tensor at idx, or NULL when idx holds no aapmt tensor (a freed one
 * still raises). */
at_tensor *lt_test(lua_State *L, int idx, const char *fname);
/* Raises unless t's data is in host memory: element reads and writes from
 * Lua (t[i], get, set, item, totable) work on CPU tensors only. */
void lt_check_host(lua_State *L, const at_tensor *t, const char *fname);
/* Raises at_last_error() (or a generic message naming fname). */
int lt_engine_error(lua_State *L, const char *fname);
/* Registers the metatable; leaves nothing on the stack. */
void lt_tensor_register(lua_State *L);

/* ---- argument helpers (args.c) ---- */
/* 1-based, possibly negative dim at idx → 0-based dim of an ndim tensor. */
int lt_check_dim(lua_State *L, int idx, int ndim, const char *fname);
/* Converts a Lua dim value (1-based or negative) to 0-based, raising when
 * out of range. */
int lt_dim_to_c(lua_State *L, lua_Integer dim, int ndim, const char *fname);
/* A 1-based or negative index of dim d (0-based) into 0-based; raises naming
 * the dim, the index and the size when out of range. */
int64_t lt_dim_index_to_c(lua_State *L, lua_Integer index, int d, int64_t size, const char *fname);
/* The element (as a 0-dim view) or view that the Torch7 index table at idx
 * names (tensor_index.c); a new reference, or a Lua error. */
at_tensor *lt_index_view(lua_State *L, at_tensor *t, int idx, const char *fname);
/* aapmt.where(mask, a, b), and Tensor:masked_fill put into the methods
 * table on the stack's top (tensor_select.c). */
int lt_where(lua_State *L);
void lt_select_register(lua_State *L);
/* Reads a shape given either as one table {2, 3} at idx or as integers from
 * idx on; returns ndim and stores the stack index after the shape in *next.
 * allow_minus_one permits -1 entries (reshape, expand). */
int lt_check_shape(lua_State *L, int idx, int64_t *shape, int *next, int allow_minus_one,
                   const char *fname);
/* dtype name at idx, or def when the slot is nil/none. */
at_dtype lt_opt_dtype(lua_State *L, int idx, at_dtype def, const char *fname);
at_dtype lt_dtype_from_string(lua_State *L, const char *name, const char *fname);

/* Option tables (args.c), one set of readers so every function words its
 * errors alike. lt_check_options raises on a key that is not a string in
 * allowed (NULL-terminated), naming the options; lt_options does that for
 * the table at idx and returns false for nil or none. The readers return
 * def when the key is absent and raise naming the key when its value has the
 * wrong type (strings are kept alive by the table). */
void lt_check_options(lua_State *L, int idx, const char *const *allowed, const char *fname);
bool lt_options(lua_State *L, int idx, const char *const *allowed, const char *fname);
bool lt_has_option(lua_State *L, int idx, const char *key);
double lt_opt_number(lua_State *L, int idx, const char *key, double def, const char *fname);
lua_Integer lt_opt_integer(lua_State *L, int idx, const char *key, lua_Integer def, const char *fname);
bool lt_opt_bool(lua_State *L, int idx, const char *key, bool def, const char *fname);
const char *lt_opt_string(lua_State *L, int idx, const char *key, const char *def, const char *fname);
/* Describes argument idx of fname for messages: "argument #2", or "self"
 * for a method's receiver (methods count their arguments after self). */
const char *lt_argname(char *buf, size_t size, int idx, const char *fname);
/* Pushes element value v of a tensor of dtype d: an integer for integer dtypes. */
void lt_push_element(lua_State *L, at_dtype d, double v);

/* ---- memory accounting (gc_account.c) ---- */
void lt_gc_account(lua_State *L);
void lt_gc_register(lua_State *L);

/* ---- pieces of the module; each adds its functions to the table on top ---- */
void lt_methods_register(lua_State *L);       /* tensor_methods.c: data, autograd */
void lt_views_register(lua_State *L);         /* tensor_views.c: shape and views */
void lt_math_register(lua_State *L);          /* tensor_math.c: arithmetic, reductions */
void lt_arith_metamethods(lua_State *L);      /* tensor_math.c: __add ... into a metatable */
int lt_tostring(lua_State *L);                /* tensor_print.c: __tostring */
void lt_constructors_register(lua_State *L);  /* constructors.c: aapmt.zeros ... */
void lt_functions_register(lua_State *L);     /* functions.c: aapmt.matmul ... */
void lt_tokenizer_register(lua_State *L);     /* tokenizer.c: aapmt.tokenizer, find_vocab */
void lt_checkpoint_register(lua_State *L);    /* checkpoint.c: aapmt.load, aapmt.save */
void lt_files_register(lua_State *L);         /* files.c: aapmt.sha256, sha256_file, file_facts */
void lt_file_lock_register(lua_State *L);     /* file_lock.c: aapmt.lock_file */
void lt_model_register(lua_State *L);
void lt_data_register(lua_State *L);          /* data.c: aapmt.dataset, aapmt.split_prompts, aapmt.read_csv */
void lt_train_register(lua_State *L);
void lt_loader_register(lua_State *L);        /* loader.c: aapmt.loader */
void lt_cuda_register(lua_State *L);          /* cuda.c: aapmt.cuda, set_matmul_precision */
void lt_demo_db_register(lua_State *L);       /* demo_db.c: aapmt.demo_db */         /* train.c: optimizers, schedules, metrics */         /* model.c: ImageReward, aapmt.preprocess */
/* The {name = tensor} table at idx as a state dict (tensors
 * shared; never NULL: it raises "fname: WHAT must map names ..." for a key
 * that is not a string or a value not a tensor, and for a name holding a NUL
 * byte, which the C name would silently lose; checkpoint.c). */
struct at_state_dict *lt_check_state_dict(lua_State *L, int idx, const char *what, const char *fname);
/* Softmax over the optional dim at idx (default: the last), which the engine
 * supports through a transpose when it is not the last (functions.c). */
at_tensor *lt_softmax_dim(lua_State *L, at_tensor *x, int idx, const char *fname);
/* The state's default generator, for draws given no seed. */
at_rng *lt_default_rng(lua_State *L);

int luaopen_aapmt(lua_State *L);

#endif

/* The table of differentiable ops, built from op_list.h. */
#include "ops_internal.h"

#define AT_OP_ADDRESS(name) &at_op_##name,
static const at_op_def *const op_table[] = {AT_OP_LIST(AT_OP_ADDRESS)};
static const at_op_def *const generic_ops[] = {AT_OP_GENERIC_LIST(AT_OP_ADDRESS)};
#undef AT_OP_ADDRESS

int at_op_count(void) { return (int)(sizeof op_table / sizeof op_table[0]); }

const at_op_def *at_op_at(int i) { return i >= 0 && i < at_op_count() ? op_table[i] : NULL; }

int at_op_index(const at_op_def *op) {
    for (int i = 0; i < at_op_count(); i++)
        if (op_table[i] == op) return i;
    return -1;
}

bool at_op_registered(const at_op_def *op) { return at_op_index(op) >= 0; }

bool at_op_is_generic(const at_op_def *op) {
    for (size_t i = 0; i < sizeof generic_ops / sizeof generic_ops[0]; i++)
        if (generic_ops[i] == op) return true;
    return false;
}

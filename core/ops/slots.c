/* Each op's kernel slot per device (kernels.h), indexed like the op table. */
#include <string.h>

#include "kernels.h"
#include "op_list.h"

#define AT_OP_ONE(name) +1
enum { N_OPS = 0 AT_OP_LIST(AT_OP_ONE) };
#undef AT_OP_ONE

/* slots[i][device]: the kernels at_op_at(i) runs there; [AT_CPU] stays NULL
 * (the CPU kernel is the op file's own). Written at start-up only. */
static const at_kernels *slots[N_OPS][2];

const at_kernels *at_op_kernels(const at_op_def *op, at_device device) {
    int i = at_op_index(op);
    const at_kernels *k = i >= 0 && device == AT_CUDA ? slots[i][device] : NULL;
    if (!k) at_set_error("op %s has no %s kernel in this build", op->name, device == AT_CUDA ? "CUDA" : "device");
    return k;
}

int at_op_set_kernels(const char *op_name, at_device device, const at_kernels *kernels) {
    for (int i = 0; i < at_op_count(); i++) {
        const at_op_def *op = at_op_at(i);
        if (strcmp(op->name, op_name) != 0) continue;
        if (device != AT_CUDA || at_op_is_generic(op)) {
            at_set_error("op %s: %s", op_name, device != AT_CUDA ? "only CUDA kernels have slots"
                                                                 : "a generic op takes no device kernel");
            return -1;
        }
        slots[i][device] = kernels;
        return 0;
    }
    at_set_error("op %s: no such op in AT_OP_LIST", op_name);
    return -1;
}

/* The registry of backends and the device-level calls that go through it. */
#include "device.h"

#include <string.h>

static const at_backend *backends[2]; /* by at_device; [AT_CPU] stays NULL */

void at_backend_register(at_device device, const at_backend *backend) {
    if (device == AT_CUDA) backends[device] = backend;
}

const at_backend *at_backend_of(at_device device, const char *what) {
    if (device == AT_CUDA && backends[device]) return backends[device];
#ifdef AAPMT_HAVE_CUDA
    at_set_error("%s: the CUDA backend is not initialised (the program calls at_backends_init at start-up)", what);
#else
    at_set_error("%s: the CUDA backend is not built (configure with nvcc and -DAAPMT_CUDA=ON)", what);
#endif
    return NULL;
}

/* The backend when registered, without touching the error message. */
static const at_backend *quiet(at_device device) { return device == AT_CUDA ? backends[device] : NULL; }

int at_device_count(at_device device) {
    if (device == AT_CPU) return 1;
    const at_backend *b = quiet(device);
    return b ? b->device_count() : 0;
}

const char *at_device_describe(at_device device) {
    if (device == AT_CPU) return "cpu";
    const at_backend *b = quiet(device);
    if (b) return b->describe();
#ifdef AAPMT_HAVE_CUDA
    return "CUDA backend not initialised";
#else
    return "CUDA backend not built (configure with nvcc and -DAAPMT_CUDA=ON)";
#endif
}

int at_device_synchronize(at_device device) {
    if (device == AT_CPU) return 0;
    const at_backend *b = at_backend_of(device, "synchronize");
    return b ? b->synchronize() : -1;
}

at_cache_stats at_device_memory_stats(at_device device) {
    const at_backend *b = quiet(device);
    return b ? b->memory_stats() : (at_cache_stats){0};
}

size_t at_device_empty_cache(at_device device) {
    const at_backend *b = quiet(device);
    return b ? b->empty_cache() : 0;
}

int at_device_memcpy(void *dst, at_device dst_device, const void *src, at_device src_device, size_t nbytes) {
    if (dst_device == AT_CPU && src_device == AT_CPU) {
        if (nbytes) memcpy(dst, src, nbytes);
        return 0;
    }
    const at_backend *b = at_backend_of(dst_device == AT_CPU ? src_device : dst_device, "copy");
    return b ? b->memcpy(dst, dst_device, src, src_device, nbytes) : -1;
}

/* One setting for the process; backends read it when they multiply. */
static at_matmul_precision matmul_precision = AT_MATMUL_F32;

void at_set_matmul_precision(at_matmul_precision p) { matmul_precision = p; }
at_matmul_precision at_get_matmul_precision(void) { return matmul_precision; }

int at_matmul_precision_from_name(const char *name) {
    return strcmp(name, "f32") == 0    ? AT_MATMUL_F32
           : strcmp(name, "tf32") == 0 ? AT_MATMUL_TF32
           : strcmp(name, "bf16") == 0 ? AT_MATMUL_BF16
                                       : -1;
}

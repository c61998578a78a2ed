/* stb_image's implementation, compiled into the fuzz build only, so the
 * fuzzer sees (and ASan guards) its PNG, BMP and TGA code. The program links
 * Debian's libstb, built from this same header with the same defaults. */
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>

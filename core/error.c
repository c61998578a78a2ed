#include "error.h"

#include <stdarg.h>
#include <stdio.h>

/* Large enough for a checkpoint report that names many keys. */
static _Thread_local char last_error[8192];

const char *at_last_error(void) { return last_error[0] ? last_error : "unknown error"; }

void at_set_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
}

/* The library's one error channel: a function that fails returns NULL (or
 * -1) and leaves a message naming the operation and the shapes, dtypes,
 * files or keys involved; the message is per thread. The lowest layer: it
 * depends on nothing. */
#ifndef AAPMT_ERROR_H
#define AAPMT_ERROR_H

const char *at_last_error(void);
void at_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

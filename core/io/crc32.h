/* CRC-32 (the IEEE polynomial zip and PNG use), for checking PNG chunks and
 * for the entries of the zip archives aapmt writes. */
#ifndef AAPMT_IO_CRC32_H
#define AAPMT_IO_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continues crc (0 to start) over data[0..n). */
uint32_t at_crc32(uint32_t crc, const void *data, size_t n);

#endif

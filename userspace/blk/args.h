/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * args.h - number parsing for the command line
 */
#ifndef UVIRTIO_BLK_ARGS_H
#define UVIRTIO_BLK_ARGS_H

#include <stdint.h>

int args_parse_u64(const char *s, uint64_t *v);
int args_parse_size(const char *s, uint64_t *v);

#endif /* UVIRTIO_BLK_ARGS_H */

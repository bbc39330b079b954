/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * statfs_read.h - the status filesystem tests' way to read a file: its
 * contents as one string, or the error as "<errno N>", so a check is a
 * single strcmp() or strstr()
 */
#ifndef UVIRTIO_STATFS_READ_H
#define UVIRTIO_STATFS_READ_H

#include <stdio.h>
#include <stdlib.h>

#include "statfs.h"

/**
 * statfs_read() - a file's contents
 * @fs:		filesystem (mounted or not)
 * @path:	path in it
 *
 * Return: a static buffer, overwritten by the next call; "<errno N>" if
 * the file cannot be read
 */
static inline const char *statfs_read(struct uvstatfs *fs, const char *path)
{
	static char out[4096];
	char *buf;
	size_t len;
	int ret = uvstatfs_read_file(fs, path, &buf, &len);

	if (ret) {
		snprintf(out, sizeof(out), "<errno %d>", -ret);
		return out;
	}
	snprintf(out, sizeof(out), "%.*s", (int)len, buf);
	free(buf);
	return out;
}

#endif /* UVIRTIO_STATFS_READ_H */

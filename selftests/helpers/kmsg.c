// SPDX-License-Identifier: GPL-2.0-only
/*
 * kmsg - what the kernel logged about a device while a test ran
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kmsg.h"

/**
 * kmsg_open() - open the kernel log, positioned after its last record
 *
 * Return: the fd (non-blocking), or -1
 */
int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/**
 * kmsg_lines() - records since kmsg_open() that name @dev
 * @fd:		from kmsg_open()
 * @dev:	text the records must contain, e.g. "uvirtio-3"
 * @line:	out: the message of the last one (without its prefix)
 * @len:	size of @line
 *
 * Records overwritten before they were read (EPIPE) are skipped.
 *
 * Return: how many records named @dev
 */
int kmsg_lines(int fd, const char *dev, char *line, size_t len)
{
	char rec[1024];
	int n = 0;
	ssize_t r;

	while ((r = read(fd, rec, sizeof(rec) - 1)) > 0 || (r < 0 && errno == EPIPE)) {
		if (r <= 0)
			continue;
		rec[r] = 0;
		if (strstr(rec, dev)) {
			n++;
			snprintf(line, len, "%s", strchr(rec, ';') ? strchr(rec, ';') + 1 : rec);
		}
	}
	return n;
}

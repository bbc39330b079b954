/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kmsg - what the kernel logged about a device while a test ran: open
 * /dev/kmsg at its end, later count the records that name the device.
 * Needs root.
 */
#ifndef UVIRTIO_KMSG_H
#define UVIRTIO_KMSG_H

#include <stddef.h>

int kmsg_open(void);
int kmsg_lines(int fd, const char *dev, char *line, size_t len);

#endif /* UVIRTIO_KMSG_H */

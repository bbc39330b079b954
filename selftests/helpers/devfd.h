/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * devfd - a bare device for tests of the module's rules (caps, quotas,
 * who may create what): /dev/uvirtio opened and UVIRTIO_CREATE issued,
 * nothing served. The fd holds the device until it is closed. And a probe
 * of what a mapping of its domain lets a process do.
 */
#ifndef UVIRTIO_DEVFD_H
#define UVIRTIO_DEVFD_H

#include <stdbool.h>
#include <stdint.h>

int devfd_create(uint32_t id, uint32_t nq, uint32_t queue_size,
		 uint64_t bounce_size, uint64_t *domain);
bool devfd_sigbus(volatile uint8_t *p, bool write);

#endif /* UVIRTIO_DEVFD_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clock.h - the monotonic clock in nanoseconds (internal: not installed)
 */
#ifndef UVIRTIO_CLOCK_H
#define UVIRTIO_CLOCK_H

#include <stdint.h>
#include <time.h>

/**
 * uv_now_ns() - CLOCK_MONOTONIC in nanoseconds
 *
 * Return: the time
 */
static inline uint64_t uv_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

#endif /* UVIRTIO_CLOCK_H */

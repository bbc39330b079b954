/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * copy.h - the emulators' bulk copy (internal: not installed)
 */
#ifndef UVIRTIO_COPY_H
#define UVIRTIO_COPY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/**
 * uvcopy() - copy bytes between two mappings with plain 8-byte moves
 * @dst:	destination
 * @src:	source
 * @n:		bytes
 *
 * For frames between uvirtio-net peers and blocks between uvirtio-blk's
 * bounce pool and a mapped file. 32 bytes a turn. glibc's memcpy() moves
 * anything over a few KiB with rep movsb on CPUs that advertise ERMS, and
 * QEMU's TCG, which runs our VMs, executes that one byte per step; it
 * runs 16-byte SSE moves through the vector registers it keeps in memory.
 * Measured side by side in one boot (iperf3 between two uvirtio-net
 * peers, docs/uvirtio-net.md), this loop beat an SSE2 one by 6-15%; the
 * kernel's rep movsb user copies cost about 7.5 times what its 8-byte loop
 * does per byte under TCG (docs/benchmarks.md). The empty asm keeps the
 * compiler from turning the loop back into vector moves.
 * On hardware memcpy() would be at least as fast.
 */
static inline void uvcopy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	uint64_t a, b, c, e;

	for (; n >= 32; n -= 32, d += 32, s += 32) {
		memcpy(&a, s, 8);
		memcpy(&b, s + 8, 8);
		memcpy(&c, s + 16, 8);
		memcpy(&e, s + 24, 8);
		__asm__("" : "+r"(a), "+r"(b), "+r"(c), "+r"(e));
		memcpy(d, &a, 8);
		memcpy(d + 8, &b, 8);
		memcpy(d + 16, &c, 8);
		memcpy(d + 24, &e, 8);
	}
	memcpy(d, s, n);
}

#endif /* UVIRTIO_COPY_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * copy.h - the emulators' bulk copy (internal: not installed)
 *
 * Frames between uvirtio-net peers, blocks between uvirtio-blk's bounce
 * pool and a mapped file or its RAM disk: one routine, chosen once at
 * start (uvcopy_choose(), the emulators' --copy) between glibc's memcpy()
 * and a loop of plain 8-byte moves, whichever is faster on this CPU.
 */
#ifndef UVIRTIO_COPY_H
#define UVIRTIO_COPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* --copy */
enum uvcopy_mode {
	UVCOPY_AUTO,	/* measure both at start, take the faster */
	UVCOPY_LOOP,	/* the 8-byte loop */
	UVCOPY_MEMCPY,	/* glibc's memcpy() */
};

/* What uvcopy_choose() found: what it chose, and what each took. */
struct uvcopy_choice {
	enum uvcopy_mode mode;	/* what was asked */
	bool loop;		/* the loop was chosen */
	bool measured;		/* by measuring (--copy auto) */
	uint64_t loop_ns;	/* the best round of each, when measured */
	uint64_t memcpy_ns;
};

/* true: uvcopy() runs the loop. Written once, before any queue thread. */
extern bool uvcopy_by_loop;

int uvcopy_parse(const char *arg, enum uvcopy_mode *mode);
enum uvcopy_mode uvcopy_option(const char *arg);
void uvcopy_start(enum uvcopy_mode mode, unsigned int index);
void uvcopy_choose(enum uvcopy_mode mode, struct uvcopy_choice *c);
const char *uvcopy_describe(const struct uvcopy_choice *c, char *buf,
			    size_t len);

/**
 * uvcopy_loop() - copy bytes with plain 8-byte moves, 32 bytes a turn
 * @dst:	destination
 * @src:	source
 * @n:		bytes
 *
 * glibc's memcpy() moves anything over a few KiB with rep movsb on CPUs
 * that advertise ERMS, and QEMU's TCG, which runs our VMs, executes that
 * one byte per step; it runs 16-byte SSE moves through the vector
 * registers it keeps in memory. Measured side by side in one boot
 * (iperf3 between two uvirtio-net peers, docs/uvirtio-net.md), this loop
 * beat an SSE2 one by 6-15%; the kernel's rep movsb user copies cost
 * about 7.5 times what its 8-byte loop does per byte under TCG
 * (docs/benchmarks.md). On hardware memcpy() is the faster, which is why
 * uvcopy_choose() measures. The empty asm keeps the compiler from turning
 * the loop back into vector moves.
 */
static inline void uvcopy_loop(void *dst, const void *src, size_t n)
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

/**
 * uvcopy() - the emulators' bulk copy: the routine uvcopy_choose() chose
 * @dst:	destination
 * @src:	source
 * @n:		bytes
 */
static inline void uvcopy(void *dst, const void *src, size_t n)
{
	if (uvcopy_by_loop)
		uvcopy_loop(dst, src, n);
	else
		memcpy(dst, src, n);
}

#endif /* UVIRTIO_COPY_H */

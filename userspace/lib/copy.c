// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * copy.c - which bulk copy the emulators use (see copy.h)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "clock.h"
#include "copy.h"
#include "emu.h"

bool uvcopy_by_loop;

/* What one round copies with each routine: a 64 KiB block whole, then in
 * 4 KiB pages, then in frames of an Ethernet MTU. */
#define UVCOPY_BUF	(64 * 1024)
#define UVCOPY_PAGE	4096
#define UVCOPY_FRAME	1514
#define UVCOPY_ROUNDS	5

typedef void (*uvcopy_fn)(void *dst, const void *src, size_t n);

static void copy_by_loop(void *dst, const void *src, size_t n)
{
	uvcopy_loop(dst, src, n);
}

static void copy_by_memcpy(void *dst, const void *src, size_t n)
{
	memcpy(dst, src, n);
}

/* One round of one routine, in ns. Called through a volatile pointer, so
 * the compiler can neither drop the copies nor inline another routine. */
static uint64_t time_round(uvcopy_fn volatile fn, uint8_t *dst,
			   const uint8_t *src)
{
	uint64_t t0 = uv_now_ns();
	size_t off;

	fn(dst, src, UVCOPY_BUF);
	for (off = 0; off < UVCOPY_BUF; off += UVCOPY_PAGE)
		fn(dst + off, src + off, UVCOPY_PAGE);
	for (off = 0; off + UVCOPY_FRAME <= UVCOPY_BUF; off += UVCOPY_FRAME)
		fn(dst + off, src + off, UVCOPY_FRAME);
	return uv_now_ns() - t0;
}

/**
 * uvcopy_parse() - read --copy's argument
 * @arg:	"auto", "loop" or "memcpy"
 * @mode:	set to what it names
 *
 * Return: 0, or -EINVAL for anything else
 */
int uvcopy_parse(const char *arg, enum uvcopy_mode *mode)
{
	if (!strcmp(arg, "auto"))
		*mode = UVCOPY_AUTO;
	else if (!strcmp(arg, "loop"))
		*mode = UVCOPY_LOOP;
	else if (!strcmp(arg, "memcpy"))
		*mode = UVCOPY_MEMCPY;
	else
		return -EINVAL;
	return 0;
}

/**
 * uvcopy_option() - --copy's argument, or exit 2 with one line
 * @arg:	the argument
 *
 * Return: the mode it names
 */
enum uvcopy_mode uvcopy_option(const char *arg)
{
	enum uvcopy_mode mode;

	if (uvcopy_parse(arg, &mode))
		uvemu_die(2, "--copy: '%s' is not memcpy, loop or auto", arg);
	return mode;
}

/*
 * Time both routines on the same 64 KiB, in pairs of rounds in which
 * memcpy() and the loop take turns to go first; keep each one's best.
 * Return: false where the buffers cannot be had.
 */
static bool uvcopy_measure(struct uvcopy_choice *c)
{
	uint64_t t, *best;
	uint8_t *a;
	bool loop;
	int i;

	a = mmap(NULL, 2 * UVCOPY_BUF, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		return false;
	memset(a, 0x5a, 2 * UVCOPY_BUF);
	c->loop_ns = c->memcpy_ns = UINT64_MAX;
	for (i = 0; i < 2 * UVCOPY_ROUNDS; i++) {
		loop = (i ^ (i >> 1)) & 1;	/* memcpy, loop, loop, memcpy, ... */
		best = loop ? &c->loop_ns : &c->memcpy_ns;
		t = time_round(loop ? copy_by_loop : copy_by_memcpy,
			       a + UVCOPY_BUF, a);
		if (t < *best)
			*best = t;
	}
	munmap(a, 2 * UVCOPY_BUF);
	return true;
}

/**
 * uvcopy_choose() - set what uvcopy() runs; call before any thread copies
 * @mode:	UVCOPY_AUTO measures: each routine copies the same 64 KiB
 *		(whole, by pages and by frames) in 5 interleaved rounds,
 *		and the loop is taken only if its best round is at least
 *		1.25 times as fast as memcpy()'s (about 1 ms under TCG,
 *		tens of us on hardware). memcpy() where the buffers cannot
 *		be had.
 * @c:		what was chosen and measured
 */
void uvcopy_choose(enum uvcopy_mode mode, struct uvcopy_choice *c)
{
	memset(c, 0, sizeof(*c));
	c->mode = mode;
	c->loop = mode == UVCOPY_LOOP;
	if (mode == UVCOPY_AUTO && uvcopy_measure(c)) {
		c->measured = true;
		c->loop = c->loop_ns * 5 < c->memcpy_ns * 4;
	}
	uvcopy_by_loop = c->loop;
}

/**
 * uvcopy_describe() - one phrase for the start-up log
 * @c:		what uvcopy_choose() found
 * @buf:	where to write it
 * @len:	its size
 *
 * Return: @buf: "bulk copies by the 8-byte loop (measured: memcpy() 140.9
 * us, the loop 38.6 us)", "bulk copies by memcpy() (--copy memcpy)", ...
 */
const char *uvcopy_describe(const struct uvcopy_choice *c, char *buf,
			    size_t len)
{
	const char *what = c->loop ? "the 8-byte loop" : "memcpy()";

	if (c->measured)
		snprintf(buf, len, "bulk copies by %s (measured: memcpy() %.1f us, the loop %.1f us)",
			 what, c->memcpy_ns / 1000.0, c->loop_ns / 1000.0);
	else if (c->mode == UVCOPY_AUTO)
		snprintf(buf, len, "bulk copies by %s (could not measure)",
			 what);
	else
		snprintf(buf, len, "bulk copies by %s (--copy %s)", what,
			 c->loop ? "loop" : "memcpy");
	return buf;
}

/**
 * uvcopy_start() - choose the copy before any thread copies, and say which
 * @mode:	--copy
 * @index:	the device's index, for the log line
 *
 * For an emulator whose backend copies in userspace; one that never calls
 * uvcopy() need not measure or say anything.
 */
void uvcopy_start(enum uvcopy_mode mode, unsigned int index)
{
	struct uvcopy_choice c;
	char what[128];

	uvcopy_choose(mode, &c);
	uvemu_log("uvirtio-%u: %s", index,
		  uvcopy_describe(&c, what, sizeof(what)));
}

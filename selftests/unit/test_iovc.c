// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_iovc.c - the iovec cursor: reads, writes and slices across buffers
 */
#include <errno.h>
#include <string.h>

#include "iovc.h"
#include "tap.h"

/* The buffers sit apart in one array: no two of them touch. */
static char mem[64];
static char *const a = mem, *const c = mem + 8, *const d = mem + 20;
static struct iovec iov[4];

/**
 * reset() - four buffers of 5, 0, 7 and 4 bytes, filled with 'A'..'P'
 */
static void reset(void)
{
	char src[] = "ABCDEFGHIJKLMNOP";

	memcpy(a, src, 5);
	memcpy(c, src + 5, 7);
	memcpy(d, src + 12, 4);
	iov[0] = (struct iovec){ a, 5 };
	iov[1] = (struct iovec){ NULL, 0 };
	iov[2] = (struct iovec){ c, 7 };
	iov[3] = (struct iovec){ d, 4 };
}

/**
 * main() - run the tests
 *
 * Return: 0 if all passed, 1 if one failed, 4 if skipped
 */
int main(void)
{
	struct iovec out[4];
	char buf[32];
	struct iovc cur;
	int n;

	tap_plan(12);

	reset();
	tap_eq(iovc_size(iov, 4), 16, "size sums every entry");

	iovc_init(&cur, iov, 4);
	memset(buf, 0, sizeof(buf));
	tap_ok(iovc_read(&cur, buf, 8) == 8 && !memcmp(buf, "ABCDEFGH", 8),
	       "read across a buffer boundary and an empty entry");
	tap_eq(iovc_left(&cur), 8, "left after a read");

	tap_ok(iovc_read(&cur, buf, 20) == 8 && !memcmp(buf, "IJKLMNOP", 8),
	       "read past the end stops at the end");

	reset();
	iovc_init(&cur, iov, 4);
	iovc_skip(&cur, 3);
	tap_ok(iovc_write(&cur, "xyzw", 4) == 4 && !memcmp(a, "ABCxy", 5) &&
	       !memcmp(c, "zwHIJKL", 7), "write across a boundary");

	reset();
	iovc_init(&cur, iov, 4);
	tap_eq(iovc_skip(&cur, 100), 16, "skip past the end stops at the end");

	iovc_init(&cur, iov, 4);
	iovc_skip(&cur, 4);
	n = iovc_slice(&cur, 10, out, 4);
	tap_ok(n == 3 && out[0].iov_base == a + 4 && out[0].iov_len == 1 &&
	       out[1].iov_base == c && out[1].iov_len == 7 &&
	       out[2].iov_base == d && out[2].iov_len == 2,
	       "slice from the middle, empty entry dropped");
	tap_eq(iovc_left(&cur), 2, "slice advances the cursor");

	iovc_init(&cur, iov, 4);
	tap_eq(iovc_slice(&cur, 16, out, 2), -ENOBUFS,
	       "slice needing more entries than given -> ENOBUFS");
	iovc_init(&cur, iov, 4);
	tap_eq(iovc_slice(&cur, 17, out, 4), -ENODATA,
	       "slice longer than what is left -> ENODATA");

	/* Pieces that follow each other in memory: one entry. */
	iov[0] = (struct iovec){ mem + 32, 3 };
	iov[1] = (struct iovec){ mem + 35, 5 };
	iov[2] = (struct iovec){ mem + 40, 2 };
	iov[3] = (struct iovec){ mem + 48, 4 };
	iovc_init(&cur, iov, 4);
	iovc_skip(&cur, 1);
	n = iovc_slice(&cur, 12, out, 2);
	tap_ok(n == 2 && out[0].iov_base == mem + 33 && out[0].iov_len == 9 &&
	       out[1].iov_base == mem + 48 && out[1].iov_len == 3,
	       "adjacent pieces become one entry (%d entries)", n);
	iovc_init(&cur, iov, 4);
	tap_eq(iovc_slice(&cur, 10, out, 1), 1,
	       "three adjacent pieces fit one entry");

	return tap_done();
}

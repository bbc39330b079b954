// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * iovc.c - a cursor over an iovec array
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "iovc.h"

/**
 * iovc_size() - total bytes of an iovec array
 * @iov:	array
 * @cnt:	entries
 *
 * Return: the sum of the lengths
 */
size_t iovc_size(const struct iovec *iov, unsigned int cnt)
{
	size_t n = 0;
	unsigned int i;

	for (i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	return n;
}

/**
 * iovc_init() - put a cursor at the first byte of an iovec array
 * @c:		cursor
 * @iov:	array (may be NULL if @cnt is 0)
 * @cnt:	entries
 */
void iovc_init(struct iovc *c, const struct iovec *iov, unsigned int cnt)
{
	c->iov = iov;
	c->cnt = cnt;
	c->i = 0;
	c->off = 0;
}

/**
 * iovc_left() - bytes between the cursor and the end
 * @c:		cursor
 *
 * Return: bytes left
 */
size_t iovc_left(const struct iovc *c)
{
	if (c->i >= c->cnt)
		return 0;
	return iovc_size(c->iov + c->i, c->cnt - c->i) - c->off;
}

/**
 * iovc_step() - advance the cursor by up to @len bytes of the current entry
 * @c:		cursor
 * @len:	bytes wanted
 * @p:		out: where those bytes start
 *
 * Skips empty entries first.
 *
 * Return: bytes available at *@p (0 at the end)
 */
static size_t iovc_step(struct iovc *c, size_t len, uint8_t **p)
{
	size_t n;

	while (c->i < c->cnt && c->off == c->iov[c->i].iov_len) {
		c->i++;
		c->off = 0;
	}
	if (c->i >= c->cnt || !len)
		return 0;
	n = c->iov[c->i].iov_len - c->off;
	if (n > len)
		n = len;
	*p = (uint8_t *)c->iov[c->i].iov_base + c->off;
	c->off += n;
	return n;
}

/**
 * iovc_read() - copy bytes from the cursor out, advancing it
 * @c:		cursor
 * @buf:	destination
 * @len:	bytes wanted
 *
 * Return: bytes copied (less than @len only at the end)
 */
size_t iovc_read(struct iovc *c, void *buf, size_t len)
{
	size_t done = 0, n;
	uint8_t *p;

	while ((n = iovc_step(c, len - done, &p))) {
		memcpy((uint8_t *)buf + done, p, n);
		done += n;
	}
	return done;
}

/**
 * iovc_write() - copy bytes to the cursor, advancing it
 * @c:		cursor
 * @buf:	source
 * @len:	bytes to copy
 *
 * Return: bytes copied (less than @len only at the end)
 */
size_t iovc_write(struct iovc *c, const void *buf, size_t len)
{
	size_t done = 0, n;
	uint8_t *p;

	while ((n = iovc_step(c, len - done, &p))) {
		memcpy(p, (const uint8_t *)buf + done, n);
		done += n;
	}
	return done;
}

/**
 * iovc_skip() - advance the cursor without copying
 * @c:		cursor
 * @len:	bytes to skip
 *
 * Return: bytes skipped (less than @len only at the end)
 */
size_t iovc_skip(struct iovc *c, size_t len)
{
	size_t done = 0, n;
	uint8_t *p;

	while ((n = iovc_step(c, len - done, &p)))
		done += n;
	return done;
}

/**
 * iovc_slice() - describe the next @len bytes as iovecs, advancing past them
 * @c:		cursor
 * @len:	bytes
 * @out:	iovecs to fill (for preadv() and friends)
 * @cap:	entries in @out
 *
 * Pieces that follow each other in memory become one entry: the module
 * maps a request's buffers one after the other where the pool has room,
 * and one entry is what an io_uring fixed-buffer operation can take.
 * On failure the cursor has moved by an unspecified amount.
 *
 * Return: entries used, -ENOBUFS if @cap is too small, -ENODATA if fewer
 * than @len bytes are left
 */
int iovc_slice(struct iovc *c, size_t len, struct iovec *out, unsigned int cap)
{
	unsigned int k = 0;
	size_t done = 0, n;
	uint8_t *p;

	while ((n = iovc_step(c, len - done, &p))) {
		done += n;
		if (k && (uint8_t *)out[k - 1].iov_base + out[k - 1].iov_len == p) {
			out[k - 1].iov_len += n;
			continue;
		}
		if (k == cap)
			return -ENOBUFS;
		out[k].iov_base = p;
		out[k].iov_len = n;
		k++;
	}
	return done == len ? (int)k : -ENODATA;
}

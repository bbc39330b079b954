/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iovc.h - a cursor over an iovec array
 *
 * Requests do not line up with descriptors: a virtio-blk header may be split
 * over two buffers or share one with data. A cursor walks the bytes of an
 * iovec array in order, whatever their split.
 */
#ifndef UVIRTIO_IOVC_H
#define UVIRTIO_IOVC_H

#include <stddef.h>
#include <sys/uio.h>

/**
 * struct iovc - position inside an iovec array
 * @iov:	the array
 * @cnt:	entries in it
 * @i:		current entry
 * @off:	offset inside the current entry
 */
struct iovc {
	const struct iovec *iov;
	unsigned int cnt;
	unsigned int i;
	size_t off;
};

size_t iovc_size(const struct iovec *iov, unsigned int cnt);
void iovc_init(struct iovc *c, const struct iovec *iov, unsigned int cnt);
size_t iovc_left(const struct iovc *c);
size_t iovc_read(struct iovc *c, void *buf, size_t len);
size_t iovc_write(struct iovc *c, const void *buf, size_t len);
size_t iovc_skip(struct iovc *c, size_t len);
int iovc_slice(struct iovc *c, size_t len, struct iovec *out,
	       unsigned int cap);

#endif /* UVIRTIO_IOVC_H */

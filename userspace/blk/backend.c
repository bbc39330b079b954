// SPDX-License-Identifier: GPL-2.0-only
/*
 * backend.c - RAM, file and block device backing stores (synchronous)
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/fs.h>

#include "backend.h"

/**
 * backend_open_ram() - a zero-filled RAM disk
 * @b:		backend
 * @size:	bytes
 *
 * Pages are allocated on first write (MAP_NORESERVE), so a large sparse
 * RAM disk costs only what is written to it.
 *
 * Return: 0, -EINVAL for size 0, -ENOMEM
 */
int backend_open_ram(struct backend *b, uint64_t size)
{
	void *p;

	memset(b, 0, sizeof(*b));
	b->fd = -1;
	if (!size)
		return -EINVAL;
	if ((size_t)size != size)
		return -ENOMEM;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	b->type = BACKEND_RAM;
	b->ram = p;
	b->size = size;
	return 0;
}

/**
 * backend_open_null() - a disk that stores nothing: reads write no data
 * (backend_fills() is false: the disk reports the status byte alone, and
 * the module hands the driver zeros), writes are dropped; for measuring the
 * request path itself
 * @b:		backend
 * @size:	bytes
 *
 * Return: 0, -EINVAL for size 0
 */
int backend_open_null(struct backend *b, uint64_t size)
{
	memset(b, 0, sizeof(*b));
	b->fd = -1;
	if (!size)
		return -EINVAL;
	b->type = BACKEND_NULL;
	b->size = size;
	return 0;
}

/**
 * backend_open_file() - a regular file or a block device
 * @b:		backend
 * @path:	file
 * @readonly:	open read-only
 * @direct:	open with O_DIRECT (bypass the page cache)
 *
 * Return: 0; -errno from open() or fstat(); -EROFS if @readonly is false
 * but the file can only be opened for reading; -EINVAL if it is neither a
 * regular file nor a block device
 */
int backend_open_file(struct backend *b, const char *path, bool readonly,
		      bool direct)
{
	int dflag = direct ? O_DIRECT : 0;
	struct stat st;
	int fd, ret;

	memset(b, 0, sizeof(*b));
	b->fd = -1;
	fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | dflag);
	if (fd < 0) {
		ret = -errno;
		if (!readonly && (ret == -EACCES || ret == -EROFS ||
				  ret == -EPERM)) {
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				close(fd);
				return -EROFS;
			}
		}
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto err_close;
	}
	if (S_ISREG(st.st_mode)) {
		b->type = BACKEND_FILE;
		b->size = st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		b->type = BACKEND_BDEV;
		if (ioctl(fd, BLKGETSIZE64, &b->size) < 0) {
			ret = -errno;
			goto err_close;
		}
	} else {
		ret = -EINVAL;
		goto err_close;
	}
	b->fd = fd;
	b->readonly = readonly;
	b->direct = direct;
	return 0;

err_close:
	close(fd);
	return ret;
}

/**
 * iov_advance() - drop @n bytes from the front of an iovec array
 * @iov:	array, modified
 * @cnt:	entries, updated
 * @n:		bytes already transferred
 *
 * Return: the new first entry
 */
static struct iovec *iov_advance(struct iovec *iov, unsigned int *cnt,
				 size_t n)
{
	while (*cnt && n >= iov->iov_len) {
		n -= iov->iov_len;
		iov++;
		(*cnt)--;
	}
	if (*cnt) {
		iov->iov_base = (uint8_t *)iov->iov_base + n;
		iov->iov_len -= n;
	}
	return iov;
}

/**
 * backend_rw() - transfer a whole iovec array at an offset
 * @b:		backend
 * @off:	byte offset
 * @iov:	buffers (modified while the transfer is short)
 * @cnt:	entries
 * @write:	direction
 *
 * Return: 0, -errno, or -EIO at end of file
 */
static int backend_rw(struct backend *b, uint64_t off, struct iovec *iov,
		      unsigned int cnt, bool write)
{
	unsigned int i;
	ssize_t n;

	if (b->type == BACKEND_NULL)
		return 0;
	if (b->type == BACKEND_RAM) {
		for (i = 0; i < cnt; i++) {
			if (off > b->size || iov[i].iov_len > b->size - off)
				return -EIO;
			if (write)
				memcpy(b->ram + off, iov[i].iov_base,
				       iov[i].iov_len);
			else
				memcpy(iov[i].iov_base, b->ram + off,
				       iov[i].iov_len);
			off += iov[i].iov_len;
		}
		return 0;
	}

	while (cnt) {
		if (write)
			n = pwritev(b->fd, iov, cnt > IOV_MAX ? IOV_MAX : cnt,
				    off);
		else
			n = preadv(b->fd, iov, cnt > IOV_MAX ? IOV_MAX : cnt,
				   off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		off += n;
		iov = iov_advance(iov, &cnt, n);
	}
	return 0;
}

/**
 * backend_read() - read into a whole iovec array
 * @b:		backend
 * @off:	byte offset
 * @iov:	buffers (contents of the array are changed)
 * @cnt:	entries
 *
 * Return: 0 or -errno
 */
int backend_read(struct backend *b, uint64_t off, struct iovec *iov,
		 unsigned int cnt)
{
	return backend_rw(b, off, iov, cnt, false);
}

/**
 * backend_write() - write a whole iovec array
 * @b:		backend
 * @off:	byte offset
 * @iov:	buffers (contents of the array are changed)
 * @cnt:	entries
 *
 * Return: 0, -EROFS if read-only, or -errno
 */
int backend_write(struct backend *b, uint64_t off, struct iovec *iov,
		  unsigned int cnt)
{
	if (b->readonly)
		return -EROFS;
	return backend_rw(b, off, iov, cnt, true);
}

/**
 * backend_fills() - whether a successful read writes every byte asked for
 * @b:		backend
 *
 * Return: false for null (it writes nothing), else true
 */
bool backend_fills(const struct backend *b)
{
	return b->type != BACKEND_NULL;
}

/**
 * backend_flush() - make written data durable
 * @b:		backend
 *
 * Return: 0 or -errno
 */
int backend_flush(struct backend *b)
{
	if (b->fd < 0)
		return 0;
	return fdatasync(b->fd) < 0 ? -errno : 0;
}

/**
 * backend_refresh_size() - read a file's or block device's size again
 * @b:		backend
 *
 * Return: 0 (@b->size updated), -EOPNOTSUPP for RAM and null, or -errno
 */
int backend_refresh_size(struct backend *b)
{
	struct stat st;
	uint64_t size;

	if (b->type == BACKEND_BDEV) {
		if (ioctl(b->fd, BLKGETSIZE64, &size) < 0)
			return -errno;
	} else if (b->type == BACKEND_FILE) {
		if (fstat(b->fd, &st) < 0)
			return -errno;
		size = st.st_size;
	} else {
		return -EOPNOTSUPP;
	}
	b->size = size;
	return 0;
}

/**
 * backend_ram_zero() - make a range of the RAM disk read back as zeros
 * @b:		RAM backend
 * @off:	byte offset
 * @len:	bytes, inside the disk
 *
 * Whole pages are given back (a private anonymous page dropped reads as
 * zeros), only the partial ones at the ends are cleared. A memset() of
 * the whole range would instead allocate every page never written, a
 * gigabyte for one big discard of an empty disk, and take seconds.
 */
static void backend_ram_zero(struct backend *b, uint64_t off, uint64_t len)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t lo = (off + page - 1) / page * page;
	uint64_t hi = (off + len) / page * page;

	if (lo >= hi || madvise(b->ram + lo, hi - lo, MADV_DONTNEED)) {
		memset(b->ram + off, 0, len);
		return;
	}
	memset(b->ram + off, 0, lo - off);
	memset(b->ram + hi, 0, off + len - hi);
}

/**
 * backend_deallocate() - make a byte range read back as zeros
 * @b:		backend
 * @off:	byte offset
 * @len:	bytes
 * @zero:	the range must read back as zeros (write zeroes); a discard
 *		of a block device may leave anything
 *
 * Files: a hole is punched (tmpfs, ext4, xfs all read holes as zeros);
 * where that is refused, zeros are written. Block devices: BLKDISCARD or
 * BLKZEROOUT. RAM: zeroed, pages given back where whole.
 *
 * Return: 0, -EROFS, or -errno
 */
static int backend_deallocate(struct backend *b, uint64_t off, uint64_t len,
			      bool zero)
{
	static const uint8_t zeros[65536] __attribute__((aligned(4096)));
	uint64_t range[2] = { off, len };
	size_t n;
	ssize_t w;

	if (b->readonly)
		return -EROFS;
	if (off > b->size || len > b->size - off)
		return -EIO;
	switch (b->type) {
	case BACKEND_NULL:
		return 0;
	case BACKEND_RAM:
		backend_ram_zero(b, off, len);
		return 0;
	case BACKEND_BDEV:
		if (ioctl(b->fd, zero ? BLKZEROOUT : BLKDISCARD, range) < 0)
			return -errno;
		return 0;
	case BACKEND_FILE:
		if (!fallocate(b->fd, FALLOC_FL_PUNCH_HOLE |
			       FALLOC_FL_KEEP_SIZE, off, len))
			return 0;
		if (errno != EOPNOTSUPP)
			return -errno;
		if (!zero)
			return 0;
		break;
	}
	while (len) {
		n = len < sizeof(zeros) ? len : sizeof(zeros);
		w = pwrite(b->fd, zeros, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (!w)
			return -EIO;
		off += w;
		len -= w;
	}
	return 0;
}

/**
 * backend_discard() - the driver no longer needs a range
 * @b:		backend
 * @off:	byte offset
 * @len:	bytes
 *
 * Return: 0 or -errno
 */
int backend_discard(struct backend *b, uint64_t off, uint64_t len)
{
	return backend_deallocate(b, off, len, false);
}

/**
 * backend_write_zeroes() - make a range read back as zeros
 * @b:		backend
 * @off:	byte offset
 * @len:	bytes
 *
 * Return: 0 or -errno
 */
int backend_write_zeroes(struct backend *b, uint64_t off, uint64_t len)
{
	return backend_deallocate(b, off, len, true);
}

/**
 * backend_close() - release the backing store
 * @b:		backend
 */
void backend_close(struct backend *b)
{
	if (b->ram)
		munmap(b->ram, b->size);
	if (b->fd >= 0)
		close(b->fd);
	b->ram = NULL;
	b->fd = -1;
}

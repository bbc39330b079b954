// SPDX-License-Identifier: GPL-2.0-only
/*
 * pool_pin - the bounce pool mapped on its own can be pinned as an
 * io_uring's fixed buffer; the rings stay read-only whatever the mapping.
 *
 * The module gives a mapping that holds none of the ring pages no write
 * notification (no page_mkwrite), so gup lets its pages be pinned for
 * long; a mapping with ring pages keeps it, and those pages keep raising
 * SIGBUS on a write. Checked, with raw ioctls on a created blk device:
 *   - the pool inside a whole-domain mapping cannot be registered as a
 *     fixed buffer (EFAULT since Linux 6.5's gup check; 6.1's io_uring
 *     takes no such memory at all: EOPNOTSUPP);
 *   - a mapping of the pool alone is the same memory, and registers
 *     (skipped where io_uring takes no memory of a device file: 6.1);
 *   - IORING_OP_READ_FIXED from a file lands in the pool, seen through
 *     the whole-domain mapping;
 *   - a mapping of the last ring page and the first pool page: a write
 *     to the ring page raises SIGBUS, one to the pool page does not, and
 *     it cannot be registered;
 *   - a pin outlives the device: with every mapping and the fd gone the
 *     device and its domain pages are gone from the module's counts, a
 *     READ_FIXED into the pinned buffer still works (the pages are the
 *     pin's now; KASAN on the debug lane would see a use after free), and
 *     the pages go with the ring.
 * Runs as root or as an ordinary user (a 1 MiB pool is below the default
 * 8 MiB RLIMIT_MEMLOCK).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/uvirtio.h>
#include <linux/virtio_ids.h>

#include <liburing.h>

#include "devfd.h"
#include "require.h"
#include "testemu.h"
#include "unit/tap.h"

#define DEVICES		"/sys/class/misc/uvirtio/devices"
#define DOMAIN_PAGES	"/sys/class/misc/uvirtio/domain_pages"
#define PAGE		4096

/* Register @len bytes at @p as fixed buffer 0 of @ring; -errno or 0. */
static int pin(struct io_uring *ring, void *p, size_t len)
{
	struct iovec iov = { p, len };
	int ret = io_uring_register_buffers(ring, &iov, 1);

	if (!ret)
		io_uring_unregister_buffers(ring);
	return ret;
}

/*
 * READ_FIXED of @len bytes at offset 0 of @fd into @dst, inside fixed
 * buffer 0. Returns the bytes read or -errno.
 */
static int read_fixed(struct io_uring *ring, int fd, void *dst, unsigned int len)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int ret;

	if (!sqe)
		return -EBUSY;
	io_uring_prep_read_fixed(sqe, fd, dst, len, 0, 0);
	ret = io_uring_submit_and_wait(ring, 1);
	if (ret < 0)
		return ret;
	ret = io_uring_peek_cqe(ring, &cqe);
	if (ret)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return ret;
}

/* A memfd of one page of @byte. */
static int page_file(uint8_t byte)
{
	uint8_t buf[PAGE];
	int fd = memfd_create("pool_pin", MFD_CLOEXEC);

	memset(buf, byte, sizeof(buf));
	if (fd >= 0 && pwrite(fd, buf, sizeof(buf), 0) != sizeof(buf)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Whether @len bytes at @p are all @byte. */
static bool all(const uint8_t *p, size_t len, uint8_t byte)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != byte)
			return false;
	return true;
}

int main(void)
{
	long devices0, pages0, devices1, pages1, ms;
	uint8_t *dom, *pool, *edge;
	struct uvirtio_layout l;
	struct io_uring ring;
	struct iovec iov;
	int fd, ffd, ffd2, pinned, r;

	require_uvirtio(0);
	tap_plan(8);
	r = io_uring_queue_init(8, &ring, 0);
	if (r) {
		tap_diag("no io_uring here: %s", strerror(-r));
		return 4;
	}
	devices0 = temu_read_long(DEVICES);
	pages0 = temu_read_long(DOMAIN_PAGES);
	fd = devfd_create(VIRTIO_ID_BLOCK, 1, 256, 1 << 20, NULL);
	if (fd < 0 || ioctl(fd, UVIRTIO_GET_LAYOUT, &l) < 0) {
		tap_diag("cannot create a blk device: %s", strerror(fd < 0 ? -fd : errno));
		return 1;
	}
	dom = mmap(NULL, l.domain_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	pool = mmap(NULL, l.bounce_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    (off_t)l.bounce_offset);
	edge = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    (off_t)l.bounce_offset - PAGE);
	ffd = page_file(0xc3);
	if (dom == MAP_FAILED || pool == MAP_FAILED || edge == MAP_FAILED || ffd < 0) {
		tap_diag("mmap or memfd: %s", strerror(errno));
		return 1;
	}

	r = pin(&ring, dom + l.bounce_offset, l.bounce_size);
	tap_ok(r == -EFAULT || r == -EOPNOTSUPP,
	       "the pool inside a mapping with the rings is not pinned: %s",
	       r ? strerror(-r) : "it was");

	memset(pool, 0x11, PAGE);
	memset(dom + l.bounce_offset + l.bounce_size - PAGE, 0x22, PAGE);
	tap_ok(all(dom + l.bounce_offset, PAGE, 0x11) &&
	       all(pool + l.bounce_size - PAGE, PAGE, 0x22),
	       "the pool mapped on its own is the same memory as in the whole domain");

	/* the children's writes are shared: the pool page's must show */
	tap_ok(devfd_sigbus(edge, true) && !devfd_sigbus(edge + PAGE, true) && edge[PAGE] == 0x5a,
	       "a mapping of the last ring page and the first pool page: SIGBUS on the ring page only");
	r = pin(&ring, edge, 2 * PAGE);
	tap_ok(r == -EFAULT || r == -EOPNOTSUPP,
	       "that mapping is not pinned: %s", r ? strerror(-r) : "it was");

	/* Pinned from here to the ring's end. */
	iov = (struct iovec){ pool, l.bounce_size };
	pinned = io_uring_register_buffers(&ring, &iov, 1);
	if (pinned == -EOPNOTSUPP) {
		tap_skip("the pool mapped on its own is pinned as a fixed buffer",
			 "this kernel's io_uring takes no memory of a device file (EOPNOTSUPP)");
		tap_skip("READ_FIXED into the pinned pool", "not pinned");
	} else {
		tap_ok(!pinned, "the pool mapped on its own is pinned as a fixed buffer (%lu KiB): %s",
		       (unsigned long)(l.bounce_size >> 10), pinned ? strerror(-pinned) : "ok");
		r = pinned ? pinned : read_fixed(&ring, ffd, pool + 2 * PAGE, PAGE);
		tap_ok(r == PAGE && all(dom + l.bounce_offset + 2 * PAGE, PAGE, 0xc3),
		       "READ_FIXED into the pinned pool lands in the domain (%d)", r);
	}

	/* The device goes while the pool is pinned. */
	munmap(edge, 2 * PAGE);
	munmap(dom, l.domain_size);
	munmap(pool, l.bounce_size);
	close(fd);
	for (ms = 0; ms < 5000 && (temu_read_long(DEVICES) != devices0 ||
				   temu_read_long(DOMAIN_PAGES) != pages0); ms += 50)
		usleep(50000);
	devices1 = temu_read_long(DEVICES);
	pages1 = temu_read_long(DOMAIN_PAGES);
	tap_ok(devices1 == devices0 && pages1 == pages0,
	       "mappings and fd gone: devices %ld (was %ld), domain pages %ld (was %ld) after %ld ms",
	       devices1, devices0, pages1, pages0, ms);
	if (pinned) {
		tap_skip("READ_FIXED into the pinned pool after the device went", "not pinned");
	} else {
		ffd2 = page_file(0x96);
		r = ffd2 < 0 ? -errno : read_fixed(&ring, ffd2, pool, PAGE);
		tap_ok(r == PAGE, "READ_FIXED into the pinned pool after the device went: %d", r);
		close(ffd2);
	}
	close(ffd);
	io_uring_queue_exit(&ring);
	return tap_done();
}

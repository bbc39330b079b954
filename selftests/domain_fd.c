// SPDX-License-Identifier: GPL-2.0-only
/*
 * domain_fd - UVIRTIO_DOMAIN_FD gives a file that maps a device's domain
 * and can do nothing else (what uvirtio-vhost-user hands its backend).
 *
 * Checked, with raw ioctls on a created blk device:
 *   - without a device the ioctl fails with ENODEV; with one it returns a
 *     new close-on-exec fd;
 *   - a mapping of it is the same memory as the device fd's (a pattern
 *     written through one is read through the other, both ways);
 *   - the read-only rings stay read-only through it: a write to the last
 *     page before the bounce pool kills a child with SIGBUS, a read there
 *     does not;
 *   - none of the device's ioctls work on it (GET_LAYOUT, START, REMOVE,
 *     SET_CONFIG, DOMAIN_FD itself: ENOTTY), read() fails;
 *   - it does not keep the device: with the domain file open and mapped,
 *     closing the device fd (and unmapping it) kills the device (a new mmap of the domain
 *     file fails with ENODEV), the old mapping stays readable; once the
 *     file and the mappings go, the device count and the domain pages are
 *     back where they were.
 * Runs as root or as an ordinary user.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/uvirtio.h>
#include <linux/virtio_ids.h>
#include "devfd.h"
#include "require.h"
#include "testemu.h"
#include "unit/tap.h"

#define DEVICES		"/sys/class/misc/uvirtio/devices"
#define DOMAIN_PAGES	"/sys/class/misc/uvirtio/domain_pages"

/* ioctl() returning -errno, or the result. */
static long ioc(int fd, unsigned long cmd, void *arg)
{
	long r = ioctl(fd, cmd, arg);

	return r < 0 ? -errno : r;
}

int main(void)
{
	struct uvirtio_layout l;
	long devices0, pages0, r;
	uint8_t *dmap, *mmap_d, *p;
	size_t ro_page;
	char buf[64];
	int fd, mfd, flags;
	bool same;

	require_uvirtio(0);
	tap_plan(11);
	devices0 = temu_read_long(DEVICES);
	pages0 = temu_read_long(DOMAIN_PAGES);
	fd = open("/dev/uvirtio", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		tap_diag("cannot open /dev/uvirtio: %s", strerror(errno));
		return 1;
	}
	r = ioc(fd, UVIRTIO_DOMAIN_FD, NULL);
	tap_ok(r == -ENODEV, "no device yet: UVIRTIO_DOMAIN_FD -> %s",
	       r < 0 ? strerror((int)-r) : "an fd");
	if (r >= 0)
		close((int)r);
	close(fd);
	fd = devfd_create(VIRTIO_ID_BLOCK, 1, 256, 1 << 20, NULL);
	if (fd < 0 || ioc(fd, UVIRTIO_GET_LAYOUT, &l) < 0) {
		tap_diag("cannot create a blk device: %s", strerror(fd < 0 ? -fd : errno));
		return 1;
	}
	mfd = (int)ioc(fd, UVIRTIO_DOMAIN_FD, NULL);
	flags = mfd >= 0 ? fcntl(mfd, F_GETFD) : 0;
	tap_ok(mfd >= 0 && (flags & FD_CLOEXEC), "UVIRTIO_DOMAIN_FD: fd %d, close-on-exec %s",
	       mfd, flags & FD_CLOEXEC ? "set" : "not set");
	if (mfd < 0)
		return tap_done();

	dmap = mmap(NULL, l.domain_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	mmap_d = mmap(NULL, l.domain_size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (dmap == MAP_FAILED || mmap_d == MAP_FAILED) {
		tap_diag("mmap: %s", strerror(errno));
		return 1;
	}
	p = mmap_d + l.bounce_offset;
	memset(p, 0xa5, 4096);
	same = dmap[l.bounce_offset] == 0xa5 && dmap[l.bounce_offset + 4095] == 0xa5;
	memset(dmap + l.bounce_offset + l.bounce_size - 4096, 0x3c, 4096);
	same = same && mmap_d[l.bounce_offset + l.bounce_size - 1] == 0x3c;
	tap_ok(same, "the domain file maps the device's memory: writes through either are seen through the other");

	/* The last page before the bounce pool holds ring slots. */
	ro_page = l.bounce_offset - 4096;
	tap_ok(!devfd_sigbus(mmap_d + ro_page, false) && devfd_sigbus(mmap_d + ro_page, true),
	       "ring slots (offset 0x%zx) through the domain file: a read works, a write gets SIGBUS",
	       ro_page);

	r = ioc(mfd, UVIRTIO_GET_LAYOUT, &l);
	tap_ok(r == -ENOTTY, "on the domain file: UVIRTIO_GET_LAYOUT -> %s", strerror((int)-r));
	r = ioc(mfd, UVIRTIO_START, NULL);
	tap_ok(r == -ENOTTY, "on the domain file: UVIRTIO_START -> %s", strerror((int)-r));
	r = ioc(mfd, UVIRTIO_REMOVE, NULL);
	tap_ok(r == -ENOTTY, "on the domain file: UVIRTIO_REMOVE -> %s", strerror((int)-r));
	r = ioc(mfd, UVIRTIO_DOMAIN_FD, NULL);
	tap_ok(r == -ENOTTY, "on the domain file: UVIRTIO_DOMAIN_FD -> %s",
	       r < 0 ? strerror((int)-r) : "an fd");
	r = read(mfd, buf, sizeof(buf));
	tap_ok(r < 0, "on the domain file: read() -> %s", r < 0 ? strerror(errno) : "data");

	/*
	 * The device file goes (its mapping holds it too, as for any file);
	 * the domain file and its mapping stay.
	 */
	munmap(dmap, l.domain_size);
	close(fd);
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, mfd, 0);
	tap_ok(p == MAP_FAILED && errno == ENODEV && mmap_d[l.bounce_offset] == 0xa5,
	       "device fd closed and unmapped, domain file open and mapped: the device is dead (a new mmap of the file: %s), the old mapping still reads",
	       p == MAP_FAILED ? strerror(errno) : "it worked");
	if (p != MAP_FAILED)
		munmap(p, 4096);

	close(mfd);
	munmap(mmap_d, l.domain_size);
	r = 0;
	for (int i = 0; i < 100 && (temu_read_long(DEVICES) != devices0 ||
				    temu_read_long(DOMAIN_PAGES) != pages0); i++, r += 50)
		usleep(50000);
	tap_ok(temu_read_long(DEVICES) == devices0 && temu_read_long(DOMAIN_PAGES) == pages0,
	       "file and mappings gone: devices %ld (was %ld), domain pages %ld (was %ld) after %ld ms",
	       temu_read_long(DEVICES), devices0, temu_read_long(DOMAIN_PAGES), pages0, r);
	return tap_done();
}

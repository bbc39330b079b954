// SPDX-License-Identifier: GPL-2.0-only
/*
 * config_storm - an emulator flipping its disk's capacity in a loop does
 * not flood the kernel log (and uevents): config-change notices reach the
 * driver at most every 100 ms, and the last value always gets through.
 *
 * 300 UVIRTIO_SET_CONFIG calls alternate the capacity between two sizes,
 * one every 2 ms, while the emulator serves I/O. Then: the number of
 * "capacity change" kernel log lines is at most one per 100 ms of the
 * storm plus two, and after the storm the disk shows the last size set.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>

#include "testemu.h"
#include "unit/tap.h"

#define DISK_BYTES	(4 << 20)
#define FLIPS		300

/* Kernel log lines since @fd was opened that contain @what. */
static unsigned int kmsg_count(int fd, const char *what)
{
	char rec[2048];
	unsigned int n = 0;
	ssize_t r;

	while ((r = read(fd, rec, sizeof(rec) - 1)) > 0 || (r < 0 && errno == EPIPE)) {
		if (r <= 0)
			continue;
		rec[r] = 0;
		n += !!strstr(rec, what);
	}
	return n;
}

int main(void)
{
	static struct temu t;
	uint64_t cap;
	struct uvirtio_config_update u = { .offset = 0, .len = 8,
					   .data_addr = (uintptr_t)&cap };
	char path[128];
	long t0, t1, end, size = -1;
	unsigned int i, lines, bad = 0;
	int kmsg, ret;

	tap_plan(3);
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg < 0 || lseek(kmsg, 0, SEEK_END) < 0) {
		printf("# /dev/kmsg: %s\n", strerror(errno));
		return 4;
	}
	ret = temu_create(&t, DISK_BYTES, 64);
	if (!ret)
		ret = temu_wait_disk(&t, 15000);
	if (ret) {
		tap_diag("disk: %s", strerror(-ret));
		return 1;
	}
	/* let the probe's own log lines pass */
	for (end = temu_now_ms() + 500; temu_now_ms() < end;)
		temu_serve(&t, 10);
	kmsg_count(kmsg, "");

	t0 = temu_now_ms();
	for (i = 0; i < FLIPS; i++) {
		cap = (i % 2 ? DISK_BYTES : DISK_BYTES / 2) / 512;
		bad += !!ioctl(t.d.fd, UVIRTIO_SET_CONFIG, &u);
		temu_serve(&t, 2);
	}
	t1 = temu_now_ms();
	tap_ok(!bad, "%d capacity flips through UVIRTIO_SET_CONFIG in %ld ms", FLIPS, t1 - t0);

	snprintf(path, sizeof(path), "/sys/block/%.64s/size", t.node + 5);
	for (end = temu_now_ms() + 3000; temu_now_ms() < end;) {
		temu_serve(&t, 20);
		size = temu_read_long(path);
		if (size == (long)cap && temu_now_ms() > t1 + 500)
			break;
	}
	tap_ok(size == (long)cap, "after the storm the disk has the last size set "
	       "(%ld sectors, want %llu)", size, (unsigned long long)cap);
	lines = kmsg_count(kmsg, "capacity change");
	tap_diag("%u capacity-change log lines for %d flips in %ld ms", lines, FLIPS, t1 - t0);
	tap_ok(lines <= (t1 - t0 + 500) / 100 + 2,
	       "at most one capacity-change log line per 100 ms (%u)", lines);
	temu_close(&t);
	return tap_done();
}

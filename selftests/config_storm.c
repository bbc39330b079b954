// SPDX-License-Identifier: GPL-2.0-only
/*
 * config_storm - an emulator flipping its disk's capacity in a loop does
 * not flood uevents (nor the log, which the block layer already
 * rate-limits): config-change notices reach the driver at most every
 * 100 ms, and the last value always gets through.
 *
 * 100 UVIRTIO_SET_CONFIG calls alternate the capacity between two sizes,
 * one every 20 ms (each far apart enough for the driver to act on it
 * alone), while the emulator serves I/O. Then: the number of
 * "capacity change" kernel log lines is at most one per 100 ms of the
 * storm plus two, so is the number of RESIZE uevents, and after the storm
 * the disk shows the last size set.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>

#include "testemu.h"
#include "require.h"
#include "unit/tap.h"

#define DISK_BYTES	(4 << 20)
#define FLIPS		100

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

/* Messages queued on uevent socket @fd that contain @what. */
static unsigned int uevent_count(int fd, const char *what)
{
	char msg[4096];
	unsigned int n = 0;
	ssize_t r, i;

	while ((r = recv(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT)) > 0) {
		msg[r] = 0;
		/* NUL-separated KEY=VALUE strings */
		for (i = 0; i < r; i += strlen(msg + i) + 1)
			if (!strcmp(msg + i, what)) {
				n++;
				break;
			}
	}
	return n;
}

int main(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	int buf = 8 << 20, uev;
	unsigned int uevents;
	static struct temu t;
	uint64_t cap;
	struct uvirtio_config_update u = { .offset = 0, .len = 8,
					   .data_addr = (uintptr_t)&cap };
	char path[128];
	long t0, t1, end, size = -1;
	unsigned int i, lines, bad = 0;
	int kmsg, ret;

	require_uvirtio(REQ_ROOT);
	tap_plan(4);
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg < 0 || lseek(kmsg, 0, SEEK_END) < 0) {
		printf("# /dev/kmsg: %s\n", strerror(errno));
		return 4;
	}
	uev = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
	if (uev < 0 || bind(uev, (struct sockaddr *)&sa, sizeof(sa)) ||
	    setsockopt(uev, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf))) {
		printf("# uevent socket: %s\n", strerror(errno));
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
	uevent_count(uev, "");

	t0 = temu_now_ms();
	for (i = 0; i < FLIPS; i++) {
		cap = (i % 2 ? DISK_BYTES : DISK_BYTES / 2) / 512;
		bad += !!ioctl(t.d.fd, UVIRTIO_SET_CONFIG, &u);
		temu_serve(&t, 20);
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
	uevents = uevent_count(uev, "RESIZE=1");
	tap_diag("%u RESIZE uevents for %d flips in %ld ms", uevents, FLIPS, t1 - t0);
	tap_ok(uevents <= (t1 - t0 + 500) / 100 + 2,
	       "at most one RESIZE uevent per 100 ms (%u)", uevents);
	tap_diag("%u capacity-change log lines for %d flips in %ld ms", lines, FLIPS, t1 - t0);
	tap_ok(lines <= (t1 - t0 + 500) / 100 + 2,
	       "at most one capacity-change log line per 100 ms (%u)", lines);
	temu_close(&t);
	return tap_done();
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * create_destroy - 100 device lifetimes leave nothing behind.
 *
 * Cycles through four ends of a device's life: closed before start, closed
 * right after start (the driver is still probing), closed while live, and
 * removed gracefully. Afterwards the module's own counters (live devices,
 * domain pages) are back to zero, the virtio bus has as many devices as
 * before, and slab and available memory are within a small tolerance of
 * their baseline (after dropping caches). Needs root for drop_caches.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testemu.h"
#include "require.h"
#include "unit/tap.h"

#define CYCLES		100
#define WARMUP		8
#define SLAB_SLACK_KB	(2 * 1024)
#define AVAIL_SLACK_KB	(16 * 1024)

static long meminfo_kb(const char *key)
{
	char line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':')
			v = strtol(line + klen + 1, NULL, 10);
	fclose(f);
	return v;
}

static int virtio_devices(void)
{
	DIR *d = opendir("/sys/bus/virtio/devices");
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Is this a KASAN kernel? Its report function is in kallsyms. */
static bool kasan(void)
{
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/kallsyms", "r");

	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, " kasan_report\n") != NULL;
	if (f)
		fclose(f);
	return found;
}

static void settle(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	sync();
	if (fd >= 0) {
		if (write(fd, "3", 1) != 1)
			perror("drop_caches");
		close(fd);
	}
	/* RCU-freed objects (slab, inodes of removed sysfs nodes) need a moment. */
	usleep(500000);
}

/* One lifetime; @how picks its end. Returns 0 if every step worked. */
static int cycle(unsigned int how)
{
	struct temu t = { 0 };
	long end;
	int ret = 0;

	if (how == 0) {
		struct uvdev_config c = {
			.device_id = 2, .num_queues = 1, .queue_size = 64,
			.bounce_size = 1 << 20,
		};

		ret = uvdev_open(&t.d, UVDEV_PATH);
		if (!ret)
			ret = uvdev_create(&t.d, &c);
		uvdev_close(&t.d);
		return ret;
	}
	ret = temu_create(&t, 4 << 20, 64);
	if (!ret && how >= 2)
		ret = temu_wait_disk(&t, 20000);
	if (!ret && how == 3) {
		ret = uvdev_remove(&t.d);
		if (!ret)
			ret = temu_wait_removed(&t, 10000);
		if (!ret && t.d.dead_reason != UVIRTIO_DEAD_REMOVED)
			ret = -EPROTO;
	}
	temu_close(&t);
	/* Release of the fd is synchronous; allow for late references. */
	for (end = temu_now_ms() + 5000; temu_read_long("/sys/class/misc/uvirtio/devices") &&
	     temu_now_ms() < end; usleep(10000))
		;
	return ret;
}

int main(void)
{
	long slab0, avail0, slab1, avail1;
	unsigned int i, failed = 0;
	int bus0;

	require_uvirtio(REQ_ROOT);
	tap_plan(5);
	for (i = 0; i < WARMUP; i++)
		cycle(i % 4);
	settle();
	slab0 = meminfo_kb("Slab");
	avail0 = meminfo_kb("MemAvailable");
	bus0 = virtio_devices();

	for (i = 0; i < CYCLES; i++) {
		int ret = cycle(i % 4);

		if (ret) {
			failed++;
			tap_diag("cycle %u (end %u): %s", i, i % 4, strerror(-ret));
		}
	}
	tap_ok(!failed, "%u create/destroy cycles, four kinds of end", CYCLES);
	tap_ok(temu_read_long("/sys/class/misc/uvirtio/devices") == 0 &&
	       temu_read_long("/sys/class/misc/uvirtio/domain_pages") == 0,
	       "no device and no domain page left");
	tap_eq(virtio_devices(), bus0, "virtio bus back to its device count");
	settle();
	slab1 = meminfo_kb("Slab");
	avail1 = meminfo_kb("MemAvailable");
	tap_diag("Slab %ld -> %ld kB, MemAvailable %ld -> %ld kB", slab0, slab1,
		 avail0, avail1);
	if (kasan())
		/* Its quarantine keeps freed objects (up to 1/32 of RAM). */
		tap_skip("slab within baseline", "KASAN kernel: freed objects sit "
			 "in its quarantine; kmemleak checks leaks on this lane");
	else
		tap_ok(slab1 - slab0 < SLAB_SLACK_KB, "slab within %d kB of baseline",
		       SLAB_SLACK_KB);
	tap_ok(avail0 - avail1 < AVAIL_SLACK_KB, "MemAvailable within %d kB of baseline",
	       AVAIL_SLACK_KB);
	return tap_done();
}

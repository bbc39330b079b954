// SPDX-License-Identifier: GPL-2.0-only
/*
 * events_order - the event queue keeps its order when it overflows, and
 * UVIRTIO_EV_REMOVED is never lost.
 *
 * A disk offers VIRTIO_BLK_F_CONFIG_WCE; root flips its cache_type many
 * more times than the event ring holds, each flip a UVIRTIO_EV_CONFIG_WRITE,
 * while the emulator serves I/O but reads no event. Then UVIRTIO_REMOVE,
 * with the ring still full. Reading everything afterwards must give: the
 * events still in the ring, oldest first; then one UVIRTIO_EV_OVERFLOW
 * whose seq is above all of theirs; then UVIRTIO_EV_REMOVED, last.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>

#include "testemu.h"
#include "require.h"
#include "unit/tap.h"

#define FLIPS		200
#define DISK_BYTES	(1 << 20)
#define MAX_EVENTS	1024
#define WCE_OFFSET	32	/* struct virtio_blk_config.wce */

/* Flip the disk's cache mode @n times (a child: the parent serves I/O). */
static int flip(const char *disk, int n)
{
	char path[160];
	int i, fd;

	snprintf(path, sizeof(path), "/sys/block/%.64s/cache_type", disk);
	for (i = 0; i < n; i++) {
		const char *v = i % 2 ? "write back" : "write through";

		fd = open(path, O_WRONLY);
		if (fd < 0 || write(fd, v, strlen(v)) != (ssize_t)strlen(v))
			return 1;
		close(fd);
	}
	return 0;
}

int main(void)
{
	struct virtio_blk_config cfg = { .capacity = DISK_BYTES / 512,
					 .seg_max = 62, .blk_size = 512, .wce = 1 };
	struct uvdev_config c = {
		.device_id = VIRTIO_ID_BLOCK, .num_queues = 1, .queue_size = 64,
		.features = 1ULL << VIRTIO_BLK_F_SEG_MAX | 1ULL << VIRTIO_BLK_F_BLK_SIZE |
			    1ULL << VIRTIO_BLK_F_FLUSH | 1ULL << VIRTIO_BLK_F_CONFIG_WCE,
		.config = &cfg, .config_size = sizeof(cfg), .bounce_size = 1 << 20,
	};
	static struct uvirtio_event ev[MAX_EVENTS];
	static struct temu t;
	unsigned int n = 0, i, overflow = 0, before = 0, removed = 0, writes = 0;
	bool ordered = true, payload = true;
	long end;
	pid_t pid;
	int st, ret;

	require_uvirtio(REQ_ROOT);
	tap_plan(5);
	ret = temu_create_cfg(&t, &c, DISK_BYTES);
	if (!ret)
		ret = uvdev_start(&t.d);
	if (!ret)
		ret = temu_wait_disk(&t, 15000);
	if (ret) {
		tap_diag("disk: %s", strerror(-ret));
		return 1;
	}
	t.hold_events = true;
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(flip(t.node + 5, FLIPS));
	while (waitpid(pid, &st, WNOHANG) == 0)
		temu_serve(&t, 10);
	tap_ok(WIFEXITED(st) && !WEXITSTATUS(st), "root flipped cache_type %d times", FLIPS);

	ret = uvdev_remove(&t.d);
	for (end = temu_now_ms() + 20000; !ret && temu_now_ms() < end;) {
		ret = temu_serve(&t, 10);
		if (ret == -ESHUTDOWN) {
			ret = 0;
			break;
		}
	}
	tap_ok(!ret, "UVIRTIO_REMOVE with a full event ring finished (%s)", strerror(-ret));

	while (n < MAX_EVENTS && read(t.d.fd, &ev[n], sizeof(ev[n])) == sizeof(ev[n]))
		n++;
	for (i = 0; i < n; i++) {
		if (i && ev[i].seq <= ev[i - 1].seq)
			ordered = false;
		if (ev[i].type == UVIRTIO_EV_OVERFLOW)
			overflow++;
		else if (ev[i].type == UVIRTIO_EV_REMOVED)
			removed = i + 1;
		else if (overflow)
			ordered = false;	/* an event after OVERFLOW */
		else
			before++;
		if (ev[i].type == UVIRTIO_EV_CONFIG_WRITE) {
			writes++;
			if (ev[i].u32[0] != WCE_OFFSET || ev[i].u32[1] != 1)
				payload = false;
		}
	}
	tap_diag("%u events read: %u before OVERFLOW, %u OVERFLOW, %u CONFIG_WRITE, REMOVED at %u",
		 n, before, overflow, writes, removed);
	tap_ok(overflow == 1 && ordered,
	       "one OVERFLOW, after every older event, seq increasing throughout");
	tap_ok(removed && removed == n && ev[n - 1].u32[0] == UVIRTIO_DEAD_REMOVED,
	       "UVIRTIO_EV_REMOVED arrived, last, with u32[0] = UVIRTIO_DEAD_REMOVED");
	tap_ok(writes && payload, "CONFIG_WRITE payload: u32[0] offset %d, u32[1] length 1",
	       WCE_OFFSET);
	temu_close(&t);
	return tap_done();
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * testemu - see testemu.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>

#include "testemu.h"

/**
 * temu_now_ms() - monotonic time in milliseconds
 *
 * Return: milliseconds
 */
long temu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* Open the backing store (RAM, or @t->file) and /dev/uvirtio. */
static int temu_open(struct temu *t, uint64_t bytes)
{
	int ret;

	ret = t->file ? backend_open_file(&t->be, t->file, false, false) :
			backend_open_ram(&t->be, bytes);
	if (ret)
		return ret;
	t->bd.be = &t->be;
	t->bd.sectors = bytes / 512;
	return uvdev_open(&t->d, UVDEV_PATH);
}

/**
 * temu_create_cfg() - create a device with a caller's description, not started
 * @t:		emulator, zeroed by the caller except @hook, @file, @recovery
 * @c:		what UVIRTIO_CREATE is told
 * @bytes:	size of the RAM (or @t->file) disk that serves a virtio-blk
 *		device's queue 0, a multiple of 512
 *
 * Return: 0 or -errno (UVIRTIO_CREATE's, if it was reached)
 */
int temu_create_cfg(struct temu *t, const struct uvdev_config *c, uint64_t bytes)
{
	int ret = temu_open(t, bytes);

	return ret ? ret : uvdev_create(&t->d, c);
}

/**
 * temu_create_stopped() - create a virtio-blk device, not started
 * @t:		emulator, zeroed by the caller except @hook, @file, @recovery
 * @bytes:	disk size, a multiple of 512 (of @t->file's if one is set)
 * @queue_size:	ring size
 *
 * Return: 0 or -errno
 */
int temu_create_stopped(struct temu *t, uint64_t bytes, unsigned int queue_size)
{
	struct virtio_blk_config cfg = {
		.capacity = bytes / 512,
		.blk_size = 512,
	};
	struct uvdev_config c = {
		.device_id = VIRTIO_ID_BLOCK,
		.num_queues = 1,
		.queue_size = queue_size,
		.features = (1ULL << VIRTIO_BLK_F_SEG_MAX) |
			    (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
			    (1ULL << VIRTIO_BLK_F_FLUSH) |
			    (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
			    (1ULL << VIRTIO_RING_F_EVENT_IDX),
		.config = &cfg,
		.config_size = sizeof(cfg),
		.bounce_size = 1 << 20,
		.recovery = t->recovery,
	};

	cfg.seg_max = uvdev_blk_seg_max(c.bounce_size, queue_size);
	return temu_create_cfg(t, &c, bytes);
}

/**
 * temu_create() - create and start a virtio-blk device
 * @t:		emulator, zeroed by the caller except @hook, @file, @recovery
 * @bytes:	disk size, a multiple of 512 (of @t->file's if one is set)
 * @queue_size:	ring size
 *
 * Return: 0 or -errno
 */
int temu_create(struct temu *t, uint64_t bytes, unsigned int queue_size)
{
	int ret = temu_create_stopped(t, bytes, queue_size);

	return ret ? ret : uvdev_start(&t->d);
}

/**
 * temu_attach() - take over a recovery-mode disk whose emulator died
 * @t:		emulator, zeroed by the caller except @hook and @file
 * @index:	the device's index
 * @bytes:	disk size
 *
 * Return: 0 or -errno
 */
int temu_attach(struct temu *t, unsigned int index, uint64_t bytes)
{
	int ret = temu_open(t, bytes);

	return ret ? ret : uvdev_attach(&t->d, index);
}

/* Serve what queue 0 has, completing through the hook if one is set. */
static void temu_serve_queue(struct temu *t)
{
	struct uvq *vq = &t->d.q[0].vq;
	struct uvq_elem e;
	uint32_t len;
	int ret;

	uvdev_kick_clear(&t->d, 0);
	uvq_elem_init(&e, t->iov, UVIRTIO_MAX_QUEUE_SIZE);
	do {
		while (uvq_pop(vq, &e) > 0) {
			if (e.err || blk_req_serve(&t->bd, e.iov, e.out_num,
						   uvq_elem_in(&e), e.in_num,
						   t->scratch,
						   UVIRTIO_MAX_QUEUE_SIZE, &len) < 0) {
				uvq_discard(vq, &e);
				continue;
			}
			t->served++;
			if (t->hook && t->hook(t, vq, &e, len))
				continue;
			ret = uvq_push(vq, &e, len);
			if (ret)
				uvq_discard(vq, &e);
		}
		uvq_flush(vq);
	} while (uvq_poll_end(vq));
}

/**
 * temu_serve() - one round: events, then requests
 * @t:		emulator
 * @timeout_ms:	how long to wait for something to happen
 *
 * Return: 0, -ESHUTDOWN once the device is removed, or -errno
 */
int temu_serve(struct temu *t, int timeout_ms)
{
	struct pollfd p[2] = {
		/* held events would wake poll at once; POLLHUP still does */
		{ .fd = t->d.fd, .events = t->hold_events ? 0 : POLLIN },
		{ .fd = t->d.q[0].kick_fd, .events = POLLIN },
	};
	struct uvirtio_event ev;
	int ret = 0;

	if (poll(p, 2, timeout_ms) < 0 && errno != EINTR)
		return -errno;
	while (!t->hold_events && (ret = uvdev_read_event(&t->d, &ev)) > 0) {
		uvdev_handle_event(&t->d, &ev);
		if (ev.type == UVIRTIO_EV_REMOVED)
			t->removed = true;
	}
	if (ret < 0)
		return ret;
	temu_serve_queue(t);
	return t->removed || (p[0].revents & POLLHUP) ? -ESHUTDOWN : 0;
}

/**
 * temu_wait_disk() - serve until the disk node exists
 * @t:		emulator
 * @timeout_ms:	limit
 *
 * Return: 0 with @t->node set, -ETIMEDOUT, or -errno
 */
int temu_wait_disk(struct temu *t, int timeout_ms)
{
	long end = temu_now_ms() + timeout_ms;
	char name[32];
	int ret;

	while (temu_now_ms() < end) {
		ret = temu_serve(t, 50);
		if (ret)
			return ret;
		if (!uvdev_child_name(&t->d, "block", name, sizeof(name))) {
			char size[64];

			/*
			 * An unprivileged user's disk shows its capacity only
			 * once probe is over (no partition scan): wait for it.
			 */
			snprintf(size, sizeof(size), "/sys/block/%s/size", name);
			snprintf(t->node, sizeof(t->node), "/dev/%s", name);
			if (!access(t->node, F_OK) && temu_read_long(size) > 0)
				return 0;
			t->node[0] = 0;
		}
	}
	return -ETIMEDOUT;
}

/**
 * temu_wait_removed() - serve until the device is removed
 * @t:		emulator
 * @timeout_ms:	limit
 *
 * Return: 0 once removed, -ETIMEDOUT, or -errno
 */
int temu_wait_removed(struct temu *t, int timeout_ms)
{
	long end = temu_now_ms() + timeout_ms;
	int ret;

	while (temu_now_ms() < end) {
		ret = temu_serve(t, 50);
		if (ret == -ESHUTDOWN)
			return 0;
		if (ret)
			return ret;
	}
	return -ETIMEDOUT;
}

/**
 * temu_close() - close the device fd (removes the device) and free
 * @t:		emulator
 */
void temu_close(struct temu *t)
{
	uvdev_close(&t->d);
	backend_close(&t->be);
}

/**
 * temu_read_long() - read one number from a sysfs or proc file
 * @path:	the file
 *
 * Return: the number, or -1 if the file cannot be read
 */
long temu_read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

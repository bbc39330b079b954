// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_statfs_files.c - libuvstatfs's files over a hand-built queue
 *
 * No FUSE mount and no device: a struct uvdev whose one queue points at
 * rings in a plain buffer, and a made-up net device's callbacks. The
 * files are read and written through uvstatfs_read_file() and
 * uvstatfs_write_file(), which the FUSE operations use too; the library's
 * sampler thread runs for real, so the stuck file is checked as time
 * passes. The device registers one control by name, "link", as
 * uvirtio-net does; its id is the test's own, not one the library knows.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/virtio_ids.h>

#include "statfs.h"
#include "statfs_read.h"
#include "tap.h"
#include "verdict.h"

#define NUM	8

/* The id of the "link" control: any value the device picks. */
#define FAKE_LINK	7

static struct uvdev dev;
static struct uvstatfs *fs;
static struct uvstatfs_inflight_table table;
static struct uvstatfs_counters counters;
static bool link_up = true;
static _Alignas(64) uint8_t mem[16384];

/**
 * fake_describe() - uvstatfs_ops.describe
 * @opaque:	unused
 * @buf:	out
 * @len:	bytes
 *
 * Return: bytes written
 */
static int fake_describe(void *opaque, char *buf, size_t len)
{
	(void)opaque;
	return snprintf(buf, len, "type: net\nkernel: eth7\nbackend: none\n");
}

/**
 * fake_counters() - uvstatfs_ops.counters
 * @opaque:	unused
 * @q:		queue
 * @c:		out
 */
static void fake_counters(void *opaque, unsigned int q,
			  struct uvstatfs_counters *c)
{
	(void)opaque;
	(void)q;
	atomic_store(&c->kicks, atomic_load(&counters.kicks));
	atomic_store(&c->requests, atomic_load(&counters.requests));
	atomic_store(&c->bytes, atomic_load(&counters.bytes));
}

/**
 * fake_inflight() - uvstatfs_ops.inflight
 * @opaque:	unused
 * @q:		queue
 * @emit:	callback
 * @ctx:	its context
 */
static void fake_inflight(void *opaque, unsigned int q, uvstatfs_emit_fn emit,
			  void *ctx)
{
	(void)opaque;
	(void)q;
	uvstatfs_inflight_walk(&table, NUM, emit, ctx);
}

/**
 * fake_get() - uvstatfs_ops.get_control: the link
 * @opaque:	unused
 * @ctl:	control
 * @buf:	out
 * @len:	bytes
 *
 * Return: bytes written or -EINVAL
 */
static int fake_get(void *opaque, unsigned int ctl, char *buf, size_t len)
{
	(void)opaque;
	if (ctl != FAKE_LINK)
		return -EINVAL;
	return snprintf(buf, len, "%s\n", link_up ? "up" : "down");
}

/**
 * fake_set() - uvstatfs_ops.set_control: the link
 * @opaque:	unused
 * @ctl:	control
 * @val:	"up" or "down"
 *
 * Return: 0 or -EINVAL
 */
static int fake_set(void *opaque, unsigned int ctl, const char *val)
{
	(void)opaque;
	if (ctl != FAKE_LINK)
		return -EINVAL;
	if (!strcmp(val, "up"))
		link_up = true;
	else if (!strcmp(val, "down"))
		link_up = false;
	else
		return -EINVAL;
	return 0;
}

static const struct uvstatfs_control controls[] = {
	{ "link", FAKE_LINK },
	{ NULL, 0 },
};

static const struct uvstatfs_ops ops = {
	.device_id	= VIRTIO_ID_NET,
	.describe	= fake_describe,
	.counters	= fake_counters,
	.inflight	= fake_inflight,
	.control_names	= controls,
	.get_control	= fake_get,
	.set_control	= fake_set,
};

/**
 * wr() - write a control
 * @path:	path
 * @val:	value
 *
 * Return: 0 or -errno
 */
static int wr(const char *path, const char *val)
{
	return uvstatfs_write_file(fs, path, val, strlen(val));
}

/**
 * msleep() - sleep
 * @ms:		milliseconds
 */
static void msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/**
 * set_avail() - the driver's avail idx
 * @v:		value
 */
static void set_avail(uint16_t v)
{
	__atomic_store_n((uint16_t *)&dev.q[0].vq.avail->idx, htole16(v),
			 __ATOMIC_RELEASE);
}

/**
 * t_link() - the link control reads and writes
 *
 * Return: pass
 */
static bool t_link(void)
{
	CHECK(!strcmp(statfs_read(fs, "/link"), "up\n"));
	CHECK_EQ(wr("/link", "down\n"), 0);
	CHECK(!link_up);
	CHECK(!strcmp(statfs_read(fs, "/link"), "down\n"));
	CHECK_EQ(wr("/link", "up"), 0);
	CHECK(link_up);
	CHECK_EQ(wr("/link", "sideways\n"), -EINVAL);
	CHECK_EQ(wr("/link", "\n"), -EINVAL);
	CHECK(link_up);
	return true;
}

/**
 * t_layout() - what exists and what does not
 *
 * Return: pass
 */
static bool t_layout(void)
{
	const char *d = statfs_read(fs, "/device");

	CHECK(strstr(d, "type: net\n"));
	CHECK(strstr(d, "kernel: eth7\n"));
	CHECK(strstr(d, "queues: 1\n"));
	CHECK(!strcmp(statfs_read(fs, "/capacity"), "<errno 2>"));	/* blk only */
	CHECK_EQ(wr("/stuck", "ok"), -EACCES);
	CHECK_EQ(wr("/queues/0/avail_idx", "1"), -EACCES);
	CHECK(!strcmp(statfs_read(fs, "/queues/1/avail_idx"), "<errno 2>"));
	CHECK(!strcmp(statfs_read(fs, "/queues/00/avail_idx"), "<errno 2>"));
	CHECK(!strcmp(statfs_read(fs, "/queues/0/nothing"), "<errno 2>"));
	CHECK(!strcmp(statfs_read(fs, "/queues/0"), "<errno 21>"));
	return true;
}

/**
 * t_indices() - indices come live from the rings and the queue
 *
 * Return: pass
 */
static bool t_indices(void)
{
	uint16_t *used_event = (uint16_t *)((uint8_t *)dev.q[0].vq.avail +
					    4 + 2 * NUM);

	set_avail(3);
	*used_event = htole16(2);
	CHECK(!strcmp(statfs_read(fs, "/queues/0/avail_idx"), "3\n"));
	CHECK(!strcmp(statfs_read(fs, "/queues/0/last_avail_idx"), "0\n"));
	CHECK(!strcmp(statfs_read(fs, "/queues/0/used_event"), "2\n"));
	CHECK(!strcmp(statfs_read(fs, "/queues/0/used_idx"), "0\n"));
	atomic_store(&counters.kicks, 4);
	atomic_store(&counters.bytes, 1500);
	CHECK(strstr(statfs_read(fs, "/queues/0/counters"), "kicks 4\n"));
	CHECK(strstr(statfs_read(fs, "/queues/0/counters"), "bytes 1500\n"));
	CHECK(strstr(statfs_read(fs, "/queues/0/counters"), "errors 0\n"));
	return true;
}

/**
 * t_stuck_avail() - avail ahead for 2 s: the device side, then ok again
 *
 * Return: pass
 */
static bool t_stuck_avail(void)
{
	CHECK(!strcmp(statfs_read(fs, "/stuck"), "ok\n"));
	msleep(UVSTATFS_STUCK_MS + 600);
	CHECK(!strcmp(statfs_read(fs, "/stuck"),
		      "queue 0: device has not seen 3 available buffers (no kick received?)\n"));
	__atomic_store_n(&dev.q[0].vq.last_avail, 3, __ATOMIC_RELAXED);
	msleep(600);
	CHECK(!strcmp(statfs_read(fs, "/stuck"), "ok\n"));
	return true;
}

/**
 * t_inflight() - an old request is listed and named in stuck
 *
 * Return: pass
 */
static bool t_inflight(void)
{
	uint64_t now = uvstatfs_now_ns();
	const char *s;

	uvstatfs_inflight_begin(&table, 5, "tx", 0, 1500,
				now - 6000000000ULL);
	uvstatfs_inflight_begin(&table, 2, "rx", 0, 64, now);
	s = statfs_read(fs, "/queues/0/inflight");
	CHECK(!strncmp(s, "head 2 type rx sector 0 len 64 age_ms ", 38));
	CHECK(strstr(s, "\nhead 5 type tx sector 0 len 1500 age_ms 6"));
	msleep(600);
	CHECK(!strcmp(statfs_read(fs, "/stuck"),
		      "queue 0: 1 request inside the emulator for more than 5 s\n"));
	uvstatfs_inflight_end(&table, 5);
	uvstatfs_inflight_end(&table, 2);
	CHECK(!strcmp(statfs_read(fs, "/queues/0/inflight"), ""));
	msleep(600);
	CHECK(!strcmp(statfs_read(fs, "/stuck"), "ok\n"));
	return true;
}

static const struct tap_test tests[] = {
	{ t_link, "link control: up/down written and read back, junk refused" },
	{ t_layout, "files of a net device; missing and read-only ones refused" },
	{ t_indices, "ring indices and counters read live" },
	{ t_stuck_avail, "stuck names the device side after 2 s, ok after" },
	{ t_inflight, "inflight lists requests with age; stuck names old ones" },
};

/**
 * main() - build the fake queue, start the library, run the table
 *
 * Return: 0 if all passed
 */
int main(void)
{
	struct uvq *vq = &dev.q[0].vq;
	int ret;

	dev.fd = -1;
	dev.num_queues = 1;
	vq->num = NUM;
	vq->avail = (const struct vring_avail *)mem;
	vq->used = (const struct vring_used *)(mem + 4096);
	vq->shadow = (struct uvirtio_shadow *)(mem + 8192);
	vq->ready = true;
	ret = uvstatfs_start(&fs, NULL, &dev, &ops, NULL);
	if (ret) {
		printf("Bail out! uvstatfs_start: %s\n", strerror(-ret));
		return 1;
	}
	ret = tap_run_table(tests, sizeof(tests) / sizeof(tests[0]));
	uvstatfs_stop(fs);
	return ret;
}

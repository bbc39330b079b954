// SPDX-License-Identifier: GPL-2.0-only
/*
 * feature_bits - what a device may offer the drivers: every feature bit of
 * both device types, one at a time and in random combinations, and the
 * config fields those bits expose at and just beyond each bound.
 *
 * As root and as uid 1000 (net in its own user and network namespace):
 * - a bit outside the reviewed allowlist (blk ZONED, net STANDBY, ...) is
 *   refused at UVIRTIO_CREATE with EINVAL;
 * - an allowed bit (with a valid config) is accepted, and the device is
 *   started and bound by its driver (the disk appears, or the driver sets
 *   DRIVER_OK), then closed;
 * - a config value at its bound is accepted and binds; just beyond, CREATE
 *   fails with EINVAL, and so does UVIRTIO_SET_CONFIG on a live device.
 * A value accepted that should not have been is still started and bound,
 * so what the driver makes of it shows in the kernel log (which the VM
 * harness checks for WARNING/UBSAN/BUG).
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "testemu.h"
#include "require.h"
#include "unit/tap.h"

#define UNPRIV_UID	1000
#define DISK_BYTES	(1 << 20)
#define QSIZE		64
#define BIND_MS		15000
#define COMBOS		12

/* The reviewed allowlist (kmod/validate.c), written down independently. */
static const unsigned int blk_ok[] = { 1, 2, 4, 5, 6, 9, 10, 11, 12, 13, 14, 16 };
static const unsigned int net_ok[] = { 0, 1, 2, 3, 5, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 22, 23, 54, 55, 56, 59, 63 };
static const unsigned int ring_ok[] = { VIRTIO_RING_F_INDIRECT_DESC,
	VIRTIO_RING_F_EVENT_IDX, VIRTIO_F_VERSION_1, VIRTIO_F_ACCESS_PLATFORM };
#define NET_F_CTRL_VQ	17
#define NET_F_MQ	22
#define BLK_F_MQ	12

/* Config fields, little-endian, at the offsets of the virtio spec. */
struct blk_cfg {
	uint64_t capacity;
	uint32_t size_max, seg_max;
	uint16_t cylinders; uint8_t heads, sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp, alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t wce, unused;
	uint16_t num_queues;
	uint32_t max_discard_sectors, max_discard_seg, discard_sector_alignment;
	uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap, unused1[3];
	uint32_t max_secure_erase_sectors, max_secure_erase_seg;
	uint32_t secure_erase_sector_alignment;
} __attribute__((packed));

struct net_cfg {
	uint8_t mac[6];
	uint16_t status, max_virtqueue_pairs, mtu;
	uint32_t speed;
	uint8_t duplex;
} __attribute__((packed));

/* Results of a child's tests, handed back to the parent's TAP count. */
struct shared_tap {
	unsigned int count, failed;
};
static struct shared_tap *shared;
static bool unpriv;

static void blk_default(struct blk_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->capacity = DISK_BYTES / 512;
	c->size_max = 1 << 16;
	c->seg_max = QSIZE - 2;
	c->cylinders = 2; c->heads = 4; c->sectors = 16;
	c->blk_size = 512;
	c->physical_block_exp = 3;
	c->min_io_size = 1;
	c->wce = 1;
	c->num_queues = 1;
	c->max_discard_sectors = 1 << 16;
	c->max_discard_seg = 1;
	c->discard_sector_alignment = 8;
	c->max_write_zeroes_sectors = 1 << 16;
	c->max_write_zeroes_seg = 1;
	c->max_secure_erase_sectors = 1 << 16;
	c->max_secure_erase_seg = 1;
	c->secure_erase_sector_alignment = 8;
}

static void net_default(struct net_cfg *c)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

	memset(c, 0, sizeof(*c));
	memcpy(c->mac, mac, sizeof(mac));
	c->status = VIRTIO_NET_S_LINK_UP;
	c->max_virtqueue_pairs = 1;
	c->mtu = 1500;
	c->speed = 1000;
	c->duplex = 1;
}

static uint64_t allowed(uint32_t type)
{
	const unsigned int *l = type == VIRTIO_ID_BLOCK ? blk_ok : net_ok;
	size_t n = type == VIRTIO_ID_BLOCK ? sizeof(blk_ok) / sizeof(blk_ok[0]) :
					     sizeof(net_ok) / sizeof(net_ok[0]);
	uint64_t m = 0;
	size_t i;

	for (i = 0; i < n; i++)
		m |= 1ULL << l[i];
	for (i = 0; i < sizeof(ring_ok) / sizeof(ring_ok[0]); i++)
		m |= 1ULL << ring_ok[i];
	return m;
}

/* Queues a net device with these features and config needs. */
static unsigned int net_queues(uint64_t f, const struct net_cfg *c)
{
	unsigned int pairs = f & (1ULL << NET_F_MQ) ? c->max_virtqueue_pairs : 1;

	return 2 * pairs + !!(f & (1ULL << NET_F_CTRL_VQ));
}

/* Serve until the driver has bound (disk node / DRIVER_OK) or time is up. */
static int wait_bound(struct temu *t, uint32_t type)
{
	long end = temu_now_ms() + BIND_MS;
	struct uvirtio_event ev;
	struct pollfd p;
	int ret;

	if (type == VIRTIO_ID_BLOCK)
		return temu_wait_disk(t, BIND_MS);
	p.fd = t->d.fd;
	p.events = POLLIN;
	while (temu_now_ms() < end) {
		poll(&p, 1, 50);
		while ((ret = uvdev_read_event(&t->d, &ev)) > 0) {
			uvdev_handle_event(&t->d, &ev);
			if (ev.type == UVIRTIO_EV_DRIVER_OK)
				return 0;
			if (ev.type == UVIRTIO_EV_REMOVED)
				return -ESHUTDOWN;
		}
		if (ret < 0)
			return ret;
	}
	return -ETIMEDOUT;
}

/* Wait (bounded) until every device of ours is gone, so caps do not bite. */
static void wait_gone(void)
{
	long end = temu_now_ms() + 10000;

	while (temu_read_long("/sys/class/misc/uvirtio/devices") > 0 &&
	       temu_now_ms() < end)
		usleep(10000);
}

/**
 * try_dev() - create a device, and if that worked start and bind it
 * @type:	VIRTIO_ID_BLOCK or VIRTIO_ID_NET
 * @f:		device feature bits offered
 * @cfg:	config space
 * @size:	its size
 * @nq:		queues
 * @bound:	out: the driver bound (only meaningful when 0 is returned)
 *
 * Return: UVIRTIO_CREATE's result (0 or -errno)
 */
static int try_dev(uint32_t type, uint64_t f, const void *cfg, size_t size,
		   unsigned int nq, bool *bound)
{
	struct uvdev_config c = {
		.device_id = type, .num_queues = nq, .queue_size = QSIZE,
		.features = f, .config = cfg, .config_size = size,
		.bounce_size = 1 << 20,
	};
	static struct temu t;
	int ret;

	memset(&t, 0, sizeof(t));
	*bound = false;
	ret = temu_create_cfg(&t, &c, DISK_BYTES);
	if (!ret) {
		ret = uvdev_start(&t.d);
		if (!ret)
			*bound = !wait_bound(&t, type);
		ret = 0;
	}
	temu_close(&t);
	wait_gone();
	return ret;
}

static void one(uint32_t type, uint64_t f, const void *cfg, size_t size,
		unsigned int nq, bool want_ok, const char *what)
{
	const char *who = unpriv ? "uid 1000" : "root";
	const char *tn = type == VIRTIO_ID_BLOCK ? "blk" : "net";
	bool bound;
	int ret = try_dev(type, f, cfg, size, nq, &bound);

	if (want_ok)
		tap_ok(!ret && bound, "%s %s %s: accepted and bound%s%s", who, tn, what,
		       ret ? ", CREATE: " : "", ret ? strerror(-ret) : (bound ? "" : " (no bind)"));
	else
		tap_ok(ret == -EINVAL, "%s %s %s: refused with EINVAL (got %s)", who, tn,
		       what, ret ? strerror(-ret) : (bound ? "accepted, bound" : "accepted"));
}

/* Every bit of both types on its own, over a base that binds. */
static void single_bits(void)
{
	struct blk_cfg b;
	struct net_cfg n;
	unsigned int bit;
	char what[64];

	blk_default(&b);
	net_default(&n);
	for (bit = 0; bit < 64; bit++) {
		uint64_t f = 1ULL << bit;

		snprintf(what, sizeof(what), "feature bit %u alone", bit);
		one(VIRTIO_ID_BLOCK, f, &b, sizeof(b), 1,
		    !!(allowed(VIRTIO_ID_BLOCK) & f), what);
	}
	for (bit = 0; bit < 64; bit++) {
		uint64_t f = 1ULL << bit | 1ULL << NET_F_CTRL_VQ;

		snprintf(what, sizeof(what), "feature bit %u with CTRL_VQ", bit);
		one(VIRTIO_ID_NET, f, &n, sizeof(n), net_queues(f, &n),
		    !(~allowed(VIRTIO_ID_NET) & f), what);
	}
}

/* Random combinations: all allowed, or with one refused bit added. */
static void combos(unsigned int seed)
{
	struct blk_cfg b;
	struct net_cfg n;
	unsigned int i;
	char what[80];

	srand(seed);
	blk_default(&b);
	net_default(&n);
	for (i = 0; i < 2 * COMBOS; i++) {
		uint32_t type = i % 2 ? VIRTIO_ID_NET : VIRTIO_ID_BLOCK;
		uint64_t ok = allowed(type);
		uint64_t f = (((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 11) ^ rand()) & ok;
		bool bad = i % 4 >= 2;

		if (type == VIRTIO_ID_NET)
			f |= 1ULL << NET_F_CTRL_VQ;
		if (bad) {
			unsigned int bit;

			do
				bit = rand() % 64;
			while (ok & (1ULL << bit));
			f |= 1ULL << bit;
		}
		snprintf(what, sizeof(what), "combination %#llx", (unsigned long long)f);
		one(type, f, type == VIRTIO_ID_BLOCK ? (void *)&b : (void *)&n,
		    type == VIRTIO_ID_BLOCK ? sizeof(b) : sizeof(n),
		    type == VIRTIO_ID_BLOCK ? 1 : net_queues(f, &n), !bad, what);
	}
}

/**
 * struct cfg_case - one config field value at or beyond a bound
 * @type:	device type
 * @name:	what is tried
 * @off:	field offset
 * @width:	field size in bytes (1, 2, 4)
 * @val:	value
 * @ok:		expected to be accepted
 * @f:		extra feature bits this case needs (beyond the type's base)
 */
struct cfg_case {
	uint32_t type;
	const char *name;
	size_t off;
	unsigned int width;
	uint32_t val;
	bool ok;
	uint64_t f;
};

#define B(field, v, good, feat) { VIRTIO_ID_BLOCK, #field " = " #v, \
	offsetof(struct blk_cfg, field), sizeof(((struct blk_cfg *)0)->field), v, good, feat }
#define N(field, v, good, feat) { VIRTIO_ID_NET, #field " = " #v, \
	offsetof(struct net_cfg, field), sizeof(((struct net_cfg *)0)->field), v, good, feat }
#define BLK_ALL	((1ULL << 1) | (1ULL << 2) | (1ULL << 4) | (1ULL << 5) | (1ULL << 6) | \
		 (1ULL << 9) | (1ULL << 10) | (1ULL << 11) | (1ULL << 12) | (1ULL << 13) | \
		 (1ULL << 14) | (1ULL << 16))
#define RING_INDIRECT	(1ULL << VIRTIO_RING_F_INDIRECT_DESC)
#define NET_BASE ((1ULL << 3) | (1ULL << 5) | (1ULL << 16) | (1ULL << 17) | (1ULL << 63))

static const struct cfg_case cases[] = {
	B(size_max, 4096, true, 0), B(size_max, 4095, false, 0), B(size_max, 0, false, 0),
	B(seg_max, 1, true, 0), B(seg_max, 0, false, 0),
	/* a chain fits the ring, the largest request the 1 MiB pool */
	B(seg_max, 62, true, 0), B(seg_max, 63, false, 0),
	B(seg_max, 240, true, RING_INDIRECT), B(seg_max, 255, false, RING_INDIRECT),
	B(seg_max, 0xffffffff, false, RING_INDIRECT),
	B(blk_size, 512, true, 0), B(blk_size, 4096, true, 0), B(blk_size, 256, false, 0),
	B(blk_size, 8192, false, 0), B(blk_size, 513, false, 0), B(blk_size, 0, false, 0),
	B(physical_block_exp, 11, true, 0), B(physical_block_exp, 12, false, 0),
	B(physical_block_exp, 32, false, 0), B(physical_block_exp, 255, false, 0),
	B(alignment_offset, 7, true, 0), B(alignment_offset, 8, false, 0),
	B(opt_io_size, 0x7fffff, true, 0), B(opt_io_size, 0x800000, false, 0),
	B(min_io_size, 0xffff, true, 0),
	B(wce, 1, true, 0), B(wce, 2, false, 0), B(wce, 255, false, 0),
	B(num_queues, 1, true, 0), B(num_queues, 0, false, 0), B(num_queues, 2, false, 0),
	B(discard_sector_alignment, 0x7fffff, true, 0),
	B(discard_sector_alignment, 0x800000, false, 0),
	B(secure_erase_sector_alignment, 1, true, 0),
	B(secure_erase_sector_alignment, 0, false, 0),
	B(secure_erase_sector_alignment, 0x800000, false, 0),
	B(max_secure_erase_sectors, 0, false, 0), B(max_secure_erase_seg, 0, false, 0),
	B(max_discard_sectors, 0xffffffff, true, 0), B(max_write_zeroes_seg, 0, true, 0),
	N(mtu, 68, true, 0), N(mtu, 67, false, 0), N(mtu, 0, false, 0),
	N(speed, 0x7fffffff, true, 0), N(speed, 0xffffffff, true, 0),
	N(speed, 0x80000000, false, 0),
	N(duplex, 0xff, true, 0), N(duplex, 0, true, 0), N(duplex, 2, false, 0),
	N(max_virtqueue_pairs, 1, true, 1ULL << NET_F_MQ),
	N(max_virtqueue_pairs, 0, false, 1ULL << NET_F_MQ),
	N(max_virtqueue_pairs, 2, false, 1ULL << NET_F_MQ),
	N(status, 0xffff, true, 0),
	/* first byte of the MAC: multicast bit, then all zero */
	N(mac[0], 0x01, false, 0), N(mac[0], 0x02, true, 0),
};
#define NCASES	(sizeof(cases) / sizeof(cases[0]))

static void put_field(void *cfg, const struct cfg_case *k)
{
	uint8_t *p = (uint8_t *)cfg + k->off;
	unsigned int i;

	for (i = 0; i < k->width; i++)
		p[i] = k->val >> (8 * i);
}

/* Every case at CREATE. */
static void config_create(void)
{
	unsigned int i;
	char what[96];

	for (i = 0; i < NCASES; i++) {
		const struct cfg_case *k = &cases[i];
		struct blk_cfg b;
		struct net_cfg n;
		uint64_t f;

		blk_default(&b);
		net_default(&n);
		if (k->type == VIRTIO_ID_BLOCK) {
			put_field(&b, k);
			snprintf(what, sizeof(what), "config %s at CREATE", k->name);
			one(k->type, BLK_ALL | k->f, &b, sizeof(b), 1, k->ok, what);
		} else {
			put_field(&n, k);
			f = NET_BASE | k->f;
			snprintf(what, sizeof(what), "config %s at CREATE", k->name);
			/* queues as a consistent device would have them */
			one(k->type, f, &n, sizeof(n), 2 * 1 + 1, k->ok, what);
		}
	}
	{
		struct net_cfg n;

		net_default(&n);
		memset(n.mac, 0, 6);
		one(VIRTIO_ID_NET, NET_BASE, &n, sizeof(n), 3, false, "config mac all zero at CREATE");
	}
}

/* Create, start and serve @c on @t until its driver has bound: 0 or -errno. */
static int bound_dev(struct temu *t, const struct uvdev_config *c)
{
	int ret;

	memset(t, 0, sizeof(*t));
	ret = temu_create_cfg(t, c, DISK_BYTES);
	if (!ret)
		ret = uvdev_start(&t->d);
	if (!ret)
		ret = wait_bound(t, c->device_id);
	return ret;
}

/* Every refused case through UVIRTIO_SET_CONFIG on a live, bound device. */
static void config_set(uint32_t type)
{
	struct uvdev_config c = { .device_id = type, .queue_size = QSIZE,
				  .bounce_size = 1 << 20 };
	struct blk_cfg b, b2;
	struct net_cfg n, n2;
	static struct temu t;
	unsigned int i;
	int ret;

	blk_default(&b);
	net_default(&n);
	c.features = type == VIRTIO_ID_BLOCK ? BLK_ALL : NET_BASE;
	c.config = type == VIRTIO_ID_BLOCK ? (void *)&b : (void *)&n;
	c.config_size = type == VIRTIO_ID_BLOCK ? sizeof(b) : sizeof(n);
	c.num_queues = type == VIRTIO_ID_BLOCK ? 1 : 3;
	ret = bound_dev(&t, &c);
	for (i = 0; i < NCASES; i++) {
		const struct cfg_case *k = &cases[i];
		uint8_t v[4];
		struct uvirtio_config_update u = { .offset = k->off, .len = k->width,
						   .data_addr = (uintptr_t)v };
		struct uvirtio_config_read r = { .offset = 0, .len = c.config_size,
						 .data_addr = (uintptr_t)(type == VIRTIO_ID_BLOCK ?
									  (void *)&b2 : (void *)&n2) };
		unsigned int j;
		int rc;

		if (k->type != type || k->ok || k->f)
			continue;
		for (j = 0; j < k->width; j++)
			v[j] = k->val >> (8 * j);
		rc = ret ? -1 : ioctl(t.d.fd, UVIRTIO_SET_CONFIG, &u);
		if (!rc)	/* put it back, so the next case starts valid */
			ioctl(t.d.fd, UVIRTIO_SET_CONFIG, &(struct uvirtio_config_update){
				.offset = k->off, .len = k->width,
				.data_addr = (uintptr_t)((uint8_t *)c.config + k->off) });
		tap_ok(!ret && rc < 0 && errno == EINVAL &&
		       !ioctl(t.d.fd, UVIRTIO_GET_CONFIG, &r) &&
		       !memcmp(r.data_addr == (uintptr_t)&b2 ? (void *)&b2 : (void *)&n2,
			       c.config, c.config_size),
		       "%s %s config %s through SET_CONFIG on a bound device: EINVAL, config unchanged%s",
		       unpriv ? "uid 1000" : "root", type == VIRTIO_ID_BLOCK ? "blk" : "net",
		       k->name, ret ? " (device did not bind)" : "");
	}
	temu_close(&t);
	wait_gone();
}

/*
 * The driver sized its requests at probe with the segment size the module
 * gave it then: a SET_CONFIG may lower seg_max, never raise it past what
 * that size lets fit the pool. (8 segments of a 1 MiB pool get 100 KiB
 * segments; 16 of them would not fit.)
 */
static void config_set_segments(void)
{
	struct blk_cfg b;
	struct uvdev_config c = { .device_id = VIRTIO_ID_BLOCK, .queue_size = QSIZE,
				  .bounce_size = 1 << 20, .num_queues = 1,
				  .features = BLK_ALL | RING_INDIRECT,
				  .config = &b, .config_size = sizeof(b) };
	uint32_t v;
	struct uvirtio_config_update u = { .offset = offsetof(struct blk_cfg, seg_max),
					   .len = sizeof(v), .data_addr = (uintptr_t)&v };
	static struct temu t;
	int ret, up, down;

	blk_default(&b);
	b.seg_max = 8;
	ret = bound_dev(&t, &c);
	v = 16;
	up = ret ? 0 : ioctl(t.d.fd, UVIRTIO_SET_CONFIG, &u) < 0 ? -errno : 0;
	v = 4;
	down = ret ? -1 : ioctl(t.d.fd, UVIRTIO_SET_CONFIG, &u);
	tap_ok(!ret && up == -EINVAL,
	       "%s blk seg_max 8 -> 16 through SET_CONFIG on a bound device with a 1 MiB pool: EINVAL (got %d)%s",
	       unpriv ? "uid 1000" : "root", up, ret ? " (device did not bind)" : "");
	tap_ok(!ret && !down, "%s blk seg_max 8 -> 4 through SET_CONFIG: accepted",
	       unpriv ? "uid 1000" : "root");
	temu_close(&t);
	wait_gone();
}

static unsigned int set_cases(uint32_t type)
{
	unsigned int i, n = 0;

	for (i = 0; i < NCASES; i++)
		n += cases[i].type == type && !cases[i].ok && !cases[i].f;
	return n;
}

static void run_all(void)
{
	single_bits();
	combos(unpriv ? 2 : 1);
	config_create();
	config_set(VIRTIO_ID_BLOCK);
	config_set(VIRTIO_ID_NET);
	config_set_segments();
}

static unsigned int tests_per_user(void)
{
	return 128 + 2 * COMBOS + NCASES + 1 + set_cases(VIRTIO_ID_BLOCK) +
	       set_cases(VIRTIO_ID_NET) + 2;
}

int main(void)
{
	pid_t pid;
	int st;

	require_uvirtio(0);
	tap_plan(2 * tests_per_user());
	run_all();

	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		return 1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		unpriv = true;
		if (setgroups(0, NULL) || setresgid(UNPRIV_UID, UNPRIV_UID, UNPRIV_UID) ||
		    setresuid(UNPRIV_UID, UNPRIV_UID, UNPRIV_UID) ||
		    unshare(CLONE_NEWUSER | CLONE_NEWNET))
			tap_diag("cannot become uid 1000 in its own namespaces: %s",
				 strerror(errno));
		else
			run_all();
		shared->count = tap_count;
		shared->failed = tap_failed;
		fflush(stdout);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		tap_diag("uid 1000 child failed");
	tap_count = shared->count;
	tap_failed = shared->failed;
	return tap_done();
}

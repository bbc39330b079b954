// SPDX-License-Identifier: GPL-2.0-only
/*
 * ioctl_abi - every entry point of /dev/uvirtio refuses bad input cleanly.
 *
 * Raw ioctls only (no libuvirtio): this tests the kernel's checks. Each
 * refusal is checked for its documented errno; the harness checks that the
 * kernel log stays clean. Runs as root or as an ordinary user.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/uvirtio.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include "testemu.h"
#include "require.h"
#include "unit/tap.h"

static const char *devpath = "/dev/uvirtio";

static int uv_open(void)
{
	int fd = open(devpath, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		printf("# cannot open %s: %s\n", devpath, strerror(errno));
		exit(1);
	}
	return fd;
}

/* ioctl() returning -errno, or the result. */
static long ioc(int fd, unsigned long cmd, void *arg)
{
	long r = ioctl(fd, cmd, arg);

	return r < 0 ? -errno : r;
}

static struct virtio_blk_config blk_cfg = { .capacity = 2048 };

static struct uvirtio_create good_blk(void)
{
	struct uvirtio_create c = {
		.device_id = VIRTIO_ID_BLOCK,
		.num_queues = 1,
		.queue_size = 256,
		.config_size = sizeof(blk_cfg),
		.config_addr = (uintptr_t)&blk_cfg,
		.features = 1ULL << VIRTIO_BLK_F_FLUSH,
	};
	return c;
}

/* Create @c on a fresh fd: returns -errno, or 0 and closes the fd. */
static long try_create(struct uvirtio_create c)
{
	int fd = uv_open();
	long r = ioc(fd, UVIRTIO_CREATE, &c);

	close(fd);
	return r;
}

static long live_devices(void)
{
	return temu_read_long("/sys/class/misc/uvirtio/devices");
}

static sigjmp_buf fault_jmp;

static void on_fault(int sig)
{
	siglongjmp(fault_jmp, sig);
}

/* Store one byte at @p: 0 if it worked, else the signal it raised. */
static int poke(volatile uint8_t *p)
{
	struct sigaction sa = { .sa_handler = on_fault }, old_bus, old_segv;
	int sig;

	sigaction(SIGBUS, &sa, &old_bus);
	sigaction(SIGSEGV, &sa, &old_segv);
	sig = sigsetjmp(fault_jmp, 1);
	if (!sig)
		*p = 0x5a;
	sigaction(SIGBUS, &old_bus, NULL);
	sigaction(SIGSEGV, &old_segv, NULL);
	return sig;
}

static void test_create_refusals(void)
{
	static const uint32_t bad_ids[] = { 0, 3, 4, 5, 9, 16, 26, 0xffffffffu };
	static const uint32_t bad_sizes[] = { 0, 1, 3, 100, 2048, 1u << 31 };
	struct uvirtio_create c;
	unsigned int i;
	bool ok;

	for (i = 0, ok = true; i < 4; i++) {
		c = good_blk();
		c.reserved[i] = 1;
		ok &= try_create(c) == -EINVAL;
	}
	tap_ok(ok, "create: non-zero reserved words -> EINVAL");
	c = good_blk();
	c.flags = ~(UVIRTIO_CREATE_F_RECOVERY | UVIRTIO_CREATE_F_VRING_USED |
		    UVIRTIO_CREATE_F_USED_LEN);
	tap_eq(try_create(c), -EINVAL, "create: unknown flags -> EINVAL");
	c = good_blk();
	c.flags = UVIRTIO_CREATE_F_USED_LEN;
	tap_eq(try_create(c), 0, "create: USED_LEN accepted for blk");

	for (i = 0, ok = true; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		c = good_blk();
		c.device_id = bad_ids[i];
		ok &= try_create(c) == -EPROTONOSUPPORT;
	}
	tap_ok(ok, "create: device ids other than blk/net -> EPROTONOSUPPORT");

	c = good_blk();
	c.num_queues = 0;
	tap_eq(try_create(c), -EINVAL, "create: zero queues -> EINVAL");
	c.num_queues = UVIRTIO_MAX_QUEUES + 1;
	tap_eq(try_create(c), -EINVAL, "create: too many queues -> EINVAL");

	for (i = 0, ok = true; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		c = good_blk();
		c.queue_size = bad_sizes[i];
		ok &= try_create(c) == -EINVAL;
	}
	tap_ok(ok, "create: queue size not a power of two in 2..1024 -> EINVAL");

	c = good_blk();
	c.config_size = UVIRTIO_MAX_CONFIG_SIZE + 1;
	tap_eq(try_create(c), -EINVAL, "create: oversized config space -> EINVAL");
	c = good_blk();
	c.config_addr = 8;
	tap_eq(try_create(c), -EFAULT, "create: unreadable config pointer -> EFAULT");

	c = good_blk();
	c.features |= 1ULL << VIRTIO_F_RING_PACKED;
	tap_eq(try_create(c), -EINVAL, "create: packed ring feature -> EINVAL");
	c = good_blk();
	c.features |= 1ULL << 40;
	tap_eq(try_create(c), -EINVAL, "create: unknown transport feature -> EINVAL");

	c = good_blk();
	c.device_id = VIRTIO_ID_NET;
	c.num_queues = 1;
	tap_eq(try_create(c), -EINVAL, "create: net with one queue -> EINVAL");
	c.num_queues = 2;
	c.features = 1ULL << VIRTIO_NET_F_CTRL_VQ;
	tap_eq(try_create(c), -EINVAL, "create: net control queue without its own queue -> EINVAL");
	/* virtio_net's tx stops for good on a ring of MAX_SKB_FRAGS + 2 or less */
	c.features = 0;
	c.queue_size = 16;
	tap_eq(try_create(c), -EINVAL, "create: net with queue size 16 -> EINVAL");
	c.queue_size = 32;
	tap_eq(try_create(c), 0, "create: net with queue size 32 accepted");
	c.flags = UVIRTIO_CREATE_F_USED_LEN;
	tap_eq(try_create(c), 0, "create: USED_LEN accepted for net");
	/* a blk chain of header, one segment and status needs 3 descriptors */
	c = good_blk();
	c.queue_size = 2;
	tap_eq(try_create(c), -EINVAL, "create: blk with queue size 2, no indirect -> EINVAL");
	c.features |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	tap_eq(try_create(c), 0, "create: blk with queue size 2 and indirect accepted");

	for (i = 0, ok = true; i < 3; i++) {
		static const uint64_t sizes[] = { 4096 + 1, 4096, 1ULL << 40 };

		c = good_blk();
		c.bounce_size = sizes[i];
		ok &= try_create(c) == -EINVAL;
	}
	tap_ok(ok, "create: bounce size unaligned, too small or too big -> EINVAL");
}

static void test_before_create(void)
{
	struct uvirtio_layout l;
	char buf[64];
	int fd = uv_open();
	uint64_t v = 0;
	void *p;

	tap_ok(ioc(fd, UVIRTIO_GET_API_VERSION, &v) == 0 && v == UVIRTIO_API_VERSION,
	       "API version is %u", UVIRTIO_API_VERSION);
	tap_eq(ioc(fd, UVIRTIO_GET_LAYOUT, &l), -ENODEV, "layout before create -> ENODEV");
	tap_eq(ioc(fd, UVIRTIO_START, NULL), -ENODEV, "start before create -> ENODEV");
	tap_eq(read(fd, buf, sizeof(buf)) < 0 ? -errno : 0, -ENODEV,
	       "read before create -> ENODEV");
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	tap_eq(p == MAP_FAILED ? -errno : 0, -ENODEV, "mmap before create -> ENODEV");
	tap_eq(ioc(fd, _IO('V', 1), NULL), -ENOTTY, "foreign ioctl -> ENOTTY");
	close(fd);
}

static void test_device(void)
{
	struct uvirtio_create c = good_blk();
	struct uvirtio_layout l = { 0 };
	struct uvirtio_queue_info qi;
	struct uvirtio_vq_eventfd e;
	struct uvirtio_config_update u;
	struct uvirtio_config_read r;
	struct uvirtio_queue_irq irq;
	struct uvirtio_event ev[2];
	int fd = uv_open(), efd, efd2, pfd[2];
	uint8_t *dom, cfg[8], back[8];
	bool ok;
	long n;

	tap_eq(ioc(fd, UVIRTIO_CREATE, &c), 0, "create a blk device");
	tap_eq(ioc(fd, UVIRTIO_CREATE, &c), -EBUSY, "second create on one fd -> EBUSY");
	tap_ok(ioc(fd, UVIRTIO_GET_LAYOUT, &l) == 0 && l.domain_size == c.domain_size &&
	       l.bounce_offset + l.bounce_size == l.domain_size &&
	       l.bounce_size == UVIRTIO_DEF_BOUNCE_SIZE && l.num_queues == 1 &&
	       l.queue_size == 256, "layout matches the creation");

	memset(&qi, 0, sizeof(qi));
	qi.index = 1;
	tap_eq(ioc(fd, UVIRTIO_GET_QUEUE, &qi), -EINVAL, "queue index out of range -> EINVAL");
	memset(&qi, 0, sizeof(qi));
	qi.reserved[3] = 7;
	tap_eq(ioc(fd, UVIRTIO_GET_QUEUE, &qi), -EINVAL, "queue: non-zero reserved -> EINVAL");
	memset(&qi, 0, sizeof(qi));
	tap_ok(ioc(fd, UVIRTIO_GET_QUEUE, &qi) == 0 && qi.state == UVIRTIO_QUEUE_UNUSED &&
	       qi.shadow_offset && qi.shadow_offset < l.bounce_offset,
	       "unused queue has a shadow ring and no rings");

	efd = eventfd(0, EFD_CLOEXEC);
	efd2 = eventfd(0, EFD_CLOEXEC);
	if (pipe(pfd))
		pfd[0] = pfd[1] = -1;
	memset(&e, 0, sizeof(e));
	e.fd = 1000;
	tap_eq(ioc(fd, UVIRTIO_SET_KICK_FD, &e), -EBADF, "kick fd not open -> EBADF");
	e.fd = pfd[0];
	tap_eq(ioc(fd, UVIRTIO_SET_CALL_FD, &e), -EINVAL, "call fd not an eventfd -> EINVAL");
	e.fd = -2;
	tap_eq(ioc(fd, UVIRTIO_SET_KICK_FD, &e), -EINVAL, "kick fd -2 -> EINVAL");
	e.fd = efd;
	e.index = 5;
	tap_eq(ioc(fd, UVIRTIO_SET_KICK_FD, &e), -EINVAL, "kick fd for queue 5 -> EINVAL");
	e.index = 0;
	e.reserved[1] = 1;
	tap_eq(ioc(fd, UVIRTIO_SET_KICK_FD, &e), -EINVAL, "kick fd: non-zero reserved -> EINVAL");
	e.reserved[1] = 0;
	tap_eq(ioc(fd, UVIRTIO_SET_KICK_FD, &e), 0, "set a kick eventfd");
	tap_eq(ioc(fd, UVIRTIO_SET_CALL_FD, &e), -EINVAL, "same eventfd as call fd -> EINVAL");
	e.fd = efd2;
	tap_eq(ioc(fd, UVIRTIO_SET_CALL_FD, &e), 0, "set a call eventfd");
	e.fd = -1;
	tap_eq(ioc(fd, UVIRTIO_SET_CALL_FD, &e), 0, "detach the call eventfd");

	memset(&u, 0, sizeof(u));
	/* a blk capacity the module keeps as it is (below 2^54 sectors) */
	memcpy(cfg, "\x01\x02\x03\x04\x05\x06\x07\x00", 8);
	u.offset = sizeof(blk_cfg) - 4;
	u.len = 8;
	u.data_addr = (uintptr_t)cfg;
	tap_eq(ioc(fd, UVIRTIO_SET_CONFIG, &u), -EINVAL, "config update past the end -> EINVAL");
	u.offset = 0xffffffffu;
	tap_eq(ioc(fd, UVIRTIO_SET_CONFIG, &u), -EINVAL, "config update at offset 2^32-1 -> EINVAL");
	u.offset = 0;
	u.len = 0;
	tap_eq(ioc(fd, UVIRTIO_SET_CONFIG, &u), -EINVAL, "empty config update -> EINVAL");
	u.len = 8;
	u.data_addr = 16;
	tap_eq(ioc(fd, UVIRTIO_SET_CONFIG, &u), -EFAULT, "config update from a bad pointer -> EFAULT");
	u.data_addr = (uintptr_t)cfg;
	memset(&r, 0, sizeof(r));
	r.len = 8;
	r.data_addr = (uintptr_t)back;
	tap_ok(ioc(fd, UVIRTIO_SET_CONFIG, &u) == 0 && ioc(fd, UVIRTIO_GET_CONFIG, &r) == 0 &&
	       !memcmp(cfg, back, 8), "config update reads back");

	memset(&irq, 0, sizeof(irq));
	irq.index = 1;
	tap_eq(ioc(fd, UVIRTIO_QUEUE_IRQ, &irq), -EINVAL, "irq for queue 1 -> EINVAL");
	irq.index = 0;
	tap_eq(ioc(fd, UVIRTIO_QUEUE_IRQ, &irq), 0, "irq for an idle queue is harmless");

	tap_eq(read(fd, ev, 8) < 0 ? -errno : 0, -EINVAL, "read of less than one event -> EINVAL");
	fcntl(fd, F_SETFL, O_NONBLOCK);
	tap_eq(read(fd, ev, sizeof(ev)) < 0 ? -errno : 0, -EAGAIN, "non-blocking read, no event -> EAGAIN");

	dom = mmap(NULL, l.domain_size + 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	tap_ok(dom == MAP_FAILED && errno == EINVAL, "mmap beyond the domain -> EINVAL");
	dom = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, l.domain_size);
	tap_ok(dom == MAP_FAILED && errno == EINVAL, "mmap at an offset past the domain -> EINVAL");
	dom = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	tap_ok(dom == MAP_FAILED && errno == EINVAL, "private mmap -> EINVAL");
	dom = mmap(NULL, l.domain_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	tap_ok(dom != MAP_FAILED, "mmap of the whole domain");
	if (dom != MAP_FAILED) {
		uint64_t ring = qi.shadow_offset + 4096;	/* first vring slot */

		ok = poke(dom + l.ctrl_offset) == 0 && poke(dom + qi.shadow_offset) == 0 &&
		     poke(dom + l.bounce_offset) == 0 &&
		     poke(dom + l.domain_size - 1) == 0;
		tap_ok(ok, "ctrl, shadow and bounce pages are writable");
		/* The shadow ring of a 256-entry queue is one page; rings follow. */
		tap_ok(dom[ring] == 0 && poke(dom + ring) == SIGBUS,
		       "vring pages are readable, writing them raises SIGBUS");
		tap_ok(mprotect(dom + ring, 4096, PROT_READ | PROT_WRITE) != 0 ||
		       poke(dom + ring) == SIGBUS, "mprotect does not make vring pages writable");
		munmap(dom, l.domain_size);
	} else {
		tap_ok(false, "ctrl, shadow and bounce pages are writable");
		tap_ok(false, "vring pages are readable, writing them raises SIGBUS");
		tap_ok(false, "mprotect does not make vring pages writable");
	}

	n = live_devices();
	close(fd);
	close(efd);
	close(efd2);
	close(pfd[0]);
	close(pfd[1]);
	tap_ok(n >= 1 && live_devices() == n - 1, "closing the fd frees the device (%ld -> %ld)",
	       n, live_devices());
}

/* Every ioctl number in and around our range, with junk: only errors. */
static void test_garbage(void)
{
	struct uvirtio_create c = good_blk();
	unsigned int nr, dir, seen_crash = 0, bad = 0;
	uint8_t junk[512];
	int fd = uv_open();

	ioc(fd, UVIRTIO_CREATE, &c);
	srand(42);
	for (nr = 0; nr < 256; nr++) {
		for (dir = 0; dir < 4; dir++) {
			unsigned int size = rand() % 200;
			unsigned long cmd = _IOC(dir, UVIRTIO_IOC_MAGIC, nr, size);
			unsigned int i;
			long r;

			/* Leave the real commands (checked above) and REMOVE alone. */
			if (cmd == UVIRTIO_CREATE || cmd == UVIRTIO_START ||
			    cmd == UVIRTIO_REMOVE || cmd == UVIRTIO_GET_API_VERSION ||
			    cmd == UVIRTIO_GET_LAYOUT || cmd == UVIRTIO_GET_STATUS ||
			    cmd == UVIRTIO_DOMAIN_FD)
				continue;
			for (i = 0; i < sizeof(junk); i++)
				junk[i] = rand();
			r = ioc(fd, cmd, junk);
			if (r == 0 && nr > 0x0b)
				bad++;
		}
	}
	tap_ok(!bad && !seen_crash, "1024 unknown or junk-filled ioctls: none succeeds wrongly");
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		devpath = argv[1];
	else
		require_uvirtio(0);
	tap_plan(58);
	test_before_create();
	test_create_refusals();
	test_device();
	test_garbage();
	return tap_done();
}

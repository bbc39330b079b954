// SPDX-License-Identifier: GPL-2.0-only
/*
 * fake_uvirtio.c - an LD_PRELOAD stand-in for /dev/uvirtio and its driver
 *
 * Lets uvirtio-blk's whole event loop run on a host without the module.
 * open() of $FAKE_UVIRTIO_DEV gives one end of a SOCK_SEQPACKET pair (so
 * read() returns whole event records and closing our end is EPOLLHUP);
 * ioctl() on it is answered here; mmap() of it returns a domain laid out as
 * the module would. UVIRTIO_START starts a thread that plays the kernel's
 * virtio_blk driver: it sends DRIVER_OK, submits requests, kicks unless the
 * emulator polls, checks every completion as the module would, then sends
 * SIGTERM to the process and answers UVIRTIO_REMOVE with
 * UVIRTIO_EV_REMOVED. Each check is one line in $FAKE_UVIRTIO_REPORT:
 * "ok NAME" or "not ok NAME: why".
 */
#include <dlfcn.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/uvirtio.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#define CTRL_OFF	0
#define SHADOW_OFF	4096
#define DESC_OFF	16384
#define AVAIL_OFF	32768
#define USED_OFF	40960
#define BOUNCE_OFF	65536
#define BOUNCE_SIZE	(1 << 20)
#define DOMAIN_SIZE	(BOUNCE_OFF + BOUNCE_SIZE)
#define INDEX		7
#define EPOCH		5
#define SERIAL		"fake-serial"

#define F(b)		(1ULL << (b))

static struct {
	int fd, peer;			/* emulator's end, ours */
	uint8_t *dom;
	struct uvirtio_create cr;
	struct virtio_blk_config cfg;
	int kick_fd, call_fd;
	unsigned int num;
	uint16_t avail_idx, used_idx, seen_shadow;
	uint32_t writable[UVIRTIO_MAX_QUEUE_SIZE];	/* per head, -1 free */
	bool outstanding[UVIRTIO_MAX_QUEUE_SIZE];
	uint64_t bump;
	uint64_t seq;
	bool removing;
	FILE *report;
	pthread_t thread;
} fk = { .fd = -1, .peer = -1, .kick_fd = -1, .call_fd = -1 };

/**
 * check() - write one result line
 * @ok:		passed
 * @name:	check name
 * @fmt:	detail on failure, printf-style
 *
 * Return: @ok
 */
static bool __attribute__((format(printf, 3, 4)))
check(bool ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	fprintf(fk.report, "%sok %s", ok ? "" : "not ", name);
	if (!ok) {
		fprintf(fk.report, ": ");
		va_start(ap, fmt);
		vfprintf(fk.report, fmt, ap);
		va_end(ap);
	}
	fprintf(fk.report, "\n");
	fflush(fk.report);
	return ok;
}

/**
 * send_event() - queue one event for the emulator
 * @type:	UVIRTIO_EV_*
 * @arg:	u32[0] payload
 */
static void send_event(uint32_t type, uint32_t arg)
{
	struct uvirtio_event ev = { .type = type, .seq = ++fk.seq };

	ev.u32[0] = arg;
	if (write(fk.peer, &ev, sizeof(ev)) != sizeof(ev))
		check(false, "send event", "%s", strerror(errno));
}

/**
 * balloc() - take bytes from the bounce pool
 * @len:	bytes
 *
 * Return: domain offset
 */
static uint64_t balloc(uint32_t len)
{
	uint64_t off = BOUNCE_OFF + fk.bump;

	fk.bump = (fk.bump + len + 63) & ~63ULL;
	if (fk.bump > BOUNCE_SIZE) {
		fk.bump = (len + 63) & ~63ULL;
		off = BOUNCE_OFF;
	}
	return off;
}

/**
 * set_desc() - write one descriptor
 * @table:	domain offset of the table
 * @i:		entry
 * @addr:	buffer
 * @len:	length
 * @flags:	VRING_DESC_F_*
 * @next:	next entry
 */
static void set_desc(uint64_t table, unsigned int i, uint64_t addr,
		     uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc d = {
		htole64(addr), htole32(len), htole16(flags), htole16(next),
	};

	memcpy(fk.dom + table + 16 * i, &d, 16);
}

/**
 * make_avail() - put a head on the avail ring, kick unless polled
 * @head:	head index
 * @writable:	bytes of its writable part
 * @kick:	kick now (false to batch several)
 */
static void make_avail(uint16_t head, uint32_t writable, bool kick)
{
	uint16_t *ring = (uint16_t *)(fk.dom + AVAIL_OFF + 4);
	uint16_t *idx = (uint16_t *)(fk.dom + AVAIL_OFF + 2);
	uint32_t *flags = &((struct uvirtio_ctrl *)fk.dom)->queue[0].flags;
	uint64_t one = 1;

	fk.writable[head] = writable;
	fk.outstanding[head] = true;
	ring[fk.avail_idx % fk.num] = htole16(head);
	fk.avail_idx++;
	atomic_store_explicit((_Atomic uint16_t *)idx, htole16(fk.avail_idx),
			      memory_order_release);
	if (!kick)
		return;
	/* As the module's notify op: publish, full barrier, test the flag. */
	atomic_thread_fence(memory_order_seq_cst);
	if (!(atomic_load_explicit((_Atomic uint32_t *)flags,
				   memory_order_relaxed) & UVIRTIO_QF_POLLING))
		if (write(fk.kick_fd, &one, sizeof(one)) != sizeof(one))
			check(false, "kick", "%s", strerror(errno));
}

/**
 * reap() - wait for @want completions, checking each as the module would
 * @want:	completions expected
 * @lens:	out: len per head
 *
 * Return: true if all arrived and were valid
 */
static bool reap(unsigned int want, uint32_t *lens)
{
	struct uvirtio_shadow *sh = (void *)(fk.dom + SHADOW_OFF);
	struct pollfd p = { .fd = fk.call_fd, .events = POLLIN };
	unsigned int got = 0;
	uint64_t v;

	while (got < want) {
		uint16_t idx;

		if (poll(&p, 1, 5000) != 1)
			return check(false, "completion arrives", "timeout");
		if (read(fk.call_fd, &v, sizeof(v)) != sizeof(v))
			return false;
		if (atomic_load_explicit((_Atomic uint32_t *)&sh->epoch,
					 memory_order_acquire) != EPOCH)
			return check(false, "shadow epoch", "%u", sh->epoch);
		idx = atomic_load_explicit((_Atomic uint16_t *)&sh->idx,
					   memory_order_acquire);
		if ((uint16_t)(idx - fk.seen_shadow) > fk.num)
			return check(false, "shadow idx", "jumped");
		while (fk.seen_shadow != idx) {
			struct uvirtio_used_elem e =
				sh->ring[fk.seen_shadow++ % fk.num];

			if (e.id >= fk.num || !fk.outstanding[e.id])
				return check(false, "used id", "%u", e.id);
			if (e.len > fk.writable[e.id])
				return check(false, "used len", "%u > %u",
					     e.len, fk.writable[e.id]);
			fk.outstanding[e.id] = false;
			lens[e.id] = e.len;
			got++;
		}
	}
	return true;
}

/**
 * simple_req() - one request: header, optional data, status
 * @type:	VIRTIO_BLK_T_*
 * @sector:	sector
 * @data:	data offset or 0
 * @len:	data bytes
 * @data_write:	data is device-writable
 * @status:	out: status byte offset
 * @used:	out: used length
 *
 * Return: true if completed validly
 */
static bool simple_req(uint32_t type, uint64_t sector, uint64_t data,
		       uint32_t len, bool data_write, uint64_t *status,
		       uint32_t *used)
{
	struct virtio_blk_outhdr h = { htole32(type), 0, htole64(sector) };
	uint64_t ho = balloc(16);
	uint32_t lens[UVIRTIO_MAX_QUEUE_SIZE];
	unsigned int n = 0;

	*status = balloc(1);
	fk.dom[*status] = 0xff;
	memcpy(fk.dom + ho, &h, 16);
	set_desc(DESC_OFF, 0, ho, 16, VRING_DESC_F_NEXT, 1);
	if (len) {
		set_desc(DESC_OFF, 1, data, len, VRING_DESC_F_NEXT |
			 (data_write ? VRING_DESC_F_WRITE : 0), 2);
		n = 1;
	}
	set_desc(DESC_OFF, 1 + n, *status, 1, VRING_DESC_F_WRITE, 0);
	make_avail(0, 1 + (data_write ? len : 0), true);
	if (!reap(1, lens))
		return false;
	*used = lens[0];
	return true;
}

/**
 * drive() - the driver's side of the test
 * @arg:	unused
 *
 * Return: NULL
 */
static void *drive(void *arg)
{
	uint32_t lens[UVIRTIO_MAX_QUEUE_SIZE], used;
	uint64_t st, data, rd, tab;
	unsigned int i;
	bool ok;

	(void)arg;
	send_event(UVIRTIO_EV_FEATURES, 0);
	send_event(UVIRTIO_EV_DRIVER_OK, 0);

	data = balloc(2048);
	for (i = 0; i < 2048; i++)
		fk.dom[data + i] = (uint8_t)(i * 13 + 1);
	ok = simple_req(VIRTIO_BLK_T_OUT, 8, data, 2048, false, &st, &used);
	check(ok && fk.dom[st] == VIRTIO_BLK_S_OK && used == 1, "write",
	      "status %u used %u", fk.dom[st], used);

	ok = simple_req(VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, &st, &used);
	check(ok && fk.dom[st] == VIRTIO_BLK_S_OK && used == 1, "flush",
	      "status %u used %u", fk.dom[st], used);

	/* Read back through an indirect table. */
	{
		struct virtio_blk_outhdr h = { htole32(VIRTIO_BLK_T_IN), 0,
					       htole64(8) };
		uint64_t ho = balloc(16);

		rd = balloc(2048);
		st = balloc(1);
		tab = balloc(48);
		memcpy(fk.dom + ho, &h, 16);
		set_desc(tab, 0, ho, 16, VRING_DESC_F_NEXT, 1);
		set_desc(tab, 1, rd, 2048,
			 VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
		set_desc(tab, 2, st, 1, VRING_DESC_F_WRITE, 0);
		set_desc(DESC_OFF, 3, tab, 48, VRING_DESC_F_INDIRECT, 0);
		make_avail(3, 2049, true);
		ok = reap(1, lens);
		check(ok && lens[3] == 2049 && fk.dom[st] == VIRTIO_BLK_S_OK &&
		      !memcmp(fk.dom + rd, fk.dom + data, 2048),
		      "indirect read returns written data", "len %u", lens[3]);
	}

	rd = balloc(20);
	ok = simple_req(VIRTIO_BLK_T_GET_ID, 0, rd, 20, true, &st, &used);
	check(ok && used == 21 && !memcmp(fk.dom + rd, SERIAL, sizeof(SERIAL)),
	      "GET_ID", "used %u", used);

	ok = simple_req(0x7f, 0, 0, 0, false, &st, &used);
	check(ok && fk.dom[st] == VIRTIO_BLK_S_UNSUPP, "unsupported type",
	      "status %u", fk.dom[st]);

	rd = balloc(512);
	ok = simple_req(VIRTIO_BLK_T_IN, le64toh(fk.cfg.capacity), rd, 512,
			true, &st, &used);
	check(ok && fk.dom[st] == VIRTIO_BLK_S_IOERR && used == 1,
	      "read past the end", "status %u used %u", fk.dom[st], used);

	/* A looping chain: completed with length 0, emulator survives. */
	set_desc(DESC_OFF, 5, balloc(16), 16, VRING_DESC_F_NEXT, 6);
	set_desc(DESC_OFF, 6, balloc(1), 1, VRING_DESC_F_NEXT, 5);
	make_avail(5, 1, true);
	ok = reap(1, lens);
	check(ok && lens[5] == 0, "bad chain completed with len 0", "len %u",
	      lens[5]);

	/* A batch of reads with one kick. */
	for (i = 0; i < 16; i++) {
		struct virtio_blk_outhdr h = { htole32(VIRTIO_BLK_T_IN), 0,
					       htole64(i) };
		unsigned int d = 16 + 3 * i;
		uint64_t ho = balloc(16);

		memcpy(fk.dom + ho, &h, 16);
		set_desc(DESC_OFF, d, ho, 16, VRING_DESC_F_NEXT, d + 1);
		set_desc(DESC_OFF, d + 1, balloc(512), 512,
			 VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, d + 2);
		set_desc(DESC_OFF, d + 2, balloc(1), 1, VRING_DESC_F_WRITE, 0);
		make_avail(d, 513, i == 15);
	}
	memset(lens, 0, sizeof(lens));
	ok = reap(16, lens);
	for (i = 0; ok && i < 16; i++)
		ok = lens[16 + 3 * i] == 513;
	check(ok, "16 reads, one kick", "a completion is missing or wrong");

	kill(getpid(), SIGTERM);
	return NULL;
}

/**
 * fake_ioctl() - the module's ioctls, as far as the emulator uses them
 * @req:	request
 * @arg:	argument
 *
 * Return: 0 or -1 with errno
 */
static int fake_ioctl(unsigned long req, void *arg)
{
	switch (req) {
	case UVIRTIO_GET_API_VERSION:
		*(uint64_t *)arg = UVIRTIO_API_VERSION;
		return 0;
	case UVIRTIO_CREATE: {
		struct uvirtio_create *c = arg;

		fk.cr = *c;
		memcpy(&fk.cfg, (void *)(uintptr_t)c->config_addr,
		       c->config_size < sizeof(fk.cfg) ? c->config_size :
		       sizeof(fk.cfg));
		c->index = INDEX;
		c->domain_size = DOMAIN_SIZE;
		fk.num = c->queue_size;
		fk.dom = mmap(NULL, DOMAIN_SIZE, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		return fk.dom == MAP_FAILED ? -1 : 0;
	}
	case UVIRTIO_GET_LAYOUT: {
		struct uvirtio_layout *l = arg;

		memset(l, 0, sizeof(*l));
		l->domain_size = DOMAIN_SIZE;
		l->ctrl_offset = CTRL_OFF;
		l->bounce_offset = BOUNCE_OFF;
		l->bounce_size = BOUNCE_SIZE;
		l->num_queues = fk.cr.num_queues;
		l->queue_size = fk.cr.queue_size;
		return 0;
	}
	case UVIRTIO_SET_KICK_FD:
		fk.kick_fd = ((struct uvirtio_vq_eventfd *)arg)->fd;
		return 0;
	case UVIRTIO_SET_CALL_FD:
		fk.call_fd = ((struct uvirtio_vq_eventfd *)arg)->fd;
		return 0;
	case UVIRTIO_START:
		return pthread_create(&fk.thread, NULL, drive, NULL) ? -1 : 0;
	case UVIRTIO_GET_QUEUE: {
		struct uvirtio_queue_info *q = arg;

		if (q->index) {
			errno = EINVAL;
			return -1;
		}
		q->state = UVIRTIO_QUEUE_READY;
		q->num = fk.num;
		q->epoch = EPOCH;
		q->desc_offset = DESC_OFF;
		q->avail_offset = AVAIL_OFF;
		q->used_offset = USED_OFF;
		q->shadow_offset = SHADOW_OFF;
		return 0;
	}
	case UVIRTIO_GET_STATUS: {
		struct uvirtio_status *s = arg;

		memset(s, 0, sizeof(*s));
		s->driver_features = F(VIRTIO_F_VERSION_1) |
				     F(VIRTIO_RING_F_INDIRECT_DESC) |
				     F(VIRTIO_RING_F_EVENT_IDX);
		s->status = VIRTIO_CONFIG_S_DRIVER_OK;
		return 0;
	}
	case UVIRTIO_REMOVE:
		check(!fk.removing, "one UVIRTIO_REMOVE", "called twice");
		fk.removing = true;
		send_event(UVIRTIO_EV_REMOVED, UVIRTIO_DEAD_REMOVED);
		return 0;
	default:
		errno = ENOTTY;
		return -1;
	}
}

/**
 * ioctl() - answered here for the fake fd, passed on otherwise
 * @fd:		fd
 * @req:	request
 *
 * Return: as ioctl(2)
 */
int ioctl(int fd, unsigned long req, ...)
{
	static int (*real)(int, unsigned long, ...);
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd >= 0 && fd == fk.fd)
		return fake_ioctl(req, arg);
	if (!real)
		real = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT,
							       "ioctl");
	return real(fd, req, arg);
}

/**
 * fake_open() - open() of the fake device path
 *
 * Return: the emulator's end of a fresh socket pair, or -1
 */
static int fake_open(void)
{
	int sv[2];
	const char *rep = getenv("FAKE_UVIRTIO_REPORT");

	fk.report = fopen(rep ? rep : "/dev/null", "we");
	if (!fk.report ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -1;
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fk.fd = sv[0];
	fk.peer = sv[1];
	memset(fk.writable, 0xff, sizeof(fk.writable));
	return fk.fd;
}

/**
 * open() - the fake device path gives the fake fd, others pass on
 * @path:	path
 * @flags:	O_* flags
 *
 * Return: as open(2)
 */
int open(const char *path, int flags, ...)
{
	static int (*real)(const char *, int, ...);
	const char *dev = getenv("FAKE_UVIRTIO_DEV");
	mode_t mode = 0;
	va_list ap;

	if (dev && !strcmp(path, dev))
		return fake_open();
	va_start(ap, flags);
	if (flags & (O_CREAT | O_TMPFILE))
		mode = va_arg(ap, mode_t);
	va_end(ap);
	if (!real)
		real = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT,
							      "open");
	return real(path, flags, mode);
}

/**
 * mmap() - the fake fd maps the fake domain, others pass on
 * @addr:	hint
 * @len:	length
 * @prot:	PROT_*
 * @flags:	MAP_*
 * @fd:		fd
 * @off:	offset
 *
 * Return: as mmap(2)
 */
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	static void *(*real)(void *, size_t, int, int, int, off_t);

	if (fd >= 0 && fd == fk.fd) {
		check(len == DOMAIN_SIZE && !off && (flags & MAP_SHARED) &&
		      prot == (PROT_READ | PROT_WRITE), "domain mmap",
		      "len %zu off %lld flags %#x", len, (long long)off, flags);
		return fk.dom;
	}
	if (!real)
		real = (void *(*)(void *, size_t, int, int, int, off_t))
			dlsym(RTLD_NEXT, "mmap");
	return real(addr, len, prot, flags, fd, off);
}

/**
 * fake_report_create() - check what UVIRTIO_CREATE was told, at exit
 */
static void __attribute__((destructor)) fake_report_create(void)
{
	uint64_t want = F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_INDIRECT_DESC) |
			F(VIRTIO_RING_F_EVENT_IDX) | F(VIRTIO_BLK_F_SEG_MAX) |
			F(VIRTIO_BLK_F_BLK_SIZE) | F(VIRTIO_BLK_F_FLUSH) |
			F(VIRTIO_BLK_F_SIZE_MAX) | F(VIRTIO_BLK_F_TOPOLOGY) |
			F(VIRTIO_BLK_F_DISCARD) | F(VIRTIO_BLK_F_WRITE_ZEROES);

	if (!fk.report || !fk.dom)
		return;
	check(fk.cr.features == want, "features offered", "%#llx",
	      (unsigned long long)fk.cr.features);
	check(fk.cr.device_id == 2 && fk.cr.num_queues == 1 &&
	      fk.cr.config_size >= 24, "create arguments",
	      "id %u queues %u config %u", fk.cr.device_id,
	      fk.cr.num_queues, fk.cr.config_size);
	check(le64toh(fk.cfg.capacity) == 2048 &&
	      le32toh(fk.cfg.seg_max) == fk.num - 2 &&
	      le32toh(fk.cfg.blk_size) == 512, "config space",
	      "capacity %llu seg_max %u blk_size %u",
	      (unsigned long long)le64toh(fk.cfg.capacity),
	      le32toh(fk.cfg.seg_max), le32toh(fk.cfg.blk_size));
	fclose(fk.report);
	fk.report = NULL;
}

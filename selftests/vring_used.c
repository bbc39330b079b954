// SPDX-License-Identifier: GPL-2.0-only
/*
 * vring_used - a device created with UVIRTIO_CREATE_F_VRING_USED, served the
 * way an unmodified virtio backend (a vhost-user one) serves a split ring:
 * completions in a standard used ring (le16 flags, le16 idx, le32 id/len
 * entries, le16 avail_event after them), the queue epoch in the ctrl page,
 * kicks suppressed through used->flags only (the backend runs the ring
 * without EVENT_IDX; avail_event is not read).
 *
 * The server here is a thread of the test: a RAM disk, raw ioctls, the
 * rings walked by hand. The driver does real I/O (O_DIRECT reads and writes
 * of /dev/vdX) from the main thread or a child. Checked:
 *   - completions in the standard layout reach the driver, data right;
 *   - entries are ignored while the ctrl page's epoch differs from the
 *     queue's, and taken once it is stored;
 *   - kick suppression: none while NO_NOTIFY is set, kicks while flags
 *     are 0, with the driver on EVENT_IDX or not; with EVENT_IDX the
 *     server writes avail_event against its flags (asking for kicks while
 *     NO_NOTIFY is set, far ahead while flags are 0), and it must be
 *     ignored; and a server that sleeps in its kick eventfd
 *     between batches (the backend's protocol: re-arm, full barrier, look
 *     again) never waits for a kick that was needed (several readers at
 *     once, so the driver's kicks race);
 *   - recovery mode: a new server takes over (UVIRTIO_ATTACH) with a
 *     standard used ring in the new epoch; the read that waited completes;
 *   - a bad id and a bad length in this layout kill the device with
 *     UVIRTIO_DEAD_BAD_ID / BAD_LEN and one kernel log line;
 *   - UVIRTIO_GET_FEATURES reports exactly what UVIRTIO_CREATE accepts for
 *     blk and net; a bad type or a non-zero reserved field is EINVAL;
 *   - every create flag bit besides RECOVERY and VRING_USED is refused.
 * Needs root (net devices, /dev/kmsg).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "dev.h"
#include "kmsg.h"
#include "testemu.h"
#include "require.h"
#include "unit/tap.h"

#define DISK_BYTES	(8u << 20)
#define QUEUE_SIZE	128
#define BLK		4096
/* A server asleep this long with entries waiting has lost a kick. */
#define STALL_MS	3000

enum srv_mode {
	SRV_KICK,	/* serve, re-arm, sleep in the kick eventfd */
	SRV_POLL,	/* serve every millisecond, never read the kick eventfd */
	SRV_DROP_ODD,	/* as SRV_KICK, but take the entries at odd avail
			 * positions and never complete them (a backend
			 * that dies with them in hand) */
};

enum srv_bad {
	BAD_NONE,
	BAD_ID,		/* complete the next request with a head not outstanding */
	BAD_LEN,	/* ... with a length beyond its writable part */
};

/**
 * struct srv - a standard-used-ring virtio-blk server, one queue
 * @fd:		the /dev/uvirtio fd
 * @index:	device index
 * @dom:	the mapped domain
 * @dom_size:	its bytes
 * @l:		UVIRTIO_GET_LAYOUT
 * @kick:	kick eventfd
 * @call:	call eventfd
 * @wake:	eventfd the main thread writes to wake the server
 * @event_idx:	VIRTIO_RING_F_EVENT_IDX offered (and taken by virtio_blk)
 * @disk:	the RAM disk
 * @thr:	the server thread
 * The fields below are shared with the main thread (atomics):
 * @ready:	queue 0 is set up and served
 * @stop:	the thread should return
 * @mode:	enum srv_mode
 * @suppress:	SRV_POLL: ask for no kicks (NO_NOTIFY) instead of every
 *		kick (flags 0)
 * @bad:	enum srv_bad, for the next request
 * @served:	requests completed
 * @stalls:	SRV_KICK: times the server slept STALL_MS with entries waiting
 * @removed:	UVIRTIO_EV_REMOVED arrived
 * @dead_reason: its reason
 * The queue, as the thread sees it:
 * @num:	ring size
 * @epoch:	the queue's epoch (UVIRTIO_GET_QUEUE)
 * @desc:	descriptor table
 * @avail:	avail ring
 * @used:	our standard used ring (the shadow ring)
 * @ctrl_epoch:	this queue's epoch word in the ctrl page
 * @last_avail:	next avail entry to serve
 * @used_idx:	next used entry to write
 * @replay:	heads to serve before the avail ring (after a take-over)
 * @replay_n:	entries in @replay
 * @dropped:	SRV_DROP_ODD: the heads taken and never completed
 * @dropped_n:	entries in @dropped (shared: atomics)
 */
struct srv {
	int fd;
	uint32_t index;
	uint8_t *dom;
	uint64_t dom_size;
	struct uvirtio_layout l;
	int kick, call, wake;
	bool event_idx;
	uint8_t *disk;
	pthread_t thr;

	int ready, stop, mode, suppress, bad;
	unsigned long served, stalls;
	int removed;
	uint32_t dead_reason;

	unsigned int num;
	uint32_t epoch;
	const struct vring_desc *desc;
	const struct vring_avail *avail;
	struct vring_used *used;
	uint32_t *ctrl_epoch;
	uint16_t last_avail, used_idx;
	uint16_t replay[QUEUE_SIZE];
	unsigned int replay_n;
	uint16_t dropped[QUEUE_SIZE];
	unsigned int dropped_n;
};

#define LOAD(p)		__atomic_load_n(p, __ATOMIC_ACQUIRE)
#define STORE(p, v)	__atomic_store_n(p, v, __ATOMIC_RELEASE)

static uint16_t avail_idx(struct srv *s)
{
	return le16toh(LOAD(&s->avail->idx));
}

static uint16_t *avail_event(struct srv *s)
{
	return (uint16_t *)&s->used->ring[s->num];
}

/* Domain address @addr, @len bytes, inside the bounce pool, or NULL. */
static uint8_t *dom_ptr(struct srv *s, uint64_t addr, uint32_t len)
{
	if (addr < s->l.bounce_offset || addr > s->l.bounce_offset + s->l.bounce_size ||
	    len > s->l.bounce_offset + s->l.bounce_size - addr)
		return NULL;
	return s->dom + addr;
}

/*
 * Serve the virtio-blk request at @head: the readable part holds the
 * 16-byte header (and write data), the writable part read data and the
 * status byte last. Return the used length.
 */
static uint32_t blk_serve(struct srv *s, uint16_t head)
{
	struct { uint8_t *p; uint32_t len; } rd[8], wr[8];
	unsigned int nr = 0, nw = 0, i = head, steps = 0, k;
	struct virtio_blk_outhdr hdr;
	uint32_t wlen = 0, done = 0;
	uint8_t status = VIRTIO_BLK_S_OK;
	uint64_t off;

	for (;;) {
		const struct vring_desc *d = &s->desc[i];
		uint16_t fl = le16toh(d->flags);
		uint8_t *p = dom_ptr(s, le64toh(d->addr), le32toh(d->len));

		if (!p || (fl & VRING_DESC_F_INDIRECT) || nr == 8 || nw == 8)
			return 0;
		if (fl & VRING_DESC_F_WRITE) {
			wr[nw].p = p;
			wr[nw++].len = le32toh(d->len);
			wlen += le32toh(d->len);
		} else {
			rd[nr].p = p;
			rd[nr++].len = le32toh(d->len);
		}
		if (!(fl & VRING_DESC_F_NEXT))
			break;
		i = le16toh(d->next);
		if (i >= s->num || ++steps >= s->num)
			return 0;
	}
	if (!nr || rd[0].len < sizeof(hdr) || !nw || !wlen)
		return 0;
	memcpy(&hdr, rd[0].p, sizeof(hdr));
	off = le64toh(hdr.sector) * 512;
	switch (le32toh(hdr.type)) {
	case VIRTIO_BLK_T_IN:
		if (off > DISK_BYTES || wlen - 1 > DISK_BYTES - off) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		for (k = 0; k < nw && done < wlen - 1; k++) {
			uint32_t n = wr[k].len < wlen - 1 - done ? wr[k].len : wlen - 1 - done;

			memcpy(wr[k].p, s->disk + off + done, n);
			done += n;
		}
		break;
	case VIRTIO_BLK_T_OUT:
		for (k = 0; k < nr; k++) {
			uint8_t *p = rd[k].p + (k ? 0 : sizeof(hdr));
			uint32_t n = rd[k].len - (k ? 0 : sizeof(hdr));

			if (off + done > DISK_BYTES || n > DISK_BYTES - off - done) {
				status = VIRTIO_BLK_S_IOERR;
				break;
			}
			memcpy(s->disk + off + done, p, n);
			done += n;
		}
		done = 0;
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
	}
	wr[nw - 1].p[wr[nw - 1].len - 1] = status;
	return status == VIRTIO_BLK_S_OK ? done + 1 : 1;
}

/* Write one completion into the standard used ring and publish it. */
static void used_push(struct srv *s, uint32_t id, uint32_t len)
{
	struct vring_used_elem *e = &s->used->ring[s->used_idx & (s->num - 1)];
	uint64_t one = 1;

	e->id = htole32(id);
	e->len = htole32(len);
	s->used_idx++;
	STORE(&s->used->idx, htole16(s->used_idx));
	if (write(s->call, &one, sizeof(one)) != sizeof(one))
		perror("call eventfd");
}

/* Serve the request at @head and complete it (or misbehave, if asked). */
static void serve_head(struct srv *s, uint16_t head)
{
	int bad = LOAD(&s->bad);
	uint32_t len;

	if (head >= s->num)
		return;
	len = blk_serve(s, head);
	if (bad == BAD_ID) {
		/* one request in flight: its neighbour is not outstanding */
		head ^= 1;
	} else if (bad == BAD_LEN) {
		uint32_t wlen = 0;
		unsigned int i = head;

		for (;;) {
			if (le16toh(s->desc[i].flags) & VRING_DESC_F_WRITE)
				wlen += le32toh(s->desc[i].len);
			if (!(le16toh(s->desc[i].flags) & VRING_DESC_F_NEXT))
				break;
			i = le16toh(s->desc[i].next) & (s->num - 1);
		}
		len = wlen + 1;
	}
	if (bad)
		STORE(&s->bad, BAD_NONE);
	used_push(s, head, len);
	__atomic_add_fetch(&s->served, 1, __ATOMIC_RELEASE);
}

/* Serve every request waiting: those of a dead server first, then new. */
static void serve(struct srv *s)
{
	uint16_t end = avail_idx(s);

	while (s->replay_n)
		serve_head(s, s->replay[--s->replay_n]);
	while (s->last_avail != end) {
		uint16_t head = le16toh(s->avail->ring[s->last_avail & (s->num - 1)]);
		unsigned int n = s->dropped_n;

		s->last_avail++;
		if (LOAD(&s->mode) == SRV_DROP_ODD && !(s->last_avail & 1) &&
		    n < QUEUE_SIZE) {
			s->dropped[n] = head;
			STORE(&s->dropped_n, n + 1);
			continue;
		}
		serve_head(s, head);
	}
}

/* The driver set the queue up: take it, start our ring at 0, then epoch. */
static void queue_start(struct srv *s)
{
	struct uvirtio_queue_info qi = { .index = 0 };
	struct uvirtio_status st = { 0 };

	if (ioctl(s->fd, UVIRTIO_GET_STATUS, &st) ||
	    ioctl(s->fd, UVIRTIO_GET_QUEUE, &qi) || qi.state != UVIRTIO_QUEUE_READY)
		return;
	s->num = qi.num;
	s->epoch = qi.epoch;
	s->desc = (const void *)(s->dom + qi.desc_offset);
	s->avail = (const void *)(s->dom + qi.avail_offset);
	s->used = (void *)(s->dom + qi.shadow_offset);
	s->ctrl_epoch = &((struct uvirtio_ctrl *)(s->dom + s->l.ctrl_offset))->queue[0].epoch;
	s->last_avail = s->used_idx = 0;
	STORE(&s->used->idx, 0);
	STORE(s->ctrl_epoch, s->epoch);
	STORE(&s->ready, 1);
}

static void events(struct srv *s)
{
	struct uvirtio_event ev;

	while (read(s->fd, &ev, sizeof(ev)) == sizeof(ev)) {
		if (ev.type == UVIRTIO_EV_DRIVER_OK)
			queue_start(s);
		else if (ev.type == UVIRTIO_EV_RESET)
			STORE(&s->ready, 0);
		else if (ev.type == UVIRTIO_EV_REMOVED) {
			s->dead_reason = ev.u32[0];
			STORE(&s->ready, 0);
			STORE(&s->removed, 1);
		}
	}
}

/*
 * SRV_POLL: state our wish every round: no kicks (NO_NOTIFY) or a kick for
 * every new entry (flags 0). With EVENT_IDX, avail_event says the opposite
 * (the next entry, or half the index space ahead): the kernel must not
 * read it.
 */
static void poll_wish(struct srv *s)
{
	bool quiet = LOAD(&s->suppress);

	STORE(&s->used->flags, htole16(quiet ? VRING_USED_F_NO_NOTIFY : 0));
	if (s->event_idx)
		STORE(avail_event(s), htole16(s->last_avail + (quiet ? 0 : 0x8000)));
}

/*
 * SRV_KICK, before sleeping: ask for a kick at the next entry, then look
 * once more (a full barrier in between, paired with the kernel's between
 * the driver's avail index store and its reading our wish).
 */
static bool kick_arm(struct srv *s)
{
	STORE(&s->used->flags, 0);
	if (s->event_idx)	/* a wish to be ignored: no kick for long */
		STORE(avail_event(s), htole16(s->last_avail + 0x8000));
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return avail_idx(s) == s->last_avail;
}

static void *srv_thread(void *arg)
{
	struct srv *s = arg;
	uint64_t v;

	while (!LOAD(&s->stop)) {
		struct pollfd p[3] = {
			{ .fd = s->fd, .events = POLLIN },
			{ .fd = s->wake, .events = POLLIN },
			{ .fd = s->kick, .events = POLLIN },
		};
		bool kick_mode = LOAD(&s->mode) == SRV_KICK;
		int r;

		events(s);
		if (!LOAD(&s->ready)) {
			poll(p, 2, 10);
			continue;
		}
		if (!kick_mode) {
			poll_wish(s);
			serve(s);
			poll(p, 2, 1);
			continue;
		}
		/* Like a backend: no kicks wanted while serving. */
		STORE(&s->used->flags, htole16(VRING_USED_F_NO_NOTIFY));
		serve(s);
		if (!kick_arm(s))
			continue;
		r = poll(p, 3, STALL_MS);
		if (r == 0 && avail_idx(s) != s->last_avail && !LOAD(&s->stop))
			__atomic_add_fetch(&s->stalls, 1, __ATOMIC_RELEASE);
		if (read(s->kick, &v, sizeof(v)) < 0 && errno != EAGAIN)
			perror("kick eventfd");
		if (read(s->wake, &v, sizeof(v)) < 0 && errno != EAGAIN)
			perror("wake eventfd");
	}
	return NULL;
}

static void srv_wake(struct srv *s)
{
	uint64_t one = 1;

	if (write(s->wake, &one, sizeof(one)) != sizeof(one))
		perror("wake eventfd");
}

static int set_fd(int fd, unsigned long req, int efd)
{
	struct uvirtio_vq_eventfd e = { .index = 0, .fd = efd };

	return ioctl(fd, req, &e);
}

/* Map the domain of the fd's device, set its eventfds. 0 or -1. */
static int srv_map(struct srv *s)
{
	if (ioctl(s->fd, UVIRTIO_GET_LAYOUT, &s->l))
		return -1;
	s->dom_size = s->l.domain_size;
	s->dom = mmap(NULL, s->dom_size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
	s->kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->call = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->dom == MAP_FAILED || s->kick < 0 || s->call < 0 || s->wake < 0 ||
	    set_fd(s->fd, UVIRTIO_SET_KICK_FD, s->kick) ||
	    set_fd(s->fd, UVIRTIO_SET_CALL_FD, s->call))
		return -1;
	return 0;
}

/* Open /dev/uvirtio for a new server of a @disk (NULL: a new one). */
static int srv_open(struct srv *s, uint8_t *disk)
{
	memset(s, 0, sizeof(*s));
	s->mode = SRV_KICK;
	s->kick = s->call = s->wake = -1;
	s->disk = disk ? disk : calloc(1, DISK_BYTES);
	s->fd = open("/dev/uvirtio", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (s->fd < 0 || !s->disk) {
		tap_diag("open /dev/uvirtio: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Create with @flags (and VRING_USED), map, start, serve; wait for the disk. */
static int srv_start(struct srv *s, bool event_idx, uint32_t flags, char *node,
		     size_t len)
{
	struct virtio_blk_config cfg = { .capacity = htole64(DISK_BYTES / 512) };
	struct uvirtio_create c = {
		.device_id = VIRTIO_ID_BLOCK,
		.num_queues = 1,
		.queue_size = QUEUE_SIZE,
		.config_size = sizeof(cfg),
		.config_addr = (uintptr_t)&cfg,
		.features = event_idx ? 1ULL << VIRTIO_RING_F_EVENT_IDX : 0,
		.bounce_size = UVIRTIO_MIN_BOUNCE_SIZE,
		.flags = UVIRTIO_CREATE_F_VRING_USED | flags,
	};
	struct uvdev d;
	long end;

	if (srv_open(s, NULL))
		return -1;
	s->event_idx = event_idx;
	if (ioctl(s->fd, UVIRTIO_CREATE, &c)) {
		tap_diag("UVIRTIO_CREATE with UVIRTIO_CREATE_F_VRING_USED: %s",
			 strerror(errno));
		return -1;
	}
	s->index = c.index;
	if (srv_map(s) || ioctl(s->fd, UVIRTIO_START) ||
	    pthread_create(&s->thr, NULL, srv_thread, s)) {
		tap_diag("device set-up: %s", strerror(errno));
		return -1;
	}
	memset(&d, 0, sizeof(d));
	d.index = s->index;
	for (end = temu_now_ms() + 30000; temu_now_ms() < end; usleep(20000)) {
		char name[32], size[96];

		if (uvdev_child_name(&d, "block", name, sizeof(name)))
			continue;
		snprintf(size, sizeof(size), "/sys/block/%s/size", name);
		snprintf(node, len, "/dev/%s", name);
		if (!access(node, F_OK) && temu_read_long(size) > 0)
			return 0;
	}
	tap_diag("no disk within 30 s");
	return -1;
}

/*
 * Take over recovery-mode device @index, whose server died, with @disk:
 * serve first the heads the driver still waits for, then the avail ring
 * from where the kernel saw it; our used ring starts at 0 in the new epoch.
 */
static int srv_attach(struct srv *s, uint32_t index, uint8_t *disk)
{
	struct uvirtio_attach a = { .index = index };
	struct uvirtio_inflight r = { .index = 0 };
	struct uvirtio_status st = { 0 };
	unsigned int tries;

	if (srv_open(s, disk))
		return -1;
	/* The dead server's file is released a moment after its close. */
	for (tries = 0; ioctl(s->fd, UVIRTIO_ATTACH, &a); tries++) {
		if (errno != ENOENT || tries == 50) {
			tap_diag("UVIRTIO_ATTACH: %s", strerror(errno));
			return -1;
		}
		usleep(100000);
	}
	s->index = index;
	if (srv_map(s) || ioctl(s->fd, UVIRTIO_GET_STATUS, &st))
		return -1;
	s->event_idx = st.driver_features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	queue_start(s);
	r.heads_addr = (uintptr_t)s->replay;
	if (!LOAD(&s->ready) || ioctl(s->fd, UVIRTIO_GET_INFLIGHT, &r)) {
		tap_diag("queue after take-over: %s", strerror(errno));
		return -1;
	}
	s->replay_n = r.count;
	s->last_avail = r.last_avail;
	return pthread_create(&s->thr, NULL, srv_thread, s) ? -1 : 0;
}

static void srv_stop(struct srv *s)
{
	if (s->thr) {
		STORE(&s->stop, 1);
		srv_wake(s);
		pthread_join(s->thr, NULL);
	}
	if (s->dom && s->dom != MAP_FAILED)
		munmap(s->dom, s->dom_size);
	if (s->fd >= 0)
		close(s->fd);
	if (s->kick >= 0)
		close(s->kick);
	if (s->call >= 0)
		close(s->call);
	if (s->wake >= 0)
		close(s->wake);
	free(s->disk);
}

/* The device's disk, opened for O_DIRECT, or -1. */
static int disk_open(const char *node)
{
	long end = temu_now_ms() + 10000;
	int fd;

	/* The node may still be the previous disk's for a moment (ENXIO). */
	while ((fd = open(node, O_RDWR | O_DIRECT | O_CLOEXEC)) < 0 &&
	       errno == ENXIO && temu_now_ms() < end)
		usleep(20000);
	return fd;
}

static void *aligned_buf(void)
{
	void *p = NULL;

	return posix_memalign(&p, BLK, BLK) ? NULL : p;
}

/* Writes through the driver land on our disk; reads return it. */
static void test_data(struct srv *s, int fd)
{
	uint8_t *buf = aligned_buf();
	unsigned int i, bad = 0;

	for (i = 0; buf && i < 64; i++) {
		off_t off = (off_t)((i * 37) % (DISK_BYTES / BLK)) * BLK;

		memset(buf, 0xa0 + (i & 15), BLK);
		buf[0] = i;
		if (pwrite(fd, buf, BLK, off) != BLK ||
		    memcmp(s->disk + off, buf, BLK))
			bad++;
		memset(s->disk + off + 100, i ^ 0x5a, 8);
		if (pread(fd, buf, BLK, off) != BLK ||
		    memcmp(s->disk + off, buf, BLK))
			bad++;
	}
	tap_ok(buf && !bad, "64 writes and reads through standard used ring entries: data right (%u wrong)",
	       bad);
	free(buf);
}

/* A child's O_DIRECT read of block @blk: exit 0 when it succeeds. */
static pid_t read_child(const char *node, unsigned int blk)
{
	pid_t pid = fork();

	if (!pid) {
		uint8_t *buf = aligned_buf();
		int fd = disk_open(node);

		_exit(fd >= 0 && buf && pread(fd, buf, BLK, (off_t)blk * BLK) == BLK ? 0 : 1);
	}
	return pid;
}

/* Wait up to @ms for @pid: its exit code, -1 still running (not reaped). */
static int child_wait(pid_t pid, long ms)
{
	long end = temu_now_ms() + ms;
	int st;

	do {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
		usleep(10000);
	} while (temu_now_ms() < end);
	return -1;
}

static void child_reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Entries of another epoch are not taken; once it is stored, they are. */
static void test_epoch(struct srv *s, const char *node)
{
	unsigned long before = LOAD(&s->served);
	uint64_t one = 1;
	int held, after;
	pid_t pid;

	STORE(s->ctrl_epoch, s->epoch + 1);
	pid = read_child(node, 7);
	held = child_wait(pid, 1500);
	tap_ok(held == -1 && LOAD(&s->served) > before,
	       "ctrl epoch differs: the read stays pending although served (%lu completions written)",
	       LOAD(&s->served) - before);
	STORE(s->ctrl_epoch, s->epoch);
	if (write(s->call, &one, sizeof(one)) != sizeof(one))
		perror("call eventfd");
	after = held == -1 ? child_wait(pid, 5000) : held;
	tap_ok(after == 0, "epoch stored: the read completes (%s)",
	       after == 0 ? "ok" : after < 0 ? "still pending" : "failed");
	if (after < 0)
		child_reap(pid);
}

static uint64_t kicks_drain(struct srv *s)
{
	uint64_t v = 0;

	if (read(s->kick, &v, sizeof(v)) != sizeof(v))
		v = 0;
	return v;
}

/* Count the kicks of @n reads while the server polls and wishes @quiet. */
static uint64_t kicks_during(struct srv *s, int fd, bool quiet, unsigned int n)
{
	uint8_t *buf = aligned_buf();
	unsigned int i;
	uint64_t k;

	STORE(&s->suppress, quiet);
	STORE(&s->mode, SRV_POLL);
	srv_wake(s);
	usleep(50000);		/* the wish is in place */
	kicks_drain(s);
	for (i = 0; buf && i < n; i++)
		if (pread(fd, buf, BLK, (off_t)i * BLK) != BLK)
			tap_diag("read %u: %s", i, strerror(errno));
	k = kicks_drain(s);
	free(buf);
	return k;
}

/*
 * Readers racing each other while the server sleeps in its kick eventfd
 * between batches: every read must complete, and the server must never
 * sleep STALL_MS with entries waiting.
 */
static void test_no_lost_kick(struct srv *s, const char *node, const char *what)
{
	pid_t pids[4];
	unsigned int i, ok = 0;
	long t0 = temu_now_ms();

	STORE(&s->mode, SRV_KICK);
	srv_wake(s);
	STORE(&s->stalls, 0);
	for (i = 0; i < 4; i++) {
		pids[i] = fork();
		if (!pids[i]) {
			uint8_t *buf = aligned_buf();
			int fd = disk_open(node);
			unsigned int j;

			for (j = 0; fd >= 0 && buf && j < 1500; j++)
				if (pread(fd, buf, BLK, (off_t)((j * 7 + i) % 2048) * BLK) != BLK)
					_exit(1);
			_exit(fd >= 0 && buf ? 0 : 1);
		}
	}
	for (i = 0; i < 4; i++) {
		int st = child_wait(pids[i], 120000);

		ok += st == 0;
		if (st < 0)
			child_reap(pids[i]);
	}
	tap_ok(ok == 4 && !LOAD(&s->stalls),
	       "%s: 4 readers x 1500 reads, server sleeping in its kick eventfd: %u of 4 done in %ld ms, %lu lost kicks",
	       what, ok, temu_now_ms() - t0, LOAD(&s->stalls));
}

static void test_kicks(bool event_idx)
{
	const char *what = event_idx ? "EVENT_IDX" : "no EVENT_IDX";
	char node[64] = "";
	struct srv s;
	int fd = -1;
	uint64_t quiet, loud;

	if (srv_start(&s, event_idx, 0, node, sizeof(node)) || (fd = disk_open(node)) < 0) {
		tap_ok(false, "%s: disk of a VRING_USED device appears", what);
		tap_ok(false, "%s: kicks suppressed", what);
		tap_ok(false, "%s: kicks when wanted", what);
		tap_ok(false, "%s: no kick lost", what);
		if (event_idx) {
			tap_ok(false, "data right");
			tap_ok(false, "epoch: held");
			tap_ok(false, "epoch: released");
		}
		srv_stop(&s);
		return;
	}
	tap_ok(true, "%s: disk of a VRING_USED device appears (%s)", what, node);
	if (event_idx) {
		test_data(&s, fd);
		test_epoch(&s, node);
	}
	quiet = kicks_during(&s, fd, true, 32);
	tap_ok(quiet == 0, "%s: VRING_USED_F_NO_NOTIFY%s: 32 reads, %llu kicks", what,
	       event_idx ? " (avail_event asking for kicks, ignored)" : "",
	       (unsigned long long)quiet);
	loud = kicks_during(&s, fd, false, 32);
	tap_ok(loud >= 1, "%s: flags 0%s: 32 reads, %llu kicks", what,
	       event_idx ? " (avail_event far ahead, ignored)" : "",
	       (unsigned long long)loud);
	test_no_lost_kick(&s, node, what);
	close(fd);
	srv_stop(&s);
}

/*
 * Recovery mode keeps working with this layout: the server dies with a
 * read outstanding, the read waits; a new server takes the device over,
 * serves the heads the kernel lists and the read completes, data right.
 */
static void test_recovery(void)
{
	char node[64] = "";
	uint8_t *buf = aligned_buf(), *disk;
	struct srv s, s2;
	uint32_t index;
	int fd, st = -2;
	long end;
	pid_t pid;

	if (srv_start(&s, true, UVIRTIO_CREATE_F_RECOVERY, node, sizeof(node)) ||
	    (fd = disk_open(node)) < 0 || !buf) {
		tap_ok(false, "recovery: the read waits while no server is attached");
		tap_ok(false, "recovery: after UVIRTIO_ATTACH the read completes, data right");
		srv_stop(&s);
		free(buf);
		return;
	}
	memset(buf, 0xc3, BLK);
	if (pwrite(fd, buf, BLK, 5 * BLK) != BLK)
		tap_diag("write before the crash: %s", strerror(errno));
	close(fd);
	/* The server dies: its thread, mapping and fd go, the disk stays. */
	index = s.index;
	disk = s.disk;
	s.disk = NULL;
	srv_stop(&s);
	pid = fork();
	if (!pid) {
		fd = disk_open(node);
		_exit(fd >= 0 && pread(fd, buf, BLK, 5 * BLK) == BLK &&
		      buf[0] == 0xc3 && buf[BLK - 1] == 0xc3 ? 0 : 1);
	}
	st = child_wait(pid, 1000);
	tap_ok(st == -1, "recovery: the read waits while no server is attached");
	if (srv_attach(&s2, index, disk))
		tap_diag("take-over failed");
	if (st == -1)
		st = child_wait(pid, 10000);
	tap_ok(st == 0, "recovery: after UVIRTIO_ATTACH the read completes, data right (%s)",
	       st == 0 ? "ok" : st < 0 ? "still pending" : "failed or wrong data");
	if (st < 0)
		child_reap(pid);
	/* Removed, not orphaned again: no device may outlive the test. */
	if (!ioctl(s2.fd, UVIRTIO_REMOVE))
		for (end = temu_now_ms() + 10000; !LOAD(&s2.removed) &&
		     temu_now_ms() < end;)
			usleep(20000);
	srv_stop(&s2);
	free(buf);
}

/* A child's O_DIRECT read of block @blk: exit 0 if it reads @blk's byte. */
static pid_t check_child(const char *node, unsigned int blk)
{
	pid_t pid = fork();

	if (!pid) {
		uint8_t *buf = aligned_buf();
		int fd = disk_open(node);

		_exit(fd >= 0 && buf && pread(fd, buf, BLK, (off_t)blk * BLK) == BLK &&
		      buf[0] == (uint8_t)(0x40 + blk) &&
		      buf[BLK - 1] == (uint8_t)(0x40 + blk) ? 0 : 1);
	}
	return pid;
}

/* Stop the server's thread, as if its process died; the device stays. */
static void srv_halt(struct srv *s)
{
	STORE(&s->stop, 1);
	srv_wake(s);
	pthread_join(s->thr, NULL);
	s->thr = 0;
	STORE(&s->stop, 0);
}

/* UVIRTIO_REQUEUE on @fd for queue @index; -errno or 0. */
static int requeue(int fd, uint32_t index, struct uvirtio_requeue *r)
{
	memset(r, 0, sizeof(*r));
	r->index = index;
	return ioctl(fd, UVIRTIO_REQUEUE, r) ? -errno : 0;
}

#define RQ_READS	8

static struct uvirtio_create create_for(uint32_t type, uint64_t features);

/*
 * UVIRTIO_REQUEUE: a server takes 8 reads and completes only those at even
 * avail positions, then its thread stops (a backend process that dies with
 * requests in hand). The module must re-post exactly the heads still out
 * as the last avail entries, from the used index on; a new server started
 * at that index ("start from the used index") completes each once, with
 * the right data, and the device lives. Then the ways it must refuse.
 */
static void test_requeue(void)
{
	char node[64] = "";
	struct uvirtio_requeue r = { 0 };
	struct uvirtio_create c;
	unsigned int i, j, n, hanging = 0, found = 0;
	pid_t pid[RQ_READS];
	int st[RQ_READS], err, fd2;
	struct srv s;
	uint16_t used;
	bool done;
	long end;

	if (srv_start(&s, true, 0, node, sizeof(node))) {
		for (i = 0; i < 6; i++)
			tap_ok(false, "requeue: set-up");
		srv_stop(&s);
		return;
	}
	for (i = 0; i < RQ_READS; i++)
		memset(s.disk + (size_t)(16 + i) * BLK, 0x40 + 16 + i, BLK);
	STORE(&s.mode, SRV_DROP_ODD);
	for (i = 0; i < RQ_READS; i++) {
		pid[i] = check_child(node, 16 + i);
		usleep(20000);	/* one request each, in turn */
	}
	/* every read taken: the even ones complete, the odd ones hang */
	for (end = temu_now_ms() + 5000; temu_now_ms() < end; usleep(20000))
		if (LOAD(&s.served) + LOAD(&s.dropped_n) >= RQ_READS)
			break;
	usleep(300000);
	for (i = 0; i < RQ_READS; i++) {
		st[i] = child_wait(pid[i], 1);
		hanging += st[i] == -1;
	}
	srv_halt(&s);
	n = LOAD(&s.dropped_n);
	used = le16toh(LOAD(&s.used->idx));
	err = requeue(s.fd, 0, &r);
	tap_ok(hanging >= 1 && n >= hanging,
	       "requeue: %u of %u reads held by a server that took %u without completing them",
	       hanging, RQ_READS, n);
	/* the re-posted entries are the dropped heads, each once */
	for (i = 0; !err && i < r.count; i++)
		for (j = 0; j < n; j++)
			if (le16toh(s.avail->ring[(uint16_t)(r.base + i) & (s.num - 1)]) ==
			    s.dropped[j]) {
				found++;
				break;
			}
	tap_ok(!err && r.base == used && r.count == n && found == n,
	       "requeue: base %u = the used index %u, %u heads re-posted = the %u dropped (%u found) (%s)",
	       r.base, used, r.count, n, found, err ? strerror(-err) : "ok");
	/* a new server from the used index on */
	s.last_avail = r.base;
	s.used_idx = r.base;
	STORE(&s.mode, SRV_KICK);
	if (pthread_create(&s.thr, NULL, srv_thread, &s))
		s.thr = 0;
	done = true;
	for (i = 0; i < RQ_READS; i++) {
		if (st[i] == -1)
			st[i] = child_wait(pid[i], 10000);
		if (st[i] < 0)
			child_reap(pid[i]);
		done &= st[i] == 0;
	}
	tap_ok(done && !LOAD(&s.removed),
	       "requeue: a new server at the used index completes every read once, data right, device alive");
	fd2 = open("/dev/uvirtio", O_RDWR | O_CLOEXEC);
	c = create_for(VIRTIO_ID_BLOCK, 0);
	err = fd2 >= 0 && !ioctl(fd2, UVIRTIO_CREATE, &c) ? requeue(fd2, 0, &r) : -EBADF;
	if (fd2 >= 0)
		close(fd2);
	tap_ok(requeue(s.fd, 1, &r) == -EINVAL && requeue(s.fd, UINT32_MAX, &r) == -EINVAL &&
	       err == -EINVAL,
	       "requeue: queue index out of range, or a device without standard used rings -> EINVAL (%s)",
	       strerror(-err));
	memset(&r, 0, sizeof(r));
	r.reserved[1] = 1;
	err = ioctl(s.fd, UVIRTIO_REQUEUE, &r) ? errno : 0;
	memset(&r, 0, sizeof(r));
	r.base = 3;
	tap_ok(err == EINVAL && ioctl(s.fd, UVIRTIO_REQUEUE, &r) && errno == EINVAL,
	       "requeue: non-zero reserved or output fields -> EINVAL");
	fd2 = open("/dev/uvirtio", O_RDWR | O_CLOEXEC);
	err = requeue(fd2, 0, &r);
	if (!ioctl(s.fd, UVIRTIO_REMOVE))
		for (end = temu_now_ms() + 10000; !LOAD(&s.removed) &&
		     temu_now_ms() < end;)
			usleep(20000);
	tap_ok(fd2 >= 0 && err == -ENODEV && requeue(s.fd, 0, &r) == -ENODEV,
	       "requeue: on a file without a device, and after removal -> ENODEV (%s)",
	       strerror(-requeue(s.fd, 0, &r)));
	if (fd2 >= 0)
		close(fd2);
	srv_stop(&s);
}

static void test_bad(int bad, uint32_t reason, const char *log)
{
	const char *what = bad == BAD_ID ? "bad id" : "bad length";
	char node[64] = "", dev[32], line[1024] = "";
	int kfd, st, n;
	struct srv s;
	long end;
	pid_t pid;

	if (srv_start(&s, true, 0, node, sizeof(node))) {
		tap_ok(false, "%s: the read fails", what);
		tap_ok(false, "%s: device removed for the right reason", what);
		srv_stop(&s);
		return;
	}
	snprintf(dev, sizeof(dev), "uvirtio-%u", s.index);
	kfd = kmsg_open();
	STORE(&s.bad, bad);
	pid = read_child(node, 3);
	st = child_wait(pid, 5000);
	tap_ok(st == 1, "%s: the read fails within 5 s", what);
	if (st < 0)
		child_reap(pid);
	for (end = temu_now_ms() + 5000; !LOAD(&s.removed) && temu_now_ms() < end;)
		usleep(20000);
	usleep(100000);
	n = kfd >= 0 ? kmsg_lines(kfd, dev, line, sizeof(line)) : -1;
	tap_ok(LOAD(&s.removed) && s.dead_reason == reason && n == 1 && strstr(line, log),
	       "%s: device removed with reason %s, one log line: %s", what,
	       uvdev_dead_str(s.dead_reason), strtok(line, "\n") ? line : "");
	if (kfd >= 0)
		close(kfd);
	srv_stop(&s);
}

static long try_create(struct uvirtio_create c)
{
	int fd = open("/dev/uvirtio", O_RDWR | O_CLOEXEC);
	long r = ioctl(fd, UVIRTIO_CREATE, &c) ? -errno : 0;

	close(fd);
	return r;
}

/* A config under which every allowed bit of the type is valid. */
static struct uvirtio_create create_for(uint32_t type, uint64_t features)
{
	static struct virtio_blk_config blk;
	static struct virtio_net_config net;
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
	struct uvirtio_create c = {
		.device_id = type,
		.num_queues = type == VIRTIO_ID_NET ?
			2 + !!(features & (1ULL << VIRTIO_NET_F_CTRL_VQ)) : 1,
		.queue_size = 64,
		.config_size = type == VIRTIO_ID_NET ? sizeof(net) : sizeof(blk),
		.config_addr = type == VIRTIO_ID_NET ? (uintptr_t)&net : (uintptr_t)&blk,
		.features = features,
		.bounce_size = UVIRTIO_MIN_BOUNCE_SIZE,
	};

	blk.capacity = htole64(2048);
	blk.size_max = htole32(65536);
	blk.seg_max = htole32(8);
	blk.blk_size = htole32(512);
	blk.num_queues = htole16(1);
	blk.max_discard_sectors = htole32(8);
	blk.max_discard_seg = htole32(1);
	blk.discard_sector_alignment = htole32(1);
	blk.max_write_zeroes_sectors = htole32(8);
	blk.max_write_zeroes_seg = htole32(1);
	blk.max_secure_erase_sectors = htole32(8);
	blk.max_secure_erase_seg = htole32(1);
	blk.secure_erase_sector_alignment = htole32(1);
	memcpy(net.mac, mac, sizeof(mac));
	net.max_virtqueue_pairs = htole16(1);
	net.mtu = htole16(1500);
	net.speed = htole32(1000);
	net.duplex = 1;
	return c;
}

/* Bits that need the net control queue: offered with it. */
#define NET_CVQ_DEPS	((1ULL << VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) | \
			 (1ULL << VIRTIO_NET_F_CTRL_RX) | \
			 (1ULL << VIRTIO_NET_F_CTRL_VLAN) | \
			 (1ULL << VIRTIO_NET_F_CTRL_RX_EXTRA) | \
			 (1ULL << VIRTIO_NET_F_MQ) | \
			 (1ULL << VIRTIO_NET_F_CTRL_MAC_ADDR))

static void test_features_type(uint32_t type, const char *what)
{
	struct uvirtio_features f = { .device_id = type };
	unsigned int bit, in_ok = 0, in_n = 0, out_ok = 0, out_n = 0;
	char first[96] = "";
	int fd = open("/dev/uvirtio", O_RDWR | O_CLOEXEC);
	long r;

	r = ioctl(fd, UVIRTIO_GET_FEATURES, &f) ? -errno : 0;
	close(fd);
	tap_ok(!r && f.features, "%s: UVIRTIO_GET_FEATURES: %#llx (%s)", what,
	       (unsigned long long)f.features, r ? strerror((int)-r) : "ok");
	for (bit = 0; !r && bit < 64; bit++) {
		uint64_t b = 1ULL << bit, feat = b;

		if (type == VIRTIO_ID_NET && (b & NET_CVQ_DEPS))
			feat |= 1ULL << VIRTIO_NET_F_CTRL_VQ;
		r = try_create(create_for(type, feat));
		if (f.features & b) {
			in_n++;
			in_ok += !r;
		} else {
			out_n++;
			out_ok += r == -EINVAL;
		}
		if ((f.features & b) ? r != 0 : r != -EINVAL)
			if (!first[0])
				snprintf(first, sizeof(first), "; first wrong: bit %u: %s",
					 bit, r ? strerror((int)-r) : "accepted");
		r = 0;
	}
	tap_ok(in_n && in_ok == in_n && out_ok == out_n,
	       "%s: each of the %u bits reported is accepted by UVIRTIO_CREATE (%u), each of the other %u refused with EINVAL (%u)%s",
	       what, in_n, in_ok, out_n, out_ok, first);
	tap_eq(try_create(create_for(type, f.features)), 0,
	       type == VIRTIO_ID_NET ? "net: all reported bits at once are accepted" :
	       "blk: all reported bits at once are accepted");
}

static void test_features(void)
{
	struct uvirtio_features f;
	unsigned int i;
	int fd = open("/dev/uvirtio", O_RDWR | O_CLOEXEC);
	bool ok = true;

	test_features_type(VIRTIO_ID_BLOCK, "blk");
	test_features_type(VIRTIO_ID_NET, "net");

	for (i = 0; i < 5; i++) {
		static const uint32_t bad[] = { 0, 3, 4, 9, 0xffffffffu };

		memset(&f, 0, sizeof(f));
		f.device_id = bad[i];
		ok &= ioctl(fd, UVIRTIO_GET_FEATURES, &f) && errno == EINVAL;
	}
	tap_ok(ok, "UVIRTIO_GET_FEATURES: other device types -> EINVAL");
	ok = true;
	for (i = 0; i < 4; i++) {
		memset(&f, 0, sizeof(f));
		f.device_id = VIRTIO_ID_BLOCK;
		if (i == 0)
			f.reserved0 = 1;
		else if (i == 3)
			f.features = 1;
		else
			f.reserved[i - 1] = 1;
		ok &= ioctl(fd, UVIRTIO_GET_FEATURES, &f) && errno == EINVAL;
	}
	tap_ok(ok, "UVIRTIO_GET_FEATURES: non-zero reserved (or input features) -> EINVAL");
	close(fd);
}

static void test_flags(void)
{
	struct uvirtio_create c = create_for(VIRTIO_ID_BLOCK, 0);
	unsigned int bit, refused = 0;

	c.flags = UVIRTIO_CREATE_F_VRING_USED;
	tap_eq(try_create(c), 0, "create: UVIRTIO_CREATE_F_VRING_USED accepted");
	c.flags |= UVIRTIO_CREATE_F_RECOVERY;
	tap_eq(try_create(c), 0, "create: VRING_USED | RECOVERY accepted");
	c.flags = UVIRTIO_CREATE_F_VRING_USED | UVIRTIO_CREATE_F_USED_LEN;
	tap_eq(try_create(c), 0, "create: VRING_USED | USED_LEN accepted for blk");
	for (bit = 3; bit < 32; bit++) {
		c.flags = UVIRTIO_CREATE_F_VRING_USED | 1U << bit;
		refused += try_create(c) == -EINVAL;
	}
	tap_ok(refused == 29, "create: each flag bit 3..31 refused with EINVAL (%u of 29)",
	       refused);
}

/* Every device of the test freed (within 10 s, for a slow kernel)? */
static bool devices_gone(void)
{
	long end = temu_now_ms() + 10000;

	while (temu_read_long("/sys/class/misc/uvirtio/devices") != 0) {
		if (temu_now_ms() > end)
			return false;
		usleep(50000);
	}
	return true;
}

int main(void)
{
	require_uvirtio(REQ_ROOT);
	tap_plan(4 + 8 + 7 + 4 + 2 + 6 + 2 * 2 + 1);
	test_flags();
	test_features();
	test_kicks(true);
	test_kicks(false);
	test_recovery();
	test_requeue();
	test_bad(BAD_ID, UVIRTIO_DEAD_BAD_ID, "used id is not an outstanding head");
	test_bad(BAD_LEN, UVIRTIO_DEAD_BAD_LEN, "used length exceeds the buffer");
	tap_ok(devices_gone(), "no device left after the test");
	return tap_done();
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * statfs.c - libuvstatfs: the FUSE status filesystem and its sampler
 *
 * Two threads of our own, both with every signal blocked (the emulator
 * handles signals): the FUSE thread answers requests on /dev/fuse, the
 * sampler takes one sample of every queue each SAMPLE_MS and keeps the
 * verdicts the stuck file shows. Neither ever takes a lock the data path
 * takes; the verdicts have their own mutex, shared only by these two.
 *
 * Unmounting when the emulator dies (measured on 6.1 and 6.12): libfuse's
 * auto_unmount leaves fusermount3 waiting on a socket, but when the daemon
 * is killed it often finds the connection not yet aborted (the socket
 * closes before the /dev/fuse fd in the dying process) and leaves the
 * mount in place, answering ENOTCONN. So a watchdog of our own, a shell
 * spawned in its own session holding only the read end of a pipe, runs
 * "fusermount3 -u -z DIR" when the pipe reaches EOF without the word
 * "unmounted" that uvstatfs_stop() writes after a clean unmount.
 *
 * The high-level libfuse API resolves paths for us; we run its session
 * with our own loop (poll on the session fd and a stop eventfd) so that
 * uvstatfs_stop() ends it without closing an fd another thread reads.
 */
#define FUSE_USE_VERSION 31

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fuse.h>
#include <fuse_lowlevel.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>

#include "shm.h"
#include "statfs.h"
#include "verdict.h"

#define SAMPLE_MS		250
#define STOP_JOIN_MS		2000
#define CTL_MAX			64

/* what a path names */
enum node_kind {
	N_NONE,
	N_ROOT,
	N_QUEUES,
	N_QUEUE,
	N_DEVICE,
	N_STUCK,
	N_CAPACITY,
	N_LINK,
	N_QFILE,
};

/* files of queues/N/ */
enum qfile {
	QF_AVAIL_IDX,
	QF_LAST_AVAIL_IDX,
	QF_SHADOW_IDX,
	QF_USED_IDX,
	QF_USED_EVENT,
	QF_AVAIL_EVENT,
	QF_INFLIGHT,
	QF_COUNTERS,
	QF_COUNT,
};

static const char *const qfile_names[QF_COUNT] = {
	[QF_AVAIL_IDX]		= "avail_idx",
	[QF_LAST_AVAIL_IDX]	= "last_avail_idx",
	[QF_SHADOW_IDX]		= "shadow_idx",
	[QF_USED_IDX]		= "used_idx",
	[QF_USED_EVENT]		= "used_event",
	[QF_AVAIL_EVENT]	= "avail_event",
	[QF_INFLIGHT]		= "inflight",
	[QF_COUNTERS]		= "counters",
};

/**
 * struct node - a resolved path
 * @kind:	N_*
 * @q:		queue index (N_QUEUE, N_QFILE)
 * @qf:		QF_* (N_QFILE)
 */
struct node {
	enum node_kind kind;
	unsigned int q;
	enum qfile qf;
};

/**
 * struct uvstatfs - one mounted status filesystem
 * @dev:	the device (its mapping outlives us)
 * @ops:	the device's callbacks
 * @opaque:	their argument
 * @dir:	mount point, NULL when not mounted (unit tests)
 * @fuse:	libfuse instance, NULL when not mounted
 * @fuse_thr:	the FUSE thread
 * @sampler_thr: the sampler thread
 * @stop_fd:	eventfd: written by uvstatfs_stop() to end both threads
 * @watchdog_fd: write end of the watchdog's pipe, or -1
 * @watchdog_pid: the watchdog, or 0
 * @vlock:	protects @v (the sampler writes, stuck readers read)
 * @v:		per-queue verdicts
 */
struct uvstatfs {
	struct uvdev *dev;
	const struct uvstatfs_ops *ops;
	void *opaque;
	char *dir;
	struct fuse *fuse;
	pthread_t fuse_thr;
	pthread_t sampler_thr;
	int stop_fd;
	int watchdog_fd;
	pid_t watchdog_pid;
	pthread_mutex_t vlock;
	struct uvstatfs_qverdict v[UVIRTIO_MAX_QUEUES];
};

/**
 * struct qsnap - one queue's indices, loaded without locks
 * @ready:	queue set up
 * @num:	ring size
 * @avail_idx:	driver's avail idx
 * @last_avail:	device's next entry
 * @shadow_idx:	device's published completions
 * @used_idx:	driver's used idx
 * @used_event:	driver's used_event
 * @avail_event: used ring's avail_event
 */
struct qsnap {
	bool ready;
	unsigned int num;
	uint16_t avail_idx;
	uint16_t last_avail;
	uint16_t shadow_idx;
	uint16_t used_idx;
	uint16_t used_event;
	uint16_t avail_event;
};

/**
 * uvstatfs_now_ns() - CLOCK_MONOTONIC in nanoseconds
 *
 * Return: the time
 */
uint64_t uvstatfs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/**
 * queue_snap() - load a queue's indices while its owner serves it
 * @dev:	device
 * @i:		queue index
 * @s:		out
 *
 * struct uvq belongs to the serving thread: its fields are read with
 * atomic loads (each is naturally aligned), the rings through their
 * shared-memory accessors. The domain stays mapped while the device
 * lives, so a pointer that was valid once still points into it.
 */
static void queue_snap(struct uvdev *dev, unsigned int i, struct qsnap *s)
{
	struct uvq *vq = &dev->q[i].vq;
	const struct vring_avail *avail;
	const struct vring_used *used;
	struct uvirtio_shadow *shadow;
	const uint16_t *p;
	unsigned int num;

	memset(s, 0, sizeof(*s));
	s->ready = __atomic_load_n(&vq->ready, __ATOMIC_ACQUIRE);
	num = __atomic_load_n(&vq->num, __ATOMIC_RELAXED);
	avail = __atomic_load_n(&vq->avail, __ATOMIC_RELAXED);
	used = __atomic_load_n(&vq->used, __ATOMIC_RELAXED);
	shadow = __atomic_load_n(&vq->shadow, __ATOMIC_RELAXED);
	if (!s->ready || !avail || !used || !shadow || !num ||
	    num > UVIRTIO_MAX_QUEUE_SIZE) {
		s->ready = false;
		return;
	}
	s->num = num;
	s->avail_idx = le16toh(shm_load16(&avail->idx, memory_order_acquire));
	s->last_avail = __atomic_load_n(&vq->last_avail, __ATOMIC_RELAXED);
	s->shadow_idx = shm_load16(&shadow->idx, memory_order_acquire);
	s->used_idx = le16toh(shm_load16(&used->idx, memory_order_acquire));
	/* used_event follows the avail ring's num entries */
	p = (const uint16_t *)((const uint8_t *)avail + 4 + 2 * num);
	s->used_event = le16toh(shm_load16(p, memory_order_relaxed));
	/* avail_event follows the used ring's num 8-byte entries */
	p = (const uint16_t *)((const uint8_t *)used + 4 + 8 * num);
	s->avail_event = le16toh(shm_load16(p, memory_order_relaxed));
}

/**
 * struct age_count - emit context counting old requests
 * @now_ns:	time of the count
 * @old:	requests older than UVSTATFS_INFLIGHT_MS
 */
struct age_count {
	uint64_t now_ns;
	unsigned int old;
};

/**
 * count_old() - uvstatfs_emit_fn: count a request if it is old
 * @ctx:	struct age_count
 * @r:		request
 */
static void count_old(void *ctx, const struct uvstatfs_req *r)
{
	struct age_count *a = ctx;

	if (a->now_ns > r->start_ns &&
	    a->now_ns - r->start_ns > UVSTATFS_INFLIGHT_MS * 1000000ULL)
		a->old++;
}

/**
 * sample_all() - one sample of every queue into the verdicts
 * @fs:		filesystem
 */
static void sample_all(struct uvstatfs *fs)
{
	uint64_t now = uvstatfs_now_ns();
	struct uvstatfs_sample s;
	struct qsnap qs;
	unsigned int i, n = fs->dev->num_queues;

	for (i = 0; i < n && i < UVIRTIO_MAX_QUEUES; i++) {
		struct age_count a = { .now_ns = now };

		queue_snap(fs->dev, i, &qs);
		if (qs.ready && fs->ops->inflight)
			fs->ops->inflight(fs->opaque, i, count_old, &a);
		s.ready = qs.ready;
		/* buffers waiting for data to come are not waiting on anyone */
		s.avail_idx = fs->ops->passive_queues & (1ULL << i) ?
			      qs.last_avail : qs.avail_idx;
		s.last_avail = qs.last_avail;
		s.shadow_idx = qs.shadow_idx;
		s.used_idx = qs.used_idx;
		s.old_inflight = a.old;
		pthread_mutex_lock(&fs->vlock);
		uvstatfs_verdict_update(&fs->v[i], &s,
					(int64_t)(now / 1000000ULL));
		pthread_mutex_unlock(&fs->vlock);
	}
}

/**
 * sampler_main() - the sampler thread
 * @arg:	struct uvstatfs
 *
 * Return: NULL
 */
static void *sampler_main(void *arg)
{
	struct uvstatfs *fs = arg;
	struct pollfd pfd = { .fd = fs->stop_fd, .events = POLLIN };

	for (;;) {
		sample_all(fs);
		if (poll(&pfd, 1, SAMPLE_MS) > 0)
			break;
	}
	return NULL;
}

/* ---- names for the device file ---- */

/**
 * struct bit_name - a feature or status bit and its name
 * @bit:	bit number
 * @name:	name
 */
struct bit_name {
	unsigned int bit;
	const char *name;
};

static const struct bit_name transport_bits[] = {
	{ 28, "INDIRECT_DESC" }, { 29, "EVENT_IDX" }, { 32, "VERSION_1" },
	{ 33, "ACCESS_PLATFORM" }, { 34, "RING_PACKED" }, { 35, "IN_ORDER" },
	{ 36, "ORDER_PLATFORM" }, { 37, "SR_IOV" },
	{ 38, "NOTIFICATION_DATA" }, { 40, "RING_RESET" }, { 0, NULL },
};

static const struct bit_name blk_bits[] = {
	{ 1, "SIZE_MAX" }, { 2, "SEG_MAX" }, { 4, "GEOMETRY" }, { 5, "RO" },
	{ 6, "BLK_SIZE" }, { 9, "FLUSH" }, { 10, "TOPOLOGY" },
	{ 11, "CONFIG_WCE" }, { 12, "MQ" }, { 13, "DISCARD" },
	{ 14, "WRITE_ZEROES" }, { 15, "LIFETIME" }, { 16, "SECURE_ERASE" },
	{ 17, "ZONED" }, { 0, NULL },
};

static const struct bit_name net_bits[] = {
	{ 0, "CSUM" }, { 1, "GUEST_CSUM" }, { 2, "CTRL_GUEST_OFFLOADS" },
	{ 3, "MTU" }, { 5, "MAC" }, { 7, "GUEST_TSO4" }, { 8, "GUEST_TSO6" },
	{ 9, "GUEST_ECN" }, { 10, "GUEST_UFO" }, { 11, "HOST_TSO4" },
	{ 12, "HOST_TSO6" }, { 13, "HOST_ECN" }, { 14, "HOST_UFO" },
	{ 15, "MRG_RXBUF" }, { 16, "STATUS" }, { 17, "CTRL_VQ" },
	{ 18, "CTRL_RX" }, { 19, "CTRL_VLAN" }, { 21, "GUEST_ANNOUNCE" },
	{ 22, "MQ" }, { 23, "CTRL_MAC_ADDR" }, { 0, NULL },
};

static const struct bit_name status_bits[] = {
	{ 0, "ACKNOWLEDGE" }, { 1, "DRIVER" }, { 2, "DRIVER_OK" },
	{ 3, "FEATURES_OK" }, { 6, "DEVICE_NEEDS_RESET" }, { 7, "FAILED" },
	{ 0, NULL },
};

/**
 * bit_lookup() - name of a bit in a table
 * @t:		table, ended by a NULL name
 * @bit:	bit number
 *
 * Return: the name, or NULL
 */
static const char *bit_lookup(const struct bit_name *t, unsigned int bit)
{
	for (; t->name; t++)
		if (t->bit == bit)
			return t->name;
	return NULL;
}

/**
 * print_features() - feature bits by name, unknown ones as bitN
 * @f:		stream
 * @device_id:	VIRTIO_ID_*
 * @features:	bits
 */
static void print_features(FILE *f, uint32_t device_id, uint64_t features)
{
	const struct bit_name *dev_bits = device_id == VIRTIO_ID_BLOCK ?
		blk_bits : device_id == VIRTIO_ID_NET ? net_bits : NULL;
	unsigned int bit;

	fprintf(f, "features: 0x%016llx", (unsigned long long)features);
	for (bit = 0; bit < 64; bit++) {
		const char *name = NULL;

		if (!(features & (1ULL << bit)))
			continue;
		if (bit < 24 && dev_bits)
			name = bit_lookup(dev_bits, bit);
		else
			name = bit_lookup(transport_bits, bit);
		if (name)
			fprintf(f, " %s", name);
		else
			fprintf(f, " bit%u", bit);
	}
	fputc('\n', f);
}

/* ---- file contents ---- */

/**
 * struct inflight_print - emit context printing requests
 * @f:		stream
 * @now_ns:	time of the listing
 */
struct inflight_print {
	FILE *f;
	uint64_t now_ns;
};

/**
 * print_req() - uvstatfs_emit_fn: one line of the inflight file
 * @ctx:	struct inflight_print
 * @r:		request
 */
static void print_req(void *ctx, const struct uvstatfs_req *r)
{
	struct inflight_print *p = ctx;
	uint64_t age = p->now_ns > r->start_ns ? p->now_ns - r->start_ns : 0;

	fprintf(p->f, "head %u type %s sector %llu len %u age_ms %llu\n",
		r->head, r->type, (unsigned long long)r->sector, r->len,
		(unsigned long long)(age / 1000000ULL));
}

/**
 * gen_device() - the device file
 * @fs:		filesystem
 * @f:		stream
 */
static void gen_device(struct uvstatfs *fs, FILE *f)
{
	struct uvirtio_status st;
	char buf[1024];
	unsigned int bit;
	int n;

	if (fs->ops->describe) {
		n = fs->ops->describe(fs->opaque, buf, sizeof(buf));
		if (n > 0)
			fwrite(buf, 1, strnlen(buf, sizeof(buf)), f);
	}
	fprintf(f, "index: %u\n", fs->dev->index);
	fprintf(f, "queues: %u\n", fs->dev->num_queues);
	if (uvdev_get_status(fs->dev, &st)) {
		fprintf(f, "features: -\nstatus: -\n");
		return;
	}
	print_features(f, fs->ops->device_id, st.driver_features);
	fprintf(f, "status: 0x%02x", st.status);
	for (bit = 0; bit < 8; bit++) {
		const char *name = bit_lookup(status_bits, bit);

		if (st.status & (1U << bit))
			fprintf(f, " %s", name ? name : "?");
	}
	fputc('\n', f);
	if (st.dead_reason)
		fprintf(f, "dead: %s\n", uvdev_dead_str(st.dead_reason));
}

/**
 * gen_stuck() - the stuck file
 * @fs:		filesystem
 * @f:		stream
 */
static void gen_stuck(struct uvstatfs *fs, FILE *f)
{
	char line[512];
	unsigned int i;
	bool ok = true;

	pthread_mutex_lock(&fs->vlock);
	for (i = 0; i < fs->dev->num_queues && i < UVIRTIO_MAX_QUEUES; i++) {
		if (uvstatfs_verdict_ok(&fs->v[i]))
			continue;
		uvstatfs_verdict_format(&fs->v[i], i, line, sizeof(line));
		fputs(line, f);
		ok = false;
	}
	pthread_mutex_unlock(&fs->vlock);
	if (ok)
		fputs("ok\n", f);
}

/**
 * gen_qfile() - one file of queues/N/
 * @fs:		filesystem
 * @q:		queue
 * @qf:		which file
 * @f:		stream
 */
static void gen_qfile(struct uvstatfs *fs, unsigned int q, enum qfile qf,
		      FILE *f)
{
	struct uvstatfs_counters c;
	struct qsnap s;

	queue_snap(fs->dev, q, &s);
	switch (qf) {
	case QF_AVAIL_IDX:
		fprintf(f, "%u\n", s.avail_idx);
		break;
	case QF_LAST_AVAIL_IDX:
		fprintf(f, "%u\n", s.last_avail);
		break;
	case QF_SHADOW_IDX:
		fprintf(f, "%u\n", s.shadow_idx);
		break;
	case QF_USED_IDX:
		fprintf(f, "%u\n", s.used_idx);
		break;
	case QF_USED_EVENT:
		fprintf(f, "%u\n", s.used_event);
		break;
	case QF_AVAIL_EVENT:
		fprintf(f, "%u\n", s.avail_event);
		break;
	case QF_INFLIGHT:
		if (s.ready && fs->ops->inflight) {
			struct inflight_print p = {
				.f = f, .now_ns = uvstatfs_now_ns(),
			};

			fs->ops->inflight(fs->opaque, q, print_req, &p);
		}
		break;
	case QF_COUNTERS:
		memset(&c, 0, sizeof(c));
		if (fs->ops->counters)
			fs->ops->counters(fs->opaque, q, &c);
#define PRINT_COUNTER(name) \
		fprintf(f, #name " %llu\n", (unsigned long long)	\
			atomic_load_explicit(&c.name, memory_order_relaxed))
		PRINT_COUNTER(kicks);
		PRINT_COUNTER(interrupts);
		PRINT_COUNTER(interrupts_suppressed);
		PRINT_COUNTER(requests);
		PRINT_COUNTER(bytes);
		PRINT_COUNTER(errors);
#undef PRINT_COUNTER
		break;
	default:
		break;
	}
}

/**
 * node_resolve() - what a path names
 * @fs:		filesystem
 * @path:	absolute path inside the mount
 * @n:		out
 *
 * Return: 0, or -ENOENT
 */
static int node_resolve(struct uvstatfs *fs, const char *path,
			struct node *n)
{
	unsigned int ctl = fs->ops->controls, i;
	char *end;
	unsigned long q;

	memset(n, 0, sizeof(*n));
	if (!strcmp(path, "/"))
		n->kind = N_ROOT;
	else if (!strcmp(path, "/device"))
		n->kind = N_DEVICE;
	else if (!strcmp(path, "/stuck"))
		n->kind = N_STUCK;
	else if (!strcmp(path, "/capacity") && (ctl & UVSTATFS_CTL_CAPACITY))
		n->kind = N_CAPACITY;
	else if (!strcmp(path, "/link") && (ctl & UVSTATFS_CTL_LINK))
		n->kind = N_LINK;
	else if (!strcmp(path, "/queues"))
		n->kind = N_QUEUES;
	if (n->kind != N_NONE)
		return 0;
	if (strncmp(path, "/queues/", 8) || path[8] < '0' || path[8] > '9')
		return -ENOENT;
	q = strtoul(path + 8, &end, 10);
	if (q >= fs->dev->num_queues || (path[8] == '0' && end != path + 9))
		return -ENOENT;
	n->q = q;
	if (!*end) {
		n->kind = N_QUEUE;
		return 0;
	}
	if (*end != '/')
		return -ENOENT;
	for (i = 0; i < QF_COUNT; i++) {
		if (!strcmp(end + 1, qfile_names[i])) {
			n->kind = N_QFILE;
			n->qf = i;
			return 0;
		}
	}
	return -ENOENT;
}

/**
 * node_writable() - the node is a writable control
 * @n:		node
 *
 * Return: its UVSTATFS_CTL_* bit, or 0
 */
static unsigned int node_writable(const struct node *n)
{
	if (n->kind == N_CAPACITY)
		return UVSTATFS_CTL_CAPACITY;
	if (n->kind == N_LINK)
		return UVSTATFS_CTL_LINK;
	return 0;
}

/**
 * node_generate() - a file's contents now
 * @fs:		filesystem
 * @n:		node, a file
 * @buf:	out: malloc()ed contents (caller frees)
 * @len:	out: bytes
 *
 * Return: 0, or -ENOMEM
 */
static int node_generate(struct uvstatfs *fs, const struct node *n,
			 char **buf, size_t *len)
{
	char ctl[CTL_MAX];
	FILE *f;

	*buf = NULL;
	*len = 0;
	f = open_memstream(buf, len);
	if (!f)
		return -ENOMEM;
	switch (n->kind) {
	case N_DEVICE:
		gen_device(fs, f);
		break;
	case N_STUCK:
		gen_stuck(fs, f);
		break;
	case N_CAPACITY:
	case N_LINK:
		if (fs->ops->get_control &&
		    fs->ops->get_control(fs->opaque, node_writable(n), ctl,
					 sizeof(ctl)) >= 0)
			fputs(ctl, f);
		break;
	case N_QFILE:
		gen_qfile(fs, n->q, n->qf, f);
		break;
	default:
		break;
	}
	if (fclose(f)) {
		free(*buf);
		*buf = NULL;
		return -ENOMEM;
	}
	return 0;
}

/**
 * node_write() - apply a value written to a control
 * @fs:		filesystem
 * @n:		node
 * @val:	bytes written
 * @len:	their count
 *
 * Trailing blanks and newlines are dropped (echo adds one).
 *
 * Return: 0, -EACCES for a read-only file, -EINVAL for an empty or
 * oversized value, or the device's error
 */
static int node_write(struct uvstatfs *fs, const struct node *n,
		      const char *val, size_t len)
{
	unsigned int ctl = node_writable(n);
	char buf[CTL_MAX];

	if (!ctl || !fs->ops->set_control)
		return -EACCES;
	while (len && (val[len - 1] == '\n' || val[len - 1] == ' ' ||
		       val[len - 1] == '\t'))
		len--;
	if (!len || len >= sizeof(buf) || memchr(val, '\0', len))
		return -EINVAL;
	memcpy(buf, val, len);
	buf[len] = '\0';
	return fs->ops->set_control(fs->opaque, ctl, buf);
}

/**
 * uvstatfs_read_file() - a file's contents, without going through FUSE
 * @fs:		filesystem
 * @path:	path inside the mount ("/stuck", "/queues/0/used_idx")
 * @buf:	out: malloc()ed contents
 * @len:	out: bytes
 *
 * Return: 0, -ENOENT, -EISDIR, -ENOMEM
 */
int uvstatfs_read_file(struct uvstatfs *fs, const char *path, char **buf,
		       size_t *len)
{
	struct node n;
	int ret = node_resolve(fs, path, &n);

	if (ret)
		return ret;
	if (n.kind == N_ROOT || n.kind == N_QUEUES || n.kind == N_QUEUE)
		return -EISDIR;
	return node_generate(fs, &n, buf, len);
}

/**
 * uvstatfs_write_file() - write a control, without going through FUSE
 * @fs:		filesystem
 * @path:	path inside the mount ("/link")
 * @val:	value
 * @len:	bytes at @val
 *
 * Return: 0, or -errno as a write() of the file would fail
 */
int uvstatfs_write_file(struct uvstatfs *fs, const char *path,
			const char *val, size_t len)
{
	struct node n;
	int ret = node_resolve(fs, path, &n);

	if (ret)
		return ret;
	return node_write(fs, &n, val, len);
}

/* ---- FUSE operations ---- */

/**
 * ctx_fs() - the filesystem of the calling FUSE request
 *
 * Return: struct uvstatfs
 */
static struct uvstatfs *ctx_fs(void)
{
	return fuse_get_context()->private_data;
}

/**
 * fs_init() - FUSE init: nothing cached, every read goes to us
 * @conn:	connection
 * @cfg:	configuration
 *
 * Return: the filesystem, as private_data of every request
 */
static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->direct_io = 1;
	cfg->kernel_cache = 0;
	cfg->attr_timeout = 0;
	cfg->entry_timeout = 0;
	cfg->negative_timeout = 0;
	return fuse_get_context()->private_data;
}

/**
 * fs_getattr() - FUSE getattr
 * @path:	path
 * @st:		out
 * @fi:		open file, or NULL
 *
 * A file's size is the length of its contents now: read() goes to us
 * anyway (direct_io), but sendfile() and splice() on some kernels read
 * through the page cache, which stops at the size.
 *
 * Return: 0 or -ENOENT
 */
static int fs_getattr(const char *path, struct stat *st,
		      struct fuse_file_info *fi)
{
	struct uvstatfs *fs = ctx_fs();
	struct node n;
	int ret;

	(void)fi;
	ret = node_resolve(fs, path, &n);
	if (ret)
		return ret;
	memset(st, 0, sizeof(*st));
	st->st_uid = getuid();
	st->st_gid = getgid();
	if (n.kind == N_ROOT || n.kind == N_QUEUES || n.kind == N_QUEUE) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	} else {
		char *buf;
		size_t len;

		st->st_mode = S_IFREG | (node_writable(&n) ? 0644 : 0444);
		st->st_nlink = 1;
		if (!node_generate(fs, &n, &buf, &len)) {
			st->st_size = len;
			free(buf);
		}
	}
	return 0;
}

/**
 * fs_readdir() - FUSE readdir
 * @path:	directory
 * @buf:	libfuse's buffer
 * @fill:	adds one entry
 * @off:	unused (whole listing at once)
 * @fi:		unused
 * @flags:	unused
 *
 * Return: 0, -ENOENT, -ENOTDIR
 */
static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill,
		      off_t off, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	struct uvstatfs *fs = ctx_fs();
	struct node n;
	char name[16];
	unsigned int i;
	int ret;

	(void)off;
	(void)fi;
	(void)flags;
	ret = node_resolve(fs, path, &n);
	if (ret)
		return ret;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	switch (n.kind) {
	case N_ROOT:
		fill(buf, "device", NULL, 0, 0);
		fill(buf, "stuck", NULL, 0, 0);
		if (fs->ops->controls & UVSTATFS_CTL_CAPACITY)
			fill(buf, "capacity", NULL, 0, 0);
		if (fs->ops->controls & UVSTATFS_CTL_LINK)
			fill(buf, "link", NULL, 0, 0);
		fill(buf, "queues", NULL, 0, 0);
		return 0;
	case N_QUEUES:
		for (i = 0; i < fs->dev->num_queues; i++) {
			snprintf(name, sizeof(name), "%u", i);
			fill(buf, name, NULL, 0, 0);
		}
		return 0;
	case N_QUEUE:
		for (i = 0; i < QF_COUNT; i++)
			fill(buf, qfile_names[i], NULL, 0, 0);
		return 0;
	default:
		return -ENOTDIR;
	}
}

/**
 * struct open_file - an open file: its snapshot
 * @n:		what it is
 * @buf:	contents as of open (NULL when opened for writing)
 * @len:	bytes at @buf
 */
struct open_file {
	struct node n;
	char *buf;
	size_t len;
};

/**
 * fs_open() - FUSE open: take the file's snapshot
 * @path:	path
 * @fi:		open file
 *
 * Return: 0, -ENOENT, -EISDIR, -EACCES (writing a read-only file), -ENOMEM
 */
static int fs_open(const char *path, struct fuse_file_info *fi)
{
	struct uvstatfs *fs = ctx_fs();
	struct open_file *of;
	int ret, acc = fi->flags & O_ACCMODE;

	of = calloc(1, sizeof(*of));
	if (!of)
		return -ENOMEM;
	ret = node_resolve(fs, path, &of->n);
	if (!ret && (of->n.kind == N_ROOT || of->n.kind == N_QUEUES ||
		     of->n.kind == N_QUEUE))
		ret = -EISDIR;
	if (!ret && acc != O_RDONLY && !node_writable(&of->n))
		ret = -EACCES;
	if (!ret && acc != O_WRONLY)
		ret = node_generate(fs, &of->n, &of->buf, &of->len);
	if (ret) {
		free(of);
		return ret;
	}
	fi->fh = (uintptr_t)of;
	fi->direct_io = 1;
	fi->nonseekable = 0;
	return 0;
}

/**
 * fs_read() - FUSE read from the snapshot
 * @path:	unused
 * @buf:	out
 * @size:	bytes wanted
 * @off:	offset
 * @fi:		open file
 *
 * Return: bytes copied
 */
static int fs_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;

	(void)path;
	if (off < 0 || (size_t)off >= of->len)
		return 0;
	if (size > of->len - off)
		size = of->len - off;
	memcpy(buf, of->buf + off, size);
	return size;
}

/**
 * fs_write() - FUSE write: one write() is one value, applied at once
 * @path:	unused
 * @buf:	bytes
 * @size:	their count
 * @off:	must be 0
 * @fi:		open file
 *
 * Return: @size, or -errno from the device (what write() fails with)
 */
static int fs_write(const char *path, const char *buf, size_t size,
		    off_t off, struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;
	int ret;

	(void)path;
	if (off)
		return -EINVAL;
	ret = node_write(ctx_fs(), &of->n, buf, size);
	return ret ? ret : (int)size;
}

/**
 * fs_truncate() - FUSE truncate: accepted on controls (O_TRUNC of >)
 * @path:	path
 * @size:	ignored
 * @fi:		open file, or NULL
 *
 * Return: 0, -ENOENT, -EACCES
 */
static int fs_truncate(const char *path, off_t size,
		       struct fuse_file_info *fi)
{
	struct node n;
	int ret;

	(void)size;
	(void)fi;
	ret = node_resolve(ctx_fs(), path, &n);
	if (ret)
		return ret;
	return node_writable(&n) ? 0 : -EACCES;
}

/**
 * fs_release() - FUSE release: drop the snapshot
 * @path:	unused
 * @fi:		open file
 *
 * Return: 0
 */
static int fs_release(const char *path, struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;

	(void)path;
	free(of->buf);
	free(of);
	return 0;
}

static const struct fuse_operations fs_ops = {
	.init		= fs_init,
	.getattr	= fs_getattr,
	.readdir	= fs_readdir,
	.open		= fs_open,
	.read		= fs_read,
	.write		= fs_write,
	.truncate	= fs_truncate,
	.release	= fs_release,
};

/**
 * fuse_main_loop() - the FUSE thread: serve requests until told to stop
 * @arg:	struct uvstatfs
 *
 * Return: NULL
 */
static void *fuse_main_loop(void *arg)
{
	struct uvstatfs *fs = arg;
	struct fuse_session *se = fuse_get_session(fs->fuse);
	struct fuse_buf buf = { .mem = NULL };
	struct pollfd pfd[2] = {
		{ .fd = fuse_session_fd(se), .events = POLLIN },
		{ .fd = fs->stop_fd, .events = POLLIN },
	};
	int ret;

	while (!fuse_session_exited(se)) {
		ret = poll(pfd, 2, -1);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0 || pfd[1].revents)
			break;
		if (pfd[0].revents & (POLLERR | POLLHUP))
			break;
		ret = fuse_session_receive_buf(se, &buf);
		if (ret == -EINTR || ret == -EAGAIN)
			continue;
		if (ret <= 0)
			break;
		fuse_session_process_buf(se, &buf);
	}
	free(buf.mem);
	return NULL;
}

/**
 * start_thread() - a thread with every signal blocked
 * @thr:	out
 * @fn:		thread function
 * @arg:	its argument
 *
 * Return: 0 or -errno
 */
static int start_thread(pthread_t *thr, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int ret;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(thr, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -ret;
}

/**
 * join_bounded() - join a thread, giving up after STOP_JOIN_MS
 * @thr:	thread
 *
 * Return: 0 if joined, -ETIMEDOUT
 */
static int join_bounded(pthread_t thr)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += STOP_JOIN_MS / 1000;
	return -pthread_timedjoin_np(thr, NULL, &ts);
}

/**
 * fs_mount() - create the FUSE instance and mount it at fs->dir
 * @fs:		filesystem
 *
 * auto_unmount makes libfuse mount through fusermount3, which stays
 * behind as a helper and unmounts when this process dies however it dies.
 *
 * Return: 0, -EIO if libfuse refused (it printed why on stderr)
 */
static int fs_mount(struct uvstatfs *fs)
{
	char opts[128];
	char *argv[] = { "uvstatfs", "-o", opts, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);

	snprintf(opts, sizeof(opts),
		 "auto_unmount,default_permissions,fsname=uvirtio-%u,subtype=uvirtio",
		 fs->dev->index);
	fs->fuse = fuse_new(&args, &fs_ops, sizeof(fs_ops), fs);
	if (!fs->fuse)
		return -EIO;
	if (fuse_mount(fs->fuse, fs->dir)) {
		fuse_destroy(fs->fuse);
		fs->fuse = NULL;
		return -EIO;
	}
	return 0;
}

/**
 * watchdog_start() - spawn the process that unmounts if we die
 * @fs:		filesystem, mounted
 *
 * The watchdog is "sh -c SCRIPT DIR" with the pipe as its stdin and no
 * other fd of ours (in particular not the uvirtio device fd, whose last
 * close removes the device) and no mapping of ours (posix_spawn execs at
 * once). It runs in its own session so that a signal to our process group
 * does not take it along.
 *
 * Return: 0 or -errno
 */
static int watchdog_start(struct uvstatfs *fs)
{
	static const char script[] =
		"read -r word; [ \"$word\" = unmounted ] && exit 0; "
		"exec fusermount3 -u -z -q -- \"$0\"";
	char *argv[] = { "sh", "-c", (char *)script, fs->dir, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int p[2], ret;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_adddup2(&fa, p[0], 0);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID |
				 POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	ret = -posix_spawnp(&fs->watchdog_pid, "sh", &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(p[0]);
	if (ret) {
		close(p[1]);
		fs->watchdog_pid = 0;
		return ret;
	}
	fs->watchdog_fd = p[1];
	return 0;
}

/**
 * watchdog_stop() - tell the watchdog the unmount was done
 * @fs:		filesystem
 *
 * The watchdog is not waited for: it exits at once, and a process that
 * does not reap children leaves only a zombie until it exits itself.
 */
static void watchdog_stop(struct uvstatfs *fs)
{
	static const char word[] = "unmounted\n";

	if (fs->watchdog_fd < 0)
		return;
	if (write(fs->watchdog_fd, word, sizeof(word) - 1) < 0) {
		/* the watchdog is gone: nothing to tell */
	}
	close(fs->watchdog_fd);
	fs->watchdog_fd = -1;
	waitpid(fs->watchdog_pid, NULL, WNOHANG);
}

/**
 * uvstatfs_watchdog_pid() - the process that unmounts if the emulator dies
 * @fs:		filesystem
 *
 * Return: its pid, or 0 if there is none (not mounted)
 */
pid_t uvstatfs_watchdog_pid(const struct uvstatfs *fs)
{
	return fs->watchdog_pid;
}

/**
 * uvstatfs_start() - mount the status filesystem and start its threads
 * @fsp:	out: the filesystem
 * @dir:	mount point (an existing directory the caller owns), or NULL
 *		for no mount (uvstatfs_read_file() still works)
 * @dev:	the device; must stay valid until uvstatfs_stop()
 * @ops:	the device's callbacks; must stay valid as long
 * @opaque:	their argument
 *
 * Return: 0, -ENOMEM, -ENOTDIR, -errno of stat(@dir) (-ENOTCONN: a dead
 * FUSE mount is there, "fusermount3 -u DIR" removes it), -EIO (mount
 * failed; libfuse or fusermount3 printed why), or -errno of thread creation
 */
int uvstatfs_start(struct uvstatfs **fsp, const char *dir, struct uvdev *dev,
		   const struct uvstatfs_ops *ops, void *opaque)
{
	struct uvstatfs *fs;
	struct stat st;
	unsigned int i;
	int ret;

	if (dir && stat(dir, &st))
		return -errno;
	if (dir && !S_ISDIR(st.st_mode))
		return -ENOTDIR;
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fs->dev = dev;
	fs->ops = ops;
	fs->opaque = opaque;
	pthread_mutex_init(&fs->vlock, NULL);
	for (i = 0; i < UVIRTIO_MAX_QUEUES; i++)
		uvstatfs_verdict_init(&fs->v[i]);
	fs->watchdog_fd = -1;
	fs->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fs->stop_fd < 0) {
		ret = -errno;
		goto err_free;
	}
	if (dir) {
		fs->dir = strdup(dir);
		ret = fs->dir ? fs_mount(fs) : -ENOMEM;
		if (ret)
			goto err_close;
		ret = watchdog_start(fs);
		if (ret)
			goto err_unmount;
	}
	ret = start_thread(&fs->sampler_thr, sampler_main, fs);
	if (ret)
		goto err_unmount;
	if (fs->fuse) {
		ret = start_thread(&fs->fuse_thr, fuse_main_loop, fs);
		if (ret)
			goto err_sampler;
	}
	*fsp = fs;
	return 0;

err_sampler:
	eventfd_write(fs->stop_fd, 1);
	pthread_join(fs->sampler_thr, NULL);
err_unmount:
	if (fs->fuse) {
		fuse_unmount(fs->fuse);
		fuse_destroy(fs->fuse);
	}
	watchdog_stop(fs);
err_close:
	free(fs->dir);
	close(fs->stop_fd);
err_free:
	free(fs);
	return ret;
}

/**
 * uvstatfs_stop() - stop the threads, unmount, free
 * @fs:		filesystem, or NULL
 *
 * A FUSE thread stuck in a callback past STOP_JOIN_MS is left behind
 * (and the instance leaked) rather than waited for: this runs on the way
 * out of the emulator.
 */
void uvstatfs_stop(struct uvstatfs *fs)
{
	bool joined = true;

	if (!fs)
		return;
	eventfd_write(fs->stop_fd, 1);
	if (join_bounded(fs->sampler_thr))
		joined = false;
	if (fs->fuse) {
		if (join_bounded(fs->fuse_thr))
			joined = false;
		fuse_unmount(fs->fuse);
		watchdog_stop(fs);
		if (joined)
			fuse_destroy(fs->fuse);
	}
	if (!joined)
		return;
	close(fs->stop_fd);
	pthread_mutex_destroy(&fs->vlock);
	free(fs->dir);
	free(fs);
}

static struct uvstatfs *atexit_fs;

/**
 * stop_at_exit() - atexit handler
 */
static void stop_at_exit(void)
{
	struct uvstatfs *fs = atexit_fs;

	atexit_fs = NULL;
	uvstatfs_stop(fs);
}

/**
 * uvstatfs_stop_atexit() - unmount @fs when the process calls exit()
 * @fs:		filesystem (one per process can be registered)
 *
 * The emulator must not call uvstatfs_stop() itself afterwards.
 *
 * Return: 0, -EBUSY if one is registered already, -ENOMEM
 */
int uvstatfs_stop_atexit(struct uvstatfs *fs)
{
	static bool registered;

	if (atexit_fs)
		return -EBUSY;
	if (!registered && atexit(stop_at_exit))
		return -ENOMEM;
	registered = true;
	atexit_fs = fs;
	return 0;
}

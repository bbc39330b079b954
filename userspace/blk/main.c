// SPDX-License-Identifier: GPL-2.0-only
/*
 * uvirtio-blk - a virtio-blk device served by this process
 *
 * Creates the device through /dev/uvirtio, waits for the kernel's
 * virtio_blk driver to bind while serving its I/O (it reads the disk while
 * probing), prints the disk's /dev node as the last line on stdout, and
 * serves until SIGTERM/SIGINT, which removes the device cleanly (dirty data
 * is flushed through us) before exiting.
 *
 * Everything runs in one thread around one epoll instance. I/O is
 * synchronous for now; each queue is served by serve_queue() on its own,
 * so more queues only need more struct blk_queue and eventfds.
 */
#include <endian.h>
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>

#include "args.h"
#include "backend.h"
#include "dev.h"
#include "iovc.h"
#include "loop.h"
#include "req.h"
#include "statfs.h"

#define PROG			"uvirtio-blk"
#define VERSION			"0.1"

#define DEF_QUEUE_SIZE		256
#define MIN_QUEUE_SIZE		4	/* header + data + status */
#define NUM_QUEUES		1

#define NODE_TIMEOUT_S		30
#define NODE_POLL_MS		100
/* Completions published per call eventfd write while a queue is busy. */
#define BATCH			32

/* epoll tags */
#define TAG_DEV			1
#define TAG_SIGNAL		2
#define TAG_TIMER		3
#define TAG_DELAY		4	/* statfs glue: --fault-delay-ms */
#define DELAY_TICK_MS		20
#define FAULT_IDLE_TICKS	10	/* of NODE_POLL_MS: 1 s idle, then arm */
#define TAG_KICK		16	/* + queue index */

/**
 * struct blk_queue - per-queue buffers of the serving loop
 * @iov:	the chain's buffers
 * @scratch:	the data part of a request
 * @elem:	the chain being served
 * @broken_told: the "queue broken" message was printed
 * @cnt:	counters the status filesystem shows (statfs glue)
 * @inflight:	requests taken and not completed (statfs glue)
 * @delayed:	--fault-delay-ms: served requests held back, oldest first
 * @delayed_head: index of the oldest in @delayed
 * @delayed_count: entries in @delayed
 */
struct blk_queue {
	struct iovec iov[UVIRTIO_MAX_QUEUE_SIZE];
	struct iovec scratch[UVIRTIO_MAX_QUEUE_SIZE];
	struct uvq_elem elem;
	bool broken_told;
	struct uvstatfs_counters cnt;
	struct uvstatfs_inflight_table inflight;
	struct blk_delayed {
		struct uvq_elem elem;
		uint32_t len;
		bool ok;
		uint32_t bytes;
		uint64_t due_ns;
	} delayed[UVIRTIO_MAX_QUEUE_SIZE];
	unsigned int delayed_head;
	unsigned int delayed_count;
};

/**
 * struct opts - the command line
 * @queue_size:	--queue-size
 * @serial:	--serial
 * @readonly:	--readonly
 * @dev:	--dev
 * @statfs:	--statfs DIR, or NULL
 * @f_kicks:	--fault-ignore-kicks queues (mask)
 * @f_irq:	--fault-withhold-irq queues (mask)
 * @f_delay_ms:	--fault-delay-ms
 * @backing:	BACKING
 */
struct opts {
	unsigned int queue_size;
	const char *serial;
	bool readonly;
	const char *dev;
	const char *statfs;
	uint64_t f_kicks;
	uint64_t f_irq;
	uint32_t f_delay_ms;
	const char *backing;
};

/*
 * Fault switches, for tests only (--fault-*): armed from the command line
 * once the disk is serving (its node printed: the driver's probe reads the
 * disk, and a faulted probe would hold the disk's open mutex for ever), all
 * lifted at once by SIGUSR1. Atomics so the status filesystem's threads may
 * read them; only the main thread writes.
 */
static _Atomic uint64_t fault_ignore_kicks;	/* mask of queues */
static _Atomic uint64_t fault_withhold_irq;	/* mask of queues */
static _Atomic uint32_t fault_delay_ms;

/**
 * struct emu - the emulator's state
 * @o:		options
 * @be:		backing store
 * @bd:		the disk as requests see it
 * @dev:	the uvirtio device
 * @loop:	epoll
 * @sig_fd:	signalfd for SIGTERM/SIGINT
 * @timer_fd:	timerfd while waiting for the disk node, else -1
 * @delay_fd:	timerfd completing delayed requests (--fault-delay-ms)
 * @node_printed: the disk's node was printed
 * @idle_ticks:	timer ticks without a request since (faults wait for them)
 * @idle_mark:	requests completed as of the last tick
 * @statfs:	the status filesystem, or NULL
 * @deadline:	CLOCK_MONOTONIC second to give up waiting for the node
 * @removing:	UVIRTIO_REMOVE was issued
 * @q:		queues
 */
struct emu {
	struct opts o;
	struct backend be;
	struct blk_dev bd;
	struct uvdev dev;
	struct uvloop loop;
	int sig_fd;
	int timer_fd;
	int delay_fd;
	bool node_printed;
	unsigned int idle_ticks;
	uint64_t idle_mark;
	struct uvstatfs *statfs;
	time_t deadline;
	bool removing;
	struct blk_queue q[NUM_QUEUES];
};

static struct emu emu;

/**
 * vmsg() - print one line on stderr, prefixed with the program name
 * @fmt:	message, without the prefix or newline
 * @ap:		arguments
 */
static void vmsg(const char *fmt, va_list ap)
{
	fprintf(stderr, PROG ": ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/**
 * die() - print one line on stderr and exit
 * @code:	exit code
 * @fmt:	message, without the program name or newline
 */
static void __attribute__((noreturn, format(printf, 2, 3)))
die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(code);
}

/**
 * info() - print one line of progress on stderr
 * @fmt:	message, without the program name or newline
 */
static void __attribute__((format(printf, 1, 2))) info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

/**
 * usage() - print the help text
 * @f:		stream
 */
static void usage(FILE *f)
{
	fprintf(f,
"Usage: " PROG " [OPTIONS] BACKING\n"
"Serve a virtio-blk disk from this process through /dev/uvirtio.\n"
"\n"
"BACKING is one of:\n"
"  ram:SIZE            a zero-filled RAM disk of SIZE bytes; SIZE takes an\n"
"                      optional K, M, G or T suffix (powers of 1024)\n"
"  PATH                a regular file or a block device; its size must be\n"
"                      a non-zero multiple of 512 bytes\n"
"\n"
"Options:\n"
"  --queue-size N      ring size, a power of two from %d to %d\n"
"                      (default %d)\n"
"  --serial STR        serial number reported to the driver, at most %d\n"
"                      bytes (default: empty)\n"
"  --readonly          read-only disk: open PATH read-only and offer\n"
"                      VIRTIO_BLK_F_RO; writes fail with an I/O error\n"
"  --dev PATH          uvirtio control device (default " UVDEV_PATH ")\n"
"  --statfs DIR        mount the status filesystem (ring indices, in-flight\n"
"                      requests, counters, stuck verdict, capacity) at DIR,\n"
"                      an empty directory this user owns; unmounted on exit\n"
"  -h, --help          print this help and exit\n"
"  --version           print the version and exit\n"
"\n"
"Test features (fault injection; SIGUSR1 lifts every fault at once):\n"
"  --fault-ignore-kicks=Q  leave queue Q's kicks unanswered\n"
"  --fault-withhold-irq=Q  complete queue Q's requests without signalling\n"
"                      the call eventfd (the driver is never told)\n"
"  --fault-delay-ms=N  hold every completion back N milliseconds\n"
"\n"
"Once the kernel's virtio_blk driver has bound and the disk's node exists,\n"
"its path (e.g. /dev/vda) is printed as the last line on standard output;\n"
"progress goes to standard error. SIGTERM or SIGINT removes the disk\n"
"(flushing what the kernel has cached) and exits 0; a second signal exits\n"
"at once.\n"
"\n"
"Exit status: 0 after a clean removal, 1 on errors, 2 on usage errors.\n",
		MIN_QUEUE_SIZE, UVIRTIO_MAX_QUEUE_SIZE, DEF_QUEUE_SIZE,
		VIRTIO_BLK_ID_BYTES);
}

/**
 * parse_opts() - read the command line into @o
 * @argc:	argument count
 * @argv:	arguments
 * @o:		options
 *
 * Exits with 2 on a usage error, 0 for --help and --version.
 */
static void parse_opts(int argc, char **argv, struct opts *o)
{
	enum { OPT_QS = 256, OPT_SERIAL, OPT_RO, OPT_DEV, OPT_VERSION,
	       OPT_STATFS, OPT_F_KICKS, OPT_F_IRQ, OPT_F_DELAY };
	static const struct option longopts[] = {
		{ "queue-size",	required_argument, NULL, OPT_QS },
		{ "serial",	required_argument, NULL, OPT_SERIAL },
		{ "readonly",	no_argument,	   NULL, OPT_RO },
		{ "dev",	required_argument, NULL, OPT_DEV },
		{ "help",	no_argument,	   NULL, 'h' },
		{ "version",	no_argument,	   NULL, OPT_VERSION },
		{ "statfs",	required_argument, NULL, OPT_STATFS },
		{ "fault-ignore-kicks", required_argument, NULL, OPT_F_KICKS },
		{ "fault-withhold-irq", required_argument, NULL, OPT_F_IRQ },
		{ "fault-delay-ms", required_argument, NULL, OPT_F_DELAY },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	o->queue_size = DEF_QUEUE_SIZE;
	o->dev = UVDEV_PATH;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_QS:
			if (args_parse_u64(optarg, &v))
				die(2, "--queue-size: '%s' is not a number",
				    optarg);
			if (v < MIN_QUEUE_SIZE || v > UVIRTIO_MAX_QUEUE_SIZE ||
			    (v & (v - 1)))
				die(2, "--queue-size: %s is not a power of two from %d to %d",
				    optarg, MIN_QUEUE_SIZE,
				    UVIRTIO_MAX_QUEUE_SIZE);
			o->queue_size = v;
			break;
		case OPT_SERIAL:
			if (strlen(optarg) > VIRTIO_BLK_ID_BYTES)
				die(2, "--serial: '%s' is longer than %d bytes",
				    optarg, VIRTIO_BLK_ID_BYTES);
			o->serial = optarg;
			break;
		case OPT_RO:
			o->readonly = true;
			break;
		case OPT_DEV:
			o->dev = optarg;
			break;
		case OPT_STATFS:
			o->statfs = optarg;
			break;
		case OPT_F_KICKS:
		case OPT_F_IRQ:
			if (args_parse_u64(optarg, &v) || v >= NUM_QUEUES)
				die(2, "%s: '%s' is not a queue (0 to %d)",
				    c == OPT_F_KICKS ? "--fault-ignore-kicks" :
				    "--fault-withhold-irq", optarg,
				    NUM_QUEUES - 1);
			if (c == OPT_F_KICKS)
				o->f_kicks |= 1ULL << v;
			else
				o->f_irq |= 1ULL << v;
			break;
		case OPT_F_DELAY:
			if (args_parse_u64(optarg, &v) || !v || v > 3600000)
				die(2, "--fault-delay-ms: '%s' is not a number of milliseconds from 1 to 3600000",
				    optarg);
			o->f_delay_ms = v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case OPT_VERSION:
			printf(PROG " " VERSION " (uvirtio API %d)\n",
			       UVIRTIO_API_VERSION);
			exit(0);
		case ':':
			die(2, "option '%s' needs an argument (see --help)",
			    argv[optind - 1]);
		default:
			if (optopt)
				die(2, "unknown option '-%c' (see --help)",
				    optopt);
			die(2, "unknown option '%s' (see --help)",
			    argv[optind - 1]);
		}
	}
	if (optind >= argc)
		die(2, "no BACKING given (see --help)");
	if (optind + 1 < argc)
		die(2, "unexpected argument '%s' (see --help)",
		    argv[optind + 1]);
	o->backing = argv[optind];
}

/**
 * open_backing() - open BACKING and check its size
 * @e:		emulator
 *
 * Exits with 1 (2 for a malformed ram: size) on failure.
 */
static void open_backing(struct emu *e)
{
	const char *b = e->o.backing;
	uint64_t size;
	int ret;

	if (!strncmp(b, "ram:", 4)) {
		ret = args_parse_size(b + 4, &size);
		if (ret == -ERANGE)
			die(2, "%s: size is too large", b);
		if (ret)
			die(2, "%s: '%s' is not a size (bytes, optional K/M/G/T suffix)",
			    b, b + 4);
		if (!size)
			die(1, "%s: size is 0", b);
		if (size % BLK_SECTOR_SIZE)
			die(1, "%s: size %llu is not a multiple of %d", b,
			    (unsigned long long)size, BLK_SECTOR_SIZE);
		ret = backend_open_ram(&e->be, size);
		if (ret)
			die(1, "%s: cannot allocate %llu bytes", b,
			    (unsigned long long)size);
		e->be.readonly = e->o.readonly;
		return;
	}

	ret = backend_open_file(&e->be, b, e->o.readonly);
	if (ret == -EROFS)
		die(1, "%s: file is read-only (use --readonly)", b);
	if (ret == -EINVAL)
		die(1, "%s: not a regular file or block device", b);
	if (ret)
		die(1, "%s: %s", b, strerror(-ret));
	size = e->be.size;
	if (!size)
		die(1, "%s: size is 0", b);
	if (size % BLK_SECTOR_SIZE)
		die(1, "%s: size %llu is not a multiple of %d", b,
		    (unsigned long long)size, BLK_SECTOR_SIZE);
}

/**
 * create_device() - open /dev/uvirtio, create and start the disk
 * @e:		emulator
 *
 * Exits with 1 on failure, saying what to do about it where possible.
 */
static void create_device(struct emu *e)
{
	uint64_t feat = 1ULL << VIRTIO_F_VERSION_1 |
			1ULL << VIRTIO_RING_F_INDIRECT_DESC |
			1ULL << VIRTIO_RING_F_EVENT_IDX |
			1ULL << VIRTIO_BLK_F_SEG_MAX |
			1ULL << VIRTIO_BLK_F_BLK_SIZE |
			1ULL << VIRTIO_BLK_F_FLUSH;
	const char *path = e->o.dev;
	struct virtio_blk_config cfg;
	struct uvdev_config c;
	int ret;

	ret = uvdev_open(&e->dev, path);
	if (ret == -ENOENT || ret == -ENODEV || ret == -ENXIO)
		die(1, "%s: %s (is the uvirtio module loaded? try 'modprobe uvirtio')",
		    path, strerror(-ret));
	if (ret == -EACCES || ret == -EPERM)
		die(1, "%s: %s (it must be readable and writable by this user: ask for the device's group or a udev rule)",
		    path, strerror(-ret));
	if (ret == -ENOTTY)
		die(1, "%s: not a uvirtio device", path);
	if (ret == -EPROTONOSUPPORT)
		die(1, "%s: module speaks API version %llu, this program %d",
		    path, (unsigned long long)e->dev.api_version,
		    UVIRTIO_API_VERSION);
	if (ret)
		die(1, "%s: %s", path, strerror(-ret));

	if (e->o.readonly)
		feat |= 1ULL << VIRTIO_BLK_F_RO;
	memset(&cfg, 0, sizeof(cfg));
	cfg.capacity = htole64(e->bd.sectors);
	cfg.seg_max = htole32(e->o.queue_size - 2);
	cfg.blk_size = htole32(BLK_SECTOR_SIZE);

	memset(&c, 0, sizeof(c));
	c.device_id = VIRTIO_ID_BLOCK;
	c.num_queues = NUM_QUEUES;
	c.queue_size = e->o.queue_size;
	c.features = feat;
	c.config = &cfg;
	c.config_size = sizeof(cfg);
	ret = uvdev_create(&e->dev, &c);
	if (ret)
		die(1, "%s: cannot create the device: %s", path,
		    strerror(-ret));
}

/* ---- statfs glue and fault switches (issue 5): data path side ---- */

/**
 * fault_on() - is a per-queue fault switch on for queue @i
 * @mask:	fault_ignore_kicks or fault_withhold_irq
 * @i:		queue index
 *
 * Return: true if the fault applies
 */
static bool fault_on(_Atomic uint64_t *mask, unsigned int i)
{
	return atomic_load_explicit(mask, memory_order_relaxed) & (1ULL << i);
}

/**
 * glue_req_info() - type, sector and data bytes of a request, for statfs
 * @el:		a valid element
 * @type:	out: short name
 * @sector:	out: first sector
 *
 * Return: data bytes the request moves (0 for non-transfers)
 */
static uint32_t glue_req_info(const struct uvq_elem *el, const char **type,
			      uint64_t *sector)
{
	struct virtio_blk_outhdr hdr;
	struct iovc c;

	*type = "?";
	*sector = 0;
	iovc_init(&c, el->iov, el->out_num);
	if (el->err || iovc_read(&c, &hdr, sizeof(hdr)) != sizeof(hdr))
		return 0;
	*sector = le64toh(hdr.sector);
	switch (le32toh(hdr.type)) {
	case VIRTIO_BLK_T_IN:
		*type = "read";
		return el->in_len ? el->in_len - 1 : 0;
	case VIRTIO_BLK_T_OUT:
		*type = "write";
		return el->out_len - sizeof(hdr);
	case VIRTIO_BLK_T_FLUSH:
		*type = "flush";
		return 0;
	case VIRTIO_BLK_T_GET_ID:
		*type = "get_id";
		return 0;
	default:
		*type = "other";
		return 0;
	}
}

/**
 * glue_done() - count a completed request and drop it from the table
 * @bq:		queue
 * @head:	its head
 * @ok:		completed with VIRTIO_BLK_S_OK
 * @bytes:	data bytes it moved
 */
static void glue_done(struct blk_queue *bq, uint16_t head, bool ok,
		      uint64_t bytes)
{
	uvstatfs_inflight_end(&bq->inflight, head);
	uvstatfs_count(&bq->cnt.requests, 1);
	if (ok)
		uvstatfs_count(&bq->cnt.bytes, bytes);
	else
		uvstatfs_count(&bq->cnt.errors, 1);
}

/**
 * queue_flush() - publish completions; signal unless the irq is withheld
 * @e:		emulator
 * @i:		queue index
 *
 * --fault-withhold-irq publishes through a queue without a call fd, so
 * uvq_flush() stores the shadow idx but writes no eventfd: the kernel
 * never copies the entries and the driver is never told. The next flush
 * without the fault signals them all.
 *
 * Return: as uvq_flush()
 */
static int queue_flush(struct emu *e, unsigned int i)
{
	struct uvq *vq = &e->dev.q[i].vq;
	struct blk_queue *bq = &e->q[i];
	uint64_t signals = vq->stats.signals;
	int call_fd = vq->call_fd, n;

	if (fault_on(&fault_withhold_irq, i))
		vq->call_fd = -1;
	n = uvq_flush(vq);
	vq->call_fd = call_fd;
	if (vq->stats.signals != signals)
		uvstatfs_count(&bq->cnt.interrupts, 1);
	else if (n > 0)
		uvstatfs_count(&bq->cnt.interrupts_suppressed, n);
	return n;
}

/**
 * delay_hold() - --fault-delay-ms: keep a served request for later
 * @bq:		queue
 * @el:		served element
 * @len:	its used length
 * @ok:		served with VIRTIO_BLK_S_OK
 * @bytes:	its data bytes
 * @delay_ms:	how long to hold it
 */
static void delay_hold(struct blk_queue *bq, const struct uvq_elem *el,
		       uint32_t len, bool ok, uint32_t bytes,
		       uint32_t delay_ms)
{
	unsigned int slot = (bq->delayed_head + bq->delayed_count) %
			    UVIRTIO_MAX_QUEUE_SIZE;
	struct blk_delayed *d = &bq->delayed[slot];

	d->elem = *el;
	d->elem.iov = NULL;
	d->len = len;
	d->ok = ok;
	d->bytes = bytes;
	d->due_ns = uvstatfs_now_ns() + delay_ms * 1000000ULL;
	bq->delayed_count++;
}

/**
 * delay_release() - complete held requests that are due (or all)
 * @e:		emulator
 * @i:		queue index
 * @all:	complete every held request now
 */
static void delay_release(struct emu *e, unsigned int i, bool all)
{
	struct blk_queue *bq = &e->q[i];
	struct uvq *vq = &e->dev.q[i].vq;
	uint64_t now = uvstatfs_now_ns();
	unsigned int done = 0;

	while (bq->delayed_count) {
		struct blk_delayed *d = &bq->delayed[bq->delayed_head];

		if (!all && d->due_ns > now)
			break;
		if (uvq_push(vq, &d->elem, d->len))
			uvstatfs_inflight_end(&bq->inflight, d->elem.head);
		else
			glue_done(bq, d->elem.head, d->ok, d->bytes);
		bq->delayed_head = (bq->delayed_head + 1) %
				   UVIRTIO_MAX_QUEUE_SIZE;
		bq->delayed_count--;
		done++;
	}
	if (done)
		queue_flush(e, i);
}

/* ---- end of statfs glue (data path side) ---- */

/**
 * serve_queue() - drain one queue, then ask for kicks again
 * @e:		emulator
 * @i:		queue index
 *
 * Polls while there is work (the kernel need not signal kicks), publishes
 * and signals every BATCH completions and always before going idle.
 */
static void serve_queue(struct emu *e, unsigned int i)
{
	struct uvq *vq = &e->dev.q[i].vq;
	struct blk_queue *bq = &e->q[i];
	struct uvq_elem *el = &bq->elem;
	unsigned int batch = 0;
	uint32_t len, delay, bytes;
	uint64_t sector;
	const char *type;
	int ret, st;

	if (!vq->ready)
		return;
	if (fault_on(&fault_ignore_kicks, i))	/* statfs glue: fault */
		return;
	uvq_elem_init(el, bq->iov, UVIRTIO_MAX_QUEUE_SIZE);
	uvq_poll_begin(vq);
	do {
		while ((ret = uvq_pop(vq, el)) > 0) {
			/* statfs glue: the request is inside the device now */
			bytes = glue_req_info(el, &type, &sector);
			if (el->owned)
				uvstatfs_inflight_begin(&bq->inflight,
							el->head, type, sector,
							bytes,
							uvstatfs_now_ns());
			st = -1;
			if (el->err) {
				info("queue %u: bad chain at head %u: %s", i,
				     el->head, uvq_strerror(el->err));
				ret = uvq_discard(vq, el);
			} else {
				st = blk_req_serve(&e->bd, el->iov,
						   el->out_num,
						   uvq_elem_in(el),
						   el->in_num, bq->scratch,
						   UVIRTIO_MAX_QUEUE_SIZE,
						   &len);
				if (st < 0) {
					info("queue %u: head %u: malformed request",
					     i, el->head);
					ret = uvq_discard(vq, el);
				} else if ((delay = atomic_load_explicit(
						&fault_delay_ms,
						memory_order_relaxed))) {
					/* statfs glue: fault */
					delay_hold(bq, el, len,
						   st == VIRTIO_BLK_S_OK,
						   bytes, delay);
					continue;
				} else {
					ret = uvq_push(vq, el, len);
				}
			}
			if (ret)
				info("queue %u: cannot complete head %u: %s",
				     i, el->head, strerror(-ret));
			if (el->owned)
				glue_done(bq, el->head,
					  st == VIRTIO_BLK_S_OK, bytes);
			if (++batch == BATCH) {
				queue_flush(e, i);
				batch = 0;
			}
		}
		if (ret == -EIO && !bq->broken_told) {
			info("queue %u: avail index moved by more than the ring size; queue stopped",
			     i);
			bq->broken_told = true;
		}
		ret = queue_flush(e, i);
		if (ret < 0)
			info("queue %u: cannot signal completions: %s", i,
			     strerror(-ret));
	} while (uvq_poll_end(vq));
}

/**
 * serve_all() - drain every queue
 * @e:		emulator
 */
static void serve_all(struct emu *e)
{
	unsigned int i;

	for (i = 0; i < NUM_QUEUES; i++)
		serve_queue(e, i);
}

/**
 * stop_timer() - stop waiting for the disk node
 * @e:		emulator
 */
static void stop_timer(struct emu *e)
{
	uvloop_del(&e->loop, e->timer_fd);
	close(e->timer_fd);
	e->timer_fd = -1;
}

static bool faults_pending(struct emu *e);	/* statfs glue */
static void faults_arm_when_idle(struct emu *e);

/**
 * timer_tick() - check whether the disk node is there yet
 * @e:		emulator
 *
 * Prints the node once it exists and stops the timer; exits with 1 after
 * NODE_TIMEOUT_S seconds. Stops looking once removal was asked for.
 */
static void timer_tick(struct emu *e)
{
	char name[128], node[sizeof("/dev/") + sizeof(name)];
	struct timespec now;
	uint64_t ticks;

	if (read(e->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		die(1, "timerfd: %s", strerror(errno));
	if (e->removing) {
		stop_timer(e);
		return;
	}
	if (e->node_printed) {		/* statfs glue */
		faults_arm_when_idle(e);
		return;
	}
	if (!uvdev_child_name(&e->dev, "block", name, sizeof(name))) {
		snprintf(node, sizeof(node), "/dev/%s", name);
		if (!access(node, F_OK)) {
			info("uvirtio-%u: serving %s", e->dev.index, node);
			printf("%s\n", node);
			fflush(stdout);
			e->node_printed = true;
			if (!faults_pending(e))	/* statfs glue */
				stop_timer(e);
			return;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec >= e->deadline)
		die(1, "uvirtio-%u: no disk node appeared within %d s",
		    e->dev.index, NODE_TIMEOUT_S);
}

/* ---- statfs glue and fault switches (issue 5): control side ---- */

/**
 * delay_tick() - the delay timer fired: complete what is due
 * @e:		emulator
 */
static void delay_tick(struct emu *e)
{
	uint64_t ticks;
	unsigned int i;

	if (read(e->delay_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		die(1, "timerfd: %s", strerror(errno));
	for (i = 0; i < NUM_QUEUES; i++)
		delay_release(e, i, false);
}

/**
 * faults_pending() - the command line asked for faults not armed yet
 * @e:		emulator
 *
 * Return: true if some are
 */
static bool faults_pending(struct emu *e)
{
	return e->o.f_kicks || e->o.f_irq || e->o.f_delay_ms;
}

/**
 * faults_arm() - switch the command line's faults on
 * @e:		emulator
 */
static void faults_arm(struct emu *e)
{
	atomic_store(&fault_ignore_kicks, e->o.f_kicks);
	atomic_store(&fault_withhold_irq, e->o.f_irq);
	atomic_store(&fault_delay_ms, e->o.f_delay_ms);
	info("uvirtio-%u: faults armed (test feature): ignore-kicks 0x%llx, withhold-irq 0x%llx, delay %u ms",
	     e->dev.index, (unsigned long long)e->o.f_kicks,
	     (unsigned long long)e->o.f_irq, e->o.f_delay_ms);
}

/**
 * faults_arm_when_idle() - arm the faults once the driver's probe is over
 * @e:		emulator
 *
 * The disk's node is printed while virtio_blk's probe may still scan the
 * partition table (measured on 6.12: the scan runs inside add_disk(),
 * holding the disk's open mutex); a fault caught there would block every
 * open of the disk. So the faults wait until the queues were idle for
 * FAULT_IDLE_TICKS ticks of the node timer.
 */
static void faults_arm_when_idle(struct emu *e)
{
	uint64_t done = 0;
	bool busy = false;
	unsigned int i;

	for (i = 0; i < NUM_QUEUES; i++) {
		done += atomic_load(&e->q[i].cnt.requests);
		busy |= uvq_avail_pending(&e->dev.q[i].vq) != 0;
	}
	if (busy || done != e->idle_mark) {
		e->idle_mark = done;
		e->idle_ticks = 0;
		return;
	}
	if (++e->idle_ticks < FAULT_IDLE_TICKS)
		return;
	stop_timer(e);
	faults_arm(e);
}

/**
 * faults_lift() - SIGUSR1: every fault off, catch up on what they held
 * @e:		emulator
 *
 * Held requests complete now, ignored kicks are answered by serving every
 * queue, and the flush at the end of serving signals the completions a
 * withheld interrupt left published but unsignalled.
 */
static void faults_lift(struct emu *e)
{
	static const struct itimerspec off;
	unsigned int i;

	e->o.f_kicks = e->o.f_irq = 0;
	e->o.f_delay_ms = 0;
	atomic_store(&fault_ignore_kicks, 0);
	atomic_store(&fault_withhold_irq, 0);
	atomic_store(&fault_delay_ms, 0);
	timerfd_settime(e->delay_fd, 0, &off, NULL);
	info("uvirtio-%u: SIGUSR1: faults lifted", e->dev.index);
	for (i = 0; i < NUM_QUEUES; i++) {
		delay_release(e, i, true);
		serve_queue(e, i);
		queue_flush(e, i);
	}
}

/**
 * statfs_describe() - uvstatfs_ops.describe: what uvirtio-blk is serving
 * @opaque:	struct emu
 * @buf:	out
 * @len:	bytes at @buf
 *
 * Return: bytes written
 */
static int statfs_describe(void *opaque, char *buf, size_t len)
{
	struct emu *e = opaque;
	char name[64];
	uint64_t mask;
	int n;

	if (uvdev_child_name(&e->dev, "block", name, sizeof(name)))
		snprintf(name, sizeof(name), "-");
	n = snprintf(buf, len,
		     "type: blk\nkernel: %s\nbackend: %s%s\ncapacity: %llu sectors\npid: %d\n",
		     name, e->o.backing, e->o.readonly ? " (read-only)" : "",
		     (unsigned long long)__atomic_load_n(&e->bd.sectors,
							 __ATOMIC_RELAXED),
		     (int)getpid());
	mask = atomic_load(&fault_ignore_kicks) |
	       atomic_load(&fault_withhold_irq);
	if (n > 0 && (size_t)n < len && (mask || atomic_load(&fault_delay_ms)))
		n += snprintf(buf + n, len - n,
			      "faults: ignore-kicks 0x%llx withhold-irq 0x%llx delay-ms %u\n",
			      (unsigned long long)atomic_load(&fault_ignore_kicks),
			      (unsigned long long)atomic_load(&fault_withhold_irq),
			      atomic_load(&fault_delay_ms));
	return n;
}

/**
 * statfs_counters() - uvstatfs_ops.counters
 * @opaque:	struct emu
 * @q:		queue index
 * @c:		out
 */
static void statfs_counters(void *opaque, unsigned int q,
			    struct uvstatfs_counters *c)
{
	struct emu *e = opaque;
	const struct uvstatfs_counters *s;

	if (q >= NUM_QUEUES)
		return;
	s = &e->q[q].cnt;
#define COPY_COUNTER(f) atomic_store_explicit(&c->f,			\
		atomic_load_explicit(&s->f, memory_order_relaxed),	\
		memory_order_relaxed)
	COPY_COUNTER(kicks);
	COPY_COUNTER(interrupts);
	COPY_COUNTER(interrupts_suppressed);
	COPY_COUNTER(requests);
	COPY_COUNTER(bytes);
	COPY_COUNTER(errors);
#undef COPY_COUNTER
}

/**
 * statfs_inflight() - uvstatfs_ops.inflight
 * @opaque:	struct emu
 * @q:		queue index
 * @emit:	called per request
 * @ctx:	its context
 */
static void statfs_inflight(void *opaque, unsigned int q,
			    uvstatfs_emit_fn emit, void *ctx)
{
	struct emu *e = opaque;

	if (q < NUM_QUEUES)
		uvstatfs_inflight_walk(&e->q[q].inflight, e->o.queue_size,
				       emit, ctx);
}

/**
 * statfs_get_control() - uvstatfs_ops.get_control: the capacity
 * @opaque:	struct emu
 * @ctl:	UVSTATFS_CTL_CAPACITY
 * @buf:	out
 * @len:	bytes at @buf
 *
 * Return: bytes written, -EINVAL for another control
 */
static int statfs_get_control(void *opaque, unsigned int ctl, char *buf,
			      size_t len)
{
	struct emu *e = opaque;

	if (ctl != UVSTATFS_CTL_CAPACITY)
		return -EINVAL;
	return snprintf(buf, len, "%llu\n", (unsigned long long)
			__atomic_load_n(&e->bd.sectors, __ATOMIC_RELAXED));
}

/**
 * statfs_set_capacity() - resize the disk and tell the driver
 * @e:		emulator
 * @val:	new capacity in 512-byte sectors
 *
 * Runs on the FUSE thread. Growing a file extends it (ftruncate); RAM and
 * block devices can only grow back up to their size. The data path reads
 * the sizes without a lock, so on growth the backend's bound moves before
 * the disk's and both before the driver hears of it; on shrinking the
 * driver hears first. The config write raises a config interrupt: the
 * driver re-reads the capacity and resizes the disk.
 *
 * Return: 0, -EINVAL (not a number of sectors), -EROFS, -ENOSPC, or the
 * error of ftruncate() or UVIRTIO_SET_CONFIG
 */
static int statfs_set_capacity(struct emu *e, const char *val)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct uvirtio_config_update u;
	uint64_t sectors, bytes, cap_le, old;
	int ret = 0;

	if (args_parse_u64(val, &sectors) || !sectors ||
	    sectors > UINT64_MAX / BLK_SECTOR_SIZE)
		return -EINVAL;
	if (e->be.readonly)
		return -EROFS;
	bytes = sectors * BLK_SECTOR_SIZE;
	cap_le = htole64(sectors);
	memset(&u, 0, sizeof(u));
	u.offset = offsetof(struct virtio_blk_config, capacity);
	u.len = sizeof(cap_le);
	u.data_addr = (uintptr_t)&cap_le;

	pthread_mutex_lock(&lock);
	old = __atomic_load_n(&e->bd.sectors, __ATOMIC_RELAXED);
	if (sectors > old) {
		if (bytes > e->be.size && e->be.type != BACKEND_FILE)
			ret = -ENOSPC;
		else if (bytes > e->be.size && ftruncate(e->be.fd, bytes))
			ret = -errno;
		else if (bytes > e->be.size)
			__atomic_store_n(&e->be.size, bytes, __ATOMIC_RELEASE);
		if (!ret)
			__atomic_store_n(&e->bd.sectors, sectors,
					 __ATOMIC_RELEASE);
	}
	if (!ret && ioctl(e->dev.fd, UVIRTIO_SET_CONFIG, &u))
		ret = -errno;
	if (!ret && sectors < old)
		__atomic_store_n(&e->bd.sectors, sectors, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&lock);
	if (!ret)
		info("uvirtio-%u: capacity %llu -> %llu sectors", e->dev.index,
		     (unsigned long long)old, (unsigned long long)sectors);
	return ret;
}

/**
 * statfs_set_control() - uvstatfs_ops.set_control
 * @opaque:	struct emu
 * @ctl:	UVSTATFS_CTL_CAPACITY
 * @val:	value written
 *
 * Return: 0 or -errno
 */
static int statfs_set_control(void *opaque, unsigned int ctl, const char *val)
{
	if (ctl != UVSTATFS_CTL_CAPACITY)
		return -EINVAL;
	return statfs_set_capacity(opaque, val);
}

static const struct uvstatfs_ops statfs_ops = {
	.device_id	= VIRTIO_ID_BLOCK,
	.describe	= statfs_describe,
	.counters	= statfs_counters,
	.inflight	= statfs_inflight,
	.controls	= UVSTATFS_CTL_CAPACITY,
	.get_control	= statfs_get_control,
	.set_control	= statfs_set_control,
};

/**
 * statfs_mount() - --statfs DIR: mount the status filesystem
 * @e:		emulator
 *
 * Unmounted by exit() (atexit), and by fusermount3's auto_unmount if the
 * process is killed.
 */
static void statfs_mount(struct emu *e)
{
	int ret;

	if (!e->o.statfs)
		return;
	ret = uvstatfs_start(&e->statfs, e->o.statfs, &e->dev, &statfs_ops, e);
	if (ret == -EIO)
		die(1, "--statfs %s: cannot mount the status filesystem (see above)",
		    e->o.statfs);
	if (ret == -ENOTCONN)
		die(1, "--statfs %s: %s (a dead mount: 'fusermount3 -u %s' removes it)",
		    e->o.statfs, strerror(-ret), e->o.statfs);
	if (ret)
		die(1, "--statfs %s: %s", e->o.statfs, strerror(-ret));
	uvstatfs_stop_atexit(e->statfs);
	info("uvirtio-%u: status filesystem at %s (unmount watchdog pid %d)",
	     e->dev.index, e->o.statfs,
	     (int)uvstatfs_watchdog_pid(e->statfs));
}

/* ---- end of statfs glue (control side) ---- */

/**
 * signal_event() - SIGTERM/SIGINT: remove the device, or exit if repeated
 * @e:		emulator
 */
static void signal_event(struct emu *e)
{
	struct signalfd_siginfo si;
	int ret;

	if (read(e->sig_fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGUSR1) {	/* statfs glue: lift the faults */
		faults_lift(e);
		return;
	}
	if (e->removing)
		die(1, "%s again: exiting without waiting for removal",
		    strsignal(si.ssi_signo));
	e->removing = true;
	info("uvirtio-%u: %s: removing the device", e->dev.index,
	     strsignal(si.ssi_signo));
	ret = uvdev_remove(&e->dev);
	if (ret)
		die(1, "uvirtio-%u: cannot remove the device: %s",
		    e->dev.index, strerror(-ret));
}

/**
 * device_event() - read and act on every queued device event
 * @e:		emulator
 * @hup:	EPOLLHUP was reported
 *
 * Exits 0 once the device was removed as asked, 1 if it died otherwise.
 */
static void device_event(struct emu *e, bool hup)
{
	struct uvirtio_event ev;
	int ret;

	while ((ret = uvdev_read_event(&e->dev, &ev)) > 0) {
		ret = uvdev_handle_event(&e->dev, &ev);
		if (ret)
			die(1, "uvirtio-%u: event %u: %s", e->dev.index,
			    ev.type, strerror(-ret));
		if (ev.type == UVIRTIO_EV_DRIVER_OK ||
		    ev.type == UVIRTIO_EV_OVERFLOW)
			serve_all(e);
		if (e->dev.removed || e->dev.dead_reason)
			break;
	}
	if (ret < 0 && ret != -ENODEV)
		die(1, "uvirtio-%u: reading events: %s", e->dev.index,
		    strerror(-ret));

	if (e->dev.dead_reason == UVIRTIO_DEAD_REMOVED) {
		info("uvirtio-%u: removed", e->dev.index);
		exit(0);
	}
	if (e->dev.dead_reason)
		die(1, "uvirtio-%u: device removed: %s", e->dev.index,
		    uvdev_dead_str(e->dev.dead_reason));
	if (hup) {
		if (e->removing)
			exit(0);
		die(1, "uvirtio-%u: device went away", e->dev.index);
	}
}

/**
 * setup_loop() - signals, timer and every fd into one epoll instance
 * @e:		emulator
 */
static void setup_loop(struct emu *e)
{
	struct itimerspec its = {
		.it_interval = { 0, NODE_POLL_MS * 1000000L },
		.it_value = { 0, NODE_POLL_MS * 1000000L },
	};
	struct itimerspec delay_its = {
		.it_interval = { 0, DELAY_TICK_MS * 1000000L },
		.it_value = { 0, DELAY_TICK_MS * 1000000L },
	};
	struct timespec now;
	unsigned int i;
	sigset_t set;
	int ret;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);	/* statfs glue: lifts the faults */
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		die(1, "sigprocmask: %s", strerror(errno));
	e->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (e->sig_fd < 0)
		die(1, "signalfd: %s", strerror(errno));
	e->timer_fd = timerfd_create(CLOCK_MONOTONIC,
				     TFD_NONBLOCK | TFD_CLOEXEC);
	if (e->timer_fd < 0 || timerfd_settime(e->timer_fd, 0, &its, NULL))
		die(1, "timerfd: %s", strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &now);
	e->deadline = now.tv_sec + NODE_TIMEOUT_S;

	ret = uvloop_init(&e->loop);
	if (!ret)
		ret = uvloop_add(&e->loop, e->dev.fd, EPOLLIN, TAG_DEV);
	if (!ret)
		ret = uvloop_add(&e->loop, e->sig_fd, EPOLLIN, TAG_SIGNAL);
	if (!ret)
		ret = uvloop_add(&e->loop, e->timer_fd, EPOLLIN, TAG_TIMER);
	for (i = 0; !ret && i < NUM_QUEUES; i++)
		ret = uvloop_add(&e->loop, e->dev.q[i].kick_fd, EPOLLIN,
				 TAG_KICK + i);
	/* statfs glue: --fault-delay-ms completes held requests on ticks */
	e->delay_fd = timerfd_create(CLOCK_MONOTONIC,
				     TFD_NONBLOCK | TFD_CLOEXEC);
	if (e->delay_fd < 0)
		die(1, "timerfd: %s", strerror(errno));
	if (e->o.f_delay_ms &&
	    timerfd_settime(e->delay_fd, 0, &delay_its, NULL))
		die(1, "timerfd: %s", strerror(errno));
	if (!ret)
		ret = uvloop_add(&e->loop, e->delay_fd, EPOLLIN, TAG_DELAY);
	if (ret)
		die(1, "epoll: %s", strerror(-ret));
}

/**
 * run() - the event loop; never returns
 * @e:		emulator
 */
static void __attribute__((noreturn)) run(struct emu *e)
{
	struct epoll_event ev[8];
	int i, n;

	for (;;) {
		n = uvloop_wait(&e->loop, ev, 8, -1);
		if (n < 0)
			die(1, "epoll_wait: %s", strerror(-n));
		for (i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64;

			if (tag == TAG_DEV)
				device_event(e, ev[i].events &
					     (EPOLLHUP | EPOLLERR));
			else if (tag == TAG_SIGNAL)
				signal_event(e);
			else if (tag == TAG_TIMER && e->timer_fd >= 0)
				timer_tick(e);
			else if (tag == TAG_DELAY)
				delay_tick(e);
			else if (tag >= TAG_KICK &&
				 tag < TAG_KICK + NUM_QUEUES) {
				uvdev_kick_clear(&e->dev, tag - TAG_KICK);
				uvstatfs_count(&e->q[tag - TAG_KICK].cnt.kicks,
					       1);
				serve_queue(e, tag - TAG_KICK);
			}
		}
	}
}

/**
 * main() - parse, open the backing store, create the device, serve
 * @argc:	argument count
 * @argv:	arguments
 *
 * Return: does not return; see the exit status in usage()
 */
int main(int argc, char **argv)
{
	struct emu *e = &emu;
	int ret;

	parse_opts(argc, argv, &e->o);
	open_backing(e);

	e->bd.be = &e->be;
	e->bd.sectors = e->be.size / BLK_SECTOR_SIZE;
	e->bd.readonly = e->o.readonly;
	if (e->o.serial)
		memcpy(e->bd.serial, e->o.serial, strlen(e->o.serial));

	create_device(e);
	setup_loop(e);
	statfs_mount(e);	/* statfs glue */
	ret = uvdev_start(&e->dev);
	if (ret)
		die(1, "uvirtio-%u: cannot start the device: %s",
		    e->dev.index, strerror(-ret));
	info("uvirtio-%u: %s, %llu sectors, queue size %u%s", e->dev.index,
	     e->o.backing, (unsigned long long)e->bd.sectors,
	     e->o.queue_size, e->o.readonly ? ", read-only" : "");
	run(e);
}

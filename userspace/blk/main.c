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
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#include "loop.h"
#include "req.h"

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
#define TAG_KICK		16	/* + queue index */

/**
 * struct blk_queue - per-queue buffers of the serving loop
 * @iov:	the chain's buffers
 * @scratch:	the data part of a request
 * @elem:	the chain being served
 * @broken_told: the "queue broken" message was printed
 */
struct blk_queue {
	struct iovec iov[UVIRTIO_MAX_QUEUE_SIZE];
	struct iovec scratch[UVIRTIO_MAX_QUEUE_SIZE];
	struct uvq_elem elem;
	bool broken_told;
};

/**
 * struct opts - the command line
 * @queue_size:	--queue-size
 * @serial:	--serial
 * @readonly:	--readonly
 * @dev:	--dev
 * @backing:	BACKING
 */
struct opts {
	unsigned int queue_size;
	const char *serial;
	bool readonly;
	const char *dev;
	const char *backing;
};

/**
 * struct emu - the emulator's state
 * @o:		options
 * @be:		backing store
 * @bd:		the disk as requests see it
 * @dev:	the uvirtio device
 * @loop:	epoll
 * @sig_fd:	signalfd for SIGTERM/SIGINT
 * @timer_fd:	timerfd while waiting for the disk node, else -1
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
"  -h, --help          print this help and exit\n"
"  --version           print the version and exit\n"
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
	enum { OPT_QS = 256, OPT_SERIAL, OPT_RO, OPT_DEV, OPT_VERSION };
	static const struct option longopts[] = {
		{ "queue-size",	required_argument, NULL, OPT_QS },
		{ "serial",	required_argument, NULL, OPT_SERIAL },
		{ "readonly",	no_argument,	   NULL, OPT_RO },
		{ "dev",	required_argument, NULL, OPT_DEV },
		{ "help",	no_argument,	   NULL, 'h' },
		{ "version",	no_argument,	   NULL, OPT_VERSION },
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
	uint32_t len;
	int ret;

	if (!vq->ready)
		return;
	uvq_elem_init(el, bq->iov, UVIRTIO_MAX_QUEUE_SIZE);
	uvq_poll_begin(vq);
	do {
		while ((ret = uvq_pop(vq, el)) > 0) {
			if (el->err) {
				info("queue %u: bad chain at head %u: %s", i,
				     el->head, uvq_strerror(el->err));
				ret = uvq_discard(vq, el);
			} else {
				ret = blk_req_serve(&e->bd, el->iov,
						    el->out_num,
						    uvq_elem_in(el),
						    el->in_num, bq->scratch,
						    UVIRTIO_MAX_QUEUE_SIZE,
						    &len);
				if (ret < 0) {
					info("queue %u: head %u: malformed request",
					     i, el->head);
					ret = uvq_discard(vq, el);
				} else {
					ret = uvq_push(vq, el, len);
				}
			}
			if (ret)
				info("queue %u: cannot complete head %u: %s",
				     i, el->head, strerror(-ret));
			if (++batch == BATCH) {
				uvq_flush(vq);
				batch = 0;
			}
		}
		if (ret == -EIO && !bq->broken_told) {
			info("queue %u: avail index moved by more than the ring size; queue stopped",
			     i);
			bq->broken_told = true;
		}
		ret = uvq_flush(vq);
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
	if (!uvdev_child_name(&e->dev, "block", name, sizeof(name))) {
		snprintf(node, sizeof(node), "/dev/%s", name);
		if (!access(node, F_OK)) {
			info("uvirtio-%u: serving %s", e->dev.index, node);
			printf("%s\n", node);
			fflush(stdout);
			stop_timer(e);
			return;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec >= e->deadline)
		die(1, "uvirtio-%u: no disk node appeared within %d s",
		    e->dev.index, NODE_TIMEOUT_S);
}

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
	struct timespec now;
	unsigned int i;
	sigset_t set;
	int ret;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
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
			else if (tag >= TAG_KICK &&
				 tag < TAG_KICK + NUM_QUEUES) {
				uvdev_kick_clear(&e->dev, tag - TAG_KICK);
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
	ret = uvdev_start(&e->dev);
	if (ret)
		die(1, "uvirtio-%u: cannot start the device: %s",
		    e->dev.index, strerror(-ret));
	info("uvirtio-%u: %s, %llu sectors, queue size %u%s", e->dev.index,
	     e->o.backing, (unsigned long long)e->bd.sectors,
	     e->o.queue_size, e->o.readonly ? ", read-only" : "");
	run(e);
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * uvirtio-blk - a virtio-blk device served by this process
 *
 * Creates the device through /dev/uvirtio, waits for the kernel's
 * virtio_blk driver to bind while serving its I/O (it reads the disk while
 * probing), prints the disk's /dev node as the last line on stdout, and
 * serves until SIGTERM/SIGINT, which removes the device cleanly (dirty data
 * is flushed through us), syncs the backing file and exits.
 *
 * The main thread handles the device's events and signals; each virtqueue
 * has a thread of its own (queue.c) with an io_uring for file backends.
 * SIGHUP re-reads the backing file's size and grows the disk; SIGUSR1
 * lifts every test fault; SIGUSR2 prints the queues' counters. The main
 * thread's skeleton (event loop, signals, readiness) is libuvirtio's
 * (lib/emu.c); this file adds the disk.
 */
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>

#include "args.h"
#include "backend.h"
#include "blk.h"
#include "copy.h"
#include "dev.h"
#include "emu.h"
#include "emu_statfs.h"
#include "statfs_blk.h"
#include "req.h"

#define PROG			"uvirtio-blk"
#define VERSION			"0.2"

#define DEF_QUEUE_SIZE		256
#define MIN_QUEUE_SIZE		4	/* header + data + status */
/* Most queues: one thread each; the module allows UVIRTIO_MAX_QUEUES. */
#define MAX_QUEUES		UVIRTIO_MAX_QUEUES
/* The module maps at most 256 KiB per buffer (max_segment_size). */
#define SIZE_MAX_BYTES		(256U << 10)
/* Most data segments per request: also bounds each request slot's iovecs. */
#define SEG_MAX_CAP		254
/* Bounce pool per queue, and its bounds (see choose_bounce()). */
#define BOUNCE_PER_QUEUE	(32ULL << 20)
/* Smallest default pool fit_bounce() sizes down to RLIMIT_MEMLOCK. */
#define FIT_BOUNCE_MIN		(4ULL << 20)
/*
 * Ceiling of the adaptive poll by default, in microseconds. Long enough
 * for fio's turnaround at QD1 under TCG (about 80 us), so a queue kept busy
 * one request at a time does not sleep between them. Measured side by
 * side in one boot (bench/blk.sh, unpinned, 2 vCPUs) against 20 us: QD1
 * 0.168x vs 0.071x null_blk with one fio job and 0.054x vs 0.045x with
 * two, QD32 0.865x vs 0.735x and 0.329x vs 0.313x. A miss halves the
 * budget (down to an eighth of this), so a quiet disk spins little.
 */
#define DEF_POLL_US		500
#define DEF_COALESCE_US		16
#define MAX_COALESCE_US		1000
#define MAX_POLL_US		10000
/* Largest discard / write-zeroes request, in sectors (1 GiB). */
#define MAX_DEALLOC_SECTORS	(1U << 21)


/**
 * struct opts - the command line
 * @queue_size:	--queue-size
 * @num_queues:	--queues
 * @block_size:	--block-size
 * @bounce_size: --bounce-size (0: derived)
 * @poll_us:	--poll-us (0 with --no-poll)
 * @notify:	--notify
 * @coalesce_us: --coalesce-us
 * @serial:	--serial
 * @readonly:	--readonly
 * @direct:	--direct
 * @zero_buffers: --zero-buffers: no UVIRTIO_CREATE_F_USED_LEN
 * @indirect:	--indirect: offer VIRTIO_RING_F_INDIRECT_DESC
 * @pin:	--pin (1), --no-pin (0), neither (-1)
 * @io:		--io
 * @copy:	--copy
 * @fault_ignore_kicks: --fault-ignore-kicks queue, or -1
 * @fault_withhold_irq: --fault-withhold-irq queue, or -1
 * @fault_delay_ms: --fault-delay-ms
 * @dev:	--dev
 * @statfs:	--statfs DIR, or NULL
 * @recovery:	--recovery: the device outlives this process for a while
 * @attach:	--attach INDEX: take over that device, or -1
 * @backing:	BACKING
 */
struct opts {
	unsigned int queue_size;
	unsigned int num_queues;
	unsigned int block_size;
	uint64_t bounce_size;
	unsigned int poll_us;
	unsigned int coalesce_us;
	const char *serial;
	bool readonly;
	bool direct;
	bool zero_buffers;
	bool indirect;
	int pin;
	enum { IO_AUTO, IO_URING, IO_SYNC, IO_MAP } io;
	enum uvcopy_mode copy;
	enum { NOTIFY_AUTO, NOTIFY_URING, NOTIFY_EVENTFD } notify;
	int fault_ignore_kicks;
	int fault_withhold_irq;
	unsigned int fault_delay_ms;
	const char *dev;
	const char *statfs;
	bool recovery;
	int attach;
	const char *backing;
};

/**
 * struct emu - the emulator's state
 * @o:		options
 * @be:		backing store
 * @bd:		the disk as requests see it
 * @em:		the main thread and the uvirtio device (em.dev)
 * @eng:	queue threads
 * @cfg:	config space as last given to the device
 * @seg_max:	most data segments per request: ours (seg_max()), or the
 *		device's when taken over (the driver sized its requests
 *		with it at probe time)
 * @uring_err:	0 if the backing file's I/O may go through io_uring, else
 *		the -errno probe_uring() met (-ENOENT: not asked to)
 * @uring_pins:	the queues' rings could take the pool as fixed buffer
 *		(blk_uring_probe())
 * @uring_shares: and they would pin it once for all of them
 * @memlock_kib: RLIMIT_MEMLOCK in KiB if fit_bounce() sized the pool to
 *		it, else 0
 * @statfs:	the status filesystem, or NULL
 * @resize_lock: serialises resizes (SIGHUP on the main thread, the
 *		status filesystem's capacity file on its thread)
 */
struct emu {
	struct opts o;
	struct backend be;
	struct blk_dev bd;
	struct uvemu em;
	struct blk_engine eng;
	struct virtio_blk_config cfg;
	unsigned int seg_max;
	int uring_err;
	bool uring_pins;
	bool uring_shares;
	unsigned long long memlock_kib;
	struct uvstatfs *statfs;
	pthread_mutex_t resize_lock;
};

static struct emu emu = { .resize_lock = PTHREAD_MUTEX_INITIALIZER };

static void resize_locked(struct emu *e);
static void faults_arm(struct emu *e);

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
"  PATH                a regular file or a block device, served through\n"
"                      io_uring (one ring per queue, registered file, the\n"
"                      bounce pool as fixed buffer where the kernel allows);\n"
"                      its size must be a non-zero multiple of the block size\n"
"  ram:SIZE            a zero-filled RAM disk of SIZE bytes; SIZE takes an\n"
"                      optional K, M, G or T suffix (powers of 1024)\n"
"  null:SIZE           stores nothing: every request completes at once\n"
"                      (reads return zeros); measures the request path\n"
"\n"
"Options:\n"
"  --queues N          virtqueues, one thread each, 1 to %d (default 1);\n"
"                      more than one offers VIRTIO_BLK_F_MQ\n"
"  --queue-size N      ring size, a power of two from %d to %d\n"
"                      (default %d)\n"
"  --block-size N      logical block size, 512 or 4096 (default 512)\n"
"  --direct            open PATH with O_DIRECT (no page cache)\n"
"  --io MODE           how PATH is read and written: uring (one io_uring\n"
"                      per queue), sync (preadv/pwritev in the queue's\n"
"                      thread), map (a file on tmpfs or ramfs of at most\n"
"                      1 TiB only, not with --direct: copies through a\n"
"                      shared mapping of the file in the queue's thread;\n"
"                      reads of holes by preadv) or auto (default: map on\n"
"                      tmpfs and ramfs without --direct, else uring)\n"
"  --copy MODE         how a queue thread copies between the bounce pool\n"
"                      and a mapped file or the RAM disk: memcpy (glibc's),\n"
"                      loop (8-byte moves: faster where rep movsb is slow,\n"
"                      as under QEMU's TCG) or auto (default: times both\n"
"                      at start and takes the loop only if it is at least\n"
"                      1.25 times as fast)\n"
"  --notify MODE       how queue threads hear of requests and hand back\n"
"                      completions: uring (io_uring commands on the device\n"
"                      fd, one io_uring per queue), eventfd (kick and call\n"
"                      eventfds) or auto (default: uring where the kernel\n"
"                      and module offer it, else eventfd)\n"
"  --readonly          read-only disk: open PATH read-only and offer\n"
"                      VIRTIO_BLK_F_RO; writes fail with an I/O error\n"
"  --serial STR        serial number reported to the driver, at most %d\n"
"                      bytes (default: empty)\n"
"  --no-poll           never poll the avail ring: sleep on the kick fd as\n"
"                      soon as a queue runs dry\n"
"  --poll-us N         ceiling of the adaptive avail-ring poll before a\n"
"                      queue sleeps, 1 to %d microseconds (default %d)\n"
"  --coalesce-us N     ceiling of the adaptive interrupt coalescing: once\n"
"                      the avail ring runs dry, completions are held back\n"
"                      up to this long for more requests to arrive and\n"
"                      share one interrupt; 0 to %d microseconds, 0\n"
"                      interrupts at once (default %d; the hold adapts\n"
"                      between an eighth of it and all of it)\n"
"  --pin, --no-pin     pin queue i's thread to the i-th usable CPU, where\n"
"                      blk-mq maps CPU i's requests (default: no pinning)\n"
"  --bounce-size SIZE  bounce pool bytes, 1M to 256M (default: 32M per\n"
"                      queue, at least 16M); the largest request takes at\n"
"                      most half of it, so a small pool means small requests;\n"
"                      io_uring pins it as fixed buffer (once, or before\n"
"                      Linux 6.12 once per queue) where RLIMIT_MEMLOCK (8M\n"
"                      for most users) holds the pins;\n"
"                      without this option, a file served through io_uring\n"
"                      by a process without CAP_IPC_LOCK gets the largest\n"
"                      pool of 4M or more whose pins fit half that limit\n"
"                      (on Linux 6.5 and later: before, io_uring pins no\n"
"                      device memory, and the default stays)\n"
"  --indirect          offer indirect descriptors (default): a request takes\n"
"                      one ring entry, whatever its size\n"
"  --no-indirect       do not: a request takes one ring entry per segment\n"
"                      and two more, and the driver maps no table for it\n"
"                      (small writes were faster; raise --queue-size with\n"
"                      it, or large requests fill the ring)\n"
"  --zero-buffers      have the module zero every read buffer when the\n"
"                      driver maps it (default: it zeroes only what a\n"
"                      completion says was not written, in the driver's\n"
"                      pages)\n"
"  --dev PATH          uvirtio control device (default " UVDEV_PATH ")\n"
"  --recovery          recovery mode: if this process dies, the disk stays and\n"
"                      its I/O waits (the module's recovery_timeout, 30 s)\n"
"                      for a new process started with --attach\n"
"  --attach INDEX      take over recovery-mode disk uvirtio-INDEX whose\n"
"                      emulator died, with the same BACKING and options; the\n"
"                      requests the old one left unfinished are served again\n"
"  --statfs DIR        mount the status filesystem at DIR: ring indices,\n"
"                      counters, requests in flight, a stuck verdict;\n"
"                      writing DIR/capacity resizes the disk\n"
"  -h, --help          print this help and exit\n"
"  --version           print the version and exit\n"
"\n"
"Test features (fault injection; SIGUSR1 lifts every fault at run time):\n"
"  --fault-ignore-kicks=Q  queue Q neither polls nor reacts to kicks\n"
"  --fault-withhold-irq=Q  queue Q publishes completions but never writes\n"
"                          its call eventfd\n"
"  --fault-delay-ms=N      every request waits N ms before it completes\n"
"\n"
"Once the kernel's virtio_blk driver has bound and the disk's node exists,\n"
"its path (e.g. /dev/vda) is printed as the last line on standard output;\n"
"progress goes to standard error. SIGHUP re-reads the size of PATH and\n"
"grows the disk (the kernel sees the new capacity at once); SIGUSR2 prints\n"
"each queue's counters. SIGTERM or\n"
"SIGINT removes the disk (flushing what the kernel has cached), syncs PATH\n"
"and exits 0; a second signal exits 1 at once. Once the driver has started\n"
"the disk, its node must appear within 30 s or the program exits 1.\n"
"\n"
"Exit status: 0 after a clean removal, 1 on errors, 2 on usage errors.\n",
		MAX_QUEUES, MIN_QUEUE_SIZE, UVIRTIO_MAX_QUEUE_SIZE,
		DEF_QUEUE_SIZE, VIRTIO_BLK_ID_BYTES, MAX_POLL_US, DEF_POLL_US,
		MAX_COALESCE_US, DEF_COALESCE_US);
}

/**
 * parse_uint() - an option's number within bounds, or exit 2
 * @opt:	option name, for the message
 * @s:		its argument
 * @min:	smallest value allowed
 * @max:	largest value allowed
 *
 * Return: the value
 */
static unsigned int parse_uint(const char *opt, const char *s,
			       unsigned int min, unsigned int max)
{
	uint64_t v;

	if (args_parse_u64(s, &v))
		uvemu_die(2, "%s: '%s' is not a number", opt, s);
	if (v < min || v > max)
		uvemu_die(2, "%s: %s is out of range (%u to %u)", opt, s, min, max);
	return v;
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
	       OPT_QUEUES, OPT_BS, OPT_DIRECT, OPT_NOPOLL, OPT_POLLUS, OPT_COALESCE,
	       OPT_PIN, OPT_NOPIN, OPT_BOUNCE, OPT_IO, OPT_F_KICKS, OPT_F_IRQ, OPT_F_DELAY, OPT_STATFS,
	       OPT_RECOVERY, OPT_ATTACH, OPT_NOTIFY, OPT_ZERO, OPT_INDIRECT,
	       OPT_NOINDIRECT, OPT_COPY };
	static const struct option longopts[] = {
		{ "queue-size",	required_argument, NULL, OPT_QS },
		{ "queues",	required_argument, NULL, OPT_QUEUES },
		{ "block-size",	required_argument, NULL, OPT_BS },
		{ "serial",	required_argument, NULL, OPT_SERIAL },
		{ "readonly",	no_argument,	   NULL, OPT_RO },
		{ "direct",	no_argument,	   NULL, OPT_DIRECT },
		{ "no-poll",	no_argument,	   NULL, OPT_NOPOLL },
		{ "poll-us",	required_argument, NULL, OPT_POLLUS },
		{ "coalesce-us", required_argument, NULL, OPT_COALESCE },
		{ "pin",	no_argument,	   NULL, OPT_PIN },
		{ "no-pin",	no_argument,	   NULL, OPT_NOPIN },
		{ "io",		required_argument, NULL, OPT_IO },
		{ "copy",	required_argument, NULL, OPT_COPY },
		{ "notify",	required_argument, NULL, OPT_NOTIFY },
		{ "bounce-size", required_argument, NULL, OPT_BOUNCE },
		{ "zero-buffers", no_argument,	   NULL, OPT_ZERO },
		{ "indirect",	no_argument,	   NULL, OPT_INDIRECT },
		{ "no-indirect", no_argument,	   NULL, OPT_NOINDIRECT },
		{ "dev",	required_argument, NULL, OPT_DEV },
		{ "statfs",	required_argument, NULL, OPT_STATFS },
		{ "recovery",	no_argument,	   NULL, OPT_RECOVERY },
		{ "attach",	required_argument, NULL, OPT_ATTACH },
		{ "fault-ignore-kicks", required_argument, NULL, OPT_F_KICKS },
		{ "fault-withhold-irq", required_argument, NULL, OPT_F_IRQ },
		{ "fault-delay-ms", required_argument, NULL, OPT_F_DELAY },
		{ "help",	no_argument,	   NULL, 'h' },
		{ "version",	no_argument,	   NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	o->queue_size = DEF_QUEUE_SIZE;
	o->indirect = true;
	o->num_queues = 1;
	o->block_size = BLK_SECTOR_SIZE;
	o->poll_us = DEF_POLL_US;
	o->coalesce_us = DEF_COALESCE_US;
	o->pin = -1;
	o->fault_ignore_kicks = -1;
	o->fault_withhold_irq = -1;
	o->attach = -1;
	o->dev = UVDEV_PATH;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_QS:
			if (args_parse_u64(optarg, &v))
				uvemu_die(2, "--queue-size: '%s' is not a number",
					  optarg);
			if (v < MIN_QUEUE_SIZE || v > UVIRTIO_MAX_QUEUE_SIZE ||
			    (v & (v - 1)))
				uvemu_die(2, "--queue-size: %s is not a power of two from %d to %d",
					  optarg, MIN_QUEUE_SIZE,
					  UVIRTIO_MAX_QUEUE_SIZE);
			o->queue_size = v;
			break;
		case OPT_QUEUES:
			o->num_queues = parse_uint("--queues", optarg, 1,
						   MAX_QUEUES);
			break;
		case OPT_BS:
			o->block_size = parse_uint("--block-size", optarg,
						   512, 4096);
			if (o->block_size != 512 && o->block_size != 4096)
				uvemu_die(2, "--block-size: %s is neither 512 nor 4096",
					  optarg);
			break;
		case OPT_SERIAL:
			if (strlen(optarg) > VIRTIO_BLK_ID_BYTES)
				uvemu_die(2, "--serial: '%s' is longer than %d bytes",
					  optarg, VIRTIO_BLK_ID_BYTES);
			o->serial = optarg;
			break;
		case OPT_RO:
			o->readonly = true;
			break;
		case OPT_DIRECT:
			o->direct = true;
			break;
		case OPT_NOPOLL:
			o->poll_us = 0;
			break;
		case OPT_POLLUS:
			o->poll_us = parse_uint("--poll-us", optarg, 1,
						MAX_POLL_US);
			break;
		case OPT_COALESCE:
			o->coalesce_us = parse_uint("--coalesce-us", optarg, 0,
						    MAX_COALESCE_US);
			break;
		case OPT_PIN:
			o->pin = 1;
			break;
		case OPT_NOPIN:
			o->pin = 0;
			break;
		case OPT_IO:
			if (!strcmp(optarg, "uring"))
				o->io = IO_URING;
			else if (!strcmp(optarg, "sync"))
				o->io = IO_SYNC;
			else if (!strcmp(optarg, "map"))
				o->io = IO_MAP;
			else if (!strcmp(optarg, "auto"))
				o->io = IO_AUTO;
			else
				uvemu_die(2, "--io: '%s' is not uring, sync, map or auto",
					  optarg);
			break;
		case OPT_COPY:
			o->copy = uvcopy_option(optarg);
			break;
		case OPT_NOTIFY:
			if (!strcmp(optarg, "uring"))
				o->notify = NOTIFY_URING;
			else if (!strcmp(optarg, "eventfd"))
				o->notify = NOTIFY_EVENTFD;
			else if (!strcmp(optarg, "auto"))
				o->notify = NOTIFY_AUTO;
			else
				uvemu_die(2, "--notify: '%s' is not uring, eventfd or auto",
					  optarg);
			break;
		case OPT_STATFS:
			o->statfs = optarg;
			break;
		case OPT_RECOVERY:
			o->recovery = true;
			break;
		case OPT_ATTACH:
			o->attach = parse_uint("--attach", optarg, 0, INT32_MAX);
			break;
		case OPT_DEV:
			o->dev = optarg;
			break;
		case OPT_ZERO:
			o->zero_buffers = true;
			break;
		case OPT_INDIRECT:
			o->indirect = true;
			break;
		case OPT_NOINDIRECT:
			o->indirect = false;
			break;
		case OPT_BOUNCE:
			if (args_parse_size(optarg, &v))
				uvemu_die(2, "--bounce-size: '%s' is not a size",
					  optarg);
			if (v < UVIRTIO_MIN_BOUNCE_SIZE ||
			    v > UVIRTIO_MAX_BOUNCE_SIZE || v % 4096)
				uvemu_die(2, "--bounce-size: %s is not a multiple of 4K from 1M to 256M",
					  optarg);
			o->bounce_size = v;
			break;
		case OPT_F_KICKS:
			o->fault_ignore_kicks = parse_uint(
				"--fault-ignore-kicks", optarg, 0,
				MAX_QUEUES - 1);
			break;
		case OPT_F_IRQ:
			o->fault_withhold_irq = parse_uint(
				"--fault-withhold-irq", optarg, 0,
				MAX_QUEUES - 1);
			break;
		case OPT_F_DELAY:
			o->fault_delay_ms = parse_uint("--fault-delay-ms",
						       optarg, 0, 600000);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case OPT_VERSION:
			uvemu_version(VERSION);
		default:
			uvemu_bad_option(c, argv);
		}
	}
	o->backing = uvemu_operand(argc, argv, "BACKING");
	if (o->fault_ignore_kicks >= (int)o->num_queues)
		uvemu_die(2, "--fault-ignore-kicks: queue %d does not exist (--queues %u)",
			  o->fault_ignore_kicks, o->num_queues);
	if (o->fault_withhold_irq >= (int)o->num_queues)
		uvemu_die(2, "--fault-withhold-irq: queue %d does not exist (--queues %u)",
			  o->fault_withhold_irq, o->num_queues);
	if (o->io == IO_MAP && o->direct)
		uvemu_die(2, "--io map and --direct exclude each other: the mapping is the page cache");
	/*
	 * Pinning puts a queue's thread on the CPU whose requests it serves,
	 * i.e. beside its submitter, which then waits for a CPU it holds.
	 * Measured on 2 vCPUs (bench/blk.sh, 2 queues, pinned vs not, one
	 * boot): one fio job QD32 0.10x vs 0.43x null_blk, QD1 0.033x vs
	 * 0.069x, 128k 0.26x vs 0.64x; two jobs level or better unpinned.
	 */
	if (o->pin < 0)
		o->pin = 0;
}

/**
 * open_mem() - open a ram:SIZE or null:SIZE backing
 * @e:		emulator
 * @b:		BACKING
 * @spec:	SIZE part
 * @ram:	ram (else null)
 *
 * Exits with 2 for a malformed size, 1 for other failures.
 */
static void open_mem(struct emu *e, const char *b, const char *spec, bool ram)
{
	uint64_t size;
	int ret;

	ret = args_parse_size(spec, &size);
	if (ret == -ERANGE)
		uvemu_die(2, "%s: size is too large", b);
	if (ret)
		uvemu_die(2, "%s: '%s' is not a size (bytes, optional K/M/G/T suffix)",
			  b, spec);
	if (!size)
		uvemu_die(1, "%s: size is 0", b);
	if (size % e->o.block_size)
		uvemu_die(1, "%s: size %llu is not a multiple of %u (the block size)",
			  b, (unsigned long long)size, e->o.block_size);
	ret = ram ? backend_open_ram(&e->be, size) :
		    backend_open_null(&e->be, size);
	if (ret)
		uvemu_die(1, "%s: cannot allocate %llu bytes", b,
			  (unsigned long long)size);
	e->be.readonly = e->o.readonly;
}

/**
 * open_backing() - open BACKING and check its size
 * @e:		emulator
 *
 * Exits with 1 (2 for a malformed ram: or null: size) on failure.
 */
static void open_backing(struct emu *e)
{
	const char *b = e->o.backing;
	uint64_t size;
	int ret;

	if (!strncmp(b, "ram:", 4) || !strncmp(b, "null:", 5)) {
		open_mem(e, b, strchr(b, ':') + 1, b[0] == 'r');
		return;
	}

	ret = backend_open_file(&e->be, b, e->o.readonly, e->o.direct);
	if (ret == -EROFS)
		uvemu_die(1, "%s: file is read-only (use --readonly)", b);
	if (ret == -EINVAL && e->o.direct)
		uvemu_die(1, "%s: cannot open with O_DIRECT: the filesystem does not support it", b);
	if (ret == -EINVAL)
		uvemu_die(1, "%s: not a regular file or block device", b);
	if (ret)
		uvemu_die(1, "%s: %s", b, strerror(-ret));
	size = e->be.size;
	if (!size)
		uvemu_die(1, "%s: size is 0", b);
	if (size % e->o.block_size)
		uvemu_die(1, "%s: size %llu is not a multiple of %u (the block size)",
			  b, (unsigned long long)size, e->o.block_size);
}

/**
 * choose_bounce() - the bounce pool size
 * @o:		options
 *
 * The pool holds every request in flight. A request is at most
 * SEG_MAX x SIZE_MAX bytes, but the block layer caps it at max_sectors_kb
 * (1280 KiB by default) and the driver rarely keeps more than 64 requests
 * per queue busy, so 32 MiB per queue holds 64 x 512 KiB requests; a
 * mapping that finds the pool full is retried by the driver. Between the
 * module's default (16 MiB) and its maximum (256 MiB).
 *
 * Return: bytes
 */
static uint64_t choose_bounce(const struct opts *o)
{
	uint64_t b = o->num_queues * BOUNCE_PER_QUEUE;

	if (o->bounce_size)
		return o->bounce_size;
	if (b < UVIRTIO_DEF_BOUNCE_SIZE)
		b = UVIRTIO_DEF_BOUNCE_SIZE;
	if (b > UVIRTIO_MAX_BOUNCE_SIZE)
		b = UVIRTIO_MAX_BOUNCE_SIZE;
	return b;
}

/**
 * can_lock_memory() - may this process pin memory beyond RLIMIT_MEMLOCK
 *
 * io_uring charges no pinned pages to a process with CAP_IPC_LOCK.
 *
 * Return: true if CAP_IPC_LOCK is effective
 */
static bool can_lock_memory(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d))
		return false;
	return d[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &
	       CAP_TO_MASK(CAP_IPC_LOCK);
}

/**
 * map_backing() - --io map, or --io auto on tmpfs and ramfs: map the file
 * @e:		emulator, its backing open
 *
 * A file that lives in memory is read and written by copies through a
 * shared mapping of it, in the queue's thread: no system call, no page
 * cache lookup and no worker thread per request (docs/uvirtio-blk.md,
 * "Files on tmpfs"). Exits with 1 if --io map cannot be had; --io auto
 * then says why and goes on with io_uring.
 */
static void map_backing(struct emu *e)
{
	int ret;

	if (e->be.fd < 0 || (e->o.io != IO_MAP && e->o.io != IO_AUTO))
		return;
	if (e->o.io == IO_AUTO && (e->o.direct || !backend_on_memfs(&e->be)))
		return;
	ret = backend_map(&e->be);
	if (!ret)
		return;
	if (e->o.io == IO_MAP && ret == -EOPNOTSUPP)
		uvemu_die(1, "--io map: %s is not a file on tmpfs or ramfs",
			  e->o.backing);
	if (e->o.io == IO_MAP)
		uvemu_die(1, "--io map: cannot map %s: %s", e->o.backing,
			  strerror(-ret));
	uvemu_log("%s: cannot map the file (%s): reads and writes by system calls",
		  e->o.backing, strerror(-ret));
}

/**
 * probe_uring() - may the backing file's I/O go through io_uring, and may
 * its rings pin the pool
 * @e:		emulator, its backing open
 *
 * Before the device is made, so that fit_bounce() sizes the pool for a
 * kernel that can pin it. Sets @e->uring_err and @e->uring_pins;
 * setup_engine() reports the outcome.
 */
static void probe_uring(struct emu *e)
{
	e->uring_err = -ENOENT;
	if (e->be.fd >= 0 && e->o.io != IO_SYNC)
		e->uring_err = blk_uring_probe(e->be.fd, e->o.queue_size,
					       &e->uring_pins,
					       &e->uring_shares);
	/* reads and writes of a mapped file never use the pool there */
	if (e->be.map)
		e->uring_pins = false;
}

/**
 * fit_bounce() - without --bounce-size, a pool that io_uring may pin
 * @e:		emulator, its backing open
 *
 * A file or block device served through io_uring offers the pool to each
 * queue's ring as fixed buffer (uring.c): then a transfer needs no user
 * copy (docs/uvirtio-blk.md, "A transfer in pieces"). The pins of an
 * ordinary user count against RLIMIT_MEMLOCK, 8 MiB by default, summed
 * over all of that user's rings, so the default pool (32 MiB a queue) is
 * always refused. Without --bounce-size the pool is therefore the largest
 * power of two whose pins (the pool once where the rings share it, 6.12
 * on; else pool times queues) take at most half the limit,
 * leaving the other half to a second disk, if that is at least
 * FIT_BOUNCE_MIN; else, for a process with CAP_IPC_LOCK, or where the
 * rings could not pin the pool at any size (Linux 6.1, io_uring refused:
 * probe_uring()), the default stays. Sets @e->o.bounce_size and
 * @e->memlock_kib when it chooses.
 */
static void fit_bounce(struct emu *e)
{
	unsigned int pins = e->uring_shares ? 1 : e->o.num_queues;
	uint64_t half, p;
	struct rlimit rl;

	if (e->o.bounce_size || e->o.attach >= 0 || !e->uring_pins ||
	    getrlimit(RLIMIT_MEMLOCK, &rl) ||
	    rl.rlim_cur == RLIM_INFINITY || can_lock_memory())
		return;
	half = rl.rlim_cur / 2;
	if (choose_bounce(&e->o) * pins <= half)
		return;
	for (p = FIT_BOUNCE_MIN; p * 2 * pins <= half; p *= 2)
		;
	if (p * pins > half)
		return;
	e->o.bounce_size = p;
	e->memlock_kib = rl.rlim_cur >> 10;
}

/**
 * seg_max() - most data segments per request
 * @o:		options
 *
 * What the ring and the bounce pool hold (uvdev_blk_seg_max(),
 * docs/uvirtio-blk.md, "Request size"), capped so that a request slot
 * stays small.
 *
 * Return: segments
 */
static unsigned int seg_max(const struct opts *o)
{
	unsigned int n = uvdev_blk_seg_max(choose_bounce(o), o->queue_size);

	return n > SEG_MAX_CAP ? SEG_MAX_CAP : n;
}

/**
 * attach_check() - the disk taken over must be the one the command line
 * describes
 * @e:		emulator, attached
 *
 * The driver keeps what it negotiated and read at probe time: a take-over
 * that serves it another block size, a smaller backing file, or writes on
 * a disk it believes read-only (or the reverse) corrupts data or fails
 * every write. So the device's config and the features the driver
 * accepted are read back and compared. Exits with 1, in one line, on a
 * mismatch.
 */
static void attach_check(struct emu *e)
{
	struct virtio_blk_config cfg;
	struct uvirtio_config_read cr;
	struct uvirtio_status st;
	uint64_t cap, f;
	bool ro;
	int ret;

	memset(&cfg, 0, sizeof(cfg));
	memset(&cr, 0, sizeof(cr));
	cr.len = offsetof(struct virtio_blk_config, blk_size) +
		 sizeof(cfg.blk_size);
	cr.data_addr = (uintptr_t)&cfg;
	ret = ioctl(e->em.dev.fd, UVIRTIO_GET_CONFIG, &cr) < 0 ? -errno : 0;
	if (!ret)
		ret = uvdev_get_status(&e->em.dev, &st);
	if (ret)
		uvemu_die(1, "--attach %d: cannot read the device back: %s",
			  e->o.attach, strerror(-ret));
	f = st.driver_features;
	cap = le64toh(cfg.capacity);
	if (cap > e->bd.sectors)
		uvemu_die(1, "--attach %d: the disk has %llu sectors, %s only %llu",
			  e->o.attach, (unsigned long long)cap, e->o.backing,
			  (unsigned long long)e->bd.sectors);
	if (le32toh(cfg.blk_size) != e->o.block_size)
		uvemu_die(1, "--attach %d: the disk's block size is %u, not %u (--block-size)",
			  e->o.attach, le32toh(cfg.blk_size), e->o.block_size);
	/* 0 (no SEG_MAX) means one segment to the driver */
	e->seg_max = le32toh(cfg.seg_max) ? le32toh(cfg.seg_max) : 1;
	if (e->seg_max > SEG_MAX_CAP)
		uvemu_die(1, "--attach %d: the disk takes requests of %u segments, more than the %d this program serves",
			  e->o.attach, e->seg_max, SEG_MAX_CAP);
	if (!(st.status & VIRTIO_CONFIG_S_FEATURES_OK))
		return;
	ro = f & 1ULL << VIRTIO_BLK_F_RO;
	if (ro != e->o.readonly)
		uvemu_die(1, "--attach %d: the disk is %s, the command line says %s",
			  e->o.attach, ro ? "read-only" : "writable",
			  e->o.readonly ? "--readonly" : "writable");
	if ((f & 1ULL << VIRTIO_BLK_F_DISCARD) && !e->bd.discard)
		uvemu_die(1, "--attach %d: the driver uses discard, which this command line does not serve",
			  e->o.attach);
	if ((f & 1ULL << VIRTIO_BLK_F_WRITE_ZEROES) && !e->bd.write_zeroes)
		uvemu_die(1, "--attach %d: the driver uses write-zeroes, which this command line does not serve",
			  e->o.attach);
	/* a larger backing file: serve what the driver knows */
	e->bd.sectors = cap;
}

/**
 * attach_device() - --attach: take over a recovery-mode disk
 * @e:		emulator, /dev/uvirtio open, config built from the options
 *
 * The queues the driver has set up are served at once (their unfinished
 * heads first); the number of queues and their size are the device's.
 */
static void attach_device(struct emu *e)
{
	int ret = uvdev_attach(&e->em.dev, e->o.attach);

	if (ret == -ENOENT)
		uvemu_die(1, "--attach %d: no uvirtio-%d is waiting for an emulator (not in recovery mode, taken over already, or timed out)",
			  e->o.attach, e->o.attach);
	if (ret == -EPERM)
		uvemu_die(1, "--attach %d: uvirtio-%d belongs to another user",
			  e->o.attach, e->o.attach);
	if (ret)
		uvemu_die(1, "--attach %d: %s", e->o.attach, strerror(-ret));
	attach_check(e);
	if (e->em.dev.num_queues != e->o.num_queues)
		uvemu_log("uvirtio-%d: %u queues, not %u: serving them all",
			  e->o.attach, e->em.dev.num_queues, e->o.num_queues);
	e->o.num_queues = e->em.dev.num_queues;
	e->o.queue_size = e->em.dev.layout.queue_size;
}

/**
 * create_device() - open /dev/uvirtio, create the disk (not started
 * yet), or take one over (--attach)
 * @e:		emulator
 *
 * Exits with 1 on failure, saying what to do about it where possible.
 */
static void create_device(struct emu *e)
{
	uint64_t feat = 1ULL << VIRTIO_F_VERSION_1 |
			1ULL << VIRTIO_RING_F_EVENT_IDX |
			1ULL << VIRTIO_BLK_F_SIZE_MAX |
			1ULL << VIRTIO_BLK_F_SEG_MAX |
			1ULL << VIRTIO_BLK_F_BLK_SIZE |
			1ULL << VIRTIO_BLK_F_TOPOLOGY |
			1ULL << VIRTIO_BLK_F_FLUSH;
	struct virtio_blk_config *cfg = &e->cfg;
	const char *path = e->o.dev;
	struct uvdev_config c;
	int ret;

	uvemu_open(&e->em, path);

	memset(cfg, 0, sizeof(*cfg));
	cfg->capacity = htole64(e->bd.sectors);
	cfg->size_max = htole32(SIZE_MAX_BYTES);
	e->seg_max = seg_max(&e->o);
	cfg->seg_max = htole32(e->seg_max);
	cfg->blk_size = htole32(e->o.block_size);
	/* physical block = logical block, no misalignment, no I/O hints */
	cfg->physical_block_exp = 0;
	cfg->alignment_offset = 0;
	cfg->min_io_size = htole16(1);
	cfg->opt_io_size = htole32(0);
	if (e->o.readonly) {
		feat |= 1ULL << VIRTIO_BLK_F_RO;
	} else {
		feat |= 1ULL << VIRTIO_BLK_F_DISCARD |
			1ULL << VIRTIO_BLK_F_WRITE_ZEROES;
		cfg->max_discard_sectors = htole32(MAX_DEALLOC_SECTORS);
		cfg->max_discard_seg = htole32(1);
		cfg->discard_sector_alignment =
			htole32(e->o.block_size / BLK_SECTOR_SIZE);
		cfg->max_write_zeroes_sectors = htole32(MAX_DEALLOC_SECTORS);
		cfg->max_write_zeroes_seg = htole32(1);
		cfg->write_zeroes_may_unmap = 1;
		e->bd.discard = true;
		e->bd.write_zeroes = true;
	}
	if (e->o.indirect)
		feat |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	if (e->o.num_queues > 1) {
		feat |= 1ULL << VIRTIO_BLK_F_MQ;
		cfg->num_queues = htole16(e->o.num_queues);
	}

	if (e->o.attach >= 0) {
		attach_device(e);
		return;
	}
	memset(&c, 0, sizeof(c));
	c.recovery = e->o.recovery;
	c.device_id = VIRTIO_ID_BLOCK;
	c.num_queues = e->o.num_queues;
	c.queue_size = e->o.queue_size;
	c.features = feat;
	c.config = cfg;
	c.config_size = sizeof(*cfg);
	c.bounce_size = choose_bounce(&e->o);
	c.used_len = !e->o.zero_buffers;
	ret = uvdev_create(&e->em.dev, &c);
	if (ret)
		uvemu_die(1, "%s: cannot create the device: %s", path,
			  strerror(-ret));
}

/**
 * log_fixed() - say whether the queues' rings took the bounce pool as their
 * fixed buffer, and if not why
 * @e:		emulator
 * @eng:	its queues, set up with io_uring
 *
 * Each queue's ring pins the whole pool (once for all of them where they
 * share it, 6.12 on), and an ordinary user's pinned pages count against
 * RLIMIT_MEMLOCK (8 MiB by default): the usual reason is that limit, so it
 * is named with what would lift it.
 */
static void log_fixed(const struct emu *e, const struct blk_engine *eng)
{
	unsigned long long mib = e->em.dev.layout.bounce_size >> 20;
	const char *how = eng->q[0].io.vec_fixed ?
		", a transfer in pieces as one READV_FIXED/WRITEV_FIXED" :
		", a transfer in pieces as one operation per piece";
	char sized[128] = "", once[64] = "";
	unsigned int i, n = 0, shared = 0;
	struct rlimit rl;
	int err = 0;

	for (i = 0; i < eng->num_queues; i++) {
		if (eng->q[i].io.fixed_bufs)
			n++;
		else if (!err)
			err = -eng->q[i].io.fixed_err;
		shared += eng->q[i].io.shared_bufs;
	}
	if (e->memlock_kib)
		snprintf(sized, sizeof(sized),
			 " (the default pool sized to half of RLIMIT_MEMLOCK, %llu KiB; --bounce-size sets it)",
			 e->memlock_kib);
	if (shared && shared + 1 == eng->num_queues)
		snprintf(once, sizeof(once), ", pinned once for the %u queues",
			 eng->num_queues);
	if (n == eng->num_queues)
		uvemu_log("uvirtio-%u: io_uring per queue, bounce pool %llu MiB registered as fixed buffer%s%s%s",
			  e->em.dev.index, mib, sized, once, how);
	else if (err == ENOMEM && !getrlimit(RLIMIT_MEMLOCK, &rl) &&
		 rl.rlim_cur != RLIM_INFINITY)
		uvemu_log("uvirtio-%u: io_uring per queue, bounce pool %llu MiB registered as fixed buffer by %u of %u queues (the others readv/writev): %s, and RLIMIT_MEMLOCK is %llu KiB (a smaller --bounce-size or a higher limit lets them all)",
			  e->em.dev.index, mib, n, eng->num_queues,
			  e->uring_shares || eng->num_queues == 1 ?
			  "the pool is pinned once" : "each queue pins the pool",
			  (unsigned long long)rl.rlim_cur >> 10);
	else
		uvemu_log("uvirtio-%u: io_uring per queue, bounce pool %llu MiB registered as fixed buffer by %u of %u queues (the others readv/writev): %s%s",
			  e->em.dev.index, mib, n, eng->num_queues, strerror(err),
			  err == EOPNOTSUPP && !e->uring_pins ?
			  " (io_uring before Linux 6.5 takes no device memory as fixed buffer)" : "");
}

/**
 * setup_engine() - queue threads' state, io_uring rings, fault switches
 * @e:		emulator
 *
 * Exits with 1 on failure.
 */
static void setup_engine(struct emu *e)
{
	struct blk_engine *eng = &e->eng;
	bool sync_told = false;
	int ret;

	eng->bd = &e->bd;
	eng->be = &e->be;
	eng->num_queues = e->o.num_queues;
	eng->queue_size = e->o.queue_size;
	eng->seg_max = e->seg_max;
	eng->poll_max_ns = e->o.poll_us * 1000ULL;
	eng->hold_max_ns = e->o.coalesce_us * 1000ULL;
	eng->pin = e->o.pin > 0;
	eng->use_uring = e->be.fd >= 0 && e->o.io != IO_SYNC;
	if (eng->use_uring) {
		ret = e->uring_err;
		if (ret && e->o.io == IO_URING)
			uvemu_die(1, "uvirtio-%u: --io uring: io_uring is not available here: %s",
				  e->em.dev.index, strerror(-ret));
		if (ret) {
			uvemu_log("uvirtio-%u: io_uring is not available here (%s): %s in the queue threads",
				  e->em.dev.index, strerror(-ret),
				  e->be.map ? "discards and flushes" :
					      "synchronous file I/O");
			eng->use_uring = false;
			sync_told = true;
		}
	}
	/*
	 * tmpfs has no non-blocking reads and writes for io_uring, which
	 * then hands every request to a worker thread. For small requests
	 * that hand-over costs more than the copy (6.12, 4k QD32 random
	 * reads of a tmpfs file: 4.5k IOPS through io_uring, where loop on
	 * the same file did 11.7k), so they are served in the queue's
	 * thread; large ones gain from the workers copying in parallel with
	 * it (see BLK_TMPFS_URING_MIN). A mapped file (map_backing()) needs
	 * neither: every read and write is a copy in the queue's thread.
	 */
	if (e->o.notify != NOTIFY_EVENTFD) {
		ret = blk_uring_cmd_probe(e->em.dev.fd);
		if (ret && e->o.notify == NOTIFY_URING)
			uvemu_die(1, "uvirtio-%u: --notify uring: io_uring commands are not available here: %s",
				  e->em.dev.index, strerror(-ret));
		if (ret)
			uvemu_log("uvirtio-%u: io_uring commands are not available here (%s): kick and call eventfds",
				  e->em.dev.index, strerror(-ret));
		eng->ring_cmds = !ret;
	}
	if (eng->use_uring && e->be.map)
		eng->uring_min = UINT32_MAX;
	else if (eng->use_uring && e->o.io == IO_AUTO &&
		 backend_on_memfs(&e->be))
		eng->uring_min = BLK_TMPFS_URING_MIN;
	ret = blk_engine_init(eng, &e->em.dev,
			      (uint8_t *)e->em.dev.map + e->em.dev.layout.bounce_offset,
			      e->em.dev.layout.bounce_size);
	if (ret)
		uvemu_die(1, "uvirtio-%u: cannot set up the queues%s: %s",
			  e->em.dev.index, eng->use_uring ? " (io_uring)" : "",
			  strerror(-ret));
	if (e->be.map)
		uvemu_log("uvirtio-%u: %s: reads and writes copied through a mapping of the file in the queue threads (reads of holes by preadv)%s",
			  e->em.dev.index, e->o.backing,
			  eng->use_uring ? ", discards and flushes through io_uring" : "");
	else if (!eng->use_uring && e->be.fd >= 0 && !sync_told)
		uvemu_log("uvirtio-%u: synchronous file I/O in the queue threads",
			  e->em.dev.index);
	if (eng->use_uring && eng->uring_min && !e->be.map)
		uvemu_log("uvirtio-%u: tmpfs: reads and writes under %u KiB in the queue threads, larger ones through io_uring",
			  e->em.dev.index, eng->uring_min >> 10);
	if (eng->ring_cmds)
		uvemu_log("uvirtio-%u: queues driven by io_uring commands",
			  e->em.dev.index);
	/* only a mapped file and the RAM disk copy in the queue threads */
	if (e->be.map || e->be.type == BACKEND_RAM)
		uvcopy_start(e->o.copy, e->em.dev.index);
	if (eng->use_uring && !e->be.map)
		log_fixed(e, eng);
}

/**
 * resize() - SIGHUP: grow the disk to the backing file's size
 * @e:		emulator
 */
static void resize(struct emu *e)
{
	pthread_mutex_lock(&e->resize_lock);
	resize_locked(e);
	pthread_mutex_unlock(&e->resize_lock);
}

/**
 * resize_locked() - resize() with resize_lock held
 * @e:		emulator
 */
static void resize_locked(struct emu *e)
{
	uint64_t old = e->be.size, sectors;
	struct uvirtio_config_update u;
	uint64_t cap;
	int ret;

	ret = backend_refresh_size(&e->be);
	if (ret == -EOPNOTSUPP) {
		uvemu_log("uvirtio-%u: SIGHUP: a %s disk cannot be resized",
			  e->em.dev.index, e->be.type == BACKEND_RAM ? "ram" : "null");
		return;
	}
	if (ret) {
		uvemu_log("uvirtio-%u: SIGHUP: %s: %s", e->em.dev.index, e->o.backing,
			  strerror(-ret));
		return;
	}
	if (e->be.size < old || e->be.size % e->o.block_size) {
		uvemu_log("uvirtio-%u: SIGHUP: %s: size %llu is %s; keeping %llu",
			  e->em.dev.index, e->o.backing,
			  (unsigned long long)e->be.size,
			  e->be.size < old ? "smaller than the disk" :
			  "not a multiple of the block size",
			  (unsigned long long)old);
		e->be.size = old;
		return;
	}
	sectors = e->be.size / BLK_SECTOR_SIZE;
	if (sectors == e->bd.sectors)
		return;
	/* before the driver learns of the new sectors */
	ret = backend_map_grow(&e->be);
	if (ret)
		uvemu_log("uvirtio-%u: resize: %s: the mapping covers the first %llu MiB; the rest goes by system calls%s%s",
			  e->em.dev.index, e->o.backing,
			  (unsigned long long)(atomic_load(&e->be.map_size) >> 20),
			  ret == -EFBIG ? "" : ": ",
			  ret == -EFBIG ? "" : strerror(-ret));
	atomic_store(&e->bd.sectors, sectors);
	cap = htole64(sectors);
	memset(&u, 0, sizeof(u));
	u.offset = offsetof(struct virtio_blk_config, capacity);
	u.len = sizeof(cap);
	u.data_addr = (uintptr_t)&cap;
	if (ioctl(e->em.dev.fd, UVIRTIO_SET_CONFIG, &u) < 0) {
		uvemu_log("uvirtio-%u: resize: UVIRTIO_SET_CONFIG: %s",
			  e->em.dev.index, strerror(errno));
		return;
	}
	uvemu_log("uvirtio-%u: resized to %llu sectors%s", e->em.dev.index,
		  (unsigned long long)sectors,
		  e->be.map && !ret ? ", the file's mapping with it" : "");
}

/**
 * print_stats() - one line of counters per queue on stderr
 * @e:		emulator
 */
static void print_stats(struct emu *e)
{
	unsigned int i;

	for (i = 0; e->eng.q && i < e->eng.num_queues; i++) {
		struct blk_qstats *s = &e->eng.q[i].stats;

		uvemu_log("uvirtio-%u: queue %u: %llu requests, %llu MiB, %llu errors, %llu kick wake-ups, %llu interrupts, %llu completions without one (EVENT_IDX), polls %llu hit %llu missed, %llu holds saved an interrupt, %llu through io_uring (%llu on the pool as fixed buffer, %llu of them in several pieces), %llu io_uring_enter, %llu through the file's mapping",
			  e->em.dev.index, i,
			  (unsigned long long)uvcounter_read(&s->requests),
			  (unsigned long long)(uvcounter_read(&s->bytes) >> 20),
			  (unsigned long long)uvcounter_read(&s->errors),
			  (unsigned long long)uvcounter_read(&s->kicks),
			  (unsigned long long)uvcounter_read(&s->irqs),
			  (unsigned long long)uvcounter_read(&s->irqs_suppressed),
			  (unsigned long long)uvcounter_read(&s->polls),
			  (unsigned long long)uvcounter_read(&s->poll_misses),
			  (unsigned long long)uvcounter_read(&s->holds),
			  (unsigned long long)uvcounter_read(&s->uring),
			  (unsigned long long)uvcounter_read(&s->fixed),
			  (unsigned long long)uvcounter_read(&s->fixed_pieces),
			  (unsigned long long)uvcounter_read(&s->enters),
			  (unsigned long long)uvcounter_read(&s->mapped));
	}
}

/**
 * blk_finish() - uvemu_ops.finish: the device is gone; stop the queues,
 * print their counters, sync the backing
 * @em:		main thread
 * @code:	exit status so far
 *
 * Return: @code, or 1 if the backing could not be synced
 */
static int blk_finish(struct uvemu *em, int code)
{
	struct emu *e = em->priv;
	int ret;

	blk_engine_stop(&e->eng);
	print_stats(e);
	ret = backend_flush(&e->be);
	if (ret) {
		uvemu_log("%s: sync: %s", e->o.backing, strerror(-ret));
		code = 1;
	}
	return code;
}

/**
 * blk_node() - uvemu_ops.node: the disk's /dev node, once it can be used
 * @em:		main thread
 * @node:	out
 * @len:	bytes at @node
 *
 * Return: 0, or -ENOENT while the node is not there yet
 */
static int blk_node(struct uvemu *em, char *node, size_t len)
{
	return uvdev_disk_node(&em->dev, node, len);
}

/**
 * blk_ready() - uvemu_ops.ready: the disk is there; arm the test faults
 * @em:		main thread
 * @node:	its /dev node
 */
static void blk_ready(struct uvemu *em, const char *node)
{
	uvemu_log("uvirtio-%u: serving %s", em->dev.index, node);
	faults_arm(em->priv);
}

/**
 * blk_signal() - uvemu_ops.signal: SIGHUP resizes, SIGUSR1 lifts the test
 * faults, SIGUSR2 prints the counters
 * @em:		main thread
 * @signo:	the signal
 */
static void blk_signal(struct uvemu *em, int signo)
{
	struct emu *e = em->priv;

	if (signo == SIGHUP) {
		resize(e);
	} else if (signo == SIGUSR1) {
		blk_engine_lift_faults(&e->eng);
		uvemu_log("uvirtio-%u: SIGUSR1: faults lifted", em->dev.index);
	} else if (signo == SIGUSR2) {
		print_stats(e);
	}
}

/**
 * blk_pause() - uvemu_ops.pause: the queue threads let go of their rings
 * @em:		main thread
 */
static void blk_pause(struct uvemu *em)
{
	blk_engine_pause(&((struct emu *)em->priv)->eng);
}

/**
 * blk_resume() - uvemu_ops.resume: the queue threads serve again
 * @em:		main thread
 */
static void blk_resume(struct uvemu *em)
{
	blk_engine_resume(&((struct emu *)em->priv)->eng);
}

static const struct uvemu_ops blk_emu_ops = {
	.pause = blk_pause,
	.resume = blk_resume,
	.signal = blk_signal,
	.node = blk_node,
	.ready = blk_ready,
	.finish = blk_finish,
};

/* ---- the status filesystem and the test faults ---- */

/**
 * faults_arm() - switch on the --fault-* test faults
 * @e:		emulator
 *
 * Only once the disk exists and its probe is over: a fault during the
 * probe (a root disk's partition scan) would hold the kernel's probe.
 */
static void faults_arm(struct emu *e)
{
	struct blk_engine *eng = &e->eng;

	if (e->o.fault_ignore_kicks < 0 && e->o.fault_withhold_irq < 0 &&
	    !e->o.fault_delay_ms)
		return;
	atomic_store(&eng->faults.delay_ms, e->o.fault_delay_ms);
	if (e->o.fault_ignore_kicks >= 0)
		atomic_store(&eng->q[e->o.fault_ignore_kicks].faults.ignore_kicks,
			     true);
	if (e->o.fault_withhold_irq >= 0)
		atomic_store(&eng->q[e->o.fault_withhold_irq].faults.withhold_irq,
			     true);
	uvemu_log("uvirtio-%u: faults armed (test feature): ignore-kicks %d, withhold-irq %d, delay %u ms",
		  e->em.dev.index, e->o.fault_ignore_kicks, e->o.fault_withhold_irq,
		  e->o.fault_delay_ms);
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

	if (uvdev_child_name(&e->em.dev, "block", name, sizeof(name)))
		snprintf(name, sizeof(name), "-");
	return snprintf(buf, len,
			"type: blk\nkernel: %s\nbackend: %s%s\ncapacity: %llu sectors\npid: %d\n",
			name, e->o.backing, e->o.readonly ? " (read-only)" : "",
			(unsigned long long)atomic_load(&e->bd.sectors),
			(int)getpid());
}

/**
 * statfs_counters() - uvstatfs_ops.counters, from struct blk_qstats
 * @opaque:	struct emu
 * @q:		queue index
 * @c:		out
 */
static void statfs_counters(void *opaque, unsigned int q,
			    struct uvstatfs_counters *c)
{
	struct emu *e = opaque;
	struct blk_qstats *st;

	if (q >= e->eng.num_queues)
		return;
	st = &e->eng.q[q].stats;
	atomic_store(&c->kicks, atomic_load_explicit(&st->kicks, memory_order_relaxed));
	atomic_store(&c->interrupts, atomic_load_explicit(&st->irqs, memory_order_relaxed));
	atomic_store(&c->interrupts_suppressed,
		     atomic_load_explicit(&st->irqs_suppressed, memory_order_relaxed));
	atomic_store(&c->requests, atomic_load_explicit(&st->requests, memory_order_relaxed));
	atomic_store(&c->bytes, atomic_load_explicit(&st->bytes, memory_order_relaxed));
	atomic_store(&c->errors, atomic_load_explicit(&st->errors, memory_order_relaxed));
}

/* VIRTIO_BLK_T_* as the inflight file names them. */
static const char *statfs_type(uint32_t type)
{
	switch (type) {
	case VIRTIO_BLK_T_IN: return "read";
	case VIRTIO_BLK_T_OUT: return "write";
	case VIRTIO_BLK_T_FLUSH: return "flush";
	case VIRTIO_BLK_T_GET_ID: return "get_id";
	case VIRTIO_BLK_T_DISCARD: return "discard";
	case VIRTIO_BLK_T_WRITE_ZEROES: return "write_zeroes";
	default: return "other";
	}
}

/**
 * statfs_inflight() - uvstatfs_ops.inflight, from the queue's table
 * @opaque:	struct emu
 * @q:		queue index
 * @emit:	called per request
 * @ctx:	its context
 */
static void statfs_inflight(void *opaque, unsigned int q,
			    uvstatfs_emit_fn emit, void *ctx)
{
	struct emu *e = opaque;
	unsigned int h;

	if (q >= e->eng.num_queues)
		return;
	for (h = 0; h < e->eng.queue_size; h++) {
		struct blk_inflight_copy c;
		struct uvstatfs_req r;

		blk_inflight_read(&e->eng.q[q].inflight[h], &c);
		if (!c.active)
			continue;
		r.head = c.head;
		r.type = statfs_type(c.type);
		r.sector = c.sector;
		r.len = c.len;
		r.start_ns = c.start_ns;
		emit(ctx, &r);
	}
}

/**
 * statfs_get_control() - uvstatfs_ops.get_control: the capacity
 * @opaque:	struct emu
 * @ctl:	BLK_STATFS_CAPACITY
 * @buf:	out
 * @len:	bytes at @buf
 *
 * Return: bytes written, -EINVAL for another control
 */
static int statfs_get_control(void *opaque, unsigned int ctl, char *buf,
			      size_t len)
{
	struct emu *e = opaque;

	if (ctl != BLK_STATFS_CAPACITY)
		return -EINVAL;
	return snprintf(buf, len, "%llu\n",
			(unsigned long long)atomic_load(&e->bd.sectors));
}

/**
 * statfs_set_control() - writing DIR/capacity: grow the disk
 * @opaque:	struct emu
 * @ctl:	BLK_STATFS_CAPACITY
 * @val:	new capacity in 512-byte sectors
 *
 * A file backing grows to the new size (ftruncate) and the disk follows,
 * as on SIGHUP; RAM and null disks cannot be resized, none can shrink.
 *
 * Return: 0, -EINVAL (not a number of sectors, or smaller, or not a
 * multiple of the block size), -EROFS, -EOPNOTSUPP, or ftruncate()'s error
 */
static int statfs_set_control(void *opaque, unsigned int ctl, const char *val)
{
	struct emu *e = opaque;
	uint64_t sectors, bytes;
	int ret = 0;

	if (ctl != BLK_STATFS_CAPACITY)
		return -EINVAL;
	if (args_parse_u64(val, &sectors) || !sectors ||
	    sectors > UINT64_MAX / BLK_SECTOR_SIZE)
		return -EINVAL;
	bytes = sectors * BLK_SECTOR_SIZE;
	if (e->o.readonly)
		return -EROFS;
	if (e->be.type != BACKEND_FILE)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&e->resize_lock);
	if (sectors < atomic_load(&e->bd.sectors) || bytes % e->o.block_size)
		ret = -EINVAL;
	else if (bytes > e->be.size && ftruncate(e->be.fd, bytes))
		ret = -errno;
	else
		resize_locked(e);
	if (!ret && atomic_load(&e->bd.sectors) != sectors)
		ret = -EIO;
	pthread_mutex_unlock(&e->resize_lock);
	return ret;
}

static const struct uvstatfs_ops blk_statfs_ops = {
	.device_id = VIRTIO_ID_BLOCK,
	.describe = statfs_describe,
	.counters = statfs_counters,
	.inflight = statfs_inflight,
	.feature_names = blk_statfs_features,
	.control_names = blk_statfs_controls,
	.get_control = statfs_get_control,
	.set_control = statfs_set_control,
};

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

	uvemu_init(&e->em, PROG, &blk_emu_ops, e, "disk node");
	parse_opts(argc, argv, &e->o);
	open_backing(e);
	map_backing(e);
	probe_uring(e);
	fit_bounce(e);

	e->bd.be = &e->be;
	e->bd.sectors = e->be.size / BLK_SECTOR_SIZE;
	e->bd.readonly = e->o.readonly;
	if (e->o.serial)
		memcpy(e->bd.serial, e->o.serial, strlen(e->o.serial));

	create_device(e);
	setup_engine(e);
	uvemu_statfs_mount(&e->em, &e->statfs, e->o.statfs, &blk_statfs_ops, e);
	ret = blk_engine_run(&e->eng);
	if (ret)
		uvemu_die(1, "uvirtio-%u: cannot start the queue threads: %s",
			  e->em.dev.index, strerror(-ret));
	uvemu_start(&e->em, e->o.attach >= 0);
	uvemu_log("uvirtio-%u: %s, %llu sectors, %u queue%s of %u, block size %u%s%s%s",
		  e->em.dev.index, e->o.backing, (unsigned long long)e->bd.sectors,
		  e->o.num_queues, e->o.num_queues > 1 ? "s" : "",
		  e->o.queue_size, e->o.block_size,
		  e->o.direct ? ", O_DIRECT" : "",
		  e->o.poll_us ? "" : ", no polling",
		  e->o.readonly ? ", read-only" : "");
	uvemu_run(&e->em);
}

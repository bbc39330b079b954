// SPDX-License-Identifier: GPL-2.0-only
/*
 * uvirtio-net - a virtio-net device served by this process
 *
 * Creates a virtio-net device through /dev/uvirtio with one or more queue
 * pairs (--queues: VIRTIO_NET_F_MQ), moves frames between them and a
 * backend (stream socket, passt, UNIX datagram sockets, tap), prints the
 * interface name as the last line on stdout once the kernel's virtio_net
 * driver has bound, and serves until SIGTERM/SIGINT, which removes the
 * interface and exits 0.
 *
 * The main thread runs libuvirtio's skeleton (lib/emu.c: event loop,
 * signals, readiness); this file adds what the device's events, signals,
 * link and status filesystem mean for a network device. Each queue pair
 * has a thread of its own (pair.c). The control virtqueue (the last queue) is answered by the
 * module, which reports each command as an event: the driver never waits
 * on us. VQ_PAIRS_SET re-steers the backends onto the pairs the driver
 * enabled.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "backend.h"
#include "copy.h"
#include "dev.h"
#include "emu.h"
#include "emu_statfs.h"
#include "iovc.h"
#include "net.h"
#include "pair.h"
#include "statfs_net.h"

#define PROG			"uvirtio-net"
#define VERSION			"0.1"

#define DEF_QUEUE_SIZE		1024
/*
 * virtio_net's tx needs MAX_SKB_FRAGS + 2 descriptors free (19 with the
 * default 17 fragments); the module refuses a ring of that size or less.
 */
#define MIN_QUEUE_SIZE		32
#define DEF_MTU			1500
#define MIN_MTU			68
#define MAX_MTU			65520
/* The header every frame carries on the rings (VERSION_1). */
#define HDR_LEN			((unsigned int)sizeof(struct virtio_net_hdr_v1))
/*
 * The bounce pool holds every ring's buffers: up to 64 KiB per tx chain.
 * 128 MiB for one pair; several pairs share the module's largest pool (a
 * full pool makes the driver retry or drop, as a full ring does).
 */
#define BOUNCE_SIZE(pairs)	((pairs) > 1 ? UVIRTIO_MAX_BOUNCE_SIZE : \
				 128ULL << 20)


/**
 * struct opts - the command line
 * @mac:	--mac, or random
 * @mtu:	--mtu
 * @queue_size:	--queue-size
 * @queues:	--queues: queue pairs
 * @threads:	--threads: threads serving them, or 0: the default
 * @pin:	--pin: pin thread i to the i-th usable CPU
 * @offload:	offer checksum and TSO offloads where the backend carries them
 * @ring:	dgram: trade shared rings with the peer (not --no-ring)
 * @copy:	--copy: how frames are copied to and from the rings
 * @zero_buffers: --zero-buffers: no UVIRTIO_CREATE_F_USED_LEN
 * @unshare:	--unshare: new user and network namespace for the device
 * @link_down:	--link-down: start with the link down
 * @dev:	--dev
 * @statfs:	--statfs DIR, or NULL
 * @backend:	BACKEND
 */
struct opts {
	uint8_t mac[ETH_ALEN];
	unsigned int mtu;
	unsigned int queue_size;
	unsigned int queues;
	unsigned int threads;
	bool pin;
	bool offload;
	bool ring;
	enum uvcopy_mode copy;
	bool zero_buffers;
	bool unshare;
	bool link_down;
	const char *dev;
	const char *statfs;
	const char *backend;
};

/**
 * struct emu - the emulator's state
 * @o:		options
 * @sh:		what other threads may touch (net.h)
 * @statfs:	the status filesystem, or NULL
 * @b:		pair 0's backend, as parsed (each pair has its own, pair.h)
 * @em:		the main thread and the uvirtio device (em.dev)
 * @dp:		the data path: queue pairs and their threads
 * @features:	features offered
 * @driver_ok:	the driver set DRIVER_OK and its rx queue is ready
 * @named:	the interface name was printed
 * @ifname:	interface name
 */
struct emu {
	struct opts o;
	struct net_shared sh;
	struct uvstatfs *statfs;
	struct nb b;
	struct uvemu em;
	struct net_dp dp;
	uint64_t features;
	bool driver_ok;
	bool named;
	char ifname[IFNAMSIZ];
};

static struct emu emu;

/**
 * net_log() - print one line of progress on stderr (any thread)
 * @fmt:	message
 */
void net_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	uvemu_vlog(fmt, ap);
	va_end(ap);
}

/**
 * net_set_link() - ask for the link to go up or down
 * @s:		shared state
 * @up:		true for up
 *
 * Safe from any thread: the main thread applies it (the link is only up
 * while every pair's backend is connected, too).
 *
 * Return: 0 or -errno (the wake-up could not be sent)
 */
int net_set_link(struct net_shared *s, bool up)
{
	uint64_t one = 1;

	atomic_store_explicit(&s->link_want, up, memory_order_relaxed);
	if (write(s->wake_fd, &one, sizeof(one)) != sizeof(one))
		return -errno;
	return 0;
}

/**
 * net_faults_clear() - lift every test fault
 * @s:		shared state
 *
 * Safe from any thread and from a signal handler. Completions withheld so
 * far are signalled at the data path's next flush; the caller wakes the
 * pair threads (net_pairs_wake()) to get there at once.
 */
void net_faults_clear(struct net_shared *s)
{
	atomic_store_explicit(&s->faults.ignore_kicks, 0, memory_order_relaxed);
	atomic_store_explicit(&s->faults.withhold_irq, 0, memory_order_relaxed);
	atomic_store_explicit(&s->faults.delay_ms, 0, memory_order_relaxed);
}

/**
 * usage() - print the help text
 * @f:		stream
 */
static void usage(FILE *f)
{
	fprintf(f,
"Usage: " PROG " [OPTIONS] BACKEND\n"
"Serve a virtio-net interface from this process through /dev/uvirtio.\n"
"\n"
"BACKEND is one of:\n"
"  stream:PATH         connect to the UNIX stream socket PATH (QEMU -netdev\n"
"                      stream / passt framing: a 4-byte big-endian length,\n"
"                      then the frame); reconnects when the peer comes back\n"
"  passt               start passt --fd on a socketpair (user-mode\n"
"                      networking, no privileges needed)\n"
"  dgram:LOCAL,REMOTE  bind the UNIX datagram socket LOCAL, send to REMOTE:\n"
"                      cables two uvirtio-net devices; offloads pass through;\n"
"                      with --queues N, pair i > 0 binds LOCAL.i and sends to\n"
"                      REMOTE.i: both ends need the same --queues\n"
"  tap:IFNAME          a tap device with IFF_VNET_HDR (needs CAP_NET_ADMIN);\n"
"                      with --queues N, IFF_MULTI_QUEUE, one tap queue a pair\n"
"\n"
"Options:\n"
"  --mac XX:XX:XX:XX:XX:XX  MAC address (default: random, locally\n"
"                      administered)\n"
"  --mtu N             MTU offered to the driver, %d..%d (default %d)\n"
"  --queue-size N      ring size, a power of two from %d to %d (default %d)\n"
"  --queues N          queue pairs, 1 to %d (default 1); N > 1 offers\n"
"                      VIRTIO_NET_F_MQ; dgram and tap only (stream and\n"
"                      passt carry one connection)\n"
"  --threads N         threads serving the queue pairs, 1 to --queues\n"
"                      (default: one for every two usable CPUs, at most\n"
"                      one a pair); pair i is served by thread i %% N\n"
"  --pin               pin thread i to the i-th usable CPU\n"
"  --no-offload        offer no checksum or TSO offloads\n"
"  --no-ring           dgram: send every frame through the sockets, never\n"
"                      through a shared ring (see below)\n"
"  --copy MODE         dgram: how frames are copied between the bounce\n"
"                      buffers and the shared rings: memcpy (glibc's),\n"
"                      loop (8-byte moves: faster where rep movsb is slow,\n"
"                      as under QEMU's TCG) or auto (default: times both\n"
"                      at start and takes the loop only if it is at least\n"
"                      1.25 times as fast)\n"
"  --zero-buffers      have the module zero every receive buffer when the\n"
"                      driver maps it (default: it zeroes only what a\n"
"                      completion says was not written, in the driver's\n"
"                      pages)\n"
"  --unshare           after starting the backend, create the device in a\n"
"                      new user and network namespace (like unshare -U -r -n)\n"
"  --passt-args ARGS   extra arguments for passt, space-separated\n"
"  --link-down         start with the link down (SIGHUP toggles it)\n"
"  --dev PATH          uvirtio control device (default " UVDEV_PATH ")\n"
"  --statfs DIR        mount the status filesystem at DIR (ring indices,\n"
"                      counters, a stuck verdict; DIR/link sets the link\n"
"                      up or down); needs FUSE where the emulator starts\n"
"  -h, --help          print this help and exit\n"
"  --version           print the version and exit\n"
"\n"
"Test features (fault injection; SIGUSR1 lifts them all):\n"
"  --fault-ignore-kicks=Q   never act on kicks of queue Q (2P: rx of pair P,\n"
"                           2P+1: its tx)\n"
"  --fault-withhold-irq=Q   publish completions of queue Q without\n"
"                           interrupting the driver\n"
"  --fault-delay-ms=N       sleep N ms before serving each batch\n"
"\n"
"Checksum and TSO offloads are offered with dgram and tap, which carry the\n"
"virtio-net header; with stream and passt the driver computes checksums and\n"
"segments itself. Frames shorter than an Ethernet header or longer than the\n"
"MTU allows are dropped and counted, both ways.\n"
"\n"
"Two uvirtio-net processes cabled with dgram trade shared rings, each\n"
"queue pair with the peer's: each passes the other a sealed memfd over\n"
"the socket, writes the frames it sends into it, and reads the other's,\n"
"so no frame costs a system call or a socket buffer. The sockets still\n"
"carry wake-ups and tell a dead peer. A ring that breaks its layout is\n"
"dropped and the frames go through the sockets again; so they do with\n"
"any other dgram peer.\n"
"\n"
"With --queues N the driver starts on one pair and enables more with\n"
"ethtool -L IF combined M (VQ_PAIRS_SET; Linux enables as many as it has\n"
"CPUs). Frames from the backend of pair j go to receive queue j %% M, so\n"
"disabled queues carry no traffic. Each frame leaves on a backend of its\n"
"thread chosen by a hash of its flow (addresses, ports), whichever transmit\n"
"queue the driver used: a flow reaches the peer on one queue, in order.\n"
"\n"
"Once the interface exists, its name is printed as the last line on\n"
"standard output. SIGTERM or SIGINT removes it and exits 0 (a second\n"
"signal exits 1 at once); SIGUSR2 prints the counters on standard error\n"
"(also printed at exit): one line per queue (rx0, tx0, rx1, ...) with\n"
"--queues > 1, and the sums (rx, tx). Once the driver has started the\n"
"device, the interface must appear within 30 s or the program exits 1.\n"
"\n"
"Exit status: 0 after a clean removal, 1 on errors, 2 on usage errors.\n",
		MIN_MTU, MAX_MTU, DEF_MTU, MIN_QUEUE_SIZE, UVIRTIO_MAX_QUEUE_SIZE,
		DEF_QUEUE_SIZE, NET_MAX_PAIRS);
}

/**
 * parse_uint() - parse a decimal number within bounds
 * @s:		text
 * @min:	smallest allowed
 * @max:	largest allowed
 * @v:		out: value
 *
 * Return: 0, or -EINVAL
 */
static int parse_uint(const char *s, unsigned long min, unsigned long max,
		      unsigned int *v)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || n < min || n > max)
		return -EINVAL;
	*v = n;
	return 0;
}

/**
 * parse_mac() - parse XX:XX:XX:XX:XX:XX
 * @s:		text
 * @mac:	out
 *
 * Return: 0, or -EINVAL (also for a multicast address)
 */
static int parse_mac(const char *s, uint8_t *mac)
{
	unsigned int m[ETH_ALEN];
	char tail;
	int i;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0], &m[1], &m[2],
		   &m[3], &m[4], &m[5], &tail) != ETH_ALEN)
		return -EINVAL;
	for (i = 0; i < ETH_ALEN; i++)
		mac[i] = m[i];
	return mac[0] & 1 ? -EINVAL : 0;
}

/**
 * default_threads() - threads for @queues pairs without --threads
 * @queues:	queue pairs
 *
 * One for every two usable CPUs, at most one a pair: each frame a pair
 * thread moves also costs the stack and the application on the other side
 * of the driver CPU time, so threads for every CPU crowd them out. On 2
 * vCPUs, 4 pairs on one thread moved as much as one pair with 4 streams,
 * on two threads 0.86x (docs/uvirtio-net.md).
 *
 * Return: the thread count
 */
static unsigned int default_threads(unsigned int queues)
{
	cpu_set_t cpus;
	unsigned int n;

	if (sched_getaffinity(0, sizeof(cpus), &cpus))
		return 1;
	n = CPU_COUNT(&cpus) / 2;
	return n < 1 ? 1 : n < queues ? n : queues;
}

/**
 * parse_opts() - read the command line
 * @argc:	argument count
 * @argv:	arguments
 * @e:		emulator
 */
static void parse_opts(int argc, char **argv, struct emu *e)
{
	enum { OPT_MAC = 256, OPT_MTU, OPT_QS, OPT_NOOFF, OPT_UNSHARE,
	       OPT_PASST, OPT_LINKDOWN, OPT_DEV, OPT_VERSION, OPT_FKICK,
	       OPT_FIRQ, OPT_FDELAY, OPT_STATFS, OPT_QUEUES, OPT_THREADS,
	       OPT_PIN, OPT_NORING, OPT_ZERO, OPT_COPY };
	static const struct option longopts[] = {
		{ "mac",		required_argument, NULL, OPT_MAC },
		{ "mtu",		required_argument, NULL, OPT_MTU },
		{ "queue-size",		required_argument, NULL, OPT_QS },
		{ "queues",		required_argument, NULL, OPT_QUEUES },
		{ "threads",		required_argument, NULL, OPT_THREADS },
		{ "pin",		no_argument,	   NULL, OPT_PIN },
		{ "no-offload",		no_argument,	   NULL, OPT_NOOFF },
		{ "no-ring",		no_argument,	   NULL, OPT_NORING },
		{ "copy",		required_argument, NULL, OPT_COPY },
		{ "zero-buffers",	no_argument,	   NULL, OPT_ZERO },
		{ "unshare",		no_argument,	   NULL, OPT_UNSHARE },
		{ "passt-args",		required_argument, NULL, OPT_PASST },
		{ "link-down",		no_argument,	   NULL, OPT_LINKDOWN },
		{ "dev",		required_argument, NULL, OPT_DEV },
		{ "statfs",		required_argument, NULL, OPT_STATFS },
		{ "fault-ignore-kicks",	required_argument, NULL, OPT_FKICK },
		{ "fault-withhold-irq",	required_argument, NULL, OPT_FIRQ },
		{ "fault-delay-ms",	required_argument, NULL, OPT_FDELAY },
		{ "help",		no_argument,	   NULL, 'h' },
		{ "version",		no_argument,	   NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct opts *o = &e->o;
	const char *passt_args = NULL;
	uint32_t faults = 0;
	unsigned int v;
	int c, ret;

	o->mtu = DEF_MTU;
	o->queues = 1;
	o->queue_size = DEF_QUEUE_SIZE;
	o->offload = true;
	o->ring = true;
	o->dev = UVDEV_PATH;
	if (getrandom(o->mac, ETH_ALEN, 0) != ETH_ALEN)
		uvemu_die(1, "getrandom: %s", strerror(errno));
	o->mac[0] = (o->mac[0] & 0xfc) | 0x02;	/* unicast, local */

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_MAC:
			if (parse_mac(optarg, o->mac))
				uvemu_die(2, "--mac: '%s' is not a unicast MAC address",
					  optarg);
			break;
		case OPT_MTU:
			if (parse_uint(optarg, MIN_MTU, MAX_MTU, &o->mtu))
				uvemu_die(2, "--mtu: '%s' is not a number from %d to %d",
					  optarg, MIN_MTU, MAX_MTU);
			break;
		case OPT_QS:
			if (parse_uint(optarg, MIN_QUEUE_SIZE, UVIRTIO_MAX_QUEUE_SIZE, &v) ||
			    (v & (v - 1)))
				uvemu_die(2, "--queue-size: '%s' is not a power of two from %d to %d",
					  optarg, MIN_QUEUE_SIZE, UVIRTIO_MAX_QUEUE_SIZE);
			o->queue_size = v;
			break;
		case OPT_QUEUES:
			if (parse_uint(optarg, 1, NET_MAX_PAIRS, &o->queues))
				uvemu_die(2, "--queues: '%s' is not a number of queue pairs from 1 to %d",
					  optarg, NET_MAX_PAIRS);
			break;
		case OPT_THREADS:
			if (parse_uint(optarg, 1, NET_MAX_PAIRS, &o->threads))
				uvemu_die(2, "--threads: '%s' is not a number of threads from 1 to %d",
					  optarg, NET_MAX_PAIRS);
			break;
		case OPT_PIN:
			o->pin = true;
			break;
		case OPT_NOOFF:
			o->offload = false;
			break;
		case OPT_NORING:
			o->ring = false;
			break;
		case OPT_COPY:
			o->copy = uvcopy_option(optarg);
			break;
		case OPT_ZERO:
			o->zero_buffers = true;
			break;
		case OPT_UNSHARE:
			o->unshare = true;
			break;
		case OPT_PASST:
			passt_args = optarg;
			break;
		case OPT_LINKDOWN:
			o->link_down = true;
			break;
		case OPT_STATFS:
			o->statfs = optarg;
			break;
		case OPT_DEV:
			o->dev = optarg;
			break;
		case OPT_FKICK:
		case OPT_FIRQ:
			if (parse_uint(optarg, 0, NET_MAX_QUEUES - 1, &v))
				uvemu_die(2, "%s: '%s' is not a queue index (2P rx, 2P+1 tx of pair P)",
					  c == OPT_FKICK ? "--fault-ignore-kicks" :
					  "--fault-withhold-irq", optarg);
			faults |= 1U << v;
			atomic_fetch_or(c == OPT_FKICK ?
					&e->sh.faults.ignore_kicks :
					&e->sh.faults.withhold_irq, 1U << v);
			break;
		case OPT_FDELAY:
			if (parse_uint(optarg, 0, 10000, &v))
				uvemu_die(2, "--fault-delay-ms: '%s' is not a number from 0 to 10000",
					  optarg);
			atomic_store(&e->sh.faults.delay_ms, v);
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
	o->backend = uvemu_operand(argc, argv, "BACKEND");
	ret = nb_parse(&e->b, o->backend);
	if (ret == -ENAMETOOLONG)
		uvemu_die(2, "%s: path or interface name is too long", o->backend);
	if (ret)
		uvemu_die(2, "%s: not a backend (stream:PATH, passt, dgram:LOCAL,REMOTE, tap:IFNAME)",
			  o->backend);
	e->b.passt_args = passt_args;
	/* with steering another thread may read a backend: backend.h says
	 * which thread owns which part of it */
	e->b.ring_ok = o->ring && e->b.kind == NB_DGRAM;
	if (o->queues > 1 && !nb_can_multiqueue(&e->b))
		uvemu_die(2, "%s: carries one connection: --queues %u needs dgram or tap",
			  o->backend, o->queues);
	if (faults >> (2 * o->queues))
		uvemu_die(2, "--fault-*: queue %d does not exist (--queues %u: 0 to %u)",
			  31 - __builtin_clz(faults), o->queues, 2 * o->queues - 1);
	if (o->threads > o->queues)
		uvemu_die(2, "--threads %u: more threads than queue pairs (--queues %u)",
			  o->threads, o->queues);
	if (!o->threads)
		o->threads = default_threads(o->queues);
}

/**
 * write_file() - write a short string into a file
 * @path:	file
 * @s:		string
 *
 * Return: 0 or -errno
 */
static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -EIO;
}

/**
 * enter_namespaces() - --unshare: become root of new user and net namespaces
 *
 * Exits with 1 on failure.
 */
static void enter_namespaces(void)
{
	uid_t uid = getuid();
	gid_t gid = getgid();
	char map[64];

	if (unshare(CLONE_NEWUSER | CLONE_NEWNET))
		uvemu_die(1, "--unshare: %s", strerror(errno));
	snprintf(map, sizeof(map), "0 %u 1", uid);
	if (write_file("/proc/self/uid_map", map))
		uvemu_die(1, "--unshare: cannot write uid_map");
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "0 %u 1", gid);
	if (write_file("/proc/self/gid_map", map))
		uvemu_die(1, "--unshare: cannot write gid_map");
}

/**
 * carries_hdr() - the backend carries the virtio-net header with each frame
 * @e:		emulator
 *
 * Return: true for dgram and tap
 */
static bool carries_hdr(const struct emu *e)
{
	return e->b.hdr_len == HDR_LEN;
}

/**
 * create_device() - open /dev/uvirtio, create the device
 * @e:		emulator
 */
static void create_device(struct emu *e)
{
	const char *path = e->o.dev;
	struct virtio_net_config cfg;
	struct uvdev_config c;
	uint64_t f;
	int ret;

	uvemu_open(&e->em, path);

	f = 1ULL << VIRTIO_F_VERSION_1 |
	    1ULL << VIRTIO_RING_F_INDIRECT_DESC |
	    1ULL << VIRTIO_RING_F_EVENT_IDX |
	    1ULL << VIRTIO_NET_F_MAC |
	    1ULL << VIRTIO_NET_F_MTU |
	    1ULL << VIRTIO_NET_F_STATUS |
	    1ULL << VIRTIO_NET_F_MRG_RXBUF |
	    1ULL << VIRTIO_NET_F_CTRL_VQ |
	    1ULL << VIRTIO_NET_F_CTRL_RX |
	    1ULL << VIRTIO_NET_F_CTRL_MAC_ADDR;
	if (e->o.offload && carries_hdr(e))
		f |= 1ULL << VIRTIO_NET_F_CSUM |
		     1ULL << VIRTIO_NET_F_GUEST_CSUM |
		     1ULL << VIRTIO_NET_F_HOST_TSO4 |
		     1ULL << VIRTIO_NET_F_HOST_TSO6 |
		     1ULL << VIRTIO_NET_F_GUEST_TSO4 |
		     1ULL << VIRTIO_NET_F_GUEST_TSO6;
	if (e->o.queues > 1)
		f |= 1ULL << VIRTIO_NET_F_MQ;
	e->features = f;

	memset(&cfg, 0, sizeof(cfg));
	memcpy(cfg.mac, e->o.mac, ETH_ALEN);
	/* Down until the backend connects and the link is wanted. */
	cfg.status = htole16(0);
	cfg.max_virtqueue_pairs = htole16(e->o.queues);
	cfg.mtu = htole16(e->o.mtu);

	memset(&c, 0, sizeof(c));
	c.device_id = VIRTIO_ID_NET;
	/* rx0, tx0, rx1, tx1, ...; the control queue, last, is the module's. */
	c.num_queues = 2 * e->o.queues + 1;
	c.queue_size = e->o.queue_size;
	c.features = f;
	c.config = &cfg;
	c.config_size = sizeof(cfg);
	c.bounce_size = BOUNCE_SIZE(e->o.queues);
	/* Every receive completion counts the bytes it wrote (pair.c). */
	c.used_len = !e->o.zero_buffers;
	ret = uvdev_create(&e->em.dev, &c);
	if (ret == -EPERM)
		uvemu_die(1, "%s: cannot create the device: %s (a net device needs CAP_NET_ADMIN over this network namespace: try --unshare or unshare -U -r -n)",
			  path, strerror(-ret));
	if (ret)
		uvemu_die(1, "%s: cannot create the device: %s", path,
			  strerror(-ret));
}

/**
 * apply_link() - tell the driver the link state if it changed
 * @e:		emulator
 *
 * The link is up while it is wanted and every pair's backend is connected
 * (a pair without its peer would drop the flows the driver puts on it).
 */
static void apply_link(struct emu *e)
{
	bool be = net_pairs_up(&e->dp);
	bool up = atomic_load_explicit(&e->sh.link_want, memory_order_relaxed) &&
		  be;
	struct uvirtio_config_update u;
	uint16_t st = htole16(up ? VIRTIO_NET_S_LINK_UP : 0);

	atomic_store_explicit(&e->sh.backend_up, be, memory_order_relaxed);
	if (up == atomic_load_explicit(&e->sh.link_up, memory_order_relaxed))
		return;
	memset(&u, 0, sizeof(u));
	u.offset = offsetof(struct virtio_net_config, status);
	u.len = sizeof(st);
	u.data_addr = (uintptr_t)&st;
	if (ioctl(e->em.dev.fd, UVIRTIO_SET_CONFIG, &u) < 0) {
		uvemu_log("uvirtio-%u: cannot set the link %s: %s", e->em.dev.index,
			  up ? "up" : "down", strerror(errno));
		return;
	}
	atomic_store_explicit(&e->sh.link_up, up, memory_order_relaxed);
	uvemu_log("uvirtio-%u: link %s", e->em.dev.index, up ? "up" : "down");
}

/**
 * find_ifname() - the interface the driver made of our device
 * @e:		emulator
 * @name:	out, IFNAMSIZ bytes
 *
 * The module moves the interface into our network namespace, where it is
 * the one with our MAC; an older module leaves it in the initial namespace,
 * where sysfs names it.
 *
 * Return: 0, or -ENOENT
 */
static int find_ifname(struct emu *e, char *name)
{
	int ret = uvdev_netif_by_mac(e->o.mac, name);
	char dir[160];

	/*
	 * A module that puts the interface in our namespace has a "pid"
	 * attribute; with it, the interface may still be on its way here
	 * and sysfs would name it in the initial namespace.
	 */
	if (ret && !uvdev_sysfs_dir(&e->em.dev, dir, sizeof(dir)) &&
	    strlen(dir) + sizeof("/pid") <= sizeof(dir)) {
		strcat(dir, "/pid");
		if (access(dir, F_OK))
			ret = uvdev_child_name(&e->em.dev, "net", name, IFNAMSIZ);
	}
	return ret;
}

/**
 * print_qstats() - one "stats" line on stderr
 * @name:	queue name (rx, tx, rx0, tx0, ...)
 * @s:		its counters (or their sums)
 */
static void print_qstats(const char *name, struct net_qstats *s)
{
	uvemu_log("stats %s packets=%llu bytes=%llu drops=%llu errors=%llu kicks=%llu irqs=%llu irqs_suppressed=%llu ring=%llu",
		  name,
		  (unsigned long long)uvcounter_read(&s->packets),
		  (unsigned long long)uvcounter_read(&s->bytes),
		  (unsigned long long)uvcounter_read(&s->drops),
		  (unsigned long long)uvcounter_read(&s->errors),
		  (unsigned long long)uvcounter_read(&s->kicks),
		  (unsigned long long)uvcounter_read(&s->irqs),
		  (unsigned long long)uvcounter_read(&s->irqs_suppressed),
		  (unsigned long long)uvcounter_read(&s->ring));
}

/**
 * print_stats() - the counters on stderr: one line per queue when there
 * are several pairs, then the sums over the pairs as "rx" and "tx"
 * @e:		emulator
 */
static void print_stats(struct emu *e)
{
	struct net_qstats sum[2];
	unsigned int i, k;
	char name[16];

	memset(sum, 0, sizeof(sum));
	for (i = 0; i < 2 * e->o.queues; i++) {
		struct net_qstats *s = &e->sh.stats[i];

		k = i % 2;
		if (e->o.queues > 1) {
			snprintf(name, sizeof(name), "%s%u", k ? "tx" : "rx",
				 i / 2);
			print_qstats(name, s);
		}
		uvcounter_add(&sum[k].packets, uvcounter_read(&s->packets));
		uvcounter_add(&sum[k].bytes, uvcounter_read(&s->bytes));
		uvcounter_add(&sum[k].drops, uvcounter_read(&s->drops));
		uvcounter_add(&sum[k].errors, uvcounter_read(&s->errors));
		uvcounter_add(&sum[k].kicks, uvcounter_read(&s->kicks));
		uvcounter_add(&sum[k].irqs, uvcounter_read(&s->irqs));
		uvcounter_add(&sum[k].irqs_suppressed,
			     uvcounter_read(&s->irqs_suppressed));
		uvcounter_add(&sum[k].ring, uvcounter_read(&s->ring));
	}
	print_qstats("rx", &sum[0]);
	print_qstats("tx", &sum[1]);
}

/**
 * net_finish() - uvemu_ops.finish: stop the pairs, print the counters,
 * close the backends
 * @em:		main thread
 * @code:	exit status
 *
 * Return: @code
 */
static int net_finish(struct uvemu *em, int code)
{
	struct emu *e = em->priv;
	unsigned int i;

	net_pairs_stop(&e->dp);
	print_stats(e);
	for (i = 0; i < e->dp.num_pairs; i++)
		nb_close(&e->dp.pairs[i].b);
	return code;
}

/**
 * net_node() - uvemu_ops.node: the interface the driver made of the
 * device, once it has started it
 * @em:		main thread
 * @name:	out
 * @len:	bytes at @name
 *
 * Return: 0, or -ENOENT while there is none (yet)
 */
static int net_node(struct uvemu *em, char *name, size_t len)
{
	struct emu *e = em->priv;

	if (!e->driver_ok || find_ifname(e, e->ifname))
		return -ENOENT;
	snprintf(name, len, "%s", e->ifname);
	return 0;
}

/**
 * net_ready() - uvemu_ops.ready: say what the interface is
 * @em:		main thread
 * @name:	the interface
 */
static void net_ready(struct uvemu *em, const char *name)
{
	struct emu *e = em->priv;

	uvemu_log("uvirtio-%u: interface %s, MAC %02x:%02x:%02x:%02x:%02x:%02x, MTU %u, backend %s, %u queue pair%s",
		  em->dev.index, name, e->o.mac[0], e->o.mac[1],
		  e->o.mac[2], e->o.mac[3], e->o.mac[4], e->o.mac[5],
		  e->o.mtu, e->b.spec, e->o.queues,
		  e->o.queues > 1 ? "s" : "");
	e->named = true;
}

/**
 * net_signal() - uvemu_ops.signal: USR1 lifts the test faults, USR2 prints
 * the counters, HUP toggles the link
 * @em:		main thread
 * @signo:	the signal
 */
static void net_signal(struct uvemu *em, int signo)
{
	struct emu *e = em->priv;

	if (signo == SIGUSR1) {
		net_faults_clear(&e->sh);
		uvemu_log("uvirtio-%u: SIGUSR1: faults lifted", em->dev.index);
		net_pairs_wake(&e->dp);
	} else if (signo == SIGUSR2) {
		print_stats(e);
	} else if (signo == SIGHUP) {
		net_set_link(&e->sh, !atomic_load(&e->sh.link_want));
	}
}

/**
 * ctrl_event() - the module answered a control command: note it
 * @e:		emulator
 * @ev:		the event (struct uvirtio_net_ctrl_event)
 *
 * Every frame is passed whatever the rx mode: the kernel's stack drops
 * what is not for it. A new MAC address is remembered (find_ifname()).
 * A new number of queue pairs re-steers the backends (pair.h). Called
 * with the pairs paused.
 */
static void ctrl_event(struct emu *e, const struct uvirtio_event *ev)
{
	struct uvirtio_net_ctrl_event c;
	unsigned int n;

	memcpy(&c, ev, sizeof(c));
	if (c.ctrl_class == VIRTIO_NET_CTRL_MAC &&
	    c.cmd == VIRTIO_NET_CTRL_MAC_ADDR_SET && c.len >= ETH_ALEN &&
	    !c.ack) {
		memcpy(e->o.mac, c.data, ETH_ALEN);
		uvemu_log("uvirtio-%u: MAC address set to %02x:%02x:%02x:%02x:%02x:%02x",
			  e->em.dev.index, c.data[0], c.data[1], c.data[2], c.data[3],
			  c.data[4], c.data[5]);
	} else if (c.ctrl_class == VIRTIO_NET_CTRL_MQ &&
		   c.cmd == VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET && c.len >= 2 &&
		   !c.ack) {
		n = c.data[0] | c.data[1] << 8;
		net_pairs_steer(&e->dp, n);
		uvemu_log("uvirtio-%u: %u of %u queue pairs enabled", e->em.dev.index,
			  e->dp.active, e->dp.num_pairs);
	} else if (c.ctrl_class == VIRTIO_NET_CTRL_RX && c.len >= 1) {
		uvemu_log("uvirtio-%u: rx mode %u %s", e->em.dev.index, c.cmd,
			  c.data[0] ? "on" : "off");
	}
}

/**
 * driver_event() - the driver started or reset the device: take its
 * features, forget the rings' state (with the pairs paused)
 * @e:		emulator
 * @type:	UVIRTIO_EV_DRIVER_OK, _OVERFLOW or _RESET
 *
 * After a reset only the first queue pair is used until the driver sends
 * VQ_PAIRS_SET.
 */
static void driver_event(struct emu *e, uint32_t type)
{
	uint64_t df = e->em.dev.driver_features;
	struct net_dp *dp = &e->dp;
	unsigned int i;

	if (type == UVIRTIO_EV_OVERFLOW)
		uvemu_log("uvirtio-%u: device events overflowed, state re-read",
			  e->em.dev.index);
	net_pairs_reset(dp, type == UVIRTIO_EV_OVERFLOW);
	dp->mrg = df & (1ULL << VIRTIO_NET_F_MRG_RXBUF);
	dp->guest_csum = df & (1ULL << VIRTIO_NET_F_GUEST_CSUM);
	dp->guest_tso4 = df & (1ULL << VIRTIO_NET_F_GUEST_TSO4);
	dp->guest_tso6 = df & (1ULL << VIRTIO_NET_F_GUEST_TSO6);
	if (type != UVIRTIO_EV_OVERFLOW)
		net_pairs_steer(dp, 1);
	/* A VQ_PAIRS_SET may have been among the lost events. */
	else if (e->em.dev.net_pairs && e->em.dev.net_pairs != dp->active) {
		net_pairs_steer(dp, e->em.dev.net_pairs);
		uvemu_log("uvirtio-%u: %u of %u queue pairs enabled (re-read)",
			  e->em.dev.index, dp->active, dp->num_pairs);
	}
	if (type == UVIRTIO_EV_RESET)
		return;
	e->driver_ok = e->em.dev.q[NET_RXQ].vq.ready;
	for (i = 0; i < dp->num_pairs; i++)
		if (nb_set_offload(&dp->pairs[i].b, dp->guest_csum,
				   dp->guest_tso4, dp->guest_tso6))
			uvemu_log("%s: cannot set offloads", e->b.spec);
}

/**
 * net_event() - uvemu_ops.event: what a device event means for the pairs
 * @em:		main thread
 * @ev:		the event, applied by the library; pairs paused
 */
static void net_event(struct uvemu *em, const struct uvirtio_event *ev)
{
	struct emu *e = em->priv;

	if (ev->type == UVIRTIO_EV_NET_CTRL)
		ctrl_event(e, ev);
	else if (ev->type == UVIRTIO_EV_DRIVER_OK ||
		 ev->type == UVIRTIO_EV_OVERFLOW ||
		 ev->type == UVIRTIO_EV_RESET)
		driver_event(e, ev->type);
}

/**
 * net_pause() - uvemu_ops.pause: the pair threads let go of their rings
 * (an event starts, stops or re-steers them)
 * @em:		main thread
 */
static void net_pause(struct uvemu *em)
{
	net_pairs_pause(&((struct emu *)em->priv)->dp);
}

/**
 * net_resume() - uvemu_ops.resume: the pair threads serve again
 * @em:		main thread
 */
static void net_resume(struct uvemu *em)
{
	net_pairs_resume(&((struct emu *)em->priv)->dp);
}

/**
 * net_wake() - uvemu_ops.wake: the link was asked to change
 * @em:		main thread
 */
static void net_wake(struct uvemu *em)
{
	apply_link(em->priv);
}

static const struct uvemu_ops net_emu_ops = {
	.pause = net_pause,
	.resume = net_resume,
	.event = net_event,
	.signal = net_signal,
	.node = net_node,
	.ready = net_ready,
	.wake = net_wake,
	.finish = net_finish,
};

/* ---- the status filesystem ---- */

/**
 * statfs_describe() - uvstatfs_ops.describe
 * @opaque:	struct emu
 * @buf:	out
 * @len:	bytes at @buf
 *
 * Return: bytes written
 */
static int statfs_describe(void *opaque, char *buf, size_t len)
{
	struct emu *e = opaque;

	return snprintf(buf, len,
			"type: net\nkernel: %s\nbackend: %s (%s)\nmtu: %u\npid: %d\n",
			e->named ? e->ifname : "-", e->b.spec,
			atomic_load(&e->sh.backend_up) ? "connected" : "disconnected",
			e->o.mtu, (int)getpid());
}

/**
 * statfs_counters() - uvstatfs_ops.counters, from struct net_qstats
 * @opaque:	struct emu
 * @q:		queue index
 * @c:		out
 */
static void statfs_counters(void *opaque, unsigned int q,
			    struct uvstatfs_counters *c)
{
	struct emu *e = opaque;
	struct net_qstats *st;

	if (q >= 2 * e->o.queues)
		return;
	st = &e->sh.stats[q];
	atomic_store(&c->kicks, uvcounter_read(&st->kicks));
	atomic_store(&c->interrupts, uvcounter_read(&st->irqs));
	atomic_store(&c->interrupts_suppressed, uvcounter_read(&st->irqs_suppressed));
	atomic_store(&c->requests, uvcounter_read(&st->packets));
	atomic_store(&c->bytes, uvcounter_read(&st->bytes));
	atomic_store(&c->errors, uvcounter_read(&st->errors) + uvcounter_read(&st->drops));
}

/**
 * statfs_get_control() - uvstatfs_ops.get_control: the link
 * @opaque:	struct emu
 * @ctl:	NET_STATFS_LINK
 * @buf:	out
 * @len:	bytes at @buf
 *
 * Return: bytes written, or -EINVAL
 */
static int statfs_get_control(void *opaque, unsigned int ctl, char *buf,
			      size_t len)
{
	struct emu *e = opaque;

	if (ctl != NET_STATFS_LINK)
		return -EINVAL;
	return snprintf(buf, len, "%s\n", atomic_load(&e->sh.link_want) ? "up" : "down");
}

/**
 * statfs_set_control() - uvstatfs_ops.set_control: "up" or "down"
 * @opaque:	struct emu
 * @ctl:	NET_STATFS_LINK
 * @val:	the text written
 *
 * Return: 0 or -EINVAL
 */
static int statfs_set_control(void *opaque, unsigned int ctl, const char *val)
{
	struct emu *e = opaque;

	if (ctl != NET_STATFS_LINK)
		return -EINVAL;
	if (!strcmp(val, "up"))
		return net_set_link(&e->sh, true);
	if (!strcmp(val, "down"))
		return net_set_link(&e->sh, false);
	return -EINVAL;
}

static struct uvstatfs_ops net_statfs_ops = {
	.device_id = VIRTIO_ID_NET,
	/* receive buffers wait for frames, not for the device: set in
	 * statfs_mount(), a bit for each pair's rx queue */
	.describe = statfs_describe,
	.counters = statfs_counters,
	.feature_names = net_statfs_features,
	.control_names = net_statfs_controls,
	.get_control = statfs_get_control,
	.set_control = statfs_set_control,
};

/**
 * statfs_mount() - --statfs DIR: mount the status filesystem
 * @e:		emulator, device created
 */
static void statfs_mount(struct emu *e)
{
	unsigned int i;

	if (!e->o.statfs)
		return;
	for (i = 0; i < e->o.queues; i++)
		net_statfs_ops.passive_queues |= 1ULL << NET_PAIR_RXQ(i);
	uvemu_statfs_mount(&e->em, &e->statfs, e->o.statfs, &net_statfs_ops, e);
}

/**
 * open_backends() - one backend per queue pair, opened and connected if
 * the peer is there
 * @e:		emulator, options parsed
 *
 * Exits with 1 when a backend cannot be opened.
 */
static void open_backends(struct emu *e)
{
	unsigned int i, n = e->o.queues;
	struct nb *b;
	int ret;

	if (net_pairs_alloc(&e->dp, n, e->o.threads))
		uvemu_die(1, "out of memory");
	for (i = 0; i < n; i++) {
		b = &e->dp.pairs[i].b;
		if (nb_clone(b, &e->b, i, n))
			uvemu_die(2, "%s: path too long for queue pair %u", e->b.spec,
				  i);
		ret = nb_open(b);
		if ((ret == -EPERM || ret == -EACCES) && b->kind == NB_TAP)
			uvemu_die(1, "%s: %s (tap needs CAP_NET_ADMIN)", b->spec,
				  strerror(-ret));
		if (ret == -EINVAL && b->multi_queue && !i)
			uvemu_die(1, "%s: %s (an existing tap without IFF_MULTI_QUEUE cannot take --queues %u)",
				  b->spec, strerror(-ret), n);
		if (ret && n > 1)
			uvemu_die(1, "%s: queue pair %u: %s", b->spec, i,
				  strerror(-ret));
		if (ret)
			uvemu_die(1, "%s: %s", b->spec, strerror(-ret));
		ret = nb_connect(b);
		if (ret && b->kind == NB_PASST)
			uvemu_die(1, "%s: cannot start passt: %s", b->spec,
				  strerror(-ret));
		if (ret && b->kind == NB_DGRAM)
			uvemu_log("%s: %s not there yet (%s): link down until it is",
				  b->spec, b->remote, strerror(-ret));
		else if (ret)
			uvemu_log("%s: not connected yet (%s): link down until it is",
				  b->spec, strerror(-ret));
	}
}

int main(int argc, char **argv)
{
	struct emu *e = &emu;
	int ret;

	uvemu_init(&e->em, PROG, &net_emu_ops, e, "interface");
	parse_opts(argc, argv, e);
	e->sh.wake_fd = e->em.wake_fd;
	atomic_store(&e->sh.link_want, !e->o.link_down);

	open_backends(e);
	if (e->o.unshare)
		enter_namespaces();
	/* no thread before this: unshare(CLONE_NEWUSER) refuses one */
	nb_settled(&e->b);

	create_device(e);
	e->dp.sh = &e->sh;
	e->dp.dev = &e->em.dev;
	e->dp.mtu = e->o.mtu;
	e->dp.hdr = carries_hdr(e);
	e->dp.pin = e->o.pin;
	ret = net_pairs_init(&e->dp);
	if (ret)
		uvemu_die(1, "uvirtio-%u: cannot set the queue pairs up: %s",
			  e->em.dev.index, strerror(-ret));
	statfs_mount(e);
	/* only the dgram backend's shared rings copy frames in userspace */
	if (e->b.kind == NB_DGRAM && e->o.ring)
		uvcopy_start(e->o.copy, e->em.dev.index);
	ret = net_pairs_run(&e->dp);
	if (ret)
		uvemu_die(1, "uvirtio-%u: cannot start the queue pair threads: %s",
			  e->em.dev.index, strerror(-ret));
	uvemu_start(&e->em, false);
	apply_link(e);
	uvemu_log("uvirtio-%u: started, backend %s, MTU %u, queue size %u, %u queue pair%s%s",
		  e->em.dev.index, e->b.spec, e->o.mtu, e->o.queue_size,
		  e->o.queues, e->o.queues > 1 ? "s" : "",
		  e->features & (1ULL << VIRTIO_NET_F_HOST_TSO4) ?
		  ", checksum and TSO offloads" : "");
	uvemu_run(&e->em);
}

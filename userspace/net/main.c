// SPDX-License-Identifier: GPL-2.0-only
/*
 * uvirtio-net - a virtio-net device served by this process
 *
 * Creates a virtio-net device through /dev/uvirtio with one receive and one
 * transmit queue, moves frames between them and a backend (stream socket,
 * passt, UNIX datagram socket pair, tap), prints the interface name as the
 * last line on stdout once the kernel's virtio_net driver has bound, and
 * serves until SIGTERM/SIGINT, which removes the interface and exits 0.
 *
 * One thread, one epoll instance. The control virtqueue (the last queue)
 * is answered by the module, which reports each command as an event: the
 * driver never waits on us.
 *
 * Receive path: chains the driver posts on queue 0 are taken into a stash
 * until they can hold the largest frame allowed, then one frame is read
 * straight into them (a dgram or tap backend writes the virtio-net header
 * too; for the others it is zero), the header's num_buffers is set, and
 * the chains the frame filled are completed. Transmit path: each chain of
 * queue 1 is sent as it is (header included where the backend carries it).
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
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "backend.h"
#include "dev.h"
#include "iovc.h"
#include "loop.h"
#include "net.h"
#include "statfs.h"

#define PROG			"uvirtio-net"
#define VERSION			"0.1"

#define DEF_QUEUE_SIZE		1024
#define DEF_MTU			1500
#define MIN_MTU			68
#define MAX_MTU			65520
/* The header every frame carries on the rings (VERSION_1). */
#define HDR_LEN			((unsigned int)sizeof(struct virtio_net_hdr_v1))
/* Ethernet header plus one VLAN tag. */
#define L2_LEN			(ETH_HLEN + 4)
/* Largest TSO frame the driver may send or we may hand it. */
#define GSO_MAX_FRAME		(65535 + L2_LEN)
/* The bounce pool holds both rings' buffers: up to 64 KiB per tx chain. */
#define BOUNCE_SIZE		(128ULL << 20)

#define NAME_TIMEOUT_S		30
#define TICK_MS			100
#define BATCH			64
#define RX_IOV			8
#define STASH_MAX		256

/* epoll tags */
enum {
	TAG_DEV = 1,
	TAG_SIGNAL,
	TAG_TIMER,
	TAG_WAKE,
	TAG_BACKEND,
	TAG_KICK,		/* + queue index */
};

/**
 * struct rx_slot - one receive chain taken from the ring, not yet filled
 * @el:		the chain
 * @iov:	its buffers
 */
struct rx_slot {
	struct uvq_elem el;
	struct iovec iov[RX_IOV];
};

/**
 * struct opts - the command line
 * @mac:	--mac, or random
 * @mtu:	--mtu
 * @queue_size:	--queue-size
 * @offload:	offer checksum and TSO offloads where the backend carries them
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
	bool offload;
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
 * @b:		backend
 * @dev:	the uvirtio device
 * @loop:	epoll
 * @sig_fd:	signalfd
 * @timer_fd:	periodic timerfd (name, reconnects)
 * @deadline:	CLOCK_MONOTONIC second to give up waiting for the interface
 * @features:	features offered
 * @driver_ok:	the driver set DRIVER_OK
 * @named:	the interface name was printed
 * @ifname:	interface name
 * @removing:	UVIRTIO_REMOVE was issued
 * @be_events:	epoll events currently asked for on the backend fd
 * @be_fd:	the fd registered for them (-1: none)
 * @rx_paused:	no receive buffers: the backend is not read
 * @guest_csum:	driver takes partial checksums
 * @guest_tso4:	driver takes IPv4 TSO frames
 * @guest_tso6:	driver takes IPv6 TSO frames
 * @mrg:	MRG_RXBUF negotiated
 * @stash:	receive chains taken, in ring order
 * @stash_head:	first of them
 * @stash_n:	how many
 * @stash_bytes: writable bytes in them
 * @rx_iov:	one frame's buffers, gathered from the stash
 * @tx:		the transmit chain being sent
 * @tx_iov:	its buffers
 * @tx_held:	@tx could not be sent yet (backend full)
 * @csum_buf:	scratch for software checksums
 */
struct emu {
	struct opts o;
	struct net_shared sh;
	struct uvstatfs *statfs;
	struct nb b;
	struct uvdev dev;
	struct uvloop loop;
	int sig_fd;
	int timer_fd;
	time_t deadline;
	uint64_t features;
	bool driver_ok;
	bool named;
	char ifname[IFNAMSIZ];
	bool removing;
	uint32_t be_events;
	int be_fd;
	bool rx_paused;
	bool guest_csum;
	bool guest_tso4;
	bool guest_tso6;
	bool mrg;
	struct rx_slot stash[STASH_MAX];
	unsigned int stash_head;
	unsigned int stash_n;
	size_t stash_bytes;
	struct iovec rx_iov[UIO_MAXIOV];
	struct uvq_elem tx;
	struct iovec tx_iov[UVIRTIO_MAX_QUEUE_SIZE];
	bool tx_held;
	uint8_t csum_buf[GSO_MAX_FRAME];
};

static struct emu emu;

/**
 * vmsg() - print one line on stderr, prefixed with the program name
 * @fmt:	message
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
 * @fmt:	message
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
 * @fmt:	message
 */
static void __attribute__((format(printf, 1, 2))) info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

/**
 * net_set_link() - ask for the link to go up or down
 * @s:		shared state
 * @up:		true for up
 *
 * Safe from any thread: the data path applies it (the link is only up
 * while the backend is connected, too).
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
 * far are signalled at the data path's next flush.
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
"                      cables two uvirtio-net devices; offloads pass through\n"
"  tap:IFNAME          a tap device with IFF_VNET_HDR (needs CAP_NET_ADMIN)\n"
"\n"
"Options:\n"
"  --mac XX:XX:XX:XX:XX:XX  MAC address (default: random, locally\n"
"                      administered)\n"
"  --mtu N             MTU offered to the driver, %d..%d (default %d)\n"
"  --queue-size N      ring size, a power of two from 16 to %d (default %d)\n"
"  --no-offload        offer no checksum or TSO offloads\n"
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
"  --fault-ignore-kicks=Q   never act on kicks of queue Q (0 rx, 1 tx)\n"
"  --fault-withhold-irq=Q   publish completions of queue Q without\n"
"                           interrupting the driver\n"
"  --fault-delay-ms=N       sleep N ms before serving each batch\n"
"\n"
"Checksum and TSO offloads are offered with dgram and tap, which carry the\n"
"virtio-net header; with stream and passt the driver computes checksums and\n"
"segments itself. Frames shorter than an Ethernet header or longer than the\n"
"MTU allows are dropped and counted, both ways.\n"
"\n"
"Once the interface exists, its name is printed as the last line on\n"
"standard output. SIGTERM or SIGINT removes it and exits 0; SIGUSR2\n"
"prints the counters on standard error (also printed at exit).\n"
"\n"
"Exit status: 0 after a clean removal, 1 on errors, 2 on usage errors.\n",
		MIN_MTU, MAX_MTU, DEF_MTU, UVIRTIO_MAX_QUEUE_SIZE,
		DEF_QUEUE_SIZE);
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
 * parse_opts() - read the command line
 * @argc:	argument count
 * @argv:	arguments
 * @e:		emulator
 */
static void parse_opts(int argc, char **argv, struct emu *e)
{
	enum { OPT_MAC = 256, OPT_MTU, OPT_QS, OPT_NOOFF, OPT_UNSHARE,
	       OPT_PASST, OPT_LINKDOWN, OPT_DEV, OPT_VERSION, OPT_FKICK,
	       OPT_FIRQ, OPT_FDELAY, OPT_STATFS };
	static const struct option longopts[] = {
		{ "mac",		required_argument, NULL, OPT_MAC },
		{ "mtu",		required_argument, NULL, OPT_MTU },
		{ "queue-size",		required_argument, NULL, OPT_QS },
		{ "no-offload",		no_argument,	   NULL, OPT_NOOFF },
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
	unsigned int v;
	int c, ret;

	o->mtu = DEF_MTU;
	o->queue_size = DEF_QUEUE_SIZE;
	o->offload = true;
	o->dev = UVDEV_PATH;
	if (getrandom(o->mac, ETH_ALEN, 0) != ETH_ALEN)
		die(1, "getrandom: %s", strerror(errno));
	o->mac[0] = (o->mac[0] & 0xfc) | 0x02;	/* unicast, local */

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_MAC:
			if (parse_mac(optarg, o->mac))
				die(2, "--mac: '%s' is not a unicast MAC address",
				    optarg);
			break;
		case OPT_MTU:
			if (parse_uint(optarg, MIN_MTU, MAX_MTU, &o->mtu))
				die(2, "--mtu: '%s' is not a number from %d to %d",
				    optarg, MIN_MTU, MAX_MTU);
			break;
		case OPT_QS:
			if (parse_uint(optarg, 16, UVIRTIO_MAX_QUEUE_SIZE, &v) ||
			    (v & (v - 1)))
				die(2, "--queue-size: '%s' is not a power of two from 16 to %d",
				    optarg, UVIRTIO_MAX_QUEUE_SIZE);
			o->queue_size = v;
			break;
		case OPT_NOOFF:
			o->offload = false;
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
			if (parse_uint(optarg, 0, NET_NUM_QUEUES - 1, &v))
				die(2, "%s: '%s' is not a queue index (0 rx, 1 tx)",
				    c == OPT_FKICK ? "--fault-ignore-kicks" :
				    "--fault-withhold-irq", optarg);
			atomic_fetch_or(c == OPT_FKICK ?
					&e->sh.faults.ignore_kicks :
					&e->sh.faults.withhold_irq, 1U << v);
			break;
		case OPT_FDELAY:
			if (parse_uint(optarg, 0, 10000, &v))
				die(2, "--fault-delay-ms: '%s' is not a number from 0 to 10000",
				    optarg);
			atomic_store(&e->sh.faults.delay_ms, v);
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
			die(2, "unknown option '%s' (see --help)",
			    argv[optind - 1]);
		}
	}
	if (optind >= argc)
		die(2, "no BACKEND given (see --help)");
	if (optind + 1 < argc)
		die(2, "unexpected argument '%s' (see --help)",
		    argv[optind + 1]);
	o->backend = argv[optind];
	ret = nb_parse(&e->b, o->backend);
	if (ret == -ENAMETOOLONG)
		die(2, "%s: path or interface name is too long", o->backend);
	if (ret)
		die(2, "%s: not a backend (stream:PATH, passt, dgram:LOCAL,REMOTE, tap:IFNAME)",
		    o->backend);
	e->b.passt_args = passt_args;
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
		die(1, "--unshare: %s", strerror(errno));
	snprintf(map, sizeof(map), "0 %u 1", uid);
	if (write_file("/proc/self/uid_map", map))
		die(1, "--unshare: cannot write uid_map");
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "0 %u 1", gid);
	if (write_file("/proc/self/gid_map", map))
		die(1, "--unshare: cannot write gid_map");
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

	ret = uvdev_open(&e->dev, path);
	if (ret == -ENOENT || ret == -ENODEV || ret == -ENXIO)
		die(1, "%s: %s (is the uvirtio module loaded?)", path,
		    strerror(-ret));
	if (ret == -EACCES || ret == -EPERM)
		die(1, "%s: %s (it must be readable and writable by this user)",
		    path, strerror(-ret));
	if (ret)
		die(1, "%s: %s", path, strerror(-ret));

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
	e->features = f;

	memset(&cfg, 0, sizeof(cfg));
	memcpy(cfg.mac, e->o.mac, ETH_ALEN);
	/* Down until the backend connects and the link is wanted. */
	cfg.status = htole16(0);
	cfg.max_virtqueue_pairs = htole16(1);
	cfg.mtu = htole16(e->o.mtu);

	memset(&c, 0, sizeof(c));
	c.device_id = VIRTIO_ID_NET;
	/* The control queue, last, is served by the module. */
	c.num_queues = NET_NUM_QUEUES + 1;
	c.queue_size = e->o.queue_size;
	c.features = f;
	c.config = &cfg;
	c.config_size = sizeof(cfg);
	c.bounce_size = BOUNCE_SIZE;
	ret = uvdev_create(&e->dev, &c);
	if (ret == -EPERM)
		die(1, "%s: cannot create the device: %s (a net device needs CAP_NET_ADMIN over this network namespace: try --unshare or unshare -U -r -n)",
		    path, strerror(-ret));
	if (ret)
		die(1, "%s: cannot create the device: %s", path,
		    strerror(-ret));
}

/**
 * apply_link() - tell the driver the link state if it changed
 * @e:		emulator
 *
 * The link is up while it is wanted and the backend is connected.
 */
static void apply_link(struct emu *e)
{
	bool up = atomic_load_explicit(&e->sh.link_want, memory_order_relaxed) &&
		  e->b.connected;
	struct uvirtio_config_update u;
	uint16_t st = htole16(up ? VIRTIO_NET_S_LINK_UP : 0);

	atomic_store_explicit(&e->sh.backend_up, e->b.connected,
			      memory_order_relaxed);
	if (up == atomic_load_explicit(&e->sh.link_up, memory_order_relaxed))
		return;
	memset(&u, 0, sizeof(u));
	u.offset = offsetof(struct virtio_net_config, status);
	u.len = sizeof(st);
	u.data_addr = (uintptr_t)&st;
	if (ioctl(e->dev.fd, UVIRTIO_SET_CONFIG, &u) < 0) {
		info("uvirtio-%u: cannot set the link %s: %s", e->dev.index,
		     up ? "up" : "down", strerror(errno));
		return;
	}
	atomic_store_explicit(&e->sh.link_up, up, memory_order_relaxed);
	info("uvirtio-%u: link %s", e->dev.index, up ? "up" : "down");
}

/**
 * backend_watch() - ask epoll for what the data path can use now
 * @e:		emulator
 *
 * EPOLLIN unless receiving is paused for lack of buffers, EPOLLOUT while
 * a frame waits for room.
 */
static void backend_watch(struct emu *e)
{
	uint32_t want = 0;
	struct epoll_event ev;

	if (e->b.fd >= 0 && !e->rx_paused)
		want |= EPOLLIN;
	if (e->b.fd >= 0 && (e->tx_held || nb_pending_out(&e->b)))
		want |= EPOLLOUT;
	if (e->be_fd != e->b.fd) {
		if (e->be_fd >= 0)
			uvloop_del(&e->loop, e->be_fd);
		e->be_fd = -1;
		e->be_events = 0;
		if (e->b.fd < 0)
			return;
		if (uvloop_add(&e->loop, e->b.fd, want, TAG_BACKEND))
			die(1, "epoll: backend: %s", strerror(errno));
		e->be_fd = e->b.fd;
		e->be_events = want;
		return;
	}
	if (e->be_fd < 0 || want == e->be_events)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = want;
	ev.data.u64 = TAG_BACKEND;
	if (epoll_ctl(e->loop.epfd, EPOLL_CTL_MOD, e->be_fd, &ev))
		die(1, "epoll: backend: %s", strerror(errno));
	e->be_events = want;
}

/**
 * backend_lost() - the backend failed: link down, reconnect later
 * @e:		emulator
 * @why:	negative errno
 */
static void backend_lost(struct emu *e, int why)
{
	if (!e->b.connected)
		return;
	info("%s: disconnected: %s", e->b.spec, strerror(-why));
	nb_disconnect(&e->b);
	apply_link(e);
	backend_watch(e);
}

/**
 * backend_retry() - try to (re)connect the backend
 * @e:		emulator
 *
 * passt is started once: if it exits, the link stays down.
 */
static void backend_retry(struct emu *e)
{
	if (e->b.connected || (e->b.kind == NB_PASST && e->b.rbuf == NULL))
		return;
	if (e->b.kind == NB_PASST)
		return;
	if (nb_connect(&e->b))
		return;
	info("%s: connected", e->b.spec);
	apply_link(e);
	backend_watch(e);
}

/**
 * q_flush() - publish a queue's completions, interrupt unless withheld
 * @e:		emulator
 * @qi:		queue index
 */
static void q_flush(struct emu *e, unsigned int qi)
{
	struct uvq *vq = &e->dev.q[qi].vq;
	uint64_t before = vq->stats.signals;
	int fd, n;

	if (atomic_load_explicit(&e->sh.faults.withhold_irq,
				 memory_order_relaxed) & (1U << qi)) {
		fd = vq->call_fd;
		vq->call_fd = -1;
		n = uvq_flush(vq);
		vq->call_fd = fd;
		if (n > 0)
			net_stat_add(&e->sh.stats[qi].irqs_suppressed, n);
		return;
	}
	n = uvq_flush(vq);
	if (n < 0)
		info("queue %u: cannot signal completions: %s", qi,
		     strerror(-n));
	net_stat_add(&e->sh.stats[qi].irqs, vq->stats.signals - before);
}

/**
 * fault_delay() - --fault-delay-ms: sleep before a batch
 * @e:		emulator
 */
static void fault_delay(struct emu *e)
{
	unsigned int ms = atomic_load_explicit(&e->sh.faults.delay_ms,
					       memory_order_relaxed);

	if (ms)
		usleep(ms * 1000);
}

/**
 * stash_clear() - forget the receive chains taken (the queue was reset)
 * @e:		emulator
 */
static void stash_clear(struct emu *e)
{
	e->stash_head = e->stash_n = 0;
	e->stash_bytes = 0;
}

/**
 * rx_max_frame() - longest frame (without header) the driver may receive
 * @e:		emulator
 *
 * Return: bytes
 */
static size_t rx_max_frame(const struct emu *e)
{
	if (carries_hdr(e) && (e->guest_tso4 || e->guest_tso6))
		return GSO_MAX_FRAME;
	return e->o.mtu + L2_LEN;
}

/**
 * rx_fill() - take receive chains until one maximum frame fits
 * @e:		emulator
 *
 * Return: true if a frame can be received now
 */
static bool rx_fill(struct emu *e)
{
	struct uvq *vq = &e->dev.q[NET_RXQ].vq;
	size_t need = HDR_LEN + rx_max_frame(e);
	struct rx_slot *s;
	int ret;

	while (e->stash_n < STASH_MAX && e->stash_bytes < need &&
	       (e->mrg || !e->stash_n)) {
		s = &e->stash[(e->stash_head + e->stash_n) % STASH_MAX];
		uvq_elem_init(&s->el, s->iov, RX_IOV);
		ret = uvq_pop(vq, &s->el);
		if (ret <= 0)
			break;
		if (s->el.err || s->el.out_num || s->el.in_len < HDR_LEN) {
			net_stat_add(&e->sh.stats[NET_RXQ].errors, 1);
			if (s->el.owned)
				uvq_discard(vq, &s->el);
			continue;
		}
		e->stash_n++;
		e->stash_bytes += s->el.in_len;
	}
	if (!e->stash_n)
		return false;
	if (e->stash_bytes >= need || !e->mrg)
		return true;
	/* A ring smaller than one maximum frame: use what there is. */
	return e->stash_n * 2 >= vq->num || e->stash_n == STASH_MAX;
}

/**
 * csum_fold_iov() - finish a partial checksum the driver cannot do
 * @e:		emulator
 * @c:		cursor at the frame's first byte
 * @len:	frame length
 * @start:	csum_start
 * @off:	csum_offset
 *
 * Return: 0, or -EINVAL if the offsets lie outside the frame
 */
static int csum_fold_iov(struct emu *e, struct iovc *c, size_t len,
			 unsigned int start, unsigned int off)
{
	uint8_t *p = e->csum_buf;
	struct iovc w = *c;
	uint32_t sum = 0;
	uint16_t v;
	size_t i;

	if (len > sizeof(e->csum_buf) || start + off + 2 > len)
		return -EINVAL;
	iovc_read(c, p, len);
	for (i = start; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (i < len)
		sum += (uint32_t)p[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	v = htobe16(~sum & 0xffff);
	iovc_skip(&w, start + off);
	iovc_write(&w, &v, 2);
	return 0;
}

/**
 * rx_check_hdr() - check a header a peer sent against what our driver takes
 * @e:		emulator
 * @h:		the header (num_buffers is ours to set)
 * @flen:	frame length
 *
 * Return: 0 to pass the frame, 1 to finish its checksum first, -EINVAL to
 * drop it
 */
static int rx_check_hdr(const struct emu *e, const struct virtio_net_hdr_v1 *h,
			size_t flen)
{
	uint8_t gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

	if (gso == VIRTIO_NET_HDR_GSO_NONE) {
		if (flen > e->o.mtu + L2_LEN)
			return -EINVAL;
	} else if ((gso == VIRTIO_NET_HDR_GSO_TCPV4 && !e->guest_tso4) ||
		   (gso == VIRTIO_NET_HDR_GSO_TCPV6 && !e->guest_tso6) ||
		   (gso != VIRTIO_NET_HDR_GSO_TCPV4 &&
		    gso != VIRTIO_NET_HDR_GSO_TCPV6) ||
		   !(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
		return -EINVAL;
	}
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !e->guest_csum)
		return gso == VIRTIO_NET_HDR_GSO_NONE ? 1 : -EINVAL;
	return 0;
}

/**
 * rx_one() - receive one frame into the stash's chains and complete them
 * @e:		emulator
 *
 * Return: 1 if a frame was taken (delivered or dropped), 0 if the backend
 * had none, negative errno if the backend failed
 */
static int rx_one(struct emu *e)
{
	struct net_qstats *st = &e->sh.stats[NET_RXQ];
	struct uvq *vq = &e->dev.q[NET_RXQ].vq;
	struct virtio_net_hdr_v1 h;
	unsigned int i, k, cnt = 0, nbuf;
	struct iovec *iov = e->rx_iov;
	size_t flen, left, len;
	struct rx_slot *s;
	struct iovc c;
	int n, ck = 0;

	for (i = 0; i < e->stash_n && cnt < UIO_MAXIOV - RX_IOV; i++) {
		s = &e->stash[(e->stash_head + i) % STASH_MAX];
		memcpy(iov + cnt, uvq_elem_in(&s->el),
		       s->el.in_num * sizeof(*iov));
		cnt += s->el.in_num;
		if (!e->mrg)
			break;
	}
	if (carries_hdr(e)) {
		n = nb_recv(&e->b, iov, cnt);
	} else {
		struct iovec sub[UIO_MAXIOV];
		int sc;

		iovc_init(&c, iov, cnt);
		iovc_skip(&c, HDR_LEN);
		sc = iovc_slice(&c, iovc_left(&c), sub, UIO_MAXIOV);
		if (sc < 0)
			return sc;
		n = nb_recv(&e->b, sub, sc);
		if (n >= 0)
			n += HDR_LEN;
	}
	if (n == -EAGAIN)
		return 0;
	if (n == -EMSGSIZE) {
		net_stat_add(&st->drops, 1);
		return 1;
	}
	if (n < 0)
		return n;

	flen = n - HDR_LEN;
	if (n < (int)HDR_LEN || flen < ETH_HLEN) {
		net_stat_add(&st->drops, 1);
		return 1;
	}
	iovc_init(&c, iov, cnt);
	if (carries_hdr(e)) {
		iovc_read(&c, &h, HDR_LEN);
		ck = rx_check_hdr(e, &h, flen);
		if (ck < 0) {
			net_stat_add(&st->drops, 1);
			return 1;
		}
		if (ck) {
			if (csum_fold_iov(e, &c, flen,
					  le16toh(h.csum_start),
					  le16toh(h.csum_offset))) {
				net_stat_add(&st->drops, 1);
				return 1;
			}
			h.flags &= ~VIRTIO_NET_HDR_F_NEEDS_CSUM;
		}
	} else {
		if (flen > e->o.mtu + L2_LEN) {
			net_stat_add(&st->drops, 1);
			return 1;
		}
		memset(&h, 0, sizeof(h));
	}

	/* How many chains the frame filled: that is num_buffers. */
	left = n;
	for (nbuf = 0; left && nbuf < e->stash_n; nbuf++) {
		s = &e->stash[(e->stash_head + nbuf) % STASH_MAX];
		left -= left < s->el.in_len ? left : s->el.in_len;
	}
	h.num_buffers = htole16(nbuf);
	iovc_init(&c, iov, cnt);
	iovc_write(&c, &h, HDR_LEN);

	left = n;
	for (k = 0; k < nbuf; k++) {
		s = &e->stash[e->stash_head];
		len = left < s->el.in_len ? left : s->el.in_len;
		left -= len;
		if (uvq_push(vq, &s->el, len))
			net_stat_add(&st->errors, 1);
		e->stash_bytes -= s->el.in_len;
		e->stash_head = (e->stash_head + 1) % STASH_MAX;
		e->stash_n--;
	}
	net_stat_add(&st->packets, 1);
	net_stat_add(&st->bytes, flen);
	return 1;
}

/**
 * rx_serve() - move frames from the backend to the driver
 * @e:		emulator
 *
 * Stops when the backend has nothing (epoll wakes us again), or when the
 * driver has no buffers: then kicks are asked for and the backend is not
 * read until one comes.
 */
static void rx_serve(struct emu *e)
{
	struct uvq *vq = &e->dev.q[NET_RXQ].vq;
	unsigned int done = 0;
	int ret;

	if (!vq->ready) {
		stash_clear(e);
		e->rx_paused = true;
		backend_watch(e);
		return;
	}
	fault_delay(e);
	e->rx_paused = false;
	uvq_poll_begin(vq);
	for (;;) {
		if (!rx_fill(e)) {
			q_flush(e, NET_RXQ);
			done = 0;
			if (uvq_poll_end(vq))
				continue;
			e->rx_paused = true;
			break;
		}
		ret = rx_one(e);
		if (ret < 0) {
			net_stat_add(&e->sh.stats[NET_RXQ].errors, 1);
			backend_lost(e, ret);
			break;
		}
		if (!ret)
			break;
		if (++done == BATCH) {
			q_flush(e, NET_RXQ);
			done = 0;
		}
	}
	if (!e->rx_paused)
		uvq_poll_end(vq);
	q_flush(e, NET_RXQ);
	backend_watch(e);
}

/**
 * tx_one() - send one transmit chain to the backend
 * @e:		emulator
 *
 * Return: 0 when the chain is done with (sent or dropped), -EAGAIN when
 * the backend has no room (the chain stays held)
 */
static int tx_one(struct emu *e)
{
	struct net_qstats *st = &e->sh.stats[NET_TXQ];
	struct uvq_elem *el = &e->tx;
	struct virtio_net_hdr_v1 h;
	struct iovec sub[UVIRTIO_MAX_QUEUE_SIZE];
	const struct iovec *iov = el->iov;
	unsigned int cnt = el->out_num;
	size_t flen, max;
	struct iovc c;
	int ret, sc;

	if (el->out_len < HDR_LEN + ETH_HLEN) {
		net_stat_add(&st->drops, 1);
		return 0;
	}
	flen = el->out_len - HDR_LEN;
	iovc_init(&c, el->iov, el->out_num);
	iovc_read(&c, &h, HDR_LEN);
	max = h.gso_type == VIRTIO_NET_HDR_GSO_NONE ? e->o.mtu + L2_LEN :
	      GSO_MAX_FRAME;
	if (flen > max) {
		net_stat_add(&st->drops, 1);
		return 0;
	}
	if (!carries_hdr(e)) {
		/* Not offered, so not negotiated: a driver that did anyway. */
		if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE ||
		    (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
			net_stat_add(&st->drops, 1);
			return 0;
		}
		sc = iovc_slice(&c, flen, sub, UVIRTIO_MAX_QUEUE_SIZE);
		if (sc < 0) {
			net_stat_add(&st->errors, 1);
			return 0;
		}
		iov = sub;
		cnt = sc;
	}
	if (!e->b.connected) {
		net_stat_add(&st->drops, 1);
		return 0;
	}
	ret = nb_send(&e->b, iov, cnt);
	if (ret == -EAGAIN)
		return -EAGAIN;
	if (ret == -EMSGSIZE) {
		net_stat_add(&st->drops, 1);
		return 0;
	}
	if (ret) {
		net_stat_add(&st->errors, 1);
		backend_lost(e, ret);
		return 0;
	}
	net_stat_add(&st->packets, 1);
	net_stat_add(&st->bytes, flen);
	return 0;
}

/**
 * tx_serve() - send what the driver queued
 * @e:		emulator
 */
static void tx_serve(struct emu *e)
{
	struct uvq *vq = &e->dev.q[NET_TXQ].vq;
	struct uvq_elem *el = &e->tx;
	unsigned int done = 0;
	int ret;

	if (!vq->ready) {
		e->tx_held = false;
		return;
	}
	if (nb_pending_out(&e->b)) {
		ret = nb_flush(&e->b);
		if (ret == -EAGAIN) {
			backend_watch(e);
			return;
		}
		if (ret)
			backend_lost(e, ret);
	}
	fault_delay(e);
	uvq_poll_begin(vq);
	do {
		for (;;) {
			if (!e->tx_held) {
				uvq_elem_init(el, e->tx_iov,
					      UVIRTIO_MAX_QUEUE_SIZE);
				ret = uvq_pop(vq, el);
				if (ret <= 0)
					break;
				if (el->err || el->in_num) {
					net_stat_add(&e->sh.stats[NET_TXQ].errors, 1);
					if (el->owned)
						uvq_discard(vq, el);
					continue;
				}
			}
			ret = tx_one(e);
			if (ret == -EAGAIN) {
				e->tx_held = true;
				break;
			}
			e->tx_held = false;
			uvq_push(vq, el, 0);
			if (++done == BATCH) {
				q_flush(e, NET_TXQ);
				done = 0;
			}
		}
		q_flush(e, NET_TXQ);
		if (e->tx_held)
			break;
	} while (uvq_poll_end(vq));
	if (e->tx_held)
		uvq_poll_end(vq);
	backend_watch(e);
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
	struct if_nameindex *ni, *p;
	struct ifreq ifr;
	int s, ret = -ENOENT;
	char dir[160];

	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ni = if_nameindex();
	for (p = ni; s >= 0 && p && p->if_index; p++) {
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", p->if_name);
		if (ioctl(s, SIOCGIFHWADDR, &ifr))
			continue;
		if (!memcmp(ifr.ifr_hwaddr.sa_data, e->o.mac, ETH_ALEN)) {
			snprintf(name, IFNAMSIZ, "%s", p->if_name);
			ret = 0;
			break;
		}
	}
	if (ni)
		if_freenameindex(ni);
	if (s >= 0)
		close(s);
	/*
	 * A module that puts the interface in our namespace has a "pid"
	 * attribute; with it, the interface may still be on its way here
	 * and sysfs would name it in the initial namespace.
	 */
	if (ret && !uvdev_sysfs_dir(&e->dev, dir, sizeof(dir)) &&
	    strlen(dir) + sizeof("/pid") <= sizeof(dir)) {
		strcat(dir, "/pid");
		if (access(dir, F_OK))
			ret = uvdev_child_name(&e->dev, "net", name, IFNAMSIZ);
	}
	return ret;
}

/**
 * print_stats() - the counters, one line per queue, on stderr
 * @e:		emulator
 */
static void print_stats(struct emu *e)
{
	static const char *const qn[NET_NUM_QUEUES] = { "rx", "tx" };
	struct net_qstats *s;
	unsigned int i;

	for (i = 0; i < NET_NUM_QUEUES; i++) {
		s = &e->sh.stats[i];
		info("stats %s packets=%llu bytes=%llu drops=%llu errors=%llu kicks=%llu irqs=%llu irqs_suppressed=%llu",
		     qn[i],
		     (unsigned long long)net_stat_read(&s->packets),
		     (unsigned long long)net_stat_read(&s->bytes),
		     (unsigned long long)net_stat_read(&s->drops),
		     (unsigned long long)net_stat_read(&s->errors),
		     (unsigned long long)net_stat_read(&s->kicks),
		     (unsigned long long)net_stat_read(&s->irqs),
		     (unsigned long long)net_stat_read(&s->irqs_suppressed));
	}
}

/**
 * finish() - print the counters, close the backend and exit
 * @e:		emulator
 * @code:	exit code
 */
static void __attribute__((noreturn)) finish(struct emu *e, int code)
{
	print_stats(e);
	nb_close(&e->b);
	exit(code);
}

/**
 * timer_tick() - periodic work: name the interface, reconnect, reap passt
 * @e:		emulator
 */
static void timer_tick(struct emu *e)
{
	struct timespec now;
	uint64_t ticks;

	if (read(e->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		die(1, "timerfd: %s", strerror(errno));
	nb_reap(&e->b);
	if (e->b.kind == NB_PASST && !e->b.passt_pid && e->b.connected)
		backend_lost(e, -ECONNRESET);
	backend_retry(e);
	if (e->named || e->removing || !e->driver_ok)
		return;
	if (!find_ifname(e, e->ifname)) {
		info("uvirtio-%u: interface %s, MAC %02x:%02x:%02x:%02x:%02x:%02x, MTU %u, backend %s",
		     e->dev.index, e->ifname, e->o.mac[0], e->o.mac[1],
		     e->o.mac[2], e->o.mac[3], e->o.mac[4], e->o.mac[5],
		     e->o.mtu, e->b.spec);
		printf("%s\n", e->ifname);
		fflush(stdout);
		e->named = true;
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec >= e->deadline)
		die(1, "uvirtio-%u: no interface appeared within %d s",
		    e->dev.index, NAME_TIMEOUT_S);
}

/**
 * signal_event() - TERM/INT remove, USR1 lifts faults, USR2 prints
 * counters, HUP toggles the link
 * @e:		emulator
 */
static void signal_event(struct emu *e)
{
	struct signalfd_siginfo si;
	int ret;

	while (read(e->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGUSR1:
			net_faults_clear(&e->sh);
			info("faults lifted");
			rx_serve(e);
			tx_serve(e);
			continue;
		case SIGUSR2:
			print_stats(e);
			continue;
		case SIGHUP:
			net_set_link(&e->sh, !atomic_load(&e->sh.link_want));
			continue;
		}
		if (e->removing) {
			info("%s again: exiting without waiting for removal",
			     strsignal(si.ssi_signo));
			finish(e, 1);
		}
		e->removing = true;
		info("uvirtio-%u: %s: removing the device", e->dev.index,
		     strsignal(si.ssi_signo));
		ret = uvdev_remove(&e->dev);
		if (ret)
			die(1, "uvirtio-%u: cannot remove the device: %s",
			    e->dev.index, strerror(-ret));
	}
}

/**
 * ctrl_event() - the module answered a control command: note it
 * @e:		emulator
 * @ev:		the event (struct uvirtio_net_ctrl_event)
 *
 * Every frame is passed whatever the rx mode: the kernel's stack drops
 * what is not for it. A new MAC address is remembered (find_ifname()).
 */
static void ctrl_event(struct emu *e, const struct uvirtio_event *ev)
{
	struct uvirtio_net_ctrl_event c;

	memcpy(&c, ev, sizeof(c));
	if (c.class == VIRTIO_NET_CTRL_MAC &&
	    c.cmd == VIRTIO_NET_CTRL_MAC_ADDR_SET && c.len >= ETH_ALEN &&
	    !c.ack) {
		memcpy(e->o.mac, c.data, ETH_ALEN);
		info("uvirtio-%u: MAC address set to %02x:%02x:%02x:%02x:%02x:%02x",
		     e->dev.index, c.data[0], c.data[1], c.data[2], c.data[3],
		     c.data[4], c.data[5]);
	} else if (c.class == VIRTIO_NET_CTRL_RX && c.len >= 1) {
		info("uvirtio-%u: rx mode %u %s", e->dev.index, c.cmd,
		     c.data[0] ? "on" : "off");
	}
}

/**
 * device_event() - read and act on every queued device event
 * @e:		emulator
 * @hup:	EPOLLHUP was reported
 */
static void device_event(struct emu *e, bool hup)
{
	struct uvirtio_event ev;
	uint64_t df;
	int ret;

	while ((ret = uvdev_read_event(&e->dev, &ev)) > 0) {
		ret = uvdev_handle_event(&e->dev, &ev);
		if (ret)
			die(1, "uvirtio-%u: event %u: %s", e->dev.index,
			    ev.type, strerror(-ret));
		switch (ev.type) {
		case UVIRTIO_EV_NET_CTRL:
			ctrl_event(e, &ev);
			break;
		case UVIRTIO_EV_DRIVER_OK:
		case UVIRTIO_EV_OVERFLOW:
		case UVIRTIO_EV_RESET:
			stash_clear(e);
			e->tx_held = false;
			df = e->dev.driver_features;
			e->mrg = df & (1ULL << VIRTIO_NET_F_MRG_RXBUF);
			e->guest_csum = df & (1ULL << VIRTIO_NET_F_GUEST_CSUM);
			e->guest_tso4 = df & (1ULL << VIRTIO_NET_F_GUEST_TSO4);
			e->guest_tso6 = df & (1ULL << VIRTIO_NET_F_GUEST_TSO6);
			if (ev.type != UVIRTIO_EV_RESET) {
				e->driver_ok = e->dev.q[NET_RXQ].vq.ready;
				if (nb_set_offload(&e->b, e->guest_csum,
						   e->guest_tso4,
						   e->guest_tso6))
					info("%s: cannot set offloads",
					     e->b.spec);
				rx_serve(e);
				tx_serve(e);
			}
			break;
		}
		if (e->dev.removed || e->dev.dead_reason)
			break;
	}
	if (ret < 0 && ret != -ENODEV)
		die(1, "uvirtio-%u: reading events: %s", e->dev.index,
		    strerror(-ret));
	if (e->dev.dead_reason == UVIRTIO_DEAD_REMOVED) {
		info("uvirtio-%u: removed", e->dev.index);
		finish(e, 0);
	}
	if (e->dev.dead_reason)
		die(1, "uvirtio-%u: device removed: %s", e->dev.index,
		    uvdev_dead_str(e->dev.dead_reason));
	if (hup) {
		if (e->removing)
			finish(e, 0);
		die(1, "uvirtio-%u: device went away", e->dev.index);
	}
}

/**
 * kick_event() - a queue was kicked
 * @e:		emulator
 * @qi:		queue index
 */
static void kick_event(struct emu *e, unsigned int qi)
{
	uvdev_kick_clear(&e->dev, qi);
	net_stat_add(&e->sh.stats[qi].kicks, 1);
	if (atomic_load_explicit(&e->sh.faults.ignore_kicks,
				 memory_order_relaxed) & (1U << qi))
		return;
	if (qi == NET_RXQ)
		rx_serve(e);
	else
		tx_serve(e);
}

/**
 * setup_loop() - signals, timer, wake-up eventfd and queues into epoll
 * @e:		emulator
 */
static void setup_loop(struct emu *e)
{
	struct itimerspec its = {
		.it_interval = { 0, TICK_MS * 1000000L },
		.it_value = { 0, TICK_MS * 1000000L },
	};
	struct timespec now;
	unsigned int i;
	sigset_t set;
	int ret;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGHUP);
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
	e->deadline = now.tv_sec + NAME_TIMEOUT_S;

	ret = uvloop_init(&e->loop);
	if (!ret)
		ret = uvloop_add(&e->loop, e->dev.fd, EPOLLIN, TAG_DEV);
	if (!ret)
		ret = uvloop_add(&e->loop, e->sig_fd, EPOLLIN, TAG_SIGNAL);
	if (!ret)
		ret = uvloop_add(&e->loop, e->timer_fd, EPOLLIN, TAG_TIMER);
	if (!ret)
		ret = uvloop_add(&e->loop, e->sh.wake_fd, EPOLLIN, TAG_WAKE);
	for (i = 0; !ret && i < NET_NUM_QUEUES; i++)
		ret = uvloop_add(&e->loop, e->dev.q[i].kick_fd, EPOLLIN,
				 TAG_KICK + i);
	if (ret)
		die(1, "epoll: %s", strerror(-ret));
	e->be_fd = -1;
	e->rx_paused = true;
	backend_watch(e);
}

/**
 * run() - the event loop; never returns
 * @e:		emulator
 */
static void __attribute__((noreturn)) run(struct emu *e)
{
	struct epoll_event ev[16];
	uint64_t v;
	int i, n;

	for (;;) {
		n = uvloop_wait(&e->loop, ev, 16, -1);
		if (n < 0)
			die(1, "epoll_wait: %s", strerror(-n));
		for (i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64;
			uint32_t what = ev[i].events;

			if (tag == TAG_DEV)
				device_event(e, what & (EPOLLHUP | EPOLLERR));
			else if (tag == TAG_SIGNAL)
				signal_event(e);
			else if (tag == TAG_TIMER)
				timer_tick(e);
			else if (tag == TAG_WAKE) {
				if (read(e->sh.wake_fd, &v, sizeof(v)) < 0 &&
				    errno != EAGAIN)
					die(1, "eventfd: %s", strerror(errno));
				apply_link(e);
			} else if (tag == TAG_BACKEND) {
				if (what & (EPOLLOUT | EPOLLERR | EPOLLHUP))
					tx_serve(e);
				if (what & (EPOLLIN | EPOLLERR | EPOLLHUP))
					rx_serve(e);
			} else if (tag >= TAG_KICK &&
				   tag < TAG_KICK + NET_NUM_QUEUES) {
				kick_event(e, tag - TAG_KICK);
			}
		}
	}
}

/**
 * main() - parse, open the backend, create the device, serve
 * @argc:	argument count
 * @argv:	arguments
 *
 * Return: does not return; see the exit status in usage()
 */
/* ---- the status filesystem (issue 5) ---- */

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

	if (q >= NET_NUM_QUEUES)
		return;
	st = &e->sh.stats[q];
	atomic_store(&c->kicks, net_stat_read(&st->kicks));
	atomic_store(&c->interrupts, net_stat_read(&st->irqs));
	atomic_store(&c->interrupts_suppressed, net_stat_read(&st->irqs_suppressed));
	atomic_store(&c->requests, net_stat_read(&st->packets));
	atomic_store(&c->bytes, net_stat_read(&st->bytes));
	atomic_store(&c->errors, net_stat_read(&st->errors) + net_stat_read(&st->drops));
}

/**
 * statfs_get_control() - uvstatfs_ops.get_control: the link
 * @opaque:	struct emu
 * @ctl:	UVSTATFS_CTL_LINK
 * @buf:	out
 * @len:	bytes at @buf
 *
 * Return: bytes written, or -EINVAL
 */
static int statfs_get_control(void *opaque, unsigned int ctl, char *buf,
			      size_t len)
{
	struct emu *e = opaque;

	if (ctl != UVSTATFS_CTL_LINK)
		return -EINVAL;
	return snprintf(buf, len, "%s\n", atomic_load(&e->sh.link_want) ? "up" : "down");
}

/**
 * statfs_set_control() - uvstatfs_ops.set_control: "up" or "down"
 * @opaque:	struct emu
 * @ctl:	UVSTATFS_CTL_LINK
 * @val:	the text written
 *
 * Return: 0 or -EINVAL
 */
static int statfs_set_control(void *opaque, unsigned int ctl, const char *val)
{
	struct emu *e = opaque;

	if (ctl != UVSTATFS_CTL_LINK)
		return -EINVAL;
	if (!strcmp(val, "up"))
		return net_set_link(&e->sh, true);
	if (!strcmp(val, "down"))
		return net_set_link(&e->sh, false);
	return -EINVAL;
}

static const struct uvstatfs_ops net_statfs_ops = {
	.device_id = VIRTIO_ID_NET,
	/* receive buffers wait for frames, not for the device */
	.passive_queues = 1ULL << NET_RXQ,
	.describe = statfs_describe,
	.counters = statfs_counters,
	.controls = UVSTATFS_CTL_LINK,
	.get_control = statfs_get_control,
	.set_control = statfs_set_control,
};

/**
 * statfs_mount() - --statfs DIR: mount the status filesystem
 * @e:		emulator, device created
 */
static void statfs_mount(struct emu *e)
{
	int ret;

	if (!e->o.statfs)
		return;
	ret = uvstatfs_start(&e->statfs, e->o.statfs, &e->dev, &net_statfs_ops, e);
	if (ret)
		die(1, "%s: cannot mount the status filesystem: %s", e->o.statfs,
		    strerror(-ret));
	ret = uvstatfs_stop_atexit(e->statfs);
	if (ret)
		die(1, "%s: %s", e->o.statfs, strerror(-ret));
}

int main(int argc, char **argv)
{
	struct emu *e = &emu;
	int ret;

	parse_opts(argc, argv, e);
	e->sh.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (e->sh.wake_fd < 0)
		die(1, "eventfd: %s", strerror(errno));
	atomic_store(&e->sh.link_want, !e->o.link_down);

	ret = nb_open(&e->b);
	if ((ret == -EPERM || ret == -EACCES) && e->b.kind == NB_TAP)
		die(1, "%s: %s (tap needs CAP_NET_ADMIN)", e->b.spec,
		    strerror(-ret));
	if (ret)
		die(1, "%s: %s", e->b.spec, strerror(-ret));
	ret = nb_connect(&e->b);
	if (ret && e->b.kind == NB_PASST)
		die(1, "%s: cannot start passt: %s", e->b.spec, strerror(-ret));
	if (ret)
		info("%s: not connected yet (%s): link down until it is",
		     e->b.spec, strerror(-ret));
	if (e->o.unshare)
		enter_namespaces();

	create_device(e);
	statfs_mount(e);
	setup_loop(e);
	ret = uvdev_start(&e->dev);
	if (ret)
		die(1, "uvirtio-%u: cannot start the device: %s",
		    e->dev.index, strerror(-ret));
	apply_link(e);
	info("uvirtio-%u: started, backend %s, MTU %u, queue size %u%s",
	     e->dev.index, e->b.spec, e->o.mtu, e->o.queue_size,
	     e->features & (1ULL << VIRTIO_NET_F_HOST_TSO4) ?
	     ", checksum and TSO offloads" : "");
	run(e);
}

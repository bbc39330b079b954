// SPDX-License-Identifier: GPL-2.0-only
/*
 * uvirtio-vhost-user - a vhost-user backend becomes a host kernel device
 *
 * A vhost-user front end, as a VMM is one, whose "guest" is the host
 * kernel: it connects to a backend's socket (qemu-storage-daemon's
 * vhost-user-blk export, DPDK's vhost PMD, ...), asks for its features and
 * config, creates a uvirtio device with what both the backend and uvirtio
 * allow, and hands the device's memory domain, rings and eventfds to the
 * backend. The kernel's virtio_blk or virtio_net binds to the device; the
 * backend then reads the driver's rings and buffers and writes its
 * completions into the domain itself. This process does no data-path work:
 * it sleeps in the emulator skeleton's loop (lib/emu.c) and only acts on
 * device events (driver started or reset the rings, changed its net queue
 * pairs) and on the backend's socket closing.
 *
 * Memory: the backend is given one region, the whole domain, with
 * "guest physical" address 0 at domain offset 0, since descriptors carry
 * domain offsets. Ring addresses are this process's addresses of the same
 * mapping. The used ring the backend writes is the queue's shadow ring,
 * created in the standard vring_used layout (UVIRTIO_CREATE_F_VRING_USED):
 * the module checks each completion and copies it to the driver's ring.
 *
 * Everything asked of the backend is asked before the device exists:
 * the kernel never waits on userspace, so the device must be described
 * complete at UVIRTIO_CREATE.
 */
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "dev.h"
#include "emu.h"
#include "emu_statfs.h"
#include "shm.h"
#include "statfs_blk.h"
#include "statfs_net.h"
#include "vu.h"
#include "worker.h"

#define PROG			"uvirtio-vhost-user"
#define VERSION			"0.1"

#define QUEUE_SIZE		256
/* Room for 2 queues x 256 requests of 64 KiB, and ext4's larger writes. */
#define BOUNCE_SIZE		(64ULL << 20)
/*
 * virtio-blk config bytes asked of the backend: everything up to and
 * including the write-zeroes fields (QEMU's layout before zoned devices).
 */
#define BLK_CONFIG_SIZE		60

/* Net feature bits that are about the control queue or the config space:
 * the module answers the control queue and this program builds the
 * config, so they are offered to the driver by us, never asked of the
 * backend. */
#define NET_FRONT_FEATURES	(1ULL << VIRTIO_NET_F_CTRL_VQ | \
				 1ULL << VIRTIO_NET_F_CTRL_RX | \
				 1ULL << VIRTIO_NET_F_CTRL_MAC_ADDR | \
				 1ULL << VIRTIO_NET_F_MAC | \
				 1ULL << VIRTIO_NET_F_STATUS | \
				 1ULL << VIRTIO_NET_F_MQ)
/* ... and the ones neither side implements here. */
#define NET_DROP_FEATURES	(1ULL << VIRTIO_NET_F_CTRL_VLAN | \
				 1ULL << VIRTIO_NET_F_CTRL_RX_EXTRA | \
				 1ULL << VIRTIO_NET_F_GUEST_ANNOUNCE | \
				 1ULL << VIRTIO_NET_F_CTRL_GUEST_OFFLOADS | \
				 1ULL << VIRTIO_NET_F_MTU)

/*
 * EVENT_IDX is the module's towards the driver, never the backend's: the
 * driver's used_event (and its look at the used index after setting it)
 * is about the used ring the module fills from the shadow, so a backend
 * deciding its calls by it could leave the driver waiting on completions
 * still in the shadow. Without EVENT_IDX a backend reads the driver's
 * avail flags, which a driver with EVENT_IDX never sets: it signals every
 * batch (uapi/linux/uvirtio.h, UVIRTIO_CREATE_F_VRING_USED).
 */
#define RING_FRONT_FEATURES	(1ULL << VIRTIO_RING_F_EVENT_IDX)

/* --recovery: how long a backend that went away has to come back. */
#define RECOVERY_TIMEOUT_MS	30000

/**
 * struct opts - the command line
 * @type:	VIRTIO_ID_BLOCK or VIRTIO_ID_NET
 * @queues:	--queues: blk queues or net queue pairs, 0 = the backend's
 * @dev:	--dev
 * @statfs:	--statfs DIR, or NULL
 * @recovery:	--recovery: wait for a backend that went away to come back
 * @socket:	SOCKET
 */
struct opts {
	uint32_t type;
	unsigned int queues;
	const char *dev;
	const char *statfs;
	bool recovery;
	const char *socket;
};

/**
 * struct vh - the front end
 * @o:		options
 * @em:		the main thread and the device (em.dev)
 * @vu:		the backend's connection
 * @backend_features: what GET_FEATURES said
 * @features:	what the device offers the driver
 * @rings:	queues the backend serves (blk: all; net: 2 per pair)
 * @pairs:	net: queue pairs the driver has enabled
 * @started:	the backend's ring i is running
 * @epoch:	the queue epoch ring i was started for
 * @enabled:	ring i is enabled (SET_VRING_ENABLE 1)
 * @resume:	ring i was running when the backend went away (--recovery):
 *		if its queue is still in epoch @epoch[i] when a backend comes
 *		back, it goes on where the driver's requests are
 * @lost_ms:	--recovery: when the backend went away, 0 while connected
 * @mac:	net: the MAC address in the config space
 * @created:	the device exists
 * @statfs:	the status filesystem, or NULL
 */
struct vh {
	struct opts o;
	struct uvemu em;
	struct vu_conn vu;
	uint64_t backend_features;
	uint64_t features;
	unsigned int rings;
	unsigned int pairs;
	bool started[UVIRTIO_MAX_QUEUES];
	uint32_t epoch[UVIRTIO_MAX_QUEUES];
	bool enabled[UVIRTIO_MAX_QUEUES];
	bool resume[UVIRTIO_MAX_QUEUES];
	uint64_t lost_ms;
	uint8_t mac[ETH_ALEN];
	bool created;
	struct uvstatfs *statfs;
};

static struct vh vh;

/**
 * usage() - print the help text
 * @f:		stream
 */
static void usage(FILE *f)
{
	fprintf(f,
"Usage: " PROG " [OPTIONS] SOCKET\n"
"Make the vhost-user backend listening on the UNIX socket SOCKET a virtio\n"
"device of this machine's kernel, through /dev/uvirtio, unprivileged.\n"
"\n"
"  --type blk|net      the backend's device type (default blk)\n"
"  --queues N          blk: at most N queues; net: at most N queue pairs\n"
"                      (default: as many as the backend has, up to %d queues)\n"
"  --dev PATH          the uvirtio control device (default " UVDEV_PATH ")\n"
"  --statfs DIR        mount the status filesystem at DIR: ring indices and\n"
"                      a stuck verdict (the backend's requests and counters\n"
"                      are not known to this front end)\n"
"  --recovery          if the backend goes away, hold the device's I/O and\n"
"                      reconnect to SOCKET for up to %d s; the requests it\n"
"                      had not completed are served again by the new one\n"
"  -h, --help          this text\n"
"  --version           print the version\n"
"\n"
"The backend must be listening already (qemu-storage-daemon --export\n"
"type=vhost-user-blk,addr.type=unix,addr.path=SOCKET,...). Its features\n"
"and config are read first; the device offers what both the backend and\n"
"uvirtio allow. The backend then serves the kernel's rings directly: this\n"
"process only starts and stops them when the driver does.\n"
"\n"
"Once the kernel's driver has bound, the disk node (/dev/vdX) or the\n"
"interface name is printed as the last line on standard output; progress\n"
"goes to standard error. SIGTERM or SIGINT removes the device cleanly\n"
"(dirty data is flushed through the backend). If the backend breaks the\n"
"protocol, or goes away without --recovery (or does not come back in\n"
"time), the device is removed at once: its I/O fails.\n"
"\n"
"Exit status: 0 after a clean removal, 1 on errors, 2 on usage errors.\n",
		UVIRTIO_MAX_QUEUES, RECOVERY_TIMEOUT_MS / 1000);
}

/**
 * parse_opts() - the command line into @o; exits 2 on a usage error
 * @argc:	argc
 * @argv:	argv
 * @o:		options
 */
static void parse_opts(int argc, char **argv, struct opts *o)
{
	enum { OPT_TYPE = 256, OPT_QUEUES, OPT_DEV, OPT_STATFS, OPT_RECOVERY,
	       OPT_VERSION };
	static const struct option longopts[] = {
		{ "type",	required_argument, NULL, OPT_TYPE },
		{ "queues",	required_argument, NULL, OPT_QUEUES },
		{ "dev",	required_argument, NULL, OPT_DEV },
		{ "statfs",	required_argument, NULL, OPT_STATFS },
		{ "recovery",	no_argument,	   NULL, OPT_RECOVERY },
		{ "help",	no_argument,	   NULL, 'h' },
		{ "version",	no_argument,	   NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	o->type = VIRTIO_ID_BLOCK;
	o->dev = UVDEV_PATH;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_TYPE:
			if (!strcmp(optarg, "blk"))
				o->type = VIRTIO_ID_BLOCK;
			else if (!strcmp(optarg, "net"))
				o->type = VIRTIO_ID_NET;
			else
				uvemu_die(2, "--type: '%s' is not blk or net",
					  optarg);
			break;
		case OPT_QUEUES:
			errno = 0;
			o->queues = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || o->queues < 1 ||
			    o->queues > UVIRTIO_MAX_QUEUES)
				uvemu_die(2, "--queues: '%s' is not a number from 1 to %d",
					  optarg, UVIRTIO_MAX_QUEUES);
			break;
		case OPT_DEV:
			o->dev = optarg;
			break;
		case OPT_STATFS:
			o->statfs = optarg;
			break;
		case OPT_RECOVERY:
			o->recovery = true;
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
	o->socket = uvemu_operand(argc, argv, "SOCKET");
}

/**
 * vh_lost() - the backend failed: say why in one line and exit 1
 * @v:		front end
 *
 * Leaving closes the device fd, so the device dies and its I/O fails at
 * once, as when any emulator dies. The socket is closed first, so a
 * backend that is still there lets go of the domain it mapped.
 */
static void __attribute__((noreturn)) vh_lost(struct vh *v)
{
	vu_close(&v->vu);
	if (v->created)
		uvemu_die(1, "uvirtio-%u: %s: %s; removing the device",
			  v->em.dev.index, v->o.socket, v->vu.err);
	uvemu_die(1, "%s: %s", v->o.socket, v->vu.err);
}

/**
 * vh_handshake() - what the backend is: features, protocol, queues
 * @v:		front end, connected
 *
 * Protocol features asked for: MQ (how many queues), REPLY_ACK (every
 * set-up step is confirmed, so a backend that cannot map the domain says
 * so), CONFIG (blk's config space). Exits 1 for a backend with no queues.
 * @nq:		out: the number of queues the backend has (1 without MQ)
 *
 * Return: 0, or the -errno of the exchange that failed (@v->vu.err says it)
 */
static int vh_handshake(struct vh *v, unsigned int *nq)
{
	const uint64_t want = 1ULL << VU_PF_MQ | 1ULL << VU_PF_REPLY_ACK |
			      1ULL << VU_PF_CONFIG;
	uint64_t pf = 0, n = 1;
	int ret;

	ret = vu_get_u64(&v->vu, VU_GET_FEATURES, &v->backend_features);
	if (ret)
		return ret;
	if (v->backend_features & (1ULL << VU_F_PROTOCOL_FEATURES)) {
		ret = vu_get_u64(&v->vu, VU_GET_PROTOCOL_FEATURES, &pf);
		if (!ret)
			ret = vu_set_u64(&v->vu, VU_SET_PROTOCOL_FEATURES,
					 pf & want);
		if (ret)
			return ret;
		v->vu.protocol = pf & want;
	}
	ret = vu_set_owner(&v->vu);
	if (ret)
		return ret;
	if (vu_has(&v->vu, VU_PF_MQ)) {
		ret = vu_get_u64(&v->vu, VU_GET_QUEUE_NUM, &n);
		if (ret)
			return ret;
		if (n == 0)
			uvemu_die(1, "%s: the backend has no queues",
				  v->o.socket);
	}
	*nq = n;
	return 0;
}

/**
 * vh_allowed() - every feature bit uvirtio accepts for the device type
 * @v:		front end, device opened
 *
 * Return: the bits (UVIRTIO_GET_FEATURES); exits 1 if the module cannot say
 */
static uint64_t vh_allowed(struct vh *v)
{
	struct uvirtio_features f;

	memset(&f, 0, sizeof(f));
	f.device_id = v->o.type;
	if (ioctl(v->em.dev.fd, UVIRTIO_GET_FEATURES, &f) < 0)
		uvemu_die(1, "%s: UVIRTIO_GET_FEATURES: %s (a module older than this program: it cannot serve vhost-user backends)",
			  v->o.dev, strerror(errno));
	return f.features;
}

/**
 * vh_blk_config() - blk: the backend's config and the queue count
 * @v:		front end
 * @cfg:	out: config space
 * @nq:		in: queues the backend has; out: queues the device gets
 * @allowed:	feature bits uvirtio accepts
 *
 * Return: the config's size
 */
static uint32_t vh_blk_config(struct vh *v, struct virtio_blk_config *cfg,
			      unsigned int *nq, uint64_t allowed)
{
	uint64_t mq = 1ULL << VIRTIO_BLK_F_MQ;
	unsigned int n = *nq;

	if (!vu_has(&v->vu, VU_PF_CONFIG))
		uvemu_die(1, "%s: the backend does not offer its config space (protocol feature CONFIG): the disk's size is unknown",
			  v->o.socket);
	memset(cfg, 0, sizeof(*cfg));
	if (vu_get_config(&v->vu, cfg, BLK_CONFIG_SIZE))
		vh_lost(v);
	/*
	 * Limits a backend reports as 0 mean "none" to it (qemu-storage-daemon
	 * says size_max 0), and a size limit below a page is one the block
	 * layer cannot honour: the driver's defaults apply instead.
	 */
	if (le32toh(cfg->size_max) < (uint32_t)sysconf(_SC_PAGESIZE))
		v->features &= ~(1ULL << VIRTIO_BLK_F_SIZE_MAX);
	if (!cfg->seg_max)
		v->features &= ~(1ULL << VIRTIO_BLK_F_SEG_MAX);
	/* requests that fit our pool and ring; shorter suit any backend */
	if (v->features & (1ULL << VIRTIO_BLK_F_SEG_MAX)) {
		uint32_t cap = uvdev_blk_seg_max(BOUNCE_SIZE, QUEUE_SIZE);

		if (le32toh(cfg->seg_max) > cap)
			cfg->seg_max = htole32(cap);
	}
	if (!cfg->blk_size)
		v->features &= ~(1ULL << VIRTIO_BLK_F_BLK_SIZE);
	if ((v->features & mq) && le16toh(cfg->num_queues) &&
	    le16toh(cfg->num_queues) < n)
		n = le16toh(cfg->num_queues);
	if (!(v->features & mq) || !(allowed & mq))
		n = 1;
	if (v->o.queues && v->o.queues < n)
		n = v->o.queues;
	if (n > UVIRTIO_MAX_QUEUES)
		n = UVIRTIO_MAX_QUEUES;
	if (v->features & mq)
		cfg->num_queues = htole16(n);
	*nq = n;
	return BLK_CONFIG_SIZE;
}

/**
 * vh_net_config() - net: the config this program gives the driver
 * @v:		front end
 * @cfg:	out: config space
 * @pairs:	in: queue pairs the backend has; out: the device's
 *
 * The MAC address is random and locally administered; the link is up
 * (vhost-user has no link state).
 *
 * Return: the config's size
 */
static uint32_t vh_net_config(struct vh *v, struct virtio_net_config *cfg,
			      unsigned int *pairs)
{
	unsigned int n = *pairs;

	if (v->o.queues && v->o.queues < n)
		n = v->o.queues;
	/* 2 rings a pair and the control queue */
	if (n > (UVIRTIO_MAX_QUEUES - 1) / 2)
		n = (UVIRTIO_MAX_QUEUES - 1) / 2;
	if (getrandom(v->mac, ETH_ALEN, 0) != ETH_ALEN)
		uvemu_die(1, "getrandom: %s", strerror(errno));
	v->mac[0] = (v->mac[0] & 0xfc) | 0x02;
	memset(cfg, 0, sizeof(*cfg));
	memcpy(cfg->mac, v->mac, ETH_ALEN);
	cfg->status = htole16(VIRTIO_NET_S_LINK_UP);
	cfg->max_virtqueue_pairs = htole16(n);
	*pairs = n;
	return sizeof(*cfg);
}

/**
 * vh_create() - create the device the backend describes
 * @v:		front end, handshake done
 * @nq:		queues (blk) or queue pairs (net) the backend has
 *
 * Offered to the driver: what the backend offers and uvirtio allows, and
 * EVENT_IDX (the module's); for net, the control queue's features (the
 * module answers it) and the config fields this program fills. Exits 1 on
 * failure.
 */
static void vh_create(struct vh *v, unsigned int nq)
{
	union {
		struct virtio_blk_config blk;
		struct virtio_net_config net;
	} cfg;
	uint64_t allowed = vh_allowed(v);
	struct uvdev_config c;
	int ret;

	v->features = (v->backend_features & allowed &
		       ~(1ULL << VU_F_PROTOCOL_FEATURES)) |
		      (allowed & RING_FRONT_FEATURES);
	if (!(v->features & (1ULL << VIRTIO_F_VERSION_1)))
		uvemu_die(1, "%s: the backend does not offer VIRTIO_F_VERSION_1 (legacy devices are not supported)",
			  v->o.socket);
	memset(&c, 0, sizeof(c));
	c.device_id = v->o.type;
	c.queue_size = QUEUE_SIZE;
	c.bounce_size = BOUNCE_SIZE;
	c.vring_used = true;
	c.config = &cfg;
	if (v->o.type == VIRTIO_ID_BLOCK) {
		c.config_size = vh_blk_config(v, &cfg.blk, &nq, allowed);
		v->rings = c.num_queues = nq;
	} else {
		c.config_size = vh_net_config(v, &cfg.net, &nq);
		v->features &= ~(NET_FRONT_FEATURES | NET_DROP_FEATURES);
		v->features |= allowed & NET_FRONT_FEATURES;
		if (nq == 1)
			v->features &= ~(1ULL << VIRTIO_NET_F_MQ);
		v->rings = 2 * nq;
		/* the control queue, last, is the module's */
		c.num_queues = v->rings + 1;
	}
	c.features = v->features;
	ret = uvdev_create(&v->em.dev, &c);
	if (ret == -EPERM && v->o.type == VIRTIO_ID_NET)
		uvemu_die(1, "%s: cannot create the device: %s (a net device needs CAP_NET_ADMIN over this network namespace: try unshare -U -r -n)",
			  v->o.dev, strerror(-ret));
	if (ret == -EINVAL)
		uvemu_die(1, "%s: cannot create the device: the module refused the backend's features 0x%llx or config (the kernel log names the field)",
			  v->o.dev, (unsigned long long)v->features);
	if (ret)
		uvemu_die(1, "%s: cannot create the device: %s", v->o.dev,
			  strerror(-ret));
	v->created = true;
	v->pairs = 1;
}

/**
 * vh_mem_table() - give the backend the device's domain
 * @v:		front end, device created
 *
 * One region: "guest physical" 0 is domain offset 0, which is what the
 * descriptors carry; this process's mapping is where ring addresses point.
 * The fd sent is a UVIRTIO_DOMAIN_FD file, which maps the domain and can do
 * nothing else: the backend reaches the rings and buffers, never the
 * device's ioctls, and cannot keep the device alive past this process.
 * Exits 1 if the module has no such file.
 *
 * Return: 0, or -errno if the backend refused it or went (@v->vu.err)
 */
static int vh_mem_table(struct vh *v)
{
	struct vu_region r = {
		.gpa = 0,
		.size = v->em.dev.layout.domain_size,
		.uaddr = (uintptr_t)v->em.dev.map,
		.mmap_offset = 0,
	};
	int fd, ret;

	fd = ioctl(v->em.dev.fd, UVIRTIO_DOMAIN_FD);
	if (fd < 0)
		uvemu_die(1, "uvirtio-%u: UVIRTIO_DOMAIN_FD: %s (a module older than this program)",
			  v->em.dev.index, strerror(errno));
	ret = vu_set_mem_table(&v->vu, &r, 1, &fd);
	close(fd);
	return ret;
}

/**
 * vh_backend_features() - the features the backend is told to use
 * @v:		front end
 *
 * The driver's, less what the module does (ACCESS_PLATFORM: addresses are
 * domain offsets already; EVENT_IDX, see RING_FRONT_FEATURES; net's
 * control queue and config fields), plus the flag that protocol features
 * are in use.
 *
 * Return: the bits
 */
static uint64_t vh_backend_features(const struct vh *v)
{
	uint64_t f = v->em.dev.driver_features & v->backend_features;

	f &= ~(1ULL << VIRTIO_F_ACCESS_PLATFORM | RING_FRONT_FEATURES);
	if (v->o.type == VIRTIO_ID_NET)
		f &= ~(NET_FRONT_FEATURES & ~(1ULL << VIRTIO_NET_F_MQ));
	if (v->backend_features & (1ULL << VU_F_PROTOCOL_FEATURES))
		f |= 1ULL << VU_F_PROTOCOL_FEATURES;
	return f;
}

/**
 * vh_ring_stop() - stop the backend's ring @i (GET_VRING_BASE)
 * @v:		front end
 * @i:		ring
 *
 * Once answered, the backend no longer touches the ring: only then may
 * the queue's shadow ring be started anew.
 */
static void vh_ring_stop(struct vh *v, unsigned int i)
{
	uint32_t base;

	if (vu_get_vring_base(&v->vu, i, &base))
		vh_lost(v);
	v->started[i] = false;
	v->enabled[i] = false;
}

/**
 * vh_ring_requeue() - a backend takes over ring @i from one that went away
 * @v:		front end
 * @i:		ring, its queue in the epoch the old backend served
 *
 * The module takes what the old backend completed, and re-posts the heads
 * the driver still waits for as the last avail entries (UVIRTIO_REQUEUE):
 * the new backend starts at the shadow ring's used index, which is where
 * they begin, and serves each of them once. Exits 1 if the module refuses
 * (a bad completion killed the device, say).
 *
 * Return: the avail index the backend starts from
 */
static uint16_t vh_ring_requeue(struct vh *v, unsigned int i)
{
	struct vring_used *used = (void *)v->em.dev.q[i].vq.shadow;
	struct uvirtio_requeue r;
	uint16_t idx;

	memset(&r, 0, sizeof(r));
	r.index = i;
	if (ioctl(v->em.dev.fd, UVIRTIO_REQUEUE, &r) < 0)
		uvemu_die(1, "uvirtio-%u: ring %u: UVIRTIO_REQUEUE: %s; removing the device",
			  v->em.dev.index, i, strerror(errno));
	idx = le16toh(shm_load16(&used->idx, memory_order_acquire));
	if (idx != r.base)
		uvemu_die(1, "uvirtio-%u: ring %u: the used index is %u, but the requests to serve again begin at %u; removing the device",
			  v->em.dev.index, i, idx, r.base);
	if (r.count)
		uvemu_log("uvirtio-%u: ring %u: %u request%s the old backend did not complete will be served again",
			  v->em.dev.index, i, r.count, r.count > 1 ? "s" : "");
	return r.base;
}

/**
 * vh_ring_start() - hand queue @i's rings to the backend
 * @v:		front end
 * @i:		ring, its queue ready (UVIRTIO_GET_QUEUE)
 *
 * The used ring the backend writes is the queue's shadow ring: it starts
 * empty (idx 0, no suppression), and the module takes its entries once
 * the ctrl page carries the queue's epoch; or, where a backend that went
 * away served the same epoch (@v->resume), it goes on from where the
 * requests to serve are (vh_ring_requeue()). The kick and call eventfds
 * are the ones the module signals and waits on. The kick eventfd is
 * emptied first: kicks counted while no backend ran it would have the
 * backend serve (and signal) before it has its call eventfd, and a
 * libvhost-user backend breaks on a signal without one. vh_sync() kicks
 * the ring once it is complete and enabled.
 */
static void vh_ring_start(struct vh *v, unsigned int i)
{
	struct uvdev_queue *q = &v->em.dev.q[i];
	struct uvirtio_ctrl *ctrl = (void *)((uint8_t *)v->em.dev.map +
					     v->em.dev.layout.ctrl_offset);
	struct vring_used *used = (void *)q->vq.shadow;
	struct vu_vring_addr a = {
		.index = i,
		.desc = (uintptr_t)q->vq.desc,
		.used = (uintptr_t)used,
		.avail = (uintptr_t)q->vq.avail,
	};
	uint16_t base = 0;

	if (v->resume[i] && q->vq.epoch == v->epoch[i]) {
		base = vh_ring_requeue(v, i);
	} else {
		shm_store16(&used->flags, 0, memory_order_relaxed);
		shm_store16(&used->idx, 0, memory_order_relaxed);
		shm_store16((uint16_t *)&used->ring[q->vq.num], 0,
			    memory_order_relaxed);
		shm_store32(&ctrl->queue[i].epoch, q->vq.epoch,
			    memory_order_release);
	}
	v->resume[i] = false;
	uvworker_drain(q->kick_fd);

	if (vu_set_state(&v->vu, VU_SET_VRING_NUM, i, q->vq.num) ||
	    vu_set_state(&v->vu, VU_SET_VRING_BASE, i, base) ||
	    vu_set_vring_addr(&v->vu, &a) ||
	    vu_set_vring_fd(&v->vu, VU_SET_VRING_KICK, i, q->kick_fd) ||
	    vu_set_vring_fd(&v->vu, VU_SET_VRING_CALL, i, q->call_fd))
		vh_lost(v);
	v->started[i] = true;
	v->epoch[i] = q->vq.epoch;
}

/**
 * vh_ring_wanted() - should ring @i be enabled?
 * @v:		front end
 * @i:		ring
 *
 * Return: blk: always; net: while its pair is one the driver enabled
 */
static bool vh_ring_wanted(const struct vh *v, unsigned int i)
{
	return v->o.type != VIRTIO_ID_NET || i / 2 < v->pairs;
}

/**
 * vh_enable() - enable the started rings that are wanted, disable others
 * @v:		front end
 *
 * Without protocol features a backend runs every ring it was given.
 */
static void vh_enable(struct vh *v)
{
	unsigned int i;

	if (!(v->backend_features & (1ULL << VU_F_PROTOCOL_FEATURES)))
		return;
	for (i = 0; i < v->rings; i++) {
		bool on = v->started[i] && vh_ring_wanted(v, i);

		if (!v->started[i] || on == v->enabled[i])
			continue;
		if (vu_set_state(&v->vu, VU_SET_VRING_ENABLE, i, on))
			vh_lost(v);
		v->enabled[i] = on;
	}
}

/**
 * vh_sync() - make the backend's rings match the driver's queues
 * @v:		front end
 *
 * Called after every event that starts or stops queues (the library has
 * applied it: struct uvq says which queues are ready, for which epoch).
 * A ring whose queue stopped, or was set up anew, is stopped first; then
 * every ready queue whose ring is not running is started, the features
 * being sent before the first ring of a start, and kicked once enabled:
 * requests may have been waiting for it.
 */
static void vh_sync(struct vh *v)
{
	struct uvdev *d = &v->em.dev;
	bool any = false, dead = d->removed || d->dead_reason;
	bool fresh[UVIRTIO_MAX_QUEUES] = { false };
	uint64_t one = 1;
	unsigned int i;

	/* no backend to tell: vh_reconnect() syncs when one is back */
	if (v->lost_ms)
		return;
	for (i = 0; i < v->rings; i++) {
		const struct uvq *vq = &d->q[i].vq;

		if (v->started[i] &&
		    (dead || !vq->ready || vq->epoch != v->epoch[i]))
			vh_ring_stop(v, i);
		any |= v->started[i];
	}
	if (dead)
		return;
	for (i = 0; i < v->rings; i++) {
		if (!d->q[i].vq.ready || v->started[i])
			continue;
		if (!any && !(d->driver_features & RING_FRONT_FEATURES))
			uvemu_die(1, "uvirtio-%u: the driver did not accept VIRTIO_RING_F_EVENT_IDX, which this front end needs (without it a completion could wait in the shadow ring unsignalled)",
				  d->index);
		if (!any && vu_set_u64(&v->vu, VU_SET_FEATURES,
				       vh_backend_features(v)))
			vh_lost(v);
		any = true;
		vh_ring_start(v, i);
		fresh[i] = true;
	}
	vh_enable(v);
	for (i = 0; i < v->rings; i++)
		if (fresh[i] &&
		    write(d->q[i].kick_fd, &one, sizeof(one)) != sizeof(one))
			uvemu_die(1, "uvirtio-%u: kick of ring %u: %s", d->index,
				  i, strerror(errno));
}

/**
 * vh_net_ctrl() - net: the driver changed its number of queue pairs
 * @v:		front end
 * @ev:		UVIRTIO_EV_NET_CTRL
 */
static void vh_net_ctrl(struct vh *v, const struct uvirtio_event *ev)
{
	struct uvirtio_net_ctrl_event c;
	unsigned int n;

	memcpy(&c, ev, sizeof(c));
	if (c.ctrl_class != VIRTIO_NET_CTRL_MQ ||
	    c.cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET || c.len < 2 || c.ack)
		return;
	n = c.data[0] | c.data[1] << 8;
	if (n < 1 || n > v->rings / 2)
		return;
	v->pairs = n;
	vh_enable(v);
	uvemu_log("uvirtio-%u: %u of %u queue pairs enabled", v->em.dev.index,
		  n, v->rings / 2);
}

/**
 * vh_event() - uvemu_ops.event: follow the driver with the backend's rings
 * @em:		main thread
 * @ev:		the event, applied by the library
 */
static void vh_event(struct uvemu *em, const struct uvirtio_event *ev)
{
	struct vh *v = em->priv;

	switch (ev->type) {
	case UVIRTIO_EV_DRIVER_OK:
	case UVIRTIO_EV_RESET:
		/* after a reset the driver starts with one pair again */
		v->pairs = 1;
		vh_sync(v);
		break;
	case UVIRTIO_EV_OVERFLOW:
		if (em->dev.net_pairs)
			v->pairs = em->dev.net_pairs;
		vh_sync(v);
		break;
	case UVIRTIO_EV_REMOVED:
		vh_sync(v);
		break;
	case UVIRTIO_EV_NET_CTRL:
		vh_net_ctrl(v, ev);
		break;
	default:
		break;
	}
}

/**
 * now_ms() - CLOCK_MONOTONIC in milliseconds
 *
 * Return: milliseconds
 */
static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/**
 * vh_gone() - --recovery: the backend closed the connection
 * @v:		front end
 *
 * Its process has ended (or let go of the socket): nothing more comes from
 * it. The device stays, and the driver's requests wait in the rings; the
 * rings it ran are marked to be resumed, and vh_tick() reconnects.
 */
static void vh_gone(struct vh *v)
{
	unsigned int i;

	vu_close(&v->vu);
	for (i = 0; i < v->rings; i++) {
		v->resume[i] = v->started[i];
		v->started[i] = false;
		v->enabled[i] = false;
	}
	v->lost_ms = now_ms();
	uvemu_log("uvirtio-%u: %s: %s; holding the device's I/O for up to %d s while it comes back (--recovery)",
		  v->em.dev.index, v->o.socket, v->vu.err,
		  RECOVERY_TIMEOUT_MS / 1000);
}

/**
 * vh_not_back() - --recovery: did a step of taking a backend back fail
 * because the connection ended?
 * @v:		front end
 * @ret:	the step's 0 or -errno
 *
 * Then no backend is back (the old one's socket, still being torn down,
 * can take a connect and reset it): the connection is closed and the next
 * tick tries again. Any other failure exits 1.
 *
 * Return: true if the caller must wait for the next tick
 */
static bool vh_not_back(struct vh *v, int ret)
{
	if (!ret)
		return false;
	if (ret != -ECONNRESET && ret != -EPIPE && ret != -ENOTCONN)
		vh_lost(v);
	uvemu_log("uvirtio-%u: %s: %s; still waiting for the backend",
		  v->em.dev.index, v->o.socket, v->vu.err);
	vu_close(&v->vu);
	return true;
}

/**
 * vh_reconnect() - --recovery: a backend listens on the socket again
 * @v:		front end, connected
 *
 * It must offer every feature the driver uses and as many queues as the
 * device has. It is given the domain, then the rings as after a driver
 * start (vh_sync(), which kicks each), those it takes over going on where
 * the driver's requests are. A connection that ends before that is not a
 * backend back (vh_not_back()).
 */
static void vh_reconnect(struct vh *v)
{
	uint64_t need = vh_backend_features(v) &
			~(1ULL << VU_F_PROTOCOL_FEATURES);
	unsigned int nq = 0, want;
	int ret;

	ret = vh_handshake(v, &nq);
	if (vh_not_back(v, ret))
		return;
	if (need & ~v->backend_features) {
		snprintf(v->vu.err, sizeof(v->vu.err),
			 "the backend came back without features 0x%llx the driver uses",
			 (unsigned long long)(need & ~v->backend_features));
		vh_lost(v);
	}
	want = v->o.type == VIRTIO_ID_NET ? v->rings / 2 : v->rings;
	if (nq < want) {
		snprintf(v->vu.err, sizeof(v->vu.err),
			 "the backend came back with %u queue%s, the device has %u",
			 nq, nq > 1 ? "s" : "", want);
		vh_lost(v);
	}
	if (vh_not_back(v, vh_mem_table(v)))
		return;
	ret = uvemu_watch(&v->em, v->vu.fd, EPOLLIN | EPOLLRDHUP);
	if (ret)
		uvemu_die(1, "epoll: %s", strerror(-ret));
	uvemu_log("uvirtio-%u: the backend at %s is back after %llu ms",
		  v->em.dev.index, v->o.socket,
		  (unsigned long long)(now_ms() - v->lost_ms));
	v->lost_ms = 0;
	vh_sync(v);
}

/**
 * vh_tick() - uvemu_ops.tick (--recovery only): while the backend is
 * away, try its socket; give up after RECOVERY_TIMEOUT_MS, or at once
 * when SIGTERM or SIGINT asked for the device's removal (its flush has
 * nobody to answer it: waiting would only hold the signal up)
 * @em:		main thread
 */
static void vh_tick(struct uvemu *em)
{
	struct vh *v = em->priv;

	/* a device removed meanwhile: the library is on its way out */
	if (!v->lost_ms || v->em.dev.removed || v->em.dev.dead_reason)
		return;
	if (em->removing) {
		snprintf(v->vu.err, sizeof(v->vu.err),
			 "removal asked for while the backend is away");
		vh_lost(v);
	}
	if (vu_connect(&v->vu, v->o.socket) == 0) {
		vh_reconnect(v);
		return;
	}
	if (now_ms() - v->lost_ms < RECOVERY_TIMEOUT_MS)
		return;
	snprintf(v->vu.err, sizeof(v->vu.err),
		 "the backend did not come back within %d s",
		 RECOVERY_TIMEOUT_MS / 1000);
	vh_lost(v);
}

/**
 * vh_io() - uvemu_ops.io: the backend's socket woke us outside a request
 * @em:		main thread
 * @events:	epoll events
 *
 * The backend never speaks first on this socket: data here is a protocol
 * error, and the device goes. A hang-up means the backend is gone: the
 * device goes too, unless --recovery holds it for a new backend.
 */
static void vh_io(struct uvemu *em, uint32_t events)
{
	struct vh *v = em->priv;
	char b;

	if (events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR) ||
	    recv(v->vu.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
		snprintf(v->vu.err, sizeof(v->vu.err),
			 "the backend closed the connection");
		if (v->o.recovery && !v->em.dev.removed &&
		    !v->em.dev.dead_reason) {
			vh_gone(v);
			return;
		}
	} else {
		snprintf(v->vu.err, sizeof(v->vu.err),
			 "the backend sent a message nobody asked for");
	}
	vh_lost(v);
}

/**
 * vh_node() - uvemu_ops.node: the disk node or the interface
 * @em:		main thread
 * @name:	out
 * @len:	bytes at @name
 *
 * An interface counts once it carries our MAC address in this network
 * namespace.
 *
 * Return: 0, or -ENOENT while there is none (yet)
 */
static int vh_node(struct uvemu *em, char *name, size_t len)
{
	struct vh *v = em->priv;

	if (v->o.type == VIRTIO_ID_BLOCK)
		return uvdev_disk_node(&em->dev, name, len);
	if (len < IFNAMSIZ)
		return -ENAMETOOLONG;
	return uvdev_netif_by_mac(v->mac, name);
}

/**
 * vh_ready() - uvemu_ops.ready: say what is served
 * @em:		main thread
 * @name:	the node or interface
 */
static void vh_ready(struct uvemu *em, const char *name)
{
	struct vh *v = em->priv;
	bool net = v->o.type == VIRTIO_ID_NET;
	unsigned int n = net ? v->rings / 2 : v->rings;

	uvemu_log("uvirtio-%u: %s served by the vhost-user backend at %s, %u %s%s, features 0x%llx",
		  em->dev.index, name, v->o.socket, n,
		  net ? "queue pair" : "queue", n > 1 ? "s" : "",
		  (unsigned long long)em->dev.driver_features);
}

/**
 * vh_finish() - uvemu_ops.finish: leave the backend
 * @em:		main thread
 * @code:	exit status
 *
 * Return: @code
 */
static int vh_finish(struct uvemu *em, int code)
{
	struct vh *v = em->priv;

	vu_close(&v->vu);
	return code;
}

/**
 * vh_describe() - uvstatfs_ops.describe: what is served, and by whom
 * @opaque:	struct vh
 * @buf:	out
 * @len:	bytes at @buf
 *
 * Return: bytes written
 */
static int vh_describe(void *opaque, char *buf, size_t len)
{
	struct vh *v = opaque;
	bool net = v->o.type == VIRTIO_ID_NET;
	char name[64];

	if (uvdev_child_name(&v->em.dev, net ? "net" : "block", name,
			     sizeof(name)))
		snprintf(name, sizeof(name), "-");
	return snprintf(buf, len,
			"type: %s\nkernel: %s\nbackend: vhost-user %s\npid: %d\n",
			net ? "net" : "blk", name, v->o.socket, (int)getpid());
}

/*
 * No counters or inflight callbacks: the backend takes the requests and
 * the kicks and writes the call eventfd, none of it passes through here
 * (the library says so in those files).
 */
static struct uvstatfs_ops vh_statfs_ops = {
	.describe = vh_describe,
};

/**
 * vh_statfs_mount() - --statfs DIR: mount the status filesystem
 * @v:		front end, device created
 */
static void vh_statfs_mount(struct vh *v)
{
	unsigned int i;

	vh_statfs_ops.device_id = v->o.type;
	if (v->o.type == VIRTIO_ID_NET) {
		vh_statfs_ops.feature_names = net_statfs_features;
		/* receive queues are the even ones: 2 per pair, rx first */
		for (i = 0; i < v->rings; i += 2)
			vh_statfs_ops.passive_queues |= 1ULL << i;
	} else {
		vh_statfs_ops.feature_names = blk_statfs_features;
	}
	uvemu_statfs_mount(&v->em, &v->statfs, v->o.statfs, &vh_statfs_ops, v);
}

static struct uvemu_ops vh_emu_ops = {
	.event = vh_event,
	.node = vh_node,
	.ready = vh_ready,
	.finish = vh_finish,
	.io = vh_io,
};

int main(int argc, char **argv)
{
	struct vh *v = &vh;
	unsigned int nq;
	int ret;

	uvemu_init(&v->em, PROG, &vh_emu_ops, v,
		   "disk node or interface");
	parse_opts(argc, argv, &v->o);
	if (v->o.recovery)
		vh_emu_ops.tick = vh_tick;
	if (vu_connect(&v->vu, v->o.socket))
		vh_lost(v);
	if (vh_handshake(v, &nq))
		vh_lost(v);
	uvemu_open(&v->em, v->o.dev);
	vh_create(v, nq);
	if (vh_mem_table(v))
		vh_lost(v);
	vh_statfs_mount(v);
	ret = uvemu_watch(&v->em, v->vu.fd, EPOLLIN | EPOLLRDHUP);
	if (ret)
		uvemu_die(1, "epoll: %s", strerror(-ret));
	uvemu_start(&v->em, false);
	uvemu_log("uvirtio-%u: %s device from %s, %u ring%s, features 0x%llx",
		  v->em.dev.index, v->o.type == VIRTIO_ID_NET ? "net" : "blk",
		  v->o.socket, v->rings, v->rings > 1 ? "s" : "",
		  (unsigned long long)v->features);
	uvemu_run(&v->em);
}

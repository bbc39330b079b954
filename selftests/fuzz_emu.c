// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuzz_emu - a seeded hostile emulator: nothing it does may hurt the kernel.
 *
 * Each seed (an explicit 64-bit number, expanded by splitmix64, so a seed
 * always makes the same choices) picks a device (virtio-blk, sometimes
 * virtio-net with two queues), a uid (root or 1000), a load (O_DIRECT
 * writer/reader, fio --verify, mkfs.ext4 + mount + write + sync, raw frames
 * for net) and a set of misbehaviours fired at chosen moments: bad used ids
 * (out of range, not a head, twice), lengths beyond the buffer, shadow
 * index jumps forward and back, epoch games, writes to the read-only rings
 * (in a forked child: SIGBUS expected), config-space storms and capacity
 * changes, call-fd storms, detached kick fds, stalls, never completing,
 * random ioctls, UVIRTIO_REMOVE mid-I/O, munmap, a forked fd holder,
 * feature bits from all 64 and config fields at or beyond their bounds
 * (one seed in four: refused with EINVAL, or served like any other),
 * closing or dying at random moments (right after CREATE, right after
 * START, mid-probe, mid-I/O).
 *
 * About one seed in four is "clean": only misbehaviours that must not
 * change what the driver sees (call storms, stalls, restored epochs,
 * detached kick fds, read-only writes, junk ioctls that do not name a real
 * command) and an emulator that outlives its load: then the load's data is
 * verified too (fio crc32c, checksums of a file on ext4, read-back).
 *
 * After each seed: the emulator and every load process returned within a
 * bound (an error is fine, a hang is not), no uvirtio device is left, the
 * kernel log since the seed began shows no WARNING/BUG/Oops/lockdep/
 * KASAN/hung-task report (read from /dev/kmsg, so a report is pinned to its
 * seed), and the module unloads and loads again. After all seeds slab and
 * MemAvailable are back near their baseline (after drop_caches).
 *
 * Usage: fuzz_emu [-s FIRST] [-n COUNT] [-a] [-q] [-z] [-p] [-x NAME]...
 *   -s FIRST   first seed (decimal or 0x hex; default 1)
 *   -n COUNT   number of seeds (default 25)
 *   -a         all seeds even on a KASAN kernel (default there: one in 4)
 *   -q         one progress line per 10 seeds instead of a TAP line each
 *   -x NAME    exclude a misbehaviour (see fault_names, and net-announce);
 *              for a kernel bug not fixed yet (fuzz_bugs.md). Nothing is
 *              excluded by default.
 *   -z         self-check: clean seeds serve corrupted reads and must fail
 *   -p         print each seed's plan and exit (no device is touched)
 * Needs root (kmsg, drop_caches, mount, rmmod, setuid).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "backend.h"
#include "dev.h"
#include "req.h"
#include "testemu.h"
#include "require.h"
#include "unit/tap.h"

#define UNPRIV_UID	1000
/* The highest command number of ours: "junk" ioctls stay above it. */
#if defined(UVIRTIO_REQUEUE)
#define UV_LAST_NR	_IOC_NR(UVIRTIO_REQUEUE)
#elif defined(UVIRTIO_DOMAIN_FD)
#define UV_LAST_NR	_IOC_NR(UVIRTIO_DOMAIN_FD)
#elif defined(UVIRTIO_GET_INFLIGHT)
#define UV_LAST_NR	_IOC_NR(UVIRTIO_GET_INFLIGHT)
#elif defined(UVIRTIO_ATTACH)
#define UV_LAST_NR	_IOC_NR(UVIRTIO_ATTACH)
#else
#define UV_LAST_NR	_IOC_NR(UVIRTIO_REMOVE)
#endif
#define MAX_HELD	(4 * UVIRTIO_MAX_QUEUE_SIZE)
#define DEVICES		"/sys/class/misc/uvirtio/devices"
#define DOMAIN_PAGES	"/sys/class/misc/uvirtio/domain_pages"
#define SLAB_SLACK_KB	(4 * 1024)
/*
 * MemAvailable after drop_caches wanders by +-35 MB between shards of the
 * same boot on 6.12 with slab flat (measured); leaks of domain pages are
 * caught exactly by the module's domain_pages counter, slab by SLAB_SLACK.
 */
#define AVAIL_SLACK_KB	(64 * 1024)

/* Misbehaviours; the names are what -x takes. */
enum fault {
	F_ID_RANGE,	/* used id >= ring size */
	F_ID_NOTHEAD,	/* used id that we hold no chain for */
	F_ID_TWICE,	/* a served id completed twice */
	F_LEN_LONG,	/* used len beyond the writable part */
	F_IDX_FWD,	/* shadow idx jumps forward by more than num */
	F_IDX_BACK,	/* shadow idx moves back */
	F_IDX_STALE,	/* shadow idx moves forward over stale entries */
	F_EPOCH,	/* wrong shadow epoch for a while, then restored */
	F_RO_WRITE,	/* a forked child writes the read-only rings */
	F_CONFIG,	/* UVIRTIO_SET_CONFIG storm with random bytes */
	F_CAPACITY,	/* capacity (or net status/mac) changes */
	F_CALL_STORM,	/* call eventfd and QUEUE_IRQ storms */
	F_KICK_DETACH,	/* kick fds detached for a while, then back */
	F_STALL,	/* completions held back for a while */
	F_NEVER,	/* completions held back for good */
	F_IOCTL,	/* random ioctls with random structs */
	F_IOCTL_JUNK,	/* ioctls that name no real command */
	F_REMOVE,	/* UVIRTIO_REMOVE mid-I/O */
	F_MUNMAP,	/* the domain unmapped while requests are in flight */
	F_FORK_HOLD,	/* a forked child keeps the fd open a while */
	F_CLOSE,	/* the fd closed mid-I/O */
	F_KILL,		/* the emulator dies by SIGKILL mid-I/O */
	F_RX_JUNK,	/* net: random packets, random headers */
	NR_FAULTS
};

static const char *const fault_names[NR_FAULTS] = {
	"id-range", "id-nothead", "id-twice", "len-long", "idx-fwd", "idx-back",
	"idx-stale", "epoch", "ro-write", "config", "capacity", "call-storm",
	"kick-detach", "stall", "never", "ioctl", "ioctl-junk", "remove",
	"munmap", "fork-hold", "close", "kill", "rx-junk",
};

/* Faults that must not change what the driver sees: allowed in clean seeds. */
#define BENIGN	((1u << F_EPOCH) | (1u << F_RO_WRITE) | (1u << F_CALL_STORM) | \
		 (1u << F_KICK_DETACH) | (1u << F_STALL) | (1u << F_IOCTL_JUNK))

enum load { L_NONE, L_RAW, L_FIO, L_FS, L_NET };
static const char *const load_names[] = { "none", "raw", "fio", "ext4", "frames" };

/*
 * When the driver binds: at once, only LATE_MS after the device appeared
 * (the bus's autoprobe is off until then, as when the driver module is
 * loaded later), or at once and then unbound and bound again mid-life.
 */
enum bind { B_NOW, B_LATE, B_REBIND };

enum early { E_NONE, E_AFTER_CREATE, E_AFTER_START, E_MID_PROBE };
static const char *const early_names[] = { "", "close after CREATE",
	"close after START", "close mid-probe" };

/**
 * struct plan - everything a seed decides, before anything runs
 * @seed:	the seed
 * @net:	virtio-net (else virtio-blk)
 * @user:	the emulator runs as uid 1000
 * @nq:		queues
 * @qsize:	queue size
 * @disk:	disk bytes (blk)
 * @features:	device features offered
 * @early:	close before the device is live
 * @early_ms:	for E_MID_PROBE: ms after START
 * @faults:	bitmask of enum fault
 * @at:		ms after the disk appears at which each fault fires
 * @live_ms:	hostile seeds: ms the emulator serves after the disk appears
 * @clean:	the emulator outlives the load and data is verified
 * @graceful:	end with UVIRTIO_REMOVE instead of close
 * @load:	what the parent runs on the device
 * @wild:	offer random extra feature bits (any of 64) and config fields
 *		at or beyond their bounds; CREATE may refuse them (EINVAL),
 *		and then nothing else happens
 * @wild_seed:	where the wild config values come from
 * @bind:	when the driver binds
 * @bind_ms:	ms after START (B_LATE) or after the device appeared
 *		(B_REBIND) at which that happens
 * @used_len:	created with UVIRTIO_CREATE_F_USED_LEN (one in two)
 */
struct plan {
	uint64_t seed;
	bool net;
	bool user;
	unsigned int nq;
	unsigned int qsize;
	uint64_t disk;
	uint64_t features;
	enum early early;
	unsigned int early_ms;
	uint32_t faults;
	unsigned int at[NR_FAULTS];
	unsigned int live_ms;
	bool clean;
	bool graceful;
	enum load load;
	bool wild;
	uint64_t wild_seed;
	enum bind bind;
	unsigned int bind_ms;
	bool used_len;
};

static uint32_t excluded;
/*
 * -x net-announce: never write VIRTIO_NET_S_ANNOUNCE into a net device's
 * config status (fuzz_bugs.md 1: virtio_net BUG()s on it without a control
 * queue). Off by default, so the tests exercise it.
 */
static bool no_net_announce;
/*
 * -z: proof that the data checks can fail: a clean seed's emulator flips a
 * byte of every 8th read it serves (the seed must then fail).
 */
static bool corrupt_reads;
/*
 * -x blk-huge-capacity: never write a virtio-blk capacity of 2^54 sectors
 * or more (fuzz_bugs.md 2: capacity << 9 overflows the bdev's i_size and a
 * buffered write WARNs in pagecache_isize_extended()). Off by default.
 */
static bool no_huge_capacity;
static int slow = 1;
/* How the seeds' devices ended (UVIRTIO_DEAD_*, as the emulator saw it). */
static unsigned int dead_count[8];

/**
 * rng_next() - splitmix64: the next number of a seed's sequence
 * @s:		state, advanced
 *
 * Return: 64 pseudo-random bits
 */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/**
 * rng_below() - a number in [0, n)
 * @s:		state
 * @n:		bound, > 0
 *
 * Return: the number
 */
static unsigned int rng_below(uint64_t *s, unsigned int n)
{
	return (unsigned int)(rng_next(s) % n);
}

/**
 * plan_make_base() - expand a seed into a plan, all but the binding order
 * @p:		filled
 * @seed:	the seed
 */
static void plan_make_base(struct plan *p, uint64_t seed)
{
	uint64_t s = seed;
	unsigned int i, n;

	memset(p, 0, sizeof(*p));
	p->seed = seed;
	p->net = rng_below(&s, 6) == 0;
	p->user = rng_below(&s, 2);
	p->qsize = 1u << (4 + rng_below(&s, 5));	/* 16..256 */
	/*
	 * virtio_net stops a tx queue while fewer than MAX_SKB_FRAGS + 2
	 * descriptors are free: a 16 or 32 ring would stall for good (fuzz_bugs.md).
	 */
	if (p->net && p->qsize < 64)
		p->qsize = 64;
	p->features = 0;
	if (rng_below(&s, 2))
		p->features |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	if (rng_below(&s, 2))
		p->features |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	if (p->net) {
		/* No CTRL_VQ (the driver would busy-wait), so no MQ either. */
		p->nq = 2;
		p->features |= 1ULL << VIRTIO_NET_F_MAC;
		if (rng_below(&s, 2))
			p->features |= 1ULL << VIRTIO_NET_F_STATUS;
		if (rng_below(&s, 2))
			p->features |= 1ULL << VIRTIO_NET_F_MRG_RXBUF;
		if (rng_below(&s, 2))
			p->features |= (1ULL << VIRTIO_NET_F_CSUM) |
				       (1ULL << VIRTIO_NET_F_GUEST_CSUM);
		if (rng_below(&s, 2))
			p->features |= 1ULL << VIRTIO_NET_F_MTU;
	} else {
		p->nq = 1 + rng_below(&s, 3);
		p->disk = (8ULL + 8 * rng_below(&s, 4)) << 20;
		p->features |= (1ULL << VIRTIO_BLK_F_SEG_MAX) |
			       (1ULL << VIRTIO_BLK_F_BLK_SIZE);
		if (rng_below(&s, 2))
			p->features |= 1ULL << VIRTIO_BLK_F_FLUSH;
		if (p->nq > 1)
			p->features |= 1ULL << VIRTIO_BLK_F_MQ;
	}

	/* One seed in four: feature bits and config values from anywhere. */
	if (rng_below(&s, 4) == 0) {
		p->wild = true;
		p->wild_seed = rng_next(&s);
		for (i = 1 + rng_below(&s, 4); i; i--)
			p->features |= 1ULL << rng_below(&s, 64);
	}

	n = rng_below(&s, 16);
	if (n < 2) {
		p->early = n == 0 ? E_AFTER_CREATE : E_AFTER_START;
		return;
	}
	if (n < 4) {
		p->early = E_MID_PROBE;
		p->early_ms = rng_below(&s, 300);
		return;
	}
	/* A wild device may be a valid but odd one: its data is not checked. */
	p->clean = n < 8 && !p->wild;
	p->graceful = rng_below(&s, 3) == 0;
	p->live_ms = 100 + rng_below(&s, 900);
	/* One to three misbehaviours (clean: zero to two benign ones). */
	for (i = rng_below(&s, 3) + !p->clean; i; i--) {
		enum fault f = rng_below(&s, NR_FAULTS);

		if (p->clean && !(BENIGN & (1u << f)))
			continue;
		if (f == F_RX_JUNK && !p->net)
			f = F_ID_RANGE;
		p->faults |= 1u << f;
		p->at[f] = rng_below(&s, p->live_ms);
	}
	p->faults &= ~excluded;
	if (p->net)
		p->load = L_NET;
	else
		p->load = (enum load)(1 + rng_below(&s, 3)); /* raw, fio, ext4 */
	if (!p->clean && rng_below(&s, 4) == 0)
		p->load = L_NONE;
}

/**
 * plan_make() - expand a seed into a plan
 * @p:		filled
 * @seed:	the seed
 */
static void plan_make(struct plan *p, uint64_t seed)
{
	uint64_t s = seed ^ 0x6b1d1a7eb1d5ULL;
	unsigned int n;

	plan_make_base(p, seed);
	/*
	 * The binding order comes from a stream of its own: adding it left
	 * every other choice of every seed as it was.
	 */
	n = rng_below(&s, 8);
	p->bind_ms = rng_below(&s, 1000);
	if (n == 0)
		p->bind = B_LATE;
	/* Unbinding under a mounted filesystem would be a test of its own. */
	else if (n == 1 && !p->clean && !p->early && p->load != L_FS)
		p->bind = B_REBIND;
	/* A stream of its own too, for the same reason. */
	s = seed ^ 0x05ed1e4ULL;
	p->used_len = rng_below(&s, 2);
}

/**
 * plan_str() - one line describing a plan
 * @p:		plan
 * @buf:	output
 * @len:	bytes at @buf
 *
 * Return: @buf
 */
static const char *plan_str(const struct plan *p, char *buf, size_t len)
{
	size_t o;
	int i;

	o = snprintf(buf, len, "%s %uq/%u %s", p->net ? "net" : "blk", p->nq,
		     p->qsize, p->user ? "uid 1000" : "root");
	if (p->used_len)
		o += snprintf(buf + o, len - o, ", used length");
	if (p->wild)
		o += snprintf(buf + o, len - o, ", wild features %#llx",
			      (unsigned long long)p->features);
	if (p->early) {
		o += snprintf(buf + o, len - o, ", %s", early_names[p->early]);
		goto bind;
	}
	o += snprintf(buf + o, len - o, ", %s, load %s%s", p->clean ? "clean" : "hostile",
		      load_names[p->load], p->graceful ? ", REMOVE at end" : "");
	for (i = 0; i < NR_FAULTS && o < len; i++)
		if (p->faults & (1u << i))
			o += snprintf(buf + o, len - o, ", %s@%u", fault_names[i], p->at[i]);
bind:
	if (o < len && p->bind == B_LATE)
		snprintf(buf + o, len - o, ", driver binds late@%u", p->bind_ms);
	else if (o < len && p->bind == B_REBIND)
		snprintf(buf + o, len - o, ", driver unbound+bound@%u", p->bind_ms);
	return buf;
}

/* ------------------------------------------------------------------ */
/* The emulator (a child process)                                     */

/**
 * struct held - a served completion not pushed yet (stall, never)
 * @q:		queue
 * @e:		the element (head, owned, in_len are what push needs)
 * @len:	used length
 */
struct held {
	unsigned int q;
	struct uvq_elem e;
	uint32_t len;
};

/**
 * struct emu - the emulator's state
 * @p:		the plan
 * @rng:	a second sequence for runtime choices
 * @d:		the device
 * @be:		RAM disk
 * @bd:		virtio-blk request state
 * @cfg:	config space as created (blk or net)
 * @cfg_size:	its bytes
 * @report:	pipe to the parent: one line "name\n", then result lines
 * @ctl:	pipe from the parent: a byte means the load is done
 * @fired:	faults already fired
 * @hold:	completions are being held (stall, never)
 * @stall_end:	ms when a stall ends
 * @unmapped:	the domain is gone: serve nothing
 * @twice, @long_len: the next completion misbehaves so
 * @epoch_end:	ms when the shadow epochs are restored, 0 if not in play
 * @storm_end:	ms when a config/call storm ends
 * @kick_end:	ms when kick fds are attached again
 * @removing:	UVIRTIO_REMOVE was issued
 * @held:	held completions
 * @nheld:	their number
 */
struct emu {
	const struct plan *p;
	uint64_t rng;
	struct uvdev d;
	struct backend be;
	struct blk_dev bd;
	union {
		struct virtio_blk_config blk;
		struct virtio_net_config net;
	} cfg;
	uint32_t cfg_size;
	int report;
	int ctl;
	uint32_t fired;
	bool hold;
	long stall_end;
	bool unmapped;
	bool twice;
	bool long_len;
	long epoch_end;
	long config_end;
	long call_end;
	long kick_end;
	bool removing;
	struct held held[MAX_HELD];
	unsigned int nheld;
	unsigned long tx;
	unsigned long reads;
	struct iovec iov[UVIRTIO_MAX_QUEUE_SIZE];
	struct iovec scratch[UVIRTIO_MAX_QUEUE_SIZE];
};

static struct emu emu;

/**
 * emu_say() - send one line to the parent
 * @e:		emulator
 * @fmt:	printf format
 */
static void __attribute__((format(printf, 2, 3))) emu_say(struct emu *e, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0 && write(e->report, buf, strlen(buf)) < 0)
		_exit(90);
}

/**
 * emu_shadow_raw() - publish raw shadow entries after what we published
 * @vq:		queue
 * @ents:	entries, may be NULL when @n is 0
 * @n:		entries
 * @delta:	extra amount added to the shadow index (may wrap: "back")
 */
static void emu_shadow_raw(struct uvq *vq, const struct uvirtio_used_elem *ents,
			   unsigned int n, uint16_t delta)
{
	uint16_t idx = vq->shadow_idx;
	uint64_t one = 1;
	unsigned int i;

	for (i = 0; i < n; i++)
		vq->shadow->ring[(uint16_t)(idx + i) & (vq->num - 1)] = ents[i];
	idx += n + delta;
	__atomic_store_n(&vq->shadow->idx, idx, __ATOMIC_RELEASE);
	vq->shadow_idx = vq->published = vq->signalled = idx;
	if (vq->call_fd >= 0 && write(vq->call_fd, &one, sizeof(one)) < 0)
		perror("fuzz_emu: call eventfd");
}

/**
 * emu_ready_queue() - a random queue that is set up, if any
 * @e:		emulator
 *
 * Return: the queue, or NULL
 */
static struct uvq *emu_ready_queue(struct emu *e)
{
	unsigned int i, start = rng_below(&e->rng, e->p->nq);

	if (e->unmapped)
		return NULL;
	for (i = 0; i < e->p->nq; i++) {
		struct uvq *vq = &e->d.q[(start + i) % e->p->nq].vq;

		if (vq->ready)
			return vq;
	}
	return NULL;
}

/**
 * emu_release_held() - push every held completion
 * @e:		emulator
 */
static void emu_release_held(struct emu *e)
{
	unsigned int i;

	if (e->unmapped) {
		e->nheld = 0;
		return;
	}
	for (i = 0; i < e->nheld; i++) {
		struct uvq *vq = &e->d.q[e->held[i].q].vq;

		if (uvq_push(vq, &e->held[i].e, e->held[i].len))
			uvq_discard(vq, &e->held[i].e);
	}
	e->nheld = 0;
	for (i = 0; i < e->p->nq; i++)
		uvq_flush(&e->d.q[i].vq);
}

/**
 * emu_complete() - complete one served element, or hold it, or misbehave
 * @e:		emulator
 * @qi:		queue index
 * @el:		element
 * @len:	used length
 */
static void emu_complete(struct emu *e, unsigned int qi, struct uvq_elem *el,
			 uint32_t len)
{
	struct uvq *vq = &e->d.q[qi].vq;

	if (e->hold && e->nheld < MAX_HELD) {
		e->held[e->nheld].q = qi;
		e->held[e->nheld].e = *el;
		e->held[e->nheld].len = len;
		e->nheld++;
		return;
	}
	if (e->long_len) {
		struct uvirtio_used_elem bad = { el->head, el->in_len + 1 +
						 rng_below(&e->rng, 4096) };

		e->long_len = false;
		uvq_flush(vq);
		emu_shadow_raw(vq, &bad, 1, 0);
		return;
	}
	if (uvq_push(vq, el, len)) {
		uvq_discard(vq, el);
		return;
	}
	if (e->twice) {
		struct uvirtio_used_elem again = { el->head, len };

		e->twice = false;
		uvq_flush(vq);
		emu_shadow_raw(vq, &again, 1, 0);
	}
}

/**
 * emu_net_rx() - complete an rx buffer with a random packet
 * @e:		emulator
 * @el:		an rx element (device-writable)
 *
 * Return: the used length to complete it with
 */
static uint32_t emu_net_rx(struct emu *e, struct uvq_elem *el)
{
	struct iovec *in = uvq_elem_in(el);
	uint32_t want, done = 0;
	unsigned int i;

	if (!el->in_len)
		return 0;
	want = 1 + rng_below(&e->rng, el->in_len);
	for (i = 0; i < el->in_num && done < want; i++) {
		uint8_t *b = in[i].iov_base;
		size_t k;

		for (k = 0; k < in[i].iov_len && done < want; k++, done++)
			b[k] = (uint8_t)rng_next(&e->rng);
	}
	/* Half the time a plausible header: no flags, one buffer. */
	if (rng_below(&e->rng, 2) && in[0].iov_len >= 12) {
		memset(in[0].iov_base, 0, 12);
		((uint8_t *)in[0].iov_base)[10] = 1;
	}
	return want;
}

/**
 * emu_serve() - serve every ready queue once
 * @e:		emulator
 */
static void emu_serve(struct emu *e)
{
	unsigned int qi;

	if (e->unmapped)
		return;
	for (qi = 0; qi < e->p->nq; qi++) {
		struct uvq *vq = &e->d.q[qi].vq;
		struct uvq_elem el;
		uint32_t len;
		int n = 0;

		uvdev_kick_clear(&e->d, qi);
		if (!vq->ready)
			continue;
		/* net rx: keep buffers unless junk is being injected */
		if (e->p->net && qi == 0 && !(e->fired & (1u << F_RX_JUNK)))
			continue;
		uvq_elem_init(&el, e->iov, UVIRTIO_MAX_QUEUE_SIZE);
		while (n++ < 512 && uvq_pop(vq, &el) > 0) {
			if (el.err) {
				uvq_discard(vq, &el);
				continue;
			}
			if (e->p->net) {
				len = qi == 0 ? emu_net_rx(e, &el) : 0;
				e->tx += qi == 1;
			}
			else if (blk_req_serve(&e->bd, e->iov, el.out_num,
					       uvq_elem_in(&el), el.in_num,
					       e->scratch, UVIRTIO_MAX_QUEUE_SIZE,
					       &len) < 0) {
				uvq_discard(vq, &el);
				continue;
			}
			if (corrupt_reads && e->p->clean && !e->p->net &&
			    el.in_len > 512 && !(++e->reads % 8))
				*(uint8_t *)uvq_elem_in(&el)->iov_base ^= 0x5a;
			emu_complete(e, qi, &el, len);
		}
		uvq_flush(vq);
	}
}

/**
 * emu_events() - read and handle the device's events
 * @e:		emulator
 *
 * Return: true once the device is removed
 */
static bool emu_events(struct emu *e)
{
	struct uvirtio_event ev;
	int ret;

	if (e->d.fd < 0)
		return true;
	while ((ret = uvdev_read_event(&e->d, &ev)) > 0) {
		if (!e->unmapped)
			uvdev_handle_event(&e->d, &ev);
		else if (ev.type == UVIRTIO_EV_REMOVED)
			e->d.removed = true;
		if (ev.type == UVIRTIO_EV_REMOVED)
			e->d.dead_reason = ev.u32[0];
	}
	return ret < 0 || e->d.removed;
}

/**
 * emu_wait() - poll the device, kick fds and control pipe for a moment
 * @e:		emulator
 * @ms:		limit
 *
 * Return: true if the parent wrote to the control pipe
 */
static bool emu_wait(struct emu *e, int ms)
{
	struct pollfd pf[2 + UVIRTIO_MAX_QUEUES];
	unsigned int i, n = 0;
	char c;

	pf[n++] = (struct pollfd){ .fd = e->ctl, .events = POLLIN };
	pf[n++] = (struct pollfd){ .fd = e->d.fd, .events = POLLIN };
	for (i = 0; i < e->p->nq; i++)
		pf[n++] = (struct pollfd){ .fd = e->d.q[i].kick_fd, .events = POLLIN };
	poll(pf, n, ms);
	return (pf[0].revents & (POLLIN | POLLHUP)) && read(e->ctl, &c, 1) >= 0;
}

/**
 * emu_random_ioctl() - one ioctl with a random number and random struct
 * @e:		emulator
 * @junk_only:	only numbers that name no real command of ours
 */
static void emu_random_ioctl(struct emu *e, bool junk_only)
{
	static const unsigned int magics[] = { 0xBE, 0xBE, 0xBE, 0xBD, 0xBF, 'T', 0 };
	uint8_t buf[512] __attribute__((aligned(8)));
	uint8_t cfg[64];
	unsigned int dir, nr, size, magic, i;
	unsigned long cmd;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rng_next(&e->rng);
	for (i = 0; i < sizeof(cfg); i++)
		cfg[i] = (uint8_t)rng_next(&e->rng);
	magic = magics[rng_below(&e->rng, sizeof(magics) / sizeof(magics[0]))];
	nr = rng_below(&e->rng, 0x21);
	dir = rng_below(&e->rng, 4);
	size = rng_below(&e->rng, 4) ? rng_below(&e->rng, 130) :
				       rng_below(&e->rng, sizeof(buf));
	if (rng_below(&e->rng, 2)) {
		/* Plausible: zero reserved fields, small values, a real buffer. */
		memset(buf, 0, sizeof(buf));
		((uint32_t *)buf)[0] = rng_below(&e->rng, 8);
		((uint32_t *)buf)[1] = rng_below(&e->rng, 80);
		*(uint64_t *)(buf + 8) = (uintptr_t)cfg;
	}
	cmd = _IOC(dir, magic, nr, size);
	if (junk_only && magic == 0xBE && nr <= UV_LAST_NR)
		cmd = _IOC(dir, magic, UV_LAST_NR + 1 + rng_below(&e->rng, 0x20 - UV_LAST_NR), size);
	/* Never a real CREATE/START on this fd: they are refused anyway. */
	if (ioctl(e->d.fd, cmd, buf) == 0 && cmd == UVIRTIO_REMOVE)
		e->removing = true;
}

/**
 * emu_ro_write() - a forked child writes a read-only ring page
 * @e:		emulator
 *
 * Return: 0 if the child died of SIGBUS or SIGSEGV, 1 if the write went
 * through, -1 if there was nothing to try
 */
static int emu_ro_write(struct emu *e)
{
	struct uvirtio_queue_info qi;
	volatile uint8_t *page;
	int st, which;
	pid_t pid;

	memset(&qi, 0, sizeof(qi));
	qi.index = rng_below(&e->rng, e->p->nq);
	if (ioctl(e->d.fd, UVIRTIO_GET_QUEUE, &qi) || qi.state != UVIRTIO_QUEUE_READY)
		return -1;
	which = rng_below(&e->rng, 3);
	page = (uint8_t *)e->d.map + (which == 0 ? qi.desc_offset :
				      which == 1 ? qi.avail_offset : qi.used_offset);
	pid = fork();
	if (pid == 0) {
		signal(SIGBUS, SIG_DFL);
		/* Making it writable must be refused too; then the write faults. */
		mprotect((void *)((uintptr_t)page & ~4095UL), 4096, PROT_READ | PROT_WRITE);
		page[rng_below(&e->rng, 64)] ^= 0xff;
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFSIGNALED(st) && (WTERMSIG(st) == SIGBUS || WTERMSIG(st) == SIGSEGV) ? 0 : 1;
}

/**
 * emu_set_config() - UVIRTIO_SET_CONFIG of random or chosen bytes
 * @e:		emulator
 * @capacity:	change the capacity (blk) or status/mac (net) only
 */
static void emu_set_config(struct emu *e, bool capacity)
{
	struct uvirtio_config_update u;
	uint8_t data[sizeof(e->cfg)];
	unsigned int i;

	memset(&u, 0, sizeof(u));
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rng_next(&e->rng);
	if (capacity && !e->p->net) {
		uint64_t cap = rng_below(&e->rng, 3) ? e->p->disk / 512 * (1 + rng_below(&e->rng, 3)) / 2 :
						       rng_next(&e->rng) >> rng_below(&e->rng, 64);

		if (no_huge_capacity && cap >= 1ULL << 54)
			cap >>= 12;
		memcpy(data, &cap, sizeof(cap));
		u.offset = 0;
		u.len = 8;
	} else if (capacity) {
		u.offset = rng_below(&e->rng, 8);	/* mac and status */
		u.len = 1 + rng_below(&e->rng, 8 - u.offset);
	} else {
		u.offset = rng_below(&e->rng, e->cfg_size);
		u.len = 1 + rng_below(&e->rng, e->cfg_size - u.offset);
	}
	if (!e->p->net && no_huge_capacity && u.offset < 8) {
		uint64_t cap;

		/* The capacity as it would be: current bytes merged with new. */
		memcpy(&cap, &e->cfg.blk.capacity, 8);
		memcpy((uint8_t *)&cap + u.offset, data, u.len < 8 - u.offset ? u.len : 8 - u.offset);
		if (cap >= 1ULL << 54)
			return;
	}
	if (e->p->net && no_net_announce) {
		size_t st = offsetof(struct virtio_net_config, status);

		if (u.offset <= st && u.offset + u.len > st)
			data[st - u.offset] &= ~VIRTIO_NET_S_ANNOUNCE;
	}
	u.data_addr = (uintptr_t)data;
	if (!ioctl(e->d.fd, UVIRTIO_SET_CONFIG, &u))
		memcpy((uint8_t *)&e->cfg + u.offset, data, u.len);
}

/**
 * emu_call_storm() - signal every call fd and QUEUE_IRQ many times
 * @e:		emulator
 */
static void emu_call_storm(struct emu *e)
{
	struct uvirtio_queue_irq irq;
	uint64_t one = 1;
	unsigned int i, k;

	for (k = 0; k < 200; k++)
		for (i = 0; i < e->p->nq; i++) {
			if (write(e->d.q[i].call_fd, &one, sizeof(one)) < 0)
				break;
			memset(&irq, 0, sizeof(irq));
			irq.index = i;
			ioctl(e->d.fd, UVIRTIO_QUEUE_IRQ, &irq);
		}
}

/**
 * emu_kick_fds() - detach or re-attach every kick eventfd
 * @e:		emulator
 * @attach:	attach (else detach)
 */
static void emu_kick_fds(struct emu *e, bool attach)
{
	struct uvirtio_vq_eventfd v;
	unsigned int i;

	for (i = 0; i < e->p->nq; i++) {
		memset(&v, 0, sizeof(v));
		v.index = i;
		v.fd = attach ? e->d.q[i].kick_fd : -1;
		ioctl(e->d.fd, UVIRTIO_SET_KICK_FD, &v);
	}
}

/**
 * emu_close() - close the device fd and the mapping
 * @e:		emulator
 */
static void emu_close(struct emu *e)
{
	if (e->unmapped)
		e->d.map = MAP_FAILED;
	uvdev_close(&e->d);
}

/**
 * emu_fire() - make fault @f happen now
 * @e:		emulator
 * @f:		the fault
 * @now:	ms
 *
 * Return: true if the emulator's life ends here
 */
static bool emu_fire(struct emu *e, enum fault f, long now)
{
	struct uvq *vq = emu_ready_queue(e);
	struct uvirtio_used_elem bad;
	unsigned int i;
	pid_t pid;
	int r;

	e->fired |= 1u << f;
	switch (f) {
	case F_ID_RANGE:
		if (!vq)
			break;
		bad.id = vq->num + rng_below(&e->rng, 70000);
		bad.len = rng_below(&e->rng, 2) ? 0 : (uint32_t)rng_next(&e->rng);
		uvq_flush(vq);
		emu_shadow_raw(vq, &bad, 1, 0);
		break;
	case F_ID_NOTHEAD:
		if (!vq)
			break;
		for (i = 0; i < 16; i++) {
			bad.id = rng_below(&e->rng, vq->num);
			if (!(vq->inflight[bad.id / 64] & (1ULL << (bad.id % 64))))
				break;
		}
		bad.len = 0;
		uvq_flush(vq);
		emu_shadow_raw(vq, &bad, 1, 0);
		break;
	case F_ID_TWICE:
		e->twice = true;
		break;
	case F_LEN_LONG:
		e->long_len = true;
		break;
	case F_IDX_FWD:
		if (vq) {
			uvq_flush(vq);
			emu_shadow_raw(vq, NULL, 0, vq->num + 1 + rng_below(&e->rng, 30000));
		}
		break;
	case F_IDX_BACK:
		if (vq) {
			uvq_flush(vq);
			emu_shadow_raw(vq, NULL, 0, (uint16_t)-(1 + rng_below(&e->rng, 2 * vq->num)));
		}
		break;
	case F_IDX_STALE:
		if (vq) {
			uvq_flush(vq);
			emu_shadow_raw(vq, NULL, 0, 1 + rng_below(&e->rng, vq->num));
		}
		break;
	case F_EPOCH:
		if (e->unmapped)
			break;
		for (i = 0; i < e->p->nq; i++)
			if (e->d.q[i].vq.ready)
				__atomic_store_n(&e->d.q[i].vq.shadow->epoch,
						 e->d.q[i].vq.epoch + 1 + rng_below(&e->rng, 1000),
						 __ATOMIC_RELEASE);
		e->epoch_end = now + 50 + rng_below(&e->rng, 500);
		break;
	case F_RO_WRITE:
		r = e->unmapped ? -1 : emu_ro_write(e);
		if (r > 0)
			emu_say(e, "ro-write went through\n");
		else if (r == 0)
			emu_say(e, "ro-write SIGBUS\n");
		break;
	case F_CONFIG:
		e->config_end = now + 50 + rng_below(&e->rng, 400);
		break;
	case F_CAPACITY:
		for (i = 1 + rng_below(&e->rng, 4); i; i--)
			emu_set_config(e, true);
		break;
	case F_CALL_STORM:
		emu_call_storm(e);
		e->call_end = now + 50 + rng_below(&e->rng, 300);
		break;
	case F_KICK_DETACH:
		emu_kick_fds(e, false);
		e->kick_end = now + 20 + rng_below(&e->rng, 400);
		break;
	case F_STALL:
		e->hold = true;
		e->stall_end = now + 50 + rng_below(&e->rng, 1000);
		break;
	case F_NEVER:
		e->hold = true;
		e->stall_end = 0;
		break;
	case F_IOCTL:
	case F_IOCTL_JUNK:
		for (i = 1 + rng_below(&e->rng, 64); i; i--)
			emu_random_ioctl(e, f == F_IOCTL_JUNK);
		break;
	case F_REMOVE:
		if (!ioctl(e->d.fd, UVIRTIO_REMOVE))
			e->removing = true;
		break;
	case F_MUNMAP:
		munmap(e->d.map, e->d.layout.domain_size);
		e->unmapped = true;
		break;
	case F_FORK_HOLD:
		pid = fork();
		if (pid == 0) {
			usleep(1000 * (50 + rng_below(&e->rng, 1500)));
			_exit(0);
		}
		break;
	case F_CLOSE:
		return true;
	case F_KILL:
		raise(SIGKILL);
		break;
	case F_RX_JUNK:
	case NR_FAULTS:
		break;
	}
	return false;
}

/**
 * wild_value() - a value for a config field, mostly at a boundary
 * @s:		rng state
 * @width:	field bytes (1, 2, 4 or 8)
 *
 * Return: 0, 1, the maximum, a power of two, one of those +-1, or random
 */
static uint64_t wild_value(uint64_t *s, unsigned int width)
{
	uint64_t max = width == 8 ? ~0ULL : (1ULL << (8 * width)) - 1;
	uint64_t v = 1ULL << rng_below(s, 8 * width);

	switch (rng_below(s, 7)) {
	case 0: return 0;
	case 1: return 1;
	case 2: return max;
	case 3: return v;
	case 4: return (v - 1) & max;
	case 5: return (v + 1) & max;
	default: return rng_next(s) & max;
	}
}

/**
 * wild_config() - overwrite a few config fields with boundary values
 * @s:		rng state
 * @cfg:	config bytes (little-endian fields)
 * @size:	bytes at @cfg
 */
static void wild_config(uint64_t *s, uint8_t *cfg, size_t size)
{
	static const unsigned int widths[] = { 1, 2, 4, 8 };
	unsigned int n, i;

	for (n = 1 + rng_below(s, 4); n; n--) {
		unsigned int w = widths[rng_below(s, 4)];
		size_t off;
		uint64_t v;

		if (w > size)
			w = 1;
		/* fields are naturally aligned */
		off = rng_below(s, size - w + 1) & ~(size_t)(w - 1);
		v = wild_value(s, w);
		for (i = 0; i < w; i++)
			cfg[off + i] = (uint8_t)(v >> (8 * i));
	}
}

/**
 * emu_create() - open as the plan's uid, create the device
 * @e:		emulator
 *
 * Return: 0 or -errno
 */
static int emu_create(struct emu *e)
{
	struct uvdev_config c = {
		.device_id = e->p->net ? VIRTIO_ID_NET : VIRTIO_ID_BLOCK,
		.num_queues = e->p->nq,
		.queue_size = e->p->qsize,
		.features = e->p->features,
		.config = &e->cfg,
		.bounce_size = 1 << 20,
		.used_len = e->p->used_len,
	};
	int ret;

	memset(&e->cfg, 0, sizeof(e->cfg));
	if (e->p->net) {
		uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, (uint8_t)e->p->seed };

		memcpy(e->cfg.net.mac, mac, 6);
		e->cfg.net.status = VIRTIO_NET_S_LINK_UP;
		e->cfg.net.max_virtqueue_pairs = 1;
		e->cfg.net.mtu = 1500;
		e->cfg_size = offsetof(struct virtio_net_config, mtu) + 2;
		if (e->p->wild)	/* speed and duplex too */
			e->cfg_size = offsetof(struct virtio_net_config, duplex) + 1;
	} else {
		e->cfg.blk.capacity = e->p->disk / 512;
		e->cfg.blk.seg_max = uvdev_blk_seg_max(c.bounce_size, e->p->qsize);
		e->cfg.blk.blk_size = 512;
		e->cfg.blk.num_queues = e->p->nq;
		e->cfg_size = sizeof(e->cfg.blk);
		ret = backend_open_ram(&e->be, e->p->disk);
		if (ret)
			return ret;
		e->bd.be = &e->be;
		e->bd.sectors = e->p->disk / 512;
	}
	c.config_size = e->cfg_size;
	if (e->p->wild) {
		uint64_t ws = e->p->wild_seed;

		wild_config(&ws, (uint8_t *)&e->cfg, e->cfg_size);
	}
	ret = uvdev_open(&e->d, UVDEV_PATH);
	if (!ret)
		ret = uvdev_create(&e->d, &c);
	return ret;
}

/**
 * emu_node() - the disk or interface name, once the driver made it
 * @e:		emulator
 * @name:	output
 * @len:	bytes at @name
 *
 * Return: 0 or -ENOENT
 */
static int emu_node(struct emu *e, char *name, size_t len)
{
	char path[96];

	if (e->p->net && e->p->user) {
		/* Our own namespace: its one interface besides lo is ours. */
		struct if_nameindex *ni = if_nameindex(), *i;
		int ret = -ENOENT;

		for (i = ni; i && i->if_index; i++)
			if (strcmp(i->if_name, "lo")) {
				snprintf(name, len, "%s", i->if_name);
				ret = 0;
				break;
			}
		if (ni)
			if_freenameindex(ni);
		return ret;
	}
	if (uvdev_child_name(&e->d, e->p->net ? "net" : "block", name, len))
		return -ENOENT;
	if (e->p->net)
		return 0;
	/* an unprivileged user's disk shows its size only once probe is over */
	snprintf(path, sizeof(path), "/sys/block/%s/size", name);
	if (temu_read_long(path) <= 0)
		return -ENOENT;
	snprintf(path, sizeof(path), "/dev/%s", name);
	return access(path, F_OK) ? -ENOENT : 0;
}

/**
 * emu_tick() - timed parts of the plan: fire due faults, end storms
 * @e:		emulator
 * @t0:		ms when the device went live
 * @now:	ms
 *
 * Return: true if the emulator's life ends now
 */
static bool emu_tick(struct emu *e, long t0, long now)
{
	unsigned int f, i;

	for (f = 0; f < NR_FAULTS; f++)
		if ((e->p->faults & (1u << f)) && !(e->fired & (1u << f)) &&
		    now - t0 >= e->p->at[f] && emu_fire(e, f, now))
			return true;
	if (e->epoch_end && now >= e->epoch_end) {
		for (i = 0; i < e->p->nq && !e->unmapped; i++)
			if (e->d.q[i].vq.ready)
				__atomic_store_n(&e->d.q[i].vq.shadow->epoch,
						 e->d.q[i].vq.epoch, __ATOMIC_RELEASE);
		e->epoch_end = 0;
		/* The kernel looks at the ring again on the next signal. */
		emu_call_storm(e);
	}
	if (e->config_end) {
		emu_set_config(e, false);
		if (now >= e->config_end)
			e->config_end = 0;
	}
	if (e->call_end) {
		emu_call_storm(e);
		if (now >= e->call_end)
			e->call_end = 0;
	}
	if (e->kick_end && now >= e->kick_end) {
		emu_kick_fds(e, true);
		e->kick_end = 0;
	}
	if (e->hold && e->stall_end && now >= e->stall_end) {
		e->hold = false;
		emu_release_held(e);
	}
	return false;
}

/**
 * emu_run() - the emulator child's whole life
 * @p:		plan
 * @report:	pipe to the parent
 * @ctl:	pipe from the parent
 *
 * Return: exit code (0; 2 create failed as root; 3 ro-write went through)
 */
static int emu_run(const struct plan *p, int report, int ctl)
{
	struct emu *e = &emu;
	long t0, end, now;
	char name[64];
	bool done = false;
	int ret;

	memset(e, 0, sizeof(*e));
	e->p = p;
	e->rng = p->seed ^ 0x5eed5eed5eed5eedULL;
	e->report = report;
	e->ctl = ctl;
	signal(SIGPIPE, SIG_IGN);
	if (p->user && (setgroups(0, NULL) || setresgid(UNPRIV_UID, UNPRIV_UID, UNPRIV_UID) ||
			setresuid(UNPRIV_UID, UNPRIV_UID, UNPRIV_UID))) {
		emu_say(e, "-\nsetuid: %s\n", strerror(errno));
		return 2;
	}
	/*
	 * An unprivileged net device needs CAP_NET_ADMIN over the creator's
	 * network namespace: be a rootless container, as such a user would.
	 */
	if (p->user && p->net && unshare(CLONE_NEWUSER | CLONE_NEWNET)) {
		emu_say(e, "-\nunshare: %s\n", strerror(errno));
		return 2;
	}
	ret = emu_create(e);
	if (ret == -EINVAL && p->wild) {
		/* refused cleanly is what a wild plan may get */
		emu_say(e, "-\n");
		emu_close(e);
		return 0;
	}
	if (ret) {
		emu_say(e, "-\ncreate: %s\n", strerror(-ret));
		emu_close(e);
		return 2;
	}
	if (p->early == E_AFTER_CREATE) {
		emu_say(e, "-\n");
		emu_close(e);
		return 0;
	}
	ret = uvdev_start(&e->d);
	if (ret || p->early == E_AFTER_START) {
		emu_say(e, "-\n%s%s\n", ret ? "start: " : "", ret ? strerror(-ret) : "");
		emu_close(e);
		return ret ? 2 : 0;
	}

	/* Serve until the disk (or interface) is there. */
	end = temu_now_ms() + (p->early == E_MID_PROBE ? (long)p->early_ms : 30000L * slow);
	name[0] = 0;
	while ((now = temu_now_ms()) < end) {
		if (emu_events(e))
			break;
		emu_serve(e);
		if (!emu_node(e, name, sizeof(name)))
			break;
		name[0] = 0;
		emu_wait(e, 5);
	}
	if (p->early == E_MID_PROBE || !name[0]) {
		emu_say(e, "-\n%s\n", p->early ? "" : "no disk appeared");
		emu_close(e);
		return p->early ? 0 : 4;
	}
	emu_say(e, "%s\n", name);

	/* Live: serve, misbehave on schedule, end by plan or when told. */
	t0 = temu_now_ms();
	end = t0 + (p->clean ? 120000L * slow : (long)p->live_ms);
	while (!done && (now = temu_now_ms()) < end) {
		if (emu_events(e))
			break;
		if (emu_tick(e, t0, now))
			break;
		emu_serve(e);
		if (emu_wait(e, 5)) {
			if (p->clean)
				break;
		}
	}
	e->hold = false;
	if (!e->unmapped && !e->d.removed)
		emu_release_held(e);
	if (p->graceful && !e->unmapped && !e->d.removed &&
	    (e->removing || !ioctl(e->d.fd, UVIRTIO_REMOVE))) {
		e->removing = true;
		/* The driver flushes through us, then the device goes. */
		for (end = temu_now_ms() + 20000L * slow; temu_now_ms() < end;) {
			if (emu_events(e))
				break;
			emu_serve(e);
			emu_wait(e, 5);
		}
	}
	if (e->d.removed)
		emu_say(e, "dead %u\n", e->d.dead_reason);
	if (p->net)
		emu_say(e, "tx %lu\n", e->tx);
	emu_close(e);
	if (!p->net)
		backend_close(&e->be);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The loads (children of the parent, root)                           */

/**
 * load_raw() - O_DIRECT writes with read-back, until done or an error
 * @dev:	disk node
 * @clean:	a mismatch is a failure (else only I/O counts)
 * @seed:	pattern seed
 *
 * Exits 0 done, 1 I/O error, 2 data mismatch, 3 cannot start.
 */
static void load_raw(const char *dev, bool clean, uint64_t seed)
{
	uint64_t s = seed, *buf, *rd;
	unsigned int i, k, blocks;
	int fd = -1;
	long end = temu_now_ms() + 5000L * slow;
	off_t off;

	while ((fd = open(dev, O_RDWR | O_DIRECT)) < 0 && errno == ENXIO &&
	       temu_now_ms() < end)
		usleep(20000);
	if (fd < 0 || posix_memalign((void **)&buf, 4096, 16384) ||
	    posix_memalign((void **)&rd, 4096, 16384))
		_exit(3);
	blocks = 8 << 20 >> 14;	/* the first 8 MiB, 16 KiB blocks */
	for (i = 0; i < 100; i++) {
		off = (off_t)rng_below(&s, blocks) << 14;
		for (k = 0; k < 2048; k++)
			buf[k] = rng_next(&s);
		if (pwrite(fd, buf, 16384, off) != 16384)
			_exit(1);
		if (pread(fd, rd, 16384, off) != 16384)
			_exit(1);
		if (memcmp(buf, rd, 16384) && clean)
			_exit(2);
	}
	_exit(0);
}

/**
 * load_fio() - fio with crc32c verify, small and time-bounded
 * @dev:	disk node
 */
static void load_fio(const char *dev)
{
	char fn[128];

	snprintf(fn, sizeof(fn), "--filename=%.100s", dev);
	execlp("fio", "fio", "--name=fuzz", fn, "--direct=1", "--rw=randwrite",
	       "--bs=4k", "--size=4M", "--allow_file_create=0", "--io_size=512k", "--ioengine=libaio",
	       "--iodepth=8", "--verify=crc32c", "--do_verify=1",
	       "--verify_fatal=1", "--runtime=20", "--output=/dev/null",
	       (char *)NULL);
	_exit(3);
}

/**
 * load_fs() - mkfs.ext4, mount, write a file, sync, remount, compare
 * @dev:	disk node
 * @mnt:	mount point
 */
static void load_fs(const char *dev, const char *mnt)
{
	static const char script[] =
		"set -e\n"
		"mkfs.ext4 -q -F \"$1\" 2>/dev/null\n"
		"mount -t ext4 \"$1\" \"$2\"\n"
		"dd if=/dev/urandom of=\"$2.src\" bs=64k count=4 2>/dev/null\n"
		"cp \"$2.src\" \"$2/f\"\n"
		"sync\n"
		"umount \"$2\"\n"
		"mount -t ext4 \"$1\" \"$2\"\n"
		"cmp \"$2.src\" \"$2/f\"\n"
		"umount \"$2\"\n";

	execlp("sh", "sh", "-c", script, "sh", dev, mnt, (char *)NULL);
	_exit(3);
}

/**
 * load_net() - bring the interface up and send raw frames for a while
 * @ifname:	interface
 * @seed:	frame content seed
 */
static void load_net(const char *ifname, uint64_t seed)
{
	struct sockaddr_ll sa;
	struct ifreq ifr;
	uint8_t frame[256];
	uint64_t s = seed;
	long end = temu_now_ms() + 3000;
	unsigned int i;
	int fd;

	fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	if (fd < 0)
		_exit(3);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%.15s", ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr))
		_exit(1);
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		_exit(1);
	memset(&sa, 0, sizeof(sa));
	sa.sll_family = AF_PACKET;
	sa.sll_ifindex = if_nametoindex(ifname);
	sa.sll_halen = 6;
	memset(sa.sll_addr, 0xff, 6);
	while (temu_now_ms() < end) {
		for (i = 0; i < sizeof(frame); i++)
			frame[i] = (uint8_t)rng_next(&s);
		memset(frame, 0xff, 6);
		if (sendto(fd, frame, 60 + rng_below(&s, 190), 0,
			   (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
		    errno != ENOBUFS && errno != EAGAIN)
			_exit(1);
		usleep(2000);
	}
	_exit(0);
}

/* ------------------------------------------------------------------ */
/* The parent: one seed, its verdict                                  */

/**
 * wait_bounded() - wait for @pid up to @ms; dump its stack and kill it after
 * @pid:	child
 * @ms:		limit
 * @what:	for the diagnostic
 * @status:	out: wait status
 *
 * Return: true if it ended in time
 */
static bool wait_bounded(pid_t pid, long ms, const char *what, int *status)
{
	long end = temu_now_ms() + ms;
	char path[64], line[256];
	FILE *f;

	while (temu_now_ms() < end) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return true;
		usleep(5000);
	}
	tap_diag("%s (pid %d) still runs after %ld ms; kernel stack:", what, pid, ms);
	snprintf(path, sizeof(path), "/proc/%d/stack", pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		tap_diag("  %s", strtok(line, "\n"));
	if (f)
		fclose(f);
	kill(pid, SIGKILL);
	/* A task in D state cannot die: give it 5 s, then leave it. */
	for (end = temu_now_ms() + 5000; temu_now_ms() < end; usleep(10000))
		if (waitpid(pid, status, WNOHANG) == pid)
			break;
	return false;
}

/**
 * read_line() - read one line from a pipe, with a time limit
 * @fd:		pipe
 * @buf:	output, NUL-terminated, without the newline
 * @len:	bytes at @buf
 * @ms:		limit
 *
 * Return: 0, -ETIMEDOUT, or -EPIPE at end of file
 */
static int read_line(int fd, char *buf, size_t len, long ms)
{
	long end = temu_now_ms() + ms;
	size_t n = 0;

	while (n + 1 < len) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		long left = end - temu_now_ms();
		ssize_t r;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pf, 1, left) <= 0)
			continue;
		r = read(fd, buf + n, 1);
		if (r <= 0) {
			buf[n] = 0;
			return -EPIPE;
		}
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = 0;
	return 0;
}

/**
 * kmsg_check() - kernel log records since the last call that are reports
 * @fd:		/dev/kmsg, non-blocking
 * @first:	out: the first such record
 * @len:	bytes at @first
 *
 * Return: number of report lines
 */
static int kmsg_check(int fd, char *first, size_t len)
{
	static const char *const pats[] = {
		"WARNING:", "BUG:", "kernel BUG at", "Oops", "general protection fault",
		"Kernel panic", "INFO: task", "blocked for more than", "soft lockup",
		"hard LOCKUP", "rcu: INFO", "detected stalls", "UBSAN", "KASAN",
		"refcount_t:", "list_add corruption", "list_del corruption",
		"list_splice corruption", "kmemleak:", "INFO: lockdep",
		"DEBUG_LOCKS_WARN_ON", "hung_task",
	};
	char rec[2048];
	unsigned int i;
	ssize_t r;
	int n = 0;

	if (fd < 0)
		return 0;
	while ((r = read(fd, rec, sizeof(rec) - 1)) > 0 || (r < 0 && errno == EPIPE)) {
		char *msg;

		if (r <= 0)
			continue;
		rec[r] = 0;
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		for (i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
			if (strstr(msg, pats[i])) {
				if (!n++)
					snprintf(first, len, "%s", strtok(msg, "\n"));
				break;
			}
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* Binding order: the parent drives the virtio bus through sysfs       */

#define VIRTIO_BUS	"/sys/bus/virtio"

/**
 * sys_write() - write a string to a sysfs file
 * @path:	the file
 * @val:	the string
 *
 * Return: 0 or -errno
 */
static int sys_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/**
 * bus_walk() - bind, or unbind and bind again, every virtio device of ours
 * @rebind:	false: probe the devices no driver holds; true: unbind each
 *		bound device from its driver and bind it to that driver again
 *
 * Ours are those below the uvirtio misc device; a device that goes while
 * we walk is no failure.
 */
static void bus_walk(bool rebind)
{
	char path[PATH_MAX], real[PATH_MAX], drv[PATH_MAX];
	DIR *d = opendir(VIRTIO_BUS "/devices");
	struct dirent *de;
	ssize_t n;

	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), VIRTIO_BUS "/devices/%s", de->d_name);
		if (!realpath(path, real) || !strstr(real, "/misc/uvirtio/"))
			continue;
		snprintf(path, sizeof(path), VIRTIO_BUS "/devices/%s/driver", de->d_name);
		n = readlink(path, drv, sizeof(drv) - 1);
		if (!rebind) {
			if (n < 0)
				sys_write(VIRTIO_BUS "/drivers_probe", de->d_name);
			continue;
		}
		if (n < 0)
			continue;
		drv[n] = 0;
		snprintf(path, sizeof(path), VIRTIO_BUS "/drivers/%s/unbind",
			 strrchr(drv, '/') + 1);
		sys_write(path, de->d_name);
		snprintf(path, sizeof(path), VIRTIO_BUS "/drivers/%s/bind",
			 strrchr(drv, '/') + 1);
		sys_write(path, de->d_name);
	}
	if (d)
		closedir(d);
}

/**
 * binder_start() - a child that binds late, or unbinds and binds, after
 * a while (the parent keeps its own bounds: a hung unbind hangs only it)
 * @p:		the plan
 *
 * Return: the child's pid, or 0 if the plan binds at once
 */
static pid_t binder_start(const struct plan *p)
{
	pid_t pid;

	if (p->bind == B_NOW)
		return 0;
	fflush(stdout);
	pid = fork();
	if (pid)
		return pid < 0 ? 0 : pid;
	usleep(p->bind_ms * 1000L * slow);
	if (p->bind == B_LATE)
		sys_write(VIRTIO_BUS "/drivers_autoprobe", "1");
	bus_walk(p->bind == B_REBIND);
	_exit(0);
}

/**
 * run_seed() - one seed, start to verdict
 * @seed:	the seed
 * @kmsg:	/dev/kmsg fd
 * @why:	out: the reason when it fails
 * @wlen:	bytes at @why
 *
 * Return: true if the seed passed
 */
static bool run_seed(uint64_t seed, int kmsg, char *why, size_t wlen)
{
	struct plan p;
	char desc[512], name[64], line[256], node[96], mnt[64], klog[512];
	int rep[2], ctl[2], est = 0, lst = 0, bst = 0, ret;
	pid_t emu_pid, load_pid = 0, bind_pid = 0;
	bool ok = true, emu_done, load_done = true, bus_seen = false, bus_bad = false;
	long t_emu_end, end;

	plan_make(&p, seed);
	plan_str(&p, desc, sizeof(desc));
	why[0] = 0;
	if (pipe2(rep, O_CLOEXEC) || pipe2(ctl, O_CLOEXEC)) {
		snprintf(why, wlen, "pipe: %s", strerror(errno));
		return false;
	}
	/* Late: no driver probes our device until the binder says so. */
	if (p.bind == B_LATE && sys_write(VIRTIO_BUS "/drivers_autoprobe", "0")) {
		snprintf(why, wlen, "cannot turn off the virtio bus's autoprobe");
		return false;
	}
	fflush(stdout);
	emu_pid = fork();
	if (emu_pid == 0) {
		close(rep[0]);
		close(ctl[1]);
		close(kmsg);
		_exit(emu_run(&p, rep[1], ctl[0]));
	}
	close(rep[1]);
	close(ctl[0]);
	if (p.bind == B_LATE)
		bind_pid = binder_start(&p);

	if (read_line(rep[0], name, sizeof(name), 40000L * slow))
		snprintf(name, sizeof(name), "-");
	snprintf(mnt, sizeof(mnt), "/tmp/fuzzmnt.%d", getpid());
	snprintf(node, sizeof(node), "/dev/%s", name);
	if (strcmp(name, "-") && p.load != L_NONE && !p.net) {
		struct stat sb;

		if (stat(node, &sb) || !S_ISBLK(sb.st_mode)) {
			ok = false;
			snprintf(why, wlen, "%s is not a block device", node);
		}
	}
	if (ok && strcmp(name, "-") && p.load != L_NONE) {
		mkdir(mnt, 0700);
		load_pid = fork();
		if (load_pid == 0) {
			int nul = open("/dev/null", O_RDWR);

			dup2(nul, 1);
			dup2(nul, 2);
			signal(SIGPIPE, SIG_DFL);
			if (p.net && p.user) {
				/* The interface lives in the emulator's namespace. */
				char ns[64];
				int nfd;

				snprintf(ns, sizeof(ns), "/proc/%d/ns/net", emu_pid);
				nfd = open(ns, O_RDONLY | O_CLOEXEC);
				if (nfd < 0 || setns(nfd, CLONE_NEWNET))
					_exit(3);
			}
			switch (p.load) {
			case L_RAW:
				load_raw(node, p.clean, seed);
				break;
			case L_FIO:
				load_fio(node);
				break;
			case L_FS:
				load_fs(node, mnt);
				break;
			default:
				load_net(name, seed);
				break;
			}
			_exit(3);
		}
		load_done = false;
	}
	if (p.bind == B_REBIND && strcmp(name, "-"))
		bind_pid = binder_start(&p);
	/* A clean seed's emulator outlives the load: tell it when to end. */
	if (p.clean && load_pid > 0) {
		load_done = wait_bounded(load_pid, 60000L * slow, "load", &lst);
		if (!load_done) {
			ok = false;
			snprintf(why, wlen, "%s load hung on a live device", load_names[p.load]);
		} else if (!WIFEXITED(lst) || WEXITSTATUS(lst)) {
			ok = false;
			snprintf(why, wlen, "clean seed: %s load failed (status 0x%x)",
				 load_names[p.load], lst);
		}
	}
	/* The emulator may be gone already: EPIPE is fine. */
	ret = write(ctl[1], "x", 1);
	(void)ret;

	emu_done = wait_bounded(emu_pid, (p.live_ms + 60000L) * slow, "emulator", &est);
	t_emu_end = temu_now_ms();
	if (!emu_done) {
		ok = false;
		snprintf(why, wlen, "emulator did not end (a close or ioctl hung)");
	} else if (WIFEXITED(est) && WEXITSTATUS(est) == 2 && !p.user) {
		ok = false;
		snprintf(why, wlen, "root could not create/start the device");
	} else if (WIFEXITED(est) && WEXITSTATUS(est) == 4 && !p.early &&
		   !p.wild) {	/* wild: valid to the module, yet maybe no disk */
		ok = false;
		snprintf(why, wlen, "the disk did not appear");
	} else if (WIFSIGNALED(est) && !(p.faults & (1u << F_KILL))) {
		ok = false;
		snprintf(why, wlen, "emulator died of signal %d", WTERMSIG(est));
	}
	/* Result lines: the ro-write verdict, the removal reason. */
	while (!read_line(rep[0], line, sizeof(line), 100)) {
		if (!strcmp(line, "ro-write went through"))
			bus_bad = true;
		if (!strcmp(line, "ro-write SIGBUS"))
			bus_seen = true;
		if (!strncmp(line, "tx ", 3) && p.clean && p.load == L_NET &&
		    !strtoul(line + 3, NULL, 10) && ok) {
			ok = false;
			snprintf(why, wlen, "clean net seed: no frame reached the emulator");
		}
		if (!strncmp(line, "dead ", 5))
			dead_count[strtoul(line + 5, NULL, 10) & 7]++;
		if (!strncmp(line, "create: ", 8) || !strncmp(line, "start: ", 7) ||
		    !strncmp(line, "setuid", 6) || !strncmp(line, "unshare", 7)) {
			tap_diag("seed 0x%" PRIx64 ": %s", seed, line);
			/* uid 1000 may meet a cap; anything else is a failure. */
			if (ok && (!p.user || !strstr(line, strerror(EDQUOT)))) {
				ok = false;
				snprintf(why, wlen, "%s", line);
			}
		}
	}
	close(rep[0]);
	close(ctl[1]);
	if (bus_bad && ok) {
		ok = false;
		snprintf(why, wlen, "a write to a read-only ring page went through");
	}
	(void)bus_seen;

	/* The property: once the emulator is gone, I/O returns, soon. */
	if (!load_done) {
		load_done = wait_bounded(load_pid, 10000L * slow, "load", &lst);
		if (!load_done && ok) {
			ok = false;
			snprintf(why, wlen, "%s load did not return within %d s of the emulator's end",
				 load_names[p.load], 10 * slow);
		}
	}
	if (bind_pid > 0 &&
	    !wait_bounded(bind_pid, (p.bind_ms + 20000L) * slow, "binder", &bst) && ok) {
		ok = false;
		snprintf(why, wlen, "driver %s hung", p.bind == B_LATE ? "bind" : "unbind/bind");
	}
	if (p.bind == B_LATE)
		sys_write(VIRTIO_BUS "/drivers_autoprobe", "1");
	umount2(mnt, MNT_DETACH);
	rmdir(mnt);
	/* A load that ran after the node went must not leave a file in its place. */
	if (strcmp(name, "-") && !p.net) {
		struct stat sb;

		if (!lstat(node, &sb) && !S_ISBLK(sb.st_mode)) {
			unlink(node);
			if (ok) {
				ok = false;
				snprintf(why, wlen, "a load created a regular file %s", node);
			}
		}
	}
	{
		char src[80];

		snprintf(src, sizeof(src), "%s.src", mnt);
		unlink(src);
	}
	/* Reap a fork-hold child: it is the emulator's, reparented to init. */
	for (end = temu_now_ms() + 10000L * slow;
	     temu_read_long(DEVICES) > 0 && temu_now_ms() < end; usleep(10000))
		;
	if (temu_read_long(DEVICES) != 0 && ok) {
		ok = false;
		snprintf(why, wlen, "%ld device(s) left %ld ms after the emulator ended",
			 temu_read_long(DEVICES), temu_now_ms() - t_emu_end);
	}
	if (kmsg_check(kmsg, klog, sizeof(klog))) {
		ok = false;
		snprintf(why, wlen, "kernel log: %.400s", klog);
	}
	if (!ok)
		tap_diag("seed 0x%" PRIx64 ": %s", seed, desc);
	return ok;
}

/* ------------------------------------------------------------------ */

/**
 * meminfo_kb() - one /proc/meminfo value
 * @key:	its name
 *
 * Return: kB, or -1
 */
static long meminfo_kb(const char *key)
{
	char line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':')
			v = strtol(line + klen + 1, NULL, 10);
	fclose(f);
	return v;
}

/**
 * kasan() - is this a KASAN kernel (its report function is in kallsyms)
 *
 * Return: true if so
 */
static bool kasan(void)
{
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/kallsyms", "r");

	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, " kasan_report\n") != NULL;
	if (f)
		fclose(f);
	return found;
}

/**
 * settle() - sync, drop caches, let RCU-freed objects go
 */
static void settle(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	sync();
	if (fd >= 0) {
		if (write(fd, "3", 1) != 1)
			perror("fuzz_emu: drop_caches");
		close(fd);
	}
	usleep(500000);
}

/**
 * module_reload() - rmmod uvirtio (retrying while busy), load it again
 *
 * Return: 0, or -errno of the step that failed
 */
static int module_reload(void)
{
	long end = temu_now_ms() + 10000L * slow;

	while (syscall(__NR_delete_module, "uvirtio", O_NONBLOCK)) {
		if (errno != EAGAIN && errno != EBUSY)
			return -errno;
		if (temu_now_ms() > end)
			return -EBUSY;
		usleep(100000);
	}
	return require_module_load("dev_mode=0666");
}

/**
 * parse_seed() - a decimal or 0x-hex 64-bit number
 * @s:		text
 * @v:		out
 *
 * Return: 0 or -EINVAL
 */
static int parse_seed(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || !*s || *end ? -EINVAL : 0;
}

int main(int argc, char **argv)
{
	uint64_t first = 1, count = 25, i, step = 1, seed, failed_seed = 0;
	long slab0, avail0, slab1, avail1, t0;
	unsigned int done = 0, failed = 0, f;
	bool all = false, quiet = false, plans_only = false;
	char why[512];
	int opt, kmsg, ret;

	while ((opt = getopt(argc, argv, "s:n:aqx:zp")) != -1) {
		switch (opt) {
		case 's':
			if (parse_seed(optarg, &first)) {
				fprintf(stderr, "fuzz_emu: -s %s: not a number\n", optarg);
				return 2;
			}
			break;
		case 'n':
			if (parse_seed(optarg, &count) || !count) {
				fprintf(stderr, "fuzz_emu: -n %s: not a positive number\n", optarg);
				return 2;
			}
			break;
		case 'a':
			all = true;
			break;
		case 'z':
			corrupt_reads = true;
			break;
		case 'p':
			plans_only = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'x':
			if (!strcmp(optarg, "net-announce")) {
				no_net_announce = true;
				break;
			}
			if (!strcmp(optarg, "blk-huge-capacity")) {
				no_huge_capacity = true;
				break;
			}
			for (f = 0; f < NR_FAULTS && strcmp(optarg, fault_names[f]); f++)
				;
			if (f == NR_FAULTS) {
				fprintf(stderr, "fuzz_emu: -x %s: no such misbehaviour\n", optarg);
				return 2;
			}
			excluded |= 1u << f;
			break;
		default:
			fprintf(stderr, "usage: fuzz_emu [-s FIRST] [-n COUNT] [-a] [-q] [-z] [-p] [-x NAME]...\n");
			return 2;
		}
	}
	if (plans_only) {
		/* What each seed would do; runs anywhere, changes nothing. */
		for (i = 0; i < count; i++) {
			char desc[512];
			struct plan p;

			plan_make(&p, first + i);
			printf("0x%" PRIx64 " %s\n", first + i, plan_str(&p, desc, sizeof(desc)));
		}
		return 0;
	}
	require_uvirtio(REQ_ROOT);
	signal(SIGPIPE, SIG_IGN);
	if (kasan()) {
		slow = 5;
		if (!all)
			step = 4;
	}
	tap_plan((quiet ? 1 : (count + step - 1) / step) + 3);
	tap_diag("seeds 0x%" PRIx64 "..0x%" PRIx64 "%s%s", first, first + count - 1,
		 step > 1 ? ", every 4th (KASAN kernel: 5x slower; -a runs all)" : "",
		 excluded || no_net_announce || no_huge_capacity ? ", some misbehaviours excluded (-x)" : "");
	for (f = 0; f < NR_FAULTS; f++)
		if (excluded & (1u << f))
			tap_diag("excluded: %s", fault_names[f]);
	if (no_net_announce)
		tap_diag("excluded: net-announce (fuzz_bugs.md 1)");
	if (no_huge_capacity)
		tap_diag("excluded: blk-huge-capacity (fuzz_bugs.md 2)");
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg >= 0)
		lseek(kmsg, 0, SEEK_END);

	settle();
	slab0 = meminfo_kb("Slab");
	avail0 = meminfo_kb("MemAvailable");
	t0 = temu_now_ms();
	for (i = 0; i < count; i += step) {
		char desc[512];
		struct plan p;
		bool ok;

		seed = first + i;
		if (quiet) {
			/* fuzz_run.sh names this seed if the VM dies during it. */
			printf("# running seed 0x%" PRIx64 "\n", seed);
			fflush(stdout);
		}
		ok = run_seed(seed, kmsg, why, sizeof(why));
		/* Nothing the seed did may keep the module from unloading. */
		if (ok) {
			ret = module_reload();
			if (ret) {
				ok = false;
				snprintf(why, sizeof(why), "the module does not unload and load again after the seed: %s",
					 strerror(-ret));
			}
		}
		done++;
		if (!ok && !failed++)
			failed_seed = seed;
		plan_make(&p, seed);
		if (!quiet)
			tap_ok(ok, "seed 0x%" PRIx64 " (%s)%s%s", seed,
			       plan_str(&p, desc, sizeof(desc)), ok ? "" : ": ", why);
		else if (!ok)
			tap_diag("FAILED seed 0x%" PRIx64 " (%s): %s", seed,
				 plan_str(&p, desc, sizeof(desc)), why);
		if (quiet && (done % 10 == 0 || i + step >= count)) {
			long ms = temu_now_ms() - t0;

			printf("# %u seeds, %u failed, %.2f seeds/s\n", done, failed,
			       ms ? done * 1000.0 / ms : 0.0);
			fflush(stdout);
		}
	}
	tap_diag("%u seeds in %.1f s (%.2f seeds/s)", done, (temu_now_ms() - t0) / 1000.0,
		 done * 1000.0 / (temu_now_ms() - t0 + 1));
	tap_diag("devices the emulator saw die: removed %u, closed %u, bad id %u, bad len %u, "
		 "bad idx %u, timeout %u (others ended by close or kill)", dead_count[1],
		 dead_count[2], dead_count[3], dead_count[4], dead_count[5], dead_count[6]);
	if (quiet)
		tap_ok(!failed, "%u seeds, %u failed", done, failed);

	tap_ok(temu_read_long(DEVICES) == 0 && temu_read_long(DOMAIN_PAGES) == 0,
	       "no device and no domain page left");
	ret = module_reload();
	tap_ok(!ret, "the module unloads and loads again%s%s", ret ? ": " : "",
	       ret ? strerror(-ret) : "");
	/* Freed memory comes back in steps (RCU, workqueues): try a few times. */
	for (f = 0; f < 5; f++) {
		settle();
		slab1 = meminfo_kb("Slab");
		avail1 = meminfo_kb("MemAvailable");
		if (slab1 - slab0 < SLAB_SLACK_KB && avail0 - avail1 < AVAIL_SLACK_KB)
			break;
		sleep(1);
	}
	tap_diag("Slab %ld -> %ld kB, MemAvailable %ld -> %ld kB", slab0, slab1,
		 avail0, avail1);
	if (kasan())
		tap_ok(avail0 - avail1 < AVAIL_SLACK_KB * 4,
		       "MemAvailable within %d kB of baseline (slab not judged: KASAN "
		       "quarantine; kmemleak checks leaks on this lane)", AVAIL_SLACK_KB * 4);
	else
		tap_ok(slab1 - slab0 < SLAB_SLACK_KB && avail0 - avail1 < AVAIL_SLACK_KB,
		       "slab within %d kB and MemAvailable within %d kB of baseline",
		       SLAB_SLACK_KB, AVAIL_SLACK_KB);
	if (failed) {
		printf("# first failing seed: 0x%" PRIx64 "\n", failed_seed);
		printf("# reproduce: make fuzz SEEDS=1 SEED_BASE=0x%" PRIx64 "\n", failed_seed);
	}
	return tap_done();
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * pair.c - uvirtio-net's queue pair threads: frames between the rings and
 * the backends
 *
 * Receive path: chains the driver posts on a pair's receive queue are taken
 * into a stash until they can hold the largest frame allowed, then one frame
 * is read straight into them from a backend (a dgram or tap backend writes
 * the virtio-net header too; for the others it is zero), the header's
 * num_buffers is set, and the chains the frame filled are completed.
 * Transmit path: the chains of the pair's transmit queue are taken in
 * batches (NET_TX_BATCH) and sent as they are (header included where the
 * backend carries it); a run of chains for one backend goes in one
 * nb_send(), one system call on a socket (sendmmsg() on dgram, one
 * sendmsg() on a stream).
 * On the socket and tap paths no frame is copied in userspace:
 * recvmsg()/sendmsg() and readv()/writev() work on iovecs that point into
 * the mapped bounce pool (only a software checksum reads a frame into
 * @csum_buf). Between two uvirtio-net dgram peers with shared rings
 * (ring.h) each frame is copied once on each side instead, from the bounce
 * pool into our ring and from the peer's ring into the bounce pool, and
 * takes no system call.
 *
 * A thread serves its pairs in turn: one pass takes what its last wait
 * found for each (kicks, backend readiness, the peer's room) and leaves
 * it asleep only when no pair has work left. It holds its lock while it
 * serves; the main thread takes the lock (net_pairs_pause()) to start,
 * stop or re-steer the rings.
 */
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/virtio_net.h>

#include "iovc.h"
#include "pair.h"

/* The header every frame carries on the rings (VERSION_1). */
#define HDR_LEN			((unsigned int)sizeof(struct virtio_net_hdr_v1))
/* Ethernet header plus one VLAN tag. */
#define L2_LEN			(ETH_HLEN + 4)
/* Frames per queue between completion flushes. */
#define BATCH			64
/* Frames taken from one backend before the next one gets its turn. */
#define SRC_TURN		256
/* Reconnect / passt check period while a backend needs it. */
#define TICK_MS			100

/* Transmit chains of one pair served before the thread's next pair. */
#define TX_TURN			256

/* epoll tags of a pair thread: what, in the low byte; for which pair */
#define PTAG(what, pair)	((uint64_t)(pair) << 8 | (what))
#define PTAG_WHAT(tag)		((unsigned int)((tag) & 0xff))
#define PTAG_PAIR(tag)		((unsigned int)((tag) >> 8))
#define PTAG_WAKE		1
#define PTAG_KICK_RX		2
#define PTAG_KICK_TX		3
#define PTAG_ROOM		4	/* the peer made room in our ring, or
					 * the reader posted a ring message */
#define PTAG_BACKEND		5	/* of the pair's backend */
/* Events one wait takes: four fds a pair, and the wake-up fd. */
#define THREAD_EVENTS		(4 * NET_MAX_PAIRS + 1)

/**
 * q_flush() - publish a queue's completions, interrupt unless withheld
 * @p:		pair
 * @vq:		its rx or tx queue
 * @qi:		that queue's index
 * @st:		that queue's counters
 */
static void q_flush(struct net_pair *p, struct uvq *vq, unsigned int qi,
		    struct net_qstats *st)
{
	uint64_t before = vq->stats.signals;
	int n;

	if (atomic_load_explicit(&p->dp->sh->faults.withhold_irq,
				 memory_order_relaxed) & (1U << qi)) {
		n = uvq_flush_signal(vq, UVQ_SIGNAL_NEVER);
		if (n > 0)
			uvcounter_add(&st->irqs_suppressed, n);
		return;
	}
	n = uvq_flush(vq);
	if (n < 0)
		net_log("queue %u: cannot signal completions: %s", qi,
			strerror(-n));
	uvcounter_add(&st->irqs, vq->stats.signals - before);
}

static void rx_flush(struct net_pair *p)
{
	q_flush(p, p->rxq, NET_PAIR_RXQ(p->index), p->rxs);
}

static void tx_flush(struct net_pair *p)
{
	q_flush(p, p->txq, NET_PAIR_TXQ(p->index), p->txs);
}

/**
 * fault_delay() - --fault-delay-ms: sleep before a pass that has work, once
 * for all of the thread's pairs
 * @t:		thread
 */
static void fault_delay(const struct net_thread *t)
{
	unsigned int ms = atomic_load_explicit(&t->dp->sh->faults.delay_ms,
					       memory_order_relaxed);
	unsigned int i;

	if (!ms)
		return;
	for (i = 0; i < t->npairs; i++)
		if (t->pairs[i]->due_rx || t->pairs[i]->due_tx) {
			usleep(ms * 1000);
			return;
		}
}

/**
 * tx_holds() - does @p hold transmit chains it could not send yet?
 * @p:		pair
 *
 * Return: true if it does
 */
static inline bool tx_holds(const struct net_pair *p)
{
	return p->tx_head < p->tx_n;
}

/**
 * holds_for() - does @p hold a transmit chain for @owner's backend?
 * @p:		pair
 * @owner:	the backend's pair
 *
 * Return: true if it does
 */
static inline bool holds_for(const struct net_pair *p,
			     const struct net_pair *owner)
{
	return tx_holds(p) && p->tx[p->tx_head].to == owner;
}

/**
 * thread_waits_on() - does a chain of the thread wait for room in a
 * backend?
 * @t:		thread
 * @owner:	the backend's pair
 *
 * Return: true if one of @t's pairs holds a chain for @owner's backend
 */
static bool thread_waits_on(const struct net_thread *t,
			    const struct net_pair *owner)
{
	unsigned int i;

	for (i = 0; i < t->npairs; i++)
		if (holds_for(t->pairs[i], owner))
			return true;
	return false;
}

/**
 * thread_tx_due() - a backend has room: serve its own pair's transmit
 * side and every pair holding a chain for it
 * @t:		thread
 * @owner:	the backend's pair
 */
static void thread_tx_due(struct net_thread *t, struct net_pair *owner)
{
	unsigned int i;

	owner->due_tx = true;
	for (i = 0; i < t->npairs; i++)
		if (holds_for(t->pairs[i], owner))
			t->pairs[i]->due_tx = true;
}

/**
 * thread_watch() - ask epoll for what the thread's pairs can use now
 * @t:		thread
 *
 * For each backend one of the thread's pairs receives from: EPOLLIN
 * unless that pair's receiving is paused for lack of buffers; for the
 * backend of each of its pairs: EPOLLOUT while a frame (of any of its
 * pairs) waits for room there. A backend fd that changed (stream
 * reconnect) or left the thread (steering) is taken out.
 */
static void thread_watch(struct net_thread *t)
{
	struct net_dp *dp = t->dp;
	unsigned int j;
	int ret;

	for (j = 0; j < dp->num_pairs; j++) {
		struct net_pair *owner = &dp->pairs[j];
		struct net_pair *reader = owner->reader;
		struct nb *b = &owner->b;
		bool mine = owner->t == t, reads = reader->t == t;
		uint32_t want = 0;
		int fd = b->fd;

		/* a dgram socket is not read while no peer is connected */
		if (fd >= 0 && reads && !reader->rx_paused && b->connected)
			want |= EPOLLIN;
		if (fd >= 0 && mine &&
		    ((thread_waits_on(t, owner) && !nb_ring_waits(b)) ||
		     nb_pending_out(b)))
			want |= EPOLLOUT;
		if (t->reg[j].fd >= 0 &&
		    (t->reg[j].fd != fd || (!mine && !reads))) {
			/* fails harmlessly for an fd closed meanwhile */
			uvloop_del(&t->w.loop, t->reg[j].fd);
			t->reg[j].fd = -1;
		}
		if (fd < 0 || (!mine && !reads))
			continue;
		if (t->reg[j].fd >= 0 && t->reg[j].events == want)
			continue;
		if (t->reg[j].fd < 0)
			ret = uvloop_add(&t->w.loop, fd, want,
					 PTAG(PTAG_BACKEND, j));
		else
			ret = uvloop_mod(&t->w.loop, fd, want,
					 PTAG(PTAG_BACKEND, j));
		if (ret)
			net_log("thread %u: epoll: %s", t->index,
				strerror(-ret));
		t->reg[j].fd = fd;
		t->reg[j].events = want;
	}
}

/**
 * pair_set_up() - publish the pair's backend state, wake the main thread
 * to apply the link if it changed
 * @p:		pair
 */
static void pair_set_up(struct net_pair *p)
{
	uint64_t one = 1;

	if (atomic_exchange(&p->up, p->b.connected) == p->b.connected)
		return;
	if (write(p->dp->sh->wake_fd, &one, sizeof(one)) < 0)
		return;	/* saturated: the main thread wakes anyway */
}

/**
 * pair_lost() - the pair's backend failed: link down, reconnect later
 * @p:		pair
 * @why:	negative errno
 */
static void pair_lost(struct net_pair *p, int why)
{
	if (!p->b.connected)
		return;
	net_log("%s: disconnected: %s", p->b.spec, strerror(-why));
	nb_disconnect(&p->b);
	pair_set_up(p);
	thread_watch(p->t);
}

/**
 * pair_tick() - periodic work while a backend needs it: reap passt,
 * reconnect a stream or dgram peer, look after a dgram peer's rings
 * @p:		pair
 *
 * passt is started once: if it exits, the link stays down.
 */
static void pair_tick(struct net_pair *p)
{
	int ret;

	nb_reap(&p->b);
	if (p->b.kind == NB_PASST) {
		if (!p->b.passt_pid && p->b.connected)
			pair_lost(p, -ECONNRESET);
		return;
	}
	if (p->b.connected) {
		ret = nb_tick(&p->b);
		if (ret)
			pair_lost(p, ret);
		return;
	}
	if (nb_connect(&p->b))
		return;
	net_log("%s: connected", p->b.spec);
	pair_set_up(p);
	thread_watch(p->t);
}

/**
 * pair_ctl() - act on the peer's ring messages that the thread reading our
 * backend (maybe another pair's, when steered) posted for us
 * @p:		pair
 */
static void pair_ctl(struct net_pair *p)
{
	int ret = nb_ctl_apply(&p->b);

	if (ret)
		pair_lost(p, ret);
}

/**
 * stash_clear() - forget the receive chains taken (the queue was reset)
 * @p:		pair
 */
static void stash_clear(struct net_pair *p)
{
	p->stash_head = p->stash_n = 0;
	p->stash_bytes = 0;
}

/**
 * rx_max_frame() - longest frame (without header) the driver may receive
 * @dp:		data path
 *
 * Return: bytes
 */
static size_t rx_max_frame(const struct net_dp *dp)
{
	if (dp->hdr && (dp->guest_tso4 || dp->guest_tso6))
		return NET_GSO_MAX_FRAME;
	return dp->mtu + L2_LEN;
}

/**
 * rx_fill() - take receive chains until one maximum frame fits
 * @p:		pair
 *
 * Return: true if a frame can be received now
 */
static bool rx_fill(struct net_pair *p)
{
	struct uvq *vq = p->rxq;
	size_t need = HDR_LEN + rx_max_frame(p->dp);
	bool mrg = p->dp->mrg;
	struct net_rx_slot *s;
	int ret;

	while (p->stash_n < NET_STASH_MAX && p->stash_bytes < need &&
	       (mrg || !p->stash_n)) {
		s = &p->stash[(p->stash_head + p->stash_n) % NET_STASH_MAX];
		uvq_elem_init(&s->el, s->iov, NET_RX_IOV);
		ret = uvq_pop(vq, &s->el);
		if (ret <= 0)
			break;
		if (s->el.err || s->el.out_num || s->el.in_len < HDR_LEN) {
			uvcounter_add(&p->rxs->errors, 1);
			if (s->el.owned)
				uvq_discard(vq, &s->el);
			continue;
		}
		p->stash_n++;
		p->stash_bytes += s->el.in_len;
	}
	if (!p->stash_n)
		return false;
	if (p->stash_bytes >= need || !mrg)
		return true;
	/* A ring smaller than one maximum frame: use what there is. */
	return p->stash_n * 2 >= vq->num || p->stash_n == NET_STASH_MAX;
}

/**
 * csum_fold_iov() - finish a partial checksum the driver cannot do
 * @p:		pair (its scratch buffer)
 * @c:		cursor at the frame's first byte
 * @len:	frame length
 * @start:	csum_start
 * @off:	csum_offset
 *
 * Return: 0, or -EINVAL if the offsets lie outside the frame
 */
static int csum_fold_iov(struct net_pair *p, struct iovc *c, size_t len,
			 unsigned int start, unsigned int off)
{
	uint8_t *b = p->csum_buf;
	struct iovc w = *c;
	uint32_t sum = 0;
	uint16_t v;
	size_t i;

	if (len > sizeof(p->csum_buf) || start + off + 2 > len)
		return -EINVAL;
	iovc_read(c, b, len);
	for (i = start; i + 1 < len; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (i < len)
		sum += (uint32_t)b[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	v = htobe16(~sum & 0xffff);
	iovc_skip(&w, start + off);
	iovc_write(&w, &v, 2);
	return 0;
}

/**
 * rx_check_hdr() - check a header a peer sent against what our driver takes
 * @dp:		data path
 * @h:		the header (num_buffers is ours to set); DATA_VALID is
 *		cleared unless @trusted
 * @flen:	frame length
 * @trusted:	the header comes from the host kernel (tap), not a peer
 *
 * Every field the driver acts on is checked against the frame: the
 * checksum position lies inside it, a GSO frame has a segment size that
 * splits it and a header length inside it, and no flag is unknown. A
 * peer's "checksum already verified" (DATA_VALID) is not passed on: the
 * guest checks for itself.
 *
 * Return: 0 to pass the frame, 1 to finish its checksum first, -EINVAL to
 * drop it
 */
static int rx_check_hdr(const struct net_dp *dp, struct virtio_net_hdr_v1 *h,
			size_t flen, bool trusted)
{
	uint8_t gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
	uint16_t gso_size = le16toh(h->gso_size);

	if (h->flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM |
			 VIRTIO_NET_HDR_F_DATA_VALID))
		return -EINVAL;
	if (!trusted)
		h->flags &= ~VIRTIO_NET_HDR_F_DATA_VALID;
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (size_t)le16toh(h->csum_start) + le16toh(h->csum_offset) + 2 >
	    flen)
		return -EINVAL;
	if (gso != VIRTIO_NET_HDR_GSO_NONE &&
	    (gso_size == 0 || gso_size >= flen ||
	     le16toh(h->hdr_len) > flen))
		return -EINVAL;
	if (gso == VIRTIO_NET_HDR_GSO_NONE) {
		if (flen > dp->mtu + L2_LEN)
			return -EINVAL;
	} else if ((gso == VIRTIO_NET_HDR_GSO_TCPV4 && !dp->guest_tso4) ||
		   (gso == VIRTIO_NET_HDR_GSO_TCPV6 && !dp->guest_tso6) ||
		   (gso != VIRTIO_NET_HDR_GSO_TCPV4 &&
		    gso != VIRTIO_NET_HDR_GSO_TCPV6) ||
		   !(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
		return -EINVAL;
	}
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !dp->guest_csum)
		return gso == VIRTIO_NET_HDR_GSO_NONE ? 1 : -EINVAL;
	return 0;
}

/**
 * rx_one() - receive one frame from a backend into the stash's chains and
 * complete them
 * @p:		pair (its receive queue)
 * @b:		backend to read
 *
 * Return: 1 if a frame was taken (delivered or dropped), 0 if the backend
 * had none, negative errno if the backend failed
 */
static int rx_one(struct net_pair *p, struct nb *b)
{
	const struct net_dp *dp = p->dp;
	struct net_qstats *st = p->rxs;
	struct virtio_net_hdr_v1 h;
	unsigned int i, k, cnt = 0, nbuf;
	struct iovec *iov = p->rx_iov;
	size_t flen, left, len;
	struct net_rx_slot *s;
	struct iovc c;
	int n, ck = 0;

	for (i = 0; i < p->stash_n && cnt < UIO_MAXIOV - NET_RX_IOV; i++) {
		s = &p->stash[(p->stash_head + i) % NET_STASH_MAX];
		memcpy(iov + cnt, uvq_elem_in(&s->el),
		       s->el.in_num * sizeof(*iov));
		cnt += s->el.in_num;
		if (!dp->mrg)
			break;
	}
	if (dp->hdr) {
		n = nb_recv(b, iov, cnt);
	} else {
		struct iovec sub[UIO_MAXIOV];
		int sc;

		iovc_init(&c, iov, cnt);
		iovc_skip(&c, HDR_LEN);
		sc = iovc_slice(&c, iovc_left(&c), sub, UIO_MAXIOV);
		if (sc < 0)
			return sc;
		n = nb_recv(b, sub, sc);
		if (n >= 0)
			n += HDR_LEN;
	}
	if (n == -EAGAIN)
		return 0;
	if (n == -EMSGSIZE) {
		uvcounter_add(&st->drops, 1);
		return 1;
	}
	if (n < 0)
		return n;
	/* tun says how long the frame was, not how much of it fitted */
	if ((size_t)n > iovc_size(iov, cnt)) {
		uvcounter_add(&st->drops, 1);
		return 1;
	}

	flen = n - HDR_LEN;
	if (n < (int)HDR_LEN || flen < ETH_HLEN) {
		uvcounter_add(&st->drops, 1);
		return 1;
	}
	iovc_init(&c, iov, cnt);
	if (dp->hdr) {
		iovc_read(&c, &h, HDR_LEN);
		ck = rx_check_hdr(dp, &h, flen, b->kind == NB_TAP);
		if (ck < 0) {
			uvcounter_add(&st->drops, 1);
			return 1;
		}
		if (ck) {
			if (csum_fold_iov(p, &c, flen,
					  le16toh(h.csum_start),
					  le16toh(h.csum_offset))) {
				uvcounter_add(&st->drops, 1);
				return 1;
			}
			h.flags &= ~VIRTIO_NET_HDR_F_NEEDS_CSUM;
		}
	} else {
		if (flen > dp->mtu + L2_LEN) {
			uvcounter_add(&st->drops, 1);
			return 1;
		}
		memset(&h, 0, sizeof(h));
	}

	/* How many chains the frame filled: that is num_buffers. */
	left = n;
	for (nbuf = 0; left && nbuf < p->stash_n; nbuf++) {
		s = &p->stash[(p->stash_head + nbuf) % NET_STASH_MAX];
		left -= left < s->el.in_len ? left : s->el.in_len;
	}
	h.num_buffers = htole16(nbuf);
	iovc_init(&c, iov, cnt);
	iovc_write(&c, &h, HDR_LEN);

	left = n;
	for (k = 0; k < nbuf; k++) {
		s = &p->stash[p->stash_head];
		len = left < s->el.in_len ? left : s->el.in_len;
		left -= len;
		if (uvq_push(p->rxq, &s->el, len))
			uvcounter_add(&st->errors, 1);
		p->stash_bytes -= s->el.in_len;
		p->stash_head = (p->stash_head + 1) % NET_STASH_MAX;
		p->stash_n--;
	}
	uvcounter_add(&st->packets, 1);
	uvcounter_add(&st->bytes, flen);
	if (b->rx_via_ring)
		uvcounter_add(&st->ring, 1);
	return 1;
}

/**
 * rx_serve() - move frames from this thread's backends to the driver
 * @p:		pair
 *
 * Each backend is read until it has nothing (epoll wakes us again) or for
 * SRC_TURN frames. When the driver has no buffers, kicks are asked for and
 * the backends are not read until one comes.
 */
static void rx_serve(struct net_pair *p)
{
	struct uvq *vq = p->rxq;
	unsigned int i, taken, done = 0;
	int ret;

	if (!vq->ready) {
		stash_clear(p);
		p->rx_paused = true;
		return;
	}
	p->rx_paused = false;
	uvq_poll_begin(vq);
	for (i = 0; i < p->nsrc && !p->rx_paused && !uvworker_pausing(&p->t->w);
	     i++) {
		struct net_pair *src = p->src[i];

		for (taken = 0; taken < SRC_TURN; taken++) {
			if (!rx_fill(p)) {
				rx_flush(p);
				done = 0;
				if (uvq_poll_end(vq))
					continue;
				p->rx_paused = true;
				break;
			}
			ret = rx_one(p, &src->b);
			if (ret < 0) {
				uvcounter_add(&p->rxs->errors, 1);
				/* only its owner reconnects a backend */
				if (src == p)
					pair_lost(p, ret);
				break;
			}
			if (!ret)
				break;
			if (++done == BATCH) {
				rx_flush(p);
				done = 0;
			}
		}
	}
	if (!p->rx_paused)
		uvq_poll_end(vq);
	rx_flush(p);
}

/**
 * flow_hash() - hash of a frame's flow: IP addresses, and ports for TCP,
 * UDP and SCTP (not of a fragment); the MAC addresses of anything else
 * @f:		the frame from its Ethernet header on
 * @n:		bytes of it in @f
 *
 * Return: the hash
 */
static uint32_t flow_hash(const uint8_t *f, size_t n)
{
	size_t l3 = ETH_HLEN, at = 0, len = 12, l4 = 0;
	unsigned int type, proto = 0;
	uint32_t h = 2166136261u;	/* FNV-1a */
	size_t i;

	if (n < ETH_HLEN)
		return 0;
	type = f[12] << 8 | f[13];
	if (type == ETH_P_8021Q && n >= ETH_HLEN + 4) {
		type = f[16] << 8 | f[17];
		l3 += 4;
	}
	if (type == ETH_P_IP && n >= l3 + 20) {
		at = l3 + 12;
		len = 8;
		proto = f[l3 + 9];
		/* no ports in a fragment: offset or more-fragments set */
		if (!((f[l3 + 6] << 8 | f[l3 + 7]) & 0x3fff))
			l4 = l3 + (f[l3] & 0xf) * 4;
	} else if (type == ETH_P_IPV6 && n >= l3 + 40) {
		at = l3 + 8;
		len = 32;
		proto = f[l3 + 6];
		l4 = l3 + 40;
	}
	for (i = at; i < at + len; i++)
		h = (h ^ f[i]) * 16777619u;
	if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
	     proto == IPPROTO_SCTP) && l4 && n >= l4 + 4)
		for (i = l4; i < l4 + 4; i++)
			h = (h ^ f[i]) * 16777619u;
	return h ^ h >> 16;
}

/**
 * tx_pick() - the backend a transmit chain leaves on
 * @p:		pair
 * @s:		the chain; its virtio-net header is read here, once, into
 *		@s->hdr
 *
 * A flow leaves on one backend of the thread, whichever of the thread's
 * transmit queues the driver put it on: the driver moves a flow to another
 * queue when its CPU changes (XPS), and two backends would hand the
 * receiver one flow on two receive queues, whose interleaving reorders it
 * (measured: hundreds of retransmissions a second with one TCP stream over
 * 4 pairs, and none since). The thread owns all the backends it may pick.
 *
 * Return: the pair whose backend to use
 */
static struct net_pair *tx_pick(struct net_pair *p, struct net_tx_slot *s)
{
	struct net_thread *t = p->t;
	uint8_t f[L2_LEN + 60 + 4];
	struct iovc c;
	size_t n;

	iovc_init(&c, s->el.iov, s->el.out_num);
	/* a chain too short for it is dropped by tx_prepare() */
	iovc_read(&c, &s->hdr, HDR_LEN);
	if (t->npairs == 1)
		return p;
	n = iovc_read(&c, f, sizeof(f));
	return t->pairs[flow_hash(f, n) % t->npairs];
}

/**
 * tx_prepare() - check a transmit chain and say what its frame is
 * @p:		pair
 * @s:		the chain, its header read by tx_pick()
 * @spare:	room in @p->tx_iov for the frame's pieces where the backend
 *		carries no header: as many entries as the chain has
 *
 * Return: true if the frame is to be sent, false if the chain was dropped
 * (and counted)
 */
static bool tx_prepare(struct net_pair *p, struct net_tx_slot *s,
		       struct iovec *spare)
{
	const struct net_dp *dp = p->dp;
	const struct virtio_net_hdr_v1 *h = &s->hdr;
	struct uvq_elem *el = &s->el;
	size_t flen, max;
	struct iovc c;
	int sc;

	if (el->out_len < HDR_LEN + ETH_HLEN)
		goto drop;
	flen = el->out_len - HDR_LEN;
	max = h->gso_type == VIRTIO_NET_HDR_GSO_NONE ? dp->mtu + L2_LEN :
	      NET_GSO_MAX_FRAME;
	if (flen > max)
		goto drop;
	s->frame.iov = el->iov;
	s->frame.cnt = el->out_num;
	if (dp->hdr)
		return true;
	/* Not offered, so not negotiated: a driver that did anyway. */
	if (h->gso_type != VIRTIO_NET_HDR_GSO_NONE ||
	    (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		goto drop;
	iovc_init(&c, el->iov, el->out_num);
	iovc_skip(&c, HDR_LEN);
	sc = iovc_slice(&c, flen, spare, el->out_num);
	if (sc < 0) {
		uvcounter_add(&p->txs->errors, 1);
		return false;
	}
	s->frame.iov = spare;
	s->frame.cnt = sc;
	return true;
drop:
	uvcounter_add(&p->txs->drops, 1);
	return false;
}

/**
 * tx_take() - take the next batch of transmit chains from the ring
 * @p:		pair, holding none
 * @max:	chains it may take
 * @done:	incremented for each chain completed here
 *
 * A chain that cannot be sent (malformed, too long, for a header the
 * backend cannot carry) is completed here at once.
 *
 * Return: chains taken from the ring, those completed included; the ones
 * to send are @p->tx[0 .. @p->tx_n)
 */
static unsigned int tx_take(struct net_pair *p, unsigned int max,
			    unsigned int *done)
{
	struct uvq *vq = p->txq;
	unsigned int used = 0, taken = 0;
	struct net_tx_slot *s;

	p->tx_head = p->tx_n = 0;
	while (p->tx_n < NET_TX_BATCH && taken < max &&
	       NET_TX_IOV - used >= 2 * UVIRTIO_MAX_QUEUE_SIZE) {
		s = &p->tx[p->tx_n];
		uvq_elem_init(&s->el, p->tx_iov + used, UVIRTIO_MAX_QUEUE_SIZE);
		if (uvq_pop(vq, &s->el) <= 0)
			break;
		taken++;
		if (s->el.err || s->el.in_num) {
			uvcounter_add(&p->txs->errors, 1);
			if (s->el.owned)
				uvq_discard(vq, &s->el);
			continue;
		}
		used += s->el.out_num;
		s->to = tx_pick(p, s);
		if (!tx_prepare(p, s, p->tx_iov + used)) {
			uvq_push(vq, &s->el, 0);
			(*done)++;
			continue;
		}
		if (s->frame.iov == p->tx_iov + used)
			used += s->frame.cnt;
		p->tx_n++;
	}
	return taken;
}

/**
 * tx_complete() - complete the next @n chains of the batch
 * @p:		pair
 * @n:		how many
 * @done:	incremented for each
 *
 * Return: bytes of their frames
 */
static uint64_t tx_complete(struct net_pair *p, unsigned int n,
			    unsigned int *done)
{
	struct net_tx_slot *s;
	uint64_t bytes = 0;

	for (; n; n--, p->tx_head++) {
		s = &p->tx[p->tx_head];
		bytes += s->el.out_len - HDR_LEN;
		uvq_push(p->txq, &s->el, 0);
		(*done)++;
	}
	return bytes;
}

/**
 * tx_send() - send the batch's chains that are not sent yet, in order
 * @p:		pair
 * @done:	incremented for each chain completed
 *
 * Chains in a row for the same backend go in one nb_send(): one
 * sendmmsg() on a dgram socket, one sendmsg() on a stream.
 *
 * Return: 0 when every chain is done with (sent or dropped), -EAGAIN when
 * a backend has no room: the chains from @p->tx_head on stay held
 */
static int tx_send(struct net_pair *p, unsigned int *done)
{
	struct nb_frame f[NET_TX_BATCH];
	struct net_qstats *st = p->txs;
	struct net_pair *o;
	unsigned int k;
	int ret;

	while (tx_holds(p)) {
		o = p->tx[p->tx_head].to;
		for (k = 0; p->tx_head + k < p->tx_n &&
			    p->tx[p->tx_head + k].to == o; k++)
			f[k] = p->tx[p->tx_head + k].frame;
		ret = nb_send(&o->b, f, k);
		if (ret == -EAGAIN)
			return -EAGAIN;
		if (ret < 0) {
			/* the first of them cannot go: it is dropped */
			if (ret == -EMSGSIZE || ret == -ENOTCONN) {
				uvcounter_add(&st->drops, 1);
			} else {
				uvcounter_add(&st->errors, 1);
				pair_lost(o, ret);
			}
			tx_complete(p, 1, done);
			continue;
		}
		uvcounter_add(&st->packets, ret);
		uvcounter_add(&st->ring, o->b.tx_ring_frames);
		uvcounter_add(&st->bytes, tx_complete(p, ret, done));
	}
	return 0;
}

/**
 * tx_serve() - send what the driver queued on the pair's transmit queue
 * @p:		pair
 *
 * In batches of up to NET_TX_BATCH chains, at most TX_TURN chains, so
 * that the thread's other pairs get their turn while a driver keeps this
 * ring full: the rest is left for the thread's next pass (@due_tx). Kicks
 * stay off for the whole pass (thread_poll_begin()); thread_poll_end()
 * looks for chains that came meanwhile.
 */
static void tx_serve(struct net_pair *p)
{
	struct uvq *vq = p->txq;
	unsigned int done = 0, turn = 0, n;
	int ret;

	if (!vq->ready) {
		p->tx_head = p->tx_n = 0;
		return;
	}
	if (nb_pending_out(&p->b)) {
		ret = nb_flush(&p->b);
		if (ret == -EAGAIN)
			return;
		if (ret)
			pair_lost(p, ret);
	}
	for (;;) {
		if (!tx_holds(p)) {
			if (turn >= TX_TURN) {
				p->due_tx = true;
				break;
			}
			n = tx_take(p, TX_TURN - turn, &done);
			if (!n)
				break;
			turn += n;
		}
		if (tx_send(p, &done) == -EAGAIN)
			break;
		if (done >= BATCH) {
			tx_flush(p);
			done = 0;
		}
		/*
		 * A driver that keeps the ring full would keep us here for
		 * good while the main thread waits for the lock (a signal, a
		 * link change, a device event): let it in; it wakes us when
		 * it is done.
		 */
		if (uvworker_pausing(&p->t->w) || uvworker_stopping(&p->t->w))
			break;
	}
	tx_flush(p);
}

/**
 * thread_poll_begin() - a pass starts: no transmit kicks are needed until
 * it ends
 * @t:		thread
 *
 * The driver transmits most while the pass runs: from its other CPU, and
 * in this thread itself, when the receive softirq that a call-eventfd
 * write runs here lets TCP send. With its queues' flags set those sends
 * cost the driver no kick and this thread no wake-up and eventfd read;
 * thread_poll_end() finds them.
 */
static void thread_poll_begin(struct net_thread *t)
{
	unsigned int i;

	for (i = 0; i < t->npairs; i++)
		uvq_poll_begin(t->pairs[i]->txq);
}

/**
 * thread_poll_end() - before the thread sleeps: ask for transmit kicks
 * again, and serve what came while they were off
 * @t:		thread
 *
 * A pair with a chain held for a full backend waits for room, not kicks:
 * what waits on its ring is not looked at (no spinning). A pair still due
 * (TX_TURN) keeps kicks off. A queue whose kicks --fault-ignore-kicks
 * ignores is served only when something else wakes it, as before.
 *
 * Return: true if a pair has chains to send now
 */
static bool thread_poll_end(struct net_thread *t)
{
	uint32_t ignore = atomic_load_explicit(&t->dp->sh->faults.ignore_kicks,
					       memory_order_relaxed);
	bool busy = false;
	unsigned int i;

	for (i = 0; i < t->npairs; i++) {
		struct net_pair *p = t->pairs[i];

		if (p->due_tx) {
			busy = true;
			continue;
		}
		if (uvq_poll_end(p->txq) && !tx_holds(p) &&
		    !nb_pending_out(&p->b) &&
		    !(ignore & 1U << NET_PAIR_TXQ(p->index))) {
			p->due_tx = true;
			busy = true;
		}
	}
	return busy;
}

/**
 * pair_wants_tick() - does the pair need its periodic work?
 * @p:		pair
 *
 * Return: true while the backend must be reconnected, passt watched or a
 * dgram peer's rings looked after
 */
static bool pair_wants_tick(const struct net_pair *p)
{
	return !p->b.connected || p->b.kind == NB_PASST ||
	       nb_wants_tick(&p->b);
}

/**
 * now_ms() - the monotonic clock in milliseconds
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
 * thread_serve() - one pass over a pair: what the last wait found for it
 * @p:		pair
 * @tick:	do its periodic work too
 */
static void thread_serve(struct net_pair *p, bool tick)
{
	bool rx = p->due_rx, tx = p->due_tx, ctl = p->due_ctl;

	p->due_rx = p->due_tx = p->due_ctl = false;
	if (tick) {
		pair_tick(p);
		tx |= tx_holds(p);
	}
	if (ctl)
		pair_ctl(p);
	if (tx)
		tx_serve(p);
	if (rx)
		rx_serve(p);
}

/**
 * thread_event() - note what one epoll event asks of the thread's pairs
 * @t:		thread
 * @ev:		the event
 * @ignore:	--fault-ignore-kicks, by queue
 */
static void thread_event(struct net_thread *t, const struct epoll_event *ev,
			 uint32_t ignore)
{
	struct net_dp *dp = t->dp;
	unsigned int j = PTAG_PAIR(ev->data.u64);
	struct net_pair *p = &dp->pairs[j];
	unsigned int i;

	switch (PTAG_WHAT(ev->data.u64)) {
	case PTAG_WAKE:
		uvworker_drain(t->w.wake_fd);
		t->due_tick = true;
		for (i = 0; i < t->npairs; i++)
			t->pairs[i]->due_rx = t->pairs[i]->due_tx = true;
		break;
	case PTAG_KICK_RX:
		if (uvworker_drain(p->rx_kick_fd))
			uvcounter_add(&p->rxs->kicks, 1);
		p->due_rx |= !(ignore & 1U << NET_PAIR_RXQ(j));
		break;
	case PTAG_KICK_TX:
		if (uvworker_drain(p->tx_kick_fd))
			uvcounter_add(&p->txs->kicks, 1);
		p->due_tx |= !(ignore & 1U << NET_PAIR_TXQ(j));
		break;
	case PTAG_ROOM:
		uvworker_drain(p->b.room_fd);
		p->due_ctl = true;
		thread_tx_due(t, p);
		break;
	case PTAG_BACKEND:
		/* the fd may be read here, written here, or both */
		if (p->t == t &&
		    (ev->events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			thread_tx_due(t, p);
		if (p->reader->t == t &&
		    (ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
			p->reader->due_rx = true;
		break;
	}
}

/**
 * pair_thread() - a thread serving its queue pairs
 * @arg:	struct net_thread
 *
 * Return: NULL
 */
static void *pair_thread(void *arg)
{
	struct net_thread *t = arg;
	struct net_dp *dp = t->dp;
	struct epoll_event ev[THREAD_EVENTS];
	enum uvworker_state st;
	uint64_t now, next_tick = 0;
	unsigned int i;
	uint32_t ignore;
	int n, timeout;

	if (dp->pin)
		uvworker_pin(t->index);
	for (;;) {
		bool busy = false, tick = false, tick_now;

		st = uvworker_enter(&t->w);
		if (st == UVWORKER_STOP) {
			uvworker_leave(&t->w);
			break;
		}
		tick_now = t->due_tick;
		t->due_tick = false;
		fault_delay(t);
		thread_poll_begin(t);
		for (i = 0; i < t->npairs; i++) {
			struct net_pair *p = t->pairs[i];

			/* the rings may have been started, stopped or
			 * re-steered */
			if (st == UVWORKER_RESUMED)
				p->due_rx = p->due_tx = true;
			thread_serve(p, tick_now);
			busy |= p->due_rx || p->due_tx || p->due_ctl;
			tick |= pair_wants_tick(p);
		}
		busy |= thread_poll_end(t);
		thread_watch(t);
		uvworker_leave(&t->w);

		/*
		 * The tick is kept by the clock, not by quiet spells: events
		 * of one pair must not hold back another's reconnect.
		 */
		timeout = busy ? 0 : -1;
		if (!tick) {
			next_tick = 0;
		} else {
			now = now_ms();
			if (!next_tick)
				next_tick = now + TICK_MS;
			if (!busy)
				timeout = next_tick > now ? next_tick - now : 0;
		}
		n = uvloop_wait(&t->w.loop, ev, THREAD_EVENTS, timeout);
		if (next_tick && now_ms() >= next_tick) {
			next_tick = 0;
			t->due_tick = true;
		}
		ignore = atomic_load_explicit(&dp->sh->faults.ignore_kicks,
					      memory_order_relaxed);
		for (i = 0; i < (unsigned int)(n > 0 ? n : 0); i++)
			thread_event(t, &ev[i], ignore);
	}
	return NULL;
}

/**
 * net_pairs_alloc() - allocate @n queue pairs and the threads that will
 * serve them (backends not set up)
 * @dp:		data path
 * @n:		pairs
 * @threads:	threads, 1..@n: pair i is served by thread i % @threads
 *
 * Return: 0 or -ENOMEM
 */
int net_pairs_alloc(struct net_dp *dp, unsigned int n, unsigned int threads)
{
	unsigned int i, j;

	dp->pairs = calloc(n, sizeof(*dp->pairs));
	dp->threads = calloc(threads, sizeof(*dp->threads));
	dp->w = calloc(threads, sizeof(*dp->w));
	if (!dp->pairs || !dp->threads || !dp->w)
		return -ENOMEM;
	dp->num_pairs = n;
	dp->num_threads = threads;
	dp->active = 1;
	for (i = 0; i < threads; i++) {
		struct net_thread *t = &dp->threads[i];

		dp->w[i] = &t->w;
		t->dp = dp;
		t->index = i;
		for (j = 0; j < NET_MAX_PAIRS; j++)
			t->reg[j].fd = -1;
	}
	for (i = 0; i < n; i++) {
		struct net_pair *p = &dp->pairs[i];
		struct net_thread *t = &dp->threads[i % threads];

		p->dp = dp;
		p->t = t;
		p->index = i;
		p->b.fd = -1;
		p->due_rx = p->due_tx = true;
		t->pairs[t->npairs++] = p;
	}
	return 0;
}

/**
 * net_pairs_init() - the pairs' queues, the threads' loops and wake-up
 * fds, once the device exists (threads not started yet)
 * @dp:		data path, @dev created
 *
 * Return: 0 or -errno
 */
int net_pairs_init(struct net_dp *dp)
{
	unsigned int i;
	int ret;

	for (i = 0; i < dp->num_threads; i++) {
		ret = uvworker_init(&dp->threads[i].w, PTAG(PTAG_WAKE, 0));
		if (ret)
			return ret;
	}
	for (i = 0; i < dp->num_pairs; i++) {
		struct net_pair *p = &dp->pairs[i];
		struct uvdev_queue *rq = &dp->dev->q[NET_PAIR_RXQ(i)];
		struct uvdev_queue *tq = &dp->dev->q[NET_PAIR_TXQ(i)];
		struct uvloop *loop = &p->t->w.loop;

		p->rxq = &rq->vq;
		p->txq = &tq->vq;
		p->rx_kick_fd = rq->kick_fd;
		p->tx_kick_fd = tq->kick_fd;
		p->rxs = &dp->sh->stats[NET_PAIR_RXQ(i)];
		p->txs = &dp->sh->stats[NET_PAIR_TXQ(i)];
		p->rx_paused = true;
		atomic_store(&p->up, p->b.connected);
		ret = uvloop_add(loop, rq->kick_fd, EPOLLIN,
				 PTAG(PTAG_KICK_RX, i));
		if (!ret)
			ret = uvloop_add(loop, tq->kick_fd, EPOLLIN,
					 PTAG(PTAG_KICK_TX, i));
		if (!ret && p->b.room_fd >= 0)
			ret = uvloop_add(loop, p->b.room_fd, EPOLLIN,
					 PTAG(PTAG_ROOM, i));
		if (ret)
			return ret;
	}
	net_pairs_steer(dp, 1);
	return 0;
}

/**
 * net_pairs_run() - start the pair threads
 * @dp:		data path
 *
 * Return: 0 or -errno
 */
int net_pairs_run(struct net_dp *dp)
{
	unsigned int i;
	int ret;

	for (i = 0; i < dp->num_threads; i++) {
		ret = uvworker_start(&dp->threads[i].w, pair_thread,
				     &dp->threads[i]);
		if (ret)
			return ret;
	}
	return 0;
}

/**
 * net_pairs_wake() - have every pair thread look at its rings and backends
 * @dp:		data path
 *
 * Async-signal-safe.
 */
void net_pairs_wake(struct net_dp *dp)
{
	uvworker_wake_all(dp->w, dp->num_threads);
}

/**
 * net_pairs_pause() - take every pair away from its thread
 * @dp:		data path
 *
 * Each thread finishes the batch it serves and lets go; on return the
 * caller may change the rings and @dp until net_pairs_resume().
 */
void net_pairs_pause(struct net_dp *dp)
{
	uvworker_pause_all(dp->w, dp->num_threads);
}

/**
 * net_pairs_resume() - give the pairs back to their threads, which then
 * serve both queues at once (kicks may have been latched meanwhile)
 * @dp:		data path
 */
void net_pairs_resume(struct net_dp *dp)
{
	uvworker_resume_all(dp->w, dp->num_threads);
}

/**
 * net_pairs_reset() - the rings were started or stopped: forget the
 * receive chains and the held transmit chain (with the pairs paused)
 * @dp:		data path
 * @restarted_only: keep what was taken from a ring that still runs in the
 *		same epoch (after an event overflow, when only some rings may
 *		have been set up anew)
 *
 * Chains of a ring that runs on are still owed to its driver: forgetting
 * them would leave them in flight for good, and the ring shorter by as
 * many entries each time.
 */
void net_pairs_reset(struct net_dp *dp, bool restarted_only)
{
	unsigned int i;

	for (i = 0; i < dp->num_pairs; i++) {
		struct net_pair *p = &dp->pairs[i];

		if (!restarted_only || !p->rxq->ready ||
		    p->rxq->epoch != p->rx_epoch)
			stash_clear(p);
		if (!restarted_only || !p->txq->ready ||
		    p->txq->epoch != p->tx_epoch)
			p->tx_head = p->tx_n = 0;
		p->rx_epoch = p->rxq->epoch;
		p->tx_epoch = p->txq->epoch;
	}
}

/**
 * net_pairs_steer() - the driver uses @active pairs: backend j is read by
 * pair j % @active's thread, into the receive queue of that thread's first
 * enabled pair (with the pairs paused, or before they run)
 * @dp:		data path
 * @active:	pairs the driver enabled, 1..num_pairs
 *
 * One receive queue a thread: the driver's receive work runs in the
 * thread's own write to the call eventfd whichever of its queues a frame
 * lands on, so a second queue on the same thread buys no parallelism,
 * only an interrupt more per pass and smaller batches for each queue's
 * NAPI (4 pairs on one thread: 0.95x one pair with 4 streams before, 1.02x
 * after, docs/uvirtio-net.md).
 */
void net_pairs_steer(struct net_dp *dp, unsigned int active)
{
	unsigned int i, readers;

	if (!active || active > dp->num_pairs)
		active = dp->num_pairs;
	dp->active = active;
	/* pair k < num_threads is its thread's first pair */
	readers = active < dp->num_threads ? active : dp->num_threads;
	for (i = 0; i < dp->num_pairs; i++)
		dp->pairs[i].nsrc = 0;
	for (i = 0; i < dp->num_pairs; i++) {
		struct net_pair *r = &dp->pairs[i % active % readers];

		r->src[r->nsrc++] = &dp->pairs[i];
		dp->pairs[i].reader = r;
	}
}

/**
 * net_pairs_up() - every pair's backend is connected
 * @dp:		data path
 *
 * Return: true if so
 */
bool net_pairs_up(struct net_dp *dp)
{
	unsigned int i;

	for (i = 0; i < dp->num_pairs; i++)
		if (!atomic_load(&dp->pairs[i].up))
			return false;
	return true;
}

/**
 * net_pairs_stop() - stop and join every pair thread
 * @dp:		data path
 */
void net_pairs_stop(struct net_dp *dp)
{
	uvworker_stop_all(dp->w, dp->num_threads);
}

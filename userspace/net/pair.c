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
 * Transmit path: each chain of the pair's transmit queue is sent as it is
 * (header included where the backend carries it) on the pair's backend.
 * On the socket and tap paths no frame is copied in userspace:
 * recvmsg()/sendmsg() and readv()/writev() work on iovecs that point into
 * the mapped bounce pool (only a software checksum reads a frame into
 * @csum_buf). Between two uvirtio-net dgram peers with shared rings
 * (ring.h) each frame is copied once on each side instead, from the bounce
 * pool into our ring and from the peer's ring into the bounce pool, and
 * takes no system call.
 *
 * A thread holds its pair's lock while it serves; the main thread takes
 * the lock (net_pairs_pause()) to start, stop or re-steer the rings.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
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

/* epoll tags of a pair thread */
#define PTAG_WAKE		1
#define PTAG_KICK_RX		2
#define PTAG_KICK_TX		3
#define PTAG_ROOM		4	/* the peer made room in our ring, or
					 * the reader posted a ring message */
#define PTAG_BACKEND		5	/* + pair index */

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
 * fault_delay() - --fault-delay-ms: sleep before a batch
 * @p:		pair
 */
static void fault_delay(struct net_pair *p)
{
	unsigned int ms = atomic_load_explicit(&p->dp->sh->faults.delay_ms,
					       memory_order_relaxed);

	if (ms)
		usleep(ms * 1000);
}

/**
 * pair_watch() - ask epoll for what the pair can use now
 * @p:		pair
 *
 * For each backend this thread receives from: EPOLLIN unless receiving is
 * paused for lack of buffers; for its own backend: EPOLLOUT while a frame
 * waits for room. A backend fd that changed (stream reconnect) or left
 * this thread (steering) is taken out.
 */
static void pair_watch(struct net_pair *p)
{
	struct net_dp *dp = p->dp;
	unsigned int i, j;
	int ret;

	for (j = 0; j < dp->num_pairs; j++) {
		struct nb *b = &dp->pairs[j].b;
		bool mine = j == p->index, reads = false;
		uint32_t want = 0;
		int fd = b->fd;

		for (i = 0; i < p->nsrc; i++)
			reads |= p->src[i] == &dp->pairs[j];
		/* a dgram socket is not read while no peer is connected */
		if (fd >= 0 && reads && !p->rx_paused && b->connected)
			want |= EPOLLIN;
		if (fd >= 0 && mine &&
		    ((p->tx_held && !nb_ring_waits(b)) || nb_pending_out(b)))
			want |= EPOLLOUT;
		if (p->reg[j].fd >= 0 &&
		    (p->reg[j].fd != fd || (!mine && !reads))) {
			/* fails harmlessly for an fd closed meanwhile */
			uvloop_del(&p->w.loop, p->reg[j].fd);
			p->reg[j].fd = -1;
		}
		if (fd < 0 || (!mine && !reads))
			continue;
		if (p->reg[j].fd >= 0 && p->reg[j].events == want)
			continue;
		if (p->reg[j].fd < 0)
			ret = uvloop_add(&p->w.loop, fd, want, PTAG_BACKEND + j);
		else
			ret = uvloop_mod(&p->w.loop, fd, want, PTAG_BACKEND + j);
		if (ret)
			net_log("pair %u: epoll: %s", p->index, strerror(-ret));
		p->reg[j].fd = fd;
		p->reg[j].events = want;
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
	pair_watch(p);
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
	pair_watch(p);
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
	fault_delay(p);
	p->rx_paused = false;
	uvq_poll_begin(vq);
	for (i = 0; i < p->nsrc && !p->rx_paused && !uvworker_pausing(&p->w);
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
 * tx_one() - send one transmit chain to the pair's backend
 * @p:		pair
 *
 * Return: 0 when the chain is done with (sent or dropped), -EAGAIN when
 * the backend has no room (the chain stays held)
 */
static int tx_one(struct net_pair *p)
{
	const struct net_dp *dp = p->dp;
	struct net_qstats *st = p->txs;
	struct uvq_elem *el = &p->tx;
	struct virtio_net_hdr_v1 h;
	struct iovec sub[UVIRTIO_MAX_QUEUE_SIZE];
	const struct iovec *iov = el->iov;
	unsigned int cnt = el->out_num;
	size_t flen, max;
	struct iovc c;
	int ret, sc;

	if (el->out_len < HDR_LEN + ETH_HLEN) {
		uvcounter_add(&st->drops, 1);
		return 0;
	}
	flen = el->out_len - HDR_LEN;
	iovc_init(&c, el->iov, el->out_num);
	iovc_read(&c, &h, HDR_LEN);
	max = h.gso_type == VIRTIO_NET_HDR_GSO_NONE ? dp->mtu + L2_LEN :
	      NET_GSO_MAX_FRAME;
	if (flen > max) {
		uvcounter_add(&st->drops, 1);
		return 0;
	}
	if (!dp->hdr) {
		/* Not offered, so not negotiated: a driver that did anyway. */
		if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE ||
		    (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
			uvcounter_add(&st->drops, 1);
			return 0;
		}
		sc = iovc_slice(&c, flen, sub, UVIRTIO_MAX_QUEUE_SIZE);
		if (sc < 0) {
			uvcounter_add(&st->errors, 1);
			return 0;
		}
		iov = sub;
		cnt = sc;
	}
	if (!p->b.connected) {
		uvcounter_add(&st->drops, 1);
		return 0;
	}
	ret = nb_send(&p->b, iov, cnt);
	if (ret == -EAGAIN)
		return -EAGAIN;
	if (ret == -EMSGSIZE) {
		uvcounter_add(&st->drops, 1);
		return 0;
	}
	if (ret) {
		uvcounter_add(&st->errors, 1);
		pair_lost(p, ret);
		return 0;
	}
	uvcounter_add(&st->packets, 1);
	uvcounter_add(&st->bytes, flen);
	if (p->b.tx_via_ring)
		uvcounter_add(&st->ring, 1);
	return 0;
}

/**
 * tx_serve() - send what the driver queued on the pair's transmit queue
 * @p:		pair
 */
static void tx_serve(struct net_pair *p)
{
	struct uvq *vq = p->txq;
	struct uvq_elem *el = &p->tx;
	unsigned int done = 0;
	bool yield = false;
	int ret;

	if (!vq->ready) {
		p->tx_held = false;
		return;
	}
	if (nb_pending_out(&p->b)) {
		ret = nb_flush(&p->b);
		if (ret == -EAGAIN)
			return;
		if (ret)
			pair_lost(p, ret);
	}
	fault_delay(p);
	uvq_poll_begin(vq);
	do {
		for (;;) {
			if (!p->tx_held) {
				uvq_elem_init(el, p->tx_iov,
					      UVIRTIO_MAX_QUEUE_SIZE);
				ret = uvq_pop(vq, el);
				if (ret <= 0)
					break;
				if (el->err || el->in_num) {
					uvcounter_add(&p->txs->errors, 1);
					if (el->owned)
						uvq_discard(vq, el);
					continue;
				}
			}
			ret = tx_one(p);
			if (ret == -EAGAIN) {
				p->tx_held = true;
				break;
			}
			p->tx_held = false;
			uvq_push(vq, el, 0);
			if (++done == BATCH) {
				tx_flush(p);
				done = 0;
			}
			/*
			 * A driver that keeps the ring full would keep us
			 * here for good while the main thread waits for the
			 * lock (a signal, a link change, a device event): let
			 * it in; it wakes us when it is done.
			 */
			if (uvworker_pausing(&p->w) || uvworker_stopping(&p->w)) {
				yield = true;
				break;
			}
		}
		tx_flush(p);
		if (p->tx_held || yield)
			break;
	} while (uvq_poll_end(vq));
	if (p->tx_held || yield)
		uvq_poll_end(vq);
}

/**
 * pair_timeout() - how long the thread may sleep
 * @p:		pair
 *
 * Return: -1 (until an event), or TICK_MS while the backend must be
 * reconnected, passt watched or a dgram peer's rings looked after
 */
static int pair_timeout(const struct net_pair *p)
{
	return p->b.connected && p->b.kind != NB_PASST &&
	       !nb_wants_tick(&p->b) ? -1 : TICK_MS;
}

/**
 * pair_thread() - a queue pair's thread
 * @arg:	struct net_pair
 *
 * Return: NULL
 */
static void *pair_thread(void *arg)
{
	struct net_pair *p = arg;
	struct net_dp *dp = p->dp;
	struct epoll_event ev[NET_MAX_PAIRS + 3];
	bool rx = true, tx = true, tick = false, ctl = false;
	enum uvworker_state st;
	uint32_t ignore;
	int i, n, timeout;

	if (dp->pin)
		uvworker_pin(p->index);
	for (;;) {
		st = uvworker_enter(&p->w);
		if (st == UVWORKER_STOP) {
			uvworker_leave(&p->w);
			break;
		}
		/* the rings may have been started, stopped or re-steered */
		if (st == UVWORKER_RESUMED)
			rx = tx = true;
		if (tick) {
			pair_tick(p);
			tx |= p->tx_held;
		}
		if (ctl)
			pair_ctl(p);
		if (tx)
			tx_serve(p);
		if (rx)
			rx_serve(p);
		pair_watch(p);
		timeout = pair_timeout(p);
		uvworker_leave(&p->w);

		n = uvloop_wait(&p->w.loop, ev, NET_MAX_PAIRS + 3, timeout);
		rx = tx = ctl = false;
		tick = !n;
		ignore = atomic_load_explicit(&dp->sh->faults.ignore_kicks,
					      memory_order_relaxed);
		for (i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64;

			if (tag == PTAG_WAKE) {
				uvworker_drain(p->w.wake_fd);
				rx = tx = tick = true;
			} else if (tag == PTAG_KICK_RX) {
				if (uvworker_drain(p->rx_kick_fd))
					uvcounter_add(&p->rxs->kicks, 1);
				rx |= !(ignore & 1U << NET_PAIR_RXQ(p->index));
			} else if (tag == PTAG_ROOM) {
				uvworker_drain(p->b.room_fd);
				tx = ctl = true;
			} else if (tag == PTAG_KICK_TX) {
				if (uvworker_drain(p->tx_kick_fd))
					uvcounter_add(&p->txs->kicks, 1);
				tx |= !(ignore & 1U << NET_PAIR_TXQ(p->index));
			} else {
				if (ev[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
					tx = true;
				if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
					rx = true;
			}
		}
	}
	return NULL;
}

/**
 * net_pairs_alloc() - allocate @n queue pairs (backends not set up)
 * @dp:		data path
 * @n:		pairs
 *
 * Return: 0 or -ENOMEM
 */
int net_pairs_alloc(struct net_dp *dp, unsigned int n)
{
	unsigned int i, j;

	dp->pairs = calloc(n, sizeof(*dp->pairs));
	dp->w = calloc(n, sizeof(*dp->w));
	if (!dp->pairs || !dp->w)
		return -ENOMEM;
	dp->num_pairs = n;
	dp->active = 1;
	for (i = 0; i < n; i++) {
		struct net_pair *p = &dp->pairs[i];

		dp->w[i] = &p->w;

		p->dp = dp;
		p->index = i;
		p->b.fd = -1;
		for (j = 0; j < NET_MAX_PAIRS; j++)
			p->reg[j].fd = -1;
	}
	return 0;
}

/**
 * net_pairs_init() - the pairs' queues, epolls and wake-up fds, once the
 * device exists (threads not started yet)
 * @dp:		data path, @dev created
 *
 * Return: 0 or -errno
 */
int net_pairs_init(struct net_dp *dp)
{
	unsigned int i;
	int ret;

	for (i = 0; i < dp->num_pairs; i++) {
		struct net_pair *p = &dp->pairs[i];
		struct uvdev_queue *rq = &dp->dev->q[NET_PAIR_RXQ(i)];
		struct uvdev_queue *tq = &dp->dev->q[NET_PAIR_TXQ(i)];

		p->rxq = &rq->vq;
		p->txq = &tq->vq;
		p->rx_kick_fd = rq->kick_fd;
		p->tx_kick_fd = tq->kick_fd;
		p->rxs = &dp->sh->stats[NET_PAIR_RXQ(i)];
		p->txs = &dp->sh->stats[NET_PAIR_TXQ(i)];
		p->rx_paused = true;
		atomic_store(&p->up, p->b.connected);
		ret = uvworker_init(&p->w, PTAG_WAKE);
		if (!ret)
			ret = uvloop_add(&p->w.loop, rq->kick_fd, EPOLLIN,
					 PTAG_KICK_RX);
		if (!ret)
			ret = uvloop_add(&p->w.loop, tq->kick_fd, EPOLLIN,
					 PTAG_KICK_TX);
		if (!ret && p->b.room_fd >= 0)
			ret = uvloop_add(&p->w.loop, p->b.room_fd, EPOLLIN,
					 PTAG_ROOM);
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

	for (i = 0; i < dp->num_pairs; i++) {
		ret = uvworker_start(&dp->pairs[i].w, pair_thread,
				     &dp->pairs[i]);
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
	uvworker_wake_all(dp->w, dp->num_pairs);
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
	uvworker_pause_all(dp->w, dp->num_pairs);
}

/**
 * net_pairs_resume() - give the pairs back to their threads, which then
 * serve both queues at once (kicks may have been latched meanwhile)
 * @dp:		data path
 */
void net_pairs_resume(struct net_dp *dp)
{
	uvworker_resume_all(dp->w, dp->num_pairs);
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
			p->tx_held = false;
		p->rx_epoch = p->rxq->epoch;
		p->tx_epoch = p->txq->epoch;
	}
}

/**
 * net_pairs_steer() - the driver uses @active pairs: backend j is read by
 * pair j % @active's thread (with the pairs paused, or before they run)
 * @dp:		data path
 * @active:	pairs the driver enabled, 1..num_pairs
 */
void net_pairs_steer(struct net_dp *dp, unsigned int active)
{
	unsigned int i;

	if (!active || active > dp->num_pairs)
		active = dp->num_pairs;
	dp->active = active;
	for (i = 0; i < dp->num_pairs; i++)
		dp->pairs[i].nsrc = 0;
	for (i = 0; i < dp->num_pairs; i++) {
		struct net_pair *t = &dp->pairs[i % active];

		t->src[t->nsrc++] = &dp->pairs[i];
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
	uvworker_stop_all(dp->w, dp->num_pairs);
}

/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * pair.h - uvirtio-net's data path: queue pairs served by a few threads
 *
 * Each queue pair has its own kick and call eventfds and backend (its own
 * dgram socket or tap queue). Pairs share threads (--threads): pair i is
 * served by thread i % threads, which sleeps on one epoll instance for all
 * of its pairs, so a round trip over several pairs wakes no more threads
 * than over one. The main thread keeps everything device-wide: events,
 * signals, the link, the status filesystem. It changes what the threads
 * read (struct net_dp, the rings) only with every thread paused
 * (net_pairs_pause()).
 *
 * Receive steering: the driver may enable fewer pairs than the device
 * has (VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET). The backend of pair j is read by
 * the thread of pair j % active, which fills one receive queue, that of
 * its first enabled pair (pair j % active % min(active, threads)): frames
 * of one backend queue (one flow, as the peer or the tap picked it) stay
 * in order, no frame lands on a queue the driver does not use, and a
 * thread interrupts the driver on one queue (net_pairs_steer()). Each
 * pair still transmits on its own backend.
 */
#ifndef UVIRTIO_NET_PAIR_H
#define UVIRTIO_NET_PAIR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_net.h>

#include "backend.h"
#include "dev.h"
#include "net.h"
#include "worker.h"

/* Receive chains a pair may hold before one frame is read into them. */
#define NET_STASH_MAX		256
/* Buffers of one receive chain. */
#define NET_RX_IOV		8
/* Largest TSO frame the driver may send or we may hand it. */
#define NET_GSO_MAX_FRAME	(65535 + 18)

/* Transmit chains taken from the ring and sent together (one sendmmsg()). */
#define NET_TX_BATCH		NB_SEND_MAX
/*
 * Buffers for a batch: the chains and, for backends without the header,
 * their frames' pieces. A chain is taken only while room for the longest
 * one and its frame is left, so no chain is refused for want of room.
 */
#define NET_TX_IOV		(3 * UVIRTIO_MAX_QUEUE_SIZE)

/**
 * struct net_tx_slot - one transmit chain of a batch
 * @el:		the chain (its buffers are in the pair's @tx_iov)
 * @hdr:	its virtio-net header, read when it was taken
 * @to:		the pair (of this thread) whose backend it leaves on
 * @frame:	what goes to the backend
 */
struct net_tx_slot {
	struct uvq_elem el;
	struct virtio_net_hdr_v1 hdr;
	struct net_pair *to;
	struct nb_frame frame;
};

/**
 * struct net_rx_slot - one receive chain taken from the ring, not yet filled
 * @el:		the chain
 * @iov:	its buffers
 */
struct net_rx_slot {
	struct uvq_elem el;
	struct iovec iov[NET_RX_IOV];
};

struct net_dp;
struct net_thread;

/**
 * struct net_pair - one queue pair
 * @dp:		the data path it belongs to
 * @t:		the thread serving it; that thread's lock covers the rings,
 *		@b and everything below (the main thread takes it, through
 *		uvworker_pause_*(), to change them)
 * @index:	pair number
 * @rxq:	receive queue (device to driver)
 * @txq:	transmit queue
 * @rxs:	@rxq's counters
 * @txs:	@txq's counters
 * @rx_kick_fd: @rxq's kick eventfd
 * @tx_kick_fd: @txq's kick eventfd
 * @b:		this pair's backend
 * @up:		@b is connected (read by the main thread for the link)
 * @src:	backends this pair receives from (steering, see above)
 * @nsrc:	entries in @src
 * @reader:	the pair that receives from @b (steering)
 * @due_rx:	serve the receive side on the thread's next pass
 * @due_tx:	serve the transmit side on the next pass
 * @due_ctl:	act on the peer's ring messages on the next pass
 * @rx_paused:	no receive buffers: the backends are not read
 * @stash:	receive chains taken, in ring order
 * @stash_head:	first of them
 * @stash_n:	how many
 * @stash_bytes: writable bytes in them
 * @rx_iov:	one frame's buffers, gathered from the stash
 * @tx:		transmit chains taken, @tx_n of them; those from @tx_head on
 *		are not sent yet: held, waiting for room in the backend of
 *		@tx[@tx_head]
 * @tx_head:	first chain of @tx not sent
 * @tx_n:	chains in @tx
 * @tx_iov:	their buffers
 * @rx_epoch:	epoch of @rxq the stash was taken from
 * @tx_epoch:	epoch of @txq @tx was taken from
 * @csum_buf:	scratch for software checksums
 */
struct net_pair {
	struct net_dp *dp;
	struct net_thread *t;
	unsigned int index;
	struct uvq *rxq;
	struct uvq *txq;
	struct net_qstats *rxs;
	struct net_qstats *txs;
	int rx_kick_fd;
	int tx_kick_fd;
	struct nb b;
	_Atomic bool up;
	struct net_pair *src[NET_MAX_PAIRS];
	unsigned int nsrc;
	struct net_pair *reader;
	bool due_rx;
	bool due_tx;
	bool due_ctl;
	bool rx_paused;
	struct net_rx_slot stash[NET_STASH_MAX];
	unsigned int stash_head;
	unsigned int stash_n;
	size_t stash_bytes;
	struct iovec rx_iov[UIO_MAXIOV];
	struct net_tx_slot tx[NET_TX_BATCH];
	unsigned int tx_head;
	unsigned int tx_n;
	struct iovec tx_iov[NET_TX_IOV];
	uint32_t rx_epoch;
	uint32_t tx_epoch;
	uint8_t csum_buf[NET_GSO_MAX_FRAME];
};

/**
 * struct net_thread - a thread serving some of the pairs
 * @dp:		the data path it belongs to
 * @index:	thread number
 * @w:		the thread, its lock and its loop, which watches its pairs'
 *		kick and room fds and the backends in @reg
 * @pairs:	the pairs it serves (pair i on thread i % num_threads)
 * @npairs:	entries in @pairs
 * @reg:	backend fds registered in the loop, by pair, with their events
 * @due_tick:	do the pairs' periodic work on the next pass
 */
struct net_thread {
	struct net_dp *dp;
	unsigned int index;
	struct uvworker w;
	struct net_pair *pairs[NET_MAX_PAIRS];
	unsigned int npairs;
	struct {
		int fd;
		uint32_t events;
	} reg[NET_MAX_PAIRS];
	bool due_tick;
};

/**
 * struct net_dp - what every pair thread reads; the main thread writes it
 * only with every pair paused
 * @sh:		counters, faults, the main thread's wake-up fd
 * @dev:	the device (its queues)
 * @pairs:	the queue pairs
 * @threads:	the threads serving them
 * @w:		&threads[i].w, for the uvworker_*_all() calls
 * @num_pairs:	how many (--queues)
 * @num_threads: how many threads (--threads), 1..num_pairs
 * @active:	pairs the driver enabled (1 until it says otherwise)
 * @mtu:	MTU offered
 * @hdr:	the backend carries the virtio-net header (dgram, tap)
 * @mrg:	MRG_RXBUF negotiated
 * @guest_csum:	driver takes partial checksums
 * @guest_tso4:	driver takes IPv4 TSO frames
 * @guest_tso6:	driver takes IPv6 TSO frames
 * @pin:	pin thread i to the i-th usable CPU
 */
struct net_dp {
	struct net_shared *sh;
	struct uvdev *dev;
	struct net_pair *pairs;
	struct net_thread *threads;
	struct uvworker **w;
	unsigned int num_pairs;
	unsigned int num_threads;
	unsigned int active;
	unsigned int mtu;
	bool hdr;
	bool mrg;
	bool guest_csum;
	bool guest_tso4;
	bool guest_tso6;
	bool pin;
};

int net_pairs_alloc(struct net_dp *dp, unsigned int n, unsigned int threads);
int net_pairs_init(struct net_dp *dp);
int net_pairs_run(struct net_dp *dp);
void net_pairs_pause(struct net_dp *dp);
void net_pairs_resume(struct net_dp *dp);
void net_pairs_wake(struct net_dp *dp);
void net_pairs_reset(struct net_dp *dp, bool restarted_only);
void net_pairs_steer(struct net_dp *dp, unsigned int active);
bool net_pairs_up(struct net_dp *dp);
void net_pairs_stop(struct net_dp *dp);

void net_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* UVIRTIO_NET_PAIR_H */

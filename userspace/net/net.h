/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * net.h - uvirtio-net: what other threads of the process may touch
 *
 * The data path runs in one thread per queue pair. Another thread (the
 * status filesystem, a signal handler) may read the counters, set or lift
 * test faults and change the link state at any time, without stopping it:
 *
 *   counters	struct net_qstats, one cache line per queue, written only by
 *		the thread serving the queue (uvcounter_add(): no locked
 *		instruction), read with relaxed loads (counter.h);
 *   faults	struct net_faults, relaxed atomic words the data path reads
 *		once per batch; SIGUSR1 clears them all (net_faults_clear());
 *   link	net_set_link(): stores the wish and wakes the data path through
 *		an eventfd; the data path does the UVIRTIO_SET_CONFIG.
 */
#ifndef UVIRTIO_NET_H
#define UVIRTIO_NET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/uvirtio.h>

#include "counter.h"

/*
 * Queue pair P receives on queue 2P (device to driver) and transmits on
 * queue 2P + 1; the control queue follows the last pair. Pair 0 is
 * queues 0 and 1.
 */
#define NET_RXQ			0
#define NET_TXQ			1
/* Most queue pairs (--queues): the fault masks hold a bit per queue. */
#define NET_MAX_PAIRS		8
#define NET_MAX_QUEUES		(2 * NET_MAX_PAIRS)
#define NET_PAIR_RXQ(p)		(2 * (p))
#define NET_PAIR_TXQ(p)		(2 * (p) + 1)

/**
 * struct net_qstats - one queue's counters (counter.h: one writer, the
 * thread serving the queue)
 * @kicks:	kick eventfd wake-ups taken (ignored ones included)
 * @irqs:	call eventfd writes (interrupts asked of the kernel)
 * @irqs_suppressed: completions published without a call eventfd write
 *		because of --fault-withhold-irq
 * @packets:	frames passed (rx: to the driver; tx: to the backend)
 * @bytes:	bytes of those frames, without the virtio-net header
 * @drops:	frames dropped: malformed, too short or longer than the MTU
 *		allows, offload the other side cannot take, link down
 * @errors:	bad chains from the driver and backend I/O errors
 * @ring:	frames of @packets that went through a shared ring with a
 *		dgram peer rather than the socket
 */
struct net_qstats {
	_Atomic uint64_t kicks;
	_Atomic uint64_t irqs;
	_Atomic uint64_t irqs_suppressed;
	_Atomic uint64_t packets;
	_Atomic uint64_t bytes;
	_Atomic uint64_t drops;
	_Atomic uint64_t errors;
	_Atomic uint64_t ring;
} __attribute__((aligned(64)));

/**
 * struct net_faults - test features: faults injected on purpose
 * @ignore_kicks: bit Q set: kicks of queue Q are consumed and not acted
 *		on (the queue still runs when other events wake it)
 * @withhold_irq: bit Q set: completions of queue Q are published in the
 *		shadow ring but the call eventfd is never written
 * @delay_ms:	sleep this long before serving each batch (0: none)
 *
 * Set from the command line (--fault-*), cleared by SIGUSR1 or by anyone
 * calling net_faults_clear(). Relaxed atomics: a fault takes effect at the
 * data path's next batch.
 */
struct net_faults {
	_Atomic uint32_t ignore_kicks;
	_Atomic uint32_t withhold_irq;
	_Atomic uint32_t delay_ms;
};

/**
 * struct net_shared - the part of the emulator other threads may use
 * @stats:	per-queue counters, indexed by queue (NET_PAIR_RXQ(),
 *		NET_PAIR_TXQ())
 * @faults:	test faults
 * @link_want:	link state asked for by net_set_link() (1 up, 0 down)
 * @link_up:	link state the driver was last told (read only)
 * @backend_up:	the backend is connected, every queue pair's (read only)
 * @wake_fd:	eventfd that wakes the main thread (link changes)
 */
struct net_shared {
	struct net_qstats stats[NET_MAX_QUEUES];
	struct net_faults faults;
	_Atomic uint32_t link_want;
	_Atomic uint32_t link_up;
	_Atomic uint32_t backend_up;
	int wake_fd;
};

int net_set_link(struct net_shared *s, bool up);
void net_faults_clear(struct net_shared *s);

#endif /* UVIRTIO_NET_H */

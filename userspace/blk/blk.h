/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * blk.h - uvirtio-blk's per-queue serving state, and what other threads
 * may read of it
 *
 * Each virtqueue is served by its own thread (struct blk_queue). What that
 * thread does can be observed and steered from outside it without stopping
 * it:
 *
 *   struct blk_qstats	  counters, written only by the queue's thread with
 *			  uvcounter_add() (counter.h: relaxed atomic stores,
 *			  no locked instruction); any thread reads them with
 *			  relaxed loads (each counter is exact, the set is
 *			  not a snapshot)
 *   struct blk_inflight  one slot per ring head: what request is in flight
 *			  under that head since when; a per-slot seqcount
 *			  lets a reader take a consistent copy
 *			  (blk_inflight_read()) while the queue runs
 *   struct blk_faults	  test-only fault switches, per queue and per
 *			  device; atomic flags, set or cleared by any thread
 *			  (SIGUSR1 clears them all); the queue's thread reads
 *			  them on every pass
 *
 * A status filesystem finds them all through struct blk_status:
 * blk_status() returns the emulator's one instance.
 */
#ifndef UVIRTIO_BLK_BLK_H
#define UVIRTIO_BLK_BLK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/uvirtio.h>

#include "counter.h"

#include "backend.h"
#include "req.h"
#include "uring.h"
#include "vq.h"
#include "worker.h"

#define BLK_CACHELINE		64

/*
 * --io auto on tmpfs: reads and writes of at least this many data bytes go
 * through io_uring (its worker threads copy beside the queue's thread),
 * smaller ones are served in the queue's thread.
 */
#define BLK_TMPFS_URING_MIN	(64U << 10)

/**
 * struct blk_qstats - counters of one queue (relaxed atomics)
 * @kicks:	kick eventfd wake-ups handled
 * @irqs:	call eventfd writes (interrupts asked of the kernel)
 * @irqs_suppressed: completions published without an interrupt of their
 *		own: the driver's used_event (EVENT_IDX) did not ask for one
 *		yet and more completions were about to follow, or
 *		--fault-withhold-irq withheld it
 * @requests:	requests completed (every type, errors included)
 * @bytes:	data bytes read or written
 * @errors:	requests completed with VIRTIO_BLK_S_IOERR or UNSUPP, or
 *		rejected as bad chains
 * @polls:	passes of the adaptive avail-ring poll that found work
 * @poll_misses: passes that found none before the poll budget ran out
 * @holds:	completion holds (interrupt coalescing) that saw more work
 *		arrive and so saved an interrupt
 * @uring:	requests handed to the queue's io_uring (the rest of a file
 *		backend's were served in the queue's thread)
 * @fixed:	reads and writes handed over as READ_FIXED or WRITE_FIXED
 *		on the bounce pool (their buffers lay in a registered pool,
 *		in at most BLK_URING_PARTS_MAX pieces), retries included
 * @fixed_pieces: those of them in several pieces of the pool (one
 *		READV_FIXED / WRITEV_FIXED, or one operation per piece)
 * @enters:	io_uring_enter() calls of the queue's thread
 * @mapped:	reads and writes copied through the file's mapping in the
 *		queue's thread (backend_map(): a file on tmpfs or ramfs)
 */
struct blk_qstats {
	_Atomic uint64_t kicks;
	_Atomic uint64_t irqs;
	_Atomic uint64_t irqs_suppressed;
	_Atomic uint64_t requests;
	_Atomic uint64_t bytes;
	_Atomic uint64_t errors;
	_Atomic uint64_t polls;
	_Atomic uint64_t poll_misses;
	_Atomic uint64_t holds;
	_Atomic uint64_t uring;
	_Atomic uint64_t fixed;
	_Atomic uint64_t fixed_pieces;
	_Atomic uint64_t enters;
	_Atomic uint64_t mapped;
} __attribute__((aligned(BLK_CACHELINE)));

/**
 * struct blk_inflight - one in-flight request, readable from other threads
 * @seq:	seqcount: odd while the queue's thread rewrites the slot
 * @active:	1 while a request is in flight under this head
 * @type:	VIRTIO_BLK_T_*
 * @head:	ring head (also the slot's index)
 * @sector:	first 512-byte sector
 * @len:	data bytes
 * @start_ns:	CLOCK_MONOTONIC nanoseconds when the request was taken
 */
struct blk_inflight {
	_Atomic uint32_t seq;
	_Atomic uint32_t active;
	_Atomic uint32_t type;
	_Atomic uint32_t head;
	_Atomic uint64_t sector;
	_Atomic uint64_t len;
	_Atomic uint64_t start_ns;
};

/**
 * struct blk_inflight_copy - a consistent copy of one struct blk_inflight
 * @active:	a request is in flight
 * @type:	VIRTIO_BLK_T_*
 * @head:	ring head
 * @sector:	first sector
 * @len:	data bytes
 * @start_ns:	start time, CLOCK_MONOTONIC ns
 */
struct blk_inflight_copy {
	bool active;
	uint32_t type;
	uint32_t head;
	uint64_t sector;
	uint64_t len;
	uint64_t start_ns;
};

/**
 * struct blk_qfaults - test-only fault switches of one queue
 * @ignore_kicks: the queue neither polls nor reacts to kicks
 * @withhold_irq: completions reach the shadow ring, the call fd is never
 *		written
 */
struct blk_qfaults {
	atomic_bool ignore_kicks;
	atomic_bool withhold_irq;
};

/**
 * struct blk_faults - test-only fault switches of the device
 * @delay_ms:	every request waits this long before it completes (0: off)
 */
struct blk_faults {
	_Atomic uint32_t delay_ms;
};

struct blk_req;

/**
 * struct blk_queue - one virtqueue and the thread that serves it
 * @index:	queue index
 * @w:		the serving thread; its lock covers @vq and everything
 *		below but @stats, @faults and @inflight (the main thread
 *		takes it, through uvworker_pause_*(), to start or stop the
 *		rings); its loop watches the kick fd and the io_uring eventfd
 * @vq:		the rings (in struct uvdev)
 * @kick_fd:	kick eventfd (in struct uvdev)
 * @io:		io_uring of this queue (file backends, and every queue with
 *		blk_engine.ring_cmds; @io.ready if set up)
 * @ring_fd:	eventfd @io signals on completions, or -1 (also with
 *		blk_engine.ring_cmds: the thread sleeps in @io itself)
 * @dev_fd:	the /dev/uvirtio fd, for the io_uring commands
 * @waiting:	a UVIRTIO_URING_WAIT is in flight
 * @wait_over:	WAIT failed for good (device dead or removed): not re-sent
 * @wake_armed:	a poll of the worker's wake fd is in flight on @io
 * @commit_told: a failed UVIRTIO_URING_COMMIT was reported on stderr
 * @reqs:	one request slot per possible ring head
 * @iovs:	iovec storage of the slots
 * @delayed:	FIFO of requests held back by the delay fault
 * @delayed_tail: last of @delayed
 * @poll_ns:	current adaptive poll budget
 * @hold_ns:	current adaptive completion hold (interrupt coalescing)
 * @bad_told:	bad chains reported on stderr so far
 * @stats:	counters
 * @faults:	fault switches
 * @inflight:	in-flight table, one slot per head
 */
struct blk_queue {
	unsigned int index;
	struct uvworker w;
	struct uvq *vq;
	int kick_fd;
	struct blk_uring io;
	int ring_fd;
	int dev_fd;
	bool waiting;
	bool wait_over;
	bool wake_armed;
	bool commit_told;
	struct blk_req *reqs;
	struct iovec *iovs;
	struct blk_req *delayed;
	struct blk_req *delayed_tail;
	uint64_t poll_ns;
	uint64_t hold_ns;
	unsigned int bad_told;
	struct blk_qstats stats;
	struct blk_qfaults faults __attribute__((aligned(BLK_CACHELINE)));
	struct blk_inflight inflight[UVIRTIO_MAX_QUEUE_SIZE];
} __attribute__((aligned(BLK_CACHELINE)));

/**
 * struct blk_engine - what every queue thread shares (read-only once
 * the threads run, but for the atomics)
 * @bd:		the disk as requests see it
 * @be:		backing store
 * @num_queues:	queues
 * @queue_size:	maximum ring size
 * @seg_max:	most data segments in one request (the iovec slot size)
 * @poll_max_ns: adaptive poll budget ceiling, 0 with --no-poll
 * @hold_max_ns: adaptive completion hold ceiling, 0: signal at once
 * @pin:	pin queue i's thread to CPU i modulo the CPUs we may use
 * @use_uring:	file backend: I/O through io_uring
 * @ring_cmds:	each queue thread is driven by its io_uring: it sleeps in
 *		UVIRTIO_URING_WAIT and completes through UVIRTIO_URING_COMMIT
 *		instead of the kick and call eventfds
 * @uring_min:	with @use_uring, reads and writes of fewer data bytes are
 *		served in the queue's thread (0: every one through io_uring;
 *		UINT32_MAX for a mapped file, whose reads and writes are
 *		copies in the thread and whose pool io_uring does not get)
 * @faults:	device-wide fault switches
 * @q:		queues
 * @w:		their threads (&q[i].w), for the uvworker_*_all() calls
 */
struct blk_engine {
	struct blk_dev *bd;
	struct backend *be;
	unsigned int num_queues;
	unsigned int queue_size;
	unsigned int seg_max;
	uint64_t poll_max_ns;
	uint64_t hold_max_ns;
	bool pin;
	bool use_uring;
	bool ring_cmds;
	uint32_t uring_min;
	struct blk_faults faults;
	struct blk_queue *q;
	struct uvworker **w;
};

/**
 * struct blk_status - where a status reader finds the emulator's state
 * @dev_index:	uvirtio device index ("uvirtio-<index>")
 * @eng:	the engine: queues, counters, in-flight tables, faults
 */
struct blk_status {
	unsigned int dev_index;
	struct blk_engine *eng;
};

struct uvdev;

int blk_engine_init(struct blk_engine *eng, struct uvdev *dev,
		    void *pool, uint64_t pool_size);
int blk_engine_run(struct blk_engine *eng);
void blk_engine_pause(struct blk_engine *eng);
void blk_engine_resume(struct blk_engine *eng);
void blk_engine_kick_all(struct blk_engine *eng);
void blk_engine_lift_faults(struct blk_engine *eng);
void blk_engine_stop(struct blk_engine *eng);
void blk_inflight_read(const struct blk_inflight *s,
		       struct blk_inflight_copy *c);
struct blk_status *blk_status(void);

#endif /* UVIRTIO_BLK_BLK_H */

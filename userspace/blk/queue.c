// SPDX-License-Identifier: GPL-2.0-only
/*
 * queue.c - one thread per virtqueue: take requests, run them, complete
 *
 * A queue's thread owns its rings while it holds its worker's lock. Requests
 * of the RAM and null backends (and every request that is not a plain
 * read, write or flush) are served inline; reads, writes and flushes of a
 * file or block device go to the queue's own io_uring, submitted in one
 * batch per pass over the avail ring and reaped in batches.
 *
 * Notifications: while the thread works it sets UVIRTIO_QF_POLLING, so the
 * driver's kicks cost it no wake-up. When the avail ring runs dry it polls
 * it (and the io_uring completion queue) for a bounded, adaptive time before
 * it clears the flag, checks once more and sleeps on its kick fd. Completions
 * are published in batches; between batches the call fd is written only if
 * the driver's used_event asks for an interrupt (EVENT_IDX), and always
 * before the thread sleeps.
 *
 * Interrupt coalescing: when the avail ring runs dry with completions not
 * yet signalled, the thread first holds them back for a short adaptive time
 * (q_hold()). A driver kept busy by a deep queue (fio at QD32 submits one
 * request per completion it reaps) hands over its next requests within that
 * time, and a whole burst then shares one interrupt instead of costing one
 * each; at queue depth 1 nothing comes, the hold shrinks to its floor and
 * the request pays only that.
 *
 * Driven by its io_uring (blk_engine.ring_cmds), a queue thread sleeps in
 * one io_uring_enter() on a UVIRTIO_URING_WAIT (the driver's kick), its
 * file I/O and a poll of its wake-up eventfd, and hands completions to the
 * driver with a UVIRTIO_URING_COMMIT queued on the same ring, where they
 * are taken in its own task: no eventfd is read or written, no epoll, and
 * under load one io_uring_enter() carries a whole pass's I/O and commit.
 * The adaptive poll and hold work as before (UVIRTIO_QF_POLLING keeps the
 * kicks, and so the WAIT, quiet while the thread polls).
 *
 * The main thread starts and stops the rings (driver events) with the
 * thread out of the way: blk_engine_pause() asks every thread to finish its
 * running I/O and let go of its lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "blk.h"
#include "clock.h"
#include "dev.h"

/* Completions published per batch while a queue is busy. */
#define BLK_BATCH		32
/* Bad chains reported on stderr per queue (all are counted as errors). */
#define BLK_BAD_TELL		10
/* The adaptive poll and hold never shrink below ceiling / BLK_SPIN_FLOOR. */
#define BLK_SPIN_FLOOR		8
/* Spin turns between two reads of the clock (a mask: a power of 2, - 1). */
#define BLK_SPIN_CLOCK_MASK	7

/* io_uring tags of a queue thread's own commands (requests are pointers) */
#define QCMD_WAIT		1
#define QCMD_COMMIT		2
#define QCMD_WAKE		3

/* epoll tags of a queue thread */
#define QTAG_KICK		1
#define QTAG_WAKE		2
#define QTAG_RING		3

/**
 * struct blk_req - one request slot, indexed by ring head
 * @el:		the chain as uvq_pop() returned it (iovecs not kept)
 * @ri:		what it asks
 * @data:	iovecs of its data part (point into the bounce pool)
 * @used_len:	bytes written into the chain, status byte included
 * @io_done:	io_uring: data bytes moved so far (@data starts after them)
 * @io_tries:	io_uring: operations that moved nothing so far
 * @io_parts:	io_uring: the fixed-buffer operations the transfer in flight
 *		was split into (@io_parts.left is 0 if it went as one)
 * @done_ns:	delay fault: when it may complete
 * @next:	delay fault FIFO
 */
struct blk_req {
	struct uvq_elem el;
	struct blk_req_info ri;
	struct iovec *data;
	uint32_t used_len;
	uint64_t io_done;
	unsigned int io_tries;
	struct blk_io_parts io_parts;
	uint64_t done_ns;
	struct blk_req *next;
};

static struct blk_status blk_status_inst;

/**
 * blk_status() - the emulator's state for status readers
 *
 * Return: the one instance (its @eng is NULL before the engine is set up)
 */
struct blk_status *blk_status(void)
{
	return &blk_status_inst;
}

/**
 * inflight_set() - record a request in its head's in-flight slot
 * @q:		queue
 * @r:		request, or NULL to clear the slot of @head
 * @head:	ring head
 */
static void inflight_set(struct blk_queue *q, const struct blk_req *r,
			 unsigned int head)
{
	struct blk_inflight *s = &q->inflight[head];
	uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);

	atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	if (r) {
		atomic_store_explicit(&s->type, r->ri.type,
				      memory_order_relaxed);
		atomic_store_explicit(&s->head, head, memory_order_relaxed);
		atomic_store_explicit(&s->sector, r->ri.sector,
				      memory_order_relaxed);
		atomic_store_explicit(&s->len, r->ri.len, memory_order_relaxed);
		atomic_store_explicit(&s->start_ns, uv_now_ns(),
				      memory_order_relaxed);
	}
	atomic_store_explicit(&s->active, r ? 1 : 0, memory_order_relaxed);
	atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
}

/**
 * blk_inflight_read() - take a consistent copy of an in-flight slot
 * @s:		slot (being written by a queue thread)
 * @c:		copy
 */
void blk_inflight_read(const struct blk_inflight *s,
		       struct blk_inflight_copy *c)
{
	uint32_t seq;

	do {
		do {
			seq = atomic_load_explicit(&s->seq,
						   memory_order_acquire);
		} while (seq & 1);
		c->active = atomic_load_explicit(&s->active,
						 memory_order_relaxed);
		c->type = atomic_load_explicit(&s->type, memory_order_relaxed);
		c->head = atomic_load_explicit(&s->head, memory_order_relaxed);
		c->sector = atomic_load_explicit(&s->sector,
						 memory_order_relaxed);
		c->len = atomic_load_explicit(&s->len, memory_order_relaxed);
		c->start_ns = atomic_load_explicit(&s->start_ns,
						   memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
	} while (atomic_load_explicit(&s->seq, memory_order_relaxed) != seq);
}

/**
 * q_push() - write one completion into the shadow ring
 * @q:		queue
 * @r:		request
 */
static void q_push(struct blk_queue *q, struct blk_req *r)
{
	uint8_t st = r->el.owned && r->used_len ? *r->ri.status : 0;

	inflight_set(q, NULL, r->el.head);
	uvcounter_add(&q->stats.requests, 1);
	if (!r->used_len || st != VIRTIO_BLK_S_OK)
		uvcounter_add(&q->stats.errors, 1);
	else if (r->ri.type == VIRTIO_BLK_T_IN ||
		 r->ri.type == VIRTIO_BLK_T_OUT)
		uvcounter_add(&q->stats.bytes, r->ri.len);
	if (r->used_len)
		uvq_push(q->vq, &r->el, r->used_len);
	else
		uvq_discard(q->vq, &r->el);
}

/**
 * q_complete() - a request is done: complete it now, or after the delay
 * fault's time
 * @q:		queue
 * @eng:	engine
 * @r:		request, @r->used_len set (0: fail it)
 */
static void q_complete(struct blk_queue *q, struct blk_engine *eng,
		       struct blk_req *r)
{
	uint32_t delay = atomic_load_explicit(&eng->faults.delay_ms,
					      memory_order_relaxed);

	if (delay) {
		r->done_ns = atomic_load_explicit(
				&q->inflight[r->el.head].start_ns,
				memory_order_relaxed) + delay * 1000000ULL;
		if (r->done_ns > uv_now_ns()) {
			r->next = NULL;
			if (q->delayed_tail)
				q->delayed_tail->next = r;
			else
				q->delayed = r;
			q->delayed_tail = r;
			return;
		}
	}
	q_push(q, r);
}

/**
 * q_release_delayed() - complete held-back requests whose time has come
 * @q:		queue
 * @all:	complete all of them, due or not
 *
 * Return: how many were completed
 */
static unsigned int q_release_delayed(struct blk_queue *q, bool all)
{
	uint64_t now = q->delayed ? uv_now_ns() : 0;
	unsigned int n = 0;

	while (q->delayed && (all || q->delayed->done_ns <= now)) {
		struct blk_req *r = q->delayed;

		q->delayed = r->next;
		if (!q->delayed)
			q->delayed_tail = NULL;
		q_push(q, r);
		n++;
	}
	return n;
}

/**
 * q_signal() - publish completions; interrupt the driver if it wants one
 * or if @force
 * @q:		queue
 * @force:	signal whatever used_event says (the thread is going idle)
 */
static void q_signal(struct blk_queue *q, bool force)
{
	struct uvq *vq = q->vq;
	uint16_t pending = uvq_unsignalled(vq);
	uint64_t before = vq->stats.signals;
	enum uvq_signal how = force ? UVQ_SIGNAL_ALWAYS : UVQ_SIGNAL_IF_NEEDED;

	if (!vq->ready || !pending)
		return;
	if (atomic_load_explicit(&q->faults.withhold_irq,
				 memory_order_relaxed))
		how = UVQ_SIGNAL_NEVER;
	if (how == UVQ_SIGNAL_NEVER ||
	    (how == UVQ_SIGNAL_IF_NEEDED && !uvq_need_signal(vq)))
		uvcounter_add(&q->stats.irqs_suppressed, pending);
	if (!blk_status()->eng->ring_cmds)
		uvq_flush_signal(vq, how);
	else if (uvq_publish(vq) >= 0 && uvq_signal_due(vq, how) &&
		 blk_uring_cmd(&q->io, q->dev_fd, UVIRTIO_URING_COMMIT, q->index,
			       0, QCMD_COMMIT) == 0)
		uvq_signal_given(vq);
	if (vq->stats.signals != before)
		uvcounter_add(&q->stats.irqs, vq->stats.signals - before);
}

/**
 * q_io_queue() - queue a request's read, write or flush on the io_uring
 * @q:		queue
 * @r:		request (@r->data starts after the @r->io_done bytes moved)
 *
 * Return: 0, or -EBUSY if the submission ring is full
 */
static int q_io_queue(struct blk_queue *q, struct blk_req *r)
{
	enum blk_uring_op op = BLK_URING_FSYNC;
	int ret;

	switch (r->ri.type) {
	case VIRTIO_BLK_T_IN:
		op = BLK_URING_READ;
		break;
	case VIRTIO_BLK_T_OUT:
		op = BLK_URING_WRITE;
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		/* holes read as zeros in every file system we open */
		op = BLK_URING_PUNCH;
		r->data[0] = (struct iovec){ NULL, r->ri.len };
		r->ri.data_num = 1;
		break;
	}
	ret = blk_uring_queue(&q->io, op,
			      r->ri.sector * BLK_SECTOR_SIZE + r->io_done,
			      r->data, r->ri.data_num, r);
	if (ret < 0)
		return ret;
	r->io_parts = (struct blk_io_parts){ .left = ret > 1 ? ret : 0 };
	if (ret > 0)
		uvcounter_add(&q->stats.fixed, 1);
	if (ret > 0 && r->ri.data_num > 1)
		uvcounter_add(&q->stats.fixed_pieces, 1);
	return 0;
}

/**
 * struct q_reaping - what q_io_done() needs besides the request
 * @q:		queue
 * @eng:	engine
 */
struct q_reaping {
	struct blk_queue *q;
	struct blk_engine *eng;
};

/**
 * q_cmd_done() - one of the queue's own io_uring commands ended
 * @q:		queue
 * @tag:	QCMD_*
 * @res:	its result
 *
 * A WAIT ends with 1 (kicked), 0 (look again) or -ENODEV (the device is
 * dead or removed: the main thread hears of it through its events, and
 * the thread then sleeps on its wake-up poll only). A COMMIT posts only
 * when it fails: -EIO, the module found a bad completion and killed the
 * device, as it does through the call eventfd.
 */
static void q_cmd_done(struct blk_queue *q, uintptr_t tag, int res)
{
	switch (tag) {
	case QCMD_WAIT:
		q->waiting = false;
		if (res > 0)
			uvcounter_add(&q->stats.kicks, 1);
		else if (res < 0 && res != -EINTR)
			q->wait_over = true;
		break;
	case QCMD_COMMIT:
		if (res < 0 && !q->commit_told) {
			q->commit_told = true;
			fprintf(stderr, "uvirtio-blk: queue %u: UVIRTIO_URING_COMMIT: %s\n",
				q->index, strerror(-res));
		}
		break;
	case QCMD_WAKE:
		q->wake_armed = false;
		uvworker_drain(q->w.wake_fd);
		break;
	}
}

/**
 * q_dealloc_sync() - a hole could not be punched: do it the slow way
 * @eng:	engine
 * @r:		the DISCARD or WRITE_ZEROES
 *
 * A file system without hole punching (EOPNOTSUPP) or a block device
 * without a zeroing offload: backend_discard() / backend_write_zeroes()
 * know the fallbacks (writing zeros, BLKDISCARD). They block this queue
 * for as long as they take, which is why they are not the first try.
 *
 * Return: 0 or -errno
 */
static int q_dealloc_sync(struct blk_engine *eng, const struct blk_req *r)
{
	uint64_t off = r->ri.sector * BLK_SECTOR_SIZE;

	if (r->ri.type == VIRTIO_BLK_T_DISCARD)
		return backend_discard(eng->be, off, r->ri.len);
	return backend_write_zeroes(eng->be, off, r->ri.len);
}

/**
 * q_io_done() - one io_uring operation of a request ended
 * @tag:	the request
 * @res:	bytes moved, or -errno
 * @arg:	struct q_reaping
 *
 * A short transfer continues with the remainder, and -EAGAIN or -EINTR
 * is tried again (blk_io_progress() bounds it). A transfer split into
 * several operations is judged when the last of them ends
 * (blk_io_parts_result()). A real error (EIO,
 * ENOSPC...) fails the request with VIRTIO_BLK_S_IOERR; the queue goes
 * on.
 *
 * Return: true if the request went back to the ring, false if it completed
 */
static bool q_io_done(void *tag, int res, void *arg)
{
	struct q_reaping *ctx = arg;
	struct blk_queue *q = ctx->q;
	struct blk_req *r = tag;
	enum blk_io_verdict v;

	if ((uintptr_t)tag < BLK_URING_OWN_TAGS) {
		q_cmd_done(q, (uintptr_t)tag, res);
		return false;
	}
	if (r->io_parts.left) {
		if (!blk_io_part_done(&r->io_parts, res))
			return true;	/* its other parts are in flight */
		res = blk_io_parts_result(&r->io_parts,
					  r->ri.len - r->io_done);
	}
	if (res < 0 && res != -EAGAIN && res != -EINTR &&
	    (r->ri.type == VIRTIO_BLK_T_DISCARD ||
	     r->ri.type == VIRTIO_BLK_T_WRITE_ZEROES))
		res = q_dealloc_sync(ctx->eng, r);
	v = blk_io_progress(r->ri.type, res, r->ri.len, &r->io_done,
			    &r->io_tries);
	if (v == BLK_IO_AGAIN) {
		if (res > 0)
			r->ri.data_num = blk_iov_advance(r->data,
							 r->ri.data_num, res);
		if (q_io_queue(q, r) == 0)
			return true;
		v = BLK_IO_FAILED;
	}
	*r->ri.status = v == BLK_IO_DONE ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
	r->used_len = 1;
	if (v == BLK_IO_DONE && r->ri.type == VIRTIO_BLK_T_IN)
		r->used_len += r->ri.len;
	q_complete(q, ctx->eng, r);
	return false;
}

/**
 * q_reap() - complete every request whose io_uring operation finished
 * @q:		queue
 * @eng:	engine
 *
 * Return: requests completed
 */
static unsigned int q_reap(struct blk_queue *q, struct blk_engine *eng)
{
	struct q_reaping ctx = { q, eng };

	return blk_uring_reap(&q->io, q_io_done, &ctx);
}

/**
 * q_to_uring() - hand a parsed request to the queue's io_uring, where it
 * goes there: flushes, discards and write-zeroes, and reads and writes of
 * at least @eng->uring_min bytes
 * @q:		queue
 * @eng:	engine
 * @r:		the request, blk_req_parse() done
 *
 * Return: true if queued; false to serve it in the queue's thread
 */
static bool q_to_uring(struct blk_queue *q, struct blk_engine *eng,
		       struct blk_req *r)
{
	uint32_t type = r->ri.type;

	if (!eng->use_uring ||
	    ((type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_OUT) &&
	     r->ri.len < eng->uring_min))
		return false;
	/* served in the thread instead, backend_deallocate() does this */
	if (type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES)
		backend_punching(eng->be, r->ri.sector * BLK_SECTOR_SIZE,
				 r->ri.len);
	return q_io_queue(q, r) == 0;
}

/**
 * q_start_req() - take on one chain from the avail ring
 * @q:		queue
 * @eng:	engine
 * @el:		the chain (its iovecs are valid until the next pop)
 *
 * Return: 1 if an io_uring operation was queued, else 0
 */
static int q_start_req(struct blk_queue *q, struct blk_engine *eng,
		       struct uvq_elem *el)
{
	struct blk_req *r;
	uint32_t len;
	int ret;

	if (!el->owned)
		return 0;	/* a head we may not complete: nothing to do */
	r = &q->reqs[el->head];
	r->el = *el;
	r->el.iov = NULL;
	memset(&r->ri, 0, sizeof(r->ri));
	r->io_done = 0;
	r->io_tries = 0;
	if (el->err) {
		if (q->bad_told < BLK_BAD_TELL) {
			q->bad_told++;
			fprintf(stderr, "uvirtio-blk: queue %u: bad chain at head %u: %s\n",
				q->index, el->head, uvq_strerror(el->err));
		}
		r->used_len = 0;
		inflight_set(q, r, el->head);
		q_complete(q, eng, r);
		return 0;
	}
	ret = blk_req_parse(eng->bd, el->iov, el->out_num, uvq_elem_in(el),
			    el->in_num, r->data, eng->seg_max + 4, &r->ri);
	inflight_set(q, r, el->head);
	if (ret == 0 && q_to_uring(q, eng, r)) {
		uvcounter_add(&q->stats.uring, 1);
		return 1;
	}
	len = 0;
	if (ret >= 0)
		blk_req_serve_info(eng->bd, &r->ri, el->iov, el->out_num,
				   uvq_elem_in(el), el->in_num, r->data,
				   eng->seg_max + 4, &len);
	if (r->ri.mapped)
		uvcounter_add(&q->stats.mapped, 1);
	r->used_len = len;
	q_complete(q, eng, r);
	return 0;
}

/**
 * q_work() - one pass: take what is available, submit, reap, publish
 * @q:		queue
 * @eng:	engine
 * @el:		scratch element
 *
 * Return: true if anything happened
 */
static bool q_work(struct blk_queue *q, struct blk_engine *eng,
		   struct uvq_elem *el)
{
	unsigned int taken = 0, queued = 0, done;
	bool ignore = atomic_load_explicit(&q->faults.ignore_kicks,
					   memory_order_relaxed);
	int ret;

	while (!ignore && (ret = uvq_pop(q->vq, el)) > 0) {
		queued += q_start_req(q, eng, el);
		if (++taken % BLK_BATCH == 0) {
			if (queued)
				blk_uring_submit(&q->io);
			queued = 0;
			q_reap(q, eng);
			q_signal(q, false);
		}
	}
	if (queued)
		blk_uring_submit(&q->io);
	done = q_reap(q, eng) + q_release_delayed(q, false);
	return taken || done;
}

/**
 * q_has_work() - is there anything for q_work() (for the poll loop)
 * @q:		queue
 *
 * Return: true if avail entries or completions wait
 */
static bool q_has_work(struct blk_queue *q)
{
	if (blk_uring_has_done(&q->io))
		return true;
	if (q->delayed && q->delayed->done_ns <= uv_now_ns())
		return true;
	if (atomic_load_explicit(&q->faults.ignore_kicks,
				 memory_order_relaxed))
		return false;
	return uvq_avail_pending(q->vq) != 0;
}

/**
 * q_spin() - spin on the rings for an adaptive budget
 * @q:		queue
 * @budget:	the budget in ns; doubled (up to @max) when work shows up
 *		within it, halved (down to @max / BLK_SPIN_FLOOR) when not
 * @max:	its ceiling
 *
 * Return: 1 if work showed up, 0 if the budget ran out, -1 if the main
 * thread asked for a pause (the budget is left alone)
 */
static int q_spin(struct blk_queue *q, uint64_t *budget, uint64_t max)
{
	uint64_t end = uv_now_ns() + *budget;
	unsigned int turn = 0;

	for (;;) {
		if (q_has_work(q)) {
			*budget = *budget * 2 > max ? max : *budget * 2;
			return 1;
		}
		if (uvworker_pausing(&q->w))
			return -1;
		if (!(++turn & BLK_SPIN_CLOCK_MASK) && uv_now_ns() >= end)
			break;
		uvworker_relax();
	}
	*budget /= 2;
	if (*budget < max / BLK_SPIN_FLOOR)
		*budget = max / BLK_SPIN_FLOOR;
	return 0;
}

/**
 * q_poll() - poll the rings before sleeping (--poll-us)
 * @q:		queue
 * @eng:	engine
 *
 * A queue that is kicked rarely soon polls only for the floor.
 *
 * Return: true if work showed up
 */
static bool q_poll(struct blk_queue *q, struct blk_engine *eng)
{
	int ret;

	if (!eng->poll_max_ns ||
	    atomic_load_explicit(&q->faults.ignore_kicks,
				 memory_order_relaxed))
		return false;
	ret = q_spin(q, &q->poll_ns, eng->poll_max_ns);
	if (ret >= 0)
		uvcounter_add(ret ? &q->stats.polls : &q->stats.poll_misses, 1);
	return ret > 0;
}

/**
 * q_hold() - hold unsignalled completions back while more work may come
 * (--coalesce-us, interrupt coalescing)
 * @q:		queue
 * @eng:	engine
 *
 * Return: true if work showed up (the caller serves it, then holds again)
 */
static bool q_hold(struct blk_queue *q, struct blk_engine *eng)
{
	struct uvq *vq = q->vq;

	if (!eng->hold_max_ns || !uvq_unsignalled(vq) ||
	    atomic_load_explicit(&q->faults.ignore_kicks,
				 memory_order_relaxed))
		return false;
	if (q_spin(q, &q->hold_ns, eng->hold_max_ns) <= 0)
		return false;
	uvcounter_add(&q->stats.holds, 1);
	return true;
}

/**
 * q_serve() - serve until there is nothing to do but wait
 * @q:		queue
 * @eng:	engine
 * @el:		scratch element
 */
static void q_serve(struct blk_queue *q, struct blk_engine *eng,
		    struct uvq_elem *el)
{
	struct uvq *vq = q->vq;

	if (!vq->ready) {
		q_reap(q, eng);
		q_release_delayed(q, true);
		return;
	}
	if (!atomic_load_explicit(&q->faults.ignore_kicks,
				  memory_order_relaxed))
		uvq_poll_begin(vq);
	for (;;) {
		if (uvworker_pausing(&q->w) ||
		    uvworker_stopping(&q->w))
			break;
		if (q_work(q, eng, el))
			continue;
		if (q_hold(q, eng))
			continue;
		q_signal(q, false);
		/* a COMMIT queued above must not wait for the poll to end */
		if (eng->ring_cmds && eng->poll_max_ns)
			blk_uring_submit(&q->io);
		if (q_poll(q, eng))
			continue;
		if (atomic_load_explicit(&q->faults.ignore_kicks,
					 memory_order_relaxed))
			break;
		if (!uvq_poll_end(vq))
			break;
	}
	q_signal(q, true);
}

/**
 * q_quiesce() - finish every running operation (before a pause)
 * @q:		queue
 * @eng:	engine
 */
static void q_quiesce(struct blk_queue *q, struct blk_engine *eng)
{
	unsigned int fails = 0;

	while (q->io.ready && q->io.inflight) {
		if (blk_uring_wait(&q->io) < 0 && ++fails > 1000)
			break;	/* the ring is unusable: give up */
		q_reap(q, eng);
	}
	q_release_delayed(q, true);
	q_signal(q, true);
	if (eng->ring_cmds)
		blk_uring_submit(&q->io);
	uvq_poll_end(q->vq);
}

/**
 * q_ring_arm() - before the thread sleeps in its io_uring: have a WAIT for
 * the driver's kick and a poll of the wake-up eventfd in flight
 * @q:		queue (its worker's lock held: the rings are stable)
 *
 * The WAIT carries the avail index the thread has seen, so a kick that
 * came between its last look and the WAIT is not lost: the module
 * completes the WAIT at once.
 */
static void q_ring_arm(struct blk_queue *q)
{
	struct uvq *vq = q->vq;

	if (!q->waiting && !q->wait_over && vq->ready &&
	    !atomic_load_explicit(&q->faults.ignore_kicks,
				  memory_order_relaxed) &&
	    blk_uring_cmd(&q->io, q->dev_fd, UVIRTIO_URING_WAIT, q->index,
			  vq->last_avail, QCMD_WAIT) == 0)
		q->waiting = true;
	if (!q->wake_armed && blk_uring_poll(&q->io, q->w.wake_fd, QCMD_WAKE) == 0)
		q->wake_armed = true;
}

/**
 * q_timeout_ms() - how long the thread may sleep
 * @q:		queue
 *
 * Return: -1 (until woken), or ms until the first delayed request is due
 */
static int q_timeout_ms(struct blk_queue *q)
{
	uint64_t now;

	if (!q->delayed)
		return -1;
	now = uv_now_ns();
	if (q->delayed->done_ns <= now)
		return 0;
	return (q->delayed->done_ns - now) / 1000000 + 1;
}

/**
 * q_thread() - a queue's thread
 * @arg:	struct blk_queue
 *
 * Return: NULL
 */
static void *q_thread(void *arg)
{
	struct blk_queue *q = arg;
	struct blk_engine *eng = blk_status()->eng;
	struct epoll_event ev[4];
	struct uvq_elem el;
	struct iovec *iov;
	int i, n, timeout;

	if (eng->pin)
		uvworker_pin(q->index);
	iov = calloc(eng->seg_max + 4, sizeof(*iov));
	if (!iov)
		abort();
	uvq_elem_init(&el, iov, eng->seg_max + 4);
	for (;;) {
		if (uvworker_enter(&q->w) == UVWORKER_STOP) {
			q_quiesce(q, eng);
			uvworker_leave(&q->w);
			break;
		}
		q_serve(q, eng, &el);
		if (uvworker_pausing(&q->w))
			q_quiesce(q, eng);
		timeout = q_timeout_ms(q);
		if (eng->ring_cmds)
			q_ring_arm(q);
		uvworker_leave(&q->w);
		/* uvworker_enter() sleeps until the main thread resumes us */
		if (uvworker_pausing(&q->w))
			continue;
		if (eng->ring_cmds) {
			/* the completions are reaped by the next q_serve() */
			if (!blk_uring_has_done(&q->io))
				blk_uring_sleep(&q->io, timeout);
			atomic_store_explicit(&q->stats.enters, q->io.enters,
					      memory_order_relaxed);
			continue;
		}
		n = uvloop_wait(&q->w.loop, ev, 4, timeout);
		for (i = 0; i < n; i++) {
			if (ev[i].data.u64 == QTAG_KICK &&
			    uvworker_drain(q->kick_fd))
				uvcounter_add(&q->stats.kicks, 1);
			else if (ev[i].data.u64 == QTAG_WAKE)
				uvworker_drain(q->w.wake_fd);
			else if (ev[i].data.u64 == QTAG_RING)
				uvworker_drain(q->ring_fd);
		}
	}
	free(iov);
	return NULL;
}

/**
 * q_uring_init() - the queue's io_uring on the backing file, and the
 * eventfd its thread watches for completions; or, driven by its io_uring
 * (blk_engine.ring_cmds), the ring it sleeps in, with the file if any.
 * Queue 0's ring registers the pool; the others share that registration
 * where the kernel can, so the pool is pinned once.
 * @q:		queue
 * @eng:	engine
 * @pool:	bounce pool in our mapping
 * @pool_size:	its bytes
 *
 * Return: 0 or -errno
 */
static int q_uring_init(struct blk_queue *q, struct blk_engine *eng,
			void *pool, uint64_t pool_size)
{
	const struct blk_uring *share = q->index ? &eng->q[0].io : NULL;
	int ret;

	if (eng->be->map)
		pool = NULL;	/* its reads and writes are not io_uring's */
	if (eng->ring_cmds)
		return blk_uring_init(&q->io, eng->queue_size,
				      eng->use_uring ? eng->be->fd : -1, -1,
				      eng->use_uring ? pool : NULL, pool_size,
				      share);
	q->ring_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->ring_fd < 0)
		return -errno;
	ret = blk_uring_init(&q->io, eng->queue_size, eng->be->fd, q->ring_fd,
			     pool, pool_size, share);
	if (ret)
		return ret;
	return uvloop_add(&q->w.loop, q->ring_fd, EPOLLIN, QTAG_RING);
}

/**
 * blk_engine_init() - set up every queue (threads not started yet)
 * @eng:	engine, its options filled in
 * @dev:	the created device (queues and eventfds)
 * @pool:	bounce pool in our mapping
 * @pool_size:	its bytes
 *
 * Return: 0 or -errno
 */
int blk_engine_init(struct blk_engine *eng, struct uvdev *dev, void *pool,
		    uint64_t pool_size)
{
	unsigned int i, j, slot = eng->seg_max + 4;
	int ret;

	blk_status()->eng = eng;
	blk_status()->dev_index = dev->index;
	eng->q = aligned_alloc(BLK_CACHELINE,
			       sizeof(*eng->q) * eng->num_queues);
	if (!eng->q)
		return -ENOMEM;
	memset(eng->q, 0, sizeof(*eng->q) * eng->num_queues);
	eng->w = calloc(eng->num_queues, sizeof(*eng->w));
	if (!eng->w)
		return -ENOMEM;
	for (i = 0; i < eng->num_queues; i++) {
		struct blk_queue *q = &eng->q[i];

		eng->w[i] = &q->w;

		q->index = i;
		q->vq = &dev->q[i].vq;
		q->kick_fd = dev->q[i].kick_fd;
		q->ring_fd = -1;
		q->dev_fd = dev->fd;
		q->poll_ns = eng->poll_max_ns / BLK_SPIN_FLOOR;
		q->hold_ns = eng->hold_max_ns / BLK_SPIN_FLOOR;
		q->reqs = calloc(eng->queue_size, sizeof(*q->reqs));
		q->iovs = calloc((size_t)eng->queue_size * slot,
				 sizeof(*q->iovs));
		if (!q->reqs || !q->iovs)
			return -ENOMEM;
		for (j = 0; j < eng->queue_size; j++)
			q->reqs[j].data = q->iovs + (size_t)j * slot;
		ret = uvworker_init(&q->w, QTAG_WAKE);
		if (!ret)
			ret = uvloop_add(&q->w.loop, q->kick_fd, EPOLLIN, QTAG_KICK);
		if (!ret && (eng->use_uring || eng->ring_cmds))
			ret = q_uring_init(q, eng, pool, pool_size);
		if (ret)
			return ret;
	}
	return 0;
}

/**
 * blk_engine_run() - start the queue threads
 * @eng:	engine
 *
 * Return: 0 or -errno
 */
int blk_engine_run(struct blk_engine *eng)
{
	unsigned int i;
	int ret;

	for (i = 0; i < eng->num_queues; i++) {
		ret = uvworker_start(&eng->q[i].w, q_thread, &eng->q[i]);
		if (ret)
			return ret;
	}
	return 0;
}

/**
 * blk_engine_pause() - take every queue away from its thread
 * @eng:	engine
 *
 * Each thread finishes its running I/O, publishes and signals its
 * completions and lets go of its rings; on return the caller may start
 * or stop the rings (struct uvq) until blk_engine_resume().
 */
void blk_engine_pause(struct blk_engine *eng)
{
	uvworker_pause_all(eng->w, eng->num_queues);
}

/**
 * blk_engine_resume() - give the queues back to their threads, and have
 * each look at its ring at once (kicks may have been latched)
 * @eng:	engine
 */
void blk_engine_resume(struct blk_engine *eng)
{
	uvworker_resume_all(eng->w, eng->num_queues);
}

/**
 * blk_engine_kick_all() - have every queue thread look at its ring
 * @eng:	engine
 */
void blk_engine_kick_all(struct blk_engine *eng)
{
	uvworker_wake_all(eng->w, eng->num_queues);
}

/**
 * blk_engine_lift_faults() - clear every fault switch and wake the queues
 * @eng:	engine
 *
 * Async-signal-safe (atomic stores and write()).
 */
void blk_engine_lift_faults(struct blk_engine *eng)
{
	unsigned int i;

	atomic_store(&eng->faults.delay_ms, 0);
	for (i = 0; i < eng->num_queues; i++) {
		atomic_store(&eng->q[i].faults.ignore_kicks, false);
		atomic_store(&eng->q[i].faults.withhold_irq, false);
	}
	blk_engine_kick_all(eng);
}

/**
 * blk_engine_stop() - stop and join every queue thread
 * @eng:	engine
 *
 * Running I/O is finished and completed first.
 */
void blk_engine_stop(struct blk_engine *eng)
{
	if (eng->w)
		uvworker_stop_all(eng->w, eng->num_queues);
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * io_uring commands on /dev/uvirtio: an emulator drives a queue through
 * the io_uring it already uses for its own I/O, instead of a kick and a
 * call eventfd.
 *
 * UVIRTIO_URING_COMMIT is the call eventfd's work done in the emulator's
 * own task: uv_queue_deliver(), the one harvest path with every check of
 * notify.c, with no eventfd wake-up and no irq_work (self-IPI) in between.
 *
 * UVIRTIO_URING_WAIT parks in uv_queue.waiter until uv_notify() sees a
 * kick. A pending WAIT holds the device file (io_uring's reference), so
 * the fd's release cannot run until it completes; and an exiting task's
 * io_uring waits for the commands it cannot cancel. Before 6.7 a driver
 * has no cancel callback for commands (io_uring_cmd_mark_cancelable()), so
 * a WAIT only a kick could end would hang process exit, and with it close
 * and rmmod, on a quiet queue. Hence one rule on every kernel: a parked
 * WAIT completes with 0 ("look again") after at most UV_WAIT_BOUND; with
 * -ENODEV as soon as the device dies or is removed; with 0 when its queue
 * is set up or stopped. The price is one wake-up per second of an idle
 * queue. The bound is one delayed work per queue, armed only when it is
 * not pending, so a busy queue parks and completes many WAITs per timer.
 * Where commands can be cancelled (6.7 on), a parked WAIT is marked so,
 * and a dying task or ring ends it at once (-ECANCELED): the fd's release,
 * and with it orphaning in recovery mode, then follows the emulator's
 * death without waiting for the bound.
 *
 * A WAIT parks before it looks at the avail index, and uv_notify() looks
 * for a waiter after the driver stored it (a full barrier on each side):
 * either the kick finds the waiter, or the WAIT sees the new index.
 */
#include <linux/jiffies.h>
#include <linux/nospec.h>
#include "compat.h"
#include "uv.h"

#define UV_WAIT_BOUND	HZ

/* A completed WAIT's result, kept in the command until its task work. */
struct uv_wait_pdu {
	int res;
};

/* Post the result in the submitting task (the only context io_uring
 * accepts a completion from on every kernel we build for).
 */
UV_URING_TW(uv_wait_tw)
{
	struct uv_wait_pdu *pdu = (struct uv_wait_pdu *)cmd->pdu;

	uv_uring_cmd_done(cmd, pdu->res, flags);
}

static void uv_wait_finish(struct io_uring_cmd *cmd, int res)
{
	((struct uv_wait_pdu *)cmd->pdu)->res = res;
	io_uring_cmd_complete_in_task(cmd, uv_wait_tw);
}

/**
 * uv_wait_wake() - complete a queue's pending WAIT, if any (any context)
 * @q:		the queue
 * @res:	its result
 */
void uv_wait_wake(struct uv_queue *q, int res)
{
	struct io_uring_cmd *cmd;
	unsigned long flags;

	spin_lock_irqsave(&q->lock, flags);
	cmd = q->waiter;
	q->waiter = NULL;
	spin_unlock_irqrestore(&q->lock, flags);
	if (cmd)
		uv_wait_finish(cmd, res);
}

/* The bound: complete a WAIT parked for UV_WAIT_BOUND, or come back. */
static void uv_wait_bound(struct work_struct *work)
{
	struct uv_queue *q = container_of(to_delayed_work(work), struct uv_queue,
					  wait_bound);
	unsigned long flags, left = 0;
	struct io_uring_cmd *cmd;

	spin_lock_irqsave(&q->lock, flags);
	cmd = q->waiter;
	if (cmd && time_before(jiffies, q->wait_since + UV_WAIT_BOUND)) {
		left = q->wait_since + UV_WAIT_BOUND - jiffies;
		cmd = NULL;
	} else {
		q->waiter = NULL;
	}
	spin_unlock_irqrestore(&q->lock, flags);
	if (left)
		queue_delayed_work(uv_wq, &q->wait_bound, left);
	if (cmd)
		uv_wait_finish(cmd, 0);
}

/**
 * uv_wait_init() - a queue's WAIT state (at creation)
 * @q:		the queue
 */
void uv_wait_init(struct uv_queue *q)
{
	INIT_DELAYED_WORK(&q->wait_bound, uv_wait_bound);
}

/**
 * uv_wait_sync() - stop the bound's work (the fd is being released)
 * @q:		the queue
 *
 * No WAIT can be pending here: each holds the file being released.
 */
void uv_wait_sync(struct uv_queue *q)
{
	cancel_delayed_work_sync(&q->wait_bound);
	WARN_ON_ONCE(READ_ONCE(q->waiter));
}

/* Whether the driver made buffers available past @seen (q->lock held). */
static bool uv_avail_moved(struct uv_queue *q, u16 seen)
{
	if (!q->ready || q->kernel)
		return false;
	return virtio16_to_cpu(&q->dev->vdev, READ_ONCE(q->vring.avail->idx)) != seen;
}

static int uv_wait_park(struct uv_queue *q, struct io_uring_cmd *cmd, u16 seen,
			unsigned int issue_flags)
{
	unsigned long flags;
	bool moved;

	spin_lock_irqsave(&q->lock, flags);
	if (uv_dead(q->dev)) {
		spin_unlock_irqrestore(&q->lock, flags);
		return -ENODEV;
	}
	if (q->waiter) {
		spin_unlock_irqrestore(&q->lock, flags);
		return -EBUSY;
	}
	q->waiter = cmd;
	q->wait_since = jiffies;
	spin_unlock_irqrestore(&q->lock, flags);
	/* Does nothing if pending: the work then re-arms itself as needed. */
	queue_delayed_work(uv_wq, &q->wait_bound, UV_WAIT_BOUND);

	/* Pairs with uv_notify()'s barrier between avail->idx and q->waiter. */
	smp_mb();
	spin_lock_irqsave(&q->lock, flags);
	moved = q->waiter == cmd && uv_avail_moved(q, seen);
	if (moved)
		q->waiter = NULL;
	spin_unlock_irqrestore(&q->lock, flags);
	if (moved)
		return 1;	/* never parked as far as io_uring knows */
#ifdef UV_URING_CANCEL
	/*
	 * Only inline, under the ring's lock: nothing can complete the
	 * command (task work, io_uring's fallback) before it is marked.
	 */
	if (!(issue_flags & IO_URING_F_UNLOCKED))
		io_uring_cmd_mark_cancelable(cmd, issue_flags);
#endif
	return -EIOCBQUEUED;
}

#ifdef UV_URING_CANCEL
/* The ring or the task of a parked WAIT is going away: end it now. */
static void uv_wait_cancel(struct uv_dev *dev, struct io_uring_cmd *cmd,
			   unsigned int issue_flags)
{
	unsigned long flags;
	unsigned int i;
	bool found = false;

	for (i = 0; i < dev->num_queues && !found; i++) {
		struct uv_queue *q = &dev->queues[i];

		spin_lock_irqsave(&q->lock, flags);
		found = q->waiter == cmd;
		if (found)
			q->waiter = NULL;
		spin_unlock_irqrestore(&q->lock, flags);
	}
	/* Not found: whoever took it has its completion on the way. */
	if (found)
		uv_uring_cmd_done(cmd, -ECANCELED, issue_flags);
}
#endif

static int uv_commit(struct uv_queue *q)
{
	int ret;

	if (uv_dead(q->dev))
		return -ENODEV;
	/*
	 * Like the device interrupt it stands for: the driver's completion
	 * work (softirqs it raises, NAPI) runs when bottom halves come back.
	 */
	local_bh_disable();
	ret = uv_queue_deliver(q);
	local_bh_enable();
	return ret;
}

/**
 * uv_uring_cmd() - an io_uring command on a device's fd
 * @dev:	the device
 * @cmd:	the command
 * @issue_flags: io_uring's IO_URING_F_*
 *
 * Return: the result to post, or -EIOCBQUEUED if it completes later.
 */
int uv_uring_cmd(struct uv_dev *dev, struct io_uring_cmd *cmd,
		 unsigned int issue_flags)
{
	struct uvirtio_uring_cmd c;
	struct uv_queue *q;

#ifdef UV_URING_CANCEL
	if (issue_flags & IO_URING_F_CANCEL) {
		uv_wait_cancel(dev, cmd, issue_flags);
		return 0;
	}
#endif
	/* The SQE may be in memory the process shares: read it once. */
	memcpy(&c, uv_uring_cmd_area(cmd), sizeof(c));
	if (c.flags || c.reserved || c.index >= dev->num_queues)
		return -EINVAL;
	q = &dev->queues[array_index_nospec(c.index, dev->num_queues)];
	switch (cmd->cmd_op) {
	case UVIRTIO_URING_WAIT:
		return uv_wait_park(q, cmd, c.last_avail, issue_flags);
	case UVIRTIO_URING_COMMIT:
		if (c.last_avail)
			return -EINVAL;
		return uv_commit(q);
	}
	return -ENOTTY;
}

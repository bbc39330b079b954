// SPDX-License-Identifier: GPL-2.0-only
/*
 * Kicks and calls: what happens between the driver and the emulator.
 *
 * Kick (driver -> emulator): virtio_ring calls uv_notify(), which signals the
 * queue's kick eventfd unless the emulator has said it is polling.
 *
 * Call (emulator -> driver): the emulator writes completions into its shadow
 * ring and writes its call eventfd. The eventfd's wake-up runs uv_call_wake()
 * under the eventfd's lock, which only queues the queue's irq_work. The
 * irq_work (hard-irq context, like a real device interrupt) checks every new
 * shadow entry against the heads the driver made available, copies the good
 * ones into the driver's used ring and runs vring_interrupt(). A bad entry
 * kills the device instead of reaching virtio_ring (DESIGN.md 4a).
 *
 * Once the device is dead, the same irq_work completes every outstanding
 * head with an error instead (DESIGN.md 5); uv_notify() queues it for each
 * new request, so the driver never waits for a dead emulator.
 *
 * The io_uring commands (uring.c) are a second trigger of the same work:
 * UVIRTIO_URING_COMMIT runs uv_queue_deliver() in the emulator's own task,
 * and a kick also completes a pending UVIRTIO_URING_WAIT.
 *
 * Standard used rings (UVIRTIO_CREATE_F_VRING_USED), for backends that only
 * know a virtio split ring (a vhost-user backend handed the domain):
 *   - the shadow ring is laid out as a vring_used (le16 flags, le16 idx,
 *     le32 id/len entries, le16 avail_event after ring[num]) and the epoch
 *     sits in the ctrl page. uv_harvest() is the same for both layouts: only
 *     three accessors (epoch, idx, entry) know which one the device chose,
 *     so every check and the kill on a bad entry are shared;
 *   - the backend runs its ring without EVENT_IDX, whatever the driver
 *     negotiated: the driver's used_event counts entries of the driver's
 *     used ring, which only the module fills, so a backend that skipped a
 *     call by it could leave the driver waiting on completions sitting in
 *     the shadow. Without EVENT_IDX the backend reads the driver's avail
 *     flags, which a driver with EVENT_IDX never sets: it signals every
 *     batch, and the EVENT_IDX decision towards the driver is the module's
 *     (uv_used_publish());
 *   - so the backend's wish about kicks is VRING_USED_F_NO_NOTIFY alone:
 *     uv_kick_wanted(), after the same barrier as the POLLING flag's,
 *     decides whether a kick signals the kick eventfd (and wakes a
 *     UVIRTIO_URING_WAIT); avail_event is never read. Towards the driver
 *     nothing changes: the module keeps its own avail_event (the driver's
 *     used ring) at the avail index, so the driver still calls uv_notify()
 *     for every batch. The control queue and dead devices skip the check,
 *     as they skip the POLLING flag;
 *   - a queue (re)start, or a take-over in recovery mode, clears the flags:
 *     a new backend is never held back by an older one's wish.
 */
#include <linux/file.h>
#include <linux/slab.h>
#include <linux/nospec.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include "compat.h"
#include "uv.h"

/**
 * uv_queue_init() - set up a queue's constant parts
 * @q:		the queue
 * @dev:	its device
 * @index:	its index
 */
void uv_queue_init(struct uv_queue *q, struct uv_dev *dev, unsigned int index)
{
	q->dev = dev;
	q->index = index;
	spin_lock_init(&q->lock);
	init_irq_work(&q->irq_work, uv_queue_irq_work);
	uv_wait_init(q);
}

/**
 * uv_queue_alloc() - allocate the per-head bookkeeping of a queue
 * @q:		the queue
 * @num:	the largest ring size the driver may choose
 *
 * Return: 0 or -ENOMEM.
 */
int uv_queue_alloc(struct uv_queue *q, unsigned int num)
{
	q->outstanding = bitmap_zalloc(num, GFP_KERNEL_ACCOUNT);
	q->wlen = kcalloc(num, sizeof(*q->wlen), GFP_KERNEL_ACCOUNT);
	q->status_off = kcalloc(num, sizeof(*q->status_off), GFP_KERNEL_ACCOUNT);
	q->last_wlen = kcalloc(num, sizeof(*q->last_wlen), GFP_KERNEL_ACCOUNT);
	if (!q->outstanding || !q->wlen || !q->status_off || !q->last_wlen)
		return -ENOMEM;
	return 0;
}

/**
 * uv_queue_free() - free what uv_queue_alloc() allocated
 * @q:		the queue
 */
void uv_queue_free(struct uv_queue *q)
{
	kfree(q->last_wlen);
	kfree(q->status_off);
	kfree(q->wlen);
	bitmap_free(q->outstanding);
}

/* Kernel address of a ring the driver allocated from one of our slots. */
static void *uv_ring_va(struct uv_domain *dom, u64 off)
{
	u64 slot = (off - dom->slot_off) / dom->slot_bytes;

	return dom->slot_va[slot] + (off - dom->slot_off - slot * dom->slot_bytes);
}

/*
 * UVIRTIO_CREATE_F_VRING_USED: a standard used ring as a fresh one starts
 * (flags 0: no suppression), so a backend that has not set its own yet, or
 * a dead one's leftovers, cannot hold back a kick. @q->lock held, the queue
 * ready. The control queue has no backend: left alone.
 */
static void uv_kick_rearm(struct uv_queue *q)
{
	if (!q->dev->vring_used || q->kernel)
		return;
	WRITE_ONCE(q->shadow_used->flags, 0);
}

/*
 * A new emulator or backend serves @q: neither the old one's suppression
 * (its used ring's flags) nor its polling flag in the control page may
 * hold back the driver's kicks. @q->lock held.
 */
static void uv_kick_fresh(struct uv_queue *q)
{
	if (q->ready)
		uv_kick_rearm(q);
	WRITE_ONCE(q->dev->dom.ctrl->queue[q->index].flags, 0);
}

/**
 * uv_queue_start() - a driver's virtqueue goes live on @q
 * @q:		the queue
 * @vq:		the virtqueue virtio_ring created; its rings are in our slots
 * @kernel:	the module serves it (the virtio-net control queue)
 */
void uv_queue_start(struct uv_queue *q, struct virtqueue *vq, bool kernel)
{
	struct uv_domain *dom = &q->dev->dom;
	unsigned long flags;

	spin_lock_irqsave(&q->lock, flags);
	q->vq = vq;
	q->num = virtqueue_get_vring_size(vq);
	q->vring.num = q->num;
	q->vring.desc = uv_ring_va(dom, virtqueue_get_desc_addr(vq));
	q->vring.avail = uv_ring_va(dom, virtqueue_get_avail_addr(vq));
	q->vring.used = uv_ring_va(dom, virtqueue_get_used_addr(vq));
	q->shadow = dom->shadow_va[q->index];
	/* Starts at 1: a zeroed shadow ring never belongs to a live epoch. */
	q->epoch++;
	q->last_avail = 0;
	q->used_idx = 0;
	q->shadow_last = 0;
	q->inflight = 0;
	bitmap_zero(q->outstanding, q->dev->queue_size);
	q->kernel = kernel;
	q->ready = true;
	uv_kick_rearm(q);
	spin_unlock_irqrestore(&q->lock, flags);
	uv_wait_wake(q, 0);	/* a WAIT parked before: look at the queue now */
}

/**
 * uv_queue_stop() - stop touching a queue's rings (reset, del_vqs)
 * @q:		the queue
 *
 * Return with no irq_work running on it, so the virtqueue may be freed.
 */
void uv_queue_stop(struct uv_queue *q)
{
	unsigned long flags;

	spin_lock_irqsave(&q->lock, flags);
	q->ready = false;
	q->vq = NULL;
	spin_unlock_irqrestore(&q->lock, flags);
	irq_work_sync(&q->irq_work);
	/*
	 * A COMMIT counted itself under the lock while the queue was ready,
	 * and runs with bottom halves (so preemption) off: a short spin,
	 * like irq_work_sync()'s.
	 */
	while (atomic_read_acquire(&q->committing))
		cpu_relax();
	uv_wait_wake(q, 0);
}

/*
 * Record what the driver needs to know about a head it just made available:
 * how many bytes of its chain the device may write, and where its last
 * writable byte is (the virtio-blk status byte). The descriptor table is
 * read-only to the emulator, and indirect tables are read from the driver's
 * own copy, never from the bounce pool.
 */
/* Writable bytes of a chain, and the end and length of its last writable buffer. */
struct uv_chain_tally {
	u64 wlen;
	u64 status;
	u32 last;
};

static void uv_chain_tally(void *ctx, u64 addr, u32 len, bool write)
{
	struct uv_chain_tally *t = ctx;

	/* An empty writable buffer has no last byte to be the status. */
	if (write && len) {
		t->wlen += len;
		t->status = addr + len;
		t->last = len;
	}
}

static void uv_chain_scan(struct uv_queue *q, unsigned int head)
{
	struct uv_chain_tally t = { 0 };

	/* A malformed chain keeps what was counted: the kernel made it. */
	uv_chain_walk(q, head, uv_chain_tally, &t);
	q->wlen[head] = min_t(u64, t.wlen, U32_MAX);
	q->status_off[head] = t.status;
	q->last_wlen[head] = t.last;
}

/* Take note of every head the driver made available since the last call. */
static void uv_avail_scan(struct uv_queue *q)
{
	struct virtio_device *vdev = &q->dev->vdev;
	u16 avail = virtio16_to_cpu(vdev, READ_ONCE(q->vring.avail->idx));

	/* Entries and descriptors were written before the index. */
	virtio_rmb(true);
	while (q->last_avail != avail) {
		unsigned int head = virtio16_to_cpu(vdev,
			q->vring.avail->ring[q->last_avail & (q->num - 1)]);

		q->last_avail++;
		if (head >= q->num || test_bit(head, q->outstanding))
			continue;	/* not from virtio_ring: cannot happen */
		__set_bit(head, q->outstanding);
		q->inflight++;
		uv_chain_scan(q, head);
	}
}

/* What a completed chain hands the driver, buffer by buffer. */
struct uv_chain_reply {
	struct uv_domain *dom;
	u64 last_end;	/* end of a last writable buffer handed over whole
			 * (virtio-blk's status byte), or 0 */
	u32 left;	/* bytes of the others the used length still covers (all,
			 * U32_MAX, without UVIRTIO_CREATE_F_USED_LEN) */
};

/*
 * What the used length @len of chain @head covers. Without
 * UVIRTIO_CREATE_F_USED_LEN: every writable byte. With it, the writable
 * bytes in chain order, as the virtio spec counts them, except for
 * virtio-blk: its status byte comes last but is always written, whatever
 * the data before it, so its last writable buffer is handed over whole and
 * the used length's other bytes count from the first data buffer.
 */
static void uv_chain_reply_init(struct uv_chain_reply *r, struct uv_queue *q,
				unsigned int head, u32 len)
{
	struct uv_dev *dev = q->dev;

	r->dom = &dev->dom;
	r->last_end = 0;
	r->left = U32_MAX;
	if (!dev->dom.used_len)
		return;
	r->left = len;
	if (dev->device_id == VIRTIO_ID_BLOCK) {
		r->last_end = q->status_off[head];
		r->left = len > q->last_wlen[head] ? len - q->last_wlen[head] : 0;
	}
}

/*
 * Hand each device-writable buffer of a completed chain to the driver now
 * (uv_bounce_deliver(): a buffer that is a whole mapping; a part of one is
 * the driver's to sync): all of it, or (UVIRTIO_CREATE_F_USED_LEN) what
 * the used length covers, with zeros after it.
 */
static void uv_chain_deliver(void *ctx, u64 addr, u32 len, bool write)
{
	struct uv_chain_reply *r = ctx;
	u32 copy = len;

	if (!write || !len)
		return;
	if (addr + len != r->last_end) {
		copy = min(r->left, len);
		r->left -= copy;
	}
	uv_bounce_deliver(r->dom, addr, len, copy);
}

/*
 * Fail a head the device answers without data: for virtio-blk, the driver
 * must read VIRTIO_BLK_S_IOERR in its status byte (a zeroed status byte
 * would read as success). The value is forced at unmap time, so an emulator
 * still writing the bounce pool cannot turn the failure into a success. A
 * real virtio-blk completion always writes the status byte, so its used
 * length is never 0. Returns the used length to report.
 */
static u32 uv_blk_ioerr(struct uv_queue *q, unsigned int head)
{
	struct uv_dev *dev = q->dev;

	if (dev->device_id != VIRTIO_ID_BLOCK || !q->status_off[head])
		return 0;
	return uv_bounce_force(&dev->dom, q->status_off[head] - 1,
			       VIRTIO_BLK_S_IOERR) ? 1 : 0;
}

void uv_used_push(struct uv_queue *q, u32 id, u32 len)
{
	struct virtio_device *vdev = &q->dev->vdev;
	struct vring_used_elem *e = &q->vring.used->ring[q->used_idx & (q->num - 1)];

	e->id = cpu_to_virtio32(vdev, id);
	e->len = cpu_to_virtio32(vdev, len);
	q->used_idx++;
	__clear_bit(id, q->outstanding);
	q->inflight--;
}

/*
 * Make the entries pushed since @old visible and tell whether the driver
 * wants an interrupt for them (the device side of VIRTIO_RING_F_EVENT_IDX).
 */
bool uv_used_publish(struct uv_queue *q, u16 old)
{
	struct virtio_device *vdev = &q->dev->vdev;

	if (q->used_idx == old)
		return false;
	virtio_wmb(true);
	WRITE_ONCE(q->vring.used->idx, cpu_to_virtio16(vdev, q->used_idx));
	/* Pairs with the driver's barrier between used_event and used->idx. */
	virtio_mb(true);
	if (virtio_has_feature(vdev, VIRTIO_RING_F_EVENT_IDX))
		return vring_need_event(virtio16_to_cpu(vdev,
					READ_ONCE(vring_used_event(&q->vring))),
					q->used_idx, old);
	return !(virtio16_to_cpu(vdev, READ_ONCE(q->vring.avail->flags)) &
		 VRING_AVAIL_F_NO_INTERRUPT);
}

/*
 * The shadow ring in either layout chosen at creation: struct uvirtio_shadow
 * (native-endian, its epoch in its header), or a standard used ring
 * (UVIRTIO_CREATE_F_VRING_USED: little-endian, its epoch in the ctrl page).
 * The epoch and the index are loaded with acquire: the emulator stores idx
 * after the entries, and idx = 0 before a new epoch.
 */
static u32 uv_shadow_epoch(struct uv_queue *q)
{
	if (q->dev->vring_used)
		return smp_load_acquire(&q->dev->dom.ctrl->queue[q->index].epoch);
	return smp_load_acquire(&q->shadow->epoch);
}

static u16 uv_shadow_idx(struct uv_queue *q)
{
	if (q->dev->vring_used)
		return virtio16_to_cpu(&q->dev->vdev,
				       smp_load_acquire(&q->shadow_used->idx));
	return smp_load_acquire(&q->shadow->idx);
}

/* Entry @i (mod the ring size), each field read once. */
static void uv_shadow_entry(struct uv_queue *q, u16 i, u32 *id, u32 *len)
{
	unsigned int slot = i & (q->num - 1);

	if (q->dev->vring_used) {
		struct vring_used_elem *e = &q->shadow_used->ring[slot];

		*id = virtio32_to_cpu(&q->dev->vdev, READ_ONCE(e->id));
		*len = virtio32_to_cpu(&q->dev->vdev, READ_ONCE(e->len));
	} else {
		struct uvirtio_used_elem *e = &q->shadow->ring[slot];

		*id = READ_ONCE(e->id);
		*len = READ_ONCE(e->len);
	}
}

/*
 * Take the emulator's new completions. Returns whether to interrupt; sets
 * *reason when an entry is bad (entries before it are kept).
 */
static bool uv_harvest(struct uv_queue *q, u32 *reason)
{
	u16 old = q->used_idx, sidx, n;

	if (uv_shadow_epoch(q) != q->epoch)
		return false;
	sidx = uv_shadow_idx(q);
	/*
	 * Only now look at the avail ring: the emulator read it before it
	 * wrote these entries, so every head they name is visible to us.
	 */
	uv_avail_scan(q);
	n = sidx - q->shadow_last;
	if (n > q->num) {
		*reason = UVIRTIO_DEAD_BAD_IDX;
		return false;
	}
	while (n--) {
		u32 id, len;

		uv_shadow_entry(q, q->shadow_last, &id, &len);
		if (id >= q->num) {
			*reason = UVIRTIO_DEAD_BAD_ID;
			break;
		}
		/* id indexes per-head arrays: no speculation past the check */
		id = array_index_nospec(id, q->num);
		if (!test_bit(id, q->outstanding)) {
			*reason = UVIRTIO_DEAD_BAD_ID;
			break;
		}
		if (len > q->wlen[id]) {
			*reason = UVIRTIO_DEAD_BAD_LEN;
			break;
		}
		if (!len)
			len = uv_blk_ioerr(q, id);
		/*
		 * Before the driver can see it: it may unmap at once. A chain
		 * with nothing writable (uv_chain_scan() counted) has nothing
		 * to deliver: no second walk.
		 */
		if (q->wlen[id]) {
			struct uv_chain_reply r;

			uv_chain_reply_init(&r, q, id, len);
			uv_chain_walk(q, id, uv_chain_deliver, &r);
		}
		uv_used_push(q, id, len);
		q->shadow_last++;
	}
	return uv_used_publish(q, old);
}

/*
 * The device is dead: complete every outstanding head with an error.
 * Except virtio-net's receive buffers (queues 0, 2, 4...): the driver
 * refills and kicks for each one returned empty, which would come straight
 * back here, in a loop lasting until the interface is unregistered. Nothing
 * waits for them; the driver takes them back itself after its reset.
 */
static bool uv_fail_all(struct uv_queue *q)
{
	u16 old = q->used_idx;
	unsigned int head;

	uv_avail_scan(q);
	if (q->dev->device_id == VIRTIO_ID_NET && !(q->index & 1))
		return false;
	for_each_set_bit(head, q->outstanding, q->num)
		uv_used_push(q, head, uv_blk_ioerr(q, head));
	/* Nobody is left to complete them: interrupt whatever was asked. */
	uv_used_publish(q, old);
	return q->used_idx != old;
}

/**
 * uv_queue_deliver() - take a queue's completions to the driver, or fail
 * them all once the device is dead
 * @q:		the queue
 *
 * The one harvest path of both triggers: the call eventfd's irq_work
 * (hard-irq context) and UVIRTIO_URING_COMMIT (the emulator's task, bottom
 * halves off). A bad entry kills the device.
 *
 * Return: the number of completions taken from the shadow ring, or -EIO
 * if an entry was bad (those before it were delivered).
 */
int uv_queue_deliver(struct uv_queue *q)
{
	struct virtqueue *vq;
	unsigned long flags;
	u32 reason = 0;
	int taken;
	u16 old;
	bool irq;

	spin_lock_irqsave(&q->lock, flags);
	if (!q->ready || q->kernel) {
		spin_unlock_irqrestore(&q->lock, flags);
		return 0;
	}
	old = q->used_idx;
	if (uv_dead(q->dev))
		irq = uv_fail_all(q);
	else
		irq = uv_harvest(q, &reason);
	taken = (u16)(q->used_idx - old);
	vq = q->vq;
	/* uv_queue_stop() waits for this count to drop to 0 */
	atomic_inc(&q->committing);
	spin_unlock_irqrestore(&q->lock, flags);

	if (irq)
		vring_interrupt(0, vq);
	atomic_dec_return_release(&q->committing);
	if (reason) {
		uv_kill(q->dev, reason);
		return -EIO;
	}
	return taken;
}

/**
 * uv_queue_irq_work() - deliver completions to the driver (hard-irq context)
 * @work:	the queue's irq_work
 */
void uv_queue_irq_work(struct irq_work *work)
{
	uv_queue_deliver(container_of(work, struct uv_queue, irq_work));
}

/*
 * Keep the driver kicking at every new batch. With EVENT_IDX the driver only
 * calls uv_notify() when avail_event lies in the batch it just added, so
 * avail_event must follow the avail index. Another CPU may add a batch while
 * this runs (virtio drivers notify outside their queue lock); re-reading after
 * a full barrier guarantees that either that CPU sees the new avail_event and
 * kicks, or this kick covers its batch.
 */
static void uv_avail_event_update(struct uv_queue *q)
{
	__virtio16 *event = &vring_avail_event(&q->vring);
	__virtio16 idx = READ_ONCE(q->vring.avail->idx), now;
	unsigned int tries;

	/*
	 * Each round saw at least one new entry, and the driver cannot make
	 * more than a ring's worth available without completions: a ring's
	 * worth of rounds ends it even with completions racing. What is seen
	 * by then is covered by the kick this call makes.
	 */
	for (tries = 0; tries < q->num; tries++) {
		WRITE_ONCE(*event, idx);
		virtio_mb(true);
		now = READ_ONCE(q->vring.avail->idx);
		if (now == idx)
			break;
		idx = now;
	}
}

/*
 * UVIRTIO_CREATE_F_VRING_USED: whether the backend wants to be woken for
 * what the driver made available, as a split ring's device without
 * EVENT_IDX says it: not while its flags have VRING_USED_F_NO_NOTIFY.
 *
 * The caller issued a full barrier after the driver's avail index store.
 * It pairs with the backend's barrier between clearing NO_NOTIFY and its
 * last look at the avail index before it sleeps: either the backend sees
 * the new entries, or this sees its wish.
 */
static bool uv_kick_wanted(struct uv_queue *q)
{
	u16 flags = virtio16_to_cpu(&q->dev->vdev, READ_ONCE(q->shadow_used->flags));

	return !(flags & VRING_USED_F_NO_NOTIFY);
}

/**
 * uv_notify() - the driver kicked a queue
 * @vq:		the virtqueue
 *
 * Return: true always; false would mark the virtqueue broken for good.
 */
bool uv_notify(struct virtqueue *vq)
{
	struct uv_queue *q = vq->priv;
	struct uv_dev *dev = q->dev;
	struct eventfd_ctx *kick;

	/* Also when dead: the driver must keep kicking so its I/O is failed. */
	if (virtio_has_feature(&dev->vdev, VIRTIO_RING_F_EVENT_IDX))
		uv_avail_event_update(q);
	/* The control queue never waits on the emulator, dead or alive. */
	if (q->kernel) {
		uv_cvq_serve(q);
		return true;
	}
	if (unlikely(uv_dead(dev))) {
		irq_work_queue(&q->irq_work);
		return true;
	}
	/* Pairs with the emulator's barrier between clearing POLLING and its
	 * last look at the avail ring.
	 */
	smp_mb();
	if (READ_ONCE(dev->dom.ctrl->queue[q->index].flags) & UVIRTIO_QF_POLLING)
		return true;
	if (dev->vring_used && !uv_kick_wanted(q))
		return true;
	if (READ_ONCE(q->waiter))
		uv_wait_wake(q, 1);
	rcu_read_lock();
	kick = rcu_dereference(q->kick);
	if (kick)
		uv_eventfd_signal(kick);
	rcu_read_unlock();
	return true;
}

static bool uv_is_kick(struct uv_dev *dev, struct eventfd_ctx *ctx)
{
	unsigned int i;

	for (i = 0; i < dev->num_queues; i++)
		if (rcu_dereference_protected(dev->queues[i].kick,
					      lockdep_is_held(&dev->lock)) == ctx)
			return true;
	return false;
}

static bool uv_is_call(struct uv_dev *dev, struct eventfd_ctx *ctx)
{
	unsigned int i;

	for (i = 0; i < dev->num_queues; i++)
		if (dev->queues[i].call == ctx)
			return true;
	return false;
}

/**
 * uv_set_kick() - set or clear a queue's kick eventfd
 * @dev:	the device; dev->lock held
 * @index:	queue index, already bounds-checked
 * @fd:		an eventfd or -1
 *
 * A new eventfd is signalled once at once, so that a kick which arrived
 * while none was set is not lost.
 *
 * Return: 0, -EBADF, or -EINVAL (not an eventfd, or a call eventfd).
 */
int uv_set_kick(struct uv_dev *dev, unsigned int index, int fd)
{
	struct uv_queue *q = &dev->queues[index];
	struct eventfd_ctx *new = NULL, *old;

	lockdep_assert_held(&dev->lock);
	if (fd >= 0) {
		new = eventfd_ctx_fdget(fd);
		if (IS_ERR(new))
			return PTR_ERR(new);
		if (uv_is_call(dev, new)) {
			eventfd_ctx_put(new);
			return -EINVAL;
		}
	}
	old = rcu_replace_pointer(q->kick, new, lockdep_is_held(&dev->lock));
	if (old) {
		synchronize_rcu();
		eventfd_ctx_put(old);
	}
	if (new)
		uv_eventfd_signal(new);
	return 0;
}

static int uv_call_wake(wait_queue_entry_t *wait, unsigned int mode, int sync,
			void *key)
{
	struct uv_queue *q = container_of(wait, struct uv_queue, call_wait);
	u64 cnt;

	if (key_to_poll(key) & EPOLLIN) {
		/* Under the eventfd's lock: keep its counter from filling up. */
		eventfd_ctx_do_read(q->call, &cnt);
		irq_work_queue(&q->irq_work);
	}
	return 0;
}

static void uv_call_ptable(struct file *file, wait_queue_head_t *wqh,
			   poll_table *pt)
{
	struct uv_queue *q = container_of(pt, struct uv_queue, call_pt);

	add_wait_queue(wqh, &q->call_wait);
}

static void uv_call_detach(struct uv_queue *q)
{
	u64 cnt;

	if (!q->call)
		return;
	eventfd_ctx_remove_wait_queue(q->call, &q->call_wait, &cnt);
	eventfd_ctx_put(q->call);
	q->call = NULL;
}

/**
 * uv_set_call() - set or clear a queue's call eventfd
 * @dev:	the device; dev->lock held
 * @index:	queue index, already bounds-checked
 * @fd:		an eventfd or -1
 *
 * Like KVM's irqfd: a wait-queue entry on the eventfd runs on every write.
 *
 * Return: 0, -EBADF, or -EINVAL (not an eventfd, or a kick eventfd).
 */
int uv_set_call(struct uv_dev *dev, unsigned int index, int fd)
{
	struct uv_queue *q = &dev->queues[index];
	struct eventfd_ctx *ctx;
	struct file *file;
	__poll_t events;

	lockdep_assert_held(&dev->lock);
	uv_call_detach(q);
	if (fd < 0)
		return 0;

	file = fget(fd);
	if (!file)
		return -EBADF;
	ctx = eventfd_ctx_fileget(file);
	if (IS_ERR(ctx)) {
		fput(file);
		return PTR_ERR(ctx);
	}
	if (uv_is_kick(dev, ctx)) {
		eventfd_ctx_put(ctx);
		fput(file);
		return -EINVAL;
	}
	q->call = ctx;
	init_waitqueue_func_entry(&q->call_wait, uv_call_wake);
	init_poll_funcptr(&q->call_pt, uv_call_ptable);
	events = vfs_poll(file, &q->call_pt);
	fput(file);
	/* Written before we listened: take those completions now. */
	if (events & EPOLLIN)
		irq_work_queue(&q->irq_work);
	return 0;
}

/**
 * uv_detach_eventfds() - drop every eventfd of a device
 * @dev:	the device; its fd is being released
 */
void uv_detach_eventfds(struct uv_dev *dev)
{
	struct eventfd_ctx *kick[UVIRTIO_MAX_QUEUES];
	unsigned int i;

	mutex_lock(&dev->lock);
	for (i = 0; i < dev->num_queues; i++) {
		kick[i] = rcu_replace_pointer(dev->queues[i].kick, NULL,
					      lockdep_is_held(&dev->lock));
		uv_call_detach(&dev->queues[i]);
	}
	mutex_unlock(&dev->lock);
	/* One grace period for all queues: no uv_notify() still uses them. */
	synchronize_rcu();
	for (i = 0; i < dev->num_queues; i++) {
		if (kick[i])
			eventfd_ctx_put(kick[i]);
		irq_work_sync(&dev->queues[i].irq_work);
		uv_wait_sync(&dev->queues[i]);
	}
}

/**
 * uv_queue_reattach() - a new emulator takes over a queue (recovery mode)
 * @q:		the queue; no emulator is attached
 *
 * Delivers what the previous emulator published before it died, then starts
 * a new epoch so that the new one's shadow ring begins at 0.
 */
void uv_queue_reattach(struct uv_queue *q)
{
	unsigned long flags;

	irq_work_queue(&q->irq_work);
	irq_work_sync(&q->irq_work);
	spin_lock_irqsave(&q->lock, flags);
	q->epoch++;
	q->shadow_last = 0;
	uv_kick_fresh(q);
	spin_unlock_irqrestore(&q->lock, flags);
}

/**
 * uv_queue_inflight() - heads the driver waits for, and where to go on
 * @q:		the queue
 * @last_avail:	out: avail index up to which the heads are listed
 * @heads:	out: room for queue_size heads
 *
 * Return: the number of heads written.
 */
int uv_queue_inflight(struct uv_queue *q, u16 *last_avail, u16 *heads)
{
	unsigned long flags;
	unsigned int head;
	int n = 0;

	spin_lock_irqsave(&q->lock, flags);
	*last_avail = 0;
	if (q->ready && !q->kernel) {
		uv_avail_scan(q);
		*last_avail = q->last_avail;
		for_each_set_bit(head, q->outstanding, q->num)
			heads[n++] = head;
	}
	spin_unlock_irqrestore(&q->lock, flags);
	return n;
}

/**
 * uv_queue_requeue() - a standard-used-ring backend has gone: have the heads
 * the driver waits for read as the last avail entries (UVIRTIO_REQUEUE)
 * @q:		the queue
 * @base:	out: avail index a new backend starts from
 * @count:	out: heads re-posted
 *
 * The slots written, those of [avail idx - @count, avail idx), cannot be
 * ones the driver is filling: each head it waits for holds a descriptor,
 * so it has fewer than num - @count entries beyond the avail index. It
 * never reads its avail entries back; the module has scanned them all,
 * and scans on from the avail index. The heads go in bitmap order: they
 * were all in flight at once, so any order is one the device could have
 * chosen.
 *
 * Return: 0, -EIO if the shadow held a bad entry (the device is killed),
 * -ENODEV if the device is dead, -EINVAL if the queue has no backend.
 */
int uv_queue_requeue(struct uv_queue *q, u16 *base, u16 *count)
{
	struct virtio_device *vdev = &q->dev->vdev;
	unsigned long flags;
	unsigned int head;
	u16 first, n = 0;
	int ret;

	if (!q->dev->vring_used)
		return -EINVAL;
	/* what the backend completed before it went reaches the driver */
	ret = uv_queue_deliver(q);
	if (ret < 0)
		return ret;
	spin_lock_irqsave(&q->lock, flags);
	if (uv_dead(q->dev)) {
		ret = -ENODEV;
	} else if (!q->ready || q->kernel) {
		ret = -EINVAL;
	} else {
		uv_avail_scan(q);
		first = q->last_avail - q->inflight;
		for_each_set_bit(head, q->outstanding, q->num)
			q->vring.avail->ring[(u16)(first + n++) & (q->num - 1)] =
				cpu_to_virtio16(vdev, head);
		/* the new backend reads them after it is given the ring */
		virtio_wmb(true);
		*base = first;
		*count = n;
		uv_kick_fresh(q);
	}
	spin_unlock_irqrestore(&q->lock, flags);
	return ret;
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vq.c - split virtqueue, device side: take chains, publish completions
 *
 * The descriptor table and avail ring are the driver's; we only read them,
 * and we treat every value read from them as hostile even though the driver
 * is the kernel's own: a bad chain fails that request, never the process.
 *
 * Why a chain is rejected (uvq_elem.err):
 *   -ERANGE	 head or next index outside the table
 *   -EEXIST	 head is already in flight (not owned: nothing to complete)
 *   -ELOOP	 more descriptors than the table holds (a loop)
 *   -EOPNOTSUPP INDIRECT flag without VIRTIO_RING_F_INDIRECT_DESC
 *   -EINVAL	 INDIRECT with NEXT, nested INDIRECT, or INDIRECT anywhere
 *		 but as the only descriptor of the chain
 *   -EBADMSG	 indirect table length zero or not a multiple of 16
 *   -EFAULT	 a buffer or indirect table not entirely inside the bounce pool
 *   -ENODATA	 a zero-length buffer
 *   -EOVERFLOW	 total chain length above 4 GiB - 1
 *   -EPROTO	 a device-readable buffer after a device-writable one
 *   -ENOBUFS	 more buffers than the caller's iovec capacity
 */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "shm.h"
#include "vq.h"

/* Offsets of the ring fields we read, from the virtio 1.x split layout. */
#define AVAIL_RING_OFF	4u	/* after flags and idx */

/**
 * region_ok() - does [off, off + len) fit in [0, size) without overflow
 * @size:	size of the containing region
 * @off:	start
 * @len:	length
 *
 * Return: true if it fits
 */
static bool region_ok(uint64_t size, uint64_t off, uint64_t len)
{
	return off <= size && len <= size - off;
}

/**
 * vq_in_bounce() - is a descriptor buffer entirely inside the bounce pool
 * @vq:		queue
 * @addr:	domain offset from the descriptor
 * @len:	length from the descriptor
 *
 * Written so that no sum can wrap: addr + len is never computed.
 *
 * Return: true if [addr, addr + len) is inside the pool
 */
static bool vq_in_bounce(const struct uvq *vq, uint64_t addr, uint64_t len)
{
	if (addr < vq->bounce_offset)
		return false;
	return region_ok(vq->bounce_size, addr - vq->bounce_offset, len);
}

/**
 * uvq_elem_init() - prepare an element to receive chains
 * @e:		element
 * @iov:	iovec array the chain's buffers are described in
 * @cap:	entries in @iov
 */
void uvq_elem_init(struct uvq_elem *e, struct iovec *iov, unsigned int cap)
{
	memset(e, 0, sizeof(*e));
	e->iov = iov;
	e->iov_cap = cap;
}

/**
 * uvq_init() - attach to one queue's rings inside a memory domain
 * @vq:		queue to fill
 * @p:		where the rings are
 *
 * Checks that every ring lies inside the domain and is aligned as the
 * virtio layout requires, and that the bounce pool is inside the domain.
 * The shadow ring is claimed for @p->epoch: its idx restarts at 0 and the
 * epoch is stored last, with release, so the kernel never takes an old
 * index for the new epoch's.
 *
 * Return: 0, or -EINVAL if the layout does not fit
 */
int uvq_init(struct uvq *vq, const struct uvq_params *p)
{
	uint64_t n = p->num;
	struct uvirtio_ctrl *ctrl;

	memset(vq, 0, sizeof(*vq));
	vq->call_fd = -1;

	if (!p->base || n == 0 || n > UVIRTIO_MAX_QUEUE_SIZE || (n & (n - 1)))
		return -EINVAL;
	/* Emulators size per-head tables by the layout's queue size. */
	if (n > p->queue_size)
		return -EINVAL;
	if (p->index >= UVIRTIO_MAX_QUEUES)
		return -EINVAL;
	if (!region_ok(p->size, p->bounce_offset, p->bounce_size) ||
	    !region_ok(p->size, p->ctrl_offset, sizeof(struct uvirtio_ctrl)) ||
	    !region_ok(p->size, p->desc_offset, 16 * n) ||
	    !region_ok(p->size, p->avail_offset, 6 + 2 * n) ||
	    !region_ok(p->size, p->used_offset, 6 + 8 * n) ||
	    !region_ok(p->size, p->shadow_offset,
		       sizeof(struct uvirtio_shadow) + 8 * n))
		return -EINVAL;
	if ((p->desc_offset | p->shadow_offset) & 15 ||
	    p->avail_offset & 1 || p->used_offset & 3 || p->ctrl_offset & 63)
		return -EINVAL;

	vq->base = p->base;
	vq->bounce_offset = p->bounce_offset;
	vq->bounce_size = p->bounce_size;
	vq->desc = (const void *)(vq->base + p->desc_offset);
	vq->avail = (const void *)(vq->base + p->avail_offset);
	vq->used = (const void *)(vq->base + p->used_offset);
	vq->shadow = (void *)(vq->base + p->shadow_offset);
	ctrl = (void *)(vq->base + p->ctrl_offset);
	vq->ctrl_flags = &ctrl->queue[p->index].flags;
	vq->num = p->num;
	vq->index = p->index;
	vq->epoch = p->epoch;
	vq->indirect = p->features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	vq->event_idx = p->features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	vq->call_fd = p->call_fd;

	/* A standard used ring is started by whoever hands it to its writer. */
	if (!p->vring_used) {
		shm_store16(&vq->shadow->idx, 0, memory_order_relaxed);
		shm_store32(&vq->shadow->epoch, p->epoch, memory_order_release);
	}
	vq->ready = true;
	return 0;
}

/**
 * uvq_stop() - stop serving a queue (driver reset, or removal)
 * @vq:		queue
 *
 * Clears the polling flag, so that a later set-up starts with kicks on.
 * Completions not yet published are dropped: they belong to the old epoch.
 */
void uvq_stop(struct uvq *vq)
{
	if (vq->ready)
		shm_store32(vq->ctrl_flags, 0, memory_order_release);
	vq->ready = false;
}

/**
 * vq_read_desc() - copy one descriptor out of shared memory
 * @src:	descriptor in the table or in an indirect table
 * @d:		local copy
 *
 * The copy is validated and used, never @src again: the driver side could
 * change the table between a check and a use. The signal fence keeps the
 * compiler from re-reading @src in place of @d. memcpy() because indirect
 * tables in the bounce pool need not be aligned.
 */
static void vq_read_desc(const void *src, struct vring_desc *d)
{
	memcpy(d, src, sizeof(*d));
	atomic_signal_fence(memory_order_seq_cst);
}

/**
 * vq_add_buf() - validate one buffer descriptor and append it to @e
 * @vq:		queue
 * @e:		element being filled
 * @d:		local copy of the descriptor
 * @total:	running length of the chain
 *
 * Return: 0, or the rejection reason (see the top of this file)
 */
static int vq_add_buf(const struct uvq *vq, struct uvq_elem *e,
		      const struct vring_desc *d, uint64_t *total)
{
	uint64_t addr = le64toh(d->addr);
	uint32_t len = le32toh(d->len);
	bool write = le16toh(d->flags) & VRING_DESC_F_WRITE;
	unsigned int n = e->out_num + e->in_num;

	if (!len)
		return -ENODATA;
	if (!vq_in_bounce(vq, addr, len))
		return -EFAULT;
	*total += len;
	if (*total > UINT32_MAX)
		return -EOVERFLOW;
	if (!write && e->in_num)
		return -EPROTO;
	if (n >= e->iov_cap)
		return -ENOBUFS;

	e->iov[n].iov_base = vq->base + addr;
	e->iov[n].iov_len = len;
	if (write) {
		e->in_num++;
		e->in_len += len;
	} else {
		e->out_num++;
		e->out_len += len;
	}
	return 0;
}

/**
 * vq_walk() - walk a chain of descriptors in one table
 * @vq:		queue
 * @e:		element being filled
 * @table:	first descriptor of the table
 * @size:	entries in the table: bounds every index and the chain length
 * @d:		local copy of the chain's first descriptor, already read
 *
 * Return: 0, or the rejection reason
 */
static int vq_walk(const struct uvq *vq, struct uvq_elem *e,
		   const uint8_t *table, unsigned int size, struct vring_desc *d)
{
	unsigned int visited = 0;
	uint64_t total = 0;
	uint16_t flags;
	int ret;

	for (;;) {
		/* A chain can't be longer than its table: a loop otherwise. */
		if (++visited > size)
			return -ELOOP;
		flags = le16toh(d->flags);
		if (flags & VRING_DESC_F_INDIRECT)
			return vq->indirect ? -EINVAL : -EOPNOTSUPP;
		ret = vq_add_buf(vq, e, d, &total);
		if (ret)
			return ret;
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		if (le16toh(d->next) >= size)
			return -ERANGE;
		vq_read_desc(table + 16 * (size_t)le16toh(d->next), d);
	}
}

/**
 * vq_map_chain() - turn the chain at @e->head into iovecs
 * @vq:		queue
 * @e:		element, head set
 *
 * Return: 0, or the rejection reason
 */
static int vq_map_chain(const struct uvq *vq, struct uvq_elem *e)
{
	const uint8_t *table = (const uint8_t *)vq->desc;
	struct vring_desc d;
	uint64_t addr;
	uint32_t len;
	uint16_t flags;

	vq_read_desc(table + 16 * (size_t)e->head, &d);
	flags = le16toh(d.flags);
	if (!(flags & VRING_DESC_F_INDIRECT))
		return vq_walk(vq, e, table, vq->num, &d);

	if (!vq->indirect)
		return -EOPNOTSUPP;
	if (flags & VRING_DESC_F_NEXT)
		return -EINVAL;
	addr = le64toh(d.addr);
	len = le32toh(d.len);
	if (!len || len % sizeof(struct vring_desc))
		return -EBADMSG;
	if (!vq_in_bounce(vq, addr, len))
		return -EFAULT;

	table = vq->base + addr;
	vq_read_desc(table, &d);
	return vq_walk(vq, e, table, len / sizeof(struct vring_desc), &d);
}

/**
 * vq_inflight_test_set() - mark a head in flight
 * @vq:		queue
 * @head:	head index, < num
 *
 * Return: true if it already was
 */
static bool vq_inflight_test_set(struct uvq *vq, unsigned int head)
{
	uint64_t bit = 1ULL << (head % 64);
	bool was = vq->inflight[head / 64] & bit;

	vq->inflight[head / 64] |= bit;
	if (!was)
		vq->inflight_count++;
	return was;
}

/**
 * vq_inflight_clear() - mark a head completed
 * @vq:		queue
 * @head:	head index
 *
 * Return: true if it was in flight
 */
static bool vq_inflight_clear(struct uvq *vq, unsigned int head)
{
	uint64_t bit = 1ULL << (head % 64);

	if (head >= vq->num || !(vq->inflight[head / 64] & bit))
		return false;
	vq->inflight[head / 64] &= ~bit;
	vq->inflight_count--;
	return true;
}

/**
 * uvq_avail_idx() - the driver's avail index, read now
 * @vq:		queue
 *
 * Acquire: ring entries and descriptors the index covers are read after it.
 *
 * Return: avail->idx
 */
uint16_t uvq_avail_idx(const struct uvq *vq)
{
	return le16toh(shm_load16(&vq->avail->idx, memory_order_acquire));
}

/**
 * vq_refresh_avail() - cache the driver's avail index, or break the queue
 * @vq:		queue, ready and not broken
 *
 * The only place that reads avail->idx for serving, so that every path
 * (polling with uvq_avail_pending() or popping) applies the same rule: an
 * index more than the ring size ahead of our position cannot be valid, and
 * nothing of this ring is trusted again until it is set up anew.
 *
 * Return: 0, or -EIO if the index jumped (the queue is now broken)
 */
static int vq_refresh_avail(struct uvq *vq)
{
	uint16_t idx = uvq_avail_idx(vq);

	if ((uint16_t)(idx - vq->last_avail) > vq->num) {
		vq->broken = true;
		return -EIO;
	}
	vq->avail_idx = idx;
	return 0;
}

/**
 * uvq_avail_pending() - how many avail entries have not been taken yet
 * @vq:		queue
 *
 * Return: entries between our position and the driver's avail index; 0
 * if the queue is not running or is broken (an index that jumped by more
 * than the ring size breaks it here, and uvq_pop() then returns -EIO)
 */
unsigned int uvq_avail_pending(struct uvq *vq)
{
	if (!vq->ready || vq->broken)
		return 0;
	if (vq_refresh_avail(vq))
		return 0;
	return (uint16_t)(vq->avail_idx - vq->last_avail) +
	       (vq->replay_n - vq->replay_pos);
}

/**
 * uvq_pop() - take the next chain from the avail ring
 * @vq:		queue
 * @e:		element: head, iovecs, and the verdict
 *
 * A returned element is either good (@e->err == 0: serve it, then
 * uvq_push()) or rejected (@e->err < 0: uvq_discard() it). Either way the
 * avail entry is consumed.
 *
 * Return: 1 if @e was filled, 0 if the ring is empty (or the queue is not
 * running), -EIO if the avail index moved by more than the ring size: the
 * queue is then broken until it is set up again
 */
int uvq_pop(struct uvq *vq, struct uvq_elem *e)
{
	const uint16_t *ring;
	uint16_t head;

	if (!vq->ready)
		return 0;
	if (vq->broken)
		return -EIO;
	if (vq->replay_pos < vq->replay_n) {
		head = vq->replay[vq->replay_pos++];
		e->out_num = e->in_num = 0;
		e->out_len = e->in_len = 0;
		e->owned = false;
		goto take;
	}
	if (vq->last_avail == vq->avail_idx) {
		if (vq_refresh_avail(vq))
			return -EIO;
		if (vq->last_avail == vq->avail_idx)
			return 0;
	}

	e->out_num = e->in_num = 0;
	e->out_len = e->in_len = 0;
	e->owned = false;

	ring = (const uint16_t *)((const uint8_t *)vq->avail + AVAIL_RING_OFF);
	head = le16toh(shm_load16(&ring[vq->last_avail & (vq->num - 1)],
				  memory_order_relaxed));
	vq->last_avail++;
take:
	vq->stats.popped++;
	e->head = head;

	if (head >= vq->num) {
		vq->stats.bad_heads++;
		e->err = -ERANGE;
		return 1;
	}
	if (vq_inflight_test_set(vq, head)) {
		vq->stats.bad_heads++;
		e->err = -EEXIST;
		return 1;
	}
	e->owned = true;
	e->err = vq_map_chain(vq, e);
	if (e->err) {
		vq->stats.bad_chains++;
		e->out_num = e->in_num = 0;
		e->out_len = e->in_len = 0;
	}
	return 1;
}

/**
 * uvq_push() - write one completion into the shadow ring (not yet published)
 * @vq:		queue
 * @e:		element from uvq_pop(), owned
 * @len:	bytes written into its writable buffers
 *
 * Refuses what the kernel would kill the device for: a head not in flight,
 * a length beyond the writable part.
 *
 * Return: 0, -EINVAL if @e is not an owned in-flight head or @len is too
 * long, -ESHUTDOWN if the queue is stopped
 */
int uvq_push(struct uvq *vq, const struct uvq_elem *e, uint32_t len)
{
	struct uvirtio_used_elem *slot;

	if (!vq->ready)
		return -ESHUTDOWN;
	if (!e->owned || len > e->in_len)
		return -EINVAL;
	if (!vq_inflight_clear(vq, e->head))
		return -EINVAL;

	slot = &vq->shadow->ring[vq->shadow_idx & (vq->num - 1)];
	slot->id = e->head;
	slot->len = len;
	vq->shadow_idx++;
	vq->stats.completed++;
	return 0;
}

/**
 * uvq_discard() - finish an element that was rejected
 * @vq:		queue
 * @e:		element from uvq_pop() with @e->err set
 *
 * An owned head is completed with length 0: nothing was written. An element
 * that is not owned needs nothing.
 *
 * Return: 0, or the error of uvq_push()
 */
int uvq_discard(struct uvq *vq, const struct uvq_elem *e)
{
	if (!e->owned)
		return 0;
	return uvq_push(vq, e, 0);
}

/**
 * uvq_flush() - publish pushed completions and signal the kernel
 * @vq:		queue
 *
 * The entries are written before idx is stored with release, so the kernel
 * (which loads idx with acquire) sees whole entries. Then one call eventfd
 * write covers the whole batch; the kernel decides about the interrupt
 * (EVENT_IDX lives there). Call it before going idle, always.
 *
 * Return: number of completions published by this call, or -errno if the
 * eventfd write failed (the entries are published regardless)
 */
int uvq_flush(struct uvq *vq)
{
	return uvq_flush_signal(vq, UVQ_SIGNAL_ALWAYS);
}

/**
 * uvq_unsignalled() - completions the kernel has not been signalled for
 * @vq:		queue
 *
 * Pushed (published or not) since the last call eventfd write: what an
 * emulator coalescing interrupts holds back.
 *
 * Return: their number
 */
uint16_t uvq_unsignalled(const struct uvq *vq)
{
	return vq->shadow_idx - vq->signalled;
}

/**
 * uvq_need_signal() - does the driver want to hear about the completions
 * not signalled yet?
 * @vq:		queue
 *
 * With EVENT_IDX the driver asks to be interrupted once the used index
 * passes its used_event: true if one of the unsignalled entries did (the
 * virtio spec's vring_need_event() with old = the index last signalled).
 * Without EVENT_IDX it wants every batch. The kernel applies the same rule
 * before it interrupts; asking here saves the eventfd write.
 *
 * Return: true if a signal is wanted now
 */
bool uvq_need_signal(const struct uvq *vq)
{
	uint16_t pending = uvq_unsignalled(vq);

	if (!vq->ready || !pending)
		return false;
	if (!vq->event_idx)
		return true;
	return (uint16_t)(vq->shadow_idx - uvq_used_event(vq) - 1) < pending;
}

/**
 * uvq_flush_signal() - publish pushed completions; signal the kernel as
 * @how says
 * @vq:		queue
 * @how:	UVQ_SIGNAL_ALWAYS: if anything is unsignalled;
 *		UVQ_SIGNAL_IF_NEEDED: if uvq_need_signal();
 *		UVQ_SIGNAL_NEVER: publish only (the entries stay unsignalled
 *		and a later signalling flush covers them)
 *
 * See uvq_flush() for the ordering.
 *
 * Return: number of completions published by this call, or -errno if the
 * eventfd write failed (the entries are published regardless)
 */
int uvq_flush_signal(struct uvq *vq, enum uvq_signal how)
{
	uint64_t one = 1;
	int n = uvq_publish(vq);

	if (!uvq_signal_due(vq, how) || vq->call_fd < 0)
		return n;
	if (write(vq->call_fd, &one, sizeof(one)) != sizeof(one))
		return -errno;
	uvq_signal_given(vq);
	return n;
}

/**
 * uvq_publish() - make pushed completions visible to the kernel
 * @vq:		queue
 *
 * See uvq_flush() for the ordering.
 *
 * Return: number of completions published by this call
 */
int uvq_publish(struct uvq *vq)
{
	uint16_t n;

	if (!vq->ready)
		return 0;
	n = vq->shadow_idx - vq->published;
	if (n) {
		shm_store16(&vq->shadow->idx, vq->shadow_idx,
			    memory_order_release);
		vq->published = vq->shadow_idx;
	}
	return n;
}

/**
 * uvq_signal_due() - after uvq_publish(): is a signal due, as @how says?
 * @vq:		queue
 * @how:	see uvq_flush_signal()
 *
 * For emulators that signal the kernel some other way than the call
 * eventfd (an io_uring UVIRTIO_URING_COMMIT): they then call
 * uvq_signal_given().
 *
 * Return: true if published completions are unsignalled and @how wants
 * them signalled now
 */
bool uvq_signal_due(const struct uvq *vq, enum uvq_signal how)
{
	bool want = how == UVQ_SIGNAL_ALWAYS ||
		    (how == UVQ_SIGNAL_IF_NEEDED && uvq_need_signal(vq));

	return vq->ready && want && vq->signalled != vq->published;
}

/**
 * uvq_signal_given() - the published completions were signalled
 * @vq:		queue
 */
void uvq_signal_given(struct uvq *vq)
{
	vq->signalled = vq->published;
	vq->stats.signals++;
}

/**
 * uvq_poll_begin() - tell the kernel kicks are not needed: we are draining
 * @vq:		queue
 */
void uvq_poll_begin(struct uvq *vq)
{
	if (vq->ready)
		shm_store32(vq->ctrl_flags, UVIRTIO_QF_POLLING,
			    memory_order_relaxed);
}

/**
 * uvq_poll_end() - ask for kicks again before going to sleep
 * @vq:		queue
 *
 * The driver publishes avail->idx, then (full barrier) reads our flag to
 * decide whether to kick. We clear the flag, then (full barrier) read
 * avail->idx. With both barriers at least one side sees the other's write:
 * either the driver kicks, or we see the new buffers here.
 *
 * Return: true if buffers arrived meanwhile: keep serving (the flag is
 * set again); false: safe to sleep on the kick eventfd
 */
bool uvq_poll_end(struct uvq *vq)
{
	if (!vq->ready)
		return false;
	shm_store32(vq->ctrl_flags, 0, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	if (!uvq_avail_pending(vq))
		return false;
	uvq_poll_begin(vq);
	return true;
}

/**
 * uvq_strerror() - why a chain was rejected, in words
 * @err:	uvq_elem.err
 *
 * Return: a static string
 */
const char *uvq_strerror(int err)
{
	switch (err) {
	case 0:
		return "valid";
	case -ERANGE:
		return "descriptor index out of range";
	case -EEXIST:
		return "head already in flight";
	case -ELOOP:
		return "chain longer than its table (loop)";
	case -EOPNOTSUPP:
		return "indirect descriptor not negotiated";
	case -EINVAL:
		return "indirect descriptor misplaced or nested";
	case -EBADMSG:
		return "indirect table length not a non-zero multiple of 16";
	case -EFAULT:
		return "buffer outside the bounce pool";
	case -ENODATA:
		return "zero-length buffer";
	case -EOVERFLOW:
		return "total length above 4 GiB";
	case -EPROTO:
		return "device-readable buffer after a writable one";
	case -ENOBUFS:
		return "more buffers than the caller can take";
	default:
		return "invalid chain";
	}
}

/**
 * uvq_used_event() - the driver's used_event (tail of the avail ring)
 * @vq:		queue
 *
 * For diagnostics only: the kernel applies EVENT_IDX itself.
 *
 * Return: used_event, or 0 if EVENT_IDX was not negotiated
 */
uint16_t uvq_used_event(const struct uvq *vq)
{
	const uint16_t *ring;

	if (!vq->event_idx)
		return 0;
	ring = (const uint16_t *)((const uint8_t *)vq->avail + AVAIL_RING_OFF);
	return le16toh(shm_load16(&ring[vq->num], memory_order_relaxed));
}

/**
 * uvq_used_idx() - the used index the driver sees (written by the kernel)
 * @vq:		queue
 *
 * For diagnostics only.
 *
 * Return: used->idx
 */
uint16_t uvq_used_idx(const struct uvq *vq)
{
	return le16toh(shm_load16(&vq->used->idx, memory_order_acquire));
}

/**
 * uvq_resume() - continue a queue another process served (recovery mode)
 * @vq:		queue, just set up with uvq_init() for the current epoch
 * @last_avail:	avail index to continue from (UVIRTIO_GET_INFLIGHT)
 * @heads:	heads the driver still waits for; uvq_pop() returns them first
 * @n:		how many
 *
 * Return: 0, or -EINVAL if @n or a head is out of range
 */
int uvq_resume(struct uvq *vq, uint16_t last_avail, const uint16_t *heads,
	       unsigned int n)
{
	unsigned int i;

	if (!vq->ready || n > vq->num)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (heads[i] >= vq->num)
			return -EINVAL;
		vq->replay[i] = heads[i];
	}
	vq->replay_n = n;
	vq->replay_pos = 0;
	vq->last_avail = vq->avail_idx = last_avail;
	return 0;
}

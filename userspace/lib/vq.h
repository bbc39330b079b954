/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vq.h - split virtqueue, device side, over a plain memory domain
 *
 * This part knows nothing about /dev/uvirtio: it is given a memory domain
 * (a mapping, or any buffer a test builds by hand) and the offsets of one
 * queue's rings in it. Descriptor addresses are offsets into that domain
 * and must point into its bounce pool.
 *
 * What a bad chain does (DESIGN decision 7): uvq_pop() consumes the avail
 * entry and hands back an element whose @err says why it was rejected. If
 * the element is @owned, the caller must still complete it exactly once,
 * and uvq_discard() does so with used length 0 (nothing was written). If
 * the head itself was unusable (out of range, or already in flight) the
 * element is not owned and there is nothing to complete; the kernel would
 * refuse such an id. Only an avail index that moved by more than the ring
 * size breaks the whole queue: uvq_pop() then returns -EIO until the queue
 * is set up again, since no entry of such a ring can be trusted.
 */
#ifndef UVIRTIO_VQ_H
#define UVIRTIO_VQ_H

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/uvirtio.h>
#include <linux/virtio_ring.h>

/**
 * struct uvq_params - where one queue lives in a memory domain
 * @base:	start of the domain (the mmap() of the device fd)
 * @size:	bytes of the domain
 * @bounce_offset: offset of the bounce pool; every buffer must be inside it
 * @bounce_size: bytes of the bounce pool
 * @ctrl_offset: offset of struct uvirtio_ctrl
 * @index:	queue index (selects the ctrl slot)
 * @num:	ring size chosen by the driver, power of two, 1..1024
 * @queue_size: the device's queue size (layout); @num may not exceed it
 * @epoch:	queue epoch from UVIRTIO_GET_QUEUE
 * @desc_offset: descriptor table
 * @avail_offset: avail ring
 * @used_offset: the driver's used ring (read only here)
 * @shadow_offset: struct uvirtio_shadow of this queue
 * @features:	features the driver accepted (INDIRECT_DESC, EVENT_IDX)
 * @call_fd:	eventfd written after publishing completions, or -1
 * @vring_used:	the shadow ring is a standard vring_used that another
 *		process writes (UVIRTIO_CREATE_F_VRING_USED): uvq_init() leaves
 *		it and the epoch alone, and the queue is described, never
 *		served (no uvq_push() or uvq_pop() on it)
 */
struct uvq_params {
	void *base;
	uint64_t size;
	uint64_t bounce_offset;
	uint64_t bounce_size;
	uint64_t ctrl_offset;
	unsigned int index;
	unsigned int num;
	unsigned int queue_size;
	uint32_t epoch;
	uint64_t desc_offset;
	uint64_t avail_offset;
	uint64_t used_offset;
	uint64_t shadow_offset;
	uint64_t features;
	int call_fd;
	bool vring_used;
};

/**
 * struct uvq_stats - counters, for diagnostics
 * @popped:	chains taken from the avail ring (good or bad)
 * @bad_chains:	chains rejected by validation (completed with len 0)
 * @bad_heads:	avail entries naming no usable head (skipped)
 * @completed:	completions written into the shadow ring
 * @signals:	call eventfd writes
 */
struct uvq_stats {
	uint64_t popped;
	uint64_t bad_chains;
	uint64_t bad_heads;
	uint64_t completed;
	uint64_t signals;
};

#define UVQ_INFLIGHT_WORDS	(UVIRTIO_MAX_QUEUE_SIZE / 64)

/**
 * struct uvq - one split virtqueue as the device sees it
 * @base:	domain start
 * @bounce_offset: bounce pool offset in the domain
 * @bounce_size: bounce pool bytes
 * @desc:	descriptor table (driver-owned, read only)
 * @avail:	avail ring (driver-owned, read only)
 * @used:	the driver's used ring (kernel-owned, read only)
 * @shadow:	our completion ring
 * @ctrl_flags:	this queue's UVIRTIO_QF_* word in the ctrl page
 * @num:	ring size
 * @index:	queue index
 * @epoch:	queue epoch the shadow entries belong to
 * @indirect:	VIRTIO_RING_F_INDIRECT_DESC negotiated
 * @event_idx:	VIRTIO_RING_F_EVENT_IDX negotiated
 * @ready:	set up and not stopped
 * @broken:	the avail index jumped; nothing more is taken
 * @call_fd:	eventfd to signal, or -1
 * @last_avail:	next avail entry to take
 * @avail_idx:	last avail->idx read (cached to save acquire loads)
 * @shadow_idx:	next shadow slot to write
 * @published:	shadow idx as last stored for the kernel
 * @signalled:	shadow idx as of the last call eventfd write
 * @inflight_count: heads popped and not yet completed
 * @inflight:	bitmap of those heads
 * @stats:	counters
 * @replay:	heads to serve before the avail ring (uvq_resume())
 * @replay_n:	entries in @replay
 * @replay_pos:	next entry of @replay to pop
 */
struct uvq {
	uint8_t *base;
	uint64_t bounce_offset;
	uint64_t bounce_size;
	const struct vring_desc *desc;
	const struct vring_avail *avail;
	const struct vring_used *used;
	struct uvirtio_shadow *shadow;
	uint32_t *ctrl_flags;
	unsigned int num;
	unsigned int index;
	uint32_t epoch;
	bool indirect;
	bool event_idx;
	bool ready;
	bool broken;
	int call_fd;
	uint16_t last_avail;
	uint16_t avail_idx;
	uint16_t shadow_idx;
	uint16_t published;
	uint16_t signalled;
	unsigned int inflight_count;
	uint64_t inflight[UVQ_INFLIGHT_WORDS];
	struct uvq_stats stats;
	uint16_t replay[UVIRTIO_MAX_QUEUE_SIZE];
	unsigned int replay_n;
	unsigned int replay_pos;
};

/**
 * struct uvq_elem - one chain taken from the avail ring
 * @head:	head descriptor index (the used id)
 * @owned:	@head is in flight and must be completed exactly once
 * @err:	0, or why the chain was rejected (negative errno, see vq.c)
 * @iov:	caller's iovec array; device-readable buffers first
 * @iov_cap:	entries in @iov: a longer chain is rejected (-ENOBUFS)
 * @out_num:	device-readable iovecs, at @iov[0]
 * @in_num:	device-writable iovecs, at @iov[@out_num]
 * @out_len:	bytes in the readable part
 * @in_len:	bytes in the writable part
 */
struct uvq_elem {
	uint16_t head;
	bool owned;
	int err;
	struct iovec *iov;
	unsigned int iov_cap;
	unsigned int out_num;
	unsigned int in_num;
	uint32_t out_len;
	uint32_t in_len;
};

/**
 * enum uvq_signal - when uvq_flush_signal() writes the call eventfd
 * @UVQ_SIGNAL_NEVER:	publish only; a later flush signals
 * @UVQ_SIGNAL_IF_NEEDED: if the driver asked for it (uvq_need_signal())
 * @UVQ_SIGNAL_ALWAYS:	whenever something is unsignalled (uvq_flush())
 */
enum uvq_signal {
	UVQ_SIGNAL_NEVER,
	UVQ_SIGNAL_IF_NEEDED,
	UVQ_SIGNAL_ALWAYS,
};

void uvq_elem_init(struct uvq_elem *e, struct iovec *iov, unsigned int cap);
int uvq_init(struct uvq *vq, const struct uvq_params *p);
void uvq_stop(struct uvq *vq);
int uvq_pop(struct uvq *vq, struct uvq_elem *e);
int uvq_push(struct uvq *vq, const struct uvq_elem *e, uint32_t len);
int uvq_discard(struct uvq *vq, const struct uvq_elem *e);
int uvq_flush(struct uvq *vq);
int uvq_flush_signal(struct uvq *vq, enum uvq_signal how);
int uvq_publish(struct uvq *vq);
bool uvq_signal_due(const struct uvq *vq, enum uvq_signal how);
void uvq_signal_given(struct uvq *vq);
bool uvq_need_signal(const struct uvq *vq);
uint16_t uvq_unsignalled(const struct uvq *vq);
unsigned int uvq_avail_pending(struct uvq *vq);
void uvq_poll_begin(struct uvq *vq);
bool uvq_poll_end(struct uvq *vq);
uint16_t uvq_avail_idx(const struct uvq *vq);
uint16_t uvq_used_event(const struct uvq *vq);
uint16_t uvq_used_idx(const struct uvq *vq);
const char *uvq_strerror(int err);
int uvq_resume(struct uvq *vq, uint16_t last_avail, const uint16_t *heads,
	       unsigned int n);

/**
 * uvq_elem_in() - first device-writable iovec of an element
 * @e:		element
 *
 * Return: pointer to the writable part of @e->iov
 */
static inline struct iovec *uvq_elem_in(const struct uvq_elem *e)
{
	return e->iov + e->out_num;
}

/**
 * uvq_shadow_idx_load() - completions published in a shadow ring, read now
 * @shadow:	the queue's shadow ring (struct uvq's @shadow)
 * @vring_used:	the device was created with UVIRTIO_CREATE_F_VRING_USED:
 *		the ring is a little-endian struct vring_used written by
 *		another process, its idx after the flags; otherwise it is a
 *		struct uvirtio_shadow, idx first, in this machine's order
 *
 * For readers beside the ring's writer (diagnostics): acquire, so entries
 * the index covers may be read after it.
 *
 * Return: the ring's idx
 */
static inline uint16_t uvq_shadow_idx_load(const void *shadow, bool vring_used)
{
	if (vring_used)
		return le16toh(__atomic_load_n(
			&((const struct vring_used *)shadow)->idx,
			__ATOMIC_ACQUIRE));
	return __atomic_load_n(&((const struct uvirtio_shadow *)shadow)->idx,
			       __ATOMIC_ACQUIRE);
}

#endif /* UVIRTIO_VQ_H */

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * inflight.c - a queue's requests inside the device, readable from any thread
 *
 * One slot per head, each a tiny seqlock: the serving thread (the only
 * writer) makes the sequence odd, fills the slot, makes it even again; a
 * reader retries a slot whose sequence was odd or changed under it, and
 * gives up on a slot after a few tries (the request then shows up in the
 * next read). The writer never waits.
 */
#include <stdatomic.h>

#include "statfs.h"

#define INFLIGHT_READ_TRIES	4

/**
 * slot_write_begin() - make a slot's sequence odd before changing it
 * @s:		slot
 */
static void slot_write_begin(struct uvstatfs_slot *s)
{
	uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);

	atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed);
	/* the odd sequence is visible before any field changes */
	atomic_thread_fence(memory_order_release);
}

/**
 * slot_write_end() - make a slot's sequence even: its fields are stable
 * @s:		slot
 */
static void slot_write_end(struct uvstatfs_slot *s)
{
	uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);

	atomic_store_explicit(&s->seq, seq + 1, memory_order_release);
}

/**
 * uvstatfs_inflight_begin() - record a request the device just took
 * @t:		the queue's table
 * @head:	head id (ignored if out of range)
 * @type:	static string naming the request type
 * @sector:	first sector, or 0
 * @len:	data bytes
 * @now_ns:	uvstatfs_now_ns() when it was taken (0 is taken as 1)
 */
void uvstatfs_inflight_begin(struct uvstatfs_inflight_table *t, uint16_t head,
			     const char *type, uint64_t sector, uint32_t len,
			     uint64_t now_ns)
{
	struct uvstatfs_slot *s;

	if (head >= UVIRTIO_MAX_QUEUE_SIZE)
		return;
	s = &t->slot[head];
	slot_write_begin(s);
	atomic_store_explicit(&s->type, type, memory_order_relaxed);
	atomic_store_explicit(&s->sector, sector, memory_order_relaxed);
	atomic_store_explicit(&s->len, len, memory_order_relaxed);
	atomic_store_explicit(&s->start_ns, now_ns ? now_ns : 1,
			      memory_order_relaxed);
	slot_write_end(s);
}

/**
 * uvstatfs_inflight_end() - the device completed a request
 * @t:		the queue's table
 * @head:	head id
 */
void uvstatfs_inflight_end(struct uvstatfs_inflight_table *t, uint16_t head)
{
	struct uvstatfs_slot *s;

	if (head >= UVIRTIO_MAX_QUEUE_SIZE)
		return;
	s = &t->slot[head];
	slot_write_begin(s);
	atomic_store_explicit(&s->start_ns, 0, memory_order_relaxed);
	slot_write_end(s);
}

/**
 * uvstatfs_inflight_walk() - report every request in a table
 * @t:		the queue's table
 * @num:	ring size (heads 0..num-1 are looked at)
 * @emit:	called once per request in flight
 * @ctx:	passed to @emit
 */
void uvstatfs_inflight_walk(const struct uvstatfs_inflight_table *t,
			    unsigned int num, uvstatfs_emit_fn emit, void *ctx)
{
	unsigned int i, tries;

	if (num > UVIRTIO_MAX_QUEUE_SIZE)
		num = UVIRTIO_MAX_QUEUE_SIZE;
	for (i = 0; i < num; i++) {
		struct uvstatfs_slot *s = (struct uvstatfs_slot *)&t->slot[i];
		struct uvstatfs_req r;
		uint32_t seq;

		for (tries = 0; tries < INFLIGHT_READ_TRIES; tries++) {
			seq = atomic_load_explicit(&s->seq,
						   memory_order_acquire);
			if (seq & 1)
				continue;
			r.start_ns = atomic_load_explicit(&s->start_ns,
							  memory_order_relaxed);
			r.type = atomic_load_explicit(&s->type,
						      memory_order_relaxed);
			r.sector = atomic_load_explicit(&s->sector,
							memory_order_relaxed);
			r.len = atomic_load_explicit(&s->len,
						     memory_order_relaxed);
			/* the field loads complete before the re-check */
			atomic_thread_fence(memory_order_acquire);
			if (atomic_load_explicit(&s->seq,
						 memory_order_relaxed) == seq)
				break;
		}
		if (tries == INFLIGHT_READ_TRIES || !r.start_ns)
			continue;
		r.head = i;
		if (!r.type)
			r.type = "?";
		emit(ctx, &r);
	}
}

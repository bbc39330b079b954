// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_vq.c - the split virtqueue code against hand-built rings
 *
 * A memory buffer plays the device's domain: ctrl page, shadow ring,
 * descriptor table, avail and used rings, bounce pool. The test writes
 * the driver's side by hand, hostile where it wants, and checks what
 * uvq_pop() makes of it and what uvq_push()/uvq_flush() write back.
 */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tap.h"
#include "vq.h"

#define DOM_SIZE	(1u << 20)
#define CTRL_OFF	0u
#define SHADOW_OFF	4096u
#define DESC_OFF	8192u		/* up to 1024 descriptors */
#define AVAIL_OFF	24576u
#define USED_OFF	32768u
#define BOUNCE_OFF	65536u
#define BOUNCE_SIZE	(512u << 10)	/* ends below DOM_SIZE on purpose */
#define B(n)		(BOUNCE_OFF + 4096u * (n))	/* a bounce page */

#define F_INDIRECT	(1ULL << VIRTIO_RING_F_INDIRECT_DESC)
#define F_EVENT_IDX	(1ULL << VIRTIO_RING_F_EVENT_IDX)
#define F_ALL		(F_INDIRECT | F_EVENT_IDX)

#define NEXT		VRING_DESC_F_NEXT
#define WRITE		VRING_DESC_F_WRITE
#define INDIRECT	VRING_DESC_F_INDIRECT

#define IOV_CAP		64

static uint8_t *mem;
static struct uvq vq;
static struct iovec iov[IOV_CAP];
static struct uvq_elem el;
static uint16_t drv_avail_idx;
static int call_fd = -1;

/**
 * setup_layout() - a fresh domain and queue
 * @num:	ring size
 * @queue_size:	the layout's queue size
 * @features:	negotiated features
 * @size:	domain size to claim (may exceed the real buffer if no
 *		buffer beyond it is ever touched)
 * @bounce_size: bounce pool size to claim
 *
 * Return: uvq_init()'s result
 */
static int setup_layout(unsigned int num, unsigned int queue_size,
			uint64_t features, uint64_t size, uint64_t bounce_size)
{
	struct uvq_params p = {
		.base = mem, .size = size,
		.bounce_offset = BOUNCE_OFF, .bounce_size = bounce_size,
		.ctrl_offset = CTRL_OFF, .index = 0, .num = num,
		.queue_size = queue_size, .epoch = 7,
		.desc_offset = DESC_OFF, .avail_offset = AVAIL_OFF,
		.used_offset = USED_OFF, .shadow_offset = SHADOW_OFF,
		.features = features, .call_fd = call_fd,
	};
	uint64_t v;

	memset(mem, 0, DOM_SIZE);
	drv_avail_idx = 0;
	while (read(call_fd, &v, sizeof(v)) > 0)
		;
	uvq_elem_init(&el, iov, IOV_CAP);
	return uvq_init(&vq, &p);
}

/**
 * setup_ex() - a fresh domain and queue whose ring is as big as the layout's
 * @num:	ring size
 * @features:	negotiated features
 * @size:	domain size to claim
 * @bounce_size: bounce pool size to claim
 *
 * Return: uvq_init()'s result
 */
static int setup_ex(unsigned int num, uint64_t features, uint64_t size,
		    uint64_t bounce_size)
{
	return setup_layout(num, num, features, size, bounce_size);
}

/**
 * setup() - a fresh 8-entry queue in a 1 MiB domain
 * @features:	negotiated features
 *
 * Return: true on success
 */
static bool setup(uint64_t features)
{
	return setup_ex(8, features, DOM_SIZE, BOUNCE_SIZE) == 0;
}

/**
 * desc_at() - write a descriptor as the driver would (little-endian)
 * @table:	domain offset of the table
 * @i:		entry
 * @addr:	buffer offset
 * @len:	length
 * @flags:	VRING_DESC_F_*
 * @next:	next entry
 */
static void desc_at(uint64_t table, unsigned int i, uint64_t addr,
		    uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc d = {
		.addr = htole64(addr), .len = htole32(len),
		.flags = htole16(flags), .next = htole16(next),
	};

	memcpy(mem + table + 16 * i, &d, sizeof(d));
}

/**
 * desc() - write a descriptor into the queue's table
 * @i:		entry
 * @addr:	buffer offset
 * @len:	length
 * @flags:	VRING_DESC_F_*
 * @next:	next entry
 */
static void desc(unsigned int i, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	desc_at(DESC_OFF, i, addr, len, flags, next);
}

/**
 * avail_ring() - the avail ring's entries
 *
 * Return: pointer to ring[0]
 */
static uint16_t *avail_ring(void)
{
	return (uint16_t *)(mem + AVAIL_OFF + 4);
}

/**
 * avail_set_idx() - store the driver's avail index
 * @idx:	value
 */
static void avail_set_idx(uint16_t idx)
{
	uint16_t le = htole16(idx);

	memcpy(mem + AVAIL_OFF + 2, &le, 2);
}

/**
 * avail_add() - make a head available
 * @head:	head index
 */
static void avail_add(uint16_t head)
{
	avail_ring()[drv_avail_idx % vq.num] = htole16(head);
	avail_set_idx(++drv_avail_idx);
}

/**
 * shadow() - the queue's shadow ring
 *
 * Return: pointer
 */
static struct uvirtio_shadow *shadow(void)
{
	return (struct uvirtio_shadow *)(mem + SHADOW_OFF);
}

/**
 * ctrl_flags() - queue 0's flags in the ctrl page
 *
 * Return: the flags
 */
static uint32_t ctrl_flags(void)
{
	return ((struct uvirtio_ctrl *)(mem + CTRL_OFF))->queue[0].flags;
}

/**
 * signals() - read and reset the call eventfd's counter
 *
 * Return: the counter, 0 if nothing was signalled
 */
static uint64_t signals(void)
{
	uint64_t v = 0;

	if (read(call_fd, &v, sizeof(v)) < 0)
		return 0;
	return v;
}

/**
 * simple_request() - a 3-descriptor blk-like chain at @head
 * @head:	first entry; uses head, head + 1, head + 2
 */
static void simple_request(unsigned int head)
{
	desc(head, B(0), 16, NEXT, head + 1);
	desc(head + 1, B(1), 512, NEXT, head + 2);
	desc(head + 2, B(2), 1, WRITE, 0);
}

/**
 * expect_bad() - pop one chain and check it was rejected
 * @err:	expected reason
 * @owned:	whether it must be completed
 *
 * Also completes it with uvq_discard() and checks the shadow entry.
 *
 * Return: true if as expected
 */
static bool expect_bad(int err, bool owned)
{
	CHECK_EQ(uvq_pop(&vq, &el), 1);
	CHECK_EQ(el.err, err);
	CHECK_EQ(el.owned, owned);
	CHECK_EQ(el.out_num + el.in_num, 0);
	CHECK_EQ(uvq_discard(&vq, &el), 0);
	CHECK(uvq_flush(&vq) >= 0);
	if (owned) {
		CHECK_EQ(shadow()->idx, 1);
		CHECK_EQ(shadow()->ring[0].id, el.head);
		CHECK_EQ(shadow()->ring[0].len, 0);
	} else {
		CHECK_EQ(shadow()->idx, 0);
	}
	CHECK_EQ(uvq_pop(&vq, &el), 0);
	return true;
}

/* ---- positive cases ---- */

static bool t_simple_chain(void)
{
	CHECK(setup(F_ALL));
	simple_request(0);
	avail_add(0);
	CHECK_EQ(uvq_pop(&vq, &el), 1);
	CHECK_EQ(el.err, 0);
	CHECK(el.owned);
	CHECK_EQ(el.head, 0);
	CHECK_EQ(el.out_num, 2);
	CHECK_EQ(el.in_num, 1);
	CHECK_EQ(el.out_len, 528);
	CHECK_EQ(el.in_len, 1);
	CHECK(iov[0].iov_base == mem + B(0) && iov[0].iov_len == 16);
	CHECK(iov[1].iov_base == mem + B(1) && iov[1].iov_len == 512);
	CHECK(uvq_elem_in(&el)->iov_base == mem + B(2));
	CHECK_EQ(uvq_pop(&vq, &el), 0);
	return true;
}

static bool t_indirect_chain(void)
{
	CHECK(setup(F_ALL));
	desc_at(B(10), 0, B(0), 16, NEXT, 1);
	desc_at(B(10), 1, B(1), 4096, NEXT | WRITE, 2);
	desc_at(B(10), 2, B(2), 1, WRITE, 0);
	desc(5, B(10), 48, INDIRECT, 0);
	avail_add(5);
	CHECK_EQ(uvq_pop(&vq, &el), 1);
	CHECK_EQ(el.err, 0);
	CHECK_EQ(el.head, 5);
	CHECK_EQ(el.out_num, 1);
	CHECK_EQ(el.in_num, 2);
	CHECK_EQ(el.in_len, 4097);
	CHECK(iov[1].iov_base == mem + B(1));
	return true;
}

static bool t_indirect_unaligned(void)
{
	/* Bounced tables need not be 16-byte aligned: accept them. */
	CHECK(setup(F_ALL));
	desc_at(B(10) + 3, 0, B(0), 16, NEXT, 1);
	desc_at(B(10) + 3, 1, B(2), 1, WRITE, 0);
	desc(0, B(10) + 3, 32, INDIRECT, 0);
	avail_add(0);
	CHECK_EQ(uvq_pop(&vq, &el), 1);
	CHECK_EQ(el.err, 0);
	CHECK_EQ(el.out_num + el.in_num, 2);
	return true;
}

static bool t_exact_bounce_end(void)
{
	CHECK(setup(F_ALL));
	desc(0, BOUNCE_OFF + BOUNCE_SIZE - 20, 20, 0, 0);
	avail_add(0);
	CHECK_EQ(uvq_pop(&vq, &el), 1);
	CHECK_EQ(el.err, 0);
	return true;
}

static bool t_max_total_len(void)
{
	/* 4 GiB - 1 in total is the largest chain: accepted. */
	CHECK(setup_ex(8, F_ALL, 16ULL << 30, 12ULL << 30) == 0);
	desc(0, B(0), 0x80000000u, NEXT, 1);
	desc(1, B(0), 0x7fffffffu, WRITE, 0);
	avail_add(0);
	CHECK_EQ(uvq_pop(&vq, &el), 1);
	CHECK_EQ(el.err, 0);
	CHECK_EQ(el.in_len, 0x7fffffffu);
	return true;
}

static bool t_full_ring(void)
{
	/* Exactly num entries available is fine (not a jump). */
	unsigned int i;

	CHECK(setup(F_ALL));
	for (i = 0; i < 8; i++) {
		desc(i, B(i), 1, WRITE, 0);
		avail_add(i);
	}
	for (i = 0; i < 8; i++) {
		CHECK_EQ(uvq_pop(&vq, &el), 1);
		CHECK_EQ(el.err, 0);
		CHECK_EQ(el.head, i);
	}
	CHECK_EQ(uvq_pop(&vq, &el), 0);
	CHECK_EQ(vq.inflight_count, 8);
	return true;
}

static bool t_chain_uses_whole_table(void)
{
	/* num descriptors in one chain is the longest legal chain. */
	unsigned int i;

	CHECK(setup(F_ALL));
	for (i = 0; i < 7; i++)
		desc(i, B(i), 16, NEXT, i + 1);
	desc(7, B(7), 1, WRITE, 0);
	avail_add(0);
	CHECK_EQ(uvq_pop(&vq, &el), 1);
	CHECK_EQ(el.err, 0);
	CHECK_EQ(el.out_num, 7);
	CHECK_EQ(el.in_num, 1);
	return true;
}

static bool t_avail_wrap(void)
{
	/* The free-running avail index wraps from 65535 to 0. */
	unsigned int i;

	CHECK(setup(F_ALL));
	drv_avail_idx = 65534;
	avail_set_idx(drv_avail_idx);
	vq.last_avail = vq.avail_idx = 65534;
	for (i = 0; i < 4; i++) {
		desc(i, B(i), 1, WRITE, 0);
		avail_add(i);
	}
	CHECK_EQ(drv_avail_idx, 2);
	for (i = 0; i < 4; i++) {
		CHECK_EQ(uvq_pop(&vq, &el), 1);
		CHECK_EQ(el.head, i);
		CHECK_EQ(el.err, 0);
	}
	CHECK_EQ(uvq_pop(&vq, &el), 0);
	return true;
}

static bool t_event_idx(void)
{
	uint16_t v = htole16(0x1234);

	CHECK(setup(F_ALL));
	memcpy(mem + AVAIL_OFF + 4 + 2 * 8, &v, 2);	/* ring[num] */
	CHECK_EQ(uvq_used_event(&vq), 0x1234);
	v = htole16(42);
	memcpy(mem + USED_OFF + 2, &v, 2);
	CHECK_EQ(uvq_used_idx(&vq), 42);
	/* Without EVENT_IDX the tail is not the driver's: report 0. */
	CHECK(setup(F_INDIRECT));
	memcpy(mem + AVAIL_OFF + 4 + 2 * 8, &v, 2);
	CHECK_EQ(uvq_used_event(&vq), 0);
	return true;
}

static bool t_init_claims_epoch(void)
{
	struct uvq_params p;

	memset(mem, 0, DOM_SIZE);
	shadow()->idx = 99;
	shadow()->epoch = 3;
	memset(&p, 0, sizeof(p));
	p.base = mem;
	p.size = DOM_SIZE;
	p.bounce_offset = BOUNCE_OFF;
	p.bounce_size = BOUNCE_SIZE;
	p.num = 8;
	p.queue_size = 8;
	p.epoch = 4;
	p.desc_offset = DESC_OFF;
	p.avail_offset = AVAIL_OFF;
	p.used_offset = USED_OFF;
	p.shadow_offset = SHADOW_OFF;
	p.call_fd = -1;
	CHECK_EQ(uvq_init(&vq, &p), 0);
	CHECK_EQ(shadow()->idx, 0);
	CHECK_EQ(shadow()->epoch, 4);
	return true;
}

static bool t_init_rejects_layout(void)
{
	CHECK_EQ(setup_ex(6, F_ALL, DOM_SIZE, BOUNCE_SIZE), -EINVAL);
	CHECK_EQ(setup_ex(0, F_ALL, DOM_SIZE, BOUNCE_SIZE), -EINVAL);
	CHECK_EQ(setup_ex(2048, F_ALL, DOM_SIZE, BOUNCE_SIZE), -EINVAL);
	/* A ring bigger than the device's queue size: per-head tables of
	 * queue_size entries would be indexed out of bounds. */
	CHECK_EQ(setup_layout(8, 4, F_ALL, DOM_SIZE, BOUNCE_SIZE), -EINVAL);
	CHECK_EQ(setup_layout(8, 0, F_ALL, DOM_SIZE, BOUNCE_SIZE), -EINVAL);
	CHECK_EQ(setup_layout(4, 8, F_ALL, DOM_SIZE, BOUNCE_SIZE), 0);
	/* Bounce pool past the end of the domain. */
	CHECK_EQ(setup_ex(8, F_ALL, DOM_SIZE, DOM_SIZE), -EINVAL);
	/* Rings past the end of the domain. */
	CHECK_EQ(setup_ex(8, F_ALL, USED_OFF + 8, 0), -EINVAL);
	return true;
}

static bool t_shadow_publish(void)
{
	CHECK(setup(F_ALL));
	simple_request(0);
	avail_add(0);
	CHECK_EQ(uvq_pop(&vq, &el), 1);
	CHECK_EQ(uvq_push(&vq, &el, 1), 0);
	/* Written but not published: idx unchanged, nothing signalled. */
	CHECK_EQ(shadow()->ring[0].id, 0);
	CHECK_EQ(shadow()->ring[0].len, 1);
	CHECK_EQ(shadow()->idx, 0);
	CHECK_EQ(signals(), 0);
	CHECK_EQ(uvq_flush(&vq), 1);
	CHECK_EQ(shadow()->idx, 1);
	CHECK_EQ(shadow()->epoch, 7);
	CHECK_EQ(signals(), 1);
	/* Nothing new: no second signal. */
	CHECK_EQ(uvq_flush(&vq), 0);
	CHECK_EQ(signals(), 0);
	return true;
}

/* Three one-buffer requests, popped and pushed one by one by the caller. */
static void three_requests(void)
{
	unsigned int i;

	for (i = 0; i < 3; i++) {
		desc(i, B(i), 64, WRITE, 0);
		avail_add(i);
	}
}

static bool push_next(void)
{
	CHECK_EQ(uvq_pop(&vq, &el), 1);
	CHECK_EQ(uvq_push(&vq, &el, 1), 0);
	return true;
}

static bool t_signal_modes(void)
{
	uint16_t v = htole16(1);

	CHECK(setup(F_ALL));
	three_requests();
	/* The driver wants an interrupt once used idx passes 1 (entry 2). */
	memcpy(mem + AVAIL_OFF + 4 + 2 * 8, &v, 2);
	CHECK(!uvq_need_signal(&vq));
	CHECK(push_next());
	CHECK_EQ(uvq_unsignalled(&vq), 1);
	CHECK(!uvq_need_signal(&vq));
	CHECK_EQ(uvq_flush_signal(&vq, UVQ_SIGNAL_IF_NEEDED), 1);
	CHECK_EQ(shadow()->idx, 1);
	CHECK_EQ(signals(), 0);
	CHECK_EQ(uvq_unsignalled(&vq), 1);
	CHECK(push_next());
	CHECK(uvq_need_signal(&vq));
	CHECK_EQ(uvq_flush_signal(&vq, UVQ_SIGNAL_IF_NEEDED), 1);
	CHECK_EQ(signals(), 1);
	CHECK_EQ(uvq_unsignalled(&vq), 0);
	/* NEVER publishes only; a later ALWAYS flush signals it. */
	CHECK(push_next());
	CHECK_EQ(uvq_flush_signal(&vq, UVQ_SIGNAL_NEVER), 1);
	CHECK_EQ(shadow()->idx, 3);
	CHECK_EQ(signals(), 0);
	CHECK_EQ(uvq_unsignalled(&vq), 1);
	CHECK_EQ(uvq_flush(&vq), 0);
	CHECK_EQ(signals(), 1);
	/* Without EVENT_IDX every unsignalled batch needs a signal. */
	CHECK(setup(F_INDIRECT));
	three_requests();
	CHECK(!uvq_need_signal(&vq));
	CHECK(push_next());
	CHECK(uvq_need_signal(&vq));
	CHECK_EQ(uvq_flush_signal(&vq, UVQ_SIGNAL_IF_NEEDED), 1);
	CHECK_EQ(signals(), 1);
	return true;
}

static bool t_batch(void)
{
	unsigned int i;
	uint32_t len[5];

	CHECK(setup(F_ALL));
	for (i = 0; i < 5; i++) {
		desc(i, B(i), 100 + i, WRITE, 0);
		avail_add(i);
	}
	for (i = 0; i < 5; i++) {
		CHECK_EQ(uvq_pop(&vq, &el), 1);
		len[i] = el.in_len;
		CHECK_EQ(uvq_push(&vq, &el, len[i]), 0);
	}
	CHECK_EQ(shadow()->idx, 0);
	CHECK_EQ(uvq_flush(&vq), 5);
	CHECK_EQ(shadow()->idx, 5);
	for (i = 0; i < 5; i++) {
		CHECK_EQ(shadow()->ring[i].id, i);
		CHECK_EQ(shadow()->ring[i].len, len[i]);
	}
	CHECK_EQ(signals(), 1);
	CHECK_EQ(vq.inflight_count, 0);
	return true;
}

static bool t_shadow_wrap(void)
{
	/* Out-of-order completions over many laps of a 4-entry ring. */
	unsigned int lap, slot;

	CHECK(setup_ex(4, F_ALL, DOM_SIZE, BOUNCE_SIZE) == 0);
	desc(0, B(0), 8, WRITE, 0);
	desc(1, B(1), 8, WRITE, 0);
	for (lap = 0; lap < 10; lap++) {
		struct uvq_elem a, b;
		struct iovec ia[2], ib[2];

		uvq_elem_init(&a, ia, 2);
		uvq_elem_init(&b, ib, 2);
		avail_add(0);
		avail_add(1);
		CHECK_EQ(uvq_pop(&vq, &a), 1);
		CHECK_EQ(uvq_pop(&vq, &b), 1);
		CHECK_EQ(uvq_push(&vq, &b, 2), 0);
		CHECK_EQ(uvq_push(&vq, &a, 3), 0);
		CHECK_EQ(uvq_flush(&vq), 2);
		slot = (2 * lap) % 4;
		CHECK_EQ(shadow()->ring[slot].id, 1);
		CHECK_EQ(shadow()->ring[slot + 1].id, 0);
		CHECK_EQ(shadow()->ring[slot + 1].len, 3);
	}
	CHECK_EQ(shadow()->idx, 20);
	CHECK_EQ(signals(), 10);
	return true;
}

static bool t_push_guards(void)
{
	/* What the kernel would kill the device for is refused here. */
	struct uvq_elem copy;

	CHECK(setup(F_ALL));
	simple_request(0);
	avail_add(0);
	CHECK_EQ(uvq_pop(&vq, &el), 1);
	CHECK_EQ(uvq_push(&vq, &el, 2), -EINVAL);	/* len > in_len */
	CHECK_EQ(uvq_push(&vq, &el, 1), 0);
	CHECK_EQ(uvq_push(&vq, &el, 1), -EINVAL);	/* twice */
	copy = el;
	copy.head = 3;					/* never popped */
	CHECK_EQ(uvq_push(&vq, &copy, 0), -EINVAL);
	copy.head = 100;
	CHECK_EQ(uvq_push(&vq, &copy, 0), -EINVAL);
	CHECK_EQ(uvq_flush(&vq), 1);
	return true;
}

static bool t_polling(void)
{
	CHECK(setup(F_ALL));
	uvq_poll_begin(&vq);
	CHECK_EQ(ctrl_flags(), UVIRTIO_QF_POLLING);
	/* Nothing new: flag cleared, safe to sleep. */
	CHECK(!uvq_poll_end(&vq));
	CHECK_EQ(ctrl_flags(), 0);

	/* A buffer appears while polling: poll_end sees it, flag back on. */
	uvq_poll_begin(&vq);
	simple_request(0);
	avail_add(0);
	CHECK(uvq_poll_end(&vq));
	CHECK_EQ(ctrl_flags(), UVIRTIO_QF_POLLING);
	CHECK_EQ(uvq_pop(&vq, &el), 1);
	CHECK(!uvq_poll_end(&vq));
	CHECK_EQ(ctrl_flags(), 0);
	return true;
}

static bool t_stopped(void)
{
	CHECK(setup(F_ALL));
	simple_request(0);
	avail_add(0);
	uvq_poll_begin(&vq);
	CHECK_EQ(uvq_pop(&vq, &el), 1);
	uvq_stop(&vq);
	CHECK_EQ(ctrl_flags(), 0);
	avail_add(0);
	CHECK_EQ(uvq_pop(&vq, &el), 0);
	CHECK_EQ(uvq_push(&vq, &el, 1), -ESHUTDOWN);
	CHECK_EQ(uvq_flush(&vq), 0);
	CHECK(!uvq_poll_end(&vq));
	return true;
}

static bool t_reuse_after_complete(void)
{
	CHECK(setup(F_ALL));
	simple_request(0);
	avail_add(0);
	CHECK_EQ(uvq_pop(&vq, &el), 1);
	CHECK_EQ(uvq_push(&vq, &el, 1), 0);
	avail_add(0);
	CHECK_EQ(uvq_pop(&vq, &el), 1);
	CHECK_EQ(el.err, 0);
	CHECK(el.owned);
	return true;
}

/* ---- hostile cases ---- */

static bool t_loop(void)
{
	CHECK(setup(F_ALL));
	desc(0, B(0), 16, NEXT, 1);
	desc(1, B(1), 16, NEXT, 0);
	avail_add(0);
	return expect_bad(-ELOOP, true);
}

static bool t_self_loop(void)
{
	CHECK(setup(F_ALL));
	desc(3, B(0), 16, NEXT, 3);
	avail_add(3);
	return expect_bad(-ELOOP, true);
}

static bool t_next_out_of_range(void)
{
	CHECK(setup(F_ALL));
	desc(0, B(0), 16, NEXT, 8);
	avail_add(0);
	return expect_bad(-ERANGE, true);
}

static bool t_head_out_of_range(void)
{
	CHECK(setup(F_ALL));
	avail_add(8);
	if (!expect_bad(-ERANGE, false))
		return false;
	CHECK_EQ(vq.stats.bad_heads, 1);
	return true;
}

static bool t_head_in_flight(void)
{
	CHECK(setup(F_ALL));
	simple_request(0);
	avail_add(0);
	avail_add(0);
	CHECK_EQ(uvq_pop(&vq, &el), 1);
	CHECK_EQ(el.err, 0);
	CHECK_EQ(uvq_pop(&vq, &el), 1);
	CHECK_EQ(el.err, -EEXIST);
	CHECK(!el.owned);
	CHECK_EQ(uvq_discard(&vq, &el), 0);
	CHECK_EQ(uvq_flush(&vq), 0);
	CHECK_EQ(shadow()->idx, 0);
	CHECK_EQ(vq.inflight_count, 1);
	return true;
}

static bool t_nested_indirect(void)
{
	CHECK(setup(F_ALL));
	desc_at(B(10), 0, B(0), 16, NEXT, 1);
	desc_at(B(10), 1, B(11), 32, INDIRECT, 0);
	desc(0, B(10), 32, INDIRECT, 0);
	avail_add(0);
	return expect_bad(-EINVAL, true);
}

static bool t_indirect_with_next(void)
{
	CHECK(setup(F_ALL));
	desc_at(B(10), 0, B(0), 16, 0, 0);
	desc(0, B(10), 16, INDIRECT | NEXT, 1);
	desc(1, B(1), 1, WRITE, 0);
	avail_add(0);
	return expect_bad(-EINVAL, true);
}

static bool t_indirect_not_negotiated(void)
{
	CHECK(setup(F_EVENT_IDX));
	desc_at(B(10), 0, B(0), 16, 0, 0);
	desc(0, B(10), 16, INDIRECT, 0);
	avail_add(0);
	return expect_bad(-EOPNOTSUPP, true);
}

static bool t_indirect_len_zero(void)
{
	CHECK(setup(F_ALL));
	desc(0, B(10), 0, INDIRECT, 0);
	avail_add(0);
	return expect_bad(-EBADMSG, true);
}

static bool t_indirect_len_odd(void)
{
	CHECK(setup(F_ALL));
	desc_at(B(10), 0, B(0), 16, 0, 0);
	desc(0, B(10), 24, INDIRECT, 0);
	avail_add(0);
	return expect_bad(-EBADMSG, true);
}

static bool t_indirect_outside_bounce(void)
{
	/* A table over the driver's own descriptor table is refused. */
	CHECK(setup(F_ALL));
	desc(0, DESC_OFF, 128, INDIRECT, 0);
	avail_add(0);
	return expect_bad(-EFAULT, true);
}

static bool t_indirect_mid_chain(void)
{
	CHECK(setup(F_ALL));
	desc_at(B(10), 0, B(1), 1, WRITE, 0);
	desc(0, B(0), 16, NEXT, 1);
	desc(1, B(10), 16, INDIRECT, 0);
	avail_add(0);
	return expect_bad(-EINVAL, true);
}

static bool t_indirect_loop(void)
{
	CHECK(setup(F_ALL));
	desc_at(B(10), 0, B(0), 16, NEXT, 1);
	desc_at(B(10), 1, B(1), 16, NEXT, 0);
	desc(0, B(10), 32, INDIRECT, 0);
	avail_add(0);
	return expect_bad(-ELOOP, true);
}

static bool t_indirect_next_out_of_table(void)
{
	/* next must stay inside the indirect table, not the ring's. */
	CHECK(setup(F_ALL));
	desc_at(B(10), 0, B(0), 16, NEXT, 2);
	desc_at(B(10), 1, B(1), 1, WRITE, 0);
	desc(0, B(10), 32, INDIRECT, 0);
	avail_add(0);
	return expect_bad(-ERANGE, true);
}

static bool t_zero_len(void)
{
	CHECK(setup(F_ALL));
	desc(0, B(0), 16, NEXT, 1);
	desc(1, B(1), 0, WRITE, 0);
	avail_add(0);
	return expect_bad(-ENODATA, true);
}

static bool t_total_overflow(void)
{
	/* Two 3 GiB buffers: each fine, the sum is past 4 GiB. */
	CHECK(setup_ex(8, F_ALL, 16ULL << 30, 12ULL << 30) == 0);
	desc(0, B(0), 0xc0000000u, NEXT, 1);
	desc(1, B(0), 0xc0000000u, WRITE, 0);
	avail_add(0);
	return expect_bad(-EOVERFLOW, true);
}

static bool t_total_exactly_4g(void)
{
	/* 2^32 does not fit the 32-bit used length: rejected. */
	CHECK(setup_ex(8, F_ALL, 16ULL << 30, 12ULL << 30) == 0);
	desc(0, B(0), 0x80000000u, NEXT, 1);
	desc(1, B(0), 0x80000000u, WRITE, 0);
	avail_add(0);
	return expect_bad(-EOVERFLOW, true);
}

static bool t_addr_outside_domain(void)
{
	CHECK(setup(F_ALL));
	desc(0, 1ULL << 40, 16, 0, 0);
	avail_add(0);
	return expect_bad(-EFAULT, true);
}

static bool t_addr_in_domain_not_bounce(void)
{
	/* Inside the domain but beyond the pool, and below it. */
	CHECK(setup(F_ALL));
	desc(0, BOUNCE_OFF + BOUNCE_SIZE, 16, 0, 0);
	desc(1, SHADOW_OFF, 16, WRITE, 0);
	avail_add(0);
	avail_add(1);
	CHECK_EQ(uvq_pop(&vq, &el), 1);
	CHECK_EQ(el.err, -EFAULT);
	CHECK_EQ(uvq_pop(&vq, &el), 1);
	CHECK_EQ(el.err, -EFAULT);
	return true;
}

static bool t_addr_wrap(void)
{
	CHECK(setup(F_ALL));
	desc(0, UINT64_MAX - 10, 100, 0, 0);
	avail_add(0);
	return expect_bad(-EFAULT, true);
}

static bool t_straddle_bounce_end(void)
{
	CHECK(setup(F_ALL));
	desc(0, BOUNCE_OFF + BOUNCE_SIZE - 10, 20, WRITE, 0);
	avail_add(0);
	return expect_bad(-EFAULT, true);
}

static bool t_write_before_read(void)
{
	CHECK(setup(F_ALL));
	desc(0, B(0), 16, WRITE | NEXT, 1);
	desc(1, B(1), 16, 0, 0);
	avail_add(0);
	return expect_bad(-EPROTO, true);
}

static bool t_iov_capacity(void)
{
	CHECK(setup(F_ALL));
	uvq_elem_init(&el, iov, 2);
	simple_request(0);
	avail_add(0);
	return expect_bad(-ENOBUFS, true);
}

static bool t_avail_jump(void)
{
	CHECK(setup(F_ALL));
	simple_request(0);
	avail_set_idx(9);	/* 9 new entries in an 8-entry ring */
	CHECK_EQ(uvq_pop(&vq, &el), -EIO);
	CHECK(vq.broken);
	/* Broken stays broken: no entry of this ring is trusted again. */
	avail_set_idx(1);
	CHECK_EQ(uvq_pop(&vq, &el), -EIO);
	CHECK_EQ(uvq_avail_pending(&vq), 0);
	CHECK(!uvq_poll_end(&vq));
	CHECK_EQ(vq.stats.popped, 0);
	return true;
}

static bool t_avail_jump_pending(void)
{
	CHECK(setup(F_ALL));
	simple_request(0);
	avail_set_idx(9);	/* 9 new entries in an 8-entry ring */
	/* Polling sees the jump first: same verdict as uvq_pop() reading it. */
	CHECK_EQ(uvq_avail_pending(&vq), 0);
	CHECK(vq.broken);
	CHECK_EQ(uvq_pop(&vq, &el), -EIO);
	CHECK_EQ(vq.stats.popped, 0);
	/* The same through the poll loop's end check. */
	CHECK(setup(F_ALL));
	simple_request(0);
	avail_set_idx(200);
	uvq_poll_begin(&vq);
	CHECK(!uvq_poll_end(&vq));
	CHECK_EQ(uvq_pop(&vq, &el), -EIO);
	CHECK_EQ(vq.stats.popped, 0);
	return true;
}

static bool t_bad_then_good(void)
{
	/* A bad chain fails that request only; the next one is served. */
	CHECK(setup(F_ALL));
	desc(0, B(0), 16, NEXT, 0);
	simple_request(1);
	avail_add(0);
	avail_add(1);
	CHECK_EQ(uvq_pop(&vq, &el), 1);
	CHECK_EQ(el.err, -ELOOP);
	CHECK_EQ(uvq_discard(&vq, &el), 0);
	CHECK_EQ(uvq_pop(&vq, &el), 1);
	CHECK_EQ(el.err, 0);
	CHECK_EQ(el.head, 1);
	CHECK_EQ(uvq_push(&vq, &el, 1), 0);
	CHECK_EQ(uvq_flush(&vq), 2);
	CHECK_EQ(shadow()->ring[0].len, 0);
	CHECK_EQ(shadow()->ring[1].id, 1);
	CHECK_EQ(vq.stats.bad_chains, 1);
	return true;
}

static const struct tap_test tests[] = {
	{ t_simple_chain,		"simple chain: readable then writable iovecs" },
	{ t_indirect_chain,		"indirect chain" },
	{ t_indirect_unaligned,		"indirect table at an unaligned offset" },
	{ t_exact_bounce_end,		"buffer ending exactly at the bounce end" },
	{ t_max_total_len,		"chain of 4 GiB - 1 accepted" },
	{ t_full_ring,			"num entries available at once" },
	{ t_chain_uses_whole_table,	"chain of num descriptors accepted" },
	{ t_avail_wrap,			"avail index wraps 65535 -> 0" },
	{ t_event_idx,			"used_event and used idx readout" },
	{ t_init_claims_epoch,		"init stores epoch, restarts shadow idx" },
	{ t_init_rejects_layout,	"init rejects bad num and layouts" },
	{ t_shadow_publish,		"shadow publish: entry, idx, one signal" },
	{ t_signal_modes,		"signal modes: if needed (EVENT_IDX), never, always" },
	{ t_batch,			"batch of 5 completions, one signal" },
	{ t_shadow_wrap,		"shadow ring wraps, out-of-order ids" },
	{ t_push_guards,		"push refuses long len, double and stray heads" },
	{ t_polling,			"polling flag protocol" },
	{ t_stopped,			"stopped queue takes and completes nothing" },
	{ t_reuse_after_complete,	"head reusable after completion" },
	{ t_loop,			"descriptor loop -> ELOOP" },
	{ t_self_loop,			"descriptor pointing at itself -> ELOOP" },
	{ t_next_out_of_range,		"next out of range -> ERANGE" },
	{ t_head_out_of_range,		"head out of range -> ERANGE, not owned" },
	{ t_head_in_flight,		"head already in flight -> EEXIST, not owned" },
	{ t_nested_indirect,		"nested indirect -> EINVAL" },
	{ t_indirect_with_next,		"indirect with next -> EINVAL" },
	{ t_indirect_not_negotiated,	"indirect not negotiated -> EOPNOTSUPP" },
	{ t_indirect_len_zero,		"indirect len 0 -> EBADMSG" },
	{ t_indirect_len_odd,		"indirect len not multiple of 16 -> EBADMSG" },
	{ t_indirect_outside_bounce,	"indirect table outside bounce -> EFAULT" },
	{ t_indirect_mid_chain,		"indirect after other descriptors -> EINVAL" },
	{ t_indirect_loop,		"loop inside indirect table -> ELOOP" },
	{ t_indirect_next_out_of_table,	"indirect next beyond table -> ERANGE" },
	{ t_zero_len,			"zero-length descriptor -> ENODATA" },
	{ t_total_overflow,		"total length > 4 GiB -> EOVERFLOW" },
	{ t_total_exactly_4g,		"total length of exactly 4 GiB -> EOVERFLOW" },
	{ t_addr_outside_domain,	"addr outside domain -> EFAULT" },
	{ t_addr_in_domain_not_bounce,	"addr in domain outside bounce -> EFAULT" },
	{ t_addr_wrap,			"addr + len wraps u64 -> EFAULT" },
	{ t_straddle_bounce_end,	"buffer straddling bounce end -> EFAULT" },
	{ t_write_before_read,		"readable after writable -> EPROTO" },
	{ t_iov_capacity,		"chain longer than iovec capacity -> ENOBUFS" },
	{ t_avail_jump,			"avail idx jump > num -> EIO, queue broken" },
	{ t_avail_jump_pending,		"avail idx jump seen by pending -> EIO" },
	{ t_bad_then_good,		"bad chain fails alone, next one served" },
};

/**
 * main() - run the table
 *
 * Return: 0 if all passed, else 1
 */
int main(void)
{
	mem = aligned_alloc(4096, DOM_SIZE);
	call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!mem || call_fd < 0) {
		printf("Bail out! no memory or eventfd\n");
		return 1;
	}
	return tap_run_table(tests, sizeof(tests) / sizeof(tests[0]));
}

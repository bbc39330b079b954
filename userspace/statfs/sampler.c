// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sampler.c - the sampler thread: one sample of every queue each
 * SAMPLE_MS into the verdicts the stuck file shows
 *
 * It reads the rings as queue_snap() does for the files, never taking a
 * lock the data path takes; the verdicts have their own mutex, shared
 * only with the readers of the stuck file.
 */
#include <poll.h>
#include <string.h>

#include "shm.h"
#include "uvstatfs_int.h"

#define SAMPLE_MS		250

/**
 * queue_snap() - load a queue's indices while its owner serves it
 * @dev:	device
 * @i:		queue index
 * @s:		out
 *
 * struct uvq belongs to the serving thread: its fields are read with
 * atomic loads (each is naturally aligned), the rings through their
 * shared-memory accessors. The domain stays mapped while the device
 * lives, so a pointer that was valid once still points into it.
 *
 * A device created with UVIRTIO_CREATE_F_VRING_USED is a front end's: a
 * backend in another process takes the buffers and writes the shadow ring
 * as a standard used ring. Its idx is read in that layout, and last_avail
 * is not known here (struct uvq's copy never moves).
 */
void queue_snap(struct uvdev *dev, unsigned int i, struct qsnap *s)
{
	struct uvq *vq = &dev->q[i].vq;
	const struct vring_avail *avail;
	const struct vring_used *used;
	const void *shadow;
	const uint16_t *p;
	unsigned int num;

	memset(s, 0, sizeof(*s));
	s->last_avail_unknown = dev->vring_used;
	s->ready = __atomic_load_n(&vq->ready, __ATOMIC_ACQUIRE);
	num = __atomic_load_n(&vq->num, __ATOMIC_RELAXED);
	avail = __atomic_load_n(&vq->avail, __ATOMIC_RELAXED);
	used = __atomic_load_n(&vq->used, __ATOMIC_RELAXED);
	shadow = __atomic_load_n(&vq->shadow, __ATOMIC_RELAXED);
	if (!s->ready || !avail || !used || !shadow || !num ||
	    num > UVIRTIO_MAX_QUEUE_SIZE) {
		s->ready = false;
		return;
	}
	s->num = num;
	s->avail_idx = le16toh(shm_load16(&avail->idx, memory_order_acquire));
	if (!dev->vring_used)
		s->last_avail = __atomic_load_n(&vq->last_avail,
						__ATOMIC_RELAXED);
	s->shadow_idx = uvq_shadow_idx_load(shadow, dev->vring_used);
	s->used_idx = le16toh(shm_load16(&used->idx, memory_order_acquire));
	/* used_event follows the avail ring's num entries */
	p = (const uint16_t *)((const uint8_t *)avail + 4 + 2 * num);
	s->used_event = le16toh(shm_load16(p, memory_order_relaxed));
	/* avail_event follows the used ring's num 8-byte entries */
	p = (const uint16_t *)((const uint8_t *)used + 4 + 8 * num);
	s->avail_event = le16toh(shm_load16(p, memory_order_relaxed));
}

/**
 * struct age_count - emit context counting old requests
 * @now_ns:	time of the count
 * @old:	requests older than UVSTATFS_INFLIGHT_MS
 */
struct age_count {
	uint64_t now_ns;
	unsigned int old;
};

/**
 * count_old() - uvstatfs_emit_fn: count a request if it is old
 * @ctx:	struct age_count
 * @r:		request
 */
static void count_old(void *ctx, const struct uvstatfs_req *r)
{
	struct age_count *a = ctx;

	if (a->now_ns > r->start_ns &&
	    a->now_ns - r->start_ns > UVSTATFS_INFLIGHT_MS * 1000000ULL)
		a->old++;
}

/**
 * sample_all() - one sample of every queue into the verdicts
 * @fs:		filesystem
 */
static void sample_all(struct uvstatfs *fs)
{
	uint64_t now = uvstatfs_now_ns();
	struct uvstatfs_sample s;
	struct qsnap qs;
	unsigned int i, n = fs->dev->num_queues;

	for (i = 0; i < n && i < UVIRTIO_MAX_QUEUES; i++) {
		struct age_count a = { .now_ns = now };

		queue_snap(fs->dev, i, &qs);
		if (qs.ready && fs->ops->inflight)
			fs->ops->inflight(fs->opaque, i, count_old, &a);
		s.ready = qs.ready;
		s.last_avail_unknown = qs.last_avail_unknown;
		/*
		 * Buffers waiting for data to come are not waiting on anyone;
		 * where last_avail is unknown, neither are the ones not
		 * completed yet.
		 */
		s.avail_idx = qs.avail_idx;
		if (fs->ops->passive_queues & (1ULL << i))
			s.avail_idx = qs.last_avail_unknown ? qs.shadow_idx :
				      qs.last_avail;
		s.last_avail = qs.last_avail;
		s.shadow_idx = qs.shadow_idx;
		s.used_idx = qs.used_idx;
		s.old_inflight = a.old;
		pthread_mutex_lock(&fs->vlock);
		uvstatfs_verdict_update(&fs->v[i], &s,
					(int64_t)(now / 1000000ULL));
		pthread_mutex_unlock(&fs->vlock);
	}
}

/**
 * sampler_main() - the sampler thread
 * @arg:	struct uvstatfs
 *
 * Return: NULL
 */
void *sampler_main(void *arg)
{
	struct uvstatfs *fs = arg;
	struct pollfd pfd = { .fd = fs->stop_fd, .events = POLLIN };

	for (;;) {
		sample_all(fs);
		if (poll(&pfd, 1, SAMPLE_MS) > 0)
			break;
	}
	return NULL;
}

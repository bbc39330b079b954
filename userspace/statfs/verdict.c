// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * verdict.c - which side of a queue waits, from samples over time
 *
 * See verdict.h for what each condition means and why it must persist.
 */
#include <stdio.h>

#include <linux/uvirtio.h>

#include "verdict.h"

/**
 * uvstatfs_verdict_init() - forget a queue's history
 * @v:		verdict state
 */
void uvstatfs_verdict_init(struct uvstatfs_qverdict *v)
{
	v->unseen_avail = 0;
	v->uncompleted = 0;
	v->unseen_used = 0;
	v->old_inflight = 0;
	v->avail_since_ms = -1;
	v->avail_mark = 0;
	v->used_since_ms = -1;
	v->used_mark = 0;
}

/**
 * verdict_track() - follow one "A ahead of B, B not moving" condition
 * @ahead:	how far A is ahead of B (mod 2^16)
 * @progress:	B, the index that should move
 * @since_ms:	in/out: when the condition began, -1 if it does not hold
 * @mark:	in/out: @progress when it began
 * @now_ms:	time of the sample
 *
 * Any movement of B restarts the clock: the side is slow, not stuck. A gap
 * larger than any ring (corrupt or torn indices) is not a verdict either.
 *
 * Return: @ahead once the condition held for UVSTATFS_STUCK_MS, else 0
 */
static unsigned int verdict_track(uint16_t ahead, uint16_t progress,
				  int64_t *since_ms, uint16_t *mark,
				  int64_t now_ms)
{
	if (!ahead || ahead > UVIRTIO_MAX_QUEUE_SIZE) {
		*since_ms = -1;
		return 0;
	}
	if (*since_ms < 0 || *mark != progress) {
		*since_ms = now_ms;
		*mark = progress;
	}
	return now_ms - *since_ms >= UVSTATFS_STUCK_MS ? ahead : 0;
}

/**
 * uvstatfs_verdict_update() - take one sample of a queue into account
 * @v:		verdict state
 * @s:		sample
 * @now_ms:	time of the sample, monotonic milliseconds
 */
void uvstatfs_verdict_update(struct uvstatfs_qverdict *v,
			     const struct uvstatfs_sample *s, int64_t now_ms)
{
	if (!s->ready) {
		uvstatfs_verdict_init(v);
		return;
	}
	if (s->last_avail_unknown) {
		v->unseen_avail = 0;
		v->uncompleted = verdict_track(s->avail_idx - s->shadow_idx,
					       s->shadow_idx,
					       &v->avail_since_ms,
					       &v->avail_mark, now_ms);
	} else {
		v->uncompleted = 0;
		v->unseen_avail = verdict_track(s->avail_idx - s->last_avail,
						s->last_avail,
						&v->avail_since_ms,
						&v->avail_mark, now_ms);
	}
	v->unseen_used = verdict_track(s->shadow_idx - s->used_idx,
				       s->used_idx, &v->used_since_ms,
				       &v->used_mark, now_ms);
	v->old_inflight = s->old_inflight;
}

/**
 * uvstatfs_verdict_ok() - nothing to report for this queue
 * @v:		verdict state
 *
 * Return: true if no condition holds
 */
bool uvstatfs_verdict_ok(const struct uvstatfs_qverdict *v)
{
	return !v->unseen_avail && !v->uncompleted && !v->unseen_used &&
	       !v->old_inflight;
}

/**
 * uvstatfs_verdict_format() - the queue's lines of the stuck file
 * @v:		verdict state
 * @q:		queue index
 * @buf:	output, NUL-terminated
 * @len:	bytes at @buf
 *
 * Return: characters written (as snprintf(), clamped to @len - 1), 0 if
 * the queue is fine
 */
int uvstatfs_verdict_format(const struct uvstatfs_qverdict *v,
			    unsigned int q, char *buf, size_t len)
{
	size_t n = 0;

	if (!len)
		return 0;
	buf[0] = '\0';
#define VERDICT_ADD(...)						\
	do {								\
		int r_ = snprintf(buf + n, len - n, __VA_ARGS__);	\
		if (r_ > 0)						\
			n += (size_t)r_ < len - n ? (size_t)r_ : len - n - 1; \
	} while (0)
	if (v->unseen_avail)
		VERDICT_ADD("queue %u: device has not seen %u available buffer%s (no kick received?)\n",
			    q, v->unseen_avail, v->unseen_avail == 1 ? "" : "s");
	if (v->uncompleted)
		VERDICT_ADD("queue %u: backend has not completed %u available buffer%s (backend stopped or hung?)\n",
			    q, v->uncompleted, v->uncompleted == 1 ? "" : "s");
	if (v->unseen_used)
		VERDICT_ADD("queue %u: driver has not seen %u used buffer%s (interrupt suppressed or lost?)\n",
			    q, v->unseen_used, v->unseen_used == 1 ? "" : "s");
	if (v->old_inflight)
		VERDICT_ADD("queue %u: %u request%s inside the emulator for more than %d s\n",
			    q, v->old_inflight, v->old_inflight == 1 ? "" : "s",
			    UVSTATFS_INFLIGHT_MS / 1000);
#undef VERDICT_ADD
	return (int)n;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * verdict.h - decide from samples over time which side of a queue waits
 *
 * Pure logic, no FUSE and no device: statfs.c feeds it one sample per queue
 * every few hundred ms; the host unit tests feed it made-up samples.
 *
 * A queue is reported only when a condition has held without progress for
 * UVSTATFS_STUCK_MS: a busy queue always has buffers in some stage, so a
 * snapshot alone says nothing. Progress is the index of the side that is
 * supposed to move:
 *   avail idx ahead of last_avail, last_avail not moving: the device has
 *     not taken what the driver offered (it got no kick, or ignores it);
 *   shadow idx (completions the device published) ahead of the driver's
 *     used idx, used idx not moving: the kernel copies completions only when
 *     the call eventfd is written, so the eventfd write (the interrupt) was
 *     withheld or lost;
 *   a request inside the device for more than UVSTATFS_INFLIGHT_MS: its age
 *     is its own persistence, reported at once.
 * When last_avail is not known (a vhost-user backend takes the buffers,
 * not the process that mounted the filesystem), the first condition
 * becomes: avail idx ahead of shadow idx, shadow idx not moving: the
 * backend has not completed what the driver offered (it is stopped, hung,
 * or got no kick); it has taken none, some or all of those buffers.
 */
#ifndef UVSTATFS_VERDICT_H
#define UVSTATFS_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UVSTATFS_STUCK_MS	2000
#define UVSTATFS_INFLIGHT_MS	5000

/**
 * struct uvstatfs_sample - one queue at one moment
 * @ready:	the driver has set the queue up
 * @avail_idx:	the driver's avail->idx
 * @last_avail:	the device's next avail entry to take
 * @last_avail_unknown: @last_avail is not known (a backend in another
 *		process takes the buffers): judge by @shadow_idx instead
 * @shadow_idx:	completions the device published (shadow ring idx)
 * @used_idx:	the driver's used->idx (written by the kernel)
 * @old_inflight: requests inside the device older than UVSTATFS_INFLIGHT_MS
 */
struct uvstatfs_sample {
	bool ready;
	uint16_t avail_idx;
	uint16_t last_avail;
	bool last_avail_unknown;
	uint16_t shadow_idx;
	uint16_t used_idx;
	unsigned int old_inflight;
};

/**
 * struct uvstatfs_qverdict - what one queue's history says
 * @unseen_avail: buffers the device has not taken, if stuck, else 0
 * @uncompleted: last_avail unknown: buffers the backend has not
 *		completed, if stuck, else 0
 * @unseen_used: completions the driver has not seen, if stuck, else 0
 * @old_inflight: requests inside the device for too long
 * @avail_since_ms: when the "device has not taken" (or "backend has not
 *		completed") condition began, or -1
 * @avail_mark:	last_avail (shadow idx) when it began
 * @used_since_ms: when the "driver has not seen" condition began, or -1
 * @used_mark:	used_idx when it began
 */
struct uvstatfs_qverdict {
	unsigned int unseen_avail;
	unsigned int uncompleted;
	unsigned int unseen_used;
	unsigned int old_inflight;
	int64_t avail_since_ms;
	uint16_t avail_mark;
	int64_t used_since_ms;
	uint16_t used_mark;
};

void uvstatfs_verdict_init(struct uvstatfs_qverdict *v);
void uvstatfs_verdict_update(struct uvstatfs_qverdict *v,
			     const struct uvstatfs_sample *s, int64_t now_ms);
bool uvstatfs_verdict_ok(const struct uvstatfs_qverdict *v);
int uvstatfs_verdict_format(const struct uvstatfs_qverdict *v,
			    unsigned int q, char *buf, size_t len);

#endif /* UVSTATFS_VERDICT_H */

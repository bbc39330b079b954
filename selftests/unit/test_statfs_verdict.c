// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_statfs_verdict.c - the stuck verdict from made-up samples
 *
 * Each case feeds one queue's samples at chosen times and checks what the
 * stuck file would say: which side, how many buffers, and only once the
 * condition held for UVSTATFS_STUCK_MS without progress.
 */
#include <string.h>

#include "tap.h"
#include "verdict.h"

/**
 * feed() - one sample
 * @v:		verdict
 * @t:		time, ms
 * @avail:	avail idx
 * @last:	last_avail
 * @shadow:	shadow idx
 * @used:	used idx
 * @old:	old in-flight requests
 */
static void feed(struct uvstatfs_qverdict *v, int64_t t, uint16_t avail,
		 uint16_t last, uint16_t shadow, uint16_t used,
		 unsigned int old)
{
	struct uvstatfs_sample s = {
		.ready = true, .avail_idx = avail, .last_avail = last,
		.shadow_idx = shadow, .used_idx = used, .old_inflight = old,
	};

	uvstatfs_verdict_update(v, &s, t);
}

/**
 * text() - the lines the verdict gives for queue @q
 * @v:		verdict
 * @q:		queue index
 *
 * Return: static buffer
 */
static const char *text(const struct uvstatfs_qverdict *v, unsigned int q)
{
	static char buf[512];

	uvstatfs_verdict_format(v, q, buf, sizeof(buf));
	return buf;
}

/**
 * t_idle_ok() - equal indices never give a verdict
 *
 * Return: pass
 */
static bool t_idle_ok(void)
{
	struct uvstatfs_qverdict v;
	int64_t t;

	uvstatfs_verdict_init(&v);
	for (t = 0; t < 10000; t += 250)
		feed(&v, t, 7, 7, 7, 7, 0);
	CHECK(uvstatfs_verdict_ok(&v));
	CHECK(!strcmp(text(&v, 0), ""));
	return true;
}

/**
 * t_no_kick() - avail ahead, last_avail still: device side, after 2 s
 *
 * Return: pass
 */
static bool t_no_kick(void)
{
	struct uvstatfs_qverdict v;
	int64_t t;

	uvstatfs_verdict_init(&v);
	for (t = 0; t < UVSTATFS_STUCK_MS; t += 250) {
		feed(&v, t, 13, 10, 10, 10, 0);
		CHECK(uvstatfs_verdict_ok(&v));
	}
	feed(&v, UVSTATFS_STUCK_MS, 13, 10, 10, 10, 0);
	CHECK(!uvstatfs_verdict_ok(&v));
	CHECK_EQ(v.unseen_avail, 3);
	CHECK_EQ(v.unseen_used, 0);
	CHECK(!strcmp(text(&v, 0),
		      "queue 0: device has not seen 3 available buffers (no kick received?)\n"));
	/* the fault is lifted: the device takes them, and all is well */
	feed(&v, UVSTATFS_STUCK_MS + 250, 13, 13, 13, 13, 0);
	CHECK(uvstatfs_verdict_ok(&v));
	return true;
}

/**
 * t_busy_not_stuck() - avail always ahead but last_avail moving: no verdict
 *
 * Return: pass
 */
static bool t_busy_not_stuck(void)
{
	struct uvstatfs_qverdict v;
	uint16_t last = 0;
	int64_t t;

	uvstatfs_verdict_init(&v);
	for (t = 0; t < 20000; t += 250, last += 5)
		feed(&v, t, last + 32, last, last, last - 3, 0);
	CHECK(uvstatfs_verdict_ok(&v));
	return true;
}

/**
 * t_progress_restarts() - one step of progress restarts the 2 s clock
 *
 * Return: pass
 */
static bool t_progress_restarts(void)
{
	struct uvstatfs_qverdict v;

	uvstatfs_verdict_init(&v);
	feed(&v, 0, 10, 5, 5, 5, 0);
	feed(&v, 1500, 10, 6, 6, 6, 0);
	feed(&v, 3000, 10, 6, 6, 6, 0);
	CHECK(uvstatfs_verdict_ok(&v));
	feed(&v, 3500, 10, 6, 6, 6, 0);
	CHECK_EQ(v.unseen_avail, 4);
	return true;
}

/**
 * t_irq_lost() - shadow ahead of used, used still: driver side
 *
 * Return: pass
 */
static bool t_irq_lost(void)
{
	struct uvstatfs_qverdict v;

	uvstatfs_verdict_init(&v);
	feed(&v, 0, 20, 20, 20, 15, 0);
	feed(&v, 1999, 20, 20, 20, 15, 0);
	CHECK(uvstatfs_verdict_ok(&v));
	feed(&v, 2000, 20, 20, 20, 15, 0);
	CHECK_EQ(v.unseen_used, 5);
	CHECK_EQ(v.unseen_avail, 0);
	CHECK(!strcmp(text(&v, 1),
		      "queue 1: driver has not seen 5 used buffers (interrupt suppressed or lost?)\n"));
	feed(&v, 2250, 20, 20, 20, 20, 0);
	CHECK(uvstatfs_verdict_ok(&v));
	return true;
}

/**
 * t_old_inflight() - requests too old in the device: at once, singular
 *
 * Return: pass
 */
static bool t_old_inflight(void)
{
	struct uvstatfs_qverdict v;

	uvstatfs_verdict_init(&v);
	feed(&v, 0, 4, 4, 3, 3, 1);
	CHECK(!strcmp(text(&v, 0),
		      "queue 0: 1 request inside the emulator for more than 5 s\n"));
	feed(&v, 250, 4, 4, 3, 3, 2);
	CHECK(!strcmp(text(&v, 0),
		      "queue 0: 2 requests inside the emulator for more than 5 s\n"));
	feed(&v, 500, 4, 4, 4, 4, 0);
	CHECK(uvstatfs_verdict_ok(&v));
	return true;
}

/**
 * t_wrap() - indices wrap at 2^16; a singular buffer
 *
 * Return: pass
 */
static bool t_wrap(void)
{
	struct uvstatfs_qverdict v;

	uvstatfs_verdict_init(&v);
	feed(&v, 0, 0, 65535, 65535, 65535, 0);
	feed(&v, 2000, 0, 65535, 65535, 65535, 0);
	CHECK(!strcmp(text(&v, 2),
		      "queue 2: device has not seen 1 available buffer (no kick received?)\n"));
	return true;
}

/**
 * t_torn() - a gap no ring can have is not a verdict
 *
 * Return: pass
 */
static bool t_torn(void)
{
	struct uvstatfs_qverdict v;

	uvstatfs_verdict_init(&v);
	feed(&v, 0, 5000, 10, 10, 10, 0);
	feed(&v, 5000, 5000, 10, 10, 10, 0);
	CHECK(uvstatfs_verdict_ok(&v));
	return true;
}

/**
 * t_not_ready() - a queue not set up forgets its history
 *
 * Return: pass
 */
static bool t_not_ready(void)
{
	struct uvstatfs_qverdict v;
	struct uvstatfs_sample s = { .ready = false };

	uvstatfs_verdict_init(&v);
	feed(&v, 0, 9, 1, 1, 1, 0);
	uvstatfs_verdict_update(&v, &s, 1000);
	feed(&v, 2500, 9, 1, 1, 1, 0);
	CHECK(uvstatfs_verdict_ok(&v));
	feed(&v, 4500, 9, 1, 1, 1, 0);
	CHECK(!uvstatfs_verdict_ok(&v));
	return true;
}

/**
 * t_both() - both sides at once: two lines, device side first
 *
 * Return: pass
 */
static bool t_both(void)
{
	struct uvstatfs_qverdict v;

	uvstatfs_verdict_init(&v);
	feed(&v, 0, 12, 10, 10, 8, 3);
	feed(&v, 2000, 12, 10, 10, 8, 3);
	CHECK(!strcmp(text(&v, 0),
		      "queue 0: device has not seen 2 available buffers (no kick received?)\n"
		      "queue 0: driver has not seen 2 used buffers (interrupt suppressed or lost?)\n"
		      "queue 0: 3 requests inside the emulator for more than 5 s\n"));
	return true;
}

/**
 * t_backend_stopped() - last_avail unknown (a vhost-user backend serves the
 * ring): avail ahead of shadow, shadow still for 2 s: the backend has not
 * completed N; its progress restarts the clock; it is never "has not seen"
 *
 * Return: pass
 */
static bool t_backend_stopped(void)
{
	struct uvstatfs_sample s = {
		.ready = true, .last_avail_unknown = true, .avail_idx = 20,
		.shadow_idx = 17, .used_idx = 17,
	};
	struct uvstatfs_qverdict v;

	uvstatfs_verdict_init(&v);
	uvstatfs_verdict_update(&v, &s, 0);
	s.shadow_idx = s.used_idx = 18;
	uvstatfs_verdict_update(&v, &s, 1500);
	uvstatfs_verdict_update(&v, &s, 3000);
	CHECK(uvstatfs_verdict_ok(&v));
	uvstatfs_verdict_update(&v, &s, 3500);
	CHECK(!uvstatfs_verdict_ok(&v));
	CHECK_EQ(v.uncompleted, 2);
	CHECK_EQ(v.unseen_avail, 0);
	CHECK(!strcmp(text(&v, 1),
		      "queue 1: backend has not completed 2 available buffers (backend stopped or hung?)\n"));
	/* the backend goes on: all of them completed and seen */
	s.shadow_idx = s.used_idx = 20;
	uvstatfs_verdict_update(&v, &s, 3750);
	CHECK(uvstatfs_verdict_ok(&v));
	return true;
}

static const struct tap_test tests[] = {
	{ t_idle_ok, "idle queue: ok" },
	{ t_no_kick, "avail ahead, no progress for 2 s: device has not seen N" },
	{ t_busy_not_stuck, "busy queue with progress: ok" },
	{ t_progress_restarts, "progress restarts the 2 s clock" },
	{ t_irq_lost, "shadow ahead of used for 2 s: driver has not seen N" },
	{ t_old_inflight, "old in-flight requests reported at once" },
	{ t_wrap, "16-bit wrap, singular wording" },
	{ t_torn, "impossible gap is no verdict" },
	{ t_not_ready, "queue not ready resets the history" },
	{ t_both, "all three conditions at once" },
	{ t_backend_stopped, "last_avail unknown: backend has not completed N" },
};

/**
 * main() - run the table
 *
 * Return: 0 if all passed
 */
int main(void)
{
	return tap_run_table(tests, sizeof(tests) / sizeof(tests[0]));
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_nb_dgram - uvirtio-net's dgram backend trading shared rings
 * (userspace/net/nb_dgram.c), two backends in one process on the host:
 * rings are traded both ways once both are connected, and a control
 * message the peer's full socket queue refuses (an accept, an offer) is
 * sent again later, so that neither side stays on the socket for good.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nb_duo.h"

/*
 * pump() - what each pair thread does in a pass, for both backends: read
 * everything (frames are thrown away, control messages acted on), apply
 * what the reader posted, tick. Returns the frames read.
 */
static unsigned int pump(struct duo *d)
{
	struct nb *side[2] = { &d->a, &d->b };
	char buf[2048];
	struct iovec v = { buf, sizeof(buf) };
	unsigned int frames = 0, i;
	uint64_t n;

	for (i = 0; i < 2; i++) {
		while (nb_recv(side[i], &v, 1) >= 0)
			frames++;
		if (read(side[i]->room_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
			return frames;
		nb_ctl_apply(side[i]);
		nb_tick(side[i]);
	}
	return frames;
}

/* fill() - send junk frames from @from on its socket until the peer's
 * queue refuses one; returns how many it took */
static unsigned int fill(struct nb *from)
{
	char frame[64] = { 0 };
	unsigned int n = 0;

	while (send(from->fd, frame, sizeof(frame), MSG_DONTWAIT) == sizeof(frame))
		n++;
	return n;
}

/* both_rings() - does each side send through its ring? (says which not) */
static bool both_rings(struct duo *d)
{
	bool a = nb_ring_waits(&d->a), b = nb_ring_waits(&d->b);

	if (!a || !b)
		tap_diag("a's ring %s, b's ring %s", a ? "in use" : "not in use",
			 b ? "in use" : "not in use");
	return a && b;
}

static bool rings_both_ways(void)
{
	struct duo d;
	int i;
	bool ok;

	CHECK(duo_open(&d, true));
	/* b is not connected yet: a's offer waits in b's queue, and b's
	 * connect drops it; b's own offer asks for a's ring back */
	CHECK(nb_connect(&d.a) == 0);
	CHECK(nb_connect(&d.b) == 0);
	for (i = 0; i < 5; i++)
		pump(&d);
	ok = both_rings(&d);
	duo_close(&d);
	return ok;
}

static bool accept_refused_is_sent_again(void)
{
	char frame[64] = { 0 };
	struct iovec v = { frame, sizeof(frame) };
	unsigned int junk, got = 0;
	struct duo d;
	int i;
	bool ok;

	CHECK(duo_open(&d, true));
	CHECK(nb_connect(&d.b) == 0);	/* b's offer: dropped by a's connect */
	CHECK(nb_connect(&d.a) == 0);	/* a offers its ring to b */
	/* b's queue is full when b attaches a's ring and accepts it... */
	junk = fill(&d.a);
	CHECK(junk > 0);
	/* ...and so is a's, where b's accept and b's offer back go */
	CHECK(fill(&d.b) > 0);
	/* b reads a's offer (behind the junk) and accepts: refused */
	while (nb_recv(&d.b, &v, 1) >= 0)
		got++;
	CHECK(got == junk);
	CHECK(!nb_ring_waits(&d.a));
	/* a reads its junk, then passes as a pair thread does */
	for (i = 0; i < 5; i++)
		pump(&d);
	ok = both_rings(&d);
	/* a frame from a now goes through the ring */
	if (ok) {
		struct nb_frame f = { &v, 1 };

		CHECK(nb_send(&d.a, &f, 1) == 1);
		CHECK(d.a.tx_ring_frames == 1);
		CHECK(nb_recv(&d.b, &v, 1) == sizeof(frame));
		CHECK(d.b.rx_via_ring);
	}
	duo_close(&d);
	return ok;
}

static const struct tap_test tests[] = {
	{ rings_both_ways, "rings are traded both ways once both ends are connected" },
	{ accept_refused_is_sent_again, "an accept the peer's full queue refused is sent again" },
};

int main(void)
{
	return tap_run_table(tests, sizeof(tests) / sizeof(tests[0]));
}

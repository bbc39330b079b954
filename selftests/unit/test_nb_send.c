// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_nb_send - uvirtio-net's batched sends (nb_send() of several frames,
 * userspace/net/backend.c), on the host: over a dgram socket (one
 * sendmmsg()), a dgram peer's shared ring, and a stream socket (one
 * sendmsg()), each frame arrives once, whole and in order, also when the
 * socket has room for only part of a batch.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "nb_duo.h"

/* Frames of a test: frame i is 100 + 37 * i bytes of (i * 7 + byte) & 0xff. */
#define FRAMES		96
#define FRAME_MAX	(100 + 37 * FRAMES)

static uint8_t frame_buf[FRAMES][FRAME_MAX];
static struct iovec frame_iov[FRAMES][2];

static size_t frame_len(unsigned int i)
{
	return 100 + 37 * i;
}

/* Frame i as an nb_frame in two pieces (split at a third). */
static struct nb_frame frame(unsigned int i)
{
	size_t len = frame_len(i), j;

	for (j = 0; j < len; j++)
		frame_buf[i][j] = (i * 7 + j) & 0xff;
	frame_iov[i][0] = (struct iovec){ frame_buf[i], len / 3 };
	frame_iov[i][1] = (struct iovec){ frame_buf[i] + len / 3, len - len / 3 };
	return (struct nb_frame){ frame_iov[i], 2 };
}

/* Is @got (@len bytes) frame @i? Says what differs if not. */
static bool is_frame(const uint8_t *got, size_t len, unsigned int i)
{
	size_t j;

	if (len != frame_len(i)) {
		tap_diag("frame %u: %zu bytes, expected %zu", i, len, frame_len(i));
		return false;
	}
	for (j = 0; j < len; j++) {
		if (got[j] != ((i * 7 + j) & 0xff)) {
			tap_diag("frame %u: byte %zu differs", i, j);
			return false;
		}
	}
	return true;
}

/*
 * send_all() - nb_send() frames [@from, @to) in batches of @batch, as
 * pair.c does: on a short count the rest is offered again, -EAGAIN stops.
 * Returns the next frame not sent, or -1 on another error.
 */
static int send_all(struct nb *b, unsigned int from, unsigned int to,
		    unsigned int batch)
{
	struct nb_frame f[NB_SEND_MAX];
	unsigned int i, n;
	int ret;

	while (from < to) {
		n = to - from < batch ? to - from : batch;
		for (i = 0; i < n; i++)
			f[i] = frame(from + i);
		ret = nb_send(b, f, n);
		if (ret == -EAGAIN)
			return from;
		if (ret <= 0) {
			tap_diag("nb_send of frame %u: %d", from, ret);
			return -1;
		}
		from += ret;
	}
	return from;
}

/* duo_up() - open a duo and connect both ends (b first, then a) */
static bool duo_up(struct duo *d, bool rings)
{
	return duo_open(d, rings) && !nb_connect(&d->b) && !nb_connect(&d->a);
}

/* recv_frames() - read what @b has, checking it is frames @next... */
static bool recv_frames(struct nb *b, unsigned int *next)
{
	static uint8_t got[FRAME_MAX + 1];
	struct iovec v = { got, sizeof(got) };
	int n;

	while ((n = nb_recv(b, &v, 1)) >= 0) {
		if (*next >= FRAMES || !is_frame(got, n, *next))
			return false;
		(*next)++;
	}
	if (n != -EAGAIN)
		tap_diag("nb_recv: %d", n);
	return n == -EAGAIN;
}

static bool dgram_batch_in_order(void)
{
	unsigned int next = 0;
	struct duo d;
	bool ok;

	CHECK(duo_up(&d, false));
	ok = send_all(&d.a, 0, FRAMES, NB_SEND_MAX) == FRAMES &&
	     d.a.tx_ring_frames == 0 && recv_frames(&d.b, &next) &&
	     next == FRAMES;
	duo_close(&d);
	return ok;
}

static bool dgram_full_queue_takes_part(void)
{
	unsigned int next = 0, turns = 0, small = 16384;
	struct duo d;
	int at = 0;

	CHECK(duo_up(&d, false));
	/*
	 * Two sockets connected to each other are not held to the peer's
	 * queue length (net.unix.max_dgram_qlen), only to the sender's
	 * buffer: a small one takes part of a batch.
	 */
	CHECK(setsockopt(d.a.fd, SOL_SOCKET, SO_SNDBUF, &small,
			 sizeof(small)) == 0);
	at = send_all(&d.a, 0, NB_SEND_MAX, NB_SEND_MAX);
	tap_diag("one batch of %d: %d taken before the socket was full",
		 NB_SEND_MAX, at);
	CHECK(at > 0 && at < NB_SEND_MAX);
	while (at >= 0 && at < FRAMES && turns++ < 10 * FRAMES) {
		if (!recv_frames(&d.b, &next))
			break;
		at = send_all(&d.a, at, FRAMES, NB_SEND_MAX);
	}
	CHECK(at == FRAMES);
	CHECK(recv_frames(&d.b, &next));
	CHECK_EQ(next, FRAMES);
	duo_close(&d);
	return true;
}

/* rings() - connect a duo that trades rings, and pass until both run */
static bool rings(struct duo *d)
{
	struct nb *side[2] = { &d->a, &d->b };
	unsigned int i, k;
	uint64_t n;

	for (k = 0; k < 5; k++) {
		for (i = 0; i < 2; i++) {
			unsigned int none = 0;

			if (!recv_frames(side[i], &none) || none)
				return false;
			if (read(side[i]->room_fd, &n, sizeof(n)) < 0 &&
			    errno != EAGAIN)
				return false;
			nb_ctl_apply(side[i]);
			nb_tick(side[i]);
		}
	}
	return nb_ring_waits(&d->a) && nb_ring_waits(&d->b);
}

static bool ring_batch_in_order(void)
{
	unsigned int next = 0;
	struct duo d;
	int at;

	CHECK(duo_up(&d, true));
	CHECK(rings(&d));
	at = send_all(&d.a, 0, NB_SEND_MAX, NB_SEND_MAX);
	CHECK_EQ(at, NB_SEND_MAX);
	CHECK_EQ(d.a.tx_ring_frames, NB_SEND_MAX);
	CHECK(recv_frames(&d.b, &next));
	CHECK_EQ(next, NB_SEND_MAX);
	CHECK(d.b.rx_via_ring);
	duo_close(&d);
	return true;
}

/*
 * stream_parse() - take whole frames out of @buf (@len bytes, stream
 * framing), checking each is frame @next...; moves the rest to the front
 */
static bool stream_parse(uint8_t *buf, size_t *len, unsigned int *next)
{
	size_t off = 0;
	uint32_t flen;

	while (*len - off >= 4) {
		memcpy(&flen, buf + off, 4);
		flen = ntohl(flen);
		if (*len - off < 4 + flen)
			break;
		if (*next >= FRAMES || !is_frame(buf + off + 4, flen, *next))
			return false;
		(*next)++;
		off += 4 + flen;
	}
	memmove(buf, buf + off, *len - off);
	*len -= off;
	return true;
}

static bool stream_partial_frame_kept(void)
{
	static uint8_t buf[2 * FRAMES * (FRAME_MAX + 4)];
	char dir[] = "/tmp/test_nb_send.XXXXXX", path[64], spec[80];
	unsigned int next = 0, turns = 0, small = 4096, partial = 0;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd, pfd = -1, at = 0, ret;
	size_t len = 0;
	struct nb b;
	ssize_t n;
	bool ok = false;

	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s", dir);
	snprintf(spec, sizeof(spec), "stream:%s", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(lfd >= 0);
	memset(&b, 0, sizeof(b));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 1) ||
	    nb_parse(&b, spec) || nb_open(&b) || nb_connect(&b))
		goto out;
	pfd = accept(lfd, NULL, NULL);
	/* small buffers: a batch stops inside a frame */
	if (pfd < 0 ||
	    setsockopt(b.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)) ||
	    setsockopt(pfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)))
		goto out;
	while (at >= 0 && (at < FRAMES || nb_pending_out(&b)) &&
	       turns++ < 100 * FRAMES) {
		ret = nb_pending_out(&b) ? nb_flush(&b) : 0;
		if (ret && ret != -EAGAIN)
			break;
		at = send_all(&b, at, FRAMES, NB_SEND_MAX);
		partial += nb_pending_out(&b);
		n = recv(pfd, buf + len, sizeof(buf) - len, MSG_DONTWAIT);
		if (n > 0)
			len += n;
		if (!stream_parse(buf, &len, &next))
			goto out;
	}
	while ((n = recv(pfd, buf + len, sizeof(buf) - len, MSG_DONTWAIT)) > 0)
		len += n;
	ok = at == FRAMES && !nb_pending_out(&b) &&
	     stream_parse(buf, &len, &next) && next == FRAMES && !len &&
	     partial > 0;
	tap_diag("sent up to %d, %u frames arrived, %zu bytes left over, a frame cut %u times",
		 at, next, len, partial);
out:
	if (pfd >= 0)
		close(pfd);
	close(lfd);
	nb_close(&b);
	unlink(path);
	rmdir(dir);
	return ok;
}

static const struct tap_test tests[] = {
	{ dgram_batch_in_order, "dgram socket: a batch arrives whole and in order" },
	{ dgram_full_queue_takes_part, "dgram socket: a full queue takes part of a batch, the rest follows in order" },
	{ ring_batch_in_order, "dgram ring: a batch goes through the ring in order" },
	{ stream_partial_frame_kept, "stream: a batch the socket takes part of arrives whole and in order" },
};

int main(void)
{
	return tap_run_table(tests, sizeof(tests) / sizeof(tests[0]));
}

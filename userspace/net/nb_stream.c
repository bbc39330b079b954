// SPDX-License-Identifier: GPL-2.0-only
/*
 * nb_stream.c - the stream backend: frames on a UNIX stream socket, each
 * behind a 4-byte big-endian length (QEMU's -netdev stream, passt)
 *
 * A frame the socket took only part of is finished from @wbuf before the
 * next one (nb_flush()): the framing would break otherwise. Received bytes
 * collect in @rbuf until a whole frame is there; a frame larger than
 * NB_MAX_FRAME or than the caller's buffers is skipped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "iovc.h"
#include "nb_ops.h"

/**
 * nb_stream_open() - the buffers of a stream backend (stream, passt)
 * @b:		backend
 *
 * Return: 0 or -ENOMEM
 */
int nb_stream_open(struct nb *b)
{
	b->rbuf = malloc(NB_RBUF_SIZE);
	b->wbuf = malloc(NB_MAX_FRAME + 4);
	return b->rbuf && b->wbuf ? 0 : -ENOMEM;
}

/**
 * nb_stream_connect() - connect to the socket at @b->path
 * @b:		stream backend, not connected
 *
 * Return: 0, or -errno while the peer is not there
 */
static int nb_stream_connect(struct nb *b)
{
	struct sockaddr_un sa;
	int ret;

	if (b->fd < 0) {
		b->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (b->fd < 0)
			return -errno;
		nb_bufs(b->fd);
	}
	/* Blocking connect: a UNIX socket answers at once. */
	if (connect(b->fd, (struct sockaddr *)&sa, nb_sun(&sa, b->path))) {
		ret = -errno;
		close(b->fd);
		b->fd = -1;
		return ret;
	}
	return fcntl(b->fd, F_SETFL, O_NONBLOCK) ? -errno : 0;
}

/**
 * nb_stream_disconnect() - close the socket (a new one connects later)
 * @b:		stream backend
 */
void nb_stream_disconnect(struct nb *b)
{
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
}

/**
 * nb_stream_recv() - take the next whole frame from a stream socket
 * @b:		stream backend
 * @iov:	where the frame goes
 * @cnt:	entries in @iov
 *
 * Return: frame length, -EAGAIN, -EMSGSIZE (a frame longer than
 * NB_MAX_FRAME or than @iov was thrown away), -ECONNRESET
 */
int nb_stream_recv(struct nb *b, const struct iovec *iov,
			  unsigned int cnt)
{
	uint32_t flen;
	struct iovc c;
	ssize_t n;

	for (;;) {
		size_t have = b->rlen - b->rhead;

		if (b->rskip && have) {
			n = have < b->rskip ? have : b->rskip;
			b->rhead += n;
			b->rskip -= n;
			continue;
		}
		if (!b->rskip && have >= 4) {
			memcpy(&flen, b->rbuf + b->rhead, 4);
			flen = ntohl(flen);
			if (flen > NB_MAX_FRAME ||
			    flen > iovc_size(iov, cnt)) {
				b->rhead += 4;
				b->rskip = flen;
				return -EMSGSIZE;
			}
			if (have >= 4 + flen) {
				iovc_init(&c, iov, cnt);
				iovc_write(&c, b->rbuf + b->rhead + 4, flen);
				b->rhead += 4 + flen;
				return flen;
			}
		}
		if (b->rhead == b->rlen) {
			b->rhead = b->rlen = 0;
		} else if (b->rhead > NB_RBUF_SIZE / 2) {
			memmove(b->rbuf, b->rbuf + b->rhead, b->rlen - b->rhead);
			b->rlen -= b->rhead;
			b->rhead = 0;
		}
		n = read(b->fd, b->rbuf + b->rlen, NB_RBUF_SIZE - b->rlen);
		if (n < 0)
			return errno == EAGAIN ? -EAGAIN : -ECONNRESET;
		if (!n)
			return -ECONNRESET;
		b->rlen += n;
	}
}

/**
 * nb_stream_send() - send frames on a stream socket, in one sendmsg()
 * @b:		backend
 * @f:		the frames
 * @n:		how many
 *
 * Each frame goes behind its length; as many frames as one sendmsg() takes
 * pieces of (UIO_MAXIOV) go in one call. Where the socket stops inside a
 * frame, the rest of that frame is kept in @wbuf and the frame counts as
 * sent: nothing else may go on the stream before it (nb_flush()).
 *
 * Return: as nb_send(); -EMSGSIZE for a frame longer than NB_MAX_FRAME or
 * in more pieces than one sendmsg() takes
 */
int nb_stream_send(struct nb *b, const struct nb_frame *f, unsigned int n)
{
	struct iovec v[UIO_MAXIOV];
	uint32_t len[NB_SEND_MAX];
	unsigned int at[NB_SEND_MAX];
	size_t flen, total = 0, done = 0;
	unsigned int i, k = 0;
	struct msghdr mh;
	struct iovc c;
	ssize_t sent;

	if (nb_pending_out(b))
		return -EAGAIN;
	for (i = 0; i < n && k + 1 + f[i].cnt <= UIO_MAXIOV; i++) {
		flen = iovc_size(f[i].iov, f[i].cnt);
		if (flen > NB_MAX_FRAME)
			break;
		len[i] = htonl(flen);
		at[i] = k;
		v[k].iov_base = &len[i];
		v[k++].iov_len = 4;
		memcpy(v + k, f[i].iov, f[i].cnt * sizeof(*v));
		k += f[i].cnt;
		total += 4 + flen;
	}
	if (!i)
		return -EMSGSIZE;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = v;
	mh.msg_iovlen = k;
	sent = sendmsg(b->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (sent < 0)
		return errno == EAGAIN ? -EAGAIN : -ECONNRESET;
	if ((size_t)sent == total)
		return i;
	/* The frame the socket stopped in: keep its rest, later ones wait. */
	for (n = 0; (size_t)sent >= done + 4 + ntohl(len[n]); n++)
		done += 4 + ntohl(len[n]);
	if ((size_t)sent == done)
		return n;
	flen = 4 + ntohl(len[n]);
	iovc_init(&c, v + at[n], 1 + f[n].cnt);
	iovc_skip(&c, sent - done);
	b->wlen = iovc_read(&c, b->wbuf, flen - (sent - done));
	b->woff = 0;
	return n + 1;
}

/**
 * nb_pending_out() - a stream frame's tail still waits to be sent
 * @b:		backend
 *
 * Return: true if nb_flush() has work
 */
bool nb_pending_out(const struct nb *b)
{
	return b->woff < b->wlen;
}

/**
 * nb_flush() - send what a stream socket did not take before
 * @b:		backend
 *
 * Return: 0 when nothing is left, -EAGAIN, -ECONNRESET
 */
int nb_flush(struct nb *b)
{
	ssize_t n;

	while (nb_pending_out(b)) {
		n = send(b->fd, b->wbuf + b->woff, b->wlen - b->woff,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN ? -EAGAIN : -ECONNRESET;
		b->woff += n;
	}
	b->woff = b->wlen = 0;
	return 0;
}

const struct nb_ops nb_stream_ops = {
	.open		= nb_stream_open,
	.connect	= nb_stream_connect,
	.disconnect	= nb_stream_disconnect,
	.recv		= nb_stream_recv,
	.send		= nb_stream_send,
};

// SPDX-License-Identifier: GPL-2.0-only
/*
 * backend.c - uvirtio-net's backends: what every transport shares, and
 * the calls of backend.h handed to the transport's own file
 *
 *   nb_stream.c	stream: length-framed frames on a UNIX stream socket
 *   nb_passt.c		passt: our child on a socketpair, stream framing
 *   nb_dgram.c		dgram: a pair of UNIX datagram sockets, and the
 *			shared-ring handshake between the two peers
 *   nb_tap.c		tap: one queue of a tap interface
 *
 * Every fd is non-blocking. A send that finds no room returns -EAGAIN
 * having sent nothing (the caller keeps the frames and waits for
 * EPOLLOUT), except on a stream socket, where a frame the socket took
 * only part of is finished from @wbuf: the framing would break otherwise.
 * A send takes several frames: the dgram and stream transports pass them
 * to the kernel in one system call (sendmmsg(), or one sendmsg() of the
 * whole byte stream), the tap one write at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "nb_ops.h"
#include "pair.h"

/* Socket buffers: the default 208 KiB stalls passt (see ENV.md). */
#define NB_SOCKBUF		(16 << 20)

/**
 * nb_copy_path() - copy a socket path or interface name, checking its size
 * @dst:	destination, 108 bytes
 * @src:	source
 * @len:	bytes of @src to take
 *
 * Return: 0, or -ENAMETOOLONG
 */
static int nb_copy_path(char *dst, const char *src, size_t len)
{
	if (!len || len >= 108)
		return -ENAMETOOLONG;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

/**
 * nb_parse() - read a backend argument
 * @b:		backend, zeroed by the caller except @passt_args
 * @spec:	"stream:PATH", "passt", "dgram:LOCAL,REMOTE" or "tap:IFNAME"
 *
 * Return: 0, -EINVAL for an unknown form, -ENAMETOOLONG
 */
int nb_parse(struct nb *b, const char *spec)
{
	const char *comma;

	b->spec = spec;
	b->fd = -1;
	b->room_fd = -1;
	nring_init(&b->tx);
	nring_init(&b->rx);
	if (!strncmp(spec, "stream:", 7)) {
		b->kind = NB_STREAM;
		return nb_copy_path(b->path, spec + 7, strlen(spec + 7));
	}
	if (!strcmp(spec, "passt")) {
		b->kind = NB_PASST;
		return 0;
	}
	if (!strncmp(spec, "dgram:", 6)) {
		b->kind = NB_DGRAM;
		b->hdr_len = NB_HDR_LEN;
		comma = strchr(spec + 6, ',');
		if (!comma)
			return -EINVAL;
		if (nb_copy_path(b->path, spec + 6, comma - (spec + 6)))
			return -ENAMETOOLONG;
		return nb_copy_path(b->remote, comma + 1, strlen(comma + 1));
	}
	if (!strncmp(spec, "tap:", 4)) {
		b->kind = NB_TAP;
		b->hdr_len = NB_HDR_LEN;
		if (strlen(spec + 4) >= IFNAMSIZ)
			return -ENAMETOOLONG;
		return nb_copy_path(b->path, spec + 4, strlen(spec + 4));
	}
	return -EINVAL;
}

/**
 * nb_can_multiqueue() - the backend can carry several queue pairs
 * @b:		backend, parsed
 *
 * stream and passt carry one connection, and one connection would
 * serialise the queue pairs again: they serve one pair.
 *
 * Return: true for dgram and tap
 */
bool nb_can_multiqueue(const struct nb *b)
{
	return b->kind == NB_DGRAM || b->kind == NB_TAP;
}

/**
 * nb_clone() - the backend of queue pair @i of @n, made from pair 0's
 * @dst:	out: a backend not opened yet
 * @src:	pair 0's backend, parsed, not opened
 * @i:		queue pair, 0..@n - 1
 * @n:		queue pairs in all
 *
 * dgram: pair 0 keeps LOCAL and REMOTE, pair i > 0 binds LOCAL.i and sends
 * to REMOTE.i, so two devices with the same number of pairs cable pair to
 * pair. tap: every pair opens one queue of the same IFF_MULTI_QUEUE tap
 * (pair 0 too, when @n > 1).
 *
 * Return: 0, or -ENAMETOOLONG
 */
int nb_clone(struct nb *dst, const struct nb *src, unsigned int i,
	     unsigned int n)
{
	char sfx[16];

	*dst = *src;
	dst->fd = -1;
	dst->multi_queue = src->kind == NB_TAP && n > 1;
	if (src->kind != NB_DGRAM || !i)
		return 0;
	snprintf(sfx, sizeof(sfx), ".%u", i);
	if (strlen(src->path) + strlen(sfx) >= sizeof(dst->path) ||
	    strlen(src->remote) + strlen(sfx) >= sizeof(dst->remote))
		return -ENAMETOOLONG;
	strcat(dst->path, sfx);
	strcat(dst->remote, sfx);
	return 0;
}

/**
 * nb_bufs() - make a socket's buffers large
 * @fd:		socket
 *
 * The FORCE variants pass the sysctl limits where we hold CAP_NET_ADMIN
 * over the socket's namespace; elsewhere the plain ones get what they can.
 */
void nb_bufs(int fd)
{
	int v = NB_SOCKBUF;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
}

/**
 * nb_sun() - fill a sockaddr_un
 * @sa:		address
 * @path:	path, shorter than sun_path
 *
 * Return: the address length
 */
socklen_t nb_sun(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	strcpy(sa->sun_path, path);
	return sizeof(*sa);
}

/*
 * Descriptors from a peer are never closed on a thread that matters: a
 * close() runs the file's flush, and a FUSE file's FLUSH waits, without a
 * timeout and past SIGKILL, for a server the peer controls. They go to a
 * thread of their own, started on first use, which may block for ever.
 */
static int nb_reaper_fd = -1;
static pthread_once_t nb_reaper_once = PTHREAD_ONCE_INIT;

/**
 * nb_reaper() - close every descriptor that arrives on the pipe
 * @arg:	the pipe's read end
 *
 * Return: NULL, when the pipe is gone
 */
static void *nb_reaper(void *arg)
{
	int pfd = (int)(intptr_t)arg, fd;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	while (read(pfd, &fd, sizeof(fd)) == sizeof(fd))
		close(fd);
	return NULL;
}

/**
 * nb_reaper_run() - start the reaper thread (pthread_once() calls it)
 */
static void nb_reaper_run(void)
{
	pthread_attr_t a;
	pthread_t t;
	int p[2];

	if (pipe2(p, O_CLOEXEC))
		return;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, nb_reaper, (void *)(intptr_t)p[0]) ||
	    fcntl(p[1], F_SETFL, O_NONBLOCK)) {
		close(p[0]);
		close(p[1]);
	} else {
		nb_reaper_fd = p[1];
	}
	pthread_attr_destroy(&a);
}

/**
 * nb_fd_reaper_start() - start the reaper thread, if not yet started
 */
void nb_fd_reaper_start(void)
{
	pthread_once(&nb_reaper_once, nb_reaper_run);
}

/**
 * nb_fd_drop() - dispose of a descriptor a peer sent, off this thread
 * @fd:		the descriptor
 *
 * If the reaper cannot take it (no thread, or its pipe is full because it
 * is stuck), the descriptor is kept open: a leak is better than a close()
 * that may never return.
 */
void nb_fd_drop(int fd)
{
	nb_fd_reaper_start();
	if (nb_reaper_fd < 0 ||
	    write(nb_reaper_fd, &fd, sizeof(fd)) != sizeof(fd))
		net_log("a descriptor from the peer is kept open: the closer is stuck");
}

/**
 * nb_ops_of() - a backend's transport
 * @b:		backend, parsed
 *
 * Return: its operations
 */
static const struct nb_ops *nb_ops_of(const struct nb *b)
{
	switch (b->kind) {
	case NB_PASST:
		return &nb_passt_ops;
	case NB_DGRAM:
		return &nb_dgram_ops;
	case NB_TAP:
		return &nb_tap_ops;
	case NB_STREAM:
		break;
	}
	return &nb_stream_ops;
}

/**
 * nb_open() - set the backend up
 * @b:		backend
 *
 * dgram binds its local socket here and tap creates or attaches to its
 * interface: both must work at once. The stream peer and the dgram remote
 * may come later: nb_connect() retries.
 *
 * Return: 0 or -errno
 */
int nb_open(struct nb *b)
{
	return nb_ops_of(b)->open(b);
}

/**
 * nb_settled() - the process is in the namespaces it serves from
 * @b:		backend, opened
 *
 * Starts what a backend needs once the emulator runs on: for dgram the
 * thread that closes descriptors peers send, before a peer can send one
 * (so its pipe is not one more descriptor then). Not earlier: --unshare's
 * unshare(CLONE_NEWUSER) refuses a process with a thread.
 */
void nb_settled(const struct nb *b)
{
	if (b->kind == NB_DGRAM)
		nb_fd_reaper_start();
}

/**
 * nb_connect() - (re)connect a backend that is not connected
 * @b:		backend
 *
 * Return: 0 once connected, -errno while the peer is not there
 */
int nb_connect(struct nb *b)
{
	const struct nb_ops *ops = nb_ops_of(b);
	int ret;

	if (b->connected)
		return 0;
	if (ops->connect) {
		ret = ops->connect(b);
		if (ret)
			return ret;
	}
	b->rhead = b->rlen = b->rskip = 0;
	b->woff = b->wlen = 0;
	b->connected = true;
	return 0;
}

/**
 * nb_disconnect() - the peer went away: drop the connection
 * @b:		backend
 *
 * A stream socket is closed (a new one connects later), passt is told to
 * exit; a dgram socket stays bound and only forgets its peer.
 */
void nb_disconnect(struct nb *b)
{
	const struct nb_ops *ops = nb_ops_of(b);

	b->connected = false;
	if (ops->disconnect)
		ops->disconnect(b);
}

/**
 * nb_recv() - receive one frame (with its offload header, if any)
 * @b:		backend
 * @iov:	where it goes
 * @cnt:	entries in @iov
 *
 * Return: bytes written into @iov, -EAGAIN when nothing is waiting,
 * -EMSGSIZE when a frame did not fit and was thrown away, -ECONNRESET or
 * another -errno when the backend failed
 */
int nb_recv(struct nb *b, const struct iovec *iov, unsigned int cnt)
{
	if (b->fd < 0)
		return -EAGAIN;
	return nb_ops_of(b)->recv(b, iov, cnt);
}

/**
 * nb_send() - send frames, in order (each with its offload header, if any)
 * @b:		backend
 * @f:		the frames
 * @n:		how many, 1..NB_SEND_MAX
 *
 * As sendmmsg(): where the backend can, one system call sends them all.
 * When it sends fewer than @n, the caller offers the rest again, and that
 * call says why the first of them cannot go.
 *
 * Return: frames sent (1..@n); or, when the first frame was not sent,
 * -EAGAIN (no room: try again after EPOLLOUT), -EMSGSIZE (the peer cannot
 * take a frame this large), -ENOTCONN, -ECONNRESET or another -errno (the
 * peer is gone)
 */
int nb_send(struct nb *b, const struct nb_frame *f, unsigned int n)
{
	b->tx_ring_frames = 0;
	if (!b->connected || b->fd < 0)
		return -ENOTCONN;
	if (!n || n > NB_SEND_MAX)
		return -EINVAL;
	return nb_ops_of(b)->send(b, f, n);
}

/**
 * nb_close() - tear the backend down
 * @b:		backend
 */
void nb_close(struct nb *b)
{
	const struct nb_ops *ops = nb_ops_of(b);

	nb_disconnect(b);
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	if (ops->close)
		ops->close(b);
	free(b->rbuf);
	free(b->wbuf);
	b->rbuf = b->wbuf = NULL;
}

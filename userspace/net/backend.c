// SPDX-License-Identifier: GPL-2.0-only
/*
 * backend.c - uvirtio-net's backends: stream, passt, dgram, tap
 *
 * Every fd is non-blocking. A send that finds no room returns -EAGAIN
 * having sent nothing (the caller keeps the frame and waits for EPOLLOUT),
 * except on a stream socket, where a frame the socket took only part of is
 * finished from @wbuf: the framing would break otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include "backend.h"
#include "iovc.h"
#include "pair.h"
#include "shm.h"

/* Socket buffers: the default 208 KiB stalls passt (see ENV.md). */
#define NB_SOCKBUF		(16 << 20)
/* The offload header the dgram and tap backends carry. */
#define NB_HDR_LEN		12
/* Descriptors a dgram message may carry that we look at (an offer: 2). */
#define NB_MAX_FDS		4
/* Control messages one nb_recv() acts on before it lets other work run. */
#define NB_MAX_CTL		64

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
static void nb_bufs(int fd)
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
static socklen_t nb_sun(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	strcpy(sa->sun_path, path);
	return sizeof(*sa);
}

/**
 * nb_spawn_passt() - start passt on one end of a new socketpair
 * @b:		backend
 *
 * passt gets the other end as --fd, runs in the foreground and is sent
 * SIGTERM if we die.
 *
 * Return: 0 or -errno
 */
static int nb_spawn_passt(struct nb *b)
{
	char fdarg[16], *argv[32], *extra = NULL, *tok, *save;
	int sv[2], argc = 0;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	nb_bufs(sv[0]);
	nb_bufs(sv[1]);
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -errno;
	}
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		close(sv[0]);
		if (fcntl(sv[1], F_SETFD, 0) < 0)
			_exit(127);
		snprintf(fdarg, sizeof(fdarg), "%d", sv[1]);
		argv[argc++] = "passt";
		argv[argc++] = "-f";
		argv[argc++] = "-q";
		argv[argc++] = "--fd";
		argv[argc++] = fdarg;
		if (b->passt_args)
			extra = strdup(b->passt_args);
		for (tok = extra ? strtok_r(extra, " ", &save) : NULL;
		     tok && argc < 31; tok = strtok_r(NULL, " ", &save))
			argv[argc++] = tok;
		argv[argc] = NULL;
		execvp("passt", argv);
		fprintf(stderr, "uvirtio-net: passt: %s\n", strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	b->passt_pid = pid;
	b->fd = sv[0];
	return 0;
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
 * nb_reaper_start() - start the reaper thread (once)
 */
static void nb_reaper_start(void)
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
 * nb_fd_drop() - dispose of a descriptor a peer sent, off this thread
 * @fd:		the descriptor
 *
 * If the reaper cannot take it (no thread, or its pipe is full because it
 * is stuck), the descriptor is kept open: a leak is better than a close()
 * that may never return.
 */
static void nb_fd_drop(int fd)
{
	pthread_once(&nb_reaper_once, nb_reaper_start);
	if (nb_reaper_fd < 0 ||
	    write(nb_reaper_fd, &fd, sizeof(fd)) != sizeof(fd))
		net_log("a descriptor from the peer is kept open: the closer is stuck");
}

/**
 * nb_ring_reset() - forget both rings (a new connection trades new ones)
 * @b:		dgram backend
 */
static void nb_ring_reset(struct nb *b)
{
	nring_free(&b->tx);
	nring_free(&b->rx);
	b->tx_active = false;
	b->offer_due = 0;
}

/**
 * nb_ctl_send() - send a control message to the peer
 * @b:		dgram backend, connected
 * @type:	enum nr_msg_type
 * @id:		ring number
 * @fds:	attach our ring's memfd and our room eventfd
 *
 * Return: 0 or -errno (-EAGAIN and -ENOBUFS: the peer's queue is full)
 */
static int nb_ctl_send(struct nb *b, uint32_t type, uint64_t id, bool fds)
{
	struct nr_msg m = { .magic = NR_MSG_MAGIC, .type = type, .id = id };
	struct iovec v = { .iov_base = &m, .iov_len = sizeof(m) };
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	int fd[2] = { b->tx.memfd, b->room_fd };
	struct msghdr mh;
	struct cmsghdr *c;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &v;
	mh.msg_iovlen = 1;
	if (fds) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(fd));
		memcpy(CMSG_DATA(c), fd, sizeof(fd));
	}
	if (sendmsg(b->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

/**
 * nb_ring_offer() - offer the peer our ring (made now if there is none)
 * @b:		dgram backend, connected
 * @type:	NR_OFFER (and ask for the peer's) or NR_OFFER_BACK
 *
 * A ring that cannot be made leaves us on the socket. An offer the peer's
 * full queue does not take is sent again later (nb_tick(), nb_send()).
 *
 * Return: 0, or -errno when the peer does not take messages from us
 */
static int nb_ring_offer(struct nb *b, uint32_t type)
{
	int ret;

	if (!b->tx.h) {
		ret = nring_create(&b->tx, ++b->ring_seq);
		if (ret) {
			net_log("%s: no shared ring (%s): frames go through the socket",
				b->spec, strerror(-ret));
			b->ring_ok = false;
			return 0;
		}
		b->tx_active = false;
	}
	ret = nb_ctl_send(b, type, b->tx.id, true);
	if (ret == -EAGAIN || ret == -ENOBUFS) {
		b->offer_due = type;
		return 0;
	}
	b->offer_due = 0;
	return ret;
}

/**
 * nb_ring_ctl() - act on a control message from the peer
 * @b:		dgram backend
 * @m:		the message
 * @fds:	descriptors that came with it (all taken: kept or closed)
 * @nfd:	how many
 *
 * Messages come only from the peer we are connected to (the kernel
 * refuses others on a connected dgram socket), so an offer is taken only
 * while connected.
 */
static void nb_ring_ctl(struct nb *b, const struct nr_msg *m, int *fds,
			int nfd)
{
	const char *why;
	int i, ret;

	switch (m->type) {
	case NR_OFFER:
	case NR_OFFER_BACK:
		if (!b->ring_ok || !b->connected)
			break;
		if (nfd != 2) {
			net_log("%s: refused the peer's shared ring: %d descriptors",
				b->spec, nfd);
			break;
		}
		nring_free(&b->rx);
		ret = nring_attach(&b->rx, fds[0], fds[1], m->id, &why);
		if (!ret)
			nfd = 0;
		if (ret) {
			net_log("%s: refused the peer's shared ring: %s",
				b->spec, why ? why : strerror(-ret));
			break;
		}
		/* Lost in a full queue, the accept only keeps the peer on
		 * the socket; we read both. */
		nb_ctl_send(b, NR_ACCEPT, m->id, false);
		if (m->type == NR_OFFER)
			nb_ring_offer(b, NR_OFFER_BACK);
		break;
	case NR_ACCEPT:
		if (b->tx.h && m->id == b->tx.id && !b->tx_active) {
			b->tx_active = true;
			net_log("%s: frames go to the peer through a shared ring",
				b->spec);
		}
		break;
	default:
		/* NR_BELL: waking us was all it had to do */
		break;
	}
	for (i = 0; i < nfd; i++)
		nb_fd_drop(fds[i]);
}

/**
 * nb_take_fds() - the descriptors a message carried
 * @mh:		the received message
 * @fds:	out, NB_MAX_FDS entries
 *
 * Return: how many; any beyond NB_MAX_FDS are dropped (nb_fd_drop())
 */
static int nb_take_fds(struct msghdr *mh, int *fds)
{
	struct cmsghdr *c;
	int n = 0, k, i, fd;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < k; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (n < NB_MAX_FDS)
				fds[n++] = fd;
			else
				nb_fd_drop(fd);
		}
	}
	return n;
}

/**
 * nb_from_remote() - was a datagram sent from the peer's address?
 * @b:		dgram backend
 * @sa:		the sender's address (recvmsg()'s msg_name)
 * @len:	its length
 *
 * The peer is known by the address it bound, which is our REMOTE path as
 * written on both command lines.
 *
 * Return: true if @sa is REMOTE
 */
static bool nb_from_remote(const struct nb *b, const struct sockaddr_un *sa,
			   socklen_t len)
{
	size_t off = offsetof(struct sockaddr_un, sun_path);
	size_t rl = strlen(b->remote);

	if (len <= off || sa->sun_family != AF_UNIX)
		return false;
	return strnlen(sa->sun_path, len - off) == rl &&
	       !memcmp(sa->sun_path, b->remote, rl);
}

/**
 * nb_offer_waits() - does the next datagram offer a ring we may take?
 * @b:		dgram backend, connected, expecting the peer's ring
 *
 * Peeks at the datagram with room for its sender's credentials only
 * (SO_PASSCRED puts them first), so descriptors it carries are not taken
 * into our table by this look. A ring offer is taken only from the peer's
 * address and from our own uid (as our user namespace sees it).
 *
 * Return: true if the datagram should be received with its descriptors
 */
static bool nb_offer_waits(const struct nb *b)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} u;
	struct sockaddr_un from;
	struct ucred cred;
	struct cmsghdr *c;
	struct msghdr mh;
	struct nr_msg m;
	struct iovec v = { &m, sizeof(m) };

	memset(&mh, 0, sizeof(mh));
	mh.msg_name = &from;
	mh.msg_namelen = sizeof(from);
	mh.msg_iov = &v;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	if (recvmsg(b->fd, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC) !=
	    sizeof(m) || m.magic != NR_MSG_MAGIC ||
	    (m.type != NR_OFFER && m.type != NR_OFFER_BACK) ||
	    !nb_from_remote(b, &from, mh.msg_namelen))
		return false;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len == CMSG_LEN(sizeof(cred))) {
			memcpy(&cred, CMSG_DATA(c), sizeof(cred));
			return cred.uid == geteuid();
		}
	}
	return false;
}

/**
 * nb_dgram_recv() - one frame from the peer's ring or the socket
 * @b:		dgram backend
 * @iov:	where it goes
 * @cnt:	entries in @iov
 *
 * The ring first; control messages on the socket are acted on and
 * skipped (NB_MAX_CTL at a time: a peer sending nothing else does not
 * keep us here). Nothing is read while no peer is connected. Descriptors
 * are let in only with a ring offer from the peer (nb_offer_waits());
 * every other datagram is received without room for them, and the kernel
 * discards them without ever putting them in our table.
 *
 * Return: as nb_recv()
 */
static int nb_dgram_recv(struct nb *b, const struct iovec *iov,
			 unsigned int cnt)
{
	union {
		/* SO_PASSCRED: the sender's credentials come first */
		char buf[CMSG_SPACE(sizeof(struct ucred)) +
			 CMSG_SPACE(NB_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} u;
	int fds[NB_MAX_FDS], nfd, i, ret, ctl = 0;
	bool take;
	struct msghdr mh;
	struct nr_msg m;
	struct iovc c;
	ssize_t n;

	for (;;) {
		if (b->rx.h) {
			ret = nring_pop(&b->rx, iov, cnt);
			if (ret == -EPROTO) {
				net_log("%s: the peer's shared ring is corrupt: dropped, back to the socket",
					b->spec);
				nring_free(&b->rx);
			} else if (ret != -EAGAIN) {
				b->via_ring = true;
				return ret;
			}
		}
		if (!b->connected)
			return -EAGAIN;
		take = b->ring_ok && !b->rx.h && nb_offer_waits(b);
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = (struct iovec *)iov;
		mh.msg_iovlen = cnt;
		if (take) {
			mh.msg_control = u.buf;
			mh.msg_controllen = sizeof(u.buf);
		}
		n = recvmsg(b->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0)
			return -errno;
		nfd = take ? nb_take_fds(&mh, fds) : 0;
		if (n == sizeof(m) && !(mh.msg_flags & MSG_TRUNC)) {
			iovc_init(&c, iov, cnt);
			if (iovc_read(&c, &m, sizeof(m)) == sizeof(m) &&
			    m.magic == NR_MSG_MAGIC) {
				nb_ring_ctl(b, &m, fds, nfd);
				if (++ctl == NB_MAX_CTL)
					return -EAGAIN;
				continue;
			}
		}
		for (i = 0; i < nfd; i++)
			nb_fd_drop(fds[i]);
		b->via_ring = false;
		if (mh.msg_flags & MSG_TRUNC)
			return -EMSGSIZE;
		return n;
	}
}

/**
 * nb_dgram_send() - one frame into our ring, or on the socket
 * @b:		dgram backend, connected
 * @iov:	the frame
 * @cnt:	entries in @iov
 *
 * Return: as nb_send()
 */
static int nb_dgram_send(struct nb *b, const struct iovec *iov,
			 unsigned int cnt)
{
	struct msghdr mh;
	int ret;

	b->via_ring = false;
	if (b->offer_due) {
		ret = nb_ring_offer(b, b->offer_due);
		if (ret)
			return ret;
	}
	if (b->tx_active) {
		ret = nring_push(&b->tx, iov, cnt, iovc_size(iov, cnt));
		if (ret == -EPROTO) {
			net_log("%s: the peer corrupted our shared ring: dropped, back to the socket",
				b->spec);
			nring_free(&b->tx);
			b->tx_active = false;
		} else if (ret < 0) {
			return ret;
		} else {
			b->via_ring = true;
			if (!ret)
				return 0;
			/* the peer sleeps: bell it (a full queue will wake it
			 * anyway) */
			ret = nb_ctl_send(b, NR_BELL, b->tx.id, false);
			return ret == -EAGAIN || ret == -ENOBUFS ? 0 : ret;
		}
	}
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = (struct iovec *)iov;
	mh.msg_iovlen = cnt;
	if (sendmsg(b->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return errno == EAGAIN || errno == ENOBUFS ? -EAGAIN : -errno;
	return 0;
}

/**
 * nb_ring_waits() - a frame nb_send() refused waits for room in our ring
 * (the room eventfd wakes us), not for room in the socket (EPOLLOUT)
 * @b:		backend
 *
 * Return: true if so
 */
bool nb_ring_waits(const struct nb *b)
{
	return b->kind == NB_DGRAM && b->tx_active;
}

/**
 * nb_wants_tick() - nb_tick() has work while the backend is connected
 * @b:		backend
 *
 * Return: true while an offer waits to be sent or our ring holds frames
 */
bool nb_wants_tick(const struct nb *b)
{
	return b->kind == NB_DGRAM &&
	       (b->offer_due ||
		(b->tx_active && b->tx.pos != shm_load32(&b->tx.h->cons,
							 memory_order_relaxed)));
}

/**
 * nb_tick() - periodic work of a connected dgram backend
 * @b:		backend
 *
 * Sends an offer that did not fit before. When our ring holds frames the
 * peer has not touched since the last tick, bells it: that wakes a peer
 * that missed a bell, and a peer that died makes the send fail, which is
 * how we learn it (a ring alone would never tell).
 *
 * Return: 0, or -errno when the peer is gone
 */
int nb_tick(struct nb *b)
{
	int ret;

	if (b->kind != NB_DGRAM || !b->connected)
		return 0;
	if (b->offer_due) {
		ret = nb_ring_offer(b, b->offer_due);
		if (ret)
			return ret;
	}
	if (b->tx_active && nring_stalled(&b->tx)) {
		ret = nb_ctl_send(b, NR_BELL, b->tx.id, false);
		if (ret && ret != -EAGAIN && ret != -ENOBUFS)
			return ret;
	}
	return 0;
}

/**
 * nb_stale() - is the socket file at @path left over from a dead process?
 * @path:	a socket file
 *
 * A live dgram socket accepts a connect(); a socket file whose socket is
 * gone refuses it with ECONNREFUSED. Anything else (live, someone else's,
 * a stream socket) is not ours to unlink.
 *
 * Return: true if only ECONNREFUSED came back
 */
static bool nb_stale(const char *path)
{
	struct sockaddr_un sa;
	int fd, ret, err;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	ret = connect(fd, (struct sockaddr *)&sa, nb_sun(&sa, path));
	err = errno;
	close(fd);
	return ret < 0 && err == ECONNREFUSED;
}

/**
 * nb_open() - set the backend up
 * @b:		backend
 *
 * dgram binds its local socket here (replacing a stale socket file, never
 * a live one: that is -EADDRINUSE from bind()), mode 0600, and
 * tap creates or attaches to its interface: both must work at once. The
 * stream peer and the dgram remote may come later: nb_connect() retries.
 *
 * Return: 0 or -errno
 */
int nb_open(struct nb *b)
{
	struct sockaddr_un sa;
	struct ifreq ifr;
	struct stat st;
	mode_t mask;
	int v;

	switch (b->kind) {
	case NB_STREAM:
		b->rbuf = malloc(NB_RBUF_SIZE);
		b->wbuf = malloc(NB_MAX_FRAME + 4);
		return b->rbuf && b->wbuf ? 0 : -ENOMEM;
	case NB_PASST:
		b->rbuf = malloc(NB_RBUF_SIZE);
		b->wbuf = malloc(NB_MAX_FRAME + 4);
		return b->rbuf && b->wbuf ? 0 : -ENOMEM;
	case NB_DGRAM:
		b->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK |
			       SOCK_CLOEXEC, 0);
		if (b->fd < 0)
			return -errno;
		nb_bufs(b->fd);
		v = 1;
		if (setsockopt(b->fd, SOL_SOCKET, SO_PASSCRED, &v, sizeof(v)))
			return -errno;
		if (!lstat(b->path, &st) && S_ISSOCK(st.st_mode) &&
		    nb_stale(b->path))
			unlink(b->path);
		/* Only our uid may send to us (and pass descriptors). */
		mask = umask(0177);
		v = bind(b->fd, (struct sockaddr *)&sa, nb_sun(&sa, b->path));
		umask(mask);
		if (v)
			return -errno;
		/* now, so its pipe is not one more descriptor later */
		pthread_once(&nb_reaper_once, nb_reaper_start);
		b->room_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		return b->room_fd < 0 ? -errno : 0;
	case NB_TAP:
		b->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (b->fd < 0)
			return -errno;
		memset(&ifr, 0, sizeof(ifr));
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
		/* The first queue creates the tap, the others attach. */
		if (b->multi_queue)
			ifr.ifr_flags |= IFF_MULTI_QUEUE;
		strcpy(ifr.ifr_name, b->path);
		if (ioctl(b->fd, TUNSETIFF, &ifr))
			return -errno;
		v = NB_HDR_LEN;
		if (ioctl(b->fd, TUNSETVNETHDRSZ, &v))
			return -errno;
		b->connected = true;
		return 0;
	}
	return -EINVAL;
}

/**
 * nb_drain() - throw away what came before the peer was connected
 * @b:		dgram backend, just connected
 *
 * An unconnected socket takes datagrams from anyone who may write to it;
 * a connected one only from its peer. What queued up before is dropped
 * unread (descriptors included, which the kernel then discards). The peer
 * loses nothing it needs: our ring offer follows, and it answers that.
 */
static void nb_drain(struct nb *b)
{
	unsigned int n = 0;
	char c;

	while (recv(b->fd, &c, 1, MSG_DONTWAIT) >= 0)
		n++;
	if (n)
		net_log("%s: %u datagram%s queued before the peer connected: dropped",
			b->spec, n, n > 1 ? "s" : "");
}

/**
 * nb_connect() - (re)connect a backend that is not connected
 * @b:		backend
 *
 * Return: 0 once connected, -errno while the peer is not there
 */
int nb_connect(struct nb *b)
{
	struct sockaddr_un sa;
	int ret;

	if (b->connected)
		return 0;
	switch (b->kind) {
	case NB_STREAM:
		if (b->fd < 0) {
			b->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (b->fd < 0)
				return -errno;
			nb_bufs(b->fd);
		}
		/* Blocking connect: a UNIX socket answers at once. */
		if (connect(b->fd, (struct sockaddr *)&sa,
			    nb_sun(&sa, b->path))) {
			ret = -errno;
			close(b->fd);
			b->fd = -1;
			return ret;
		}
		if (fcntl(b->fd, F_SETFL, O_NONBLOCK))
			return -errno;
		break;
	case NB_PASST:
		ret = nb_spawn_passt(b);
		if (ret)
			return ret;
		if (fcntl(b->fd, F_SETFL, O_NONBLOCK))
			return -errno;
		break;
	case NB_DGRAM:
		if (connect(b->fd, (struct sockaddr *)&sa,
			    nb_sun(&sa, b->remote)))
			return -errno;
		nb_drain(b);
		/* A new peer, maybe: rings are traded afresh. A peer that
		 * refuses our offer (EPERM: it is still connected to an
		 * earlier us) cannot take frames either. */
		nb_ring_reset(b);
		if (b->ring_ok) {
			ret = nb_ring_offer(b, NR_OFFER);
			if (ret)
				return ret;
		}
		break;
	case NB_TAP:
		break;
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
	struct sockaddr sa = { .sa_family = AF_UNSPEC };

	b->connected = false;
	switch (b->kind) {
	case NB_STREAM:
	case NB_PASST:
		if (b->fd >= 0)
			close(b->fd);
		b->fd = -1;
		if (b->passt_pid > 0)
			kill(b->passt_pid, SIGTERM);
		break;
	case NB_DGRAM:
		connect(b->fd, &sa, sizeof(sa));
		nb_ring_reset(b);
		break;
	case NB_TAP:
		break;
	}
}

/**
 * nb_stream_recv() - take the next whole frame from a stream socket
 * @b:		backend
 * @iov:	where the frame goes
 * @cnt:	entries in @iov
 *
 * Return: frame length, -EAGAIN, -EMSGSIZE (a frame longer than
 * NB_MAX_FRAME or than @iov was thrown away), -ECONNRESET
 */
static int nb_stream_recv(struct nb *b, const struct iovec *iov,
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
	ssize_t n;

	if (b->fd < 0)
		return -EAGAIN;
	switch (b->kind) {
	case NB_STREAM:
	case NB_PASST:
		return nb_stream_recv(b, iov, cnt);
	case NB_DGRAM:
		return nb_dgram_recv(b, iov, cnt);
	case NB_TAP:
		n = readv(b->fd, iov, cnt);
		if (n < 0)
			return -errno;
		return n;
	}
	return -EINVAL;
}

/**
 * nb_stream_send() - send one frame on a stream socket
 * @b:		backend
 * @iov:	the frame
 * @cnt:	entries in @iov
 *
 * Return: 0 (sent, or its tail queued in @wbuf), -EAGAIN (nothing sent),
 * -ECONNRESET
 */
static int nb_stream_send(struct nb *b, const struct iovec *iov,
			  unsigned int cnt)
{
	struct iovec v[UIO_MAXIOV];
	size_t total = iovc_size(iov, cnt);
	uint32_t len = htonl(total);
	struct msghdr mh;
	struct iovc c;
	ssize_t n;

	if (nb_pending_out(b) || cnt + 1 > UIO_MAXIOV)
		return -EAGAIN;
	v[0].iov_base = &len;
	v[0].iov_len = 4;
	memcpy(v + 1, iov, cnt * sizeof(*iov));
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = v;
	mh.msg_iovlen = cnt + 1;
	n = sendmsg(b->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0)
		return errno == EAGAIN ? -EAGAIN : -ECONNRESET;
	if ((size_t)n == total + 4)
		return 0;
	/* Keep what the socket did not take: the rest of this frame. */
	iovc_init(&c, v, cnt + 1);
	iovc_skip(&c, n);
	b->wlen = iovc_read(&c, b->wbuf, total + 4 - n);
	b->woff = 0;
	return 0;
}

/**
 * nb_send() - send one frame (with its offload header, if any)
 * @b:		backend
 * @iov:	the frame
 * @cnt:	entries in @iov
 *
 * Return: 0, -EAGAIN (no room: try again after EPOLLOUT), -EMSGSIZE (the
 * peer cannot take a frame this large), -ENOTCONN, -ECONNRESET or another
 * -errno (the peer is gone)
 */
int nb_send(struct nb *b, const struct iovec *iov, unsigned int cnt)
{
	ssize_t n;

	if (!b->connected || b->fd < 0)
		return -ENOTCONN;
	switch (b->kind) {
	case NB_STREAM:
	case NB_PASST:
		return nb_stream_send(b, iov, cnt);
	case NB_DGRAM:
		return nb_dgram_send(b, iov, cnt);
	case NB_TAP:
		n = writev(b->fd, iov, cnt);
		if (n < 0)
			return errno == EAGAIN ? -EAGAIN : -errno;
		return 0;
	}
	return -EINVAL;
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

/**
 * nb_set_offload() - tell a tap which offloads it may hand us
 * @b:		backend
 * @csum:	partial checksums
 * @tso4:	TCP segmentation, IPv4 (needs @csum)
 * @tso6:	TCP segmentation, IPv6 (needs @csum)
 *
 * Return: 0 or -errno; 0 for backends other than tap
 */
int nb_set_offload(struct nb *b, bool csum, bool tso4, bool tso6)
{
	unsigned int f = 0;

	if (b->kind != NB_TAP)
		return 0;
	if (csum) {
		f |= TUN_F_CSUM;
		if (tso4)
			f |= TUN_F_TSO4;
		if (tso6)
			f |= TUN_F_TSO6;
	}
	return ioctl(b->fd, TUNSETOFFLOAD, f) ? -errno : 0;
}

/**
 * nb_reap() - collect an exited passt
 * @b:		backend
 */
void nb_reap(struct nb *b)
{
	if (b->passt_pid > 0 && waitpid(b->passt_pid, NULL, WNOHANG) > 0)
		b->passt_pid = 0;
}

/**
 * nb_close() - tear the backend down
 * @b:		backend
 */
void nb_close(struct nb *b)
{
	nb_disconnect(b);
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	if (b->kind == NB_DGRAM)
		unlink(b->path);
	if (b->room_fd >= 0)
		close(b->room_fd);
	b->room_fd = -1;
	if (b->passt_pid > 0)
		waitpid(b->passt_pid, NULL, 0);
	b->passt_pid = 0;
	free(b->rbuf);
	free(b->wbuf);
	b->rbuf = b->wbuf = NULL;
}

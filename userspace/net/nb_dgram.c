// SPDX-License-Identifier: GPL-2.0-only
/*
 * nb_dgram.c - the dgram backend: a pair of UNIX datagram sockets, one
 * frame (offload header first) per datagram, and the handshake by which
 * two peers trade shared frame rings (ring.h) and move frames through
 * them instead of the socket
 *
 * The handshake (docs/uvirtio-net.md, "Shared rings"): on connect each
 * side offers its ring (NR_OFFER, the ring's memfd and a room eventfd
 * attached); the peer attaches it, answers NR_ACCEPT and offers its own
 * back (NR_OFFER_BACK). Frames go through a ring once the peer accepted
 * it; NR_BELL wakes a peer that sleeps. Only the peer's address, our own
 * uid and a connected socket may hand us descriptors.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "iovc.h"
#include "nb_ops.h"
#include "pair.h"
#include "shm.h"

/* Descriptors a dgram message may carry that we look at (an offer: 2). */
#define NB_MAX_FDS		4
/* Control messages one nb_recv() acts on before it lets other work run. */
#define NB_MAX_CTL		64

/**
 * nb_ring_reset() - forget both rings (a new connection trades new ones)
 * @b:		dgram backend; called by its owner
 *
 * Our ring is the owner's to free. The peer's ring may be in use by
 * another thread that reads this backend: that thread drops it when it
 * sees @rx_gen move (nb_rx_sync()).
 */
static void nb_ring_reset(struct nb *b)
{
	nring_free(&b->tx);
	b->tx_active = false;
	b->offer_due = 0;
	atomic_store_explicit(&b->ctl_accept, 0, memory_order_relaxed);
	atomic_store_explicit(&b->ctl_offer_back, 0, memory_order_relaxed);
	atomic_store_explicit(&b->rx_gen,
			      atomic_load_explicit(&b->rx_gen,
						   memory_order_relaxed) + 1,
			      memory_order_release);
}

/**
 * nb_rx_drop() - stop reading the peer's ring (and owing it an accept)
 * @b:		dgram backend; called by the thread that reads it
 */
static void nb_rx_drop(struct nb *b)
{
	nring_free(&b->rx);
	b->accept_due = 0;
}

/**
 * nb_rx_sync() - drop the peer's ring if the owner changed peers since
 * @b:		dgram backend; called by the thread that reads it
 */
static void nb_rx_sync(struct nb *b)
{
	uint32_t g = atomic_load_explicit(&b->rx_gen, memory_order_acquire);

	if (g == b->rx_gen_seen)
		return;
	nb_rx_drop(b);
	b->rx_gen_seen = g;
}

/**
 * nb_ctl_post() - wake the owner to act on what nb_ring_ctl() posted
 * @b:		dgram backend
 */
static void nb_ctl_post(struct nb *b)
{
	uint64_t one = 1;

	if (write(b->room_fd, &one, sizeof(one)) < 0)
		return;	/* saturated: the owner is woken anyway */
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
 * nb_accept() - tell the peer we read its ring @id
 * @b:		dgram backend, connected; called by its reader
 * @id:		the ring we attached
 *
 * The peer stays on the socket until this arrives, so an accept its full
 * queue refuses (it holds only net.unix.max_dgram_qlen datagrams, 10 by
 * default, and the frames it has yet to read count) is sent again at the
 * next nb_recv(), until we stop reading that ring (nb_rx_drop()).
 */
static void nb_accept(struct nb *b, uint64_t id)
{
	int ret = nb_ctl_send(b, NR_ACCEPT, id, false);

	b->accept_due = ret == -EAGAIN || ret == -ENOBUFS ? id : 0;
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
 * while connected. The peer's ring is ours (the reader's) to attach; what
 * concerns our own ring is posted to the backend's owner.
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
		/* a reconnect of the owner's before this offer came */
		nb_rx_sync(b);
		nb_rx_drop(b);
		ret = nring_attach(&b->rx, fds[0], fds[1], m->id, &why);
		if (!ret)
			nfd = 0;
		if (ret) {
			net_log("%s: refused the peer's shared ring: %s",
				b->spec, why ? why : strerror(-ret));
			break;
		}
		nb_accept(b, m->id);
		if (m->type == NR_OFFER) {
			atomic_store_explicit(&b->ctl_offer_back, 1,
					      memory_order_release);
			nb_ctl_post(b);
		}
		break;
	case NR_ACCEPT:
		/* our ring is the owner's: it switches to it */
		atomic_store_explicit(&b->ctl_accept, m->id,
				      memory_order_release);
		nb_ctl_post(b);
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

	nb_rx_sync(b);
	if (b->accept_due)
		nb_accept(b, b->accept_due);
	for (;;) {
		if (b->rx.h) {
			ret = nring_pop(&b->rx, iov, cnt);
			if (ret == -EPROTO) {
				net_log("%s: the peer's shared ring is corrupt: dropped, back to the socket",
					b->spec);
				nb_rx_drop(b);
			} else if (ret != -EAGAIN) {
				b->rx_via_ring = true;
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
		b->rx_via_ring = false;
		if (mh.msg_flags & MSG_TRUNC)
			return -EMSGSIZE;
		return n;
	}
}

/**
 * nb_ring_send() - frames into our shared ring
 * @b:		dgram backend, the peer reads our ring
 * @f:		the frames
 * @n:		how many
 *
 * The peer gets one bell for the whole call if it sleeps (a full queue
 * will wake it anyway).
 *
 * Return: as nb_send() (a bell the peer's socket refuses for good is the
 * call's error); 0 when the ring was dropped before the first frame went
 * (the peer corrupted it): the frames go on the socket instead
 */
static int nb_ring_send(struct nb *b, const struct nb_frame *f,
			unsigned int n)
{
	uint64_t id = b->tx.id;	/* a ring dropped below still gets its bell */
	bool bell = false;
	unsigned int i;
	int ret = 0;

	for (i = 0; i < n; i++) {
		ret = nring_push(&b->tx, f[i].iov, f[i].cnt,
				 iovc_size(f[i].iov, f[i].cnt));
		if (ret < 0)
			break;
		bell |= ret > 0;
	}
	b->tx_ring_frames = i;
	if (ret == -EPROTO) {
		net_log("%s: the peer corrupted our shared ring: dropped, back to the socket",
			b->spec);
		nring_free(&b->tx);
		b->tx_active = false;
	}
	if (bell) {
		/* the frames are in the ring: only a peer that is gone fails */
		ret = nb_ctl_send(b, NR_BELL, id, false);
		return ret && ret != -EAGAIN && ret != -ENOBUFS ? ret : (int)i;
	}
	return i || ret == -EPROTO ? (int)i : ret;
}

/**
 * nb_dgram_send() - frames into our ring, or on the socket in one
 * sendmmsg()
 * @b:		dgram backend, connected
 * @f:		the frames
 * @n:		how many
 *
 * Return: as nb_send()
 */
static int nb_dgram_send(struct nb *b, const struct nb_frame *f,
			 unsigned int n)
{
	struct mmsghdr mm[NB_SEND_MAX];
	unsigned int i;
	int ret;

	if (b->offer_due) {
		ret = nb_ring_offer(b, b->offer_due);
		if (ret)
			return ret;
	}
	if (b->tx_active) {
		ret = nb_ring_send(b, f, n);
		if (ret)
			return ret;
	}
	memset(mm, 0, n * sizeof(*mm));
	for (i = 0; i < n; i++) {
		mm[i].msg_hdr.msg_iov = (struct iovec *)f[i].iov;
		mm[i].msg_hdr.msg_iovlen = f[i].cnt;
	}
	ret = sendmmsg(b->fd, mm, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (ret < 0)
		return errno == EAGAIN || errno == ENOBUFS ? -EAGAIN : -errno;
	return ret;
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
 * nb_ctl_apply() - act on what the reader posted from the peer's control
 * messages: switch to our ring once the peer accepted it, offer it back
 * when the peer asked
 * @b:		backend; called by its owner when its room eventfd fires
 *
 * Return: 0, or -errno when the peer is gone
 */
int nb_ctl_apply(struct nb *b)
{
	uint64_t id;

	if (b->kind != NB_DGRAM || !b->connected)
		return 0;
	id = atomic_exchange_explicit(&b->ctl_accept, 0, memory_order_acquire);
	if (id && b->tx.h && id == b->tx.id && !b->tx_active) {
		b->tx_active = true;
		net_log("%s: frames go to the peer through a shared ring",
			b->spec);
	}
	if (atomic_exchange_explicit(&b->ctl_offer_back, 0,
				     memory_order_acquire))
		return nb_ring_offer(b, NR_OFFER_BACK);
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
 * nb_dgram_open() - bind the local socket
 * @b:		dgram backend
 *
 * A stale socket file at LOCAL is replaced, never a live one (that is
 * -EADDRINUSE from bind()); the new one has mode 0600.
 *
 * Return: 0 or -errno
 */
static int nb_dgram_open(struct nb *b)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t mask;
	int v;

	b->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (b->fd < 0)
		return -errno;
	nb_bufs(b->fd);
	v = 1;
	if (setsockopt(b->fd, SOL_SOCKET, SO_PASSCRED, &v, sizeof(v)))
		return -errno;
	if (!lstat(b->path, &st) && S_ISSOCK(st.st_mode) && nb_stale(b->path))
		unlink(b->path);
	/* Only our uid may send to us (and pass descriptors). */
	mask = umask(0177);
	v = bind(b->fd, (struct sockaddr *)&sa, nb_sun(&sa, b->path));
	umask(mask);
	if (v)
		return -errno;
	b->room_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return b->room_fd < 0 ? -errno : 0;
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
 * nb_dgram_connect() - connect to REMOTE and offer it our ring
 * @b:		dgram backend, not connected
 *
 * Return: 0, or -errno while the peer is not there
 */
static int nb_dgram_connect(struct nb *b)
{
	struct sockaddr_un sa;

	/* A new peer, maybe: rings are traded afresh, and the reader learns
	 * it (@rx_gen) before the peer can reach us and offer its ring. */
	nb_ring_reset(b);
	if (connect(b->fd, (struct sockaddr *)&sa, nb_sun(&sa, b->remote)))
		return -errno;
	nb_drain(b);
	/* A peer that refuses our offer (EPERM: it is still connected to an
	 * earlier us) cannot take frames either. */
	return b->ring_ok ? nb_ring_offer(b, NR_OFFER) : 0;
}

/**
 * nb_dgram_disconnect() - forget the peer; the socket stays bound
 * @b:		dgram backend
 */
static void nb_dgram_disconnect(struct nb *b)
{
	struct sockaddr sa = { .sa_family = AF_UNSPEC };

	connect(b->fd, &sa, sizeof(sa));
	nb_ring_reset(b);
}

/**
 * nb_dgram_close() - remove the socket file and the room eventfd
 * @b:		dgram backend, its socket closed
 */
static void nb_dgram_close(struct nb *b)
{
	nb_rx_drop(b);
	unlink(b->path);
	if (b->room_fd >= 0)
		close(b->room_fd);
	b->room_fd = -1;
}

const struct nb_ops nb_dgram_ops = {
	.open		= nb_dgram_open,
	.connect	= nb_dgram_connect,
	.disconnect	= nb_dgram_disconnect,
	.recv		= nb_dgram_recv,
	.send		= nb_dgram_send,
	.close		= nb_dgram_close,
};

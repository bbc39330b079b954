// SPDX-License-Identifier: GPL-2.0-only
/*
 * vu.c - the front end's side of the vhost-user protocol (see vu.h)
 *
 * The socket is blocking with send and receive timeouts, and every reply
 * is read against one deadline: a backend that stops answering costs
 * VU_REPLY_TIMEOUT_MS once, then the connection is marked failed. Replies
 * are read whole (header, then exactly the announced payload); fds that
 * come with a reply that carries none are an error. Nothing a backend
 * sends is acted upon before it has passed these checks.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vu.h"

/* Header: request, flags, payload size (all little-endian, as x86 is). */
struct vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
};

#define VU_MAX_FDS	8

/**
 * vu_fail() - record why the connection failed; it is not used again
 * @c:		connection
 * @ret:	-errno to return
 * @fmt:	the reason, for one line of the caller's
 *
 * Return: @ret
 */
static int __attribute__((format(printf, 3, 4)))
vu_fail(struct vu_conn *c, int ret, const char *fmt, ...)
{
	va_list ap;

	if (!c->err[0]) {
		va_start(ap, fmt);
		vsnprintf(c->err, sizeof(c->err), fmt, ap);
		va_end(ap);
	}
	return ret;
}

/**
 * vu_request_name() - a request code in words
 * @req:	VU_*
 *
 * Return: a static string
 */
const char *vu_request_name(uint32_t req)
{
	switch (req) {
	case VU_GET_FEATURES: return "GET_FEATURES";
	case VU_SET_FEATURES: return "SET_FEATURES";
	case VU_SET_OWNER: return "SET_OWNER";
	case VU_SET_MEM_TABLE: return "SET_MEM_TABLE";
	case VU_SET_VRING_NUM: return "SET_VRING_NUM";
	case VU_SET_VRING_ADDR: return "SET_VRING_ADDR";
	case VU_SET_VRING_BASE: return "SET_VRING_BASE";
	case VU_GET_VRING_BASE: return "GET_VRING_BASE";
	case VU_SET_VRING_KICK: return "SET_VRING_KICK";
	case VU_SET_VRING_CALL: return "SET_VRING_CALL";
	case VU_GET_PROTOCOL_FEATURES: return "GET_PROTOCOL_FEATURES";
	case VU_SET_PROTOCOL_FEATURES: return "SET_PROTOCOL_FEATURES";
	case VU_GET_QUEUE_NUM: return "GET_QUEUE_NUM";
	case VU_SET_VRING_ENABLE: return "SET_VRING_ENABLE";
	case VU_GET_CONFIG: return "GET_CONFIG";
	default: return "unknown request";
	}
}

/**
 * vu_connect() - connect to a backend's socket
 * @c:		connection to initialise
 * @path:	the socket's path (kept, not copied)
 *
 * Return: 0, or -errno with @c->err saying why
 */
int vu_connect(struct vu_conn *c, const char *path)
{
	struct timeval tv;
	struct sockaddr_un sa;
	int ret;

	memset(c, 0, sizeof(*c));
	c->path = path;
	c->timeout_ms = VU_REPLY_TIMEOUT_MS;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		c->fd = -1;
		return vu_fail(c, -ENAMETOOLONG, "socket path is too long");
	}
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return vu_fail(c, -errno, "socket: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		vu_close(c);
		return vu_fail(c, ret, "cannot connect: %s", strerror(-ret));
	}
	/* A backend that does not read must not hold a send for ever. */
	tv.tv_sec = c->timeout_ms / 1000;
	tv.tv_usec = (c->timeout_ms % 1000) * 1000;
	if (setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		ret = -errno;
		vu_close(c);
		return vu_fail(c, ret, "SO_SNDTIMEO: %s", strerror(-ret));
	}
	return 0;
}

/**
 * vu_close() - close the socket (the backend sees the front end leave)
 * @c:		connection
 */
void vu_close(struct vu_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/**
 * vu_has() - did both sides agree on a protocol feature?
 * @c:		connection
 * @pf:		VU_PF_*
 *
 * Return: true if so
 */
bool vu_has(const struct vu_conn *c, unsigned int pf)
{
	return c->protocol & (1ULL << pf);
}

/**
 * vu_send() - send one request, its payload and fds
 * @c:		connection
 * @req:	VU_*
 * @flags:	extra header flags (VU_FLAG_NEED_REPLY)
 * @payload:	@len bytes
 * @len:	payload bytes
 * @fds:	fds to pass, or NULL
 * @nfds:	how many
 *
 * Return: 0 or -errno (@c->err set)
 */
static int vu_send(struct vu_conn *c, uint32_t req, uint32_t flags,
		   const void *payload, uint32_t len, const int *fds,
		   unsigned int nfds)
{
	char cbuf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
	struct vu_hdr h = { req, VU_VERSION | flags, len };
	struct iovec iov[2] = {
		{ &h, sizeof(h) },
		{ (void *)payload, len },
	};
	struct msghdr m;
	size_t total = sizeof(h) + len;
	ssize_t n;

	if (c->fd < 0)
		return vu_fail(c, -ENOTCONN, "not connected");
	memset(&m, 0, sizeof(m));
	m.msg_iov = iov;
	m.msg_iovlen = len ? 2 : 1;
	if (nfds) {
		struct cmsghdr *cm;

		memset(cbuf, 0, sizeof(cbuf));
		m.msg_control = cbuf;
		m.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	}
	do
		n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return vu_fail(c, -ETIMEDOUT, "%s: the backend does not read its socket",
			       vu_request_name(req));
	if (n < 0)
		return vu_fail(c, -errno, "%s: %s", vu_request_name(req),
			       strerror(errno));
	/* Messages are small: a stream socket takes them whole or not at all. */
	if ((size_t)n != total)
		return vu_fail(c, -EIO, "%s: short send", vu_request_name(req));
	return 0;
}

/**
 * vu_ms_left() - milliseconds until @deadline
 * @deadline:	CLOCK_MONOTONIC time
 *
 * Return: >= 0
 */
static int vu_ms_left(const struct timespec *deadline)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (deadline->tv_sec - now.tv_sec) * 1000 +
	     (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms > 0 ? (int)ms : 0;
}

/**
 * vu_read_full() - read exactly @len bytes before @deadline
 * @c:		connection
 * @buf:	destination
 * @len:	bytes
 * @deadline:	give up then
 * @req:	the request the reply is for (messages)
 *
 * Return: 0 or -errno (@c->err set)
 */
static int vu_read_full(struct vu_conn *c, void *buf, size_t len,
			const struct timespec *deadline, uint32_t req)
{
	char cbuf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
	size_t got = 0;

	while (got < len) {
		struct iovec iov = { (char *)buf + got, len - got };
		struct pollfd p = { c->fd, POLLIN, 0 };
		struct msghdr m;
		struct cmsghdr *cm;
		int r;
		ssize_t n;

		r = poll(&p, 1, vu_ms_left(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return vu_fail(c, -errno, "poll: %s", strerror(errno));
		if (r == 0)
			return vu_fail(c, -ETIMEDOUT, "%s: no reply within %d ms",
				       vu_request_name(req), c->timeout_ms);
		memset(&m, 0, sizeof(m));
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_control = cbuf;
		m.msg_controllen = sizeof(cbuf);
		n = recvmsg(c->fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return vu_fail(c, -errno, "%s: %s", vu_request_name(req),
				       strerror(errno));
		if (n == 0)
			return vu_fail(c, -ECONNRESET, "%s: the backend closed the connection",
				       vu_request_name(req));
		for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
			if (cm->cmsg_level != SOL_SOCKET ||
			    cm->cmsg_type != SCM_RIGHTS)
				continue;
			/*
			 * No reply this front end asks for carries fds: they
			 * are left open (closing a stranger's fd can block on
			 * its file system) and the connection is given up.
			 */
			return vu_fail(c, -EPROTO, "%s: the reply carries file descriptors",
				       vu_request_name(req));
		}
		if (m.msg_flags & MSG_CTRUNC)
			return vu_fail(c, -EPROTO, "%s: the reply carries too many file descriptors",
				       vu_request_name(req));
		got += n;
	}
	return 0;
}

/**
 * vu_recv() - read and check the reply to @req
 * @c:		connection
 * @req:	the request that was sent
 * @payload:	out: the reply's payload
 * @len:	bytes the reply must have (exactly)
 *
 * Return: 0 or -errno (@c->err set)
 */
static int vu_recv(struct vu_conn *c, uint32_t req, void *payload, uint32_t len)
{
	struct timespec deadline;
	struct vu_hdr h;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += c->timeout_ms / 1000;
	deadline.tv_nsec += (c->timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	ret = vu_read_full(c, &h, sizeof(h), &deadline, req);
	if (ret)
		return ret;
	if ((h.flags & 0x3) != VU_VERSION || !(h.flags & VU_FLAG_REPLY))
		return vu_fail(c, -EPROTO, "%s: not a vhost-user reply (flags 0x%x)",
			       vu_request_name(req), h.flags);
	if (h.request != req)
		return vu_fail(c, -EPROTO, "%s: the reply is for request %u",
			       vu_request_name(req), h.request);
	if (h.size != len)
		return vu_fail(c, -EPROTO, "%s: reply of %u bytes, expected %u",
			       vu_request_name(req), h.size, len);
	return vu_read_full(c, payload, len, &deadline, req);
}

/**
 * vu_set() - send a request that has no reply of its own
 * @c:		connection
 * @req:	VU_*
 * @payload:	@len bytes
 * @len:	payload bytes
 * @fds:	fds to pass, or NULL
 * @nfds:	how many
 *
 * With REPLY_ACK agreed the backend acknowledges it, and a non-zero
 * acknowledgement is a refusal.
 *
 * Return: 0 or -errno (@c->err set)
 */
static int vu_set(struct vu_conn *c, uint32_t req, const void *payload,
		  uint32_t len, const int *fds, unsigned int nfds)
{
	bool ack = vu_has(c, VU_PF_REPLY_ACK);
	uint64_t status;
	int ret;

	ret = vu_send(c, req, ack ? VU_FLAG_NEED_REPLY : 0, payload, len, fds,
		      nfds);
	if (ret || !ack)
		return ret;
	ret = vu_recv(c, req, &status, sizeof(status));
	if (ret)
		return ret;
	if (status)
		return vu_fail(c, -EREMOTEIO, "%s: refused by the backend (%llu)",
			       vu_request_name(req), (unsigned long long)status);
	return 0;
}

/**
 * vu_get_u64() - a request answered with one u64 (features, queue count)
 * @c:		connection
 * @req:	VU_GET_FEATURES, VU_GET_PROTOCOL_FEATURES, VU_GET_QUEUE_NUM
 * @val:	out: the answer
 *
 * Return: 0 or -errno (@c->err set)
 */
int vu_get_u64(struct vu_conn *c, uint32_t req, uint64_t *val)
{
	int ret = vu_send(c, req, 0, NULL, 0, NULL, 0);

	return ret ? ret : vu_recv(c, req, val, sizeof(*val));
}

/**
 * vu_set_u64() - a request carrying one u64 (SET_FEATURES, ...)
 * @c:		connection
 * @req:	VU_SET_FEATURES, VU_SET_PROTOCOL_FEATURES
 * @val:	the value
 *
 * SET_PROTOCOL_FEATURES is never acknowledged: REPLY_ACK is not agreed
 * before it is answered.
 *
 * Return: 0 or -errno (@c->err set)
 */
int vu_set_u64(struct vu_conn *c, uint32_t req, uint64_t val)
{
	return vu_set(c, req, &val, sizeof(val), NULL, 0);
}

/**
 * vu_set_owner() - SET_OWNER: this front end owns the backend's session
 * @c:		connection
 *
 * Return: 0 or -errno (@c->err set)
 */
int vu_set_owner(struct vu_conn *c)
{
	return vu_set(c, VU_SET_OWNER, NULL, 0, NULL, 0);
}

/**
 * vu_set_state() - a request carrying a ring index and a number
 * @c:		connection
 * @req:	VU_SET_VRING_NUM, VU_SET_VRING_BASE, VU_SET_VRING_ENABLE
 * @index:	ring index
 * @num:	size, first avail index, or 1/0
 *
 * Return: 0 or -errno (@c->err set)
 */
int vu_set_state(struct vu_conn *c, uint32_t req, uint32_t index,
		 uint32_t num)
{
	uint32_t st[2] = { index, num };

	return vu_set(c, req, st, sizeof(st), NULL, 0);
}

/**
 * vu_get_vring_base() - stop a ring; learn where the backend got to
 * @c:		connection
 * @index:	ring index
 * @base:	out: the next avail index the backend would have taken
 *
 * Return: 0 or -errno (@c->err set)
 */
int vu_get_vring_base(struct vu_conn *c, uint32_t index, uint32_t *base)
{
	uint32_t st[2] = { index, 0 };
	int ret;

	ret = vu_send(c, VU_GET_VRING_BASE, 0, st, sizeof(st), NULL, 0);
	if (!ret)
		ret = vu_recv(c, VU_GET_VRING_BASE, st, sizeof(st));
	if (ret)
		return ret;
	if (st[0] != index)
		return vu_fail(c, -EPROTO, "GET_VRING_BASE: reply for ring %u, asked for %u",
			       st[0], index);
	*base = st[1];
	return 0;
}

/**
 * vu_set_vring_addr() - SET_VRING_ADDR
 * @c:		connection
 * @a:		the ring's parts, in this process's address space
 *
 * Return: 0 or -errno (@c->err set)
 */
int vu_set_vring_addr(struct vu_conn *c, const struct vu_vring_addr *a)
{
	return vu_set(c, VU_SET_VRING_ADDR, a, sizeof(*a), NULL, 0);
}

/**
 * vu_set_vring_fd() - SET_VRING_KICK or SET_VRING_CALL
 * @c:		connection
 * @req:	VU_SET_VRING_KICK or VU_SET_VRING_CALL
 * @index:	ring index
 * @fd:		the eventfd
 *
 * Return: 0 or -errno (@c->err set)
 */
int vu_set_vring_fd(struct vu_conn *c, uint32_t req, uint32_t index, int fd)
{
	uint64_t v = index;

	return vu_set(c, req, &v, sizeof(v), &fd, 1);
}

/**
 * vu_set_mem_table() - SET_MEM_TABLE: the memory the rings and buffers are in
 * @c:		connection
 * @r:		regions
 * @n:		how many (1..8)
 * @fds:	one fd per region, to be mapped by the backend
 *
 * Return: 0 or -errno (@c->err set)
 */
int vu_set_mem_table(struct vu_conn *c, const struct vu_region *r,
		     unsigned int n, const int *fds)
{
	struct {
		uint32_t nregions;
		uint32_t padding;
		struct vu_region r[VU_MAX_FDS];
	} m;

	if (n == 0 || n > VU_MAX_FDS)
		return -EINVAL;
	memset(&m, 0, sizeof(m));
	m.nregions = n;
	memcpy(m.r, r, n * sizeof(*r));
	return vu_set(c, VU_SET_MEM_TABLE, &m, 8 + n * sizeof(*r), fds, n);
}

/**
 * vu_get_config() - GET_CONFIG: the device's config space, as the backend
 *		     has it
 * @c:		connection
 * @buf:	out: @size bytes from offset 0
 * @size:	bytes (at most VU_PAYLOAD_MAX - 12)
 *
 * Return: 0 or -errno (@c->err set)
 */
int vu_get_config(struct vu_conn *c, void *buf, uint32_t size)
{
	struct {
		uint32_t offset;
		uint32_t size;
		uint32_t flags;
		uint8_t data[VU_PAYLOAD_MAX - 12];
	} m;
	int ret;

	if (size > sizeof(m.data))
		return -EINVAL;
	memset(&m, 0, sizeof(m));
	m.size = size;
	ret = vu_send(c, VU_GET_CONFIG, 0, &m, 12 + size, NULL, 0);
	if (!ret)
		ret = vu_recv(c, VU_GET_CONFIG, &m, 12 + size);
	if (ret)
		return ret;
	if (m.offset != 0 || m.size != size)
		return vu_fail(c, -EPROTO, "GET_CONFIG: reply for %u bytes at %u, asked for %u at 0",
			       m.size, m.offset, size);
	memcpy(buf, m.data, size);
	return 0;
}

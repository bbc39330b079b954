// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * loop.c - a thin epoll wrapper
 */
#include <errno.h>
#include <unistd.h>

#include "loop.h"

/**
 * uvloop_init() - create the epoll instance
 * @l:		loop
 *
 * Return: 0 or -errno
 */
int uvloop_init(struct uvloop *l)
{
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	return l->epfd < 0 ? -errno : 0;
}

/**
 * uvloop_add() - watch an fd
 * @l:		loop
 * @fd:		fd
 * @events:	EPOLLIN etc.
 * @tag:	what uvloop_wait() reports in data.u64 for this fd
 *
 * Return: 0 or -errno
 */
int uvloop_add(struct uvloop *l, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev = { .events = events, .data.u64 = tag };

	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/**
 * uvloop_mod() - change what is watched on an fd
 * @l:		loop
 * @fd:		fd, watched already
 * @events:	EPOLLIN etc.
 * @tag:	what uvloop_wait() reports in data.u64 for this fd
 *
 * Return: 0 or -errno
 */
int uvloop_mod(struct uvloop *l, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev = { .events = events, .data.u64 = tag };

	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

/**
 * uvloop_del() - stop watching an fd
 * @l:		loop
 * @fd:		fd
 *
 * Return: 0 or -errno
 */
int uvloop_del(struct uvloop *l, int fd)
{
	return epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0;
}

/**
 * uvloop_wait() - wait for ready fds
 * @l:		loop
 * @ev:		array for the ready ones
 * @max:	entries in @ev
 * @timeout_ms:	-1 for no timeout
 *
 * Return: number of ready fds (0 on timeout or signal), or -errno
 */
int uvloop_wait(struct uvloop *l, struct epoll_event *ev, int max,
		int timeout_ms)
{
	int n = epoll_wait(l->epfd, ev, max, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	return n;
}

/**
 * uvloop_close() - close the epoll instance
 * @l:		loop
 */
void uvloop_close(struct uvloop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * loop.h - a thin epoll wrapper: fds tagged with a 64-bit value
 */
#ifndef UVIRTIO_LOOP_H
#define UVIRTIO_LOOP_H

#include <stdint.h>
#include <sys/epoll.h>

/**
 * struct uvloop - an epoll instance
 * @epfd:	the epoll fd
 */
struct uvloop {
	int epfd;
};

int uvloop_init(struct uvloop *l);
int uvloop_add(struct uvloop *l, int fd, uint32_t events, uint64_t tag);
int uvloop_mod(struct uvloop *l, int fd, uint32_t events, uint64_t tag);
int uvloop_del(struct uvloop *l, int fd);
int uvloop_wait(struct uvloop *l, struct epoll_event *ev, int max,
		int timeout_ms);
void uvloop_close(struct uvloop *l);

#endif /* UVIRTIO_LOOP_H */

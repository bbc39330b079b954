/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * emu.h - the main thread of an emulator: one skeleton for every device
 *
 * An emulator's main thread does the same things whatever device it
 * serves: it opens /dev/uvirtio, waits in one epoll set for the device's
 * events, its signals and a timer, lets its queue threads go while an
 * event starts or stops rings, removes the device on SIGTERM/SIGINT (a
 * second one exits at once), prints the name of what the driver made of
 * the device as the last line on stdout once it exists (and tells systemd),
 * and gives up when it does not appear in time. struct uvemu does all of
 * that; the emulator fills struct uvemu_ops with what only it knows: how
 * to pause its queue threads, what a device event means for its device,
 * what SIGHUP/SIGUSR1/SIGUSR2 do, how to find its disk or interface, and
 * how to wind down.
 *
 * Messages go to stderr, one write(2) per line (log.h), prefixed with the
 * program name given to uvemu_init().
 */
#ifndef UVIRTIO_EMU_H
#define UVIRTIO_EMU_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dev.h"
#include "loop.h"

struct uvemu;

/**
 * struct uvemu_ops - what the emulator's device adds to the skeleton
 * @pause:	take every queue thread off its rings (they may be started,
 *		stopped or reset next); may be NULL before the threads run
 * @resume:	let them serve again
 * @event:	optional: act on a device event the library has applied
 *		(queues started or stopped, features read), threads paused
 * @signal:	optional: SIGHUP, SIGUSR1 or SIGUSR2 arrived
 * @node:	write the name of what the driver made of the device ("vda",
 *		"eth1") into @name; 0 once it exists and can be used, else
 *		-errno (not there yet)
 * @ready:	optional: @name exists; called before it is printed
 * @tick:	optional: called on every timer tick (every
 *		UVEMU_TICK_MS); without it the timer stops once ready
 * @wake:	optional: uvemu_wake() was called (from any thread)
 * @finish:	stop the queue threads, close the backends; return the exit
 *		status to use given @code (1 if something failed)
 * @io:		optional: the fd given to uvemu_watch() is ready; @events are
 *		epoll's (EPOLLIN, EPOLLHUP, ...)
 */
struct uvemu_ops {
	void (*pause)(struct uvemu *em);
	void (*resume)(struct uvemu *em);
	void (*event)(struct uvemu *em, const struct uvirtio_event *ev);
	void (*signal)(struct uvemu *em, int signo);
	int (*node)(struct uvemu *em, char *name, size_t len);
	void (*ready)(struct uvemu *em, const char *name);
	void (*tick)(struct uvemu *em);
	void (*wake)(struct uvemu *em);
	int (*finish)(struct uvemu *em, int code);
	void (*io)(struct uvemu *em, uint32_t events);
};

/* How often the main thread looks for the device's node or interface. */
#define UVEMU_TICK_MS		100
/* How long after the driver started the device its node may take. */
#define UVEMU_READY_TIMEOUT_S	30

/**
 * struct uvemu - an emulator's main thread
 * @ops:	the device's part
 * @priv:	the emulator's own state, for @ops
 * @what:	what @ops->node names, for messages ("disk node", "interface")
 * @dev:	the device
 * @loop:	epoll: the device fd, @sig_fd, @timer_fd, @wake_fd
 * @sig_fd:	signalfd of SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2
 * @timer_fd:	periodic timerfd, -1 once stopped
 * @wake_fd:	eventfd: uvemu_wake()
 * @deadline:	CLOCK_MONOTONIC second to give up waiting for the node;
 *		0 while the driver has not started the device
 * @ready:	the node was printed
 * @removing:	UVIRTIO_REMOVE was issued
 */
struct uvemu {
	const struct uvemu_ops *ops;
	void *priv;
	const char *what;
	struct uvdev dev;
	struct uvloop loop;
	int sig_fd;
	int timer_fd;
	int wake_fd;
	time_t deadline;
	bool ready;
	bool removing;
};

void uvemu_init(struct uvemu *em, const char *prog,
		const struct uvemu_ops *ops, void *priv, const char *what);
void uvemu_open(struct uvemu *em, const char *path);
void uvemu_start(struct uvemu *em, bool attached);
void uvemu_run(struct uvemu *em) __attribute__((noreturn));
void uvemu_exit(struct uvemu *em, int code) __attribute__((noreturn));
void uvemu_wake(struct uvemu *em);
int uvemu_watch(struct uvemu *em, int fd, uint32_t events);

void uvemu_version(const char *version) __attribute__((noreturn));
void uvemu_bad_option(int c, char **argv) __attribute__((noreturn));
const char *uvemu_operand(int argc, char **argv, const char *name);

void uvemu_vlog(const char *fmt, va_list ap);
void uvemu_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void uvemu_die(int code, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));

#endif /* UVIRTIO_EMU_H */

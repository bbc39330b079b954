// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * emu.c - the main thread of an emulator (see emu.h)
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "emu.h"
#include "log.h"
#include "notify.h"

/* epoll tags of the main thread */
enum {
	UVEMU_TAG_DEV = 1,
	UVEMU_TAG_SIGNAL,
	UVEMU_TAG_TIMER,
	UVEMU_TAG_WAKE,
	UVEMU_TAG_IO,
};

/* The prefix of every message: one program, one name. */
static const char *uvemu_prog = "uvirtio";

/**
 * uvemu_vlog() - print one line on stderr, prefixed with the program name
 * @fmt:	message, without the prefix or newline
 * @ap:		arguments
 *
 * Safe from any thread: one write(2) per line.
 */
void uvemu_vlog(const char *fmt, va_list ap)
{
	uvlog_vline(uvemu_prog, fmt, ap);
}

/**
 * uvemu_log() - print one line of progress on stderr
 * @fmt:	message, without the program name or newline
 */
void uvemu_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	uvemu_vlog(fmt, ap);
	va_end(ap);
}

/**
 * uvemu_die() - print one line on stderr and exit
 * @code:	exit status
 * @fmt:	message, without the program name or newline
 */
void uvemu_die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	uvemu_vlog(fmt, ap);
	va_end(ap);
	exit(code);
}

/**
 * uvemu_version() - --version: print the program's version and exit 0
 * @version:	the program's version
 */
void uvemu_version(const char *version)
{
	printf("%s %s (uvirtio API %d)\n", uvemu_prog, version,
	       UVIRTIO_API_VERSION);
	exit(0);
}

/**
 * uvemu_bad_option() - getopt_long() refused an option: say which, exit 2
 * @c:		what getopt_long() returned (':' for a missing argument)
 * @argv:	the arguments getopt_long() was given
 */
void uvemu_bad_option(int c, char **argv)
{
	if (c == ':')
		uvemu_die(2, "option '%s' needs an argument (see --help)",
			  argv[optind - 1]);
	if (optopt)
		uvemu_die(2, "unknown option '-%c' (see --help)", optopt);
	uvemu_die(2, "unknown option '%s' (see --help)", argv[optind - 1]);
}

/**
 * uvemu_operand() - the one operand left after the options, or exit 2
 * @argc:	argc
 * @argv:	argv, options parsed by getopt_long() (optind is past them)
 * @name:	what the operand is, for the message ("SOCKET")
 *
 * Return: the operand
 */
const char *uvemu_operand(int argc, char **argv, const char *name)
{
	if (optind >= argc)
		uvemu_die(2, "no %s given (see --help)", name);
	if (optind + 1 < argc)
		uvemu_die(2, "unexpected argument '%s' (see --help)",
			  argv[optind + 1]);
	return argv[optind];
}

/**
 * uvemu_init() - signals, timer, wake-up eventfd and the epoll set
 * @em:		main thread, zeroed
 * @prog:	program name, the prefix of every message
 * @ops:	the device's part
 * @priv:	the emulator's state, for @ops
 * @what:	what @ops->node names, for messages
 *
 * Call first in main(), before any thread exists: SIGPIPE is ignored (a
 * log reader or a statfs watchdog that went away is EPIPE, not death) and
 * the signals the loop handles are blocked, so that every thread inherits
 * the mask and they all arrive at the signalfd. Exits with 1 on failure.
 */
void uvemu_init(struct uvemu *em, const char *prog,
		const struct uvemu_ops *ops, void *priv, const char *what)
{
	sigset_t set;
	int ret;

	signal(SIGPIPE, SIG_IGN);
	uvemu_prog = prog;
	em->ops = ops;
	em->priv = priv;
	em->what = what;
	em->dev.fd = -1;
	em->timer_fd = -1;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		uvemu_die(1, "sigprocmask: %s", strerror(errno));
	em->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (em->sig_fd < 0)
		uvemu_die(1, "signalfd: %s", strerror(errno));
	em->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (em->wake_fd < 0)
		uvemu_die(1, "eventfd: %s", strerror(errno));
	ret = uvloop_init(&em->loop);
	if (!ret)
		ret = uvloop_add(&em->loop, em->sig_fd, EPOLLIN,
				 UVEMU_TAG_SIGNAL);
	if (!ret)
		ret = uvloop_add(&em->loop, em->wake_fd, EPOLLIN,
				 UVEMU_TAG_WAKE);
	if (ret)
		uvemu_die(1, "epoll: %s", strerror(-ret));
}

/**
 * uvemu_open() - open the control device, or exit saying what to do
 * @em:		main thread
 * @path:	the control device, usually UVDEV_PATH
 *
 * Exits with 1 on failure.
 */
void uvemu_open(struct uvemu *em, const char *path)
{
	int ret = uvdev_open(&em->dev, path);

	if (ret == -ENOENT || ret == -ENODEV || ret == -ENXIO)
		uvemu_die(1, "%s: %s (is the uvirtio module loaded? try 'modprobe uvirtio')",
			  path, strerror(-ret));
	if (ret == -EACCES || ret == -EPERM)
		uvemu_die(1, "%s: %s (it must be readable and writable by this user: ask for the device's group or a udev rule)",
			  path, strerror(-ret));
	if (ret == -ENOTTY)
		uvemu_die(1, "%s: not a uvirtio device", path);
	if (ret == -EPROTONOSUPPORT)
		uvemu_die(1, "%s: module speaks API version %llu, this program %d",
			  path, (unsigned long long)em->dev.api_version,
			  UVIRTIO_API_VERSION);
	if (ret)
		uvemu_die(1, "%s: %s", path, strerror(-ret));
}

/**
 * uvemu_start() - start the device and look for its node from now on
 * @em:		main thread, device created (or attached), queue threads
 *		running
 * @attached:	the device was taken over (uvdev_attach()): it runs already
 *
 * Exits with 1 on failure.
 */
void uvemu_start(struct uvemu *em, bool attached)
{
	struct itimerspec its = {
		.it_interval = { 0, UVEMU_TICK_MS * 1000000L },
		.it_value = { 0, UVEMU_TICK_MS * 1000000L },
	};
	int ret;

	em->timer_fd = timerfd_create(CLOCK_MONOTONIC,
				      TFD_NONBLOCK | TFD_CLOEXEC);
	if (em->timer_fd < 0 || timerfd_settime(em->timer_fd, 0, &its, NULL))
		uvemu_die(1, "timerfd: %s", strerror(errno));
	ret = uvloop_add(&em->loop, em->timer_fd, EPOLLIN, UVEMU_TAG_TIMER);
	if (!ret)
		ret = uvloop_add(&em->loop, em->dev.fd, EPOLLIN,
				 UVEMU_TAG_DEV);
	if (ret)
		uvemu_die(1, "epoll: %s", strerror(-ret));
	ret = attached ? 0 : uvdev_start(&em->dev);
	if (ret)
		uvemu_die(1, "uvirtio-%u: cannot start the device: %s",
			  em->dev.index, strerror(-ret));
}

/**
 * uvemu_exit() - wind the device's part down and exit
 * @em:		main thread
 * @code:	exit status, unless the device's part fails to wind down
 */
void uvemu_exit(struct uvemu *em, int code)
{
	exit(em->ops->finish(em, code));
}

/**
 * uvemu_wake() - have the main thread call ops->wake
 * @em:		main thread
 *
 * Safe from any thread and from a signal handler.
 */
void uvemu_wake(struct uvemu *em)
{
	uint64_t one = 1;

	if (write(em->wake_fd, &one, sizeof(one)) < 0)
		return;	/* the counter is saturated: a wake-up is pending */
}

/**
 * uvemu_watch() - have the main thread call ops->io when @fd is ready
 * @em:		main thread
 * @fd:		one more fd of the emulator's own (a control socket)
 * @events:	epoll events to wait for
 *
 * Return: 0 or -errno
 */
int uvemu_watch(struct uvemu *em, int fd, uint32_t events)
{
	return uvloop_add(&em->loop, fd, events, UVEMU_TAG_IO);
}

/**
 * uvemu_stop_timer() - no more ticks
 * @em:		main thread
 */
static void uvemu_stop_timer(struct uvemu *em)
{
	uvloop_del(&em->loop, em->timer_fd);
	close(em->timer_fd);
	em->timer_fd = -1;
}

/**
 * uvemu_look() - is the node there? Print it once it is
 * @em:		main thread
 *
 * The clock runs from the driver's DRIVER_OK: without a driver there is
 * nothing to wait for yet (it may be loaded later, as udev does). Exits
 * with 1 when the node does not appear within UVEMU_READY_TIMEOUT_S of it.
 */
static void uvemu_look(struct uvemu *em)
{
	struct timespec now;
	char name[128];

	if (!em->ops->node(em, name, sizeof(name))) {
		if (em->ops->ready)
			em->ops->ready(em, name);
		printf("%s\n", name);
		fflush(stdout);
		uvnotify_ready(name);
		em->ready = true;
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (em->deadline && now.tv_sec >= em->deadline)
		uvemu_die(1, "uvirtio-%u: no %s appeared within %d s",
			  em->dev.index, em->what, UVEMU_READY_TIMEOUT_S);
}

/**
 * uvemu_tick() - the timer fired
 * @em:		main thread
 *
 * Looks for the node until it is printed or removal was asked for; then
 * the timer stops, unless the device's part wants ticks.
 */
static void uvemu_tick(struct uvemu *em)
{
	uint64_t ticks;

	if (read(em->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		uvemu_die(1, "timerfd: %s", strerror(errno));
	if (!em->ready && !em->removing)
		uvemu_look(em);
	if (em->ops->tick)
		em->ops->tick(em);
	else if (em->ready || em->removing)
		uvemu_stop_timer(em);
}

/**
 * uvemu_signal() - TERM/INT remove the device (a second one exits at
 * once), the others go to the device's part
 * @em:		main thread
 */
static void uvemu_signal(struct uvemu *em)
{
	struct signalfd_siginfo si;
	int ret;

	while (read(em->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo != SIGTERM && si.ssi_signo != SIGINT) {
			if (em->ops->signal)
				em->ops->signal(em, si.ssi_signo);
			continue;
		}
		if (em->removing)
			uvemu_die(1, "%s again: exiting without waiting for removal",
				  strsignal(si.ssi_signo));
		em->removing = true;
		uvnotify_stopping();
		/* Remove first: the log line must not be what stands in its way. */
		ret = uvdev_remove(&em->dev);
		if (ret)
			uvemu_die(1, "uvirtio-%u: cannot remove the device: %s",
				  em->dev.index, strerror(-ret));
		uvemu_log("uvirtio-%u: %s: removing the device", em->dev.index,
			  strsignal(si.ssi_signo));
	}
}

/**
 * uvemu_apply() - apply one device event with the queue threads paused
 * @em:		main thread
 * @ev:		the event
 *
 * The driver's DRIVER_OK starts the clock of the node's deadline (once);
 * a reset stops it.
 *
 * Return: 0 or -errno from uvdev_handle_event()
 */
static int uvemu_apply(struct uvemu *em, const struct uvirtio_event *ev)
{
	struct timespec now;
	int ret;

	if (em->ops->pause)
		em->ops->pause(em);
	ret = uvdev_handle_event(&em->dev, ev);
	if (!ret && em->ops->event)
		em->ops->event(em, ev);
	if (em->ops->resume)
		em->ops->resume(em);
	if (ev->type == UVIRTIO_EV_DRIVER_OK && !em->deadline) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		em->deadline = now.tv_sec + UVEMU_READY_TIMEOUT_S;
	} else if (ev->type == UVIRTIO_EV_RESET) {
		em->deadline = 0;
	}
	return ret;
}

/**
 * uvemu_device() - read and act on every queued device event
 * @em:		main thread
 * @hup:	EPOLLHUP or EPOLLERR was reported
 *
 * Exits 0 once the device was removed as asked, 1 if it died otherwise.
 */
static void uvemu_device(struct uvemu *em, bool hup)
{
	struct uvirtio_event ev;
	int ret;

	while ((ret = uvdev_read_event(&em->dev, &ev)) > 0) {
		ret = uvemu_apply(em, &ev);
		if (ret)
			uvemu_die(1, "uvirtio-%u: event %u: %s", em->dev.index,
				  ev.type, strerror(-ret));
		if (em->dev.removed || em->dev.dead_reason)
			break;
	}
	if (ret < 0 && ret != -ENODEV)
		uvemu_die(1, "uvirtio-%u: reading events: %s", em->dev.index,
			  strerror(-ret));
	if (em->dev.dead_reason == UVIRTIO_DEAD_REMOVED) {
		uvemu_log("uvirtio-%u: removed", em->dev.index);
		uvemu_exit(em, 0);
	}
	if (em->dev.dead_reason)
		uvemu_die(1, "uvirtio-%u: device removed: %s", em->dev.index,
			  uvdev_dead_str(em->dev.dead_reason));
	if (hup) {
		if (em->removing)
			uvemu_exit(em, 0);
		uvemu_die(1, "uvirtio-%u: device went away", em->dev.index);
	}
}

/**
 * uvemu_run() - the main thread's event loop; never returns
 * @em:		main thread, started (uvemu_start())
 */
void uvemu_run(struct uvemu *em)
{
	struct epoll_event ev[16];
	uint64_t v;
	int i, n;

	for (;;) {
		n = uvloop_wait(&em->loop, ev, 16, -1);
		if (n < 0)
			uvemu_die(1, "epoll_wait: %s", strerror(-n));
		for (i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64;

			if (tag == UVEMU_TAG_DEV) {
				uvemu_device(em, ev[i].events &
					     (EPOLLHUP | EPOLLERR));
			} else if (tag == UVEMU_TAG_SIGNAL) {
				uvemu_signal(em);
			} else if (tag == UVEMU_TAG_TIMER && em->timer_fd >= 0) {
				uvemu_tick(em);
			} else if (tag == UVEMU_TAG_WAKE) {
				if (read(em->wake_fd, &v, sizeof(v)) < 0 &&
				    errno != EAGAIN)
					uvemu_die(1, "eventfd: %s",
						  strerror(errno));
				if (em->ops->wake)
					em->ops->wake(em);
			} else if (tag == UVEMU_TAG_IO && em->ops->io) {
				em->ops->io(em, ev[i].events);
			}
		}
	}
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * worker.c - a thread that serves queues (see worker.h)
 */
#include <errno.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "worker.h"

/**
 * uvworker_init() - set up the lock, the loop and the wake-up eventfd
 * @w:		worker, zeroed
 * @wake_tag:	what the loop reports for @w->wake_fd
 *
 * Return: 0 or -errno
 */
int uvworker_init(struct uvworker *w, uint64_t wake_tag)
{
	int ret;

	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->resumed, NULL);
	w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->wake_fd < 0)
		return -errno;
	ret = uvloop_init(&w->loop);
	if (ret)
		return ret;
	return uvloop_add(&w->loop, w->wake_fd, EPOLLIN, wake_tag);
}

/**
 * uvworker_start() - create the thread
 * @w:		worker
 * @fn:		its function
 * @arg:	its argument
 *
 * Return: 0 or -errno
 */
int uvworker_start(struct uvworker *w, void *(*fn)(void *), void *arg)
{
	int ret = pthread_create(&w->thread, NULL, fn, arg);

	if (ret)
		return -ret;
	w->started = true;
	return 0;
}

/**
 * uvworker_wake() - have the thread look at everything again
 * @w:		worker
 *
 * Async-signal-safe.
 */
void uvworker_wake(struct uvworker *w)
{
	uint64_t one = 1;

	if (write(w->wake_fd, &one, sizeof(one)) < 0)
		return;	/* the counter is saturated: it is awake anyway */
}

/**
 * uvworker_drain() - consume an eventfd's count
 * @fd:		eventfd
 *
 * Return: true if it was signalled
 */
bool uvworker_drain(int fd)
{
	uint64_t v;

	return read(fd, &v, sizeof(v)) == sizeof(v);
}

/**
 * uvworker_enter() - the thread takes its lock to serve, first sleeping
 * through a pause
 * @w:		worker
 *
 * Called by the worker thread at the top of its loop. While the main
 * thread wants the lock (or holds it), the thread sleeps on @w->resumed,
 * so a pause costs no CPU however long it lasts.
 *
 * Return: UVWORKER_STOP, UVWORKER_SERVE or UVWORKER_RESUMED, always with
 * @w->lock held (uvworker_leave() lets go)
 */
enum uvworker_state uvworker_enter(struct uvworker *w)
{
	bool waited = false;

	pthread_mutex_lock(&w->lock);
	while (uvworker_pausing(w) && !uvworker_stopping(w)) {
		pthread_cond_wait(&w->resumed, &w->lock);
		waited = true;
	}
	if (uvworker_stopping(w))
		return UVWORKER_STOP;
	return waited ? UVWORKER_RESUMED : UVWORKER_SERVE;
}

/**
 * uvworker_leave() - the thread lets go of its lock (before it sleeps in
 * its loop, or exits)
 * @w:		worker
 */
void uvworker_leave(struct uvworker *w)
{
	pthread_mutex_unlock(&w->lock);
}

/**
 * uvworker_pause_ask() - ask the thread to let go of its lock
 * @w:		worker
 *
 * Ask every worker first, then wait for each (uvworker_pause_wait()), so
 * that they finish their batches in parallel.
 */
void uvworker_pause_ask(struct uvworker *w)
{
	atomic_store(&w->pause, true);
	uvworker_wake(w);
}

/**
 * uvworker_pause_wait() - take the lock of a worker asked to pause
 * @w:		worker
 */
void uvworker_pause_wait(struct uvworker *w)
{
	pthread_mutex_lock(&w->lock);
}

/**
 * uvworker_resume() - give the lock back; the thread looks at everything
 * (kicks may have been latched meanwhile)
 * @w:		worker
 */
void uvworker_resume(struct uvworker *w)
{
	atomic_store(&w->pause, false);
	pthread_cond_broadcast(&w->resumed);
	pthread_mutex_unlock(&w->lock);
	uvworker_wake(w);
}

/**
 * uvworker_stop_ask() - ask the thread to exit
 * @w:		worker, not paused by the caller
 *
 * The broadcast is made under the lock, so a thread that found @pause set
 * and is about to sleep on @resumed cannot miss it.
 */
void uvworker_stop_ask(struct uvworker *w)
{
	atomic_store(&w->stop, true);
	pthread_mutex_lock(&w->lock);
	pthread_cond_broadcast(&w->resumed);
	pthread_mutex_unlock(&w->lock);
	uvworker_wake(w);
}

/**
 * uvworker_join() - wait for an exiting thread
 * @w:		worker
 */
void uvworker_join(struct uvworker *w)
{
	if (w->started)
		pthread_join(w->thread, NULL);
	w->started = false;
}

/**
 * uvworker_pause_all() - take the locks of several workers
 * @w:		the workers
 * @n:		how many
 *
 * All are asked first, then waited for, so that they finish their batches
 * in parallel. On return the caller owns what they serve until
 * uvworker_resume_all().
 */
void uvworker_pause_all(struct uvworker *const *w, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		uvworker_pause_ask(w[i]);
	for (i = 0; i < n; i++)
		uvworker_pause_wait(w[i]);
}

/**
 * uvworker_resume_all() - give several workers their locks back
 * @w:		the workers, paused by uvworker_pause_all()
 * @n:		how many
 */
void uvworker_resume_all(struct uvworker *const *w, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		uvworker_resume(w[i]);
}

/**
 * uvworker_wake_all() - have several workers look at everything again
 * @w:		the workers
 * @n:		how many
 *
 * Async-signal-safe.
 */
void uvworker_wake_all(struct uvworker *const *w, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		uvworker_wake(w[i]);
}

/**
 * uvworker_stop_all() - stop several workers and wait for them to exit
 * @w:		the workers, not paused
 * @n:		how many
 */
void uvworker_stop_all(struct uvworker *const *w, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		uvworker_stop_ask(w[i]);
	for (i = 0; i < n; i++)
		uvworker_join(w[i]);
}

/**
 * uvworker_pin() - pin the calling thread to one of the CPUs it may use
 * @i:		the i-th allowed CPU, modulo their number
 */
void uvworker_pin(unsigned int i)
{
	cpu_set_t all, one;
	int cpu, n = 0, want;

	if (sched_getaffinity(0, sizeof(all), &all))
		return;
	want = i % CPU_COUNT(&all);
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &all) || n++ != want)
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		sched_setaffinity(0, sizeof(one), &one);
		return;
	}
}

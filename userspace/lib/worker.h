/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * worker.h - a thread that serves queues, and how the main thread steers it
 *
 * The thread holds @lock while it uses its rings and sleeps in @loop
 * (its queues' kick fds, @wake_fd, whatever else it watches) without it.
 * The main thread pauses it to start, stop or reconfigure rings: it sets
 * @pause, wakes it and takes @lock; the thread, seeing @pause, finishes its
 * batch, lets go and sleeps on @resumed until the main thread gives the
 * lock back. Both emulators' queue threads are built on it, as
 *
 *	for (;;) {
 *		st = uvworker_enter(w);
 *		if (st == UVWORKER_STOP) { ...; uvworker_leave(w); break; }
 *		serve, checking uvworker_pausing() between batches;
 *		uvworker_leave(w);
 *		if (!uvworker_pausing(w))
 *			uvloop_wait(&w->loop, ...);
 *	}
 */
#ifndef UVIRTIO_WORKER_H
#define UVIRTIO_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "loop.h"

/**
 * struct uvworker - one serving thread
 * @thread:	the thread (valid once @started)
 * @started:	uvworker_start() created it
 * @lock:	protects the rings and state the thread serves: held by the
 *		thread while it serves, by the main thread while paused
 * @resumed:	signalled (under @lock) when @pause is cleared or @stop set:
 *		a paused thread sleeps on it instead of polling
 * @pause:	the main thread wants @lock: leave the serving loop
 * @stop:	the thread must exit
 * @loop:	what the thread sleeps on
 * @wake_fd:	eventfd in @loop: look at everything again
 */
struct uvworker {
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t resumed;
	_Atomic bool pause;
	_Atomic bool stop;
	struct uvloop loop;
	int wake_fd;
};

/**
 * enum uvworker_state - what uvworker_enter() found
 * @UVWORKER_STOP:	the thread must exit (the lock is held)
 * @UVWORKER_SERVE:	serve (the lock is held)
 * @UVWORKER_RESUMED:	serve; the thread was paused meanwhile, so rings
 *			may have been started, stopped or reset: look at
 *			everything (the lock is held)
 */
enum uvworker_state {
	UVWORKER_STOP,
	UVWORKER_SERVE,
	UVWORKER_RESUMED,
};

int uvworker_init(struct uvworker *w, uint64_t wake_tag);
int uvworker_start(struct uvworker *w, void *(*fn)(void *), void *arg);
void uvworker_wake(struct uvworker *w);
bool uvworker_drain(int fd);
enum uvworker_state uvworker_enter(struct uvworker *w);
void uvworker_leave(struct uvworker *w);
void uvworker_pause_ask(struct uvworker *w);
void uvworker_pause_wait(struct uvworker *w);
void uvworker_resume(struct uvworker *w);
void uvworker_stop_ask(struct uvworker *w);
void uvworker_join(struct uvworker *w);
void uvworker_pause_all(struct uvworker *const *w, unsigned int n);
void uvworker_resume_all(struct uvworker *const *w, unsigned int n);
void uvworker_wake_all(struct uvworker *const *w, unsigned int n);
void uvworker_stop_all(struct uvworker *const *w, unsigned int n);
void uvworker_pin(unsigned int i);

/**
 * uvworker_pausing() - does the main thread want the lock?
 * @w:		worker
 *
 * Return: true if the thread should finish its batch and let go
 */
static inline bool uvworker_pausing(struct uvworker *w)
{
	return atomic_load_explicit(&w->pause, memory_order_relaxed);
}

/**
 * uvworker_stopping() - must the thread exit?
 * @w:		worker
 *
 * Return: true if so
 */
static inline bool uvworker_stopping(struct uvworker *w)
{
	return atomic_load_explicit(&w->stop, memory_order_relaxed);
}

/**
 * uvworker_relax() - one turn of a busy-wait: tell the CPU the thread spins
 * (x86 PAUSE, arm64 YIELD), so a sibling hardware thread gets the cycles
 * and leaving the loop costs no mis-speculated memory order
 */
static inline void uvworker_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

#endif /* UVIRTIO_WORKER_H */

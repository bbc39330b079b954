/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * counter.h - statistics counters with one writer and any number of readers
 *
 * A queue's counters are written only by the thread that serves the queue,
 * per request or frame, and read now and then by others (a signal's stats
 * line, the status filesystem). With one writer an atomic read-modify-write
 * (a locked add) buys nothing: the writer keeps the running total in the
 * counter itself and stores it back with a plain relaxed store, so readers
 * see each value whole (no torn 64-bit read) and never a lost update. Each
 * value is exact; a set of counters read one after the other is not a
 * snapshot.
 */
#ifndef UVIRTIO_COUNTER_H
#define UVIRTIO_COUNTER_H

#include <stdatomic.h>
#include <stdint.h>

/**
 * uvcounter_add() - add to a counter; only its one writer may call this
 * @c:		counter
 * @n:		amount
 *
 * A relaxed load and a relaxed store: plain moves, no locked instruction.
 */
static inline void uvcounter_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed)
			      + n, memory_order_relaxed);
}

/**
 * uvcounter_read() - read a counter, from any thread
 * @c:		counter
 *
 * Return: its value
 */
static inline uint64_t uvcounter_read(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

#endif /* UVIRTIO_COUNTER_H */

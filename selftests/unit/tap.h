/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * tap.h - a tiny TAP 13 producer for the host unit tests
 *
 *	tap_plan(3);
 *	tap_ok(x == 1, "x is one");
 *	tap_eq(ret, -ELOOP, "loop rejected");	(prints both on failure)
 *	return tap_done();			(0 if all passed, else 1)
 *
 * Or a table of boolean test functions, each a sequence of CHECK()s,
 * run by tap_run_table() as one TAP line each.
 */
#ifndef UVIRTIO_TAP_H
#define UVIRTIO_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static unsigned int tap_count, tap_failed, tap_planned;

/**
 * tap_plan() - print the header and the plan
 * @n:		number of tests that will follow
 */
static inline void tap_plan(unsigned int n)
{
	tap_planned = n;
	printf("TAP version 13\n1..%u\n", n);
	fflush(stdout);
}

/**
 * tap_vdiag() - print a diagnostic line
 * @fmt:	message
 * @ap:		its arguments
 */
static inline void __attribute__((format(printf, 1, 0)))
tap_vdiag(const char *fmt, va_list ap)
{
	printf("# ");
	vprintf(fmt, ap);
	printf("\n");
}

/**
 * tap_diag() - print a diagnostic line
 * @fmt:	message
 */
static inline void __attribute__((format(printf, 1, 2)))
tap_diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vdiag(fmt, ap);
	va_end(ap);
}

/**
 * tap_ok() - report one test
 * @pass:	result
 * @fmt:	test name
 *
 * Return: @pass
 */
static inline bool __attribute__((format(printf, 2, 3)))
tap_ok(bool pass, const char *fmt, ...)
{
	va_list ap;

	tap_count++;
	if (!pass)
		tap_failed++;
	printf("%sok %u - ", pass ? "" : "not ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return pass;
}

/**
 * tap_eq() - report one test comparing two integers
 * @got:	value obtained
 * @want:	value expected
 * @name:	test name
 *
 * Return: true if equal
 */
static inline bool tap_eq(long long got, long long want, const char *name)
{
	if (got == want)
		return tap_ok(true, "%s", name);
	tap_ok(false, "%s", name);
	tap_diag("got %lld, expected %lld", got, want);
	return false;
}

/**
 * tap_skip() - report one test as skipped
 * @name:	test name
 * @why:	reason
 */
static inline void tap_skip(const char *name, const char *why)
{
	printf("ok %u - %s # SKIP %s\n", ++tap_count, name, why);
	fflush(stdout);
}

/**
 * tap_done() - check the plan and compute the exit code
 *
 * Return: 0 if every planned test ran and passed, else 1
 */
static inline int tap_done(void)
{
	if (tap_count != tap_planned) {
		tap_diag("planned %u tests, ran %u", tap_planned, tap_count);
		return 1;
	}
	if (tap_failed)
		tap_diag("%u of %u failed", tap_failed, tap_count);
	return tap_failed ? 1 : 0;
}

/* Inside a test function: fail it with a diagnostic naming the line. */
#define CHECK(c) do {							\
	if (!(c)) {							\
		tap_diag("line %d: %s", __LINE__, #c);			\
		return false;						\
	}								\
} while (0)

/* CHECK() in a test that must clean up: go to @label instead of returning. */
#define CHECK_GOTO(c, label) do {					\
	if (!(c)) {							\
		tap_diag("line %d: %s", __LINE__, #c);			\
		goto label;						\
	}								\
} while (0)

#define CHECK_EQ(a, b) do {						\
	long long a_ = (long long)(a), b_ = (long long)(b);		\
	if (a_ != b_) {							\
		tap_diag("line %d: %s == %lld, expected %s == %lld",	\
			 __LINE__, #a, a_, #b, b_);			\
		return false;						\
	}								\
} while (0)

/**
 * struct tap_test - one entry of a test table
 * @fn:		the test: true if it passed
 * @name:	its TAP name
 */
struct tap_test {
	bool (*fn)(void);
	const char *name;
};

/**
 * tap_run_table() - plan, run every test of a table, and finish
 * @t:		table
 * @n:		entries
 *
 * Return: tap_done()'s exit code
 */
static inline int tap_run_table(const struct tap_test *t, unsigned int n)
{
	unsigned int i;

	tap_plan(n);
	for (i = 0; i < n; i++)
		tap_ok(t[i].fn(), "%s", t[i].name);
	return tap_done();
}

#endif /* UVIRTIO_TAP_H */

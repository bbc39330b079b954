/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * log.h - one log line on stderr, safe when nobody reads stderr any more.
 *
 * The emulators ignore SIGPIPE, so a log reader that went away (a closed
 * pipe, a restarted collector) shows up as EPIPE here instead of killing
 * the process in the middle of a removal. After EPIPE nothing more is
 * written: there is no one to read it. Each line is one write(2), so lines
 * from several threads never interleave.
 */
#ifndef UVIRTIO_LOG_H
#define UVIRTIO_LOG_H

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#define UVLOG_LINE_MAX	1024

/**
 * uvlog_vline() - write "PROG: message\n" to stderr in one write
 * @prog:	program name
 * @fmt:	message, without the prefix or newline
 * @ap:		arguments
 *
 * A line longer than UVLOG_LINE_MAX is cut. Once stderr returned EPIPE
 * (in this translation unit), this does nothing. errno is preserved.
 */
static inline void uvlog_vline(const char *prog, const char *fmt, va_list ap)
{
	static atomic_bool gone;
	char buf[UVLOG_LINE_MAX];
	int saved = errno;
	size_t len = 0;
	ssize_t n;
	int r;

	if (atomic_load_explicit(&gone, memory_order_relaxed))
		return;
	r = snprintf(buf, sizeof(buf), "%s: ", prog);
	if (r > 0)
		len = (size_t)r < sizeof(buf) ? (size_t)r : sizeof(buf) - 1;
	r = vsnprintf(buf + len, sizeof(buf) - len, fmt, ap);
	if (r > 0)
		len += (size_t)r < sizeof(buf) - len ? (size_t)r :
		       sizeof(buf) - len - 1;
	buf[len++] = '\n';
	do
		n = write(STDERR_FILENO, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EPIPE)
		atomic_store_explicit(&gone, true, memory_order_relaxed);
	errno = saved;
}

#endif /* UVIRTIO_LOG_H */

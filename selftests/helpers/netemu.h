/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * netemu - what a test that plays uvirtio-net's backend peer needs around
 * the emulator process: start it with its stderr in a log file and its
 * interface name read from its stdout, read its counters (SIGUSR2 makes it
 * print "stats rx|tx name=value ..." lines), count the descriptors it
 * holds, stop it, and show its log as TAP diagnostics when a check fails.
 */
#ifndef UVIRTIO_NETEMU_H
#define UVIRTIO_NETEMU_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/**
 * struct nemu - a uvirtio-net process started by a test
 * @pid:	the process, 0 once reaped
 * @log:	path of the file its stderr goes to (set by the caller)
 * @ifn:	its interface name, from the first line of its stdout
 */
struct nemu {
	pid_t pid;
	char log[128];
	char ifn[32];
};

int nemu_start(struct nemu *n, uid_t uid, char *const argv[]);
long nemu_stat(struct nemu *n, const char *q, const char *field);
int nemu_fds(const struct nemu *n, const char *prefix);
bool nemu_term(struct nemu *n, int limit_ms, double *secs);
void nemu_show_log(const struct nemu *n);
bool nemu_send_fds(int s, const char *to, const void *buf, size_t len,
		   const int *fds, int nfd);

#endif /* UVIRTIO_NETEMU_H */

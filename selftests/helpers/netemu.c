// SPDX-License-Identifier: GPL-2.0-only
/*
 * netemu - see netemu.h.
 */
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "netemu.h"

/* Most descriptors nemu_send_fds() attaches to one datagram. */
#define NEMU_MAX_FDS	4

/**
 * nemu_start() - start an emulator and read its interface name
 * @n:		@log set; out: @pid, @ifn
 * @uid:	0: run as we are; else drop to this uid (and gid) first
 * @argv:	command line, searched in PATH ("uvirtio-net", or a wrapper
 *		such as unshare that runs it)
 *
 * Waits up to 30 s for the first line of its stdout, the interface name.
 *
 * Return: 0, or -1 (it did not start or printed no name; @pid may be set)
 */
int nemu_start(struct nemu *n, uid_t uid, char *const argv[])
{
	struct pollfd pfd;
	int p[2], fd, len = 0;
	gid_t g = uid;

	n->ifn[0] = '\0';
	if (pipe(p))
		return -1;
	n->pid = fork();
	if (n->pid < 0) {
		n->pid = 0;
		return -1;
	}
	if (!n->pid) {
		fd = open(n->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(p[1], 1);
		dup2(fd, 2);
		close(p[0]);
		if (uid && (setgroups(1, &g) || setgid(uid) || setuid(uid)))
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	while (len < (int)sizeof(n->ifn) - 1 && poll(&pfd, 1, 30000) == 1) {
		if (read(p[0], n->ifn + len, 1) != 1)
			break;
		if (n->ifn[len] == '\n') {
			n->ifn[len] = '\0';
			close(p[0]);
			return 0;
		}
		len++;
	}
	n->ifn[len] = '\0';
	close(p[0]);
	return -1;
}

/**
 * nemu_stat() - a counter from the emulator's latest "stats" line
 * @n:		the emulator
 * @q:		"rx" or "tx"
 * @field:	counter name ("packets", "drops", ...)
 *
 * Asks for the counters with SIGUSR2 first and gives it 300 ms to print.
 *
 * Return: the value, or -1
 */
long nemu_stat(struct nemu *n, const char *q, const char *field)
{
	char line[512], key[32], want[16];
	long v = -1;
	char *p;
	FILE *f;

	kill(n->pid, SIGUSR2);
	usleep(300 * 1000);
	f = fopen(n->log, "r");
	if (!f)
		return -1;
	snprintf(want, sizeof(want), "stats %s ", q);
	snprintf(key, sizeof(key), " %s=", field);
	while (fgets(line, sizeof(line), f)) {
		p = strstr(line, want);
		p = p ? strstr(p, key) : NULL;
		if (p)
			v = strtol(p + strlen(key), NULL, 10);
	}
	fclose(f);
	return v;
}

/**
 * nemu_fds() - how many descriptors the emulator holds
 * @n:		the emulator
 * @prefix:	count only those whose /proc link starts with this (a
 *		directory: files under it), or NULL for all
 *
 * Return: the count, or -1 if its descriptors cannot be listed
 */
int nemu_fds(const struct nemu *n, const char *prefix)
{
	char dp[64], fdp[340], link[300];
	struct dirent *e;
	int count = 0;
	ssize_t l;
	DIR *d;

	snprintf(dp, sizeof(dp), "/proc/%d/fd", (int)n->pid);
	d = opendir(dp);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (!prefix) {
			count++;
			continue;
		}
		snprintf(fdp, sizeof(fdp), "%s/%s", dp, e->d_name);
		l = readlink(fdp, link, sizeof(link) - 1);
		if (l <= 0)
			continue;
		link[l] = '\0';
		count += !strncmp(link, prefix, strlen(prefix));
	}
	closedir(d);
	return count;
}

/**
 * nemu_term() - SIGTERM the emulator and wait for it to exit
 * @n:		the emulator; @pid is 0 afterwards
 * @limit_ms:	how long it may take
 * @secs:	out, if not NULL: how long it took (or the limit)
 *
 * One that is still there at the limit is killed with SIGKILL.
 *
 * Return: true if it exited with status 0 within @limit_ms
 */
bool nemu_term(struct nemu *n, int limit_ms, double *secs)
{
	struct timespec t0, t1;
	int status = 0, i;
	bool exited = false;
	pid_t r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	kill(n->pid, SIGTERM);
	for (i = 0; i < limit_ms / 100; i++) {
		r = waitpid(n->pid, &status, WNOHANG);
		exited = r == n->pid;
		if (r)
			break;
		usleep(100 * 1000);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!exited) {
		kill(n->pid, SIGKILL);
		waitpid(n->pid, NULL, 0);
	}
	n->pid = 0;
	if (secs)
		*secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	return exited && WIFEXITED(status) && !WEXITSTATUS(status);
}

/**
 * nemu_show_log() - the emulator's log as TAP diagnostics ("# emulator: ")
 * @n:		the emulator
 */
void nemu_show_log(const struct nemu *n)
{
	char line[512];
	FILE *f = fopen(n->log, "r");

	if (!f) {
		printf("# emulator: no log at %s\n", n->log);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		printf("# emulator: %s\n", line);
	}
	fclose(f);
	fflush(stdout);
}

/**
 * nemu_send_fds() - send a datagram, with descriptors attached if @nfd
 * @s:		socket
 * @to:		destination path, or NULL on a connected socket
 * @buf:	bytes
 * @len:	how many
 * @fds:	descriptors
 * @nfd:	how many (0..4)
 *
 * Return: true if all @len bytes were sent
 */
bool nemu_send_fds(int s, const char *to, const void *buf, size_t len,
		   const int *fds, int nfd)
{
	union {
		char b[CMSG_SPACE(NEMU_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct iovec v = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &v, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (nfd < 0 || nfd > NEMU_MAX_FDS)
		return false;
	if (to) {
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", to);
		mh.msg_name = &sa;
		mh.msg_namelen = sizeof(sa);
	}
	if (nfd) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.b;
		mh.msg_controllen = CMSG_SPACE(nfd * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfd * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfd * sizeof(int));
	}
	return sendmsg(s, &mh, 0) == (ssize_t)len;
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * nb_passt.c - the passt backend: passt started as our child on one end of
 * a socketpair, spoken to with the stream framing (nb_stream.c)
 *
 * passt is restarted by the next nb_connect() when it exits; it gets
 * SIGTERM when the connection is dropped and when we die.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nb_ops.h"

/**
 * nb_spawn_passt() - start passt on one end of a new socketpair
 * @b:		backend
 *
 * passt gets the other end as --fd, runs in the foreground and is sent
 * SIGTERM if we die.
 *
 * Return: 0 or -errno
 */
static int nb_spawn_passt(struct nb *b)
{
	char fdarg[16], *argv[32], *extra = NULL, *tok, *save;
	int sv[2], argc = 0;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	nb_bufs(sv[0]);
	nb_bufs(sv[1]);
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -errno;
	}
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		close(sv[0]);
		if (fcntl(sv[1], F_SETFD, 0) < 0)
			_exit(127);
		snprintf(fdarg, sizeof(fdarg), "%d", sv[1]);
		argv[argc++] = "passt";
		argv[argc++] = "-f";
		argv[argc++] = "-q";
		argv[argc++] = "--fd";
		argv[argc++] = fdarg;
		if (b->passt_args)
			extra = strdup(b->passt_args);
		for (tok = extra ? strtok_r(extra, " ", &save) : NULL;
		     tok && argc < 31; tok = strtok_r(NULL, " ", &save))
			argv[argc++] = tok;
		argv[argc] = NULL;
		execvp("passt", argv);
		fprintf(stderr, "uvirtio-net: passt: %s\n", strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	b->passt_pid = pid;
	b->fd = sv[0];
	return 0;
}

/**
 * nb_passt_connect() - start passt and take our end of its socketpair
 * @b:		passt backend, not connected
 *
 * Return: 0 or -errno
 */
static int nb_passt_connect(struct nb *b)
{
	int ret = nb_spawn_passt(b);

	if (ret)
		return ret;
	return fcntl(b->fd, F_SETFL, O_NONBLOCK) ? -errno : 0;
}

/**
 * nb_passt_disconnect() - close our end and tell passt to exit
 * @b:		passt backend
 */
static void nb_passt_disconnect(struct nb *b)
{
	nb_stream_disconnect(b);
	if (b->passt_pid > 0)
		kill(b->passt_pid, SIGTERM);
}

/**
 * nb_passt_close() - wait for passt to be gone
 * @b:		passt backend, disconnected
 */
static void nb_passt_close(struct nb *b)
{
	if (b->passt_pid > 0)
		waitpid(b->passt_pid, NULL, 0);
	b->passt_pid = 0;
}

/**
 * nb_reap() - collect an exited passt
 * @b:		backend
 */
void nb_reap(struct nb *b)
{
	if (b->passt_pid > 0 && waitpid(b->passt_pid, NULL, WNOHANG) > 0)
		b->passt_pid = 0;
}

const struct nb_ops nb_passt_ops = {
	.open		= nb_stream_open,
	.connect	= nb_passt_connect,
	.disconnect	= nb_passt_disconnect,
	.recv		= nb_stream_recv,
	.send		= nb_stream_send,
	.close		= nb_passt_close,
};

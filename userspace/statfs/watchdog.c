// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * watchdog.c - the process that unmounts the status filesystem if the
 * emulator dies
 *
 * Measured on 6.1 and 6.12: libfuse's auto_unmount leaves fusermount3
 * waiting on a socket, but when the daemon is killed it often finds the
 * connection not yet aborted (the socket closes before the /dev/fuse fd in
 * the dying process) and leaves the mount in place, answering ENOTCONN. So
 * a watchdog of our own, a shell spawned in its own session holding only
 * the read end of a pipe, runs "fusermount3 -u -z DIR" when the pipe
 * reaches EOF without the word "unmounted" that uvstatfs_stop() writes
 * after a clean unmount.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uvstatfs_int.h"

/**
 * watchdog_start() - spawn the process that unmounts if we die
 * @fs:		filesystem, mounted
 *
 * The watchdog is "sh -c SCRIPT DIR" with the pipe as its stdin and no
 * other fd of ours (in particular not the uvirtio device fd, whose last
 * close removes the device) and no mapping of ours (posix_spawn execs at
 * once). It runs in its own session so that a signal to our process group
 * does not take it along.
 *
 * Return: 0 or -errno
 */
int watchdog_start(struct uvstatfs *fs)
{
	static const char script[] =
		"read -r word; [ \"$word\" = unmounted ] && exit 0; "
		"exec fusermount3 -u -z -q -- \"$0\"";
	char *argv[] = { "sh", "-c", (char *)script, fs->dir, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int p[2], ret;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_adddup2(&fa, p[0], 0);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID |
				 POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	ret = -posix_spawnp(&fs->watchdog_pid, "sh", &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(p[0]);
	if (ret) {
		close(p[1]);
		fs->watchdog_pid = 0;
		return ret;
	}
	fs->watchdog_fd = p[1];
	return 0;
}

/**
 * watchdog_stop() - tell the watchdog the unmount was done
 * @fs:		filesystem
 *
 * The watchdog is not waited for: it exits at once, and a process that
 * does not reap children leaves only a zombie until it exits itself.
 */
void watchdog_stop(struct uvstatfs *fs)
{
	static const char word[] = "unmounted\n";

	if (fs->watchdog_fd < 0)
		return;
	if (write(fs->watchdog_fd, word, sizeof(word) - 1) < 0) {
		/* the watchdog is gone: nothing to tell */
	}
	close(fs->watchdog_fd);
	fs->watchdog_fd = -1;
	waitpid(fs->watchdog_pid, NULL, WNOHANG);
}

/**
 * uvstatfs_watchdog_pid() - the process that unmounts if the emulator dies
 * @fs:		filesystem
 *
 * Return: its pid, or 0 if there is none (not mounted)
 */
pid_t uvstatfs_watchdog_pid(const struct uvstatfs *fs)
{
	return fs->watchdog_pid;
}

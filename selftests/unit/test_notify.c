// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_notify - libuvirtio's service manager notifications (uvnotify_*)
 *
 * Plays the service manager: binds a datagram socket, points NOTIFY_SOCKET
 * at it (a path, then an abstract name), and checks what arrives: nothing
 * without NOTIFY_SOCKET, READY=1 with STATUS= naming the device, and
 * STOPPING=1 from the exit handler, read after a forked child exits.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "notify.h"
#include "tap.h"

/**
 * listener() - bind a datagram socket at @name
 * @name:	a path, or '@' and an abstract name
 *
 * Return: the socket, or -1
 */
static int listener(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(name);
	int fd;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	if (bind(fd, (struct sockaddr *)&sa,
		 offsetof(struct sockaddr_un, sun_path) + len + (name[0] != '@'))) {
		close(fd);
		return -1;
	}
	return fd;
}

/**
 * recv_msg() - one datagram as a string, or "" if none is queued
 * @fd:		the listener
 * @buf:	where
 * @len:	size of @buf
 *
 * Return: @buf
 */
static const char *recv_msg(int fd, char *buf, size_t len)
{
	ssize_t n = recv(fd, buf, len - 1, MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/**
 * check_address() - READY, STATUS and STOPPING through one kind of address
 * @name:	where the manager listens
 * @kind:	"path" or "abstract", for the test names
 */
static void check_address(const char *name, const char *kind)
{
	char buf[512];
	pid_t pid;
	int fd, st;

	fd = listener(name);
	if (!tap_ok(fd >= 0, "%s: bind %s", kind, name)) {
		tap_ok(false, "%s: READY=1 and STATUS= arrive", kind);
		tap_ok(false, "%s: STOPPING=1 arrives at exit", kind);
		return;
	}
	setenv("NOTIFY_SOCKET", name, 1);
	pid = fork();
	if (pid == 0) {
		/* the exit handler runs in the child only */
		_exit(uvnotify_ready("/dev/vdq") == 1 ? 0 : 1);
	}
	waitpid(pid, &st, 0);
	/* _exit() skips atexit handlers: the child sent READY only */
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
	       !strcmp(recv_msg(fd, buf, sizeof(buf)),
		       "READY=1\nSTATUS=serving /dev/vdq") &&
	       !*recv_msg(fd, buf, sizeof(buf)),
	       "%s: READY=1 and STATUS= arrive", kind);

	pid = fork();
	if (pid == 0) {
		uvnotify_ready("eth7");
		exit(0);
	}
	waitpid(pid, &st, 0);
	recv_msg(fd, buf, sizeof(buf));
	tap_ok(!strcmp(recv_msg(fd, buf, sizeof(buf)), "STOPPING=1"),
	       "%s: STOPPING=1 arrives at exit (got \"%s\")", kind, buf);

	/* at SIGTERM the emulator says it is stopping; the exit adds nothing */
	pid = fork();
	if (pid == 0) {
		uvnotify_ready("eth7");
		uvnotify_stopping();
		exit(0);
	}
	waitpid(pid, &st, 0);
	recv_msg(fd, buf, sizeof(buf));
	tap_ok(!strcmp(recv_msg(fd, buf, sizeof(buf)), "STOPPING=1") &&
	       !*recv_msg(fd, buf, sizeof(buf)),
	       "%s: STOPPING=1 before the exit arrives once", kind);
	unsetenv("NOTIFY_SOCKET");
	close(fd);
}

int main(void)
{
	char path[64], abstract[64];

	tap_plan(10);
	unsetenv("NOTIFY_SOCKET");
	tap_eq(uvnotify_ready("/dev/vda"), 0, "no NOTIFY_SOCKET: nothing sent");
	setenv("NOTIFY_SOCKET", "relative/sock", 1);
	tap_eq(uvnotify_send("READY=1"), -EINVAL, "relative address refused");

	snprintf(path, sizeof(path), "/tmp/test_notify.%d", getpid());
	unlink(path);
	check_address(path, "path");
	unlink(path);
	snprintf(abstract, sizeof(abstract), "@test_notify.%d", getpid());
	check_address(abstract, "abstract");
	return tap_done();
}

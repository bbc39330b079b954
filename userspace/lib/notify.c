// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * notify.c - the service manager notification protocol, without libsystemd
 *
 * A service manager that wants to hear from its service sets NOTIFY_SOCKET
 * to the address of a datagram socket: a path, or an abstract name written
 * with a leading '@'. The service sends newline-separated VAR=VALUE lines
 * in one datagram: READY=1 once it serves, STATUS= for humans, STOPPING=1
 * when it begins to shut down. Without NOTIFY_SOCKET nothing is sent.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

/**
 * uvnotify_send() - send one state datagram to $NOTIFY_SOCKET
 * @state:	newline-separated VAR=VALUE lines, e.g. "READY=1"
 *
 * Return: 1 if sent, 0 if NOTIFY_SOCKET is unset (nobody listens), or
 * -errno (-EINVAL for an address that is neither a path nor '@'-abstract).
 */
int uvnotify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	socklen_t salen;
	int fd, ret = 1;

	if (!path || !*path)
		return 0;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, path, len);
	/* an abstract address starts with a NUL and is not NUL-terminated */
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	salen = offsetof(struct sockaddr_un, sun_path) + len +
		(path[0] == '/');

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
		   (struct sockaddr *)&sa, salen) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static bool uvnotify_was_ready;

/**
 * uvnotify_stopping() - the service begins to shut down: STOPPING=1, once
 *
 * Sent only after uvnotify_ready(), and at most once: called when a
 * SIGTERM starts the removal, and again (doing nothing then) from the exit
 * handler uvnotify_ready() registers, for exits on an error.
 */
void uvnotify_stopping(void)
{
	static bool sent;

	if (!uvnotify_was_ready || sent)
		return;
	sent = true;
	uvnotify_send("STOPPING=1");
}

/**
 * uvnotify_ready() - report READY=1 with what is served, STOPPING=1 at exit
 * @what:	the device the emulator serves (a disk node, an interface),
 *		put into STATUS=
 *
 * Meant to be called once, when the kernel's driver has made the device.
 * Registers an exit handler that sends STOPPING=1 (unless
 * uvnotify_stopping() already did), so a service that exits on an error
 * says so before the manager sees it gone.
 *
 * Return: as uvnotify_send(); 0 also when nothing listens.
 */
int uvnotify_ready(const char *what)
{
	char msg[256];
	int ret;

	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=serving %s", what);
	ret = uvnotify_send(msg);
	if (ret > 0) {
		uvnotify_was_ready = true;
		if (atexit(uvnotify_stopping))
			return -ENOMEM;
	}
	return ret;
}

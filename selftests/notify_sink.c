// SPDX-License-Identifier: GPL-2.0-only
/*
 * notify_sink - play the service manager's end of NOTIFY_SOCKET for
 * blk_notify.sh
 *
 *	notify_sink PATH SECS
 *
 * Binds a datagram socket at PATH (mode 0666, so an unprivileged emulator
 * may send), then prints every datagram on one line, newlines shown as
 * '|'. For a datagram with "STATUS=serving NODE" it appends " [NODE
 * exists]" or " [NODE missing]": whether the node was there when the
 * message arrived. Exits 0 after "STOPPING=1", 1 after SECS seconds
 * without it.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[1024];
	time_t end;
	int fd;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: notify_sink PATH SECS\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    chmod(argv[1], 0666)) {
		perror("notify_sink: socket");
		return 1;
	}
	end = time(NULL) + atoi(argv[2]);
	while (time(NULL) < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		const char *status;
		char node[256];
		ssize_t n;

		if (poll(&p, 1, 200) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n < 0)
			continue;
		buf[n] = '\0';
		status = strstr(buf, "STATUS=serving ");
		if (status && sscanf(status, "STATUS=serving %255s", node) == 1)
			snprintf(buf + n, sizeof(buf) - n, " [%s %s]", node,
				 access(node, F_OK) ? "missing" : "exists");
		for (char *c = buf; *c; c++)
			if (*c == '\n')
				*c = '|';
		printf("%s\n", buf);
		fflush(stdout);
		if (!strcmp(buf, "STOPPING=1"))
			return 0;
	}
	return 1;
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * tap-relay - the conventional userspace path between two network
 * namespaces: two tap devices and one process copying frames between them
 *
 * Usage: tap-relay [--no-offload] TAP0 TAP1
 *
 * With offloads (the default) both taps are opened with IFF_VNET_HDR and
 * told they may hand over partially checksummed and TSO frames, which the
 * relay writes to the other tap as they are: 64 KiB segments cross
 * unsegmented. --no-offload relays plain frames. Prints "ready" once both
 * taps exist; runs until SIGTERM.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/if_tun.h>

#define HDR_LEN		12
#define BUF_SIZE	(HDR_LEN + 65536 + 64)

/**
 * tap_open() - create or attach to a tap device
 * @name:	interface name
 * @offload:	with the virtio-net header and offloads
 *
 * Return: the fd; exits on failure
 */
static int tap_open(const char *name, bool offload)
{
	struct ifreq ifr;
	int fd, v = HDR_LEN;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "tap-relay: /dev/net/tun: %s\n", strerror(errno));
		exit(1);
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0);
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) ||
	    (offload && (ioctl(fd, TUNSETVNETHDRSZ, &v) ||
			 ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 |
			       TUN_F_TSO6)))) {
		fprintf(stderr, "tap-relay: %s: %s\n", name, strerror(errno));
		exit(1);
	}
	return fd;
}

/**
 * relay() - move every frame waiting on @from to @to
 * @from:	source tap
 * @to:		destination tap
 * @buf:	scratch
 *
 * A frame the destination cannot take is dropped, as a switch would.
 */
static void relay(int from, int to, unsigned char *buf)
{
	ssize_t n;

	while ((n = read(from, buf, BUF_SIZE)) > 0)
		if (write(to, buf, n) < 0 && errno != EAGAIN && errno != EIO)
			fprintf(stderr, "tap-relay: write: %s\n", strerror(errno));
}

/**
 * main() - open both taps and relay until killed
 * @argc:	argument count
 * @argv:	arguments
 *
 * Return: 1 on errors, 2 on usage errors
 */
int main(int argc, char **argv)
{
	static unsigned char buf[BUF_SIZE];
	bool offload = true;
	struct pollfd p[2];
	int i = 1;

	if (argc > 1 && !strcmp(argv[1], "--no-offload")) {
		offload = false;
		i++;
	}
	if (argc - i != 2) {
		fprintf(stderr, "Usage: tap-relay [--no-offload] TAP0 TAP1\n");
		return 2;
	}
	p[0].fd = tap_open(argv[i], offload);
	p[1].fd = tap_open(argv[i + 1], offload);
	p[0].events = p[1].events = POLLIN;
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return 1;
		if (p[0].revents & POLLIN)
			relay(p[0].fd, p[1].fd, buf);
		if (p[1].revents & POLLIN)
			relay(p[1].fd, p[0].fd, buf);
	}
}

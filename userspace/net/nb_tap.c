// SPDX-License-Identifier: GPL-2.0-only
/*
 * nb_tap.c - the tap backend: one queue of a tap interface, frames with
 * the 12-byte virtio-net header in front (IFF_VNET_HDR), which carries the
 * offloads through untouched
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include "nb_ops.h"

/**
 * nb_tap_open() - create the tap, or attach to it as one more queue
 * @b:		tap backend
 *
 * Return: 0 or -errno
 */
static int nb_tap_open(struct nb *b)
{
	struct ifreq ifr;
	int v;

	b->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (b->fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	/* The first queue creates the tap, the others attach. */
	if (b->multi_queue)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	strcpy(ifr.ifr_name, b->path);
	if (ioctl(b->fd, TUNSETIFF, &ifr))
		return -errno;
	v = NB_HDR_LEN;
	if (ioctl(b->fd, TUNSETVNETHDRSZ, &v))
		return -errno;
	b->connected = true;
	return 0;
}

/**
 * nb_tap_recv() - one frame, offload header first
 * @b:		tap backend
 * @iov:	where it goes
 * @cnt:	entries in @iov
 *
 * Return: bytes, or -errno (-EAGAIN: nothing waiting)
 */
static int nb_tap_recv(struct nb *b, const struct iovec *iov,
		       unsigned int cnt)
{
	ssize_t n = readv(b->fd, iov, cnt);

	return n < 0 ? -errno : n;
}

/**
 * nb_tap_send() - frames, offload header first, a write each (a tap
 * takes one frame per write and has no call for several)
 * @b:		tap backend
 * @f:		the frames
 * @n:		how many
 *
 * Return: as nb_send()
 */
static int nb_tap_send(struct nb *b, const struct nb_frame *f, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (writev(b->fd, f[i].iov, f[i].cnt) < 0)
			return i ? (int)i : -errno;
	return n;
}

/**
 * nb_set_offload() - tell a tap which offloads it may hand us
 * @b:		backend
 * @csum:	partial checksums
 * @tso4:	TCP segmentation, IPv4 (needs @csum)
 * @tso6:	TCP segmentation, IPv6 (needs @csum)
 *
 * Return: 0 or -errno; 0 for backends other than tap
 */
int nb_set_offload(struct nb *b, bool csum, bool tso4, bool tso6)
{
	unsigned int f = 0;

	if (b->kind != NB_TAP)
		return 0;
	if (csum) {
		f |= TUN_F_CSUM;
		if (tso4)
			f |= TUN_F_TSO4;
		if (tso6)
			f |= TUN_F_TSO6;
	}
	return ioctl(b->fd, TUNSETOFFLOAD, f) ? -errno : 0;
}

const struct nb_ops nb_tap_ops = {
	.open		= nb_tap_open,
	.recv		= nb_tap_recv,
	.send		= nb_tap_send,
};

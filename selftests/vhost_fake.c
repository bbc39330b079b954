// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost_fake - a vhost-user "backend" that misbehaves in one chosen way,
 * for vhost_blk_kill.sh: uvirtio-vhost-user must give up on it with one
 * line, in bounded time, and leave no device behind.
 *
 * Usage: vhost_fake MODE SOCKET   (serves one connection, then exits)
 *   silent     reads every request, never answers
 *   banner     speaks another protocol: a text banner on connect
 *   garbage    answers the first request with random bytes
 *   size       answers GET_FEATURES with a 4-byte payload
 *   fds        answers GET_FEATURES correctly, with an fd attached
 *   reset      closes the connection at once, unread (as a backend's socket
 *              does that takes a connect while its process is being killed)
 *   late       a plausible virtio-blk backend up to SET_MEM_TABLE, which
 *              it answers with another request's code (the device exists
 *              by then); the domain fd it is sent is closed at once, as a
 *              real backend closes it once mapped
 *   segs       the same, answering SET_MEM_TABLE as it should, with
 *              indirect descriptors and 1000 segments a request offered:
 *              more than a ring of 256 holds (it never serves the rings)
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct hdr {
	uint32_t req;
	uint32_t flags;
	uint32_t size;
};

#define REPLY		(1U << 2 | 1U)
#define NEED_REPLY	(1U << 3)

/* read one request; fds that come with it are closed */
static int get(int c, struct hdr *h, uint8_t *p, size_t cap)
{
	char cbuf[CMSG_SPACE(8 * sizeof(int))];
	struct iovec iov = { h, sizeof(*h) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;

	if (recvmsg(c, &m, MSG_WAITALL) != sizeof(*h) || h->size > cap)
		return -1;
	for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
		int *fds = (int *)CMSG_DATA(cm);
		size_t i, n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		for (i = 0; cm->cmsg_type == SCM_RIGHTS && i < n; i++)
			close(fds[i]);
	}
	if (h->size && recv(c, p, h->size, MSG_WAITALL) != (ssize_t)h->size)
		return -1;
	return 0;
}

/* send a reply to @req with @len bytes, and @fd if >= 0 */
static void put(int c, uint32_t req, const void *p, uint32_t len, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct hdr h = { req, REPLY, len };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)p, len } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };

	if (fd >= 0) {
		struct cmsghdr *cm;

		memset(cbuf, 0, sizeof(cbuf));
		m.msg_control = cbuf;
		m.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	if (sendmsg(c, &m, MSG_NOSIGNAL) < 0)
		exit(0);
}

/*
 * "late" and "segs": answer like a small virtio-blk backend; @segs: offer
 * SEG_MAX 1000 and INDIRECT_DESC, and answer SET_MEM_TABLE correctly
 */
static void serve_late(int c, bool segs)
{
	static uint8_t p[4096];
	struct hdr h;

	while (!get(c, &h, p, sizeof(p))) {
		uint64_t v = 0;

		switch (h.req) {
		case 1:		/* GET_FEATURES: VERSION_1, PROTOCOL_FEATURES */
			v = 1ULL << 32 | 1ULL << 30;
			if (segs)	/* SEG_MAX, INDIRECT_DESC */
				v |= 1ULL << 2 | 1ULL << 28;
			put(c, h.req, &v, 8, -1);
			continue;
		case 15:	/* GET_PROTOCOL_FEATURES: REPLY_ACK, CONFIG */
			v = 1ULL << 3 | 1ULL << 9;
			put(c, h.req, &v, 8, -1);
			continue;
		case 24:	/* GET_CONFIG: 64 MiB */
			memset(p + 12, 0, h.size - 12);
			p[12 + 2] = 2;	/* capacity 0x20000 sectors */
			if (segs && h.size >= 12 + 16) {
				p[12 + 12] = 1000 & 0xff;	/* seg_max */
				p[12 + 13] = 1000 >> 8;
			}
			put(c, h.req, p, h.size, -1);
			continue;
		case 5:		/* SET_MEM_TABLE: the wrong request code */
			if (segs)
				break;
			put(c, 1, &v, 8, -1);
			continue;
		}
		if (h.flags & NEED_REPLY)
			put(c, h.req, &v, 8, -1);
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static uint8_t p[4096];
	const char *mode;
	struct hdr h;
	int s, c;

	if (argc != 3 || strlen(argv[2]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: vhost_fake silent|banner|garbage|size|fds|late|segs|reset SOCKET\n");
		return 2;
	}
	mode = argv[1];
	strcpy(sa.sun_path, argv[2]);
	unlink(argv[2]);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) || listen(s, 1)) {
		perror("vhost_fake: listen");
		return 1;
	}
	c = accept(s, NULL, NULL);
	if (c < 0)
		return 1;
	if (!strcmp(mode, "reset"))
		return 0;
	if (!strcmp(mode, "banner")) {
		const char b[] = "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n";

		if (write(c, b, sizeof(b) - 1) < 0)
			return 1;
	} else if (!strcmp(mode, "late") || !strcmp(mode, "segs")) {
		serve_late(c, !strcmp(mode, "segs"));
		return 0;
	}
	while (!get(c, &h, p, sizeof(p))) {
		uint64_t feat = 1ULL << 32;

		if (!strcmp(mode, "garbage")) {
			if (getrandom(p, 64, 0) != 64 || write(c, p, 64) < 0)
				return 1;
		} else if (!strcmp(mode, "size")) {
			put(c, h.req, &feat, 4, -1);
		} else if (!strcmp(mode, "fds")) {
			put(c, h.req, &feat, 8, open("/dev/null", O_RDONLY));
		}
	}
	return 0;
}

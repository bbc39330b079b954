// SPDX-License-Identifier: GPL-2.0-only
/*
 * net_fusefd - a hostile dgram peer passes uvirtio-net the descriptor of a
 * FUSE file whose server never answers FLUSH or GETATTR: a close() or an
 * fstat() of it would block the thread that makes it (and, FLUSH being a
 * forced request, even past SIGKILL), so uvirtio-net must never do either
 * on a thread that matters.
 *
 * uvirtio-net runs as uid 1000 with a peer path that does not exist yet.
 * A stranger (root, at another address) sends it frames, frames carrying
 * the FUSE descriptor and a ring offer carrying it, before any peer is
 * there: none of it may reach the interface. Then the peer (root, at the
 * expected address, but not the emulator's uid) appears and sends the
 * descriptor on frames and on a ring offer, then good frames. Checked:
 * exactly the peer's frames arrive, the emulator never holds the FUSE
 * file, and on SIGTERM it exits 0 (its device removed) within 10 s. The
 * emulator runs in a user and network namespace of its own (unshare -U -r
 * -n), as an unprivileged user's would; its delivered frames are read
 * from its own counters (SIGUSR2).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/fuse.h>
#include <linux/virtio_net.h>

#include "../userspace/net/ring.h"

#include "netemu.h"
#include "require.h"
#include "unit/tap.h"

#define HDR		sizeof(struct virtio_net_hdr_v1)
#define FRAME		60
#define USER_UID	1000

static char dir[] = "/tmp/net_fusefd.XXXXXX";
static char mnt[128], dev_path[128], peer_path[128], str_path[128];
static int fuse_fd = -1;
static atomic_bool fuse_hostile, fuse_stop;
static bool fuse_serving;
static struct nemu emu;

/**
 * fuse_reply() - answer one FUSE request
 * @unique:	the request's id
 * @error:	0 or -errno
 * @arg:	payload, or NULL
 * @len:	its size
 */
static void fuse_reply(uint64_t unique, int error, const void *arg,
		       size_t len)
{
	char buf[sizeof(struct fuse_out_header) + 256];
	struct fuse_out_header oh = {
		.len = sizeof(oh) + len, .error = error, .unique = unique,
	};

	memcpy(buf, &oh, sizeof(oh));
	if (len)
		memcpy(buf + sizeof(oh), arg, len);
	if (write(fuse_fd, buf, oh.len) < 0)
		tap_diag("fuse reply: %s", strerror(errno));
}

/**
 * fuse_attr_of() - attributes of the root (1) or the file (2)
 * @node:	node id
 * @a:		out
 */
static void fuse_attr_of(uint64_t node, struct fuse_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = node;
	a->mode = node == 1 ? S_IFDIR | 0755 : S_IFREG | 0644;
	a->nlink = node == 1 ? 2 : 1;
	a->blksize = 4096;
}

/**
 * fuse_server() - a one-file FUSE server that turns hostile: once
 * fuse_hostile is set it never answers FLUSH or GETATTR
 * @arg:	unused
 *
 * Return: NULL
 */
static void *fuse_server(void *arg)
{
	static char buf[1 << 17];
	struct fuse_in_header *ih = (void *)buf;
	void *in = buf + sizeof(*ih);
	struct pollfd pfd = { .fd = fuse_fd, .events = POLLIN };
	ssize_t n;

	(void)arg;
	while (!atomic_load(&fuse_stop)) {
		if (poll(&pfd, 1, 100) != 1)
			continue;
		n = read(fuse_fd, buf, sizeof(buf));
		if (n < (ssize_t)sizeof(*ih))
			continue;
		switch (ih->opcode) {
		case FUSE_INIT: {
			struct fuse_init_in *ii = in;
			struct fuse_init_out io = {
				.major = FUSE_KERNEL_VERSION,
				.minor = ii->minor < 31 ? ii->minor : 31,
				.max_readahead = ii->max_readahead,
				.max_write = 4096,
			};
			fuse_reply(ih->unique, 0, &io, sizeof(io));
			break;
		}
		case FUSE_LOOKUP: {
			struct fuse_entry_out eo = { .nodeid = 2 };

			if (ih->nodeid != 1 || strcmp(in, "f")) {
				fuse_reply(ih->unique, -ENOENT, NULL, 0);
				break;
			}
			fuse_attr_of(2, &eo.attr);
			fuse_reply(ih->unique, 0, &eo, sizeof(eo));
			break;
		}
		case FUSE_GETATTR: {
			struct fuse_attr_out ao = { 0 };

			if (atomic_load(&fuse_hostile))
				break;
			fuse_attr_of(ih->nodeid, &ao.attr);
			fuse_reply(ih->unique, 0, &ao, sizeof(ao));
			break;
		}
		case FUSE_OPEN: {
			struct fuse_open_out oo = { .fh = 1 };

			fuse_reply(ih->unique, 0, &oo, sizeof(oo));
			break;
		}
		case FUSE_FLUSH:
			if (!atomic_load(&fuse_hostile))
				fuse_reply(ih->unique, 0, NULL, 0);
			break;
		case FUSE_RELEASE:
			fuse_reply(ih->unique, 0, NULL, 0);
			break;
		case FUSE_INTERRUPT:
		case FUSE_FORGET:
		case FUSE_BATCH_FORGET:
			break;
		default:
			fuse_reply(ih->unique, -ENOSYS, NULL, 0);
			break;
		}
	}
	return NULL;
}

/**
 * fuse_file() - mount the FUSE file system and open its file
 * @thr:	out: the server thread
 *
 * Return: the file's descriptor, or -1
 */
static int fuse_file(pthread_t *thr)
{
	char opts[160];
	int fd;

	fuse_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fuse_fd < 0 || mkdir(mnt, 0755))
		return -1;
	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=0,group_id=0", fuse_fd);
	if (mount("uvhostile", mnt, "fuse", MS_NOSUID | MS_NODEV, opts))
		return -1;
	if (pthread_create(thr, NULL, fuse_server, NULL))
		return -1;
	fuse_serving = true;
	snprintf(opts, sizeof(opts), "%s/f", mnt);
	fd = open(opts, O_RDONLY | O_CLOEXEC);
	atomic_store(&fuse_hostile, true);
	return fd;
}

/**
 * frame() - a broadcast frame behind a zeroed virtio-net header
 * @buf:	HDR + FRAME bytes
 */
static void frame(unsigned char *buf)
{
	memset(buf, 0, HDR + FRAME);
	memset(buf + HDR, 0xff, 6);
	memcpy(buf + HDR + 6, "\x02\x00\x00\x00\x00\x07", 6);
	buf[HDR + 12] = 0x88;
	buf[HDR + 13] = 0xb5;
}

/**
 * burst() - what a hostile sender sends: 5 frames carrying @ffd, a ring
 * offer carrying it, then @good plain frames
 * @s:		socket
 * @to:		destination, or NULL if connected
 * @ffd:	the FUSE file
 * @ev:		an eventfd, for the offer
 * @good:	plain frames to send last
 *
 * Return: true if all were sent
 */
static bool burst(int s, const char *to, int ffd, int ev, int good)
{
	struct nr_msg m = { .magic = NR_MSG_MAGIC, .type = NR_OFFER_BACK,
			    .id = 42 };
	unsigned char f[HDR + FRAME];
	int two[2] = { ffd, ev }, i;
	bool ok = true;

	frame(f);
	for (i = 0; i < 5; i++)
		ok &= nemu_send_fds(s, to, f, sizeof(f), &ffd, 1);
	ok &= nemu_send_fds(s, to, &m, sizeof(m), two, 2);
	m.type = NR_OFFER;
	ok &= nemu_send_fds(s, to, &m, sizeof(m), two, 2);
	for (i = 0; i < good; i++)
		ok &= nemu_send_fds(s, to, f, sizeof(f), NULL, 0);
	return ok;
}

/**
 * wait_rx() - wait up to about 10 s for the emulator to have delivered
 * @want frames to its driver
 * @want:	value
 *
 * Return: the last value read
 */
static long wait_rx(long want)
{
	long v = -1;
	int i;

	for (i = 0; i < 30; i++) {
		v = nemu_stat(&emu, "rx", "packets");
		if (v >= want)
			break;
	}
	return v;
}

/**
 * main() - run the checks
 *
 * Return: kselftest exit code
 */
int main(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int ffd = -1, ev, stranger = -1, peer = -1, i, held;
	unsigned char f[HDR + FRAME];
	char spec[300], cmd[300];
	char *argv[] = { "unshare", "-U", "-r", "-n", "--", "uvirtio-net",
			 "--mtu", "1500", spec, NULL };
	pthread_t thr;
	long base, v;
	double t;
	struct timeval tmo = { .tv_sec = 2 };

	require_uvirtio(REQ_FUSE);
	tap_plan(7);
	if (!mkdtemp(dir) || chmod(dir, 01777))
		return 1;
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	snprintf(dev_path, sizeof(dev_path), "%s/dev", dir);
	snprintf(peer_path, sizeof(peer_path), "%s/peer", dir);
	snprintf(str_path, sizeof(str_path), "%s/stranger", dir);
	snprintf(emu.log, sizeof(emu.log), "%s/err", dir);

	/*
	 * Nothing is forked once the FUSE file is open: a child's exec (or
	 * exit) would close its copy, and that close waits for the FLUSH.
	 */
	snprintf(spec, sizeof(spec), "dgram:%s,%s", dev_path, peer_path);
	if (!tap_ok(!nemu_start(&emu, USER_UID, argv), "uvirtio-net (uid %d) started, interface '%s', its peer not there yet",
		    USER_UID, emu.ifn)) {
		nemu_show_log(&emu);
		return tap_done();
	}
	snprintf(cmd, sizeof(cmd), "nsenter -t %d -n ip link set %s up",
		 (int)emu.pid, emu.ifn);
	if (system(cmd))
		tap_diag("'%s' failed", cmd);
	base = nemu_stat(&emu, "rx", "packets");
	if (base < 0)
		base = 0;

	ffd = fuse_file(&thr);
	if (!tap_ok(ffd >= 0, "a FUSE file whose server stops answering FLUSH and GETATTR (%s)",
		    ffd >= 0 ? "open" : strerror(errno)))
		goto out;
	ev = eventfd(0, EFD_CLOEXEC);

	/* a stranger, before the peer is there */
	/*
	 * A socket queues at most net.unix.max_dgram_qlen datagrams (10)
	 * for a receiver that does not read: the senders give up after 2 s.
	 */
	stranger = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	setsockopt(stranger, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
	strcpy(sa.sun_path, str_path);
	if (stranger < 0 || bind(stranger, (struct sockaddr *)&sa, sizeof(sa)))
		tap_diag("stranger socket: %s", strerror(errno));
	for (i = 0; i < 50 && access(dev_path, F_OK); i++)
		usleep(100 * 1000);
	burst(stranger, dev_path, ffd, ev, 10);
	tap_ok(true, "a stranger sent 5 frames carrying the FUSE file, 2 ring offers carrying it and 10 frames (as many as the socket queued)");
	usleep(1000 * 1000);

	/* the peer: right address, not the emulator's uid */
	peer = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	setsockopt(peer, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
	strcpy(sa.sun_path, peer_path);
	if (peer < 0 || bind(peer, (struct sockaddr *)&sa, sizeof(sa)) ||
	    chmod(peer_path, 0666))
		tap_diag("peer socket: %s", strerror(errno));
	strcpy(sa.sun_path, dev_path);
	if (connect(peer, (struct sockaddr *)&sa, sizeof(sa)))
		tap_diag("peer connect: %s", strerror(errno));
	/* the emulator looks for its peer every second */
	usleep(2500 * 1000);
	burst(peer, NULL, ffd, ev, 10);
	v = wait_rx(base + 15);
	usleep(500 * 1000);
	v = nemu_stat(&emu, "rx", "packets");
	tap_ok(v == base + 15,
	       "exactly the peer's 15 frames arrived, none of the stranger's (delivered +%ld)",
	       v - base);
	held = nemu_fds(&emu, mnt);
	tap_ok(held == 0, "the emulator holds no descriptor of the FUSE file (%d)", held);

	frame(f);
	for (i = 0; i < 10; i++)
		nemu_send_fds(peer, NULL, f, sizeof(f), NULL, 0);
	v = wait_rx(base + 25);
	tap_ok(v == base + 25, "it keeps forwarding (delivered +%ld of 25)", v - base);

	if (!tap_ok(nemu_term(&emu, 10000, &t),
		    "SIGTERM: exit 0 after %.1f s (limit 10 s)", t))
		nemu_show_log(&emu);
	close(stranger);
	close(peer);
out:
	/* End the FUSE connection first: our own close() would wait too. */
	atomic_store(&fuse_stop, true);
	if (fuse_serving)
		pthread_join(thr, NULL);
	umount2(mnt, MNT_DETACH);
	if (fuse_fd >= 0)
		close(fuse_fd);
	if (ffd >= 0)
		close(ffd);
	if (emu.pid > 0) {
		kill(emu.pid, SIGKILL);
		waitpid(emu.pid, NULL, 0);
	}
	unlink(dev_path);
	unlink(peer_path);
	unlink(str_path);
	unlink(emu.log);
	rmdir(mnt);
	rmdir(dir);
	return tap_done();
}

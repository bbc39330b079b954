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
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
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

#include "require.h"
#include "unit/tap.h"

#define HDR		sizeof(struct virtio_net_hdr_v1)
#define FRAME		60
#define USER_UID	1000

static char dir[] = "/tmp/net_fusefd.XXXXXX";
static char mnt[128], dev_path[128], peer_path[128], str_path[128];
static char err_path[128];
static int fuse_fd = -1;
static atomic_bool fuse_hostile, fuse_stop;
static bool fuse_serving;
static pid_t emu_pid;

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
 * emu_rx() - frames the emulator delivered to its driver, from the "stats
 * rx" line it prints on SIGUSR2
 *
 * Return: the count, or -1
 */
static long emu_rx(void)
{
	char line[512], *p;
	long v = -1;
	FILE *f;

	kill(emu_pid, SIGUSR2);
	usleep(300 * 1000);
	f = fopen(err_path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		p = strstr(line, "stats rx ");
		p = p ? strstr(p, " packets=") : NULL;
		if (p)
			v = strtol(p + 9, NULL, 10);
	}
	if (f)
		fclose(f);
	return v;
}

/**
 * emu_start() - uvirtio-net as uid 1000, its interface name into @ifn
 * @ifn:	out, 32 bytes
 *
 * Return: 0 or -1
 */
static int emu_start(char *ifn)
{
	char spec[300];
	struct pollfd pfd;
	int p[2], fd, len = 0;
	gid_t g = USER_UID;

	snprintf(spec, sizeof(spec), "dgram:%s,%s", dev_path, peer_path);
	if (pipe(p))
		return -1;
	emu_pid = fork();
	if (emu_pid < 0)
		return -1;
	if (!emu_pid) {
		fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(p[1], 1);
		dup2(fd, 2);
		close(p[0]);
		if (setgroups(1, &g) || setgid(USER_UID) || setuid(USER_UID))
			_exit(126);
		execlp("unshare", "unshare", "-U", "-r", "-n", "--",
		       "uvirtio-net", "--mtu", "1500", spec, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	while (len < 31 && poll(&pfd, 1, 30000) == 1) {
		if (read(p[0], ifn + len, 1) != 1)
			break;
		if (ifn[len] == '\n') {
			ifn[len] = '\0';
			close(p[0]);
			return 0;
		}
		len++;
	}
	close(p[0]);
	return -1;
}

/**
 * emu_holds() - does the emulator hold a descriptor of a file under @path?
 * @path:	a directory
 *
 * Return: how many it holds, or -1 if its descriptors cannot be listed
 */
static int emu_holds(const char *path)
{
	char fdp[340], link[300], dp[64];
	struct dirent *e;
	int n = 0;
	ssize_t l;
	DIR *d;

	snprintf(dp, sizeof(dp), "/proc/%d/fd", (int)emu_pid);
	d = opendir(dp);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(fdp, sizeof(fdp), "%s/%s", dp, e->d_name);
		l = readlink(fdp, link, sizeof(link) - 1);
		if (l <= 0)
			continue;
		link[l] = '\0';
		n += !strncmp(link, path, strlen(path));
	}
	closedir(d);
	return n;
}

/**
 * send_to() - send a datagram, with descriptors if @nfd
 * @s:		socket
 * @to:		destination path, or NULL on a connected socket
 * @buf:	bytes
 * @len:	how many
 * @fds:	descriptors
 * @nfd:	how many (0..2)
 *
 * Return: true if sent
 */
static bool send_to(int s, const char *to, const void *buf, size_t len,
		    const int *fds, int nfd)
{
	union {
		char b[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct iovec v = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &v, .msg_iovlen = 1 };
	struct cmsghdr *c;

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
		ok &= send_to(s, to, f, sizeof(f), &ffd, 1);
	ok &= send_to(s, to, &m, sizeof(m), two, 2);
	m.type = NR_OFFER;
	ok &= send_to(s, to, &m, sizeof(m), two, 2);
	for (i = 0; i < good; i++)
		ok &= send_to(s, to, f, sizeof(f), NULL, 0);
	return ok;
}

/**
 * wait_rx() - wait up to about 10 s for emu_rx() to reach @want
 * @want:	value
 *
 * Return: the last value read
 */
static long wait_rx(long want)
{
	long v = -1;
	int i;

	for (i = 0; i < 30; i++) {
		v = emu_rx();
		if (v >= want)
			break;
	}
	return v;
}

/**
 * show_log() - the emulator's stderr, as TAP diagnostics
 */
static void show_log(void)
{
	char line[512];
	FILE *f = fopen(err_path, "r");

	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		tap_diag("emulator: %s", line);
	}
	if (f)
		fclose(f);
}

/**
 * main() - run the checks
 *
 * Return: kselftest exit code
 */
int main(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int ffd = -1, ev, stranger = -1, peer = -1, status, i, held;
	unsigned char f[HDR + FRAME];
	char ifn[32] = "", cmd[300];
	pthread_t thr;
	long base, v;
	double t;
	struct timespec t0, t1;
	struct timeval tmo = { .tv_sec = 2 };

	require_uvirtio(REQ_FUSE);
	tap_plan(7);
	if (!mkdtemp(dir) || chmod(dir, 01777))
		return 1;
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	snprintf(dev_path, sizeof(dev_path), "%s/dev", dir);
	snprintf(peer_path, sizeof(peer_path), "%s/peer", dir);
	snprintf(str_path, sizeof(str_path), "%s/stranger", dir);
	snprintf(err_path, sizeof(err_path), "%s/err", dir);

	/*
	 * Nothing is forked once the FUSE file is open: a child's exec (or
	 * exit) would close its copy, and that close waits for the FLUSH.
	 */
	if (!tap_ok(!emu_start(ifn), "uvirtio-net (uid %d) started, interface '%s', its peer not there yet",
		    USER_UID, ifn)) {
		show_log();
		return tap_done();
	}
	snprintf(cmd, sizeof(cmd), "nsenter -t %d -n ip link set %s up",
		 (int)emu_pid, ifn);
	if (system(cmd))
		tap_diag("'%s' failed", cmd);
	base = emu_rx();
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
	v = emu_rx();
	tap_ok(v == base + 15,
	       "exactly the peer's 15 frames arrived, none of the stranger's (delivered +%ld)",
	       v - base);
	held = emu_holds(mnt);
	tap_ok(held == 0, "the emulator holds no descriptor of the FUSE file (%d)", held);

	frame(f);
	for (i = 0; i < 10; i++)
		send_to(peer, NULL, f, sizeof(f), NULL, 0);
	v = wait_rx(base + 25);
	tap_ok(v == base + 25, "it keeps forwarding (delivered +%ld of 25)", v - base);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	kill(emu_pid, SIGTERM);
	for (i = 0; i < 100 && waitpid(emu_pid, &status, WNOHANG) == 0; i++)
		usleep(100 * 1000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	t = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (!tap_ok(i < 100 && WIFEXITED(status) && !WEXITSTATUS(status),
		    "SIGTERM: exit 0 after %.1f s (limit 10 s)", t)) {
		kill(emu_pid, SIGKILL);
		show_log();
	} else {
		emu_pid = 0;
	}
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
	if (emu_pid > 0) {
		kill(emu_pid, SIGKILL);
		waitpid(emu_pid, NULL, 0);
	}
	unlink(dev_path);
	unlink(peer_path);
	unlink(str_path);
	unlink(err_path);
	rmdir(mnt);
	rmdir(dir);
	return tap_done();
}

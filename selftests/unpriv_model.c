// SPDX-License-Identifier: GPL-2.0-only
/*
 * unpriv_model - what an ordinary user (uid 1000) cannot do with /dev/uvirtio.
 *
 * - create a device of any type but virtio-blk and virtio-net
 *   (EPROTONOSUPPORT), while blk is accepted, and net too inside a network
 *   namespace the user rules (a rootless container), not in the init one
 *   (EPERM);
 * - map anything beyond its device's domain: a longer mapping, an offset
 *   past the end (EINVAL), a mapping grown with mremap(), a private mapping;
 * - reach another user's device: a device is reachable only through the fd
 *   that created it. Another process of the same uid opening /dev/uvirtio
 *   gets an fd with no device (ENODEV for every device command, mmap fails);
 *   a process of another uid (1001) can neither open /proc/PID/fd/N of the
 *   owner nor take the fd with pidfd_getfd(); a root-owned device is as
 *   unreachable for uid 1000.
 * Needs root to switch uids (skips otherwise).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/uvirtio.h>
#include <linux/virtio_ids.h>

#include "devfd.h"
#include "testemu.h"
#include "require.h"
#include "unit/tap.h"

#define OWNER_UID	1000
#define OTHER_UID	1001

/**
 * become() - drop to @uid (and the same gid), no supplementary groups
 * @uid:	target
 *
 * Return: 0 or -errno
 */
static int become(uid_t uid)
{
	if (setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
		return -errno;
	return 0;
}

/**
 * in_child() - run @fn as @uid in a child, return its exit code
 * @uid:	uid for the child
 * @fn:		body; its return value is the exit code
 * @arg:	for @fn
 *
 * Return: exit code, or 100 + signal
 */
static int in_child(uid_t uid, int (*fn)(void *), void *arg)
{
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (become(uid))
			_exit(99);
		_exit(fn(arg));
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return 98;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

/* Device types: exit 0 if every other type is refused with EPROTONOSUPPORT. */
static int types_body(void *arg)
{
	static const uint32_t others[] = { 0, VIRTIO_ID_CONSOLE, VIRTIO_ID_RNG,
		VIRTIO_ID_BALLOON, VIRTIO_ID_SCSI, VIRTIO_ID_9P, VIRTIO_ID_GPU,
		VIRTIO_ID_INPUT, VIRTIO_ID_VSOCK, VIRTIO_ID_CRYPTO, VIRTIO_ID_FS,
		VIRTIO_ID_PMEM, 42, 0xffff, 0xffffffff };
	unsigned int i;
	int fd;

	(void)arg;
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		fd = devfd_create(others[i], 2, 64, 1 << 20, NULL);
		if (fd != -EPROTONOSUPPORT) {
			printf("# uid 1000, device id %u: %s\n", others[i],
			       fd >= 0 ? "created" : strerror(-fd));
			if (fd >= 0)
				close(fd);
			return 1;
		}
	}
	fd = devfd_create(VIRTIO_ID_BLOCK, 1, 64, 1 << 20, NULL);
	if (fd < 0) {
		printf("# uid 1000, virtio-blk refused: %s\n", strerror(-fd));
		return 2;
	}
	close(fd);
	/* A net device goes into the creator's namespace, if they rule it. */
	fd = devfd_create(VIRTIO_ID_NET, 2, 64, 1 << 20, NULL);
	if (fd != -EPERM) {
		printf("# uid 1000, virtio-net in the init network namespace: %s, "
		       "expected EPERM\n", fd >= 0 ? "created" : strerror(-fd));
		if (fd >= 0)
			close(fd);
		return 3;
	}
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET)) {
		printf("# unshare: %s\n", strerror(errno));
		return 4;
	}
	fd = devfd_create(VIRTIO_ID_NET, 2, 64, 1 << 20, NULL);
	if (fd < 0) {
		printf("# uid 1000, virtio-net in its own namespace refused: %s\n",
		       strerror(-fd));
		return 5;
	}
	close(fd);
	return 0;
}

/* Mappings: exit 0 if only the domain itself can be mapped. */
static int mmap_body(void *arg)
{
	uint64_t dom;
	void *m, *r;
	int fd = devfd_create(VIRTIO_ID_BLOCK, 1, 64, 1 << 20, &dom), bad = 0;

	(void)arg;
	if (fd < 0) {
		printf("# create: %s\n", strerror(-fd));
		return 10;
	}
	m = mmap(NULL, dom, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		printf("# the domain itself cannot be mapped: %s\n", strerror(errno));
		return 11;
	}
	r = mremap(m, dom, dom + 4096, MREMAP_MAYMOVE);
	if (r != MAP_FAILED) {
		printf("# mremap grew the domain mapping\n");
		bad++;
	} else {
		munmap(m, dom);
	}
	m = mmap(NULL, dom + 4096, PROT_READ, MAP_SHARED, fd, 0);
	if (m != MAP_FAILED || errno != EINVAL) {
		printf("# mapping one page more than the domain: %s\n",
		       m != MAP_FAILED ? "allowed" : strerror(errno));
		bad++;
	}
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, dom);
	if (m != MAP_FAILED || errno != EINVAL) {
		printf("# mapping at the domain's end: %s\n",
		       m != MAP_FAILED ? "allowed" : strerror(errno));
		bad++;
	}
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, (off_t)1 << 40);
	if (m != MAP_FAILED || errno != EINVAL) {
		printf("# mapping at offset 1 TiB: %s\n",
		       m != MAP_FAILED ? "allowed" : strerror(errno));
		bad++;
	}
	m = mmap(NULL, dom, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m != MAP_FAILED) {
		printf("# a private mapping of the domain was allowed\n");
		bad++;
	}
	close(fd);
	return bad ? 12 : 0;
}

/* A second process of the same uid: its own fd reaches no device. */
static int stranger_body(void *arg)
{
	static const unsigned long cmds[] = { UVIRTIO_GET_LAYOUT, UVIRTIO_GET_QUEUE,
		UVIRTIO_SET_KICK_FD, UVIRTIO_SET_CALL_FD, UVIRTIO_START,
		UVIRTIO_QUEUE_IRQ, UVIRTIO_SET_CONFIG, UVIRTIO_GET_CONFIG,
		UVIRTIO_GET_STATUS, UVIRTIO_REMOVE };
	uint8_t buf[128] = { 0 };
	unsigned int i;
	void *m;
	int fd = open(UVDEV_PATH, O_RDWR | O_CLOEXEC);

	(void)arg;
	if (fd < 0)
		return 20;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (ioctl(fd, cmds[i], buf) == 0 || errno != ENODEV) {
			printf("# a fresh fd, ioctl 0x%lx: %s\n", cmds[i], strerror(errno));
			return 21;
		}
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	if (m != MAP_FAILED) {
		printf("# a fresh fd could be mapped\n");
		return 22;
	}
	close(fd);
	return 0;
}

struct peek {
	pid_t owner;
	int fd;
};

/* Another uid: /proc/OWNER/fd/N and pidfd_getfd() are refused. */
static int other_user_body(void *arg)
{
	struct peek *p = arg;
	char path[64];
	int fd, pfd;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", p->owner, p->fd);
	fd = open(path, O_RDWR);
	if (fd >= 0) {
		printf("# uid %d opened %s\n", OTHER_UID, path);
		return 30;
	}
	if (errno != EACCES && errno != EPERM) {
		printf("# open %s: %s (expected EACCES)\n", path, strerror(errno));
		return 31;
	}
	pfd = syscall(SYS_pidfd_open, p->owner, 0);
	if (pfd >= 0) {
		fd = syscall(SYS_pidfd_getfd, pfd, p->fd, 0);
		if (fd >= 0) {
			printf("# uid %d took the fd with pidfd_getfd()\n", OTHER_UID);
			return 32;
		}
		if (errno != EPERM) {
			printf("# pidfd_getfd: %s (expected EPERM)\n", strerror(errno));
			return 33;
		}
	}
	return 0;
}

/**
 * owner_process() - as @uid, create a blk device and hold it until killed
 * @uid:	owner
 * @pfd:	write end of a pipe: the fd number is written there
 */
static void owner_process(uid_t uid, int pfd)
{
	int fd;

	if (become(uid))
		_exit(1);
	fd = devfd_create(VIRTIO_ID_BLOCK, 1, 64, 1 << 20, NULL);
	if (write(pfd, &fd, sizeof(fd)) != sizeof(fd))
		_exit(2);
	pause();
	_exit(0);
}

/**
 * check_other_user() - another uid against a device owned by @uid
 * @uid:	owner uid
 * @peer:	the other uid
 * @what:	for the TAP line
 */
static void check_other_user(uid_t uid, uid_t peer, const char *what)
{
	struct peek p;
	int pfd[2], st, rc;

	if (pipe(pfd)) {
		tap_ok(false, "%s: pipe", what);
		return;
	}
	fflush(stdout);
	p.owner = fork();
	if (p.owner == 0)
		owner_process(uid, pfd[1]);
	close(pfd[1]);
	if (read(pfd[0], &p.fd, sizeof(p.fd)) != sizeof(p.fd) || p.fd < 0) {
		tap_ok(false, "%s: the owner could not create its device", what);
		kill(p.owner, SIGKILL);
		waitpid(p.owner, &st, 0);
		close(pfd[0]);
		return;
	}
	close(pfd[0]);
	rc = in_child(peer, other_user_body, &p);
	tap_ok(rc == 0, "%s: uid %d cannot open /proc/PID/fd of the owner nor pidfd_getfd() "
	       "its device fd (exit %d)", what, peer, rc);
	rc = in_child(OWNER_UID, stranger_body, NULL);
	tap_ok(rc == 0, "%s: another uid %d process's own /dev/uvirtio fd reaches no "
	       "device: ENODEV, no mapping (exit %d)", what, OWNER_UID, rc);
	kill(p.owner, SIGKILL);
	waitpid(p.owner, &st, 0);
}

int main(void)
{
	long end;

	require_uvirtio(REQ_ROOT);
	tap_plan(7);
	tap_ok(in_child(OWNER_UID, types_body, NULL) == 0,
	       "uid 1000: every device type but blk and net is refused with EPROTONOSUPPORT; "
	       "blk is created, net only in its own network namespace (EPERM in the init one)");
	tap_ok(in_child(OWNER_UID, mmap_body, NULL) == 0,
	       "uid 1000: no mapping beyond the domain (longer, past the end, far offset: "
	       "EINVAL), mremap cannot grow it, no private mapping");
	check_other_user(OWNER_UID, OTHER_UID, "device of uid 1000");
	check_other_user(0, OWNER_UID, "device of root");
	for (end = temu_now_ms() + 10000; temu_read_long("/sys/class/misc/uvirtio/devices") &&
	     temu_now_ms() < end; usleep(20000))
		;
	tap_ok(temu_read_long("/sys/class/misc/uvirtio/devices") == 0,
	       "no device left once the owners are gone");
	return tap_done();
}

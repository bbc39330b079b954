// SPDX-License-Identifier: GPL-2.0-only
/*
 * uring_cmd - hostile and ordinary use of the io_uring commands on the
 * device fd (UVIRTIO_URING_WAIT and UVIRTIO_URING_COMMIT).
 *
 * Checked: an fd with no device refuses them (ENODEV); a bad queue index,
 * non-zero flags or an unknown command are refused (EINVAL, ENOTTY);
 * before START a COMMIT takes nothing and a WAIT ends by itself within
 * its bound (0); on a live disk a WAIT with a stale avail index ends at
 * once (1), a second WAIT on the queue is refused (EBUSY), a kick ends a
 * parked WAIT (1) and a COMMIT delivers completions published without any
 * call eventfd write (the reader's I/O finishes); a COMMIT of a bad entry
 * fails (EIO) and the device's death ends a pending WAIT at once (ENODEV);
 * once the device is removed both commands fail (ENODEV); a process
 * that closes its device fd and exits, or is killed, with a WAIT pending
 * is gone within 3 s and so is its disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testemu.h"
#include "require.h"
#include "uring.h"
#include "unit/tap.h"

#define DISK_BYTES	(16u << 20)
#define TAG_A		1
#define TAG_B		2

/* Wait up to @ms for one completion of @u; its result, or -ETIME. */
static int reap_one(struct blk_uring *u, long ms, uintptr_t *tag)
{
	struct __kernel_timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	struct io_uring_cqe *cqe;
	int ret;

	ret = io_uring_wait_cqe_timeout(&u->ring, &cqe, &ts);
	if (ret)
		return ret;
	ret = cqe->res;
	if (tag)
		*tag = (uintptr_t)io_uring_cqe_get_data(cqe);
	io_uring_cqe_seen(&u->ring, cqe);
	return ret;
}

static uint16_t avail_idx(struct temu *t)
{
	return __atomic_load_n(&t->d.q[0].vq.avail->idx, __ATOMIC_ACQUIRE);
}

/* One O_DIRECT read of the disk in a child; its pid. */
static pid_t read_child(const char *node)
{
	pid_t pid = fork();
	void *buf;
	int fd;

	if (pid)
		return pid;
	fd = open(node, O_RDONLY | O_DIRECT);
	if (fd < 0 || posix_memalign(&buf, 4096, 4096))
		_exit(2);
	_exit(pread(fd, buf, 4096, 8192) == 4096 ? 0 : 3);
}

/* Wait up to @ms for @pid; its exit status, 128 + signal, or -1. */
static int wait_pid(pid_t pid, long ms)
{
	long end = temu_now_ms() + ms;
	int st;

	while (temu_now_ms() < end) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static bool gone_within(const char *path, long ms)
{
	long end = temu_now_ms() + ms;
	struct stat sb;

	while (temu_now_ms() < end) {
		if (stat(path, &sb))
			return true;
		usleep(20000);
	}
	return false;
}

static void refused(void)
{
	struct temu t = { 0 };
	struct uvdev bare = { 0 };
	long t0;
	int r;

	r = uvdev_open(&bare, UVDEV_PATH);
	tap_ok(!r && blk_uring_cmd_once(bare.fd, UVIRTIO_URING_COMMIT, 0, 0, 0) == -ENODEV &&
	       blk_uring_cmd_once(bare.fd, UVIRTIO_URING_WAIT, 0, 0, 0) == -ENODEV,
	       "an fd without a device refuses both commands (ENODEV)");
	uvdev_close(&bare);

	/* Created, not started: no queue is set up. */
	r = temu_create_stopped(&t, DISK_BYTES, 128);
	tap_ok(!r && blk_uring_cmd_once(t.d.fd, UVIRTIO_URING_COMMIT, 1, 0, 0) == -EINVAL &&
	       blk_uring_cmd_once(t.d.fd, UVIRTIO_URING_WAIT, 1, 0, 0) == -EINVAL &&
	       blk_uring_cmd_once(t.d.fd, UVIRTIO_URING_WAIT, 0xffffffffu, 0, 0) == -EINVAL &&
	       blk_uring_cmd_once(t.d.fd, UVIRTIO_URING_WAIT, 0, 0, 1) == -EINVAL &&
	       blk_uring_cmd_once(t.d.fd, UVIRTIO_URING_COMMIT, 0, 1, 0) == -EINVAL,
	       "bad queue index, flags or COMMIT argument: EINVAL");
	tap_ok(!r && blk_uring_cmd_once(t.d.fd, UVIRTIO_URING_COMMIT + 1, 0, 0, 0) == -ENOTTY,
	       "unknown command: ENOTTY");
	tap_ok(!r && blk_uring_cmd_once(t.d.fd, UVIRTIO_URING_COMMIT, 0, 0, 0) == 0,
	       "COMMIT before START takes nothing (0)");
	t0 = temu_now_ms();
	r = r ? r : blk_uring_cmd_once(t.d.fd, UVIRTIO_URING_WAIT, 0, 0, 0);
	t0 = temu_now_ms() - t0;
	tap_ok(r == 0 && t0 >= 500 && t0 < 3000,
	       "WAIT before START ends by itself with 0 (%d after %ld ms)", r, t0);
	temu_close(&t);
}

static void live(void)
{
	struct temu t = { 0 };
	struct blk_uring u = { 0 };
	char sys[96];
	uintptr_t tag = 0;
	uint16_t seen;
	long t0;
	struct uvq *vq;
	pid_t pid;
	int r, st, call_fd, bad;

	if (temu_create(&t, DISK_BYTES, 128) || temu_wait_disk(&t, 30000) ||
	    blk_uring_init(&u, 8, -1, -1, NULL, 0, NULL)) {
		tap_ok(false, "live disk with an io_uring");
		temu_close(&t);
		return;
	}
	tap_ok(true, "live disk %s with an io_uring", t.node);
	snprintf(sys, sizeof(sys), "/sys/block/%.40s", t.node + 5);

	seen = avail_idx(&t);
	t0 = temu_now_ms();
	r = blk_uring_cmd_once(t.d.fd, UVIRTIO_URING_WAIT, 0, seen - 1, 0);
	tap_ok(r == 1 && temu_now_ms() - t0 < 500,
	       "WAIT with a stale avail index ends at once with 1 (%d)", r);

	blk_uring_cmd(&u, t.d.fd, UVIRTIO_URING_WAIT, 0, seen, TAG_A);
	blk_uring_cmd(&u, t.d.fd, UVIRTIO_URING_WAIT, 0, seen, TAG_B);
	blk_uring_submit(&u);
	r = reap_one(&u, 500, &tag);
	tap_ok(r == -EBUSY && tag == TAG_B, "a second WAIT on the queue: EBUSY (%d)", r);

	/*
	 * A kick ends the parked WAIT well within its one-second bound. The
	 * read it is for is served and published, but with no call eventfd
	 * to write: only a COMMIT can deliver it.
	 */
	call_fd = t.d.q[0].vq.call_fd;
	t.d.q[0].vq.call_fd = -1;
	pid = read_child(t.node);
	r = reap_one(&u, 900, &tag);
	tap_ok(r == 1 && tag == TAG_A, "the driver's kick ends a parked WAIT with 1 (%d)", r);

	t0 = temu_now_ms();
	while (temu_now_ms() - t0 < 2000 &&
	       t.d.q[0].vq.published == t.d.q[0].vq.signalled)
		temu_serve(&t, 20);
	r = blk_uring_cmd_once(t.d.fd, UVIRTIO_URING_COMMIT, 0, 0, 0);
	st = wait_pid(pid, 5000);
	tap_ok(r >= 1 && st == 0, "COMMIT delivers unsignalled completions (%d taken, reader %d)",
	       r, st);
	t.d.q[0].vq.call_fd = call_fd;

	/* A bad COMMIT kills the device, which ends a pending WAIT at once. */
	blk_uring_cmd(&u, t.d.fd, UVIRTIO_URING_WAIT, 0, avail_idx(&t), TAG_A);
	blk_uring_submit(&u);
	r = reap_one(&u, 100, NULL);
	vq = &t.d.q[0].vq;
	vq->shadow->ring[vq->shadow_idx & (vq->num - 1)] =
		(struct uvirtio_used_elem){ .id = vq->num + 7 };
	__atomic_store_n(&vq->shadow->idx, ++vq->shadow_idx, __ATOMIC_RELEASE);
	vq->published = vq->signalled = vq->shadow_idx;
	t0 = temu_now_ms();
	bad = blk_uring_cmd_once(t.d.fd, UVIRTIO_URING_COMMIT, 0, 0, 0);
	st = reap_one(&u, 1000, NULL);
	t0 = temu_now_ms() - t0;
	tap_ok(r == -ETIME && bad == -EIO && st == -ENODEV && t0 < 500,
	       "a bad COMMIT fails (%d) and the death ends a pending WAIT at once (%d after %ld ms)",
	       bad, st, t0);
	r = temu_wait_removed(&t, 10000);
	tap_ok(!r && blk_uring_cmd_once(t.d.fd, UVIRTIO_URING_WAIT, 0, 0, 0) == -ENODEV &&
	       blk_uring_cmd_once(t.d.fd, UVIRTIO_URING_COMMIT, 0, 0, 0) == -ENODEV,
	       "after removal both commands fail with ENODEV");
	io_uring_queue_exit(&u.ring);
	temu_close(&t);
	tap_ok(gone_within(sys, 5000), "the disk is gone");
}

/*
 * A child with a live disk and a WAIT pending closes its device fd and
 * exits (@kill false), or is killed; it must be reaped within 3 s and its
 * disk gone within 5 s more.
 */
static void leave_pending(bool kill9)
{
	const char *how = kill9 ? "killed" : "closing its fd and exiting";
	int pfd[2], st;
	char node[64] = "";
	char sys[96];
	pid_t pid;

	if (pipe(pfd))
		return;
	pid = fork();
	if (pid == 0) {
		struct temu t = { 0 };
		struct blk_uring u = { 0 };

		close(pfd[0]);
		if (temu_create(&t, DISK_BYTES, 128) || temu_wait_disk(&t, 30000) ||
		    blk_uring_init(&u, 8, -1, -1, NULL, 0, NULL))
			_exit(2);
		blk_uring_cmd(&u, t.d.fd, UVIRTIO_URING_WAIT, 0, avail_idx(&t), TAG_A);
		blk_uring_submit(&u);
		if (write(pfd[1], t.node, strlen(t.node) + 1) < 0)
			_exit(2);
		if (kill9)
			pause();
		temu_close(&t);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], node, sizeof(node) - 1) <= 0)
		node[0] = 0;
	close(pfd[0]);
	snprintf(sys, sizeof(sys), "/sys/block/%.40s", node + 5);
	if (kill9 && node[0]) {
		usleep(100000);
		kill(pid, SIGKILL);
	}
	st = wait_pid(pid, 3000);
	tap_ok(node[0] && st == (kill9 ? 128 + SIGKILL : 0),
	       "WAIT pending, %s: the process is gone within 3 s (%d)", how, st);
	tap_ok(node[0] && gone_within(sys, 5000), "WAIT pending, %s: %s is gone", how,
	       node[0] ? node : "(no disk)");
}

int main(void)
{
	require_uvirtio(REQ_ROOT);
	tap_plan(5 + 8 + 4);
	refused();
	live();
	leave_pending(false);
	leave_pending(true);
	return tap_done();
}

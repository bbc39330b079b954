// SPDX-License-Identifier: GPL-2.0-only
/*
 * quota_userns - subordinate uids do not multiply a user's caps.
 *
 * A rootless container of uid 1000 maps many uids (here, as newuidmap does
 * it for /etc/subuid, 0..7 inside map to 100000..100007 outside). Each
 * mapped uid is a kuid of its own, but all of them act for uid 1000: the
 * per-user caps (max_user_devices, set to 4 here) must count their
 * devices together, and together with uid 1000's own outside the
 * namespace. Checked: devices created as 6 different mapped uids, one
 * each, held open at once: 4 succeed, the rest fail with EDQUOT; then
 * uid 1000 outside the namespace is refused too; once they are closed
 * uid 1000 may create again. Needs root (parameters, uid maps).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/virtio_ids.h>

#include "devfd.h"
#include "testemu.h"
#include "require.h"
#include "unit/tap.h"

#define OWNER		1000
#define SUBUID_BASE	100000
#define MAPPED		8
#define TRIES		6
#define CAP		4
#define PARAM		"/sys/module/uvirtio/parameters/max_user_devices"

static void param_set(long v)
{
	FILE *f = fopen(PARAM, "w");

	if (f) {
		fprintf(f, "%ld\n", v);
		fclose(f);
	}
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
	close(fd);
	return ok ? 0 : -1;
}

/*
 * The namespace's first process: as uid 1000, a new user namespace; wait
 * for the parent to write the maps; then one grandchild per mapped uid
 * creates a device and holds it. Writes one result byte per try to @out:
 * 'o' created, 'q' EDQUOT, 'e' anything else. Holds until @hold closes.
 */
static int ns_body(int go, int out, int hold)
{
	pid_t kids[TRIES];
	char c;
	int i;

	if (setgroups(0, NULL) || setresgid(OWNER, OWNER, OWNER) ||
	    setresuid(OWNER, OWNER, OWNER) || unshare(CLONE_NEWUSER))
		return 2;
	if (write(out, "r", 1) != 1 || read(go, &c, 1) != 1)
		return 3;
	for (i = 0; i < TRIES; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			int fd;

			if (setresgid(i, i, i) || setresuid(i, i, i))
				_exit(4);
			fd = devfd_create(VIRTIO_ID_BLOCK, 1, 64, 1 << 20, NULL);
			c = fd >= 0 ? 'o' : fd == -EDQUOT ? 'q' : 'e';
			if (write(out, &c, 1) != 1)
				_exit(5);
			/* hold the device until the test is over */
			read(hold, &c, 1);
			_exit(0);
		}
		/* one at a time, so the order of results is the order of tries */
		usleep(200000);
	}
	for (i = 0; i < TRIES; i++)
		waitpid(kids[i], NULL, 0);
	return 0;
}

int main(void)
{
	int go[2], out[2], hold[2], st, i, fd, created = 0, quota = 0;
	char map[64], path[64], res[TRIES + 1] = "", c;
	long saved;
	pid_t pid, p;

	require_uvirtio(REQ_ROOT);
	tap_plan(3);
	saved = temu_read_long(PARAM);
	if (saved < 0) {
		tap_diag("no %s", PARAM);
		return 1;
	}
	param_set(CAP);
	if (pipe(go) || pipe(out) || pipe(hold))
		return 1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(go[1]);
		close(out[0]);
		close(hold[1]);
		_exit(ns_body(go[0], out[1], hold[0]));
	}
	close(go[0]);
	close(out[1]);
	close(hold[0]);
	/* What newuidmap/newgidmap do for a user with /etc/subuid ranges. */
	if (read(out[0], &c, 1) != 1)
		tap_diag("namespace child failed");
	snprintf(map, sizeof(map), "0 %d %d\n", SUBUID_BASE, MAPPED);
	snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
	if (write_file(path, map))
		tap_diag("cannot write %s", path);
	snprintf(path, sizeof(path), "/proc/%d/setgroups", pid);
	write_file(path, "deny");
	snprintf(path, sizeof(path), "/proc/%d/gid_map", pid);
	if (write_file(path, map))
		tap_diag("cannot write %s", path);
	if (write(go[1], "g", 1) != 1)
		return 1;
	for (i = 0; i < TRIES && read(out[0], &res[i], 1) == 1; i++) {
		created += res[i] == 'o';
		quota += res[i] == 'q';
	}
	tap_diag("max_user_devices=%d; mapped uids 0..%d (kuid %d..%d) got: %s "
		 "(o created, q EDQUOT, e other)", CAP, TRIES - 1, SUBUID_BASE,
		 SUBUID_BASE + TRIES - 1, res);
	tap_ok(created == CAP && quota == TRIES - CAP,
	       "devices of uid 1000's subordinate uids count together: %d created, "
	       "then EDQUOT", CAP);

	/* uid 1000 itself, outside the namespace, shares the same cap */
	p = fork();
	if (p == 0) {
		if (setgroups(0, NULL) || setresgid(OWNER, OWNER, OWNER) ||
		    setresuid(OWNER, OWNER, OWNER))
			_exit(2);
		fd = devfd_create(VIRTIO_ID_BLOCK, 1, 64, 1 << 20, NULL);
		_exit(fd == -EDQUOT ? 0 : 1);
	}
	waitpid(p, &st, 0);
	tap_ok(WIFEXITED(st) && !WEXITSTATUS(st),
	       "uid 1000 outside the namespace is refused with EDQUOT while they exist");

	close(hold[1]);
	waitpid(pid, &st, 0);
	usleep(500000);
	p = fork();
	if (p == 0) {
		if (setgroups(0, NULL) || setresgid(OWNER, OWNER, OWNER) ||
		    setresuid(OWNER, OWNER, OWNER))
			_exit(2);
		for (i = 0; i < 50; i++) {
			fd = devfd_create(VIRTIO_ID_BLOCK, 1, 64, 1 << 20, NULL);
			if (fd >= 0)
				_exit(0);
			usleep(100000);
		}
		_exit(1);
	}
	waitpid(p, &st, 0);
	tap_ok(WIFEXITED(st) && !WEXITSTATUS(st),
	       "once they are closed, uid 1000 may create again");
	param_set(saved);
	return tap_done();
}

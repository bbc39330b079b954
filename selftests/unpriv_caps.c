// SPDX-License-Identifier: GPL-2.0-only
/*
 * unpriv_caps - per-user caps on devices, queues and bounce memory.
 *
 * The contract (issue 6, DESIGN decision 6): module parameters
 * max_user_devices (default 16), max_user_queues (256) and
 * max_user_bounce_mb (1024) cap what one uid without CAP_SYS_ADMIN may
 * hold at once; UVIRTIO_CREATE beyond a cap fails with EDQUOT and a
 * rate-limited kernel log line. Root is limited only by the global
 * max_devices (ENOSPC). Checked here with the parameters set low:
 * each cap is enforced at exactly its value for uid 1000, is per uid
 * (uid 1001 has its own), frees up when a device goes, and does not apply
 * to root; the refusals leave a few log lines, not one per refusal; the
 * defaults are as documented. Parameters are restored at the end.
 * Needs root (parameters, uids).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/uvirtio.h>
#include <linux/virtio_ids.h>

#include "devfd.h"
#include "testemu.h"
#include "require.h"
#include "unit/tap.h"

#define PARAMS		"/sys/module/uvirtio/parameters/"
#define DEVICES		"/sys/class/misc/uvirtio/devices"
#define USER_A		1000
#define USER_B		1001
#define MAX_FDS		64

static const char *const params[] = {
	"max_user_devices", "max_user_queues", "max_user_bounce_mb", "max_devices",
};
static long saved[4];

/**
 * param_path() - sysfs path of a module parameter
 * @name:	parameter
 * @buf:	output
 * @len:	bytes at @buf
 *
 * Return: @buf
 */
static const char *param_path(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, PARAMS "%s", name);
	return buf;
}

/**
 * param_get() - read a module parameter
 * @name:	parameter
 *
 * Return: its value, or -1
 */
static long param_get(const char *name)
{
	char p[128];

	return temu_read_long(param_path(name, p, sizeof(p)));
}

/**
 * param_set() - write a module parameter
 * @name:	parameter
 * @v:		value
 *
 * Return: 0 or -errno
 */
static int param_set(const char *name, long v)
{
	char p[128];
	FILE *f = fopen(param_path(name, p, sizeof(p)), "w");
	int ret = 0;

	if (!f)
		return -errno;
	if (fprintf(f, "%ld\n", v) < 0)
		ret = -EIO;
	if (fclose(f))
		ret = -errno;
	return ret;
}

static int fds[MAX_FDS];
/* The write end of the holder's pipe: children must not keep it open. */
static int hold_wr = -1;
static unsigned int nfds;

/**
 * expect() - create as told and compare with the expected result
 * @nq:		queues
 * @mb:		bounce MiB
 * @want:	0 for success, or the expected -errno
 * @what:	for the message
 *
 * Return: 0 if as expected, else 1 (with a diagnostic)
 */
static int expect(unsigned int nq, unsigned int mb, int want, const char *what)
{
	int fd = devfd_create(VIRTIO_ID_BLOCK, nq, 16, (uint64_t)mb << 20, NULL);

	if (fd >= 0 && nfds < MAX_FDS)
		fds[nfds++] = fd;
	if ((fd >= 0 && !want) || fd == want)
		return 0;
	printf("# uid %d, %s: %s, expected %s\n", (int)geteuid(), what,
	       fd >= 0 ? "created" : strerror(-fd), want ? strerror(-want) : "success");
	return 1;
}

/**
 * close_all() - close every device this process holds
 */
static void close_all(void)
{
	while (nfds)
		close(fds[--nfds]);
}

/* Device cap 3: three devices, then EDQUOT; one closed, one more fits. */
static int devices_body(void)
{
	int bad = 0;

	bad += expect(1, 1, 0, "device 1 of 3");
	bad += expect(1, 1, 0, "device 2 of 3");
	bad += expect(1, 1, 0, "device 3 of 3");
	bad += expect(1, 1, -EDQUOT, "device 4 of 3");
	close(fds[--nfds]);
	bad += expect(1, 1, 0, "device 3 of 3 again, after a close");
	bad += expect(1, 1, -EDQUOT, "device 4 of 3 again");
	close_all();
	return bad;
}

/* Queue cap 4: 2 + 2 queues, then EDQUOT for one more; 5 at once too. */
static int queues_body(void)
{
	int bad = 0;

	bad += expect(5, 1, -EDQUOT, "one device with 5 of 4 queues");
	bad += expect(2, 1, 0, "queues 1-2 of 4");
	bad += expect(2, 1, 0, "queues 3-4 of 4");
	bad += expect(1, 1, -EDQUOT, "queue 5 of 4");
	close_all();
	bad += expect(4, 1, 0, "4 of 4 queues after closing");
	close_all();
	return bad;
}

/* Bounce cap 2 MiB: 1 + 1 MiB, then EDQUOT; 4 MiB at once too. */
static int bounce_body(void)
{
	int bad = 0;

	bad += expect(1, 4, -EDQUOT, "4 MiB of 2 MiB bounce at once");
	bad += expect(1, 1, 0, "bounce MiB 1 of 2");
	bad += expect(1, 1, 0, "bounce MiB 2 of 2");
	bad += expect(1, 1, -EDQUOT, "bounce MiB 3 of 2");
	close_all();
	return bad;
}

/* Many refusals: for the log check. */
static int storm_body(void)
{
	unsigned int i;
	int bad = 0;

	bad += expect(1, 1, 0, "the one device allowed");
	for (i = 0; i < 50; i++)
		bad += expect(1, 1, -EDQUOT, "refusal storm");
	close_all();
	return bad ? 1 : 0;
}

/* Hold the cap's worth of devices until stdin closes, then check uid B. */
static int hold_body(void)
{
	int bad = 0;
	char c;

	bad += expect(1, 1, 0, "holder device 1 of 2");
	bad += expect(1, 1, 0, "holder device 2 of 2");
	printf("# uid %d holds 2 devices\n", (int)geteuid());
	fflush(stdout);
	if (read(0, &c, 1) < 0)
		bad++;
	close_all();
	return bad;
}

/**
 * as_user() - run @fn as @uid in a child
 * @uid:	uid
 * @fn:		body
 * @in:		stdin for the child, or -1
 *
 * Return: pid
 */
static pid_t as_user(uid_t uid, int (*fn)(void), int in)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (in >= 0)
			dup2(in, 0);
		if (hold_wr >= 0)
			close(hold_wr);
		if (setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
			_exit(99);
		_exit(fn());
	}
	return pid;
}

/**
 * wait_rc() - exit code of @pid
 * @pid:	child
 *
 * Return: exit code, or 100 + signal
 */
static int wait_rc(pid_t pid)
{
	int st;

	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return 98;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

/**
 * kmsg_count() - records since @fd was opened that mention "uvirtio"
 * @fd:		/dev/kmsg, non-blocking
 * @last:	out: the last one
 * @len:	bytes at @last
 *
 * Return: count
 */
static int kmsg_count(int fd, char *last, size_t len)
{
	char rec[1024];
	ssize_t r;
	int n = 0;

	while ((r = read(fd, rec, sizeof(rec) - 1)) > 0 || (r < 0 && errno == EPIPE)) {
		if (r <= 0)
			continue;
		rec[r] = 0;
		if (strstr(rec, "uvirtio")) {
			n++;
			snprintf(last, len, "%s", strchr(rec, ';') ? strchr(rec, ';') + 1 : rec);
		}
	}
	return n;
}

int main(void)
{
	unsigned int i;
	int rc, p[2], kmsg, n;
	char line[1024] = "";
	pid_t a;

	require_uvirtio(REQ_ROOT);
	tap_plan(10);
	for (i = 0; i < 4; i++)
		saved[i] = param_get(params[i]);
	if (saved[0] < 0 || saved[1] < 0 || saved[2] < 0) {
		tap_ok(false, "the module has max_user_devices, max_user_queues and "
		       "max_user_bounce_mb (not yet: needs the commit \"kmod: per-user caps\")");
		tap_diag("remaining checks not run");
		return 1;
	}
	tap_ok(saved[0] == 16 && saved[1] == 256 && saved[2] == 1024,
	       "defaults: max_user_devices %ld (16), max_user_queues %ld (256), "
	       "max_user_bounce_mb %ld (1024)", saved[0], saved[1], saved[2]);

	param_set("max_user_devices", 3);
	tap_ok(wait_rc(as_user(USER_A, devices_body, -1)) == 0,
	       "max_user_devices=3: uid 1000 gets 3 devices, the 4th fails with EDQUOT, "
	       "a closed one frees its place");
	param_set("max_user_devices", 100);

	param_set("max_user_queues", 4);
	tap_ok(wait_rc(as_user(USER_A, queues_body, -1)) == 0,
	       "max_user_queues=4: 2+2 queues fit, a 5th fails with EDQUOT, so does "
	       "one device of 5");
	param_set("max_user_queues", saved[1]);

	param_set("max_user_bounce_mb", 2);
	tap_ok(wait_rc(as_user(USER_A, bounce_body, -1)) == 0,
	       "max_user_bounce_mb=2: 1+1 MiB fit, a 3rd MiB fails with EDQUOT, so "
	       "does 4 MiB at once");
	param_set("max_user_bounce_mb", saved[2]);

	/* Per uid: while uid 1000 holds its cap, uid 1001 gets its own. */
	param_set("max_user_devices", 2);
	if (pipe(p)) {
		tap_ok(false, "pipe");
		p[0] = p[1] = -1;
	}
	hold_wr = p[1];
	a = as_user(USER_A, hold_body, p[0]);
	for (n = 0; n < 500 && temu_read_long(DEVICES) < 2; n++)
		usleep(10000);
	rc = wait_rc(as_user(USER_B, hold_body, open("/dev/null", O_RDONLY)));
	close(p[1]);
	hold_wr = -1;
	tap_ok(rc == 0 && wait_rc(a) == 0,
	       "the cap is per uid: uid 1001 gets 2 devices while uid 1000 holds 2");
	close(p[0]);

	/* Root is not capped per user; only max_devices (ENOSPC). */
	param_set("max_user_devices", 1);
	rc = 0;
	for (i = 0; i < 3; i++)
		rc += expect(1, 1, 0, "root: device beyond max_user_devices=1");
	tap_ok(!rc, "root is not held to max_user_devices (3 devices with the cap at 1)");
	param_set("max_devices", nfds + 1);
	rc = expect(1, 1, 0, "root: last device of max_devices");
	rc += expect(1, 1, -ENOSPC, "root: one beyond max_devices");
	tap_ok(!rc, "root is held to max_devices: ENOSPC beyond it");
	close_all();
	param_set("max_devices", saved[3]);

	/* 50 refusals: at least one log line, rate-limited to a few. */
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg >= 0)
		lseek(kmsg, 0, SEEK_END);
	rc = wait_rc(as_user(USER_A, storm_body, -1));
	n = kmsg >= 0 ? kmsg_count(kmsg, line, sizeof(line)) : -1;
	tap_ok(rc == 0 && n >= 1 && n <= 12,
	       "50 refusals with EDQUOT leave 1..12 kernel log lines (%d; last: %s)", n,
	       strtok(line, "\n") ? line : "");
	if (kmsg >= 0)
		close(kmsg);
	param_set("max_user_devices", saved[0]);

	for (i = 0; i < 4; i++)
		if (saved[i] >= 0)
			param_set(params[i], saved[i]);
	tap_ok(param_get(params[0]) == saved[0] && param_get(params[1]) == saved[1] &&
	       param_get(params[2]) == saved[2] && param_get(params[3]) == saved[3],
	       "parameters restored");
	for (n = 0; n < 500 && temu_read_long(DEVICES); n++)
		usleep(10000);
	tap_ok(temu_read_long(DEVICES) == 0, "no device left");
	return tap_done();
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * recovery - a recovery-mode disk survives its emulator being killed.
 *
 * A file-backed disk is served by an emulator process running as uid 1000
 * in recovery mode. While fio writes and verifies (crc32c) through the
 * disk, the emulator is killed with SIGKILL and a new process takes the
 * device over (UVIRTIO_ATTACH), 20 times. fio must finish with no I/O
 * error and no verify error. Then: another user cannot take the device
 * over (EPERM), its state reads "recovering" while orphaned, and with no
 * one taking over, waiting I/O fails and the device goes away after the
 * module's recovery_timeout.
 *
 * Runs as root; "recovery emulate FILE INDEX" is the emulator (INDEX -1
 * creates the device).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/uvirtio.h>
#include "testemu.h"
#include "require.h"
#include "unit/tap.h"

#define USER_UID	1000
#define OTHER_UID	1001
#define DISK_BYTES	(64ULL << 20)
#define KILLS		20
#define IMG		"/tmp/uv-recovery.img"
#define PARAM		"/sys/module/uvirtio/parameters/recovery_timeout"

static const char *self;

/* The emulator: create (index < 0) or take over, then serve until killed. */
static int emulate(const char *file, int index)
{
	static struct temu t;
	int ret;

	t.file = file;
	t.recovery = true;
	if (index < 0) {
		ret = temu_create(&t, DISK_BYTES, 128);
		if (!ret)
			ret = temu_wait_disk(&t, 20000);
		if (ret) {
			printf("error %d\n", ret);
			return 1;
		}
		printf("index %u %s\n", t.d.index, t.node);
	} else {
		ret = temu_attach(&t, index, DISK_BYTES);
		printf(ret ? "error %d\n" : "attached %d\n", ret ? ret : index);
		if (ret)
			return 1;
	}
	fflush(stdout);
	while (!(ret = temu_serve(&t, 1000)))
		;
	return ret == -ESHUTDOWN ? 0 : 1;
}

/**
 * struct emu - an emulator process
 * @pid:	its pid
 * @out:	its stdout
 */
struct emu {
	pid_t pid;
	FILE *out;
};

/* Start "self emulate IMG index" as @uid; its first line goes to @line. */
static int emu_spawn(struct emu *e, uid_t uid, int index, char *line, size_t len)
{
	char idx[16];
	int p[2];

	if (pipe(p))
		return -errno;
	snprintf(idx, sizeof(idx), "%d", index);
	e->pid = fork();
	if (e->pid < 0)
		return -errno;
	if (!e->pid) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		if (setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
			_exit(127);
		execl(self, self, "emulate", IMG, idx, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	e->out = fdopen(p[0], "r");
	line[0] = 0;
	if (!e->out || !fgets(line, len, e->out))
		return -EIO;
	return 0;
}

static void emu_kill(struct emu *e)
{
	kill(e->pid, SIGKILL);
	waitpid(e->pid, NULL, 0);
	fclose(e->out);
}

static void write_param(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);

	if (fd >= 0) {
		if (write(fd, val, strlen(val)) < 0)
			tap_diag("write %s: %s", path, strerror(errno));
		close(fd);
	}
}

static void read_state(unsigned int index, char *buf, size_t len)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/misc/uvirtio/uvirtio-%u/state", index);
	buf[0] = 0;
	f = fopen(path, "r");
	if (f) {
		if (!fgets(buf, len, f))
			buf[0] = 0;
		buf[strcspn(buf, "\n")] = 0;
		fclose(f);
	}
}

/* Start fio on @node: random writes, then a crc32c verify of all of them. */
static pid_t fio_start(const char *node, int round)
{
	char name[32], out[64];
	pid_t pid;

	snprintf(name, sizeof(name), "--name=recovery%d", round);
	snprintf(out, sizeof(out), "--output=/tmp/uv-recovery-fio%d.log", round);
	pid = fork();
	if (!pid) {
		execlp("fio", "fio", name, "--filename", node, "--rw=randwrite",
		       "--bs=4k", "--size=8M", "--direct=1", "--ioengine=libaio",
		       "--iodepth=16", "--verify=crc32c", "--do_verify=1",
		       "--verify_fatal=1", "--randseed=7", out, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Another user's process may not take the device over. */
static int attach_as(uid_t uid, unsigned int index)
{
	pid_t pid = fork();
	int st;

	if (!pid) {
		struct uvirtio_attach a = { .index = index };
		int fd;

		if (setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
			_exit(100);
		fd = open("/dev/uvirtio", O_RDWR);
		if (fd < 0)
			_exit(101);
		_exit(ioctl(fd, UVIRTIO_ATTACH, &a) < 0 ? errno : 0);
	}
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(int argc, char **argv)
{
	unsigned int index = 0, kills = 0, rounds = 0, fio_fail = 0;
	char line[128], node[64] = "", state[32];
	struct emu e;
	pid_t fio;
	long t0;
	int fd, st, ret;

	self = argv[0];
	if (argc == 4 && !strcmp(argv[1], "emulate"))
		return emulate(argv[2], atoi(argv[3]));
	require_uvirtio(REQ_ROOT);
	if (access(PARAM, F_OK)) {
		printf("1..0 # SKIP uvirtio.ko has no recovery mode\n");
		return 4;
	}
	tap_plan(8);

	fd = open(IMG, O_RDWR | O_CREAT | O_TRUNC, 0666);
	if (fd < 0 || ftruncate(fd, DISK_BYTES) || fchmod(fd, 0666)) {
		tap_diag("%s: %s", IMG, strerror(errno));
		return 1;
	}
	close(fd);
	write_param(PARAM, "30");

	ret = emu_spawn(&e, USER_UID, -1, line, sizeof(line));
	line[strcspn(line, "\n")] = 0;
	if (!tap_ok(!ret && sscanf(line, "index %u %63s", &index, node) == 2,
		    "uid 1000 created a recovery-mode disk (%s)", line)) {
		return tap_done();
	}

	/* Kill and replace the emulator every 150 ms while fio runs. */
	fio = fio_start(node, rounds++);
	while (kills < KILLS || fio) {
		if (fio && waitpid(fio, &st, WNOHANG) == fio) {
			if (!WIFEXITED(st) || WEXITSTATUS(st)) {
				fio_fail++;
				tap_diag("fio round %u: status 0x%x (log /tmp/uv-recovery-fio%u.log)",
					 rounds - 1, st, rounds - 1);
			}
			fio = kills < KILLS ? fio_start(node, rounds++) : 0;
			continue;
		}
		if (kills >= KILLS) {
			usleep(20000);
			continue;
		}
		usleep(150000);
		emu_kill(&e);
		kills++;
		if (kills == 1) {
			read_state(index, state, sizeof(state));
			tap_ok(!strcmp(state, "recovering"),
			       "killed emulator: state reads '%s'", state);
			ret = attach_as(OTHER_UID, index);
			tap_eq(ret, EPERM, "another user cannot take the device over (EPERM)");
		}
		ret = emu_spawn(&e, USER_UID, index, line, sizeof(line));
		if (ret || strncmp(line, "attached", 8)) {
			tap_diag("take-over %u failed: %s", kills, line);
			break;
		}
	}
	tap_eq(kills, KILLS, "emulator killed with SIGKILL and taken over 20 times");
	tap_ok(rounds >= 1 && !fio_fail,
	       "fio randwrite + crc32c verify: %u rounds, %u failed", rounds, fio_fail);
	if (fio) {
		kill(fio, SIGKILL);
		waitpid(fio, NULL, 0);
	}
	if (system("grep -h -E '(WRITE|READ):' /tmp/uv-recovery-fio*.log | sed 's/^ */# fio /'"))
		tap_diag("no fio summary found");
	tap_eq(attach_as(USER_UID, 999), ENOENT, "taking over a device that is not waiting: ENOENT");

	/* Nobody takes over: I/O fails and the device goes. */
	write_param(PARAM, "2");
	emu_kill(&e);
	t0 = temu_now_ms();
	{
		char cmd[160];

		snprintf(cmd, sizeof(cmd),
			 "dd if=%s of=/dev/null bs=4k count=1 skip=100 iflag=direct 2>/dev/null",
			 node);
		ret = system(cmd);
	}
	tap_ok(ret != 0 && temu_now_ms() - t0 < 15000,
	       "with no one taking over, a read fails after %ld ms", temu_now_ms() - t0);
	for (t0 = temu_now_ms(); temu_now_ms() - t0 < 10000; usleep(100000))
		if (temu_read_long("/sys/class/misc/uvirtio/devices") == 0)
			break;
	tap_eq(temu_read_long("/sys/class/misc/uvirtio/devices"), 0,
	       "and the device is removed");
	write_param(PARAM, "30");
	unlink(IMG);
	return tap_done();
}

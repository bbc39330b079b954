// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuzz_capacity - a fuzzer find made deterministic (fuzz_bugs.md 2): an emulator
 * sets a virtio-blk capacity so large that capacity << 9 does not fit a
 * loff_t (0xc175000000008000 sectors, the value fuzz_emu's config storm
 * wrote), alternating with the real one, while buffered writes run. Before
 * the module bounds the capacity, the bdev's i_size wraps negative between
 * blkdev_write_iter()'s size check and iomap's, and a write WARNs in
 * pagecache_isize_extended() (the harness fails the test on it). Checked:
 * the writer returns within 10 s of the end, and the kernel log since the
 * start has no WARNING. Needs root (kmsg).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testemu.h"
#include "require.h"
#include "unit/tap.h"

#define HUGE_CAPACITY	0xc175000000008000ULL

/**
 * writer() - one buffered 4 KiB write at offset 0 and fsync (a child)
 * @node:	the disk
 */
static void writer(const char *node)
{
	char buf[4096];
	unsigned int i, bad = 0;
	int fd = open(node, O_WRONLY);

	memset(buf, 0xa5, sizeof(buf));
	if (fd < 0)
		_exit(2);
	/* Errors are expected while the capacity is junk: keep writing. */
	for (i = 0; i < 3000; i++)
		bad += pwrite(fd, buf, sizeof(buf), (off_t)(i % 1024) * 4096) != sizeof(buf);
	fsync(fd);
	_exit(bad == i ? 1 : 0);
}

/**
 * kmsg_warnings() - records since @fd was opened with WARNING or BUG
 * @fd:		/dev/kmsg, non-blocking
 * @first:	out: the first
 * @len:	bytes at @first
 *
 * Return: count
 */
static int kmsg_warnings(int fd, char *first, size_t len)
{
	char rec[1024];
	ssize_t r;
	int n = 0;

	while ((r = read(fd, rec, sizeof(rec) - 1)) > 0 || (r < 0 && errno == EPIPE)) {
		if (r <= 0)
			continue;
		rec[r] = 0;
		if ((strstr(rec, "WARNING:") || strstr(rec, "BUG:")) && !n++)
			snprintf(first, len, "%s", strchr(rec, ';') ? strchr(rec, ';') + 1 : rec);
	}
	return n;
}

/* A KASAN kernel (the debug lane) is about 5x slower: scale the bound. */
static int slow_factor(void)
{
	char line[256];
	int slow = 1;
	FILE *f = fopen("/proc/kallsyms", "r");

	while (f && slow == 1 && fgets(line, sizeof(line), f))
		if (strstr(line, " kasan_report\n"))
			slow = 5;
	if (f)
		fclose(f);
	return slow;
}

int main(void)
{
	unsigned long long cap = HUGE_CAPACITY, real = (8 << 20) / 512;
	unsigned int flips = 0;
	struct uvirtio_config_update u;
	struct temu t = { 0 };
	char first[1024] = "";
	int kmsg, st = 0, n;
	bool ended = false;
	long end;
	pid_t pid;

	require_uvirtio(REQ_ROOT);
	tap_plan(3);
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg >= 0)
		lseek(kmsg, 0, SEEK_END);
	if (temu_create(&t, 8 << 20, 64) || temu_wait_disk(&t, 30000)) {
		tap_ok(false, "disk appears");
		tap_ok(false, "a buffered write returns within 10 s");
		tap_ok(false, "no WARNING in the kernel log");
		temu_close(&t);
		return tap_done();
	}
	memset(&u, 0, sizeof(u));
	u.offset = 0;
	u.len = 8;
	u.data_addr = (uintptr_t)&cap;
	n = ioctl(t.d.fd, UVIRTIO_SET_CONFIG, &u);
	tap_ok(true, "disk %s; capacity 0x%llx sectors: SET_CONFIG %s", t.node, cap,
	       n ? strerror(errno) : "accepted");
	/* Let the driver's config work run. */
	for (end = temu_now_ms() + 500; temu_now_ms() < end;)
		temu_serve(&t, 20);
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		writer(t.node);
	for (end = temu_now_ms() + 10000L * slow_factor(); temu_now_ms() < end && !ended;) {
		u.data_addr = (uintptr_t)(flips++ & 1 ? &real : &cap);
		ioctl(t.d.fd, UVIRTIO_SET_CONFIG, &u);
		temu_serve(&t, 1);
		ended = waitpid(pid, &st, WNOHANG) == pid;
	}
	temu_close(&t);
	if (!ended) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	tap_ok(ended, "3000 buffered writes while the capacity flips %u times return "
	       "within %d s (%s)", flips, 10 * slow_factor(), !ended ? "hung" :
	       WIFEXITED(st) && !WEXITSTATUS(st) ? "some written" : "all failed");
	n = kmsg >= 0 ? kmsg_warnings(kmsg, first, sizeof(first)) : 0;
	tap_ok(!n, "no WARNING in the kernel log%s%s", n ? ": " : "", strtok(first, "\n") ? first : "");
	return tap_done();
}

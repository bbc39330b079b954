// SPDX-License-Identifier: GPL-2.0-only
/*
 * lifecycle_race - START racing REMOVE, and ATTACH racing close and the
 * recovery timeout, hammered from several threads, leave nothing behind.
 *
 * As uid 1000 (so the per-user charge is exercised too):
 * 0. START after REMOVE is refused (ENODEV), so is a second START (EBUSY);
 * 1. pairs of threads issue UVIRTIO_START and UVIRTIO_REMOVE on a new
 *    device at the same moment, then the fd is closed; repeated;
 * 2. recovery-mode devices are orphaned (fd closed) while several threads
 *    race UVIRTIO_ATTACH on the index and close again what they won, with
 *    the module's recovery_timeout at 0 s (attach against the timer) and
 *    1 s (attach against attach and re-orphaning).
 * 3. (run first, before the memory baseline) an ATTACH issued the moment
 *    the state first reads "recovering" after the close finds the device
 *    waiting (an ATTACH that meets an orphaning under way waits for it), in
 *    each of UV_ADOPT_ROUNDS rounds.
 * Then, with every fd closed: the module's device count and domain pages
 * come back to 0, MemAvailable and Slab come back within a margin of what
 * they were after a warm-up round, and the module unloads (it is loaded
 * again as the VM's init loads it, so later tests still run).
 *
 * Nobody serves the devices: an unprivileged disk reads as empty until its
 * driver bound, so probe issues no I/O. Time per phase: UV_RACE_SECS
 * (default 6, so 18 s in all; a KASAN kernel gets a quarter).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/uvirtio.h>
#include <linux/virtio_ids.h>
#include "testemu.h"
#include "require.h"
#include "unit/tap.h"

#define USER_UID	1000
#define SYSFS		"/sys/class/misc/uvirtio"
#define PARAMS		"/sys/module/uvirtio/parameters"
#define KO		"/uvirtio/uvirtio.ko"
#define RACERS		4
#define SLAB_MARGIN_KB	(16 << 10)
#define AVAIL_MARGIN_KB	(48 << 10)
#define UV_ADOPT_ROUNDS	100

static long race_ms;

static int write_str(const char *path, const char *s)
{
	FILE *f = fopen(path, "we");
	int ret;

	if (!f)
		return -errno;
	ret = fputs(s, f) < 0 ? -EIO : 0;
	if (fclose(f))
		ret = -errno;
	return ret;
}

/* The kB value of @key in /proc/meminfo, or -1. */
static long meminfo_kb(const char *key)
{
	char line[128];
	size_t n = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* A new blk device on a new fd (1 MiB, 1 queue); returns the fd or -errno. */
static int dev_create(bool recovery, unsigned int *index)
{
	uint64_t capacity = 2048;
	struct uvirtio_create c = {
		.device_id = VIRTIO_ID_BLOCK,
		.num_queues = 1,
		.queue_size = 16,
		.config_size = sizeof(capacity),
		.config_addr = (uintptr_t)&capacity,
		.bounce_size = UVIRTIO_MIN_BOUNCE_SIZE,
		.flags = recovery ? UVIRTIO_CREATE_F_RECOVERY : 0,
	};
	int fd = open("/dev/uvirtio", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, UVIRTIO_CREATE, &c) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	if (index)
		*index = c.index;
	return fd;
}

/* Wait up to @ms for device @index's state to read @want. */
static bool state_wait(unsigned int index, const char *want, long ms)
{
	char path[128], buf[32];
	long end = temu_now_ms() + ms;

	snprintf(path, sizeof(path), SYSFS "/uvirtio-%u/state", index);
	do {
		FILE *f = fopen(path, "re");

		buf[0] = 0;
		if (f) {
			if (!fgets(buf, sizeof(buf), f))
				buf[0] = 0;
			fclose(f);
		}
		if (!strncmp(buf, want, strlen(want)))
			return true;
		usleep(10000);
	} while (temu_now_ms() < end);
	return false;
}

/*
 * START once removal began must be refused (the root of the START/REMOVE
 * race: an accepted START could register a device nobody unregisters),
 * and a second START too. As uid 1000; returns the number of failures.
 */
static int start_refusals(void)
{
	int bad = 0, fd = dev_create(false, NULL);

	if (fd < 0)
		return 1;
	if (ioctl(fd, UVIRTIO_REMOVE) || !ioctl(fd, UVIRTIO_START) || errno != ENODEV) {
		printf("START after REMOVE: not refused with ENODEV (%s);", strerror(errno));
		bad++;
	}
	close(fd);
	fd = dev_create(false, NULL);
	if (fd < 0)
		return bad + 1;
	if (ioctl(fd, UVIRTIO_START) || !ioctl(fd, UVIRTIO_START) || errno != EBUSY) {
		printf("second START: not refused with EBUSY (%s);", strerror(errno));
		bad++;
	}
	close(fd);
	return bad;
}

/* Phase 1: one START and one REMOVE thread per round, released together. */
struct sr {
	pthread_barrier_t go, done;
	int fd;
	bool stop;
	unsigned long rounds;
};

static void *sr_thread(void *arg, unsigned long cmd)
{
	struct sr *s = arg;

	for (;;) {
		pthread_barrier_wait(&s->go);
		if (s->stop)
			return NULL;
		if (rand() & 1)
			usleep(rand() % 50);
		ioctl(s->fd, cmd);
		pthread_barrier_wait(&s->done);
	}
}

static void *sr_start(void *arg)
{
	return sr_thread(arg, UVIRTIO_START);
}

static void *sr_remove(void *arg)
{
	return sr_thread(arg, UVIRTIO_REMOVE);
}

static int phase_start_remove(void)
{
	struct sr s = { .fd = -1 };
	pthread_t a, b;
	long end = temu_now_ms() + race_ms;
	int errs = 0;

	pthread_barrier_init(&s.go, NULL, 3);
	pthread_barrier_init(&s.done, NULL, 3);
	pthread_create(&a, NULL, sr_start, &s);
	pthread_create(&b, NULL, sr_remove, &s);
	while (temu_now_ms() < end) {
		s.fd = dev_create(false, NULL);
		if (s.fd < 0) {
			errs++;
			usleep(10000);
			continue;
		}
		pthread_barrier_wait(&s.go);
		pthread_barrier_wait(&s.done);
		/* Sometimes let a registration finish before the close. */
		if (rand() % 4 == 0)
			usleep(rand() % 20000);
		close(s.fd);
		s.rounds++;
	}
	s.stop = true;
	pthread_barrier_wait(&s.go);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	printf("start_remove rounds %lu, create errors %d\n", s.rounds, errs);
	return 0;
}

/* Phase 2: racers take an orphan over and close it again at once. */
struct ac {
	unsigned int index;
	long end;
	unsigned long won;
};

static void *ac_thread(void *arg)
{
	struct ac *a = arg;

	while (temu_now_ms() < a->end) {
		struct uvirtio_attach at = { .index = a->index };
		int fd = open("/dev/uvirtio", O_RDWR | O_CLOEXEC);

		if (fd < 0)
			return NULL;
		if (!ioctl(fd, UVIRTIO_ATTACH, &at)) {
			__atomic_add_fetch(&a->won, 1, __ATOMIC_RELAXED);
			if (rand() & 1)
				usleep(rand() % 200);
		} else if (errno == ENOENT) {
			usleep(100);
		}
		close(fd);
	}
	return NULL;
}

static int phase_attach_close(unsigned long *orphans, unsigned long *won)
{
	long end = temu_now_ms() + race_ms / 2;
	pthread_t t[RACERS];
	unsigned int i;

	while (temu_now_ms() < end) {
		struct ac a;
		int fd = dev_create(true, &a.index);

		if (fd < 0) {
			usleep(10000);
			continue;
		}
		if (ioctl(fd, UVIRTIO_START) || !state_wait(a.index, "live", 10000)) {
			close(fd);
			continue;
		}
		a.end = temu_now_ms() + 300;
		a.won = 0;
		for (i = 0; i < RACERS; i++)
			pthread_create(&t[i], NULL, ac_thread, &a);
		close(fd);	/* orphaned: the racers go */
		for (i = 0; i < RACERS; i++)
			pthread_join(t[i], NULL);
		++*orphans;
		*won += a.won;
	}
	return 0;
}

/* Phase 3: a watcher that attaches as soon as the state reads recovering. */
struct adopt {
	unsigned int index;
	int state_fd, fd, err;
	long end;
};

static void *adopt_watch(void *arg)
{
	struct adopt *a = arg;
	struct uvirtio_attach at = { .index = a->index };
	char buf[16];
	ssize_t n;

	a->err = ETIMEDOUT;
	while (temu_now_ms() < a->end) {
		n = pread(a->state_fd, buf, sizeof(buf) - 1, 0);
		if (n < 10 || memcmp(buf, "recovering", 10))
			continue;
		a->err = ioctl(a->fd, UVIRTIO_ATTACH, &at) ? errno : 0;
		break;
	}
	return NULL;
}

/*
 * Rounds in which the watcher's ATTACH failed (it stops at a tenth of
 * them: each failed round leaves an orphan for recovery_timeout, 1 s, and
 * the user's device quota is soon used up); @why gets the first error. An
 * adopted device is removed, so it goes at once.
 */
static int phase_adopt_on_recovering(int *why)
{
	char path[128];
	int bad = 0, i, fd;
	pthread_t t;

	*why = 0;
	for (i = 0; i < UV_ADOPT_ROUNDS && bad < UV_ADOPT_ROUNDS / 10; i++) {
		struct adopt a = { .fd = -1, .state_fd = -1 };

		fd = dev_create(true, &a.index);
		if (fd < 0 || ioctl(fd, UVIRTIO_START) ||
		    !state_wait(a.index, "live", 10000)) {
			bad++;
			*why = *why ?: fd < 0 ? -fd : errno ?: ETIMEDOUT;
			if (fd >= 0)
				close(fd);
			continue;
		}
		snprintf(path, sizeof(path), SYSFS "/uvirtio-%u/state", a.index);
		a.state_fd = open(path, O_RDONLY | O_CLOEXEC);
		a.fd = open("/dev/uvirtio", O_RDWR | O_CLOEXEC);
		a.end = temu_now_ms() + 5000;
		pthread_create(&t, NULL, adopt_watch, &a);
		close(fd);	/* orphaned: the watcher attaches */
		pthread_join(t, NULL);
		if (a.err) {
			bad++;
			*why = *why ?: a.err;
		} else {
			/* gone at once, not orphaned again: the quota stays free */
			ioctl(a.fd, UVIRTIO_REMOVE);
		}
		close(a.fd);
		close(a.state_fd);
	}
	return bad;
}

/* The hammer, as uid 1000, in a child; its summary goes to stdout. */
static int hammer(void)
{
	unsigned long orphans = 0, won = 0;

	if (setgid(USER_UID) || setuid(USER_UID))
		return 1;
	if (start_refusals()) {
		fflush(stdout);
		return 2;
	}
	if (phase_start_remove())
		return 1;
	/* The parent set recovery_timeout before forking: 0 first, then 1. */
	phase_attach_close(&orphans, &won);
	printf("attach_close orphans %lu, won attaches %lu\n", orphans, won);
	fflush(stdout);
	return 0;
}

/* Phase 3 as uid 1000, in a child: "adopt BAD ERRNO" goes to stdout. */
static int adopt_child(void)
{
	int bad, why;

	if (setgid(USER_UID) || setuid(USER_UID))
		return 1;
	bad = phase_adopt_on_recovering(&why);
	printf("adopt %d %d\n", bad, why);
	fflush(stdout);
	return 0;
}

static int run_child(int (*fn)(void), const char *timeout, char *out,
		     size_t len)
{
	int p[2], status;
	ssize_t n;
	pid_t pid;

	if (write_str(PARAMS "/recovery_timeout", timeout) || pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		_exit(fn());
	}
	close(p[1]);
	n = read(p[0], out, len - 1);
	while (n > 0 && (size_t)n < len - 1) {
		ssize_t m = read(p[0], out + n, len - 1 - n);

		if (m <= 0)
			break;
		n += m;
	}
	out[n > 0 ? n : 0] = 0;
	for (char *c = out; *c; c++)
		if (*c == '\n')
			*c = ';';
	close(p[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* Wait up to @ms for the module's counters to read 0. */
static bool counters_zero(long ms)
{
	long end = temu_now_ms() + ms;

	do {
		if (!temu_read_long(SYSFS "/devices") && !temu_read_long(SYSFS "/domain_pages"))
			return true;
		usleep(50000);
	} while (temu_now_ms() < end);
	return false;
}

static bool module_reload(void)
{
	long end = temu_now_ms() + 10000;

	while (system("rmmod uvirtio 2>/dev/null")) {
		if (temu_now_ms() > end)
			return false;
		usleep(200000);
	}
	return !require_module_load("dev_mode=0666");
}

int main(void)
{
	const char *secs = getenv("UV_RACE_SECS");
	long slab0, avail0, slab1, avail1, old_timeout;
	char out[512], arg[24];
	bool kasan, freed;
	int rc, bad, why;

	require_uvirtio(REQ_ROOT);
	tap_plan(7);
	kasan = !system("grep -qw kasan_report /proc/kallsyms");
	race_ms = (secs ? atol(secs) : 6) * 1000 / (kasan ? 4 : 1);
	if (race_ms <= 0)
		race_ms = 1000;
	old_timeout = temu_read_long(PARAMS "/recovery_timeout");
	srand(getpid());

	/*
	 * Phase 3 first: its hundred device lives are not the hammer's, and a
	 * KASAN kernel's quarantine would count them in the Slab check.
	 */
	rc = run_child(adopt_child, "1", out, sizeof(out));
	if (rc || sscanf(out, "adopt %d %d", &bad, &why) != 2) {
		bad = UV_ADOPT_ROUNDS;
		why = EPROTO;
	}
	tap_ok(!bad, "ATTACH the moment the state reads recovering takes the device over: %d of up to %d rounds failed%s%s",
	       bad, UV_ADOPT_ROUNDS, bad ? ", first: " : "", bad ? strerror(why) : "");

	/* Warm-up: the caches the hammer uses exist before the baseline. */
	{
		long saved = race_ms;

		race_ms = 1000;
		run_child(hammer, "0", out, sizeof(out));
		race_ms = saved;
	}
	counters_zero(10000);
	slab0 = meminfo_kb("Slab");
	avail0 = meminfo_kb("MemAvailable");

	rc = run_child(hammer, "0", out, sizeof(out));
	tap_diag("recovery_timeout 0: %s", out);
	tap_ok(rc != 2, "START after REMOVE refused with ENODEV, a second START with EBUSY");
	tap_ok(rc == 0 && strstr(out, "attach_close"), "START/REMOVE and ATTACH/close/timeout (0 s) races ran for %ld ms",
	       race_ms * 3 / 2);
	rc = run_child(hammer, "1", out, sizeof(out));
	tap_diag("recovery_timeout 1: %s", out);
	tap_ok(rc == 0 && strstr(out, "attach_close"), "START/REMOVE and ATTACH/close (1 s) races ran for %ld ms",
	       race_ms * 3 / 2);
	snprintf(arg, sizeof(arg), "%ld", old_timeout < 0 ? 30 : old_timeout);
	write_str(PARAMS "/recovery_timeout", arg);

	/* Orphans left by the 1 s rounds go within their timeout. */
	freed = counters_zero(15000 * (kasan ? 5 : 1));
	tap_ok(freed, "every device freed: devices %ld, domain_pages %ld",
	       temu_read_long(SYSFS "/devices"), temu_read_long(SYSFS "/domain_pages"));
	system("echo 3 > /proc/sys/vm/drop_caches");
	usleep(500000);
	slab1 = meminfo_kb("Slab");
	avail1 = meminfo_kb("MemAvailable");
	tap_diag("Slab %ld -> %ld kB, MemAvailable %ld -> %ld kB", slab0, slab1,
		 avail0, avail1);
	tap_ok(slab1 - slab0 < SLAB_MARGIN_KB && avail0 - avail1 < AVAIL_MARGIN_KB,
	       "Slab grew less than %d MiB, MemAvailable fell less than %d MiB",
	       SLAB_MARGIN_KB >> 10, AVAIL_MARGIN_KB >> 10);
	if (access(KO, R_OK))
		tap_skip("module unloads", KO " is not there to load it again");
	else
		tap_ok(module_reload(), "uvirtio unloads (no reference left) and loads again");
	return tap_done();
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * abi_fuzz - /dev/uvirtio survives any ioctl number, any struct, any race.
 *
 * 1. A sweep: every ioctl number of magic 0xBE with nr 0..0x20, every
 *    direction and a spread of sizes, and the same for a few other magics,
 *    with random contents (sometimes plausible: zero reserved fields, small
 *    values, a real user pointer; sometimes a bad pointer), on three kinds
 *    of fd: unconfigured, with a created device, and with a live disk that
 *    is being served while a reader does I/O on it. Numbers that are not
 *    exactly one of our commands must fail with ENOTTY (ENODEV for our
 *    magic on an fd without a device); our own numbers may do anything but
 *    crash or hang. Afterwards the reader has returned and no device is left.
 * 2. A race: several threads (and a second process as uid 1000) share a
 *    table of fds and for a bounded time open, create, start, close, mmap,
 *    munmap, read, poll, set eventfds, REMOVE and throw random ioctls at
 *    them. Afterwards every fd and mapping is released and no device or
 *    domain page is left within a bound.
 * The harness checks the kernel log. Needs root for the uid 1000 part
 * (without root that part is skipped).
 *
 * Usage: abi_fuzz [SEED] [SECONDS]   (defaults: 1, 4)
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/uvirtio.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>

#include "testemu.h"
#include "require.h"
#include "unit/tap.h"

#define DEVICES		"/sys/class/misc/uvirtio/devices"
#define DOMAIN_PAGES	"/sys/class/misc/uvirtio/domain_pages"
#define SLOTS		8
#define THREADS		4
#define MAPS		16
#define UNPRIV_UID	1000

static const unsigned long our_cmds[] = {
	UVIRTIO_GET_API_VERSION, UVIRTIO_CREATE, UVIRTIO_GET_LAYOUT,
	UVIRTIO_GET_QUEUE, UVIRTIO_SET_KICK_FD, UVIRTIO_SET_CALL_FD,
	UVIRTIO_START, UVIRTIO_QUEUE_IRQ, UVIRTIO_SET_CONFIG,
	UVIRTIO_GET_CONFIG, UVIRTIO_GET_STATUS, UVIRTIO_REMOVE,
#ifdef UVIRTIO_ATTACH
	UVIRTIO_ATTACH,
#endif
#ifdef UVIRTIO_GET_INFLIGHT
	UVIRTIO_GET_INFLIGHT,
#endif
#ifdef UVIRTIO_GET_FEATURES
	UVIRTIO_GET_FEATURES,
#endif
#ifdef UVIRTIO_DOMAIN_FD
	UVIRTIO_DOMAIN_FD,
#endif
#ifdef UVIRTIO_REQUEUE
	UVIRTIO_REQUEUE,
#endif
};
#define NR_OURS	(sizeof(our_cmds) / sizeof(our_cmds[0]))

/* Magics besides ours whose nr 0..0x20 no VFS-level ioctl uses. */
static const unsigned int other_magics[] = { 0xBD, 0xBF, 0xAE, 'T', 'V' };
static const unsigned int sizes[] = { 0, 1, 4, 8, 16, 24, 31, 32, 56, 63, 64,
				      72, 80, 88, 96, 128, 512, 4096, 16383 };

static uint8_t buf[16384 + 64] __attribute__((aligned(64)));
/* 5 on a KASAN kernel (5x slower): scales the time bounds. */
static int slow = 1;
static uint8_t scratch_cfg[4096];

/**
 * rng_next() - splitmix64
 * @s:		state
 *
 * Return: 64 pseudo-random bits
 */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/**
 * rng_below() - a number in [0, n)
 * @s:		state
 * @n:		bound
 *
 * Return: the number
 */
static unsigned int rng_below(uint64_t *s, unsigned int n)
{
	return (unsigned int)(rng_next(s) % n);
}

/**
 * is_ours() - is @cmd exactly one of our commands
 * @cmd:	ioctl number
 *
 * Return: true if so
 */
static bool is_ours(unsigned long cmd)
{
	unsigned int i;

	for (i = 0; i < NR_OURS; i++)
		if (cmd == our_cmds[i])
			return true;
	return false;
}

/*
 * ioctl() for the fuzzer: a file UVIRTIO_DOMAIN_FD returns is closed at
 * once, since it holds its device's memory (the end-of-run checks would
 * count it as left behind).
 */
static int fuzz_ioctl(int fd, unsigned long cmd, void *arg)
{
	int ret = ioctl(fd, cmd, arg);

#ifdef UVIRTIO_DOMAIN_FD
	if (cmd == UVIRTIO_DOMAIN_FD && ret >= 0) {
		close(ret);
		ret = 0;
	}
#endif
	return ret;
}

/**
 * fill() - random contents for an ioctl argument
 * @s:		rng
 * @p:		buffer
 * @len:	bytes
 *
 * Half the time the result is plausible: zeros, small values in the first
 * words, a user pointer to a real buffer at offset 8 and 16, a valid-looking
 * fd at offset 4.
 */
static void fill(uint64_t *s, uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)rng_next(s);
	if (rng_below(s, 2) || len < 24)
		return;
	memset(p, 0, len);
	((uint32_t *)p)[0] = rng_below(s, 4) ? rng_below(s, 4) : rng_below(s, 3) + 1;
	((uint32_t *)p)[1] = rng_below(s, 2) ? rng_below(s, 64) : rng_below(s, 1025);
	if (rng_below(s, 2))
		((uint32_t *)p)[2] = 1u << rng_below(s, 12);
	if (rng_below(s, 2))
		((uint32_t *)p)[3] = rng_below(s, 80);
	*(uint64_t *)(p + 16) = (uintptr_t)scratch_cfg;
	if (len >= 32 && rng_below(s, 2))
		*(uint64_t *)(p + 8) = (uintptr_t)scratch_cfg;
}

/**
 * sweep_fd() - every number, direction and size on one fd
 * @fd:		the fd
 * @has_dev:	a device is attached to it
 * @s:		rng
 * @what:	name of the fd kind, for the TAP line
 */
static void sweep_fd(int fd, bool has_dev, uint64_t *s, const char *what)
{
	unsigned int m, nr, dir, z, bad = 0, calls = 0, ours = 0, ok_ours = 0;
	unsigned long cmd;
	char first[128] = "";

	for (m = 0; m <= sizeof(other_magics) / sizeof(other_magics[0]); m++) {
		unsigned int magic = m ? other_magics[m - 1] : UVIRTIO_IOC_MAGIC;

		for (nr = 0; nr <= 0x20; nr++)
			for (dir = 0; dir < 4; dir++)
				for (z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
					void *arg = buf;
					int ret, want;

					cmd = _IOC(dir, magic, nr, sizes[z]);
					fill(s, buf, sizes[z]);
					/* Sometimes a pointer that is not ours. */
					if (!rng_below(s, 8))
						arg = rng_below(s, 2) ? NULL : (void *)(uintptr_t)-4096;
					ret = fuzz_ioctl(fd, cmd, arg);
					calls++;
					if (is_ours(cmd)) {
						ours++;
						ok_ours += !ret;
						continue;
					}
					want = magic == UVIRTIO_IOC_MAGIC && !has_dev ? ENODEV : ENOTTY;
					if (!ret || errno != want) {
						if (!bad++)
							snprintf(first, sizeof(first),
								 "cmd 0x%lx: %s", cmd,
								 ret ? strerror(errno) : "success");
					}
				}
	}
	tap_ok(!bad, "%s fd: %u ioctls; every unknown number refused with %s%s%s",
	       what, calls, has_dev ? "ENOTTY" : "ENOTTY (ENODEV for magic 0xBE)",
	       bad ? "; first wrong: " : "", first);
	tap_diag("%s fd: %u calls with one of our numbers, %u succeeded", what,
		 ours, ok_ours);
}

/**
 * random_ours() - many random structs for each of our commands
 * @fd:		the fd
 * @s:		rng
 * @n:		rounds
 */
static void random_ours(int fd, uint64_t *s, unsigned int n)
{
	unsigned int i;

	while (n--)
		for (i = 0; i < NR_OURS; i++) {
			if (our_cmds[i] == UVIRTIO_START || our_cmds[i] == UVIRTIO_REMOVE)
				continue;
			fill(s, buf, _IOC_SIZE(our_cmds[i]) + 64);
			fuzz_ioctl(fd, our_cmds[i], buf);
		}
}

static atomic_bool stop_serving;

/**
 * serve_thread() - keep a test emulator serving until told to stop
 * @arg:	struct temu
 *
 * Return: NULL
 */
static void *serve_thread(void *arg)
{
	struct temu *t = arg;

	while (!atomic_load(&stop_serving) && temu_serve(t, 10) != -ESHUTDOWN)
		;
	return NULL;
}

/**
 * reader() - O_DIRECT reads until an error or 60 s (a child process)
 * @node:	disk
 */
static void reader(const char *node)
{
	long end = temu_now_ms() + 60000;
	void *b;
	int fd = open(node, O_RDONLY | O_DIRECT);
	unsigned int i = 0;

	if (fd < 0 || posix_memalign(&b, 4096, 4096))
		_exit(2);
	while (temu_now_ms() < end)
		if (pread(fd, b, 4096, (off_t)(i++ % 1024) * 4096) != 4096)
			_exit(0);
	_exit(0);
}

/**
 * kasan() - is this a KASAN kernel (its report function is in kallsyms)
 *
 * Return: true if so
 */
static bool kasan(void)
{
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/kallsyms", "r");

	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, " kasan_report\n") != NULL;
	if (f)
		fclose(f);
	return found;
}

/**
 * wait_gone() - wait until no device and no domain page is left
 * @ms:		limit
 *
 * Return: true if so
 */
static bool wait_gone(long ms)
{
	long end = temu_now_ms() + ms;

	while (temu_now_ms() < end) {
		if (temu_read_long(DEVICES) == 0 && temu_read_long(DOMAIN_PAGES) == 0)
			return true;
		usleep(20000);
	}
	return false;
}

/**
 * part_sweep() - part 1
 * @seed:	rng seed
 */
static void part_sweep(uint64_t seed)
{
	struct uvirtio_create c;
	struct temu t = { 0 };
	uint64_t s = seed;
	long end;
	pthread_t th;
	pid_t pid;
	int fd, st = 0;
	bool ended = false;

	fd = open(UVDEV_PATH, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	sweep_fd(fd, false, &s, "unconfigured");
	close(fd);

	fd = open(UVDEV_PATH, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	memset(&c, 0, sizeof(c));
	c.device_id = VIRTIO_ID_BLOCK;
	c.num_queues = 2;
	c.queue_size = 64;
	c.bounce_size = 1 << 20;
	if (ioctl(fd, UVIRTIO_CREATE, &c)) {
		tap_ok(false, "created fd: UVIRTIO_CREATE failed: %s", strerror(errno));
	} else {
		random_ours(fd, &s, 50);
		sweep_fd(fd, true, &s, "created");
	}
	close(fd);

	if (temu_create(&t, 8 << 20, 64) || temu_wait_disk(&t, 30000 * slow)) {
		tap_ok(false, "live disk fd: the disk did not appear");
		tap_ok(false, "the reader returned within 10 s of the close");
		temu_close(&t);
	} else {
		pid = fork();
		if (pid == 0)
			reader(t.node);
		atomic_store(&stop_serving, false);
		pthread_create(&th, NULL, serve_thread, &t);
		random_ours(t.d.fd, &s, 20);
		sweep_fd(t.d.fd, true, &s, "live disk");
		atomic_store(&stop_serving, true);
		pthread_join(th, NULL);
		temu_close(&t);
		for (end = temu_now_ms() + 10000L * slow; temu_now_ms() < end; usleep(10000))
			if (waitpid(pid, &st, WNOHANG) == pid) {
				ended = true;
				break;
			}
		if (!ended)
			kill(pid, SIGKILL);
		tap_ok(ended, "the reader of the live disk returned within %d s of the close",
		       10 * slow);
		if (!ended)
			waitpid(pid, &st, 0);
	}
	tap_ok(wait_gone(10000L * slow), "after the sweep: no device and no domain page left");
}

/* Part 2: the shared table the threads fight over. */
static atomic_int slot_fd[SLOTS];
static atomic_bool race_stop;
static atomic_uint race_ops;

/**
 * race_op() - one random operation on a random slot
 * @s:		rng
 * @maps:	this thread's mappings
 * @lens:	their lengths
 */
static void race_op(uint64_t *s, void **maps, size_t *lens)
{
	unsigned int i = rng_below(s, SLOTS), k;
	int fd = atomic_load(&slot_fd[i]), nfd, efd;
	struct uvirtio_vq_eventfd v;
	struct uvirtio_create c;
	struct pollfd pf;
	uint8_t ev[96];
	void *m;

	switch (rng_below(s, 12)) {
	case 0:		/* open and create, maybe start */
	case 1:
		nfd = open(UVDEV_PATH, O_RDWR | O_CLOEXEC | O_NONBLOCK);
		if (nfd < 0)
			break;
		memset(&c, 0, sizeof(c));
		c.device_id = rng_below(s, 4) ? VIRTIO_ID_BLOCK : VIRTIO_ID_NET;
		c.num_queues = c.device_id == VIRTIO_ID_NET ? 2 : 1 + rng_below(s, 2);
		c.queue_size = 16 << rng_below(s, 3);
		c.bounce_size = 1 << 20;
		if (!ioctl(nfd, UVIRTIO_CREATE, &c) && rng_below(s, 2))
			ioctl(nfd, UVIRTIO_START);
		fd = -1;
		if (!atomic_compare_exchange_strong(&slot_fd[i], &fd, nfd))
			close(nfd);
		break;
	case 2:		/* close */
		fd = atomic_exchange(&slot_fd[i], -1);
		if (fd >= 0)
			close(fd);
		break;
	case 3:		/* mmap, some of the domain or too much */
		for (k = 0; k < MAPS && maps[k]; k++)
			;
		if (k == MAPS || fd < 0)
			break;
		lens[k] = (size_t)(1 + rng_below(s, 64)) * 4096;
		m = mmap(NULL, lens[k], rng_below(s, 2) ? PROT_READ : PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, (off_t)rng_below(s, 4) * 4096);
		maps[k] = m == MAP_FAILED ? NULL : m;
		break;
	case 4:		/* munmap */
		k = rng_below(s, MAPS);
		if (maps[k]) {
			munmap(maps[k], lens[k]);
			maps[k] = NULL;
		}
		break;
	case 5:		/* read events */
		if (read(fd, ev, rng_below(s, sizeof(ev))) < 0)
			break;
		break;
	case 6:		/* poll */
		pf.fd = fd;
		pf.events = POLLIN | POLLOUT;
		poll(&pf, 1, 0);
		break;
	case 7:		/* eventfds come and go */
		efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		memset(&v, 0, sizeof(v));
		v.index = rng_below(s, 3);
		v.fd = rng_below(s, 4) ? efd : -1;
		ioctl(fd, rng_below(s, 2) ? UVIRTIO_SET_KICK_FD : UVIRTIO_SET_CALL_FD, &v);
		if (efd >= 0) {
			uint64_t one = 1;

			if (write(efd, &one, sizeof(one)) < 0)
				break;
			close(efd);
		}
		break;
	case 8:
		ioctl(fd, UVIRTIO_REMOVE);
		break;
	case 9:
		ioctl(fd, UVIRTIO_START);
		break;
	default:	/* one of ours with random contents, or any number */
		fill(s, ev, sizeof(ev));
		fuzz_ioctl(fd, rng_below(s, 2) ? our_cmds[rng_below(s, NR_OURS)] :
			   _IOC(rng_below(s, 4), UVIRTIO_IOC_MAGIC, rng_below(s, 0x21),
				rng_below(s, 96)), ev);
		break;
	}
	atomic_fetch_add(&race_ops, 1);
}

/**
 * race_thread() - race_op() until told to stop, then unmap what it mapped
 * @arg:	the thread's seed
 *
 * Return: NULL
 */
static void *race_thread(void *arg)
{
	uint64_t s = (uintptr_t)arg;
	void *maps[MAPS] = { 0 };
	size_t lens[MAPS];
	unsigned int k;

	while (!atomic_load(&race_stop))
		race_op(&s, maps, lens);
	for (k = 0; k < MAPS; k++)
		if (maps[k])
			munmap(maps[k], lens[k]);
	return NULL;
}

/**
 * race() - THREADS threads for @ms, then close every slot
 * @seed:	seed
 * @ms:		duration
 *
 * Return: operations done
 */
static unsigned int race(uint64_t seed, long ms)
{
	pthread_t th[THREADS];
	unsigned int i;
	int fd;

	for (i = 0; i < SLOTS; i++)
		atomic_store(&slot_fd[i], -1);
	atomic_store(&race_stop, false);
	atomic_store(&race_ops, 0);
	for (i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, race_thread,
			       (void *)(uintptr_t)(seed * 31 + i + 1));
	usleep(ms * 1000);
	atomic_store(&race_stop, true);
	for (i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < SLOTS; i++) {
		fd = atomic_exchange(&slot_fd[i], -1);
		if (fd >= 0)
			close(fd);
	}
	return atomic_load(&race_ops);
}

int main(int argc, char **argv)
{
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 1;
	long secs = argc > 2 ? strtol(argv[2], NULL, 0) : 4;
	unsigned int ops;
	pid_t pid;
	int st, pfd[2];

	require_uvirtio(0);
	signal(SIGPIPE, SIG_IGN);
	if (kasan())
		slow = 5;
	tap_plan(8);
	tap_diag("seed %" PRIu64 ", race %ld s", seed, secs);
	part_sweep(seed);

	/* The uid 1000 racer runs alongside root's racers. */
	if (geteuid() == 0 && !pipe(pfd)) {
		pid = fork();
		if (pid == 0) {
			if (setgroups(0, NULL) || setresgid(UNPRIV_UID, UNPRIV_UID, UNPRIV_UID) ||
			    setresuid(UNPRIV_UID, UNPRIV_UID, UNPRIV_UID))
				_exit(3);
			ops = race(seed ^ 0xabcdef, secs * 1000);
			if (write(pfd[1], &ops, sizeof(ops)) != sizeof(ops))
				_exit(2);
			_exit(0);
		}
		close(pfd[1]);
	} else {
		pid = -1;
	}
	ops = race(seed, secs * 1000);
	tap_ok(ops > 100, "%u racing operations by %d threads in %ld s", ops, THREADS, secs);
	if (pid > 0) {
		unsigned int uops = 0;
		long end = temu_now_ms() + 20000L * slow;
		bool ended = false;

		while (temu_now_ms() < end && !ended)
			if (waitpid(pid, &st, WNOHANG) == pid)
				ended = true;
			else
				usleep(10000);
		if (!ended) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
		}
		if (read(pfd[0], &uops, sizeof(uops)) != sizeof(uops))
			uops = 0;
		close(pfd[0]);
		tap_ok(ended && WIFEXITED(st) && !WEXITSTATUS(st) && uops > 100,
		       "uid 1000 process raced alongside: %u operations", uops);
	} else {
		tap_skip("uid 1000 process raced alongside", "not root: cannot setuid");
	}
	tap_ok(wait_gone(10000L * slow), "after the race: no device and no domain page left");
	return tap_done();
}

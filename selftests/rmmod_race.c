// SPDX-License-Identifier: GPL-2.0-only
/*
 * rmmod_race - the last close of a device's fd racing module unload.
 *
 * A device holds a reference on the module from CREATE until its memory is
 * freed after the last close. Whoever drops that reference must not run a
 * single instruction of module text afterwards: between module_put() and
 * the return into the module, delete_module() may see a zero count, run
 * module_exit and free the text under the closing task. uvirtio drops it
 * as the last step of a work item on its own workqueue, and module_exit
 * drains that workqueue, so the unload waits for the work to return.
 *
 * RACERS children loop for UV_RACE_SECS (default 6, on every kernel): open /dev/uvirtio, CREATE a virtio-blk device, START it
 * in every second round, close. The parent meanwhile calls delete_module()
 * (non-blocking) and, when it succeeded, loads the module again from
 * /uvirtio/uvirtio.ko, as fast as it can. Then: unloads and creates both
 * happened (the race ran), the module unloads and loads once more, and the
 * device counter reads 0. The kernel log (checked by the harness; KASAN
 * and the module loader's own checks on the debug lane) must stay clean.
 *
 * Can it fail on old code? Not in a way a test can count on. The window
 * is the few instructions between a release path's final module_put() and
 * its return into module text, and the unload must finish (module_exit
 * run, the text freed) inside it. An older module dropped that reference
 * at the end of its release handler; the unload then needs the closing
 * task to be preempted right there for as long as delete_module() takes,
 * which a few seconds of TCG rarely give (and this test was not run
 * against that module). So this is a guard that the put stays where
 * unload waits for it, and a KASAN-watched stress of create/close
 * against unload/load, rather than a reproducer of the old window. The
 * racers idle up to twice as long as their last round took, so unloads
 * succeed on a slow kernel too, often right after a last close.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
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
#include "testemu.h"
#include "require.h"
#include "unit/tap.h"

#define SYSFS		"/sys/class/misc/uvirtio"
#define KO		"/uvirtio/uvirtio.ko"
#define RACERS		3

/**
 * create_close() - one round: open, CREATE, maybe START, close
 * @start:	also START the device
 *
 * Return: 1 if a device was created, 0 if not (module gone or going)
 */
static int create_close(int start)
{
	uint64_t capacity = 8;
	struct uvirtio_create c = {
		.device_id = VIRTIO_ID_BLOCK,
		.num_queues = 1,
		.queue_size = 16,
		.config_size = sizeof(capacity),
		.config_addr = (uintptr_t)&capacity,
		.bounce_size = UVIRTIO_MIN_BOUNCE_SIZE,
	};
	int fd = open("/dev/uvirtio", O_RDWR | O_CLOEXEC), made;

	if (fd < 0)
		return 0;
	made = ioctl(fd, UVIRTIO_CREATE, &c) == 0;
	if (made && start)
		ioctl(fd, UVIRTIO_START, 0);
	close(fd);
	return made;
}

/**
 * racer() - a child: create and close until @end, then exit with the
 * number of devices made (capped at 255)
 * @end:	deadline, temu_now_ms() scale
 */
static void __attribute__((noreturn)) racer(long end)
{
	long made = 0, round = 0, t0;

	srand(getpid());
	while ((t0 = temu_now_ms()) < end) {
		made += create_close(round++ & 1);
		/*
		 * Idle up to twice as long as the round took, so that all
		 * racers are between rounds now and then (on any kernel
		 * speed) and the unload finds no open fd.
		 */
		usleep(rand() % (2000 * (temu_now_ms() - t0) + 1000));
	}
	_exit(made > 255 ? 255 : (int)made);
}

/**
 * load() - load the module from KO with dev_mode 0666
 *
 * Return: 0 or -errno
 */
static int load(void)
{
	int fd = open(KO, O_RDONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (syscall(SYS_finit_module, fd, "dev_mode=0666", 0))
		ret = -errno;
	close(fd);
	return ret;
}

/**
 * unload() - one non-blocking delete_module() of uvirtio
 *
 * Return: 0 or -errno
 */
static int unload(void)
{
	return syscall(SYS_delete_module, "uvirtio", O_NONBLOCK) ? -errno : 0;
}

int main(void)
{
	const char *secs = getenv("UV_RACE_SECS");
	long race_ms, end, unloads = 0, made = 0, tries = 0;
	pid_t pids[RACERS];
	int i, st, ret;

	require_uvirtio(REQ_ROOT);
	if (access(KO, R_OK))
		require_skip("needs the module file " KO " to reload it");
	tap_plan(3);
	race_ms = (secs ? atol(secs) : 6) * 1000;
	if (race_ms <= 0)
		race_ms = 1000;
	end = temu_now_ms() + race_ms;
	fflush(stdout);
	for (i = 0; i < RACERS; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			racer(end);
	}
	while (temu_now_ms() < end) {
		tries++;
		if (unload())
			continue;
		unloads++;
		/* Load again at once: the racers' next open may find it. */
		ret = load();
		if (ret) {
			tap_diag("loading %s again: %s", KO, strerror(-ret));
			break;
		}
	}
	for (i = 0; i < RACERS; i++) {
		if (waitpid(pids[i], &st, 0) == pids[i] && WIFEXITED(st))
			made += WEXITSTATUS(st);
	}
	if (access("/sys/module/uvirtio", F_OK))
		load();
	tap_diag("%ld ms: %ld of %ld unloads succeeded, at least %ld devices created",
		 race_ms, unloads, tries, made);
	tap_ok(unloads > 0 && made > 0, "unload and create/close raced (%ld unloads, %ld devices)",
	       unloads, made);

	/* Every device gone: the module unloads and loads once more. */
	for (end = temu_now_ms() + 10000; unload() && temu_now_ms() < end; usleep(100000))
		;
	ret = access("/sys/module/uvirtio", F_OK) ? load() : -EBUSY;
	tap_ok(!ret, "after the race the module unloads and loads again (%s)",
	       ret ? strerror(-ret) : "ok");
	for (end = temu_now_ms() + 5000; access("/dev/uvirtio", F_OK); usleep(100000))
		if (temu_now_ms() > end)
			break;
	tap_ok(temu_read_long(SYSFS "/devices") == 0, "no device left (devices %ld)",
	       temu_read_long(SYSFS "/devices"));
	return tap_done();
}

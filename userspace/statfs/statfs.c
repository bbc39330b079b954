// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * statfs.c - libuvstatfs: start and stop a device's status filesystem
 *
 * Two threads of our own, both with every signal blocked (the emulator
 * handles signals): the FUSE thread answers requests on /dev/fuse
 * (fuse_ops.c), the sampler takes one sample of every queue now and then
 * and keeps the verdicts the stuck file shows (sampler.c). Neither ever
 * takes a lock the data path takes. The files themselves are tree.c's;
 * the process that unmounts if we die is watchdog.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "uvstatfs_int.h"

#define STOP_JOIN_MS		2000

/**
 * uvstatfs_now_ns() - CLOCK_MONOTONIC in nanoseconds
 *
 * Return: the time
 */
uint64_t uvstatfs_now_ns(void)
{
	return uv_now_ns();
}

/**
 * start_thread() - a thread with every signal blocked
 * @thr:	out
 * @fn:		thread function
 * @arg:	its argument
 *
 * Return: 0 or -errno
 */
static int start_thread(pthread_t *thr, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int ret;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(thr, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -ret;
}

/**
 * join_bounded() - join a thread, giving up after STOP_JOIN_MS
 * @thr:	thread
 *
 * Return: 0 if joined, -ETIMEDOUT
 */
static int join_bounded(pthread_t thr)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += STOP_JOIN_MS / 1000;
	return -pthread_timedjoin_np(thr, NULL, &ts);
}

/* A device that registers no controls gets no writable files. */
static const struct uvstatfs_control no_controls[] = { { NULL, 0 } };

/**
 * uvstatfs_start() - mount the status filesystem and start its threads
 * @fsp:	out: the filesystem
 * @dir:	mount point (an existing directory the caller owns), or NULL
 *		for no mount (uvstatfs_read_file() still works)
 * @dev:	the device; must stay valid until uvstatfs_stop()
 * @ops:	the device's callbacks; must stay valid as long
 * @opaque:	their argument
 *
 * Return: 0, -ENOMEM, -ENOTDIR, -errno of stat(@dir) (-ENOTCONN: a dead
 * FUSE mount is there, "fusermount3 -u DIR" removes it), -EIO (mount
 * failed; libfuse or fusermount3 printed why), or -errno of thread creation
 */
int uvstatfs_start(struct uvstatfs **fsp, const char *dir, struct uvdev *dev,
		   const struct uvstatfs_ops *ops, void *opaque)
{
	struct uvstatfs *fs;
	struct stat st;
	unsigned int i;
	int ret;

	if (dir && stat(dir, &st))
		return -errno;
	if (dir && !S_ISDIR(st.st_mode))
		return -ENOTDIR;
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fs->dev = dev;
	fs->ops = ops;
	fs->controls = ops->control_names ? ops->control_names : no_controls;
	fs->opaque = opaque;
	pthread_mutex_init(&fs->vlock, NULL);
	for (i = 0; i < UVIRTIO_MAX_QUEUES; i++)
		uvstatfs_verdict_init(&fs->v[i]);
	fs->watchdog_fd = -1;
	fs->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fs->stop_fd < 0) {
		ret = -errno;
		goto err_free;
	}
	if (dir) {
		fs->dir = strdup(dir);
		ret = fs->dir ? fs_mount(fs) : -ENOMEM;
		if (ret)
			goto err_close;
		ret = watchdog_start(fs);
		if (ret)
			goto err_unmount;
	}
	ret = start_thread(&fs->sampler_thr, sampler_main, fs);
	if (ret)
		goto err_unmount;
	if (fs->fuse) {
		ret = start_thread(&fs->fuse_thr, fuse_main_loop, fs);
		if (ret)
			goto err_sampler;
	}
	*fsp = fs;
	return 0;

err_sampler:
	eventfd_write(fs->stop_fd, 1);
	pthread_join(fs->sampler_thr, NULL);
err_unmount:
	if (fs->fuse) {
		fs_unmount(fs);
		fs_destroy(fs);
	}
	watchdog_stop(fs);
err_close:
	free(fs->dir);
	close(fs->stop_fd);
err_free:
	free(fs);
	return ret;
}

/**
 * uvstatfs_stop() - stop the threads, unmount, free
 * @fs:		filesystem, or NULL
 *
 * A FUSE thread stuck in a callback past STOP_JOIN_MS is left behind
 * (and the instance leaked) rather than waited for: this runs on the way
 * out of the emulator.
 */
void uvstatfs_stop(struct uvstatfs *fs)
{
	bool joined = true;

	if (!fs)
		return;
	eventfd_write(fs->stop_fd, 1);
	if (join_bounded(fs->sampler_thr))
		joined = false;
	if (fs->fuse) {
		if (join_bounded(fs->fuse_thr))
			joined = false;
		fs_unmount(fs);
		watchdog_stop(fs);
		if (joined)
			fs_destroy(fs);
	}
	if (!joined)
		return;
	close(fs->stop_fd);
	pthread_mutex_destroy(&fs->vlock);
	free(fs->dir);
	free(fs);
}

static struct uvstatfs *atexit_fs;

/**
 * stop_at_exit() - atexit handler
 */
static void stop_at_exit(void)
{
	struct uvstatfs *fs = atexit_fs;

	atexit_fs = NULL;
	uvstatfs_stop(fs);
}

/**
 * uvstatfs_stop_atexit() - unmount @fs when the process calls exit()
 * @fs:		filesystem (one per process can be registered)
 *
 * The emulator must not call uvstatfs_stop() itself afterwards.
 *
 * Return: 0, -EBUSY if one is registered already, -ENOMEM
 */
int uvstatfs_stop_atexit(struct uvstatfs *fs)
{
	static bool registered;

	if (atexit_fs)
		return -EBUSY;
	if (!registered && atexit(stop_at_exit))
		return -ENOMEM;
	registered = true;
	atexit_fs = fs;
	return 0;
}

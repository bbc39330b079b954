/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uvstatfs_int.h - what the parts of libuvstatfs share; not installed
 *
 *   statfs.c	  start and stop: the threads, the mount, at-exit unmount
 *   tree.c	  the file tree: what a path names, and each file's contents
 *   fuse_ops.c	  FUSE glue: the operations and the session loop
 *   sampler.c	  the sampler thread and the queue snapshots it takes
 *   watchdog.c	  the process that unmounts if the emulator dies
 *   verdict.c	  the stuck verdict from samples (verdict.h)
 *   inflight.c	  per-head in-flight table helpers (statfs.h)
 */
#ifndef UVSTATFS_INT_H
#define UVSTATFS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "statfs.h"
#include "verdict.h"

struct fuse;

/* Longest value a control reads or takes. */
#define CTL_MAX			64

/* what a path names */
enum node_kind {
	N_NONE,
	N_ROOT,
	N_QUEUES,
	N_QUEUE,
	N_DEVICE,
	N_STUCK,
	N_CONTROL,
	N_QFILE,
};

/* files of queues/N/ */
enum qfile {
	QF_AVAIL_IDX,
	QF_LAST_AVAIL_IDX,
	QF_SHADOW_IDX,
	QF_USED_IDX,
	QF_USED_EVENT,
	QF_AVAIL_EVENT,
	QF_INFLIGHT,
	QF_COUNTERS,
	QF_COUNT,
};

extern const char *const qfile_names[QF_COUNT];

/**
 * struct node - a resolved path
 * @kind:	N_*
 * @q:		queue index (N_QUEUE, N_QFILE)
 * @qf:		QF_* (N_QFILE)
 * @ctl:	the control (N_CONTROL)
 */
struct node {
	enum node_kind kind;
	unsigned int q;
	enum qfile qf;
	const struct uvstatfs_control *ctl;
};

/**
 * struct uvstatfs - one mounted status filesystem
 * @dev:	the device (its mapping outlives us)
 * @ops:	the device's callbacks
 * @controls:	the writable files, ended by a NULL name
 * @opaque:	their argument
 * @dir:	mount point, NULL when not mounted (unit tests)
 * @fuse:	libfuse instance, NULL when not mounted
 * @fuse_thr:	the FUSE thread
 * @sampler_thr: the sampler thread
 * @stop_fd:	eventfd: written by uvstatfs_stop() to end both threads
 * @watchdog_fd: write end of the watchdog's pipe, or -1
 * @watchdog_pid: the watchdog, or 0
 * @vlock:	protects @v (the sampler writes, stuck readers read)
 * @v:		per-queue verdicts
 */
struct uvstatfs {
	struct uvdev *dev;
	const struct uvstatfs_ops *ops;
	const struct uvstatfs_control *controls;
	void *opaque;
	char *dir;
	struct fuse *fuse;
	pthread_t fuse_thr;
	pthread_t sampler_thr;
	int stop_fd;
	int watchdog_fd;
	pid_t watchdog_pid;
	pthread_mutex_t vlock;
	struct uvstatfs_qverdict v[UVIRTIO_MAX_QUEUES];
};

/**
 * struct qsnap - one queue's indices, loaded without locks
 * @ready:	queue set up
 * @num:	ring size
 * @avail_idx:	driver's avail idx
 * @last_avail:	device's next entry
 * @last_avail_unknown: a backend in another process takes the buffers:
 *		@last_avail is not known (0)
 * @shadow_idx:	device's published completions
 * @used_idx:	driver's used idx
 * @used_event:	driver's used_event
 * @avail_event: used ring's avail_event
 */
struct qsnap {
	bool ready;
	unsigned int num;
	uint16_t avail_idx;
	uint16_t last_avail;
	bool last_avail_unknown;
	uint16_t shadow_idx;
	uint16_t used_idx;
	uint16_t used_event;
	uint16_t avail_event;
};

/* tree.c */
int node_resolve(struct uvstatfs *fs, const char *path, struct node *n);
bool node_is_dir(const struct node *n);
int node_generate(struct uvstatfs *fs, const struct node *n, char **buf,
		  size_t *len);
int node_write(struct uvstatfs *fs, const struct node *n, const char *val,
	       size_t len);

/* fuse_ops.c */
int fs_mount(struct uvstatfs *fs);
void fs_unmount(struct uvstatfs *fs);
void fs_destroy(struct uvstatfs *fs);
void *fuse_main_loop(void *arg);

/* sampler.c */
void queue_snap(struct uvdev *dev, unsigned int i, struct qsnap *s);
void *sampler_main(void *arg);

/* watchdog.c */
int watchdog_start(struct uvstatfs *fs);
void watchdog_stop(struct uvstatfs *fs);

#endif /* UVSTATFS_INT_H */

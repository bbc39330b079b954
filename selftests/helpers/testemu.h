/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * testemu - a small virtio-blk emulator for tests that need to control the
 * device side: a RAM disk served with libuvirtio and uvirtio-blk's request
 * code, with a hook that sees every completion before it is pushed, so a
 * test can misbehave on purpose.
 */
#ifndef UVIRTIO_TESTEMU_H
#define UVIRTIO_TESTEMU_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "dev.h"
#include "req.h"

struct temu;

/**
 * temu_hook_t - called for each served request before it is pushed
 * @t:		the emulator
 * @vq:		its queue
 * @e:		the served element
 * @len:	the used length it would be completed with
 *
 * Return: true if the hook dealt with the completion itself
 */
typedef bool (*temu_hook_t)(struct temu *t, struct uvq *vq,
			    struct uvq_elem *e, uint32_t len);

/**
 * struct temu - a test emulator
 * @d:		the device
 * @be:		RAM backing store
 * @bd:		virtio-blk request state
 * @node:	"/dev/vdX" once the disk exists, else ""
 * @served:	requests completed so far
 * @hook:	optional, see temu_hook_t
 * @removed:	UVIRTIO_EV_REMOVED arrived; @d.dead_reason says why
 * @file:	backing file instead of RAM, or NULL
 * @recovery:	create the device in recovery mode
 * @hold_events: serve requests only, leave the events queued
 */
struct temu {
	struct uvdev d;
	struct backend be;
	struct blk_dev bd;
	char node[64];
	unsigned long served;
	temu_hook_t hook;
	bool removed;
	const char *file;
	bool recovery;
	bool hold_events;
	struct iovec iov[UVIRTIO_MAX_QUEUE_SIZE];
	struct iovec scratch[UVIRTIO_MAX_QUEUE_SIZE];
};

int temu_create_cfg(struct temu *t, const struct uvdev_config *c, uint64_t bytes);
int temu_create(struct temu *t, uint64_t bytes, unsigned int queue_size);
int temu_create_stopped(struct temu *t, uint64_t bytes, unsigned int queue_size);
int temu_attach(struct temu *t, unsigned int index, uint64_t bytes);
int temu_serve(struct temu *t, int timeout_ms);
int temu_wait_disk(struct temu *t, int timeout_ms);
int temu_wait_removed(struct temu *t, int timeout_ms);
void temu_close(struct temu *t);
long temu_now_ms(void);
long temu_read_long(const char *path);

#endif /* UVIRTIO_TESTEMU_H */

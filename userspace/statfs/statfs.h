/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * statfs.h - libuvstatfs: a device's live state as files (FUSE, libfuse3)
 *
 * An emulator mounts it with uvstatfs_start() once its struct uvdev exists;
 * a thread of the library then serves, under DIR:
 *
 *   device                   type, kernel name, backend, negotiated features
 *                            and status byte (by name), queue count
 *   stuck                    "ok", or one line per condition (verdict.h)
 *   NAME                     (rw) each control the device registers by
 *                            name (uvstatfs_ops.control_names):
 *                            uvirtio-blk's capacity, uvirtio-net's link
 *   queues/N/avail_idx       the driver's avail idx, read live from the ring
 *   queues/N/last_avail_idx  the device's next avail entry to take
 *   queues/N/shadow_idx      completions the device published
 *   queues/N/used_idx        the driver's used idx (the kernel writes it)
 *   queues/N/used_event      the driver's used_event (EVENT_IDX)
 *   queues/N/avail_event     avail_event in the used ring (EVENT_IDX)
 *   queues/N/inflight        one line per request inside the device:
 *                            "head H type T sector S len L age_ms A"
 *   queues/N/counters        "name value" lines: kicks, interrupts,
 *                            interrupts_suppressed, requests, bytes, errors
 *
 * Reads never take a lock the data path holds: ring indices are loaded
 * from shared memory, struct uvq's last_avail with an atomic load, counters
 * and in-flight requests through the device's callbacks, which are meant
 * to read single-writer atomics (struct uvstatfs_counters, struct
 * uvstatfs_inflight_table below). Every file's contents are built when it
 * is opened, so one read() of a file is one consistent snapshot of it.
 *
 * Unmounting: uvstatfs_stop() (also run at exit() if the emulator
 * registers uvstatfs_stop_atexit()) unmounts at once. If the process dies
 * without it (SIGKILL, a crash), a watchdog process started with the mount
 * runs "fusermount3 -u -z DIR" (libfuse's auto_unmount is set too, but
 * measured to miss a killed daemon). If the watchdog is killed as well, a
 * dead mount stays at DIR (every access fails with ENOTCONN) until
 * "fusermount3 -u DIR" removes it.
 */
#ifndef UVSTATFS_STATFS_H
#define UVSTATFS_STATFS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "counter.h"
#include "dev.h"

/**
 * struct uvstatfs_bit_name - a feature bit and its name
 * @bit:	bit number
 * @name:	name; NULL ends a table
 */
struct uvstatfs_bit_name {
	unsigned int bit;
	const char *name;
};

/**
 * struct uvstatfs_control - a writable file at the top of the tree
 * @name:	file name ("capacity"); NULL ends a table
 * @id:		what get_control() and set_control() are given for it
 */
struct uvstatfs_control {
	const char *name;
	unsigned int id;
};

/**
 * struct uvstatfs_counters - one queue's counters; one writer (the thread
 * serving the queue), any number of readers
 * @kicks:	kick eventfd wake-ups taken
 * @interrupts:	call eventfd writes
 * @interrupts_suppressed: completions published without a call eventfd
 *		write (batched into a later one, or withheld by a fault)
 * @requests:	requests completed
 * @bytes:	data bytes of completed requests
 * @errors:	requests completed with an error
 *
 * One cache line per queue: queues served by different threads never
 * share a line. The writer updates with uvcounter_add() (counter.h: a
 * relaxed load and store, no locked instruction: it is the only writer).
 */
struct uvstatfs_counters {
	_Alignas(64) _Atomic uint64_t kicks;
	_Atomic uint64_t interrupts;
	_Atomic uint64_t interrupts_suppressed;
	_Atomic uint64_t requests;
	_Atomic uint64_t bytes;
	_Atomic uint64_t errors;
};

/**
 * struct uvstatfs_req - one request inside the device, as the files show it
 * @head:	head descriptor id
 * @type:	short name ("read", "write", "flush", "tx", "rx", ...)
 * @sector:	first sector (blk), or 0
 * @len:	data bytes
 * @start_ns:	CLOCK_MONOTONIC time the device took it
 */
struct uvstatfs_req {
	uint16_t head;
	const char *type;
	uint64_t sector;
	uint32_t len;
	uint64_t start_ns;
};

/**
 * struct uvstatfs_slot - one head's entry in an in-flight table
 * @seq:	even: stable; odd: being written (seqlock)
 * @start_ns:	0 if the head is not in flight
 * @type:	static string
 * @sector:	first sector
 * @len:	data bytes
 */
struct uvstatfs_slot {
	_Atomic uint32_t seq;
	_Atomic uint64_t start_ns;
	_Atomic(const char *) type;
	_Atomic uint64_t sector;
	_Atomic uint32_t len;
};

/**
 * struct uvstatfs_inflight_table - a queue's requests inside the device,
 * indexed by head; one writer, readers never block it
 * @slot:	one per possible head
 */
struct uvstatfs_inflight_table {
	struct uvstatfs_slot slot[UVIRTIO_MAX_QUEUE_SIZE];
};

typedef void (*uvstatfs_emit_fn)(void *ctx, const struct uvstatfs_req *r);

void uvstatfs_inflight_begin(struct uvstatfs_inflight_table *t, uint16_t head,
			     const char *type, uint64_t sector, uint32_t len,
			     uint64_t now_ns);
void uvstatfs_inflight_end(struct uvstatfs_inflight_table *t, uint16_t head);
void uvstatfs_inflight_walk(const struct uvstatfs_inflight_table *t,
			    unsigned int num, uvstatfs_emit_fn emit, void *ctx);

/**
 * struct uvstatfs_ops - what only the device knows; every callback is
 * called from the library's threads, never from the data path, and must
 * not block on it
 * @device_id:	VIRTIO_ID_* (for the caller's own use; the library shows
 *		the device-specific feature bits by @feature_names)
 * @feature_names: names of the device's own feature bits (0-23), ended by
 *		a NULL name; NULL: they show as bitN
 * @describe:	lines for the device file ("type: blk\nkernel: vda\n
 *		backend: ...\n"); the library adds features, status and
 *		queues. Returns bytes written, or -errno.
 * @counters:	copy queue @q's counters into @c
 * @inflight:	call @emit once per request inside the device on queue @q
 * @control_names: the writable controls offered, ended by a NULL name;
 *		each is a file at the top of the tree; NULL: none
 * @get_control: current value of control @ctl (its id) as text, with a
 *		newline
 * @set_control: apply @val (text, no newline) to control @ctl; 0 or -errno
 *		(the writer of the file gets the errno)
 * @passive_queues: bit Q set: the device takes queue Q's buffers only when
 *		it has something to put in them (virtio-net receive), so
 *		available buffers waiting there are not a stuck queue
 */
struct uvstatfs_ops {
	uint32_t device_id;
	const struct uvstatfs_bit_name *feature_names;
	uint64_t passive_queues;
	int (*describe)(void *opaque, char *buf, size_t len);
	void (*counters)(void *opaque, unsigned int q,
			 struct uvstatfs_counters *c);
	void (*inflight)(void *opaque, unsigned int q, uvstatfs_emit_fn emit,
			 void *ctx);
	const struct uvstatfs_control *control_names;
	int (*get_control)(void *opaque, unsigned int ctl, char *buf,
			   size_t len);
	int (*set_control)(void *opaque, unsigned int ctl, const char *val);
};

struct uvstatfs;

int uvstatfs_start(struct uvstatfs **fsp, const char *dir, struct uvdev *dev,
		   const struct uvstatfs_ops *ops, void *opaque);
void uvstatfs_stop(struct uvstatfs *fs);
int uvstatfs_stop_atexit(struct uvstatfs *fs);
pid_t uvstatfs_watchdog_pid(const struct uvstatfs *fs);
int uvstatfs_read_file(struct uvstatfs *fs, const char *path, char **buf,
		       size_t *len);
int uvstatfs_write_file(struct uvstatfs *fs, const char *path,
			const char *val, size_t len);
uint64_t uvstatfs_now_ns(void);

#endif /* UVSTATFS_STATFS_H */

/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * uring.h - uvirtio-blk's asynchronous backend: reads, writes and flushes
 * of one file or block device through an io_uring
 *
 * Like backend.h it knows I/O, not virtio: byte offsets and iovecs in,
 * byte counts or -errno out. What a result means for a request (retry the
 * remainder, a status byte for the driver) is the request layer's call
 * (queue.c, req.c).
 */
#ifndef UVIRTIO_BLK_URING_H
#define UVIRTIO_BLK_URING_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <liburing.h>

/* What one operation does */
enum blk_uring_op {
	BLK_URING_READ,
	BLK_URING_WRITE,
	BLK_URING_FSYNC,	/* data sync of the whole file */
	BLK_URING_PUNCH,	/* punch a hole: one iovec, only its length
				 * is used (the range's bytes) */
};

/**
 * struct blk_uring - one io_uring on one file (one per queue thread)
 * @ring:	the ring; the file is registered as fixed file 0
 * @ready:	@ring is set up
 * @fixed_bufs:	the bounce pool is registered as fixed buffer 0
 * @shared_bufs: @fixed_bufs, shared with another queue's ring (pinned and
 *		counted against RLIMIT_MEMLOCK once: blk_uring_init())
 * @fixed_err:	why it is not (-errno of io_uring_register_buffers())
 * @vec_fixed:	@fixed_bufs, and the kernel has READV_FIXED / WRITEV_FIXED
 *		(6.15): a transfer in pieces of the pool is one operation
 * @pool:	the bounce pool in our mapping
 * @pool_size:	its bytes
 * @inflight:	operations queued and not yet reaped (file I/O only)
 * @enters:	io_uring_enter() calls made through this file
 */
struct blk_uring {
	struct io_uring ring;
	bool ready;
	bool fixed_bufs;
	bool shared_bufs;
	int fixed_err;
	bool vec_fixed;
	uint8_t *pool;
	uint64_t pool_size;
	unsigned int inflight;
	uint64_t enters;
};

/*
 * Most pieces of the pool a read or write may lie in to go on the fixed
 * buffer as one READ_FIXED per piece (kernels without READV_FIXED:
 * blk_uring_queue()); a transfer in more pieces goes as one readv/writev.
 * One READV_FIXED takes any number of pieces (up to IOV_MAX).
 */
#define BLK_URING_PARTS_MAX	32

/*
 * Tags below this are the caller's own commands (blk_uring_cmd(),
 * blk_uring_poll()), not file I/O: they are not counted in @inflight.
 */
#define BLK_URING_OWN_TAGS	16

/**
 * typedef blk_uring_done_fn - one operation ended
 * @tag:	what blk_uring_queue() was given
 * @res:	bytes moved, or -errno
 * @arg:	what blk_uring_reap() was given
 *
 * Return: true if @tag is not finished: the callee queued a follow-up
 * operation for it (blk_uring_reap() submits it), or other operations of
 * it are still in flight; false if @tag is finished
 */
typedef bool (*blk_uring_done_fn)(void *tag, int res, void *arg);

bool blk_uring_kernel_at_least(unsigned int major, unsigned int minor);
int blk_uring_probe(int fd, unsigned int entries, bool *pins, bool *shares);
int blk_uring_init(struct blk_uring *u, unsigned int entries, int fd,
		   int event_fd, void *pool, uint64_t pool_size,
		   const struct blk_uring *share);
int blk_uring_queue(struct blk_uring *u, enum blk_uring_op op, uint64_t off,
		    const struct iovec *iov, unsigned int cnt, void *tag);
int blk_uring_submit(struct blk_uring *u);
unsigned int blk_uring_reap(struct blk_uring *u, blk_uring_done_fn done,
			    void *arg);
int blk_uring_wait(struct blk_uring *u);
int blk_uring_sleep(struct blk_uring *u, int timeout_ms);
int blk_uring_cmd(struct blk_uring *u, int fd, uint32_t op, unsigned int index,
		  uint16_t last_avail, uintptr_t tag);
int blk_uring_poll(struct blk_uring *u, int fd, uintptr_t tag);
int blk_uring_cmd_once(int fd, uint32_t op, uint32_t index, uint16_t last_avail,
		       uint16_t flags);
int blk_uring_cmd_probe(int fd);

/**
 * blk_uring_has_done() - are completions waiting to be reaped
 * @u:		ring (set up or not)
 *
 * Return: true if blk_uring_reap() would find something
 */
static inline bool blk_uring_has_done(struct blk_uring *u)
{
	return u->ready && io_uring_cq_ready(&u->ring);
}

#endif /* UVIRTIO_BLK_URING_H */

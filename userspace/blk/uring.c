// SPDX-License-Identifier: GPL-2.0-only
/*
 * uring.c - reads, writes and flushes of one file through an io_uring
 *
 * The file is registered as fixed file 0. The bounce pool is registered as
 * fixed buffer 0 where the kernel lets us pin it (RLIMIT_MEMLOCK): a
 * transfer whose buffers lie inside it then goes as READV_FIXED /
 * WRITEV_FIXED (6.15 on) or one READ_FIXED / WRITE_FIXED per buffer,
 * which skip the per-operation page pinning and the user copy. Completions are
 * announced on an eventfd the caller watches, and reaped in batches.
 *
 * The same ring can carry uvirtio's own io_uring commands (UVIRTIO_URING_WAIT
 * and _COMMIT on the device fd) and a poll of an eventfd: a queue thread
 * then sleeps in io_uring_enter() on all of it at once, with no eventfd
 * announcing completions.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <linux/uvirtio.h>

#include <liburing.h>

#include "uring.h"

/* Completions taken off the ring per peek. */
#define BLK_URING_REAP	64

/*
 * Vectored reads and writes on a registered buffer (Linux 6.15). Their
 * numbers are fixed by the ABI; Debian 12's headers predate them.
 */
#define BLK_OP_READV_FIXED	60
#define BLK_OP_WRITEV_FIXED	61

/**
 * blk_uring_has_vec_fixed() - does the kernel know READV_FIXED and
 * WRITEV_FIXED
 * @ring:	a ring
 *
 * Return: true if both are supported
 */
static bool blk_uring_has_vec_fixed(struct io_uring *ring)
{
	struct io_uring_probe *p = io_uring_get_probe_ring(ring);
	bool ok;

	if (!p)
		return false;
	ok = io_uring_opcode_supported(p, BLK_OP_READV_FIXED) &&
	     io_uring_opcode_supported(p, BLK_OP_WRITEV_FIXED);
	io_uring_free_probe(p);
	return ok;
}

/**
 * blk_uring_kernel_at_least() - is the running kernel this version or later
 * @major:	version
 * @minor:	patch level
 *
 * Return: true if so; false if uname() says something else
 */
bool blk_uring_kernel_at_least(unsigned int major, unsigned int minor)
{
	unsigned int a = 0, b = 0;
	struct utsname u;

	if (uname(&u) || sscanf(u.release, "%u.%u", &a, &b) != 2)
		return false;
	return a > major || (a == major && b >= minor);
}

/**
 * blk_uring_pins_device_memory() - may a ring take the bounce pool as fixed
 * buffer on this kernel
 *
 * The pool is a shared mapping of /dev/uvirtio. Before Linux 6.5 io_uring
 * looked at the mapping itself and refused every file but shmem and
 * hugetlbfs (EOPNOTSUPP); from 6.5 it leaves that to the page pinning
 * rules, which allow the pool (it needs no write notification: pool_pin).
 * No memory an unprivileged process can map without a device tells the
 * two apart (a memfd is shmem), so the kernel's version does.
 *
 * Return: true on 6.5 and later
 */
static bool blk_uring_pins_device_memory(void)
{
	return blk_uring_kernel_at_least(6, 5);
}

/*
 * IORING_REGISTER_CLONE_BUFFERS (Linux 6.12) and its argument, with the
 * fields 6.12 has (later kernels give the padding a meaning in which zero
 * means every buffer); Debian 12's liburing 2.3 has no call for it.
 */
#define BLK_REGISTER_CLONE_BUFFERS	30
struct blk_clone_buffers {
	uint32_t src_fd;
	uint32_t flags;
	uint32_t pad[6];
};

/**
 * blk_uring_clone_buffers() - give a ring the fixed buffers of another
 * @dst:	ring with no buffers registered
 * @src:	ring with some, of the same process
 *
 * The pages stay pinned once and counted once: both rings charge the same
 * user's RLIMIT_MEMLOCK, so the kernel does not charge the clone again.
 *
 * Return: 0, or -errno (-EINVAL before 6.12)
 */
static int blk_uring_clone_buffers(struct io_uring *dst,
				   const struct io_uring *src)
{
	struct blk_clone_buffers arg = { .src_fd = (uint32_t)src->ring_fd };

	if (syscall(__NR_io_uring_register, dst->ring_fd,
		    BLK_REGISTER_CLONE_BUFFERS, &arg, 1) < 0)
		return -errno;
	return 0;
}

/**
 * blk_uring_shares() - can one ring's fixed buffer serve another ring
 * @ring:	a ring with no buffers registered
 *
 * One anonymous page registered on @ring, then cloned onto a second ring.
 *
 * Return: true if the clone worked
 */
static bool blk_uring_shares(struct io_uring *ring)
{
	long pg = sysconf(_SC_PAGESIZE);
	struct io_uring other;
	struct iovec iov;
	bool ok = false;

	iov.iov_base = mmap(NULL, pg, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	iov.iov_len = pg;
	if (iov.iov_base == MAP_FAILED)
		return false;
	if (!io_uring_register_buffers(ring, &iov, 1) &&
	    !io_uring_queue_init(2, &other, 0)) {
		ok = !blk_uring_clone_buffers(&other, ring);
		io_uring_queue_exit(&other);
	}
	munmap(iov.iov_base, pg);
	return ok;
}

/**
 * blk_uring_probe() - can this process do its file I/O through io_uring?
 * @fd:		the backing file
 * @entries:	submission ring size the queues will ask for
 * @pins:	set to whether a ring could take the bounce pool as fixed
 *		buffer (blk_uring_pins_device_memory()); false on failure
 * @shares:	set to whether the queues' rings can share one pin of it
 *		(blk_uring_shares()); false on failure
 *
 * io_uring may be missing or forbidden: kernel.io_uring_disabled, or a
 * seccomp filter (the default profiles of Docker, containerd and Podman
 * refuse io_uring_setup). A throw-away ring with the file registered tells.
 *
 * Return: 0, or the -errno that setting up a queue's ring would meet
 */
int blk_uring_probe(int fd, unsigned int entries, bool *pins, bool *shares)
{
	struct io_uring ring;
	int ret;

	*pins = false;
	*shares = false;
	ret = io_uring_queue_init(entries, &ring, 0);
	if (ret)
		return ret;
	ret = io_uring_register_files(&ring, &fd, 1);
	if (!ret) {
		*pins = blk_uring_pins_device_memory();
		*shares = *pins && blk_uring_shares(&ring);
	}
	io_uring_queue_exit(&ring);
	return ret;
}

/**
 * blk_uring_init() - set up a ring on a file
 * @u:		ring, zeroed
 * @entries:	submission ring size
 * @fd:		the file, or -1 for a ring that carries only commands
 * @event_fd:	eventfd the ring signals on every completion, or -1
 * @pool:	bounce pool in our mapping (tried as fixed buffer 0), or NULL
 * @pool_size:	its bytes
 * @share:	a ring that has @pool registered already, or NULL: where the
 *		kernel can (6.12 on), @u shares that registration instead of
 *		pinning the pool again
 *
 * A pool the kernel refuses to register is no error: @u->fixed_err says
 * why and transfers go through plain readv/writev.
 *
 * Return: 0 or -errno
 */
int blk_uring_init(struct blk_uring *u, unsigned int entries, int fd,
		   int event_fd, void *pool, uint64_t pool_size,
		   const struct blk_uring *share)
{
	struct iovec biov = { pool, pool_size };
	int ret;

	ret = io_uring_queue_init(entries, &u->ring, 0);
	if (ret)
		return ret;
	u->ready = true;
	u->fixed_err = -EBADF;
	if (fd < 0)
		return 0;
	ret = io_uring_register_files(&u->ring, &fd, 1);
	if (ret)
		return ret;
	if (event_fd >= 0) {
		ret = io_uring_register_eventfd(&u->ring, event_fd);
		if (ret)
			return ret;
	}
	if (!pool)
		return 0;
	u->pool = pool;
	u->pool_size = pool_size;
	u->shared_bufs = share && share->fixed_bufs && share->pool == pool &&
			 share->pool_size == pool_size &&
			 !blk_uring_clone_buffers(&u->ring, &share->ring);
	u->fixed_err = u->shared_bufs ? 0 :
		       io_uring_register_buffers(&u->ring, &biov, 1);
	u->fixed_bufs = !u->fixed_err;
	u->vec_fixed = u->fixed_bufs && blk_uring_has_vec_fixed(&u->ring);
	return 0;
}

/**
 * blk_uring_submit() - hand the queued operations to the kernel
 * @u:		ring
 *
 * io_uring_submit() may fail for want of memory or room in the completion
 * ring (-EAGAIN, -EBUSY) or be interrupted: the operations then stay in
 * the submission ring and are handed over by the next call (the queue
 * thread makes one per pass, and blk_uring_wait() submits them too). So
 * nothing is lost here; a few tries only keep the latency down.
 *
 * Return: 0, or the last -errno
 */
int blk_uring_submit(struct blk_uring *u)
{
	int ret = 0, i;

	for (i = 0; i < 4 && io_uring_sq_ready(&u->ring); i++) {
		u->enters++;
		ret = io_uring_submit(&u->ring);
		if (ret >= 0)
			return 0;
		if (ret != -EAGAIN && ret != -EBUSY && ret != -EINTR)
			break;
	}
	return ret < 0 ? ret : 0;
}

/**
 * blk_uring_in_pool() - does a buffer lie inside the bounce pool
 * @u:		ring with the pool registered
 * @iov:	the buffer
 *
 * Return: true if READ_FIXED / WRITE_FIXED can move it
 */
static bool blk_uring_in_pool(const struct blk_uring *u,
			      const struct iovec *iov)
{
	const uint8_t *b = iov->iov_base;

	return b >= u->pool && iov->iov_len <= u->pool_size &&
	       (uint64_t)(b - u->pool) <= u->pool_size - iov->iov_len;
}

/**
 * blk_uring_fixed_parts() - how many fixed-buffer operations a read or
 * write of these buffers becomes
 * @u:		ring
 * @iov:	the buffers
 * @cnt:	entries in @iov
 *
 * Where the kernel has READV_FIXED / WRITEV_FIXED (@u->vec_fixed), a
 * transfer in any number of pieces of the pool (up to IOV_MAX) is one of
 * them. Else READ_FIXED / WRITE_FIXED take one buffer, so a transfer
 * whose buffers lie apart in the pool becomes one operation per buffer,
 * for up to BLK_URING_PARTS_MAX pieces. They must all fit the submission
 * ring (it is flushed to make room), and the operations in flight must
 * stay within the ring's size, so the completion ring (twice as large)
 * always has room for them and for the plain operations of the other
 * requests.
 *
 * Return: operations (1, or @cnt), or 0 if the transfer goes as one
 * readv/writev (which, with the submission ring still full, is -EBUSY)
 */
static unsigned int blk_uring_fixed_parts(struct blk_uring *u,
					  const struct iovec *iov,
					  unsigned int cnt)
{
	unsigned int i, need;

	if (!u->fixed_bufs || !cnt || cnt > IOV_MAX ||
	    (!u->vec_fixed && cnt > BLK_URING_PARTS_MAX))
		return 0;
	for (i = 0; i < cnt; i++)
		if (!blk_uring_in_pool(u, &iov[i]))
			return 0;
	need = cnt == 1 || u->vec_fixed ? 1 : cnt;
	if (need > 1 && u->inflight + need > u->ring.sq.ring_entries)
		return 0;
	if (io_uring_sq_space_left(&u->ring) < need)
		blk_uring_submit(u);
	return io_uring_sq_space_left(&u->ring) >= need ? need : 0;
}

/**
 * blk_uring_get_sqe() - a free submission entry, submitting to make room
 * @u:		ring
 *
 * Return: the entry, or NULL if the ring stays full
 */
static struct io_uring_sqe *blk_uring_get_sqe(struct blk_uring *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe) {
		blk_uring_submit(u);
		sqe = io_uring_get_sqe(&u->ring);
	}
	return sqe;
}

/**
 * blk_uring_prep() - finish an entry blk_uring_queue() filled
 * @u:		ring
 * @sqe:	the entry
 * @tag:	handed back to the completion callback
 */
static void blk_uring_prep(struct blk_uring *u, struct io_uring_sqe *sqe,
			   void *tag)
{
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, tag);
	u->inflight++;
}

/**
 * blk_uring_queue_fixed() - queue a read or write on the pool's fixed
 * buffer
 * @u:		ring with room for @parts entries (blk_uring_fixed_parts())
 * @write:	a write, else a read
 * @off:	byte offset of the first buffer in the file
 * @iov:	the buffers, each inside the pool; the next one's bytes follow
 *		in the file. They must stay valid until the operations end.
 * @cnt:	entries in @iov
 * @parts:	1: one operation (READ_FIXED for one buffer, READV_FIXED for
 *		several); @cnt: one READ_FIXED per buffer
 * @tag:	handed back once per operation
 */
static void blk_uring_queue_fixed(struct blk_uring *u, bool write,
				  uint64_t off, const struct iovec *iov,
				  unsigned int cnt, unsigned int parts,
				  void *tag)
{
	struct io_uring_sqe *sqe;
	unsigned int i;

	if (parts == 1 && cnt > 1) {
		sqe = io_uring_get_sqe(&u->ring);
		io_uring_prep_rw(write ? BLK_OP_WRITEV_FIXED :
					 BLK_OP_READV_FIXED,
				 sqe, 0, iov, cnt, off);
		sqe->buf_index = 0;
		blk_uring_prep(u, sqe, tag);
		return;
	}
	for (i = 0; i < cnt; off += iov[i].iov_len, i++) {
		sqe = io_uring_get_sqe(&u->ring);
		if (write)
			io_uring_prep_write_fixed(sqe, 0, iov[i].iov_base,
						  iov[i].iov_len, off, 0);
		else
			io_uring_prep_read_fixed(sqe, 0, iov[i].iov_base,
						 iov[i].iov_len, off, 0);
		blk_uring_prep(u, sqe, tag);
	}
}

/**
 * blk_uring_queue() - queue a read, write, flush or hole punch
 * (blk_uring_submit() hands it over)
 * @u:		ring
 * @op:		BLK_URING_*
 * @off:	byte offset in the file (reads, writes, holes)
 * @iov:	buffers (reads and writes); they must stay valid until the
 *		operation is reaped. BLK_URING_PUNCH: one entry whose length
 *		is the hole's (its base is not used)
 * @cnt:	entries in @iov
 * @tag:	handed back to the completion callback
 *
 * A read or write whose buffers all lie in the registered pool goes on
 * the fixed buffer (blk_uring_fixed_parts()): as one operation, or as one
 * per buffer, each of which completes on its own with @tag; it is the
 * caller's to add up their results.
 *
 * Return: the operations queued on the fixed buffer, 0 if it is queued
 * as one other operation, or -EBUSY if the submission ring is full even
 * after a submit
 */
int blk_uring_queue(struct blk_uring *u, enum blk_uring_op op, uint64_t off,
		    const struct iovec *iov, unsigned int cnt, void *tag)
{
	bool write = op == BLK_URING_WRITE;
	struct io_uring_sqe *sqe;
	unsigned int parts = 0;

	if (op == BLK_URING_READ || write)
		parts = blk_uring_fixed_parts(u, iov, cnt);
	if (parts) {
		blk_uring_queue_fixed(u, write, off, iov, cnt, parts, tag);
		return parts;
	}
	sqe = blk_uring_get_sqe(u);
	if (!sqe)
		return -EBUSY;
	switch (op) {
	case BLK_URING_READ:
		io_uring_prep_readv(sqe, 0, iov, cnt, off);
		break;
	case BLK_URING_WRITE:
		io_uring_prep_writev(sqe, 0, iov, cnt, off);
		break;
	case BLK_URING_FSYNC:
		io_uring_prep_fsync(sqe, 0, IORING_FSYNC_DATASYNC);
		break;
	case BLK_URING_PUNCH:
		/* io_uring runs it in a worker: the queue thread goes on */
		io_uring_prep_fallocate(sqe, 0, FALLOC_FL_PUNCH_HOLE |
					FALLOC_FL_KEEP_SIZE, off,
					iov->iov_len);
		break;
	}
	blk_uring_prep(u, sqe, tag);
	return 0;
}

/**
 * blk_uring_reap() - hand every finished operation to @done
 * @u:		ring (set up or not)
 * @done:	called once per finished operation
 * @arg:	its last argument
 *
 * Follow-up operations @done queued are submitted before return.
 *
 * Return: operations @done called finished
 */
unsigned int blk_uring_reap(struct blk_uring *u, blk_uring_done_fn done,
			    void *arg)
{
	struct io_uring_cqe *cqes[BLK_URING_REAP];
	unsigned int i, n, total = 0, again = 0;

	if (!u->ready)
		return 0;
	while ((n = io_uring_peek_batch_cqe(&u->ring, cqes,
					    BLK_URING_REAP)) > 0) {
		for (i = 0; i < n; i++) {
			if ((uintptr_t)io_uring_cqe_get_data(cqes[i]) >=
			    BLK_URING_OWN_TAGS)
				u->inflight--;
			if (done(io_uring_cqe_get_data(cqes[i]), cqes[i]->res,
				 arg))
				again++;
			else
				total++;
		}
		io_uring_cq_advance(&u->ring, n);
	}
	if (again)
		blk_uring_submit(u);
	return total;
}

/**
 * blk_uring_wait() - submit what is queued and wait for one completion
 * @u:		ring with operations in flight
 *
 * Submit and wait in one call: operations a failed submit left in the
 * submission ring would never complete under a plain wait. An -EAGAIN or
 * -EBUSY (no memory, completion ring full) sleeps a millisecond first, so
 * a caller that retries does not spin.
 *
 * Return: 0 (woken, interrupted or timed out), or -errno
 */
int blk_uring_wait(struct blk_uring *u)
{
	int ret;

	u->enters++;
	ret = io_uring_submit_and_wait(&u->ring, 1);

	if (ret >= 0 || ret == -EINTR || ret == -ETIME)
		return 0;
	if (ret == -EAGAIN || ret == -EBUSY)
		usleep(1000);
	return ret;
}

/**
 * blk_uring_sleep() - submit what is queued and sleep until a completion
 * @u:		ring
 * @timeout_ms:	at most this long, or -1
 *
 * One io_uring_enter() hands everything over and waits.
 *
 * Return: 0 (woken, interrupted or timed out), or -errno
 */
int blk_uring_sleep(struct blk_uring *u, int timeout_ms)
{
	struct __kernel_timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (timeout_ms % 1000) * 1000000LL,
	};
	struct io_uring_cqe *cqe;
	int ret;

	if (timeout_ms < 0)
		return blk_uring_wait(u);
	u->enters++;
	ret = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
	if (ret >= 0 || ret == -EINTR || ret == -ETIME)
		return 0;
	if (ret == -EAGAIN || ret == -EBUSY)
		usleep(1000);
	return ret;
}

/**
 * blk_uring_cmd() - queue a uvirtio command on the device fd
 * @u:		ring
 * @fd:		the /dev/uvirtio fd
 * @op:		UVIRTIO_URING_WAIT or UVIRTIO_URING_COMMIT
 * @index:	queue index
 * @last_avail:	WAIT: the avail index seen; COMMIT: 0
 * @tag:	below BLK_URING_OWN_TAGS, handed back at completion; a COMMIT
 *		posts a completion only when it fails
 *
 * liburing 2.3 has no helper for IORING_OP_URING_CMD: the entry is filled
 * by hand, the command in the 16 bytes at its end.
 *
 * Return: 0, or -EBUSY if the submission ring is full
 */
int blk_uring_cmd(struct blk_uring *u, int fd, uint32_t op, unsigned int index,
		  uint16_t last_avail, uintptr_t tag)
{
	struct io_uring_sqe *sqe = blk_uring_get_sqe(u);
	struct uvirtio_uring_cmd c = {
		.index = index,
		.last_avail = last_avail,
	};

	if (!sqe)
		return -EBUSY;
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = op;
	memcpy(sqe->cmd, &c, sizeof(c));
	if (op == UVIRTIO_URING_COMMIT)
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	io_uring_sqe_set_data(sqe, (void *)tag);
	return 0;
}

/**
 * blk_uring_poll() - queue a one-shot poll for input on @fd
 * @u:		ring
 * @fd:		file
 * @tag:	below BLK_URING_OWN_TAGS, handed back at completion
 *
 * Return: 0, or -EBUSY if the submission ring is full
 */
int blk_uring_poll(struct blk_uring *u, int fd, uintptr_t tag)
{
	struct io_uring_sqe *sqe = blk_uring_get_sqe(u);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, fd, POLLIN);
	io_uring_sqe_set_data(sqe, (void *)tag);
	return 0;
}

/**
 * blk_uring_cmd_once() - issue one uvirtio command on a throw-away ring and
 * wait for it
 * @fd:		the /dev/uvirtio fd
 * @op:		UVIRTIO_URING_*
 * @index:	struct uvirtio_uring_cmd's fields
 * @last_avail:	its @last_avail
 * @flags:	its @flags
 *
 * Return: the command's result, or the -errno of setting up, submitting or
 * reaping it
 */
int blk_uring_cmd_once(int fd, uint32_t op, uint32_t index, uint16_t last_avail,
		       uint16_t flags)
{
	struct uvirtio_uring_cmd c = {
		.index = index, .last_avail = last_avail, .flags = flags,
	};
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	int ret;

	ret = io_uring_queue_init(2, &ring, 0);
	if (ret)
		return ret;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = op;
	memcpy(sqe->cmd, &c, sizeof(c));
	ret = io_uring_submit_and_wait(&ring, 1);
	if (ret >= 0)
		ret = io_uring_peek_cqe(&ring, &cqe);
	if (ret >= 0) {
		ret = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
	}
	io_uring_queue_exit(&ring);
	return ret;
}

/**
 * blk_uring_cmd_probe() - may this process drive queues with uvirtio's
 * io_uring commands?
 * @fd:		the /dev/uvirtio fd of a created device
 *
 * io_uring may be missing or forbidden (blk_uring_probe()), the kernel may
 * lack IORING_OP_URING_CMD (-EINVAL) or the module the commands
 * (-EOPNOTSUPP). A COMMIT of queue 0 tells: with nothing in the shadow
 * ring it changes nothing.
 *
 * Return: 0, or -errno
 */
int blk_uring_cmd_probe(int fd)
{
	int ret = blk_uring_cmd_once(fd, UVIRTIO_URING_COMMIT, 0, 0, 0);

	return ret < 0 ? ret : 0;
}

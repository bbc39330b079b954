// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_blk_uring.c - uvirtio-blk's io_uring file I/O on the host: reads and
 * writes whose buffers lie apart in a registered pool go on the fixed
 * buffer, as one fixed-buffer operation per buffer whose results add up to
 * the transfer's, or (where the kernel has them, 6.15 on) as one
 * READV_FIXED / WRITEV_FIXED. The cases run once each way.
 *
 * The file is a memfd, the pool an anonymous mapping: no /dev/uvirtio is
 * needed. Where io_uring is refused (kernel.io_uring_disabled, seccomp) or
 * the pool cannot be pinned (RLIMIT_MEMLOCK), the cases that need it are
 * skipped with the reason.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "req.h"
#include "tap.h"
#include "uring.h"

#define POOL_BYTES	(64 * 1024)	/* room for BLK_URING_PARTS_MAX + 1
					 * pieces 1 KiB apart */
#define FILE_BYTES	(32 * 1024)
#define RING_ENTRIES	8
_Static_assert((BLK_URING_PARTS_MAX + 1) * 1024 <= POOL_BYTES &&
	       (BLK_URING_PARTS_MAX + 1) * 512 <= FILE_BYTES,
	       "t_not_split() needs a larger pool or file");

static struct blk_uring ring;
static uint8_t *pool;
static int file_fd = -1;
static const char *why_not;	/* why the ring cases cannot run */

/* operations a transfer in @cnt pieces of the pool becomes */
static int ops_for(unsigned int cnt)
{
	return ring.vec_fixed ? 1 : (int)cnt;
}

/**
 * struct sum - what the completions of one transfer brought
 * @parts:	the transfer's operations, as the queue thread keeps them
 * @ops:	completions seen
 * @result:	blk_io_parts_result() after the last one, or the one result
 *		of an unsplit transfer
 * @finished:	the transfer is judged
 */
struct sum {
	struct blk_io_parts parts;
	unsigned int ops;
	int result;
	bool finished;
};

/* blk_uring_done_fn of the cases: what q_io_done() does with the parts */
static bool on_done(void *tag, int res, void *arg)
{
	struct sum *s = tag;
	uint64_t *want = arg;

	s->ops++;
	if (s->parts.left) {
		if (!blk_io_part_done(&s->parts, res))
			return true;
		res = blk_io_parts_result(&s->parts, *want);
	}
	s->result = res;
	s->finished = true;
	return false;
}

/**
 * transfer() - queue one read or write and wait until it is judged
 * @u:		ring
 * @op:		BLK_URING_READ or _WRITE
 * @off:	file offset
 * @iov:	buffers
 * @cnt:	their number
 * @queued:	out: blk_uring_queue()'s return
 * @s:		out: what came back
 *
 * Return: true unless the ring failed under us
 */
static bool transfer(struct blk_uring *u, enum blk_uring_op op, uint64_t off,
		     const struct iovec *iov, unsigned int cnt, int *queued,
		     struct sum *s)
{
	uint64_t want = 0;
	unsigned int i;

	for (i = 0; i < cnt; i++)
		want += iov[i].iov_len;
	memset(s, 0, sizeof(*s));
	*queued = blk_uring_queue(u, op, off, iov, cnt, s);
	if (*queued < 0)
		return false;
	s->parts.left = *queued > 1 ? *queued : 0;
	if (blk_uring_submit(u))
		return false;
	while (!s->finished) {
		if (blk_uring_wait(u))
			return false;
		blk_uring_reap(u, on_done, &want);
	}
	return u->inflight == 0;
}

/* the byte the file holds at @off after fill_file() */
static uint8_t file_byte(uint64_t off)
{
	return (uint8_t)(off * 7 + (off >> 9));
}

/**
 * fill_file() - write the test pattern over the whole file
 *
 * Return: true on success
 */
static bool fill_file(void)
{
	uint8_t b[FILE_BYTES];
	unsigned int i;

	for (i = 0; i < FILE_BYTES; i++)
		b[i] = file_byte(i);
	return pwrite(file_fd, b, sizeof(b), 0) == (ssize_t)sizeof(b);
}

/* the pool's pieces the cases use: apart from each other, odd sizes */
static struct iovec piece(unsigned int at, unsigned int len)
{
	return (struct iovec){ pool + at, len };
}

/* blk_io_parts: every part whole, a short one, errors, transient ones */
static bool t_parts_result(void)
{
	struct blk_io_parts p = { .left = 3 };

	CHECK(!blk_io_part_done(&p, 4096));
	CHECK(!blk_io_part_done(&p, 512));
	CHECK(blk_io_part_done(&p, 1024));
	CHECK_EQ(blk_io_parts_result(&p, 5632), 5632);
	/* one short part: nothing counts, the transfer is done again */
	p = (struct blk_io_parts){ .left = 2 };
	blk_io_part_done(&p, 4096);
	blk_io_part_done(&p, 100);
	CHECK_EQ(blk_io_parts_result(&p, 8192), 0);
	/* a transient part: the same, even if the bytes add up by chance */
	p = (struct blk_io_parts){ .left = 3 };
	blk_io_part_done(&p, 4096);
	blk_io_part_done(&p, -EAGAIN);
	blk_io_part_done(&p, 4096);
	CHECK_EQ(blk_io_parts_result(&p, 8192), 0);
	/* a real error wins over a transient one, in either order */
	p = (struct blk_io_parts){ .left = 3 };
	blk_io_part_done(&p, -EINTR);
	blk_io_part_done(&p, -EIO);
	blk_io_part_done(&p, -EAGAIN);
	CHECK_EQ(blk_io_parts_result(&p, 8192), -EIO);
	p = (struct blk_io_parts){ .left = 2 };
	blk_io_part_done(&p, -ENOSPC);
	blk_io_part_done(&p, -EINTR);
	CHECK_EQ(blk_io_parts_result(&p, 8192), -ENOSPC);
	/* what blk_io_progress() makes of them */
	{
		uint64_t done = 0;
		unsigned int tries = 0;

		CHECK_EQ(blk_io_progress(VIRTIO_BLK_T_IN, 0, 8192, &done,
					 &tries), BLK_IO_AGAIN);
		CHECK_EQ(done, 0);
		CHECK_EQ(tries, 1);
	}
	return true;
}

/* a read into three pieces of the pool: three READ_FIXED, right bytes */
static bool t_split_read(void)
{
	struct iovec iov[3] = { piece(40960, 4096), piece(512, 1536),
				piece(20480, 8192) };
	struct sum s;
	int queued;
	uint64_t off = 1024, o;
	unsigned int i, j;

	memset(pool, 0xee, POOL_BYTES);
	CHECK(transfer(&ring, BLK_URING_READ, off, iov, 3, &queued, &s));
	CHECK_EQ(queued, ops_for(3));
	CHECK_EQ(s.ops, ops_for(3));
	CHECK_EQ(s.result, 4096 + 1536 + 8192);
	for (o = off, i = 0; i < 3; i++)
		for (j = 0; j < iov[i].iov_len; j++, o++)
			CHECK_EQ(((uint8_t *)iov[i].iov_base)[j], file_byte(o));
	CHECK_EQ(pool[512 + 1536], 0xee);	/* nothing past a piece */
	return true;
}

/* a write from two pieces: two WRITE_FIXED, the file holds them in order */
static bool t_split_write(void)
{
	struct iovec iov[2] = { piece(32768, 2048), piece(4096, 1024) };
	uint8_t back[3072];
	struct sum s;
	int queued;

	memset(iov[0].iov_base, 0x11, 2048);
	memset(iov[1].iov_base, 0x22, 1024);
	CHECK(transfer(&ring, BLK_URING_WRITE, 8192, iov, 2, &queued, &s));
	CHECK_EQ(queued, ops_for(2));
	CHECK_EQ(s.result, 3072);
	CHECK_EQ(pread(file_fd, back, sizeof(back), 8192), sizeof(back));
	CHECK_EQ(back[0], 0x11);
	CHECK_EQ(back[2047], 0x11);
	CHECK_EQ(back[2048], 0x22);
	CHECK_EQ(back[3071], 0x22);
	CHECK(fill_file());
	return true;
}

/* one piece: one READ_FIXED, no parts to add up */
static bool t_one_piece(void)
{
	struct iovec iov = piece(8192, 4096);
	struct sum s;
	int queued;

	CHECK(transfer(&ring, BLK_URING_READ, 4096, &iov, 1, &queued, &s));
	CHECK_EQ(queued, 1);
	CHECK_EQ(s.ops, 1);
	CHECK_EQ(s.result, 4096);
	CHECK_EQ(pool[8192], file_byte(4096));
	return true;
}

/*
 * More pieces than BLK_URING_PARTS_MAX: one readv, or one READV_FIXED
 * where the kernel has it. One piece outside the pool: readv.
 */
static bool t_not_split(void)
{
	struct iovec iov[BLK_URING_PARTS_MAX + 1];
	uint8_t outside[512];
	struct sum s;
	int queued;
	unsigned int i;

	for (i = 0; i <= BLK_URING_PARTS_MAX; i++)
		iov[i] = piece(i * 1024, 512);	/* 512 bytes apart */
	CHECK(transfer(&ring, BLK_URING_READ, 0, iov, BLK_URING_PARTS_MAX + 1,
		       &queued, &s));
	CHECK_EQ(queued, ring.vec_fixed ? 1 : 0);
	CHECK_EQ(s.ops, 1);
	CHECK_EQ(s.result, (BLK_URING_PARTS_MAX + 1) * 512);
	CHECK_EQ(pool[1024], file_byte(512));
	CHECK_EQ(pool[BLK_URING_PARTS_MAX * 1024 + 511],
		 file_byte(BLK_URING_PARTS_MAX * 512 + 511));
	iov[1] = (struct iovec){ outside, sizeof(outside) };
	CHECK(transfer(&ring, BLK_URING_READ, 0, iov, 2, &queued, &s));
	CHECK_EQ(queued, 0);
	CHECK_EQ(s.result, 1024);
	CHECK_EQ(outside[0], file_byte(512));
	return true;
}

/*
 * A read in pieces reaching past the file's end: split, it is judged as
 * moving nothing (done again whole); as one READV_FIXED it is short
 */
static bool t_split_past_end(void)
{
	struct iovec iov[2] = { piece(0, 4096), piece(16384, 4096) };
	struct sum s;
	int queued;

	CHECK(transfer(&ring, BLK_URING_READ, FILE_BYTES - 6144, iov, 2, &queued,
		       &s));
	CHECK_EQ(queued, ops_for(2));
	CHECK_EQ(s.ops, ops_for(2));
	if (ring.vec_fixed) {
		CHECK_EQ(s.result, 6144);
		CHECK_EQ(pool[16384 + 2047], file_byte(FILE_BYTES - 1));
	} else {
		CHECK_EQ(s.parts.bytes, 6144);
		CHECK_EQ(s.result, 0);
	}
	return true;
}

/* blk_uring_done_fn counting completions into @arg */
static bool count_done(void *tag, int res, void *arg)
{
	(void)tag;
	(void)res;
	++*(unsigned int *)arg;
	return false;
}

/*
 * The submission ring full of queued reads: a fixed-buffer read makes
 * room by submitting them, a split that would put more operations in
 * flight than the ring holds goes as one readv, and every operation
 * completes
 */
static bool t_full_ring(void)
{
	static uint8_t outside[RING_ENTRIES][512];
	unsigned int i, n = 0, done = 0;
	struct iovec out[RING_ENTRIES], iov[2] = { piece(0, 512),
						   piece(4096, 512) };
	int ret;

	for (i = 0; i < RING_ENTRIES; i++) {
		out[i] = (struct iovec){ outside[i], sizeof(outside[i]) };
		CHECK_EQ(blk_uring_queue(&ring, BLK_URING_READ, 0, &out[i], 1,
					 &n), 0);
	}
	CHECK_EQ(io_uring_sq_space_left(&ring.ring), 0);
	ret = blk_uring_queue(&ring, BLK_URING_READ, 0, iov, 1, &n);
	CHECK_EQ(ret, 1);
	/*
	 * 9 operations in flight: 2 more per piece would pass the ring's
	 * size, so that read goes as one readv; a READV_FIXED is one
	 */
	ret = blk_uring_queue(&ring, BLK_URING_READ, 0, iov, 2, &n);
	CHECK_EQ(ret, ring.vec_fixed ? 1 : 0);
	n = RING_ENTRIES + 2;
	CHECK(blk_uring_submit(&ring) == 0);
	while (done < n) {
		CHECK(blk_uring_wait(&ring) == 0);
		blk_uring_reap(&ring, count_done, &done);
	}
	CHECK_EQ(ring.inflight, 0);
	CHECK_EQ(pool[4096], file_byte(512));
	CHECK_EQ(outside[RING_ENTRIES - 1][511], file_byte(511));
	return true;
}

/*
 * Rings that share one registration of the pool (6.12 on): the probe says
 * they can, a second ring takes the first one's, a read and a write in
 * pieces through it land, also after the first ring is gone (the pin
 * belongs to the registration); a ring given another pool registers its
 * own
 */
static bool t_shared(void)
{
	struct iovec iov[2] = { piece(8192, 1024), piece(24576, 3072) };
	struct blk_uring first = { 0 }, second = { 0 }, other = { 0 };
	uint8_t back[4096];
	bool pins, shares;
	struct sum s;
	int queued;

	CHECK_EQ(blk_uring_probe(file_fd, RING_ENTRIES, &pins, &shares), 0);
	CHECK(pins && shares);
	CHECK_EQ(blk_uring_init(&first, RING_ENTRIES, file_fd, -1, pool,
				POOL_BYTES, NULL), 0);
	CHECK(first.fixed_bufs && !first.shared_bufs);
	CHECK_EQ(blk_uring_init(&second, RING_ENTRIES, file_fd, -1, pool,
				POOL_BYTES, &first), 0);
	CHECK(second.fixed_bufs && second.shared_bufs);
	CHECK_EQ(blk_uring_init(&other, RING_ENTRIES, file_fd, -1, pool,
				POOL_BYTES / 2, &first), 0);
	CHECK(other.fixed_bufs && !other.shared_bufs);
	io_uring_queue_exit(&other.ring);
	io_uring_queue_exit(&first.ring);

	memset(pool, 0xee, POOL_BYTES);
	CHECK(transfer(&second, BLK_URING_READ, 2048, iov, 2, &queued, &s));
	CHECK_EQ(queued, second.vec_fixed ? 1 : 2);
	CHECK_EQ(s.result, 4096);
	CHECK_EQ(pool[8192], file_byte(2048));
	CHECK_EQ(pool[24576 + 3071], file_byte(2048 + 4095));
	memset(iov[0].iov_base, 0x33, 1024);
	memset(iov[1].iov_base, 0x44, 3072);
	CHECK(transfer(&second, BLK_URING_WRITE, 12288, iov, 2, &queued, &s));
	CHECK_EQ(queued, second.vec_fixed ? 1 : 2);
	CHECK_EQ(s.result, 4096);
	CHECK_EQ(pread(file_fd, back, sizeof(back), 12288), sizeof(back));
	CHECK_EQ(back[1023], 0x33);
	CHECK_EQ(back[1024], 0x44);
	CHECK_EQ(back[4095], 0x44);
	io_uring_queue_exit(&second.ring);
	CHECK(fill_file());
	return true;
}

/**
 * setup() - a file, a pool and a ring with both registered
 *
 * Return: NULL, or why the ring cases cannot run on this host
 */
static const char *setup(void)
{
	int ret;

	file_fd = memfd_create("test_blk_uring", 0);
	pool = mmap(NULL, POOL_BYTES, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (file_fd < 0 || pool == MAP_FAILED || !fill_file())
		return "no memfd or memory";
	ret = blk_uring_init(&ring, RING_ENTRIES, file_fd, -1, pool,
			     POOL_BYTES, NULL);
	if (ret)
		return "io_uring refused here";
	if (!ring.fixed_bufs)
		return "the pool cannot be pinned here (RLIMIT_MEMLOCK)";
	return NULL;
}

static const struct {
	bool (*fn)(void);
	const char *name;
} ring_tests[] = {
	{ t_split_read,		"read in 3 pieces lands in order" },
	{ t_split_write,	"write from 2 pieces lands in order" },
	{ t_one_piece,		"one piece: one READ_FIXED" },
	{ t_not_split,		"more than 32 pieces, or one piece outside the pool" },
	{ t_split_past_end,	"read in pieces past the end" },
	{ t_full_ring,		"a full submission ring, many in flight" },
};

#define NRING	(sizeof(ring_tests) / sizeof(ring_tests[0]))

/**
 * main() - run the cases
 *
 * Return: 0 if all passed, else 1
 */
int main(void)
{
	unsigned int i;

	const char *vec_not;
	bool has_vec;

	tap_plan(2 + 2 * NRING);
	tap_ok(t_parts_result(), "the parts of a split transfer add up");
	why_not = setup();
	/* the clone of a registration is checked, not probed, from 6.12 */
	if (why_not)
		tap_skip("rings share one pin of the pool", why_not);
	else if (!blk_uring_kernel_at_least(6, 12))
		tap_skip("rings share one pin of the pool",
			 "no IORING_REGISTER_CLONE_BUFFERS before Linux 6.12");
	else
		tap_ok(t_shared(), "rings share one pin of the pool");
	has_vec = !why_not && ring.vec_fixed;
	vec_not = why_not ? why_not : "no READV_FIXED in this kernel (6.15 on)";
	/* one operation per piece, as on kernels without READV_FIXED */
	ring.vec_fixed = false;
	for (i = 0; i < NRING; i++) {
		if (why_not)
			tap_skip(ring_tests[i].name, why_not);
		else
			tap_ok(ring_tests[i].fn(), "per piece: %s",
			       ring_tests[i].name);
	}
	ring.vec_fixed = has_vec;
	for (i = 0; i < NRING; i++) {
		if (!has_vec)
			tap_skip(ring_tests[i].name, vec_not);
		else
			tap_ok(ring_tests[i].fn(), "READV_FIXED: %s",
			       ring_tests[i].name);
	}
	return tap_done();
}

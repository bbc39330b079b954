/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * req.h - serve one virtio-blk request described by iovecs
 */
#ifndef UVIRTIO_BLK_REQ_H
#define UVIRTIO_BLK_REQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_blk.h>

#include "backend.h"

#define BLK_SECTOR_SIZE	512

/**
 * struct blk_dev - what every request of one disk needs
 * @be:		backing store
 * @sectors:	capacity in 512-byte sectors (grows on resize while
 *		queue threads read it)
 * @readonly:	writes fail with VIRTIO_BLK_S_IOERR
 * @discard:	serve VIRTIO_BLK_T_DISCARD (else UNSUPP)
 * @write_zeroes: serve VIRTIO_BLK_T_WRITE_ZEROES (else UNSUPP)
 * @serial:	GET_ID answer, zero-padded
 */
struct blk_dev {
	struct backend *be;
	_Atomic uint64_t sectors;
	bool readonly;
	bool discard;
	bool write_zeroes;
	char serial[VIRTIO_BLK_ID_BYTES];
};

/**
 * struct blk_req_info - what a request asks, for the asynchronous path
 * @type:	VIRTIO_BLK_T_*
 * @sector:	first sector
 * @len:	data bytes (IN: writable bytes but the status byte)
 * @data_num:	iovecs of the data part
 * @status:	the status byte (last device-writable byte)
 * @mapped:	set by blk_req_serve_info(): the data was copied through the
 *		file's mapping (backend_map())
 */
struct blk_req_info {
	uint32_t type;
	uint64_t sector;
	uint64_t len;
	unsigned int data_num;
	uint8_t *status;
	bool mapped;
};

int blk_req_parse(struct blk_dev *bd, const struct iovec *out,
		  unsigned int out_num, const struct iovec *in,
		  unsigned int in_num, struct iovec *data, unsigned int cap,
		  struct blk_req_info *ri);

int blk_req_serve(struct blk_dev *bd, const struct iovec *out,
		  unsigned int out_num, const struct iovec *in,
		  unsigned int in_num, struct iovec *scratch,
		  unsigned int scratch_cap, uint32_t *used_len);

int blk_req_serve_info(struct blk_dev *bd, struct blk_req_info *ri,
		       const struct iovec *out, unsigned int out_num,
		       const struct iovec *in, unsigned int in_num,
		       struct iovec *scratch, unsigned int scratch_cap,
		       uint32_t *used_len);

/* Resubmissions of one request that moved no byte (EAGAIN, EINTR, 0). */
#define BLK_IO_RETRIES	8

/* What to do with a request after one of its asynchronous operations ended */
enum blk_io_verdict {
	BLK_IO_DONE,		/* all of it moved: complete with OK */
	BLK_IO_AGAIN,		/* submit the remainder (or all of it) again */
	BLK_IO_FAILED,		/* a real error: complete with IOERR */
};

/**
 * struct blk_io_parts - a read or write split into several operations
 * @left:	operations still in flight
 * @bytes:	bytes the finished ones moved
 * @err:	-errno one of them ended with (a real error wins over -EAGAIN
 *		and -EINTR), or 0
 */
struct blk_io_parts {
	unsigned int left;
	uint64_t bytes;
	int err;
};

bool blk_io_part_done(struct blk_io_parts *p, int res);
int blk_io_parts_result(const struct blk_io_parts *p, uint64_t want);

enum blk_io_verdict blk_io_progress(uint32_t type, int res, uint64_t len,
				    uint64_t *done, unsigned int *tries);
unsigned int blk_iov_advance(struct iovec *iov, unsigned int cnt, size_t n);

#endif /* UVIRTIO_BLK_REQ_H */

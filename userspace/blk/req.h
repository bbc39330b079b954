/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * req.h - serve one virtio-blk request described by iovecs
 */
#ifndef UVIRTIO_BLK_REQ_H
#define UVIRTIO_BLK_REQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_blk.h>

#include "backend.h"

#define BLK_SECTOR_SIZE	512

/**
 * struct blk_dev - what every request of one disk needs
 * @be:		backing store
 * @sectors:	capacity in 512-byte sectors
 * @readonly:	writes fail with VIRTIO_BLK_S_IOERR
 * @serial:	GET_ID answer, zero-padded
 */
struct blk_dev {
	struct backend *be;
	uint64_t sectors;
	bool readonly;
	char serial[VIRTIO_BLK_ID_BYTES];
};

int blk_req_serve(struct blk_dev *bd, const struct iovec *out,
		  unsigned int out_num, const struct iovec *in,
		  unsigned int in_num, struct iovec *scratch,
		  unsigned int scratch_cap, uint32_t *used_len);

#endif /* UVIRTIO_BLK_REQ_H */

/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * statfs_blk.h - what uvirtio-blk registers with its status filesystem:
 * the names of virtio-blk's feature bits, and its writable controls
 */
#ifndef UVIRTIO_BLK_STATFS_BLK_H
#define UVIRTIO_BLK_STATFS_BLK_H

#include "statfs.h"

/* Control ids (uvstatfs_ops.get_control / set_control). */
enum blk_statfs_control {
	BLK_STATFS_CAPACITY = 1,	/* "capacity": sectors, writable */
};

extern const struct uvstatfs_bit_name blk_statfs_features[];
extern const struct uvstatfs_control blk_statfs_controls[];

#endif /* UVIRTIO_BLK_STATFS_BLK_H */

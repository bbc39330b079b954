// SPDX-License-Identifier: GPL-2.0-only
/*
 * statfs_blk.c - uvirtio-blk's names in its status filesystem
 */
#include "statfs_blk.h"

/* virtio-blk's own feature bits, as the device file names them */
const struct uvstatfs_bit_name blk_statfs_features[] = {
	{ 1, "SIZE_MAX" }, { 2, "SEG_MAX" }, { 4, "GEOMETRY" }, { 5, "RO" },
	{ 6, "BLK_SIZE" }, { 9, "FLUSH" }, { 10, "TOPOLOGY" },
	{ 11, "CONFIG_WCE" }, { 12, "MQ" }, { 13, "DISCARD" },
	{ 14, "WRITE_ZEROES" }, { 15, "LIFETIME" }, { 16, "SECURE_ERASE" },
	{ 17, "ZONED" }, { 0, NULL },
};

/* DIR/capacity: the disk's size in sectors; writing grows it */
const struct uvstatfs_control blk_statfs_controls[] = {
	{ "capacity", BLK_STATFS_CAPACITY },
	{ NULL, 0 },
};

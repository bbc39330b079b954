/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * statfs_net.h - what uvirtio-net registers with its status filesystem:
 * the names of virtio-net's feature bits, and its writable controls
 */
#ifndef UVIRTIO_NET_STATFS_NET_H
#define UVIRTIO_NET_STATFS_NET_H

#include "statfs.h"

/* Control ids (uvstatfs_ops.get_control / set_control). */
enum net_statfs_control {
	NET_STATFS_LINK = 1,		/* "link": "up" / "down", writable */
};

extern const struct uvstatfs_bit_name net_statfs_features[];
extern const struct uvstatfs_control net_statfs_controls[];

#endif /* UVIRTIO_NET_STATFS_NET_H */

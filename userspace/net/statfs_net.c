// SPDX-License-Identifier: GPL-2.0-only
/*
 * statfs_net.c - uvirtio-net's names in its status filesystem
 */
#include "statfs_net.h"

/* virtio-net's own feature bits, as the device file names them */
const struct uvstatfs_bit_name net_statfs_features[] = {
	{ 0, "CSUM" }, { 1, "GUEST_CSUM" }, { 2, "CTRL_GUEST_OFFLOADS" },
	{ 3, "MTU" }, { 5, "MAC" }, { 7, "GUEST_TSO4" }, { 8, "GUEST_TSO6" },
	{ 9, "GUEST_ECN" }, { 10, "GUEST_UFO" }, { 11, "HOST_TSO4" },
	{ 12, "HOST_TSO6" }, { 13, "HOST_ECN" }, { 14, "HOST_UFO" },
	{ 15, "MRG_RXBUF" }, { 16, "STATUS" }, { 17, "CTRL_VQ" },
	{ 18, "CTRL_RX" }, { 19, "CTRL_VLAN" }, { 21, "GUEST_ANNOUNCE" },
	{ 22, "MQ" }, { 23, "CTRL_MAC_ADDR" }, { 0, NULL },
};

/* DIR/link: the carrier, "up" or "down"; writing toggles it */
const struct uvstatfs_control net_statfs_controls[] = {
	{ "link", NET_STATFS_LINK },
	{ NULL, 0 },
};

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dev.h - a uvirtio device: /dev/uvirtio, its domain, events and queues
 */
#ifndef UVIRTIO_DEV_H
#define UVIRTIO_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/uvirtio.h>

#include "vq.h"

#define UVDEV_PATH	"/dev/uvirtio"
#define UVDEV_SYSFS	"/sys/devices/virtual/misc/uvirtio"

/**
 * struct uvdev_config - what UVIRTIO_CREATE is told
 * @device_id:	VIRTIO_ID_*
 * @num_queues:	number of queues
 * @queue_size:	maximum ring size
 * @features:	device feature bits offered
 * @config:	initial config space (little-endian fields), may be NULL
 * @config_size: bytes at @config
 * @bounce_size: bounce pool bytes, 0 for the module's default
 * @recovery:	recovery mode: the device outlives this process for a while
 *		and another may take it over (uvdev_attach())
 * @vring_used:	UVIRTIO_CREATE_F_VRING_USED: shadow rings are standard used
 *		rings that an outside backend writes; the library then only
 *		describes the queues (uvq_params.vring_used)
 * @used_len:	UVIRTIO_CREATE_F_USED_LEN: device-writable buffers are
 *		not zeroed; every completion's used length must count exactly
 *		the bytes written (virtio-blk: the status byte included)
 */
struct uvdev_config {
	uint32_t device_id;
	unsigned int num_queues;
	unsigned int queue_size;
	uint64_t features;
	const void *config;
	uint32_t config_size;
	uint64_t bounce_size;
	bool recovery;
	bool vring_used;
	bool used_len;
};

/**
 * struct uvdev_queue - one queue of a device
 * @kick_fd:	eventfd the kernel signals on a driver kick
 * @call_fd:	eventfd we signal after publishing completions
 * @vq:		the rings (vq.ready while the driver has them set up)
 */
struct uvdev_queue {
	int kick_fd;
	int call_fd;
	struct uvq vq;
};

/**
 * struct uvdev - one device, one fd
 * @fd:		the /dev/uvirtio fd (non-blocking)
 * @api_version: what UVIRTIO_GET_API_VERSION said
 * @index:	device index (sysfs "uvirtio-<index>")
 * @map:	the whole domain, mapped
 * @layout:	where things are in @map
 * @num_queues:	queues created
 * @driver_features: features the driver accepted
 * @dead_reason: UVIRTIO_DEAD_* once UVIRTIO_EV_REMOVED arrived
 * @net_pairs:	virtio-net: queue pairs enabled, as the last OVERFLOW
 *		re-read them (0: not re-read, or an older module)
 * @removed:	UVIRTIO_EV_REMOVED arrived: no more events
 * @vring_used:	created with UVIRTIO_CREATE_F_VRING_USED
 * @q:		queues
 */
struct uvdev {
	int fd;
	uint64_t api_version;
	uint32_t index;
	void *map;
	struct uvirtio_layout layout;
	unsigned int num_queues;
	uint64_t driver_features;
	uint32_t dead_reason;
	uint32_t net_pairs;
	bool removed;
	bool vring_used;
	struct uvdev_queue q[UVIRTIO_MAX_QUEUES];
};

int uvdev_open(struct uvdev *d, const char *path);
int uvdev_create(struct uvdev *d, const struct uvdev_config *c);
int uvdev_attach(struct uvdev *d, unsigned int index);
int uvdev_start(struct uvdev *d);
int uvdev_read_event(struct uvdev *d, struct uvirtio_event *ev);
int uvdev_handle_event(struct uvdev *d, const struct uvirtio_event *ev);
int uvdev_queue_start(struct uvdev *d, unsigned int i);
void uvdev_queue_stop(struct uvdev *d, unsigned int i);
int uvdev_kick_clear(struct uvdev *d, unsigned int i);
int uvdev_get_status(struct uvdev *d, struct uvirtio_status *st);
int uvdev_remove(struct uvdev *d);
int uvdev_sysfs_dir(const struct uvdev *d, char *buf, size_t len);
int uvdev_child_name(const struct uvdev *d, const char *subsys, char *name,
		     size_t len);
int uvdev_disk_node(const struct uvdev *d, char *node, size_t len);
int uvdev_netif_by_mac(const uint8_t *mac, char *name);
unsigned int uvdev_blk_seg_max(uint64_t bounce_size, unsigned int queue_size);
void uvdev_close(struct uvdev *d);
const char *uvdev_dead_str(uint32_t reason);

#endif /* UVIRTIO_DEV_H */

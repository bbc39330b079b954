// SPDX-License-Identifier: GPL-2.0-only
/*
 * What a device may not do to the kernel, enforced from outside the
 * drivers. virtio_blk and virtio_net trust their device, as they may trust
 * a hypervisor; here the device is a user, so the module works around them
 * until the drivers take an "untrusted device" hint (set GENHD_FL_NO_PART
 * before add_disk(), give virtio_net its namespace before register_netdev()).
 *
 * blk, created by an unprivileged user: no partition scan (ublk does the
 * same). The partition table parsers would read what the emulator chose.
 * virtio_blk adds its disk, and the scan runs, inside probe, so the
 * capacity reads 0 (no scan happens on an empty disk) until the bound
 * driver's disk is marked GENHD_FL_NO_PART, which also makes BLKRRPART
 * fail. Then a config change reveals the size, as a resize would.
 *
 * net, created inside another network namespace: the interface belongs in
 * its creator's namespace. virtio_net registers it in the initial one while
 * probing; it is moved right after. Until then the device reports
 * VIRTIO_NET_F_STATUS (forced on if the emulator did not offer it) with the
 * link down: virtio_net starts with the carrier off and keeps it off, so
 * the interface carries no traffic (no DHCP, no router solicitation) where
 * it does not belong. After the move a config change brings the link up.
 *
 * Both hang on a driver really binding, seen through a notifier on the
 * virtio bus, never on registration returning: the driver may bind later
 * (its module loaded by udev after the device appeared, asynchronous
 * probe, a failed probe retried, root unbinding and binding it again).
 * Unbinding hides the capacity and the link again. If the bound driver
 * made no disk, or the interface cannot be moved, the device is killed.
 */
#include <linux/blkdev.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <net/net_namespace.h>
#include "compat.h"
#include "uv.h"

static bool uv_policy_blk(const struct uv_dev *dev)
{
	return dev->device_id == VIRTIO_ID_BLOCK && dev->user;
}

static bool uv_policy_net(const struct uv_dev *dev)
{
	return dev->device_id == VIRTIO_ID_NET && dev->net &&
	       !net_eq(dev->net, &init_net);
}

/**
 * uv_policy_init() - adjust a new device's offer (UVIRTIO_CREATE)
 * @dev:	the device, features set, not yet visible
 */
void uv_policy_init(struct uv_dev *dev)
{
	if (!uv_policy_net(dev))
		return;
	dev->emu_link_status = dev->features & BIT_ULL(VIRTIO_NET_F_STATUS);
	dev->features |= BIT_ULL(VIRTIO_NET_F_STATUS);
}

/* Copy what of @val (the field at @field, @size bytes) lies in the read. */
static void uv_overlay(void *buf, unsigned int offset, unsigned int len,
		       unsigned int field, const void *val, unsigned int size)
{
	unsigned int lo = max(offset, field);
	unsigned int hi = min(offset + len, field + size);

	if (lo < hi)
		memcpy(buf + (lo - offset), val + (lo - field), hi - lo);
}

/**
 * uv_policy_get() - what the driver may see of a config read (any context)
 * @dev:	the device
 * @offset:	the read's offset in the config space
 * @buf:	the bytes read from the emulator's config, changed in place
 * @len:	their number
 */
void uv_policy_get(struct uv_dev *dev, unsigned int offset, void *buf,
		   unsigned int len)
{
	bool exposed = READ_ONCE(dev->exposed);
	__le64 capacity = 0;
	__le16 status = 0;

	if (uv_policy_blk(dev) && !exposed) {
		/* struct virtio_blk_config starts with the le64 capacity */
		uv_overlay(buf, offset, len, 0, &capacity, sizeof(capacity));
	} else if (uv_policy_net(dev) && !(exposed && dev->emu_link_status)) {
		if (exposed)
			status = cpu_to_le16(VIRTIO_NET_S_LINK_UP);
		uv_overlay(buf, offset, len,
			   offsetof(struct virtio_net_config, status),
			   &status, sizeof(status));
	}
}

static int uv_disk_nopart(struct device *child, void *unused)
{
	struct gendisk *disk;

	/* disk_type and block_class are not exported: compare their names */
	if (!child->class || strcmp(child->class->name, "block") ||
	    !child->type || !child->type->name || strcmp(child->type->name, "disk"))
		return 0;
	disk = dev_to_disk(child);
	disk->flags |= GENHD_FL_NO_PART;
	return 1;
}

/* Move the interface virtio_net registered in the initial namespace. */
static int uv_net_place(struct uv_dev *dev)
{
	struct net_device *nd, *found = NULL;
	int err = -ENODEV;

	rtnl_lock();
	for_each_netdev(&init_net, nd) {
		if (nd->dev.parent == &dev->vdev.dev) {
			found = nd;
			break;
		}
	}
	if (found)
		err = dev_change_net_namespace(found, dev->net, "eth%d");
	rtnl_unlock();
	return err;
}

/* A driver's probe succeeded (device_lock held): apply the policy. */
static void uv_policy_bound(struct uv_dev *dev)
{
	int err = 0;

	if (uv_policy_blk(dev) &&
	    !device_for_each_child(&dev->vdev.dev, NULL, uv_disk_nopart))
		err = -ENODEV;
	else if (uv_policy_net(dev))
		err = uv_net_place(dev);
	if (err) {
		dev_err(&dev->parent, "driver %s bound, policy not applicable: %d\n",
			dev->vdev.dev.driver ? dev->vdev.dev.driver->name : "?", err);
		uv_kill(dev, UVIRTIO_DEAD_START_FAILED);
		return;
	}
	if (uv_policy_blk(dev) || uv_policy_net(dev)) {
		WRITE_ONCE(dev->exposed, true);
		virtio_config_changed(&dev->vdev);
	}
	WRITE_ONCE(dev->bound, true);
}

static int uv_bus_notify(struct notifier_block *nb, unsigned long action,
			 void *data)
{
	struct virtio_device *vdev = dev_to_virtio(data);
	struct uv_dev *dev;

	if (vdev->config != &uv_config_ops)
		return NOTIFY_DONE;
	dev = vdev_to_uv(vdev);
	switch (action) {
	case BUS_NOTIFY_BIND_DRIVER:
	case BUS_NOTIFY_UNBIND_DRIVER:
		WRITE_ONCE(dev->bound, false);
		WRITE_ONCE(dev->exposed, false);
		break;
	case BUS_NOTIFY_BOUND_DRIVER:
		uv_policy_bound(dev);
		break;
	}
	return NOTIFY_DONE;
}

static struct notifier_block uv_bus_nb = {
	.notifier_call = uv_bus_notify,
};

/*
 * virtio_bus is not exported; registering a virtio driver is how a module
 * learns its address. This one matches no device (empty id table) and is
 * unregistered at once; the bus lives as long as the virtio core, which
 * outlives this module (we use its symbols).
 */
static const struct virtio_device_id uv_no_ids[] = { { 0 } };
static struct virtio_driver uv_bus_finder = {
	.driver.name = UV_NAME "-bus-finder",
	.id_table = uv_no_ids,
};
static typeof(uv_bus_finder.driver.bus) uv_virtio_bus;

/**
 * uv_policy_register() - start watching drivers bind (module init)
 *
 * Return: 0 or -errno
 */
int uv_policy_register(void)
{
	int err = register_virtio_driver(&uv_bus_finder);

	if (err)
		return err;
	uv_virtio_bus = uv_bus_finder.driver.bus;
	unregister_virtio_driver(&uv_bus_finder);
	return bus_register_notifier(uv_virtio_bus, &uv_bus_nb);
}

/**
 * uv_policy_unregister() - stop watching (module exit)
 */
void uv_policy_unregister(void)
{
	bus_unregister_notifier(uv_virtio_bus, &uv_bus_nb);
}

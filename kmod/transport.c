// SPDX-License-Identifier: GPL-2.0-only
/*
 * The uvirtio virtio transport: what the virtio core and the driver ask of a
 * device, answered from state the emulator gave at creation or from the
 * module's own state. Nothing here waits for the emulator (DESIGN.md 2);
 * what the emulator must know is queued as an event.
 *
 * Start and removal also live here. Removal follows the one order measured
 * not to hang in del_gendisk() (DESIGN.md 5): mark the device dead, complete
 * every outstanding request with an error (notify.c), keep failing new ones,
 * and only then unregister the virtio device.
 */
#include <linux/blkdev.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/slab.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include "compat.h"
#include "uv.h"

/*
 * An unprivileged user's disk gets no partition scan (ublk does the same):
 * partition table parsers are kernel code fed by the emulator. virtio_blk
 * adds the disk during probe, and the scan runs inside add_disk; so the
 * module shows a capacity of 0 until probe is over (no scan happens on an
 * empty disk), then marks the disk unpartitionable and reveals the size
 * with a config change, as a resize would.
 */
static bool uv_blk_hide_capacity(struct uv_dev *dev)
{
	return dev->device_id == VIRTIO_ID_BLOCK && dev->user;
}

static void uv_get(struct virtio_device *vdev, unsigned int offset, void *buf,
		   unsigned int len)
{
	struct uv_dev *dev = vdev_to_uv(vdev);
	unsigned long flags;

	spin_lock_irqsave(&dev->config_lock, flags);
	if (offset <= dev->config_size && len <= dev->config_size - offset)
		memcpy(buf, dev->config + offset, len);
	else
		memset(buf, 0, len);
	spin_unlock_irqrestore(&dev->config_lock, flags);
	/* struct virtio_blk_config starts with the le64 capacity */
	if (offset < sizeof(u64) && uv_blk_hide_capacity(dev) &&
	    !READ_ONCE(dev->probed))
		memset(buf, 0, min_t(unsigned int, len, sizeof(u64) - offset));
}

static void uv_set(struct virtio_device *vdev, unsigned int offset,
		   const void *buf, unsigned int len)
{
	struct uv_dev *dev = vdev_to_uv(vdev);
	unsigned long flags;
	bool ok;

	spin_lock_irqsave(&dev->config_lock, flags);
	ok = offset <= dev->config_size && len <= dev->config_size - offset;
	if (ok)
		memcpy(dev->config + offset, buf, len);
	spin_unlock_irqrestore(&dev->config_lock, flags);
	if (ok)
		uv_event(dev, UVIRTIO_EV_CONFIG_WRITE, offset, len);
}

static u32 uv_generation(struct virtio_device *vdev)
{
	return READ_ONCE(vdev_to_uv(vdev)->generation);
}

static u8 uv_get_status(struct virtio_device *vdev)
{
	return READ_ONCE(vdev_to_uv(vdev)->status);
}

static void uv_set_status(struct virtio_device *vdev, u8 status)
{
	struct uv_dev *dev = vdev_to_uv(vdev);
	unsigned long flags;
	u8 old;

	spin_lock_irqsave(&dev->config_lock, flags);
	old = dev->status;
	WRITE_ONCE(dev->status, status);
	spin_unlock_irqrestore(&dev->config_lock, flags);
	if ((status & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_DRIVER_OK))
		uv_event(dev, UVIRTIO_EV_DRIVER_OK, 0, 0);
}

static void uv_reset(struct virtio_device *vdev)
{
	struct uv_dev *dev = vdev_to_uv(vdev);
	unsigned long flags;
	unsigned int i;

	/* After reset the driver expects no interrupt and no ring access. */
	for (i = 0; i < dev->num_queues; i++)
		uv_queue_stop(&dev->queues[i]);
	spin_lock_irqsave(&dev->config_lock, flags);
	WRITE_ONCE(dev->status, 0);
	dev->driver_features = 0;
	spin_unlock_irqrestore(&dev->config_lock, flags);
	uv_event(dev, UVIRTIO_EV_RESET, 0, 0);
}

static u64 uv_get_features(struct virtio_device *vdev)
{
	return vdev_to_uv(vdev)->features;
}

static int uv_finalize_features(struct virtio_device *vdev)
{
	struct uv_dev *dev = vdev_to_uv(vdev);
	unsigned long flags;

	/* Drop transport bits this transport does not implement. */
	vring_transport_features(vdev);
	if (!__virtio_test_bit(vdev, VIRTIO_F_VERSION_1) ||
	    !__virtio_test_bit(vdev, VIRTIO_F_ACCESS_PLATFORM))
		return -EINVAL;
	spin_lock_irqsave(&dev->config_lock, flags);
	dev->driver_features = vdev->features;
	spin_unlock_irqrestore(&dev->config_lock, flags);
	uv_event_features(dev, vdev->features);
	return 0;
}

static void uv_del_vqs(struct virtio_device *vdev)
{
	struct virtqueue *vq, *n;

	list_for_each_entry_safe(vq, n, &vdev->vqs, list) {
		uv_queue_stop(vq->priv);
		vring_del_virtqueue(vq);
	}
}

/* Create queue @qi for the driver's queue slot; NULL on failure. */
static struct virtqueue *uv_setup_vq(struct uv_dev *dev, unsigned int qi,
				     vq_callback_t *callback, const char *name,
				     bool ctx, bool kernel)
{
	struct uv_queue *q = &dev->queues[qi];
	struct virtqueue *vq;

	/* The ring allocation that follows takes this queue's slot. */
	WRITE_ONCE(dev->dom.slot_hint, qi);
	vq = vring_create_virtqueue(qi, dev->queue_size, PAGE_SIZE, &dev->vdev,
				    true, false, ctx, uv_notify, callback, name);
	if (!vq)
		return NULL;
	vq->priv = q;
	uv_queue_start(q, vq, kernel);
	return vq;
}

/* Create the queues the driver named; a NULL name leaves a slot empty. */
static int uv_find_vqs_info(struct virtio_device *vdev, unsigned int nvqs,
			    struct virtqueue *vqs[], const struct uv_vq_info info[])
{
	struct uv_dev *dev = vdev_to_uv(vdev);
	unsigned int i, qi = 0, cvq = nvqs;
	int err = 0;

	/* virtio_net asks for its control queue last: the module serves it. */
	if (dev->device_id == VIRTIO_ID_NET &&
	    __virtio_test_bit(vdev, VIRTIO_NET_F_CTRL_VQ))
		for (i = 0; i < nvqs; i++)
			if (info[i].name)
				cvq = i;

	for (i = 0; i < nvqs; i++) {
		vqs[i] = NULL;
		if (!info[i].name)
			continue;
		err = -ENOENT;
		if (qi >= dev->num_queues)
			goto err;
		err = -ENOMEM;
		vqs[i] = uv_setup_vq(dev, qi++, info[i].callback, info[i].name,
				     info[i].ctx, i == cvq);
		if (!vqs[i])
			goto err;
	}
	return 0;
err:
	uv_del_vqs(vdev);
	return err;
}

#ifdef UV_FIND_VQS_INFO
static int uv_find_vqs(struct virtio_device *vdev, unsigned int nvqs,
		       struct virtqueue *vqs[], struct virtqueue_info vqs_info[],
		       struct irq_affinity *desc)
{
	return uv_find_vqs_info(vdev, nvqs, vqs, vqs_info);
}
#else
static int uv_find_vqs(struct virtio_device *vdev, unsigned int nvqs,
		       struct virtqueue *vqs[], vq_callback_t *callbacks[],
		       const char * const names[], const bool *ctx,
		       struct irq_affinity *desc)
{
	struct uv_vq_info *info;
	unsigned int i;
	int err;

	info = kcalloc(nvqs, sizeof(*info), GFP_KERNEL);
	if (!info)
		return -ENOMEM;
	for (i = 0; i < nvqs; i++) {
		info[i].name = names[i];
		info[i].callback = callbacks[i];
		info[i].ctx = ctx ? ctx[i] : false;
	}
	err = uv_find_vqs_info(vdev, nvqs, vqs, info);
	kfree(info);
	return err;
}
#endif

static void uv_synchronize_cbs(struct virtio_device *vdev)
{
	struct uv_dev *dev = vdev_to_uv(vdev);
	unsigned int i;

	for (i = 0; i < dev->num_queues; i++)
		irq_work_sync(&dev->queues[i].irq_work);
}

static const char *uv_bus_name(struct virtio_device *vdev)
{
	return dev_name(&vdev_to_uv(vdev)->parent);
}

const struct virtio_config_ops uv_config_ops = {
	.get = uv_get,
	.set = uv_set,
	.generation = uv_generation,
	.get_status = uv_get_status,
	.set_status = uv_set_status,
	.reset = uv_reset,
	.find_vqs = uv_find_vqs,
	.del_vqs = uv_del_vqs,
	.synchronize_cbs = uv_synchronize_cbs,
	.get_features = uv_get_features,
	.finalize_features = uv_finalize_features,
	.bus_name = uv_bus_name,
};

/* Queue @work with a reference on the device for it to drop. */
static void uv_queue_dev_work(struct uv_dev *dev, struct work_struct *work)
{
	get_device(&dev->parent);
	if (!queue_work(uv_wq, work))
		put_device(&dev->parent);
}

/*
 * virtio_net registered its interface in the initial namespace while
 * probing; move it to its creator's (DESIGN.md 6). Returns 0, or -ENODEV if
 * no interface appeared (virtio_net not loaded), or the move's error.
 */
static int uv_net_place(struct uv_dev *dev)
{
	struct net_device *nd, *found = NULL;
	int err = -ENODEV;

	if (!dev->net || net_eq(dev->net, &init_net))
		return 0;
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
	if (err)
		dev_err(&dev->parent, "cannot move the interface to its namespace: %d\n", err);
	return err;
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

/**
 * uv_start_work() - register the virtio device; the driver probes here
 * @work:	the device's start_work
 *
 * Runs after UVIRTIO_START returned, so the emulator is free to serve the
 * I/O the driver issues while probing (the partition table read).
 */
void uv_start_work(struct work_struct *work)
{
	struct uv_dev *dev = container_of(work, struct uv_dev, start_work);
	u32 generation = READ_ONCE(dev->generation);
	int err;

	if (!uv_dead(dev)) {
		/* The virtio device's memory is ours: it pins us until released. */
		get_device(&dev->parent);
		err = register_virtio_device(&dev->vdev);
		if (err) {
			dev_err(&dev->parent, "cannot register virtio device: %d\n", err);
			put_device(&dev->vdev.dev);
			uv_kill(dev, UVIRTIO_DEAD_START_FAILED);
		} else {
			set_bit(UV_REGISTERED, &dev->flags);
			if (uv_net_place(dev))
				uv_kill(dev, UVIRTIO_DEAD_START_FAILED);
			if (uv_blk_hide_capacity(dev)) {
				device_for_each_child(&dev->vdev.dev, NULL, uv_disk_nopart);
				WRITE_ONCE(dev->probed, true);
				generation--;	/* the capacity "changed" */
			}
			/* Pairs with UVIRTIO_SET_CONFIG: one of us reports it. */
			smp_mb__after_atomic();
			if (READ_ONCE(dev->generation) != generation && !uv_dead(dev))
				virtio_config_changed(&dev->vdev);
		}
	}
	put_device(&dev->parent);
}

/**
 * uv_remove_work() - unregister the virtio device and tell the emulator
 * @work:	the device's remove_work
 *
 * Queued by uv_kill() (dead: every request fails at once, so the driver's
 * removal cannot wait on the emulator) or by UVIRTIO_REMOVE (alive: the
 * emulator serves the final writeback; remove_timeout bounds it).
 */
void uv_remove_work(struct work_struct *work)
{
	struct uv_dev *dev = container_of(work, struct uv_dev, remove_work);

	flush_work(&dev->start_work);
	if (test_and_clear_bit(UV_REGISTERED, &dev->flags))
		unregister_virtio_device(&dev->vdev);
	cancel_delayed_work(&dev->remove_timeout);
	if (!test_and_set_bit(UV_DEAD, &dev->flags))
		WRITE_ONCE(dev->dead_reason, UVIRTIO_DEAD_REMOVED);
	if (!test_and_set_bit(UV_GONE, &dev->flags))
		uv_event(dev, UVIRTIO_EV_REMOVED, READ_ONCE(dev->dead_reason), 0);
	put_device(&dev->parent);
}

/**
 * uv_remove_timeout() - a graceful removal took too long
 * @work:	the device's remove_timeout
 */
void uv_remove_timeout(struct work_struct *work)
{
	struct uv_dev *dev = container_of(to_delayed_work(work), struct uv_dev,
					  remove_timeout);

	uv_kill(dev, UVIRTIO_DEAD_TIMEOUT);
}

/**
 * uv_remove() - start a graceful removal (UVIRTIO_REMOVE)
 * @dev:	the device
 *
 * Return: 0, or -EALREADY if a removal is already under way.
 */
int uv_remove(struct uv_dev *dev)
{
	if (test_and_set_bit(UV_REMOVING, &dev->flags) || uv_dead(dev))
		return -EALREADY;
	mod_delayed_work(uv_wq, &dev->remove_timeout,
			 READ_ONCE(uv_remove_timeout_secs) * HZ);
	uv_queue_dev_work(dev, &dev->remove_work);
	return 0;
}

/**
 * uv_start() - register the device asynchronously (UVIRTIO_START)
 * @dev:	the device
 */
void uv_start(struct uv_dev *dev)
{
	uv_queue_dev_work(dev, &dev->start_work);
}

static const char *const uv_dead_why[] = {
	[UVIRTIO_DEAD_BAD_ID] = "used id is not an outstanding head",
	[UVIRTIO_DEAD_BAD_LEN] = "used length exceeds the buffer",
	[UVIRTIO_DEAD_BAD_IDX] = "shadow used index moved by more than the ring size",
	[UVIRTIO_DEAD_TIMEOUT] = "removal timed out",
	[UVIRTIO_DEAD_START_FAILED] = "start failed",
	[UVIRTIO_DEAD_RECOVERY_TIMEOUT] = "no emulator re-attached in time",
};

/**
 * uv_kill() - the device is dead: fail its I/O and remove it (any context)
 * @dev:	the device
 * @reason:	UVIRTIO_DEAD_*
 */
void uv_kill(struct uv_dev *dev, u32 reason)
{
	unsigned int i;

	if (test_and_set_bit(UV_DEAD, &dev->flags))
		return;
	WRITE_ONCE(dev->dead_reason, reason);
	if (reason < ARRAY_SIZE(uv_dead_why) && uv_dead_why[reason])
		pr_warn_ratelimited(UV_NAME " %s: %s, removing the device\n",
				    dev_name(&dev->parent), uv_dead_why[reason]);
	for (i = 0; i < dev->num_queues; i++)
		irq_work_queue(&dev->queues[i].irq_work);
	uv_queue_dev_work(dev, &dev->remove_work);
}

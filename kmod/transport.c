// SPDX-License-Identifier: GPL-2.0-only
/*
 * The uvirtio virtio transport: what the virtio core and the driver ask of a
 * device, answered from state the emulator gave at creation or from the
 * module's own state. Nothing here waits for the emulator (DESIGN.md 2);
 * what the emulator must know is queued as an event. Start and removal are
 * lifecycle.c's; what an unprivileged device may not show the driver
 * (capacity, link) is policy.c's.
 */
#include <linux/slab.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include "compat.h"
#include "uv.h"

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
	uv_policy_get(dev, offset, buf, len);
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
	if (dev->device_id == VIRTIO_ID_NET)
		WRITE_ONCE(dev->net_pairs, 1);
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

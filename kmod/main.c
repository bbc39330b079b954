// SPDX-License-Identifier: GPL-2.0-only
/*
 * /dev/uvirtio: one open file describes, maps and serves one virtio device.
 *
 * Every value from userspace is checked here, where it enters, and nowhere
 * else: reserved fields zero, sizes bounded, queue indices clamped with
 * array_index_nospec().
 */
#include <linux/anon_inodes.h>
#include <linux/atomic.h>
#include <linux/blkdev.h>
#include <linux/file.h>
#include <linux/idr.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/nospec.h>
#include <linux/nsproxy.h>
#include <net/net_namespace.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/user_namespace.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include "compat.h"
#include "uv.h"

static unsigned short dev_mode = 0600;
module_param(dev_mode, ushort, 0444);
MODULE_PARM_DESC(dev_mode, "file mode of /dev/uvirtio (default 0600)");

static unsigned int max_devices = 64;
module_param(max_devices, uint, 0644);
MODULE_PARM_DESC(max_devices, "most devices that may exist at once (default 64)");

/*
 * What one unprivileged user (no CAP_SYS_ADMIN) may hold at once, over all
 * their devices (DESIGN.md 6). Beyond it UVIRTIO_CREATE fails with EDQUOT.
 */
static unsigned int max_user_devices = 16;
module_param(max_user_devices, uint, 0644);
MODULE_PARM_DESC(max_user_devices,
		 "devices one unprivileged user may have (default 16)");

static unsigned int max_user_queues = 256;
module_param(max_user_queues, uint, 0644);
MODULE_PARM_DESC(max_user_queues,
		 "queues over all devices of one unprivileged user (default 256)");

static unsigned int max_user_bounce_mb = 1024;
module_param(max_user_bounce_mb, uint, 0644);
MODULE_PARM_DESC(max_user_bounce_mb,
		 "MiB of bounce pool over all devices of one unprivileged user (default 1024)");

unsigned int uv_remove_timeout_secs = 30;
module_param_named(remove_timeout, uv_remove_timeout_secs, uint, 0644);
MODULE_PARM_DESC(remove_timeout,
		 "seconds UVIRTIO_REMOVE may take before outstanding I/O fails (default 30)");

unsigned int uv_recovery_timeout_secs = 30;
module_param_named(recovery_timeout, uv_recovery_timeout_secs, uint, 0644);
MODULE_PARM_DESC(recovery_timeout,
		 "seconds a recovery-mode device waits for a new emulator (default 30)");

struct workqueue_struct *uv_wq;
static struct miscdevice uv_misc;
static DEFINE_IDA(uv_ida);
static atomic_t uv_live = ATOMIC_INIT(0);
static atomic_long_t uv_pages = ATOMIC_LONG_INIT(0);

/**
 * struct uv_user - what one unprivileged user holds (uv_users_lock)
 * @uid:	the user (uv_quota_uid())
 * @devices:	devices created and not yet freed
 * @queues:	their queues
 * @bounce:	their bounce pool bytes
 * @node:	in uv_users
 */
struct uv_user {
	kuid_t uid;
	unsigned int devices;
	unsigned int queues;
	u64 bounce;
	struct list_head node;
};

static DEFINE_MUTEX(uv_users_lock);	/* uv_users and every uv_user */
static LIST_HEAD(uv_users);

/*
 * Who pays for a device: the caller's uid, or, inside a user namespace,
 * the user who owns the outermost one below the initial namespace. A
 * rootless container maps thousands of subordinate uids; each is a kuid of
 * its own, but every one of them acts for the container's owner, whose caps
 * they must share instead of multiplying them.
 */
static kuid_t uv_quota_uid(void)
{
	const struct user_namespace *ns = current_user_ns();

	if (ns == &init_user_ns)
		return current_fsuid();
	while (ns->parent != &init_user_ns)
		ns = ns->parent;
	return ns->owner;
}

/*
 * Charge a new device to its unprivileged creator (uv_quota_uid()). Return
 * 0 or -EDQUOT (with a rate-limited line saying which cap), or -ENOMEM.
 */
static int uv_user_charge(struct uv_dev *dev, u64 bounce)
{
	unsigned int queues = dev->num_queues;
	kuid_t uid = uv_quota_uid();
	struct uv_user *u;
	const char *cap = NULL;
	int err = 0;

	mutex_lock(&uv_users_lock);
	list_for_each_entry(u, &uv_users, node)
		if (uid_eq(u->uid, uid))
			goto found;
	err = -ENOMEM;
	u = kzalloc(sizeof(*u), GFP_KERNEL);
	if (!u)
		goto out;
	u->uid = uid;
	list_add(&u->node, &uv_users);
found:
	if (u->devices + 1 > READ_ONCE(max_user_devices))
		cap = "max_user_devices";
	else if (u->queues + queues > READ_ONCE(max_user_queues))
		cap = "max_user_queues";
	else if (u->bounce + bounce > ((u64)READ_ONCE(max_user_bounce_mb) << 20))
		cap = "max_user_bounce_mb";
	if (cap) {
		pr_info_ratelimited(UV_NAME ": uid %u: %s reached, device refused\n",
				    from_kuid(&init_user_ns, uid), cap);
		err = -EDQUOT;
		if (!u->devices) {
			list_del(&u->node);
			kfree(u);
		}
		goto out;
	}
	u->devices++;
	u->queues += queues;
	u->bounce += bounce;
	dev->user = u;
	dev->user_bounce = bounce;
	err = 0;
out:
	mutex_unlock(&uv_users_lock);
	return err;
}

static void uv_user_uncharge(struct uv_dev *dev)
{
	struct uv_user *u = dev->user;

	if (!u)
		return;
	mutex_lock(&uv_users_lock);
	u->devices--;
	u->queues -= dev->num_queues;
	u->bounce -= dev->user_bounce;
	if (!u->devices) {
		list_del(&u->node);
		kfree(u);
	}
	mutex_unlock(&uv_users_lock);
}

/**
 * struct uv_file - one open /dev/uvirtio
 * @lock:	serialises UVIRTIO_CREATE
 * @dev:	the device, set once (release store, acquire loads)
 */
struct uv_file {
	struct mutex lock;
	struct uv_dev *dev;
};

static struct uv_dev *uv_file_dev(struct file *file)
{
	struct uv_file *uf = file->private_data;

	return smp_load_acquire(&uf->dev);
}

static bool uv_zero(const void *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}

/*
 * The module reference a device held is dropped here, on uv_wq, and not at
 * the end of uv_parent_release(): that can run from the last put_disk() of
 * /dev/vdX, with no file of ours open, and would return into this module's
 * text after the put, racing rmmod. uv_exit()'s destroy_workqueue() waits
 * for this function to return, so the text outlives it.
 */
static void uv_free_work(struct work_struct *work)
{
	kfree(container_of(work, struct uv_dev, free_work));
	module_put(THIS_MODULE);
}

/* The last reference is gone: free everything (process context). */
static void uv_parent_release(struct device *d)
{
	struct uv_dev *dev = parent_to_uv(d);
	unsigned int i;

	/* uv_user_uncharge() sleeps: the last put must not be in irq context. */
	WARN_ON_ONCE(!in_task());
	uv_user_uncharge(dev);
	if (dev->net)
		put_net(dev->net);
	atomic_long_sub(dev->dom.npages, &uv_pages);
	uv_domain_free(&dev->dom);
	for (i = 0; dev->queues && i < dev->num_queues; i++)
		uv_queue_free(&dev->queues[i]);
	kfree(dev->queues);
	kfree(dev->config);
	ida_free(&uv_ida, dev->index);
	atomic_dec(&uv_live);
	INIT_WORK(&dev->free_work, uv_free_work);
	queue_work(uv_wq, &dev->free_work);
}

/* The virtio device's memory is in uv_dev: it held a reference on us. */
static void uv_vdev_release(struct device *d)
{
	struct uv_dev *dev = vdev_to_uv(dev_to_virtio(d));

	put_device(&dev->parent);
}

/*
 * Read-only attributes of each device, in /sys/class/misc/uvirtio/uvirtio-N/
 * (what `uvirtio list` shows).
 */
static ssize_t owner_show(struct device *d, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", from_kuid(&init_user_ns, parent_to_uv(d)->owner));
}
static DEVICE_ATTR_RO(owner);

static ssize_t pid_show(struct device *d, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(parent_to_uv(d)->creator));
}
static DEVICE_ATTR_RO(pid);

static ssize_t device_id_show(struct device *d, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", parent_to_uv(d)->device_id);
}
static DEVICE_ATTR_RO(device_id);

static ssize_t queues_show(struct device *d, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", parent_to_uv(d)->num_queues);
}
static DEVICE_ATTR_RO(queues);

static ssize_t features_show(struct device *d, struct device_attribute *attr, char *buf)
{
	struct uv_dev *dev = parent_to_uv(d);
	unsigned long flags;
	u64 f;

	spin_lock_irqsave(&dev->config_lock, flags);
	f = dev->driver_features;
	spin_unlock_irqrestore(&dev->config_lock, flags);
	return sysfs_emit(buf, "0x%016llx\n", f);
}
static DEVICE_ATTR_RO(features);

static ssize_t state_show(struct device *d, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", uv_state_name(parent_to_uv(d)));
}
static DEVICE_ATTR_RO(state);

static struct attribute *uv_dev_attrs[] = {
	&dev_attr_owner.attr,
	&dev_attr_pid.attr,
	&dev_attr_device_id.attr,
	&dev_attr_queues.attr,
	&dev_attr_features.attr,
	&dev_attr_state.attr,
	NULL,
};
ATTRIBUTE_GROUPS(uv_dev);

static int uv_check_create(const struct uvirtio_create *c)
{
	if (!uv_zero(c->reserved, sizeof(c->reserved)) ||
	    (c->flags & ~(UVIRTIO_CREATE_F_RECOVERY | UVIRTIO_CREATE_F_VRING_USED |
			  UVIRTIO_CREATE_F_USED_LEN)))
		return -EINVAL;
	if (c->device_id != VIRTIO_ID_BLOCK && c->device_id != VIRTIO_ID_NET)
		return -EPROTONOSUPPORT;
	if (!c->num_queues || c->num_queues > UVIRTIO_MAX_QUEUES)
		return -EINVAL;
	if (c->queue_size < 2 || c->queue_size > UVIRTIO_MAX_QUEUE_SIZE ||
	    !is_power_of_2(c->queue_size))
		return -EINVAL;
	/*
	 * virtio_net stops a tx queue while fewer than MAX_SKB_FRAGS + 2
	 * descriptors are free and wakes it only when that many are: on a
	 * smaller ring tx stops after a packet, for good (its own ring
	 * resize refuses such sizes for the same reason).
	 */
	if (c->device_id == VIRTIO_ID_NET && c->queue_size <= MAX_SKB_FRAGS + 2)
		return -EINVAL;
	if (c->config_size > UVIRTIO_MAX_CONFIG_SIZE)
		return -EINVAL;
	if (c->bounce_size && (!PAGE_ALIGNED(c->bounce_size) ||
			       c->bounce_size < UVIRTIO_MIN_BOUNCE_SIZE ||
			       c->bounce_size > UVIRTIO_MAX_BOUNCE_SIZE))
		return -EINVAL;
	return 0;
}

/*
 * A new device's identity and locks. From here on, put_device() on
 * @dev->parent undoes everything (uv_parent_release()), the index and the
 * uv_live count included.
 */
static struct uv_dev *uv_dev_alloc(const struct uvirtio_create *c)
{
	struct uv_dev *dev;
	int idx;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL_ACCOUNT);
	if (!dev)
		return ERR_PTR(-ENOMEM);
	idx = ida_alloc(&uv_ida, GFP_KERNEL);
	if (idx < 0) {
		kfree(dev);
		return ERR_PTR(idx);
	}
	dev->index = idx;
	__module_get(THIS_MODULE);

	device_initialize(&dev->parent);
	dev->parent.release = uv_parent_release;
	dev->parent.groups = uv_dev_groups;
	dev->parent.parent = uv_misc.this_device;
	dev->device_id = c->device_id;
	dev->num_queues = c->num_queues;
	dev->queue_size = c->queue_size;
	dev->net_pairs = c->device_id == VIRTIO_ID_NET ? 1 : 0;
	dev->features = c->features | BIT_ULL(VIRTIO_F_VERSION_1) |
			BIT_ULL(VIRTIO_F_ACCESS_PLATFORM);
	dev->owner = current_fsuid();
	dev->creator = task_tgid_nr(current);
	/* Kept for the device's life: a take-over (UVIRTIO_ATTACH) keeps it. */
	dev->vring_used = c->flags & UVIRTIO_CREATE_F_VRING_USED;
	dev->dom.used_len = c->flags & UVIRTIO_CREATE_F_USED_LEN;
	dev->dom.bounce_size = c->bounce_size ?: UVIRTIO_DEF_BOUNCE_SIZE;
	mutex_init(&dev->lock);
	spin_lock_init(&dev->config_lock);
	spin_lock_init(&dev->ev_lock);
	init_waitqueue_head(&dev->ev_wait);
	uv_lifecycle_init(dev, c->flags & UVIRTIO_CREATE_F_RECOVERY);
	INIT_DELAYED_WORK(&dev->config_work, uv_config_work);
	return dev;
}

/*
 * The config space the caller offers, checked, and what it may offer it
 * in: a net device's namespace, a non-root user's quota.
 */
static int uv_dev_config(struct uv_dev *dev, const struct uvirtio_create *c)
{
	int err;

	dev->config_size = c->config_size;
	dev->config = kzalloc(max(c->config_size, 1U), GFP_KERNEL_ACCOUNT);
	dev->queues = kcalloc(c->num_queues, sizeof(*dev->queues), GFP_KERNEL_ACCOUNT);
	if (!dev->config || !dev->queues)
		return -ENOMEM;
	if (copy_from_user(dev->config, u64_to_user_ptr(c->config_addr), c->config_size))
		return -EFAULT;
	err = uv_validate(dev, dev->config, &dev->dom.seg_bytes);
	if (err)
		return err;
	uv_config_sanitize(dev);
	if (c->device_id == VIRTIO_ID_NET) {
		/* The interface goes where its creator is, if they rule it. */
		if (!ns_capable(current->nsproxy->net_ns->user_ns, CAP_NET_ADMIN))
			return -EPERM;
		dev->net = get_net(current->nsproxy->net_ns);
	}
	if (!capable(CAP_SYS_ADMIN))
		return uv_user_charge(dev, dev->dom.bounce_size);
	return 0;
}

/* The queues, the domain the emulator maps, and the virtio device. */
static int uv_dev_memory(struct uv_dev *dev, const struct uvirtio_create *c)
{
	unsigned int i;
	int err;

	for (i = 0; i < c->num_queues; i++) {
		uv_queue_init(&dev->queues[i], dev, i);
		err = uv_queue_alloc(&dev->queues[i], c->queue_size);
		if (err)
			return err;
	}
	err = uv_domain_init(dev);
	atomic_long_add(dev->dom.npages, &uv_pages);
	if (err)
		return err;
	err = uv_map_setup(dev);
	if (err)
		return err;
	uv_policy_init(dev);

	dev->vdev.dev.parent = &dev->parent;
	dev->vdev.dev.release = uv_vdev_release;
	dev->vdev.config = &uv_config_ops;
	dev->vdev.id.device = c->device_id;
	dev->vdev.id.vendor = 0x5576;	/* "uv" */
	return 0;
}

/* A screen with its unwinding; each step is a helper above. */
static int uv_ioctl_create(struct file *file, void __user *argp)
{
	struct uv_file *uf = file->private_data;
	struct uvirtio_create c;
	struct uv_dev *dev;
	int err;

	if (copy_from_user(&c, argp, sizeof(c)))
		return -EFAULT;
	err = uv_check_create(&c);
	if (err)
		return err;

	mutex_lock(&uf->lock);
	err = -EBUSY;
	if (uf->dev)
		goto err_unlock;
	err = -ENOSPC;
	if (atomic_inc_return(&uv_live) > READ_ONCE(max_devices))
		goto err_live;
	dev = uv_dev_alloc(&c);
	if (IS_ERR(dev)) {
		err = PTR_ERR(dev);
		goto err_live;
	}
	err = uv_dev_config(dev, &c);
	if (err)
		goto err_put;
	err = uv_dev_memory(dev, &c);
	if (err)
		goto err_put;
	err = dev_set_name(&dev->parent, UV_NAME "-%u", dev->index);
	if (err)
		goto err_put;
	err = device_add(&dev->parent);
	if (err)
		goto err_put;

	c.index = dev->index;
	c.domain_size = dev->dom.size;
	if (copy_to_user(argp, &c, sizeof(c))) {
		err = -EFAULT;
		goto err_del;
	}
	smp_store_release(&uf->dev, dev);
	mutex_unlock(&uf->lock);
	return 0;

err_del:
	device_del(&dev->parent);
err_put:
	put_device(&dev->parent);
	mutex_unlock(&uf->lock);
	return err;
err_live:
	atomic_dec(&uv_live);
err_unlock:
	mutex_unlock(&uf->lock);
	return err;
}

static int uv_ioctl_layout(struct uv_dev *dev, void __user *argp)
{
	struct uvirtio_layout l = {
		.domain_size = dev->dom.size,
		.ctrl_offset = 0,
		.bounce_offset = dev->dom.bounce_off,
		.bounce_size = dev->dom.bounce_size,
		.num_queues = dev->num_queues,
		.queue_size = dev->queue_size,
	};

	return copy_to_user(argp, &l, sizeof(l)) ? -EFAULT : 0;
}

static int uv_ioctl_queue(struct uv_dev *dev, void __user *argp)
{
	struct uvirtio_queue_info qi;
	struct uv_domain *dom = &dev->dom;
	struct uv_queue *q;
	unsigned long flags;

	if (copy_from_user(&qi, argp, sizeof(qi)))
		return -EFAULT;
	if (!uv_zero(qi.reserved, sizeof(qi.reserved)) || qi.state || qi.num ||
	    qi.epoch || qi.desc_offset || qi.avail_offset || qi.used_offset ||
	    qi.shadow_offset)
		return -EINVAL;
	if (qi.index >= dev->num_queues)
		return -EINVAL;
	q = &dev->queues[array_index_nospec(qi.index, dev->num_queues)];

	qi.shadow_offset = dom->shadow_off + (u64)q->index * dom->shadow_bytes;
	spin_lock_irqsave(&q->lock, flags);
	if (q->ready) {
		qi.state = q->kernel ? UVIRTIO_QUEUE_KERNEL : UVIRTIO_QUEUE_READY;
		qi.num = q->num;
		qi.epoch = q->epoch;
		qi.desc_offset = virtqueue_get_desc_addr(q->vq);
		qi.avail_offset = virtqueue_get_avail_addr(q->vq);
		qi.used_offset = virtqueue_get_used_addr(q->vq);
	}
	spin_unlock_irqrestore(&q->lock, flags);
	return copy_to_user(argp, &qi, sizeof(qi)) ? -EFAULT : 0;
}

static int uv_ioctl_eventfd(struct uv_dev *dev, void __user *argp, bool kick)
{
	struct uvirtio_vq_eventfd e;
	unsigned int index;
	int err;

	if (copy_from_user(&e, argp, sizeof(e)))
		return -EFAULT;
	if (!uv_zero(e.reserved, sizeof(e.reserved)) || e.fd < -1)
		return -EINVAL;
	if (e.index >= dev->num_queues)
		return -EINVAL;
	index = array_index_nospec(e.index, dev->num_queues);
	mutex_lock(&dev->lock);
	err = kick ? uv_set_kick(dev, index, e.fd) : uv_set_call(dev, index, e.fd);
	mutex_unlock(&dev->lock);
	return err;
}

static int uv_ioctl_irq(struct uv_dev *dev, void __user *argp)
{
	struct uvirtio_queue_irq r;

	if (copy_from_user(&r, argp, sizeof(r)))
		return -EFAULT;
	if (r.reserved0 || !uv_zero(r.reserved, sizeof(r.reserved)))
		return -EINVAL;
	if (r.index >= dev->num_queues)
		return -EINVAL;
	irq_work_queue(&dev->queues[array_index_nospec(r.index, dev->num_queues)].irq_work);
	return 0;
}

static int uv_ioctl_set_config(struct uv_dev *dev, void __user *argp)
{
	struct uvirtio_config_update u;
	unsigned long flags;
	u8 *next;
	int err;

	if (copy_from_user(&u, argp, sizeof(u)))
		return -EFAULT;
	if (!uv_zero(u.reserved, sizeof(u.reserved)))
		return -EINVAL;
	if (!u.len || u.offset > dev->config_size || u.len > dev->config_size - u.offset)
		return -EINVAL;
	next = kmalloc(dev->config_size, GFP_KERNEL);
	if (!next)
		return -ENOMEM;
	if (copy_from_user(next + u.offset, u64_to_user_ptr(u.data_addr), u.len)) {
		kfree(next);
		return -EFAULT;
	}

	/* The whole config as it would be is checked, under the lock. */
	spin_lock_irqsave(&dev->config_lock, flags);
	memcpy(next, dev->config, u.offset);
	memcpy(next + u.offset + u.len, dev->config + u.offset + u.len,
	       dev->config_size - u.offset - u.len);
	err = uv_validate(dev, next, NULL);	/* seg_bytes stays */
	if (!err) {
		memcpy(dev->config, next, dev->config_size);
		uv_config_sanitize(dev);
		WRITE_ONCE(dev->generation, dev->generation + 1);
	}
	spin_unlock_irqrestore(&dev->config_lock, flags);
	kfree(next);
	if (err)
		return err;

	uv_config_notify(dev);
	return 0;
}

static int uv_ioctl_get_config(struct uv_dev *dev, void __user *argp)
{
	struct uvirtio_config_read r;
	unsigned long flags;
	void *buf;
	int err = 0;

	if (copy_from_user(&r, argp, sizeof(r)))
		return -EFAULT;
	if (!uv_zero(r.reserved, sizeof(r.reserved)))
		return -EINVAL;
	if (!r.len || r.offset > dev->config_size || r.len > dev->config_size - r.offset)
		return -EINVAL;
	buf = kmalloc(r.len, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	spin_lock_irqsave(&dev->config_lock, flags);
	memcpy(buf, dev->config + r.offset, r.len);
	spin_unlock_irqrestore(&dev->config_lock, flags);
	if (copy_to_user(u64_to_user_ptr(r.data_addr), buf, r.len))
		err = -EFAULT;
	kfree(buf);
	return err;
}

static int uv_ioctl_status(struct uv_dev *dev, void __user *argp)
{
	struct uvirtio_status s = {};
	unsigned long flags;

	spin_lock_irqsave(&dev->config_lock, flags);
	s.driver_features = dev->driver_features;
	s.status = dev->status;
	s.config_generation = dev->generation;
	s.net_pairs = READ_ONCE(dev->net_pairs);
	spin_unlock_irqrestore(&dev->config_lock, flags);
	s.dead_reason = uv_dead_reason(dev);
	return copy_to_user(argp, &s, sizeof(s)) ? -EFAULT : 0;
}

static int uv_ioctl_attach(struct file *file, void __user *argp)
{
	struct uv_file *uf = file->private_data;
	struct uvirtio_attach a;
	struct uv_dev *dev;
	unsigned int i;
	int err;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	if (a.reserved0 || a.domain_size || !uv_zero(a.reserved, sizeof(a.reserved)))
		return -EINVAL;

	mutex_lock(&uf->lock);
	err = -EBUSY;
	if (uf->dev)
		goto out;
	dev = uv_adopt(a.index);
	err = PTR_ERR_OR_ZERO(dev);
	if (err)
		goto out;
	for (i = 0; i < dev->num_queues; i++)
		uv_queue_reattach(&dev->queues[i]);
	WRITE_ONCE(dev->creator, task_tgid_nr(current));
	smp_store_release(&uf->dev, dev);
	pr_info_ratelimited(UV_NAME " %s: taken over by pid %d\n",
			    dev_name(&dev->parent), dev->creator);
	mutex_unlock(&uf->lock);

	a.domain_size = dev->dom.size;
	return copy_to_user(argp, &a, sizeof(a)) ? -EFAULT : 0;

out:
	mutex_unlock(&uf->lock);
	return err;
}

static int uv_ioctl_inflight(struct uv_dev *dev, void __user *argp)
{
	struct uvirtio_inflight r;
	u16 *heads;
	int n, err = 0;

	if (copy_from_user(&r, argp, sizeof(r)))
		return -EFAULT;
	if (r.last_avail || r.count || !uv_zero(r.reserved, sizeof(r.reserved)))
		return -EINVAL;
	if (r.index >= dev->num_queues)
		return -EINVAL;
	heads = kmalloc_array(dev->queue_size, sizeof(*heads), GFP_KERNEL);
	if (!heads)
		return -ENOMEM;
	n = uv_queue_inflight(&dev->queues[array_index_nospec(r.index, dev->num_queues)],
			      &r.last_avail, heads);
	r.count = n;
	if (copy_to_user(u64_to_user_ptr(r.heads_addr), heads, n * sizeof(*heads)) ||
	    copy_to_user(argp, &r, sizeof(r)))
		err = -EFAULT;
	kfree(heads);
	return err;
}

static int uv_ioctl_requeue(struct uv_dev *dev, void __user *argp)
{
	struct uvirtio_requeue r;
	int err;

	if (copy_from_user(&r, argp, sizeof(r)))
		return -EFAULT;
	if (r.base || r.count || !uv_zero(r.reserved, sizeof(r.reserved)))
		return -EINVAL;
	if (r.index >= dev->num_queues)
		return -EINVAL;
	err = uv_queue_requeue(&dev->queues[array_index_nospec(r.index, dev->num_queues)],
			       &r.base, &r.count);
	if (err)
		return err;
	return copy_to_user(argp, &r, sizeof(r)) ? -EFAULT : 0;
}

/* What UVIRTIO_CREATE would accept for a device type: no device needed. */
static int uv_ioctl_features(void __user *argp)
{
	struct uvirtio_features f;

	if (copy_from_user(&f, argp, sizeof(f)))
		return -EFAULT;
	if (f.reserved0 || f.features || !uv_zero(f.reserved, sizeof(f.reserved)))
		return -EINVAL;
	f.features = uv_allowed_features(f.device_id);
	if (!f.features)
		return -EINVAL;
	return copy_to_user(argp, &f, sizeof(f)) ? -EFAULT : 0;
}

/* Map part of @dev's domain: the device fd and a UVIRTIO_DOMAIN_FD file. */
static int uv_domain_mmap(struct uv_dev *dev, struct vm_area_struct *vma)
{
	unsigned long pages = vma_pages(vma);

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_pgoff >= dev->dom.npages || pages > dev->dom.npages - vma->vm_pgoff)
		return -EINVAL;
	uv_vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_ops = uv_domain_vm_ops(&dev->dom, vma->vm_pgoff, pages);
	vma->vm_private_data = dev;
	atomic_inc(&dev->vmas);		/* vm_ops->open counts the copies */
	get_device(&dev->parent);	/* dropped by vm_ops->close */
	return 0;
}

/*
 * UVIRTIO_DOMAIN_FD: a file that maps the device's domain and does nothing
 * else, for a process that serves the rings but must not control the
 * device (a vhost-user backend). Like a mapping, it holds the memory (a
 * reference on the parent), never the device: closing the device fd still
 * destroys the device, and a dead device's domain is not mapped anew.
 */
static int uv_domain_file_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct uv_dev *dev = file->private_data;

	if (uv_dead(dev))
		return -ENODEV;
	return uv_domain_mmap(dev, vma);
}

static int uv_domain_file_release(struct inode *inode, struct file *file)
{
	struct uv_dev *dev = file->private_data;

	put_device(&dev->parent);
	return 0;
}

static const struct file_operations uv_domain_fops = {
	.owner = THIS_MODULE,
	.release = uv_domain_file_release,
	.mmap = uv_domain_file_mmap,
};

static int uv_ioctl_domain_fd(struct uv_dev *dev)
{
	int fd;

	get_device(&dev->parent);
	fd = anon_inode_getfd("[uvirtio-domain]", &uv_domain_fops, dev,
			      O_RDWR | O_CLOEXEC);
	if (fd < 0)
		put_device(&dev->parent);
	return fd;
}

static long uv_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *argp = (void __user *)arg;
	struct uv_dev *dev;

	switch (cmd) {
	case UVIRTIO_GET_API_VERSION:
		return put_user((u64)UVIRTIO_API_VERSION, (u64 __user *)argp);
	case UVIRTIO_CREATE:
		return uv_ioctl_create(file, argp);
	case UVIRTIO_ATTACH:
		return uv_ioctl_attach(file, argp);
	case UVIRTIO_GET_FEATURES:
		return uv_ioctl_features(argp);
	}

	dev = uv_file_dev(file);
	if (!dev)
		return _IOC_TYPE(cmd) == UVIRTIO_IOC_MAGIC ? -ENODEV : -ENOTTY;

	switch (cmd) {
	case UVIRTIO_GET_LAYOUT:
		return uv_ioctl_layout(dev, argp);
	case UVIRTIO_GET_QUEUE:
		return uv_ioctl_queue(dev, argp);
	case UVIRTIO_SET_KICK_FD:
		return uv_ioctl_eventfd(dev, argp, true);
	case UVIRTIO_SET_CALL_FD:
		return uv_ioctl_eventfd(dev, argp, false);
	case UVIRTIO_START:
		return uv_start(dev);
	case UVIRTIO_QUEUE_IRQ:
		return uv_ioctl_irq(dev, argp);
	case UVIRTIO_SET_CONFIG:
		return uv_ioctl_set_config(dev, argp);
	case UVIRTIO_GET_CONFIG:
		return uv_ioctl_get_config(dev, argp);
	case UVIRTIO_GET_STATUS:
		return uv_ioctl_status(dev, argp);
	case UVIRTIO_REMOVE:
		return uv_remove(dev);
	case UVIRTIO_GET_INFLIGHT:
		return uv_ioctl_inflight(dev, argp);
	case UVIRTIO_DOMAIN_FD:
		return uv_ioctl_domain_fd(dev);
	case UVIRTIO_REQUEUE:
		return uv_ioctl_requeue(dev, argp);
	}
	return -ENOTTY;
}

static int uv_open(struct inode *inode, struct file *file)
{
	struct uv_file *uf = kzalloc(sizeof(*uf), GFP_KERNEL_ACCOUNT);

	if (!uf)
		return -ENOMEM;
	mutex_init(&uf->lock);
	file->private_data = uf;
	return nonseekable_open(inode, file);
}

static int uv_release(struct inode *inode, struct file *file)
{
	struct uv_file *uf = file->private_data;
	struct uv_dev *dev = uf->dev;

	if (dev && !uv_orphan(dev))
		uv_destroy(dev, UVIRTIO_DEAD_CLOSED);
	kfree(uf);
	return 0;
}

static ssize_t uv_read(struct file *file, char __user *buf, size_t count,
		       loff_t *ppos)
{
	struct uv_dev *dev = uv_file_dev(file);

	if (!dev)
		return -ENODEV;
	return uv_events_read(dev, buf, count, file->f_flags & O_NONBLOCK);
}

static __poll_t uv_poll(struct file *file, poll_table *pt)
{
	struct uv_dev *dev = uv_file_dev(file);

	if (!dev)
		return EPOLLERR;
	return uv_events_poll(dev, file, pt);
}

static int uv_uring_cmd_fop(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	struct uv_dev *dev = uv_file_dev(cmd->file);

	if (!dev)
		return -ENODEV;
	return uv_uring_cmd(dev, cmd, issue_flags);
}

static int uv_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct uv_dev *dev = uv_file_dev(file);

	if (!dev)
		return -ENODEV;
	return uv_domain_mmap(dev, vma);
}

static const struct file_operations uv_fops = {
	.owner = THIS_MODULE,
	.open = uv_open,
	.release = uv_release,
	.unlocked_ioctl = uv_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.read = uv_read,
	.poll = uv_poll,
	.mmap = uv_mmap,
	.uring_cmd = uv_uring_cmd_fop,
};

static ssize_t devices_show(struct device *d, struct device_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%d\n", atomic_read(&uv_live));
}
static DEVICE_ATTR_RO(devices);

static ssize_t domain_pages_show(struct device *d, struct device_attribute *attr,
				 char *buf)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&uv_pages));
}
static DEVICE_ATTR_RO(domain_pages);

static struct attribute *uv_misc_attrs[] = {
	&dev_attr_devices.attr,
	&dev_attr_domain_pages.attr,
	NULL,
};
ATTRIBUTE_GROUPS(uv_misc);

static struct miscdevice uv_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = UV_NAME,
	.fops = &uv_fops,
	.groups = uv_misc_groups,
};

static int __init uv_init(void)
{
	int err;

	uv_wq = alloc_workqueue(UV_NAME, WQ_UNBOUND, 0);
	if (!uv_wq)
		return -ENOMEM;
	err = uv_policy_register();
	if (err)
		goto err_wq;
	uv_misc.mode = dev_mode & 0666;
	err = misc_register(&uv_misc);
	if (err)
		goto err_policy;
	return 0;

err_policy:
	uv_policy_unregister();
err_wq:
	destroy_workqueue(uv_wq);
	return err;
}

static void __exit uv_exit(void)
{
	misc_deregister(&uv_misc);
	uv_policy_unregister();
	/* Waits for every uv_free_work(): see there. */
	destroy_workqueue(uv_wq);
	ida_destroy(&uv_ida);
}

module_init(uv_init);
module_exit(uv_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("virtio devices emulated by unprivileged userspace processes");
MODULE_AUTHOR("The uvirtio authors");

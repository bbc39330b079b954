// SPDX-License-Identifier: GPL-2.0-only
/*
 * A device's life, as one state (enum uv_state) that moves only under
 * uv_dev.state_lock:
 *
 *   from       event                                to        where
 *   CREATED    UVIRTIO_START                        STARTING  uv_start()
 *   STARTING   register_virtio_device() succeeded   LIVE      uv_start_work()
 *   LIVE       fd closed, recovery mode             ORPHANED  uv_orphan()
 *   ORPHANED   UVIRTIO_ATTACH                       LIVE      uv_adopt()
 *   CREATED,
 *   STARTING,
 *   LIVE       UVIRTIO_REMOVE                       REMOVING  uv_remove()
 *   < DEAD     fd closed, bad completion, failed    DEAD      uv_kill()
 *              start or bind, removal or recovery
 *              timed out
 *   REMOVING,
 *   DEAD       unregistered (or never registered)   GONE      uv_remove_work()
 *
 * Nothing else moves it. Whatever is not in the table is refused: START
 * anywhere but CREATED (-EBUSY before removal, -ENODEV after), REMOVE from
 * REMOVING on (-EALREADY). Why a spinlock and not uv_dev.lock: a bad
 * completion kills the device from the irq_work (hard-irq context). The
 * state is read without the lock where a stale answer is harmless, e.g.
 * uv_dead() on the data path.
 *
 * Registration runs outside the lock (the driver probes inside it), so
 * STARTING -> LIVE is two steps: uv_start_work() registers only if the state
 * is still STARTING, and records @registered under the lock afterwards.
 * uv_remove_work() flushes start_work only after the state left STARTING:
 * so either start_work saw the new state and registered nothing, or the
 * flush waits for its registration, which remove_work then undoes. A
 * registered virtio device is therefore always unregistered.
 *
 * Removal follows the one order measured not to hang in del_gendisk()
 * (DESIGN.md 5): mark the device dead, complete every outstanding request
 * with an error (notify.c), keep failing new ones, and only then unregister.
 *
 * Recovery: an orphan's entry in uv_orphans owns the reference its closed
 * fd held. Whoever removes the entry (xa_cmpxchg(): UVIRTIO_ATTACH or the
 * timeout) owns that reference; the timer holds one more of its own.
 * uv_orphans_lock makes orphaning one step as UVIRTIO_ATTACH sees it: the
 * state reads ORPHANED ("recovering" in sysfs) a moment before the entry
 * exists, and an ATTACH that comes in that moment waits for the entry
 * instead of finding none.
 */
#include <linux/cred.h>
#include <linux/xarray.h>
#include "compat.h"
#include "uv.h"

static DEFINE_XARRAY(uv_orphans);
/* Held across an orphaning's state move and store, and adopt's lookup. */
static DEFINE_MUTEX(uv_orphans_lock);

/* Move to @to if the state is one of @from (a mask of BIT(UV_S_*)). */
static bool uv_state_move(struct uv_dev *dev, unsigned int from,
			  enum uv_state to, enum uv_state *old)
{
	unsigned long flags;
	enum uv_state was;
	bool ok;

	spin_lock_irqsave(&dev->state_lock, flags);
	was = dev->state;
	ok = from & BIT(was);
	if (ok)
		WRITE_ONCE(dev->state, to);
	spin_unlock_irqrestore(&dev->state_lock, flags);
	if (old)
		*old = was;
	return ok;
}

/*
 * Queue @work with a reference on the device for it to drop. The caller
 * holds a reference too (the fd's, the orphan entry's, or a work item's:
 * the irq_work only runs while the fd's exists, uv_detach_eventfds() syncs
 * it), so the put below is never the last one, even in hard-irq context.
 */
static void uv_queue_dev_work(struct uv_dev *dev, struct work_struct *work)
{
	get_device(&dev->parent);
	if (!queue_work(uv_wq, work))
		put_device(&dev->parent);
}

/*
 * Under config_lock, so that UVIRTIO_SET_CONFIG and this agree without a
 * barrier argument: a change made before @config_live was set is reported
 * here, one made after by UVIRTIO_SET_CONFIG itself.
 */
static void uv_config_go_live(struct uv_dev *dev, u32 generation)
{
	unsigned long flags;
	bool changed;

	spin_lock_irqsave(&dev->config_lock, flags);
	dev->config_live = true;
	changed = dev->generation != generation;
	spin_unlock_irqrestore(&dev->config_lock, flags);
	if (changed && !uv_dead(dev))
		virtio_config_changed(&dev->vdev);
}

/*
 * Register the virtio device; the driver, if loaded, probes here. Runs
 * after UVIRTIO_START returned, so the emulator is free to serve the I/O
 * the driver issues while probing.
 */
static void uv_start_work(struct work_struct *work)
{
	struct uv_dev *dev = container_of(work, struct uv_dev, start_work);
	u32 generation = READ_ONCE(dev->generation);
	unsigned long flags;
	int err;

	if (READ_ONCE(dev->state) != UV_S_STARTING)
		goto out;	/* removed or killed first: nothing to undo */
	/* The virtio device's memory is ours: it pins us until released. */
	get_device(&dev->parent);
	err = register_virtio_device(&dev->vdev);
	if (err) {
		dev_err(&dev->parent, "cannot register virtio device: %d\n", err);
		put_device(&dev->vdev.dev);
		uv_kill(dev, UVIRTIO_DEAD_START_FAILED);
		goto out;
	}
	spin_lock_irqsave(&dev->state_lock, flags);
	dev->registered = true;
	if (dev->state == UV_S_STARTING)
		WRITE_ONCE(dev->state, UV_S_LIVE);
	spin_unlock_irqrestore(&dev->state_lock, flags);
	uv_config_go_live(dev, generation);
out:
	put_device(&dev->parent);
}

/*
 * Unregister the virtio device and tell the emulator. Queued by uv_kill()
 * (dead: every request fails at once, so the driver's removal cannot wait
 * on the emulator) or by UVIRTIO_REMOVE (the emulator serves the final
 * writeback; remove_timeout bounds it).
 */
static void uv_remove_work(struct work_struct *work)
{
	struct uv_dev *dev = container_of(work, struct uv_dev, remove_work);
	unsigned long flags;
	bool registered, gone;
	unsigned int i;
	u32 reason;

	flush_work(&dev->start_work);
	spin_lock_irqsave(&dev->state_lock, flags);
	registered = dev->registered;
	dev->registered = false;
	spin_unlock_irqrestore(&dev->state_lock, flags);
	if (registered)
		unregister_virtio_device(&dev->vdev);
	cancel_delayed_work(&dev->remove_timeout);

	spin_lock_irqsave(&dev->state_lock, flags);
	gone = dev->state == UV_S_GONE;
	if (dev->state < UV_S_DEAD)
		dev->dead_reason = UVIRTIO_DEAD_REMOVED;
	reason = dev->dead_reason;
	WRITE_ONCE(dev->state, UV_S_GONE);
	spin_unlock_irqrestore(&dev->state_lock, flags);
	if (!gone)
		uv_event(dev, UVIRTIO_EV_REMOVED, reason, 0);
	for (i = 0; i < dev->num_queues; i++)
		uv_wait_wake(&dev->queues[i], -ENODEV);
	put_device(&dev->parent);
}

/* A graceful removal took too long. */
static void uv_remove_timeout(struct work_struct *work)
{
	struct uv_dev *dev = container_of(to_delayed_work(work), struct uv_dev,
					  remove_timeout);

	uv_kill(dev, UVIRTIO_DEAD_TIMEOUT);
}

/* Nobody took over an orphaned device in time. */
static void uv_recover_timeout(struct work_struct *work)
{
	struct uv_dev *dev = container_of(to_delayed_work(work), struct uv_dev,
					  recover_timeout);

	if (xa_cmpxchg(&uv_orphans, dev->index, dev, NULL, GFP_KERNEL) == dev)
		uv_destroy(dev, UVIRTIO_DEAD_RECOVERY_TIMEOUT);
	put_device(&dev->parent);	/* the timer's */
}

/**
 * uv_lifecycle_init() - a new device's state and work items (UVIRTIO_CREATE)
 * @dev:	the device, not yet visible
 * @recoverable: UVIRTIO_CREATE_F_RECOVERY
 */
void uv_lifecycle_init(struct uv_dev *dev, bool recoverable)
{
	spin_lock_init(&dev->state_lock);
	dev->state = UV_S_CREATED;
	dev->recoverable = recoverable;
	INIT_WORK(&dev->start_work, uv_start_work);
	INIT_WORK(&dev->remove_work, uv_remove_work);
	INIT_DELAYED_WORK(&dev->remove_timeout, uv_remove_timeout);
	INIT_DELAYED_WORK(&dev->recover_timeout, uv_recover_timeout);
}

/**
 * uv_start() - register the device asynchronously (UVIRTIO_START)
 * @dev:	the device
 *
 * Return: 0, -EBUSY if already started, -ENODEV once removal began.
 */
int uv_start(struct uv_dev *dev)
{
	enum uv_state old;

	if (!uv_state_move(dev, BIT(UV_S_CREATED), UV_S_STARTING, &old))
		return old >= UV_S_REMOVING ? -ENODEV : -EBUSY;
	uv_queue_dev_work(dev, &dev->start_work);
	return 0;
}

/**
 * uv_remove() - start a graceful removal (UVIRTIO_REMOVE)
 * @dev:	the device
 *
 * Return: 0, or -EALREADY if a removal is already under way.
 */
int uv_remove(struct uv_dev *dev)
{
	if (!uv_state_move(dev, BIT(UV_S_CREATED) | BIT(UV_S_STARTING) |
			   BIT(UV_S_LIVE), UV_S_REMOVING, NULL))
		return -EALREADY;
	mod_delayed_work(uv_wq, &dev->remove_timeout,
			 uv_secs_to_jiffies(READ_ONCE(uv_remove_timeout_secs)));
	uv_queue_dev_work(dev, &dev->remove_work);
	return 0;
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
	unsigned long flags;
	unsigned int i;
	bool killed;

	spin_lock_irqsave(&dev->state_lock, flags);
	killed = dev->state < UV_S_DEAD;
	if (killed) {
		dev->dead_reason = reason;
		WRITE_ONCE(dev->state, UV_S_DEAD);
	}
	spin_unlock_irqrestore(&dev->state_lock, flags);
	if (!killed)
		return;
	if (reason < ARRAY_SIZE(uv_dead_why) && uv_dead_why[reason])
		pr_warn_ratelimited(UV_NAME " %s: %s, removing the device\n",
				    dev_name(&dev->parent), uv_dead_why[reason]);
	for (i = 0; i < dev->num_queues; i++) {
		irq_work_queue(&dev->queues[i].irq_work);
		uv_wait_wake(&dev->queues[i], -ENODEV);
	}
	uv_queue_dev_work(dev, &dev->remove_work);
}

/**
 * uv_destroy() - the end of a device: fail its I/O, remove it, drop the
 * reference of the fd (or orphan entry) the caller owns
 * @dev:	the device
 * @reason:	UVIRTIO_DEAD_*, if it was not dead yet
 */
void uv_destroy(struct uv_dev *dev, u32 reason)
{
	uv_kill(dev, reason);
	/* Bounded: every request of a dead device fails at once. */
	flush_work(&dev->remove_work);
	cancel_delayed_work_sync(&dev->remove_timeout);
	uv_detach_eventfds(dev);
	device_del(&dev->parent);
	put_device(&dev->parent);
}

/**
 * uv_orphan() - the fd of a live recovery-mode device closed: keep the
 * device, its I/O waiting, for recovery_timeout seconds
 * @dev:	the device; the caller owns the closed fd's reference
 *
 * Return: true if kept (the reference now belongs to the orphan entry),
 * false if the caller is to destroy the device.
 */
bool uv_orphan(struct uv_dev *dev)
{
	unsigned int secs = READ_ONCE(uv_recovery_timeout_secs);
	int err;

	if (!dev->recoverable)
		return false;
	mutex_lock(&uv_orphans_lock);
	if (!uv_state_move(dev, BIT(UV_S_LIVE), UV_S_ORPHANED, NULL)) {
		mutex_unlock(&uv_orphans_lock);
		return false;
	}
	uv_detach_eventfds(dev);
	/* The timer's reference, taken before anyone can adopt the device. */
	get_device(&dev->parent);
	err = xa_err(xa_store(&uv_orphans, dev->index, dev, GFP_KERNEL));
	mutex_unlock(&uv_orphans_lock);
	if (err) {
		put_device(&dev->parent);
		uv_state_move(dev, BIT(UV_S_ORPHANED), UV_S_LIVE, NULL);
		return false;
	}
	/*
	 * Armed after publishing, so a timeout of 0 cannot fire before the
	 * entry exists. One timer, one reference: if it was still pending
	 * from an earlier orphaning, it is pushed back and keeps its own.
	 */
	if (mod_delayed_work(uv_wq, &dev->recover_timeout, uv_secs_to_jiffies(secs)))
		put_device(&dev->parent);
	pr_info_ratelimited(UV_NAME " %s: emulator gone, I/O waits up to %u s for a new one\n",
			    dev_name(&dev->parent), secs);
	return true;
}

/**
 * uv_adopt() - take over an orphaned device (UVIRTIO_ATTACH)
 * @index:	the device's index
 *
 * The permission check runs with no lock held (capable() may audit and
 * allocate): look up and pin under the xarray's lock, check, then take the
 * entry with xa_cmpxchg(), which only one of the contenders wins.
 *
 * No mapping of the domain can exist here: every mapping holds the file,
 * so a device with one is never orphaned.
 *
 * Return: the device, whose orphan reference is now the caller's; or
 * ERR_PTR(-ENOENT) or ERR_PTR(-EPERM).
 */
struct uv_dev *uv_adopt(unsigned int index)
{
	struct uv_dev *dev;
	int err;

	mutex_lock(&uv_orphans_lock);	/* an orphaning under way ends first */
	xa_lock(&uv_orphans);
	dev = xa_load(&uv_orphans, index);
	if (dev)
		get_device(&dev->parent);
	xa_unlock(&uv_orphans);
	mutex_unlock(&uv_orphans_lock);
	if (!dev)
		return ERR_PTR(-ENOENT);

	err = -EPERM;
	if (!uid_eq(dev->owner, current_fsuid()) && !capable(CAP_SYS_ADMIN))
		goto out_put;
	err = -ENOENT;
	if (xa_cmpxchg(&uv_orphans, index, dev, NULL, GFP_KERNEL) != dev)
		goto out_put;
	if (cancel_delayed_work(&dev->recover_timeout))
		put_device(&dev->parent);	/* the timer's */
	put_device(&dev->parent);	/* the lookup's; the orphan's stays */
	if (!uv_state_move(dev, BIT(UV_S_ORPHANED), UV_S_LIVE, NULL)) {
		/* Killed while orphaned: ours to finish. */
		uv_destroy(dev, UVIRTIO_DEAD_CLOSED);
		return ERR_PTR(-ENOENT);
	}
	return dev;

out_put:
	put_device(&dev->parent);
	return ERR_PTR(err);
}

/**
 * uv_dead_reason() - why the device is dead
 * @dev:	the device
 *
 * Return: UVIRTIO_DEAD_*, or 0 while it is not dead.
 */
u32 uv_dead_reason(struct uv_dev *dev)
{
	unsigned long flags;
	u32 reason;

	spin_lock_irqsave(&dev->state_lock, flags);
	reason = dev->state >= UV_S_DEAD ? dev->dead_reason : 0;
	spin_unlock_irqrestore(&dev->state_lock, flags);
	return reason;
}

/**
 * uv_state_name() - the state as sysfs shows it
 * @dev:	the device
 *
 * Return: "starting", "live" (registered, and a driver is bound with
 * policy.c's work done), "recovering", "removing" or "dead".
 */
const char *uv_state_name(struct uv_dev *dev)
{
	switch (READ_ONCE(dev->state)) {
	case UV_S_CREATED:
	case UV_S_STARTING:
		return "starting";
	case UV_S_LIVE:
		return READ_ONCE(dev->bound) ? "live" : "starting";
	case UV_S_ORPHANED:
		return "recovering";
	case UV_S_REMOVING:
	case UV_S_DEAD:
		return "removing";
	case UV_S_GONE:
		break;
	}
	return "dead";
}

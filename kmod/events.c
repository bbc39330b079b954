// SPDX-License-Identifier: GPL-2.0-only
/*
 * Events the emulator read()s from its fd. The kernel never waits for them
 * to be read: when the ring is full, new events are dropped and the reader
 * gets UVIRTIO_EV_OVERFLOW after the events older than the first dropped
 * one, after which it re-reads state with ioctls. UVIRTIO_EV_REMOVED is
 * never dropped.
 */
#include <linux/poll.h>
#include <linux/uaccess.h>
#include "uv.h"

/**
 * uv_event() - queue an event whose payload is 32-bit words (any context)
 * @dev:	the device
 * @type:	UVIRTIO_EV_*
 * @w0:		u32[0] of the payload
 * @w1:		u32[1] of the payload
 */
void uv_event(struct uv_dev *dev, u32 type, u32 w0, u32 w1)
{
	struct uvirtio_event ev = { .u32 = { w0, w1 } };

	uv_event_raw(dev, type, &ev);
}

/**
 * uv_event_features() - queue UVIRTIO_EV_FEATURES (any context)
 * @dev:	the device
 * @features:	what the driver accepted, u64[0] of the payload
 */
void uv_event_features(struct uv_dev *dev, u64 features)
{
	struct uvirtio_event ev = { .u64 = { features } };

	uv_event_raw(dev, UVIRTIO_EV_FEATURES, &ev);
}

/* Count an event as lost: the reader gets OVERFLOW after the older ones. */
static void __uv_event_drop(struct uv_dev *dev)
{
	lockdep_assert_held(&dev->ev_lock);
	if (!dev->ev_overflow) {
		dev->ev_overflow = true;
		dev->ev_overflow_seq = dev->ev_seq;
	}
	dev->ev_seq++;
}

/**
 * uv_event_raw() - queue an event whose payload the caller laid out
 * @dev:	the device
 * @type:	UVIRTIO_EV_*
 * @payload:	a record whose bytes after @seq are the payload (type, seq
 *		and reserved0 are filled in here)
 *
 * UVIRTIO_EV_REMOVED has a place of its own and is never dropped. Once an
 * event was dropped, later ones are dropped too until the reader has seen
 * OVERFLOW: the state it re-reads then covers them, and nothing it reads
 * afterwards is older than what it re-read.
 */
void uv_event_raw(struct uv_dev *dev, u32 type, const struct uvirtio_event *payload)
{
	struct uvirtio_event *ev;
	unsigned long flags;

	spin_lock_irqsave(&dev->ev_lock, flags);
	if (type == UVIRTIO_EV_REMOVED) {
		ev = &dev->ev_removed;
		dev->ev_removed_pending = true;
	} else if (dev->ev_count == UV_EVENTS || dev->ev_overflow) {
		__uv_event_drop(dev);
		ev = NULL;
	} else {
		ev = &dev->events[(dev->ev_head + dev->ev_count++) % UV_EVENTS];
	}
	if (ev) {
		*ev = *payload;
		ev->type = type;
		ev->reserved0 = 0;
		ev->seq = dev->ev_seq++;
	}
	spin_unlock_irqrestore(&dev->ev_lock, flags);
	wake_up_interruptible_poll(&dev->ev_wait, EPOLLIN);
}

/**
 * uv_event_lost() - events that were not even offered to the ring
 * @dev:	the device
 *
 * For a producer that had to drop events before queueing them: the reader
 * learns through OVERFLOW, as for a full ring.
 */
void uv_event_lost(struct uv_dev *dev)
{
	unsigned long flags;

	spin_lock_irqsave(&dev->ev_lock, flags);
	__uv_event_drop(dev);
	spin_unlock_irqrestore(&dev->ev_lock, flags);
	wake_up_interruptible_poll(&dev->ev_wait, EPOLLIN);
}

/*
 * Take one event: the ring in order, then OVERFLOW if events were dropped
 * after those, then REMOVED, which is always last. False if there is none.
 */
static bool uv_event_pop(struct uv_dev *dev, struct uvirtio_event *ev)
{
	unsigned long flags;
	bool got = true;

	spin_lock_irqsave(&dev->ev_lock, flags);
	if (dev->ev_count) {
		*ev = dev->events[dev->ev_head];
		dev->ev_head = (dev->ev_head + 1) % UV_EVENTS;
		dev->ev_count--;
	} else if (dev->ev_overflow) {
		memset(ev, 0, sizeof(*ev));
		ev->type = UVIRTIO_EV_OVERFLOW;
		ev->seq = dev->ev_overflow_seq;
		dev->ev_overflow = false;
	} else if (dev->ev_removed_pending) {
		*ev = dev->ev_removed;
		dev->ev_removed_pending = false;
	} else {
		got = false;
	}
	spin_unlock_irqrestore(&dev->ev_lock, flags);
	return got;
}

static bool uv_event_any(struct uv_dev *dev)
{
	return READ_ONCE(dev->ev_count) || READ_ONCE(dev->ev_overflow) ||
	       READ_ONCE(dev->ev_removed_pending);
}

static bool uv_event_ready(struct uv_dev *dev)
{
	return uv_event_any(dev) || uv_gone(dev);
}

/**
 * uv_events_read() - read() of the device fd
 * @dev:	the device
 * @buf:	user buffer
 * @count:	its size; at least one struct uvirtio_event
 * @nonblock:	O_NONBLOCK
 *
 * Return: bytes read (whole events), 0 once the device is gone and every
 * event was read, or -EINVAL, -EAGAIN, -ERESTARTSYS, -EFAULT.
 */
ssize_t uv_events_read(struct uv_dev *dev, char __user *buf, size_t count,
		       bool nonblock)
{
	struct uvirtio_event ev;
	size_t done = 0;
	int ret;

	if (count < sizeof(ev))
		return -EINVAL;
	while (done + sizeof(ev) <= count) {
		if (!uv_event_pop(dev, &ev)) {
			if (done || uv_gone(dev))
				break;
			if (nonblock)
				return -EAGAIN;
			ret = wait_event_interruptible(dev->ev_wait, uv_event_ready(dev));
			if (ret)
				return ret;
			continue;
		}
		if (copy_to_user(buf + done, &ev, sizeof(ev)))
			return done ? done : -EFAULT;
		done += sizeof(ev);
	}
	return done;
}

/**
 * uv_events_poll() - poll() of the device fd
 * @dev:	the device
 * @file:	the fd's file
 * @pt:		poll table
 *
 * Return: EPOLLIN while events are queued, EPOLLHUP once the device is gone.
 */
__poll_t uv_events_poll(struct uv_dev *dev, struct file *file, poll_table *pt)
{
	__poll_t mask = 0;

	poll_wait(file, &dev->ev_wait, pt);
	if (uv_event_any(dev))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (uv_gone(dev))
		mask |= EPOLLHUP;
	return mask;
}

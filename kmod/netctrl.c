// SPDX-License-Identifier: GPL-2.0-only
/*
 * The virtio-net control queue, answered by the module (DESIGN.md 6).
 *
 * virtio_net sends a control command and spins until the device answers
 * it, holding the rtnl lock or its own control lock. An emulator that is
 * slow, stopped or hostile must never hold that. So the module serves this
 * one queue itself, inside the kick: it reads the command from the driver's
 * own buffers (never from the emulator-writable bounce copy), decides the
 * acknowledgement from the features the driver negotiated, writes it into
 * the driver's status byte and completes the chain before uv_notify()
 * returns. The emulator learns what happened from a UVIRTIO_EV_NET_CTRL
 * event; what it does with it (a MAC filter, a queue pair count) is its
 * business and cannot delay the driver.
 */
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include "uv.h"

/* Commands a single kick is likely to carry at most; more wait for no one. */
#define UV_CVQ_EVENTS	4

/**
 * struct uv_cvq_cmd - one control command as read from the driver's chain
 * @ctrl_class:	VIRTIO_NET_CTRL_* class
 * @cmd:	command in the class
 * @len:	bytes of command data (after the class/cmd header)
 * @data:	the first bytes of the data
 * @ack_off:	domain offset of the ack byte (the chain's last writable byte)
 * @ok:		the chain has a header and an ack byte
 */
struct uv_cvq_cmd {
	u8 ctrl_class;
	u8 cmd;
	u32 len;
	u8 data[8];
	u64 ack_off;
	bool ok;
};

/**
 * struct uv_cvq_walk - what uv_cvq_buf() gathers while walking a chain
 * @q:		the control queue
 * @c:		the command being read
 * @seen:	readable bytes so far
 */
struct uv_cvq_walk {
	struct uv_queue *q;
	struct uv_cvq_cmd *c;
	u64 seen;
};

/* One buffer: readable bytes are the command, the last writable byte the ack. */
static void uv_cvq_buf(void *ctx, u64 addr, u32 len, bool write)
{
	struct uv_cvq_walk *w = ctx;
	struct uv_cvq_cmd *c = w->c;
	u8 *va;
	u32 i;

	if (write) {
		if (len)
			c->ack_off = addr + len;
		return;
	}
	if (c->ack_off)
		return;		/* readable after writable: not a command */
	if (!uv_bounce_orig(&w->q->dev->dom, addr, len, (void **)&va)) {
		c->ok = false;
		return;
	}
	for (i = 0; i < len; i++, w->seen++) {
		if (w->seen == 0)
			c->ctrl_class = va[i];
		else if (w->seen == 1)
			c->cmd = va[i];
		else if (w->seen - 2 < sizeof(c->data))
			c->data[w->seen - 2] = va[i];
	}
}

/* Read the command of the chain at @head from the driver's own buffers. */
static void uv_cvq_parse(struct uv_queue *q, unsigned int head,
			 struct uv_cvq_cmd *c)
{
	struct uv_cvq_walk w = { .q = q, .c = c };

	memset(c, 0, sizeof(*c));
	c->ok = true;
	if (uv_chain_walk(q, head, uv_cvq_buf, &w))
		c->ok = false;
	if (w.seen < 2 || !c->ack_off)
		c->ok = false;
	c->len = w.seen >= 2 ? min_t(u64, w.seen - 2, U32_MAX) : 0;
}

/*
 * The answer virtio-net's device side gives: may the driver send this? A
 * pair count it accepts becomes the device's (dev->net_pairs).
 */
static u8 uv_cvq_ack(struct uv_dev *dev, const struct uv_cvq_cmd *c)
{
	struct virtio_device *vdev = &dev->vdev;
	u16 pairs;

	switch (c->ctrl_class) {
	case VIRTIO_NET_CTRL_RX:
		if (c->len < 1)
			break;
		if (c->cmd <= VIRTIO_NET_CTRL_RX_ALLMULTI)
			return virtio_has_feature(vdev, VIRTIO_NET_F_CTRL_RX) ?
			       VIRTIO_NET_OK : VIRTIO_NET_ERR;
		if (c->cmd <= VIRTIO_NET_CTRL_RX_NOBCAST)
			return virtio_has_feature(vdev, VIRTIO_NET_F_CTRL_RX_EXTRA) ?
			       VIRTIO_NET_OK : VIRTIO_NET_ERR;
		break;
	case VIRTIO_NET_CTRL_MAC:
		if (c->cmd == VIRTIO_NET_CTRL_MAC_TABLE_SET)
			return virtio_has_feature(vdev, VIRTIO_NET_F_CTRL_RX) ?
			       VIRTIO_NET_OK : VIRTIO_NET_ERR;
		if (c->cmd == VIRTIO_NET_CTRL_MAC_ADDR_SET && c->len == ETH_ALEN)
			return virtio_has_feature(vdev, VIRTIO_NET_F_CTRL_MAC_ADDR) ?
			       VIRTIO_NET_OK : VIRTIO_NET_ERR;
		break;
	case VIRTIO_NET_CTRL_VLAN:
		if (c->cmd <= VIRTIO_NET_CTRL_VLAN_DEL && c->len == 2)
			return virtio_has_feature(vdev, VIRTIO_NET_F_CTRL_VLAN) ?
			       VIRTIO_NET_OK : VIRTIO_NET_ERR;
		break;
	case VIRTIO_NET_CTRL_MQ:
		if (c->cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET || c->len != 2 ||
		    !virtio_has_feature(vdev, VIRTIO_NET_F_MQ))
			break;
		pairs = c->data[0] | (c->data[1] << 8);	/* le16 */
		if (pairs < 1 || pairs > (dev->num_queues - 1) / 2)
			break;
		/* Kept for UVIRTIO_GET_STATUS: the command's event may be lost. */
		WRITE_ONCE(dev->net_pairs, pairs);
		return VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_GUEST_OFFLOADS:
		if (c->cmd == VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET && c->len == 8)
			return virtio_has_feature(vdev, VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) ?
			       VIRTIO_NET_OK : VIRTIO_NET_ERR;
		break;
	}
	return VIRTIO_NET_ERR;
}

/*
 * One command the driver made available under @head: answered in place
 * (ack byte, used entry). Return: true if @ev now describes it for the
 * emulator (a well-formed command), false if there is nothing to tell.
 */
static bool uv_cvq_one(struct uv_queue *q, unsigned int head,
		       struct uvirtio_net_ctrl_event *ev)
{
	struct uv_cvq_cmd c;
	u8 ack = VIRTIO_NET_ERR;

	__set_bit(head, q->outstanding);
	q->inflight++;
	uv_cvq_parse(q, head, &c);
	if (c.ok)
		ack = uv_cvq_ack(q->dev, &c);
	if (c.ack_off)
		uv_bounce_force(&q->dev->dom, c.ack_off - 1, ack);
	uv_used_push(q, head, c.ack_off ? 1 : 0);
	if (!c.ok)
		return false;
	*ev = (struct uvirtio_net_ctrl_event) {
		.ctrl_class = c.ctrl_class,
		.cmd = c.cmd,
		.ack = ack,
		.len = c.len,
	};
	memcpy(ev->data, c.data, min_t(u32, c.len, sizeof(c.data)));
	return true;
}

/**
 * uv_cvq_serve() - answer every command the driver queued (from uv_notify())
 * @q:		the control queue
 *
 * Any context; the driver may hold its own locks. The used ring is published
 * before returning, so the driver's spin ends at its next look.
 */
void uv_cvq_serve(struct uv_queue *q)
{
	struct virtio_device *vdev = &q->dev->vdev;
	struct uvirtio_net_ctrl_event ev[UV_CVQ_EVENTS], spill;
	unsigned int nev = 0, i, head;
	unsigned long flags;
	bool lost = false;
	u16 avail, old;

	spin_lock_irqsave(&q->lock, flags);
	if (!q->ready) {
		spin_unlock_irqrestore(&q->lock, flags);
		return;
	}
	old = q->used_idx;
	avail = virtio16_to_cpu(vdev, READ_ONCE(q->vring.avail->idx));
	virtio_rmb(true);
	while (q->last_avail != avail) {
		head = virtio16_to_cpu(vdev,
			q->vring.avail->ring[q->last_avail & (q->num - 1)]);
		q->last_avail++;
		if (head >= q->num || test_bit(head, q->outstanding))
			continue;	/* not from virtio_ring: cannot happen */
		if (nev < UV_CVQ_EVENTS)
			nev += uv_cvq_one(q, head, &ev[nev]);
		else if (uv_cvq_one(q, head, &spill))
			lost = true;
	}
	/* The driver polls for the answer: no interrupt is needed. */
	uv_used_publish(q, old);
	spin_unlock_irqrestore(&q->lock, flags);

	for (i = 0; i < nev; i++)
		uv_event_raw(q->dev, UVIRTIO_EV_NET_CTRL,
			     (const struct uvirtio_event *)&ev[i]);
	/* More commands than fit here: the emulator must re-read the state. */
	if (lost)
		uv_event_lost(q->dev);
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * What a device may tell the drivers: its feature bits and its config space,
 * and how often it may tell them that the config changed.
 *
 * virtio_blk and virtio_net were written for a hypervisor they trust. Every
 * feature bit an emulator offers makes the driver read and act on more of
 * the config space, so the bits are an allowlist per device type (a bit
 * nobody reviewed here is refused, even when a newer driver knows it), and
 * each config field such a bit exposes is checked at UVIRTIO_CREATE and at
 * every UVIRTIO_SET_CONFIG. The same rules hold for root: a kernel warning
 * or crash from device input is a bug whoever supplied it.
 *
 * A bad value is refused with -EINVAL and one rate-limited line naming the
 * field. Two values are clamped instead, because refusing them would only
 * make the emulator do the clamping: the blk capacity (to what the block
 * layer can address) and the net status word (to VIRTIO_NET_S_LINK_UP).
 */
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/fs.h>
#include <linux/log2.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include "uv.h"

/* Feature bits newer than the oldest headers uvirtio builds against (6.1). */
#ifndef VIRTIO_BLK_F_ZONED
#define VIRTIO_BLK_F_ZONED		17
#endif
#ifndef VIRTIO_NET_F_DEVICE_STATS
#define VIRTIO_NET_F_DEVICE_STATS	50
#endif
#ifndef VIRTIO_NET_F_VQ_NOTF_COAL
#define VIRTIO_NET_F_VQ_NOTF_COAL	52
#endif
#ifndef VIRTIO_NET_F_GUEST_USO4
#define VIRTIO_NET_F_GUEST_USO4		54
#endif
#ifndef VIRTIO_NET_F_GUEST_USO6
#define VIRTIO_NET_F_GUEST_USO6		55
#endif
#ifndef VIRTIO_NET_F_HOST_USO
#define VIRTIO_NET_F_HOST_USO		56
#endif
#ifndef VIRTIO_NET_F_GUEST_HDRLEN
#define VIRTIO_NET_F_GUEST_HDRLEN	59
#endif

/* Ring and transport bits the module implements, for every device type. */
#define UV_RING_BITS	(BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC) | \
			 BIT_ULL(VIRTIO_RING_F_EVENT_IDX) | \
			 BIT_ULL(VIRTIO_F_VERSION_1) | \
			 BIT_ULL(VIRTIO_F_ACCESS_PLATFORM))

/*
 * virtio-blk bits whose config fields are checked in uv_check_blk(), or
 * which carry no device data (RO, FLUSH). GEOMETRY only feeds HDIO_GETGEO.
 * Refused, among others: ZONED (the driver would parse zone reports the
 * emulator writes, and size the disk from zone fields), the legacy BARRIER
 * and SCSI, LIFETIME.
 */
#define UV_BLK_BITS	(BIT_ULL(VIRTIO_BLK_F_SIZE_MAX) | \
			 BIT_ULL(VIRTIO_BLK_F_SEG_MAX) | \
			 BIT_ULL(VIRTIO_BLK_F_GEOMETRY) | \
			 BIT_ULL(VIRTIO_BLK_F_RO) | \
			 BIT_ULL(VIRTIO_BLK_F_BLK_SIZE) | \
			 BIT_ULL(VIRTIO_BLK_F_FLUSH) | \
			 BIT_ULL(VIRTIO_BLK_F_TOPOLOGY) | \
			 BIT_ULL(VIRTIO_BLK_F_CONFIG_WCE) | \
			 BIT_ULL(VIRTIO_BLK_F_MQ) | \
			 BIT_ULL(VIRTIO_BLK_F_DISCARD) | \
			 BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES) | \
			 BIT_ULL(VIRTIO_BLK_F_SECURE_ERASE))

/*
 * virtio-net bits. The offload bits make the driver trust the device's
 * virtio_net_hdr on receive; that parser (virtio_net_hdr_to_skb()) is the
 * one tun/tap already exposes to any user with CAP_NET_ADMIN in a user
 * namespace, so they add no new surface. GUEST_HDRLEN only changes what the
 * driver writes. Refused, among others: STANDBY (failover: a second netdev
 * registered in the initial namespace), GUEST_ANNOUNCE, RSS, HASH_REPORT,
 * RSC_EXT, DEVICE_STATS and both NOTF_COAL (control commands the module does
 * not answer, or per-packet fields it does not check), the legacy GSO.
 */
#define UV_NET_BITS	(BIT_ULL(VIRTIO_NET_F_CSUM) | \
			 BIT_ULL(VIRTIO_NET_F_GUEST_CSUM) | \
			 BIT_ULL(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) | \
			 BIT_ULL(VIRTIO_NET_F_MTU) | \
			 BIT_ULL(VIRTIO_NET_F_MAC) | \
			 BIT_ULL(VIRTIO_NET_F_GUEST_TSO4) | \
			 BIT_ULL(VIRTIO_NET_F_GUEST_TSO6) | \
			 BIT_ULL(VIRTIO_NET_F_GUEST_ECN) | \
			 BIT_ULL(VIRTIO_NET_F_GUEST_UFO) | \
			 BIT_ULL(VIRTIO_NET_F_HOST_TSO4) | \
			 BIT_ULL(VIRTIO_NET_F_HOST_TSO6) | \
			 BIT_ULL(VIRTIO_NET_F_HOST_ECN) | \
			 BIT_ULL(VIRTIO_NET_F_HOST_UFO) | \
			 BIT_ULL(VIRTIO_NET_F_MRG_RXBUF) | \
			 BIT_ULL(VIRTIO_NET_F_STATUS) | \
			 BIT_ULL(VIRTIO_NET_F_CTRL_VQ) | \
			 BIT_ULL(VIRTIO_NET_F_CTRL_RX) | \
			 BIT_ULL(VIRTIO_NET_F_CTRL_VLAN) | \
			 BIT_ULL(VIRTIO_NET_F_CTRL_RX_EXTRA) | \
			 BIT_ULL(VIRTIO_NET_F_MQ) | \
			 BIT_ULL(VIRTIO_NET_F_CTRL_MAC_ADDR) | \
			 BIT_ULL(VIRTIO_NET_F_GUEST_USO4) | \
			 BIT_ULL(VIRTIO_NET_F_GUEST_USO6) | \
			 BIT_ULL(VIRTIO_NET_F_HOST_USO) | \
			 BIT_ULL(VIRTIO_NET_F_GUEST_HDRLEN) | \
			 BIT_ULL(VIRTIO_NET_F_SPEED_DUPLEX))

/* These need the control queue, which the module answers (netctrl.c). */
#define UV_NET_CVQ_DEPS	(BIT_ULL(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) | \
			 BIT_ULL(VIRTIO_NET_F_CTRL_RX) | \
			 BIT_ULL(VIRTIO_NET_F_CTRL_VLAN) | \
			 BIT_ULL(VIRTIO_NET_F_CTRL_RX_EXTRA) | \
			 BIT_ULL(VIRTIO_NET_F_MQ) | \
			 BIT_ULL(VIRTIO_NET_F_CTRL_MAC_ADDR))

/* The most data segments virtio_blk builds a request of (its own cap). */
#define UV_BLK_MAX_SEGS		32766

/* Largest physical block a disk may claim (TOPOLOGY), in bytes. */
#define UV_MAX_PHYS_BLOCK	SZ_1M

static int uv_bad(const char *field, u64 val)
{
	pr_info_ratelimited(UV_NAME ": device config refused: %s = %llu out of range\n",
			    field, val);
	return -EINVAL;
}

/* Config fields of a VIRTIO_F_VERSION_1 device are little-endian. */
#define uv_v16(x)	__virtio16_to_cpu(true, x)
#define uv_v32(x)	__virtio32_to_cpu(true, x)

static bool uv_has(u64 features, unsigned int bit)
{
	return features & BIT_ULL(bit);
}

/* The driver takes its block size from blk_size only with BLK_SIZE. */
static u32 uv_blk_lbs(u64 f, const struct virtio_blk_config *c)
{
	return uv_has(f, VIRTIO_BLK_F_BLK_SIZE) ? uv_v32(c->blk_size) : SECTOR_SIZE;
}

/* Pool granules of @bytes, as uv_bounce_map() takes them. */
static u64 uv_granules(u64 bytes)
{
	return DIV_ROUND_UP(bytes, UV_BOUNCE_GRANULE);
}

/**
 * uv_blk_segment() - the largest data segment with which every request
 * virtio_blk can build fits the bounce pool at once
 * @segs:	data segments per request (seg_max, or 1 without SEG_MAX)
 * @pool:	bounce pool bytes
 *
 * A request is mapped whole or not at all, and one that does not fit an
 * empty pool is retried by the block layer forever (its writer hangs in D
 * state). virtio_blk builds requests of up to @segs segments of up to
 * max_segment_size bytes, the lesser of size_max and what the DMA layer
 * reports (this function's result), and root may raise max_sectors_kb that
 * far. Besides its data a request maps a header and a status byte (a
 * granule each) and an indirect table of @segs + 2 descriptors, which is
 * also the bound of a discard's range array. The pool is searched
 * next-fit, so an empty pool can lose an extent of the largest size at its
 * end and another before where the search began: room is kept for two.
 *
 * Return: bytes, a multiple of PAGE_SIZE up to UV_MAX_MAPPING, or 0 when
 * not even one-page segments fit.
 */
static u32 uv_blk_segment(u64 segs, u64 pool)
{
	u64 table = uv_granules((segs + 2) * sizeof(struct vring_desc));
	u64 room = pool >> UV_BOUNCE_SHIFT, fixed = 2 + 3 * table, g;

	if (table > uv_granules(UV_MAX_MAPPING) || room <= fixed)
		return 0;
	g = div64_u64(room - fixed, segs + 2);
	return ALIGN_DOWN(min_t(u64, g << UV_BOUNCE_SHIFT, UV_MAX_MAPPING), PAGE_SIZE);
}

/*
 * The driver's largest request must fit the pool, with segments no smaller
 * than a page or than the size a created device's driver may already use,
 * and without indirect descriptors its chain must fit the ring
 * (virtio_ring WARNs otherwise).
 */
static int uv_check_blk_size(const struct uv_dev *dev, const struct virtio_blk_config *c,
			     u32 *seg_bytes)
{
	u64 f = dev->features, pool = dev->dom.bounce_size;
	u32 floor = max_t(u32, dev->dom.seg_bytes, PAGE_SIZE), v = uv_v32(c->seg_max), s;
	u64 segs = uv_has(f, VIRTIO_BLK_F_SEG_MAX) ? min_t(u64, v, UV_BLK_MAX_SEGS) : 1;

	if (!uv_has(f, VIRTIO_RING_F_INDIRECT_DESC) && segs + 2 > dev->queue_size) {
		pr_info_ratelimited(UV_NAME ": device config refused: %llu segments and 2 more descriptors exceed the queue size %u without VIRTIO_RING_F_INDIRECT_DESC\n",
				    segs, dev->queue_size);
		return -EINVAL;
	}
	s = uv_blk_segment(segs, pool);
	if (s < floor) {
		pr_info_ratelimited(UV_NAME ": device config refused: requests of %llu segments of %u bytes do not fit the bounce pool (%llu bytes)\n",
				    segs, floor, pool);
		return -EINVAL;
	}
	if (seg_bytes)
		*seg_bytes = s;
	return 0;
}

/* About a screen, but one flat check per config field: kept whole. */
static int uv_check_blk(const struct uv_dev *dev, const struct virtio_blk_config *c,
			u32 *seg_bytes)
{
	u64 f = dev->features;
	u32 lbs = uv_blk_lbs(f, c);
	u32 v;

	/*
	 * 6.9+ WARNs when the segment size is below a page, and the block
	 * layer assumes every driver takes a page in one segment.
	 */
	v = uv_v32(c->size_max);
	if (uv_has(f, VIRTIO_BLK_F_SIZE_MAX) && v < PAGE_SIZE)
		return uv_bad("size_max", v);
	v = uv_v32(c->seg_max);
	if (uv_has(f, VIRTIO_BLK_F_SEG_MAX) && !v)
		return uv_bad("seg_max", v);
	if (uv_has(f, VIRTIO_BLK_F_BLK_SIZE) &&
	    (lbs < SECTOR_SIZE || lbs > PAGE_SIZE || !is_power_of_2(lbs)))
		return uv_bad("blk_size", lbs);
	if (uv_has(f, VIRTIO_BLK_F_TOPOLOGY)) {
		/* the driver computes blk_size * (1 << exp) in 32 bits */
		if (c->physical_block_exp > ilog2(UV_MAX_PHYS_BLOCK / lbs))
			return uv_bad("physical_block_exp", c->physical_block_exp);
		if (c->alignment_offset >= 1U << c->physical_block_exp)
			return uv_bad("alignment_offset", c->alignment_offset);
		/* min_io_size is a u16 of blocks: at most 256 MiB, fits */
		v = uv_v32(c->opt_io_size);
		if ((u64)v * lbs > U32_MAX)
			return uv_bad("opt_io_size", v);
	}
	/* The driver reads wce only with CONFIG_WCE, and BUG()s beyond 1. */
	if (uv_has(f, VIRTIO_BLK_F_CONFIG_WCE) && c->wce > 1)
		return uv_bad("wce", c->wce);
	v = uv_v16(c->num_queues);
	if (uv_has(f, VIRTIO_BLK_F_MQ) && (!v || v > dev->num_queues))
		return uv_bad("num_queues", v);
	/* sector counts the driver turns into bytes in 32 bits */
	v = uv_v32(c->discard_sector_alignment);
	if (uv_has(f, VIRTIO_BLK_F_DISCARD) && v > U32_MAX >> SECTOR_SHIFT)
		return uv_bad("discard_sector_alignment", v);
	if (uv_has(f, VIRTIO_BLK_F_SECURE_ERASE)) {
		v = uv_v32(c->secure_erase_sector_alignment);
		if (!v || v > U32_MAX >> SECTOR_SHIFT)
			return uv_bad("secure_erase_sector_alignment", v);
		if (!c->max_secure_erase_sectors)
			return uv_bad("max_secure_erase_sectors", 0);
		if (!c->max_secure_erase_seg)
			return uv_bad("max_secure_erase_seg", 0);
	}
	return uv_check_blk_size(dev, c, seg_bytes);
}

static int uv_check_net(u64 f, unsigned int num_queues, const struct virtio_net_config *c)
{
	unsigned int pairs = uv_v16(c->max_virtqueue_pairs);
	u32 speed = le32_to_cpu(c->speed);

	if (!uv_has(f, VIRTIO_NET_F_CTRL_VQ) && (f & UV_NET_CVQ_DEPS))
		return uv_bad("features needing VIRTIO_NET_F_CTRL_VQ", f & UV_NET_CVQ_DEPS);
	/* rx and tx per pair, and the control queue last if there is one */
	if (!uv_has(f, VIRTIO_NET_F_MQ))
		pairs = 1;
	else if (!pairs || pairs > VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX)
		return uv_bad("max_virtqueue_pairs", pairs);
	if (num_queues != 2 * pairs + uv_has(f, VIRTIO_NET_F_CTRL_VQ))
		return uv_bad("num_queues", num_queues);
	if (uv_has(f, VIRTIO_NET_F_MAC) && !is_valid_ether_addr(c->mac))
		return uv_bad("mac (multicast or zero)", ether_addr_to_u64(c->mac));
	if (uv_has(f, VIRTIO_NET_F_MTU) && uv_v16(c->mtu) < ETH_MIN_MTU)
		return uv_bad("mtu", uv_v16(c->mtu));
	if (uv_has(f, VIRTIO_NET_F_SPEED_DUPLEX)) {
		if (!ethtool_validate_speed(speed))
			return uv_bad("speed", speed);
		if (!ethtool_validate_duplex(c->duplex))
			return uv_bad("duplex", c->duplex);
	}
	return 0;
}

/**
 * uv_allowed_features() - every feature bit a device type may offer
 * @device_id:	a virtio device id
 *
 * The one allowlist: uv_validate() refuses any other bit, and
 * UVIRTIO_GET_FEATURES reports it. Transport and ring bits included.
 *
 * Return: the bits, or 0 for a device type uvirtio does not implement.
 */
u64 uv_allowed_features(u32 device_id)
{
	switch (device_id) {
	case VIRTIO_ID_BLOCK:
		return UV_RING_BITS | UV_BLK_BITS;
	case VIRTIO_ID_NET:
		return UV_RING_BITS | UV_NET_BITS;
	}
	return 0;
}

/**
 * uv_validate() - may a device offer its features and this config?
 * @dev:	the device: its type, features, queues, config size and
 *		bounce pool set; dom.seg_bytes 0 until it was created
 * @config:	config space as it would be (dev->config_size bytes)
 * @seg_bytes:	out, or NULL: the largest data segment the driver may
 *		map; for a created device never below dom.seg_bytes, which
 *		the driver may already have sized its requests with
 *
 * Return: 0, or -EINVAL (after one rate-limited line naming the field).
 */
int uv_validate(const struct uv_dev *dev, const u8 *config, u32 *seg_bytes)
{
	u32 device_id = dev->device_id;
	u64 features = dev->features;
	union {
		struct virtio_blk_config blk;
		struct virtio_net_config net;
	} c = {};
	u64 allowed = uv_allowed_features(device_id);

	if (!allowed)
		return -EPROTONOSUPPORT;
	memcpy(&c, config, min_t(size_t, dev->config_size, sizeof(c)));
	if (features & ~allowed) {
		pr_info_ratelimited(UV_NAME ": device refused: feature bits %#llx not allowed for device type %u\n",
				    features & ~allowed, device_id);
		return -EINVAL;
	}
	if (device_id == VIRTIO_ID_BLOCK)
		return uv_check_blk(dev, &c.blk, seg_bytes);
	if (seg_bytes)
		*seg_bytes = UV_MAX_MAPPING;
	return uv_check_net(features, dev->num_queues, &c.net);
}

/**
 * uv_config_sanitize() - clamp the config values the module clamps
 * @dev:	the device; config_lock held, or the device not visible yet
 *
 * virtio_net acks VIRTIO_NET_S_ANNOUNCE on the control queue, which the
 * module does not implement (and BUG()s without one): only LINK_UP passes.
 * The block layer turns capacity << 9 into the bdev's i_size, which beyond
 * MAX_LFS_FILESIZE wraps negative: no real disk is that big, clamp.
 */
void uv_config_sanitize(struct uv_dev *dev)
{
	size_t off = offsetof(struct virtio_net_config, status);
	__le16 *status = (__le16 *)(dev->config + off);
	__le64 *capacity = (__le64 *)dev->config;	/* virtio_blk_config */

	if (dev->device_id == VIRTIO_ID_NET && dev->config_size >= off + sizeof(*status))
		*status &= cpu_to_le16(VIRTIO_NET_S_LINK_UP);
	if (dev->device_id == VIRTIO_ID_BLOCK && dev->config_size >= sizeof(*capacity) &&
	    le64_to_cpu(*capacity) > (MAX_LFS_FILESIZE >> SECTOR_SHIFT))
		*capacity = cpu_to_le64(MAX_LFS_FILESIZE >> SECTOR_SHIFT);
}

/*
 * Config-change notices reach the driver at most this often. Each one can
 * make virtio_blk log a capacity change and send a uevent, or virtio_net
 * flip its carrier: an emulator flipping a value in a loop must not turn
 * that into a log and uevent flood. The last value always gets through:
 * a notice held back is sent when the interval ends, and the driver then
 * reads the config as it is.
 */
#define UV_CONFIG_INTERVAL	(HZ / 10)

static void uv_config_deliver(struct uv_dev *dev)
{
	unsigned long flags;
	bool live;

	/*
	 * The virtio core takes config changes once registered; a change
	 * before that is reported by the registration (lifecycle.c), which
	 * sets config_live under config_lock after comparing the generation.
	 */
	spin_lock_irqsave(&dev->config_lock, flags);
	live = dev->config_live;
	spin_unlock_irqrestore(&dev->config_lock, flags);
	if (live && !uv_dead(dev))
		virtio_config_changed(&dev->vdev);
}

/**
 * uv_config_notify() - tell the driver the config changed, rate-limited
 * @dev:	the device (process context)
 */
void uv_config_notify(struct uv_dev *dev)
{
	unsigned long now = jiffies, next = READ_ONCE(dev->config_next);

	if (time_after_eq(now, next) &&
	    cmpxchg(&dev->config_next, next, now + UV_CONFIG_INTERVAL) == next) {
		uv_config_deliver(dev);
		return;
	}
	/* A notice already pending covers this change too. */
	get_device(&dev->parent);
	if (!queue_delayed_work(uv_wq, &dev->config_work,
				time_after(next, now) ? next - now : 1))
		put_device(&dev->parent);
}

/**
 * uv_config_work() - a config-change notice that waited for its interval
 * @work:	the device's config_work
 */
void uv_config_work(struct work_struct *work)
{
	struct uv_dev *dev = container_of(to_delayed_work(work), struct uv_dev,
					  config_work);

	WRITE_ONCE(dev->config_next, jiffies + UV_CONFIG_INTERVAL);
	uv_config_deliver(dev);
	put_device(&dev->parent);
}

/* The ABI is the same for 32- and 64-bit processes. */
static_assert(sizeof(struct uvirtio_create) == 88);
static_assert(sizeof(struct uvirtio_layout) == 72);
static_assert(sizeof(struct uvirtio_queue_info) == 80);
static_assert(sizeof(struct uvirtio_vq_eventfd) == 24);
static_assert(sizeof(struct uvirtio_queue_irq) == 24);
static_assert(sizeof(struct uvirtio_config_update) == 32);
static_assert(sizeof(struct uvirtio_config_read) == 32);
static_assert(sizeof(struct uvirtio_status) == 56);
static_assert(sizeof(struct uvirtio_event) == 32);
static_assert(sizeof(struct uvirtio_net_ctrl_event) == 32);
/* The command area of a plain 64-byte SQE */
static_assert(sizeof(struct uvirtio_uring_cmd) == 16);
static_assert(sizeof(struct uvirtio_ctrl_queue) == 64);
static_assert(sizeof(struct uvirtio_ctrl) == 4096);
static_assert(sizeof(struct uvirtio_used_elem) == 8);
static_assert(sizeof(struct uvirtio_shadow) == 64);
static_assert(sizeof(struct uvirtio_attach) == 32);
static_assert(sizeof(struct uvirtio_inflight) == 32);
static_assert(sizeof(struct uvirtio_features) == 32);

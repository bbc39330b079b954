/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * uvirtio: virtio devices emulated by an unprivileged userspace process.
 *
 * A process opens /dev/uvirtio, describes one device with UVIRTIO_CREATE,
 * maps the device's memory domain with one mmap() of the same fd, sets a
 * kick and a call eventfd per queue and asks for the device to be started
 * (UVIRTIO_START). The kernel's own virtio driver (virtio_blk, virtio_net)
 * then binds to it. One fd holds one device; closing the fd removes it.
 *
 * The memory domain (offsets are what descriptors carry as addresses):
 *
 *   ctrl page      read-write  struct uvirtio_ctrl: per-queue flags
 *   shadow rings   read-write  struct uvirtio_shadow per queue: the emulator's
 *                              completions, checked and copied by the kernel
 *   vring slots    read-only   the driver's split rings (desc, avail, used)
 *   bounce pool    read-write  every data buffer and indirect table
 *
 * Writing to a read-only page raises SIGBUS. Every offset is reported by
 * UVIRTIO_GET_LAYOUT and UVIRTIO_GET_QUEUE.
 *
 * Completion protocol: the emulator writes struct uvirtio_used_elem entries
 * into its shadow ring, publishes them by storing shadow.idx (release), and
 * writes 1 to the queue's call eventfd. The kernel checks every new entry (id
 * is an outstanding head, len fits the chain's device-writable part) and
 * copies it into the driver's used ring, then interrupts the driver when the
 * driver asked for it (VIRTIO_RING_F_EVENT_IDX is implemented by the kernel,
 * where the real rings are). A bad entry removes the device.
 * For virtio-blk, an entry with len 0 fails its request: the kernel writes
 * VIRTIO_BLK_S_IOERR into the status byte (a served request always reports
 * at least the status byte). That is how an emulator refuses a bad chain.
 *
 * Queue epochs: when a queue is (re)started by the driver, the kernel
 * expects shadow entries from index 0 on. The emulator stores shadow.idx = 0
 * and then the new epoch (release); the kernel loads the epoch (acquire)
 * before idx and ignores the shadow ring while the epoch differs.
 *
 * Kick protocol: the driver's kick signals the queue's kick eventfd unless the
 * emulator has set UVIRTIO_QF_POLLING in the queue's ctrl flags. Before it
 * sleeps, an emulator clears the flag, issues a full barrier and checks the
 * avail ring once more. With EVENT_IDX the kernel keeps the used ring's
 * avail_event at the avail index, so the driver calls into the module for
 * every batch; that call is cheap, and the flag decides whether it wakes the
 * emulator.
 *
 * Events: read() returns whole struct uvirtio_event records; poll() reports
 * EPOLLIN while events are queued and EPOLLHUP once the device is removed.
 *
 * virtio-net control queue: a net device may offer VIRTIO_NET_F_CTRL_VQ (and
 * CTRL_RX, CTRL_RX_EXTRA, CTRL_VLAN, MQ, CTRL_MAC_ADDR, CTRL_GUEST_OFFLOADS,
 * which need it). The kernel then serves the driver's last queue itself, so
 * the driver never waits on the emulator: UVIRTIO_GET_QUEUE reports it as
 * UVIRTIO_QUEUE_KERNEL. Every command is acknowledged at once (VIRTIO_NET_OK,
 * or VIRTIO_NET_ERR for a command the driver may not send with the features
 * it negotiated) and reported as UVIRTIO_EV_NET_CTRL; its first 8 data bytes
 * (a MAC address, the u16 queue pair count, the u8 on/off of an rx mode, the
 * u64 offloads) follow in struct uvirtio_net_ctrl_event, which overlays
 * struct uvirtio_event. With MQ, num_queues must be 2 * max_virtqueue_pairs
 * + 1; without it, 3. A process that is not privileged over its network
 * namespace (CAP_NET_ADMIN) cannot create a net device (EPERM); the
 * interface is created in the creator's network namespace.
 *
 * Every struct has explicit padding; reserved fields and padding must be zero
 * on input (EINVAL otherwise) and are zero on output. Sizes do not depend on
 * the ABI (checked below).
 */
#ifndef _UAPI_LINUX_UVIRTIO_H
#define _UAPI_LINUX_UVIRTIO_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define UVIRTIO_API_VERSION	1

#define UVIRTIO_MAX_QUEUES	64
#define UVIRTIO_MAX_QUEUE_SIZE	1024
#define UVIRTIO_MAX_CONFIG_SIZE	4096
/* Bounce pool size limits, in bytes; 0 in uvirtio_create picks the default. */
#define UVIRTIO_MIN_BOUNCE_SIZE	(1ULL << 20)
#define UVIRTIO_MAX_BOUNCE_SIZE	(256ULL << 20)
#define UVIRTIO_DEF_BOUNCE_SIZE	(16ULL << 20)

/*
 * Recovery mode: when the fd is closed (the emulator crashed or was killed)
 * the device stays, and its I/O waits, for the module's recovery_timeout
 * seconds (default 30). A process of the same user that has opened
 * /dev/uvirtio takes it over with UVIRTIO_ATTACH, maps the domain, sets
 * eventfds and serves on: UVIRTIO_GET_INFLIGHT says, per queue, which heads
 * the driver is still waiting for (serve them again) and from which avail
 * index to continue. Completions the old process published are delivered
 * at attach time. No one in time: the device is removed, waiting I/O fails
 * (UVIRTIO_DEAD_RECOVERY_TIMEOUT). A mapping of the domain holds the fd
 * open, so a device is only waiting for a take-over once every process that
 * had the fd or a mapping of it is gone (ENOENT until then).
 */
#define UVIRTIO_CREATE_F_RECOVERY	(1U << 0)

/*
 * Standard used rings, for unmodified virtio backends (a vhost-user backend
 * handed the domain). Each queue's shadow ring is then laid out as a virtio
 * split ring's used ring, little-endian: __le16 flags, __le16 idx,
 * struct vring_used_elem ring[num], __le16 avail_event, where num is the ring
 * size the driver chose (uvirtio_queue_info.num). Everything else holds:
 * entries are checked and copied as in the default form, the kernel
 * implements EVENT_IDX towards the driver.
 *
 * The queue epoch moves out of the shadow ring into the ctrl page
 * (uvirtio_ctrl_queue.epoch): the kernel takes entries only while that
 * equals the queue's epoch. Whoever starts the backend's ring stores
 * idx = 0 first, then the epoch (release).
 *
 * The backend must run the ring without VIRTIO_RING_F_EVENT_IDX, even when
 * the driver negotiated it, and signal its call eventfd for every batch it
 * completes: the driver's used_event and its re-check after setting it
 * refer to the driver's used ring, which the kernel fills from this one
 * (a backend without EVENT_IDX reads the driver's avail flags, which a
 * driver with EVENT_IDX never sets). A front end therefore offers the
 * driver EVENT_IDX and clears it from what it tells the backend. Kicks
 * follow the backend's suppression as such a ring's device states it:
 * the kick eventfd is not signalled while flags has VRING_USED_F_NO_NOTIFY;
 * avail_event is not read. UVIRTIO_QF_POLLING still works.
 */
#define UVIRTIO_CREATE_F_VRING_USED	(1U << 1)

/*
 * The used length says what the device wrote. Without this flag, every
 * device-writable bounce buffer is zeroed when the driver maps it, so
 * nothing the emulator leaves unwritten can carry an earlier request's
 * bytes to the driver. With it, buffers are not zeroed (the emulator may
 * find bytes of earlier requests of this device there, all of which it has
 * served), and a completion's used length decides what the driver gets:
 * - virtio-net: the chain's first (used length) writable bytes, in chain
 *   order;
 * - virtio-blk: the chain's last writable buffer (the status byte) always,
 *   and of the writable buffers before it, in chain order, the first
 *   (used length - that buffer's length) bytes.
 * Every other byte reads as zero. A request the kernel fails on the
 * emulator's behalf (a used length of 0, a dead device, a removal) gets
 * zeros for all of its data. A virtio-blk emulator that completes a read
 * without writing its data reports the status byte alone (a used length
 * of 1).
 */
#define UVIRTIO_CREATE_F_USED_LEN	(1U << 2)

/**
 * struct uvirtio_create - describe a device (UVIRTIO_CREATE)
 * @device_id:	virtio device id: VIRTIO_ID_BLOCK (2) or VIRTIO_ID_NET (1)
 * @num_queues:	number of virtqueues, 1..UVIRTIO_MAX_QUEUES
 * @queue_size:	maximum size of each queue, a power of two, 2..1024
 * @config_size: bytes of device config space at @config_addr, 0..4096
 * @features:	device feature bits offered to the driver. Transport bits
 *		(VERSION_1, ACCESS_PLATFORM) are always added; ring layout bits
 *		the transport does not implement (RING_PACKED, RING_RESET,
 *		NOTIFICATION_DATA, ...) are rejected with EINVAL.
 * @config_addr: user pointer to the initial config space
 * @bounce_size: bytes of bounce pool (multiple of the page size), 0 = default.
 *		A block device's largest request must fit it: EINVAL when
 *		seg_max page-sized segments cannot, and the driver's segment
 *		size is lowered below size_max until the largest one does
 *		(UVIRTIO_SET_CONFIG may not raise seg_max past that size).
 * @flags:	UVIRTIO_CREATE_F_*
 * @index:	out: the device's index (its sysfs name is "uvirtio-<index>")
 * @domain_size: out: bytes to mmap() at offset 0
 * @reserved:	must be 0
 */
struct uvirtio_create {
	__u32 device_id;
	__u32 num_queues;
	__u32 queue_size;
	__u32 config_size;
	__u64 features;
	__u64 config_addr;
	__u64 bounce_size;
	__u32 flags;
	__u32 index;
	__u64 domain_size;
	__u64 reserved[4];
};

/**
 * struct uvirtio_layout - where things live in the domain (UVIRTIO_GET_LAYOUT)
 * @domain_size: bytes of the whole domain
 * @ctrl_offset: offset of struct uvirtio_ctrl (one page, read-write)
 * @bounce_offset: offset of the bounce pool (read-write)
 * @bounce_size: bytes of the bounce pool
 * @num_queues:	as created
 * @queue_size:	as created
 * @reserved:	zero
 */
struct uvirtio_layout {
	__u64 domain_size;
	__u64 ctrl_offset;
	__u64 bounce_offset;
	__u64 bounce_size;
	__u32 num_queues;
	__u32 queue_size;
	__u64 reserved[4];
};

/* uvirtio_queue_info.state */
#define UVIRTIO_QUEUE_UNUSED	0	/* the driver has not set it up */
#define UVIRTIO_QUEUE_READY	1	/* rings are live, serve them */
#define UVIRTIO_QUEUE_KERNEL	2	/* live, but served by the kernel (the
					 * virtio-net control queue): leave it */

/**
 * struct uvirtio_queue_info - one queue's rings (UVIRTIO_GET_QUEUE)
 * @index:	in: queue index
 * @state:	out: UVIRTIO_QUEUE_*
 * @num:	out: ring size chosen by the driver (0 unless READY)
 * @epoch:	out: changes every time the driver sets the queue up anew;
 *		the emulator copies it into uvirtio_shadow.epoch before
 *		completing anything, so late completions of an older set-up
 *		are ignored instead of being taken for new ones
 * @desc_offset: out: descriptor table (read-only)
 * @avail_offset: out: avail ring (read-only)
 * @used_offset: out: the driver's used ring (read-only; the kernel writes it)
 * @shadow_offset: out: this queue's struct uvirtio_shadow (read-write);
 *		valid whatever the state
 * @reserved:	in: must be 0; out: zero
 */
struct uvirtio_queue_info {
	__u32 index;
	__u32 state;
	__u32 num;
	__u32 epoch;
	__u64 desc_offset;
	__u64 avail_offset;
	__u64 used_offset;
	__u64 shadow_offset;
	__u64 reserved[4];
};

/**
 * struct uvirtio_vq_eventfd - set or clear a queue's kick or call eventfd
 * @index:	queue index
 * @fd:		an eventfd, or -1 to detach
 * @reserved:	must be 0
 *
 * The same eventfd may not be both a kick fd and a call fd (EINVAL).
 */
struct uvirtio_vq_eventfd {
	__u32 index;
	__s32 fd;
	__u64 reserved[2];
};

/**
 * struct uvirtio_queue_irq - UVIRTIO_QUEUE_IRQ: take completions, interrupt
 * @index:	queue index
 * @reserved:	must be 0
 *
 * Does what a call eventfd write does, for clients without eventfds.
 */
struct uvirtio_queue_irq {
	__u32 index;
	__u32 reserved0;
	__u64 reserved[2];
};

/**
 * struct uvirtio_config_update - change config space, notify the driver
 * @offset:	first byte to change
 * @len:	bytes to change; offset + len <= config_size
 * @data_addr:	user pointer to @len bytes
 * @reserved:	must be 0
 */
struct uvirtio_config_update {
	__u32 offset;
	__u32 len;
	__u64 data_addr;
	__u64 reserved[2];
};

/**
 * struct uvirtio_status - what the driver has done (UVIRTIO_GET_STATUS)
 * @driver_features: features the driver accepted (valid after FEATURES_OK)
 * @status:	virtio device status byte as the driver last wrote it
 * @config_generation: increments on every config update
 * @dead_reason: UVIRTIO_DEAD_* once the device is being removed, else 0
 * @net_pairs:	virtio-net: the queue pairs the driver enabled with its last
 *		accepted VQ_PAIRS_SET, 1 from every reset on (the command's
 *		UVIRTIO_EV_NET_CTRL may have been lost to an OVERFLOW);
 *		0 for other devices (and from modules before this field)
 * @reserved:	zero
 */
struct uvirtio_status {
	__u64 driver_features;
	__u32 status;
	__u32 config_generation;
	__u32 dead_reason;
	__u32 net_pairs;
	__u64 reserved[4];
};

/* Why a device is gone (uvirtio_status.dead_reason, UVIRTIO_EV_REMOVED). */
#define UVIRTIO_DEAD_NONE		0
#define UVIRTIO_DEAD_REMOVED		1	/* UVIRTIO_REMOVE finished */
#define UVIRTIO_DEAD_CLOSED		2	/* the fd was closed */
#define UVIRTIO_DEAD_BAD_ID		3	/* used id not an outstanding head */
#define UVIRTIO_DEAD_BAD_LEN		4	/* used len beyond writable part */
#define UVIRTIO_DEAD_BAD_IDX		5	/* shadow idx moved by more than num */
#define UVIRTIO_DEAD_TIMEOUT		6	/* UVIRTIO_REMOVE did not finish */
#define UVIRTIO_DEAD_START_FAILED	7	/* the virtio device could not register */
#define UVIRTIO_DEAD_RECOVERY_TIMEOUT	8	/* no emulator re-attached in time */

/* Events, read() from the device fd. */
#define UVIRTIO_EV_FEATURES	1	/* u64[0]: features the driver accepted */
#define UVIRTIO_EV_DRIVER_OK	2	/* queues are set up: UVIRTIO_GET_QUEUE */
#define UVIRTIO_EV_RESET	3	/* stop serving every queue */
#define UVIRTIO_EV_CONFIG_WRITE	4	/* u32[0] offset, u32[1] len: driver wrote
					 * config space (read it back with
					 * UVIRTIO_GET_CONFIG) */
#define UVIRTIO_EV_REMOVED	5	/* u32[0]: UVIRTIO_DEAD_*; last event */
#define UVIRTIO_EV_OVERFLOW	6	/* events were dropped: re-read state */
#define UVIRTIO_EV_NET_CTRL	7	/* the kernel answered a virtio-net control
					 * command: struct uvirtio_net_ctrl_event */

/**
 * struct uvirtio_event - one record of the device fd's read()
 * @type:	UVIRTIO_EV_*
 * @reserved0:	zero
 * @seq:	sequence number, increments per event (gaps after OVERFLOW)
 * @u64:	payload, by type
 * @u32:	payload, by type
 */
struct uvirtio_event {
	__u32 type;
	__u32 reserved0;
	__u64 seq;
	union {
		__u64 u64[2];
		__u32 u32[4];
	};
};

/**
 * struct uvirtio_net_ctrl_event - UVIRTIO_EV_NET_CTRL, as read()
 * @type:	UVIRTIO_EV_NET_CTRL
 * @reserved0:	zero
 * @seq:	as in struct uvirtio_event
 * @ctrl_class:	VIRTIO_NET_CTRL_* class
 * @cmd:	command within the class
 * @ack:	what the driver was answered: VIRTIO_NET_OK (0) or ERR (1)
 * @len:	bytes of command data the driver sent
 * @data:	the first min(@len, 8) of them, the rest zero
 */
struct uvirtio_net_ctrl_event {
	__u32 type;
	__u32 reserved0;
	__u64 seq;
	__u8 ctrl_class;
	__u8 cmd;
	__u8 ack;
	__u8 reserved1;
	__u32 len;
	__u8 data[8];
};

/**
 * struct uvirtio_config_read - UVIRTIO_GET_CONFIG
 * @offset:	first byte
 * @len:	bytes; offset + len <= config_size
 * @data_addr:	user buffer of @len bytes
 * @reserved:	must be 0
 */
struct uvirtio_config_read {
	__u32 offset;
	__u32 len;
	__u64 data_addr;
	__u64 reserved[2];
};

/* Per-queue control, in the ctrl page. */
#define UVIRTIO_QF_POLLING	(1U << 0)	/* emulator polls: kicks not needed */

/**
 * struct uvirtio_ctrl_queue - one queue's slot in the ctrl page
 * @flags:	UVIRTIO_QF_*, written by the emulator
 * @epoch:	UVIRTIO_CREATE_F_VRING_USED: the queue epoch the shadow
 *		ring's entries belong to; unused otherwise
 * @reserved:	zero; one cache line per queue
 */
struct uvirtio_ctrl_queue {
	__u32 flags;
	__u32 epoch;
	__u32 reserved[14];
};

struct uvirtio_ctrl {
	struct uvirtio_ctrl_queue queue[UVIRTIO_MAX_QUEUES];
};

/**
 * struct uvirtio_used_elem - one completion in a shadow ring
 * @id:		head index of the completed chain
 * @len:	bytes written into the chain's device-writable buffers
 */
struct uvirtio_used_elem {
	__u32 id;
	__u32 len;
};

/**
 * struct uvirtio_shadow - the emulator's completion ring for one queue
 * @idx:	free-running count of entries written (mod 2^16); store with
 *		release after the entries
 * @reserved0:	zero
 * @epoch:	the queue epoch these entries belong to (uvirtio_queue_info)
 * @reserved:	zero; the header is one cache line
 * @ring:	queue_size entries, indexed by idx mod num
 */
struct uvirtio_shadow {
	__u16 idx;
	__u16 reserved0;
	__u32 epoch;
	__u32 reserved[14];
	struct uvirtio_used_elem ring[];
};

/**
 * struct uvirtio_attach - take over a device in recovery (UVIRTIO_ATTACH)
 * @index:	the device's index ("uvirtio-<index>")
 * @reserved0:	must be 0
 * @domain_size: out: bytes to mmap() at offset 0
 * @reserved:	must be 0
 */
struct uvirtio_attach {
	__u32 index;
	__u32 reserved0;
	__u64 domain_size;
	__u64 reserved[2];
};

/**
 * struct uvirtio_inflight - what a re-attached emulator must serve
 * @index:	in: queue index
 * @last_avail:	out: avail ring index to continue from
 * @count:	out: heads the driver is waiting for, written to @heads_addr
 * @heads_addr:	in: user array of queue_size __u16
 * @reserved:	must be 0
 *
 * Every head the driver made available before @last_avail and got no
 * completion for is listed, whether or not an earlier process took it.
 */
struct uvirtio_inflight {
	__u32 index;
	__u16 last_avail;
	__u16 count;
	__u64 heads_addr;
	__u64 reserved[2];
};

/**
 * struct uvirtio_requeue - UVIRTIO_REQUEUE: a queue's backend has gone
 * @index:	in: queue index
 * @base:	out: avail index a new backend starts from (its
 *		SET_VRING_BASE); equal to the shadow used ring's idx
 * @count:	out: heads the driver still waits for, now the @count avail
 *		entries before the avail index
 * @reserved:	must be 0
 */
struct uvirtio_requeue {
	__u32 index;
	__u16 base;
	__u16 count;
	__u64 reserved[2];
};

/**
 * struct uvirtio_features - UVIRTIO_GET_FEATURES: what a device may offer
 * @device_id:	in: VIRTIO_ID_BLOCK or VIRTIO_ID_NET
 * @reserved0:	must be 0
 * @features:	out: every feature bit UVIRTIO_CREATE accepts for that type
 *		(transport bits included); a front end for another backend
 *		offers the intersection with what its backend offers
 * @reserved:	must be 0
 */
struct uvirtio_features {
	__u32 device_id;
	__u32 reserved0;
	__u64 features;
	__u64 reserved[2];
};

#define UVIRTIO_IOC_MAGIC	0xBE

#define UVIRTIO_GET_API_VERSION	_IOR(UVIRTIO_IOC_MAGIC, 0x00, __u64)
#define UVIRTIO_CREATE		_IOWR(UVIRTIO_IOC_MAGIC, 0x01, struct uvirtio_create)
#define UVIRTIO_GET_LAYOUT	_IOR(UVIRTIO_IOC_MAGIC, 0x02, struct uvirtio_layout)
#define UVIRTIO_GET_QUEUE	_IOWR(UVIRTIO_IOC_MAGIC, 0x03, struct uvirtio_queue_info)
#define UVIRTIO_SET_KICK_FD	_IOW(UVIRTIO_IOC_MAGIC, 0x04, struct uvirtio_vq_eventfd)
#define UVIRTIO_SET_CALL_FD	_IOW(UVIRTIO_IOC_MAGIC, 0x05, struct uvirtio_vq_eventfd)
/* Register the virtio device: the driver binds asynchronously. */
#define UVIRTIO_START		_IO(UVIRTIO_IOC_MAGIC, 0x06)
#define UVIRTIO_QUEUE_IRQ	_IOW(UVIRTIO_IOC_MAGIC, 0x07, struct uvirtio_queue_irq)
#define UVIRTIO_SET_CONFIG	_IOW(UVIRTIO_IOC_MAGIC, 0x08, struct uvirtio_config_update)
#define UVIRTIO_GET_CONFIG	_IOW(UVIRTIO_IOC_MAGIC, 0x09, struct uvirtio_config_read)
#define UVIRTIO_GET_STATUS	_IOR(UVIRTIO_IOC_MAGIC, 0x0a, struct uvirtio_status)
/*
 * Remove the device while the emulator keeps serving: the driver unbinds
 * (flushing dirty data through the emulator), then UVIRTIO_EV_REMOVED
 * arrives. If removal takes longer than the module's remove_timeout, the
 * device is killed: outstanding requests fail.
 */
#define UVIRTIO_REMOVE		_IO(UVIRTIO_IOC_MAGIC, 0x0b)
/* Recovery mode, see UVIRTIO_CREATE_F_RECOVERY. */
#define UVIRTIO_ATTACH		_IOWR(UVIRTIO_IOC_MAGIC, 0x0c, struct uvirtio_attach)
#define UVIRTIO_GET_INFLIGHT	_IOWR(UVIRTIO_IOC_MAGIC, 0x0d, struct uvirtio_inflight)
#define UVIRTIO_GET_FEATURES	_IOWR(UVIRTIO_IOC_MAGIC, 0x0e, struct uvirtio_features)
/*
 * A new file (the return value, O_CLOEXEC) that maps this device's domain,
 * with the same offsets and read-only ranges as mmap on the device fd, and
 * does nothing else: no ioctl, read or poll. For a process that serves the
 * rings but must not control the device, such as a vhost-user backend
 * (the fd of SET_MEM_TABLE). It keeps the memory while open or mapped,
 * never the device: closing the device fd still destroys the device, and
 * once the device is dead mmap on the file fails with ENODEV.
 */
#define UVIRTIO_DOMAIN_FD	_IO(UVIRTIO_IOC_MAGIC, 0x0f)
/*
 * For a device with standard used rings (UVIRTIO_CREATE_F_VRING_USED) whose
 * backend process has ended with requests taken and not completed (a
 * vhost-user backend that crashed). Takes what the backend published in
 * the shadow ring, checked as a call would (a bad entry kills the device:
 * -EIO), then rewrites the avail ring so that every head the driver still
 * waits for is one of the @count entries before the avail index, and
 * nothing before @base needs serving. A backend started with its last
 * avail index and its used index both at @base serves each of those heads
 * once: a plain "start from the used index" restart, made safe. The
 * driver's own entries after the avail index are not touched. -EINVAL for
 * a device without standard used rings or a queue not running or served
 * by the module; -ENODEV once the device is dead. Only while no backend
 * serves the queue: a live one may complete a head twice, which kills the
 * device.
 */
#define UVIRTIO_REQUEUE		_IOWR(UVIRTIO_IOC_MAGIC, 0x10, struct uvirtio_requeue)

/*
 * io_uring commands: IORING_OP_URING_CMD on the device fd, sqe->cmd_op one
 * of the numbers below, struct uvirtio_uring_cmd in the SQE's command area
 * (a plain 64-byte SQE has room for it). A module without them fails the
 * SQE with -EOPNOTSUPP; the eventfd interface stays, and both may be used.
 *
 * UVIRTIO_URING_WAIT completes (cqe->res) with 1 once the avail index of
 * queue @index differs from @last_avail, at once if it already does, or
 * when the driver kicks; with 0 after at most about one second, or when the
 * queue is set up or stopped, meaning "look again"; with -ENODEV once the
 * device is dead or removed; with -ECANCELED when its ring or task goes
 * away (kernels that can cancel commands, 6.7 on; before, the bound ends
 * it). One WAIT per queue may be pending (-EBUSY). A pending WAIT holds
 * the device file, like any io_uring request on it.
 * Clear UVIRTIO_QF_POLLING before waiting, or no kick is looked for.
 *
 * UVIRTIO_URING_COMMIT takes queue @index's new shadow ring entries, checks
 * them as a call eventfd write does, and completes them to the driver in
 * the calling task; it completes with the number of entries taken. A bad
 * entry kills the device exactly as through the call eventfd (entries
 * before it are delivered) and the command fails with -EIO; on a dead or
 * removed device it fails with -ENODEV. @last_avail must be 0.
 *
 * Both fail with -EINVAL for a queue index out of range or non-zero
 * reserved fields, and with -EOPNOTSUPP on an IORING_SETUP_IOPOLL ring.
 */

/**
 * struct uvirtio_uring_cmd - the command area of a uvirtio io_uring command
 * @index:	queue index
 * @last_avail:	UVIRTIO_URING_WAIT: the avail index the caller has seen
 * @flags:	must be 0
 * @reserved:	must be 0
 */
struct uvirtio_uring_cmd {
	__u32 index;
	__u16 last_avail;
	__u16 flags;
	__u64 reserved;
};

#define UVIRTIO_URING_WAIT	_IOW(UVIRTIO_IOC_MAGIC, 0x20, struct uvirtio_uring_cmd)
#define UVIRTIO_URING_COMMIT	_IOW(UVIRTIO_IOC_MAGIC, 0x21, struct uvirtio_uring_cmd)

/*
 * The ABI is the same for 32- and 64-bit processes: every struct has fixed
 * size and explicit padding (the sizes are asserted where the module is
 * built).
 */

#endif /* _UAPI_LINUX_UVIRTIO_H */

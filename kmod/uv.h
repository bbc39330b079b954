/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * uvirtio internals shared by the files of uvirtio.ko.
 *
 * main.c       /dev/uvirtio: open/release, ioctls, mmap, read/poll
 * lifecycle.c  the device's state machine: start, removal, recovery
 * transport.c  the virtio transport (virtio_config_ops)
 * policy.c     what an unprivileged device may not do, enforced when a
 *              driver binds (partition scan, capacity, netns placement)
 * domain.c     the per-device memory domain: bounce pool, ring slots, mmap
 * map.c        how virtio_ring reaches the domain: device DMA ops (<= 6.x)
 *              or the virtio core's map ops (7.x)
 * notify.c     kick (driver -> emulator) and call (emulator -> driver),
 *              including the check of every completion (DESIGN.md 4, 4a)
 * uring.c      the same two through io_uring commands (WAIT and COMMIT)
 * netctrl.c    the virtio-net control queue, which the module answers
 * events.c     the event queue the emulator read()s
 * validate.c   the feature bits and config values a device may offer
 *
 * Lock order (outer first). Each arrow is a nesting that exists:
 *
 *   uv_file.lock (mutex)      ->  uv_users_lock (UVIRTIO_CREATE), and
 *                                 uv_orphans' xa_lock and whatever
 *                                 uv_destroy() takes (UVIRTIO_ATTACH)
 *   uv_dev.lock (mutex)       ->  an eventfd's wait-queue lock (vfs_poll(),
 *                                 eventfd_ctx_remove_wait_queue()); it is
 *                                 also held across synchronize_rcu()
 *   eventfd wait-queue lock   ->  (uv_call_wake() only queues irq_work)
 *   the drivers' own locks    ->  uv_queue.lock: virtio_blk's queue lock and
 *                                 virtio_net's tx lock through uv_notify(),
 *                                 rtnl and virtio_net's cvq lock through
 *                                 uv_cvq_serve()
 *   device_lock(vdev)         ->  rtnl: virtio_net's probe, and the namespace
 *                                 move in policy.c's bus notifier
 *   mmap_lock                 ->  uv_users_lock: the last put of a device
 *                                 can come from uv_vm_close()
 *
 * Leaves, irq-safe spinlocks taken in any context and never around another
 * lock: uv_dev.state_lock, uv_dev.config_lock, uv_dev.ev_lock,
 * uv_queue.lock (taken in hard-irq context by the irq_work, never held
 * while calling vring_interrupt() or eventfd code), uv_domain.pool_lock.
 * uv_domain.slot_lock is a leaf taken without irqsave: only the process
 * context ring alloc/free paths take it.
 */
#ifndef UVIRTIO_UV_H
#define UVIRTIO_UV_H

#include <linux/device.h>
#include <linux/eventfd.h>
#include <linux/irq_work.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/sizes.h>
#include <linux/spinlock.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/uvirtio.h>

#define UV_NAME "uvirtio"

struct io_uring_cmd;

/* Bounce pool granule: the smallest piece a mapping occupies. */
#define UV_BOUNCE_SHIFT		9
#define UV_BOUNCE_GRANULE	(1U << UV_BOUNCE_SHIFT)
/* Largest single DMA mapping; shows up as the disk's max_segment_size. */
#define UV_MAX_MAPPING		(256U << 10)

/**
 * struct uv_bounce_map - one live mapping, kept at its first granule
 * @page:	the driver's page the data belongs to (NULL: no mapping here)
 * @offset:	offset of the data in @page (may exceed PAGE_SIZE)
 * @size:	bytes mapped
 * @force_at:	0, or 1 + offset of a byte whose value the module decided
 *		(a failed request's status): written to the driver's copy at
 *		unmap, after the bounce data, whatever the emulator wrote
 * @force_val:	that byte's value
 */
struct uv_bounce_map {
	struct page *page;
	unsigned int offset;
	unsigned int size;
	unsigned int force_at;
	u8 force_val;
	bool delivered;
};

/*
 * Extents of up to 4 KiB that were freed and not yet given back to the
 * pool's bitmap, one queue per size in granules: a new mapping of that size
 * takes one of the last UV_HOT_DEPTH freed, whose bytes are likely still in
 * the cache (docs/benchmarks.md: 4k and 128k reads 1.1x faster than
 * next-fit alone). Oldest first: a request's buffers are unmapped in chain
 * order, so the next request of as many segments gets the same extents in
 * the same order, and buffers that lay side by side still do (the
 * emulator then moves them with one fixed-buffer operation).
 */
#define UV_HOT_CLASSES	(SZ_4K >> UV_BOUNCE_SHIFT)
#define UV_HOT_DEPTH	64
struct uv_pool_hot {
	unsigned int head;		/* oldest entry */
	unsigned int n;			/* entries from @head on, wrapping */
	u32 g[UV_HOT_DEPTH];		/* first granule of each extent */
};

/**
 * struct uv_domain - the memory a device shares with its emulator
 *
 * Layout, in domain offsets (page aligned, fixed at creation):
 * [ctrl page][shadow ring per queue][vring slot per queue][bounce pool].
 * Every page is allocated at creation and lives until the device is freed,
 * so the emulator's mapping never changes and never points at freed memory.
 */
struct uv_domain {
	u64 size;
	unsigned int npages;
	struct page **pages;		/* domain page number -> page */
	u64 ro_start, ro_end;		/* read-only for the emulator */

	struct uvirtio_ctrl *ctrl;

	unsigned int nslots;
	unsigned int shadow_bytes;	/* per queue, page aligned */
	unsigned int slot_bytes;	/* per vring slot, page aligned */
	u64 shadow_off;			/* of queue 0; queue i at + i * shadow_bytes */
	u64 slot_off;			/* likewise for vring slots */
	void **shadow_va;
	void **slot_va;
	unsigned long *slot_busy;	/* under slot_lock */
	spinlock_t slot_lock;		/* protects slot_busy */
	int slot_hint;			/* slot to prefer in the next dma alloc */

	u64 bounce_off, bounce_size;
	void *bounce_va;		/* vmap of the pool's pages */
	spinlock_t pool_lock;		/* pool_map, pool_next, hot (irq-safe) */
	unsigned long *pool_map;	/* busy granules of the pool */
	unsigned long pool_next;	/* granule where the next search starts */
	struct uv_pool_hot hot[UV_HOT_CLASSES];	/* kept extents, by granules - 1 */
	struct uv_bounce_map *maps;	/* per granule; written by map/unmap */
	bool used_len;			/* UVIRTIO_CREATE_F_USED_LEN */
	/*
	 * The DMA layer's max_mapping_size: for blk what lets the driver's
	 * largest request fit the pool (uv_validate()), fixed at creation.
	 */
	u32 seg_bytes;
};

/**
 * struct uv_queue - one virtqueue as the module sees it
 *
 * @lock protects every field below it. The driver's rings (desc, avail) are
 * only read here; the used ring is written only under @lock.
 */
struct uv_queue {
	struct uv_dev *dev;
	unsigned int index;

	/* Set and cleared under uv_dev.lock; read under RCU in uv_notify(). */
	struct eventfd_ctx __rcu *kick;

	/* Attached under uv_dev.lock; the wait entry runs uv_call_wake(). */
	struct eventfd_ctx *call;
	wait_queue_entry_t call_wait;
	poll_table call_pt;

	struct irq_work irq_work;	/* takes completions, interrupts */
	atomic_t committing;		/* UVIRTIO_URING_COMMITs using @vq */

	/* UVIRTIO_URING_WAIT (uring.c); @waiter and @wait_since under @lock */
	struct io_uring_cmd *waiter;
	unsigned long wait_since;	/* jiffies when @waiter was parked */
	struct delayed_work wait_bound;	/* completes a @waiter parked too long */

	spinlock_t lock;		/* irq-safe: the fields below, @ready, and @waiter */
	bool ready;
	bool kernel;			/* served by the module (net control queue) */
	u32 epoch;
	unsigned int num;
	struct virtqueue *vq;
	struct vring vring;		/* kernel addresses of the driver's rings */
	union {				/* this queue's shadow ring, as laid out */
		struct uvirtio_shadow *shadow;		/* by default */
		struct vring_used *shadow_used;		/* F_VRING_USED */
	};
	u16 last_avail;			/* avail entries already recorded */
	u16 used_idx;			/* next free slot of the driver's used ring */
	u16 shadow_last;		/* shadow entries already taken */
	unsigned int inflight;		/* heads the driver gave and got no reply for */
	unsigned long *outstanding;	/* bitmap by head */
	u32 *wlen;			/* by head: device-writable bytes of the chain */
	u64 *status_off;		/* by head: domain offset of its last writable
					 * byte (+1), 0 when it has none */
	u32 *last_wlen;			/* by head: bytes of its last writable buffer */
};

/**
 * enum uv_state - where a device is in its life (table in lifecycle.c)
 * @UV_S_CREATED:	UVIRTIO_CREATE done, not started
 * @UV_S_STARTING:	UVIRTIO_START accepted, registration queued or running
 * @UV_S_LIVE:		registered (a driver may or may not be bound)
 * @UV_S_ORPHANED:	recovery mode: its fd closed, waiting for UVIRTIO_ATTACH
 * @UV_S_REMOVING:	UVIRTIO_REMOVE accepted: graceful unregister, I/O served
 * @UV_S_DEAD:		every request fails at once; unregister queued
 * @UV_S_GONE:		unregistered, UVIRTIO_EV_REMOVED queued
 *
 * The order matters: every state from UV_S_DEAD on is dead.
 */
enum uv_state {
	UV_S_CREATED,
	UV_S_STARTING,
	UV_S_LIVE,
	UV_S_ORPHANED,
	UV_S_REMOVING,
	UV_S_DEAD,
	UV_S_GONE,
};

#define UV_EVENTS 64

/**
 * struct uv_dev - one emulated device
 *
 * Lifetime: @parent's reference count. The fd, the registered virtio device
 * (through the driver core's parent reference), every mmap() and every queued
 * work item hold one. The last put frees everything (uv_parent_release()).
 */
struct uv_user;

struct uv_dev {
	struct device parent;		/* DMA device, parent of @vdev */
	struct virtio_device vdev;
	struct uv_domain dom;
	unsigned int index;
	u32 device_id;
	u64 features;			/* offered, transport bits included */
	unsigned int num_queues;
	unsigned int queue_size;
	kuid_t owner;
	pid_t creator;			/* tgid in the initial pid namespace */
	struct uv_user *user;		/* charged unprivileged creator, or NULL */
	u64 user_bounce;		/* bounce bytes charged to @user */
	struct net *net;		/* net: the creator's namespace (held) */
	bool recoverable;		/* UVIRTIO_CREATE_F_RECOVERY */
	bool vring_used;		/* UVIRTIO_CREATE_F_VRING_USED: shadow rings
					 * are standard used rings, epochs in ctrl */
	bool emu_link_status;		/* policy net: the emulator offered STATUS */
	bool bound;			/* a driver is bound and policy.c is done */
	bool exposed;			/* policy.c: real capacity / link shown */

	struct mutex lock;		/* queues' kick and call eventfds: attach/detach */

	spinlock_t state_lock;		/* the three fields below (irq-safe leaf) */
	enum uv_state state;		/* written under state_lock, read anywhere */
	u32 dead_reason;		/* UVIRTIO_DEAD_*; set once, on the way to DEAD */
	bool registered;		/* register_virtio_device() succeeded */
	struct work_struct free_work;	/* the last step of the release */
	struct work_struct start_work;
	struct work_struct remove_work;
	struct delayed_work remove_timeout;
	struct delayed_work recover_timeout;	/* holds a reference while queued */
	struct delayed_work config_work;	/* holds a reference while queued */
	unsigned long config_next;		/* jiffies: next config notice */
	atomic_t vmas;			/* live mappings of the domain */

	spinlock_t config_lock;		/* config, generation, status, config_live */
	bool config_live;		/* the virtio core takes config changes */
	u8 *config;
	unsigned int config_size;
	u32 generation;
	u8 status;
	u64 driver_features;
	u16 net_pairs;			/* net: last accepted VQ_PAIRS_SET, 1 after reset */

	spinlock_t ev_lock;		/* the event ring below */
	struct uvirtio_event events[UV_EVENTS];
	unsigned int ev_head, ev_count;
	u64 ev_seq;
	bool ev_overflow;		/* OVERFLOW due after the ring */
	u64 ev_overflow_seq;		/* seq of the first dropped event */
	bool ev_removed_pending;	/* ev_removed due last */
	struct uvirtio_event ev_removed;
	wait_queue_head_t ev_wait;

	struct uv_queue *queues;
};

static inline struct uv_dev *vdev_to_uv(struct virtio_device *vdev)
{
	return container_of(vdev, struct uv_dev, vdev);
}

static inline struct uv_dev *parent_to_uv(struct device *dev)
{
	return container_of(dev, struct uv_dev, parent);
}

/* Whether every request fails at once; cheap enough for any context. */
static inline bool uv_dead(struct uv_dev *dev)
{
	return READ_ONCE(dev->state) >= UV_S_DEAD;
}

/* Whether the device is unregistered and UVIRTIO_EV_REMOVED queued. */
static inline bool uv_gone(struct uv_dev *dev)
{
	return READ_ONCE(dev->state) == UV_S_GONE;
}

/* Seconds (a module parameter) to jiffies, clamped instead of wrapping. */
static inline unsigned long uv_secs_to_jiffies(unsigned int secs)
{
	return min_t(u64, (u64)secs * HZ, MAX_JIFFY_OFFSET);
}

/* domain.c */
int uv_domain_init(struct uv_dev *dev);
void uv_domain_free(struct uv_domain *dom);
void *uv_domain_va(struct uv_domain *dom, u64 off, u64 len);
bool uv_bounce_orig(struct uv_domain *dom, u64 off, u64 len, void **va);
bool uv_bounce_force(struct uv_domain *dom, u64 off, u8 val);
dma_addr_t uv_bounce_map(struct uv_domain *dom, struct page *page,
			 unsigned long offset, size_t size,
			 enum dma_data_direction dir);
void uv_bounce_unmap(struct uv_domain *dom, dma_addr_t addr, size_t size,
		     enum dma_data_direction dir, bool sync);
void uv_bounce_sync(struct uv_domain *dom, dma_addr_t addr, size_t size,
		    enum dma_data_direction dir, bool for_cpu);
void uv_bounce_deliver(struct uv_domain *dom, u64 addr, u32 len, u32 copy);
void *uv_ring_alloc(struct uv_domain *dom, size_t size, dma_addr_t *handle);
void uv_ring_free(struct uv_domain *dom, void *va, dma_addr_t handle);
const struct vm_operations_struct *uv_domain_vm_ops(const struct uv_domain *dom,
						    unsigned long pgoff,
						    unsigned long pages);

/* map.c */
int uv_map_setup(struct uv_dev *dev);

/* main.c */
extern struct workqueue_struct *uv_wq;
extern unsigned int uv_remove_timeout_secs;
extern unsigned int uv_recovery_timeout_secs;

/* lifecycle.c */
void uv_lifecycle_init(struct uv_dev *dev, bool recoverable);
int uv_start(struct uv_dev *dev);
int uv_remove(struct uv_dev *dev);
void uv_kill(struct uv_dev *dev, u32 reason);
void uv_destroy(struct uv_dev *dev, u32 reason);
bool uv_orphan(struct uv_dev *dev);
struct uv_dev *uv_adopt(unsigned int index);
u32 uv_dead_reason(struct uv_dev *dev);
const char *uv_state_name(struct uv_dev *dev);

/* transport.c */
extern const struct virtio_config_ops uv_config_ops;

/* policy.c */
void uv_policy_init(struct uv_dev *dev);
void uv_policy_get(struct uv_dev *dev, unsigned int offset, void *buf,
		   unsigned int len);
int uv_policy_register(void);
void uv_policy_unregister(void);

/* notify.c */
bool uv_notify(struct virtqueue *vq);
void uv_queue_init(struct uv_queue *q, struct uv_dev *dev, unsigned int index);
int uv_queue_alloc(struct uv_queue *q, unsigned int num);
void uv_queue_free(struct uv_queue *q);
void uv_queue_start(struct uv_queue *q, struct virtqueue *vq, bool kernel);
void uv_queue_stop(struct uv_queue *q);
int uv_set_kick(struct uv_dev *dev, unsigned int index, int fd);
int uv_set_call(struct uv_dev *dev, unsigned int index, int fd);
void uv_detach_eventfds(struct uv_dev *dev);
void uv_queue_irq_work(struct irq_work *work);
void uv_queue_reattach(struct uv_queue *q);
int uv_queue_inflight(struct uv_queue *q, u16 *last_avail, u16 *heads);
int uv_queue_requeue(struct uv_queue *q, u16 *base, u16 *count);
int uv_queue_deliver(struct uv_queue *q);
void uv_used_push(struct uv_queue *q, u32 id, u32 len);
bool uv_used_publish(struct uv_queue *q, u16 old);

/**
 * uv_chain_walk() - visit every buffer of the chain at @head
 * @q:		the queue, its lock held
 * @head:	a head the driver made available
 * @fn:		called per buffer descriptor with its domain address, length
 *		and whether the device may write it
 * @ctx:	passed to @fn
 *
 * Reads the descriptor table the emulator cannot write, and an indirect
 * table from the driver's own copy (never the bounce pool). Inline, so the
 * callers' constant @fn is inlined on the completion path.
 *
 * Return: 0, or -EINVAL for a malformed chain (what was visited stands).
 */
static __always_inline int uv_chain_walk(struct uv_queue *q, unsigned int head,
					 void (*fn)(void *ctx, u64 addr, u32 len, bool write),
					 void *ctx)
{
	struct virtio_device *vdev = &q->dev->vdev;
	struct vring_desc *tbl = q->vring.desc;
	unsigned int n = q->num, i = head, steps = 0;

	for (;;) {
		u16 flags = virtio16_to_cpu(vdev, tbl[i].flags);
		u64 addr = virtio64_to_cpu(vdev, tbl[i].addr);
		u32 len = virtio32_to_cpu(vdev, tbl[i].len);
		void *va;

		if (flags & VRING_DESC_F_INDIRECT) {
			if (tbl != q->vring.desc || !len || len % sizeof(*tbl) ||
			    !uv_bounce_orig(&q->dev->dom, addr, len, &va))
				return -EINVAL;
			tbl = va;
			n = len / sizeof(*tbl);
			i = 0;
			steps = 0;
			continue;
		}
		fn(ctx, addr, len, flags & VRING_DESC_F_WRITE);
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		i = virtio16_to_cpu(vdev, tbl[i].next);
		if (i >= n || ++steps >= n)
			return -EINVAL;
	}
}

/* validate.c */
u64 uv_allowed_features(u32 device_id);
int uv_validate(const struct uv_dev *dev, const u8 *config, u32 *seg_bytes);
void uv_config_sanitize(struct uv_dev *dev);
void uv_config_notify(struct uv_dev *dev);
void uv_config_work(struct work_struct *work);

/* netctrl.c */
void uv_cvq_serve(struct uv_queue *q);

/* uring.c */
int uv_uring_cmd(struct uv_dev *dev, struct io_uring_cmd *cmd,
		 unsigned int issue_flags);
void uv_wait_init(struct uv_queue *q);
void uv_wait_wake(struct uv_queue *q, int res);
void uv_wait_sync(struct uv_queue *q);

/* events.c */
void uv_event(struct uv_dev *dev, u32 type, u32 w0, u32 w1);
void uv_event_features(struct uv_dev *dev, u64 features);
void uv_event_lost(struct uv_dev *dev);
void uv_event_raw(struct uv_dev *dev, u32 type, const struct uvirtio_event *payload);
ssize_t uv_events_read(struct uv_dev *dev, char __user *buf, size_t count,
		       bool nonblock);
__poll_t uv_events_poll(struct uv_dev *dev, struct file *file, poll_table *pt);

#endif /* UVIRTIO_UV_H */

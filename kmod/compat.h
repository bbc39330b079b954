/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Differences between the kernels uvirtio builds for, in one place.
 * Lanes: Debian 6.1 and 6.12 (ENV.md lists what moved between them).
 */
#ifndef UVIRTIO_COMPAT_H
#define UVIRTIO_COMPAT_H

#include <linux/version.h>
#include <linux/eventfd.h>
#include <linux/mm.h>
#include <linux/virtio_config.h>

/*
 * Since 7.0 (struct virtio_map_ops) a transport maps buffers for virtio_ring
 * itself (map.c). Before, it goes through DMA ops on the parent device, and
 * without DMA ops support set_dma_ops() is an empty stub: every buffer would
 * then go straight to the driver's pages and the emulator would see none.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 0, 0)
#define UV_VIRTIO_MAP_OPS 1
#elif !defined(CONFIG_DMA_OPS) && !defined(CONFIG_ARCH_HAS_DMA_OPS)
#error "uvirtio needs CONFIG_DMA_OPS (<= 6.9) or CONFIG_ARCH_HAS_DMA_OPS (>= 6.10)"
#endif

/* eventfd_signal() lost its count argument in 6.8. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
#define uv_eventfd_signal(ctx)	eventfd_signal(ctx)
#else
#define uv_eventfd_signal(ctx)	eventfd_signal(ctx, 1)
#endif

/* nth_page() went away once struct pages of a folio became contiguous. */
#ifndef nth_page
#define nth_page(page, n)	((page) + (n))
#endif

/* vm_flags became read-only behind accessors in 6.3. */
static inline void uv_vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

/*
 * find_vqs takes an array of struct virtqueue_info since 6.11; older
 * kernels pass three arrays, which the transport packs into the same shape.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
#define UV_FIND_VQS_INFO 1
#define uv_vq_info virtqueue_info
#else
struct uv_vq_info {
	const char *name;
	vq_callback_t *callback;
	bool ctx;
};
#endif

/*
 * io_uring commands (uring.c). Their header moved out of linux/io_uring.h
 * in 6.7; the command area is cmd->cmd on 6.1 and cmd->sqe->cmd since the
 * whole SQE is passed (6.12 and 7.3 have it); the task-work callback
 * gets the io_uring_cmd and issue flags until 6.18, a struct io_tw_req and
 * a token since (IO_URING_CMD_TASK_WORK_ISSUE_FLAGS came with it), and
 * io_uring_cmd_done() lost its res2 argument then.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
#include <linux/io_uring/cmd.h>
#else
#include <linux/io_uring.h>
#endif

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
#define uv_uring_cmd_area(cmd)	((const void *)(cmd)->sqe->cmd)
#else
#define uv_uring_cmd_area(cmd)	((cmd)->cmd)
#endif

/* Since 6.7 a command can be cancelled when its ring or its task goes. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
#define UV_URING_CANCEL 1
#endif

#ifdef IO_URING_CMD_TASK_WORK_ISSUE_FLAGS
#define UV_URING_TW(name)						\
	static void name##_cmd(struct io_uring_cmd *cmd, unsigned int flags); \
	static void name(struct io_tw_req tw_req, io_tw_token_t tw)	\
	{								\
		name##_cmd(io_uring_cmd_from_tw(tw_req),		\
			   IO_URING_CMD_TASK_WORK_ISSUE_FLAGS);		\
	}								\
	static void name##_cmd(struct io_uring_cmd *cmd, unsigned int flags)
#define uv_uring_cmd_done(cmd, res, flags) io_uring_cmd_done(cmd, res, flags)
#else
#define UV_URING_TW(name)						\
	static void name(struct io_uring_cmd *cmd, unsigned int flags)
#define uv_uring_cmd_done(cmd, res, flags) io_uring_cmd_done(cmd, res, 0, flags)
#endif

#endif /* UVIRTIO_COMPAT_H */

// SPDX-License-Identifier: GPL-2.0-only
/*
 * How virtio_ring reaches a device's domain, the one place that depends on
 * the kernel's virtio core:
 *
 * - up to 6.x, virtio_ring uses the DMA API on vdev->dev.parent, so the
 *   parent device gets DMA ops that bounce through the domain;
 * - since 7.x (struct virtio_map_ops), a transport gives virtio_ring its
 *   own map operations in vdev->map, and the DMA API is not involved.
 *
 * Either way the work is done by domain.c; these are thin adapters.
 */
#include <linux/dma-map-ops.h>
#include <linux/scatterlist.h>
#include "compat.h"
#include "uv.h"

#ifdef UV_VIRTIO_MAP_OPS

static struct uv_domain *uv_map_dom(union virtio_map map)
{
	return &parent_to_uv(map.dma_dev)->dom;
}

static dma_addr_t uv_vmap_page(union virtio_map map, struct page *page,
			       unsigned long offset, size_t size,
			       enum dma_data_direction dir, unsigned long attrs)
{
	return uv_bounce_map(uv_map_dom(map), page, offset, size, dir);
}

static void uv_vunmap_page(union virtio_map map, dma_addr_t addr, size_t size,
			   enum dma_data_direction dir, unsigned long attrs)
{
	uv_bounce_unmap(uv_map_dom(map), addr, size, dir,
			!(attrs & DMA_ATTR_SKIP_CPU_SYNC));
}

static void uv_vsync_for_cpu(union virtio_map map, dma_addr_t addr,
			     size_t size, enum dma_data_direction dir)
{
	uv_bounce_sync(uv_map_dom(map), addr, size, dir, true);
}

static void uv_vsync_for_device(union virtio_map map, dma_addr_t addr,
				size_t size, enum dma_data_direction dir)
{
	uv_bounce_sync(uv_map_dom(map), addr, size, dir, false);
}

static void *uv_valloc(union virtio_map map, size_t size, dma_addr_t *handle,
		       gfp_t gfp)
{
	return uv_ring_alloc(uv_map_dom(map), size, handle);
}

static void uv_vfree(union virtio_map map, size_t size, void *va,
		     dma_addr_t handle, unsigned long attrs)
{
	uv_ring_free(uv_map_dom(map), va, handle);
}

/* Every buffer is a copy: the two sides always need syncing. */
static bool uv_vneed_sync(union virtio_map map, dma_addr_t addr)
{
	return true;
}

static int uv_vmapping_error(union virtio_map map, dma_addr_t addr)
{
	return addr == DMA_MAPPING_ERROR;
}

static size_t uv_vmax_mapping_size(union virtio_map map)
{
	return uv_map_dom(map)->seg_bytes;
}

static const struct virtio_map_ops uv_virtio_map_ops = {
	.map_page = uv_vmap_page,
	.unmap_page = uv_vunmap_page,
	.sync_single_for_cpu = uv_vsync_for_cpu,
	.sync_single_for_device = uv_vsync_for_device,
	.alloc = uv_valloc,
	.free = uv_vfree,
	.need_sync = uv_vneed_sync,
	.mapping_error = uv_vmapping_error,
	.max_mapping_size = uv_vmax_mapping_size,
};

/**
 * uv_map_setup() - route virtio_ring's mappings to the device's domain
 * @dev:	the device, before registration
 *
 * Return: 0
 */
int uv_map_setup(struct uv_dev *dev)
{
	dev->vdev.map = &uv_virtio_map_ops;
	dev->vdev.vmap.dma_dev = &dev->parent;
	return 0;
}

#else /* DMA ops on the parent device */

static struct uv_domain *uv_dom(struct device *d)
{
	return &parent_to_uv(d)->dom;
}

static dma_addr_t uv_map_page(struct device *d, struct page *page,
			      unsigned long offset, size_t size,
			      enum dma_data_direction dir, unsigned long attrs)
{
	return uv_bounce_map(uv_dom(d), page, offset, size, dir);
}

static void uv_unmap_page(struct device *d, dma_addr_t addr, size_t size,
			  enum dma_data_direction dir, unsigned long attrs)
{
	uv_bounce_unmap(uv_dom(d), addr, size, dir,
			!(attrs & DMA_ATTR_SKIP_CPU_SYNC));
}

static int uv_map_sg(struct device *d, struct scatterlist *sgl, int nents,
		     enum dma_data_direction dir, unsigned long attrs)
{
	struct scatterlist *sg;
	int i, mapped;

	for_each_sg(sgl, sg, nents, i) {
		sg->dma_address = uv_map_page(d, sg_page(sg), sg->offset,
					      sg->length, dir, attrs);
		if (sg->dma_address == DMA_MAPPING_ERROR)
			goto err;
		sg_dma_len(sg) = sg->length;
	}
	return nents;
err:
	mapped = i;
	for_each_sg(sgl, sg, mapped, i)
		uv_unmap_page(d, sg->dma_address, sg_dma_len(sg), dir, attrs);
	return -ENOMEM;
}

static void uv_unmap_sg(struct device *d, struct scatterlist *sgl, int nents,
			enum dma_data_direction dir, unsigned long attrs)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i)
		uv_unmap_page(d, sg->dma_address, sg_dma_len(sg), dir, attrs);
}

static void uv_sync_for_cpu(struct device *d, dma_addr_t addr, size_t size,
			    enum dma_data_direction dir)
{
	uv_bounce_sync(uv_dom(d), addr, size, dir, true);
}

static void uv_sync_for_device(struct device *d, dma_addr_t addr, size_t size,
			       enum dma_data_direction dir)
{
	uv_bounce_sync(uv_dom(d), addr, size, dir, false);
}

static void *uv_dma_alloc(struct device *d, size_t size, dma_addr_t *handle,
			  gfp_t gfp, unsigned long attrs)
{
	return uv_ring_alloc(uv_dom(d), size, handle);
}

static void uv_dma_free(struct device *d, size_t size, void *va,
			dma_addr_t handle, unsigned long attrs)
{
	uv_ring_free(uv_dom(d), va, handle);
}

static size_t uv_max_mapping_size(struct device *d)
{
	return uv_dom(d)->seg_bytes;
}

static int uv_dma_supported(struct device *d, u64 mask)
{
	return 1;
}

static const struct dma_map_ops uv_dma_ops = {
	.alloc = uv_dma_alloc,
	.free = uv_dma_free,
	.map_page = uv_map_page,
	.unmap_page = uv_unmap_page,
	.map_sg = uv_map_sg,
	.unmap_sg = uv_unmap_sg,
	.sync_single_for_cpu = uv_sync_for_cpu,
	.sync_single_for_device = uv_sync_for_device,
	.max_mapping_size = uv_max_mapping_size,
	.dma_supported = uv_dma_supported,
};

/**
 * uv_map_setup() - route virtio_ring's mappings to the device's domain
 * @dev:	the device, before registration
 *
 * Without a DMA mask every mapping fails with a warning (measured).
 *
 * Return: 0 or -errno
 */
int uv_map_setup(struct uv_dev *dev)
{
	dev->parent.dma_mask = &dev->parent.coherent_dma_mask;
	set_dma_ops(&dev->parent, &uv_dma_ops);
	return dma_set_mask_and_coherent(&dev->parent, DMA_BIT_MASK(64));
}

#endif

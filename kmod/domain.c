// SPDX-License-Identifier: GPL-2.0-only
/*
 * The memory domain of a uvirtio device (DESIGN.md decision 3).
 *
 * The driver's rings are allocated from per-queue slots of module pages
 * (dma_alloc_coherent() lands in uv_dma_alloc()), and every data buffer or
 * indirect table the driver maps is copied into a bounce pool
 * (dma_map_page() lands in uv_map_page()). Descriptors therefore carry domain
 * offsets, and the emulator reaches all of it through one mmap() of its fd.
 * Only pages allocated for this device are ever mapped into the emulator.
 */
#include <linux/dma-map-ops.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include "compat.h"
#include "uv.h"

#define UV_GFP (GFP_KERNEL_ACCOUNT | __GFP_ZERO)

static struct uv_domain *uv_dom(struct device *d)
{
	return &parent_to_uv(d)->dom;
}

/* Bytes of one split vring of @num entries, used ring on its own page. */
static unsigned int uv_vring_bytes(unsigned int num)
{
	unsigned int desc_avail = 16 * num + 2 * (3 + num);

	return PAGE_ALIGN(desc_avail) + PAGE_ALIGN(2 * 3 + 8 * num);
}

/* Allocate @bytes of zeroed contiguous pages and enter them in the table. */
static void *uv_domain_chunk(struct uv_domain *dom, u64 off, unsigned int bytes)
{
	void *va = alloc_pages_exact(bytes, UV_GFP);
	unsigned int i;

	if (!va)
		return NULL;
	for (i = 0; i < bytes >> PAGE_SHIFT; i++)
		dom->pages[(off >> PAGE_SHIFT) + i] = virt_to_page(va + i * PAGE_SIZE);
	return va;
}

/**
 * uv_domain_init() - allocate every page of a new device's domain
 * @dev:	device with num_queues and queue_size set
 * @bounce_size: bytes of bounce pool, page aligned
 *
 * Return: 0 or -ENOMEM. On error the caller still calls uv_domain_free().
 */
int uv_domain_init(struct uv_dev *dev, u64 bounce_size)
{
	struct uv_domain *dom = &dev->dom;
	unsigned int nq = dev->num_queues, i;
	u64 bounce_first;

	dom->nslots = nq;
	dom->shadow_bytes = PAGE_ALIGN(sizeof(struct uvirtio_shadow) +
				       dev->queue_size * sizeof(struct uvirtio_used_elem));
	dom->slot_bytes = uv_vring_bytes(dev->queue_size);
	dom->shadow_off = PAGE_SIZE;
	dom->slot_off = dom->shadow_off + (u64)nq * dom->shadow_bytes;
	dom->bounce_off = dom->slot_off + (u64)nq * dom->slot_bytes;
	dom->bounce_size = bounce_size;
	dom->size = dom->bounce_off + bounce_size;
	dom->ro_start = dom->slot_off;
	dom->ro_end = dom->bounce_off;
	dom->npages = dom->size >> PAGE_SHIFT;
	spin_lock_init(&dom->slot_lock);

	dom->pages = kvcalloc(dom->npages, sizeof(*dom->pages), GFP_KERNEL_ACCOUNT);
	dom->shadow_va = kcalloc(nq, sizeof(void *), GFP_KERNEL_ACCOUNT);
	dom->slot_va = kcalloc(nq, sizeof(void *), GFP_KERNEL_ACCOUNT);
	dom->slot_busy = bitmap_zalloc(nq, GFP_KERNEL_ACCOUNT);
	dom->maps = kvcalloc(bounce_size >> UV_BOUNCE_SHIFT, sizeof(*dom->maps),
			     GFP_KERNEL_ACCOUNT);
	if (!dom->pages || !dom->shadow_va || !dom->slot_va || !dom->slot_busy ||
	    !dom->maps)
		return -ENOMEM;

	dom->ctrl = uv_domain_chunk(dom, 0, PAGE_SIZE);
	if (!dom->ctrl)
		return -ENOMEM;
	for (i = 0; i < nq; i++) {
		dom->shadow_va[i] = uv_domain_chunk(dom, dom->shadow_off +
						    (u64)i * dom->shadow_bytes,
						    dom->shadow_bytes);
		dom->slot_va[i] = uv_domain_chunk(dom, dom->slot_off +
						  (u64)i * dom->slot_bytes,
						  dom->slot_bytes);
		if (!dom->shadow_va[i] || !dom->slot_va[i])
			return -ENOMEM;
	}

	bounce_first = dom->bounce_off >> PAGE_SHIFT;
	for (i = 0; i < bounce_size >> PAGE_SHIFT; i++) {
		dom->pages[bounce_first + i] = alloc_page(UV_GFP);
		if (!dom->pages[bounce_first + i])
			return -ENOMEM;
	}
	dom->bounce_va = vmap(dom->pages + bounce_first, bounce_size >> PAGE_SHIFT,
			      VM_MAP, PAGE_KERNEL);
	if (!dom->bounce_va)
		return -ENOMEM;

	/* Offsets are the pool's addresses; offset 0 (ctrl) is never in it. */
	dom->pool = gen_pool_create(UV_BOUNCE_SHIFT, NUMA_NO_NODE);
	if (!dom->pool)
		return -ENOMEM;
	if (gen_pool_add(dom->pool, dom->bounce_off, bounce_size, NUMA_NO_NODE))
		return -ENOMEM;
	return 0;
}

/**
 * uv_domain_free() - release a domain, whatever state init left it in
 * @dom:	the domain
 *
 * Pages still mapped by a process stay alive through the mapping's own
 * references and are freed when it goes away.
 */
void uv_domain_free(struct uv_domain *dom)
{
	unsigned int i, bounce_first = dom->bounce_off >> PAGE_SHIFT;

	if (dom->pool) {
		/* gen_pool_destroy() BUGs on live ranges: return any left. */
		for (i = 0; dom->maps && i < dom->bounce_size >> UV_BOUNCE_SHIFT; i++)
			if (dom->maps[i].page)
				gen_pool_free(dom->pool, dom->bounce_off +
					      ((u64)i << UV_BOUNCE_SHIFT),
					      dom->maps[i].size);
		gen_pool_destroy(dom->pool);
	}
	if (dom->bounce_va)
		vunmap(dom->bounce_va);
	for (i = 0; dom->pages && i < dom->bounce_size >> PAGE_SHIFT; i++)
		if (dom->pages[bounce_first + i])
			__free_page(dom->pages[bounce_first + i]);
	for (i = 0; i < dom->nslots; i++) {
		if (dom->shadow_va && dom->shadow_va[i])
			free_pages_exact(dom->shadow_va[i], dom->shadow_bytes);
		if (dom->slot_va && dom->slot_va[i])
			free_pages_exact(dom->slot_va[i], dom->slot_bytes);
	}
	if (dom->ctrl)
		free_pages_exact(dom->ctrl, PAGE_SIZE);
	kvfree(dom->maps);
	bitmap_free(dom->slot_busy);
	kfree(dom->slot_va);
	kfree(dom->shadow_va);
	kvfree(dom->pages);
}

/**
 * uv_domain_va() - kernel address of a bounce range
 * @dom:	the domain
 * @off:	domain offset
 * @len:	bytes that must be inside the pool
 *
 * Return: the address, or NULL if the range is not entirely in the pool.
 */
void *uv_domain_va(struct uv_domain *dom, u64 off, u64 len)
{
	if (off < dom->bounce_off || len > dom->bounce_size ||
	    off - dom->bounce_off > dom->bounce_size - len)
		return NULL;
	return dom->bounce_va + (off - dom->bounce_off);
}

/* Find the live mapping that holds [addr, addr + len); *start gets its offset. */
static struct uv_bounce_map *uv_map_find(struct uv_domain *dom, u64 addr,
					 u64 len, u64 *start)
{
	struct uv_bounce_map *m;
	unsigned long g;

	if (!uv_domain_va(dom, addr, len))
		return NULL;
	g = (addr - dom->bounce_off) >> UV_BOUNCE_SHIFT;
	/* Mappings never overlap: the nearest one at or below holds addr. */
	while (!READ_ONCE(dom->maps[g].page)) {
		if (!g)
			return NULL;
		g--;
	}
	m = &dom->maps[g];
	*start = dom->bounce_off + ((u64)g << UV_BOUNCE_SHIFT);
	if (addr + len > *start + m->size)
		return NULL;
	return m;
}

/**
 * uv_bounce_orig() - the driver's own copy of a mapped range
 * @dom:	the domain
 * @off:	domain offset of the range
 * @len:	its length
 * @va:	out: kernel address of the driver's original bytes
 *
 * Used to read indirect descriptor tables: the bounce copy is writable by the
 * emulator, the original is not.
 *
 * Return: true if the range lies inside one live mapping of lowmem pages.
 */
bool uv_bounce_orig(struct uv_domain *dom, u64 off, u64 len, void **va)
{
	struct uv_bounce_map *m;
	u64 start;

	m = uv_map_find(dom, off, len, &start);
	if (!m || PageHighMem(m->page))
		return false;
	*va = page_address(m->page) + m->offset + (off - start);
	return true;
}

/**
 * uv_bounce_force() - decide one byte of a mapped range for the driver
 * @dom:	the domain
 * @off:	domain offset of the byte
 * @val:	its value
 *
 * The byte reaches the driver's copy at unmap time, after the bounce data:
 * an emulator that keeps writing the bounce pool cannot change it.
 *
 * Return: true if @off is inside a live mapping.
 */
bool uv_bounce_force(struct uv_domain *dom, u64 off, u8 val)
{
	struct uv_bounce_map *m;
	u64 start;

	m = uv_map_find(dom, off, 1, &start);
	if (!m)
		return false;
	m->force_val = val;
	m->force_at = off - start + 1;
	return true;
}

/* Copy between a driver buffer (page + offset, may span pages) and @buf. */
static void uv_copy(struct page *page, size_t offset, void *buf, size_t len,
		    bool to_page)
{
	while (len) {
		struct page *p = nth_page(page, offset >> PAGE_SHIFT);
		size_t po = offset_in_page(offset);
		size_t n = min_t(size_t, len, PAGE_SIZE - po);
		void *va = kmap_local_page(p);

		if (to_page)
			memcpy(va + po, buf, n);
		else
			memcpy(buf, va + po, n);
		kunmap_local(va);
		buf += n;
		offset += n;
		len -= n;
	}
}

static dma_addr_t uv_map_page(struct device *d, struct page *page,
			      unsigned long offset, size_t size,
			      enum dma_data_direction dir, unsigned long attrs)
{
	struct uv_domain *dom = uv_dom(d);
	struct uv_bounce_map *m;
	unsigned long addr;
	void *buf;

	if (!size || size > UV_MAX_MAPPING)
		return DMA_MAPPING_ERROR;
	/* Exhaustion is back-pressure: virtio_ring turns it into -ENOMEM. */
	addr = gen_pool_alloc(dom->pool, size);
	if (!addr)
		return DMA_MAPPING_ERROR;
	buf = dom->bounce_va + (addr - dom->bounce_off);
	/*
	 * A buffer the device fills starts zeroed, so the emulator never reads
	 * an earlier request's data and a short reply reads back as zeros.
	 */
	if (dir == DMA_FROM_DEVICE)
		memset(buf, 0, size);
	else
		uv_copy(page, offset, buf, size, false);

	m = &dom->maps[(addr - dom->bounce_off) >> UV_BOUNCE_SHIFT];
	m->offset = offset;
	m->size = size;
	m->force_at = 0;
	/* Publish last: uv_map_find() keys on ->page. */
	smp_store_release(&m->page, page);
	return addr;
}

static void uv_unmap_page(struct device *d, dma_addr_t addr, size_t size,
			  enum dma_data_direction dir, unsigned long attrs)
{
	struct uv_domain *dom = uv_dom(d);
	struct uv_bounce_map *m;
	u64 start;

	m = uv_map_find(dom, addr, size, &start);
	if (!m || start != addr) {
		dev_err_ratelimited(d, "unmap of %#llx+%zu: no such mapping\n",
				    (u64)addr, size);
		return;
	}
	if (dir != DMA_TO_DEVICE && !(attrs & DMA_ATTR_SKIP_CPU_SYNC))
		uv_copy(m->page, m->offset, dom->bounce_va + (addr - dom->bounce_off),
			m->size, true);
	if (m->force_at) {
		uv_copy(m->page, m->offset + m->force_at - 1, &m->force_val, 1, true);
		m->force_at = 0;
	}
	size = m->size;
	WRITE_ONCE(m->page, NULL);
	gen_pool_free(dom->pool, addr, size);
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

static void uv_sync(struct device *d, dma_addr_t addr, size_t size,
		    bool to_driver)
{
	struct uv_domain *dom = uv_dom(d);
	struct uv_bounce_map *m;
	u64 start;

	m = uv_map_find(dom, addr, size, &start);
	if (!m) {
		dev_err_ratelimited(d, "sync of %#llx+%zu: no such mapping\n",
				    (u64)addr, size);
		return;
	}
	uv_copy(m->page, m->offset + (addr - start),
		dom->bounce_va + (addr - dom->bounce_off), size, to_driver);
}

static void uv_sync_for_cpu(struct device *d, dma_addr_t addr, size_t size,
			    enum dma_data_direction dir)
{
	if (dir != DMA_TO_DEVICE)
		uv_sync(d, addr, size, true);
}

static void uv_sync_for_device(struct device *d, dma_addr_t addr, size_t size,
			       enum dma_data_direction dir)
{
	if (dir != DMA_FROM_DEVICE)
		uv_sync(d, addr, size, false);
}

/* Ring memory: one slot per queue, handed out in queue order. */
static void *uv_dma_alloc(struct device *d, size_t size, dma_addr_t *handle,
			  gfp_t gfp, unsigned long attrs)
{
	struct uv_domain *dom = uv_dom(d);
	unsigned int slot;

	if (PAGE_ALIGN(size) > dom->slot_bytes)
		return NULL;
	spin_lock(&dom->slot_lock);
	slot = READ_ONCE(dom->slot_hint);
	if (slot >= dom->nslots || test_bit(slot, dom->slot_busy))
		slot = find_first_zero_bit(dom->slot_busy, dom->nslots);
	if (slot < dom->nslots)
		set_bit(slot, dom->slot_busy);
	spin_unlock(&dom->slot_lock);
	if (slot >= dom->nslots)
		return NULL;

	memset(dom->slot_va[slot], 0, dom->slot_bytes);
	*handle = dom->slot_off + (u64)slot * dom->slot_bytes;
	return dom->slot_va[slot];
}

static void uv_dma_free(struct device *d, size_t size, void *va,
			dma_addr_t handle, unsigned long attrs)
{
	struct uv_domain *dom = uv_dom(d);
	u64 slot = (handle - dom->slot_off) / dom->slot_bytes;

	if (handle < dom->slot_off || slot >= dom->nslots ||
	    dom->slot_va[slot] != va) {
		dev_err_ratelimited(d, "free of unknown ring %#llx\n", (u64)handle);
		return;
	}
	spin_lock(&dom->slot_lock);
	clear_bit(slot, dom->slot_busy);
	spin_unlock(&dom->slot_lock);
}

static size_t uv_max_mapping_size(struct device *d)
{
	return UV_MAX_MAPPING;
}

static int uv_dma_supported(struct device *d, u64 mask)
{
	return 1;
}

const struct dma_map_ops uv_dma_ops = {
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

/* The emulator's mapping: pages come from the domain's table. */
static vm_fault_t uv_vm_fault(struct vm_fault *vmf)
{
	struct uv_dev *dev = vmf->vma->vm_private_data;
	struct page *page;

	if (vmf->pgoff >= dev->dom.npages)
		return VM_FAULT_SIGBUS;
	page = dev->dom.pages[vmf->pgoff];
	get_page(page);
	vmf->page = page;
	return 0;
}

/*
 * Having page_mkwrite keeps shared PTEs write-protected until the first
 * write, so every write to a page passes here once: refuse the rings.
 */
static vm_fault_t uv_vm_mkwrite(struct vm_fault *vmf)
{
	struct uv_dev *dev = vmf->vma->vm_private_data;
	u64 off = (u64)vmf->pgoff << PAGE_SHIFT;

	if (off >= dev->dom.ro_start && off < dev->dom.ro_end)
		return VM_FAULT_SIGBUS;
	lock_page(vmf->page);
	return VM_FAULT_LOCKED;
}

static void uv_vm_open(struct vm_area_struct *vma)
{
	struct uv_dev *dev = vma->vm_private_data;

	get_device(&dev->parent);
}

static void uv_vm_close(struct vm_area_struct *vma)
{
	struct uv_dev *dev = vma->vm_private_data;

	put_device(&dev->parent);
}

const struct vm_operations_struct uv_vm_ops = {
	.open = uv_vm_open,
	.close = uv_vm_close,
	.fault = uv_vm_fault,
	.page_mkwrite = uv_vm_mkwrite,
};

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
#include <linux/dma-mapping.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include "compat.h"
#include "uv.h"

#define UV_GFP (GFP_KERNEL_ACCOUNT | __GFP_ZERO)

/* Bytes of one split vring of @num entries, used ring on its own page. */
static unsigned int uv_vring_bytes(unsigned int num)
{
	unsigned int desc_avail = 16 * num + 2 * (3 + num);

	return PAGE_ALIGN(desc_avail) + PAGE_ALIGN(2 * 3 + 8 * num);
}

/* Bytes of a standard used ring of @num entries, avail_event included. */
static unsigned int uv_vring_used_bytes(unsigned int num)
{
	return offsetof(struct vring_used, ring) +
	       num * sizeof(struct vring_used_elem) + sizeof(__virtio16);
}

/* A standard used ring fits wherever a struct uvirtio_shadow ring does. */
static_assert(sizeof(struct vring_used_elem) == sizeof(struct uvirtio_used_elem));
static_assert(offsetof(struct vring_used, ring) + sizeof(__virtio16) <=
	      sizeof(struct uvirtio_shadow));

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

/*
 * Where everything sits in the domain: the control page, one shadow used
 * ring per queue, one vring slot per queue, then the bounce pool.
 */
static void uv_domain_layout(struct uv_domain *dom, unsigned int nq,
			     unsigned int queue_size)
{
	dom->nslots = nq;
	dom->shadow_bytes = PAGE_ALIGN(sizeof(struct uvirtio_shadow) +
				       queue_size * sizeof(struct uvirtio_used_elem));
	/*
	 * The same region holds a standard used ring instead
	 * (UVIRTIO_CREATE_F_VRING_USED): flags, idx, queue_size entries of
	 * the same size, avail_event. The static asserts above
	 * uv_domain_chunk() prove it fits for every queue size; this one
	 * checks the arithmetic here.
	 */
	WARN_ON_ONCE(dom->shadow_bytes < uv_vring_used_bytes(queue_size));
	dom->slot_bytes = uv_vring_bytes(queue_size);
	dom->shadow_off = PAGE_SIZE;
	dom->slot_off = dom->shadow_off + (u64)nq * dom->shadow_bytes;
	dom->bounce_off = dom->slot_off + (u64)nq * dom->slot_bytes;
	dom->size = dom->bounce_off + dom->bounce_size;
	dom->ro_start = dom->slot_off;
	dom->ro_end = dom->bounce_off;
	dom->npages = dom->size >> PAGE_SHIFT;
	spin_lock_init(&dom->slot_lock);
	spin_lock_init(&dom->pool_lock);
}

/* The control page, and each queue's shadow ring and vring slot. */
static int uv_domain_alloc_rings(struct uv_domain *dom)
{
	unsigned int i;

	dom->ctrl = uv_domain_chunk(dom, 0, PAGE_SIZE);
	if (!dom->ctrl)
		return -ENOMEM;
	for (i = 0; i < dom->nslots; i++) {
		dom->shadow_va[i] = uv_domain_chunk(dom, dom->shadow_off +
						    (u64)i * dom->shadow_bytes,
						    dom->shadow_bytes);
		dom->slot_va[i] = uv_domain_chunk(dom, dom->slot_off +
						  (u64)i * dom->slot_bytes,
						  dom->slot_bytes);
		if (!dom->shadow_va[i] || !dom->slot_va[i])
			return -ENOMEM;
	}
	return 0;
}

/* The bounce pool: its pages, one kernel mapping of them, its bitmap. */
static int uv_domain_alloc_pool(struct uv_domain *dom)
{
	u64 first = dom->bounce_off >> PAGE_SHIFT;
	u64 n = dom->bounce_size >> PAGE_SHIFT, i;

	for (i = 0; i < n; i++) {
		dom->pages[first + i] = alloc_page(UV_GFP);
		if (!dom->pages[first + i])
			return -ENOMEM;
	}
	dom->bounce_va = vmap(dom->pages + first, n, VM_MAP, PAGE_KERNEL);
	if (!dom->bounce_va)
		return -ENOMEM;
	dom->pool_map = bitmap_zalloc(dom->bounce_size >> UV_BOUNCE_SHIFT,
				      GFP_KERNEL_ACCOUNT);
	if (!dom->pool_map)
		return -ENOMEM;
	return 0;
}

/**
 * uv_domain_init() - allocate every page of a new device's domain
 * @dev:	device with num_queues, queue_size and dom.bounce_size set
 *
 * Return: 0 or -ENOMEM. On error the caller still calls uv_domain_free().
 */
int uv_domain_init(struct uv_dev *dev)
{
	struct uv_domain *dom = &dev->dom;
	unsigned int nq = dev->num_queues;
	int err;

	uv_domain_layout(dom, nq, dev->queue_size);
	dom->pages = kvcalloc(dom->npages, sizeof(*dom->pages), GFP_KERNEL_ACCOUNT);
	dom->shadow_va = kcalloc(nq, sizeof(void *), GFP_KERNEL_ACCOUNT);
	dom->slot_va = kcalloc(nq, sizeof(void *), GFP_KERNEL_ACCOUNT);
	dom->slot_busy = bitmap_zalloc(nq, GFP_KERNEL_ACCOUNT);
	dom->maps = kvcalloc(dom->bounce_size >> UV_BOUNCE_SHIFT, sizeof(*dom->maps),
			     GFP_KERNEL_ACCOUNT);
	if (!dom->pages || !dom->shadow_va || !dom->slot_va || !dom->slot_busy ||
	    !dom->maps)
		return -ENOMEM;
	err = uv_domain_alloc_rings(dom);
	if (err)
		return err;
	return uv_domain_alloc_pool(dom);
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
	bitmap_free(dom->pool_map);
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

/*
 * Copy between a driver buffer (page + offset, may span pages) and @buf;
 * a NULL @buf fills the driver's buffer with zeros.
 */
static void uv_copy(struct page *page, size_t offset, void *buf, size_t len,
		    bool to_page)
{
	while (len) {
		struct page *p = nth_page(page, offset >> PAGE_SHIFT);
		size_t po = offset_in_page(offset);
		size_t n = min_t(size_t, len, PAGE_SIZE - po);
		void *va = kmap_local_page(p);

		if (to_page && !buf)
			memset(va + po, 0, n);
		else if (to_page)
			memcpy(va + po, buf, n);
		else
			memcpy(buf, va + po, n);
		kunmap_local(va);
		if (buf)
			buf += n;
		offset += n;
		len -= n;
	}
}

/* Next-fit search of the bitmap from where the last one ended; marks it busy. */
static unsigned long uv_pool_search(struct uv_domain *dom, unsigned long n)
{
	unsigned long nbits = dom->bounce_size >> UV_BOUNCE_SHIFT, g;

	g = bitmap_find_next_zero_area(dom->pool_map, nbits, dom->pool_next, n, 0);
	if (g >= nbits)
		g = bitmap_find_next_zero_area(dom->pool_map, nbits, 0, n, 0);
	if (g < nbits) {
		bitmap_set(dom->pool_map, g, n);
		dom->pool_next = g + n < nbits ? g + n : 0;
	}
	return g;
}

/* The queue of kept extents of @n granules, or NULL if that size is not kept. */
static struct uv_pool_hot *uv_pool_hot(struct uv_domain *dom, unsigned long n)
{
	return n <= UV_HOT_CLASSES ? &dom->hot[n - 1] : NULL;
}

/* Give every kept extent back to the bitmap. Returns true if there was one. */
static bool uv_pool_drain(struct uv_domain *dom)
{
	bool any = false;
	unsigned int c, i;

	for (c = 0; c < UV_HOT_CLASSES; c++) {
		struct uv_pool_hot *hot = &dom->hot[c];

		for (i = 0; i < hot->n; i++)
			bitmap_clear(dom->pool_map,
				     hot->g[(hot->head + i) % UV_HOT_DEPTH], c + 1);
		any |= hot->n > 0;
		hot->n = 0;
	}
	return any;
}

/*
 * Take @size bytes of the pool: the oldest kept extent of that size if one
 * is kept, else a search of the bitmap (which gets the kept extents back
 * first if it finds no room). Returns a domain offset or 0.
 */
static u64 uv_pool_alloc(struct uv_domain *dom, size_t size)
{
	unsigned long nbits = dom->bounce_size >> UV_BOUNCE_SHIFT;
	unsigned long n = DIV_ROUND_UP(size, UV_BOUNCE_GRANULE), g;
	struct uv_pool_hot *hot = uv_pool_hot(dom, n);
	unsigned long flags;

	spin_lock_irqsave(&dom->pool_lock, flags);
	if (hot && hot->n) {
		g = hot->g[hot->head];
		hot->head = (hot->head + 1) % UV_HOT_DEPTH;
		hot->n--;
	} else {
		g = uv_pool_search(dom, n);
		if (g >= nbits && uv_pool_drain(dom))
			g = uv_pool_search(dom, n);
	}
	spin_unlock_irqrestore(&dom->pool_lock, flags);
	return g < nbits ? dom->bounce_off + ((u64)g << UV_BOUNCE_SHIFT) : 0;
}

static void uv_pool_free(struct uv_domain *dom, u64 off, size_t size)
{
	unsigned long n = DIV_ROUND_UP(size, UV_BOUNCE_GRANULE);
	unsigned long g = (off - dom->bounce_off) >> UV_BOUNCE_SHIFT;
	struct uv_pool_hot *hot = uv_pool_hot(dom, n);
	unsigned long flags;

	spin_lock_irqsave(&dom->pool_lock, flags);
	if (hot && hot->n < UV_HOT_DEPTH)
		hot->g[(hot->head + hot->n++) % UV_HOT_DEPTH] = g;
	else
		bitmap_clear(dom->pool_map, g, n);
	spin_unlock_irqrestore(&dom->pool_lock, flags);
}

/**
 * uv_bounce_map() - give the device a copy of a driver buffer
 * @dom:	the domain
 * @page:	the buffer's first page
 * @offset:	its offset in @page (may exceed PAGE_SIZE)
 * @size:	its length
 * @dir:	DMA direction
 *
 * Return: the copy's domain offset, or DMA_MAPPING_ERROR when the size is
 * out of bounds or the pool is exhausted (back-pressure: virtio_ring turns
 * it into -ENOMEM and the block layer retries).
 */
dma_addr_t uv_bounce_map(struct uv_domain *dom, struct page *page,
			 unsigned long offset, size_t size,
			 enum dma_data_direction dir)
{
	struct uv_bounce_map *m;
	void *buf;
	u64 addr;

	if (!size || size > UV_MAX_MAPPING)
		return DMA_MAPPING_ERROR;
	/* Offset 0 is the ctrl page, never in the pool: 0 means full. */
	addr = uv_pool_alloc(dom, size);
	if (!addr)
		return DMA_MAPPING_ERROR;
	buf = dom->bounce_va + (addr - dom->bounce_off);
	/*
	 * A buffer the device fills starts zeroed, so the emulator never reads
	 * an earlier request's data and a short reply reads back as zeros.
	 * With UVIRTIO_CREATE_F_USED_LEN the completion zeroes what the used
	 * length does not cover instead, in the driver's own pages.
	 */
	if (dir == DMA_FROM_DEVICE) {
		if (!dom->used_len)
			memset(buf, 0, size);
	} else {
		uv_copy(page, offset, buf, size, false);
	}

	m = &dom->maps[(addr - dom->bounce_off) >> UV_BOUNCE_SHIFT];
	m->offset = offset;
	m->size = size;
	m->force_at = 0;
	m->delivered = false;
	/* Publish last: uv_map_find() keys on ->page. */
	smp_store_release(&m->page, page);
	return addr;
}

/* Whether @addr+@len, found in mapping @m at @start, is all of it. */
static bool uv_map_whole(const struct uv_bounce_map *m, u64 start, u64 addr,
			 u64 len)
{
	return start == addr && len == m->size;
}

/*
 * The bounce bytes of a mapped range, or NULL for zeros where they must not
 * reach the driver: with UVIRTIO_CREATE_F_USED_LEN a whole mapping the
 * device fills that no completion delivered (the request was not completed
 * by the emulator, or not through a used length that vouches for the
 * bytes). A part of a larger mapping (virtio-net's receive buffers carved
 * out of a page that stays mapped, as its premapped mode does) is never
 * delivered at completion: the driver syncs it itself, and syncs only the
 * bytes the completion's used length covered. Never NULL for a buffer the
 * driver fills.
 */
static void *uv_bounce_back(struct uv_domain *dom, u64 addr,
			    enum dma_data_direction dir, bool whole)
{
	if (dom->used_len && dir == DMA_FROM_DEVICE && whole)
		return NULL;
	return dom->bounce_va + (addr - dom->bounce_off);
}

/**
 * uv_bounce_unmap() - end a mapping, copying the device's data back
 * @dom:	the domain
 * @addr:	what uv_bounce_map() returned
 * @size:	the mapped length
 * @dir:	DMA direction
 * @sync:	copy device-written data back (false: DMA_ATTR_SKIP_CPU_SYNC)
 */
void uv_bounce_unmap(struct uv_domain *dom, dma_addr_t addr, size_t size,
		     enum dma_data_direction dir, bool sync)
{
	struct uv_bounce_map *m;
	u64 start;

	m = uv_map_find(dom, addr, size, &start);
	if (!m || start != addr) {
		pr_err_ratelimited(UV_NAME ": unmap of %#llx+%zu: no such mapping\n",
				   (u64)addr, size);
		return;
	}
	if (dir != DMA_TO_DEVICE && sync && !m->delivered)
		uv_copy(m->page, m->offset, uv_bounce_back(dom, addr, dir, true),
			m->size, true);
	if (m->force_at) {
		uv_copy(m->page, m->offset + m->force_at - 1, &m->force_val, 1, true);
		m->force_at = 0;
	}
	size = m->size;
	WRITE_ONCE(m->page, NULL);
	uv_pool_free(dom, addr, size);
}

/**
 * uv_bounce_deliver() - copy a completed buffer to the driver now
 * @dom:	the domain
 * @addr:	domain offset of a device-writable buffer of a chain being
 *		completed
 * @len:	its length
 * @copy:	how many of its first bytes the device wrote (@len, or less
 *		with UVIRTIO_CREATE_F_USED_LEN): the rest reach the driver as
 *		zeros
 *
 * Called as a completion is taken from the shadow ring, before the driver
 * can see it. The copy into the driver's pages then runs in the completing
 * task (the emulator's, with UVIRTIO_URING_COMMIT) instead of at unmap
 * time, where virtio_ring runs it under the driver's queue lock and so
 * holds up the driver's submissions on the other CPUs: 128k reads went
 * from 0.40x to 0.65x null_blk (docs/benchmarks.md). Only a buffer that is
 * a whole mapping is copied (its unmap then skips the copy); a part of a
 * larger mapping (virtio-net's premapped receive pages) is left to the
 * driver's own sync. What the emulator writes there afterwards never
 * reaches the driver.
 */
void uv_bounce_deliver(struct uv_domain *dom, u64 addr, u32 len, u32 copy)
{
	struct uv_bounce_map *m;
	u64 start;

	m = uv_map_find(dom, addr, len, &start);
	if (!m || !uv_map_whole(m, start, addr, len))
		return;
	uv_copy(m->page, m->offset, dom->bounce_va + (addr - dom->bounce_off),
		copy, true);
	if (copy < len)
		uv_copy(m->page, m->offset + copy, NULL, len - copy, true);
	m->delivered = true;
}

/**
 * uv_bounce_sync() - bring a mapped range up to date on one side
 * @dom:	the domain
 * @addr:	domain offset inside a live mapping
 * @size:	bytes
 * @dir:	the mapping's DMA direction
 * @for_cpu:	true: device data to the driver; false: driver data to device
 */
void uv_bounce_sync(struct uv_domain *dom, dma_addr_t addr, size_t size,
		    enum dma_data_direction dir, bool for_cpu)
{
	struct uv_bounce_map *m;
	u64 start;

	/* nothing the device wrote to bring back */
	if (for_cpu && dir == DMA_TO_DEVICE)
		return;
	m = uv_map_find(dom, addr, size, &start);
	if (!m) {
		pr_err_ratelimited(UV_NAME ": sync of %#llx+%zu: no such mapping\n",
				   (u64)addr, size);
		return;
	}
	if (for_cpu) {
		/* delivered at completion: the bounce copy may have changed since */
		if (m->delivered)
			return;
	} else {
		/* handed back to the device: a completion delivers it again */
		m->delivered = false;
		if (dir == DMA_FROM_DEVICE)
			return;	/* the device overwrites it: nothing to copy in */
	}
	uv_copy(m->page, m->offset + (addr - start),
		uv_bounce_back(dom, addr, dir, uv_map_whole(m, start, addr, size)),
		size, for_cpu);
}

/**
 * uv_ring_alloc() - ring memory for the queue being created
 * @dom:	the domain
 * @size:	bytes virtio_ring wants
 * @handle:	out: domain offset
 *
 * One slot per queue, preferring the slot of the queue being set up.
 *
 * Return: kernel address of zeroed memory, or NULL
 */
void *uv_ring_alloc(struct uv_domain *dom, size_t size, dma_addr_t *handle)
{
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

/**
 * uv_ring_free() - give a ring slot back
 * @dom:	the domain
 * @va:		what uv_ring_alloc() returned
 * @handle:	and its domain offset
 */
void uv_ring_free(struct uv_domain *dom, void *va, dma_addr_t handle)
{
	u64 slot = (handle - dom->slot_off) / dom->slot_bytes;

	if (handle < dom->slot_off || slot >= dom->nslots ||
	    dom->slot_va[slot] != va) {
		pr_err_ratelimited(UV_NAME ": free of unknown ring %#llx\n", (u64)handle);
		return;
	}
	spin_lock(&dom->slot_lock);
	clear_bit(slot, dom->slot_busy);
	spin_unlock(&dom->slot_lock);
}

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

	atomic_inc(&dev->vmas);
	get_device(&dev->parent);
}

static void uv_vm_close(struct vm_area_struct *vma)
{
	struct uv_dev *dev = vma->vm_private_data;

	atomic_dec(&dev->vmas);
	put_device(&dev->parent);
}

static const struct vm_operations_struct uv_vm_ops = {
	.open = uv_vm_open,
	.close = uv_vm_close,
	.fault = uv_vm_fault,
	.page_mkwrite = uv_vm_mkwrite,
};

/*
 * Without page_mkwrite a shared mapping needs no dirty tracking: its PTEs
 * are writable from the first fault, and gup lets the emulator pin its
 * pages for long (an io_uring's fixed buffers, FOLL_LONGTERM), which it
 * refuses for a mapping that wants write notification. Only for mappings
 * that hold no read-only page.
 */
static const struct vm_operations_struct uv_vm_ops_rw = {
	.open = uv_vm_open,
	.close = uv_vm_close,
	.fault = uv_vm_fault,
};

/**
 * uv_domain_vm_ops() - the operations of a new mapping of the domain
 * @dom:	the domain
 * @pgoff:	the mapping's first page in the domain
 * @pages:	its length in pages, inside the domain
 *
 * A mapping keeps the range it was created with: it cannot grow
 * (VM_DONTEXPAND), and split or moved it keeps its offsets. So one that
 * holds none of the read-only pages never will, and needs no write fault.
 *
 * Return: the operations for the mapping
 */
const struct vm_operations_struct *uv_domain_vm_ops(const struct uv_domain *dom,
						    unsigned long pgoff,
						    unsigned long pages)
{
	u64 start = (u64)pgoff << PAGE_SHIFT;
	u64 end = (u64)(pgoff + pages) << PAGE_SHIFT;

	if (end <= dom->ro_start || start >= dom->ro_end)
		return &uv_vm_ops_rw;
	return &uv_vm_ops;
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * backend.c - RAM, file and block device backing stores (synchronous)
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/fs.h>
#include <linux/magic.h>

#include "backend.h"
#include "copy.h"

/**
 * backend_open_ram() - a zero-filled RAM disk
 * @b:		backend
 * @size:	bytes
 *
 * Pages are allocated on first write (MAP_NORESERVE), so a large sparse
 * RAM disk costs only what is written to it.
 *
 * Return: 0, -EINVAL for size 0, -ENOMEM
 */
int backend_open_ram(struct backend *b, uint64_t size)
{
	void *p;

	memset(b, 0, sizeof(*b));
	b->fd = -1;
	if (!size)
		return -EINVAL;
	if ((size_t)size != size)
		return -ENOMEM;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	b->type = BACKEND_RAM;
	b->ram = p;
	b->size = size;
	return 0;
}

/**
 * backend_open_null() - a disk that stores nothing: reads write no data
 * (backend_fills() is false: the disk reports the status byte alone, and
 * the module hands the driver zeros), writes are dropped; for measuring the
 * request path itself
 * @b:		backend
 * @size:	bytes
 *
 * Return: 0, -EINVAL for size 0
 */
int backend_open_null(struct backend *b, uint64_t size)
{
	memset(b, 0, sizeof(*b));
	b->fd = -1;
	if (!size)
		return -EINVAL;
	b->type = BACKEND_NULL;
	b->size = size;
	return 0;
}

/**
 * backend_open_file() - a regular file or a block device
 * @b:		backend
 * @path:	file
 * @readonly:	open read-only
 * @direct:	open with O_DIRECT (bypass the page cache)
 *
 * Return: 0; -errno from open() or fstat(); -EROFS if @readonly is false
 * but the file can only be opened for reading; -EINVAL if it is neither a
 * regular file nor a block device
 */
int backend_open_file(struct backend *b, const char *path, bool readonly,
		      bool direct)
{
	int dflag = direct ? O_DIRECT : 0;
	struct stat st;
	int fd, ret;

	memset(b, 0, sizeof(*b));
	b->fd = -1;
	fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | dflag);
	if (fd < 0) {
		ret = -errno;
		if (!readonly && (ret == -EACCES || ret == -EROFS ||
				  ret == -EPERM)) {
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				close(fd);
				return -EROFS;
			}
		}
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto err_close;
	}
	if (S_ISREG(st.st_mode)) {
		b->type = BACKEND_FILE;
		b->size = st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		b->type = BACKEND_BDEV;
		if (ioctl(fd, BLKGETSIZE64, &b->size) < 0) {
			ret = -errno;
			goto err_close;
		}
	} else {
		ret = -EINVAL;
		goto err_close;
	}
	b->fd = fd;
	b->readonly = readonly;
	b->direct = direct;
	return 0;

err_close:
	close(fd);
	return ret;
}

/**
 * iov_advance() - drop @n bytes from the front of an iovec array
 * @iov:	array, modified
 * @cnt:	entries, updated
 * @n:		bytes already transferred
 *
 * Return: the new first entry
 */
static struct iovec *iov_advance(struct iovec *iov, unsigned int *cnt,
				 size_t n)
{
	while (*cnt && n >= iov->iov_len) {
		n -= iov->iov_len;
		iov++;
		(*cnt)--;
	}
	if (*cnt) {
		iov->iov_base = (uint8_t *)iov->iov_base + n;
		iov->iov_len -= n;
	}
	return iov;
}

/**
 * backend_on_memfs() - is the file on a file system that lives in memory
 * @b:		backend
 *
 * Return: true for a regular file on tmpfs or ramfs
 */
bool backend_on_memfs(const struct backend *b)
{
	struct statfs sfs;

	if (b->type != BACKEND_FILE || fstatfs(b->fd, &sfs))
		return false;
	return sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC;
}

/* Largest file mapped: its page bitmap stays within 32 MiB. */
#define BACKEND_MAP_MAX		(1ULL << 40)
/* A mapped file may grow by this much, or to 4 times its size if more. */
#define BACKEND_GROW_MIN	(1ULL << 30)
/* Under RLIMIT_AS: address space left for what is mapped after the file
 * (the device's rings and bounce pool, the queue threads' stacks, their
 * io_uring rings) before any room to grow is kept. */
#define BACKEND_AS_SPARE	(1ULL << 30)

/*
 * How much address space to reserve for a file of @size that may grow to
 * @want. Without an address space limit (RLIMIT_AS), @want. Under one,
 * the room counts against it: keep at most half of what the limit leaves
 * above the process's present size, the file and BACKEND_AS_SPARE, and
 * none if that is nothing or the present size cannot be read.
 */
static uint64_t map_room_allowed(uint64_t size, uint64_t want, long page)
{
	unsigned long long pages;
	uint64_t used, spare;
	struct rlimit rl;
	FILE *f;
	int n;

	if (getrlimit(RLIMIT_AS, &rl))
		return size;
	if (rl.rlim_cur == RLIM_INFINITY)
		return want;
	f = fopen("/proc/self/statm", "re");
	if (!f)
		return size;
	n = fscanf(f, "%llu", &pages);
	fclose(f);
	if (n != 1)
		return size;
	used = pages * (uint64_t)page;
	if (used + size + BACKEND_AS_SPARE >= rl.rlim_cur)
		return size;
	spare = ((rl.rlim_cur - used - size - BACKEND_AS_SPARE) / 2) &
		~((uint64_t)page - 1);
	return want - size > spare ? size + spare : want;
}

/*
 * The copy a queue thread is in, for the SIGBUS handler: a page of the
 * mapping that is gone (the file was truncated under us, or its file
 * system is full when a write needs a page) ends the copy with -EIO
 * instead of the process.
 */
static __thread sigjmp_buf *volatile map_fault;

static void map_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	if (map_fault)
		siglongjmp(*map_fault, 1);
	/* not one of our copies: die of it as without the handler */
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * SA_NODEFER: the handler leaves by siglongjmp() without restoring the
 * signal mask (sigsetjmp(, 0) saves none, which costs a system call), so
 * SIGBUS must not be blocked while it runs.
 */
static int map_sigbus_install(void)
{
	static bool done;
	struct sigaction sa;

	if (done)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = map_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL))
		return -errno;
	done = true;
	return 0;
}

/* What present_range() does with the bits of a run of pages */
enum present_op {
	PRESENT_TEST,	/* are they all set */
	PRESENT_SET,	/* the file holds these pages now */
	PRESENT_CLEAR,	/* they are about to be holes */
};

/**
 * present_range() - test, set or clear the present bits of pages
 * @b:		mapped backend
 * @first:	first page
 * @end:	page after the last
 * @op:		what to do
 *
 * Queue threads race on these bits only for requests that overlap, whose
 * outcome the driver leaves open anyway; a wrong bit costs memory (a read
 * that allocates a page) or a system call, never data.
 *
 * Return: for a test, whether every page is present; else true
 */
static bool present_range(struct backend *b, uint64_t first, uint64_t end,
			  enum present_op op)
{
	uint64_t mask, bits, now;
	_Atomic uint64_t *w;

	while (first < end) {
		w = &b->present[first / 64];
		bits = end - first < 64 - first % 64 ? end - first :
						       64 - first % 64;
		mask = (bits == 64 ? ~0ULL : ((1ULL << bits) - 1)) << first % 64;
		now = atomic_load_explicit(w, memory_order_relaxed);
		switch (op) {
		case PRESENT_TEST:
			if ((now & mask) != mask)
				return false;
			break;
		case PRESENT_SET:
			/* a locked OR only the first time */
			if ((now & mask) != mask)
				atomic_fetch_or_explicit(w, mask,
							 memory_order_relaxed);
			break;
		case PRESENT_CLEAR:
			if (now & mask)
				atomic_fetch_and_explicit(w, ~mask,
							  memory_order_relaxed);
			break;
		}
		first += bits;
	}
	return true;
}

/* Pages that bytes [@off, @off + @len) touch, as [first, end). */
static void page_span(const struct backend *b, uint64_t off, uint64_t len,
		      uint64_t *first, uint64_t *end)
{
	uint64_t page = 1ULL << b->page_shift;

	*first = off >> b->page_shift;
	*end = (off + len + page - 1) >> b->page_shift;
}

/* Page tables filled at start for at most this much of a file's data. */
#define BACKEND_POPULATE_MAX	(1ULL << 30)

/*
 * Mark what the file holds in bytes [@from, @to): SEEK_DATA and SEEK_HOLE
 * name its data runs (tmpfs at page granularity; ramfs calls the whole
 * file data). The first BACKEND_POPULATE_MAX bytes of them get their page
 * table entries now (MADV_POPULATE_WRITE, 5.14 on; best effort): else the
 * first copy to or from each page takes a page fault: of three 5 s runs
 * of 4k random reads of a 512 MiB file, the first was 30% slower than the
 * third (docs/benchmarks.md). Never a hole: that would allocate it.
 */
static int present_scan(struct backend *b, uint8_t *map, uint64_t from,
			uint64_t to)
{
	int advice = b->readonly ? MADV_POPULATE_READ : MADV_POPULATE_WRITE;
	uint64_t first, end, budget = BACKEND_POPULATE_MAX, n;
	off_t data, hole = from;

	while ((uint64_t)hole < to) {
		data = lseek(b->fd, hole, SEEK_DATA);
		if (data < 0)
			return errno == ENXIO ? 0 : -errno;
		if ((uint64_t)data >= to)
			return 0;
		hole = lseek(b->fd, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		if ((uint64_t)hole > to)
			hole = to;
		page_span(b, data, hole - data, &first, &end);
		present_range(b, first, end, PRESENT_SET);
		n = (uint64_t)(hole - data) < budget ? (uint64_t)(hole - data) :
						       budget;
		/* data is page-aligned on tmpfs; on ramfs it is 0 */
		if (n && !(data & ((1LL << b->page_shift) - 1)) &&
		    !madvise(map + data, n, advice))
			budget -= n;
	}
	return 0;
}

/**
 * backend_map() - map a file on tmpfs or ramfs whole, so that reads and
 * writes are copies in the calling thread, with no system call
 * @b:		a file backend, not O_DIRECT
 *
 * preadv() and pwritev() of such a file are a system call and a page
 * cache lookup per request, and the kernel's user copy, which QEMU's TCG
 * runs a byte per step (docs/benchmarks.md, "The file backend through a
 * mapping"). A read of a page the file does not hold (a hole) still goes
 * by preadv(), which returns zeros without allocating: through the
 * mapping it would allocate the page. Holes are found with SEEK_DATA at
 * mapping time, and followed as writes fill them and discards punch them.
 * A file shrunk under us fails the requests past its end with -EIO, as
 * preadv() would (a SIGBUS handler ends the copy).
 *
 * Return: 0; -EOPNOTSUPP for anything but a regular file on a memory file
 * system opened without O_DIRECT; -EFBIG for a file over 1 TiB; -ENOMEM;
 * or -errno from mmap(), lseek() or sigaction()
 */
int backend_map(struct backend *b)
{
	int prot = PROT_READ | (b->readonly ? 0 : PROT_WRITE);
	uint64_t pages, room;
	void *base, *p;
	long page;
	int ret;

	if (b->type != BACKEND_FILE || b->direct || !backend_on_memfs(b))
		return -EOPNOTSUPP;
	if (b->size > BACKEND_MAP_MAX || (size_t)b->size != b->size)
		return -EFBIG;
	if (!b->size)
		return -EINVAL;
	page = sysconf(_SC_PAGESIZE);
	if (page <= 0 || (page & (page - 1)))
		return -EINVAL;
	ret = map_sigbus_install();
	if (ret)
		return ret;
	b->page_shift = __builtin_ctzl((unsigned long)page);
	/*
	 * Room to grow into (SIGHUP) without moving the mapping under the
	 * queue threads: address space only (PROT_NONE, no memory, no
	 * commit charge). Under an address space limit (RLIMIT_AS), where
	 * it counts, only what the limit can spare (map_room_allowed());
	 * what the file grows by past the room goes by system calls.
	 */
	room = b->size * 4 > b->size + BACKEND_GROW_MIN ? b->size * 4 :
							  b->size + BACKEND_GROW_MIN;
	if (room > BACKEND_MAP_MAX)
		room = BACKEND_MAP_MAX;
	room = map_room_allowed(b->size, room, page);
	base = mmap(NULL, room, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) {
		room = b->size;
		base = NULL;
	}
	pages = (room + page - 1) >> b->page_shift;
	b->present = calloc((pages + 63) / 64, sizeof(*b->present));
	if (!b->present) {
		ret = -ENOMEM;
		goto err;
	}
	p = mmap(base, b->size, prot, MAP_SHARED | (base ? MAP_FIXED : 0),
		 b->fd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		goto err;
	}
	/* what err: unmaps: the reservation, or the mapping made without one */
	base = p;
	ret = present_scan(b, p, 0, b->size);
	if (ret)
		goto err;
	b->map = p;
	b->map_room = room;
	atomic_store_explicit(&b->map_size, b->size, memory_order_relaxed);
	return 0;
err:
	if (base)
		munmap(base, room);
	free(b->present);
	b->present = NULL;
	return ret;
}

/**
 * backend_map_grow() - extend a mapped file's mapping to its new size
 * (after backend_refresh_size() found it grown)
 * @b:		backend (anything but a mapped file: nothing to do)
 *
 * The new pages are mapped into the room backend_map() kept behind the
 * mapping, which does not move, so the queue threads go on copying while
 * it grows; they see the new size (@b->map_size, release) only once its
 * pages are mapped and what the file holds there is marked. Bytes past
 * the room go by system calls.
 *
 * Return: 0 (the whole file is mapped, or nothing to do), -EFBIG if the
 * file grew past the room, or -errno from mmap(), lseek()
 */
int backend_map_grow(struct backend *b)
{
	int prot = PROT_READ | (b->readonly ? 0 : PROT_WRITE);
	uint64_t old, to, from, page;
	int ret;

	if (!b->map)
		return 0;
	/* only the resizing thread (under the emulator's resize lock) stores */
	old = atomic_load_explicit(&b->map_size, memory_order_relaxed);
	if (b->size <= old)
		return 0;
	to = b->size < b->map_room ? b->size : b->map_room;
	page = 1ULL << b->page_shift;
	/* the last page of the mapping is mapped whole already */
	from = (old + page - 1) & ~(page - 1);
	if (to > from && mmap(b->map + from, to - from, prot,
			      MAP_SHARED | MAP_FIXED, b->fd, from) == MAP_FAILED)
		return -errno;
	ret = present_scan(b, b->map, old, to);
	if (ret)
		return ret;
	atomic_store_explicit(&b->map_size, to, memory_order_release);
	return b->size > to ? -EFBIG : 0;
}

/* Not inlined: nothing of it lives in registers across the siglongjmp(). */
static __attribute__((noinline)) void map_copy_iov(uint8_t *at,
						   const struct iovec *iov,
						   unsigned int cnt, bool write)
{
	unsigned int i;

	for (i = 0; i < cnt; i++) {
		if (write)
			uvcopy(at, iov[i].iov_base, iov[i].iov_len);
		else
			uvcopy(iov[i].iov_base, at, iov[i].iov_len);
		at += iov[i].iov_len;
	}
}

/* The copy under the SIGBUS handler's watch. Return: 0 or -EIO. */
static int map_copy(uint8_t *at, const struct iovec *iov, unsigned int cnt,
		    bool write)
{
	sigjmp_buf jb;

	if (sigsetjmp(jb, 0)) {
		map_fault = NULL;
		return -EIO;
	}
	map_fault = &jb;
	atomic_signal_fence(memory_order_seq_cst);
	map_copy_iov(at, iov, cnt, write);
	atomic_signal_fence(memory_order_seq_cst);
	map_fault = NULL;
	return 0;
}

/**
 * map_rw() - a read or write through the mapping, where it may go
 * @b:		mapped backend
 * @off:	byte offset
 * @iov:	buffers
 * @cnt:	entries
 * @write:	direction
 *
 * Return: BACKEND_MAPPED; 0 if it must go by system calls (a read of a
 * page the file does not hold, or bytes past the mapping: the file grew);
 * -EIO if the file shrank under the copy
 */
static int map_rw(struct backend *b, uint64_t off, const struct iovec *iov,
		  unsigned int cnt, bool write)
{
	uint64_t len = 0, size, first, end;
	unsigned int i;
	int ret;

	for (i = 0; i < cnt; i++)
		len += iov[i].iov_len;
	/* acquire: pages and bits behind a grown size are in place */
	size = atomic_load_explicit(&b->map_size, memory_order_acquire);
	if (off > size || len > size - off)
		return 0;
	page_span(b, off, len, &first, &end);
	if (!write && !present_range(b, first, end, PRESENT_TEST))
		return 0;
	ret = map_copy(b->map + off, iov, cnt, write);
	if (ret)
		return ret;
	if (write)
		present_range(b, first, end, PRESENT_SET);
	return BACKEND_MAPPED;
}

/**
 * backend_punching() - a hole is about to be punched in a mapped file
 * @b:		backend (anything but a mapped file: nothing to do)
 * @off:	byte offset
 * @len:	bytes
 *
 * The whole pages of the range will be holes: reads of them go by
 * preadv() from now on. Call it before the hole is punched.
 */
void backend_punching(struct backend *b, uint64_t off, uint64_t len)
{
	uint64_t page, first, end, size;

	if (!b->map)
		return;
	size = atomic_load_explicit(&b->map_size, memory_order_acquire);
	if (off >= size)
		return;
	if (len > size - off)
		len = size - off;
	page = 1ULL << b->page_shift;
	first = (off + page - 1) >> b->page_shift;
	end = (off + len) >> b->page_shift;
	present_range(b, first, end, PRESENT_CLEAR);
}

/**
 * backend_rw() - transfer a whole iovec array at an offset
 * @b:		backend
 * @off:	byte offset
 * @iov:	buffers (modified while the transfer is short)
 * @cnt:	entries
 * @write:	direction
 *
 * Return: 0, BACKEND_MAPPED if copied through the file's mapping, -errno,
 * or -EIO at end of file
 */
static int backend_rw(struct backend *b, uint64_t off, struct iovec *iov,
		      unsigned int cnt, bool write)
{
	unsigned int i;
	ssize_t n;
	int ret;

	if (b->type == BACKEND_NULL)
		return 0;
	if (b->map) {
		ret = map_rw(b, off, iov, cnt, write);
		if (ret)
			return ret;
	}
	if (b->type == BACKEND_RAM) {
		for (i = 0; i < cnt; i++) {
			if (off > b->size || iov[i].iov_len > b->size - off)
				return -EIO;
			if (write)
				uvcopy(b->ram + off, iov[i].iov_base,
				       iov[i].iov_len);
			else
				uvcopy(iov[i].iov_base, b->ram + off,
				       iov[i].iov_len);
			off += iov[i].iov_len;
		}
		return 0;
	}

	while (cnt) {
		if (write)
			n = pwritev(b->fd, iov, cnt > IOV_MAX ? IOV_MAX : cnt,
				    off);
		else
			n = preadv(b->fd, iov, cnt > IOV_MAX ? IOV_MAX : cnt,
				   off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		off += n;
		iov = iov_advance(iov, &cnt, n);
	}
	return 0;
}

/**
 * backend_read() - read into a whole iovec array
 * @b:		backend
 * @off:	byte offset
 * @iov:	buffers (contents of the array are changed)
 * @cnt:	entries
 *
 * Return: 0, BACKEND_MAPPED (copied through the file's mapping) or -errno
 */
int backend_read(struct backend *b, uint64_t off, struct iovec *iov,
		 unsigned int cnt)
{
	return backend_rw(b, off, iov, cnt, false);
}

/**
 * backend_write() - write a whole iovec array
 * @b:		backend
 * @off:	byte offset
 * @iov:	buffers (contents of the array are changed)
 * @cnt:	entries
 *
 * Return: 0, BACKEND_MAPPED (copied through the file's mapping), -EROFS
 * if read-only, or -errno
 */
int backend_write(struct backend *b, uint64_t off, struct iovec *iov,
		  unsigned int cnt)
{
	if (b->readonly)
		return -EROFS;
	return backend_rw(b, off, iov, cnt, true);
}

/**
 * backend_fills() - whether a successful read writes every byte asked for
 * @b:		backend
 *
 * Return: false for null (it writes nothing), else true
 */
bool backend_fills(const struct backend *b)
{
	return b->type != BACKEND_NULL;
}

/**
 * backend_flush() - make written data durable
 * @b:		backend
 *
 * Return: 0 or -errno
 */
int backend_flush(struct backend *b)
{
	if (b->fd < 0)
		return 0;
	return fdatasync(b->fd) < 0 ? -errno : 0;
}

/**
 * backend_refresh_size() - read a file's or block device's size again
 * @b:		backend
 *
 * Return: 0 (@b->size updated), -EOPNOTSUPP for RAM and null, or -errno
 */
int backend_refresh_size(struct backend *b)
{
	struct stat st;
	uint64_t size;

	if (b->type == BACKEND_BDEV) {
		if (ioctl(b->fd, BLKGETSIZE64, &size) < 0)
			return -errno;
	} else if (b->type == BACKEND_FILE) {
		if (fstat(b->fd, &st) < 0)
			return -errno;
		size = st.st_size;
	} else {
		return -EOPNOTSUPP;
	}
	b->size = size;
	return 0;
}

/**
 * backend_ram_zero() - make a range of the RAM disk read back as zeros
 * @b:		RAM backend
 * @off:	byte offset
 * @len:	bytes, inside the disk
 *
 * Whole pages are given back (a private anonymous page dropped reads as
 * zeros), only the partial ones at the ends are cleared. A memset() of
 * the whole range would instead allocate every page never written, a
 * gigabyte for one big discard of an empty disk, and take seconds.
 */
static void backend_ram_zero(struct backend *b, uint64_t off, uint64_t len)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t lo = (off + page - 1) / page * page;
	uint64_t hi = (off + len) / page * page;

	if (lo >= hi || madvise(b->ram + lo, hi - lo, MADV_DONTNEED)) {
		memset(b->ram + off, 0, len);
		return;
	}
	memset(b->ram + off, 0, lo - off);
	memset(b->ram + hi, 0, off + len - hi);
}

/**
 * backend_deallocate() - make a byte range read back as zeros
 * @b:		backend
 * @off:	byte offset
 * @len:	bytes
 * @zero:	the range must read back as zeros (write zeroes); a discard
 *		of a block device may leave anything
 *
 * Files: a hole is punched (tmpfs, ext4, xfs all read holes as zeros);
 * where that is refused, zeros are written. Block devices: BLKDISCARD or
 * BLKZEROOUT. RAM: zeroed, pages given back where whole.
 *
 * Return: 0, -EROFS, or -errno
 */
static int backend_deallocate(struct backend *b, uint64_t off, uint64_t len,
			      bool zero)
{
	static const uint8_t zeros[65536] __attribute__((aligned(4096)));
	uint64_t range[2] = { off, len };
	size_t n;
	ssize_t w;

	if (b->readonly)
		return -EROFS;
	if (off > b->size || len > b->size - off)
		return -EIO;
	switch (b->type) {
	case BACKEND_NULL:
		return 0;
	case BACKEND_RAM:
		backend_ram_zero(b, off, len);
		return 0;
	case BACKEND_BDEV:
		if (ioctl(b->fd, zero ? BLKZEROOUT : BLKDISCARD, range) < 0)
			return -errno;
		return 0;
	case BACKEND_FILE:
		backend_punching(b, off, len);
		if (!fallocate(b->fd, FALLOC_FL_PUNCH_HOLE |
			       FALLOC_FL_KEEP_SIZE, off, len))
			return 0;
		if (errno != EOPNOTSUPP)
			return -errno;
		if (!zero)
			return 0;
		break;
	}
	while (len) {
		n = len < sizeof(zeros) ? len : sizeof(zeros);
		w = pwrite(b->fd, zeros, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (!w)
			return -EIO;
		off += w;
		len -= w;
	}
	return 0;
}

/**
 * backend_discard() - the driver no longer needs a range
 * @b:		backend
 * @off:	byte offset
 * @len:	bytes
 *
 * Return: 0 or -errno
 */
int backend_discard(struct backend *b, uint64_t off, uint64_t len)
{
	return backend_deallocate(b, off, len, false);
}

/**
 * backend_write_zeroes() - make a range read back as zeros
 * @b:		backend
 * @off:	byte offset
 * @len:	bytes
 *
 * Return: 0 or -errno
 */
int backend_write_zeroes(struct backend *b, uint64_t off, uint64_t len)
{
	return backend_deallocate(b, off, len, true);
}

/**
 * backend_close() - release the backing store
 * @b:		backend
 */
void backend_close(struct backend *b)
{
	if (b->ram)
		munmap(b->ram, b->size);
	if (b->map)
		munmap(b->map, b->map_room);
	free(b->present);
	if (b->fd >= 0)
		close(b->fd);
	b->ram = NULL;
	b->map = NULL;
	b->present = NULL;
	b->fd = -1;
}

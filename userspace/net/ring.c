// SPDX-License-Identifier: GPL-2.0-only
/*
 * ring.c - the shared-memory frame ring between two uvirtio-net peers
 * (layout, trust and wake-up rules in ring.h)
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "copy.h"
#include "ring.h"
#include "shm.h"

_Static_assert(sizeof(struct nr_hdr) <= NR_HDR_SIZE, "header page");
_Static_assert(!(NR_DATA_SIZE & (NR_DATA_SIZE - 1)), "power of two");
_Static_assert(sizeof(struct nr_msg) == 16, "control message size");

#define NR_MASK			(NR_DATA_SIZE - 1)

static uint32_t nr_align(uint32_t n)
{
	return (n + NR_ALIGN - 1) & ~(NR_ALIGN - 1);
}

static uint8_t *nr_data(const struct nring *r)
{
	return (uint8_t *)r->h + NR_HDR_SIZE;
}

/**
 * nring_init() - an empty ring handle
 * @r:		handle
 */
void nring_init(struct nring *r)
{
	memset(r, 0, sizeof(*r));
	r->memfd = -1;
	r->room_fd = -1;
}

/**
 * nring_create() - make a ring to produce into: a sealed memfd, mapped
 * @r:		handle, empty
 * @id:		the ring's number
 *
 * Return: 0 or -errno
 */
int nring_create(struct nring *r, uint64_t id)
{
	void *m;
	int fd, ret;

	fd = memfd_create("uvirtio-net-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, NR_MAP_SIZE) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))
		goto fail;
	m = mmap(NULL, NR_MAP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		goto fail;
	nring_init(r);
	r->h = m;
	r->h->magic = NR_MAGIC;
	r->h->version = NR_VERSION;
	r->h->data_size = NR_DATA_SIZE;
	r->memfd = fd;
	r->id = id;
	return 0;
fail:
	ret = -errno;
	close(fd);
	return ret;
}

/**
 * nr_is_eventfd() - @fd is an eventfd
 * @fd:		descriptor
 *
 * Return: true if so
 */
static bool nr_is_eventfd(int fd)
{
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = '\0';
	return !strcmp(link, "anon_inode:[eventfd]");
}

/**
 * nring_attach() - map a ring a peer offered, to consume from it
 * @r:		handle, empty
 * @memfd:	the ring's memfd (closed here on success)
 * @room_fd:	the peer's eventfd for room (kept on success)
 * @id:		the ring's number
 * @why:	out: what is wrong with the offer, on failure
 *
 * The descriptors come from a peer, so nothing is asked of them that a
 * file system could make wait: the seals are read first (only shmem and
 * hugetlbfs files have them, and their fstat() is local), and only a
 * sealable file is fstat()ed. On failure both descriptors are left open:
 * the caller disposes of them where a close() that blocks (a FUSE file's
 * FLUSH) does no harm.
 *
 * Return: 0, or -EINVAL (a bad offer, see @why), or another -errno
 */
int nring_attach(struct nring *r, int memfd, int room_fd, uint64_t id,
		 const char **why)
{
	struct nr_hdr *h;
	struct stat st;
	int seals, fl;
	void *m;

	nring_init(r);
	*why = NULL;
	seals = fcntl(memfd, F_GET_SEALS);
	if (seals < 0 || fstat(memfd, &st) || !S_ISREG(st.st_mode))
		*why = "not a memfd";
	else if (st.st_size != NR_MAP_SIZE)
		*why = "wrong size";
	else if (!(seals & F_SEAL_SHRINK))
		*why = "not sealed against shrinking";
	else if (!nr_is_eventfd(room_fd))
		*why = "no eventfd for room";
	if (*why)
		return -EINVAL;
	fl = fcntl(room_fd, F_GETFL);
	if (fl < 0 || fcntl(room_fd, F_SETFL, fl | O_NONBLOCK)) {
		*why = "eventfd flags";
		return -EINVAL;
	}
	m = mmap(NULL, NR_MAP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 memfd, 0);
	if (m == MAP_FAILED) {
		*why = "cannot be mapped";
		return -EINVAL;
	}
	h = m;
	if (shm_load32(&h->magic, memory_order_relaxed) != NR_MAGIC ||
	    shm_load32(&h->version, memory_order_relaxed) != NR_VERSION ||
	    shm_load32(&h->data_size, memory_order_relaxed) != NR_DATA_SIZE) {
		munmap(m, NR_MAP_SIZE);
		*why = "unknown layout";
		return -EINVAL;
	}
	close(memfd);
	r->h = h;
	/* The peer may have produced before we mapped it: start where it
	 * says its consumer is, and check that position at the first pop. */
	r->pos = shm_load32(&r->h->cons, memory_order_relaxed);
	r->room_fd = room_fd;
	r->id = id;
	return 0;
}

/**
 * nring_free() - unmap a ring, close its fds
 * @r:		handle (empty afterwards)
 */
void nring_free(struct nring *r)
{
	if (r->h)
		munmap(r->h, NR_MAP_SIZE);
	if (r->memfd >= 0)
		close(r->memfd);
	if (r->room_fd >= 0)
		close(r->room_fd);
	nring_init(r);
}

/**
 * nr_room() - free bytes, from the consumer's position (checked)
 * @r:		producer's handle
 * @mo:		memory order of the load
 *
 * Return: free bytes, or -EPROTO when the consumer's position is impossible
 */
static int64_t nr_room(const struct nring *r, memory_order mo)
{
	uint32_t used = r->pos - shm_load32(&r->h->cons, mo);

	return used > NR_DATA_SIZE ? -EPROTO : (int64_t)(NR_DATA_SIZE - used);
}

/**
 * nring_push() - produce one frame
 * @r:		producer's handle
 * @iov:	the frame
 * @cnt:	entries in @iov
 * @len:	its length
 *
 * Return: 1 when published and the consumer sleeps (send it a bell), 0
 * when published, -EAGAIN when there is no room (@prod_wait is set: the
 * consumer signals the room eventfd), -EMSGSIZE for a frame longer than
 * NR_MAX_LEN, -EPROTO when the consumer's position is impossible
 */
int nring_push(struct nring *r, const struct iovec *iov, unsigned int cnt,
	       size_t len)
{
	struct nr_hdr *h = r->h;
	uint32_t need, off, tail, total, v;
	uint8_t *p;
	int64_t room;
	unsigned int i;

	if (len > NR_MAX_LEN)
		return -EMSGSIZE;
	need = nr_align(NR_REC_HDR + len);
	off = r->pos & NR_MASK;
	tail = NR_DATA_SIZE - off;
	total = need + (tail < need ? tail : 0);
	/* acquire: the consumer's reads of the bytes we reuse are done */
	room = nr_room(r, memory_order_acquire);
	if (room >= 0 && room < total) {
		shm_store32(&h->prod_wait, 1, memory_order_seq_cst);
		room = nr_room(r, memory_order_seq_cst);
		if (room >= total)
			shm_store32(&h->prod_wait, 0, memory_order_relaxed);
		else if (room >= 0)
			return -EAGAIN;
	}
	if (room < 0)
		return -EPROTO;
	if (tail < need) {
		shm_store32((uint32_t *)(nr_data(r) + off), NR_WRAP,
			    memory_order_relaxed);
		r->pos += tail;
		off = 0;
	}
	p = nr_data(r) + off;
	shm_store32((uint32_t *)p, len, memory_order_relaxed);
	p += NR_REC_HDR;
	for (i = 0; i < cnt; i++) {
		uvcopy(p, iov[i].iov_base, iov[i].iov_len);
		p += iov[i].iov_len;
	}
	r->pos += need;
	shm_store32(&h->prod, r->pos, memory_order_release);
	atomic_thread_fence(memory_order_seq_cst);
	v = shm_load32(&h->cons_wait, memory_order_relaxed);
	if (v && atomic_exchange((_Atomic uint32_t *)&h->cons_wait, 0))
		return 1;
	return 0;
}

/**
 * nr_consumed() - publish our position; signal room if the producer waits
 * @r:		consumer's handle
 */
static void nr_consumed(struct nring *r)
{
	struct nr_hdr *h = r->h;
	uint64_t one = 1;

	shm_store32(&h->cons, r->pos, memory_order_release);
	atomic_thread_fence(memory_order_seq_cst);
	if (shm_load32(&h->prod_wait, memory_order_relaxed) &&
	    atomic_exchange((_Atomic uint32_t *)&h->prod_wait, 0) &&
	    write(r->room_fd, &one, sizeof(one)) < 0) {
		/* a saturated counter wakes the producer all the same */
	}
}

/**
 * nr_copy_out() - copy a record's frame into an iovec array
 * @src:	the frame in the ring
 * @len:	its length, no more than the array holds
 * @iov:	array
 * @cnt:	entries
 */
static void nr_copy_out(const uint8_t *src, size_t len,
			const struct iovec *iov, unsigned int cnt)
{
	unsigned int i;
	size_t n;

	for (i = 0; i < cnt && len; i++) {
		n = iov[i].iov_len < len ? iov[i].iov_len : len;
		uvcopy(iov[i].iov_base, src, n);
		src += n;
		len -= n;
	}
}

/**
 * nring_pop() - consume one frame
 * @r:		consumer's handle
 * @iov:	where it goes
 * @cnt:	entries in @iov
 *
 * Return: the frame's length, -EAGAIN when the ring is empty (@cons_wait
 * is set: the producer bells), -EMSGSIZE when the frame did not fit in
 * @iov and was skipped, -EPROTO when the producer broke the layout
 */
int nring_pop(struct nring *r, const struct iovec *iov, unsigned int cnt)
{
	struct nr_hdr *h = r->h;
	uint32_t avail, off, tail, len, need;
	size_t cap = 0;
	unsigned int i;

	for (i = 0; i < cnt; i++)
		cap += iov[i].iov_len;
	for (;;) {
		/* acquire: the records before @prod are written */
		avail = shm_load32(&h->prod, memory_order_acquire) - r->pos;
		if (!avail) {
			shm_store32(&h->cons_wait, 1, memory_order_seq_cst);
			avail = shm_load32(&h->prod, memory_order_seq_cst) -
				r->pos;
			if (!avail)
				return -EAGAIN;
			shm_store32(&h->cons_wait, 0, memory_order_relaxed);
		}
		if (avail > NR_DATA_SIZE || avail % NR_ALIGN)
			return -EPROTO;
		off = r->pos & NR_MASK;
		if (off % NR_ALIGN)
			return -EPROTO;
		tail = NR_DATA_SIZE - off;
		len = shm_load32((uint32_t *)(nr_data(r) + off),
				 memory_order_relaxed);
		if (len == NR_WRAP) {
			if (tail > avail)
				return -EPROTO;
			r->pos += tail;
			nr_consumed(r);
			continue;
		}
		need = nr_align(NR_REC_HDR + len);
		if (len > NR_MAX_LEN || need > avail || need > tail)
			return -EPROTO;
		if (len <= cap)
			nr_copy_out(nr_data(r) + off + NR_REC_HDR, len, iov,
				    cnt);
		r->pos += need;
		nr_consumed(r);
		return len <= cap ? (int)len : -EMSGSIZE;
	}
}

/**
 * nring_stalled() - the consumer has not moved since the last call while
 * frames wait for it
 * @r:		producer's handle
 *
 * Return: true if so (time to ring it, or to find out it is gone)
 */
bool nring_stalled(struct nring *r)
{
	uint32_t cons = shm_load32(&r->h->cons, memory_order_relaxed);
	bool stalled = cons != r->pos && cons == r->last_cons;

	r->last_cons = cons;
	return stalled;
}

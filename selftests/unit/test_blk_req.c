// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_blk_req.c - the virtio-blk request code over hand-made iovecs,
 * its backends, the size parser, and one request through a real ring
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "backend.h"
#include "req.h"
#include "tap.h"
#include "vq.h"

#define SECTORS		64
#define CAP		16

static struct backend be;
static struct blk_dev bd;
static struct iovec scratch[CAP];

/**
 * hdr() - a request header
 * @type:	VIRTIO_BLK_T_*
 * @sector:	first sector
 *
 * Return: the header, little-endian
 */
static struct virtio_blk_outhdr hdr(uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = {
		.type = htole32(type), .sector = htole64(sector),
	};
	return h;
}

/**
 * serve() - run one request
 * @out:	readable iovecs
 * @on:	count
 * @in:		writable iovecs
 * @inn:	count
 * @used:	out: used length
 *
 * Return: blk_req_serve()'s result
 */
static int serve(struct iovec *out, unsigned int on, struct iovec *in,
		 unsigned int inn, uint32_t *used)
{
	return blk_req_serve(&bd, out, on, in, inn, scratch, CAP, used);
}

/**
 * fill() - a recognisable pattern
 * @p:		buffer
 * @len:	bytes
 * @seed:	pattern seed
 */
static void fill(uint8_t *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7);
}

static bool t_read_split_header(void)
{
	struct virtio_blk_outhdr h = hdr(VIRTIO_BLK_T_IN, 3);
	uint8_t data[1024], status = 0xff;
	struct iovec out[2] = { { &h, 10 }, { (uint8_t *)&h + 10, 6 } };
	struct iovec in[4] = {
		{ data, 100 }, { data + 100, 900 }, { data + 1000, 24 },
		{ &status, 1 },
	};
	uint32_t used;

	fill(be.ram + 3 * 512, 1024, 1);
	CHECK(serve(out, 2, in, 4, &used) == VIRTIO_BLK_S_OK);
	CHECK(status == VIRTIO_BLK_S_OK);
	CHECK(used == 1025);
	CHECK(!memcmp(data, be.ram + 3 * 512, 1024));
	return true;
}

static bool t_write_shared_buffer(void)
{
	/* Header and data in one buffer, status alone. */
	uint8_t buf[16 + 512], status = 0xff;
	struct virtio_blk_outhdr h = hdr(VIRTIO_BLK_T_OUT, 10);
	struct iovec out[1] = { { buf, sizeof(buf) } };
	struct iovec in[1] = { { &status, 1 } };
	uint32_t used;

	memcpy(buf, &h, 16);
	fill(buf + 16, 512, 2);
	CHECK(serve(out, 1, in, 1, &used) == VIRTIO_BLK_S_OK);
	CHECK(status == VIRTIO_BLK_S_OK && used == 1);
	CHECK(!memcmp(be.ram + 10 * 512, buf + 16, 512));
	return true;
}

static bool t_status_shares_data(void)
{
	/* Last writable buffer holds the end of the data and the status. */
	struct virtio_blk_outhdr h = hdr(VIRTIO_BLK_T_IN, 0);
	uint8_t data[1025];
	struct iovec out[1] = { { &h, 16 } };
	struct iovec in[2] = { { data, 300 }, { data + 300, 725 } };
	uint32_t used;

	memset(data, 0xee, sizeof(data));
	fill(be.ram, 1024, 3);
	CHECK(serve(out, 1, in, 2, &used) == VIRTIO_BLK_S_OK);
	CHECK(used == 1025 && data[1024] == VIRTIO_BLK_S_OK);
	CHECK(!memcmp(data, be.ram, 1024));
	return true;
}

static bool t_flush(void)
{
	struct virtio_blk_outhdr h = hdr(VIRTIO_BLK_T_FLUSH, 0);
	struct iovec out[1] = { { &h, 16 } };
	uint8_t status = 0xff;
	struct iovec in[1] = { { &status, 1 } };
	uint32_t used;

	CHECK(serve(out, 1, in, 1, &used) == VIRTIO_BLK_S_OK);
	CHECK(status == VIRTIO_BLK_S_OK && used == 1);
	return true;
}

static bool t_get_id(void)
{
	struct virtio_blk_outhdr h = hdr(VIRTIO_BLK_T_GET_ID, 0);
	struct iovec out[1] = { { &h, 16 } };
	uint8_t id[21], small[5];
	struct iovec in[1] = { { id, sizeof(id) } };
	uint32_t used;

	memset(id, 0xee, sizeof(id));
	CHECK(serve(out, 1, in, 1, &used) == VIRTIO_BLK_S_OK);
	CHECK(used == 21 && id[20] == VIRTIO_BLK_S_OK);
	CHECK(!memcmp(id, "serial-1\0\0\0\0\0\0\0\0\0\0\0\0", 20));
	in[0] = (struct iovec){ small, sizeof(small) };
	CHECK(serve(out, 1, in, 1, &used) == VIRTIO_BLK_S_OK);
	CHECK(used == 5 && !memcmp(small, "seri", 4) && small[4] == 0);
	return true;
}

static bool t_unsupported(void)
{
	struct virtio_blk_outhdr h = hdr(VIRTIO_BLK_T_DISCARD, 0);
	struct iovec out[1] = { { &h, 16 } };
	uint8_t status = 0xff;
	struct iovec in[1] = { { &status, 1 } };
	uint32_t used;

	CHECK(serve(out, 1, in, 1, &used) == VIRTIO_BLK_S_UNSUPP);
	CHECK(status == VIRTIO_BLK_S_UNSUPP && used == 1);
	h = hdr(0x12345, 0);
	CHECK(serve(out, 1, in, 1, &used) == VIRTIO_BLK_S_UNSUPP);
	return true;
}

/**
 * read_at() - an IN request of @len bytes at @sector
 * @sector:	first sector
 * @len:	data bytes
 * @used:	out: used length
 *
 * Return: status, or -errno
 */
static int read_at(uint64_t sector, size_t len, uint32_t *used)
{
	static uint8_t data[SECTORS * 512 + 1];
	struct virtio_blk_outhdr h = hdr(VIRTIO_BLK_T_IN, sector);
	struct iovec out[1] = { { &h, 16 } };
	struct iovec in[1] = { { data, len + 1 } };
	int ret = serve(out, 1, in, 1, used);

	if (ret >= 0 && data[len] != ret)
		return -EPROTO;
	return ret;
}

static bool t_range(void)
{
	uint32_t used;

	CHECK(read_at(SECTORS - 1, 512, &used) == VIRTIO_BLK_S_OK);
	CHECK(read_at(0, SECTORS * 512, &used) == VIRTIO_BLK_S_OK);
	CHECK(read_at(SECTORS - 1, 1024, &used) == VIRTIO_BLK_S_IOERR);
	CHECK(used == 1);
	CHECK(read_at(SECTORS, 512, &used) == VIRTIO_BLK_S_IOERR);
	CHECK(read_at(SECTORS, 0, &used) == VIRTIO_BLK_S_OK);
	CHECK(read_at(SECTORS + 1, 0, &used) == VIRTIO_BLK_S_IOERR);
	CHECK(read_at(UINT64_MAX, 512, &used) == VIRTIO_BLK_S_IOERR);
	CHECK(read_at(UINT64_MAX / 512 + 1, 512, &used) == VIRTIO_BLK_S_IOERR);
	return true;
}

static bool t_partial_sector(void)
{
	uint32_t used;

	CHECK(read_at(0, 100, &used) == VIRTIO_BLK_S_IOERR);
	CHECK(read_at(0, 513, &used) == VIRTIO_BLK_S_IOERR);
	return true;
}

static bool t_readonly_write(void)
{
	uint8_t buf[16 + 512], status = 0xff;
	struct virtio_blk_outhdr h = hdr(VIRTIO_BLK_T_OUT, 0);
	struct iovec out[1] = { { buf, sizeof(buf) } };
	struct iovec in[1] = { { &status, 1 } };
	uint32_t used;
	bool ok;

	memcpy(buf, &h, 16);
	memset(buf + 16, 0xab, 512);
	memset(be.ram, 0, 512);
	bd.readonly = true;
	ok = serve(out, 1, in, 1, &used) == VIRTIO_BLK_S_IOERR &&
	     status == VIRTIO_BLK_S_IOERR && be.ram[0] == 0;
	bd.readonly = false;
	CHECK(ok);
	return true;
}

static bool t_malformed(void)
{
	struct virtio_blk_outhdr h = hdr(VIRTIO_BLK_T_IN, 0);
	uint8_t data[512];
	struct iovec out[1] = { { &h, 15 } };
	struct iovec in[1] = { { data, sizeof(data) } };
	uint32_t used = 99;

	CHECK(serve(out, 1, in, 1, &used) == -EBADMSG && used == 0);
	out[0].iov_len = 16;
	CHECK(serve(out, 1, in, 0, &used) == -EBADMSG && used == 0);
	return true;
}

static bool t_file_backend(void)
{
	char path[] = "/tmp/uvirtio-unit-XXXXXX";
	struct blk_dev fbd;
	struct backend fb;
	uint8_t w[16 + 1024], r[1025], status = 0xff;
	struct virtio_blk_outhdr h = hdr(VIRTIO_BLK_T_OUT, 2);
	struct iovec out[1] = { { w, sizeof(w) } };
	struct iovec in[1] = { { &status, 1 } };
	uint32_t used;
	int fd = mkstemp(path);
	bool ok = false;

	if (fd < 0 || ftruncate(fd, 8 * 512) < 0)
		return false;
	close(fd);
	if (backend_open_file(&fb, path, false, false))
		goto out;
	fbd = bd;
	fbd.be = &fb;
	fbd.sectors = 8;
	memcpy(w, &h, 16);
	fill(w + 16, 1024, 4);
	if (blk_req_serve(&fbd, out, 1, in, 1, scratch, CAP, &used) != 0)
		goto out_close;
	h = hdr(VIRTIO_BLK_T_IN, 2);
	out[0] = (struct iovec){ &h, 16 };
	in[0] = (struct iovec){ r, sizeof(r) };
	if (blk_req_serve(&fbd, out, 1, in, 1, scratch, CAP, &used) != 0 ||
	    used != 1025 || memcmp(r, w + 16, 1024))
		goto out_close;
	h = hdr(VIRTIO_BLK_T_FLUSH, 0);
	if (blk_req_serve(&fbd, out, 1, in, 1, scratch, CAP, &used) != 0)
		goto out_close;
	/* The file shrinks behind our back: reads past its end fail. */
	if (truncate(path, 512) < 0)
		goto out_close;
	h = hdr(VIRTIO_BLK_T_IN, 4);
	ok = blk_req_serve(&fbd, out, 1, in, 1, scratch, CAP, &used) ==
	     VIRTIO_BLK_S_IOERR && r[1024] == VIRTIO_BLK_S_IOERR;
out_close:
	backend_close(&fb);
out:
	unlink(path);
	return ok;
}

/* st_blocks of @fd: what the file holds, to see that a read allocated nothing */
static long long file_blocks(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? -1 : (long long)st.st_blocks;
}

/* One read or write of @len bytes at @off through backend_rw()'s callers. */
static int be_io(struct backend *b, uint64_t off, void *buf, size_t len,
		 bool write)
{
	struct iovec iov = { buf, len };

	return write ? backend_write(b, off, &iov, 1) :
		       backend_read(b, off, &iov, 1);
}

/*
 * A file on tmpfs (/dev/shm) mapped whole (--io map): reads and writes
 * are copies through the mapping, but a read of a hole goes by preadv()
 * and allocates nothing; a discard makes its pages holes again; data
 * written around the mapping is read right; a file shrunk under us fails
 * the requests past its end with -EIO (the SIGBUS handler), and the next
 * copies still work. A file elsewhere is not mapped.
 */
static bool t_mapped_file(void)
{
	char path[] = "/dev/shm/uvirtio-unit-XXXXXX";
	char dpath[] = "uvirtio-unit-XXXXXX";
	uint8_t w[8192], r[8192], z[8192] = { 0 };
	struct backend fb, db;
	long long blocks;
	int fd = mkstemp(path), dfd;
	bool ok = false;

	if (fd < 0)
		return false;
	/* one page of data at 16 KiB before the mapping, the rest holes */
	fill(w, sizeof(w), 3);
	if (ftruncate(fd, 64 << 10) < 0 || pwrite(fd, w, 4096, 4 * 4096) != 4096 ||
	    backend_open_file(&fb, path, false, false))
		goto out;
	CHECK_GOTO(backend_on_memfs(&fb), out_close);
	blocks = file_blocks(fd);
	CHECK_GOTO(backend_map(&fb) == 0 && fb.map && fb.map_size == 64 << 10, out_close);
	/* mapping (and filling its page tables) allocated no hole */
	CHECK_GOTO(file_blocks(fd) == blocks, out_close);
	/* the page found by SEEK_DATA is read through the mapping */
	CHECK_GOTO(be_io(&fb, 4 * 4096, r, 4096, false) == BACKEND_MAPPED &&
		   !memcmp(r, w, 4096), out_close);
	/* a hole: read by preadv, zeros, nothing allocated */
	memset(r, 0xaa, sizeof(r));
	CHECK_GOTO(be_io(&fb, 0, r, 8192, false) == 0, out_close);
	CHECK_GOTO(!memcmp(r, z, 8192) && file_blocks(fd) == blocks, out_close);
	/* written through the mapping, seen by pread and read back mapped */
	fill(w, sizeof(w), 7);
	CHECK_GOTO(be_io(&fb, 4096, w, 4096, true) == BACKEND_MAPPED, out_close);
	CHECK_GOTO(pread(fd, r, 4096, 4096) == 4096 && !memcmp(r, w, 4096), out_close);
	memset(r, 0, sizeof(r));
	CHECK_GOTO(be_io(&fb, 4096, r, 4096, false) == BACKEND_MAPPED &&
		   !memcmp(r, w, 4096), out_close);
	/* half hole, half data: preadv, both halves right */
	CHECK_GOTO(be_io(&fb, 0, r, 8192, false) == 0 &&
		   !memcmp(r, z, 4096) && !memcmp(r + 4096, w, 4096), out_close);
	/* written by someone else: not known to be there, read by preadv */
	CHECK_GOTO(pwrite(fd, w + 100, 4096, 3 * 4096) == 4096, out_close);
	CHECK_GOTO(be_io(&fb, 3 * 4096, r, 4096, false) == 0 &&
		   !memcmp(r, w + 100, 4096), out_close);
	/* 512 bytes inside a page: the page is now known */
	CHECK_GOTO(be_io(&fb, 8 * 4096 + 512, w, 512, true) == BACKEND_MAPPED, out_close);
	CHECK_GOTO(be_io(&fb, 8 * 4096, r, 1024, false) == BACKEND_MAPPED &&
		   !memcmp(r, z, 512) && !memcmp(r + 512, w, 512), out_close);
	/* a discard punches the page: zeros again, by preadv, freed */
	blocks = file_blocks(fd);
	CHECK_GOTO(backend_discard(&fb, 4096, 4096) == 0, out_close);
	CHECK_GOTO(file_blocks(fd) < blocks, out_close);
	memset(r, 0xaa, sizeof(r));
	CHECK_GOTO(be_io(&fb, 4096, r, 4096, false) == 0 && !memcmp(r, z, 4096), out_close);
	/* shrunk under us: past the end is -EIO, not a dead process */
	CHECK_GOTO(ftruncate(fd, 8 * 4096) == 0, out_close);
	CHECK_GOTO(be_io(&fb, 8 * 4096 + 512, r, 512, false) == -EIO, out_close);
	CHECK_GOTO(be_io(&fb, 9 * 4096, w, 4096, true) == -EIO, out_close);
	/* and the copies before the end still work */
	CHECK_GOTO(be_io(&fb, 2 * 4096, w, 4096, true) == BACKEND_MAPPED, out_close);
	CHECK_GOTO(be_io(&fb, 2 * 4096, r, 4096, false) == BACKEND_MAPPED &&
		   !memcmp(r, w, 4096), out_close);
	/* a file on a disk file system (the build directory) is not mapped */
	dfd = mkstemp(dpath);
	CHECK_GOTO(dfd >= 0 && ftruncate(dfd, 4096) == 0, out_close);
	close(dfd);
	if (!backend_open_file(&db, dpath, false, false)) {
		ok = backend_map(&db) == (backend_on_memfs(&db) ? 0 : -EOPNOTSUPP);
		backend_close(&db);
	}
	unlink(dpath);
out_close:
	backend_close(&fb);
out:
	close(fd);
	unlink(path);
	return ok;
}

/*
 * A mapped tmpfs file grown underneath (SIGHUP): until backend_map_grow()
 * the new bytes go by system calls; after it, by the mapping, which did
 * not move, and data written there before is known; holes still read by
 * preadv and nothing is allocated; past the room kept for growing, by
 * system calls again. In a child under an RLIMIT_AS, room as far as the
 * limit spares it; with nothing to spare none: the file is still mapped,
 * and growing says it cannot.
 */
static bool t_mapped_grow(void)
{
	char path[] = "/dev/shm/uvirtio-unit-XXXXXX";
	uint8_t w[4096], r[4096], z[4096] = { 0 };
	struct backend fb;
	long long blocks;
	uint8_t *map;
	int fd = mkstemp(path), status;
	bool ok = false;
	pid_t pid;

	if (fd < 0)
		return false;
	fill(w, sizeof(w), 5);
	if (ftruncate(fd, 64 << 10) < 0 || pwrite(fd, w, 4096, 4096) != 4096 ||
	    backend_open_file(&fb, path, false, false))
		goto out;
	CHECK_GOTO(backend_map(&fb) == 0, out_close);
	CHECK_GOTO(fb.map_room == (64 << 10) + (1ULL << 30), out_close);
	map = fb.map;
	/* grown: the new bytes go by system calls until the mapping grows */
	CHECK_GOTO(ftruncate(fd, 256 << 10) == 0 && backend_refresh_size(&fb) == 0,
		   out_close);
	CHECK_GOTO(be_io(&fb, 128 << 10, w, 4096, true) == 0, out_close);
	blocks = file_blocks(fd);
	CHECK_GOTO(backend_map_grow(&fb) == 0 && fb.map == map &&
		   fb.map_size == 256 << 10, out_close);
	/* growing allocated nothing */
	CHECK_GOTO(file_blocks(fd) == blocks, out_close);
	/* what was written before is known to be there: mapped */
	memset(r, 0, sizeof(r));
	CHECK_GOTO(be_io(&fb, 128 << 10, r, 4096, false) == BACKEND_MAPPED &&
		   !memcmp(r, w, 4096), out_close);
	/* a hole of the new part: preadv, zeros, nothing allocated */
	memset(r, 0xaa, sizeof(r));
	CHECK_GOTO(be_io(&fb, 192 << 10, r, 4096, false) == 0 &&
		   !memcmp(r, z, 4096) && file_blocks(fd) == blocks, out_close);
	/* a write there goes through the mapping and reaches the file */
	fill(w, sizeof(w), 9);
	CHECK_GOTO(be_io(&fb, 200 << 10, w, 4096, true) == BACKEND_MAPPED, out_close);
	CHECK_GOTO(pread(fd, r, 4096, 200 << 10) == 4096 && !memcmp(r, w, 4096),
		   out_close);
	/* the old part is still mapped */
	CHECK_GOTO(be_io(&fb, 4096, r, 4096, false) == BACKEND_MAPPED, out_close);
	/* past the room: mapped up to it, the rest by system calls */
	CHECK_GOTO(ftruncate(fd, fb.map_room + (64 << 10)) == 0 &&
		   backend_refresh_size(&fb) == 0, out_close);
	CHECK_GOTO(backend_map_grow(&fb) == -EFBIG && fb.map_size == fb.map_room,
		   out_close);
	CHECK_GOTO(be_io(&fb, fb.map_room - 4096, w, 4096, true) == BACKEND_MAPPED,
		   out_close);
	CHECK_GOTO(be_io(&fb, fb.map_room + 4096, w, 4096, true) == 0 &&
		   pread(fd, r, 4096, fb.map_room + 4096) == 4096 &&
		   !memcmp(r, w, 4096), out_close);
	/* shrunk again: the grown part fails with -EIO, not a dead process */
	CHECK_GOTO(ftruncate(fd, 160 << 10) == 0, out_close);
	CHECK_GOTO(be_io(&fb, 200 << 10, r, 4096, false) == -EIO, out_close);
	backend_close(&fb);

	/*
	 * An address space limit: room only as far as the limit spares it
	 * beyond 1 GiB for the rest of the process, half of what is left;
	 * with nothing to spare, none, and growing says -EFBIG.
	 */
	CHECK_GOTO(ftruncate(fd, 4 << 20) == 0, out);
	pid = fork();
	if (!pid) {
		/* limits above the present size: room to spare, in MiB */
		static const struct { unsigned int above; uint64_t lo, hi; } lim[] = {
			{ 4096, 1024, 1024 },	/* all it wants: the file and 1 GiB */
			{ 2048, 400, 520 },	/* about (2 GiB - 4 MiB - 1 GiB) / 2 */
			{ 64, 0, 0 },		/* none */
		};
		struct rlimit rl;
		unsigned long vsz;
		unsigned int i;
		FILE *f;

		for (i = 0; i < sizeof(lim) / sizeof(lim[0]); i++) {
			f = fopen("/proc/self/statm", "r");
			if (!f || fscanf(f, "%lu", &vsz) != 1)
				_exit(2);
			fclose(f);
			if (getrlimit(RLIMIT_AS, &rl))
				_exit(2);
			rl.rlim_cur = vsz * sysconf(_SC_PAGESIZE) +
				      ((uint64_t)lim[i].above << 20);
			if (setrlimit(RLIMIT_AS, &rl) ||
			    backend_open_file(&fb, path, false, false) ||
			    backend_map(&fb) ||
			    fb.map_room < (4 << 20) + (lim[i].lo << 20) ||
			    fb.map_room > (4 << 20) + (lim[i].hi << 20))
				_exit(10 + i);
			if (ftruncate(fd, 8 << 20) || backend_refresh_size(&fb) ||
			    backend_map_grow(&fb) != (lim[i].hi ? 0 : -EFBIG) ||
			    fb.map_size != (lim[i].hi ? 8 << 20 : 4 << 20) ||
			    be_io(&fb, 4 << 20, w, 4096, true) !=
				    (lim[i].hi ? BACKEND_MAPPED : 0))
				_exit(20 + i);
			backend_close(&fb);
			if (ftruncate(fd, 4 << 20))
				_exit(2);
		}
		_exit(0);
	}
	CHECK_GOTO(pid > 0 && waitpid(pid, &status, 0) == pid &&
		   WIFEXITED(status) && WEXITSTATUS(status) == 0, out);
	ok = true;
	goto out;
out_close:
	backend_close(&fb);
out:
	close(fd);
	unlink(path);
	return ok;
}

/* io_uring completions: short transfers and transient errors go on */
static bool t_io_progress(void)
{
	uint64_t done = 0;
	unsigned int tries = 0, i;

	/* a read of 8192 that moves 4096, then 1000, then the rest */
	CHECK_EQ(blk_io_progress(VIRTIO_BLK_T_IN, 4096, 8192, &done, &tries),
		 BLK_IO_AGAIN);
	CHECK_EQ(done, 4096);
	CHECK_EQ(blk_io_progress(VIRTIO_BLK_T_IN, 1000, 8192, &done, &tries),
		 BLK_IO_AGAIN);
	CHECK_EQ(blk_io_progress(VIRTIO_BLK_T_IN, 3096, 8192, &done, &tries),
		 BLK_IO_DONE);
	CHECK_EQ(done, 8192);
	CHECK_EQ(tries, 0);
	/* -EAGAIN and -EINTR are tried again, a bounded number of times */
	done = 0;
	for (i = 0; i < BLK_IO_RETRIES; i++)
		CHECK_EQ(blk_io_progress(VIRTIO_BLK_T_OUT,
					 i & 1 ? -EINTR : -EAGAIN, 512, &done,
					 &tries), BLK_IO_AGAIN);
	CHECK_EQ(blk_io_progress(VIRTIO_BLK_T_OUT, -EAGAIN, 512, &done, &tries),
		 BLK_IO_FAILED);
	/* a write moving nothing at all counts as no progress too */
	done = tries = 0;
	CHECK_EQ(blk_io_progress(VIRTIO_BLK_T_OUT, 0, 512, &done, &tries),
		 BLK_IO_AGAIN);
	CHECK_EQ(tries, 1);
	/* real errors, and more than asked, fail at once */
	done = tries = 0;
	CHECK_EQ(blk_io_progress(VIRTIO_BLK_T_IN, -EIO, 512, &done, &tries),
		 BLK_IO_FAILED);
	CHECK_EQ(blk_io_progress(VIRTIO_BLK_T_IN, -ENOSPC, 512, &done, &tries),
		 BLK_IO_FAILED);
	CHECK_EQ(blk_io_progress(VIRTIO_BLK_T_IN, 1024, 512, &done, &tries),
		 BLK_IO_FAILED);
	/* flush: 0 is done, EAGAIN retried, errors fail */
	done = tries = 0;
	CHECK_EQ(blk_io_progress(VIRTIO_BLK_T_FLUSH, 0, 0, &done, &tries),
		 BLK_IO_DONE);
	CHECK_EQ(blk_io_progress(VIRTIO_BLK_T_FLUSH, -EAGAIN, 0, &done, &tries),
		 BLK_IO_AGAIN);
	CHECK_EQ(blk_io_progress(VIRTIO_BLK_T_FLUSH, -EIO, 0, &done, &tries),
		 BLK_IO_FAILED);
	return true;
}

/**
 * parse_dealloc() - blk_req_parse() of a DISCARD or WRITE_ZEROES
 * @d:		disk
 * @type:	VIRTIO_BLK_T_DISCARD or _WRITE_ZEROES
 * @segs:	segments
 * @n:		their number
 * @ri:		out: the request
 *
 * Return: blk_req_parse()'s result
 */
static int parse_dealloc(struct blk_dev *d, uint32_t type,
			 const struct virtio_blk_discard_write_zeroes *segs,
			 unsigned int n, struct blk_req_info *ri)
{
	struct virtio_blk_outhdr h = hdr(type, 0);
	struct iovec out[2] = { { &h, 16 }, { (void *)segs, n * sizeof(*segs) } };
	uint8_t status;
	struct iovec in[1] = { { &status, 1 } };

	memset(ri, 0, sizeof(*ri));
	return blk_req_parse(d, out, n ? 2 : 1, in, 1, scratch, CAP, ri);
}

/* one-segment DISCARD / WRITE_ZEROES go to io_uring; the rest stay inline */
static bool t_dealloc_parse(void)
{
	struct virtio_blk_discard_write_zeroes seg[2] = {
		{ .sector = htole64(8), .num_sectors = htole32(16) },
		{ .sector = htole64(40), .num_sectors = htole32(8) },
	};
	struct blk_dev d = bd;
	struct blk_req_info ri;

	d.discard = d.write_zeroes = true;
	CHECK_EQ(parse_dealloc(&d, VIRTIO_BLK_T_DISCARD, seg, 1, &ri), 0);
	CHECK(ri.sector == 8 && ri.len == 16 * 512 && ri.data_num == 0);
	seg[0].flags = htole32(VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	CHECK_EQ(parse_dealloc(&d, VIRTIO_BLK_T_WRITE_ZEROES, seg, 1, &ri), 0);
	CHECK(ri.type == VIRTIO_BLK_T_WRITE_ZEROES && ri.len == 16 * 512);
	/* UNMAP means nothing to a discard; unknown flags to either */
	CHECK_EQ(parse_dealloc(&d, VIRTIO_BLK_T_DISCARD, seg, 1, &ri), 1);
	seg[0].flags = htole32(2);
	CHECK_EQ(parse_dealloc(&d, VIRTIO_BLK_T_WRITE_ZEROES, seg, 1, &ri), 1);
	seg[0].flags = 0;
	/* two segments, none, zero sectors, past the end, or not offered */
	CHECK_EQ(parse_dealloc(&d, VIRTIO_BLK_T_DISCARD, seg, 2, &ri), 1);
	CHECK_EQ(parse_dealloc(&d, VIRTIO_BLK_T_DISCARD, seg, 0, &ri), 1);
	seg[1].num_sectors = 0;
	CHECK_EQ(parse_dealloc(&d, VIRTIO_BLK_T_DISCARD, seg + 1, 1, &ri), 1);
	seg[1].num_sectors = htole32(SECTORS - 39);
	CHECK_EQ(parse_dealloc(&d, VIRTIO_BLK_T_DISCARD, seg + 1, 1, &ri), 1);
	d.discard = false;
	CHECK_EQ(parse_dealloc(&d, VIRTIO_BLK_T_DISCARD, seg, 1, &ri), 1);
	d.readonly = true;
	CHECK_EQ(parse_dealloc(&d, VIRTIO_BLK_T_WRITE_ZEROES, seg, 1, &ri), 1);
	/* a finished hole punch (0) completes the request */
	CHECK_EQ(blk_io_progress(VIRTIO_BLK_T_DISCARD, 0, 8192,
				 &(uint64_t){ 0 }, &(unsigned int){ 0 }),
		 BLK_IO_DONE);
	return true;
}

/* RAM disk: zeroing gives pages back and keeps the bytes around them */
static bool t_ram_zero(void)
{
	struct backend rb;
	uint8_t *p;
	bool ok;

	if (backend_open_ram(&rb, 64 * 1024))
		return false;
	p = rb.ram;
	memset(p, 0xa5, 64 * 1024);
	ok = backend_write_zeroes(&rb, 1000, 3 * 4096 + 10) == 0;
	for (size_t i = 0; ok && i < 64 * 1024; i++)
		ok = p[i] == (i >= 1000 && i < 1000 + 3 * 4096 + 10 ? 0 : 0xa5);
	backend_close(&rb);
	return ok;
}

/* the remainder of a short transfer, in the request's own iovecs */
static bool t_iov_advance(void)
{
	uint8_t buf[4096];
	struct iovec v[3] = {
		{ buf, 512 }, { buf + 1024, 1024 }, { buf + 3072, 512 },
	};
	unsigned int n = 3;

	n = blk_iov_advance(v, n, 100);
	CHECK_EQ(n, 3);
	CHECK(v[0].iov_base == buf + 100 && v[0].iov_len == 412);
	n = blk_iov_advance(v, n, 412 + 24);
	CHECK_EQ(n, 2);
	CHECK(v[0].iov_base == buf + 1048 && v[0].iov_len == 1000);
	CHECK(v[1].iov_base == buf + 3072 && v[1].iov_len == 512);
	n = blk_iov_advance(v, n, 1000);
	CHECK_EQ(n, 1);
	CHECK(v[0].iov_base == buf + 3072 && v[0].iov_len == 512);
	n = blk_iov_advance(v, n, 512);
	CHECK_EQ(n, 0);
	return true;
}

static bool t_parse_size(void)
{
	uint64_t v;

	CHECK(!args_parse_size("512", &v) && v == 512);
	CHECK(!args_parse_size("64M", &v) && v == 64ULL << 20);
	CHECK(!args_parse_size("1k", &v) && v == 1024);
	CHECK(!args_parse_size("2G", &v) && v == 2ULL << 30);
	CHECK(!args_parse_size("16T", &v) && v == 16ULL << 40);
	CHECK(!args_parse_size("18446744073709551615", &v) && v == UINT64_MAX);
	CHECK(args_parse_size("18446744073709551616", &v) == -ERANGE);
	CHECK(args_parse_size("16777216T", &v) == -ERANGE);
	CHECK(args_parse_size("", &v) == -EINVAL);
	CHECK(args_parse_size("-1", &v) == -EINVAL);
	CHECK(args_parse_size(" 1", &v) == -EINVAL);
	CHECK(args_parse_size("1KB", &v) == -EINVAL);
	CHECK(args_parse_size("0x10", &v) == -EINVAL);
	CHECK(args_parse_u64("256", &v) == 0 && v == 256);
	CHECK(args_parse_u64("256k", &v) == -EINVAL);
	return true;
}

static bool t_through_ring(void)
{
	/*
	 * A read request as virtio_blk sends it, through uvq_pop(): the
	 * used length written to the shadow ring is data + status.
	 */
	enum { DESC = 4096, AVAIL = 8192, USED = 12288, SHADOW = 16384,
	       BOUNCE = 65536, SIZE = 1 << 20 };
	uint8_t *mem = aligned_alloc(4096, SIZE);
	struct vring_desc *d = (void *)(mem + DESC);
	struct uvirtio_shadow *sh = (void *)(mem + SHADOW);
	struct virtio_blk_outhdr h = hdr(VIRTIO_BLK_T_IN, 1);
	struct uvq_params p = {
		.base = mem, .size = SIZE, .bounce_offset = BOUNCE,
		.bounce_size = SIZE - BOUNCE, .num = 4, .queue_size = 4,
		.epoch = 1,
		.desc_offset = DESC, .avail_offset = AVAIL,
		.used_offset = USED, .shadow_offset = SHADOW, .call_fd = -1,
	};
	struct iovec iov[8];
	struct uvq_elem e;
	struct uvq vq;
	uint32_t used;
	uint16_t one = htole16(1);
	bool ok;

	if (!mem)
		return false;
	memset(mem, 0, SIZE);
	memcpy(mem + BOUNCE, &h, 16);
	d[0] = (struct vring_desc){ htole64(BOUNCE), htole32(16),
				    htole16(VRING_DESC_F_NEXT), htole16(1) };
	d[1] = (struct vring_desc){ htole64(BOUNCE + 4096), htole32(512),
				    htole16(VRING_DESC_F_NEXT |
					    VRING_DESC_F_WRITE), htole16(2) };
	d[2] = (struct vring_desc){ htole64(BOUNCE + 8192), htole32(1),
				    htole16(VRING_DESC_F_WRITE), 0 };
	memcpy(mem + AVAIL + 2, &one, 2);	/* idx 1, ring[0] = head 0 */
	fill(be.ram + 512, 512, 5);

	uvq_elem_init(&e, iov, 8);
	ok = !uvq_init(&vq, &p) && uvq_pop(&vq, &e) == 1 && !e.err &&
	     blk_req_serve(&bd, e.iov, e.out_num, uvq_elem_in(&e), e.in_num,
			   scratch, CAP, &used) == VIRTIO_BLK_S_OK &&
	     !uvq_push(&vq, &e, used) && uvq_flush(&vq) == 1 &&
	     sh->idx == 1 && sh->ring[0].id == 0 && sh->ring[0].len == 513 &&
	     !memcmp(mem + BOUNCE + 4096, be.ram + 512, 512) &&
	     mem[BOUNCE + 8192] == VIRTIO_BLK_S_OK;
	free(mem);
	return ok;
}

/*
 * A null disk writes no data: its reads report the status byte alone, so
 * that a module told the used length counts what was written
 * (UVIRTIO_CREATE_F_USED_LEN) hands the reader zeros, not the buffer's
 * earlier bytes. RAM reads report all of theirs.
 */
static bool t_used_len_null(void)
{
	struct virtio_blk_outhdr h = hdr(VIRTIO_BLK_T_IN, 1);
	uint8_t data[512], status = 0xff;
	struct iovec out[1] = { { &h, sizeof(h) } };
	struct iovec in[2] = { { data, sizeof(data) }, { &status, 1 } };
	struct blk_dev saved = bd;
	struct backend null;
	uint32_t used;
	bool ok;

	CHECK(serve(out, 1, in, 2, &used) == VIRTIO_BLK_S_OK);
	CHECK(used == sizeof(data) + 1 && backend_fills(&be));
	CHECK(backend_open_null(&null, SECTORS * 512) == 0);
	bd.be = &null;
	memset(data, 0xa5, sizeof(data));
	status = 0xff;
	ok = serve(out, 1, in, 2, &used) == VIRTIO_BLK_S_OK &&
	     status == VIRTIO_BLK_S_OK && used == 1 && !backend_fills(&null) &&
	     data[0] == 0xa5;
	bd = saved;
	backend_close(&null);
	CHECK(ok);
	return true;
}

static const struct tap_test tests[] = {
	{ t_read_split_header,	"read, header split over two buffers" },
	{ t_write_shared_buffer, "write, header and data in one buffer" },
	{ t_status_shares_data,	"status byte shares a buffer with data" },
	{ t_flush,		"flush" },
	{ t_get_id,		"GET_ID, full and short buffer" },
	{ t_unsupported,	"unknown types -> UNSUPP" },
	{ t_range,		"out-of-range sectors -> IOERR, no overflow" },
	{ t_partial_sector,	"length not a multiple of 512 -> IOERR" },
	{ t_readonly_write,	"write to a read-only disk -> IOERR" },
	{ t_malformed,		"no whole header or no status byte -> EBADMSG" },
	{ t_file_backend,	"file backend: write, read, flush, short file" },
	{ t_mapped_file,	"tmpfs file mapped: holes by preadv, discards, shrinking" },
	{ t_mapped_grow,	"tmpfs file mapped: grown underneath, past the room" },
	{ t_parse_size,		"size and number parsing" },
	{ t_io_progress,	"io_uring: short transfers and EAGAIN go on" },
	{ t_iov_advance,	"io_uring: the remainder's iovecs" },
	{ t_dealloc_parse,	"io_uring: one-segment discard and write-zeroes" },
	{ t_ram_zero,		"RAM disk: write-zeroes drops whole pages only" },
	{ t_used_len_null,	"null disk reads report the status byte alone" },
	{ t_through_ring,	"a read request through the ring" },
};

/**
 * main() - run the table
 *
 * Return: 0 if all passed, else 1
 */
int main(void)
{
	int ret;

	if (backend_open_ram(&be, SECTORS * 512)) {
		printf("Bail out! no memory\n");
		return 1;
	}
	bd.be = &be;
	bd.sectors = SECTORS;
	memcpy(bd.serial, "serial-1", 8);

	ret = tap_run_table(tests, sizeof(tests) / sizeof(tests[0]));
	backend_close(&be);
	return ret;
}

/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * backend.h - where uvirtio-blk's bytes live: RAM, a file or a block device
 *
 * A backend knows its I/O, not virtio: byte offsets and iovecs in, -errno out.
 */
#ifndef UVIRTIO_BLK_BACKEND_H
#define UVIRTIO_BLK_BACKEND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

enum backend_type {
	BACKEND_NULL,
	BACKEND_RAM,
	BACKEND_FILE,
	BACKEND_BDEV,
};

/**
 * struct backend - an open backing store
 * @type:	BACKEND_*
 * @fd:		file or block device, -1 for RAM and null
 * @ram:	RAM disk contents, NULL otherwise
 * @size:	bytes
 * @readonly:	opened read-only
 * @direct:	opened with O_DIRECT
 * @map:	a file on a memory file system mapped whole (backend_map()),
 *		else NULL
 * @map_size:	its bytes: the file's size when it was mapped or last grew
 *		(backend_map_grow()), at most @map_room; queue threads load it
 *		with acquire
 * @map_room:	address space kept at @map for the file to grow into
 * @present:	one bit per page of @map: set where the file is known to
 *		hold the page (not a hole), so that a read through @map
 *		allocates nothing
 * @page_shift:	log2 of the page size
 */
struct backend {
	enum backend_type type;
	int fd;
	uint8_t *ram;
	uint64_t size;
	bool readonly;
	bool direct;
	uint8_t *map;
	_Atomic uint64_t map_size;
	uint64_t map_room;
	_Atomic uint64_t *present;
	unsigned int page_shift;
};

/* backend_read() and backend_write(): served by copying through @map */
#define BACKEND_MAPPED	1

int backend_open_ram(struct backend *b, uint64_t size);
int backend_open_null(struct backend *b, uint64_t size);
int backend_open_file(struct backend *b, const char *path, bool readonly,
		      bool direct);
int backend_refresh_size(struct backend *b);
bool backend_on_memfs(const struct backend *b);
int backend_map(struct backend *b);
int backend_map_grow(struct backend *b);
void backend_punching(struct backend *b, uint64_t off, uint64_t len);
int backend_read(struct backend *b, uint64_t off, struct iovec *iov,
		 unsigned int cnt);
int backend_write(struct backend *b, uint64_t off, struct iovec *iov,
		  unsigned int cnt);
int backend_flush(struct backend *b);
bool backend_fills(const struct backend *b);
int backend_discard(struct backend *b, uint64_t off, uint64_t len);
int backend_write_zeroes(struct backend *b, uint64_t off, uint64_t len);
void backend_close(struct backend *b);

#endif /* UVIRTIO_BLK_BACKEND_H */

// SPDX-License-Identifier: GPL-2.0-only
/*
 * req.c - serve one virtio-blk request described by iovecs
 *
 * A request is a 16-byte struct virtio_blk_outhdr at the start of the
 * device-readable bytes, data (readable for writes, writable for reads),
 * and a status byte as the very last writable byte. Nothing is assumed
 * about how those pieces fall on buffers: the header may be split, or share
 * a buffer with the data, so everything goes through an iovec cursor.
 */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "iovc.h"
#include "req.h"

/**
 * blk_range_ok() - is a transfer inside the disk
 * @bd:		disk
 * @sector:	first sector
 * @len:	bytes
 *
 * Return: true if @len is whole sectors and all of them exist
 */
static bool blk_range_ok(const struct blk_dev *bd, uint64_t sector,
			 uint64_t len)
{
	uint64_t sectors = atomic_load_explicit(&bd->sectors,
						memory_order_relaxed);

	if (len % BLK_SECTOR_SIZE)
		return false;
	return sector <= sectors && len / BLK_SECTOR_SIZE <= sectors - sector;
}

/**
 * blk_dealloc_seg() - decode and check one DISCARD / WRITE_ZEROES segment
 * @bd:		disk
 * @seg:	the segment as the driver wrote it
 * @zero:	WRITE_ZEROES (which may carry the UNMAP flag; DISCARD none)
 * @sector:	out: first sector
 * @len:	out: bytes
 *
 * Return: VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP for flags this device does
 * not know, VIRTIO_BLK_S_IOERR for a range outside the disk
 */
static int blk_dealloc_seg(const struct blk_dev *bd,
			   const struct virtio_blk_discard_write_zeroes *seg,
			   bool zero, uint64_t *sector, uint64_t *len)
{
	uint32_t flags = le32toh(seg->flags);

	if (flags & ~(zero ? (uint32_t)VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0))
		return VIRTIO_BLK_S_UNSUPP;
	*sector = le64toh(seg->sector);
	*len = (uint64_t)le32toh(seg->num_sectors) * BLK_SECTOR_SIZE;
	return blk_range_ok(bd, *sector, *len) ? VIRTIO_BLK_S_OK :
						 VIRTIO_BLK_S_IOERR;
}

/**
 * blk_dealloc() - serve DISCARD or WRITE_ZEROES: every segment of the
 * request's readable part after the header
 * @bd:		disk
 * @c:		cursor after the header
 * @zero:	WRITE_ZEROES
 *
 * Return: VIRTIO_BLK_S_OK, VIRTIO_BLK_S_IOERR, or VIRTIO_BLK_S_UNSUPP for
 * flags this device does not know
 */
static int blk_dealloc(struct blk_dev *bd, struct iovc *c, bool zero)
{
	struct virtio_blk_discard_write_zeroes seg;
	uint64_t sector, len;
	int ret, n = 0;

	if (bd->readonly)
		return VIRTIO_BLK_S_IOERR;
	while (iovc_read(c, &seg, sizeof(seg)) == sizeof(seg)) {
		n++;
		ret = blk_dealloc_seg(bd, &seg, zero, &sector, &len);
		if (ret != VIRTIO_BLK_S_OK)
			return ret;
		if (zero)
			ret = backend_write_zeroes(bd->be,
						   sector * BLK_SECTOR_SIZE, len);
		else
			ret = backend_discard(bd->be, sector * BLK_SECTOR_SIZE,
					      len);
		if (ret)
			return VIRTIO_BLK_S_IOERR;
	}
	return n ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
}

/**
 * blk_dealloc_parse() - decode a DISCARD or WRITE_ZEROES for the
 * asynchronous path
 * @bd:		disk
 * @c:		cursor after the header
 * @ri:		the request; @ri->sector and @ri->len become the range
 *
 * Only the plain case goes there: one segment (the device offers
 * max_discard_seg = max_write_zeroes_seg = 1), flags this device serves,
 * inside the disk, the feature on. Everything else, errors included, is
 * blk_dealloc()'s.
 *
 * Return: 0 for the asynchronous path, 1 for blk_req_serve_info()
 */
static int blk_dealloc_parse(const struct blk_dev *bd, struct iovc *c,
			     struct blk_req_info *ri)
{
	bool zero = ri->type == VIRTIO_BLK_T_WRITE_ZEROES;
	struct virtio_blk_discard_write_zeroes seg;

	if (bd->readonly || !(zero ? bd->write_zeroes : bd->discard))
		return 1;
	if (iovc_left(c) != sizeof(seg) ||
	    iovc_read(c, &seg, sizeof(seg)) != sizeof(seg))
		return 1;
	if (blk_dealloc_seg(bd, &seg, zero, &ri->sector, &ri->len) !=
	    VIRTIO_BLK_S_OK || !ri->len)
		return 1;
	ri->data_num = 0;
	return 0;
}

/**
 * blk_transfer() - read or write the data part of a request
 * @bd:		disk
 * @c:		cursor at the first data byte
 * @len:	data bytes
 * @sector:	first sector
 * @write:	OUT (true) or IN
 * @scratch:	iovecs for the data part
 * @cap:	entries in @scratch
 * @mapped:	out: set if the data went through the file's mapping
 *
 * Return: VIRTIO_BLK_S_OK or VIRTIO_BLK_S_IOERR
 */
static int blk_transfer(struct blk_dev *bd, struct iovc *c, uint64_t len,
			uint64_t sector, bool write, struct iovec *scratch,
			unsigned int cap, bool *mapped)
{
	int n, ret;

	if (!blk_range_ok(bd, sector, len))
		return VIRTIO_BLK_S_IOERR;
	if (!len)
		return VIRTIO_BLK_S_OK;
	n = iovc_slice(c, len, scratch, cap);
	if (n < 0)
		return VIRTIO_BLK_S_IOERR;
	if (write)
		ret = backend_write(bd->be, sector * BLK_SECTOR_SIZE, scratch, n);
	else
		ret = backend_read(bd->be, sector * BLK_SECTOR_SIZE, scratch, n);
	*mapped = ret == BACKEND_MAPPED;
	return ret < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

/**
 * blk_req_header() - read a request's header, once
 * @out:	device-readable buffers
 * @out_num:	entries in @out
 * @in:		device-writable buffers
 * @in_num:	entries in @in
 * @ri:		out: zeroed, then @type, @sector and @status filled in
 *
 * The header lives in memory the driver can still write: it is copied
 * out once here, and everything after looks only at the copy.
 *
 * Return: 0, or -EBADMSG if there is no whole header or no writable byte
 * for the status
 */
static int blk_req_header(const struct iovec *out, unsigned int out_num,
			  const struct iovec *in, unsigned int in_num,
			  struct blk_req_info *ri)
{
	struct virtio_blk_outhdr hdr;
	struct iovc oc;

	memset(ri, 0, sizeof(*ri));
	iovc_init(&oc, out, out_num);
	if (!iovc_size(in, in_num) ||
	    iovc_read(&oc, &hdr, sizeof(hdr)) != sizeof(hdr))
		return -EBADMSG;
	ri->type = le32toh(hdr.type);
	ri->sector = le64toh(hdr.sector);
	ri->status = (uint8_t *)in[in_num - 1].iov_base +
		     in[in_num - 1].iov_len - 1;
	return 0;
}

/**
 * blk_req_serve() - execute one request and write its status byte
 * @bd:		disk
 * @out:	device-readable buffers
 * @out_num:	entries in @out
 * @in:		device-writable buffers
 * @in_num:	entries in @in
 * @scratch:	iovecs to describe the data part; at least as many as the
 *		larger of @out_num and @in_num
 * @scratch_cap: entries in @scratch
 * @used_len:	out: bytes written into @in, status byte included
 *
 * Unknown request types get VIRTIO_BLK_S_UNSUPP; a transfer outside the
 * disk, of a length that is not whole sectors, a write to a read-only disk
 * and any backend error get VIRTIO_BLK_S_IOERR.
 *
 * Return: the VIRTIO_BLK_S_* status written, or -EBADMSG if there is no
 * whole header or no writable byte for the status: then nothing was
 * written and *@used_len is 0
 */
int blk_req_serve(struct blk_dev *bd, const struct iovec *out,
		  unsigned int out_num, const struct iovec *in,
		  unsigned int in_num, struct iovec *scratch,
		  unsigned int scratch_cap, uint32_t *used_len)
{
	struct blk_req_info ri;

	*used_len = 0;
	if (blk_req_header(out, out_num, in, in_num, &ri))
		return -EBADMSG;
	return blk_req_serve_info(bd, &ri, out, out_num, in, in_num, scratch,
				  scratch_cap, used_len);
}

/**
 * blk_req_serve_info() - execute a request whose header blk_req_parse()
 * (or blk_req_serve()) already read, and write its status byte
 * @bd:		disk
 * @ri:		the request's @type and @sector; @mapped is set here
 * @out:	device-readable buffers (the header is skipped, not read)
 * @out_num:	entries in @out
 * @in:		device-writable buffers, at least one byte
 * @in_num:	entries in @in
 * @scratch:	iovecs to describe the data part
 * @scratch_cap: entries in @scratch
 * @used_len:	out: bytes written into @in, status byte included
 *
 * Return: the VIRTIO_BLK_S_* status written
 */
int blk_req_serve_info(struct blk_dev *bd, struct blk_req_info *ri,
		       const struct iovec *out, unsigned int out_num,
		       const struct iovec *in, unsigned int in_num,
		       struct iovec *scratch, unsigned int scratch_cap,
		       uint32_t *used_len)
{
	size_t in_len = iovc_size(in, in_num);
	size_t data_in = 0, id_len;
	uint64_t sector = ri->sector;
	struct iovc oc, ic;
	uint8_t status;

	iovc_init(&oc, out, out_num);
	iovc_skip(&oc, sizeof(struct virtio_blk_outhdr));
	iovc_init(&ic, in, in_num);

	switch (ri->type) {
	case VIRTIO_BLK_T_IN:
		status = blk_transfer(bd, &ic, in_len - 1, sector, false,
				      scratch, scratch_cap, &ri->mapped);
		if (status == VIRTIO_BLK_S_OK && backend_fills(bd->be))
			data_in = in_len - 1;
		break;
	case VIRTIO_BLK_T_OUT:
		if (bd->readonly) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		status = blk_transfer(bd, &oc, iovc_left(&oc), sector, true,
				      scratch, scratch_cap, &ri->mapped);
		break;
	case VIRTIO_BLK_T_FLUSH:
		status = backend_flush(bd->be) ? VIRTIO_BLK_S_IOERR :
						 VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_DISCARD:
		status = bd->discard ? blk_dealloc(bd, &oc, false) :
				       VIRTIO_BLK_S_UNSUPP;
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		status = bd->write_zeroes ? blk_dealloc(bd, &oc, true) :
					    VIRTIO_BLK_S_UNSUPP;
		break;
	case VIRTIO_BLK_T_GET_ID:
		id_len = in_len - 1;
		if (id_len > sizeof(bd->serial))
			id_len = sizeof(bd->serial);
		data_in = iovc_write(&ic, bd->serial, id_len);
		status = VIRTIO_BLK_S_OK;
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}

	/* The status byte is the last writable byte, wherever data ended. */
	iovc_init(&ic, in, in_num);
	iovc_skip(&ic, in_len - 1);
	iovc_write(&ic, &status, 1);
	*used_len = data_in + 1;
	return status;
}

/**
 * blk_req_parse() - decode a request for the asynchronous path
 * @bd:		disk
 * @out:	device-readable buffers
 * @out_num:	entries in @out
 * @in:		device-writable buffers
 * @in_num:	entries in @in
 * @data:	out: iovecs of the data part (IN and OUT)
 * @cap:	entries in @data
 * @ri:		out: the request
 *
 * Return: 0 if the request is a well-formed IN, OUT, FLUSH, or
 * one-segment DISCARD or WRITE_ZEROES (@ri->len bytes from @ri->sector,
 * no data iovecs) inside the disk that a backend can run as it is; 1 if it must go through
 * blk_req_serve_info() (other types, errors, read-only writes); -EBADMSG if
 * there is no whole header or no status byte
 */
int blk_req_parse(struct blk_dev *bd, const struct iovec *out,
		  unsigned int out_num, const struct iovec *in,
		  unsigned int in_num, struct iovec *data, unsigned int cap,
		  struct blk_req_info *ri)
{
	size_t in_len = iovc_size(in, in_num);
	struct iovc oc, ic;
	int n;

	if (blk_req_header(out, out_num, in, in_num, ri))
		return -EBADMSG;
	iovc_init(&oc, out, out_num);
	iovc_skip(&oc, sizeof(struct virtio_blk_outhdr));

	switch (ri->type) {
	case VIRTIO_BLK_T_IN:
		ri->len = in_len - 1;
		iovc_init(&ic, in, in_num);
		if (!ri->len || !blk_range_ok(bd, ri->sector, ri->len))
			return 1;
		n = iovc_slice(&ic, ri->len, data, cap);
		break;
	case VIRTIO_BLK_T_OUT:
		ri->len = iovc_left(&oc);
		if (bd->readonly || !ri->len ||
		    !blk_range_ok(bd, ri->sector, ri->len))
			return 1;
		n = iovc_slice(&oc, ri->len, data, cap);
		break;
	case VIRTIO_BLK_T_FLUSH:
		return bd->readonly ? 1 : 0;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return blk_dealloc_parse(bd, &oc, ri);
	default:
		return 1;
	}
	if (n <= 0)
		return 1;
	ri->data_num = n;
	return 0;
}

/**
 * blk_io_progress() - account one completion of a request's read, write or
 * flush, and say what comes next
 * @type:	VIRTIO_BLK_T_IN, _OUT, _FLUSH, _DISCARD or _WRITE_ZEROES
 * @res:	the operation's result: bytes moved, or -errno (0 for the
 *		types that move no data)
 * @len:	data bytes of the whole request (0 for a flush)
 * @done:	bytes moved by earlier operations; @res is added
 * @tries:	operations so far that moved nothing; bumped by one more
 *
 * A file may move fewer bytes than asked (a short transfer) without having
 * failed, and -EAGAIN or -EINTR are transient: neither is the driver's
 * business. The remainder is submitted again; only an operation that keeps
 * moving nothing (BLK_IO_RETRIES times) or a real error fails the request.
 *
 * Return: BLK_IO_DONE, BLK_IO_AGAIN or BLK_IO_FAILED
 */
enum blk_io_verdict blk_io_progress(uint32_t type, int res, uint64_t len,
				    uint64_t *done, unsigned int *tries)
{
	bool moves = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_OUT;

	if (res == -EAGAIN || res == -EINTR || (res == 0 && moves && *done < len))
		return ++*tries > BLK_IO_RETRIES ? BLK_IO_FAILED : BLK_IO_AGAIN;
	if (res < 0)
		return BLK_IO_FAILED;
	if (!moves)
		return BLK_IO_DONE;
	if ((uint64_t)res > len - *done)
		return BLK_IO_FAILED;	/* more than asked: not ours */
	*done += res;
	return *done == len ? BLK_IO_DONE : BLK_IO_AGAIN;
}

/* -EAGAIN and -EINTR: nothing wrong, try again */
static bool blk_io_transient(int err)
{
	return err == -EAGAIN || err == -EINTR;
}

/**
 * blk_io_part_done() - account one operation of a split read or write
 * @p:		the transfer's operations (@p->left of them in flight)
 * @res:	this one's result: bytes moved, or -errno
 *
 * Return: true if it was the last one (blk_io_parts_result() then says
 * what the transfer did)
 */
bool blk_io_part_done(struct blk_io_parts *p, int res)
{
	if (res >= 0)
		p->bytes += res;
	else if (!p->err || blk_io_transient(p->err))
		p->err = res;
	return --p->left == 0;
}

/**
 * blk_io_parts_result() - what a split read or write did, as one result
 * for blk_io_progress()
 * @p:		the transfer's operations, all finished
 * @want:	bytes the transfer asked for
 *
 * The operations finish in any order, so a short or transient one leaves
 * a hole somewhere in the range: the transfer then counts as having moved
 * nothing, and is done again whole. That is safe before the request
 * completes: a read fills the same buffers again, a write writes the same
 * bytes to the same place.
 *
 * Return: @want (or more, which blk_io_progress() refuses) if every
 * operation moved all of its bytes, a real error if one met one, else 0
 */
int blk_io_parts_result(const struct blk_io_parts *p, uint64_t want)
{
	if (p->err && !blk_io_transient(p->err))
		return p->err;
	if (!p->err && p->bytes >= want)
		return p->bytes > INT_MAX ? -EIO : (int)p->bytes;
	return 0;
}

/**
 * blk_iov_advance() - drop the first @n bytes of an iovec array, in place
 * @iov:	the array
 * @cnt:	its entries
 * @n:		bytes to drop (at most the array's size)
 *
 * Return: entries left (the first one possibly shortened)
 */
unsigned int blk_iov_advance(struct iovec *iov, unsigned int cnt, size_t n)
{
	unsigned int i = 0;

	while (i < cnt && n >= iov[i].iov_len) {
		n -= iov[i].iov_len;
		i++;
	}
	if (i && i < cnt)
		memmove(iov, iov + i, (cnt - i) * sizeof(*iov));
	cnt -= i;
	if (cnt && n) {
		iov[0].iov_base = (uint8_t *)iov[0].iov_base + n;
		iov[0].iov_len -= n;
	}
	return cnt;
}

/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vu.h - the front end's side of the vhost-user protocol
 *
 * A vhost-user backend is a process that serves virtqueues it is handed
 * over a UNIX stream socket: memory regions as fds to map, ring addresses
 * in the front end's address space, and one kick and one call eventfd per
 * ring. Every message is a 12-byte header (request, flags, payload size)
 * and a payload; fds travel as SCM_RIGHTS beside it. This file frames the
 * messages and checks every reply: its size, its request code, its reply
 * flag and the fds it carries, and waits for it a bounded time. A backend
 * that breaks any of these is reported in one message (vu_conn.err) and
 * never waited on again.
 */
#ifndef UVIRTIO_VHOST_VU_H
#define UVIRTIO_VHOST_VU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Requests of the front end (QEMU's docs/interop/vhost-user.rst numbers). */
enum vu_request {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_SET_MEM_TABLE = 5,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
	VU_GET_CONFIG = 24,
};

/* A virtio feature bit that only says "protocol features exist". */
#define VU_F_PROTOCOL_FEATURES		30

/* Protocol feature bits this front end knows. */
#define VU_PF_MQ			0
#define VU_PF_REPLY_ACK			3
#define VU_PF_CONFIG			9

/* Header flags */
#define VU_VERSION			0x1
#define VU_FLAG_REPLY			(1U << 2)
#define VU_FLAG_NEED_REPLY		(1U << 3)

/* SET_VRING_KICK/CALL: the u64's bit 8 says "no fd" (polling) */
#define VU_VRING_NOFD			(1ULL << 8)

/* Largest payload this front end sends or accepts */
#define VU_PAYLOAD_MAX			4096

/* How long a reply may take (ms) */
#define VU_REPLY_TIMEOUT_MS		5000

/**
 * struct vu_region - one memory region of SET_MEM_TABLE
 * @gpa:	"guest physical" address: what descriptors carry
 * @size:	bytes
 * @uaddr:	where the front end has it mapped (ring addresses use this)
 * @mmap_offset: offset into the fd where the region starts
 */
struct vu_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uaddr;
	uint64_t mmap_offset;
};

/**
 * struct vu_vring_addr - SET_VRING_ADDR: where a ring's parts are
 * @index:	ring index
 * @flags:	0 (no logging)
 * @desc:	descriptor table, front end address
 * @used:	used ring, front end address
 * @avail:	avail ring, front end address
 * @log:	0 (no logging)
 */
struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;
	uint64_t used;
	uint64_t avail;
	uint64_t log;
};

/**
 * struct vu_conn - a connection to one backend
 * @fd:		the socket, -1 once closed
 * @path:	the socket's path, for messages
 * @protocol:	protocol features both sides agreed on
 * @timeout_ms:	bound of every reply wait
 * @err:	why the connection failed, "" while it works
 */
struct vu_conn {
	int fd;
	const char *path;
	uint64_t protocol;
	int timeout_ms;
	char err[256];
};

int vu_connect(struct vu_conn *c, const char *path);
void vu_close(struct vu_conn *c);
const char *vu_request_name(uint32_t req);
int vu_get_u64(struct vu_conn *c, uint32_t req, uint64_t *val);
int vu_set_u64(struct vu_conn *c, uint32_t req, uint64_t val);
int vu_set_owner(struct vu_conn *c);
int vu_set_state(struct vu_conn *c, uint32_t req, uint32_t index,
		 uint32_t num);
int vu_get_vring_base(struct vu_conn *c, uint32_t index, uint32_t *base);
int vu_set_vring_addr(struct vu_conn *c, const struct vu_vring_addr *a);
int vu_set_vring_fd(struct vu_conn *c, uint32_t req, uint32_t index, int fd);
int vu_set_mem_table(struct vu_conn *c, const struct vu_region *r,
		     unsigned int n, const int *fds);
int vu_get_config(struct vu_conn *c, void *buf, uint32_t size);
bool vu_has(const struct vu_conn *c, unsigned int pf);

#endif /* UVIRTIO_VHOST_VU_H */

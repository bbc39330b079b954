/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ring.h - a shared-memory frame ring between two uvirtio-net processes
 * cabled with dgram
 *
 * Over a pair of UNIX datagram sockets every frame costs a sendmsg() and a
 * recvmsg(): the kernel allocates a socket buffer for it (cleared first on
 * kernels with init_on_alloc, as Debian's are) and copies the frame in and
 * out. Two uvirtio-net processes can do without: each one produces the
 * frames it sends into a byte ring in a sealed memfd it hands its peer
 * over the socket, and the peer copies them from there straight into its
 * receive buffers. The sockets still carry the handshake and the wake-ups,
 * and a send on them is still how a process learns that its peer is gone.
 *
 * The memfd is one header page, then NR_DATA_SIZE bytes of records. A
 * record is a 32-bit length and the frame (offload header included),
 * padded to NR_ALIGN bytes; a record never wraps: a length of NR_WRAP says
 * the rest of the ring up to its end is unused. Positions are free-running
 * byte counts modulo 2^32.
 *
 * Neither side trusts the other. Each keeps its own position in private
 * memory and reads the peer's once per use, checking it; a length, a
 * position or a wrap marker that cannot be right makes the reader give up
 * the ring (-EPROTO) and fall back to the socket. The consumer copies each
 * frame out before looking inside it, so a producer that rewrites a record
 * while it is read can only garble that frame. The memfd must be sealed
 * against shrinking, so the consumer's mapping can never fault (SIGBUS).
 *
 * Wake-ups work like an eventfd pair: a consumer about to sleep sets
 * @cons_wait and looks at @prod once more; a producer that published sets
 * nothing and reads @cons_wait after a full barrier, and if it finds it
 * set, clears it and sends a bell on the socket. Room works the same way
 * with @prod_wait and an eventfd the producer passes with the memfd.
 */
#ifndef UVIRTIO_NET_RING_H
#define UVIRTIO_NET_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define NR_MAGIC		0x524e5655U	/* "UVNR" */
#define NR_VERSION		1
#define NR_HDR_SIZE		4096U
#define NR_DATA_SIZE		(4U << 20)
#define NR_MAP_SIZE		(NR_HDR_SIZE + NR_DATA_SIZE)
#define NR_ALIGN		64U
#define NR_REC_HDR		8U
#define NR_WRAP			0xffffffffU
/* Longest record: a TSO frame of 64 KiB with its offload header. */
#define NR_MAX_LEN		(65535U + 18U + 12U)

/**
 * struct nr_hdr - the header page; each word has one writer
 * @magic:	NR_MAGIC (producer, at creation)
 * @version:	NR_VERSION (producer, at creation)
 * @data_size:	NR_DATA_SIZE (producer, at creation)
 * @prod:	bytes published (producer)
 * @cons_wait:	the consumer sleeps: bell it (set by the consumer, cleared
 *		by the producer that bells)
 * @cons:	bytes consumed (consumer)
 * @prod_wait:	the producer waits for room: signal its eventfd (set by the
 *		producer, cleared by the consumer that signals)
 */
struct nr_hdr {
	uint32_t magic;
	uint32_t version;
	uint32_t data_size;
	uint32_t pad0[13];
	uint32_t prod;
	uint32_t cons_wait;
	uint32_t pad1[14];
	uint32_t cons;
	uint32_t prod_wait;
	uint32_t pad2[14];
};

/**
 * struct nring - one side's view of a ring
 * @h:		the mapping (header page first), NULL when there is none
 * @pos:	our position: @prod for the producer, @cons for the consumer
 * @id:		the ring's number, chosen by its producer
 * @memfd:	producer: the memfd, kept to offer it again; -1 otherwise
 * @room_fd:	consumer: the producer's eventfd to signal room; -1
 *		otherwise
 * @last_cons:	producer: @cons as the last stall check saw it
 */
struct nring {
	struct nr_hdr *h;
	uint32_t pos;
	uint64_t id;
	int memfd;
	int room_fd;
	uint32_t last_cons;
};

/* Messages on the dgram socket: exactly this size, which no frame is. */
enum nr_msg_type {
	NR_OFFER = 1,		/* here is my ring (fds attached); offer me yours */
	NR_OFFER_BACK = 2,	/* here is my ring, as you asked */
	NR_ACCEPT = 3,		/* I map ring @id and read it */
	NR_BELL = 4,		/* look at the ring */
};

#define NR_MSG_MAGIC		0x434e5655U	/* "UVNC" */

/**
 * struct nr_msg - a control message
 * @magic:	NR_MSG_MAGIC
 * @type:	enum nr_msg_type
 * @id:		the ring offered or accepted
 */
struct nr_msg {
	uint32_t magic;
	uint32_t type;
	uint64_t id;
};

void nring_init(struct nring *r);
int nring_create(struct nring *r, uint64_t id);
int nring_attach(struct nring *r, int memfd, int room_fd, uint64_t id,
		 const char **why);
void nring_free(struct nring *r);
int nring_push(struct nring *r, const struct iovec *iov, unsigned int cnt,
	       size_t len);
int nring_pop(struct nring *r, const struct iovec *iov, unsigned int cnt);
bool nring_stalled(struct nring *r);

#endif /* UVIRTIO_NET_RING_H */

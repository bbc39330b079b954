/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * backend.h - where uvirtio-net's frames go: a stream socket (QEMU/passt
 * framing), passt spawned over a socketpair, a pair of UNIX datagram
 * sockets, or a tap device
 *
 * A backend moves Ethernet frames. Two of them (dgram, tap) also carry a
 * fixed-size offload header in front of each frame, which they pass through
 * untouched: @hdr_len says how long it is (0 when there is none). The
 * backend does not look inside it.
 */
#ifndef UVIRTIO_NET_BACKEND_H
#define UVIRTIO_NET_BACKEND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "ring.h"

enum nb_kind {
	NB_STREAM,
	NB_PASST,
	NB_DGRAM,
	NB_TAP,
};

/* Largest frame a stream peer may send us (its length field is checked). */
#define NB_MAX_FRAME		65550
/* Stream receive buffer: a few maximum frames. */
#define NB_RBUF_SIZE		(4 * (NB_MAX_FRAME + 4))
/* Frames one nb_send() takes at most. */
#define NB_SEND_MAX		32

/**
 * struct nb_frame - one frame to send, offload header first where the
 * backend carries one
 * @iov:	its pieces
 * @cnt:	entries in @iov
 */
struct nb_frame {
	const struct iovec *iov;
	unsigned int cnt;
};

/**
 * struct nb - one backend
 * @kind:	NB_*
 * @spec:	the command line's backend argument, for messages
 * @path:	stream: socket path; dgram: local path; tap: interface name
 * @remote:	dgram: the peer's path
 * @fd:		the socket or tap fd, -1 while disconnected
 * @hdr_len:	bytes of offload header in front of each frame (0 or 12)
 * @multi_queue: tap: one of several queues (IFF_MULTI_QUEUE)
 * @connected:	frames can be sent (dgram: connected to @remote)
 * @passt_pid:	passt: the child, 0 when none runs
 * @passt_args:	passt: extra arguments, or NULL
 * @rbuf:	stream: received bytes not yet taken
 * @rhead:	stream: first byte not taken
 * @rlen:	stream: bytes in @rbuf
 * @rskip:	stream: bytes of an oversized frame still to throw away
 * @wbuf:	stream: tail of a frame the socket did not take whole
 * @woff:	stream: first byte of @wbuf still to send
 * @wlen:	stream: bytes in @wbuf
 * @ring_ok:	dgram: may trade shared rings with the peer (ring.h)
 * @room_fd:	dgram: our eventfd the peer signals when @tx has room
 * @tx:		dgram: the ring we produce into, once offered
 * @rx:		dgram: the peer's ring we consume, once it offered it
 * @tx_active:	dgram: the peer accepted @tx: frames go there
 * @offer_due:	dgram: an offer of this type could not be sent yet (0 none)
 * @ring_seq:	dgram: number of the last ring made
 * @accept_due: dgram: our accept of @rx that the peer's full queue refused:
 *		the reader sends it again at its next nb_recv(), while it
 *		reads @rx (0: none)
 * @rx_via_ring: the frame nb_recv() just moved came through a ring
 * @tx_ring_frames: how many of the frames the last nb_send() sent went
 *		through a ring
 * @ctl_accept:	dgram: id of our ring the peer accepted, posted by the thread
 *		that reads the backend for its owner (0: none)
 * @ctl_offer_back: dgram: the peer asked for our ring: the owner offers it
 * @rx_gen:	dgram: bumped by the owner when the peer changes (connect,
 *		disconnect): the reader then drops the peer's ring
 * @rx_gen_seen: dgram: the reader's copy of @rx_gen
 *
 * Two threads may use one backend (pair.h, steering): its owner sends and
 * reconnects it, another pair's thread may be the one that receives. The
 * receive side (@rx, @accept_due, @rx_gen_seen, @rx_via_ring, @rbuf) is
 * the reader's, everything else the owner's; what the reader learns for
 * the owner from the peer's control messages goes through @ctl_accept and
 * @ctl_offer_back, and a write to @room_fd wakes the owner to act on it
 * (nb_ctl_apply()). Neither side touches a shared word per frame.
 */
struct nb {
	enum nb_kind kind;
	const char *spec;
	char path[108];
	char remote[108];
	int fd;
	unsigned int hdr_len;
	bool multi_queue;
	bool connected;
	pid_t passt_pid;
	const char *passt_args;
	uint8_t *rbuf;
	size_t rhead;
	size_t rlen;
	size_t rskip;
	uint8_t *wbuf;
	size_t woff;
	size_t wlen;
	bool ring_ok;
	int room_fd;
	struct nring tx;
	struct nring rx;
	bool tx_active;
	uint32_t offer_due;
	uint64_t ring_seq;
	uint64_t accept_due;
	bool rx_via_ring;
	unsigned int tx_ring_frames;
	_Atomic uint64_t ctl_accept;
	_Atomic uint32_t ctl_offer_back;
	_Atomic uint32_t rx_gen;
	uint32_t rx_gen_seen;
};

int nb_parse(struct nb *b, const char *spec);
bool nb_can_multiqueue(const struct nb *b);
int nb_clone(struct nb *dst, const struct nb *src, unsigned int i,
	     unsigned int n);
int nb_open(struct nb *b);
int nb_connect(struct nb *b);
void nb_settled(const struct nb *b);
void nb_disconnect(struct nb *b);
int nb_recv(struct nb *b, const struct iovec *iov, unsigned int cnt);
int nb_send(struct nb *b, const struct nb_frame *f, unsigned int n);
int nb_flush(struct nb *b);
bool nb_pending_out(const struct nb *b);
int nb_set_offload(struct nb *b, bool csum, bool tso4, bool tso6);
void nb_reap(struct nb *b);
bool nb_ring_waits(const struct nb *b);
bool nb_wants_tick(const struct nb *b);
int nb_tick(struct nb *b);
int nb_ctl_apply(struct nb *b);
void nb_close(struct nb *b);

#endif /* UVIRTIO_NET_BACKEND_H */

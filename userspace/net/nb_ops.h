/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nb_ops.h - what backend.c and the transports' files (nb_stream.c,
 * nb_passt.c, nb_dgram.c, nb_tap.c) share; not part of backend.h
 */
#ifndef UVIRTIO_NET_NB_OPS_H
#define UVIRTIO_NET_NB_OPS_H

#include <sys/socket.h>
#include <sys/un.h>

#include "backend.h"

/* The offload header the dgram and tap backends carry. */
#define NB_HDR_LEN		12

/**
 * struct nb_ops - one transport
 * @open:	nb_open()
 * @connect:	nb_connect() of a backend not connected (NULL: nothing to
 *		do); the common part resets the stream buffers after it
 * @disconnect:	nb_disconnect() after @connected was cleared (NULL: none)
 * @recv:	nb_recv() of a backend with an fd
 * @send:	nb_send() of a connected backend
 * @close:	nb_close() after the fd was closed (NULL: nothing more)
 */
struct nb_ops {
	int (*open)(struct nb *b);
	int (*connect)(struct nb *b);
	void (*disconnect)(struct nb *b);
	int (*recv)(struct nb *b, const struct iovec *iov, unsigned int cnt);
	int (*send)(struct nb *b, const struct nb_frame *f, unsigned int n);
	void (*close)(struct nb *b);
};

extern const struct nb_ops nb_stream_ops;
extern const struct nb_ops nb_passt_ops;
extern const struct nb_ops nb_dgram_ops;
extern const struct nb_ops nb_tap_ops;

/* backend.c */
void nb_bufs(int fd);
socklen_t nb_sun(struct sockaddr_un *sa, const char *path);
void nb_fd_reaper_start(void);
void nb_fd_drop(int fd);

/* nb_stream.c, shared with nb_passt.c */
int nb_stream_open(struct nb *b);
void nb_stream_disconnect(struct nb *b);
int nb_stream_recv(struct nb *b, const struct iovec *iov, unsigned int cnt);
int nb_stream_send(struct nb *b, const struct nb_frame *f, unsigned int n);

#endif /* UVIRTIO_NET_NB_OPS_H */

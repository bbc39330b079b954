/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nb_duo.h - two uvirtio-net dgram backends cabled to each other in one
 * process, for the host tests of the backends (test_nb_dgram,
 * test_nb_send), and the emulator's progress lines as TAP diagnostics
 */
#ifndef UVIRTIO_NB_DUO_H
#define UVIRTIO_NB_DUO_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "tap.h"

/* The emulator's progress lines; here they are TAP diagnostics. */
void net_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vdiag(fmt, ap);
	va_end(ap);
}

/**
 * struct duo - backends a and b, each the other's REMOTE
 * @dir:	the directory of their sockets
 * @spec_a:	a's backend argument
 * @spec_b:	b's
 * @a:		one end
 * @b:		the other
 */
struct duo {
	char dir[32];
	char spec_a[96];
	char spec_b[96];
	struct nb a;
	struct nb b;
};

/**
 * duo_open() - open both ends, not connected yet
 * @d:		duo
 * @rings:	both may trade shared rings
 *
 * Return: true on success
 */
static inline bool duo_open(struct duo *d, bool rings)
{
	char pa[40], pb[40];

	memset(d, 0, sizeof(*d));
	strcpy(d->dir, "/tmp/test_nb_duo.XXXXXX");
	if (!mkdtemp(d->dir))
		return false;
	snprintf(pa, sizeof(pa), "%s/a", d->dir);
	snprintf(pb, sizeof(pb), "%s/b", d->dir);
	snprintf(d->spec_a, sizeof(d->spec_a), "dgram:%s,%s", pa, pb);
	snprintf(d->spec_b, sizeof(d->spec_b), "dgram:%s,%s", pb, pa);
	if (nb_parse(&d->a, d->spec_a) || nb_parse(&d->b, d->spec_b))
		return false;
	d->a.ring_ok = d->b.ring_ok = rings;
	return !nb_open(&d->a) && !nb_open(&d->b);
}

/**
 * duo_close() - close both ends and remove their directory
 * @d:		duo
 */
static inline void duo_close(struct duo *d)
{
	nb_close(&d->a);
	nb_close(&d->b);
	rmdir(d->dir);
}

#endif /* UVIRTIO_NB_DUO_H */

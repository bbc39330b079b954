// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_nring - uvirtio-net's shared frame ring (userspace/net/ring.c) on
 * the host: frames of every size arrive intact across many wraps, a full
 * ring refuses and signals room, an empty ring asks for a bell, and every
 * corruption a hostile peer can make of the shared words is caught
 * (-EPROTO) rather than read outside the ring; bad offers are refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "copy.h"
#include "ring.h"
#include "tap.h"

/* A producer and a consumer on the same memfd, as two peers have it. */
struct duo {
	struct nring p;
	struct nring c;
	int room;	/* the producer's room eventfd */
};

static bool duo_open(struct duo *d)
{
	const char *why;
	int room2;

	nring_init(&d->p);
	nring_init(&d->c);
	d->room = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->room < 0 || nring_create(&d->p, 7))
		return false;
	room2 = dup(d->room);
	return nring_attach(&d->c, dup(d->p.memfd), room2, 7, &why) == 0;
}

static void duo_close(struct duo *d)
{
	nring_free(&d->p);
	nring_free(&d->c);
	close(d->room);
}

static void fill(uint8_t *b, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 8));
}

static uint32_t *word(struct nring *r, uint32_t off)
{
	return (uint32_t *)((uint8_t *)r->h + NR_HDR_SIZE + off);
}

/* Frames of random sizes, pushed and popped in random runs: content,
 * length and order survive several hundred wraps. */
static bool t_roundtrip(void)
{
	static uint8_t in[NR_MAX_LEN], out[NR_MAX_LEN + 100];
	unsigned int sent = 0, got = 0, wraps = 0;
	uint32_t last = 0;
	struct duo d;
	struct iovec v[3], o;
	size_t len[64];
	int i, ret;

	CHECK(duo_open(&d));
	srand(42);
	while (sent < 40000) {
		int burst = 1 + rand() % 64;

		for (i = 0; i < burst && sent - got < 64; i++) {
			size_t n = rand() % 4 ? 60 + (size_t)rand() % 1500 :
				   1 + (size_t)rand() % NR_MAX_LEN;
			size_t a = n / 3, b = n / 2;

			fill(in, n, sent);
			v[0] = (struct iovec){ in, a };
			v[1] = (struct iovec){ in + a, b - a };
			v[2] = (struct iovec){ in + b, n - b };
			ret = nring_push(&d.p, v, 3, n);
			if (ret == -EAGAIN)
				break;
			CHECK(ret == 0 || ret == 1);
			len[sent % 64] = n;
			sent++;
		}
		while (got < sent && rand() % 8) {
			o = (struct iovec){ out, sizeof(out) };
			ret = nring_pop(&d.c, &o, 1);
			CHECK_EQ(ret, len[got % 64]);
			fill(in, ret, got);
			CHECK(!memcmp(in, out, ret));
			got++;
		}
		if ((d.p.pos & (NR_DATA_SIZE - 1)) < (last & (NR_DATA_SIZE - 1)))
			wraps++;
		last = d.p.pos;
	}
	tap_diag("%u frames, %u wraps", sent, wraps);
	CHECK(wraps > 20);
	duo_close(&d);
	return true;
}

/* Full: -EAGAIN with prod_wait set; one pop signals the room eventfd. */
static bool t_full_room(void)
{
	static uint8_t f[NR_MAX_LEN];
	struct iovec v = { f, sizeof(f) }, o = { f, sizeof(f) };
	unsigned int n = 0;
	uint64_t cnt;
	struct duo d;
	int ret;

	CHECK(duo_open(&d));
	while ((ret = nring_push(&d.p, &v, 1, sizeof(f))) >= 0)
		n++;
	CHECK_EQ(ret, -EAGAIN);
	CHECK(n >= NR_DATA_SIZE / (sizeof(f) + NR_ALIGN) - 1);
	CHECK_EQ(d.p.h->prod_wait, 1);
	CHECK(read(d.room, &cnt, sizeof(cnt)) < 0 && errno == EAGAIN);
	CHECK_EQ(nring_pop(&d.c, &o, 1), sizeof(f));
	CHECK(read(d.room, &cnt, sizeof(cnt)) == sizeof(cnt));
	CHECK_EQ(d.p.h->prod_wait, 0);
	CHECK(nring_push(&d.p, &v, 1, sizeof(f)) >= 0);
	duo_close(&d);
	return true;
}

/* Empty: -EAGAIN with cons_wait set; the next push asks for one bell. */
static bool t_empty_bell(void)
{
	uint8_t f[100] = { 1 };
	struct iovec v = { f, sizeof(f) };
	struct duo d;

	CHECK(duo_open(&d));
	CHECK_EQ(nring_pop(&d.c, &v, 1), -EAGAIN);
	CHECK_EQ(d.c.h->cons_wait, 1);
	CHECK_EQ(nring_push(&d.p, &v, 1, sizeof(f)), 1);
	CHECK_EQ(nring_push(&d.p, &v, 1, sizeof(f)), 0);
	CHECK_EQ(nring_pop(&d.c, &v, 1), sizeof(f));
	duo_close(&d);
	return true;
}

/* A frame longer than the buffers is skipped (-EMSGSIZE), the next one
 * still arrives; one longer than NR_MAX_LEN is refused by the producer. */
static bool t_too_long(void)
{
	static uint8_t f[NR_MAX_LEN + 1];
	struct iovec v = { f, 3000 }, small = { f, 1000 };
	struct duo d;

	CHECK(duo_open(&d));
	CHECK(nring_push(&d.p, &v, 1, 3000) >= 0);
	v.iov_len = 500;
	CHECK(nring_push(&d.p, &v, 1, 500) >= 0);
	CHECK_EQ(nring_pop(&d.c, &small, 1), -EMSGSIZE);
	CHECK_EQ(nring_pop(&d.c, &small, 1), 500);
	v.iov_len = sizeof(f);
	CHECK_EQ(nring_push(&d.p, &v, 1, sizeof(f)), -EMSGSIZE);
	duo_close(&d);
	return true;
}

/* Each corruption a producer can make is -EPROTO for the consumer. */
static bool t_hostile_producer(void)
{
	uint8_t f[256];
	struct iovec v = { f, sizeof(f) };
	struct duo d;
	int k;

	for (k = 0; k < 6; k++) {
		CHECK(duo_open(&d));
		CHECK(nring_push(&d.p, &v, 1, 100) >= 0);
		switch (k) {
		case 0:	/* more published than the ring holds */
			d.p.h->prod = NR_DATA_SIZE + 64;
			break;
		case 1:	/* a position inside a record */
			d.p.h->prod = 64 + 8;
			break;
		case 2:	/* a length past what was published */
			*word(&d.p, 0) = 1000;
			break;
		case 3:	/* a length longer than any frame */
			*word(&d.p, 0) = NR_MAX_LEN + 1;
			d.p.h->prod = NR_DATA_SIZE;
			break;
		case 4:	/* a wrap marker with the ring's end unpublished */
			*word(&d.p, 0) = NR_WRAP;
			break;
		case 5:	/* a record that runs past the ring's end */
			d.c.pos = NR_DATA_SIZE - 128;
			d.p.h->prod = d.c.pos + 2048;
			*word(&d.p, NR_DATA_SIZE - 128) = 1000;
			break;
		}
		CHECK_EQ(nring_pop(&d.c, &v, 1), -EPROTO);
		duo_close(&d);
	}
	return true;
}

/* A consumer position ahead of the producer's, or too far behind, is
 * -EPROTO for the producer. */
static bool t_hostile_consumer(void)
{
	uint8_t f[256];
	struct iovec v = { f, sizeof(f) };
	struct duo d;

	CHECK(duo_open(&d));
	CHECK(nring_push(&d.p, &v, 1, 100) >= 0);
	d.c.h->cons = d.p.pos + 64;
	CHECK_EQ(nring_push(&d.p, &v, 1, 100), -EPROTO);
	d.c.h->cons = d.p.pos - NR_DATA_SIZE - 64;
	CHECK_EQ(nring_push(&d.p, &v, 1, 100), -EPROTO);
	duo_close(&d);
	return true;
}

/*
 * refused() - nring_attach() refuses an offer for @want, and leaves both
 * descriptors open for the caller (who closes them off the data path)
 */
static bool refused(int memfd, int room, const char *want)
{
	const char *why;
	struct nring r;
	bool ok;

	ok = nring_attach(&r, memfd, room, 1, &why) == -EINVAL &&
	     why && strstr(why, want) && r.h == NULL && r.room_fd < 0 &&
	     fcntl(memfd, F_GETFD) >= 0 && fcntl(room, F_GETFD) >= 0;
	close(memfd);
	close(room);
	return ok;
}

/* Offers that are refused: unsealed, wrong size, no eventfd, not a
 * memfd, unknown layout. The given fds stay open either way. */
static bool t_bad_offers(void)
{
	struct nring p;
	int fd, ev, pfd[2];

	ev = eventfd(0, 0);
	CHECK(ev >= 0);

	fd = memfd_create("t", MFD_ALLOW_SEALING);
	CHECK(fd >= 0 && !ftruncate(fd, NR_MAP_SIZE));
	CHECK(refused(fd, dup(ev), "sealed"));

	fd = memfd_create("t", MFD_ALLOW_SEALING);
	CHECK(fd >= 0 && !ftruncate(fd, 4096));
	CHECK(!fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
	CHECK(refused(fd, dup(ev), "size"));

	CHECK(!nring_create(&p, 3));
	CHECK(!pipe(pfd));
	CHECK(refused(dup(p.memfd), pfd[0], "eventfd"));
	close(pfd[1]);

	/* not sealable: refused before any fstat() */
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(refused(fd, dup(ev), "memfd"));

	p.h->magic = 0;
	CHECK(refused(dup(p.memfd), dup(ev), "layout"));
	nring_free(&p);
	close(ev);
	return true;
}

/* uvcopy() (lib/copy.h, the rings' copy), both routines, for every length up to 300 at every alignment up to 16. */
static bool t_copy(void)
{
	uint8_t src[400], dst[400], want[400];
	size_t n, a, b;
	int loop;

	fill(src, sizeof(src), 5);
	for (loop = 0; loop < 2; loop++) {
		uvcopy_by_loop = loop;
		for (n = 0; n <= 300; n++)
			for (a = 0; a < 16; a++)
				for (b = 0; b < 16; b += 5) {
					memset(dst, 0xee, sizeof(dst));
					memset(want, 0xee, sizeof(want));
					memcpy(want + b, src + a, n);
					uvcopy(dst + b, src + a, n);
					CHECK(!memcmp(dst, want, sizeof(dst)));
				}
	}
	return true;
}

/* --copy: its arguments, the forced modes, and a measured choice that
 * follows its own rule (the loop only at 1.25 times memcpy()'s speed). */
static bool t_copy_choose(void)
{
	static const char *const bad[] = { "", "Loop", "memcpy2", "rep", "auto " };
	struct uvcopy_choice c;
	enum uvcopy_mode m;
	char buf[128];
	unsigned int i;

	CHECK(uvcopy_parse("auto", &m) == 0 && m == UVCOPY_AUTO);
	CHECK(uvcopy_parse("loop", &m) == 0 && m == UVCOPY_LOOP);
	CHECK(uvcopy_parse("memcpy", &m) == 0 && m == UVCOPY_MEMCPY);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(uvcopy_parse(bad[i], &m) == -EINVAL);

	uvcopy_choose(UVCOPY_LOOP, &c);
	CHECK(c.loop && !c.measured && uvcopy_by_loop);
	CHECK(!strcmp(uvcopy_describe(&c, buf, sizeof(buf)),
		      "bulk copies by the 8-byte loop (--copy loop)"));
	uvcopy_choose(UVCOPY_MEMCPY, &c);
	CHECK(!c.loop && !c.measured && !uvcopy_by_loop);
	CHECK(!strcmp(uvcopy_describe(&c, buf, sizeof(buf)),
		      "bulk copies by memcpy() (--copy memcpy)"));

	uvcopy_by_loop = true;
	uvcopy_choose(UVCOPY_AUTO, &c);
	CHECK(c.measured && c.loop_ns > 0 && c.memcpy_ns > 0);
	CHECK(c.loop_ns != UINT64_MAX && c.memcpy_ns != UINT64_MAX);
	CHECK(c.loop == (c.loop_ns * 5 < c.memcpy_ns * 4));
	CHECK(uvcopy_by_loop == c.loop);
	uvcopy_describe(&c, buf, sizeof(buf));
	CHECK(strstr(buf, c.loop ? "by the 8-byte loop (measured: memcpy() " :
				   "by memcpy() (measured: memcpy() "));
	tap_diag("%s", buf);
	return true;
}

static const struct tap_test tests[] = {
	{ t_roundtrip, "frames of random sizes arrive intact across wraps" },
	{ t_full_room, "a full ring refuses, then signals room" },
	{ t_empty_bell, "an empty ring asks for exactly one bell" },
	{ t_too_long, "frames too long for the buffers or the ring are refused" },
	{ t_hostile_producer, "a producer's corruptions are -EPROTO" },
	{ t_hostile_consumer, "a consumer's corruptions are -EPROTO" },
	{ t_bad_offers, "bad offers are refused" },
	{ t_copy, "uvcopy copies every length and alignment" },
	{ t_copy_choose, "--copy parses, forces and measures" },
};

int main(void)
{
	return tap_run_table(tests, sizeof(tests) / sizeof(tests[0]));
}

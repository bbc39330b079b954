// SPDX-License-Identifier: GPL-2.0-only
/*
 * net_malformed - frames a backend peer sends that must never reach the
 * driver: shorter than the virtio-net header, shorter than an Ethernet
 * header, longer than the MTU allows, a TSO frame without a partial
 * checksum, one longer than any receive buffer, and headers with an
 * unknown flag or a checksum position outside the frame. Each is dropped and
 * counted by uvirtio-net; a good frame sent after them arrives (the
 * interface's rx_packets grows by exactly one) and the emulator still
 * runs and stops cleanly. The kernel log is checked by the harness.
 *
 * The test plays the dgram peer of a uvirtio-net started as root. It then
 * speaks the ring protocol of two uvirtio-net peers (userspace/net/ring.h)
 * as a hostile peer would: see ring_checks().
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/if_packet.h>
#include <linux/virtio_net.h>

/* the ring protocol: layout and messages (header only) */
#include "../userspace/net/ring.h"

#include "netemu.h"
#include "require.h"
#include "testemu.h"
#include "unit/tap.h"

#define HDR		sizeof(struct virtio_net_hdr_v1)
#define MTU		1500

static char dir[] = "/tmp/net_malformed.XXXXXX";
static char dev_path[128], peer_path[128];
static struct nemu emu;

/**
 * ifstat() - one of an interface's counters or attributes
 * @ifn:	interface
 * @what:	file under /sys/class/net/IF/
 *
 * Return: its value, or -1
 */
static long ifstat(const char *ifn, const char *what)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", ifn, what);
	return temu_read_long(path);
}

/**
 * send_frame() - send one datagram: a header and a frame of @len bytes
 * @s:		socket connected to the emulator
 * @h:		header, or NULL to send @len raw bytes
 * @len:	frame bytes (an Ethernet broadcast of an unused EtherType)
 *
 * Return: true if sent
 */
static bool send_frame(int s, const struct virtio_net_hdr_v1 *h, size_t len)
{
	static unsigned char buf[HDR + 70000];
	size_t off = h ? HDR : 0;

	memset(buf, 0, sizeof(buf));
	if (h)
		memcpy(buf, h, HDR);
	if (len >= 14) {
		memset(buf + off, 0xff, 6);
		memcpy(buf + off + 6, "\x02\x00\x00\x00\x00\x01", 6);
		buf[off + 12] = 0x88;
		buf[off + 13] = 0xb5;
	}
	return send(s, buf, off + len, 0) == (ssize_t)(off + len);
}

/*
 * The same peer then speaks uvirtio-net's ring protocol (ring.h), badly:
 * descriptors on frames and unknown messages, offers of rings that are
 * not sealed, lack an eventfd or a descriptor, a good ring that then
 * carries an impossible record, and, as consumer of the emulator's ring, a
 * position ahead of the producer. Each is refused or dropped with a log
 * line, the emulator keeps no descriptor it should not, and frames keep
 * flowing through the socket.
 */

/**
 * emu_log_has() - the emulator's log says @what, within 5 s
 * @what:	text
 *
 * Return: true if so
 */
static bool emu_log_has(const char *what)
{
	char line[512];
	bool found = false;
	int i;
	FILE *f;

	for (i = 0; i < 50 && !found; i++) {
		f = fopen(emu.log, "r");
		while (f && !found && fgets(line, sizeof(line), f))
			found = strstr(line, what);
		if (f)
			fclose(f);
		if (!found)
			usleep(100 * 1000);
	}
	return found;
}

/**
 * settled_fds() - the emulator's descriptor count once it is back to @want
 * @want:	the count before the test sent it descriptors
 *
 * The emulator logs a refusal before it closes what came with it, so the
 * count is read again for up to 5 s.
 *
 * Return: the last count read
 */
static int settled_fds(int want)
{
	int i, n = nemu_fds(&emu, NULL);

	for (i = 0; i < 50 && n != want; i++) {
		usleep(100 * 1000);
		n = nemu_fds(&emu, NULL);
	}
	return n;
}

/**
 * send_ctl() - send a ring control message
 * @s:		socket
 * @type:	enum nr_msg_type (or anything)
 * @id:		ring number
 * @fds:	descriptors, or NULL
 * @nfd:	how many
 *
 * Return: true if sent
 */
static bool send_ctl(int s, uint32_t type, uint64_t id, const int *fds,
		     int nfd)
{
	struct nr_msg m = { .magic = NR_MSG_MAGIC, .type = type, .id = id };

	if (nfd)
		return nemu_send_fds(s, NULL, &m, sizeof(m), fds, nfd);
	return send(s, &m, sizeof(m), 0) == sizeof(m);
}

/* The emulator's ring, from its last offer. */
static int emu_memfd = -1, emu_room = -1;
static uint64_t emu_ring_id;

/**
 * wait_ctl() - read what the emulator sends until a control message of
 * @type for ring @id comes (5 s at most), keeping the descriptors of its
 * last offer
 * @s:		socket
 * @type:	wanted message type
 * @id:		wanted ring number
 * @frame:	if not NULL, instead wait for a frame containing these 8 bytes
 *
 * Return: true if it came
 */
static bool wait_ctl(int s, uint32_t type, uint64_t id, const char *frame)
{
	static unsigned char buf[HDR + 70000];
	union {
		char b[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec v = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct pollfd pfd = { .fd = s, .events = POLLIN };
	struct nr_msg m;
	struct msghdr mh;
	struct cmsghdr *c;
	int fds[4], nfd, i;
	ssize_t n;

	while (poll(&pfd, 1, 5000) == 1) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &v;
		mh.msg_iovlen = 1;
		mh.msg_control = u.b;
		mh.msg_controllen = sizeof(u.b);
		n = recvmsg(s, &mh, MSG_DONTWAIT);
		if (n < 0)
			return false;
		nfd = 0;
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			for (i = 0; c->cmsg_type == SCM_RIGHTS &&
			     i < (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int)) &&
			     nfd < 4; i++)
				memcpy(&fds[nfd++], CMSG_DATA(c) + i * sizeof(int),
				       sizeof(int));
		memcpy(&m, buf, sizeof(m));
		if (n == sizeof(m) && m.magic == NR_MSG_MAGIC &&
		    (m.type == NR_OFFER || m.type == NR_OFFER_BACK) &&
		    nfd == 2) {
			if (emu_memfd >= 0) {
				close(emu_memfd);
				close(emu_room);
			}
			emu_memfd = fds[0];
			emu_room = fds[1];
			emu_ring_id = m.id;
			nfd = 0;
		}
		for (i = 0; i < nfd; i++)
			close(fds[i]);
		if (frame && n > (ssize_t)(HDR + 14) &&
		    memmem(buf + HDR, n - HDR, frame, 8))
			return true;
		if (!frame && n == sizeof(m) && m.magic == NR_MSG_MAGIC &&
		    m.type == type && m.id == id)
			return true;
	}
	return false;
}

/**
 * ring_frame() - the frame we put through rings: broadcast, EtherType
 * 0x88b5, carrying an 8-byte marker
 * @buf:	out, HDR + 60 bytes (a zero virtio-net header first)
 * @mark:	8 bytes
 */
static void ring_frame(unsigned char *buf, const char *mark)
{
	memset(buf, 0, HDR + 60);
	memset(buf + HDR, 0xff, 6);
	memcpy(buf + HDR + 6, "\x02\x00\x00\x00\x00\x01", 6);
	buf[HDR + 12] = 0x88;
	buf[HDR + 13] = 0xb5;
	memcpy(buf + HDR + 20, mark, 8);
}

/**
 * wait_rx() - wait up to 3 s for the interface's rx_packets to reach @want
 * @ifn:	interface
 * @want:	value
 *
 * Return: the last value read
 */
static long wait_rx(const char *ifn, long want)
{
	long v = -1;
	int i;

	for (i = 0; i < 30; i++) {
		v = ifstat(ifn, "statistics/rx_packets");
		if (v >= want)
			break;
		usleep(100 * 1000);
	}
	return v;
}

/**
 * xmit() - have the interface send a frame carrying @mark (AF_PACKET)
 * @ifn:	interface
 * @mark:	8 bytes
 *
 * Return: true if sent
 */
static bool xmit(const char *ifn, const char *mark)
{
	struct sockaddr_ll ll = {
		.sll_family = AF_PACKET,
		.sll_ifindex = if_nametoindex(ifn),
		.sll_halen = 6,
	};
	unsigned char f[HDR + 60];
	bool ok;
	int ps;

	ps = socket(AF_PACKET, SOCK_RAW, 0);
	if (ps < 0)
		return false;
	memset(ll.sll_addr, 0xff, 6);
	ring_frame(f, mark);
	ok = sendto(ps, f + HDR, 60, 0, (struct sockaddr *)&ll,
		    sizeof(ll)) == 60;
	close(ps);
	return ok;
}

/**
 * ring_checks() - the hostile ring peer
 * @s:		socket connected to the emulator
 * @ifn:	its interface
 */
static void ring_checks(int s, const char *ifn)
{
	unsigned char f[HDR + 60];
	int nul, ev, mfd, pfd[2], fds0, fds1, i, k, three[3], two[2];
	long base, v, ring0, ring1;
	struct nr_hdr *h, *eh;
	uint8_t *data, *edata;
	uint32_t pos, len;
	bool found = false;

	/* 1. descriptors on frames and on unknown messages */
	fds0 = nemu_fds(&emu, NULL);
	nul = open("/dev/null", O_RDONLY);
	three[0] = three[1] = three[2] = nul;
	base = ifstat(ifn, "statistics/rx_packets");
	ring_frame(f, "fdsframe");
	for (i = 0; i < 50; i++)
		nemu_send_fds(s, NULL, f, sizeof(f), three, 3);
	for (i = 0; i < 20; i++)
		send_ctl(s, 77, 0, three, 3);
	/* one frame more, read after all the above: then all was handled */
	nemu_send_fds(s, NULL, f, sizeof(f), NULL, 0);
	v = wait_rx(ifn, base + 51) - 1;
	fds1 = settled_fds(fds0);
	tap_ok(v == base + 50 && fds1 == fds0,
	       "50 frames and 20 unknown messages with descriptors: frames arrive (%ld), no descriptor kept (%d -> %d)",
	       v - base, fds0, fds1);

	/* 2. bad offers */
	ev = eventfd(0, 0);
	mfd = memfd_create("unsealed", MFD_ALLOW_SEALING);
	if (ftruncate(mfd, NR_MAP_SIZE))
		tap_diag("ftruncate: %s", strerror(errno));
	two[0] = mfd;
	two[1] = ev;
	send_ctl(s, NR_OFFER_BACK, 5, two, 2);
	close(mfd);
	mfd = memfd_create("nopipe", MFD_ALLOW_SEALING);
	if (ftruncate(mfd, NR_MAP_SIZE) ||
	    fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) || pipe(pfd))
		tap_diag("memfd or pipe: %s", strerror(errno));
	two[0] = mfd;
	two[1] = pfd[0];
	send_ctl(s, NR_OFFER_BACK, 6, two, 2);
	send_ctl(s, NR_OFFER_BACK, 7, &mfd, 1);
	close(mfd);
	close(pfd[0]);
	close(pfd[1]);
	k = emu_log_has("shared ring: not sealed against shrinking") +
	    emu_log_has("shared ring: no eventfd for room") +
	    emu_log_has("shared ring: 1 descriptors");
	fds1 = settled_fds(fds0);
	if (!tap_ok(k == 3 && fds1 == fds0,
		    "3 bad ring offers refused (%d logged), no descriptor kept (%d -> %d)",
		    k, fds0, fds1))
		nemu_show_log(&emu);

	/* 3. a good ring, then an impossible record in it */
	mfd = memfd_create("good", MFD_ALLOW_SEALING);
	if (ftruncate(mfd, NR_MAP_SIZE) ||
	    fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW))
		tap_diag("memfd: %s", strerror(errno));
	h = mmap(NULL, NR_MAP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (h == MAP_FAILED) {
		tap_ok(false, "cannot map a ring: %s", strerror(errno));
		return;
	}
	data = (uint8_t *)h + NR_HDR_SIZE;
	h->magic = NR_MAGIC;
	h->version = NR_VERSION;
	h->data_size = NR_DATA_SIZE;
	two[0] = mfd;
	two[1] = ev;
	send_ctl(s, NR_OFFER_BACK, 99, two, 2);
	close(mfd);
	tap_ok(wait_ctl(s, NR_ACCEPT, 99, NULL), "a well-formed ring offer is accepted");

	ring0 = nemu_stat(&emu, "rx", "ring");
	base = ifstat(ifn, "statistics/rx_packets");
	ring_frame(f, "ringfrm1");
	len = sizeof(f);
	memcpy(data, &len, 4);
	memcpy(data + NR_REC_HDR, f, len);
	__atomic_store_n(&h->prod, 128, __ATOMIC_RELEASE);
	send_ctl(s, NR_BELL, 99, NULL, 0);
	v = wait_rx(ifn, base + 1);
	ring1 = nemu_stat(&emu, "rx", "ring");
	tap_ok(v == base + 1 && ring1 == ring0 + 1,
	       "a frame put in the ring arrives through it (rx_packets +%ld, ring %ld -> %ld)",
	       v - base, ring0, ring1);

	len = 0x7fff0000;
	memcpy(data + 128, &len, 4);
	__atomic_store_n(&h->prod, 256, __ATOMIC_RELEASE);
	send_ctl(s, NR_BELL, 99, NULL, 0);
	k = emu_log_has("the peer's shared ring is corrupt");
	ring_frame(f, "sockfrm1");
	send(s, f, sizeof(f), 0);
	v = wait_rx(ifn, base + 2);
	tap_ok(k && v == base + 2,
	       "an impossible record: ring dropped (%s), the next frame comes through the socket (rx_packets +%ld)",
	       k ? "logged" : "not logged", v - base);
	munmap(h, NR_MAP_SIZE);

	/* 4. as consumer of the emulator's ring: a position ahead of it */
	if (emu_memfd < 0) {
		tap_ok(false, "the emulator offered no ring");
		tap_ok(false, "(skipped: no ring)");
		return;
	}
	eh = mmap(NULL, NR_MAP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		  emu_memfd, 0);
	if (eh == MAP_FAILED) {
		tap_ok(false, "cannot map the emulator's ring: %s", strerror(errno));
		tap_ok(false, "(skipped: no ring)");
		return;
	}
	edata = (uint8_t *)eh + NR_HDR_SIZE;
	send_ctl(s, NR_ACCEPT, emu_ring_id, NULL, 0);
	k = emu_log_has("frames go to the peer through a shared ring");
	xmit(ifn, "ringout1");
	pos = __atomic_load_n(&eh->cons, __ATOMIC_RELAXED);
	for (i = 0; i < 50 && !found; i++) {
		while (!found && pos != __atomic_load_n(&eh->prod,
							 __ATOMIC_ACQUIRE)) {
			memcpy(&len, edata + (pos & (NR_DATA_SIZE - 1)), 4);
			if (len == NR_WRAP) {
				pos += NR_DATA_SIZE - (pos & (NR_DATA_SIZE - 1));
				continue;
			}
			found = len > HDR + 28 && len <= NR_MAX_LEN &&
				memmem(edata + (pos & (NR_DATA_SIZE - 1)) +
				       NR_REC_HDR, len, "ringout1", 8);
			pos += (NR_REC_HDR + len + NR_ALIGN - 1) & ~(NR_ALIGN - 1);
		}
		__atomic_store_n(&eh->cons, pos, __ATOMIC_RELEASE);
		if (!found)
			usleep(100 * 1000);
	}
	tap_ok(k && found, "after our accept, the emulator's frames come through its ring (%s)",
	       found ? "found ours" : "not found");

	__atomic_store_n(&eh->cons, __atomic_load_n(&eh->prod, __ATOMIC_ACQUIRE) + 64,
			 __ATOMIC_RELEASE);
	xmit(ifn, "ringout2");
	k = emu_log_has("the peer corrupted our shared ring");
	found = wait_ctl(s, 0, 0, "ringout2");
	tap_ok(k && found,
	       "a consumer position ahead of the producer: ring dropped (%s), frames come through the socket (%s)",
	       k ? "logged" : "not logged", found ? "ours arrived" : "ours did not arrive");
	munmap(eh, NR_MAP_SIZE);
	close(ev);
	close(nul);
}

/**
 * main() - run the checks
 *
 * Return: kselftest exit code
 */
int main(void)
{
	struct virtio_net_hdr_v1 h = { 0 }, tso = { 0 }, bad;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	long base, drops0, drops, rx, v;
	int s, i, buf = 4 << 20;
	char spec[300], cmd[256];
	char *argv[] = { "uvirtio-net", "--mtu", "1500", spec, NULL };
	const char *ifn = emu.ifn;

	require_uvirtio(0);
	tap_plan(13);
	if (!mkdtemp(dir))
		return 1;
	snprintf(dev_path, sizeof(dev_path), "%s/dev", dir);
	snprintf(peer_path, sizeof(peer_path), "%s/peer", dir);
	snprintf(emu.log, sizeof(emu.log), "%s/err", dir);

	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	setsockopt(s, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	strcpy(sa.sun_path, peer_path);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa))) {
		tap_ok(false, "peer socket %s: %s", peer_path, strerror(errno));
		return tap_done();
	}
	snprintf(spec, sizeof(spec), "dgram:%s,%s", dev_path, peer_path);
	i = nemu_start(&emu, 0, argv);
	if (!tap_ok(!i, "uvirtio-net dgram started, interface '%s'", ifn)) {
		nemu_show_log(&emu);
		return tap_done();
	}
	snprintf(cmd, sizeof(cmd), "ip link set %s up", ifn);
	if (system(cmd))
		tap_diag("'%s' failed", cmd);
	strcpy(sa.sun_path, dev_path);
	for (i = 0; i < 100 && connect(s, (struct sockaddr *)&sa, sizeof(sa)); i++)
		usleep(100 * 1000);
	for (i = 0; i < 100 && ifstat(ifn, "carrier") != 1; i++)
		usleep(100 * 1000);
	tap_ok(ifstat(ifn, "carrier") == 1, "%s: carrier up", ifn);

	drops0 = nemu_stat(&emu, "rx", "drops");
	base = ifstat(ifn, "statistics/rx_packets");
	/* Five malformed datagrams. */
	send_frame(s, NULL, 5);				/* no room for a header */
	send_frame(s, &h, 10);				/* shorter than Ethernet */
	send_frame(s, &h, MTU + 18 + 100);		/* longer than the MTU */
	tso.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;	/* TSO, no partial csum */
	tso.gso_size = 1000;
	send_frame(s, &tso, 3000);
	send_frame(s, &h, 69000);			/* beyond any rx buffer */
	/* Headers the host kernel would have to second-guess. */
	bad = h;
	bad.flags = 0x80;				/* unknown flag bit */
	send_frame(s, &bad, 60);
	bad.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;	/* checksum outside */
	bad.csum_start = 50;
	bad.csum_offset = 16;
	send_frame(s, &bad, 60);
	bad.csum_start = 0xfff0;
	bad.csum_offset = 0x20;
	send_frame(s, &bad, 60);
	usleep(500 * 1000);
	drops = nemu_stat(&emu, "rx", "drops");
	rx = ifstat(ifn, "statistics/rx_packets");
	tap_ok(drops - drops0 == 8, "8 malformed frames (3 with bad header fields) dropped and counted (%ld)",
	       drops - drops0);
	tap_ok(rx == base, "none reached the interface (rx_packets %ld -> %ld)",
	       base, rx);

	send_frame(s, &h, 60);
	for (i = 0; i < 30 && ifstat(ifn, "statistics/rx_packets") == base; i++)
		usleep(100 * 1000);
	v = ifstat(ifn, "statistics/rx_packets");
	tap_ok(v == base + 1, "a good frame after them arrives (rx_packets %ld -> %ld)",
	       base, v);

	ring_checks(s, ifn);

	if (!tap_ok(nemu_term(&emu, 30000, NULL), "emulator exits 0 on SIGTERM"))
		nemu_show_log(&emu);
	close(s);
	unlink(peer_path);
	unlink(emu.log);
	rmdir(dir);
	return tap_done();
}

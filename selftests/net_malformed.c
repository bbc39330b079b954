// SPDX-License-Identifier: GPL-2.0-only
/*
 * net_malformed - frames a backend peer sends that must never reach the
 * driver: shorter than the virtio-net header, shorter than an Ethernet
 * header, longer than the MTU allows, a TSO frame without a partial
 * checksum, and one longer than any receive buffer. Each is dropped and
 * counted by uvirtio-net; a good frame sent after them arrives (the
 * interface's rx_packets grows by exactly one) and the emulator still
 * runs and stops cleanly. The kernel log is checked by the harness.
 *
 * The test plays the dgram peer of a uvirtio-net started as root.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/virtio_net.h>

#include "unit/tap.h"

#define HDR		sizeof(struct virtio_net_hdr_v1)
#define MTU		1500

static char dir[] = "/tmp/net_malformed.XXXXXX";
static char dev_path[128], peer_path[128], err_path[128];
static pid_t emu_pid;

/**
 * read_long() - a number from a sysfs file
 * @path:	file
 *
 * Return: the number, or -1
 */
static long read_long(const char *path)
{
	char buf[64];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

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
	return read_long(path);
}

/**
 * emu_start() - start uvirtio-net and read its interface name
 * @ifn:	out, 32 bytes
 *
 * Return: 0 or -1
 */
static int emu_start(char *ifn)
{
	char spec[300], line[32];
	struct pollfd pfd;
	int p[2], fd, len = 0;

	snprintf(spec, sizeof(spec), "dgram:%s,%s", dev_path, peer_path);
	if (pipe(p))
		return -1;
	emu_pid = fork();
	if (emu_pid < 0)
		return -1;
	if (!emu_pid) {
		fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(p[1], 1);
		dup2(fd, 2);
		close(p[0]);
		execlp("uvirtio-net", "uvirtio-net", "--mtu", "1500", spec,
		       (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	while (len < (int)sizeof(line) - 1 && poll(&pfd, 1, 30000) == 1) {
		if (read(p[0], line + len, 1) != 1)
			break;
		if (line[len] == '\n') {
			line[len] = '\0';
			snprintf(ifn, 32, "%s", line);
			close(p[0]);
			return 0;
		}
		len++;
	}
	close(p[0]);
	return -1;
}

/**
 * emu_stat() - a counter from the emulator's latest "stats" line
 * @q:		"rx" or "tx"
 * @field:	counter name
 *
 * Asks for the counters with SIGUSR2 first.
 *
 * Return: the value, or -1
 */
static long emu_stat(const char *q, const char *field)
{
	char line[512], key[32], want[16];
	long v = -1;
	char *p;
	FILE *f;

	kill(emu_pid, SIGUSR2);
	usleep(300 * 1000);
	f = fopen(err_path, "r");
	if (!f)
		return -1;
	snprintf(want, sizeof(want), "stats %s ", q);
	snprintf(key, sizeof(key), " %s=", field);
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, want))
			continue;
		p = strstr(line, key);
		if (p)
			v = strtol(p + strlen(key), NULL, 10);
	}
	fclose(f);
	return v;
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

/**
 * main() - run the checks
 *
 * Return: kselftest exit code
 */
int main(void)
{
	struct virtio_net_hdr_v1 h = { 0 }, tso = { 0 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	long base, drops0, drops, rx, v;
	int s, status, i, buf = 4 << 20;
	char ifn[32], cmd[256];

	if (access("/dev/uvirtio", R_OK | W_OK)) {
		printf("TAP version 13\n1..0 # SKIP /dev/uvirtio is not there\n");
		return 4;
	}
	tap_plan(6);
	if (!mkdtemp(dir))
		return 1;
	snprintf(dev_path, sizeof(dev_path), "%s/dev", dir);
	snprintf(peer_path, sizeof(peer_path), "%s/peer", dir);
	snprintf(err_path, sizeof(err_path), "%s/err", dir);

	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	setsockopt(s, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	strcpy(sa.sun_path, peer_path);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa))) {
		tap_ok(false, "peer socket %s: %s", peer_path, strerror(errno));
		return tap_done();
	}
	ifn[0] = '\0';
	i = emu_start(ifn);
	if (!tap_ok(!i, "uvirtio-net dgram started, interface '%s'", ifn)) {
		if (system("cat /tmp/net_malformed.*/err"))
			tap_diag("no emulator log");
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

	drops0 = emu_stat("rx", "drops");
	base = ifstat(ifn, "statistics/rx_packets");
	/* Five malformed datagrams. */
	send_frame(s, NULL, 5);				/* no room for a header */
	send_frame(s, &h, 10);				/* shorter than Ethernet */
	send_frame(s, &h, MTU + 18 + 100);		/* longer than the MTU */
	tso.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;	/* TSO, no partial csum */
	tso.gso_size = 1000;
	send_frame(s, &tso, 3000);
	send_frame(s, &h, 69000);			/* beyond any rx buffer */
	usleep(500 * 1000);
	drops = emu_stat("rx", "drops");
	rx = ifstat(ifn, "statistics/rx_packets");
	tap_ok(drops - drops0 == 5, "5 malformed frames dropped and counted (%ld)",
	       drops - drops0);
	tap_ok(rx == base, "none reached the interface (rx_packets %ld -> %ld)",
	       base, rx);

	send_frame(s, &h, 60);
	for (i = 0; i < 30 && ifstat(ifn, "statistics/rx_packets") == base; i++)
		usleep(100 * 1000);
	v = ifstat(ifn, "statistics/rx_packets");
	tap_ok(v == base + 1, "a good frame after them arrives (rx_packets %ld -> %ld)",
	       base, v);

	kill(emu_pid, SIGTERM);
	for (i = 0; i < 300 && waitpid(emu_pid, &status, WNOHANG) == 0; i++)
		usleep(100 * 1000);
	if (!tap_ok(i < 300 && WIFEXITED(status) && !WEXITSTATUS(status),
		    "emulator exits 0 on SIGTERM")) {
		kill(emu_pid, SIGKILL);
		snprintf(cmd, sizeof(cmd), "cat %s", err_path);
		if (system(cmd))
			tap_diag("no emulator log");
	}
	close(s);
	unlink(peer_path);
	unlink(err_path);
	rmdir(dir);
	return tap_done();
}

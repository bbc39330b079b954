// SPDX-License-Identifier: GPL-2.0-only
/*
 * netctrl - the kernel side of a uvirtio-net device: the control queue is
 * answered by the module, and the interface lives in its creator's network
 * namespace.
 *
 * The device's data queues are never served here: what is checked is that
 * virtio_net probes, configures and tears down an interface whose emulator
 * does nothing at all, and that every control command it sends (queue
 * pairs, MAC address, rx modes, VLAN filter) is acknowledged at once and
 * reported to the emulator as UVIRTIO_EV_NET_CTRL.
 *
 * Must run as root (it also acts as uid 1000 in forked children).
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/uvirtio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include "dev.h"
#include "testemu.h"
#include "require.h"
#include "unit/tap.h"

#define USER_UID	1000
#define PAIRS		2

static const uint8_t mac0[6] = { 0x02, 0x75, 0x76, 0x00, 0x00, 0x01 };

/* A net device with a control queue, two queue pairs and a link. */
static void net_config(struct uvdev_config *c, struct virtio_net_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	memcpy(cfg->mac, mac0, sizeof(mac0));
	cfg->status = VIRTIO_NET_S_LINK_UP;
	cfg->max_virtqueue_pairs = PAIRS;
	cfg->mtu = 1500;
	memset(c, 0, sizeof(*c));
	c->device_id = VIRTIO_ID_NET;
	c->num_queues = 2 * PAIRS + 1;
	c->queue_size = 256;
	c->features = 1ULL << VIRTIO_NET_F_MAC | 1ULL << VIRTIO_NET_F_STATUS |
		      1ULL << VIRTIO_NET_F_MTU | 1ULL << VIRTIO_NET_F_CTRL_VQ |
		      1ULL << VIRTIO_NET_F_CTRL_RX | 1ULL << VIRTIO_NET_F_CTRL_VLAN |
		      1ULL << VIRTIO_NET_F_MQ | 1ULL << VIRTIO_NET_F_CTRL_MAC_ADDR |
		      1ULL << VIRTIO_RING_F_EVENT_IDX;
	c->config = cfg;
	c->config_size = sizeof(*cfg);
}

/* Name of the interface whose MAC is @mac in this namespace, or "". */
static void iface_by_mac(const uint8_t *mac, char *name)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	name[0] = 0;
	for (i = ifs; s >= 0 && i && i->if_index; i++) {
		struct ifreq r = { 0 };

		snprintf(r.ifr_name, sizeof(r.ifr_name), "%s", i->if_name);
		if (!ioctl(s, SIOCGIFHWADDR, &r) &&
		    !memcmp(r.ifr_hwaddr.sa_data, mac, 6)) {
			snprintf(name, IF_NAMESIZE, "%s", i->if_name);
			break;
		}
	}
	if (ifs)
		if_freenameindex(ifs);
	if (s >= 0)
		close(s);
}

/**
 * struct seen - control commands reported so far
 * @n:		how many
 * @bad_ack:	one was answered with an error
 * @ev:		the last 32
 */
struct seen {
	unsigned int n;
	bool bad_ack;
	struct uvirtio_net_ctrl_event ev[32];
};

/* Read events for up to @ms; true once class/cmd (data if @data) was seen. */
static bool wait_ctrl(struct uvdev *d, struct seen *s, int ms, uint8_t class,
		      uint8_t cmd, const void *data, size_t len)
{
	long end = temu_now_ms() + ms;
	unsigned int i;

	for (;;) {
		struct uvirtio_event ev;
		struct pollfd p = { .fd = d->fd, .events = POLLIN };

		while (uvdev_read_event(d, &ev) > 0) {
			uvdev_handle_event(d, &ev);
			if (ev.type != UVIRTIO_EV_NET_CTRL)
				continue;
			memcpy(&s->ev[s->n % 32], &ev, sizeof(ev));
			if (s->ev[s->n++ % 32].ack != VIRTIO_NET_OK)
				s->bad_ack = true;
		}
		for (i = 0; i < s->n && i < 32; i++) {
			const struct uvirtio_net_ctrl_event *e = &s->ev[i];

			if (e->ctrl_class == class && e->cmd == cmd &&
			    (!data || (e->len == len && !memcmp(e->data, data, len))))
				return true;
		}
		if (temu_now_ms() > end)
			return false;
		poll(&p, 1, 50);
	}
}

static int sh(const char *fmt, const char *arg)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), fmt, arg);
	return system(cmd);
}

/* Root, initial namespace: the control queue works without the emulator. */
static void test_ctrl_queue(void)
{
	static const uint8_t mac1[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
	struct virtio_net_config cfg;
	struct uvirtio_queue_info qi = { .index = 2 * PAIRS };
	struct uvdev_config c;
	struct seen s = { 0 };
	struct uvdev d;
	char ifn[IF_NAMESIZE] = "";
	uint8_t one = 1;
	uint16_t pairs = PAIRS, vid = 100;
	long end;
	int ret;

	net_config(&c, &cfg);
	ret = uvdev_open(&d, UVDEV_PATH);
	if (!ret)
		ret = uvdev_create(&d, &c);
	if (!ret)
		ret = uvdev_start(&d);
	if (!tap_eq(ret, 0, "net device with a control queue and 2 queue pairs created")) {
		tap_diag("%s", strerror(-ret));
		exit(tap_done());
	}
	end = temu_now_ms() + 10000;
	while (!ifn[0] && temu_now_ms() < end) {
		wait_ctrl(&d, &s, 50, 0xff, 0xff, NULL, 0);
		iface_by_mac(mac0, ifn);
	}
	tap_ok(ifn[0], "virtio_net registered an interface (%s) with the emulator idle",
	       ifn[0] ? ifn : "none");
	tap_ok(wait_ctrl(&d, &s, 5000, VIRTIO_NET_CTRL_MQ,
			 VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs, 2),
	       "probe's queue pair count reached the emulator as an event");
	ret = ioctl(d.fd, UVIRTIO_GET_QUEUE, &qi);
	tap_ok(!ret && qi.state == UVIRTIO_QUEUE_KERNEL,
	       "the control queue is reported as served by the kernel (state %u)",
	       qi.state);

	sh("ip link set dev %s address 02:11:22:33:44:55", ifn);
	tap_ok(wait_ctrl(&d, &s, 5000, VIRTIO_NET_CTRL_MAC,
			 VIRTIO_NET_CTRL_MAC_ADDR_SET, mac1, 6),
	       "ip link set address: MAC_ADDR_SET with the new address");
	/*
	 * Up, but with nothing to send (no IPv6 autoconfiguration, no
	 * address): the tx queues are never served here, and a packet
	 * waiting 5 s there would trip the netdev watchdog.
	 */
	sh("echo 1 > /proc/sys/net/ipv6/conf/%s/disable_ipv6", ifn);
	sh("ip link set dev %s up", ifn);
	sh("ip link set dev %s promisc on", ifn);
	tap_ok(wait_ctrl(&d, &s, 5000, VIRTIO_NET_CTRL_RX,
			 VIRTIO_NET_CTRL_RX_PROMISC, &one, 1),
	       "promisc on: RX_PROMISC 1");
	tap_ok(wait_ctrl(&d, &s, 5000, VIRTIO_NET_CTRL_MAC,
			 VIRTIO_NET_CTRL_MAC_TABLE_SET, NULL, 0),
	       "rx mode update: MAC_TABLE_SET");
	sh("ip link add link %s name uvvlan type vlan id 100 2>/dev/null", ifn);
	if (wait_ctrl(&d, &s, 3000, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD,
		      &vid, 2))
		tap_ok(true, "vlan 100: VLAN_ADD 100");
	else
		tap_skip("vlan 100: VLAN_ADD 100", "no 8021q support in this kernel");
	sh("ip link del uvvlan 2>/dev/null", ifn);
	tap_ok(!s.bad_ack, "every command was acknowledged with VIRTIO_NET_OK (%u commands)",
	       s.n);

	sh("ip link set dev %s down", ifn);
	uvdev_close(&d);
	end = temu_now_ms() + 5000;
	do {
		iface_by_mac(mac1, ifn);
	} while (ifn[0] && temu_now_ms() < end && !usleep(50000));
	tap_ok(!ifn[0], "closing the fd removed the interface");
}

/* Child: create the device as uid 1000; returns the exit code to report. */
static int child_create(bool own_netns, char *ifn_out, int pipefd)
{
	struct virtio_net_config cfg;
	struct uvdev_config c;
	struct uvdev d;
	char ifn[IF_NAMESIZE] = "";
	long end;
	int ret;

	if (own_netns) {
		if (unshare(CLONE_NEWUSER | CLONE_NEWNET))
			return 10;
		int fd = open("/proc/self/uid_map", O_WRONLY);

		if (fd < 0 || dprintf(fd, "0 %d 1\n", USER_UID) < 0)
			return 11;
		close(fd);
	}
	net_config(&c, &cfg);
	ret = uvdev_open(&d, UVDEV_PATH);
	if (!ret)
		ret = uvdev_create(&d, &c);
	if (ret) {
		dprintf(pipefd, "%d\n", ret);
		return 0;
	}
	ret = uvdev_start(&d);
	end = temu_now_ms() + 10000;
	while (!ret && !ifn[0] && temu_now_ms() < end) {
		struct uvirtio_event ev;

		while (uvdev_read_event(&d, &ev) > 0)
			uvdev_handle_event(&d, &ev);
		iface_by_mac(mac0, ifn);
		usleep(50000);
	}
	dprintf(pipefd, "0 %s\n", ifn[0] ? ifn : "-");
	/* Stay until the parent has looked for the interface. */
	(void)read(pipefd, ifn_out, 1);
	uvdev_close(&d);
	return 0;
}

/* Run child_create() as uid 1000; *err gets the create result. */
static void as_user(bool own_netns, int *err, char *ifn, char *parent_sees)
{
	int sv[2];
	char buf[64] = "";
	pid_t pid;
	int st;

	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	pid = fork();
	if (!pid) {
		close(sv[0]);
		if (setresgid(USER_UID, USER_UID, USER_UID) ||
		    setresuid(USER_UID, USER_UID, USER_UID))
			_exit(12);
		/* Changing uid made us undumpable: /proc/self/uid_map is root's. */
		prctl(PR_SET_DUMPABLE, 1);
		_exit(child_create(own_netns, buf, sv[1]));
	}
	close(sv[1]);
	*err = -9999;
	ifn[0] = parent_sees[0] = 0;
	if (read(sv[0], buf, sizeof(buf) - 1) > 0)
		sscanf(buf, "%d %15s", err, ifn);
	iface_by_mac(mac0, parent_sees);
	(void)send(sv[0], "x", 1, MSG_NOSIGNAL);
	close(sv[0]);
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		tap_diag("child exit status 0x%x", st);
}

static void test_netns(void)
{
	char ifn[IF_NAMESIZE + 1], outside[IF_NAMESIZE];
	int err;

	as_user(false, &err, ifn, outside);
	tap_eq(err, -EPERM, "uid 1000 in the initial network namespace: EPERM");
	as_user(true, &err, ifn, outside);
	tap_eq(err, 0, "uid 1000 in its own user+net namespace: created");
	tap_ok(ifn[0] && strcmp(ifn, "-"), "the interface (%s) is in the creator's namespace",
	       ifn);
	tap_ok(!outside[0], "and not in the initial namespace (%s)",
	       outside[0] ? outside : "absent");
}

int main(void)
{
	require_uvirtio(REQ_ROOT);
	tap_plan(14);
	test_ctrl_queue();
	test_netns();
	return tap_done();
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * dev.c - a uvirtio device: /dev/uvirtio, its domain, events and queues
 *
 * Order of set-up: open, check the API version, UVIRTIO_CREATE,
 * UVIRTIO_GET_LAYOUT, mmap() the domain, one kick and one call eventfd per
 * queue, UVIRTIO_START. The rings exist only once the driver says
 * DRIVER_OK; UVIRTIO_EV_RESET takes them away again.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/virtio_config.h>

#include "dev.h"

/**
 * uvdev_open() - open the uvirtio control device and check its API
 * @d:		device to initialise
 * @path:	device node, NULL for UVDEV_PATH
 *
 * Return: 0; -errno from open() or ioctl(); -EPROTONOSUPPORT if the module
 * speaks another API version (@d->api_version says which)
 */
int uvdev_open(struct uvdev *d, const char *path)
{
	unsigned int i;
	int ret;

	memset(d, 0, sizeof(*d));
	d->map = MAP_FAILED;
	for (i = 0; i < UVIRTIO_MAX_QUEUES; i++) {
		d->q[i].kick_fd = d->q[i].call_fd = -1;
		d->q[i].vq.call_fd = -1;
	}

	d->fd = open(path ? path : UVDEV_PATH, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (d->fd < 0)
		return -errno;
	if (ioctl(d->fd, UVIRTIO_GET_API_VERSION, &d->api_version) < 0) {
		ret = -errno;
		goto err_close;
	}
	if (d->api_version != UVIRTIO_API_VERSION) {
		ret = -EPROTONOSUPPORT;
		goto err_close;
	}
	return 0;

err_close:
	close(d->fd);
	d->fd = -1;
	return ret;
}

/**
 * uvdev_set_fd() - attach one eventfd to a queue
 * @d:		device
 * @req:	UVIRTIO_SET_KICK_FD or UVIRTIO_SET_CALL_FD
 * @i:		queue index
 * @fd:		eventfd
 *
 * Return: 0 or -errno
 */
static int uvdev_set_fd(struct uvdev *d, unsigned long req, unsigned int i,
			int fd)
{
	struct uvirtio_vq_eventfd e;

	memset(&e, 0, sizeof(e));
	e.index = i;
	e.fd = fd;
	return ioctl(d->fd, req, &e) < 0 ? -errno : 0;
}

/**
 * uvdev_create() - create the device, map its domain, attach eventfds
 * @d:		device from uvdev_open()
 * @c:		what to create
 *
 * Nothing is visible to the kernel's drivers until uvdev_start().
 *
 * Return: 0 or -errno (the fd is left as it is: uvdev_close() cleans up)
 */
static int uvdev_setup(struct uvdev *d);
static int uvdev_queues_start(struct uvdev *d);

int uvdev_create(struct uvdev *d, const struct uvdev_config *c)
{
	struct uvirtio_create cr;

	if (c->num_queues == 0 || c->num_queues > UVIRTIO_MAX_QUEUES)
		return -EINVAL;

	memset(&cr, 0, sizeof(cr));
	cr.device_id = c->device_id;
	cr.num_queues = c->num_queues;
	cr.queue_size = c->queue_size;
	cr.config_size = c->config_size;
	cr.features = c->features;
	cr.config_addr = (uintptr_t)c->config;
	cr.bounce_size = c->bounce_size;
	cr.flags = c->recovery ? UVIRTIO_CREATE_F_RECOVERY : 0;
	if (c->vring_used)
		cr.flags |= UVIRTIO_CREATE_F_VRING_USED;
	if (c->used_len)
		cr.flags |= UVIRTIO_CREATE_F_USED_LEN;
	if (ioctl(d->fd, UVIRTIO_CREATE, &cr) < 0)
		return -errno;
	d->index = cr.index;
	d->vring_used = c->vring_used;
	d->num_queues = c->num_queues;
	return uvdev_setup(d);
}

/**
 * uvdev_map_pool() - map the bounce pool again, over itself, on its own
 * @d:		device whose domain is mapped at @d->map
 *
 * The module gives a mapping that holds none of the read-only ring pages
 * no write notification, and only such a mapping's pages can be pinned for
 * long: registered as an io_uring's fixed buffers, for one. The addresses
 * stay the same. A layout whose pool is not whole pages inside the domain
 * is left as it is.
 *
 * Return: 0 or -errno (the pool may then be unmapped)
 */
static int uvdev_map_pool(struct uvdev *d)
{
	const struct uvirtio_layout *l = &d->layout;
	long page = sysconf(_SC_PAGESIZE);
	void *p;

	if (!l->bounce_size || page <= 0 ||
	    (l->bounce_offset | l->bounce_size) % (uint64_t)page ||
	    l->bounce_offset > l->domain_size ||
	    l->bounce_size > l->domain_size - l->bounce_offset)
		return 0;
	p = mmap((uint8_t *)d->map + l->bounce_offset, l->bounce_size,
		 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, d->fd,
		 (off_t)l->bounce_offset);
	return p == MAP_FAILED ? -errno : 0;
}

/**
 * uvdev_setup() - map the domain of the fd's device and attach eventfds
 * @d:		device, created or attached
 *
 * Return: 0 or -errno
 */
static int uvdev_setup(struct uvdev *d)
{
	unsigned int i;
	int ret;

	memset(&d->layout, 0, sizeof(d->layout));
	if (ioctl(d->fd, UVIRTIO_GET_LAYOUT, &d->layout) < 0)
		return -errno;
	if (d->layout.domain_size == 0 ||
	    (size_t)d->layout.domain_size != d->layout.domain_size ||
	    d->layout.num_queues == 0 || d->layout.num_queues > UVIRTIO_MAX_QUEUES)
		return -EPROTO;
	d->num_queues = d->layout.num_queues;

	d->map = mmap(NULL, d->layout.domain_size, PROT_READ | PROT_WRITE,
		      MAP_SHARED, d->fd, 0);
	if (d->map == MAP_FAILED)
		return -errno;
	ret = uvdev_map_pool(d);
	if (ret)
		return ret;

	for (i = 0; i < d->num_queues; i++) {
		struct uvdev_queue *q = &d->q[i];

		q->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (q->kick_fd < 0)
			return -errno;
		q->call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (q->call_fd < 0)
			return -errno;
		ret = uvdev_set_fd(d, UVIRTIO_SET_KICK_FD, i, q->kick_fd);
		if (ret)
			return ret;
		ret = uvdev_set_fd(d, UVIRTIO_SET_CALL_FD, i, q->call_fd);
		if (ret)
			return ret;
	}
	return 0;
}

static bool uvdev_state_is(const char *dir, const char *want, bool absent);

/**
 * uvdev_attach() - take over a recovery-mode device whose emulator died
 * @d:		device from uvdev_open()
 * @index:	the device's index
 *
 * Maps the domain, attaches new eventfds and takes up every queue the
 * driver has set up, resuming where the kernel's record says: the heads
 * the driver still waits for come first out of uvq_pop(), then the avail
 * ring from where the kernel has seen it.
 *
 * Return: 0, -ENOENT (no such device waiting), -EPERM (another user's),
 * -EBUSY, or -errno
 */
int uvdev_attach(struct uvdev *d, unsigned int index)
{
	struct uvirtio_attach a;
	static uint16_t heads[UVIRTIO_MAX_QUEUE_SIZE];
	unsigned int i, tries;
	char dir[300];
	int ret;

	memset(&a, 0, sizeof(a));
	a.index = index;
	/*
	 * A killed emulator's device file is released a moment after its
	 * death, and only then is the device waiting (recovering): up to a
	 * second later where a pending io_uring WAIT must reach its bound
	 * first (kernels before 6.7 cannot cancel it). Until then the device
	 * reads live: give it that moment.
	 */
	for (tries = 0; ioctl(d->fd, UVIRTIO_ATTACH, &a) < 0; tries++) {
		ret = -errno;
		if (ret != -ENOENT || tries == 30)
			return ret;
		snprintf(dir, sizeof(dir), "%s/uvirtio-%u", UVDEV_SYSFS, index);
		if (!uvdev_state_is(dir, "live", false))
			return ret;
		usleep(100 * 1000);
	}
	d->index = index;
	ret = uvdev_setup(d);
	if (ret)
		return ret;
	ret = uvdev_queues_start(d);
	for (i = 0; !ret && i < d->num_queues; i++) {
		struct uvirtio_inflight r;

		if (!d->q[i].vq.ready)
			continue;
		memset(&r, 0, sizeof(r));
		r.index = i;
		r.heads_addr = (uintptr_t)heads;
		if (ioctl(d->fd, UVIRTIO_GET_INFLIGHT, &r) < 0)
			return -errno;
		ret = uvq_resume(&d->q[i].vq, r.last_avail, heads, r.count);
	}
	return ret;
}

/**
 * uvdev_start() - register the virtio device: the driver binds (async)
 * @d:		device
 *
 * Return: 0 or -errno
 */
int uvdev_start(struct uvdev *d)
{
	return ioctl(d->fd, UVIRTIO_START) < 0 ? -errno : 0;
}

/**
 * uvdev_read_event() - read one event from the device fd
 * @d:		device
 * @ev:		event
 *
 * Return: 1 with @ev filled, 0 if none is queued, -errno on error
 */
int uvdev_read_event(struct uvdev *d, struct uvirtio_event *ev)
{
	ssize_t n;

	do
		n = read(d->fd, ev, sizeof(*ev));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	if (n == 0)
		return 0;
	if (n != sizeof(*ev))
		return -EPROTO;
	return 1;
}

/**
 * uvdev_queue_start() - take up the rings the driver has set up for a queue
 * @d:		device
 * @i:		queue index
 *
 * A queue the driver did not set up stays stopped (not an error).
 *
 * Return: 0 or -errno (-EPROTO if the kernel reported a layout that does
 * not fit the domain)
 */
int uvdev_queue_start(struct uvdev *d, unsigned int i)
{
	struct uvirtio_queue_info qi;
	struct uvq_params p;

	if (i >= d->num_queues)
		return -EINVAL;
	uvdev_queue_stop(d, i);

	memset(&qi, 0, sizeof(qi));
	qi.index = i;
	if (ioctl(d->fd, UVIRTIO_GET_QUEUE, &qi) < 0)
		return -errno;
	if (qi.state != UVIRTIO_QUEUE_READY)
		return 0;

	memset(&p, 0, sizeof(p));
	p.base = d->map;
	p.size = d->layout.domain_size;
	p.bounce_offset = d->layout.bounce_offset;
	p.bounce_size = d->layout.bounce_size;
	p.ctrl_offset = d->layout.ctrl_offset;
	p.index = i;
	p.num = qi.num;
	p.queue_size = d->layout.queue_size;
	p.epoch = qi.epoch;
	p.desc_offset = qi.desc_offset;
	p.avail_offset = qi.avail_offset;
	p.used_offset = qi.used_offset;
	p.shadow_offset = qi.shadow_offset;
	p.features = d->driver_features;
	p.call_fd = d->q[i].call_fd;
	p.vring_used = d->vring_used;
	return uvq_init(&d->q[i].vq, &p) ? -EPROTO : 0;
}

/**
 * uvdev_queue_stop() - stop serving a queue
 * @d:		device
 * @i:		queue index
 */
void uvdev_queue_stop(struct uvdev *d, unsigned int i)
{
	if (i < d->num_queues)
		uvq_stop(&d->q[i].vq);
}

/**
 * uvdev_queues_start() - take up every queue after DRIVER_OK
 * @d:		device
 *
 * The accepted features are read back first: the FEATURES event may have
 * been lost to an overflow.
 *
 * Return: 0 or -errno
 */
static int uvdev_queues_start(struct uvdev *d)
{
	struct uvirtio_status st;
	unsigned int i;
	int ret;

	ret = uvdev_get_status(d, &st);
	if (ret)
		return ret;
	d->driver_features = st.driver_features;
	for (i = 0; i < d->num_queues; i++) {
		ret = uvdev_queue_start(d, i);
		if (ret)
			return ret;
	}
	return 0;
}

/**
 * uvdev_queues_resync() - restart the queues the driver set up anew
 * @d:		device
 *
 * Return: 0 or -errno
 */
static int uvdev_queues_resync(struct uvdev *d)
{
	unsigned int i;
	int ret;

	for (i = 0; i < d->num_queues; i++) {
		struct uvirtio_queue_info qi;

		memset(&qi, 0, sizeof(qi));
		qi.index = i;
		if (ioctl(d->fd, UVIRTIO_GET_QUEUE, &qi) < 0)
			return -errno;
		if (qi.state == UVIRTIO_QUEUE_READY && d->q[i].vq.ready &&
		    d->q[i].vq.epoch == qi.epoch)
			continue;
		ret = uvdev_queue_start(d, i);
		if (ret)
			return ret;
	}
	return 0;
}

/**
 * uvdev_queues_stop() - stop every queue
 * @d:		device
 */
static void uvdev_queues_stop(struct uvdev *d)
{
	unsigned int i;

	for (i = 0; i < d->num_queues; i++)
		uvdev_queue_stop(d, i);
}

/**
 * uvdev_handle_event() - do what every emulator does for an event
 * @d:		device
 * @ev:		event from uvdev_read_event()
 *
 * FEATURES records the accepted features, DRIVER_OK starts the queues,
 * RESET stops them, REMOVED stops them and records why, OVERFLOW re-reads
 * the status to find out which of these was missed. The caller still sees
 * the event and acts on the device-specific part (and, after DRIVER_OK,
 * serves the queues at once: kicks sent before it may be latched already).
 *
 * Return: 0 or -errno
 */
int uvdev_handle_event(struct uvdev *d, const struct uvirtio_event *ev)
{
	struct uvirtio_status st;
	int ret;

	switch (ev->type) {
	case UVIRTIO_EV_FEATURES:
		d->driver_features = ev->u64[0];
		return 0;
	case UVIRTIO_EV_DRIVER_OK:
		return uvdev_queues_start(d);
	case UVIRTIO_EV_RESET:
		uvdev_queues_stop(d);
		return 0;
	case UVIRTIO_EV_REMOVED:
		uvdev_queues_stop(d);
		d->dead_reason = ev->u32[0];
		d->removed = true;
		return 0;
	case UVIRTIO_EV_OVERFLOW:
		ret = uvdev_get_status(d, &st);
		if (ret)
			return ret;
		d->net_pairs = st.net_pairs;
		if (st.dead_reason) {
			uvdev_queues_stop(d);
			d->dead_reason = st.dead_reason;
			return 0;
		}
		/*
		 * A reset and set-up may both have been missed: start anew
		 * the queues whose epoch changed, and only those (restarting a
		 * live queue would rewind its shadow ring under the kernel).
		 */
		if (!(st.status & VIRTIO_CONFIG_S_DRIVER_OK)) {
			uvdev_queues_stop(d);
			return 0;
		}
		d->driver_features = st.driver_features;
		return uvdev_queues_resync(d);
	default:
		return 0;
	}
}

/**
 * uvdev_kick_clear() - consume the kicks signalled on a queue's eventfd
 * @d:		device
 * @i:		queue index
 *
 * Return: 0 or -errno
 */
int uvdev_kick_clear(struct uvdev *d, unsigned int i)
{
	uint64_t v;

	if (i >= d->num_queues)
		return -EINVAL;
	if (read(d->q[i].kick_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

/**
 * uvdev_get_status() - what the driver has done so far
 * @d:		device
 * @st:		status
 *
 * Return: 0 or -errno
 */
int uvdev_get_status(struct uvdev *d, struct uvirtio_status *st)
{
	memset(st, 0, sizeof(*st));
	return ioctl(d->fd, UVIRTIO_GET_STATUS, st) < 0 ? -errno : 0;
}

/**
 * uvdev_remove() - ask for removal; keep serving until UVIRTIO_EV_REMOVED
 * @d:		device
 *
 * Return: 0 or -errno
 */
int uvdev_remove(struct uvdev *d)
{
	return ioctl(d->fd, UVIRTIO_REMOVE) < 0 ? -errno : 0;
}

/**
 * uvdev_sysfs_dir() - the device's sysfs directory
 * @d:		device
 * @buf:	buffer
 * @len:	its size
 *
 * Return: 0, or -ENAMETOOLONG
 */
int uvdev_sysfs_dir(const struct uvdev *d, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/uvirtio-%u", UVDEV_SYSFS, d->index);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * Whether @dir/state (a device's life as the module shows it) starts with
 * @want; @absent if the module has no such attribute.
 */
static bool uvdev_state_is(const char *dir, const char *want, bool absent)
{
	char path[300], buf[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/state", dir);
	f = fopen(path, "re");
	if (!f)
		return absent;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return !strncmp(buf, want, strlen(want));
}

/* Whether the driver's probe returned: @dir/state reads "live". */
static bool uvdev_probed(const char *dir)
{
	/* a module without the attribute: the link decides */
	return uvdev_state_is(dir, "live", true);
}

/**
 * uvdev_child_name() - name of what the driver made of the device
 * @d:		device
 * @subsys:	sysfs class directory under the virtio device: "block"
 *		(virtio_blk's disk) or "net" (virtio_net's interface)
 * @name:	out: the first entry found, e.g. "vda" or "eth1"
 * @len:	size of @name
 *
 * Looks at <sysfs dir>/virtio<N>/<subsys>/, and only once the driver's
 * probe has returned: the module's "state" attribute reads "live" from then
 * on (the virtio device's "driver" link appears before probe runs, the
 * entry itself while probe still reads the disk, when it cannot be opened
 * yet and its /dev node may be missing). Nothing here opens the disk: that
 * could wait on I/O this process has to serve.
 *
 * Return: 0, -ENOENT if there is none (yet), -ENAMETOOLONG
 */
int uvdev_child_name(const struct uvdev *d, const char *subsys, char *name,
		     size_t len)
{
	char dir[128], path[512];
	struct dirent *de, *ce;
	int ret = -ENOENT;
	DIR *dd, *cd;

	if (uvdev_sysfs_dir(d, dir, sizeof(dir)))
		return -ENAMETOOLONG;
	if (!uvdev_probed(dir))
		return -ENOENT;
	dd = opendir(dir);
	if (!dd)
		return -ENOENT;
	while (ret == -ENOENT && (de = readdir(dd))) {
		int n;

		if (strncmp(de->d_name, "virtio", 6))
			continue;
		n = snprintf(path, sizeof(path), "%s/%s/driver", dir, de->d_name);
		if (n < 0 || (size_t)n >= sizeof(path) || access(path, F_OK))
			continue;
		n = snprintf(path, sizeof(path), "%s/%s/%s", dir, de->d_name,
			     subsys);
		if (n < 0 || (size_t)n >= sizeof(path))
			continue;
		cd = opendir(path);
		if (!cd)
			continue;
		while ((ce = readdir(cd))) {
			if (ce->d_name[0] == '.')
				continue;
			if (strlen(ce->d_name) >= len) {
				ret = -ENAMETOOLONG;
				break;
			}
			strcpy(name, ce->d_name);
			ret = 0;
			break;
		}
		closedir(cd);
	}
	closedir(dd);
	return ret;
}

/**
 * uvdev_disk_node() - the /dev node of the device's disk, once usable
 * @d:		a virtio-blk device
 * @node:	out: "/dev/vdX"
 * @len:	bytes at @node
 *
 * Usable means: the driver's probe is over (uvdev_child_name()), the disk
 * shows a size above 0 (an unprivileged user's disk reads as empty until
 * the module reveals it after probe, so that no partition scan runs), and
 * its node exists. Only sysfs and the node's name are looked at: opening
 * the disk could wait on I/O the caller has to serve.
 *
 * Return: 0, -ENOENT while there is none (yet), -ENAMETOOLONG
 */
int uvdev_disk_node(const struct uvdev *d, char *node, size_t len)
{
	char name[64], path[128], buf[32] = "";
	FILE *f;
	int n;

	if (uvdev_child_name(d, "block", name, sizeof(name)))
		return -ENOENT;
	snprintf(path, sizeof(path), "/sys/block/%s/size", name);
	f = fopen(path, "re");
	if (!f)
		return -ENOENT;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	if (!strtoull(buf, NULL, 10))
		return -ENOENT;
	n = snprintf(node, len, "/dev/%s", name);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return access(node, F_OK) ? -ENOENT : 0;
}

/**
 * uvdev_netif_by_mac() - the interface of this network namespace that
 * carries a MAC address
 * @mac:	the address (ETH_ALEN bytes)
 * @name:	out: the interface's name, IFNAMSIZ bytes
 *
 * This is how a net emulator finds what virtio_net made of its device:
 * the module moves the interface into its creator's namespace, where the
 * address the emulator chose tells it apart.
 *
 * Return: 0, or -ENOENT
 */
int uvdev_netif_by_mac(const uint8_t *mac, char *name)
{
	struct if_nameindex *ni, *p;
	struct ifreq ifr;
	int s, ret = -ENOENT;

	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ni = if_nameindex();
	for (p = ni; s >= 0 && p && p->if_index; p++) {
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", p->if_name);
		if (ioctl(s, SIOCGIFHWADDR, &ifr) ||
		    memcmp(ifr.ifr_hwaddr.sa_data, mac, ETH_ALEN))
			continue;
		snprintf(name, IFNAMSIZ, "%s", p->if_name);
		ret = 0;
		break;
	}
	if (ni)
		if_freenameindex(ni);
	if (s >= 0)
		close(s);
	return ret;
}

/**
 * uvdev_close() - unmap, close every fd (removes the device if still there)
 * @d:		device
 */
void uvdev_close(struct uvdev *d)
{
	unsigned int i;

	for (i = 0; i < UVIRTIO_MAX_QUEUES; i++) {
		d->q[i].vq.ready = false;
		if (d->q[i].kick_fd >= 0)
			close(d->q[i].kick_fd);
		if (d->q[i].call_fd >= 0)
			close(d->q[i].call_fd);
		d->q[i].kick_fd = d->q[i].call_fd = -1;
	}
	if (d->map != MAP_FAILED)
		munmap(d->map, d->layout.domain_size);
	d->map = MAP_FAILED;
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

/**
 * uvdev_dead_str() - a UVIRTIO_DEAD_* reason in words
 * @reason:	UVIRTIO_DEAD_*
 *
 * Return: a static string
 */
const char *uvdev_dead_str(uint32_t reason)
{
	switch (reason) {
	case UVIRTIO_DEAD_NONE:
		return "not dead";
	case UVIRTIO_DEAD_REMOVED:
		return "removed";
	case UVIRTIO_DEAD_CLOSED:
		return "device fd closed";
	case UVIRTIO_DEAD_BAD_ID:
		return "completion named a head that was not outstanding";
	case UVIRTIO_DEAD_BAD_LEN:
		return "completion length beyond the writable buffers";
	case UVIRTIO_DEAD_BAD_IDX:
		return "shadow used index moved by more than the ring size";
	case UVIRTIO_DEAD_TIMEOUT:
		return "removal timed out";
	default:
		return "unknown reason";
	}
}

/**
 * uvdev_blk_seg_max() - the most data segments (seg_max) a virtio-blk
 * device should offer for its bounce pool and ring
 * @bounce_size: the pool's bytes (uvdev_config.bounce_size; 0: the default)
 * @queue_size:	the ring's entries
 *
 * The module maps a request into the pool whole, and refuses a disk whose
 * largest request, in page-sized segments, cannot fit it; it then lowers
 * the driver's segment size until that request fits. Half the pool in
 * pages leaves room for two of the largest requests at once. A request's
 * chain (its segments, a header and a status) fits the ring too, so that
 * it can be queued even when virtio_ring cannot allocate an indirect
 * table and falls back to direct descriptors.
 *
 * Return: segments, at least 1
 */
unsigned int uvdev_blk_seg_max(uint64_t bounce_size, unsigned int queue_size)
{
	uint64_t pool = bounce_size ? bounce_size : UVIRTIO_DEF_BOUNCE_SIZE;
	uint64_t n = pool / 2 / (uint64_t)sysconf(_SC_PAGESIZE);

	if (queue_size >= 2 && n > queue_size - 2)
		n = queue_size - 2;
	return n > UINT32_MAX ? UINT32_MAX : n ? (unsigned int)n : 1;
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_statfs_names.c - the status filesystem names only what the device
 * registers: its feature bits and its writable controls
 *
 * A made-up device type (no VIRTIO_ID the library could know) registers
 * one feature name and two controls; uvirtio-blk's and uvirtio-net's
 * tables (blk/statfs_blk.c, net/statfs_net.c) are checked the same way.
 * No FUSE mount: the files are read through uvstatfs_read_file(). The
 * device's negotiated features come from this program's own ioctl(),
 * which answers UVIRTIO_GET_STATUS for the made-up device's fd.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/virtio_config.h>

#include "statfs.h"
#include "statfs_read.h"
#include "statfs_blk.h"
#include "statfs_net.h"
#include "tap.h"

/* the made-up device's fd: ioctl() below answers for it */
#define FAKE_FD		1000
/* bits the made-up driver negotiated: 3 (named), 20 (not), VERSION_1 */
#define FAKE_FEATURES	((1ULL << 3) | (1ULL << 20) | \
			 (1ULL << VIRTIO_F_VERSION_1))

static struct uvdev dev;
static unsigned int last_ctl;
static char last_val[64];

/**
 * ioctl() - UVIRTIO_GET_STATUS of the made-up device; nothing else
 * @fd:		file descriptor
 * @req:	request
 *
 * Return: 0, or -1 with errno ENOTTY
 */
int ioctl(int fd, unsigned long req, ...)
{
	struct uvirtio_status *st;
	va_list ap;

	if (fd != FAKE_FD || req != UVIRTIO_GET_STATUS) {
		errno = ENOTTY;
		return -1;
	}
	va_start(ap, req);
	st = va_arg(ap, struct uvirtio_status *);
	va_end(ap);
	memset(st, 0, sizeof(*st));
	st->driver_features = FAKE_FEATURES;
	st->status = VIRTIO_CONFIG_S_DRIVER_OK;
	return 0;
}

/**
 * get_ctl() - uvstatfs_ops.get_control: the control's id, as text
 * @opaque:	unused
 * @ctl:	control id
 * @buf:	out
 * @len:	bytes
 *
 * Return: bytes written
 */
static int get_ctl(void *opaque, unsigned int ctl, char *buf, size_t len)
{
	(void)opaque;
	return snprintf(buf, len, "id %u\n", ctl);
}

/**
 * set_ctl() - uvstatfs_ops.set_control: remember what was written where
 * @opaque:	unused
 * @ctl:	control id
 * @val:	value
 *
 * Return: 0
 */
static int set_ctl(void *opaque, unsigned int ctl, const char *val)
{
	(void)opaque;
	last_ctl = ctl;
	snprintf(last_val, sizeof(last_val), "%s", val);
	return 0;
}

static const struct uvstatfs_bit_name widget_features[] = {
	{ 3, "WIDGET" }, { 0, NULL },
};

static const struct uvstatfs_control widget_controls[] = {
	{ "speed", 7 }, { "colour", 9 }, { NULL, 0 },
};

/**
 * start() - a status filesystem (no mount) for names and controls
 * @fsp:	out
 * @ops:	its callbacks, filled in here but for the names
 *
 * Return: uvstatfs_start()'s result
 */
static int start(struct uvstatfs **fsp, struct uvstatfs_ops *ops)
{
	ops->get_control = get_ctl;
	ops->set_control = set_ctl;
	return uvstatfs_start(fsp, NULL, &dev, ops, NULL);
}

/**
 * t_widget() - a device type the library has never heard of
 *
 * Return: pass
 */
static bool t_widget(void)
{
	struct uvstatfs_ops ops = {
		.device_id = 0x7777,
		.feature_names = widget_features,
		.control_names = widget_controls,
	};
	struct uvstatfs *fs;
	const char *d;

	CHECK_EQ(start(&fs, &ops), 0);
	d = statfs_read(fs, "/device");
	CHECK(strstr(d, "features: 0x0000000100100008 WIDGET bit20 VERSION_1\n"));
	CHECK(!strcmp(statfs_read(fs, "/speed"), "id 7\n"));
	CHECK(!strcmp(statfs_read(fs, "/colour"), "id 9\n"));
	CHECK_EQ(uvstatfs_write_file(fs, "/colour", "blue\n", 5), 0);
	CHECK_EQ(last_ctl, 9);
	CHECK(!strcmp(last_val, "blue"));
	CHECK(!strcmp(statfs_read(fs, "/capacity"), "<errno 2>"));
	CHECK(!strcmp(statfs_read(fs, "/link"), "<errno 2>"));
	CHECK(!strcmp(statfs_read(fs, "/spee"), "<errno 2>"));
	CHECK_EQ(uvstatfs_write_file(fs, "/device", "x", 1), -EACCES);
	uvstatfs_stop(fs);
	return true;
}

/**
 * emulator_table() - an emulator's table: its control and its bit 3
 * @features:	its feature names
 * @controls:	its controls
 * @bits:	how the device file names bits 3, 20 and VERSION_1
 * @ctl:	its one control's file, which reads "id 1\n"
 * @other:	the other emulator's control, which must not exist
 *
 * Return: pass
 */
static bool emulator_table(const struct uvstatfs_bit_name *features,
			   const struct uvstatfs_control *controls,
			   const char *bits, const char *ctl,
			   const char *other)
{
	struct uvstatfs_ops ops = {
		.feature_names = features,
		.control_names = controls,
	};
	struct uvstatfs *fs;

	CHECK_EQ(start(&fs, &ops), 0);
	CHECK(strstr(statfs_read(fs, "/device"), bits));
	CHECK(!strcmp(statfs_read(fs, ctl), "id 1\n"));
	CHECK(!strcmp(statfs_read(fs, other), "<errno 2>"));
	uvstatfs_stop(fs);
	return true;
}

/**
 * t_blk() - uvirtio-blk's table: capacity; virtio-blk has no bit 3
 *
 * Return: pass
 */
static bool t_blk(void)
{
	CHECK_EQ(BLK_STATFS_CAPACITY, 1);
	return emulator_table(blk_statfs_features, blk_statfs_controls,
			      " bit3 bit20 VERSION_1\n", "/capacity", "/link");
}

/**
 * t_net() - uvirtio-net's table: link; virtio-net's bit 3 is MTU
 *
 * Return: pass
 */
static bool t_net(void)
{
	CHECK_EQ(NET_STATFS_LINK, 1);
	return emulator_table(net_statfs_features, net_statfs_controls,
			      " MTU bit20 VERSION_1\n", "/link", "/capacity");
}

/**
 * t_nameless() - a device that registers nothing: bits by number, no
 * controls
 *
 * Return: pass
 */
static bool t_nameless(void)
{
	struct uvstatfs_ops ops = { .device_id = 1 };
	struct uvstatfs *fs;

	CHECK_EQ(start(&fs, &ops), 0);
	CHECK(strstr(statfs_read(fs, "/device"), " bit3 bit20 VERSION_1\n"));
	CHECK(!strcmp(statfs_read(fs, "/capacity"), "<errno 2>"));
	CHECK(!strcmp(statfs_read(fs, "/link"), "<errno 2>"));
	uvstatfs_stop(fs);
	return true;
}

static const struct tap_test tests[] = {
	{ t_widget, "a made-up device: its feature name and controls, nothing else" },
	{ t_blk, "uvirtio-blk's table: capacity and virtio-blk bit names" },
	{ t_net, "uvirtio-net's table: link and virtio-net bit names" },
	{ t_nameless, "a device that registers nothing: bits by number, no controls" },
};

/**
 * main() - a one-queue device that is not set up, then the table
 *
 * Return: 0 if all passed
 */
int main(void)
{
	dev.fd = FAKE_FD;
	dev.num_queues = 1;
	return tap_run_table(tests, sizeof(tests) / sizeof(tests[0]));
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * uvcreate - the smallest libuvirtio program: create a virtio-blk device,
 * show that the kernel has it, close it again
 *
 * Built outside the uvirtio tree against the installed library only:
 *	cc -o uvcreate uvcreate.c $(pkg-config --cflags --libs uvirtio)
 *
 * It does not start the device (no driver binds, no I/O to serve): it
 * prints the device's sysfs directory and exits 0 if that directory
 * exists while the device is open and is gone after it was closed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <uvirtio/dev.h>

/* virtio-blk config space: capacity in 512-byte sectors comes first */
#define SECTORS		2048

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : UVDEV_PATH;
	uint64_t capacity = SECTORS;	/* little-endian on x86 */
	struct uvdev_config c = {
		.device_id = 2,		/* VIRTIO_ID_BLOCK */
		.num_queues = 1,
		.queue_size = 64,
		.config = &capacity,
		.config_size = sizeof(capacity),
	};
	struct uvdev d;
	char dir[256];
	int ret;

	ret = uvdev_open(&d, path);
	if (ret < 0) {
		fprintf(stderr, "uvcreate: %s: %s\n", path, strerror(-ret));
		return 1;
	}
	ret = uvdev_create(&d, &c);
	if (ret < 0) {
		fprintf(stderr, "uvcreate: create: %s\n", strerror(-ret));
		uvdev_close(&d);
		return 1;
	}
	uvdev_sysfs_dir(&d, dir, sizeof(dir));
	printf("%s\n", dir);
	if (access(dir, F_OK)) {
		fprintf(stderr, "uvcreate: %s: %s\n", dir, strerror(errno));
		uvdev_close(&d);
		return 1;
	}
	uvdev_close(&d);
	/* the device goes when its file is closed */
	for (int i = 0; i < 50 && !access(dir, F_OK); i++)
		usleep(100 * 1000);
	if (!access(dir, F_OK)) {
		fprintf(stderr, "uvcreate: %s still there after close\n", dir);
		return 1;
	}
	return 0;
}

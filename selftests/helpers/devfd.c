// SPDX-License-Identifier: GPL-2.0-only
/*
 * devfd - see devfd.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/uvirtio.h>

#include "dev.h"
#include "devfd.h"

/**
 * devfd_create() - open /dev/uvirtio and create a device on that fd
 * @id:		virtio device id
 * @nq:		queues
 * @queue_size:	entries per queue
 * @bounce_size: bounce pool, bytes
 * @domain:	out: the device's domain size; may be NULL
 *
 * Return: the fd, or -errno (of open() or of UVIRTIO_CREATE; the fd is
 * closed then)
 */
int devfd_create(uint32_t id, uint32_t nq, uint32_t queue_size,
		 uint64_t bounce_size, uint64_t *domain)
{
	struct uvirtio_create c;
	int fd = open(UVDEV_PATH, O_RDWR | O_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	memset(&c, 0, sizeof(c));
	c.device_id = id;
	c.num_queues = nq;
	c.queue_size = queue_size;
	c.bounce_size = bounce_size;
	if (ioctl(fd, UVIRTIO_CREATE, &c)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (domain)
		*domain = c.domain_size;
	return fd;
}

/**
 * devfd_sigbus() - does touching a mapped byte kill a process with SIGBUS
 * @p:		the byte, in a shared mapping (a write there is seen here)
 * @write:	store 0x5a there, else read it
 *
 * A forked child does it, so the caller survives either way.
 *
 * Return: true if the child died of SIGBUS
 */
bool devfd_sigbus(volatile uint8_t *p, bool write)
{
	int st;
	pid_t pid = fork();

	if (!pid) {
		if (write)
			*p = 0x5a;
		else
			(void)*p;
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return false;
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS;
}

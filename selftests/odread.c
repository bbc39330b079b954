// SPDX-License-Identifier: GPL-2.0-only
/*
 * odread - one O_DIRECT read, whatever its outcome, and the buffer after it
 *
 *   odread DEVICE OFFSET LENGTH OUT
 *
 * Fills a page-aligned buffer of LENGTH bytes with 0xa5, reads LENGTH bytes
 * at OFFSET of DEVICE with one pread() on an O_DIRECT descriptor, and
 * writes the whole buffer to the file OUT, also when the read failed: a
 * failed read's buffer is what blk_zeroing.sh inspects. Prints "ok N" or
 * "error ERRNO-NAME" on stdout. Exit status 0 if the read ran (succeeded or
 * failed), 2 for bad arguments or a failure around it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	unsigned long long off, len;
	ssize_t n;
	void *buf;
	int fd, out;

	if (argc != 5) {
		fprintf(stderr, "usage: odread DEVICE OFFSET LENGTH OUT\n");
		return 2;
	}
	off = strtoull(argv[2], NULL, 0);
	len = strtoull(argv[3], NULL, 0);
	if (!len || len > (64ULL << 20) || posix_memalign(&buf, 4096, len)) {
		fprintf(stderr, "odread: bad length %s\n", argv[3]);
		return 2;
	}
	memset(buf, 0xa5, len);
	fd = open(argv[1], O_RDONLY | O_DIRECT);
	if (fd < 0) {
		fprintf(stderr, "odread: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	n = pread(fd, buf, len, off);
	if (n < 0)
		printf("error %s\n", strerrorname_np(errno) ?: "?");
	else
		printf("ok %zd\n", n);
	close(fd);
	out = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0 || write(out, buf, len) != (ssize_t)len || close(out)) {
		fprintf(stderr, "odread: %s: cannot write the buffer\n", argv[4]);
		return 2;
	}
	free(buf);
	return 0;
}

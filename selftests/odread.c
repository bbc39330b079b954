// SPDX-License-Identifier: GPL-2.0-only
/*
 * odread - one O_DIRECT read, whatever its outcome, and the buffer after it
 *
 *   odread DEVICE OFFSET LENGTH OUT [huge]
 *
 * Fills a page-aligned buffer of LENGTH bytes with 0xa5, reads LENGTH bytes
 * at OFFSET of DEVICE with one pread() on an O_DIRECT descriptor, and
 * writes the whole buffer to the file OUT, also when the read failed: a
 * failed read's buffer is what blk_zeroing.sh inspects. Prints "ok N" or
 * "error ERRNO-NAME" on stdout. Exit status 0 if the read ran (succeeded or
 * failed), 2 for bad arguments or a failure around it.
 *
 * With "huge" the buffer is the start of a 2 MiB-aligned anonymous mapping
 * advised MADV_HUGEPAGE (LENGTH at most 2 MiB), so that the read's pages are
 * physically contiguous and the block layer hands the device one large
 * segment; " huge" follows "ok N" if the kernel backed it with a huge page
 * (AnonHugePages in /proc/self/smaps_rollup), " small" if not.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_SZ (2UL << 20)

/* A 2 MiB-aligned buffer advised to be a huge page, or NULL. */
static void *huge_buffer(void)
{
	char *p = mmap(NULL, 2 * HUGE_SZ, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *a;

	if (p == MAP_FAILED)
		return NULL;
	a = (char *)(((unsigned long)p + HUGE_SZ - 1) & ~(HUGE_SZ - 1));
	/* fails on a kernel without THP: the buffer is then in small pages */
	madvise(a, HUGE_SZ, MADV_HUGEPAGE);
	return a;
}

/* Whether any of this process's anonymous memory is in huge pages. */
static int have_huge(void)
{
	char line[256];
	unsigned long kb = 0;
	FILE *f = fopen("/proc/self/smaps_rollup", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "AnonHugePages: %lu kB", &kb) == 1)
			break;
	fclose(f);
	return kb > 0;
}

int main(int argc, char **argv)
{
	unsigned long long off, len;
	ssize_t n;
	void *buf;
	int fd, out, huge;

	if ((argc != 5 && argc != 6) || (argc == 6 && strcmp(argv[5], "huge"))) {
		fprintf(stderr, "usage: odread DEVICE OFFSET LENGTH OUT [huge]\n");
		return 2;
	}
	huge = argc == 6;
	off = strtoull(argv[2], NULL, 0);
	len = strtoull(argv[3], NULL, 0);
	if (!len || len > (huge ? HUGE_SZ : 64ULL << 20)) {
		fprintf(stderr, "odread: bad length %s\n", argv[3]);
		return 2;
	}
	buf = huge ? huge_buffer() : NULL;
	if (huge ? !buf : posix_memalign(&buf, 4096, len) != 0) {
		fprintf(stderr, "odread: no buffer of %s bytes\n", argv[3]);
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
		printf("ok %zd%s\n", n, !huge ? "" : have_huge() ? " huge" : " small");
	close(fd);
	out = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0 || write(out, buf, len) != (ssize_t)len || close(out)) {
		fprintf(stderr, "odread: %s: cannot write the buffer\n", argv[4]);
		return 2;
	}
	if (!huge)
		free(buf);
	return 0;
}

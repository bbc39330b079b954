// SPDX-License-Identifier: GPL-2.0-only
/*
 * require - skip a selftest, kselftest style, when the machine lacks what
 * it needs. See require.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "dev.h"
#include "require.h"

/* Written by the project's VM harness into every test image */
#define HARNESS_CONF	"/etc/uvirtio-run.conf"
/* Where that harness puts the module; elsewhere modprobe finds it */
#define HARNESS_KO	"/uvirtio/uvirtio.ko"

/**
 * require_end() - end the test before its plan: skip, or fail in the harness
 * @fail:	the harness's own image lacks it: exit 1, not 4
 * @fmt:	the reason
 * @ap:		its arguments
 */
static void __attribute__((noreturn))
require_end(int fail, const char *fmt, va_list ap)
{
	printf("TAP version 13\n1..0 # %s ", fail ? "FAIL" : "SKIP");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	exit(fail ? 1 : 4);
}

/**
 * require_skip() - skip the whole test with a reason (exit 4)
 * @fmt:	the reason, printf style
 */
void require_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	require_end(0, fmt, ap);
}

/**
 * require_missing() - /dev/uvirtio is not usable: skip, or fail where the
 *		       harness promised it
 * @fmt:	the reason, printf style
 */
static void __attribute__((format(printf, 1, 2), noreturn))
require_missing(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	require_end(!access(HARNESS_CONF, F_OK), fmt, ap);
}

/**
 * require_wait_dev() - wait up to 5 s for /dev/uvirtio to appear
 *
 * Return: true if it is there
 */
static bool require_wait_dev(void)
{
	struct timespec ts = { .tv_nsec = 100 * 1000 * 1000 };
	int i;

	for (i = 0; i < 50; i++) {
		if (!access(UVDEV_PATH, F_OK))
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

/**
 * require_module_load() - load uvirtio: the harness's module file if there
 *			   is one (UV_KO overrides its path), else modprobe
 * @params:	module parameters, e.g. "dev_mode=0666"
 *
 * Return: 0 once /dev/uvirtio exists, else a negative errno
 */
int require_module_load(const char *params)
{
	const char *ko = getenv("UV_KO") ? getenv("UV_KO") : HARNESS_KO;
	char cmd[256];
	int fd, ret;

	fd = open(ko, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ret = syscall(__NR_finit_module, fd, params, 0) ? -errno : 0;
		close(fd);
	} else {
		snprintf(cmd, sizeof(cmd), "modprobe -q uvirtio %s", params);
		ret = system(cmd) ? -ENOENT : 0;
	}
	if (ret)
		return ret;
	return require_wait_dev() ? 0 : -ENODEV;
}

/**
 * require_uvirtio() - return only if /dev/uvirtio is usable and @flags hold
 * @flags:	REQ_ROOT, REQ_FUSE
 *
 * As root, a module that is installed but not loaded is loaded (with
 * dev_mode=0666: tests create devices as uid 1000 too), as kselftest's own
 * tests modprobe what they test. Otherwise the test ends here as a skip
 * naming what is missing.
 */
void require_uvirtio(unsigned int flags)
{
	struct stat st;

	if ((flags & REQ_ROOT) && geteuid())
		require_skip("needs root (module parameters, kernel log, other uids)");
	if (access(UVDEV_PATH, F_OK)) {
		if (access("/proc/modules", F_OK))
			require_missing("no %s, and this kernel cannot load modules (no /proc/modules)",
					UVDEV_PATH);
		if (geteuid())
			require_missing("no %s: uvirtio is not loaded (as root: modprobe uvirtio)",
					UVDEV_PATH);
		if (require_module_load("dev_mode=0666"))
			require_missing("no %s: uvirtio is not loaded and modprobe uvirtio failed "
					"(install it: make install, or make dkms-install)",
					UVDEV_PATH);
	}
	if (stat(UVDEV_PATH, &st) || !S_ISCHR(st.st_mode))
		require_missing("%s is not a character device", UVDEV_PATH);
	if (access(UVDEV_PATH, R_OK | W_OK))
		require_missing("%s: %s (needs root or the uvirtio group)", UVDEV_PATH,
				strerror(errno));
	if ((flags & REQ_FUSE) && access("/dev/fuse", R_OK | W_OK))
		require_skip("/dev/fuse: %s (the status filesystem needs FUSE)",
			     strerror(errno));
}

/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * require - what a selftest needs of the machine, checked before it starts:
 * a usable /dev/uvirtio (loading the module if it is installed but not
 * loaded), root, /dev/fuse. Whatever is missing ends the test as a
 * kselftest skip ("1..0 # SKIP reason", exit 4), so any runner reports
 * SKIP instead of a failure. Inside the project's test VM the device is
 * part of the image, so its absence there is a failure instead.
 */
#ifndef UVIRTIO_REQUIRE_H
#define UVIRTIO_REQUIRE_H

/* Flags of require_uvirtio(): what the test needs besides the device */
#define REQ_ROOT	(1U << 0)	/* euid 0: module parameters, kmsg, setuid */
#define REQ_FUSE	(1U << 1)	/* /dev/fuse, read-write */

void require_uvirtio(unsigned int flags);
void require_skip(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
int require_module_load(const char *params);

#endif /* UVIRTIO_REQUIRE_H */

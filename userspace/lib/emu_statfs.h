/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * emu_statfs.h - mount an emulator's status filesystem (libuvstatfs)
 *
 * Header-only on purpose: libuvirtio never links libfuse3, only the
 * emulators that also link libuvstatfs include this.
 */
#ifndef UVIRTIO_EMU_STATFS_H
#define UVIRTIO_EMU_STATFS_H

#include <errno.h>
#include <string.h>

#include "emu.h"
#include "statfs.h"

/**
 * uvemu_statfs_mount() - --statfs DIR: mount the status filesystem
 * @em:		main thread, device created
 * @fsp:	out: the mounted filesystem
 * @dir:	mount point, or NULL for none
 * @ops:	what the emulator shows in it
 * @opaque:	for @ops
 *
 * Unmounted by exit() (atexit), or by its watchdog if the process is
 * killed. Exits with 1 on failure, naming the way out of a dead mount.
 */
static inline void uvemu_statfs_mount(struct uvemu *em, struct uvstatfs **fsp,
				      const char *dir,
				      const struct uvstatfs_ops *ops,
				      void *opaque)
{
	int ret;

	if (!dir)
		return;
	ret = uvstatfs_start(fsp, dir, &em->dev, ops, opaque);
	if (ret == -EIO)
		uvemu_die(1, "--statfs %s: cannot mount the status filesystem (see above)",
			  dir);
	if (ret == -ENOTCONN)
		uvemu_die(1, "--statfs %s: %s (a dead mount: 'fusermount3 -u %s' removes it)",
			  dir, strerror(-ret), dir);
	if (!ret)
		ret = uvstatfs_stop_atexit(*fsp);
	if (ret)
		uvemu_die(1, "--statfs %s: %s", dir, strerror(-ret));
	uvemu_log("uvirtio-%u: status filesystem at %s (unmount watchdog pid %d)",
		  em->dev.index, dir, (int)uvstatfs_watchdog_pid(*fsp));
}

#endif /* UVIRTIO_EMU_STATFS_H */

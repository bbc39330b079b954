/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * notify.h - tell a service manager (systemd's Type=notify) that an
 * emulator is ready and that it is stopping
 */
#ifndef UVIRTIO_NOTIFY_H
#define UVIRTIO_NOTIFY_H

int uvnotify_send(const char *state);
int uvnotify_ready(const char *what);
void uvnotify_stopping(void);

#endif

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuse_ops.c - libuvstatfs's FUSE glue: the operations, and the session
 * loop of the FUSE thread
 *
 * The high-level libfuse API resolves paths for us (tree.c says what they
 * name); we run its session with our own loop (poll on the session fd and
 * a stop eventfd) so that uvstatfs_stop() ends it without closing an fd
 * another thread reads. Every file's contents are built at open, so one
 * read() is one snapshot.
 */
#define FUSE_USE_VERSION 31

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fuse.h>
#include <fuse_lowlevel.h>

#include "uvstatfs_int.h"

/**
 * ctx_fs() - the filesystem of the calling FUSE request
 *
 * Return: struct uvstatfs
 */
static struct uvstatfs *ctx_fs(void)
{
	return fuse_get_context()->private_data;
}

/**
 * fs_init() - FUSE init: nothing cached, every read goes to us
 * @conn:	connection
 * @cfg:	configuration
 *
 * Return: the filesystem, as private_data of every request
 */
static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->direct_io = 1;
	cfg->kernel_cache = 0;
	cfg->attr_timeout = 0;
	cfg->entry_timeout = 0;
	cfg->negative_timeout = 0;
	return fuse_get_context()->private_data;
}

/**
 * fs_getattr() - FUSE getattr
 * @path:	path
 * @st:		out
 * @fi:		open file, or NULL
 *
 * A file's size is the length of its contents now: read() goes to us
 * anyway (direct_io), but sendfile() and splice() on some kernels read
 * through the page cache, which stops at the size.
 *
 * Return: 0 or -ENOENT
 */
static int fs_getattr(const char *path, struct stat *st,
		      struct fuse_file_info *fi)
{
	struct uvstatfs *fs = ctx_fs();
	struct node n;
	int ret;

	(void)fi;
	ret = node_resolve(fs, path, &n);
	if (ret)
		return ret;
	memset(st, 0, sizeof(*st));
	st->st_uid = getuid();
	st->st_gid = getgid();
	if (node_is_dir(&n)) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	} else {
		char *buf;
		size_t len;

		st->st_mode = S_IFREG | (n.kind == N_CONTROL ? 0644 : 0444);
		st->st_nlink = 1;
		if (!node_generate(fs, &n, &buf, &len)) {
			st->st_size = len;
			free(buf);
		}
	}
	return 0;
}

/**
 * fs_readdir() - FUSE readdir
 * @path:	directory
 * @buf:	libfuse's buffer
 * @fill:	adds one entry
 * @off:	unused (whole listing at once)
 * @fi:		unused
 * @flags:	unused
 *
 * Return: 0, -ENOENT, -ENOTDIR
 */
static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill,
		      off_t off, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	struct uvstatfs *fs = ctx_fs();
	const struct uvstatfs_control *c;
	struct node n;
	char name[16];
	unsigned int i;
	int ret;

	(void)off;
	(void)fi;
	(void)flags;
	ret = node_resolve(fs, path, &n);
	if (ret)
		return ret;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	switch (n.kind) {
	case N_ROOT:
		fill(buf, "device", NULL, 0, 0);
		fill(buf, "stuck", NULL, 0, 0);
		for (c = fs->controls; c->name; c++)
			fill(buf, c->name, NULL, 0, 0);
		fill(buf, "queues", NULL, 0, 0);
		return 0;
	case N_QUEUES:
		for (i = 0; i < fs->dev->num_queues; i++) {
			snprintf(name, sizeof(name), "%u", i);
			fill(buf, name, NULL, 0, 0);
		}
		return 0;
	case N_QUEUE:
		for (i = 0; i < QF_COUNT; i++)
			fill(buf, qfile_names[i], NULL, 0, 0);
		return 0;
	default:
		return -ENOTDIR;
	}
}

/**
 * struct open_file - an open file: its snapshot
 * @n:		what it is
 * @buf:	contents as of open (NULL when opened for writing)
 * @len:	bytes at @buf
 */
struct open_file {
	struct node n;
	char *buf;
	size_t len;
};

/**
 * fs_open() - FUSE open: take the file's snapshot
 * @path:	path
 * @fi:		open file
 *
 * Return: 0, -ENOENT, -EISDIR, -EACCES (writing a read-only file), -ENOMEM
 */
static int fs_open(const char *path, struct fuse_file_info *fi)
{
	struct uvstatfs *fs = ctx_fs();
	struct open_file *of;
	int ret, acc = fi->flags & O_ACCMODE;

	of = calloc(1, sizeof(*of));
	if (!of)
		return -ENOMEM;
	ret = node_resolve(fs, path, &of->n);
	if (!ret && node_is_dir(&of->n))
		ret = -EISDIR;
	if (!ret && acc != O_RDONLY && of->n.kind != N_CONTROL)
		ret = -EACCES;
	if (!ret && acc != O_WRONLY)
		ret = node_generate(fs, &of->n, &of->buf, &of->len);
	if (ret) {
		free(of);
		return ret;
	}
	fi->fh = (uintptr_t)of;
	fi->direct_io = 1;
	fi->nonseekable = 0;
	return 0;
}

/**
 * fs_read() - FUSE read from the snapshot
 * @path:	unused
 * @buf:	out
 * @size:	bytes wanted
 * @off:	offset
 * @fi:		open file
 *
 * Return: bytes copied
 */
static int fs_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;

	(void)path;
	if (off < 0 || (size_t)off >= of->len)
		return 0;
	if (size > of->len - off)
		size = of->len - off;
	memcpy(buf, of->buf + off, size);
	return size;
}

/**
 * fs_write() - FUSE write: one write() is one value, applied at once
 * @path:	unused
 * @buf:	bytes
 * @size:	their count
 * @off:	must be 0
 * @fi:		open file
 *
 * Return: @size, or -errno from the device (what write() fails with)
 */
static int fs_write(const char *path, const char *buf, size_t size,
		    off_t off, struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;
	int ret;

	(void)path;
	if (off)
		return -EINVAL;
	ret = node_write(ctx_fs(), &of->n, buf, size);
	return ret ? ret : (int)size;
}

/**
 * fs_truncate() - FUSE truncate: accepted on controls (O_TRUNC of >)
 * @path:	path
 * @size:	ignored
 * @fi:		open file, or NULL
 *
 * Return: 0, -ENOENT, -EACCES
 */
static int fs_truncate(const char *path, off_t size,
		       struct fuse_file_info *fi)
{
	struct node n;
	int ret;

	(void)size;
	(void)fi;
	ret = node_resolve(ctx_fs(), path, &n);
	if (ret)
		return ret;
	return n.kind == N_CONTROL ? 0 : -EACCES;
}

/**
 * fs_release() - FUSE release: drop the snapshot
 * @path:	unused
 * @fi:		open file
 *
 * Return: 0
 */
static int fs_release(const char *path, struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;

	(void)path;
	free(of->buf);
	free(of);
	return 0;
}

static const struct fuse_operations fs_ops = {
	.init		= fs_init,
	.getattr	= fs_getattr,
	.readdir	= fs_readdir,
	.open		= fs_open,
	.read		= fs_read,
	.write		= fs_write,
	.truncate	= fs_truncate,
	.release	= fs_release,
};

/**
 * fuse_main_loop() - the FUSE thread: serve requests until told to stop
 * @arg:	struct uvstatfs
 *
 * Return: NULL
 */
void *fuse_main_loop(void *arg)
{
	struct uvstatfs *fs = arg;
	struct fuse_session *se = fuse_get_session(fs->fuse);
	struct fuse_buf buf = { .mem = NULL };
	struct pollfd pfd[2] = {
		{ .fd = fuse_session_fd(se), .events = POLLIN },
		{ .fd = fs->stop_fd, .events = POLLIN },
	};
	int ret;

	while (!fuse_session_exited(se)) {
		ret = poll(pfd, 2, -1);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0 || pfd[1].revents)
			break;
		if (pfd[0].revents & (POLLERR | POLLHUP))
			break;
		ret = fuse_session_receive_buf(se, &buf);
		if (ret == -EINTR || ret == -EAGAIN)
			continue;
		if (ret <= 0)
			break;
		fuse_session_process_buf(se, &buf);
	}
	free(buf.mem);
	return NULL;
}

/**
 * fs_mount() - create the FUSE instance and mount it at fs->dir
 * @fs:		filesystem
 *
 * auto_unmount makes libfuse mount through fusermount3, which stays
 * behind as a helper and unmounts when this process dies however it dies.
 *
 * Return: 0, -EIO if libfuse refused (it printed why on stderr)
 */
int fs_mount(struct uvstatfs *fs)
{
	char opts[128];
	char *argv[] = { "uvstatfs", "-o", opts, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);

	snprintf(opts, sizeof(opts),
		 "auto_unmount,default_permissions,fsname=uvirtio-%u,subtype=uvirtio",
		 fs->dev->index);
	fs->fuse = fuse_new(&args, &fs_ops, sizeof(fs_ops), fs);
	if (!fs->fuse)
		return -EIO;
	if (fuse_mount(fs->fuse, fs->dir)) {
		fuse_destroy(fs->fuse);
		fs->fuse = NULL;
		return -EIO;
	}
	return 0;
}

/**
 * fs_unmount() - unmount (the FUSE thread must not serve any more)
 * @fs:		filesystem, mounted
 */
void fs_unmount(struct uvstatfs *fs)
{
	fuse_unmount(fs->fuse);
}

/**
 * fs_destroy() - free the FUSE instance, unmounted
 * @fs:		filesystem
 */
void fs_destroy(struct uvstatfs *fs)
{
	fuse_destroy(fs->fuse);
	fs->fuse = NULL;
}

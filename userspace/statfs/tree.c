// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tree.c - libuvstatfs's file tree: what a path names, and what each file
 * holds when it is opened
 *
 * The tree is the same for every device type: device, stuck, the
 * device's writable controls (registered by name, uvstatfs_ops.control_names)
 * and queues/N/. What only the device knows (its description, the names
 * of its feature bits, counters, in-flight requests, the controls' values)
 * comes from its callbacks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvstatfs_int.h"

const char *const qfile_names[QF_COUNT] = {
	[QF_AVAIL_IDX]		= "avail_idx",
	[QF_LAST_AVAIL_IDX]	= "last_avail_idx",
	[QF_SHADOW_IDX]		= "shadow_idx",
	[QF_USED_IDX]		= "used_idx",
	[QF_USED_EVENT]		= "used_event",
	[QF_AVAIL_EVENT]	= "avail_event",
	[QF_INFLIGHT]		= "inflight",
	[QF_COUNTERS]		= "counters",
};

/*
 * Names of the bits every virtio device shares (feature bits 24 and up,
 * and the status byte); the device names its own bits 0-23
 * (uvstatfs_ops.feature_names).
 */
static const struct uvstatfs_bit_name transport_bits[] = {
	{ 28, "INDIRECT_DESC" }, { 29, "EVENT_IDX" }, { 32, "VERSION_1" },
	{ 33, "ACCESS_PLATFORM" }, { 34, "RING_PACKED" }, { 35, "IN_ORDER" },
	{ 36, "ORDER_PLATFORM" }, { 37, "SR_IOV" },
	{ 38, "NOTIFICATION_DATA" }, { 40, "RING_RESET" }, { 0, NULL },
};

static const struct uvstatfs_bit_name status_bits[] = {
	{ 0, "ACKNOWLEDGE" }, { 1, "DRIVER" }, { 2, "DRIVER_OK" },
	{ 3, "FEATURES_OK" }, { 6, "DEVICE_NEEDS_RESET" }, { 7, "FAILED" },
	{ 0, NULL },
};

/**
 * bit_lookup() - name of a bit in a table
 * @t:		table, ended by a NULL name
 * @bit:	bit number
 *
 * Return: the name, or NULL
 */
static const char *bit_lookup(const struct uvstatfs_bit_name *t,
			      unsigned int bit)
{
	for (; t->name; t++)
		if (t->bit == bit)
			return t->name;
	return NULL;
}

/**
 * print_features() - feature bits by name, unknown ones as bitN
 * @f:		stream
 * @dev_bits:	the device's names of bits 0-23, or NULL
 * @features:	bits
 */
static void print_features(FILE *f, const struct uvstatfs_bit_name *dev_bits,
			   uint64_t features)
{
	unsigned int bit;

	fprintf(f, "features: 0x%016llx", (unsigned long long)features);
	for (bit = 0; bit < 64; bit++) {
		const char *name = NULL;

		if (!(features & (1ULL << bit)))
			continue;
		if (bit < 24 && dev_bits)
			name = bit_lookup(dev_bits, bit);
		else
			name = bit_lookup(transport_bits, bit);
		if (name)
			fprintf(f, " %s", name);
		else
			fprintf(f, " bit%u", bit);
	}
	fputc('\n', f);
}

/* ---- file contents ---- */

/**
 * struct inflight_print - emit context printing requests
 * @f:		stream
 * @now_ns:	time of the listing
 */
struct inflight_print {
	FILE *f;
	uint64_t now_ns;
};

/**
 * print_req() - uvstatfs_emit_fn: one line of the inflight file
 * @ctx:	struct inflight_print
 * @r:		request
 */
static void print_req(void *ctx, const struct uvstatfs_req *r)
{
	struct inflight_print *p = ctx;
	uint64_t age = p->now_ns > r->start_ns ? p->now_ns - r->start_ns : 0;

	fprintf(p->f, "head %u type %s sector %llu len %u age_ms %llu\n",
		r->head, r->type, (unsigned long long)r->sector, r->len,
		(unsigned long long)(age / 1000000ULL));
}

/**
 * gen_device() - the device file
 * @fs:		filesystem
 * @f:		stream
 */
static void gen_device(struct uvstatfs *fs, FILE *f)
{
	struct uvirtio_status st;
	char buf[1024];
	unsigned int bit;
	int n;

	if (fs->ops->describe) {
		n = fs->ops->describe(fs->opaque, buf, sizeof(buf));
		if (n > 0)
			fwrite(buf, 1, strnlen(buf, sizeof(buf)), f);
	}
	fprintf(f, "index: %u\n", fs->dev->index);
	fprintf(f, "queues: %u\n", fs->dev->num_queues);
	if (uvdev_get_status(fs->dev, &st)) {
		fprintf(f, "features: -\nstatus: -\n");
		return;
	}
	print_features(f, fs->ops->feature_names, st.driver_features);
	fprintf(f, "status: 0x%02x", st.status);
	for (bit = 0; bit < 8; bit++) {
		const char *name = bit_lookup(status_bits, bit);

		if (st.status & (1U << bit))
			fprintf(f, " %s", name ? name : "?");
	}
	fputc('\n', f);
	if (st.dead_reason)
		fprintf(f, "dead: %s\n", uvdev_dead_str(st.dead_reason));
}

/**
 * gen_stuck() - the stuck file
 * @fs:		filesystem
 * @f:		stream
 */
static void gen_stuck(struct uvstatfs *fs, FILE *f)
{
	char line[512];
	unsigned int i;
	bool ok = true;

	pthread_mutex_lock(&fs->vlock);
	for (i = 0; i < fs->dev->num_queues && i < UVIRTIO_MAX_QUEUES; i++) {
		if (uvstatfs_verdict_ok(&fs->v[i]))
			continue;
		uvstatfs_verdict_format(&fs->v[i], i, line, sizeof(line));
		fputs(line, f);
		ok = false;
	}
	pthread_mutex_unlock(&fs->vlock);
	if (ok)
		fputs("ok\n", f);
}

/*
 * What a file says when the process that mounted the filesystem cannot
 * know it: a front end whose backend (another process) serves the rings
 * sees neither the requests nor the kicks and interrupts.
 */
#define NOT_KNOWN	"not known to this front end\n"

/**
 * gen_qfile() - one file of queues/N/
 * @fs:		filesystem
 * @q:		queue
 * @qf:		which file
 * @f:		stream
 */
static void gen_qfile(struct uvstatfs *fs, unsigned int q, enum qfile qf,
		      FILE *f)
{
	struct uvstatfs_counters c;
	struct qsnap s;

	queue_snap(fs->dev, q, &s);
	switch (qf) {
	case QF_AVAIL_IDX:
		fprintf(f, "%u\n", s.avail_idx);
		break;
	case QF_LAST_AVAIL_IDX:
		if (s.last_avail_unknown)
			fputs(NOT_KNOWN, f);
		else
			fprintf(f, "%u\n", s.last_avail);
		break;
	case QF_SHADOW_IDX:
		fprintf(f, "%u\n", s.shadow_idx);
		break;
	case QF_USED_IDX:
		fprintf(f, "%u\n", s.used_idx);
		break;
	case QF_USED_EVENT:
		fprintf(f, "%u\n", s.used_event);
		break;
	case QF_AVAIL_EVENT:
		fprintf(f, "%u\n", s.avail_event);
		break;
	case QF_INFLIGHT:
		if (fs->dev->vring_used)
			fputs(NOT_KNOWN, f);
		else if (s.ready && fs->ops->inflight) {
			struct inflight_print p = {
				.f = f, .now_ns = uvstatfs_now_ns(),
			};

			fs->ops->inflight(fs->opaque, q, print_req, &p);
		}
		break;
	case QF_COUNTERS:
		if (fs->dev->vring_used) {
			fputs(NOT_KNOWN, f);
			break;
		}
		memset(&c, 0, sizeof(c));
		if (fs->ops->counters)
			fs->ops->counters(fs->opaque, q, &c);
#define PRINT_COUNTER(name) \
		fprintf(f, #name " %llu\n", (unsigned long long)	\
			atomic_load_explicit(&c.name, memory_order_relaxed))
		PRINT_COUNTER(kicks);
		PRINT_COUNTER(interrupts);
		PRINT_COUNTER(interrupts_suppressed);
		PRINT_COUNTER(requests);
		PRINT_COUNTER(bytes);
		PRINT_COUNTER(errors);
#undef PRINT_COUNTER
		break;
	default:
		break;
	}
}

/**
 * node_resolve() - what a path names
 * @fs:		filesystem
 * @path:	absolute path inside the mount
 * @n:		out
 *
 * Return: 0, or -ENOENT
 */
int node_resolve(struct uvstatfs *fs, const char *path, struct node *n)
{
	const struct uvstatfs_control *c;
	unsigned long q;
	unsigned int i;
	char *end;

	memset(n, 0, sizeof(*n));
	if (!strcmp(path, "/"))
		n->kind = N_ROOT;
	else if (!strcmp(path, "/device"))
		n->kind = N_DEVICE;
	else if (!strcmp(path, "/stuck"))
		n->kind = N_STUCK;
	else if (!strcmp(path, "/queues"))
		n->kind = N_QUEUES;
	for (c = fs->controls; n->kind == N_NONE && c->name; c++) {
		if (path[0] == '/' && !strcmp(path + 1, c->name)) {
			n->kind = N_CONTROL;
			n->ctl = c;
		}
	}
	if (n->kind != N_NONE)
		return 0;
	if (strncmp(path, "/queues/", 8) || path[8] < '0' || path[8] > '9')
		return -ENOENT;
	q = strtoul(path + 8, &end, 10);
	if (q >= fs->dev->num_queues || (path[8] == '0' && end != path + 9))
		return -ENOENT;
	n->q = q;
	if (!*end) {
		n->kind = N_QUEUE;
		return 0;
	}
	if (*end != '/')
		return -ENOENT;
	for (i = 0; i < QF_COUNT; i++) {
		if (!strcmp(end + 1, qfile_names[i])) {
			n->kind = N_QFILE;
			n->qf = i;
			return 0;
		}
	}
	return -ENOENT;
}

/**
 * node_is_dir() - the node is a directory
 * @n:		node
 *
 * Return: true for the root, queues/ and queues/N/
 */
bool node_is_dir(const struct node *n)
{
	return n->kind == N_ROOT || n->kind == N_QUEUES || n->kind == N_QUEUE;
}

/**
 * node_generate() - a file's contents now
 * @fs:		filesystem
 * @n:		node, a file
 * @buf:	out: malloc()ed contents (caller frees)
 * @len:	out: bytes
 *
 * Return: 0, or -ENOMEM
 */
int node_generate(struct uvstatfs *fs, const struct node *n, char **buf,
		  size_t *len)
{
	char ctl[CTL_MAX];
	FILE *f;

	*buf = NULL;
	*len = 0;
	f = open_memstream(buf, len);
	if (!f)
		return -ENOMEM;
	switch (n->kind) {
	case N_DEVICE:
		gen_device(fs, f);
		break;
	case N_STUCK:
		gen_stuck(fs, f);
		break;
	case N_CONTROL:
		if (fs->ops->get_control &&
		    fs->ops->get_control(fs->opaque, n->ctl->id, ctl,
					 sizeof(ctl)) >= 0)
			fputs(ctl, f);
		break;
	case N_QFILE:
		gen_qfile(fs, n->q, n->qf, f);
		break;
	default:
		break;
	}
	if (fclose(f)) {
		free(*buf);
		*buf = NULL;
		return -ENOMEM;
	}
	return 0;
}

/**
 * node_write() - apply a value written to a control
 * @fs:		filesystem
 * @n:		node
 * @val:	bytes written
 * @len:	their count
 *
 * Trailing blanks and newlines are dropped (echo adds one).
 *
 * Return: 0, -EACCES for a read-only file, -EINVAL for an empty or
 * oversized value, or the device's error
 */
int node_write(struct uvstatfs *fs, const struct node *n, const char *val,
	       size_t len)
{
	char buf[CTL_MAX];

	if (n->kind != N_CONTROL || !fs->ops->set_control)
		return -EACCES;
	while (len && (val[len - 1] == '\n' || val[len - 1] == ' ' ||
		       val[len - 1] == '\t'))
		len--;
	if (!len || len >= sizeof(buf) || memchr(val, '\0', len))
		return -EINVAL;
	memcpy(buf, val, len);
	buf[len] = '\0';
	return fs->ops->set_control(fs->opaque, n->ctl->id, buf);
}

/**
 * uvstatfs_read_file() - a file's contents, without going through FUSE
 * @fs:		filesystem
 * @path:	path inside the mount ("/stuck", "/queues/0/used_idx")
 * @buf:	out: malloc()ed contents
 * @len:	out: bytes
 *
 * Return: 0, -ENOENT, -EISDIR, -ENOMEM
 */
int uvstatfs_read_file(struct uvstatfs *fs, const char *path, char **buf,
		       size_t *len)
{
	struct node n;
	int ret = node_resolve(fs, path, &n);

	if (ret)
		return ret;
	if (node_is_dir(&n))
		return -EISDIR;
	return node_generate(fs, &n, buf, len);
}

/**
 * uvstatfs_write_file() - write a control, without going through FUSE
 * @fs:		filesystem
 * @path:	path inside the mount ("/link")
 * @val:	value
 * @len:	bytes at @val
 *
 * Return: 0, or -errno as a write() of the file would fail
 */
int uvstatfs_write_file(struct uvstatfs *fs, const char *path,
			const char *val, size_t len)
{
	struct node n;
	int ret = node_resolve(fs, path, &n);

	if (ret)
		return ret;
	return node_write(fs, &n, val, len);
}


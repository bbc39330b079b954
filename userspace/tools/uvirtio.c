// SPDX-License-Identifier: GPL-2.0-only
/*
 * uvirtio - list the uvirtio devices on this system
 *
 * Reads sysfs only: every device is a directory uvirtio-N under the misc
 * device (/sys/class/misc/uvirtio), with read-only attributes owner, pid,
 * device_id, features, state and queues, and the virtio device virtioM as
 * a child, under which the driver's disk (block/vdX) or interface
 * (net/ethX) appears. An attribute this kernel module does not have yet is
 * printed as "-".
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG		"uvirtio"
#define VERSION		"0.1"
#define SYSFS_DEFAULT	"/sys/class/misc/uvirtio"
#define ATTR_MAX	64

/**
 * usage() - print the help text
 * @f:		stream
 */
static void usage(FILE *f)
{
	fprintf(f,
"Usage: " PROG " list [--sysfs DIR]\n"
"       " PROG " --help | --version\n"
"\n"
"list    print every uvirtio device on this system, one line each:\n"
"        INDEX TYPE NODE STATE OWNER PID QUEUES\n"
"          INDEX   uvirtio-N, the device's name under the misc device\n"
"          TYPE    blk, net, or the virtio device id\n"
"          NODE    what the kernel driver made of it (vda, eth1), or -\n"
"          STATE   starting, live, recovering, removing or dead\n"
"          OWNER   uid of the process that created it\n"
"          PID     the emulator's pid (in the initial pid namespace)\n"
"          QUEUES  number of virtqueues\n"
"        A value the kernel does not report is printed as -.\n"
"\n"
"Options:\n"
"  --sysfs DIR   read the devices from DIR (default " SYSFS_DEFAULT ")\n"
"  -h, --help    print this help and exit\n"
"  --version     print the version and exit\n"
"\n"
"Exit status: 0 (also with no device), 1 if DIR cannot be read (is the\n"
"uvirtio module loaded?), 2 on usage errors.\n");
}

/**
 * read_attr() - first line of a sysfs file
 * @dir:	directory
 * @name:	file name
 * @buf:	out: the line without newline, or "-" if unreadable
 * @len:	bytes at @buf
 *
 * Return: 0, or -errno (and @buf is "-")
 */
static int read_attr(const char *dir, const char *name, char *buf, size_t len)
{
	char path[1024];
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "re");
	if (!f || !fgets(buf, len, f)) {
		ret = f ? -EIO : -errno;
		snprintf(buf, len, "-");
	} else {
		buf[strcspn(buf, "\n")] = '\0';
		if (!buf[0])
			snprintf(buf, len, "-");
	}
	if (f)
		fclose(f);
	return ret;
}

/**
 * first_entry() - the first entry of a directory, "." and ".." aside
 * @dir:	directory
 * @buf:	out
 * @len:	bytes at @buf
 *
 * Return: 0, or -ENOENT
 */
static int first_entry(const char *dir, char *buf, size_t len)
{
	struct dirent *de;
	int ret = -ENOENT;
	DIR *d = opendir(dir);

	if (!d)
		return -ENOENT;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(buf, len, "%s", de->d_name);
		ret = 0;
		break;
	}
	closedir(d);
	return ret;
}

/**
 * type_name() - blk/net for a virtio device id
 * @id:		decimal or 0x-prefixed id as text, or "-"
 * @buf:	out
 * @len:	bytes at @buf
 */
static void type_name(const char *id, char *buf, size_t len)
{
	char *end;
	unsigned long v = strtoul(id, &end, 0);

	if (end == id || *end)
		snprintf(buf, len, "-");
	else if (v == 2)
		snprintf(buf, len, "blk");
	else if (v == 1)
		snprintf(buf, len, "net");
	else
		snprintf(buf, len, "%lu", v);
}

/**
 * list_one() - print one device's line
 * @root:	the misc device's sysfs directory
 * @name:	uvirtio-N
 */
static void list_one(const char *root, const char *name)
{
	char dir[512], vdir[1024], sub[1100], virtio[256];
	char id[ATTR_MAX], type[ATTR_MAX], node[256] = "-";
	char state[ATTR_MAX], owner[ATTR_MAX], pid[ATTR_MAX];
	char queues[ATTR_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s", root, name);
	virtio[0] = '\0';
	d = opendir(dir);
	if (d) {
		while ((de = readdir(d))) {
			if (!strncmp(de->d_name, "virtio", 6)) {
				snprintf(virtio, sizeof(virtio), "%s",
					 de->d_name);
				break;
			}
		}
		closedir(d);
	}
	/* the device id: our attribute, else the virtio device's own */
	if (read_attr(dir, "device_id", id, sizeof(id)) && virtio[0]) {
		snprintf(vdir, sizeof(vdir), "%s/%s", dir, virtio);
		read_attr(vdir, "device", id, sizeof(id));
	}
	type_name(id, type, sizeof(type));
	if (virtio[0]) {
		snprintf(sub, sizeof(sub), "%s/%s/block", dir, virtio);
		if (first_entry(sub, node, sizeof(node))) {
			snprintf(sub, sizeof(sub), "%s/%s/net", dir, virtio);
			if (first_entry(sub, node, sizeof(node)))
				snprintf(node, sizeof(node), "-");
		}
	}
	read_attr(dir, "state", state, sizeof(state));
	read_attr(dir, "owner", owner, sizeof(owner));
	read_attr(dir, "pid", pid, sizeof(pid));
	read_attr(dir, "queues", queues, sizeof(queues));
	printf("%-12s %-4s %-8s %-10s %-6s %-8s %s\n", name, type, node, state,
	       owner, pid, queues);
}

/**
 * index_of() - N of "uvirtio-N"
 * @name:	entry name
 *
 * Return: N, or -1 if @name is not a device
 */
static long index_of(const char *name)
{
	char *end;
	long v;

	if (strncmp(name, "uvirtio-", 8) || name[8] < '0' || name[8] > '9')
		return -1;
	v = strtol(name + 8, &end, 10);
	return *end ? -1 : v;
}

/**
 * cmp_index() - order device names by index
 * @a:		char **
 * @b:		char **
 *
 * Return: <0, 0, >0
 */
static int cmp_index(const void *a, const void *b)
{
	long x = index_of(*(char *const *)a), y = index_of(*(char *const *)b);

	return (x > y) - (x < y);
}

/**
 * cmd_list() - uvirtio list
 * @root:	the misc device's sysfs directory
 *
 * Return: exit status
 */
static int cmd_list(const char *root)
{
	char **names = NULL, **tmp;
	size_t n = 0, i;
	struct dirent *de;
	DIR *d = opendir(root);

	if (!d) {
		fprintf(stderr, PROG ": %s: %s (is the uvirtio module loaded?)\n",
			root, strerror(errno));
		return 1;
	}
	while ((de = readdir(d))) {
		if (index_of(de->d_name) < 0)
			continue;
		tmp = realloc(names, (n + 1) * sizeof(*names));
		if (!tmp || !(tmp[n] = strdup(de->d_name))) {
			fprintf(stderr, PROG ": %s: out of memory\n", root);
			closedir(d);
			return 1;
		}
		names = tmp;
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_index);
	printf("%-12s %-4s %-8s %-10s %-6s %-8s %s\n", "INDEX", "TYPE", "NODE",
	       "STATE", "OWNER", "PID", "QUEUES");
	for (i = 0; i < n; i++) {
		list_one(root, names[i]);
		free(names[i]);
	}
	free(names);
	return 0;
}

/**
 * main() - parse the command line, run the command
 * @argc:	argument count
 * @argv:	arguments
 *
 * Return: exit status (see usage())
 */
int main(int argc, char **argv)
{
	enum { OPT_SYSFS = 256, OPT_VERSION };
	static const struct option longopts[] = {
		{ "sysfs",	required_argument, NULL, OPT_SYSFS },
		{ "help",	no_argument,	   NULL, 'h' },
		{ "version",	no_argument,	   NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	const char *root = SYSFS_DEFAULT;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_SYSFS:
			root = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case OPT_VERSION:
			printf(PROG " " VERSION "\n");
			return 0;
		case ':':
			fprintf(stderr, PROG ": option '%s' needs an argument (see --help)\n",
				argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, PROG ": unknown option '%s' (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, PROG ": no command given (see --help)\n");
		return 2;
	}
	if (strcmp(argv[optind], "list")) {
		fprintf(stderr, PROG ": '%s' is not a command (see --help)\n",
			argv[optind]);
		return 2;
	}
	if (optind + 1 < argc) {
		fprintf(stderr, PROG ": list: unexpected argument '%s'\n",
			argv[optind + 1]);
		return 2;
	}
	return cmd_list(root);
}

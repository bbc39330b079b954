// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_blk_cli.c - uvirtio-blk's command line: help, and one clear line on
 * stderr with the right exit code for every bad input it can see without
 * a kernel module
 *
 * The binary is $UVIRTIO_BLK or argv[1]. Cases about permissions run the
 * binary as nobody when the test runs as root (root ignores file modes).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

#define NOBODY		65534
#define EXIT_NOEXEC	126

static const char *bin;
static char dir[] = "/tmp/uvirtio-cli-XXXXXX";

/**
 * struct result - what one run produced
 * @code:	exit code
 * @out:	stdout
 * @err:	stderr
 */
struct result {
	int code;
	char out[8192];
	char err[8192];
};

/**
 * slurp() - read a pipe to its end
 * @fd:		pipe
 * @buf:	buffer, NUL-terminated on return
 * @len:	size of @buf
 */
static void slurp(int fd, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;

	while (n + 1 < len && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += r;
	buf[n] = '\0';
	close(fd);
}

/**
 * run() - run the binary with arguments
 * @r:		result
 * @as_nobody:	drop to uid/gid 65534 first (only when root)
 * @...:	arguments, NULL-terminated
 */
static void run(struct result *r, bool as_nobody, ...)
{
	char *argv[16] = { (char *)bin };
	int out[2], err[2], st, i = 1;
	va_list ap;
	pid_t pid;

	va_start(ap, as_nobody);
	while (i < 15 && (argv[i] = va_arg(ap, char *)))
		i++;
	va_end(ap);
	argv[i] = NULL;

	r->code = -1;
	r->out[0] = r->err[0] = '\0';
	if (pipe(out) || pipe(err))
		return;
	pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]);
		close(err[0]);
		if (as_nobody && geteuid() == 0 &&
		    (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY)))
			_exit(EXIT_NOEXEC);
		execv(bin, argv);
		_exit(EXIT_NOEXEC);
	}
	close(out[1]);
	close(err[1]);
	slurp(out[0], r->out, sizeof(r->out));
	slurp(err[0], r->err, sizeof(r->err));
	if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st))
		r->code = WEXITSTATUS(st);
}

/**
 * one_line() - is @s exactly one newline-terminated line
 * @s:		text
 *
 * Return: true if so
 */
static bool one_line(const char *s)
{
	const char *nl = strchr(s, '\n');

	return nl && nl[1] == '\0';
}

/**
 * expect() - run and check exit code and the single stderr line
 * @name:	test name
 * @code:	expected exit code
 * @want:	text the line must contain
 * @as_nobody:	see run()
 * @a1:		first argument
 * @a2:		second argument or NULL
 * @a3:		third argument or NULL
 */
static void expect(const char *name, int code, const char *want,
		   bool as_nobody, const char *a1, const char *a2,
		   const char *a3)
{
	struct result r;

	run(&r, as_nobody, a1, a2, a3, (char *)NULL);
	if (as_nobody && r.code == EXIT_NOEXEC && !r.err[0]) {
		tap_skip(name, "cannot run the binary as nobody");
		return;
	}
	if (tap_ok(r.code == code && one_line(r.err) &&
		   !strncmp(r.err, "uvirtio-blk: ", 13) && strstr(r.err, want) &&
		   !r.out[0], "%s", name))
		return;
	tap_diag("exit %d (expected %d), stderr: %s", r.code, code, r.err);
}

/**
 * make_file() - a file of @size bytes and mode @mode in the test directory
 * @name:	file name
 * @size:	bytes
 * @mode:	permissions
 *
 * Return: its path, allocated
 */
static char *make_file(const char *name, off_t size, mode_t mode)
{
	char *path;
	int fd;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		exit(1);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	if (fd < 0 || ftruncate(fd, size) || close(fd) || chmod(path, mode))
		exit(1);
	return path;
}

/**
 * main() - run the tests
 *
 * Return: 0 if all passed, 1 if one failed, 4 if skipped
 */
int main(int argc, char **argv)
{
	static const char *const opts[] = {
		"--queue-size", "--serial", "--readonly", "--dev", "--help",
		"--version", "--copy", "ram:SIZE", "Exit status",
	};
	char *odd, *empty, *ro, *noread, *nodev;
	struct result r;
	unsigned int i;
	bool all;

	bin = getenv("UVIRTIO_BLK");
	if (argc > 1)
		bin = argv[1];
	if (!bin || access(bin, X_OK)) {
		printf("TAP version 13\n1..0 # SKIP uvirtio-blk not built "
		       "(set UVIRTIO_BLK)\n");
		return 4;
	}
	if (!mkdtemp(dir) || chmod(dir, 0755))
		return 1;
	odd = make_file("odd.img", 1000, 0644);
	empty = make_file("empty.img", 0, 0644);
	ro = make_file("ro.img", 1 << 20, 0444);
	noread = make_file("noread.img", 1 << 20, 0);
	nodev = make_file("uvirtio", 0, 0);

	tap_plan(24);

	run(&r, false, "--help", (char *)NULL);
	for (all = true, i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		all = all && strstr(r.out, opts[i]);
	tap_ok(r.code == 0 && all && !r.err[0],
	       "--help documents every option, exit 0");
	run(&r, false, "-h", (char *)NULL);
	tap_ok(r.code == 0 && strstr(r.out, "Usage:"), "-h is --help");
	run(&r, false, "--version", (char *)NULL);
	tap_ok(r.code == 0 && !strncmp(r.out, "uvirtio-blk ", 12) &&
	       one_line(r.out), "--version, exit 0");

	expect("unknown option", 2, "unknown option '--bogus'", false,
	       "--bogus", "ram:1M", NULL);
	expect("no BACKING", 2, "no BACKING", false, "--readonly", NULL, NULL);
	expect("two BACKINGs", 2, "unexpected argument 'ram:2M'", false,
	       "ram:1M", "ram:2M", NULL);
	expect("missing option argument", 2, "'--serial' needs an argument",
	       false, "--serial", NULL, NULL);
	expect("queue size not a power of two", 2, "300 is not a power of two",
	       false, "--queue-size", "300", "ram:1M");
	expect("--copy not a mode", 2, "--copy: 'rep' is not memcpy, loop or auto",
	       false, "--copy", "rep", "ram:1M");
	expect("queue size not a number", 2, "'12x' is not a number", false,
	       "--queue-size", "12x", "ram:1M");
	expect("queue size too large", 2, "2048 is not a power of two", false,
	       "--queue-size", "2048", "ram:1M");
	expect("serial too long", 2, "longer than 20 bytes", false,
	       "--serial", "abcdefghijklmnopqrstu", "ram:1M");
	expect("ram size not a multiple of 512", 1,
	       "ram:1000: size 1000 is not a multiple of 512", false,
	       "ram:1000", NULL, NULL);
	expect("ram size zero", 1, "ram:0: size is 0", false, "ram:0", NULL,
	       NULL);
	expect("ram size malformed", 2, "'12Q' is not a size", false,
	       "ram:12Q", NULL, NULL);
	expect("file missing", 1, "No such file or directory", false,
	       "/nonexistent/disk.img", NULL, NULL);
	expect("file size not a multiple of 512", 1,
	       "odd.img: size 1000 is not a multiple of 512", false, odd,
	       NULL, NULL);
	expect("file size zero", 1, "empty.img: size is 0", false, empty,
	       NULL, NULL);
	expect("read-only file without --readonly", 1,
	       "ro.img: file is read-only (use --readonly)", true, ro, NULL,
	       NULL);
	expect("unreadable file", 1, "noread.img: Permission denied", true,
	       "--readonly", noread, NULL);
	expect("/dev/uvirtio missing", 1, "is the uvirtio module loaded", false,
	       "--dev", "/nonexistent/uvirtio", "ram:1M");
	expect("/dev/uvirtio not accessible", 1, "Permission denied (it must",
	       true, "--dev", nodev, "ram:1M");
	expect("not a uvirtio device", 1, "/dev/null: not a uvirtio device",
	       false, "--dev", "/dev/null", "ram:1M");
	expect("directory as BACKING", 1, "not a regular file or block device",
	       false, "--readonly", dir, NULL);

	unlink(odd);
	unlink(empty);
	unlink(ro);
	unlink(noread);
	unlink(nodev);
	rmdir(dir);
	return tap_done();
}

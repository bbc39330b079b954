// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_blk_fake.c - uvirtio-blk's event loop end to end, against a fake
 * /dev/uvirtio (fake_uvirtio.so, preloaded) that plays the module and the
 * virtio_blk driver: events, kicks, completions, SIGTERM and removal
 *
 * The binary is $UVIRTIO_BLK or argv[1]; fake_uvirtio.so is looked for
 * next to this program.
 */
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

#define TIMEOUT_S	20

static const char *const checks[] = {
	"domain mmap",
	"write",
	"flush",
	"indirect read returns written data",
	"GET_ID",
	"unsupported type",
	"read past the end",
	"bad chain completed with len 0",
	"16 reads, one kick",
	"one UVIRTIO_REMOVE",
	"features offered",
	"create arguments",
	"config space",
};

/**
 * find_line() - look up one check in the report
 * @report:	report text
 * @name:	check name
 * @ok:		out: it passed
 *
 * Return: the line, or NULL if the check never ran
 */
static const char *find_line(const char *report, const char *name, bool *ok)
{
	size_t n = strlen(name);
	const char *p = report;

	while (p && *p) {
		const char *s = p;

		*ok = strncmp(s, "not ", 4);
		if (!*ok)
			s += 4;
		if (!strncmp(s, "ok ", 3) && !strncmp(s + 3, name, n) &&
		    (s[3 + n] == '\n' || s[3 + n] == ':'))
			return p;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

/**
 * main() - run the tests
 *
 * Return: 0 if all passed, 1 if one failed, 4 if skipped
 */
int main(int argc, char **argv)
{
	char so[PATH_MAX], self[PATH_MAX], rep[] = "/tmp/uvirtio-fake-XXXXXX";
	char report[8192], err[8192], out[1024];
	const char *bin = argc > 1 ? argv[1] : getenv("UVIRTIO_BLK");
	int rfd, efd[2], ofd[2], st = -1, code = -1;
	unsigned int i;
	ssize_t n;
	pid_t pid;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0 || !bin || access(bin, X_OK)) {
		printf("TAP version 13\n1..0 # SKIP uvirtio-blk not built "
		       "(set UVIRTIO_BLK)\n");
		return 4;
	}
	self[n] = '\0';
	snprintf(so, sizeof(so), "%s/fake_uvirtio.so", dirname(self));
	rfd = mkstemp(rep);
	if (rfd < 0 || pipe(efd) || pipe(ofd))
		return 1;

	pid = fork();
	if (pid == 0) {
		dup2(ofd[1], 1);
		dup2(efd[1], 2);
		setenv("LD_PRELOAD", so, 1);
		setenv("FAKE_UVIRTIO_DEV", "/fake/uvirtio", 1);
		setenv("FAKE_UVIRTIO_REPORT", rep, 1);
		alarm(TIMEOUT_S);
		execl(bin, bin, "--dev", "/fake/uvirtio", "--serial",
		      "fake-serial", "--queue-size", "64", "ram:1M",
		      (char *)NULL);
		_exit(127);
	}
	close(efd[1]);
	close(ofd[1]);
	n = read(ofd[0], out, sizeof(out) - 1);
	out[n > 0 ? n : 0] = '\0';
	n = 0;
	while (n < (ssize_t)sizeof(err) - 1) {
		ssize_t r = read(efd[0], err + n, sizeof(err) - 1 - n);

		if (r <= 0)
			break;
		n += r;
	}
	err[n] = '\0';
	if (waitpid(pid, &st, 0) == pid && WIFEXITED(st))
		code = WEXITSTATUS(st);
	n = pread(rfd, report, sizeof(report) - 1, 0);
	report[n > 0 ? n : 0] = '\0';
	close(rfd);
	unlink(rep);

	tap_plan(sizeof(checks) / sizeof(checks[0]) + 3);
	for (i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		bool ok = false;
		const char *line = find_line(report, checks[i], &ok);

		if (!tap_ok(line && ok, "%s", checks[i]))
			tap_diag("%.*s", line ? (int)strcspn(line, "\n") : 9,
				 line ? line : "never ran");
	}
	if (!tap_ok(code == 0, "exit 0 after SIGTERM and removal")) {
		tap_diag("status %#x, stderr follows", st);
		fputs(err, stdout);
	}
	tap_ok(strstr(err, "bad chain at head 5") != NULL,
	       "bad chain reported on stderr");
	tap_ok(strstr(err, "removed") != NULL && !out[0],
	       "removal reported on stderr, nothing on stdout");
	return tap_done();
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * bad_completion - a completion the kernel must refuse kills only its device.
 *
 * For each kind of bad completion (an id that is not outstanding, an id out
 * of range, the same id twice, a length beyond the chain's writable part,
 * a shadow index that jumps by more than the ring size) an emulator serves
 * a RAM disk while a reader does O_DIRECT reads, then misbehaves once.
 * Checked: the reader's I/O fails within 5 s, the device is removed
 * within 5 s with the matching reason, the disk disappears, and the kernel
 * log has exactly one line for the device, naming the reason. Needs root
 * (it reads /dev/kmsg). With --uring (bad_completion_uring.sh) the entries
 * go to the module through UVIRTIO_URING_COMMIT, which must also fail
 * with EIO: the same checks, the same kill.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kmsg.h"
#include "testemu.h"
#include "uring.h"
#include "require.h"
#include "unit/tap.h"

#define DISK_BYTES	(16u << 20)
#define LIMIT_MS	5000
#define READER_EIO	3
#define READER_GONE	5

struct mode {
	const char *name;
	uint32_t reason;
	const char *log;	/* what the kernel's line must say */
	bool (*hook)(struct temu *t, struct uvq *vq, struct uvq_elem *e,
		     uint32_t len);
};

static long fired_ms;
/* bad_completion --uring: hand the entries over with UVIRTIO_URING_COMMIT */
static bool via_commit;
static int commit_res;
static bool committed;
static int temu_fd;

/* Append raw entries after what the library published, publish, signal. */
static void shadow_raw(struct uvq *vq, const struct uvirtio_used_elem *ents,
		       unsigned int n, uint16_t extra)
{
	uint16_t idx = vq->shadow_idx;
	uint64_t one = 1;
	unsigned int i;

	for (i = 0; i < n; i++)
		vq->shadow->ring[(uint16_t)(idx + i) & (vq->num - 1)] = ents[i];
	idx += n + extra;
	__atomic_store_n(&vq->shadow->idx, idx, __ATOMIC_RELEASE);
	/* Or the library's next flush would store its older index again. */
	vq->shadow_idx = vq->published = vq->signalled = idx;
	if (via_commit) {
		int res = blk_uring_cmd_once(temu_fd, UVIRTIO_URING_COMMIT,
					     vq->index, 0, 0);

		/*
		 * The first one counts: the pop loop may meet the reader's
		 * next request and fire again on the dead device (ENODEV).
		 */
		if (!committed)
			commit_res = res;
		committed = true;
	}
	else if (write(vq->call_fd, &one, sizeof(one)) != sizeof(one))
		perror("call eventfd");
	fired_ms = temu_now_ms();
}

static bool hook_unknown(struct temu *t, struct uvq *vq, struct uvq_elem *e,
			 uint32_t len)
{
	/* The reader keeps one request in flight: head ^ 1 is not outstanding. */
	struct uvirtio_used_elem bad = { .id = e->head ^ 1u, .len = 0 };

	(void)t; (void)len;
	uvq_flush(vq);
	shadow_raw(vq, &bad, 1, 0);
	return true;
}

static bool hook_range(struct temu *t, struct uvq *vq, struct uvq_elem *e,
		       uint32_t len)
{
	struct uvirtio_used_elem bad = { .id = vq->num + 7, .len = 0 };

	(void)t; (void)e; (void)len;
	uvq_flush(vq);
	shadow_raw(vq, &bad, 1, 0);
	return true;
}

static bool hook_repeat(struct temu *t, struct uvq *vq, struct uvq_elem *e,
			uint32_t len)
{
	struct uvirtio_used_elem again = { .id = e->head, .len = len };

	(void)t;
	uvq_flush(vq);
	/* The good completion and its twin go out in one publication. */
	if (uvq_push(vq, e, len))
		return false;
	shadow_raw(vq, &again, 1, 0);
	return true;
}

static bool hook_long(struct temu *t, struct uvq *vq, struct uvq_elem *e,
		      uint32_t len)
{
	struct uvirtio_used_elem bad = { .id = e->head, .len = e->in_len + 1 };

	(void)t; (void)len;
	uvq_flush(vq);
	shadow_raw(vq, &bad, 1, 0);
	return true;
}

static bool hook_jump(struct temu *t, struct uvq *vq, struct uvq_elem *e,
		      uint32_t len)
{
	(void)t; (void)e; (void)len;
	uvq_flush(vq);
	shadow_raw(vq, NULL, 0, vq->num + 1);
	return true;
}

static const struct mode modes[] = {
	{ "id not outstanding", UVIRTIO_DEAD_BAD_ID, "used id is not an outstanding head", hook_unknown },
	{ "id out of range", UVIRTIO_DEAD_BAD_ID, "used id is not an outstanding head", hook_range },
	{ "id completed twice", UVIRTIO_DEAD_BAD_ID, "used id is not an outstanding head", hook_repeat },
	{ "length beyond the writable part", UVIRTIO_DEAD_BAD_LEN, "used length exceeds the buffer", hook_long },
	{ "shadow index jumps past the ring", UVIRTIO_DEAD_BAD_IDX, "shadow used index moved", hook_jump },
};

/*
 * O_DIRECT reads, one at a time, until one fails or 60 s pass. A read fails
 * with EIO (exit 3), or returns 0 when the disk was already removed between
 * two reads: its capacity is then 0 (exit 5; the same verdict for a reader).
 */
static void reader(const char *node)
{
	long end = temu_now_ms() + 60000;
	unsigned int i = 0;
	ssize_t r;
	void *buf;
	int fd;

	/*
	 * Each mode's disk gets the previous one's device number. Until the
	 * previous disk's last reference is gone (slow on a debug kernel), its
	 * stale block-device inode is what an open finds: ENXIO. Measured on
	 * 7.3 with KASAN: /dev/vda and sysfs both say 254:0, yet ENXIO.
	 */
	while ((fd = open(node, O_RDONLY | O_DIRECT)) < 0 && errno == ENXIO &&
	       temu_now_ms() < end - 50000)
		usleep(20000);
	if (fd < 0 || posix_memalign(&buf, 4096, 4096)) {
		printf("# reader: cannot open %s: %s\n", node, strerror(errno));
		fflush(stdout);
		_exit(2);
	}
	while (temu_now_ms() < end) {
		r = pread(fd, buf, 4096, (off_t)(i++ % (DISK_BYTES / 4096)) * 4096);
		if (r < 0)
			_exit(errno == EIO ? READER_EIO : 4);
		if (r != 4096)
			_exit(READER_GONE);
	}
	_exit(0);
}

/* Wait up to @ms for @pid; its exit status, or -1 (then it is killed). */
static int wait_child(pid_t pid, long ms)
{
	long end = temu_now_ms() + ms;
	char path[64], line[256];
	FILE *f;
	int st;

	while (temu_now_ms() < end) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
		usleep(20000);
	}
	tap_diag("reader %d still runs after %ld ms; its kernel stack:", pid, ms);
	snprintf(path, sizeof(path), "/proc/%d/stack", pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		tap_diag("  %s", strtok(line, "\n"));
	if (f)
		fclose(f);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static void run(const struct mode *m)
{
	char dev[32], line[1024] = "", sys[96];
	struct temu t = { 0 };
	unsigned long start;
	int kmsg, st, n;
	bool gone = false;
	long end;
	pid_t pid;

	tap_diag("mode: %s", m->name);
	if (temu_create(&t, DISK_BYTES, 128) || temu_wait_disk(&t, 30000)) {
		tap_ok(false, "%s: disk appears", m->name);
		tap_ok(false, "%s: reader's I/O fails within 5 s", m->name);
		tap_ok(false, "%s: device removed within 5 s for the right reason", m->name);
		tap_ok(false, "%s: disk node gone, one log line names device and reason", m->name);
		temu_close(&t);
		return;
	}
	tap_ok(true, "%s: disk appears (%s)", m->name, t.node);
	temu_fd = t.d.fd;
	committed = false;
	snprintf(dev, sizeof(dev), "uvirtio-%u", t.d.index);
	snprintf(sys, sizeof(sys), "/sys/block/%.40s", t.node + 5);
	kmsg = kmsg_open();

	fired_ms = 0;
	pid = fork();
	if (pid == 0)
		reader(t.node);
	/* Let good I/O flow first, then misbehave on the next request. */
	start = t.served;
	/* Generous: a reader starts slowly on a loaded debug kernel. */
	end = temu_now_ms() + 60000;
	while (t.served < start + 20 && temu_now_ms() < end)
		temu_serve(&t, 50);
	t.hook = m->hook;
	/*
	 * Through COMMIT only: with a call eventfd as well, its harvest
	 * (irq_work, late on a slow kernel) could meet the bad entry first,
	 * and the COMMIT would find the device already dead.
	 */
	if (via_commit)
		t.d.q[0].vq.call_fd = -1;
	while (!fired_ms && temu_now_ms() < end)
		temu_serve(&t, 50);
	if (!fired_ms)
		tap_diag("never misbehaved: %lu requests served in 60 s",
			 t.served - start);

	st = wait_child(pid, LIMIT_MS + (fired_ms ? fired_ms - temu_now_ms() : 0));
	tap_ok(fired_ms && (st == READER_EIO || st == READER_GONE),
	       "%s: reader's I/O fails within 5 s (%s)", m->name,
	       st == READER_EIO ? "EIO" : st == READER_GONE ? "disk gone" :
	       st == 2 ? "reader could not start" : "no error");
	st = temu_wait_removed(&t, LIMIT_MS);
	tap_ok(!st && t.d.dead_reason == m->reason &&
	       (!via_commit || (committed && commit_res == -EIO)),
	       "%s: device removed within 5 s for the right reason (%s)%s", m->name,
	       uvdev_dead_str(t.d.dead_reason),
	       via_commit ? (commit_res == -EIO ? ", COMMIT failed with EIO" :
			     ", but COMMIT did not fail with EIO") : "");
	if (via_commit && committed && commit_res != -EIO)
		tap_diag("COMMIT returned %d (%s)", commit_res,
			 commit_res < 0 ? strerror(-commit_res) : "not an error");

	for (end = temu_now_ms() + LIMIT_MS; temu_now_ms() < end; usleep(20000)) {
		struct stat sb;

		if (stat(sys, &sb)) {
			gone = true;
			break;
		}
	}
	n = kmsg >= 0 ? kmsg_lines(kmsg, dev, line, sizeof(line)) : -1;
	tap_ok(gone && n == 1 && strstr(line, m->log),
	       "%s: disk node gone, one log line names device and reason", m->name);
	if (n != 1 || !strstr(line, m->log))
		tap_diag("%d log lines for %s, last: %s", n, dev, line);
	if (kmsg >= 0)
		close(kmsg);
	temu_close(&t);
}

int main(int argc, char **argv)
{
	unsigned int i, n = sizeof(modes) / sizeof(modes[0]), first = 0;

	/*
	 * bad_completion [--uring] [N]: only mode N (0-based), to chase one
	 * case; --uring hands the bad entries to the module with
	 * UVIRTIO_URING_COMMIT instead of a call eventfd write.
	 */
	if (argc > 1 && !strcmp(argv[1], "--uring")) {
		via_commit = true;
		argc--;
		argv++;
	}
	if (argc > 1) {
		first = atoi(argv[1]) % n;
		n = first + 1;
	}
	require_uvirtio(REQ_ROOT);
	tap_plan(4 * (n - first));
	for (i = first; i < n; i++) {
		run(&modes[i]);
		/* The kernel line is rate-limited: keep runs apart. */
		sleep(1);
	}
	return tap_done();
}

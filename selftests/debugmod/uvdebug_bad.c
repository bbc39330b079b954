// SPDX-License-Identifier: GPL-2.0-only
/*
 * uvdebug_bad - deliberately broken test module for the debug kernel lane.
 *
 * Loading it performs, once each and in this order:
 *  - mutex A then B, later B then A, in the same thread: lockdep must print
 *    "possible circular locking dependency detected" (nothing deadlocks,
 *    the second order only runs after the first has released both);
 *  - reads of kmalloc()ed objects after kfree(), three objects one after
 *    the other: generic KASAN must print "BUG: KASAN: slab-use-after-free"
 *    (once: KASAN reports only its first finding unless kasan_multi_shot;
 *    the later reads are there so that one object that escaped KASAN's
 *    watch, e.g. a KFENCE one, cannot make the self-test flaky);
 *  - with leak=1, kmalloc()s whose pointers are dropped: two kmemleak scans
 *    at least 5 s later must list them as "unreferenced object".
 * The lock inversion comes first because a KASAN report taints the kernel
 * and a taint switches lockdep off ("Disabling lock debugging due to kernel
 * taint"); lockdep also switches itself off after its first report. So load
 * this module in a boot of its own, never in one whose results matter.
 */
#include <linux/compiler.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>

static bool uaf = true;
module_param(uaf, bool, 0444);
MODULE_PARM_DESC(uaf, "read freed memory on load (KASAN)");

static bool inversion = true;
module_param(inversion, bool, 0444);
MODULE_PARM_DESC(inversion, "take two mutexes in both orders on load (lockdep)");

static bool leak;
module_param(leak, bool, 0444);
MODULE_PARM_DESC(leak, "lose a few allocations on load (kmemleak)");

#define UVDEBUG_LEAKS	8
#define UVDEBUG_UAF_READS	3

static DEFINE_MUTEX(uvdebug_lock_a);
static DEFINE_MUTEX(uvdebug_lock_b);

static noinline void uvdebug_use_after_free(unsigned int i)
{
	char *buf;
	char val;

	buf = kmalloc(128, GFP_KERNEL);
	if (!buf)
		return;
	memset(buf, 0x5a, 128);
	kfree(buf);
	/* the compiler must not see that buf is dead */
	OPTIMIZER_HIDE_VAR(buf);
	val = READ_ONCE(buf[42]);
	pr_info("uvdebug_bad: read %u: 0x%02x from freed memory\n", i, (u8)val);
}

static noinline void uvdebug_lock_inversion(void)
{
	mutex_lock(&uvdebug_lock_a);
	mutex_lock(&uvdebug_lock_b);
	mutex_unlock(&uvdebug_lock_b);
	mutex_unlock(&uvdebug_lock_a);

	mutex_lock(&uvdebug_lock_b);
	mutex_lock(&uvdebug_lock_a);
	mutex_unlock(&uvdebug_lock_a);
	mutex_unlock(&uvdebug_lock_b);
	pr_info("uvdebug_bad: took the mutexes in both orders\n");
}

/*
 * SLUB hands kmalloc objects out of per-CPU sheaves (arrays of pointers,
 * themselves kmalloc()ed and so scanned by kmemleak) without clearing the
 * slot, so a fresh allocation stays "referenced" until a later free of the
 * same size reuses that slot. Allocate and free a batch of the same size
 * afterwards to overwrite those slots; leak several objects in case a stale
 * copy survives elsewhere (a cached task stack).
 */
#define UVDEBUG_CHURN	64

static noinline void uvdebug_leak(void)
{
	void **churn;
	unsigned int i, n = 0;
	void *lost;

	for (i = 0; i < UVDEBUG_LEAKS; i++) {
		lost = kmalloc(256, GFP_KERNEL);
		OPTIMIZER_HIDE_VAR(lost);
		if (lost)
			n++;
	}
	churn = kcalloc(UVDEBUG_CHURN, sizeof(*churn), GFP_KERNEL);
	if (churn) {
		for (i = 0; i < UVDEBUG_CHURN; i++)
			churn[i] = kmalloc(256, GFP_KERNEL);
		for (i = 0; i < UVDEBUG_CHURN; i++)
			kfree(churn[i]);
		kfree(churn);
	}
	pr_info("uvdebug_bad: leaked %u 256-byte objects\n", n);
}

static int __init uvdebug_bad_init(void)
{
	unsigned int i;

	pr_info("uvdebug_bad: loading: uaf=%d inversion=%d leak=%d\n", uaf, inversion, leak);
	if (inversion)
		uvdebug_lock_inversion();
	for (i = 0; uaf && i < UVDEBUG_UAF_READS; i++)
		uvdebug_use_after_free(i);
	if (leak)
		uvdebug_leak();
	return 0;
}

static void __exit uvdebug_bad_exit(void)
{
	pr_info("uvdebug_bad: unloaded\n");
}

module_init(uvdebug_bad_init);
module_exit(uvdebug_bad_exit);
MODULE_DESCRIPTION("uvirtio debug lane: deliberate use-after-free and lock inversion");
MODULE_LICENSE("GPL");

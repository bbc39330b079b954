# SPDX-License-Identifier: GPL-2.0-only
#
# make            userspace (build/bin, build/lib), uvirtio.ko for every kernel
#                 lane whose headers are installed (build/kmod/<release>/),
#                 the C selftests (build/selftests/); for a debug kernel
#                 (KASAN) also the test-only selftests/debugmod module
#                 (build/debugmod/<release>/uvdebug_bad.ko), never part of
#                 uvirtio.ko
# make check      host unit tests, then the VM tests on every lane; the last
#                 line is "N passed, N failed, N skipped"
# make fuzz       the hostile-emulator fuzzer in one VM boot, for long runs:
#                 SEEDS=N (200) seeds from SEED_BASE=S (1) on KERNEL=LANE
#                 (6.12); FUZZ_ARGS="-x NAME" excludes a misbehaviour
#                 (selftests/fuzz_emu.c); exits non-zero naming the first
#                 failing seed and the command that reproduces it
# make bench      uvirtio-blk beside null_blk, VDUSE and loop (bench/blk.sh),
#                 uvirtio-net beside veth and a tap relay (bench/net.sh),
#                 each in one 6.12 VM boot; not part of make check
# make clean      remove build/
#
# KERNELS="6.12 debug"  lanes to build and test (default: every lane of
#                 selftests/vm/kernels.conf with headers installed; the
#                 debug lane's tree comes from selftests/vm/build-debug-kernel)
# KDIR=<tree>     build the module against this kernel tree only
# W=1, C=1        passed on to kbuild

BUILD		:= $(CURDIR)/build
LANES_CMD	:= $(CURDIR)/selftests/vm/lanes

ifneq ($(KDIR),)
KDIR_ABS	:= $(abspath $(KDIR))
RELEASES	:= $(shell cat $(KDIR_ABS)/include/config/kernel.release 2>/dev/null)
ifeq ($(RELEASES),)
$(error KDIR=$(KDIR): no include/config/kernel.release, is it a prepared kernel tree?)
endif
TREES		:= $(KDIR_ABS)
else
# "LANE RELEASE TREE" triples
LANE_RELEASES	:= $(shell $(LANES_CMD) --headers $(KERNELS))
LANES		:= $(foreach i,$(shell seq 1 3 $(words $(LANE_RELEASES))),$(word $(i),$(LANE_RELEASES)))
RELEASES	:= $(foreach i,$(shell seq 2 3 $(words $(LANE_RELEASES))),$(word $(i),$(LANE_RELEASES)))
TREES		:= $(foreach i,$(shell seq 3 3 $(words $(LANE_RELEASES))),$(word $(i),$(LANE_RELEASES)))
endif

# Test lanes: the ones asked for, else every lane we can build for.
CHECK_LANES	:= $(if $(KERNELS),$(KERNELS),$(LANES))

all: userspace modules selftests

userspace:
	@test -f userspace/Makefile || { echo "userspace/Makefile is missing" >&2; exit 1; }
	$(MAKE) -C userspace O=$(BUILD)

# One kbuild tree per kernel release: kbuild writes objects next to the
# sources, so each release builds from its own copy (cp -a keeps mtimes, so
# rebuilds stay incremental). A kernel with KASAN (the debug lane) also gets
# the deliberately broken selftests/debugmod module, built on its own.
modules:
	@test -n "$(RELEASES)" || { echo "no kernel headers for lanes '$(KERNELS)' (run: sudo selftests/vm/setup)" >&2; exit 1; }
	@test -f Kbuild || { echo "Kbuild is missing" >&2; exit 1; }
	@set -e; set -- $(TREES); for rel in $(RELEASES); do \
		dir=$(BUILD)/kmod/$$rel; \
		kdir=$$1; shift; \
		echo "  MODULE  $$rel ($$kdir)"; \
		mkdir -p $$dir; \
		cp -a Kbuild kmod uapi $$dir/; \
		$(MAKE) -C $$kdir M=$$dir modules; \
		ko=$$(sed -n 's/\.o$$/.ko/; /uvirtio\.ko$$/p' $$dir/modules.order); \
		case "$$ko" in /*) ;; ?*) ko=$$dir/$$ko ;; esac; \
		[ -z "$$ko" ] || [ "$$ko" = $$dir/uvirtio.ko ] || cp -p $$ko $$dir/uvirtio.ko; \
		if grep -qx CONFIG_KASAN=y $$kdir/.config 2>/dev/null; then \
			dbg=$(BUILD)/debugmod/$$rel; \
			echo "  MODULE  $$rel debugmod (test-only)"; \
			mkdir -p $$dbg; \
			cp -a selftests/debugmod/Kbuild selftests/debugmod/*.c $$dbg/; \
			$(MAKE) -C $$kdir M=$$dbg modules; \
		fi; \
	done

selftests: userspace
	$(MAKE) -C selftests OUTPUT=$(BUILD)/selftests LIBUVIRTIO=$(BUILD)/lib/libuvirtio.a

check: all
	@$(CURDIR)/selftests/vm/check $(addprefix --kernel ,$(CHECK_LANES))

SEEDS		?= 200
SEED_BASE	?= 1
KERNEL		?= 6.12
fuzz:
	$(MAKE) KERNELS=$(KERNEL) all
	@$(CURDIR)/selftests/fuzz_run.sh $(SEEDS) $(SEED_BASE) $(KERNEL) $(FUZZ_ARGS)

# One boot of the 6.12 lane runs bench/blk.sh (about 17 minutes under TCG):
# null_blk, uvirtio-blk null: (1 queue, 1 queue polling long, 2 queues),
# VDUSE, uvirtio-blk on a tmpfs file and loop on the same file, side by side. BENCH_ARGS passes
# BENCH_NAME=VALUE settings to it (see bench/blk.sh). A second boot runs
# bench/net.sh (iperf3 over veth, two uvirtio-net devices, a tap relay).
# BENCH=blk or BENCH=net runs one of them. Not part of check.
# The bench boots mark the guest's TSC reliable: otherwise the clocksource
# watchdog soon switches a TCG guest to the HPET, and then every
# clock_gettime() is a system call plus an emulated MMIO read (measured:
# 12-17% of fio's CPU time on null_blk, and more in a polling emulator).
BENCH_TIMEOUT ?= 1800
BENCH ?= blk net
bench: all
	@rc=0; for b in $(BENCH); do \
		case $$b in \
		blk) UV_KERNEL_ARGS="tsc=reliable $$UV_KERNEL_ARGS" \
			$(CURDIR)/selftests/vm/run --kernel 6.12 --timeout $(BENCH_TIMEOUT) -- \
			$(CURDIR)/bench/blk.sh $(BENCH_ARGS) || rc=1 ;; \
		net) UV_KERNEL_ARGS="tsc=reliable $$UV_KERNEL_ARGS" \
			$(CURDIR)/selftests/vm/run --kernel 6.12 --timeout $(BENCH_TIMEOUT) -- \
			$(CURDIR)/bench/net.sh $(BENCH_ARGS) || rc=1 ;; \
		*) echo "make bench: unknown BENCH '$$b' (blk, net)" >&2; rc=2 ;; \
		esac; \
	done; exit $$rc

clean:
	-@test ! -f userspace/Makefile || $(MAKE) -s -C userspace O=$(BUILD) clean
	rm -rf $(BUILD)

.PHONY: all userspace modules selftests check fuzz bench clean

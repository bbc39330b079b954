# SPDX-License-Identifier: GPL-2.0-only
#
# make            userspace (build/bin, build/lib), the C selftests
#                 (build/selftests/) and uvirtio.ko for the running kernel
#                 (/lib/modules/$(uname -r)/build) into build/kmod/<release>/
# make install    the module into /lib/modules/<release>/updates/ (depmod),
#                 the udev rule, the uvirtio group (systemd-sysusers), the
#                 emulators and the list tool, libuvirtio (shared, static,
#                 headers, uvirtio.pc), man pages, systemd units; DESTDIR=
#                 stages it all (no depmod, no group), PREFIX= (/usr/local)
#                 places everything but the module, udev, sysusers and units
# make uninstall  the reverse
# make dkms-install  copy the module source to /usr/src/uvirtio-<version>
#                 and dkms add, build and install it for the running kernel
# make selftests-install  the selftests, standalone (make run_tests) and
#                 as a kselftest target, into $(PREFIX)/lib/uvirtio/selftests
# make setup      the harness's packages and kernels (selftests/vm/setup,
#                 through sudo unless run as root)
# make check      host unit and packaging checks, then the VM tests on every
#                 lane; the last line is "N passed, N failed, N skipped"
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
# KDIR=<tree>     build the module against this kernel tree only
# KERNELS="6.12 debug"  build for these lanes of the VM harness instead
#                 (make check, bench: every lane of selftests/vm/kernels.conf
#                 with headers installed; the debug lane's tree comes from
#                 selftests/vm/build-debug-kernel); for a harness lane also
#                 the test-only selftests/debugmod module of a KASAN kernel
#                 (build/debugmod/<release>/uvdebug_bad.ko, never installed)
# W=1, C=1        passed on to kbuild

BUILD		:= $(CURDIR)/build
LANES_CMD	:= $(CURDIR)/selftests/vm/lanes

RUNNING		:= $(shell uname -r)
# "make" alone builds for the running kernel; the harness's goals and
# KERNELS= build for its lanes
ifeq ($(KDIR)$(KERNELS)$(filter check bench,$(MAKECMDGOALS)),)
ifneq ($(wildcard /lib/modules/$(RUNNING)/build/include/config/kernel.release),)
KDIR		:= /lib/modules/$(RUNNING)/build
else
NO_HEADERS	:= no headers for the running kernel $(RUNNING): install linux-headers-$(RUNNING) (Debian, Ubuntu) or kernel-devel-$(RUNNING) (Fedora), or choose a tree with KDIR= or harness lanes with KERNELS=
endif
endif

ifneq ($(KDIR),)
KDIR_ABS	:= $(abspath $(KDIR))
# the release the module's vermagic carries and modprobe looks under (a
# Debian 6.1 tree's include/config/kernel.release says 6.1.N instead)
RELEASES	:= $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"$$/\1/p' \
		     $(KDIR_ABS)/include/generated/utsrelease.h 2>/dev/null)
ifeq ($(RELEASES),)
RELEASES	:= $(shell cat $(KDIR_ABS)/include/config/kernel.release 2>/dev/null)
endif
ifeq ($(RELEASES),)
$(error KDIR=$(KDIR): no include/config/kernel.release, is it a prepared kernel tree?)
endif
TREES		:= $(KDIR_ABS)
else ifeq ($(NO_HEADERS),)
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
	@test -z "$(NO_HEADERS)" || { echo "uvirtio: $(NO_HEADERS)" >&2; exit 1; }
	@test -n "$(RELEASES)" || { echo "uvirtio: no kernel headers for lanes '$(KERNELS)' (run: make setup)" >&2; exit 1; }
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

# The harness's packages and kernels (selftests/vm/setup needs root: as
# another user it runs through sudo). KERNELS= limits the lanes.
setup:
	@if [ "$$(id -u)" = 0 ]; then \
		$(CURDIR)/selftests/vm/setup $(addprefix --kernel ,$(KERNELS)); \
	else \
		sudo $(CURDIR)/selftests/vm/setup $(addprefix --kernel ,$(KERNELS)); \
	fi

# The main job in a VM: boot the 6.12 lane, where uid 1000 serves an ext4
# disk from a file (selftests/demo.sh explains each step as it goes).
DEMO_KERNEL	?= 6.12
demo:
	$(MAKE) KERNELS=$(DEMO_KERNEL) all
	@$(CURDIR)/selftests/vm/run --kernel $(DEMO_KERNEL) -- $(CURDIR)/selftests/demo.sh

check: all
	@$(CURDIR)/selftests/vm/check $(addprefix --kernel ,$(CHECK_LANES))

# The README's first screen, run literally in a Debian machine booted
# with a Debian lane's kernel (see docs/testing.md). Not part of check.
README_LANES	?= 6.12
readme-check:
	@$(CURDIR)/selftests/vm/readme-check $(addprefix --kernel ,$(README_LANES))

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
# A third boot runs bench/vhost.sh (uvirtio-vhost-user beside VDUSE on one
# qemu-storage-daemon null-co node, and beside qemu-nbd + nbd.ko on one
# qcow2 image; about 6 minutes).
# BENCH=blk, BENCH=net or BENCH=vhost runs one of them. BENCH=lockwait (not
# in the default set) runs bench/lockwait.sh: which threads wait for spin
# locks, where and how long, under 4k QD32 reads (about 1 minute). Not part
# of check.
# The bench boots mark the guest's TSC reliable: otherwise the clocksource
# watchdog soon switches a TCG guest to the HPET, and then every
# clock_gettime() is a system call plus an emulated MMIO read (measured:
# 12-17% of fio's CPU time on null_blk, and more in a polling emulator).
BENCH_TIMEOUT ?= 1800
BENCH ?= blk net vhost
bench: all
	@rc=0; for b in $(BENCH); do \
		case $$b in \
		blk) UV_KERNEL_ARGS="tsc=reliable $$UV_KERNEL_ARGS" \
			$(CURDIR)/selftests/vm/run --kernel 6.12 --timeout $(BENCH_TIMEOUT) -- \
			$(CURDIR)/bench/blk.sh $(BENCH_ARGS) || rc=1 ;; \
		net) UV_KERNEL_ARGS="tsc=reliable $$UV_KERNEL_ARGS" \
			$(CURDIR)/selftests/vm/run --kernel 6.12 --timeout $(BENCH_TIMEOUT) -- \
			$(CURDIR)/bench/net.sh $(BENCH_ARGS) || rc=1 ;; \
		vhost) UV_KERNEL_ARGS="tsc=reliable $$UV_KERNEL_ARGS" UV_EXTRA_MODULES="?nbd" \
			$(CURDIR)/selftests/vm/run --kernel 6.12 --timeout $(BENCH_TIMEOUT) -- \
			$(CURDIR)/bench/vhost.sh $(BENCH_ARGS) || rc=1 ;; \
		lockwait) UV_KERNEL_ARGS="tsc=reliable $$UV_KERNEL_ARGS" \
			$(CURDIR)/selftests/vm/run --kernel 6.12 --timeout $(BENCH_TIMEOUT) -- \
			$(CURDIR)/bench/lockwait.sh $(BENCH_ARGS) || rc=1 ;; \
		*) echo "make bench: unknown BENCH '$$b' (blk, net, vhost, lockwait)" >&2; rc=2 ;; \
		esac; \
	done; exit $$rc

# ----------------------------------------------------------- install ----
PREFIX		?= /usr/local
BINDIR		?= $(PREFIX)/bin
MANDIR		?= $(PREFIX)/share/man
# Paths the system's managers read, whatever PREFIX is
MODDIR		?= /lib/modules
UDEVRULESDIR	?= /usr/lib/udev/rules.d
SYSUSERSDIR	?= /usr/lib/sysusers.d
UNITDIR		?= /usr/lib/systemd/system
SELFTESTSDIR	?= $(PREFIX)/lib/uvirtio/selftests
INSTALL		?= install
VERSION		:= $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' $(CURDIR)/dkms.conf)
MAN_PAGES	:= $(wildcard $(CURDIR)/man/*.[0-9])
UNITS		:= uvirtio-blk@.service uvirtio-net@.service

install: all
	@set -e; for rel in $(RELEASES); do \
		echo "  INSTALL $(DESTDIR)$(MODDIR)/$$rel/updates/uvirtio.ko"; \
		$(INSTALL) -D -m 0644 $(BUILD)/kmod/$$rel/uvirtio.ko \
			$(DESTDIR)$(MODDIR)/$$rel/updates/uvirtio.ko; \
		if [ -z "$(DESTDIR)" ]; then depmod -a $$rel; fi; \
	done
	$(MAKE) -C userspace O=$(BUILD) PREFIX=$(PREFIX) BINDIR=$(BINDIR) install
	$(INSTALL) -D -m 0644 kmod/60-uvirtio.rules $(DESTDIR)$(UDEVRULESDIR)/60-uvirtio.rules
	$(INSTALL) -D -m 0644 packaging/uvirtio.sysusers $(DESTDIR)$(SYSUSERSDIR)/uvirtio.conf
	$(INSTALL) -d $(DESTDIR)$(UNITDIR)
	@for u in $(UNITS); do \
		sed 's|@BINDIR@|$(BINDIR)|g' packaging/$$u.in > $(DESTDIR)$(UNITDIR)/$$u; \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u; \
	done
	@for m in $(MAN_PAGES); do \
		s=$${m##*.}; \
		$(INSTALL) -D -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/$$(basename $$m); \
	done
	@if [ -z "$(DESTDIR)" ]; then \
		if command -v systemd-sysusers > /dev/null; then \
			systemd-sysusers $(SYSUSERSDIR)/uvirtio.conf; \
		elif ! getent group uvirtio > /dev/null; then \
			groupadd --system uvirtio; \
		fi; \
		ldconfig 2>/dev/null || true; \
		udevadm control --reload-rules 2>/dev/null || true; \
		echo "uvirtio: installed; add users to the uvirtio group (usermod -aG uvirtio USER), then: modprobe uvirtio"; \
	fi

uninstall:
	@set -e; for rel in $(RELEASES); do \
		rm -f $(DESTDIR)$(MODDIR)/$$rel/updates/uvirtio.ko; \
		if [ -z "$(DESTDIR)" ]; then depmod -a $$rel; fi; \
	done
	$(MAKE) -C userspace O=$(BUILD) PREFIX=$(PREFIX) BINDIR=$(BINDIR) uninstall
	rm -f $(DESTDIR)$(UDEVRULESDIR)/60-uvirtio.rules $(DESTDIR)$(SYSUSERSDIR)/uvirtio.conf \
		$(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS)) \
		$(foreach m,$(MAN_PAGES),$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m)))
	rm -rf $(DESTDIR)$(SELFTESTSDIR)
	@if [ -z "$(DESTDIR)" ]; then ldconfig 2>/dev/null || true; fi

# The selftests as installed: the scripts and programs, the standalone
# Makefile (make run_tests) and the runner
selftests-install: selftests
	$(MAKE) -C selftests OUTPUT=$(BUILD)/selftests LIBUVIRTIO=$(BUILD)/lib/libuvirtio.a \
		INSTALL_PATH=$(DESTDIR)$(SELFTESTSDIR) install

# DKMS: the module's sources under /usr/src/uvirtio-VERSION, rebuilt by
# dkms for every kernel installed later
DKMS_SRC	= /usr/src/uvirtio-$(VERSION)
dkms-src:
	@test -n "$(VERSION)" || { echo "uvirtio: no PACKAGE_VERSION in dkms.conf" >&2; exit 1; }
	rm -rf $(DESTDIR)$(DKMS_SRC)
	$(INSTALL) -d $(DESTDIR)$(DKMS_SRC)
	cp -a Kbuild kmod uapi dkms.conf $(DESTDIR)$(DKMS_SRC)/

dkms-install: dkms-src
	dkms add uvirtio/$(VERSION)
	dkms build uvirtio/$(VERSION)
	dkms install uvirtio/$(VERSION)

dkms-uninstall:
	-dkms remove uvirtio/$(VERSION) --all
	rm -rf $(DKMS_SRC)

clean:
	-@test ! -f userspace/Makefile || $(MAKE) -s -C userspace O=$(BUILD) clean
	rm -rf $(BUILD)

.PHONY: demo all userspace modules selftests setup check readme-check fuzz bench clean install uninstall \
	selftests-install dkms-src dkms-install dkms-uninstall

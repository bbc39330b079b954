# SPDX-License-Identifier: GPL-2.0-only
#
# make            userspace (build/bin, build/lib), uvirtio.ko for every kernel
#                 lane whose headers are installed (build/kmod/<release>/),
#                 the C selftests (build/selftests/)
# make check      host unit tests, then the VM tests on every lane; the last
#                 line is "N passed, N failed, N skipped"
# make bench      benchmarks
# make clean      remove build/
#
# KERNELS="6.12"  lanes to build and test (default: every lane of
#                 selftests/vm/kernels.conf with headers installed)
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
else
LANE_RELEASES	:= $(shell $(LANES_CMD) --headers $(KERNELS))
LANES		:= $(foreach i,$(shell seq 1 2 $(words $(LANE_RELEASES))),$(word $(i),$(LANE_RELEASES)))
RELEASES	:= $(foreach i,$(shell seq 2 2 $(words $(LANE_RELEASES))),$(word $(i),$(LANE_RELEASES)))
endif

# Test lanes: the ones asked for, else every lane we can build for.
CHECK_LANES	:= $(if $(KERNELS),$(KERNELS),$(LANES))

all: userspace modules selftests

userspace:
	@test -f userspace/Makefile || { echo "userspace/Makefile is missing" >&2; exit 1; }
	$(MAKE) -C userspace O=$(BUILD)

# One kbuild tree per kernel release: kbuild writes objects next to the
# sources, so each release builds from its own copy (cp -a keeps mtimes, so
# rebuilds stay incremental).
modules:
	@test -n "$(RELEASES)" || { echo "no kernel headers for lanes '$(KERNELS)' (run: sudo selftests/vm/setup)" >&2; exit 1; }
	@test -f Kbuild || { echo "Kbuild is missing" >&2; exit 1; }
	@set -e; for rel in $(RELEASES); do \
		dir=$(BUILD)/kmod/$$rel; \
		kdir=$(if $(KDIR_ABS),$(KDIR_ABS),/usr/src/linux-headers-$$rel); \
		echo "  MODULE  $$rel ($$kdir)"; \
		mkdir -p $$dir; \
		cp -a Kbuild kmod uapi $$dir/; \
		$(MAKE) -C $$kdir M=$$dir modules; \
		ko=$$(sed -n 's/\.o$$/.ko/; /uvirtio\.ko$$/p' $$dir/modules.order); \
		case "$$ko" in /*) ;; ?*) ko=$$dir/$$ko ;; esac; \
		[ -z "$$ko" ] || [ "$$ko" = $$dir/uvirtio.ko ] || cp -p $$ko $$dir/uvirtio.ko; \
	done

selftests: userspace
	$(MAKE) -C selftests OUTPUT=$(BUILD)/selftests LIBUVIRTIO=$(BUILD)/lib/libuvirtio.a

check: all
	@$(CURDIR)/selftests/vm/check $(addprefix --kernel ,$(CHECK_LANES))

bench:
	@echo "no benchmarks yet (issue 3)"

clean:
	-@test ! -f userspace/Makefile || $(MAKE) -s -C userspace O=$(BUILD) clean
	rm -rf $(BUILD)

.PHONY: all userspace modules selftests check bench clean

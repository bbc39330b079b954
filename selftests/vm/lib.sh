# SPDX-License-Identifier: GPL-2.0-only
# Shared helpers of the VM harness scripts. Sourced, not run.

UV_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Downloads and built kernels live outside the repo so reruns are fast.
# Under sudo the cache is the invoking user's, so that `sudo setup` prepares
# what a later unprivileged `make check` uses.
if [ "$(id -u)" = 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
	UV_CACHE_OWNER=$SUDO_USER
	UV_CACHE=${UVIRTIO_CACHE:-$(getent passwd "$SUDO_USER" | cut -d: -f6)/.cache/uvirtio}
else
	UV_CACHE_OWNER=
	UV_CACHE=${UVIRTIO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/uvirtio}
fi

# lane_list - print the lanes of kernels.conf, comments stripped
lane_list() {
	sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$UV_TOP/selftests/vm/kernels.conf"
}

# lane_release LANE PATTERN - newest kernel release of a lane known to apt
lane_release() {
	apt-cache search --names-only "$2" 2>/dev/null | awk '{ print $1 }' |
		sed 's/^linux-headers-//' | sort -V | tail -n 1
}

# lane_field LANE FIELD - one column (2..4) of a lane's kernels.conf line
lane_field() {
	lane_list | awk -v l="$1" -v f="$2" '$1 == l { print $f }'
}

# lane_option LANE KEY [DEFAULT] - value of a KEY=VALUE option (columns 5
# and later of the lane's kernels.conf line), else DEFAULT
lane_option() {
	local v
	v=$(lane_list | awk -v l="$1" -v k="$2" '$1 == l {
		for (i = 5; i <= NF; i++)
			if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit }
	}')
	printf '%s\n' "${v:-${3:-}}"
}

# lane_is_source LANE - true if the lane's kernel is built from source by a
# script (column 2 "source", column 3 the script under selftests/vm/)
lane_is_source() {
	[ "$(lane_field "$1" 2)" = source ]
}

# lane_source_prepare LANE... - ask the script of each source lane among
# LANEs for its kernel directory (--print-path: the script decides which
# build is current and builds it first if needed, progress on stderr), and
# remember the answer in this shell. Call it outside $(...) so that later
# lookups, which run in subshells, do not ask again (2-3 s each).
declare -A UV_SOURCE_KDIR=()
lane_source_prepare() {
	local lane script kdir
	for lane in "$@"; do
		lane_is_source "$lane" || continue
		[ -z "${UV_SOURCE_KDIR[$lane]+x}" ] || continue
		script=$UV_TOP/selftests/vm/$(lane_field "$lane" 3)
		if kdir=$(UVIRTIO_CACHE=$UV_CACHE "$script" --print-path) &&
			[ -f "$kdir/.complete" ]; then
			UV_SOURCE_KDIR[$lane]=$kdir
		else
			echo "lane $lane: ${script#"$UV_TOP"/} --print-path failed${kdir:+ (printed '$kdir')}" >&2
			UV_SOURCE_KDIR[$lane]=
		fi
	done
}

# lane_source_kdir LANE - kernel directory of a source lane (empty if its
# script failed)
lane_source_kdir() {
	lane_source_prepare "$1"
	printf '%s\n' "${UV_SOURCE_KDIR[$1]}"
}

# lane_kernel_info RELEASE - one line saying what a lane boots: the
# release and, for a source-built kernel, the package and version it was
# built from (its info file)
lane_kernel_info() {
	local info=$UV_CACHE/kernels/$1/info
	if [ -f "$info" ]; then
		awk -F= -v r="$1" '{ v[$1] = $2 }
			END { printf "%s (built from %s %s with %s)\n", r, v["package"], v["version"], v["compiler"] }' "$info"
	else
		echo "$1"
	fi
}

# lane_has_debug_checks RELEASE - true if the cached kernel of RELEASE has
# KASAN and lockdep (only source-built kernels keep their config here)
lane_has_debug_checks() {
	local cfg=$UV_CACHE/kernels/$1/config
	[ -f "$cfg" ] && grep -qx 'CONFIG_KASAN=y' "$cfg" && grep -qx 'CONFIG_PROVE_LOCKING=y' "$cfg"
}

# lane_pattern LANE - the headers package pattern of a lane, empty if unknown
lane_pattern() {
	lane_field "$1" 2
}

# lane_headers_release LANE - newest release of LANE whose headers are
# installed under /usr/src (what the module is built against); for a source
# lane, its built kernel tree
lane_headers_release() {
	local pat d
	if lane_is_source "$1"; then
		d=$(lane_source_kdir "$1")
		[ -z "$d" ] || [ ! -f "$d/build/include/config/kernel.release" ] || basename "$d"
		return 0
	fi
	pat=$(lane_pattern "$1")
	[ -n "$pat" ] || return 0
	for d in /usr/src/linux-headers-*; do
		[ -f "$d/Makefile" ] || continue
		basename "$d"
	done | grep -E -- "$pat" | sed 's/^linux-headers-//' | sort -V | tail -n 1
}

# lane_image_release LANE - newest release of LANE whose kernel image is in
# the cache (what the VM boots); for a source lane, its built kernel
lane_image_release() {
	local pat d
	if lane_is_source "$1"; then
		d=$(lane_source_kdir "$1")
		[ -z "$d" ] || [ ! -f "$d/vmlinuz" ] || basename "$d"
		return 0
	fi
	pat=$(lane_pattern "$1")
	[ -n "$pat" ] || return 0
	for d in "$UV_CACHE"/kernels/*/vmlinuz; do
		[ -f "$d" ] || continue
		d=${d%/vmlinuz}
		echo "linux-headers-${d##*/}"
	done | grep -E -- "$pat" | sed 's/^linux-headers-//' | sort -V | tail -n 1
}

# lane_tree LANE RELEASE - the kernel tree out-of-tree modules of RELEASE
# build against
lane_tree() {
	if lane_is_source "$1"; then
		echo "$UV_CACHE/kernels/$2/build"
	else
		echo "/usr/src/linux-headers-$2"
	fi
}

# lane_names - the lane names of kernels.conf, in file order
lane_names() {
	lane_list | awk '{ print $1 }'
}

# host_kvm_problem - why the VMs cannot use KVM here, empty if they can:
# hardware virtualization (vmx or svm), its KVM module (kvm_intel or
# kvm_amd, loaded or built in) and a usable /dev/kvm. A /dev/kvm of another
# kind (kvm_pvm: paravirtual, cannot boot a stock kernel) does not count.
# UV_HOST_ROOT (default empty: this machine) prefixes the paths read, for
# install-check's test of the choice on made-up hosts.
host_kvm_problem() {
	local flag mod r=${UV_HOST_ROOT:-}
	if grep -qw vmx "$r/proc/cpuinfo"; then
		flag=vmx mod=kvm_intel
	elif grep -qw svm "$r/proc/cpuinfo"; then
		flag=svm mod=kvm_amd
	else
		echo "no vmx or svm in /proc/cpuinfo"
		return 0
	fi
	if [ ! -d "$r/sys/module/$mod" ]; then
		echo "$flag, but $mod is not loaded"
	elif [ ! -r "$r/dev/kvm" ] || [ ! -w "$r/dev/kvm" ]; then
		echo "/dev/kvm is not usable by $(id -un)"
	fi
}

# A host checker's TAP (install-check, readme-check): tap_n counts the
# results, tap_failed is 1 once one failed.
tap_n=0
tap_failed=0
# result RC NAME [SKIP-REASON] - one TAP line
result() {
	tap_n=$((tap_n + 1))
	if [ -n "${3:-}" ]; then
		echo "ok $tap_n $2 # SKIP $3"
	elif [ "$1" = 0 ]; then
		echo "ok $tap_n $2"
	else
		echo "not ok $tap_n $2"
		tap_failed=1
	fi
}

# tap_guest_steps LOG - the steps a guest script reported (guest-steps.sh)
# as results of this checker, its other lines as comments
tap_guest_steps() {
	local line r
	while IFS= read -r line; do
		case "$line" in
		"ok - "*) result 0 "${line#ok - }" ;;
		"not ok - "*) r=${line#not ok - }; result 1 "${r% # *}"; echo "#   ${r##* # }" ;;
		*) echo "# $line" ;;
		esac
	done < <(tr -d '\r' < "$1")
}

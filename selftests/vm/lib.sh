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

# lane_pattern LANE - the headers package pattern of a lane, empty if unknown
lane_pattern() {
	lane_field "$1" 2
}

# lane_headers_release LANE - newest release of LANE whose headers are
# installed under /usr/src (what the module is built against)
lane_headers_release() {
	local pat d
	pat=$(lane_pattern "$1")
	[ -n "$pat" ] || return 0
	for d in /usr/src/linux-headers-*; do
		[ -f "$d/Makefile" ] || continue
		basename "$d"
	done | grep -E -- "$pat" | sed 's/^linux-headers-//' | sort -V | tail -n 1
}

# lane_image_release LANE - newest release of LANE whose kernel image is in
# the cache (what the VM boots)
lane_image_release() {
	local pat d
	pat=$(lane_pattern "$1")
	[ -n "$pat" ] || return 0
	for d in "$UV_CACHE"/kernels/*/vmlinuz; do
		[ -f "$d" ] || continue
		d=${d%/vmlinuz}
		echo "linux-headers-${d##*/}"
	done | grep -E -- "$pat" | sed 's/^linux-headers-//' | sort -V | tail -n 1
}

# lane_names - the lane names of kernels.conf, in file order
lane_names() {
	lane_list | awk '{ print $1 }'
}

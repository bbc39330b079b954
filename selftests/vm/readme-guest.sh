#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# readme-guest.sh REPO - the README's first screen, run literally, in a VM
# guest (see readme-check). The guest kernel is a Debian lane's; its root
# is made from the host's Debian 12 root file system, shared read-only
# through virtio-9p (mount tag "hostroot") with a tmpfs overlay on top, so
# the guest is a Debian machine with that kernel running: its headers,
# compiler and libraries are the host's packages, /lib/modules/$(uname -r)
# holds the lane's packaged modules, and udev runs. In that root, as root:
#   - git clone REPO, as a user clones the project;
#   - the "Install on your own machine" block of the clone's README, line
#     by line as written (root shell variant), for a user named alice;
#   - as alice, with the new group, the "Serve a disk as a normal user"
#     block: each "$ " command as written (the background emulator is
#     waited for until it prints its node, as a user waits to see it),
#     its output checked against the README's example where it matters.
# Prints "ok - " / "not ok - " lines for readme-check; exit 1 if any failed.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
repo=$1
rel=$(uname -r)
new=/mnt/root

. /selftests/vm/guest-steps.sh
bail() {
	echo "# the remaining steps depend on this one"
	exit 1
}
# inroot - run a command in the new root, as root, with a login environment
# (SYSTEMD_IGNORE_CHROOT: udevadm would ignore requests in a chroot; this
# root is the machine's as far as anything in it is concerned)
inroot() {
	chroot "$new" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 SYSTEMD_IGNORE_CHROOT=1 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

# A Debian machine running this kernel: the host's root, writable through
# an overlay, its own /proc, /sys, /dev, /run and /tmp, the lane's
# packaged modules where linux-image would put them, and udev
make_root() {
	mkdir -p /mnt/host /mnt/ovl "$new" || return 1
	mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose hostroot /mnt/host || return 1
	mount -t tmpfs -o size=1G tmpfs /mnt/ovl || return 1
	mkdir -p /mnt/ovl/upper /mnt/ovl/work
	mount -t overlay overlay \
		-o lowerdir=/mnt/host,upperdir=/mnt/ovl/upper,workdir=/mnt/ovl/work "$new" || return 1
	mount -t proc proc "$new/proc" && mount -t sysfs sysfs "$new/sys" &&
		mount -t devtmpfs devtmpfs "$new/dev" &&
		mkdir -p "$new/dev/pts" && mount -t devpts devpts "$new/dev/pts" &&
		mount -t tmpfs tmpfs "$new/run" && mount -t tmpfs tmpfs "$new/tmp" || return 1
	local mods=$new/root/.cache/uvirtio/kernels/$rel/modules
	[ -d "$mods/kernel" ] || { echo "no packaged modules of $rel under the host's cache"; return 1; }
	mkdir -p "$new/lib/modules/$rel"
	cp -a "$mods"/modules.order "$mods"/modules.builtin* "$new/lib/modules/$rel/" &&
		rm -rf "$new/lib/modules/$rel/kernel" && ln -s "/root/.cache/uvirtio/kernels/$rel/modules/kernel" \
		"$new/lib/modules/$rel/kernel" || return 1
	inroot test -e "/lib/modules/$rel/build/Makefile" ||
		echo "note: /lib/modules/$rel/build is not there: the README's apt-get line must bring it"
	inroot depmod -a "$rel" || return 1
	# the host's root as a fresh machine has it: no uvirtio installed yet
	inroot sh -c "rm -f /usr/local/bin/uvirtio* /usr/local/lib/libuvirtio* /usr/lib/udev/rules.d/*uvirtio* /etc/udev/rules.d/*uvirtio* /lib/modules/$rel/updates/uvirtio.ko*"
	! inroot getent group uvirtio > /dev/null || inroot groupdel uvirtio
	inroot /lib/systemd/systemd-udevd --daemon || return 1
	inroot udevadm trigger --action=add && inroot udevadm settle -t 60
	inroot useradd -m -s /bin/bash alice || return 1
	echo "root: the host's root through 9p and an overlay; kernel $rel; udev running; user alice"
}

# block FILE HEADING FENCE - the first fenced FENCE block after HEADING
block() {
	awk -v h="$2" -v f='```'"$3" '
		$0 == h { under = 1; next }
		under && !inside && $0 == f { inside = 1; next }
		inside && $0 == "```" { exit }
		inside { print }' "$1"
}

clone() {
	# (a file:// URL: git's network protocol, as from a server, not
	# hard links into the read-only host tree)
	inroot git clone -q "file://$repo" /root/uvirtio && inroot git -C /root/uvirtio log --oneline -1
}

# The install block, each line run by a root bash in the clone, as written
install_block() {
	local line
	block "$new/root/uvirtio/README.md" "## Install on your own machine" sh > /tmp/install.lines
	[ -s /tmp/install.lines ] || { echo "the README has no install block"; return 1; }
	while IFS= read -r line; do
		[ -n "${line%%#*}" ] || continue
		echo "root# $line"
		inroot bash -c "cd /root/uvirtio && $line" < /dev/null 2>&1 | tail -n 15 ||
			{ echo "that line failed"; return 1; }
	done < /tmp/install.lines
}

installed() {
	local mode
	[ -c "$new/dev/uvirtio" ] || { echo "no /dev/uvirtio after modprobe"; return 1; }
	inroot udevadm settle -t 30
	mode=$(inroot stat -c '%a %G' /dev/uvirtio)
	echo "/dev/uvirtio: $mode; $(inroot id alice)"
	[ "$mode" = "660 uvirtio" ] || { echo "udev did not apply the installed rule"; return 1; }
	inroot id -nG alice | grep -qw uvirtio || { echo "alice is not in group uvirtio"; return 1; }
	inroot modinfo -F filename uvirtio
}

# The serve block as alice, in a login shell (the new group): each "$ "
# line as written; a background command's output goes to a file, and the
# next line waits until it names its node
serve_block() {
	local cmds=/tmp/serve.sh line
	block "$new/root/uvirtio/README.md" "## Serve a disk as a normal user" console |
		sed -n 's/^\$ //p' > /tmp/serve.lines
	[ -s /tmp/serve.lines ] || { echo "the README has no serve block"; return 1; }
	{
		echo 'set -e'
		while IFS= read -r line; do
			echo "echo '\$ ${line//\'/}'"
			case "${line%%#*}" in
			*'&'*)
				echo "${line%%&*} > /tmp/bg.out 2>&1 &"
				echo 'for i in $(seq 600); do grep -q "^/dev/" /tmp/bg.out && break; sleep 0.1; done; cat /tmp/bg.out'
				;;
			"kill %1"*)
				echo "$line"
				echo 'rc=0; wait %1 || rc=$?; echo "[the emulator exited $rc]"; cat /tmp/bg.out; exit $rc'
				;;
			*) echo "$line" ;;
			esac
		done < /tmp/serve.lines
	} > "$new$cmds"
	inroot su - alice -c "bash $cmds" < /dev/null > /tmp/serve.out 2>&1
	local rc=$?
	cat /tmp/serve.out
	[ $rc = 0 ] || { echo "exit status $rc"; return 1; }
	grep -q '^/dev/vd[a-z]*$' /tmp/serve.out || { echo "no node printed"; return 1; }
	grep -Eq '^uvirtio-[0-9]+ +blk +vd[a-z]+ +live +[0-9]+ ' /tmp/serve.out ||
		{ echo "uvirtio list shows no live blk device"; return 1; }
	[ "$(cat /sys/class/misc/uvirtio/devices)" = 0 ] || { echo "a device is left"; return 1; }
}

step "readme ($rel): a Debian machine running $rel from the host's packages" make_root || bail
step "readme ($rel): git clone" clone || bail
step "readme ($rel): the README's install block, as root, as written" install_block || bail
step "readme ($rel): /dev/uvirtio is the group uvirtio's (the installed udev rule), alice in it, the installed module loaded" installed
step "readme ($rel): the README's serve block, as alice, as written: a disk served, listed, removed by SIGTERM" serve_block
[ $fails = 0 ]

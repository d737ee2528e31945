#!/bin/sh
# Builds the guest's root directory from Debian's packages. Run by vm/lib/image.mjs inside a
# private mount namespace (unshare --mount --propagation private), so the /proc, /sys and
# /dev mounts the chroot needs vanish with it whatever happens.
#
# Environment: ROOT (the directory to fill), RELEASE (bookworm), MIRROR (the archive URI),
# SOURCES_LIST (the guest's sources.list text), PACKAGES and RECOMMENDED (space-separated),
# FILES (vm/image/files, copied over the root at the end).
set -eu

log() { printf '[vm-image] %s\n' "$*" >&2; }

log "debootstrap $RELEASE from $MIRROR"
debootstrap --variant=minbase --components=main "$RELEASE" "$ROOT" "$MIRROR" >"$ROOT.debootstrap.log" 2>&1 || {
  tail -30 "$ROOT.debootstrap.log" >&2
  exit 1
}

mount -t proc proc "$ROOT/proc"
mount -t sysfs sysfs "$ROOT/sys"
mount --bind /dev "$ROOT/dev"
mount -t devpts devpts "$ROOT/dev/pts" -o newinstance,ptmxmode=0666
mount -t tmpfs tmpfs "$ROOT/run"

printf '%s' "$SOURCES_LIST" >"$ROOT/etc/apt/sources.list"
# No service starts inside the chroot: the packages' daemons run only in the booted guest.
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 755 "$ROOT/usr/sbin/policy-rc.d"
# The guest boots straight from its virtio disk: the initramfs needs its drivers whatever
# hardware the build machine has.
mkdir -p "$ROOT/etc/initramfs-tools"
printf 'virtio_pci\nvirtio_blk\nvirtio_console\next4\n' >>"$ROOT/etc/initramfs-tools/modules"

in_root() { DEBIAN_FRONTEND=noninteractive LC_ALL=C chroot "$ROOT" "$@"; }
apt_quiet() {
  in_root apt-get -o Dpkg::Use-Pty=0 -o APT::Install-Suggests=0 "$@" >>"$ROOT.apt.log" 2>&1 || {
    tail -40 "$ROOT.apt.log" >&2
    exit 1
  }
}

log "apt-get update"
apt_quiet update
log "installing: $PACKAGES"
# shellcheck disable=SC2086 # word splitting is the point: one argument per package
apt_quiet install -y --no-install-recommends $PACKAGES
log "installing with recommends: $RECOMMENDED"
# shellcheck disable=SC2086
apt_quiet install -y $RECOMMENDED

log "configuring"
cp -a "$FILES/." "$ROOT/"
echo nsbox-vm >"$ROOT/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 nsbox-vm\n::1 localhost ip6-localhost ip6-loopback\n' >"$ROOT/etc/hosts"
printf '/dev/vda / ext4 rw,relatime 0 1\n' >"$ROOT/etc/fstab"
: >"$ROOT/etc/machine-id"
# Root logs in on the console without a password: the guest has no network to log in from.
in_root passwd -d root >/dev/null
in_root systemctl enable nsbox-vm.service >/dev/null 2>&1
# What a short-lived test guest does not need, and what would wait for a network it has not.
in_root systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
  systemd-networkd-wait-online.service podman-auto-update.timer podman-restart.service >/dev/null 2>&1 || true

rm -f "$ROOT/usr/sbin/policy-rc.d"
in_root apt-get clean
rm -rf "$ROOT/var/lib/apt/lists/"* "$ROOT/var/cache/apt/"*.bin "$ROOT/var/log/"*.log
log "root filesystem ready: $(du -shx "$ROOT" | cut -f1)"

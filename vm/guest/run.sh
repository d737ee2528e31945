#!/bin/sh
# Inside the guest, as root, from the image's nsbox-vm-entry: the tree is mounted at the host's
# path of it ($NSBOX_VM_REPO) and the host's Node is installed. Runs the kernel suites and
# ends with two lines the host reads: NSBOX-VM-REPORT <json> and NSBOX-VM-EXIT <status>.
set -u
cd "$NSBOX_VM_REPO" || exit 1

say() { printf '[vm-guest] %s\n' "$*"; }
finish() {
  echo "NSBOX-VM-EXIT $1"
  exit "$1"
}

say "kernel $(uname -r), PID 1 is $(cat /proc/1/comm), /sys/fs/cgroup is $(stat -fc %T /sys/fs/cgroup)"
say "controllers at the cgroup root: $(cat /sys/fs/cgroup/cgroup.subtree_control)"

# The swap disk gives memory.swap.max something to hold back.
swap=/dev/disk/by-id/virtio-nsbox-swap
if [ -e "$swap" ]; then
  mkswap "$swap" >/dev/null && swapon "$swap" || finish 2
  say "swap: $(swapon --show=NAME,SIZE --noheadings | tr -s ' ')"
fi

# tsx's compile cache from the host (vm/lib/disks.mjs), where tsx looks for it.
if mount -o remount,rw /opt/nsbox-node 2>/dev/null && [ -d /opt/nsbox-node/tsx-cache ]; then
  ln -sfn /opt/nsbox-node/tsx-cache "/tmp/tsx-$(id -u)"
fi

export HOME=/root
export NSBOX_REQUIRE_ROOT=1
# What the host built from Debian's mirrors and this guest, without a network, cannot
# (vm/lib/disks.mjs HOST_BUILT): the debian-12 template the boot suites share, and criu, which
# setup installs into /var/lib/nsbox/criu. Without the host's copy their suites skip, named
# (vm/expected-skips.json).
[ -d /opt/nsbox-node/templates/debian-12 ] && export NSBOX_TEST_TEMPLATE_CACHE=/opt/nsbox-node/templates
if [ -e /opt/nsbox-node/criu/nsbox-criu.json ] && [ ! -e /var/lib/nsbox/criu ]; then
  mkdir -p /var/lib/nsbox && ln -s /opt/nsbox-node/criu /var/lib/nsbox/criu
fi
[ -e /var/lib/nsbox/criu/nsbox-criu.json ] || export NSBOX_CRIU_UNAVAILABLE="the VM guest has no network to fetch criu, and the host had none to bring"
# Suites that can use a real virtio disk of the guest (io.max on a block device of its own).
export NSBOX_TEST_BLOCK_DEVICE=/dev/disk/by-id/virtio-nsbox-scratch
export NSBOX_VM_REPORT=/run/nsbox-vm-report.json
# Under TCG, how much longer mocha waits (vm/guest/slow-machine.cjs).
NSBOX_VM_SLOWDOWN=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^nsbox\.slowdown=//p')
export NSBOX_VM_SLOWDOWN="${NSBOX_VM_SLOWDOWN:-1}"

# The host's setup built everything (vm/run.mjs runs it first): here it only checks its
# stamps, offline (a step that would download fails at once instead of retrying for minutes)
# and without the TypeScript build (the suites run from source).
npm_config_offline=true node scripts/setup.mjs --no-build || finish 2

# The suites that touch the kernel (vm/guest/suites.txt), or only the spec files given to
# npm run test:vm (nsbox.specs=, base64, one a line); with npm test's options.
specs=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^nsbox\.specs=//p' | base64 -d | tr '\n' ' ')
if [ -z "$specs" ]; then
  suites=vm/guest/suites.txt
  if [ "$NSBOX_VM_SLOWDOWN" -gt 1 ]; then
    suites=vm/guest/suites-tcg.txt
    say "TCG: only the suites of $suites (the full lane, $(grep -vc '^#' vm/guest/suites.txt) globs, needs hardware KVM)"
  fi
  specs=$(grep -v '^#' "$suites" | tr '\n' ' ')
fi
set -f
# shellcheck disable=SC2086 # one argument per glob; -f leaves them for mocha to expand
npx mocha --config vm/guest/mocharc.json $specs
status=$?
set +f
if [ "$status" -ne 0 ]; then
  echo "[vm-guest] the journal's warnings and errors:"
  journalctl -b --no-pager -p warning | tail -100
fi
if [ -f "$NSBOX_VM_REPORT" ]; then
  echo "NSBOX-VM-REPORT $(cat "$NSBOX_VM_REPORT")"
fi
finish "$status"

/**
 * The `debian-12` built-in: `debootstrap --variant=minbase bookworm` from deb.debian.org with
 * what a small server needs to boot (systemd as its init, D-Bus, ifupdown and iproute2;
 * `debian-12-ssh` adds openssh-server), run once into the template cache. Units that cannot
 * run in a box are masked, each with its reason (as LXC's templates do), and listed in
 * /etc/nsbox/masked-units. debootstrap is installed on first use when we are root.
 */

import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isNsboxError, NsboxError } from '@nsbox/core';
import { removeTreeSync } from '@nsbox/native';
import { DebootstrapProgress } from './debootstrap-progress.js';
import { cancelledError, runCommand } from './run-command.js';
import type { ProgressSink } from './types.js';

export const DEBIAN_MIRROR = 'http://deb.debian.org/debian';
export const DEBIAN_SECURITY_MIRROR = 'http://deb.debian.org/debian-security';

export interface DebianBuildOptions {
  signal?: AbortSignal | undefined;
  onProgress?: ProgressSink | undefined;
  /** The Debian archive to bootstrap from; deb.debian.org unless a mirror is preferred. */
  mirror?: string;
  /** Install openssh-server (the `debian-12-ssh` built-in). */
  ssh?: boolean;
}

/** On top of minbase: systemd as /sbin/init, its bus, the network tools ifupdown brings up `lo` with. */
export const DEBIAN_BOOT_PACKAGES = ['systemd-sysv', 'dbus', 'ifupdown', 'iproute2', 'procps', 'less'];

/**
 * Units that cannot do their job in a box, masked (a link to /dev/null) so that the boot
 * neither waits for nor fails on them; `systemctl is-system-running` says `running`.
 */
export const DEBIAN_MASKED_UNITS: Record<string, string> = {
  'systemd-udevd.service': "devices are the host's: a box gets its /dev from nsbox",
  'systemd-udev-trigger.service': "devices are the host's: a box gets its /dev from nsbox",
  'systemd-udev-settle.service': "devices are the host's: a box gets its /dev from nsbox",
  'systemd-modules-load.service': 'a box cannot load kernel modules',
  'kmod-static-nodes.service': 'a box cannot make device nodes (its /dev is made by nsbox)',
  'systemd-timesyncd.service': "the realtime clock is the host's: a box cannot set it (EPERM)",
  'hwclock.service': "the hardware clock is the host's",
  'sys-kernel-config.mount': "configfs is the host's kernel's",
  'sys-kernel-debug.mount': "debugfs is the host's kernel's",
  'sys-kernel-tracing.mount': "tracefs is the host's kernel's",
  'sys-fs-fuse-connections.mount': "the FUSE control filesystem is the host's",
  'dev-hugepages.mount': 'huge pages are a host resource',
  'proc-sys-fs-binfmt_misc.automount': "binfmt_misc is the host kernel's",
  'systemd-binfmt.service': "binfmt_misc is the host kernel's",
  'e2scrub_all.timer': "the box's filesystem is checked by the host",
  'e2scrub_reap.service': "the box's filesystem is checked by the host",
  'fstrim.timer': "discarding blocks is the host's job on the host's disks",
  'getty@tty1.service': 'a box has no virtual terminals: its console is /dev/console (console-getty)',
};

const SEARCH_PATH = ['/usr/sbin', '/usr/bin', '/sbin', '/bin', ...(process.env.PATH ?? '').split(':')];

function findDebootstrap(): string | undefined {
  return SEARCH_PATH.map((dir) => join(dir, 'debootstrap')).find((path) => existsSync(path));
}

/** The debootstrap executable; installs Debian's package when missing and we are root. */
export async function ensureDebootstrap(options: DebianBuildOptions = {}): Promise<string> {
  const found = findDebootstrap();
  if (found) return found;
  if (process.getuid?.() !== 0) {
    throw new NsboxError('E_UNSUPPORTED', 'building debian-12 needs debootstrap, which is not installed: run `apt-get install debootstrap` as root', {
      details: { missing: 'debootstrap' },
    });
  }
  options.onProgress?.({ step: 'install', message: 'installing debootstrap with apt-get' });
  // Not cancellable: dpkg interrupted midway would leave the host's package database broken.
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => runCommand('apt-get', ['install', '-y', '--no-install-recommends', 'debootstrap'], { what: 'installing debootstrap', env });
  try {
    await install();
  } catch {
    // A fresh machine may never have fetched its package lists.
    await runCommand('apt-get', ['update'], { what: 'updating the package lists to install debootstrap', env });
    await install();
  }
  if (options.signal?.aborted) throw cancelledError('building debian-12', options.signal.reason);
  const installed = findDebootstrap();
  if (!installed) throw new NsboxError('E_RUNTIME', 'apt-get installed debootstrap, but it is not on this machine');
  return installed;
}

/** Bootstraps bookworm into `dir` (an empty directory), reporting debootstrap's own progress. */
export async function buildDebianRootfs(dir: string, options: DebianBuildOptions = {}): Promise<void> {
  const debootstrap = await ensureDebootstrap(options);
  const mirror = options.mirror ?? DEBIAN_MIRROR;
  const progress = new DebootstrapProgress((update) => options.onProgress?.({ step: 'build', ...update }));
  try {
    const include = [...DEBIAN_BOOT_PACKAGES, ...(options.ssh ? ['openssh-server'] : [])];
    await runCommand(debootstrap, ['--debian-installer', '--variant=minbase', `--include=${include.join(',')}`, 'bookworm', dir, mirror], {
      what: `debootstrap bookworm from ${mirror}`,
      signal: options.signal,
      env: { ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' },
      onFd3Line: (line) => progress.line(line),
      // debootstrap unmounts the proc and sysfs it mounted in the target when it gets SIGTERM.
      killGraceMs: 15_000,
    });
  } catch (error) {
    if (isNsboxError(error) && !error.details['cancelled'] && progress.errors.length > 0) {
      throw new NsboxError('E_RUNTIME', `debootstrap bookworm failed: ${progress.errors.join('; ')}`, { details: error.details, cause: error });
    }
    throw error;
  }
  finishDebianRootfs(dir, mirror);
  prepareBoot(dir, options.ssh ?? false);
  options.onProgress?.({ step: 'build', percent: 100, message: 'Debian 12 base system installed' });
}

/** What systemd in a box needs from its rootfs: masked units, no hostname of the template's own. */
function prepareBoot(dir: string, ssh: boolean): void {
  const units = join(dir, 'etc/systemd/system');
  mkdirSync(units, { recursive: true });
  for (const unit of Object.keys(DEBIAN_MASKED_UNITS)) {
    rmSync(join(units, unit), { force: true });
    symlinkSync('/dev/null', join(units, unit));
  }
  mkdirSync(join(dir, 'etc/nsbox'), { recursive: true });
  writeFileSync(
    join(dir, 'etc/nsbox/masked-units'),
    `# Units nsbox masked in this template, and why (systemctl unmask UNIT to try one anyway).\n${Object.entries(DEBIAN_MASKED_UNITS)
      .map(([unit, reason]) => `${unit}\t${reason}`)
      .join('\n')}\n`,
  );
  // Every box gets its own machine id at first boot (systemd writes it when the file is empty).
  writeFileSync(join(dir, 'etc/machine-id'), '');
  rmSync(join(dir, 'var/lib/dbus/machine-id'), { force: true });
  if (ssh) {
    // Host keys are made per box at its first boot (ssh-keygen -A), never shared by the boxes of a template.
    for (const name of readdirSync(join(dir, 'etc/ssh'))) if (name.startsWith('ssh_host_')) rmSync(join(dir, 'etc/ssh', name));
    writeFileSync(join(units, 'nsbox-ssh-keys.service'), SSH_KEYS_UNIT);
    mkdirSync(join(units, 'ssh.service.wants'), { recursive: true });
    symlinkSync('../nsbox-ssh-keys.service', join(units, 'ssh.service.wants/nsbox-ssh-keys.service'));
  }
}

const SSH_KEYS_UNIT = `[Unit]
Description=SSH host keys of this box (nsbox: made at its first boot)
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
`;

/** What debootstrap leaves host-specific or bulky. */
function finishDebianRootfs(dir: string, mirror: string): void {
  // debootstrap copies the host's hostname and resolv.conf; a box gets its own (its hostname
  // is its UTS name, set by nsbox).
  rmSync(join(dir, 'etc/hostname'), { force: true });
  writeFileSync(join(dir, 'etc/hosts'), '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n127.0.1.1 box\n');
  writeFileSync(join(dir, 'etc/resolv.conf'), '');
  writeFileSync(
    join(dir, 'etc/apt/sources.list'),
    `deb ${mirror} bookworm main\ndeb ${mirror} bookworm-updates main\ndeb ${DEBIAN_SECURITY_MIRROR} bookworm-security main\n`,
  );
  // Package lists (~45 MB) and downloaded .debs would be copied into every box; `apt-get update` fetches fresh lists.
  for (const sub of ['var/lib/apt/lists', 'var/cache/apt/archives']) {
    const path = join(dir, sub);
    if (!existsSync(path)) continue;
    for (const name of readdirSync(path)) {
      if (name === 'partial' || name === 'lock') continue;
      removeTreeSync(join(path, name));
    }
  }
  mkdirSync(join(dir, 'var/lib/apt/lists/partial'), { recursive: true });
  for (const cache of ['pkgcache.bin', 'srcpkgcache.bin']) rmSync(join(dir, 'var/cache/apt', cache), { force: true });
}

// What the host needs to build and boot the guest, installed from Debian when missing (a CI
// machine starts from a clean clone; Debian's mirrors are reachable, nothing else is).

import { spawnSync } from 'node:child_process';
import { run } from './system.mjs';

/** qemu-system-x86_64, debootstrap, mke2fs -d, setpriv --pdeathsig. */
const HOST_PACKAGES = ['qemu-system-x86', 'debootstrap', 'e2fsprogs', 'util-linux'];

function installed(name) {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
  const result = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' });
  return result.stdout?.includes('install ok installed') ?? false;
}

export function ensureHostTools(log) {
  const missing = HOST_PACKAGES.filter((name) => !installed(name));
  if (missing.length === 0) return;
  log(`installing on this host: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], { env });
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
}

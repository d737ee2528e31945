/**
 * The `debian-12` built-in: `debootstrap --variant=minbase bookworm` from deb.debian.org,
 * run once into the template cache. debootstrap is installed on first use when we are root.
 */

import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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
}

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
    await runCommand(debootstrap, ['--debian-installer', '--variant=minbase', 'bookworm', dir, mirror], {
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
  options.onProgress?.({ step: 'build', percent: 100, message: 'Debian 12 base system installed' });
}

/** What debootstrap leaves host-specific or bulky. */
function finishDebianRootfs(dir: string, mirror: string): void {
  // debootstrap copies the host's hostname and resolv.conf; a box gets its own.
  writeFileSync(join(dir, 'etc/hostname'), 'box\n');
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

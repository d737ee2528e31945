// The guest image: Debian's packages (debootstrap), Debian's kernel, systemd as PID 1. Built
// once and cached under a key hashed from its recipe (this file, vm/image/, the package lists
// and the mirrors): a changed recipe builds a new image, the old one is removed.

import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { aptSets } from '../../scripts/apt-packages.mjs';
import { withLock } from './lock.mjs';
import { debianSources, sourcesListText } from './mirrors.mjs';
import { removeTreeOnOneFilesystem, run } from './system.mjs';

const vmDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const RELEASE = 'bookworm';
const ROOT_DISK_SIZE = '8G';

/** What the guest holds beyond what setup.mjs installs on a host. */
const GUEST_PACKAGES = [
  'systemd',
  'systemd-sysv',
  'udev',
  'dbus',
  'linux-image-amd64',
  'initramfs-tools',
  'kmod',
  'procps',
  'psmisc',
  'quota',
  'mount',
  'passwd',
];

export function guestPackages() {
  return {
    plain: [...new Set([...GUEST_PACKAGES, ...aptSets.base, ...aptSets.bench])],
    recommended: aptSets.withRecommends,
  };
}

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => (entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)]));
}

/** The recipe's hash: a change to any input builds a new image. */
export function recipeKey(sources) {
  const hash = createHash('sha256');
  const inputs = [fileURLToPath(import.meta.url), ...filesUnder(join(vmDir, 'image'))];
  for (const file of inputs) {
    hash.update(file.slice(vmDir.length));
    hash.update(readFileSync(file));
    // The executable bit is part of the recipe (the entry script must stay runnable).
    hash.update(String(statSync(file).mode & 0o111));
  }
  hash.update(JSON.stringify({ packages: guestPackages(), sources, release: RELEASE, size: ROOT_DISK_SIZE }));
  return hash.digest('hex').slice(0, 16);
}

/** The files a cached image is made of. */
function imagePaths(dir) {
  return { dir, rootfs: join(dir, 'rootfs.img'), kernel: join(dir, 'vmlinuz'), initrd: join(dir, 'initrd.img'), ready: join(dir, 'ready.json') };
}

function copyBootFiles(root, paths) {
  // Debian's kernel package points /vmlinuz and /initrd.img at the installed kernel.
  copyFileSync(join(root, 'vmlinuz'), paths.kernel);
  copyFileSync(join(root, 'initrd.img'), paths.initrd);
}

function buildInto(work, sources, log) {
  const root = join(work, 'root');
  mkdirSync(root);
  const packages = guestPackages();
  run(
    'unshare',
    ['--mount', '--propagation', 'private', 'sh', join(vmDir, 'image', 'build-rootfs.sh')],
    {
      env: {
        ...process.env,
        ROOT: root,
        RELEASE,
        MIRROR: sources.find((source) => source.suite === RELEASE).uri,
        SOURCES_LIST: sourcesListText(sources),
        PACKAGES: packages.plain.join(' '),
        RECOMMENDED: packages.recommended.join(' '),
        FILES: join(vmDir, 'image', 'files'),
      },
    },
    'building the guest root filesystem',
  );
  const paths = imagePaths(work);
  copyBootFiles(root, paths);
  log('making the root disk image (mke2fs -d)');
  run('truncate', ['-s', ROOT_DISK_SIZE, paths.rootfs]);
  run('mke2fs', ['-q', '-F', '-t', 'ext4', '-L', 'nsbox-root', '-d', root, paths.rootfs], {}, 'making the root disk image');
  const kernelRelease = readdirSync(join(root, 'lib', 'modules'))[0];
  removeTreeOnOneFilesystem(root);
  return kernelRelease;
}

/** Other keys' images: an older recipe's, never used again. */
function removeStaleImages(cacheDir, keep, log) {
  for (const name of readdirSync(cacheDir)) {
    const path = join(cacheDir, name);
    if (name === keep || name.startsWith('.') || !statSync(path).isDirectory()) continue;
    log(`removing the stale image ${path}`);
    removeTreeOnOneFilesystem(path);
  }
}

/**
 * The cached image for this recipe, built first when missing. Concurrent runs share one
 * build: the second waits on the lock, then finds the image ready.
 */
export async function ensureImage({ cacheDir, log }) {
  const sources = debianSources(RELEASE);
  const key = recipeKey(sources);
  const paths = imagePaths(join(cacheDir, key));
  if (existsSync(paths.ready)) return { ...paths, key, built: false };
  mkdirSync(cacheDir, { recursive: true });
  return withLock(join(cacheDir, '.lock'), log, () => {
    if (existsSync(paths.ready)) return { ...paths, key, built: false };
    removeStaleImages(cacheDir, key, log);
    log(`building the guest image ${key} (Debian ${RELEASE} from ${sources.map((source) => `${source.uri} ${source.suite}`).join(', ')})`);
    const work = join(cacheDir, `build-${key}-${process.pid}`);
    mkdirSync(work);
    try {
      const kernelRelease = buildInto(work, sources, log);
      writeFileSync(
        join(work, 'ready.json'),
        `${JSON.stringify({ key, release: RELEASE, kernelRelease, sources, built: new Date().toISOString() }, null, 2)}\n`,
      );
      renameSync(work, paths.dir);
    } catch (error) {
      removeTreeOnOneFilesystem(work);
      throw error;
    }
    return { ...paths, key, built: true };
  });
}

/** The kernel release the cached image boots (from its ready.json). */
export function imageFacts(paths) {
  return JSON.parse(readFileSync(paths.ready, 'utf8'));
}

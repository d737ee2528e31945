// The per-run disks, made fresh in the run's temp dir and thrown away with it: the tree (a
// copy of the working tree, node_modules and builds included), the host's Node (with tsx's
// compile cache and what the host built that the offline guest cannot: the debian-12 test
// template and criu), swap, and a blank scratch disk for suites that want a real block device.

import { cpSync, existsSync, lstatSync, mkdirSync, realpathSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stageHostBuilt } from './host-built.mjs';
import { run } from './system.mjs';

/** An ext4 image holding a copy of dir (mke2fs -d: no mount, no loop device). */
function ext4From(dir, image, size, label) {
  run('truncate', ['-s', size, image]);
  run('mke2fs', ['-q', '-F', '-t', 'ext4', '-L', label, '-E', 'root_owner=0:0', '-d', dir, image], {}, `copying ${dir} into a disk image`);
}

/**
 * The Node that runs this script, laid out as under /usr: the binary, npm and corepack, and
 * the headers node-gyp builds against (.npmrc's nodedir=/usr) should the guest rebuild.
 */
function stageNode(staging) {
  const binary = realpathSync(process.execPath);
  const prefix = dirname(dirname(binary));
  const usr = join(staging, 'usr');
  mkdirSync(join(usr, 'bin'), { recursive: true });
  cpSync(binary, join(usr, 'bin', 'node'), { preserveTimestamps: true });
  for (const sub of ['lib/node_modules/npm', 'lib/node_modules/corepack', 'include/node']) {
    if (existsSync(join(prefix, sub))) cpSync(join(prefix, sub), join(usr, sub), { recursive: true, verbatimSymlinks: true });
  }
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(usr, 'bin', 'npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(usr, 'bin', 'npx'));
}

/**
 * tsx's cache of compiled TypeScript (tsx-<uid> in the temp dir), keyed by each file's path
 * and text: the guest mounts the tree at the same path, so what this host compiled for
 * npm test is compiled for the guest too (under TCG, a cold compile of the CLI takes minutes).
 */
function stageTsxCache(staging) {
  const cache = join(tmpdir(), `tsx-${process.getuid?.() ?? 0}`);
  // Only files and directories: a tsx process running on the host keeps its IPC socket (<pid>.pipe) there, which cp refuses.
  const copiable = (source) => {
    const stat = lstatSync(source, { throwIfNoEntry: false }); // gone meanwhile: nothing to copy
    return stat !== undefined && (stat.isDirectory() || stat.isFile());
  };
  if (existsSync(cache)) cpSync(cache, join(staging, 'tsx-cache'), { recursive: true, filter: copiable });
  else mkdirSync(join(staging, 'tsx-cache'));
}

export function makeRunDisks({ repo, dir }) {
  const disks = {
    tree: join(dir, 'tree.img'),
    node: join(dir, 'node.img'),
    swap: join(dir, 'swap.img'),
    scratch: join(dir, 'scratch.img'),
  };
  // Sparse: the size is room for what the suites write into the tree, not a cost.
  ext4From(repo, disks.tree, '16G', 'nsbox-tree');
  const staging = join(dir, 'node');
  stageNode(staging);
  stageTsxCache(staging);
  stageHostBuilt(staging);
  ext4From(staging, disks.node, '2G', 'nsbox-node');
  run('rm', ['-rf', '--one-file-system', '--', staging]);
  run('truncate', ['-s', '1G', disks.swap]);
  run('truncate', ['-s', '1G', disks.scratch]);
  return disks;
}

/**
 * The host tools the disk backends drive (losetup, mkfs, mount, resize2fs, xfs_growfs,
 * cp), run synchronously with their output captured; a failure is an NsboxError that says
 * what was run and what the tool printed.
 */

import { execFileSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { NsboxError } from '@nsbox/core';
import { filesystemSpace } from '@nsbox/runtime-api';

const SEARCH_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** The tool's path, or undefined when it is not installed. */
export function which(tool: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...SEARCH_PATH]) {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return join(dir, tool);
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Which Debian package brings a tool, for the message when it is missing. */
const packages: Record<string, string> = {
  losetup: 'mount',
  mount: 'mount',
  umount: 'mount',
  'mkfs.ext4': 'e2fsprogs',
  resize2fs: 'e2fsprogs',
  e2fsck: 'e2fsprogs',
  dumpe2fs: 'e2fsprogs',
  'mkfs.xfs': 'xfsprogs',
  xfs_growfs: 'xfsprogs',
  xfs_db: 'xfsprogs',
  xfs_quota: 'xfsprogs',
  chattr: 'e2fsprogs',
  find: 'findutils',
  prlimit: 'util-linux',
  cp: 'coreutils',
};

export function run(tool: string, args: string[], options: { timeoutMs?: number } = {}): string {
  const path = which(tool);
  if (!path) {
    throw new NsboxError('E_UNSUPPORTED', `${tool} is not installed on this host (Debian package ${packages[tool] ?? tool})`, { details: { tool } });
  }
  try {
    return execFileSync(path, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 120_000,
      env: { ...process.env, LC_ALL: 'C' },
    });
  } catch (error) {
    const failure = error as { stderr?: string; stdout?: string; status?: number | null; message: string };
    const output = `${failure.stderr ?? ''}${failure.stdout ?? ''}`.trim().split('\n').slice(-3).join(' / ');
    throw new NsboxError('E_RUNTIME', `${tool} ${args.join(' ')} failed: ${output || failure.message}`, {
      details: { tool, args, status: failure.status ?? null },
      cause: error,
    });
  }
}

export interface MountEntry {
  mountPoint: string;
  fsType: string;
  source: string;
  /** Per-mount options, then the filesystem's own (prjquota, pqnoenforce...), as the kernel shows them. */
  options: string[];
}

function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/** The lines of /proc/<pid>/mountinfo (proc(5)), one entry each. */
export function parseMountInfo(text: string): MountEntry[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const fields = line.split(' ');
      const separator = fields.indexOf('-', 6);
      return {
        mountPoint: unescapeMountPath(fields[4] ?? ''),
        fsType: fields[separator + 1] ?? '',
        source: unescapeMountPath(fields[separator + 2] ?? ''),
        options: [...(fields[5] ?? '').split(','), ...(fields[separator + 3] ?? '').split(',')],
      };
    });
}

export function mounts(): MountEntry[] {
  return parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'));
}

export function isMountPoint(path: string): boolean {
  return mounts().some((entry) => entry.mountPoint === path);
}

/** The mount that holds a path (the longest mount point that is a prefix of it). */
export function mountOf(path: string): MountEntry | undefined {
  const candidates = mounts().filter((entry) => path === entry.mountPoint || path.startsWith(entry.mountPoint === '/' ? '/' : `${entry.mountPoint}/`));
  return candidates.sort((a, b) => b.mountPoint.length - a.mountPoint.length)[0];
}

export interface SpaceFigures {
  /** Bytes the filesystem offers (df's Size). */
  size: number;
  used: number;
  available: number;
  inodes: number | null;
  inodesUsed: number | null;
}

export function space(path: string): SpaceFigures {
  const figures = filesystemSpace(path);
  return { size: figures.sizeBytes, used: figures.usedBytes, available: figures.freeBytes, inodes: figures.inodes, inodesUsed: figures.inodesUsed };
}

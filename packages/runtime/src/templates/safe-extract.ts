/**
 * Extracts an untrusted archive into a rootfs in two passes over one open file: tar lists it,
 * the members are checked (member-check.ts), then tar extracts it. Both passes read the same
 * open file by position, so renaming another file into its place between them changes nothing.
 * As root, `tar -xp --numeric-owner` keeps owners and modes as archived: a rootfs needs them
 * (--no-same-owner would give every file to root). Device nodes are not kept: nsbox makes a
 * box's /dev itself, and a node the archive planted could be the host's console or disk.
 */

import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { NsboxError } from '@nsbox/core';
import { removeTreeSync } from '@nsbox/native';
import { type Compression, compressionFromSuffix, hasArchiveSuffix, sniffArchive, tarCompressionFlags } from './archive-format.js';
import { applyWhiteouts, checkMembers, collectWhiteouts, removeDeviceNodes, WHITEOUT_PREFIX } from './member-check.js';
import { runCommand } from './run-command.js';
import { bytePath, listArchive, type TarEntry } from './tar-listing.js';

export interface OpenArchive {
  path: string;
  fd: number;
  size: number;
  compression: Compression;
  /** "rootfs tarball /srv/t.tar.gz", "layer 2 of 3 (sha256:…)": for messages. */
  what: string;
}

export interface PassOptions {
  signal?: AbortSignal | undefined;
  /** Fraction (0..1) of the archive read in this pass. */
  onFraction?: (fraction: number) => void;
}

/**
 * Opens an archive, recognised by its bytes or, when they say nothing, by a known suffix.
 * Returns null for a file that is no archive at all. Close it with `closeArchive`.
 */
export function openArchive(path: string, what: string): OpenArchive | null {
  const fd = openSync(path, 'r');
  try {
    const compression = sniffArchive(fd) ?? (hasArchiveSuffix(path) ? compressionFromSuffix(path) : null);
    if (compression === null) {
      closeSync(fd);
      return null;
    }
    return { path, fd, size: fstatSync(fd).size, compression, what };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

export function closeArchive(archive: OpenArchive): void {
  closeSync(archive.fd);
}

/** First pass: the member list, and the sha256 of the archive's bytes when `digest` is given ("sha256:<hex>"). */
export async function scanArchive(archive: OpenArchive, options: PassOptions & { digest?: string } = {}): Promise<TarEntry[]> {
  const hash = options.digest ? createHash('sha256') : undefined;
  const entries = await listArchive(archive.fd, archive.compression, {
    what: `reading ${archive.what}`,
    signal: options.signal,
    onInput: readTracker(archive.size, options.onFraction, hash),
  });
  if (options.digest && hash) {
    const actual = `sha256:${hash.digest('hex')}`;
    if (actual !== options.digest) {
      throw new NsboxError('E_INVALID_ARGUMENT', `${archive.what} does not match its digest: expected ${options.digest}, got ${actual}`, {
        details: { path: archive.path, expected: options.digest, actual },
      });
    }
  }
  return entries;
}

/**
 * Second pass: checks the listed members against `root`, applies whiteouts when this is an
 * image layer, and extracts. Whiteout files themselves are never extracted from a layer.
 */
export async function extractScanned(archive: OpenArchive, entries: TarEntry[], root: string, options: PassOptions & { layer: boolean }): Promise<void> {
  if (options.layer) applyWhiteouts(root, collectWhiteouts(entries));
  for (const dir of checkMembers(root, entries, archive.what, { skipWhiteouts: options.layer })) {
    removeTreeSync(bytePath(root, dir));
  }
  const args = [
    '-x',
    '-p',
    '--numeric-owner',
    // File capabilities (ping, newuidmap) live in security.capability; user.* is harmless.
    '--xattrs',
    '--xattrs-include=security.capability',
    '--xattrs-include=user.*',
    ...tarCompressionFlags(archive.compression),
    ...(options.layer ? [`--exclude=${WHITEOUT_PREFIX}*`] : []),
    '-f',
    '-',
    '-C',
    root,
  ];
  await runCommand('tar', args, {
    what: `extracting ${archive.what}`,
    signal: options.signal,
    env: { ...process.env, LC_ALL: 'C' },
    inputFd: archive.fd,
    onInput: readTracker(archive.size, options.onFraction),
  });
  removeDeviceNodes(root, entries);
}

function readTracker(size: number, onFraction?: (fraction: number) => void, hash?: ReturnType<typeof createHash>) {
  let read = 0;
  return (chunk: Buffer) => {
    hash?.update(chunk);
    read += chunk.length;
    onFraction?.(size > 0 ? Math.min(1, read / size) : 1);
  };
}

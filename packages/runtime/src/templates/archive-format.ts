/**
 * Recognises an archive by its first bytes, not its name: a layer blob has no extension, and
 * a `docker save` piped through gzip is still a save archive.
 */

import { readSync } from 'node:fs';

export type Compression = 'none' | 'gzip' | 'zstd' | 'xz' | 'bzip2';

/** Names a rootfs tarball may have; anything else must prove it is an archive by its bytes. */
export const ARCHIVE_SUFFIXES = ['.tar', '.tar.gz', '.tgz', '.tar.zst', '.tar.zstd', '.tzst', '.tar.xz', '.txz', '.tar.bz2', '.tbz2'];

export function hasArchiveSuffix(path: string): boolean {
  return ARCHIVE_SUFFIXES.some((suffix) => path.endsWith(suffix));
}

/** What the first 512 bytes of an open file say it is: a known compression, a bare tar, or neither (null). */
export function sniffArchive(fd: number): Compression | null {
  const head = Buffer.alloc(512);
  const length = readSync(fd, head, 0, 512, 0);
  const starts = (...bytes: number[]) => length >= bytes.length && bytes.every((byte, i) => head[i] === byte);
  if (starts(0x1f, 0x8b)) return 'gzip';
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) return 'zstd';
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'xz';
  if (starts(0x42, 0x5a, 0x68)) return 'bzip2';
  if (length === 512 && isTarHeader(head)) return 'none';
  return null;
}

/** A ustar/GNU magic, or failing that (v7 archives) a header whose checksum adds up. */
function isTarHeader(block: Buffer): boolean {
  if (block.toString('latin1', 257, 262) === 'ustar') return true;
  const stored = Number.parseInt(
    block
      .toString('latin1', 148, 156)
      .replace(/[\0 ]+/g, ' ')
      .trim(),
    8,
  );
  if (!Number.isFinite(stored)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum === stored && block[0] !== 0;
}

/** The guess a known suffix makes when the bytes say nothing (a corrupt file): tar then tells what is wrong. */
export function compressionFromSuffix(path: string): Compression {
  if (/\.(tar\.gz|tgz)$/.test(path)) return 'gzip';
  if (/\.(tar\.zstd?|tzst)$/.test(path)) return 'zstd';
  if (/\.(tar\.xz|txz)$/.test(path)) return 'xz';
  if (/\.(tar\.bz2|tbz2)$/.test(path)) return 'bzip2';
  return 'none';
}

/** GNU tar's flag that runs the matching decompressor. */
export function tarCompressionFlags(compression: Compression): string[] {
  switch (compression) {
    case 'gzip':
      return ['--gzip'];
    case 'zstd':
      return ['--zstd'];
    case 'xz':
      return ['--xz'];
    case 'bzip2':
      return ['--bzip2'];
    case 'none':
      return [];
  }
}

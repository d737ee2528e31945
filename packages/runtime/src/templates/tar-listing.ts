/**
 * Reads an archive's member list the way GNU tar itself sees it (`tar -tv`), so that what we
 * check before extracting is exactly what tar will then extract: no second parser whose idea
 * of a header could differ from tar's.
 *
 * Member paths are kept as byte strings (latin1: one char per byte) because file names are
 * bytes, not UTF-8; `bytePath` turns one back into a Buffer for fs calls.
 */

import { NsboxError } from '@nsbox/core';
import { type Compression, tarCompressionFlags } from './archive-format.js';
import { runCommand } from './run-command.js';

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface TarEntry {
  /** Normalised: no leading "/" or "./", no trailing "/", no "." components; "" is the archive's root. */
  path: string;
  type: TarEntryType;
  /** A symlink's target as written; a hard link's target normalised like `path`. */
  link?: string;
}

const TYPES: Record<string, TarEntryType> = { '-': 'file', d: 'dir', l: 'symlink', h: 'hardlink', c: 'char', b: 'block', p: 'fifo' };

export interface ListOptions {
  what: string;
  signal?: AbortSignal | undefined;
  onInput?: (chunk: Buffer) => void;
}

/** Lists the archive open on `fd`; throws E_RUNTIME with tar's stderr when tar cannot read it. */
export async function listArchive(fd: number, compression: Compression, options: ListOptions): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  let problem: unknown;
  await runCommand('tar', ['-t', '-v', '--numeric-owner', '--quoting-style=c', ...tarCompressionFlags(compression), '-f', '-'], {
    what: options.what,
    signal: options.signal,
    // C locale: every byte outside printable ASCII comes out as an octal escape.
    env: { ...process.env, LC_ALL: 'C' },
    inputFd: fd,
    ...(options.onInput ? { onInput: options.onInput } : {}),
    onStdoutLine: (line) => {
      if (problem || line === '') return;
      try {
        entries.push(parseListLine(line));
      } catch (error) {
        problem = error;
      }
    },
  });
  if (problem) throw problem;
  return entries;
}

/** One line of `tar -tv --numeric-owner --quoting-style=c`: `lrwxrwxrwx 0/0 0 2024-01-01 00:00 "./a" -> "b"`. */
export function parseListLine(line: string): TarEntry {
  const quote = line.indexOf('"');
  const type = TYPES[line[0] ?? ''];
  if (quote < 0) throw unreadable(line);
  const name = decodeQuoted(line, quote);
  const rest = line.slice(name.end);
  if (!type) {
    throw new NsboxError('E_UNSUPPORTED', `archive member "${shown(name.value)}" has a type nsbox does not extract (${line.slice(0, 10)})`, {
      details: { member: shown(name.value), line },
    });
  }
  const path = normalizeMemberPath(name.value);
  if (rest === '') {
    if (type === 'symlink' || type === 'hardlink') throw unreadable(line);
    return { path, type };
  }
  const arrow = rest.startsWith(' -> "') ? 4 : rest.startsWith(' link to "') ? 9 : -1;
  if (arrow < 0) throw unreadable(line);
  const link = decodeQuoted(line, name.end + arrow);
  if (link.end !== line.length) throw unreadable(line);
  if (type === 'symlink') return { path, type, link: link.value };
  if (type === 'hardlink') return { path, type, link: normalizeMemberPath(link.value) };
  throw unreadable(line);
}

/**
 * GNU tar strips leading slashes itself; we do the same so our checks look where tar writes.
 * A ".." component is refused outright (tar would skip that member; we refuse the archive).
 */
export function normalizeMemberPath(raw: string): string {
  const parts: string[] = [];
  for (const part of raw.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      throw new NsboxError('E_INVALID_ARGUMENT', `archive member "${shown(raw)}" has a ".." component: it would be written outside the rootfs`, {
        details: { member: shown(raw) },
      });
    }
    parts.push(part);
  }
  return parts.join('/');
}

/** A byte-string path as bytes, joined under a root directory. */
export function bytePath(root: string, path: string): Buffer {
  return path === '' ? Buffer.from(root) : Buffer.concat([Buffer.from(`${root}/`), Buffer.from(path, 'latin1')]);
}

/** A byte-string path for messages (UTF-8 where it is UTF-8). */
export function shown(path: string): string {
  return Buffer.from(path, 'latin1').toString('utf8');
}

const ESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, '"': 34, '?': 63, "'": 39 };

/** Decodes the C-quoted string starting at `line[start] === '"'` into a byte string; `end` is just past the closing quote. */
export function decodeQuoted(line: string, start: number): { value: string; end: number } {
  if (line[start] !== '"') throw unreadable(line);
  const bytes: number[] = [];
  let i = start + 1;
  while (i < line.length) {
    const char = line[i]!;
    if (char === '"') return { value: Buffer.from(bytes).toString('latin1'), end: i + 1 };
    if (char !== '\\') {
      bytes.push(char.charCodeAt(0));
      i += 1;
      continue;
    }
    const next = line[i + 1] ?? '';
    const octal = /^[0-7]{3}/.exec(line.slice(i + 1, i + 4));
    if (octal) {
      bytes.push(Number.parseInt(octal[0], 8));
      i += 4;
    } else if (next in ESCAPES) {
      bytes.push(ESCAPES[next]!);
      i += 2;
    } else {
      throw unreadable(line);
    }
  }
  throw unreadable(line);
}

function unreadable(line: string): NsboxError {
  return new NsboxError('E_RUNTIME', `cannot read tar's listing line: ${line}`, { details: { line } });
}

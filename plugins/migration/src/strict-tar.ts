/**
 * The outer tar of a box archive, written and read here rather than by the host's tar: it
 * holds only regular files (and the directories they sit in) at names the archive format
 * lists, so the reader refuses anything else — an absolute or `..` name, a link, a device, a
 * pax or GNU extension, a name twice — before a byte of it is written. Files are created with
 * O_EXCL|O_NOFOLLOW in a directory the caller made empty, so nothing outside it is reached.
 * ustar headers; sizes past 8 GiB use the base-256 form GNU tar reads.
 */

import { constants } from 'node:fs';
import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { NsboxError } from '@nsbox/core';

const BLOCK = 512;
const CHUNK = 1024 * 1024;

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** A ustar header for a regular file (typeflag 0) or a directory (5). */
export function tarHeader(
  name: string,
  size: number,
  type: 'file' | 'dir',
  mode = type === 'dir' ? 0o700 : 0o600,
  mtime = Math.floor(Date.now() / 1000),
): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar member name too long: ${name}`);
  const header = Buffer.alloc(BLOCK, 0);
  header.write(name, 0, 100, 'utf8');
  header.write(octal(mode & 0o777, 8), 100, 'ascii');
  header.write(octal(0, 8), 108, 'ascii');
  header.write(octal(0, 8), 116, 'ascii');
  if (size < 8 ** 11) header.write(octal(size, 12), 124, 'ascii');
  else {
    // base-256: the high bit of the first byte set, the size big-endian in the rest.
    header[124] = 0x80;
    header.writeBigUInt64BE(BigInt(size), 124 + 4);
  }
  header.write(octal(mtime, 12), 136, 'ascii');
  header.write('        ', 148, 'ascii');
  header.write(type === 'dir' ? '5' : '0', 156, 'ascii');
  header.write('ustar\0', 257, 'ascii');
  header.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return header;
}

/** A member of a tar to write: a directory, bytes in memory, or a host file whose size is known before a byte is written. */
export type PlannedMember =
  | { name: string; type: 'dir' }
  | { name: string; type: 'buffer'; content: Buffer }
  | { name: string; type: 'file'; path: string; size: number; mode: number };

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** The tar's length in bytes, before it is written: a stream can say it up front. */
export function plannedLength(members: readonly PlannedMember[]): number {
  let length = BLOCK * 2;
  for (const member of members) {
    const size = member.type === 'dir' ? 0 : member.type === 'buffer' ? member.content.length : member.size;
    length += BLOCK + size + padding(size);
  }
  return length;
}

/**
 * The tar of `members`, piece by piece (a new buffer each). A host file is opened without
 * following a symlink and must still have its planned size: the length said up front holds.
 */
export async function* tarChunks(members: readonly PlannedMember[], signal?: AbortSignal): AsyncGenerator<Buffer> {
  for (const member of members) {
    signal?.throwIfAborted();
    if (member.type === 'dir') {
      yield tarHeader(member.name.endsWith('/') ? member.name : `${member.name}/`, 0, 'dir');
      continue;
    }
    if (member.type === 'buffer') {
      yield tarHeader(member.name, member.content.length, 'file');
      yield member.content;
      yield Buffer.alloc(padding(member.content.length));
      continue;
    }
    const source = await open(member.path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const { size } = await source.stat();
      if (size !== member.size) throw new Error(`${member.path} changed size while it was archived (${member.size}, now ${size})`);
      yield tarHeader(member.name, size, 'file', member.mode);
      for (let done = 0; done < size; ) {
        signal?.throwIfAborted();
        const buffer = Buffer.allocUnsafe(Math.min(CHUNK, size - done));
        const { bytesRead } = await source.read(buffer, 0, buffer.length, done);
        if (bytesRead === 0) throw new Error(`${member.path} shrank while it was archived`);
        yield buffer.subarray(0, bytesRead);
        done += bytesRead;
      }
      yield Buffer.alloc(padding(size));
    } finally {
      await source.close();
    }
  }
  yield Buffer.alloc(BLOCK * 2);
}

function bad(archive: string, why: string, member?: string): NsboxError {
  return new NsboxError('E_INVALID_ARGUMENT', `${archive} is not a box archive nsbox can import: ${why}`, {
    details: { field: 'file', ...(member === undefined ? {} : { member }) },
  });
}

function field(header: Buffer, start: number, length: number): string {
  const raw = header.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? length : end).toString('utf8');
}

function numberField(header: Buffer, start: number, length: number): number {
  if ((header[start] ?? 0) & 0x80) {
    let value = 0n;
    for (let i = start + 1; i < start + length; i++) value = (value << 8n) | BigInt(header[i] ?? 0);
    return Number(value);
  }
  const text = field(header, start, length).trim();
  if (!/^[0-7]*$/.test(text)) throw new Error('not an octal number');
  return text === '' ? 0 : Number.parseInt(text, 8);
}

function checksumOk(header: Buffer): boolean {
  const recorded = numberField(header, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (header[i] ?? 0);
  return sum === recorded;
}

export interface StrictMember {
  name: string;
  type: 'file' | 'dir';
  size: number;
}

/** Bytes to read from: a file (its size known) or a stream as it arrives. */
interface ByteSource {
  /** Up to `max` bytes; an empty buffer at the end. */
  read(max: number): Promise<Buffer>;
  /** The bytes there are, when known up front (a file): a member past it is refused before it is written. */
  total?: number;
}

function fileSource(handle: FileHandle, total: number): ByteSource {
  let position = 0;
  return {
    total,
    async read(max) {
      // A new buffer each time: the caller may hold it while it reads on.
      const buffer = Buffer.allocUnsafe(Math.min(max, CHUNK));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      position += bytesRead;
      return buffer.subarray(0, bytesRead);
    },
  };
}

function streamSource(stream: AsyncIterable<Buffer>): ByteSource {
  const iterator = stream[Symbol.asyncIterator]();
  let rest: Buffer = Buffer.alloc(0);
  return {
    async read(max) {
      while (rest.length === 0) {
        const next = await iterator.next();
        if (next.done) return rest;
        rest = next.value;
      }
      const taken = rest.subarray(0, max);
      rest = rest.subarray(taken.length);
      return taken;
    },
  };
}

/** Exactly `size` bytes (a header), or fewer at the end. */
async function readFull(source: ByteSource, size: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  while (got < size) {
    const part = await source.read(size - got);
    if (part.length === 0) break;
    parts.push(part);
    got += part.length;
  }
  return Buffer.concat(parts, got);
}

/**
 * Unpacks `archive` into `dir` (made empty by the caller). `allowed` says whether a member
 * may be there (directories end with `/`); the first member it refuses, or anything that is
 * not a plain file or directory, ends the read with E_INVALID_ARGUMENT naming it.
 */
export async function unpackStrict(archive: string, dir: string, allowed: (member: StrictMember) => boolean, signal?: AbortSignal): Promise<StrictMember[]> {
  const input = await open(archive, constants.O_RDONLY);
  try {
    return await unpackStrictFrom(fileSource(input, (await input.stat()).size), archive, dir, allowed, signal);
  } finally {
    await input.close();
  }
}

/**
 * The same from a stream as it arrives (a migration's upload): what is written is written to
 * `dir` only, and the caller removes `dir` when the read fails. After the end marker, only
 * zeros may follow.
 */
export async function unpackStrictStream(
  stream: AsyncIterable<Buffer>,
  label: string,
  dir: string,
  allowed: (member: StrictMember) => boolean,
  signal?: AbortSignal,
): Promise<StrictMember[]> {
  const source = streamSource(stream);
  const members = await unpackStrictFrom(source, label, dir, allowed, signal);
  for (let tail = await source.read(CHUNK); tail.length > 0; tail = await source.read(CHUNK)) {
    if (!tail.every((byte) => byte === 0)) throw bad(label, 'it goes on after its end marker');
  }
  return members;
}

async function unpackStrictFrom(
  input: ByteSource,
  archive: string,
  dir: string,
  allowed: (member: StrictMember) => boolean,
  signal?: AbortSignal,
): Promise<StrictMember[]> {
  const members: StrictMember[] = [];
  const seen = new Set<string>();
  let position = 0;
  for (;;) {
    signal?.throwIfAborted();
    const header = await readFull(input, BLOCK);
    if (header.length < BLOCK) throw bad(archive, 'it ends before its end marker');
    position += BLOCK;
    if (header.every((byte) => byte === 0)) break;
    let size: number;
    try {
      if (!checksumOk(header)) throw new Error('checksum');
      size = numberField(header, 124, 12);
    } catch {
      throw bad(archive, `a header at byte ${position - BLOCK} is damaged`);
    }
    const typeflag = String.fromCharCode(header[156] ?? 0);
    const prefix = field(header, 345, 155);
    const rawName = prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100);
    const type = typeflag === '5' ? 'dir' : typeflag === '0' || typeflag === '\0' ? 'file' : undefined;
    if (!type) throw bad(archive, `member "${rawName}" is not a plain file or directory (type '${typeflag}')`, rawName);
    const name = type === 'dir' && !rawName.endsWith('/') ? `${rawName}/` : rawName;
    const parts = name.replace(/\/$/, '').split('/');
    if (name.startsWith('/') || parts.some((part) => part === '' || part === '.' || part === '..')) {
      throw bad(archive, `member "${rawName}" has an absolute or relative-up name`, rawName);
    }
    const member: StrictMember = { name, type, size: type === 'dir' ? 0 : size };
    if (!allowed(member) || seen.has(name)) throw bad(archive, `member "${rawName}" does not belong in a box archive`, rawName);
    if (input.total !== undefined && position + member.size > input.total) throw bad(archive, `member "${rawName}" is cut short`, rawName);
    // A member's directory comes before it: it was made by this read, never found on disk.
    const parent = parts.length > 1 ? `${parts.slice(0, -1).join('/')}/` : undefined;
    if (parent !== undefined && !seen.has(parent)) throw bad(archive, `member "${rawName}" comes before its directory`, rawName);
    seen.add(name);
    members.push(member);
    const target = join(dir, name);
    if (type === 'dir') {
      await mkdir(target, { mode: 0o700 });
      continue;
    }
    // The archived mode, but never more than rw-r--r-- (criu's images are 0644).
    const mode = numberField(header, 100, 8) & 0o644;
    const output = await open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    await output.chmod(mode);
    try {
      await copyMember(input, output, size, () => bad(archive, `member "${rawName}" is cut short`, rawName), signal);
    } finally {
      await output.close();
    }
    const padding = Math.ceil(size / BLOCK) * BLOCK - size;
    if ((await readFull(input, padding)).length < padding) throw bad(archive, `member "${rawName}" is cut short`, rawName);
    position += size + padding;
  }
  return members;
}

/** Copies `size` bytes of the source into `output`, in writes of up to CHUNK bytes (a stream's small pieces gathered). */
async function copyMember(input: ByteSource, output: FileHandle, size: number, cut: () => Error, signal?: AbortSignal): Promise<void> {
  const pending: Buffer[] = [];
  let pendingBytes = 0;
  for (let done = 0; done < size; ) {
    signal?.throwIfAborted();
    const got = await input.read(Math.min(CHUNK, size - done));
    if (got.length === 0) throw cut();
    pending.push(got);
    pendingBytes += got.length;
    done += got.length;
    if (pendingBytes >= CHUNK || done === size) {
      await output.writev(pending);
      pending.length = 0;
      pendingBytes = 0;
    }
  }
}

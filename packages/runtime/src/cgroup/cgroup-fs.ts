/**
 * Small synchronous helpers over cgroupfs. cgroupfs answers instantly (no disk behind it),
 * so sync calls keep the drivers simple; only the waits (freezing, dying) are async.
 * Every failure becomes an NsboxError that names the file and the errno.
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { NsboxError } from '@nsbox/core';

export function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

export function readCgroupFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new NsboxError('E_RUNTIME', `cannot read ${path}: ${errnoOf(error) ?? String(error)}`, {
      details: { path, errno: errnoOf(error) },
      cause: error,
    });
  }
}

/** Reused by every read: the sampler reads some twenty files of every box each round. */
const readBuffer = Buffer.allocUnsafe(64 * 1024);

/**
 * The files whose seq_file has a record per process: a read(2) of them stops at a page when
 * the next record does not fit, so a short read is not their end.
 */
const PER_PROCESS_FILE = /\/(cgroup\.procs|cgroup\.threads|tasks)$/;

/**
 * The file's text, or undefined when it (or its cgroup) does not exist. open, read, close: a
 * cgroup file's value is one record of its seq_file, which a read(2) gives whole up to the
 * buffer's size, so a short read is its end (readFileSync adds an fstat, a read that finds the
 * end, and options). The per-process lists are read to their end.
 */
export function readCgroupFileIfExists(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw readError(path, error);
  }
  try {
    let length = readSync(fd, readBuffer, 0, readBuffer.length, null);
    if (length < readBuffer.length && !PER_PROCESS_FILE.test(path)) return readBuffer.toString('utf8', 0, length);
    const chunks: Buffer[] = [];
    while (length > 0) {
      chunks.push(Buffer.from(readBuffer.subarray(0, length)));
      length = readSync(fd, readBuffer, 0, readBuffer.length, null);
    }
    return Buffer.concat(chunks).toString('utf8');
  } catch (error) {
    throw readError(path, error);
  } finally {
    closeSync(fd);
  }
}

function readError(path: string, error: unknown): NsboxError {
  return new NsboxError('E_RUNTIME', `cannot read ${path}: ${errnoOf(error) ?? String(error)}`, {
    details: { path, errno: errnoOf(error) },
    cause: error,
  });
}

/**
 * One write(2) of the whole value: cgroupfs parses each write on its own. An empty value (v2's
 * cpuset.cpus '' = the parent's CPUs) goes as a newline, which the kernel strips: Node makes
 * no write(2) at all for an empty buffer, and the file would keep its old value.
 */
export function writeCgroupFile(path: string, value: string): void {
  try {
    writeFileSync(path, value === '' ? '\n' : value);
  } catch (error) {
    throw new NsboxError('E_RUNTIME', `cannot write '${value}' to ${path}: ${errnoOf(error) ?? String(error)}`, {
      details: { path, value, errno: errnoOf(error) },
      cause: error,
    });
  }
}

export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export function fileExists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** mkdir that accepts an existing directory; a file of the same name is an error. */
export function ensureDirectory(path: string): void {
  try {
    mkdirSync(path);
  } catch (error) {
    if (errnoOf(error) === 'EEXIST' && isDirectory(path)) return;
    throw new NsboxError('E_RUNTIME', `cannot create cgroup ${path}: ${errnoOf(error) ?? String(error)}`, {
      details: { path, errno: errnoOf(error) },
      cause: error,
    });
  }
}

/** Names of the child cgroups of dir (none when dir is missing). */
export function childCgroups(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return [];
    throw new NsboxError('E_RUNTIME', `cannot list ${dir}: ${errnoOf(error) ?? String(error)}`, {
      details: { path: dir, errno: errnoOf(error) },
      cause: error,
    });
  }
}

/**
 * dir and every cgroup below it, deepest first: the order rmdir needs, since a box's init
 * may have made cgroups of its own (nested systemd, a cgroup namespace).
 */
export function subtreeDeepestFirst(dir: string): string[] {
  if (!isDirectory(dir)) return [];
  const below = childCgroups(dir).flatMap((child) => subtreeDeepestFirst(join(dir, child)));
  return [...below, dir];
}

export function parsePids(text: string): number[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map(Number);
}

/** Every process in dir and the cgroups below it (cgroup.procs lists only its own level). */
export function subtreePids(dir: string): number[] {
  const pids: number[] = [];
  for (const cgroup of subtreeDeepestFirst(dir)) {
    // A cgroup can vanish between listing and reading; it then holds no one.
    const text = readCgroupFileIfExists(join(cgroup, 'cgroup.procs'));
    if (text !== undefined) pids.push(...parsePids(text));
  }
  return pids;
}

/** 'key value' lines such as cgroup.events, as a map. */
export function parseKeyedFile(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/, 2);
    if (key) entries.set(key, value ?? '');
  }
  return entries;
}

export type RmdirResult = 'removed' | 'missing' | 'busy';

/** rmdir a cgroup; 'busy' while it still has processes or children (EBUSY, ENOTEMPTY). */
export function removeCgroupDir(path: string): RmdirResult {
  try {
    rmdirSync(path);
    return 'removed';
  } catch (error) {
    const errno = errnoOf(error);
    if (errno === 'ENOENT') return 'missing';
    if (errno === 'EBUSY' || errno === 'ENOTEMPTY') return 'busy';
    throw new NsboxError('E_RUNTIME', `cannot remove cgroup ${path}: ${errno ?? String(error)}`, {
      details: { path, errno },
      cause: error,
    });
  }
}

export const POLL_INTERVAL_MS = 5;

/** Polls check until it holds or the deadline (ms since the epoch) passes; true when it held. */
export async function pollUntil(check: () => boolean, deadline: number): Promise<boolean> {
  for (;;) {
    if (check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(POLL_INTERVAL_MS);
  }
}

/**
 * create() racing a remove() that rmdirs an emptied parent level sees ENOENT halfway down;
 * running it again recreates the level. Three tries are plenty: each race needs a remove
 * of the last box to land inside the few microseconds of a mkdir chain.
 */
export function retryWhileParentVanishes<T>(create: () => T): T {
  for (let attempt = 1; ; attempt++) {
    try {
      return create();
    } catch (error) {
      if (attempt >= 3 || !(error instanceof NsboxError && error.details['errno'] === 'ENOENT')) throw error;
    }
  }
}

/** rmdir dir and the cgroups below it, deepest first, retrying while the last tasks exit. */
export async function removeSubtree(dir: string, deadline: number): Promise<void> {
  for (const cgroup of subtreeDeepestFirst(dir)) {
    if (!(await pollUntil(() => removeCgroupDir(cgroup) !== 'busy', deadline))) {
      throw new NsboxError('E_RUNTIME', `cgroup ${cgroup} stays busy after its processes were killed`, { details: { path: cgroup } });
    }
  }
}

/**
 * rmdir the levels of mount/levels[0]/levels[1]/... from the deepest up, each only if
 * empty; the first busy level (another box lives there) and those above it stay.
 */
export function removeEmptyLevels(mount: string, levels: string[]): void {
  for (let depth = levels.length; depth > 0; depth--) {
    if (removeCgroupDir(join(mount, ...levels.slice(0, depth))) === 'busy') return;
  }
}

/**
 * The path of a controller file of a box, or E_UNSUPPORTED when this kernel does not
 * provide it (memory.kmem.* left v1 in 6.x, a v2 controller that is not enabled...).
 */
export function existingControllerFile(dir: string, controller: string, file: string): string {
  const path = join(dir, file);
  if (!fileExists(path)) {
    throw new NsboxError('E_UNSUPPORTED', `cgroup controller '${controller}' has no file ${file} on this kernel`, { details: { controller, file, path } });
  }
  return path;
}

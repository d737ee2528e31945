// Small helpers over child processes and the filesystem, shared by the VM lane's modules.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** Runs a command to completion with its output on ours; throws naming what it was for. */
export function run(command, args, options = {}, what = `${command} ${args.join(' ')}`) {
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'], ...options });
  if (result.status !== 0) {
    throw new Error(`${what} failed: ${command} exited with ${result.status ?? result.signal}${result.error ? ` (${result.error.message})` : ''}`);
  }
  return result;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMountPath(path) {
  return path.replace(/\\([0-7]{3})/g, (_, octal) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/** Mount points at or below dir, in this mount namespace. */
export function mountsUnder(dir) {
  const base = resolve(dir);
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => unescapeMountPath(line.split(' ')[4]))
    .filter((point) => point === base || point.startsWith(`${base}/`));
}

/**
 * rm -rf that never crosses a mount: refuses outright when something is mounted below dir
 * (a build that died mid-chroot in a namespace that somehow outlived it), and tells rm to
 * stay on one filesystem as a second guard.
 */
export function removeTreeOnOneFilesystem(dir) {
  if (!existsSync(dir)) return;
  const mounts = mountsUnder(dir);
  if (mounts.length > 0) throw new Error(`not removing ${dir}: ${mounts.join(', ')} mounted below it`);
  run('rm', ['-rf', '--one-file-system', '--', dir]);
}

/** Whether the process still exists (kill 0 only asks). */
export function processAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/** Seconds since start, for the durations the lane prints. */
export function secondsSince(start) {
  return ((Date.now() - start) / 1000).toFixed(0);
}

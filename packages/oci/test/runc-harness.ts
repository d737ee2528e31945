/**
 * Runs the real nsbox-runc (the native front, with its server from source through tsx) on
 * a --root and a cgroup parent of the test's own, and removes all of it afterwards.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createCgroupDriver } from '@nsbox/runtime';
import { type Cleanup, repoRoot, slowdown } from '@nsbox/testkit';
import { nativePaths, packageRoot } from '../src/oci-runtime.js';

const ociRoot = packageRoot();

/**
 * Copies the front from @nsbox/native's build (native/binding.gyp) when the copy is missing
 * or older; the native build itself is setup's (`npm run setup`).
 */
export function ensureNativeBuilt(): void {
  const { front } = nativePaths(ociRoot);
  const built = statSync(join(repoRoot, 'native', 'build', 'Release', 'nsbox-runc')).mtimeMs;
  const fresh = existsSync(front) && statSync(front).mtimeMs >= built;
  if (!fresh) execFileSync('sh', [join(ociRoot, 'native', 'build.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
}

export interface RuncHarness {
  dir: string;
  root: string;
  cgroupParent: string;
  /** The executable to give podman's --runtime: a wrapper that pins --root and the server. */
  wrapper: string;
  run(
    args: string[],
    options?: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string; fds?: number[] },
  ): { code: number | null; stdout: string; stderr: string };
  rootfs: string;
}

export function serverCommand(): string {
  // tsx's ESM entry (its package's "import" export), as `node --import tsx` would load it.
  const loader = pathToFileURL(join(dirname(createRequire(join(ociRoot, 'package.json')).resolve('tsx/package.json')), 'dist', 'loader.mjs')).href;
  return `${process.execPath} --import ${loader} --conditions=source ${join(ociRoot, 'src', 'server-main.ts')}`;
}

/** A wrapper script: podman and conmon pass no environment of ours, so it carries it. */
export function writeWrapper(file: string, root: string, cgroupParent: string, extraEnv: Record<string, string> = {}): void {
  const env = {
    NSBOX_RUNC_SERVER: serverCommand(),
    TSX_TSCONFIG_PATH: join(repoRoot, 'tsconfig.json'),
    NSBOX_CGROUP_PARENT: cgroupParent,
    NSBOX_RUNC_IDLE_SECONDS: '120',
    // The server from source starts in seconds here, in minutes in the VM lane's emulated guest (its slowdown factor).
    NSBOX_RUNC_SERVER_WAIT_SECONDS: String(30 * slowdown()),
    ...extraEnv,
  };
  const exports = Object.entries(env).map(([key, value]) => `export ${key}='${value}'`);
  writeFileSync(file, `#!/bin/sh\n${exports.join('\n')}\nexec ${nativePaths(ociRoot).front} --root ${root} "$@"\n`);
  chmodSync(file, 0o755);
}

export function stopServer(root: string): void {
  const pidFile = join(root, 'server.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    spawnSync('sleep', ['0.05']);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

export async function removeCgroupParent(parent: string): Promise<void> {
  // nsbox-runc keeps cgroupfs paths (runc's default): its boxes are directories under the parent, not scopes.
  const cgroups = createCgroupDriver({ parent, manager: 'cgroupfs' });
  for (const name of cgroups.list()) await cgroups.remove(name);
  cgroups.removeParent();
  // podman's conmon also goes under --cgroup-parent in the name=systemd hierarchy, which
  // nsbox does not manage: its empty directories go too, deepest first.
  const named = join('/sys/fs/cgroup/systemd', parent);
  if (existsSync(named)) spawnSync('find', [named, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';'], { stdio: 'ignore' });
}

export function createHarness(cleanup: Cleanup, dir: string, rootfs: string, tag: string): RuncHarness {
  const root = join(dir, 'root');
  const cgroupParent = `nsbox-test-${tag}`;
  const wrapper = join(dir, 'nsbox-runc');
  mkdirSync(root, { recursive: true });
  writeWrapper(wrapper, root, cgroupParent);
  cleanup.add('remove the cgroup parent', () => removeCgroupParent(cgroupParent));
  cleanup.add('stop the nsbox-runc server', () => stopServer(root));
  return {
    dir,
    root,
    cgroupParent,
    wrapper,
    rootfs,
    run(args, options = {}) {
      // Files, not pipes: a detached box keeps the caller's stdio, and spawnSync would wait
      // for a pipe to close until the box exits.
      const outFile = join(dir, `.out-${process.pid}`);
      const errFile = join(dir, `.err-${process.pid}`);
      const out = openSync(outFile, 'w');
      const err = openSync(errFile, 'w');
      try {
        const result = spawnSync(wrapper, args, {
          cwd: options.cwd ?? dir,
          timeout: options.timeoutMs ?? 60_000,
          env: { ...process.env, ...options.env },
          // fds beyond 2 are the caller's fds 3, 4, ... (--preserve-fds, LISTEN_FDS).
          stdio: [options.input !== undefined ? 'pipe' : 'ignore', out, err, ...(options.fds ?? [])],
          ...(options.input !== undefined ? { input: options.input } : {}),
        });
        return { code: result.status, stdout: readFileSync(outFile, 'utf8'), stderr: readFileSync(errFile, 'utf8') };
      } finally {
        closeSync(out);
        closeSync(err);
      }
    },
  };
}

/** A bundle with runc's example config, made to run `args` on the shared rootfs. */
/** config.json as tests edit it (loosely typed on purpose: tests write bad input too). */
// biome-ignore lint/suspicious/noExplicitAny: a test edits arbitrary fields of config.json
export type BundleConfig = Record<string, any>;

export function makeBundle(harness: RuncHarness, name: string, args: string[], edit: (config: BundleConfig) => void = () => undefined): string {
  const bundle = join(harness.dir, name);
  mkdirSync(bundle, { recursive: true });
  const made = harness.run(['spec', '--bundle', bundle]);
  if (made.code !== 0) throw new Error(`nsbox-runc spec failed: ${made.stderr}`);
  const file = join(bundle, 'config.json');
  const config = JSON.parse(readFileSync(file, 'utf8')) as BundleConfig;
  config.root = { path: harness.rootfs, readonly: true };
  config.process.terminal = false;
  config.process.args = args;
  edit(config);
  writeFileSync(file, JSON.stringify(config, null, 2));
  return bundle;
}

export function cleanupBundle(harness: RuncHarness, ids: string[]): void {
  for (const id of ids) harness.run(['delete', '--force', id]);
  // Before its pid file goes with the directory: else the server lingers until its idle timeout.
  stopServer(harness.root);
  rmSync(harness.dir, { recursive: true, force: true });
}

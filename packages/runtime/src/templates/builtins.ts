/**
 * Built-in templates, built once into the cache (the OpenVZ template-cache habit): each box
 * then gets a copy. A build happens in a private work directory and is renamed into place
 * whole, so the cache never holds half a template — not after a cancel, nor after a crash
 * (a dead process's work directory is removed by the next build).
 */

import { chmodSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildBusyboxRootfs } from './busybox-rootfs.js';
import { buildDebianRootfs } from './debian.js';
import { cancelledError } from './run-command.js';
import { removeStaleWork, removeTree, workDirName } from './tree-ops.js';
import type { ProgressSink } from './types.js';

interface Builtin {
  description: string;
  build(dir: string, options: { signal: AbortSignal; onProgress: ProgressSink }): Promise<void>;
}

const BUILTINS: Record<string, Builtin> = {
  busybox: {
    description: "BusyBox from Debian's busybox-static: a shell and the basic tools, with busybox init (seconds to build)",
    build: async (dir) => {
      buildBusyboxRootfs(dir);
    },
  },
  'debian-12': {
    description: 'Debian 12 (bookworm) from deb.debian.org that boots systemd, made with debootstrap (minutes to build, once)',
    build: (dir, options) => buildDebianRootfs(dir, options),
  },
  'debian-12-ssh': {
    description: "debian-12 with openssh-server (host keys made at each box's first boot)",
    build: (dir, options) => buildDebianRootfs(dir, { ...options, ssh: true }),
  },
};

export const builtinTemplates: string[] = Object.keys(BUILTINS);

export function isBuiltin(name: string): boolean {
  return Object.hasOwn(BUILTINS, name);
}

export function listTemplates(cacheDir: string): { name: string; kind: 'builtin'; cached: boolean; description: string }[] {
  return builtinTemplates.map((name) => ({ name, kind: 'builtin', cached: existsSync(join(cacheDir, name)), description: BUILTINS[name]!.description }));
}

interface Build {
  promise: Promise<string>;
  controller: AbortController;
  sinks: Set<ProgressSink>;
  waiters: number;
}

/** Builds in progress in this process, by cache path: concurrent boxes from one template share one build. */
const builds = new Map<string, Build>();

/** The cached built-in's directory, building it first when needed. */
export async function cachedBuiltin(name: string, cacheDir: string, options: { signal?: AbortSignal | undefined; onProgress: ProgressSink }): Promise<string> {
  const dir = join(cacheDir, name);
  if (existsSync(dir)) return dir;
  const key = resolve(dir);
  let build = builds.get(key);
  if (!build) {
    const controller = new AbortController();
    const sinks = new Set<ProgressSink>();
    const started: Build = {
      controller,
      sinks,
      waiters: 0,
      promise: runBuild(name, cacheDir, dir, controller.signal, (progress) => {
        for (const sink of sinks) sink(progress);
      }),
    };
    started.promise
      .finally(() => {
        if (builds.get(key) === started) builds.delete(key);
      })
      .catch(() => undefined);
    builds.set(key, started);
    build = started;
  }
  return waitFor(key, build, options);
}

/**
 * Waits for a shared build. A waiter whose signal fires leaves at once; when the last one
 * leaves, the build is cancelled and that waiter returns only after its cleanup, so that a
 * cancelled caller finds nothing of it left in the cache.
 */
async function waitFor(key: string, build: Build, options: { signal?: AbortSignal | undefined; onProgress: ProgressSink }): Promise<string> {
  const { signal, onProgress } = options;
  build.waiters += 1;
  build.sinks.add(onProgress);
  let left = false;
  const leave = () => {
    if (left) return;
    left = true;
    build.waiters -= 1;
    build.sinks.delete(onProgress);
  };
  try {
    if (!signal) return await build.promise;
    return await new Promise<string>((resolvePromise, reject) => {
      const onAbort = () => {
        leave();
        const error = cancelledError(`building the template at ${key}`, signal.reason);
        if (build.waiters > 0) return reject(error);
        if (builds.get(key) === build) builds.delete(key);
        build.controller.abort(signal.reason);
        build.promise.then(
          () => reject(error),
          () => reject(error),
        );
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      build.promise.then(resolvePromise, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  } finally {
    leave();
  }
}

async function runBuild(name: string, cacheDir: string, dir: string, signal: AbortSignal, emit: ProgressSink): Promise<string> {
  mkdirSync(cacheDir, { recursive: true });
  await removeStaleWork(cacheDir);
  const work = join(cacheDir, workDirName(`build-${name}`));
  mkdirSync(work);
  chmodSync(work, 0o755);
  try {
    emit({ step: 'build', percent: 0, message: `building the ${name} template (once: later boxes copy it)` });
    await BUILTINS[name]!.build(work, { signal, onProgress: emit });
    if (signal.aborted) throw cancelledError(`building the ${name} template`, signal.reason);
    try {
      renameSync(work, dir);
    } catch (error) {
      // Another process finished the same build first: its copy is as good as ours.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      await removeTree(work);
    }
    emit({ step: 'build', percent: 100, message: `the ${name} template is cached in ${dir}` });
    return dir;
  } catch (error) {
    await removeTree(work).catch(() => undefined);
    throw error;
  }
}

/**
 * One nsbox-runc state root (--root): an nsbox host whose state dir is the root, with the
 * OCI box driver and whatever plugins are installed. A resident server keeps one open per
 * root; every command of every caller goes through it.
 */

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AnyPlugin, type Box, boxNameProblem, NsboxError } from '@nsbox/core';
import { type NsboxHost, openHost } from '@nsbox/host';
import { type CgroupPlacement, isSystemdCgroupsPath, OciCgroupDriver, parseCgroupsPath } from './box/cgroup-paths.js';
import { OciBoxDriver } from './box/oci-driver.js';
import { IdLocks } from './id-locks.js';

/** Annotations on the box config (not the OCI spec) that tie a box to its OCI container. */
export const OCI_ID_ANNOTATION = 'org.nsbox.oci.id';
export const CGROUPS_PATH_ANNOTATION = 'org.nsbox.oci.cgroups-path';

/**
 * Plugins that stay on for OCI boxes: they add what config.json leaves to the host (limits:
 * the admin's default pids limit, which config.json's own linux.resources overrides); every
 * other one is off, since config.json says what runs.
 */
export const TRANSLATOR_PLUGINS = ['limits'];

export const DEFAULT_ROOT = '/run/nsbox-runc';
export const DEFAULT_CGROUP_PARENT = 'nsbox-runc';

const OCI_ID = /^[\w+.-]+$/;

/** runc accepts ids of letters, digits, _ + - . */
export function checkId(id: string): void {
  if (!OCI_ID.test(id) || id === '.' || id === '..' || id.length > 1024) {
    throw new NsboxError('E_INVALID_ARGUMENT', `invalid container id '${id}': use letters, digits and _+-.`, { details: { field: 'id' } });
  }
}

/** The box name of an OCI id: the id itself when it is a valid box name, else a digest. */
export function boxNameFor(id: string): string {
  if (!boxNameProblem(id) && !id.startsWith('oci-')) return id;
  return `oci-${createHash('sha256').update(id).digest('hex').slice(0, 32)}`;
}

/** The package root, from src/ (tests) or dist/ (built). */
export function packageRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
  return dir;
}

export function nativePaths(root = packageRoot()): { front: string } {
  return { front: join(root, 'build', 'nsbox-runc') };
}

export interface OciRuntimeOptions {
  root: string;
  cgroupParent?: string;
  /** Tests load plugins explicitly; by default installed plugins are discovered. */
  discover?: boolean;
  plugins?: AnyPlugin[];
}

export class OciRuntime {
  readonly locks: IdLocks;
  private readonly placements = new Map<string, CgroupPlacement | null>();

  private constructor(
    readonly root: string,
    readonly host: NsboxHost,
    readonly driver: OciBoxDriver,
    readonly cgroups: OciCgroupDriver,
  ) {
    this.locks = new IdLocks(join(root, 'locks'));
  }

  static async open(options: OciRuntimeOptions): Promise<OciRuntime> {
    const parent = options.cgroupParent ?? process.env.NSBOX_CGROUP_PARENT ?? DEFAULT_CGROUP_PARENT;
    let runtime: OciRuntime | undefined;
    const cgroups = new OciCgroupDriver(parent, (name) => runtime?.placementOf(name));
    const driver = new OciBoxDriver({ stateDir: options.root, cgroups });
    const host = await openHost({
      stateDir: options.root,
      discover: options.discover ?? true,
      ...(options.plugins ? { plugins: options.plugins } : {}),
      driver,
    });
    runtime = new OciRuntime(options.root, host, driver, cgroups);
    await cgroups.ensureParent();
    await host.manager.reconcile();
    return runtime;
  }

  get manager() {
    return this.host.manager;
  }

  /** Plugins an OCI box turns off: config.json says what runs, translators only carry it out. */
  disabledPlugins(): string[] {
    return this.host.plugins.plugins.map((plugin) => plugin.definition.name).filter((name) => !TRANSLATOR_PLUGINS.includes(name));
  }

  /** Where config.json put a box's cgroup (by box id); null: the default parent. */
  private placementOf(name: string): CgroupPlacement | undefined {
    if (!this.placements.has(name)) {
      const box = this.host.store.find(name);
      const path = box?.config.annotations?.[CGROUPS_PATH_ANNOTATION];
      if (!box) return undefined; // not cached: the box may be inserted later
      this.placements.set(name, path ? parseCgroupsPath(path, this.cgroups.parent, { systemd: isSystemdCgroupsPath(path) }) : null);
    }
    return this.placements.get(name) ?? undefined;
  }

  forget(box: Pick<Box, 'id'>): void {
    this.placements.delete(box.id);
  }

  /** The box of an OCI id, or undefined. */
  find(id: string): Box | undefined {
    const box = this.host.store.find(boxNameFor(id));
    if (!box || box.config.annotations?.[OCI_ID_ANNOTATION] !== id) return undefined;
    return box;
  }

  /** The box of an OCI id, synced with its init; runc's 'container does not exist' otherwise. */
  async get(id: string): Promise<Box> {
    checkId(id);
    const box = this.find(id);
    if (!box) throw new NsboxError('E_NOT_FOUND', `container ${id} does not exist`, { details: { id } });
    return this.manager.sync(box.id);
  }

  close(): void {
    this.host.close();
  }
}

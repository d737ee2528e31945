/**
 * `linux.cgroupsPath` honoured without a second cgroup implementation: the runtime and the
 * plugins (limits) address a box's cgroup by its box id, and this driver maps that id to
 * the path config.json asked for (podman: /libpod_parent/libpod-<id>), then hands the work
 * to the runtime's own driver for that parent. Boxes without a cgroupsPath live under the
 * default parent, named by their id, exactly as `nsbox` boxes do.
 */

import { posix } from 'node:path';
import { NsboxError } from '@nsbox/core';
import { type BoxCgroup, CGROUP_ROOT_PARENT, type CgroupDriver, type CgroupLayout, createCgroupDriver, type KillOptions } from '@nsbox/runtime';

export interface CgroupPlacement {
  parent: string;
  leaf: string;
}

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.@:+-]{0,199}$/;

/**
 * '/a/b/leaf' → parent 'a/b', leaf 'leaf' (relative to the cgroup roots); a relative path is
 * placed under the default parent. systemd's 'slice:prefix:name' needs --systemd-cgroup,
 * which is refused.
 */
export function parseCgroupsPath(path: string, defaultParent: string): CgroupPlacement {
  const field = { details: { field: 'linux.cgroupsPath' } };
  if (/^[^/]*:[^/]*:[^/]*$/.test(path)) {
    throw new NsboxError('E_UNSUPPORTED', `linux.cgroupsPath '${path}' is a systemd path (slice:prefix:name); nsbox-runc manages cgroupfs paths only`, field);
  }
  const absolute = path.startsWith('/');
  const segments = posix.normalize(path).split('/').filter(Boolean);
  if (segments.some((segment) => !SEGMENT.test(segment)) || segments.length === 0) {
    throw new NsboxError('E_INVALID_CONFIG', `linux.cgroupsPath '${path}' must be a path of plain names (letters, digits, _.@:+-)`, field);
  }
  const leaf = segments.pop() as string;
  // '/cgrouptest': right below the cgroup mount points, as the runtime spec words an absolute path.
  if (absolute && segments.length === 0) return { parent: CGROUP_ROOT_PARENT, leaf };
  const parent = absolute ? segments.join('/') : [defaultParent, ...segments].join('/');
  return { parent, leaf };
}

export class OciCgroupDriver implements CgroupDriver {
  private readonly drivers = new Map<string, CgroupDriver>();
  private readonly fallback: CgroupDriver;

  /** `placementOf(boxId)`: where config.json put that box; undefined → default parent, by id. */
  constructor(
    readonly parent: string,
    private readonly placementOf: (name: string) => CgroupPlacement | undefined,
    fallback?: CgroupDriver,
  ) {
    this.fallback = fallback ?? createCgroupDriver({ parent });
    this.drivers.set(parent, this.fallback);
  }

  /**
   * Makes the default parent exist (a probe cgroup made and removed: the parent stays).
   * Plugins read controller defaults there (limits: the parent's cpuset for a v1 box).
   */
  async ensureParent(): Promise<void> {
    const probe = `nsbox-runc-probe-${process.pid}`;
    this.fallback.create(probe);
    await this.fallback.remove(probe);
  }

  get layout(): CgroupLayout {
    return this.fallback.layout;
  }

  private target(name: string): { driver: CgroupDriver; leaf: string } {
    const placement = this.placementOf(name);
    if (!placement) return { driver: this.fallback, leaf: name };
    let driver = this.drivers.get(placement.parent);
    if (!driver) {
      driver = createCgroupDriver({ parent: placement.parent, layout: this.fallback.layout });
      this.drivers.set(placement.parent, driver);
    }
    return { driver, leaf: placement.leaf };
  }

  /** The host-relative path of a box's cgroup (for `state` and the cgroup mount). */
  pathOf(name: string): string {
    const placement = this.placementOf(name);
    return placement ? posix.join('/', placement.parent, placement.leaf) : `/${this.parent}/${name}`;
  }

  create(name: string): BoxCgroup {
    const { driver, leaf } = this.target(name);
    return { ...driver.create(leaf), name };
  }

  get(name: string): BoxCgroup | undefined {
    const { driver, leaf } = this.target(name);
    const cgroup = driver.get(leaf);
    return cgroup ? { ...cgroup, name } : undefined;
  }

  /** Boxes under the default parent by id; mapped ones are reported by their owners (the store). */
  list(): string[] {
    return this.fallback.list();
  }

  pids(name: string): number[] {
    const { driver, leaf } = this.target(name);
    return driver.pids(leaf);
  }

  isPopulated(name: string): boolean {
    const { driver, leaf } = this.target(name);
    return driver.isPopulated(leaf);
  }

  freeze(name: string): Promise<void> {
    const { driver, leaf } = this.target(name);
    return driver.freeze(leaf);
  }

  thaw(name: string): Promise<void> {
    const { driver, leaf } = this.target(name);
    return driver.thaw(leaf);
  }

  kill(name: string, options?: KillOptions): Promise<void> {
    const { driver, leaf } = this.target(name);
    return driver.kill(leaf, options);
  }

  remove(name: string, options?: KillOptions): Promise<void> {
    const { driver, leaf } = this.target(name);
    return driver.remove(leaf, options);
  }

  /** Only the default parent is ours to remove; a parent config.json named may be shared. */
  removeParent(): void {
    this.fallback.removeParent();
  }

  read(name: string, controller: string, file: string): string {
    const { driver, leaf } = this.target(name);
    return driver.read(leaf, controller, file);
  }

  write(name: string, controller: string, file: string, value: string): void {
    const { driver, leaf } = this.target(name);
    driver.write(leaf, controller, file, value);
  }
}

/**
 * `linux.cgroupsPath` honoured without a second cgroup implementation: the runtime and the
 * plugins (limits) address a box's cgroup by its box id, and this driver maps that id to
 * the path config.json asked for (podman: /libpod_parent/libpod-<id>), then hands the work
 * to the runtime's own driver for that parent. Boxes without a cgroupsPath live under the
 * default parent, named by their id, exactly as `nsbox` boxes do.
 */

import { posix } from 'node:path';
import { NsboxError } from '@nsbox/core';
import {
  type BoxCgroup,
  busctlCall,
  CGROUP_ROOT_PARENT,
  type CgroupDriver,
  type CgroupLayout,
  createCgroupDriver,
  type KillOptions,
  prefixedScopeUnits,
  SystemdDriver,
  systemdIsInit,
} from '@nsbox/runtime';

export interface CgroupPlacement {
  parent: string;
  leaf: string;
  /** --systemd-cgroup's 'slice:prefix:name': the box is the scope 'prefix-name.scope' in that slice. */
  systemd?: { slice: string; prefix: string };
}

export interface CgroupsPathOptions {
  /** runc's --systemd-cgroup: cgroupsPath is 'slice:prefix:name', a systemd scope. */
  systemd?: boolean;
}

const SYSTEMD_PATH = /^([^/:]*):([^/:]*):([^/:]+)$/;

/** A cgroupsPath in systemd's form (slice:prefix:name), which only --systemd-cgroup accepts. */
export function isSystemdCgroupsPath(path: string): boolean {
  return SYSTEMD_PATH.test(path);
}

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.@:+-]{0,199}$/;

/**
 * '/a/b/leaf' → parent 'a/b', leaf 'leaf' (relative to the cgroup roots); a relative path is
 * placed under the default parent. With --systemd-cgroup, as runc, the path is systemd's
 * 'slice:prefix:name' instead: scope 'prefix-name.scope' in the slice (system.slice if empty).
 */
export function parseCgroupsPath(path: string, defaultParent: string, options: CgroupsPathOptions = {}): CgroupPlacement {
  const field = { details: { field: 'linux.cgroupsPath' } };
  const systemd = SYSTEMD_PATH.exec(path);
  if (options.systemd) {
    if (!systemd) throw new NsboxError('E_INVALID_CONFIG', `linux.cgroupsPath '${path}': with --systemd-cgroup it must be slice:prefix:name`, field);
    const [, slice = '', prefix = '', leaf = ''] = systemd;
    if (![slice, prefix, leaf].every((part) => part === '' || SEGMENT.test(part)) || (slice !== '' && !slice.endsWith('.slice'))) {
      throw new NsboxError('E_INVALID_CONFIG', `linux.cgroupsPath '${path}': slice:prefix:name needs a slice unit (name.slice) and plain names`, field);
    }
    return { parent: `systemd:${slice}:${prefix}`, leaf, systemd: { slice, prefix } };
  }
  if (systemd) {
    throw new NsboxError('E_UNSUPPORTED', `linux.cgroupsPath '${path}' is a systemd path (slice:prefix:name): it needs --systemd-cgroup`, field);
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
    // runc's default, cgroupfs paths: only a --systemd-cgroup path (slice:prefix:name) makes a scope.
    this.fallback = fallback ?? createCgroupDriver({ parent, manager: 'cgroupfs' });
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
      driver = placement.systemd
        ? systemdScopes(this.fallback.layout, placement.parent, placement.systemd)
        : createCgroupDriver({ parent: placement.parent, layout: this.fallback.layout });
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

  exists(name: string): boolean {
    const { driver, leaf } = this.target(name);
    return driver.exists(leaf);
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

/** Whether this host can make --systemd-cgroup's scopes: systemd is PID 1 and cgroup2 is all there is. */
export function systemdCgroupSupported(layout: CgroupLayout): boolean {
  return layout.kind === 'v2' && systemdIsInit();
}

/** Refuses --systemd-cgroup where systemd cannot make the scope (checked before anything is made). */
export function assertSystemdCgroupSupported(layout: CgroupLayout): void {
  if (!systemdCgroupSupported(layout)) {
    throw new NsboxError(
      'E_UNSUPPORTED',
      `--systemd-cgroup needs systemd as PID 1 on a pure cgroup2 host (this host: ${layout.kind}, PID 1 ${systemdIsInit() ? 'is' : 'is not'} systemd)`,
      {
        details: { field: '--systemd-cgroup', layout: layout.kind },
      },
    );
  }
}

/** The scopes of --systemd-cgroup boxes of one slice and prefix, made through systemd itself. */
function systemdScopes(layout: CgroupLayout, key: string, placement: { slice: string; prefix: string }): CgroupDriver {
  assertSystemdCgroupSupported(layout);
  return new SystemdDriver(layout, key, busctlCall, prefixedScopeUnits(placement.slice, placement.prefix));
}

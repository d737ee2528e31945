/**
 * What this plugin uses of the runtime, as the runtime publishes it to plugins
 * (RuntimeTokens in @nsbox/runtime). Declared here by shape, as any third-party plugin
 * would, so the plugin imports nothing but @nsbox/core.
 */

import type { Box } from '@nsbox/core';

/** RuntimeTokens.CgroupDriver and RuntimeTokens.LinuxBoxDriver: Symbol.for keys, shared by every copy. */
export const RuntimeServices = {
  CgroupDriver: Symbol.for('nsbox.runtime.cgroupDriver'),
  LinuxBoxDriver: Symbol.for('nsbox.runtime.linuxBoxDriver'),
} as const;

export interface CgroupLayoutView {
  kind: 'v1' | 'v2' | 'hybrid';
  /** v1 controller → mount point. */
  v1: Record<string, string>;
  /** The cgroup2 mount, when there is one. */
  unified?: string;
  unifiedControllers: string[];
}

export interface BoxCgroupView {
  v1Dirs: Record<string, string>;
  unifiedDir?: string;
}

/** The runtime's CgroupDriver, as far as limits goes. */
export interface CgroupAccess {
  readonly layout: CgroupLayoutView;
  readonly parent: string;
  create(name: string): BoxCgroupView;
  get(name: string): BoxCgroupView | undefined;
  pids(name: string): number[];
  remove(name: string): Promise<void>;
  read(name: string, controller: string, file: string): string;
  write(name: string, controller: string, file: string, value: string): void;
}

/** The runtime's LinuxBoxDriver, as far as limits goes: where a box keeps its files. */
export interface BoxDriverAccess {
  readonly stateDir: string;
  files(box: Pick<Box, 'id'>): { dir: string };
}

/** What the Linux driver records on a box (Box.runtime) that limits reads. */
export interface RuntimeFactsView {
  rootfs?: string;
  ownsRootfs?: boolean;
  init?: { pid: number };
}

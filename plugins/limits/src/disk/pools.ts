/**
 * Pools: named directories where box images live (`nsbox pool create NAME --path DIR`).
 * Kept in the plugin state, so every process of the host agrees; 'default' lives under the
 * state directory unless an admin points it elsewhere.
 */

import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CoreTokens, inject, injectable, NsboxError, optional, type PluginStateStore } from '@nsbox/core';
import { type BoxFilesService, runtimeRefs } from '@nsbox/runtime-api';
import { space } from './system.js';

const NAMESPACE = 'limits.pools';
export const DEFAULT_POOL = 'default';

export interface Pool {
  name: string;
  path: string;
}

export interface PoolInfo extends Pool {
  images: number;
  imageBytes: number;
  free: number | null;
}

@injectable()
export class Pools {
  constructor(
    @inject(CoreTokens.PluginState) private readonly state: PluginStateStore,
    @inject(runtimeRefs.boxFiles.token) @optional() private readonly driver: BoxFilesService | undefined,
  ) {}

  private defaultPath(): string {
    if (!this.driver) throw new NsboxError('E_UNSUPPORTED', 'disk limits need the Linux box driver');
    return join(this.driver.stateDir, 'pools', DEFAULT_POOL);
  }

  get(name: string): Pool {
    const stored = this.state.get(NAMESPACE, name);
    if (stored !== undefined) return { name, path: (JSON.parse(stored) as { path: string }).path };
    if (name === DEFAULT_POOL) return { name, path: this.defaultPath() };
    throw new NsboxError('E_NOT_FOUND', `no pool named '${name}' (create it with: nsbox pool create ${name} --path DIR)`, { details: { pool: name } });
  }

  list(): PoolInfo[] {
    const names = new Set([DEFAULT_POOL, ...this.state.list(NAMESPACE).map((entry) => entry.key)]);
    return [...names].sort().map((name) => this.describe(this.get(name)));
  }

  describe(pool: Pool): PoolInfo {
    const images = imagesIn(pool.path);
    let free: number | null = null;
    try {
      free = space(pool.path).available;
    } catch {
      // not made yet: the first image makes it
    }
    return { ...pool, images: images.length, imageBytes: images.reduce((sum, image) => sum + image.bytes, 0), free };
  }

  /** Creates (or moves, while empty) a pool; the directory is made if missing. */
  create(name: string, path: string): PoolInfo {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) {
      throw new NsboxError('E_INVALID_ARGUMENT', `'${name}' is not a pool name: use lowercase letters, digits and -`, { details: { pool: name } });
    }
    const target = resolve(path);
    let existing: Pool | undefined;
    try {
      existing = this.get(name);
    } catch {
      existing = undefined;
    }
    if (existing && existing.path !== target && imagesIn(existing.path).length > 0) {
      throw new NsboxError('E_BUSY', `pool '${name}' at ${existing.path} holds box images: it cannot move to ${target}`, { details: { pool: name } });
    }
    try {
      mkdirSync(target, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new NsboxError('E_INVALID_ARGUMENT', `cannot make pool directory ${target}: ${(error as Error).message}`, {
        details: { pool: name, path: target },
      });
    }
    if (!statSync(target).isDirectory()) throw new NsboxError('E_INVALID_ARGUMENT', `${target} is not a directory`, { details: { pool: name, path: target } });
    this.state.set(NAMESPACE, name, JSON.stringify({ path: target }));
    return this.describe({ name, path: target });
  }

  remove(name: string): void {
    const pool = this.get(name);
    if (imagesIn(pool.path).length > 0)
      throw new NsboxError('E_BUSY', `pool '${name}' holds box images: destroy those boxes first`, { details: { pool: name } });
    this.state.delete(NAMESPACE, name);
  }
}

function imagesIn(dir: string): { name: string; bytes: number }[] {
  try {
    return readdirSync(dir)
      .filter((name) => name.endsWith('.img'))
      .map((name) => {
        const stat = statSync(join(dir, name));
        return { name, bytes: stat.blocks * 512 };
      });
  } catch {
    return [];
  }
}

/**
 * The template layer store, `<state-dir>/layers/<template key>/`: one read-only directory per
 * template version (`<version>/root`, with `<version>/layer.json`) and a `current` file naming
 * the version new boxes get. A version is made in a private work directory and renamed into
 * place whole, and `current` is replaced by a rename: a reader never sees half a layer.
 */

import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OperationContext } from '@nsbox/core';
import { removeTreeSync } from '@nsbox/native';
import type { TemplateLayer } from '@nsbox/runtime-api';
import { materializeTemplate } from '../templates/materialize.js';
import { removeTree } from '../templates/tree-ops.js';
import type { ImageConfig } from '../templates/types.js';

/** A version as stored: the layer and the image config the template came with. */
export interface StoredLayer extends TemplateLayer {
  config?: ImageConfig;
}

const WORK_PREFIX = '.work-';

/** A directory name for a template: readable, and unique by a hash of the full name. */
export function templateKey(template: string): string {
  const readable =
    template
      .replace(/[^A-Za-z0-9._-]+/g, '_')
      .replace(/^[_.]+/, '')
      .slice(-40) || 'template';
  return `${readable}-${createHash('sha256').update(template).digest('hex').slice(0, 12)}`;
}

/** Sortable by time made: 20261207T081234123Z-3f9a. */
function newVersion(now: number): string {
  return `${new Date(now).toISOString().replace(/[-:.]/g, '')}-${randomBytes(2).toString('hex')}`;
}

export class LayerStore {
  constructor(
    readonly dir: string,
    private readonly cacheDir: string,
  ) {}

  private templateDir(template: string): string {
    return join(this.dir, templateKey(template));
  }

  /** The version new boxes get, if the template has one yet. */
  current(template: string): StoredLayer | undefined {
    const file = join(this.templateDir(template), 'current');
    if (!existsSync(file)) return undefined;
    return this.read(template, readFileSync(file, 'utf8').trim());
  }

  read(template: string, version: string): StoredLayer | undefined {
    const file = join(this.templateDir(template), version, 'layer.json');
    if (!existsSync(file)) return undefined;
    return JSON.parse(readFileSync(file, 'utf8')) as StoredLayer;
  }

  /** Every stored version, oldest first within a template. */
  list(): (StoredLayer & { current: boolean })[] {
    if (!existsSync(this.dir)) return [];
    const layers: (StoredLayer & { current: boolean })[] = [];
    for (const key of readdirSync(this.dir).sort()) {
      const dir = join(this.dir, key);
      const currentFile = join(dir, 'current');
      const current = existsSync(currentFile) ? readFileSync(currentFile, 'utf8').trim() : undefined;
      for (const version of readdirSync(dir).sort()) {
        const meta = join(dir, version, 'layer.json');
        if (version.startsWith(WORK_PREFIX) || !existsSync(meta)) continue;
        const layer = JSON.parse(readFileSync(meta, 'utf8')) as StoredLayer;
        layers.push({ ...layer, current: version === current });
      }
    }
    return layers;
  }

  /**
   * Makes a new version of the template from what it is now and makes it current. The
   * template's own checks (a path that does not exist, a bad archive) fail it with nothing left.
   */
  async make(template: string, context?: OperationContext): Promise<StoredLayer> {
    const dir = this.templateDir(template);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const now = Date.now();
    const version = newVersion(now);
    const work = join(dir, `${WORK_PREFIX}${version}`);
    mkdirSync(work, { mode: 0o755 });
    try {
      const made = await materializeTemplate(template, join(work, 'root'), {
        cacheDir: this.cacheDir,
        ...(context ? { signal: context.signal, onProgress: (progress) => context.progress(progress) } : {}),
      });
      const layer: StoredLayer = {
        template,
        version,
        dir: join(dir, version, 'root'),
        madeAt: now,
        bytes: diskUse(join(work, 'root')),
        ...(made.config ? { config: made.config } : {}),
      };
      writeFileSync(join(work, 'layer.json'), `${JSON.stringify(layer, null, 2)}\n`);
      renameSync(work, join(dir, version));
      const pointer = join(dir, `current.${process.pid}.${randomBytes(3).toString('hex')}`);
      writeFileSync(pointer, `${version}\n`);
      renameSync(pointer, join(dir, 'current'));
      return layer;
    } catch (error) {
      await removeTree(work).catch(() => undefined);
      throw error;
    }
  }

  /** Removes one version (never the current one: the caller checked no box uses it). */
  remove(layer: TemplateLayer): void {
    const dir = join(this.templateDir(layer.template), layer.version);
    if (existsSync(dir)) removeTreeSync(dir);
  }
}

/** Bytes the tree takes on disk (du -x: never across a mount). */
export function diskUse(dir: string): number {
  return Number(execFileSync('du', ['-s', '-B1', '-x', dir], { encoding: 'utf8' }).split(/\s/)[0]);
}

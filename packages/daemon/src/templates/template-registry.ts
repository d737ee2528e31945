/**
 * Templates a panel can pick by name: the runtime's built-ins (busybox, debian-12; cached
 * after their first build) and templates imported through the API (a rootfs tarball, a
 * directory, an OCI image or a save archive), unpacked once into <state-dir>/images/<name>
 * and copied into each box made from them.
 *
 * An import works in a private directory renamed into place whole, so a crash leaves a
 * work directory (removed at the next start) and never half a template.
 */

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { NsboxError } from '@nsbox/core';
import { builtinTemplates, type ImageConfig, listTemplates, materializeTemplate, type TemplateProgress } from '@nsbox/runtime';
import type Database from 'better-sqlite3';

export interface TemplateInfo {
  name: string;
  kind: 'builtin' | 'imported';
  /** Built-ins: whether the cache holds it already (the first box waits for the build otherwise). */
  cached: boolean;
  description: string;
  source?: string;
  path?: string;
  createdAt?: number;
}

interface TemplateRow {
  name: string;
  source: string;
  kind: string;
  path: string;
  image: string | null;
  created_at: number;
}

const WORK_PREFIX = '.import-';

export class TemplateRegistry {
  readonly imagesDir: string;
  readonly cacheDir: string;

  constructor(
    private readonly db: Database.Database,
    stateDir: string,
    private readonly clock: () => number = Date.now,
  ) {
    this.imagesDir = join(stateDir, 'images');
    this.cacheDir = join(stateDir, 'templates');
  }

  list(): TemplateInfo[] {
    const builtins: TemplateInfo[] = listTemplates(this.cacheDir);
    const imported = (this.db.prepare('SELECT * FROM daemon_templates ORDER BY name').all() as TemplateRow[]).map(
      (row): TemplateInfo => ({
        name: row.name,
        kind: 'imported',
        cached: true,
        description: `imported from ${row.source} (${row.kind})`,
        source: row.source,
        path: row.path,
        createdAt: row.created_at,
      }),
    );
    return [...builtins, ...imported];
  }

  /** An imported template's rootfs directory and image config, by name. */
  find(name: string): { path: string; image: ImageConfig | undefined } | undefined {
    const row = this.db.prepare('SELECT * FROM daemon_templates WHERE name = ?').get(name) as TemplateRow | undefined;
    return row && { path: row.path, image: row.image ? (JSON.parse(row.image) as ImageConfig) : undefined };
  }

  isBuiltin(name: string): boolean {
    return builtinTemplates.includes(name);
  }

  assertFree(name: string): void {
    if (this.isBuiltin(name) || this.find(name)) {
      throw new NsboxError('E_ALREADY_EXISTS', `a template named '${name}' already exists`, { details: { field: 'name', template: name } });
    }
  }

  /**
   * Imports `source` as template `name`. A built-in's name as the source with no other name
   * builds that built-in's cache instead (so the first box of a debian-12 does not wait).
   */
  async import(name: string, source: string, options: { signal: AbortSignal; onProgress: (progress: TemplateProgress) => void }): Promise<TemplateInfo> {
    mkdirSync(this.imagesDir, { recursive: true, mode: 0o700 });
    const work = join(this.imagesDir, `${WORK_PREFIX}${randomBytes(6).toString('hex')}`);
    try {
      const made = await materializeTemplate(source, join(work, 'rootfs'), { cacheDir: this.cacheDir, signal: options.signal, onProgress: options.onProgress });
      if (name === source && this.isBuiltin(source)) {
        rmSync(work, { recursive: true, force: true });
        return this.list().find((template) => template.name === source) as TemplateInfo;
      }
      this.assertFree(name);
      const target = join(this.imagesDir, name);
      rmSync(target, { recursive: true, force: true });
      renameSync(work, target);
      this.db
        .prepare('INSERT INTO daemon_templates (name, source, kind, path, image, created_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(name, source, made.kind, join(target, 'rootfs'), made.config ? JSON.stringify(made.config) : null, this.clock());
      return this.list().find((template) => template.name === name) as TemplateInfo;
    } catch (error) {
      rmSync(work, { recursive: true, force: true });
      throw error;
    }
  }

  remove(name: string): void {
    const found = this.find(name);
    if (!found) {
      if (this.isBuiltin(name))
        throw new NsboxError('E_INVALID_ARGUMENT', `'${name}' is a built-in template: it cannot be removed`, { details: { template: name } });
      throw new NsboxError('E_NOT_FOUND', `no template named '${name}'`, { details: { template: name } });
    }
    this.db.prepare('DELETE FROM daemon_templates WHERE name = ?').run(name);
    rmSync(join(this.imagesDir, name), { recursive: true, force: true });
  }

  /** Work directories of imports a crash interrupted, and directories no row names. */
  sweep(): string[] {
    if (!existsSync(this.imagesDir)) return [];
    const known = new Set((this.db.prepare('SELECT name FROM daemon_templates').all() as { name: string }[]).map((row) => row.name));
    const removed: string[] = [];
    for (const entry of readdirSync(this.imagesDir)) {
      if (known.has(entry)) continue;
      rmSync(join(this.imagesDir, entry), { recursive: true, force: true });
      removed.push(entry);
    }
    return removed;
  }
}

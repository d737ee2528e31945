/**
 * Templates a panel can pick by name: the runtime's built-ins (busybox, debian-12; cached
 * after their first build) and templates imported through the API (a rootfs tarball, a
 * directory, an OCI image or a save archive), unpacked once into <state-dir>/images/<name>
 * and copied into each box made from them.
 *
 * An import works in a private directory renamed into place whole, so a crash leaves a
 * work directory (removed at the next start) and never half a template.
 *
 * An imported template belongs to a tenant (or to the host admin: owner null) and may be shared
 * with every tenant. A tenant sees and uses the built-ins, the shared templates and its own;
 * another tenant's template is not found, as if it did not exist.
 */

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { NsboxError } from '@nsbox/core';
import {
  builtinTemplates,
  type ImageConfig,
  listTemplates,
  MountBelowError,
  materializeTemplate,
  removeTree,
  removeTreeSync,
  type TemplateProgress,
} from '@nsbox/runtime';
import type Database from 'better-sqlite3';

export interface TemplateInfo {
  name: string;
  kind: 'builtin' | 'imported';
  /** Built-ins: whether the cache holds it already (the first box waits for the build otherwise). */
  cached: boolean;
  description: string;
  source?: string;
  path?: string;
  /** Imported: the tenant it belongs to (null: the host admin's). */
  owner?: string | null;
  /** Imported: whether every tenant may see and use it. */
  shared?: boolean;
  createdAt?: number;
}

/** Who is asking: a tenant's name, or null for a host-wide token (sees every template). */
export type TemplateViewer = string | null;

interface TemplateRow {
  name: string;
  source: string;
  kind: string;
  path: string;
  image: string | null;
  owner: string | null;
  shared: number;
  created_at: number;
}

const visibleTo = (row: TemplateRow, viewer: TemplateViewer) => viewer === null || row.shared === 1 || row.owner === viewer;

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

  /** The templates `viewer` may use; a tenant's list carries no host paths (source, path). */
  list(viewer: TemplateViewer = null): TemplateInfo[] {
    const builtins: TemplateInfo[] = listTemplates(this.cacheDir);
    const rows = (this.db.prepare('SELECT * FROM daemon_templates ORDER BY name').all() as TemplateRow[]).filter((row) => visibleTo(row, viewer));
    const imported = rows.map(
      (row): TemplateInfo => ({
        name: row.name,
        kind: 'imported',
        cached: true,
        description: viewer === null ? `imported from ${row.source} (${row.kind})` : `imported (${row.kind})`,
        ...(viewer === null ? { source: row.source, path: row.path } : {}),
        owner: row.owner,
        shared: row.shared === 1,
        createdAt: row.created_at,
      }),
    );
    return [...builtins, ...imported];
  }

  /** An imported template's rootfs directory and image config, by name, if `viewer` may use it. */
  find(name: string, viewer: TemplateViewer = null): { path: string; image: ImageConfig | undefined } | undefined {
    const row = this.db.prepare('SELECT * FROM daemon_templates WHERE name = ?').get(name) as TemplateRow | undefined;
    if (!row || !visibleTo(row, viewer)) return undefined;
    return { path: row.path, image: row.image ? (JSON.parse(row.image) as ImageConfig) : undefined };
  }

  /** The name of the imported template whose rootfs is `path` (a box's stored config holds the path), if `viewer` may use it (null: any). */
  nameOf(path: string, viewer: TemplateViewer = null): string | undefined {
    const row = this.db.prepare('SELECT * FROM daemon_templates WHERE path = ?').get(path) as TemplateRow | undefined;
    return row && visibleTo(row, viewer) ? row.name : undefined;
  }

  isBuiltin(name: string): boolean {
    return builtinTemplates.includes(name);
  }

  assertFree(name: string): void {
    if (this.isBuiltin(name) || this.db.prepare('SELECT 1 FROM daemon_templates WHERE name = ?').get(name)) {
      throw new NsboxError('E_ALREADY_EXISTS', `a template named '${name}' already exists`, { details: { field: 'name', template: name } });
    }
  }

  /**
   * Imports `source` as template `name`. A built-in's name as the source with no other name
   * builds that built-in's cache instead (so the first box of a debian-12 does not wait).
   */
  async import(
    name: string,
    source: string,
    options: { signal: AbortSignal; onProgress: (progress: TemplateProgress) => void; owner?: string | null; shared?: boolean },
  ): Promise<TemplateInfo> {
    const owner = options.owner ?? null;
    // The host admin's own templates are for everyone; a tenant's only when the admin says so.
    const shared = options.shared ?? owner === null;
    mkdirSync(this.imagesDir, { recursive: true, mode: 0o700 });
    const work = join(this.imagesDir, `${WORK_PREFIX}${randomBytes(6).toString('hex')}`);
    try {
      const made = await materializeTemplate(source, join(work, 'rootfs'), { cacheDir: this.cacheDir, signal: options.signal, onProgress: options.onProgress });
      if (name === source && this.isBuiltin(source)) {
        await removeTree(work);
        return this.list().find((template) => template.name === source) as TemplateInfo;
      }
      this.assertFree(name);
      const target = join(this.imagesDir, name);
      removeTreeSync(target); // synchronous: nothing may run between assertFree and the insert
      renameSync(work, target);
      this.db
        .prepare('INSERT INTO daemon_templates (name, source, kind, path, image, owner, shared, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(name, source, made.kind, join(target, 'rootfs'), made.config ? JSON.stringify(made.config) : null, owner, shared ? 1 : 0, this.clock());
      return this.list().find((template) => template.name === name) as TemplateInfo;
    } catch (error) {
      await removeTree(work);
      throw error;
    }
  }

  /** Gives a template to a tenant (or to the host admin: null) and shares it, or not, with every tenant. */
  update(name: string, changes: { owner?: string | null; shared?: boolean }): TemplateInfo {
    if (!this.find(name, null)) throw new NsboxError('E_NOT_FOUND', `no imported template named '${name}'`, { details: { template: name, field: 'name' } });
    if (changes.owner !== undefined) this.db.prepare('UPDATE daemon_templates SET owner = ? WHERE name = ?').run(changes.owner, name);
    if (changes.shared !== undefined) this.db.prepare('UPDATE daemon_templates SET shared = ? WHERE name = ?').run(changes.shared ? 1 : 0, name);
    return this.list(null).find((template) => template.name === name) as TemplateInfo;
  }

  /** A removed tenant's templates go back to the host admin, unshared (a new tenant of that name gets none). */
  releaseTenant(tenant: string): void {
    this.db.prepare('UPDATE daemon_templates SET owner = NULL, shared = 0 WHERE owner = ?').run(tenant);
  }

  remove(name: string): void {
    const found = this.find(name, null);
    if (!found) {
      if (this.isBuiltin(name))
        throw new NsboxError('E_INVALID_ARGUMENT', `'${name}' is a built-in template: it cannot be removed`, { details: { template: name } });
      throw new NsboxError('E_NOT_FOUND', `no template named '${name}'`, { details: { template: name } });
    }
    this.db.prepare('DELETE FROM daemon_templates WHERE name = ?').run(name);
    removeTreeSync(join(this.imagesDir, name));
  }

  /** Work directories of imports a crash interrupted, and directories no row names. */
  sweep(): string[] {
    if (!existsSync(this.imagesDir)) return [];
    const known = new Set((this.db.prepare('SELECT name FROM daemon_templates').all() as { name: string }[]).map((row) => row.name));
    const removed: string[] = [];
    for (const entry of readdirSync(this.imagesDir)) {
      if (known.has(entry)) continue;
      try {
        removeTreeSync(join(this.imagesDir, entry));
      } catch (error) {
        if (error instanceof MountBelowError) continue; // something mounted there is not ours to delete through
        throw error;
      }
      removed.push(entry);
    }
    return removed;
  }
}

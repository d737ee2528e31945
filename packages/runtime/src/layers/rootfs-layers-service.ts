/**
 * The runtime's rootfs layers (runtime-api `RootfsLayers`): template layers in the layer
 * store, and each layered box's record (`<box dir>/layers.json`, made at `provision` before
 * the driver's create, removed with the box's directory).
 */

import { chmodSync, existsSync, lchownSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Box, NsboxError, type OperationContext } from '@nsbox/core';
import {
  type BoxLayers,
  type BoxLayersView,
  type DedupeOptions,
  type DedupeReport,
  OWN_UPPER,
  type RebasePlan,
  type RootfsLayers,
  runtimeFacts,
  type TemplateLayer,
} from '@nsbox/runtime-api';
import { apply, collectStore, type DedupeBox, plan, savings } from './dedupe.js';
import { tryLockLayers, withLayersLock } from './layer-lock.js';
import { LayerStore, type StoredLayer } from './layer-store.js';
import { overlayMountPoints } from './overlay-mount.js';
import { rebaseConflicts } from './rebase-conflicts.js';

const RECORD = 'layers.json';
/** The merged store of `nsbox dedupe`, in the layer store's directory (a name no template key takes). */
const MERGED_STORE = '.merged';

export interface RootfsLayersPaths {
  /** `<state-dir>/layers` */
  layersDir: string;
  /** `<state-dir>/templates`: where built-ins are built before a layer is made of them. */
  cacheDir: string;
  /** `<state-dir>/boxes` */
  boxesDir: string;
}

export class RootfsLayersService implements RootfsLayers {
  readonly store: LayerStore;
  /** First layers being made in this process, by template: concurrent creates share one. */
  private readonly making = new Map<string, Promise<StoredLayer>>();

  constructor(private readonly paths: RootfsLayersPaths) {
    this.store = new LayerStore(paths.layersDir, paths.cacheDir);
  }

  private boxDir(box: Pick<Box, 'id'>): string {
    return join(this.paths.boxesDir, box.id);
  }

  async templateLayer(template: string, context?: OperationContext): Promise<TemplateLayer> {
    const current = this.store.current(template);
    if (current) return current;
    return this.make(template, context);
  }

  async refresh(template: string, context?: OperationContext): Promise<TemplateLayer> {
    return this.make(template, context);
  }

  private make(template: string, context?: OperationContext): Promise<StoredLayer> {
    const pending = this.making.get(template);
    if (pending) return pending;
    const made = this.store.make(template, context).finally(() => this.making.delete(template));
    this.making.set(template, made);
    return made;
  }

  versions(): (TemplateLayer & { boxes: string[]; current: boolean })[] {
    const users = this.usersByDir();
    return this.store.list().map(({ config: _config, ...layer }) => ({ ...layer, boxes: users.get(layer.dir) ?? [] }));
  }

  prune(): TemplateLayer[] {
    const removed: TemplateLayer[] = [];
    for (const layer of this.versions()) {
      if (layer.current || layer.boxes.length > 0) continue;
      this.store.remove(layer);
      removed.push({ template: layer.template, version: layer.version, dir: layer.dir, madeAt: layer.madeAt, bytes: layer.bytes });
    }
    return removed;
  }

  use(box: Pick<Box, 'id' | 'name' | 'config'>, owner: string, lowers: TemplateLayer[]): BoxLayers {
    if (box.config.rootfs !== undefined) {
      throw new NsboxError('E_INVALID_CONFIG', `box '${box.name}' runs on a rootfs directory of the admin's: only a rootfs nsbox makes can be layered`, {
        details: { field: 'rootfs', box: box.name },
      });
    }
    if (lowers.length === 0) throw new NsboxError('E_INVALID_ARGUMENT', 'a layered rootfs needs at least one lower layer', { details: { field: 'lowers' } });
    for (const lower of lowers) {
      if (!existsSync(lower.dir) || !lstatSync(lower.dir).isDirectory()) {
        throw new NsboxError('E_NOT_FOUND', `layer ${lower.template}@${lower.version} has no directory at ${lower.dir}`, {
          details: { field: 'lowers', layer: lower.dir },
        });
      }
    }
    const dir = this.boxDir(box);
    if (existsSync(join(dir, 'rootfs'))) {
      throw new NsboxError('E_INVALID_STATE', `box '${box.name}' has a rootfs already: layers are chosen at provision, before it is made`, {
        details: { box: box.name },
      });
    }
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const record: BoxLayers = { owner, lowers: lowers.map(({ template, version, dir, madeAt, bytes }) => ({ template, version, dir, madeAt, bytes })) };
    writeFileSync(join(dir, RECORD), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
    return record;
  }

  rebase(box: Pick<Box, 'id' | 'name' | 'state' | 'runtime'>, lowers: TemplateLayer[], options: { dryRun?: boolean } = {}): RebasePlan {
    // Under the box's layer lock: a start or a dedupe meanwhile would see half a move.
    return this.whileLocked(box, () => this.rebaseLocked(box, lowers, options));
  }

  private rebaseLocked(box: Pick<Box, 'id' | 'name' | 'state' | 'runtime'>, lowers: TemplateLayer[], options: { dryRun?: boolean }): RebasePlan {
    const record = this.record(box);
    if (!record) throw new NsboxError('E_INVALID_STATE', `box '${box.name}' does not run on template layers`, { details: { box: box.name } });
    if (box.state === 'running' || box.state === 'paused' || overlayMountPoints(box.id).length > 0) {
      throw new NsboxError('E_INVALID_STATE', `box '${box.name}' is ${box.state}: stop it first, its layers change only while it is stopped`, {
        details: { box: box.name },
      });
    }
    if (lowers.length !== record.lowers.length) {
      throw new NsboxError('E_INVALID_ARGUMENT', `box '${box.name}' has ${record.lowers.length} layer(s), not ${lowers.length}`, {
        details: { field: 'lowers' },
      });
    }
    const upper = join(runtimeFacts(box).rootfs ?? join(this.boxDir(box), 'rootfs'), OWN_UPPER);
    if (!existsSync(upper)) {
      throw new NsboxError(
        'E_UNSUPPORTED',
        `the upper layer of box '${box.name}' lives in its disk image, which is not mounted while it is stopped: rebase it without a disk limit`,
        {
          details: { box: box.name },
        },
      );
    }
    // The box's changes are its upper and, after a dedupe, its merged layer.
    const own = [upper, ...(record.merged ? [record.merged] : [])];
    const conflicts = [
      ...new Set(own.flatMap((changes) => record.lowers.flatMap((lower, index) => rebaseConflicts(changes, lower.dir, (lowers[index] as TemplateLayer).dir)))),
    ].sort();
    const to = lowers.map(({ template, version, dir, madeAt, bytes }) => ({ template, version, dir, madeAt, bytes }));
    if (!options.dryRun) this.writeRecord(box, { ...record, lowers: to });
    return { from: record.lowers, to, conflicts, applied: !options.dryRun };
  }

  /** Replaces the box's record whole (a rename: a reader sees the old one or the new one). */
  private writeRecord(box: Pick<Box, 'id'>, record: BoxLayers): void {
    const file = join(this.boxDir(box), RECORD);
    writeFileSync(`${file}.tmp`, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  }

  /** Runs `work` holding the box's layer lock (a start's mount, against a dedupe); E_BUSY when a dedupe has it. */
  whileLocked<T>(box: Pick<Box, 'id' | 'name'>, work: () => T): T {
    return withLayersLock(this.boxDir(box), box.name, work);
  }

  dedupe(boxes: Pick<Box, 'id' | 'name' | 'state' | 'runtime'>[], options: DedupeOptions = {}): DedupeReport {
    const dryRun = options.dryRun === true;
    const minBytes = options.minBytes ?? 4096;
    const storeDir = join(this.paths.layersDir, MERGED_STORE);
    mkdirSync(storeDir, { recursive: true, mode: 0o700 });
    const run = dryRun ? { release() {} } : tryLockLayers(storeDir);
    if ('holder' in run) {
      throw new NsboxError('E_BUSY', `another nsbox dedupe is running (process ${run.holder})`, { details: { holder: run.holder } });
    }
    const locks: { release(): void }[] = [];
    try {
      if (!dryRun) collectStore(storeDir);
      const report: DedupeReport = { dryRun, files: 0, bytesSaved: 0, boxes: [] };
      const eligible: DedupeBox[] = [];
      for (const box of boxes) {
        const entry = { id: box.id, name: box.name, files: 0 };
        const skipped = this.dedupeSkip(box, storeDir, dryRun, locks);
        if (typeof skipped === 'string') report.boxes.push({ ...entry, skipped });
        else {
          eligible.push(skipped);
          report.boxes.push(entry);
        }
      }
      const merging = plan(eligible, storeDir, minBytes);
      if (dryRun) {
        for (const group of merging.groups) for (const member of group.members) this.countFile(report, member.box.id);
        report.bytesSaved = savings(merging.groups);
        return report;
      }
      for (const box of eligible) this.makeMergedRoot(box);
      const done = apply(merging, storeDir, (box) => {
        const record = this.record(box) as BoxLayers;
        if (record.merged !== box.mergedDir) this.writeRecord(box, { ...record, merged: box.mergedDir });
      });
      for (const [id, count] of done.moved) for (let i = 0; i < count; i += 1) this.countFile(report, id);
      report.bytesSaved = done.bytesSaved;
      return report;
    } finally {
      for (const lock of locks) lock.release();
      run.release();
    }
  }

  private countFile(report: DedupeReport, boxId: string): void {
    const entry = report.boxes.find((box) => box.id === boxId);
    if (entry) entry.files += 1;
    report.files += 1;
  }

  /** The box as dedupe takes it (locked, unless dry), or why it is left alone. */
  private dedupeSkip(box: Pick<Box, 'id' | 'name' | 'state' | 'runtime'>, storeDir: string, dryRun: boolean, locks: { release(): void }[]): DedupeBox | string {
    const record = this.record(box);
    if (!record?.lowers[0]) return 'not on shared template layers';
    if (box.state !== 'stopped' && box.state !== 'created') return `${box.state}: only a stopped box is deduplicated`;
    if (!dryRun) {
      const lock = tryLockLayers(this.boxDir(box));
      if ('holder' in lock) return `busy: process ${lock.holder} is changing its layers`;
      locks.push(lock);
    }
    if (overlayMountPoints(box.id).length > 0) return 'its overlay is mounted';
    const upper = join(runtimeFacts(box).rootfs ?? join(this.boxDir(box), 'rootfs'), OWN_UPPER);
    if (!existsSync(upper)) return 'its upper is in its disk image, a filesystem of its own that shares no block with another';
    const stat = lstatSync(upper);
    if (stat.dev !== lstatSync(storeDir).dev) return 'its upper is on another filesystem than the merged store';
    const top = lstatSync(record.lowers[0].dir);
    // A user-namespaced box's upper root is owned by its root's host ids (overlay-mount.ts): the box's base.
    return { id: box.id, name: box.name, upper, mergedDir: join(this.boxDir(box), 'merged'), base: { uid: stat.uid - top.uid, gid: stat.gid - top.gid } };
  }

  /** The box's merged layer's root, owned and moded as its top layer's root (the overlay takes the root from the upper, but the top lower must agree). */
  private makeMergedRoot(box: DedupeBox): void {
    if (existsSync(box.mergedDir)) return;
    const record = this.record(box) as BoxLayers;
    const top = lstatSync((record.lowers[0] as TemplateLayer).dir);
    mkdirSync(box.mergedDir, { mode: top.mode & 0o7777 });
    lchownSync(box.mergedDir, top.uid, top.gid);
    chmodSync(box.mergedDir, top.mode & 0o7777);
  }

  release(box: Pick<Box, 'id'>): void {
    const dir = this.boxDir(box);
    rmSync(join(dir, RECORD), { force: true });
    if (existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir);
  }

  /** The box's record, if it is layered. */
  record(box: Pick<Box, 'id'>): BoxLayers | undefined {
    const file = join(this.boxDir(box), RECORD);
    if (!existsSync(file)) return undefined;
    return JSON.parse(readFileSync(file, 'utf8')) as BoxLayers;
  }

  /** The image config (entrypoint, env...) of the box's top layer, when its template had one. */
  imageConfig(record: BoxLayers): StoredLayer['config'] {
    const top = record.lowers[0];
    return top ? this.store.read(top.template, top.version)?.config : undefined;
  }

  of(box: Pick<Box, 'id' | 'runtime'>): BoxLayersView | undefined {
    const record = this.record(box);
    if (!record) return undefined;
    const points = overlayMountPoints(box.id);
    const root = points.at(-1) ?? runtimeFacts(box).rootfs ?? join(this.boxDir(box), 'rootfs');
    return { ...record, upper: join(root, OWN_UPPER), mounted: points.length > 0 };
  }

  /** Layer directory → the boxes made on it. */
  private usersByDir(): Map<string, string[]> {
    const users = new Map<string, string[]>();
    if (!existsSync(this.paths.boxesDir)) return users;
    for (const id of readdirSync(this.paths.boxesDir)) {
      const record = this.record({ id });
      for (const lower of record?.lowers ?? []) users.set(lower.dir, [...(users.get(lower.dir) ?? []), id]);
    }
    return users;
  }
}

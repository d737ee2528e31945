/**
 * Disk limits of boxes: picks the storage backend (project quotas where the host's
 * filesystem has them, a per-box image otherwise), keeps what it made per box in the plugin
 * state, and drives it through a box's life.
 */

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Box, CoreTokens, inject, injectable, NsboxError, optional, type PluginStateStore } from '@nsbox/core';
import { type BoxFilesService, runtimeFacts, runtimeRefs } from '@nsbox/runtime-api';
import type { LimitsConfig } from '../config-schema.js';
import { HostFacts } from '../host-facts.js';
import { emptyDirectory, ImageBackend, takeDown } from './image-backend.js';
import { DEFAULT_POOL, Pools } from './pools.js';
import { ProjectQuotaBackend } from './project-quota-backend.js';
import type { BoxDiskContext, DiskProblem, DiskRecord, DiskRequest, StorageBackend } from './storage-backend.js';
import type { SpaceFigures } from './system.js';

const NAMESPACE = 'limits.disk';

type DiskBox = Pick<Box, 'id' | 'name' | 'config' | 'runtime'>;

@injectable()
export class DiskLimits {
  readonly image: ImageBackend;
  readonly project: ProjectQuotaBackend;

  constructor(
    @inject(CoreTokens.PluginState) private readonly state: PluginStateStore,
    @inject(Pools) private readonly pools: Pools,
    @inject(HostFacts) facts: HostFacts,
    @inject(runtimeRefs.boxFiles.token) @optional() private readonly driver: BoxFilesService | undefined,
  ) {
    this.image = new ImageBackend(facts);
    this.project = new ProjectQuotaBackend(state);
  }

  record(box: Pick<Box, 'id'>): DiskRecord | undefined {
    const stored = this.state.get(NAMESPACE, box.id);
    return stored === undefined ? undefined : (JSON.parse(stored) as DiskRecord);
  }

  private save(box: Pick<Box, 'id'>, record: DiskRecord | undefined): void {
    if (record === undefined) this.state.delete(NAMESPACE, box.id);
    else this.state.set(NAMESPACE, box.id, JSON.stringify(record));
  }

  request(config: LimitsConfig | undefined): DiskRequest | undefined {
    if (config?.disk === undefined) return undefined;
    return { limit: config.disk, ...(config.inodes !== undefined ? { inodes: config.inodes } : {}), pool: config.pool ?? DEFAULT_POOL };
  }

  /** Whether this box has anything to do with disk limits (now or from before). */
  involved(box: DiskBox, config: LimitsConfig | undefined): boolean {
    return config?.disk !== undefined || this.record(box) !== undefined;
  }

  context(box: DiskBox, pool = DEFAULT_POOL): BoxDiskContext {
    if (!this.driver) throw new NsboxError('E_UNSUPPORTED', 'disk limits need the Linux box driver');
    const boxDir = this.driver.boxDir(box);
    const runtime = runtimeFacts(box);
    // Before the driver's create step (validate at create time) a template box will own its rootfs.
    const ownsSeed = runtime.ownsRootfs ?? (box.config.rootfs === undefined && box.config.template !== undefined);
    const seed = runtime.rootfs ?? box.config.rootfs ?? join(boxDir, 'rootfs');
    return { box, boxDir, seed, ownsSeed, poolPath: this.pools.get(pool).path };
  }

  private backendOf(record: DiskRecord): StorageBackend {
    return record.backend === 'image' ? this.image : this.project;
  }

  /** The backend a box's disk lives in, or would be made in. */
  backendFor(context: BoxDiskContext, record: DiskRecord | undefined): StorageBackend {
    if (record) return this.backendOf(record);
    return this.project.unavailable(context) === undefined ? this.project : this.image;
  }

  /** Why the host cannot give this box a disk limit; undefined when it can. */
  unsupported(box: DiskBox, config: LimitsConfig | undefined): string | undefined {
    const request = this.request(config);
    if (!request) return undefined;
    const context = this.context(box, request.pool);
    const record = this.record(box);
    const backend = this.backendFor(context, record);
    const reason = backend.unavailable(context);
    if (reason === undefined) return undefined;
    return backend === this.image ? `${reason}; project quotas are not available either: ${this.project.unavailable(context)}` : reason;
  }

  /** Problems with giving the box this config's disk limit now, touching nothing. */
  check(box: DiskBox, config: LimitsConfig | undefined, running: boolean): DiskProblem[] {
    const request = this.request(config);
    const record = this.record(box);
    if (!request && !record) return [];
    const context = this.context(box, request?.pool ?? (record?.backend === 'image' ? record.pool : DEFAULT_POOL));
    return this.backendFor(context, record).check(context, record, request, running);
  }

  /** The box's root path when its disk lives elsewhere than its rootfs (the spec hook). */
  rootPath(box: DiskBox, config: LimitsConfig | undefined): string | undefined {
    const request = this.request(config);
    if (!request) return undefined;
    const context = this.context(box, request.pool);
    return this.backendFor(context, this.record(box)).rootPath(context);
  }

  /** Whether the box's root is a filesystem image of its own (not a project quota on the host's filesystem). */
  ownImage(box: DiskBox, config: LimitsConfig | undefined): boolean {
    const request = this.request(config);
    if (!request) return false;
    return this.backendFor(this.context(box, request.pool), this.record(box)) === this.image;
  }

  /** Before start: the disk is made, resized or taken back to the seed, and brought up. */
  prepare(box: DiskBox, config: LimitsConfig | undefined): void {
    const request = this.request(config);
    const record = this.record(box);
    if (!request) {
      if (!record) return;
      const context = this.context(box, record.backend === 'image' ? record.pool : DEFAULT_POOL);
      this.backendOf(record).remove(context, record, { keepData: true });
      this.save(box, undefined);
      return;
    }
    const context = this.context(box, request.pool);
    const backend = this.backendFor(context, record);
    const problems = backend.check(context, record, request, false);
    if (problems.length > 0) {
      const message = problems.map((problem) => problem.message).join('; ');
      throw new NsboxError(problems.every((problem) => problem.kind === 'unsupported') ? 'E_UNSUPPORTED' : 'E_INVALID_CONFIG', `limits.disk: ${message}`, {
        details: { field: 'limits.disk', problems },
      });
    }
    const prepared = backend.prepare(context, record, request);
    this.save(box, prepared);
    // Saved first: from here on the image holds the box's files, and the seed's copy can go.
    if (prepared.backend === 'image' && context.ownsSeed && runtimeFacts(box).ownsRootfs === true) emptyDirectory(context.seed);
  }

  resizeLive(box: DiskBox, config: LimitsConfig | undefined): void {
    const request = this.request(config);
    const record = this.record(box);
    if (!request || !record) return;
    if (request.limit === record.limit && request.inodes === record.inodes) return;
    const context = this.context(box, request.pool);
    this.save(box, this.backendOf(record).resizeLive(context, record, request));
  }

  usage(box: DiskBox): (SpaceFigures & { backend: string; limit: number }) | undefined {
    const record = this.record(box);
    if (!record) return undefined;
    const context = this.context(box, record.backend === 'image' ? record.pool : DEFAULT_POOL);
    const usage = this.backendOf(record).usage(context, record);
    return usage && { ...usage, backend: record.backend === 'image' ? `image (${record.fs})` : 'project quota', limit: record.limit };
  }

  /** The box stopped (or its start is undone): storage down, data kept. */
  release(box: DiskBox): void {
    const record = this.record(box);
    if (!record) {
      this.sweep(box, false);
      return;
    }
    this.backendOf(record).release(this.context(box, record.backend === 'image' ? record.pool : DEFAULT_POOL), record);
  }

  /**
   * A process killed while making a box's first image leaves it mounted, with no record:
   * what would have been recorded is taken down (and, at destroy, deleted) all the same.
   */
  private sweep(box: DiskBox, destroy: boolean): void {
    // Also when the config no longer asks for a disk (dropped after a first image was cut short): the default pool then.
    const request = this.request(box.config['limits'] as LimitsConfig | undefined);
    if (!this.driver) return;
    let context: BoxDiskContext;
    try {
      context = this.context(box, request?.pool ?? DEFAULT_POOL);
    } catch {
      return; // its pool is gone: nothing of this box can be in it
    }
    const file = this.image.imagePath(context);
    takeDown(this.image.rootPath(context), file);
    if (destroy) rmSync(file, { force: true });
  }

  destroy(box: DiskBox): void {
    const record = this.record(box);
    if (!record) {
      this.sweep(box, true);
      return;
    }
    this.backendOf(record).remove(this.context(box, record.backend === 'image' ? record.pool : DEFAULT_POOL), record, { keepData: false });
    this.save(box, undefined);
  }
}

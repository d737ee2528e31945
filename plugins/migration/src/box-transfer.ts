/**
 * Export and import of a box through its archive (box-archive.ts). An export takes a stopped
 * box — with criu's images when its last checkpoint is its latest state — or checkpoints a
 * running one first. An import unpacks into a staging directory of this plugin's, creates the
 * box with the same id (when free here) and config, its root from the archive's tarball, puts
 * the images where a restore finds them, and restores it when asked; whatever fails, the box
 * is gone again and the staging directory with it.
 */

import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { type Box, type BoxManager, NsboxError, type OperationContext } from '@nsbox/core';
import { removeTree } from '@nsbox/native';
import { type BoxFilesService, type RootfsLayers, rootfsArchiveInput } from '@nsbox/runtime-api';
import { type ArchiveInput, readUnpackedArchive, streamBoxArchive, unpackBoxArchive, writeBoxArchive } from './box-archive.js';
import { manifestFile, type PageServer } from './criu-args.js';
import { RESTORE_MS } from './criu-engine.js';

export interface TransferServices {
  manager: BoxManager;
  files: BoxFilesService;
  layers?: RootfsLayers | undefined;
}

interface CheckpointFacts {
  imageDir?: string;
  at?: number;
}

function known(manager: BoxManager, ref: string): boolean {
  try {
    manager.get(ref);
    return true;
  } catch {
    return false;
  }
}

/** The plugin's own directory under the host's state directory (0700). */
export function migrationDir(files: BoxFilesService, sub: string): string {
  const dir = join(files.stateDir, 'migration', sub);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** The box's own image directory (where a checkpoint without --to puts them, and an import too). */
export function ownImageDir(files: BoxFilesService, box: Pick<Box, 'id'>): string {
  return join(files.boxDir(box), 'checkpoint');
}

/**
 * The images that hold a stopped box's latest state: its last checkpoint's, unless it ran
 * again since (a restore or a start after it). Undefined when there are none.
 */
export function currentCheckpoint(box: Box): string | undefined {
  if (box.state !== 'stopped' && box.state !== 'created') return undefined;
  const checkpoint = (box.runtime as { checkpoint?: CheckpointFacts }).checkpoint;
  const startedAt = (box.runtime as { startedAt?: number }).startedAt ?? 0;
  if (!checkpoint?.imageDir || (checkpoint.at ?? 0) < startedAt) return undefined;
  return existsSync(manifestFile(checkpoint.imageDir)) ? checkpoint.imageDir : undefined;
}

function rootOf(box: Box): string {
  const rootfs = (box.runtime as { rootfs?: string }).rootfs ?? box.config.rootfs;
  if (!rootfs || !existsSync(rootfs)) {
    throw new NsboxError('E_INVALID_STATE', `box '${box.name}' has no root on this host to export`, { details: { box: box.name } });
  }
  return rootfs;
}

/** What an archive of a stopped box holds: its root and, with `images` (default), the images of its last checkpoint. */
function archiveInput(services: TransferServices, box: Box, context: OperationContext, images: boolean | { frozen: string }): ArchiveInput {
  // A post-copy dump's box still has its tree, frozen until its memory moved: its root does not change meanwhile.
  const frozen = typeof images === 'object' ? images.frozen : undefined;
  if (box.state !== 'stopped' && box.state !== 'created' && !frozen) {
    throw new NsboxError('E_INVALID_STATE', `box '${box.name}' is ${box.state}: checkpoint or stop it first (or export --checkpoint)`, {
      details: { box: box.name, state: box.state },
    });
  }
  // A layered root is the box's upper layer over a shared template's: not a whole root.
  if (services.layers?.of(box)) {
    throw new NsboxError('E_UNSUPPORTED', `box '${box.name}' is on a shared template's layers (sharing): its export is not supported yet`, {
      details: { box: box.name },
    });
  }
  // A cold migration carries no images, even of an older checkpoint: the box starts there.
  const imageDir = frozen ?? (images ? currentCheckpoint(box) : undefined);
  return { box, rootfs: rootOf(box), ...(imageDir ? { imageDir } : {}), signal: context.signal };
}

export async function exportBox(
  services: TransferServices,
  box: Box,
  file: string,
  context: OperationContext,
): Promise<{ box: string; file: string; bytes: number; checkpoint: boolean }> {
  const input = archiveInput(services, box, context, true);
  context.progress({ step: 'export', message: `archiving box ${box.name}` });
  return { box: box.name, ...(await writeBoxArchive({ ...input, file })) };
}

/**
 * A migration's copy: the archive of a stopped box streamed to `send` as it is read (no file
 * of it here), `scratch` holding the root's tarball meanwhile. `images: false`: a cold move;
 * `{ frozen }`: a post-copy dump's images, its tree still frozen here (the box not stopped yet).
 */
export function sendBox(
  services: TransferServices,
  box: Box,
  scratch: string,
  context: OperationContext,
  images: boolean | { frozen: string },
  send: (body: AsyncIterable<Buffer>, length: number) => Promise<unknown>,
): Promise<{ bytes: number; checkpoint: boolean }> {
  return streamBoxArchive({ ...archiveInput(services, box, context, images), scratch }, send);
}

export interface ImportOptions {
  /** The archive; or, instead, */
  file?: string;
  /** an archive unpacked already (a migration's upload): its directory is taken over, and removed after. */
  staged?: { dir: string; label: string };
  name?: string | undefined;
  /** Told the box's name and id before it is created (a migration records them first). */
  creating?: (box: { name: string; id: string | undefined }) => void;
  /** Restore the box from the archive's images (or start it, without them) once created. */
  run?: boolean | undefined;
  /** Post-copy images: the source's page server their memory is pulled from. */
  pageServer?: PageServer | undefined;
}

export interface ImportResult {
  box: string;
  id: string;
  state: string;
  checkpoint: boolean;
  /** Unpacking the archive and creating the box (its root unpacked). */
  unpackMs: number;
  /** The restore (or start) operation, with every plugin's hooks; with run only. */
  restoreMs?: number;
  /** criu's own restore call within it. */
  criuRestoreMs?: number;
}

export async function importBox(services: TransferServices, options: ImportOptions, context: OperationContext): Promise<ImportResult> {
  const { manager, files } = services;
  const started = Date.now();
  const staging = options.staged?.dir ?? mkdtempSync(join(migrationDir(files, 'staging'), 'import-'));
  let created: Box | undefined;
  try {
    context.progress({ step: 'import', message: `unpacking ${options.staged?.label ?? options.file}` });
    const archive = options.staged
      ? readUnpackedArchive(options.staged.label, staging)
      : await unpackBoxArchive(options.file as string, staging, context.signal);
    const name = options.name ?? archive.manifest.box.name;
    if (known(manager, name)) {
      throw new NsboxError('E_ALREADY_EXISTS', `a box named '${name}' already exists here`, { details: { field: 'name', box: name } });
    }
    // The same id when it is free: the box's cgroup, MAC address and images were made with it.
    const id = known(manager, archive.manifest.box.id) ? undefined : archive.manifest.box.id;
    options.creating?.({ name, id });
    created = await manager.create(
      { name, config: archive.manifest.box.config, ...(id ? { id } : {}) },
      rootfsArchiveInput.with(context, { archive: archive.rootfsTar }),
    );
    if (archive.imageDir) {
      const images = ownImageDir(files, created);
      renameSync(archive.imageDir, images);
    }
    let box = created;
    const unpackMs = Date.now() - started;
    if (!options.run) return { box: box.name, id: box.id, state: box.state, checkpoint: archive.imageDir !== undefined, unpackMs };
    const restoreAt = Date.now();
    const extra = options.pageServer ? { lazyPages: options.pageServer } : {};
    box = archive.imageDir
      ? await manager.restore(created.id, { imageDir: ownImageDir(files, created), extra }, context)
      : await manager.start(created.id, context);
    const restoreMs = Date.now() - restoreAt;
    // criu's own time within the restore, as the restore script measured it.
    const criuFile = join(files.boxDir(box), RESTORE_MS);
    const criuRestoreMs = archive.imageDir && existsSync(criuFile) ? Number(readFileSync(criuFile, 'utf8')) : undefined;
    return {
      box: box.name,
      id: box.id,
      state: box.state,
      checkpoint: archive.imageDir !== undefined,
      unpackMs,
      restoreMs,
      ...(criuRestoreMs !== undefined ? { criuRestoreMs } : {}),
    };
  } catch (error) {
    // Nothing half-made: the box goes again (with its directory and the images in it).
    if (created) await manager.destroy(created.id, { force: true }).catch(() => undefined);
    throw error;
  } finally {
    await removeTree(staging).catch(() => undefined);
  }
}

/**
 * `nsbox export BOX FILE [--checkpoint]` and `nsbox import FILE [--name N] [--run]`, each also an
 * API route and an SDK call. Both are host-wide: an archive is a file of the host's and an
 * import creates a box with the config it carries.
 */

import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Box, coreRefs, defineAction, NsboxError, type OperationContext, type ServiceSource, z } from '@nsbox/core';
import { runtimeRefs } from '@nsbox/runtime-api';
import { newFilePath } from './box-archive.js';
import { exportBox, importBox, ownImageDir, type TransferServices } from './box-transfer.js';
import { pausePoint } from './crash-seam.js';
import type { PageServer } from './criu-args.js';
import type { MigrationRecords } from './migration-records.js';
import { type MigrationService, migrationServiceId } from './migration-service.js';
import { removeUpload, uploadDir } from './upload-receiver.js';

/**
 * The import of a migration (an upload streamed to nsboxd's upload route, unpacked): recorded in the plugin's
 * database before the box is made, `restored` once it runs. The box is not this host's until
 * the source commits it (`migration settle`, incoming.ts).
 */
async function importMigration(
  transfer: TransferServices,
  records: MigrationRecords,
  upload: string,
  input: { name?: string | undefined; run?: boolean | undefined; pageServer?: PageServer | undefined },
  operation: OperationContext,
) {
  const dir = uploadDir(transfer.files, upload);
  try {
    if (!records.beginIncoming(upload)) {
      throw new NsboxError('E_INVALID_STATE', `upload: migration ${upload} was settled already (${records.incoming(upload)?.phase})`, {
        details: { field: 'upload' },
      });
    }
    await pausePoint(transfer.files, 'target:importing');
    if (!existsSync(dir)) throw new NsboxError('E_NOT_FOUND', `upload: no upload ${upload} was received here`, { details: { field: 'upload' } });
    const imported = await importBox(
      transfer,
      {
        staged: { dir, label: `upload ${upload}` },
        name: input.name,
        run: input.run,
        pageServer: input.pageServer,
        creating: ({ name, id }) => {
          // A migrated box keeps its id (its cgroup, MAC and images were made with it).
          if (!id) throw new NsboxError('E_ALREADY_EXISTS', `a box with the migrated box's id exists here`, { details: { field: 'upload' } });
          records.setIncoming(upload, { phase: 'importing', boxId: id, boxName: name });
        },
      },
      operation,
    ).catch((error: Error) => {
      if (records.incoming(upload)?.phase === 'importing') records.setIncoming(upload, { phase: 'aborted' });
      throw error;
    });
    records.setIncoming(upload, { phase: 'restored' });
    await pausePoint(transfer.files, 'target:restored');
    return imported;
  } finally {
    await removeUpload(transfer.files, upload).catch(() => undefined);
  }
}

export function transferServices(services: ServiceSource): TransferServices {
  return {
    manager: services.get(coreRefs.boxManager),
    files: services.get(runtimeRefs.boxFiles),
    layers: services.getOptional(runtimeRefs.rootfsLayers),
  };
}

export const exportAction = defineAction({
  name: 'export',
  description: "write a stopped or checkpointed box — its config, its root, its checkpoint's images — to one archive",
  input: z.strictObject({
    box: z.string().min(1).describe('the box (name or id)'),
    file: z.string().min(1).describe('the archive to write (absolute; must not exist)'),
    checkpoint: z.boolean().optional().describe('checkpoint a running box first (it stops)'),
    tcpEstablished: z.boolean().optional().describe('with checkpoint: save established TCP connections too'),
  }),
  box: true,
  hostWide: true,
  cli: {
    command: 'export',
    arguments: [
      { name: 'box', description: 'the box (name or id)', required: true },
      { name: 'file', description: 'the archive to write', required: true },
    ],
    options: [
      { flags: '--checkpoint', description: 'checkpoint a running box first (it stops)' },
      { flags: '--tcp-established', description: 'with --checkpoint: save established TCP connections too' },
    ],
    input: ([box, file], options) => ({ box, ...(file !== undefined ? { file: resolve(file) } : {}), ...options }),
  },
  async run(input, { box, services, operation }) {
    const transfer = transferServices(services);
    const file = newFilePath(input.file, 'file');
    let current = box as Box;
    if (input.checkpoint && current.state === 'running') {
      current = await transfer.manager.checkpoint(
        current.id,
        { imageDir: freshImageDir(transfer, current), extra: { tcpEstablished: input.tcpEstablished ?? false } },
        operation,
      );
    }
    return exportBox(transfer, transfer.manager.get(current.id), file, operation);
  },
  render: (result) => `box ${result.box} exported to ${result.file} (${result.bytes} bytes${result.checkpoint ? ', with its checkpoint' : ''})`,
});

/** The box's own image directory, emptied (only criu's files are ever in it). */
export function freshImageDir(transfer: TransferServices, box: Box): string {
  const dir = ownImageDir(transfer.files, box);
  // Our directory of plain files (criu's images), never a mount.
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

export const importAction = defineAction({
  name: 'import',
  description: 'create a box from an archive of `nsbox export`; with --run it is restored from its checkpoint (or started)',
  input: z.strictObject({
    file: z.string().min(1).optional().describe('the archive (absolute path on the host)'),
    upload: z.string().optional().describe("instead of file: a migration's archive streamed to this host's upload route (removed after)"),
    name: z.string().min(1).optional().describe("the new box's name (default: the name in the archive)"),
    run: z.boolean().optional().describe('restore the box from its checkpoint once created (start it, without one)'),
    pageServer: z
      .strictObject({ address: z.union([z.ipv4(), z.ipv6()]), port: z.number().int().min(1).max(65535) })
      .optional()
      .describe("with upload, post-copy images: the source's page server their memory is pulled from"),
  }),
  hostWide: true,
  cli: {
    command: 'import',
    arguments: [{ name: 'file', description: 'the archive', required: true }],
    options: [
      { flags: '--name <name>', description: "the new box's name (default: the archive's)" },
      { flags: '--run', description: 'restore it from its checkpoint (or start it) once created' },
    ],
    input: ([file], options) => ({ ...(file !== undefined ? { file: resolve(file) } : {}), ...options }),
  },
  async run(input, { services, operation, own }) {
    if (input.name !== undefined && !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(input.name)) {
      throw new NsboxError('E_INVALID_ARGUMENT', `name: '${input.name}' is not a box name`, { details: { field: 'name' } });
    }
    if ((input.file === undefined) === (input.upload === undefined)) {
      throw new NsboxError('E_INVALID_ARGUMENT', 'file: give the archive as file or as upload, one of them', { details: { field: 'file' } });
    }
    const transfer = transferServices(services);
    if (input.upload !== undefined) return importMigration(transfer, own<MigrationService>(migrationServiceId).records, input.upload, input, operation);
    if (input.pageServer !== undefined && input.upload === undefined) {
      throw new NsboxError('E_INVALID_ARGUMENT', "pageServer: only a migration's upload has post-copy images", { details: { field: 'pageServer' } });
    }
    return importBox(transfer, { file: input.file as string, name: input.name, run: input.run }, operation);
  },
  render: (result) => `box ${result.box} imported (${result.state}${result.checkpoint ? ', with its checkpoint' : ''})`,
});

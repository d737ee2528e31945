/**
 * The target's end of a migration's copy: the source streams the box's archive to nsboxd's
 * `PUT /plugins/migration/uploads/archive/{upload}` (the core's uploadPoint: raw bytes, its
 * length given, a host-wide admin token). It is written to a hidden file of this plugin's and
 * takes its name, `incoming/{upload}.tar`, only once every byte came: a stream cut short
 * leaves nothing an import would read. `migration import --upload ID` then creates the box
 * from it and removes it.
 */

import { constants, existsSync, linkSync, rmSync, statfsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { NsboxError, type UploadContribution } from '@nsbox/core';
import type { BoxFilesService } from '@nsbox/runtime-api';
import { migrationDir } from './box-transfer.js';
import { pausePoint } from './crash-seam.js';
import type { MigrationRecords } from './migration-records.js';

/** Upload ids: made by the sender, only hex (they become file names). */
export const UPLOAD_ID = /^[0-9a-f]{16,64}$/;
/** The name of an upload being received: hidden, never read by an import. */
export const PARTIAL_UPLOAD = /^\.([0-9a-f]{16,64})\.partial$/;

export function uploadFile(files: BoxFilesService, upload: string, field = 'upload'): string {
  if (!UPLOAD_ID.test(upload))
    throw new NsboxError('E_INVALID_ARGUMENT', `${field}: '${upload}' is not an upload id (16-64 hex digits)`, { details: { field } });
  return join(migrationDir(files, 'incoming'), `${upload}.tar`);
}

function partialFile(files: BoxFilesService, upload: string): string {
  return join(migrationDir(files, 'incoming'), `.${upload}.partial`);
}

interface Receiving {
  files: BoxFilesService;
  records: MigrationRecords;
}

/** Refuses, before a byte is written, an upload that is there already, was settled, or does not fit. */
function checkNew(into: Receiving, upload: string, file: string, length: number): void {
  if (existsSync(file)) throw new NsboxError('E_ALREADY_EXISTS', `id: upload ${upload} was received already`, { details: { field: 'id' } });
  const record = into.records.incoming(upload);
  if (record) {
    throw new NsboxError('E_INVALID_STATE', `id: migration ${upload} is ${record.phase} here: it takes no upload`, { details: { field: 'id' } });
  }
  const space = statfsSync(migrationDir(into.files, 'incoming'));
  const free = space.bavail * space.bsize;
  if (length > free) {
    throw new NsboxError('E_RUNTIME', `content-length: ${length} bytes do not fit in the ${free} bytes free for uploads here`, {
      details: { field: 'content-length', httpStatus: 507, free },
    });
  }
}

/** Writes the stream whole under its hidden name, then gives it its own; nothing is left of a failure. */
export async function receiveUpload(
  into: Receiving,
  upload: string,
  body: AsyncIterable<Buffer>,
  input: { length: number; signal: AbortSignal },
): Promise<{ upload: string; bytes: number }> {
  const file = uploadFile(into.files, upload, 'id');
  checkNew(into, upload, file, input.length);
  const partial = partialFile(into.files, upload);
  // O_EXCL: a second stream of the same upload is refused; O_NOFOLLOW: nothing planted here is followed.
  const handle = await open(partial, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'EEXIST') throw new NsboxError('E_BUSY', `id: upload ${upload} is being received already`, { details: { field: 'id' } });
      throw error;
    },
  );
  let bytes = 0;
  try {
    for await (const chunk of body) {
      input.signal.throwIfAborted();
      bytes += chunk.length;
      if (bytes > input.length)
        throw new NsboxError('E_INVALID_ARGUMENT', `content-length: more than the ${input.length} bytes said`, { details: { field: 'content-length' } });
      await handle.write(chunk);
      if (bytes === chunk.length) await pausePoint(into.files, 'target:receive');
    }
    if (bytes !== input.length) {
      throw new NsboxError('E_INVALID_ARGUMENT', `content-length: ${input.length} bytes said, ${bytes} came`, { details: { field: 'content-length' } });
    }
    await handle.close();
    // link, not rename: an upload of that name that appeared meanwhile is not replaced (EEXIST).
    linkSync(partial, file);
    // Aborted by the source while its stream came: nothing will import it.
    const settled = into.records.incoming(upload);
    if (settled) {
      rmSync(file, { force: true });
      throw new NsboxError('E_INVALID_STATE', `id: migration ${upload} was ${settled.phase} while its upload came`, { details: { field: 'id' } });
    }
    return { upload, bytes };
  } finally {
    await handle.close().catch(() => undefined);
    rmSync(partial, { force: true });
  }
}

/** The contribution to nsboxd's uploads: `archive`, a migration's box archive (its services looked up at the upload). */
export function archiveUpload(into: () => Receiving, maxBytes: number): UploadContribution {
  return {
    plugin: 'migration',
    name: 'archive',
    maxBytes,
    receive: (upload, body, input) => receiveUpload(into(), upload, body, input),
  };
}

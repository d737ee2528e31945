/**
 * The target's end of a migration's copy: the source streams the box's archive to nsboxd's
 * `PUT /plugins/migration/uploads/archive/{upload}` (the core's uploadPoint: raw bytes, its
 * length given, a host-wide admin token). It is unpacked as it arrives by the strict reader
 * (box-archive.ts: plain files at known names, created O_EXCL|O_NOFOLLOW) into a hidden
 * directory of this plugin's, which takes its name, `incoming/{upload}`, only once every byte
 * came: a stream cut short, too long or refused leaves nothing an import would read.
 * `migration import --upload ID` then creates the box from it and removes it.
 */

import { existsSync, mkdirSync, renameSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { NsboxError, type UploadContribution } from '@nsbox/core';
import { removeTree } from '@nsbox/native';
import type { BoxFilesService } from '@nsbox/runtime-api';
import { unpackBoxArchiveStream } from './box-archive.js';
import { migrationDir } from './box-transfer.js';
import { pausePoint } from './crash-seam.js';
import type { MigrationRecords } from './migration-records.js';

/** Upload ids: made by the sender, only hex (they become file names). */
export const UPLOAD_ID = /^[0-9a-f]{16,64}$/;
/** The directory of an upload being received: hidden, never read by an import. */
export const PARTIAL_UPLOAD = /^\.([0-9a-f]{16,64})\.partial$/;

/** Where a received upload is, unpacked (a directory). */
export function uploadDir(files: BoxFilesService, upload: string, field = 'upload'): string {
  if (!UPLOAD_ID.test(upload))
    throw new NsboxError('E_INVALID_ARGUMENT', `${field}: '${upload}' is not an upload id (16-64 hex digits)`, { details: { field } });
  return join(migrationDir(files, 'incoming'), upload);
}

/** Removes an upload, received or not (our own directory of plain files). */
export async function removeUpload(files: BoxFilesService, upload: string): Promise<void> {
  const dir = uploadDir(files, upload);
  if (existsSync(dir)) await removeTree(dir);
}

interface Receiving {
  files: BoxFilesService;
  records: MigrationRecords;
}

/** Refuses, before a byte is written, an upload that is there already, was settled, or does not fit. */
function checkNew(into: Receiving, upload: string, dir: string, length: number): void {
  if (existsSync(dir)) throw new NsboxError('E_ALREADY_EXISTS', `id: upload ${upload} was received already`, { details: { field: 'id' } });
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

/** The body, counted against its length; the crash seam `target:receive` stops after its first piece. */
async function* counted(body: AsyncIterable<Buffer>, input: { length: number; signal: AbortSignal }, files: BoxFilesService): AsyncGenerator<Buffer> {
  let bytes = 0;
  for await (const chunk of body) {
    input.signal.throwIfAborted();
    bytes += chunk.length;
    if (bytes > input.length)
      throw new NsboxError('E_INVALID_ARGUMENT', `content-length: more than the ${input.length} bytes said`, { details: { field: 'content-length' } });
    yield chunk;
    if (bytes === chunk.length) await pausePoint(files, 'target:receive');
  }
  if (bytes !== input.length) {
    throw new NsboxError('E_INVALID_ARGUMENT', `content-length: ${input.length} bytes said, ${bytes} came`, { details: { field: 'content-length' } });
  }
}

/** Unpacks the stream whole under its hidden name, then gives it its own; nothing is left of a failure. */
export async function receiveUpload(
  into: Receiving,
  upload: string,
  body: AsyncIterable<Buffer>,
  input: { length: number; signal: AbortSignal },
): Promise<{ upload: string; bytes: number }> {
  const dir = uploadDir(into.files, upload, 'id');
  checkNew(into, upload, dir, input.length);
  const partial = join(migrationDir(into.files, 'incoming'), `.${upload}.partial`);
  // Not recursive: a second stream of the same upload is refused (EEXIST).
  try {
    mkdirSync(partial, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      throw new NsboxError('E_BUSY', `id: upload ${upload} is being received already`, { details: { field: 'id' } });
    throw error;
  }
  try {
    await unpackBoxArchiveStream(counted(body, input, into.files), `upload ${upload}`, partial, input.signal);
    renameSync(partial, dir);
  } catch (error) {
    await removeTree(partial).catch(() => undefined);
    throw error;
  }
  // Aborted by the source while its stream came: nothing will import it.
  const settled = into.records.incoming(upload);
  if (settled) {
    await removeTree(dir);
    throw new NsboxError('E_INVALID_STATE', `id: migration ${upload} was ${settled.phase} while its upload came`, { details: { field: 'id' } });
  }
  return { upload, bytes: input.length };
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

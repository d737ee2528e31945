/**
 * `migration receive`: the target's end of a migration. The source sends the box's archive
 * in pieces (an action's body is JSON, so each piece is base64 and below the API's body
 * limit), appended in order to a file of this plugin's; `migration import --upload ID` then
 * creates the box from it and removes it. `discard` removes an upload that will not be used.
 */

import { constants, existsSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { defineAction, NsboxError, z } from '@nsbox/core';
import { type BoxFilesService, runtimeRefs } from '@nsbox/runtime-api';
import { migrationDir } from './box-transfer.js';
import { pausePoint } from './crash-seam.js';

/** Upload ids: made by the sender, only hex (they become file names). */
export const UPLOAD_ID = /^[0-9a-f]{16,64}$/;

export function uploadFile(files: BoxFilesService, upload: string): string {
  if (!UPLOAD_ID.test(upload))
    throw new NsboxError('E_INVALID_ARGUMENT', `upload: '${upload}' is not an upload id (16-64 hex digits)`, { details: { field: 'upload' } });
  return join(migrationDir(files, 'incoming'), `${upload}.tar`);
}

export const receiveAction = defineAction({
  name: 'receive',
  description: "append a piece of a box archive sent by another host's `nsbox migrate` (or discard it)",
  input: z.strictObject({
    upload: z.string().describe('the upload id (16-64 hex digits, chosen by the sender)'),
    offset: z.number().int().min(0).describe('where the piece goes: the bytes received so far'),
    data: z.string().describe('the piece, base64'),
    discard: z.boolean().optional().describe('remove the upload instead'),
  }),
  hostWide: true,
  role: 'admin',
  async run(input, { services }) {
    const files = services.get(runtimeRefs.boxFiles);
    const file = uploadFile(files, input.upload);
    if (input.discard) {
      rmSync(file, { force: true });
      return { upload: input.upload, bytes: 0, discarded: true };
    }
    const have = existsSync(file) ? statSync(file).size : 0;
    if (input.offset !== have) {
      throw new NsboxError('E_INVALID_ARGUMENT', `offset: ${input.offset}, but ${have} bytes of upload ${input.upload} are here`, {
        details: { field: 'offset', have },
      });
    }
    const piece = Buffer.from(input.data, 'base64');
    const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW | (have === 0 ? constants.O_CREAT | constants.O_EXCL : 0);
    const handle = await open(file, flags, 0o600);
    try {
      await handle.write(piece);
    } finally {
      await handle.close();
    }
    if (have === 0) await pausePoint(files, 'target:receive');
    return { upload: input.upload, bytes: have + piece.length, discarded: false };
  },
});

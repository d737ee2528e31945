/**
 * The target's side of a migration's end. A box imported for a migration is not the target's
 * until the source commits it: the source asks `migration settle` to commit or abort. An
 * abort (or a commit that finds the importing process dead: this nsboxd crashed before the
 * commit reached it) removes the box here, and the answer tells the source to run it there
 * again. The answers are final: once `committed` or `aborted`, always the same.
 */

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type BoxManager, defineAction, type OperationLog, z } from '@nsbox/core';
import { removeTree } from '@nsbox/native';
import type { BoxFilesService } from '@nsbox/runtime-api';
import { migrationDir } from './box-transfer.js';
import { pausePoint } from './crash-seam.js';
import { postcopyServer } from './criu-engine.js';
import { type IncomingRecord, type MigrationRecords, ownerAlive } from './migration-records.js';
import { type MigrationService, migrationServiceId } from './migration-service.js';
import { transferServices } from './transfer-actions.js';
import { PARTIAL_UPLOAD, removeUpload, UPLOAD_ID, uploadDir } from './upload-receiver.js';

export type SettleAnswer = 'committed' | 'aborted' | 'pending';

export interface IncomingSide {
  records: MigrationRecords;
  manager: BoxManager;
  files: BoxFilesService;
  /** Serialises the settling of one upload between the API and the reconcile loop. */
  exclusive<T>(upload: string, body: () => Promise<T>): Promise<T>;
}

/** Removes the imported box of an incoming record that will not be committed. */
async function dropIncoming(side: IncomingSide, record: IncomingRecord): Promise<void> {
  if (record.boxId) {
    const box = side.manager.list().find((candidate) => candidate.id === record.boxId);
    if (box) await side.manager.destroy(box.id, { force: true });
  }
  await removeUpload(side.files, record.upload);
  side.records.setIncoming(record.upload, { phase: 'aborted' });
}

/**
 * A post-copy import that runs here: its source handed it memory (or still does) and cannot
 * bring it back once it has, so it stays through this nsboxd's death until the source's word
 * (its commit, or its abort when its page server failed).
 */
function postcopyRunning(side: IncomingSide, record: IncomingRecord): boolean {
  if (record.phase !== 'restored' || !record.boxId) return false;
  const box = side.manager.list().find((candidate) => candidate.id === record.boxId);
  if (box?.state !== 'running') return false;
  const restoredFrom = (box.runtime as { restoredFrom?: { imageDir?: string } }).restoredFrom;
  return restoredFrom?.imageDir !== undefined && postcopyServer(restoredFrom.imageDir) !== undefined;
}

export function settleIncoming(side: IncomingSide, upload: string, decision: 'commit' | 'abort'): Promise<SettleAnswer> {
  return side.exclusive(upload, async () => {
    const record = side.records.incoming(upload);
    if (!record) {
      // Nothing was imported (the import never came, or is still to come): it never will be.
      side.records.beginIncoming(upload);
      side.records.setIncoming(upload, { phase: 'aborted' });
      await removeUpload(side.files, upload);
      return 'aborted';
    }
    if (record.phase === 'committed' || record.phase === 'aborted') return record.phase;
    const importerAlive = ownerAlive(record.owner);
    if (record.phase === 'importing' && importerAlive) return 'pending';
    if (decision === 'commit' && record.phase === 'restored' && (importerAlive || postcopyRunning(side, record))) {
      side.records.setIncoming(upload, { phase: 'committed' });
      await pausePoint(side.files, 'target:committed');
      return 'committed';
    }
    await dropIncoming(side, record);
    return 'aborted';
  });
}

/**
 * Boxes imported by a process that died before the source committed
 * them are removed (but for a running post-copy import, which waits for the source's word) (presumed abort — the source, asking later, is told so and runs the box
 * again); at the agent's start, uploads no import will read are deleted.
 */
export async function reconcileIncoming(side: IncomingSide, log: OperationLog, atStart: boolean): Promise<void> {
  for (const record of side.records.unsettledIncoming()) {
    if (ownerAlive(record.owner)) continue;
    await side.exclusive(record.upload, async () => {
      const current = side.records.incoming(record.upload);
      if (!current || (current.phase !== 'importing' && current.phase !== 'restored') || ownerAlive(current.owner)) return;
      if (postcopyRunning(side, current)) return;
      log.warn(`migration ${record.upload}: box ${record.boxName ?? '?'} was imported by a process that died before its commit; removed`);
      await dropIncoming(side, current);
    });
  }
  // Only at the start: later, an upload being received has no record until its import.
  if (!atStart) return;
  const dir = migrationDir(side.files, 'incoming');
  for (const name of readdirSync(dir)) {
    // An upload cut short by a crash of this host.
    if (PARTIAL_UPLOAD.test(name)) {
      await removeTree(join(dir, name));
      continue;
    }
    if (!UPLOAD_ID.test(name)) continue;
    const record = side.records.incoming(name);
    if (record && record.phase === 'importing' && ownerAlive(record.owner)) continue;
    await removeUpload(side.files, name);
  }
}

export const settleAction = defineAction({
  name: 'settle',
  description: 'the end of a migration to this host (API only, called by the source): commit the imported box, or abort it (it is removed here)',
  input: z.strictObject({
    upload: z.string().describe('the upload id of the migration'),
    decision: z.enum(['commit', 'abort']).describe('commit: the box is this host’s; abort: remove it here'),
  }),
  hostWide: true,
  role: 'admin',
  async run(input, { services, own }) {
    const side = own<MigrationService>(migrationServiceId).incomingSide(transferServices(services));
    uploadDir(side.files, input.upload); // checks the id
    return { upload: input.upload, state: await settleIncoming(side, input.upload, input.decision) };
  },
});

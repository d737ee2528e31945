/**
 * `nsbox migrate BOX --to TARGET --token T`: moves a running box to another nsboxd (its
 * socket path or URL). Before anything stops: the target's criu works, it has a plugin for
 * each section of the box's config and no box of that name or id, and this host's engine can
 * save the box. Then the box is checkpointed
 * (its processes freeze and stop here), archived with its root, sent to the target in
 * pieces and restored there with its id, name and config. The frozen time is from the dump's
 * start to the target's restore's end. On any failure before the switch the box is restored
 * here from its images and whatever reached the target is removed; once it runs there, it is
 * committed there and destroyed here (its address claims freed with it). Each phase is
 * recorded on both hosts before its work (migration-records.ts), so that an nsboxd killed at
 * any point leaves one copy once both have reconciled. `--fallback cold`: when the live
 * attempt failed and the box runs here again, it is stopped, copied and started there.
 * Progress: each phase, and the bytes sent, as the operation's progress.
 *
 * Memory moves stop-and-copy: criu's pre-copy (`pre-dump`) needs soft-dirty page tracking,
 * which is detected (`criu check --feature mem_dirty_track`) and reported, not used yet.
 */

import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { NsboxApiError, type NsboxClient } from '@nsbox/client';
import { type Box, coreConfigSchema, defineAction, type InterruptedOutcome, NsboxError, type OperationContext, operationContext, z } from '@nsbox/core';
import type { BoxFilesService } from '@nsbox/runtime-api';
import { type ImportResult, migrationDir, sendBox, type TransferServices } from './box-transfer.js';
import { pausePoint } from './crash-seam.js';
import type { CriuCheckResult } from './criu-check.js';
import { DUMP_LOG } from './criu-engine.js';
import type { MigrationMode, MigrationRecords, OutgoingPhase, OutgoingRecord } from './migration-records.js';
import { type MigrationService, migrationServiceId } from './migration-service.js';
import { askTarget, mintSettleToken, type OutgoingSide, settled, settleOutgoing, TargetUndecided, targetClient } from './outgoing.js';
import { pageServerFor, postcopyVerdict } from './page-server.js';
import { freshImageDir, transferServices } from './transfer-actions.js';

/** Pre-flight on the target: its criu works, and neither the name nor the id is taken there. */
async function checkTarget(client: NsboxClient, box: Box, to: string): Promise<CriuCheckResult> {
  let criu: CriuCheckResult | undefined;
  try {
    criu = (await client.host()).plugins?.migration as CriuCheckResult | undefined;
  } catch (error) {
    throw new NsboxError('E_RUNTIME', `to: cannot reach nsboxd at ${to}: ${(error as Error).message}`, { details: { field: 'to' }, cause: error });
  }
  if (!criu?.ok) {
    throw new NsboxError('E_UNSUPPORTED', `to: nsboxd at ${to} cannot restore boxes (criu: ${criu?.verdict ?? 'no migration plugin'})`, {
      details: { field: 'to' },
    });
  }
  // Every section of the box's config needs its plugin there, enabled (the import validates it).
  const enabled = new Set((await client.plugins.list()).filter((plugin) => plugin.enabled).map((plugin) => plugin.name));
  const missing = Object.keys(box.config).filter((key) => !(key in coreConfigSchema.shape) && !enabled.has(key));
  if (missing.length > 0) {
    throw new NsboxError('E_UNSUPPORTED', `to: nsboxd at ${to} has no plugin for the box's ${missing.join(', ')} section(s)`, {
      details: { field: 'to', sections: missing },
    });
  }
  for (const ref of [box.name, box.id]) {
    try {
      await client.boxes.get(ref);
    } catch (error) {
      if (error instanceof NsboxApiError && error.status === 404) continue;
      throw error;
    }
    throw new NsboxError('E_ALREADY_EXISTS', `to: nsboxd at ${to} has a box '${ref}' already`, { details: { field: 'to', box: ref } });
  }
  return criu;
}

/**
 * The archive as it is streamed to the target's upload route (raw bytes, no JSON), reporting
 * the bytes sent; the crash seam `source:transfer` stops after the first piece, mid-stream.
 */
async function* reported(body: AsyncIterable<Buffer>, total: number, operation: OperationContext, files: BoxFilesService): AsyncGenerator<Buffer> {
  let sent = 0;
  let reportedAt = 0;
  for await (const chunk of body) {
    yield chunk;
    sent += chunk.length;
    // A line per percent at most: the pieces are small.
    const percent = Math.floor((sent / total) * 100);
    if (percent !== reportedAt || sent === total) {
      reportedAt = percent;
      operation.progress({ step: 'transfer', percent, message: `sent ${sent} of ${total} bytes` });
    }
    if (sent === chunk.length) await pausePoint(files, 'source:transfer');
  }
}

/** Where the frozen time went (ms): the source's dump and copy, the target's import and restore. */
export interface FrozenParts {
  /** criu dump's own call (live), within dumpMs. */
  criuDump?: number;
  /** Writing the archive here (root tarball, images). */
  archive: number;
  /** Streaming it to the target. */
  send: number;
  /** The target unpacking it and creating the box (its root unpacked). */
  unpack?: number;
  /** The target's restore (or start) operation, every plugin's hooks with it. */
  restore?: number;
  /** criu restore's own call within it (live). */
  criuRestore?: number;
}

/** Post-copy's memory, after the box ran on the target (not frozen time: the box runs there meanwhile). */
export interface PostcopyFacts {
  /** From the target's restore's end until the source's page server handed over every page. */
  pagesMs: number;
}

export interface MigrateResult {
  box: string;
  to: string;
  state: string;
  /** live: with the box's memory (criu); cold: stopped here and started there. */
  mode: MigrationMode;
  /** Why the live attempt failed, when `--fallback cold` moved the box cold instead. */
  fallbackFrom?: string;
  frozenMs: number;
  dumpMs: number;
  transferMs: number;
  restoreMs: number;
  /** The frozen time's parts, each measured where it runs. */
  frozen: FrozenParts;
  bytes: number;
  /** Memory copied while the box ran (criu pre-dump): not yet, and never without soft-dirty tracking. */
  precopy: false;
  /** Why not (and what was done instead: post-copy, or stop-and-copy and why). */
  precopyWhy: string;
  /** The memory moved after the box ran there (criu lazy pages): its facts; absent for stop-and-copy. */
  postcopy?: PostcopyFacts;
}

interface MigrateRequest {
  to: string;
  token: string;
  tcpEstablished: boolean;
  fallback: 'cold' | 'none';
  /** Cold from the start: no live attempt. */
  cold: boolean;
  /** This host's criu verdict (its dirty-memory tracking, its lazy pages). */
  local: CriuCheckResult;
  /** Move the memory post-copy where both hosts can (default: no: the page server is unauthenticated). */
  lazyPages: boolean;
}

function precopyWhy(local: CriuCheckResult, target: CriuCheckResult, instead: string): string {
  if (!local.dirtyTracking || !target.dirtyTracking) return `no pre-copy: no soft-dirty memory tracking in the kernel, which criu pre-dump needs; ${instead}`;
  return `no pre-copy: not implemented yet; ${instead}`;
}

interface Attempt {
  transfer: TransferServices;
  side: OutgoingSide;
  request: MigrateRequest;
  operation: OperationContext;
}

/** How many times `migrate` asks the target to commit before it leaves that to the reconcile loop. */
const COMMIT_TRIES = 3;

async function commitThere(record: OutgoingRecord): Promise<'committed' | 'aborted'> {
  for (let tries = 1; ; tries++) {
    try {
      return await askTarget(record, 'commit');
    } catch (error) {
      if (!(error instanceof TargetUndecided) || tries >= COMMIT_TRIES) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

/**
 * After a failure: where the box runs now, from the attempt's phase. When the target's word
 * is missing the migration is left to the reconcile loop (owner pid 0), which asks again.
 */
async function settleAfterFailure(side: OutgoingSide, upload: string): Promise<string> {
  try {
    const where = await settleOutgoing(side, upload);
    return where === 'here' ? 'it runs here again' : 'it runs there';
  } catch (error) {
    if (!(error instanceof TargetUndecided)) return `and bringing it back here failed too: ${(error as Error).message}`;
    const record = side.records.outgoing(upload);
    if (record) side.records.setOutgoing(upload, { phase: record.phase, owner: { pid: 0, start: '' } });
    return `${error.message}: it runs here again once the target confirms it has no copy (retried in the background)`;
  }
}

/** One attempt, live or cold, each phase recorded before its work (migration-records.ts). */
async function attempt(run: Attempt, box: Box, mode: MigrationMode): Promise<MigrateResult> {
  const { transfer, side, request, operation } = run;
  const { to, token, tcpEstablished } = request;
  const { manager, files } = transfer;
  const records = side.records;
  const client = targetClient(to, token);
  const upload = randomBytes(16).toString('hex');
  const scratch = join(migrationDir(files, 'outgoing'), `${upload}.rootfs.tar`);
  // The caller's token is never stored: the record gets one minted for this migration (below).
  records.beginOutgoing({ upload, boxId: box.id, boxName: box.name, target: to, token: '', mode });
  const phase = async (name: OutgoingPhase, message: string, imageDir?: string) => {
    operation.signal.throwIfAborted();
    records.setOutgoing(upload, { phase: name, ...(imageDir ? { imageDir } : {}) });
    await pausePoint(files, `source:${name}`);
    operation.progress({ step: name, message });
  };
  try {
    await pausePoint(files, 'source:preflight');
    operation.progress({ step: 'preflight', message: `checking ${to}` });
    let remote: CriuCheckResult;
    try {
      remote = await checkTarget(client, box, to);
      records.setOutgoing(upload, { phase: 'preflight', token: await mintSettleToken(client, upload) });
    } catch (error) {
      records.setOutgoing(upload, { phase: 'done', outcome: 'here' });
      throw error;
    }
    const frozenAt = Date.now();
    let sent = 0;
    let dumpMs = 0;
    let transferMs = 0;
    let restoreMs = 0;
    const frozen: FrozenParts = { archive: 0, send: 0 };
    const lazy = postcopyVerdict(request.local, remote, request.lazyPages);
    const pageServer = mode === 'live' && lazy.postcopy ? await pageServerFor(to) : undefined;
    let imageDir: string | undefined;
    try {
      // The dump is not cancelled half-way (criu killed mid-dump can kill the box): a cancel is seen after it.
      const uncancelled = operationContext({ log: operation.log, onProgress: (progress) => operation.progress(progress) });
      if (mode === 'live') {
        imageDir = freshImageDir(transfer, box);
        await phase('dump', pageServer ? 'criu dump (post-copy)' : 'criu dump', imageDir);
        const extra = { tcpEstablished, ...(pageServer ? { lazyPages: pageServer } : {}) };
        const saved = await manager.checkpoint(box.id, { imageDir, extra }, uncancelled);
        frozen.criuDump = (saved.runtime as { checkpoint?: { dumpMs?: number } }).checkpoint?.dumpMs;
      } else {
        await phase('dump', 'stopping the box');
        await manager.stop(box.id, {}, uncancelled);
      }
      dumpMs = Date.now() - frozenAt;
      await phase('transfer', `sending box ${box.name} to ${to}`);
      const transferAt = Date.now();
      operation.progress({ step: 'transfer', message: `archiving box ${box.name}` });
      const images = mode === 'live' && (pageServer && imageDir ? { frozen: imageDir } : true);
      const streamed = await sendBox(transfer, manager.get(box.id), scratch, operation, images, (body, length) => {
        frozen.archive = Date.now() - transferAt;
        return client.uploads.put('migration', 'archive', upload, reported(body, length, operation, files), { length, signal: operation.signal });
      });
      sent = streamed.bytes;
      transferMs = Date.now() - transferAt;
      frozen.send = transferMs - frozen.archive;
      await phase('restore', `${mode === 'live' ? 'restoring' : 'starting'} box ${box.name} on ${to}`);
      const restoreAt = Date.now();
      const arrived = (await client.actions.run('migration', 'import', { upload, run: true, ...(pageServer ? { pageServer } : {}) })) as ImportResult;
      restoreMs = Date.now() - restoreAt;
      Object.assign(frozen, { unpack: arrived.unpackMs, restore: arrived.restoreMs, criuRestore: arrived.criuRestoreMs });
      await pausePoint(files, 'source:restored');
      if (arrived.state !== 'running') throw new NsboxError('E_RUNTIME', `box '${box.name}' is ${arrived.state} on ${to}, not running`);
      // The last moment a cancel is honoured: past it, the box is the target's.
      operation.signal.throwIfAborted();
    } catch (error) {
      const back = await settleAfterFailure(side, upload);
      const cancelled = operation.signal.aborted;
      throw new NsboxError(
        cancelled ? 'E_CANCELLED' : 'E_RUNTIME',
        `migration of box '${box.name}' to ${to} ${cancelled ? 'cancelled' : `failed: ${(error as Error).message}`}; ${back}`,
        {
          details: { box: box.name, to, here: back === 'it runs here again' },
          cause: error,
        },
      );
    }
    const frozenMs = Date.now() - frozenAt;
    let postcopy: PostcopyFacts | undefined;
    try {
      if (pageServer && imageDir) postcopy = await pagesHandedOver(side, box, imageDir, operation);
    } catch (error) {
      const back = await settleAfterFailure(side, upload);
      throw new NsboxError('E_RUNTIME', `migration of box '${box.name}' to ${to} failed after its restore there: ${(error as Error).message}; ${back}`, {
        details: { box: box.name, to },
        cause: error,
      });
    }
    // The switch: from here on the box is the target's once it confirms.
    records.setOutgoing(upload, { phase: 'commit' });
    await pausePoint(files, 'source:commit');
    operation.progress({ step: 'commit', message: `handing box ${box.name} over to ${to}` });
    const record = records.outgoing(upload) as OutgoingRecord;
    let answer: 'committed' | 'aborted';
    try {
      answer = await commitThere(record);
    } catch (error) {
      const where = await settleAfterFailure(side, upload);
      throw new NsboxError('E_RUNTIME', `migration of box '${box.name}' to ${to}: ${(error as Error).message}; ${where}`, {
        details: { box: box.name, to },
        cause: error,
      });
    }
    if (answer === 'aborted') {
      const where = await settleAfterFailure(side, upload);
      throw new NsboxError('E_RUNTIME', `migration of box '${box.name}' to ${to}: the target dropped the box before its commit; ${where}`, {
        details: { box: box.name, to },
      });
    }
    await phase('destroy', `removing box ${box.name} here`);
    await manager.destroy(box.id, { force: true }, operation);
    await settled(records, upload, 'there');
    return {
      box: box.name,
      to,
      state: 'running',
      mode,
      frozenMs,
      dumpMs,
      transferMs,
      restoreMs,
      frozen,
      bytes: sent,
      precopy: false,
      precopyWhy: precopyWhy(request.local, remote, lazy.why),
      ...(postcopy ? { postcopy } : {}),
    };
  } finally {
    rmSync(scratch, { force: true });
    client.close();
  }
}

/**
 * Post-copy: the box runs on the target, and this host's criu serves the memory it still
 * owes; once it has handed over every page it ends the frozen tree here. A page server that
 * fails now leaves the target's copy without part of its memory: criu lets the tree run here
 * again, and the target's copy is dropped (settled as after a failed restore).
 */
async function pagesHandedOver(side: OutgoingSide, box: Box, imageDir: string, operation: OperationContext): Promise<PostcopyFacts> {
  const at = Date.now();
  operation.progress({ step: 'pages', message: `handing over the memory of box ${box.name}` });
  await side.engine.pagesServed(imageDir, join(side.files.boxDir(box), DUMP_LOG));
  return { pagesMs: Date.now() - at };
}

async function migrate(transfer: TransferServices, side: OutgoingSide, box: Box, request: MigrateRequest, operation: OperationContext): Promise<MigrateResult> {
  if (box.state !== 'running') {
    throw new NsboxError('E_INVALID_STATE', `box '${box.name}' is ${box.state}, not running`, { details: { box: box.name, state: box.state } });
  }
  const run = { transfer, side, request, operation };
  if (request.cold) return attempt(run, box, 'cold');
  try {
    return await attempt(run, box, 'live');
  } catch (error) {
    const here = error instanceof NsboxError && (error.details as { here?: boolean } | undefined)?.here === true;
    // Cold only when the live attempt left the box running here, and nobody cancelled.
    if (request.fallback !== 'cold' || !here || operation.signal.aborted) throw error;
    operation.progress({ step: 'fallback', message: `live migration failed (${(error as Error).message}); moving the box cold` });
    const cold = await attempt(run, transfer.manager.get(box.id), 'cold');
    return { ...cold, fallbackFrom: (error as Error).message };
  }
}

/** How long a restarted nsboxd waits for an interrupted migration to be settled before it reports it open. */
const SETTLED_WITHIN_MS = 15 * 60_000;

/** What became of a migration whose nsboxd died: from its latest record, once the reconcile settled it. */
async function interruptedMigration(records: MigrationRecords, box: string): Promise<InterruptedOutcome> {
  let record = records.latestOutgoing(box);
  for (const deadline = Date.now() + SETTLED_WITHIN_MS; record && record.phase !== 'done' && Date.now() < deadline; record = records.latestOutgoing(box)) {
    // unref: a pending answer does not keep a stopping nsboxd alive (the next start asks again).
    await new Promise((resolve) => setTimeout(resolve, 1000).unref());
  }
  const details = { box, ...(record ? { to: record.target, phase: record.phase, outcome: record.outcome } : {}) };
  if (!record) return { status: 'failure', message: `nsboxd stopped before the migration of box '${box}' began: the box was not touched`, details };
  const stopped = `nsboxd stopped during the migration of box '${record.boxName}' to ${record.target}`;
  if (record.phase !== 'done') {
    return {
      status: 'failure',
      message: `${stopped} (at ${record.phase}); it is being settled: the box runs on one side once both hosts reconciled`,
      details: { ...details, pending: true },
    };
  }
  if (record.outcome === 'there')
    return { status: 'success', result: { box: record.boxName, to: record.target, state: 'running', mode: record.mode, interrupted: true } };
  return { status: 'failure', message: `${stopped}; ${record.outcome === 'here' ? 'it runs here again' : 'it is not here any more'}`, details };
}

export const migrateAction = defineAction({
  name: 'migrate',
  description: 'move a running box to another nsboxd (its socket or URL and a token): checkpoint, copy, restore there',
  input: z.strictObject({
    box: z.string().min(1).describe('the box (name or id)'),
    to: z.string().min(1).describe('the target nsboxd: its socket path or https URL'),
    token: z.string().min(1).describe("an admin token of the target's"),
    tcpEstablished: z.boolean().optional().describe('carry established TCP connections (default: yes)'),
    cold: z.boolean().optional().describe('move it cold from the start: stopped here, started there (its memory is not kept)'),
    lazyPages: z
      .boolean()
      .optional()
      .describe(
        "move the memory post-copy (criu lazy pages) where both hosts can (default: no — criu's page server serves the box's memory unauthenticated while it moves)",
      ),
    fallback: z.enum(['cold', 'none']).optional().describe('after a failed live attempt (the box runs here again): cold moves it stopped and starts it there'),
  }),
  box: true,
  hostWide: true,
  role: 'admin',
  // Through nsboxd an API operation: its phases and bytes on /operations/{id}/watch, and DELETE cancels it.
  operation: true,
  cli: {
    command: 'migrate',
    arguments: [{ name: 'box', description: 'the box (name or id)', required: true }],
    options: [
      { flags: '--to <target>', description: "the target nsboxd's socket path or URL" },
      { flags: '--token <token>', description: "an admin token of the target's (default: NSBOX_TARGET_TOKEN)" },
      { flags: '--no-tcp-established', description: 'do not carry established TCP connections' },
      {
        flags: '--lazy-pages',
        description:
          "post-copy the memory (criu lazy pages) where both hosts can: a shorter freeze; criu's page server serves the memory unauthenticated meanwhile",
      },
      { flags: '--cold', description: 'stop the box, copy it and start it there (no live attempt)' },
      { flags: '--fallback <mode>', description: 'cold: after a failed live attempt, stop the box, copy it and start it there' },
    ],
    input: ([box], options) => ({
      box,
      ...options,
      ...(options.token === undefined && process.env.NSBOX_TARGET_TOKEN ? { token: process.env.NSBOX_TARGET_TOKEN } : {}),
    }),
  },
  run: async (input, { box, services, own, operation }) => {
    const service = own<MigrationService>(migrationServiceId);
    const local = await service.checker.recent();
    const transfer = transferServices(services);
    targetClient(input.to, input.token).close(); // checks `to` before anything
    return migrate(
      transfer,
      service.outgoingSide(transfer, operation.log),
      box as Box,
      {
        to: input.to,
        token: input.token,
        tcpEstablished: input.tcpEstablished ?? true,
        fallback: input.fallback ?? 'none',
        cold: input.cold ?? false,
        local,
        // Opt-in: criu's page server answers whoever reaches its port on the source until the
        // target has every page (no authentication of its own), so only the admin who knows the
        // link between the hosts is private turns it on.
        lazyPages: input.lazyPages ?? false,
      },
      operation,
    );
  },
  // nsboxd died during the operation: the migration's record says where the box went (the reconcile settles an open one).
  interrupted: ({ boxes, own }) => interruptedMigration(own<MigrationService>(migrationServiceId).records, boxes[0] ?? ''),
  render: (result) =>
    `box ${result.box} migrated to ${result.to}${result.mode === 'cold' ? ' cold (stopped and started there)' : ''}: frozen ${result.frozenMs} ms (dump ${result.dumpMs} ms, copy ${result.transferMs} ms of ${result.bytes} bytes, restore ${result.restoreMs} ms; ${result.precopyWhy})`,
});

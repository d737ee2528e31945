/**
 * The source's side of a migration's end: from its recorded phase, where the box must run —
 * here again, or there (and the copy here goes). Used by `migrate` when an attempt fails, and
 * by the reconcile loop for migrations whose nsboxd died (or that wait for the target). A
 * decision that needs the target's word (abort acknowledged, commit confirmed) is retried
 * until the target answers: until then the record stays, and the box runs nowhere twice.
 */

import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { NsboxClient } from '@nsbox/client';
import { type Box, type BoxManager, NsboxError, type OperationLog } from '@nsbox/core';
import type { BoxFilesService } from '@nsbox/runtime-api';
import type { PageServer } from './criu-args.js';
import { type CriuEngine, completeInterruptedDump, DUMP_LOG, dumpExit, dumpRunning, postcopyServer } from './criu-engine.js';
import { criuErrors } from './criu-run.js';
import type { SettleAnswer } from './incoming.js';
import { type MigrationRecords, type OutgoingRecord, ownerAlive } from './migration-records.js';

export interface OutgoingSide {
  records: MigrationRecords;
  /** Post-copy: its page servers (pagesServed). */
  engine: Pick<CriuEngine, 'pagesServed'>;
  manager: BoxManager;
  files: BoxFilesService;
  log: OperationLog;
  exclusive<T>(upload: string, body: () => Promise<T>): Promise<T>;
}

/** The target did not answer (or not yet finally): the record stays and is tried again. */
export class TargetUndecided extends Error {}

export function targetClient(to: string, token: string, timeoutMs = 600_000): NsboxClient {
  if (/^https?:\/\//.test(to)) return new NsboxClient({ url: to, token, timeoutMs });
  if (to.startsWith('/')) return new NsboxClient({ socketPath: to, token, timeoutMs });
  throw new NsboxError('E_INVALID_ARGUMENT', `to: ${to} is neither a socket path (absolute) nor an http(s) URL`, { details: { field: 'to' } });
}

/** How long the target's token a migration keeps lasts: the reconcile asks the target with it until the move is settled. */
const SETTLE_TOKEN_SECONDS = 7 * 24 * 3600;

/**
 * A token of the target's for this migration only (admin, as settle needs), expiring: the
 * record keeps it rather than the caller's own token, and it is revoked once settled.
 */
export async function mintSettleToken(client: NsboxClient, upload: string): Promise<string> {
  return (await client.tokens.create({ name: settleTokenName(upload), role: 'admin', expiresIn: SETTLE_TOKEN_SECONDS })).token;
}

function settleTokenName(upload: string): string {
  return `migration-${upload}`;
}

/** The migration is settled: its record says where the box runs, and the target's token for it is revoked there (best effort: it expires anyway). */
export async function settled(records: MigrationRecords, upload: string, outcome: 'here' | 'there' | 'gone'): Promise<void> {
  const token = records.outgoing(upload)?.token;
  records.setOutgoing(upload, { phase: 'done', outcome });
  const target = records.outgoing(upload)?.target;
  if (!token || !target) return;
  const client = targetClient(target, token, 15_000);
  try {
    // Only the token minted for this migration (a record of an older nsbox holds its caller's own).
    const me = await client.whoami();
    if (me.name === settleTokenName(upload)) await client.tokens.revoke(me.tokenId);
  } catch {
    // Unreachable now: the token expires by itself.
  } finally {
    client.close();
  }
}

/** The target's final word on the migration, or TargetUndecided. */
export async function askTarget(record: OutgoingRecord, decision: 'commit' | 'abort'): Promise<'committed' | 'aborted'> {
  const client = targetClient(record.target, record.token, 60_000);
  let answer: SettleAnswer;
  try {
    answer = ((await client.actions.run('migration', 'settle', { upload: record.upload, decision })) as { state: SettleAnswer }).state;
  } catch (error) {
    throw new TargetUndecided(`${record.target} did not answer the ${decision}: ${(error as Error).message}`);
  } finally {
    client.close();
  }
  if (answer === 'pending') throw new TargetUndecided(`${record.target} is still importing the box`);
  return answer;
}

async function waitForDump(imageDir: string, deadline = Number.POSITIVE_INFINITY): Promise<boolean> {
  while (dumpRunning(imageDir)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return true;
}

/** How long a restarted source lets a target pull the pages it owes before it gives the move up. */
const PAGES_WITHIN_MS = 60_000;

/** Whether a target's lazy-pages daemon is connected to the page server (this network namespace's TCP tables). */
function pulling(server: PageServer): boolean {
  const port = server.port.toString(16).toUpperCase().padStart(4, '0');
  return ['/proc/net/tcp', '/proc/net/tcp6'].some((table) => {
    try {
      // local_address is HEX_IP:HEX_PORT; state 01 is ESTABLISHED.
      return readFileSync(table, 'utf8')
        .split('\n')
        .slice(1)
        .some((line) => {
          const fields = line.trim().split(/\s+/);
          return fields[1]?.endsWith(`:${port}`) === true && fields[3] === '01';
        });
    } catch {
      return false;
    }
  });
}

/**
 * A post-copy dump's page server that no target will pull from (the move is given up) is ended
 * with a request it does not know: its dump fails, and criu thaws the frozen tree here. (A
 * connection closed without a word would end it as a transfer done — and end the tree.)
 */
async function endIdlePageServer(imageDir: string, server: PageServer): Promise<void> {
  // criu's struct page_server_iov: cmd, nr_pages (u32), vaddr, dst_id (u64); no command is 0xffff.
  const unknown = Buffer.alloc(24);
  unknown.writeUInt32LE(0xffff, 0);
  for (let tries = 0; dumpRunning(imageDir) && tries < 50; tries++) {
    await new Promise<void>((resolve) => {
      const socket = connect(server.port, server.address, () => socket.end(unknown));
      socket.on('error', () => resolve());
      socket.on('close', () => resolve());
    });
    await waitForDump(imageDir, Date.now() + 1000);
  }
}

/**
 * A post-copy migration whose nsboxd died after the dump: criu's page server here decides. It
 * ends having handed every page over — the tree here ended with it, the target's copy is the
 * box — or failed, and criu then let the tree run here again: the target's copy, short of its
 * memory, must go. When the page server outlived the nsboxd, the target pulls on meanwhile.
 */
async function settlePostcopy(side: OutgoingSide, record: OutgoingRecord, imageDir: string, server: PageServer): Promise<'here' | 'there'> {
  if (record.phase === 'dump' || record.phase === 'transfer') {
    // No copy there yet: nobody will pull.
    await askTarget(record, 'abort').catch(() => undefined);
    await endIdlePageServer(imageDir, server);
    return bringBack(side, record);
  }
  // While the target pulls (its lazy-pages daemon connected), let it finish.
  for (const deadline = Date.now() + PAGES_WITHIN_MS; dumpRunning(imageDir) && pulling(server) && Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  if (dumpRunning(imageDir)) {
    // The target does not pull (its import failed, or is still to come): its copy goes, then this one runs again.
    await askTarget(record, 'abort');
    await endIdlePageServer(imageDir, server);
  }
  if (dumpExit(imageDir) !== 0) {
    if ((await askTarget(record, 'abort')) === 'committed') return leave(side, record);
    return bringBack(side, record);
  }
  // Every page went there and the tree here is gone: only the target's copy is the box.
  if ((await askTarget(record, 'commit')) === 'committed') return leave(side, record);
  side.log.warn(`migration ${record.upload}: box ${record.boxName} had its memory handed to ${record.target}, which dropped it: it is lost`);
  await settled(side.records, record.upload, 'gone');
  return 'there';
}

function dumpLogTail(boxDir: string): string {
  const log = join(boxDir, DUMP_LOG);
  return existsSync(log) ? criuErrors(readFileSync(log, 'utf8'), 3) : 'no criu log';
}

function find(manager: BoxManager, id: string): Box | undefined {
  return manager.list().find((box) => box.id === id);
}

/** The box runs here again: as it was (restored from its images), or started when it has none. */
async function bringBack(side: OutgoingSide, record: OutgoingRecord): Promise<'here'> {
  const found = find(side.manager, record.boxId);
  if (!found) {
    side.log.warn(`migration ${record.upload}: box ${record.boxName} is not here any more`);
    await settled(side.records, record.upload, 'gone');
    return 'here';
  }
  const box = await side.manager.sync(found.id);
  if (box.state !== 'running') {
    const images = record.mode === 'live' && record.imageDir !== null && completeInterruptedDump(record.imageDir);
    if (images && record.imageDir && existsSync(record.imageDir)) {
      await side.manager.restore(box.id, { imageDir: record.imageDir }).catch(async (error: Error) => {
        // Busy (an exit being settled meanwhile): the next round tries again.
        if (error instanceof NsboxError && error.code === 'E_INVALID_STATE') throw error;
        // Never none: without its memory, the box at least runs.
        side.log.warn(`migration ${record.upload}: restore of box ${record.boxName} failed (${error.message}); starting it`);
        await side.manager.start(box.id);
      });
    } else {
      if (record.mode === 'live')
        side.log.warn(`migration ${record.upload}: no whole dump of box ${record.boxName} (${dumpLogTail(side.files.boxDir(box))}); starting it`);
      await side.manager.start(box.id);
    }
  }
  await settled(side.records, record.upload, 'here');
  return 'here';
}

async function leave(side: OutgoingSide, record: OutgoingRecord): Promise<'there'> {
  side.records.setOutgoing(record.upload, { phase: 'destroy' });
  const box = find(side.manager, record.boxId);
  if (box) await side.manager.destroy(box.id, { force: true });
  await settled(side.records, record.upload, 'there');
  return 'there';
}

/** Settles a migration from its recorded phase: where the box runs now. TargetUndecided when the target must answer first. */
export function settleOutgoing(side: OutgoingSide, upload: string): Promise<'here' | 'there'> {
  return side.exclusive(upload, async () => {
    const record = side.records.outgoing(upload);
    if (!record) throw new Error(`no outgoing migration ${upload}`);
    const server = record.mode === 'live' && record.imageDir && record.phase !== 'done' ? postcopyServer(record.imageDir) : undefined;
    if (server && record.imageDir && record.phase !== 'preflight') return settlePostcopy(side, record, record.imageDir, server);
    switch (record.phase) {
      case 'done':
        return record.outcome === 'there' ? 'there' : 'here';
      case 'preflight':
        // Nothing was touched.
        await settled(side.records, upload, 'here');
        return 'here';
      case 'dump':
        if (record.imageDir) await waitForDump(record.imageDir);
        return bringBack(side, record);
      case 'transfer':
        // Nothing was imported there yet: the upload is only a file (the target drops it too).
        await askTarget(record, 'abort').catch(() => undefined);
        return bringBack(side, record);
      case 'restore':
      case 'aborting':
        // The target may run a copy: it must be gone before this one runs.
        return (await askTarget(record, 'abort')) === 'committed' ? leave(side, record) : bringBack(side, record);
      case 'commit':
      case 'destroy':
        return (await askTarget(record, 'commit')) === 'committed' ? leave(side, record) : bringBack(side, record);
    }
  });
}

/**
 * Settles every migration whose nsboxd died mid-way (or that `migrate` left to be retried):
 * each one where the target's answer is still missing stays for the next round.
 */
export async function reconcileOutgoing(side: OutgoingSide): Promise<number> {
  let waiting = 0;
  for (const record of side.records.unsettledOutgoing()) {
    // Handed off by `migrate` (pid 0), or its process died.
    if (ownerAlive(record.owner)) continue;
    try {
      const where = await settleOutgoing(side, record.upload);
      side.log.warn(`migration ${record.upload} of box ${record.boxName} (interrupted at ${record.phase}): the box runs ${where}`);
    } catch (error) {
      if (!(error instanceof TargetUndecided)) side.log.warn(`migration ${record.upload}: ${(error as Error).message}`);
      waiting++;
    }
  }
  return waiting;
}

/**
 * `nsbox migrate BOX --to TARGET --token T`: moves a running box to another nsboxd (its
 * socket path or URL). Before anything stops: the target's criu works, it has a plugin for
 * each section of the box's config and no box of that name or id, and this host's engine can
 * save the box. Then the box is checkpointed
 * (its processes freeze and stop here), archived with its root, sent to the target in
 * pieces and restored there with its id, name and config. The frozen time is from the dump's
 * start to the target's restore's end. On any failure after the dump the box is restored
 * here from its images and whatever reached the target is removed; once it runs there, it is
 * destroyed here (its address claims freed with it).
 *
 * Memory moves stop-and-copy: criu's pre-copy (`pre-dump`) needs soft-dirty page tracking,
 * which is detected (`criu check --feature mem_dirty_track`) and reported, not used yet.
 */

import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { NsboxApiError, NsboxClient } from '@nsbox/client';
import { type Box, coreConfigSchema, defineAction, NsboxError, type OperationContext, z } from '@nsbox/core';
import { exportBox, migrationDir, type TransferServices } from './box-transfer.js';
import type { CriuCheckResult } from './criu-check.js';
import { type MigrationService, migrationServiceId } from './migration-service.js';
import { freshImageDir, transferServices } from './transfer-actions.js';

/** Raw bytes per piece: base64 of it stays under nsboxd's 1 MiB body limit. */
const PIECE = 600 * 1024;

function targetClient(to: string, token: string): NsboxClient {
  if (/^https?:\/\//.test(to)) return new NsboxClient({ url: to, token });
  if (to.startsWith('/')) return new NsboxClient({ socketPath: to, token });
  throw new NsboxError('E_INVALID_ARGUMENT', `to: ${to} is neither a socket path (absolute) nor an http(s) URL`, { details: { field: 'to' } });
}

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

async function send(client: NsboxClient, file: string, upload: string, signal: AbortSignal): Promise<number> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(PIECE);
    let offset = 0;
    for (;;) {
      signal.throwIfAborted();
      const { bytesRead } = await handle.read(buffer, 0, PIECE, offset);
      if (bytesRead === 0) return offset;
      await client.actions.run('migration', 'receive', { upload, offset, data: buffer.subarray(0, bytesRead).toString('base64') });
      offset += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

export interface MigrateResult {
  box: string;
  to: string;
  state: string;
  frozenMs: number;
  dumpMs: number;
  transferMs: number;
  restoreMs: number;
  bytes: number;
  /** Memory copied while the box ran (criu pre-dump): not yet, and never without soft-dirty tracking. */
  precopy: false;
  /** Why not. */
  precopyWhy: string;
}

interface MigrateRequest {
  to: string;
  token: string;
  tcpEstablished: boolean;
  /** This host's criu verdict (its dirty-memory tracking). */
  local: CriuCheckResult;
}

function precopyWhy(local: CriuCheckResult, target: CriuCheckResult): string {
  if (!local.dirtyTracking || !target.dirtyTracking) return 'stop-and-copy: no soft-dirty memory tracking in the kernel, which criu pre-dump needs';
  return 'stop-and-copy: pre-copy is not implemented yet';
}

async function migrate(transfer: TransferServices, box: Box, request: MigrateRequest, operation: OperationContext): Promise<MigrateResult> {
  const { to, token, tcpEstablished } = request;
  const { manager } = transfer;
  if (box.state !== 'running') {
    throw new NsboxError('E_INVALID_STATE', `box '${box.name}' is ${box.state}, not running`, { details: { box: box.name, state: box.state } });
  }
  const client = targetClient(to, token);
  const upload = randomBytes(16).toString('hex');
  const archive = join(migrationDir(transfer.files, 'outgoing'), `${upload}.tar`);
  try {
    operation.progress({ step: 'preflight', message: `checking ${to}` });
    const remote = await checkTarget(client, box, to);
    const frozenAt = Date.now();
    operation.progress({ step: 'dump', message: 'criu dump' });
    const saved = await manager.checkpoint(box.id, { imageDir: freshImageDir(transfer, box), extra: { tcpEstablished } }, operation);
    const imageDir = (saved.runtime as { checkpoint?: { imageDir?: string } }).checkpoint?.imageDir as string;
    const dumpMs = Date.now() - frozenAt;
    let sent = 0;
    let transferMs = 0;
    let restoreMs = 0;
    try {
      operation.progress({ step: 'transfer', message: `sending box ${box.name} to ${to}` });
      const transferAt = Date.now();
      await exportBox(transfer, manager.get(box.id), archive, operation);
      sent = await send(client, archive, upload, operation.signal);
      transferMs = Date.now() - transferAt;
      operation.progress({ step: 'restore', message: `restoring box ${box.name} on ${to}` });
      const restoreAt = Date.now();
      const arrived = (await client.actions.run('migration', 'import', { upload, run: true })) as { state: string };
      restoreMs = Date.now() - restoreAt;
      if (arrived.state !== 'running') throw new NsboxError('E_RUNTIME', `box '${box.name}' is ${arrived.state} on ${to}, not running`);
    } catch (error) {
      // The box runs here again; the target has nothing of it (an import that failed removed its box).
      await client.actions.run('migration', 'receive', { upload, offset: 0, data: '', discard: true }).catch(() => undefined);
      const back = await manager.restore(box.id, { imageDir }, operation).then(
        () => 'it runs here again',
        (restoreError: Error) => `and its restore here failed too: ${restoreError.message}`,
      );
      throw new NsboxError('E_RUNTIME', `migration of box '${box.name}' to ${to} failed: ${(error as Error).message}; ${back}`, {
        details: { box: box.name, to },
        cause: error,
      });
    }
    const frozenMs = Date.now() - frozenAt;
    // It runs on the target: the copy here goes (its address claims, images, root).
    await manager.destroy(box.id, { force: true }, operation);
    return {
      box: box.name,
      to,
      state: 'running',
      frozenMs,
      dumpMs,
      transferMs,
      restoreMs,
      bytes: sent,
      precopy: false,
      precopyWhy: precopyWhy(request.local, remote),
    };
  } finally {
    rmSync(archive, { force: true });
    client.close();
  }
}

export const migrateAction = defineAction({
  name: 'migrate',
  description: 'move a running box to another nsboxd (its socket or URL and a token): checkpoint, copy, restore there',
  input: z.strictObject({
    box: z.string().min(1).describe('the box (name or id)'),
    to: z.string().min(1).describe('the target nsboxd: its socket path or https URL'),
    token: z.string().min(1).describe("an admin token of the target's"),
    tcpEstablished: z.boolean().optional().describe('carry established TCP connections (default: yes)'),
  }),
  box: true,
  hostWide: true,
  role: 'admin',
  cli: {
    command: 'migrate',
    arguments: [{ name: 'box', description: 'the box (name or id)', required: true }],
    options: [
      { flags: '--to <target>', description: "the target nsboxd's socket path or URL" },
      { flags: '--token <token>', description: "an admin token of the target's (default: NSBOX_TARGET_TOKEN)" },
      { flags: '--no-tcp-established', description: 'do not carry established TCP connections' },
    ],
    input: ([box], options) => ({
      box,
      ...options,
      ...(options.token === undefined && process.env.NSBOX_TARGET_TOKEN ? { token: process.env.NSBOX_TARGET_TOKEN } : {}),
    }),
  },
  run: async (input, { box, services, own, operation }) => {
    const local = await own<MigrationService>(migrationServiceId).checker.recent();
    return migrate(
      transferServices(services),
      box as Box,
      { to: input.to, token: input.token, tcpEstablished: input.tcpEstablished ?? true, local },
      operation,
    );
  },
  render: (result) =>
    `box ${result.box} migrated to ${result.to}: frozen ${result.frozenMs} ms (dump ${result.dumpMs} ms, copy ${result.transferMs} ms of ${result.bytes} bytes, restore ${result.restoreMs} ms; ${result.precopyWhy})`,
});

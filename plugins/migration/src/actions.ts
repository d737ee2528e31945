/**
 * `nsbox checkpoint BOX [--leave-running] [--to DIR]`, `nsbox restore BOX [--from DIR]` and
 * `nsbox migration check`: each also an API route (`/plugins/migration/actions/...`) and an
 * SDK call. Checkpoint and restore are the BoxManager's operations (journaled, with the
 * plugins' hooks); these actions choose where the images go and hand the engine its options.
 */

import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { type Box, coreRefs, defineAction, NsboxError, z } from '@nsbox/core';
import { runtimeRefs } from '@nsbox/runtime-api';
import { manifestFile } from './criu-args.js';
import { settleAction } from './incoming.js';
import { migrateAction } from './migrate-action.js';
import { type MigrationService, migrationServiceId } from './migration-service.js';
import { exportAction, importAction } from './transfer-actions.js';

export { migrationServiceId } from './migration-service.js';

interface CheckpointFacts {
  imageDir?: string;
}

/** The box's last checkpoint, or the images an import brought into its own directory. */
function lastImages(box: Box, boxDir: string): string | undefined {
  const recorded = (box.runtime as { checkpoint?: CheckpointFacts }).checkpoint?.imageDir;
  if (recorded) return recorded;
  const own = join(boxDir, 'checkpoint');
  return existsSync(manifestFile(own)) ? own : undefined;
}

function boxView(box: Box) {
  return { box: box.name, state: box.state };
}

/**
 * A directory for new images: the caller's (absolute, empty or missing) or the box's own
 * `checkpoint` directory beside its other files (gone with the box), emptied.
 */
function imageDirFor(to: string | undefined, boxDir: string): string {
  if (to !== undefined) {
    if (!isAbsolute(to)) throw new NsboxError('E_INVALID_ARGUMENT', `to: ${to} is not an absolute path`, { details: { field: 'to' } });
    if (existsSync(to) && (!statSync(to).isDirectory() || readdirSync(to).length > 0)) {
      throw new NsboxError('E_INVALID_ARGUMENT', `to: ${to} exists and is not an empty directory`, { details: { field: 'to' } });
    }
    return to;
  }
  const dir = join(boxDir, 'checkpoint');
  // Our own directory, with only criu's image files in it (no mount can be there).
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

export const checkpointAction = defineAction({
  name: 'checkpoint',
  description: "save a running box's processes (criu): the box stops, or keeps running with --leave-running",
  input: z.strictObject({
    box: z.string().min(1).describe('the box (name or id)'),
    leaveRunning: z.boolean().optional().describe('keep the box running after the dump (a snapshot)'),
    to: z.string().min(1).optional().describe('directory for the images (absolute, empty or missing); default: the plugin keeps them'),
    tcpEstablished: z.boolean().optional().describe('save established TCP connections too'),
  }),
  box: true,
  cli: {
    command: 'checkpoint',
    arguments: [{ name: 'box', description: 'the box (name or id)', required: true }],
    options: [
      { flags: '--leave-running', description: 'keep the box running after the dump' },
      { flags: '--to <dir>', description: 'directory for the images (absolute, empty or missing)' },
      { flags: '--tcp-established', description: 'save established TCP connections too' },
    ],
  },
  async run(input, { box, services, operation }) {
    const current = box as Box;
    if (current.state !== 'running') {
      throw new NsboxError('E_INVALID_STATE', `box '${current.name}' is ${current.state}, not running`, {
        details: { box: current.name, state: current.state },
      });
    }
    const imageDir = imageDirFor(input.to, services.get(runtimeRefs.boxFiles).boxDir(current));
    const manager = services.get(coreRefs.boxManager);
    const saved = await manager.checkpoint(
      current.id,
      { imageDir, leaveRunning: input.leaveRunning ?? false, extra: { tcpEstablished: input.tcpEstablished ?? false } },
      operation,
    );
    const facts = (saved.runtime as { checkpoint?: Record<string, unknown> }).checkpoint ?? {};
    return { ...boxView(manager.get(current.id)), imageDir, ...facts };
  },
  render: (result) => `box ${result.box} checkpointed to ${result.imageDir} (${result.state})`,
});

export const restoreAction = defineAction({
  name: 'restore',
  description: 'bring a checkpointed box back from its images (criu)',
  input: z.strictObject({
    box: z.string().min(1).describe('the box (name or id)'),
    from: z.string().min(1).optional().describe("the images' directory; default: the box's last checkpoint"),
  }),
  box: true,
  cli: {
    command: 'restore',
    arguments: [{ name: 'box', description: 'the box (name or id)', required: true }],
    options: [{ flags: '--from <dir>', description: "the images' directory (default: the box's last checkpoint)" }],
  },
  async run(input, { box, services, operation }) {
    const current = box as Box;
    if (input.from !== undefined && !isAbsolute(input.from)) {
      throw new NsboxError('E_INVALID_ARGUMENT', `from: ${input.from} is not an absolute path`, { details: { field: 'from' } });
    }
    const imageDir = input.from ?? lastImages(current, services.get(runtimeRefs.boxFiles).boxDir(current));
    if (!imageDir) {
      throw new NsboxError('E_NOT_FOUND', `box '${current.name}' has no checkpoint; give --from DIR`, { details: { box: current.name, field: 'from' } });
    }
    const manager = services.get(coreRefs.boxManager);
    const restored = await manager.restore(current.id, { imageDir }, operation);
    return { ...boxView(restored), imageDir, pid: (restored.runtime as { init?: { pid: number } }).init?.pid };
  },
  render: (result) => `box ${result.box} restored from ${result.imageDir} (${result.state})`,
});

export const checkAction = defineAction({
  name: 'check',
  description: "criu on this host: where it is, its version, and `criu check`'s verdict",
  input: z.strictObject({}),
  readOnly: true,
  cli: { command: 'migration check' },
  run: (_input, { own }) => own<MigrationService>(migrationServiceId).checker.check(),
  render: (result) =>
    result.installed
      ? `criu ${result.version} in ${result.prefix}: ${result.ok ? 'ok' : 'NOT ok'} — ${result.verdict}; post-copy (lazy pages): ${result.lazyPages ? 'yes' : `no — ${result.lazyPagesWhy}`}`
      : `criu: not installed — ${result.verdict}`,
});

export const migrationActions = [checkpointAction, restoreAction, checkAction, exportAction, importAction, settleAction, migrateAction] as const;

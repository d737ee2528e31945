/**
 * runc's `checkpoint` and `restore`, through the checkpoint engine the host's migration plugin
 * installs (criu from nsbox's private prefix). `checkpoint` is the core's checkpoint of the
 * box (the dump ends it unless --leave-running); `restore` is `create` whose init comes back
 * from the images instead of being launched (../box/oci-driver.ts `restore`), running at once.
 * criu's log is copied to --work-path as runc leaves it there (dump.log, restore.log); a
 * restore that fails leaves nothing, and says criu's errors.
 */

import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { NsboxError } from '@nsbox/core';
import { ociStatus } from '../box/oci-state.js';
import type { CommandContext } from './context.js';
import { type CreateOptions, createContainer } from './create.js';

export interface CheckpointFlags {
  imagePath?: string;
  workPath?: string;
  leaveRunning?: boolean;
  tcpEstablished?: boolean;
  preDump?: boolean;
  lazyPages?: boolean;
  pageServer?: string;
  parentPath?: string;
}

export interface RestoreFlags extends CreateOptions {
  imagePath?: string;
  workPath?: string;
  tcpEstablished?: boolean;
  detach?: boolean;
}

/** runc's flags that ask for what this engine does not do: refused by name before anything stops. */
function refuseUnsupported(flags: CheckpointFlags): void {
  const refused: [keyof CheckpointFlags, string, string][] = [
    ['preDump', '--pre-dump', 'iterative pre-copy needs soft-dirty memory tracking'],
    ['lazyPages', '--lazy-pages', 'lazy pages are served by nsbox migrate, not by the OCI runtime'],
    ['pageServer', '--page-server', 'images go to --image-path only'],
    ['parentPath', '--parent-path', 'no pre-dump images to build on'],
  ];
  for (const [key, flag, why] of refused) {
    if (flags[key]) throw new NsboxError('E_UNSUPPORTED', `${flag} is not supported by nsbox-runc: ${why}`, { details: { field: flag } });
  }
}

function imageDir(context: CommandContext, flags: { imagePath?: string }): string {
  // runc's default: ./checkpoint in the working directory.
  return resolve(context.cwd, flags.imagePath ?? 'checkpoint');
}

/** criu's log, where runc's callers (podman) look for it. */
function copyLog(context: CommandContext, box: { id: string }, log: string, workPath: string | undefined, name: string): void {
  if (!workPath) return;
  const from = join(context.runtime.driver.files(box).dir, log);
  if (!existsSync(from)) return;
  try {
    const dir = resolve(context.cwd, workPath);
    mkdirSync(dir, { recursive: true });
    copyFileSync(from, join(dir, name));
  } catch (error) {
    context.log.warn(`cannot copy criu's log to ${workPath}: ${(error as Error).message}`);
  }
}

export async function checkpointContainer(context: CommandContext, id: string, flags: CheckpointFlags): Promise<void> {
  refuseUnsupported(flags);
  const { runtime } = context;
  const images = imageDir(context, flags);
  await runtime.locks.with(id, async () => {
    const box = await runtime.get(id);
    const status = ociStatus(box);
    if (status !== 'running') {
      throw new NsboxError('E_INVALID_STATE', `container ${id} is ${status}: only a running container can be checkpointed`, { details: { id, status } });
    }
    try {
      await runtime.manager.checkpoint(box.id, {
        imageDir: images,
        leaveRunning: flags.leaveRunning ?? false,
        extra: { tcpEstablished: flags.tcpEstablished ?? false },
      });
    } finally {
      copyLog(context, box, 'criu-dump.log', flags.workPath, 'dump.log');
    }
  });
}

export async function restoreContainer(context: CommandContext, id: string, flags: RestoreFlags): Promise<void> {
  const restore = { imageDir: imageDir(context, flags), extra: { tcpEstablished: flags.tcpEstablished ?? false } };
  const box = await createContainer(context, id, { ...flags, restore });
  copyLog(context, box, 'criu-restore.log', flags.workPath, 'restore.log');
}

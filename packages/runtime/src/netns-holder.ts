/**
 * A network namespace for a box being restored, before its processes exist: a holder process
 * in a new namespace (its loopback up) that the plugins wire at the wire moment as they wire
 * a starting box's, and that the checkpoint engine's restored processes then join. The
 * holder ends once they have; the namespace lives on with them.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { NsboxError } from '@nsbox/core';
import { waitUntil } from './process-identity.js';

export interface NetnsHolder {
  pid: number;
  /** `/proc/PID/ns/net`. */
  path: string;
  stop(): void;
}

export async function holdNetns(): Promise<NetnsHolder> {
  const child: ChildProcess = spawn('unshare', ['--net', '--', 'sh', '-c', 'ip link set lo up && echo ready && exec sleep 1000000'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const own = readlinkSync('/proc/self/ns/net');
  let ready = false;
  child.stdout?.on('data', (chunk: Buffer) => {
    if (chunk.toString().includes('ready')) ready = true;
  });
  const pid = child.pid;
  const stop = () => {
    child.kill('SIGKILL');
  };
  const inOwnNetns = () => {
    try {
      return readlinkSync(`/proc/${pid}/ns/net`) !== own;
    } catch {
      return false;
    }
  };
  const made = await waitUntil(() => ready && pid !== undefined && inOwnNetns(), 5_000);
  if (!made || pid === undefined) {
    stop();
    throw new NsboxError('E_RUNTIME', 'could not make a network namespace for the restore (unshare --net)', { details: { step: 'netns' } });
  }
  return { pid, path: `/proc/${pid}/ns/net`, stop };
}

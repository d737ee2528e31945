/**
 * Whether the CLI should talk to nsboxd: when a daemon serves the state directory (its
 * <state-dir>/nsboxd.json names the socket and a live pid), answers, and the CLI has a token
 * (NSBOX_TOKEN, or <state-dir>/admin.token when the user may read it), box commands go
 * through the API, so the CLI and the panels see the same boxes. Otherwise the CLI works
 * on the state directory itself, as before. NSBOX_LOCAL=1 or --local forces local.
 */

import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_SOCKET, NsboxClient } from '@nsbox/client';
import { isProcessAlive } from '@nsbox/core/light';

export interface RemoteTarget {
  socketPath: string;
  token: string;
  client: NsboxClient;
}

const DEFAULT_STATE_DIR = '/var/lib/nsbox';

function readable(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * What <state-dir>/nsboxd.json says of the nsboxd (or its agent alone, no socket) that runs for
 * `stateDir`: `running` when its pid lives; undefined when there is no readable file.
 */
export function daemonRecord(stateDir: string): { running: boolean; socket: string | null } | undefined {
  const stateFile = readable(join(stateDir, 'nsboxd.json'));
  if (!stateFile) return undefined;
  try {
    const { pid, socket } = JSON.parse(stateFile) as { pid?: number; socket?: string | null };
    return { running: typeof pid === 'number' && pid > 0 && isProcessAlive(pid), socket: socket ?? null };
  } catch {
    return { running: false, socket: null };
  }
}

/** The socket of the nsboxd that serves `stateDir`, if one is running. */
function socketFor(stateDir: string, explicitStateDir: boolean, env: NodeJS.ProcessEnv): string | undefined {
  const record = daemonRecord(stateDir);
  if (record) return record.running && record.socket ? record.socket : undefined;
  // A user who cannot read the state directory reaches the default daemon by its socket.
  if (explicitStateDir) return undefined;
  const socket = env.NSBOX_SOCKET ?? DEFAULT_SOCKET;
  return existsSync(socket) ? socket : undefined;
}

export async function findDaemon(options: { stateDir?: string; local?: boolean }, env: NodeJS.ProcessEnv = process.env): Promise<RemoteTarget | undefined> {
  if (options.local || env.NSBOX_LOCAL === '1') return undefined;
  const explicit = options.stateDir ?? env.NSBOX_STATE_DIR;
  const stateDir = resolve(explicit ?? DEFAULT_STATE_DIR);
  const socketPath = socketFor(stateDir, explicit !== undefined, env);
  if (!socketPath) return undefined;
  const token = env.NSBOX_TOKEN ?? readable(join(stateDir, 'admin.token'));
  if (!token) return undefined;
  const client = new NsboxClient({ socketPath, token, timeoutMs: 600_000 });
  const probe = new NsboxClient({ socketPath, timeoutMs: 2000 });
  try {
    await probe.health();
  } catch {
    client.close();
    return undefined;
  } finally {
    probe.close();
  }
  return { socketPath, token, client };
}

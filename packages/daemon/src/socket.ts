/**
 * The unix socket: mode 0660, group `nsbox` (created when missing), so that members of the
 * group can reach the API without being root. The bearer token is still needed on the socket.
 */

import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { dirname } from 'node:path';

export const DEFAULT_SOCKET = '/run/nsbox/nsbox.sock';

function groupId(name: string): number | undefined {
  try {
    const line = execFileSync('getent', ['group', name], { encoding: 'utf8' }).trim();
    const gid = Number(line.split(':')[2]);
    return Number.isInteger(gid) ? gid : undefined;
  } catch {
    return undefined;
  }
}

/** The group's id, creating it as a system group when missing; undefined when that fails. */
export function ensureGroup(name: string, warn: (message: string) => void): number | undefined {
  const existing = groupId(name);
  if (existing !== undefined) return existing;
  try {
    execFileSync('groupadd', ['--system', name], { stdio: 'pipe' });
  } catch (error) {
    warn(`cannot create group '${name}' (${(error as Error).message.split('\n')[0]}): the socket stays root's only`);
    return undefined;
  }
  return groupId(name);
}

/** Whether something answers /health on the socket (another nsboxd). */
export function socketAnswers(path: string, timeoutMs = 1000): Promise<boolean> {
  if (!existsSync(path)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const req = request({ socketPath: path, path: '/health', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

export function prepareSocketPath(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  // A socket file left by a killed nsboxd: nobody listens on it (checked by the caller).
  if (existsSync(path)) rmSync(path, { force: true });
}

export function secureSocket(path: string, group: string | false, warn: (message: string) => void): { mode: string; group: string } {
  chmodSync(path, 0o660);
  if (group === false) return { mode: '0660', group: 'root' };
  const gid = ensureGroup(group, warn);
  if (gid === undefined) return { mode: '0660', group: 'root' };
  chownSync(path, 0, gid);
  return { mode: '0660', group };
}

/**
 * The fds a box inherits from nsbox-runc's caller, as runc hands them on: the sockets of a
 * socket-activated caller first (LISTEN_FDS, for us when LISTEN_PID is unset or names the
 * caller; the box then sees LISTEN_FDS=N and LISTEN_PID=1), then --preserve-fds more.
 * They are the caller's fds 3 … 2+N, and become the box's fds 3 … 2+N.
 */

import { NsboxError } from '@nsbox/core';
import type { FrontRequest } from '../server/protocol.js';

export interface InheritedFds {
  count: number;
  /** Variables the box's environment gets (replacing its own of the same name). */
  env: string[];
}

function callerVariable(request: FrontRequest, name: string): string | undefined {
  const entry = request.env.findLast((variable) => variable.startsWith(`${name}=`));
  return entry?.slice(name.length + 1);
}

export function inheritedFds(request: FrontRequest, preserveFds: number): InheritedFds {
  const listenFds = Number(callerVariable(request, 'LISTEN_FDS') ?? '0');
  const listenPid = callerVariable(request, 'LISTEN_PID');
  const listen = Number.isInteger(listenFds) && listenFds > 0 && (listenPid === undefined || Number(listenPid) === request.pid) ? listenFds : 0;
  const count = listen + preserveFds;
  if (request.fds !== undefined && count > request.fds) {
    throw new NsboxError(
      'E_INVALID_ARGUMENT',
      `--preserve-fds ${preserveFds}${listen ? ` with LISTEN_FDS=${listen}` : ''}: the caller has ${request.fds} fds open from fd 3, not ${count}`,
      { details: { field: '--preserve-fds' } },
    );
  }
  return { count, env: listen > 0 ? [`LISTEN_FDS=${listen}`, 'LISTEN_PID=1'] : [] };
}

/** env with `extra` set, an earlier value of the same name replaced. */
export function withVariables(env: string[] | undefined, extra: string[]): string[] {
  const names = new Set(extra.map((variable) => variable.split('=')[0]));
  return [...(env ?? []).filter((variable) => !names.has(variable.split('=')[0])), ...extra];
}

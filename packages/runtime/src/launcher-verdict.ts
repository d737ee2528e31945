/**
 * The one reader of the launcher's result line (native/PROTOCOL.md §1): `ok PID`, or
 * `error STEP ERRNO MESSAGE` naming the op that failed.
 */

import { NsboxError } from '@nsbox/core';

export interface LauncherFailure {
  step: string;
  errno: number;
  message: string;
}

/** The failure the launcher reported on its result fd, if it reported one. */
export function launcherFailure(verdict: string): LauncherFailure | undefined {
  const line = verdict.split('\n').find((candidate) => candidate.startsWith('error '));
  if (!line) return undefined;
  const [, step = 'unknown', errno = '0', ...message] = line.split(' ');
  return { step, errno: Number(errno), message: message.join(' ') };
}

/** An exec whose launcher reported a failure, as an E_RUNTIME error naming the step. */
export function execFailureError(boxName: string, failure: LauncherFailure): NsboxError {
  return new NsboxError('E_RUNTIME', `exec in box '${boxName}' failed: ${failure.step}: ${failure.message}`, {
    details: { step: failure.step, errno: failure.errno },
  });
}

/** Problems found while checking limits, and the one error they become. */

import { NsboxError } from '@nsbox/core';

export interface LimitProblem {
  /** The config path, e.g. limits.cpuset. */
  field: string;
  /** invalid: a value that cannot be; forbidden: above the admin's cap; state: needs the box stopped; unsupported: beyond this host. */
  kind: 'invalid' | 'forbidden' | 'state' | 'unsupported';
  message: string;
}

/** Throws one NsboxError naming every problem; the code follows the most telling kind. */
export function throwProblems(problems: readonly LimitProblem[]): void {
  if (problems.length === 0) return;
  // Above the admin's cap is the answer whatever else is wrong: no value there would do.
  const code = problems.some((problem) => problem.kind === 'forbidden')
    ? 'E_FORBIDDEN'
    : problems.some((problem) => problem.kind === 'invalid')
      ? 'E_INVALID_CONFIG'
      : problems.some((problem) => problem.kind === 'state')
        ? 'E_INVALID_STATE'
        : 'E_UNSUPPORTED';
  const text = problems.map((problem) => `${problem.field}: ${problem.message}`).join('; ');
  throw new NsboxError(code, text, {
    details: {
      ...(code === 'E_UNSUPPORTED' ? { reason: 'E_LIMITS_UNSUPPORTED' } : {}),
      issues: problems.map(({ field, kind, message }) => ({ path: field, kind, message })),
    },
  });
}

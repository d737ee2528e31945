/**
 * Host and domain names as RFC 1123 spells them: dot-separated labels of 1 to 63 letters,
 * digits and hyphens, none starting or ending with a hyphen; at most 64 bytes in all, the
 * size of a `struct utsname` field (the kernel refuses a longer name with EINVAL).
 */

import { z } from 'zod';

const label = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
export const UTS_NAME_MAX = 64;

/** Why `name` is not an RFC 1123 name, or undefined when it is one. */
export function dnsNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > UTS_NAME_MAX) return `must be at most ${UTS_NAME_MAX} characters (the kernel's limit), not ${name.length}`;
  const bad = name.split('.').find((part) => !label.test(part));
  if (bad === undefined) return undefined;
  if (bad === '') return 'must not have an empty label (two dots in a row, or a dot at either end)';
  return `label '${bad}' is not an RFC 1123 label: 1 to 63 letters, digits and hyphens, not starting or ending with a hyphen`;
}

/** A zod string that must be an RFC 1123 name. */
export const dnsName = z.string().superRefine((name, context) => {
  const problem = dnsNameProblem(name);
  if (problem) context.addIssue({ code: 'custom', message: problem });
});

/**
 * Building blocks of seccomp allow rules that test a syscall's arguments (OCI's
 * `linux.seccomp.syscalls`): the isolation plugin's default profile and the network plugin's
 * confinement of a box on the host's stack write their rules with them.
 */

import type { OciSeccompRule } from '@nsbox/core';

/** The kernel reads these arguments as 32-bit ints: the upper half of the register is ignored, so never compare it. */
export const INT_BITS = 0xffffffff;

export type MaskedValue = { mask: number; value: number };

/**
 * Every `arg & mask == value` test that together match exactly the values whose bits under
 * `bits` are none of `excluded` — "not in this set" as a list of allow rules, since a
 * libseccomp rule compares an argument once and an errno rule cannot sit beside an
 * unconditional allow of the same syscall. Splits on one bit at a time, from the top, and
 * stops as soon as no excluded value shares the prefix: about 32 tests per excluded value.
 */
export function maskedComplement(excluded: readonly number[], bits: number = INT_BITS): MaskedValue[] {
  const order: number[] = [];
  for (let bit = 31; bit >= 0; bit--) if ((bits >>> bit) & 1) order.push((1 << bit) >>> 0);
  const out: MaskedValue[] = [];
  const split = (depth: number, mask: number, value: number, left: readonly number[]) => {
    if (left.length === 0) {
      out.push({ mask, value });
      return;
    }
    if (depth === order.length) return;
    const bit = order[depth] as number;
    const nextMask = (mask | bit) >>> 0;
    split(
      depth + 1,
      nextMask,
      value,
      left.filter((candidate) => (candidate & bit) === 0),
    );
    split(
      depth + 1,
      nextMask,
      (value | bit) >>> 0,
      left.filter((candidate) => (candidate & bit) !== 0),
    );
  };
  split(0, 0, 0, [...new Set(excluded.map((value) => (value & bits) >>> 0))]);
  return out;
}

/** `arg[index] & mask == value`. */
export const masked = (index: number, { mask, value }: MaskedValue): NonNullable<OciSeccompRule['args']>[number] => ({
  index,
  value: mask,
  valueTwo: value,
  op: 'SCMP_CMP_MASKED_EQ',
});
/** An allow rule of one syscall under argument tests. */
export const allowWhere = (name: string, ...args: NonNullable<OciSeccompRule['args']>): OciSeccompRule => ({ names: [name], action: 'SCMP_ACT_ALLOW', args });
/** The whole int equal to `value`. */
export const exactly = (value: number): MaskedValue => ({ mask: INT_BITS, value });

/**
 * What the kernel would answer, from the rules as data: allowed when some allow rule names the
 * syscall and matches every one of its argument tests (for tests of profiles).
 */
export function seccompPermits(profile: { syscalls?: OciSeccompRule[] }, name: string, args: readonly bigint[]): boolean {
  return (profile.syscalls ?? []).some(
    (rule) =>
      rule.action === 'SCMP_ACT_ALLOW' &&
      rule.names.includes(name) &&
      (rule.args ?? []).every((arg) => {
        const value = args[arg.index] ?? 0n;
        if (arg.op === 'SCMP_CMP_MASKED_EQ') return (value & BigInt(arg.value)) === BigInt(arg.valueTwo ?? 0);
        if (arg.op === 'SCMP_CMP_NE') return value !== BigInt(arg.value);
        if (arg.op === 'SCMP_CMP_EQ') return value === BigInt(arg.value);
        throw new Error(`op ${arg.op} not modelled`);
      }),
  );
}

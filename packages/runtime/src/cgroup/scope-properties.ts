/**
 * The knobs that weigh a box against other boxes — cpu.weight, io.weight, io.bfq.weight,
 * memory.low, memory.min — act only between siblings: in a systemd scope's delegated leaf they
 * compare the box with nothing, so under the systemd driver they belong on the scope itself.
 * systemd owns a scope's own files (a daemon-reload writes them again from its properties), so
 * they are set as unit properties, as runc's and crun's systemd managers map them: cpu.weight
 * → CPUWeight, io.weight → IOWeight, memory.low → MemoryLow, memory.min → MemoryMin.
 * io.bfq.weight has no property of its own: systemd derives it from IOWeight on a scale of
 * its own (systemdBfqWeight) each time it realizes the scope, so where BFQ weighs IO the
 * IOWeight is the one systemd maps to nsbox's BFQ weight (ioWeightForBfq; systemd-driver.ts).
 */
import { NsboxError } from '@nsbox/core';

// D-Bus's uint64 'infinity' (MemoryLow=infinity for memory.low 'max').
const UINT64_MAX = '18446744073709551615';

/** The cgroup2 files that live on a box's scope, not in its leaf. */
export const SCOPE_FILES: ReadonlySet<string> = new Set(['cpu.weight', 'io.weight', 'io.bfq.weight', 'memory.low', 'memory.min']);

export function isScopeFile(file: string): boolean {
  return SCOPE_FILES.has(file);
}

/** One (name, D-Bus type, value) of SetUnitProperties' a(sv). */
export interface UnitProperty {
  name: string;
  type: 't';
  value: string;
}

function invalid(file: string, value: string, expected: string): NsboxError {
  return new NsboxError('E_INVALID_ARGUMENT', `${file} = '${value}' cannot be set on a systemd scope: expected ${expected}`, {
    details: { field: file, value },
  });
}

/** A weight as cgroup2 writes it: 'N' or 'default N' (a per-device line has no unit property here). */
function weight(file: string, value: string): string {
  const number = /^(?:default\s+)?(\d+)$/.exec(value.trim())?.[1];
  if (number === undefined || Number(number) < 1 || Number(number) > 10_000) throw invalid(file, value, "a weight 1-10000, as 'N' or 'default N'");
  return number;
}

/** Bytes, or 'max' for no bound. */
function bytes(file: string, value: string): string {
  const text = value.trim();
  if (text === 'max') return UINT64_MAX;
  if (!/^\d+$/.test(text)) throw invalid(file, value, "a number of bytes or 'max'");
  return text;
}

/**
 * The unit property that holds `file` = `value` on a scope; undefined for a scope file with no
 * property of its own (io.bfq.weight) and for any file that is not a scope file.
 */
export function unitPropertyOf(file: string, value: string): UnitProperty | undefined {
  switch (file) {
    case 'cpu.weight':
      return { name: 'CPUWeight', type: 't', value: weight(file, value) };
    case 'io.weight':
      return { name: 'IOWeight', type: 't', value: weight(file, value) };
    case 'memory.low':
      return { name: 'MemoryLow', type: 't', value: bytes(file, value) };
    case 'memory.min':
      return { name: 'MemoryMin', type: 't', value: bytes(file, value) };
    default:
      return undefined;
  }
}

/**
 * The io.bfq.weight systemd writes for an IOWeight (BFQ_WEIGHT in its cgroup-util.h): the weight
 * itself up to 100, above it 100 + (w − 100) × 900 / 9900 in integer arithmetic (300 → 118).
 */
export function systemdBfqWeight(ioWeight: number): number {
  return ioWeight <= 100 ? ioWeight : 100 + Math.floor(((ioWeight - 100) * 900) / 9900);
}

/**
 * The IOWeight for which systemd writes BFQ weight `bfq` (1-1000). Exact, not rounded: above
 * 100 systemd divides by 11 (9900 / 900), so 100 + 11 × (bfq − 100) comes back as bfq
 * (300 ↔ 2300, 1000 ↔ 10000).
 */
export function ioWeightForBfq(bfq: number): number {
  return bfq <= 100 ? bfq : 100 + 11 * (bfq - 100);
}

/**
 * Human units as hosting plans write them: sizes in binary units ('512M' = 512 MiB, '1.5G'),
 * counts in decimal ones ('100k' = 100 000), CPUs as a fraction ('1.5'). Each parser throws
 * a plain Error whose message the schema turns into an issue naming the field.
 */

const SIZE = /^(\d+(?:\.\d+)?)\s*([kmgtpe]?)(i?b)?$/i;
const COUNT = /^(\d+(?:\.\d+)?)\s*([km]?)$/i;
const BINARY: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50, e: 2 ** 60 };
const DECIMAL: Record<string, number> = { '': 1, k: 1e3, m: 1e6 };

function describe(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(value);
}

function negative(value: unknown): boolean {
  return (typeof value === 'number' && value < 0) || (typeof value === 'string' && value.trim().startsWith('-'));
}

/** Bytes from a number or a size text; whole bytes only. */
export function parseSize(value: unknown): number {
  if (negative(value)) throw new Error(`${describe(value)} is negative: a size is 0 or more`);
  let bytes: number;
  if (typeof value === 'number') bytes = value;
  else if (typeof value === 'string') {
    const match = SIZE.exec(value.trim());
    if (!match) throw new Error(`${describe(value)} is not a size: use bytes or a number with K, M, G or T (512M, 1.5G)`);
    bytes = Number(match[1]) * (BINARY[(match[2] ?? '').toLowerCase()] ?? 1);
    if (match[2] !== '' && match[2] !== undefined) bytes = Math.floor(bytes);
  } else throw new Error(`${describe(value)} is not a size: use bytes or a number with K, M, G or T (512M, 1.5G)`);
  if (!Number.isFinite(bytes) || !Number.isInteger(bytes)) throw new Error(`${describe(value)} is not a whole number of bytes`);
  if (bytes > Number.MAX_SAFE_INTEGER) throw new Error(`${describe(value)} is too large`);
  return bytes;
}

/** A count (processes, inodes, IOPS): a whole number, with k (thousand) or m (million). */
export function parseCount(value: unknown): number {
  if (negative(value)) throw new Error(`${describe(value)} is negative: a count is 0 or more`);
  let count: number;
  if (typeof value === 'number') count = value;
  else if (typeof value === 'string') {
    const match = COUNT.exec(value.trim());
    if (!match) throw new Error(`${describe(value)} is not a count: use a whole number, or one with k or m (200, 100k)`);
    count = Math.round(Number(match[1]) * (DECIMAL[(match[2] ?? '').toLowerCase()] ?? 1));
  } else throw new Error(`${describe(value)} is not a count: use a whole number, or one with k or m (200, 100k)`);
  if (!Number.isSafeInteger(count)) throw new Error(`${describe(value)} is not a whole number`);
  return count;
}

/** A fraction of CPUs ('1.5' = one and a half CPUs' time per period). */
export function parseCpus(value: unknown): number {
  const cpus = typeof value === 'number' ? value : typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isFinite(cpus)) throw new Error(`${describe(value)} is not a number of CPUs: use a fraction such as 0.5 or 1.5`);
  if (cpus <= 0) throw new Error(`${describe(value)}: a CPU limit must be more than 0 (leave it out for no limit)`);
  if (cpus < 0.01) throw new Error(`${describe(value)}: the smallest CPU limit is 0.01 (1 ms of CPU time per 100 ms)`);
  return Math.round(cpus * 1000) / 1000;
}

/** '512M', '1.5G': binary units, shortest exact form where there is one. */
export function formatSize(bytes: number): string {
  for (const [unit, factor] of [
    ['T', 2 ** 40],
    ['G', 2 ** 30],
    ['M', 2 ** 20],
    ['K', 2 ** 10],
  ] as const) {
    if (bytes >= factor) {
      const scaled = bytes / factor;
      return `${Number.isInteger(scaled) ? scaled : scaled.toFixed(1)}${unit}`;
    }
  }
  return String(bytes);
}

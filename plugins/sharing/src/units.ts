/** Sizes as hosting plans write them: binary units ('256M' = 256 MiB), or bytes. */

const SIZE = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i;
const BINARY: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** Bytes from a number or a size text; throws a plain Error the schema turns into an issue naming the field. */
export function parseSize(value: unknown): number {
  const shown = typeof value === 'string' ? `'${value}'` : String(value);
  const match = typeof value === 'string' ? SIZE.exec(value.trim()) : null;
  const bytes = typeof value === 'number' ? value : match ? Math.floor(Number(match[1]) * (BINARY[(match[2] ?? '').toLowerCase()] ?? 1)) : Number.NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new Error(`${shown} is not a size: use bytes or a number with K, M, G or T (256M, 1.5G)`);
  return bytes;
}

export function formatSize(bytes: number): string {
  for (const [unit, factor] of [
    ['G', 2 ** 30],
    ['M', 2 ** 20],
    ['K', 2 ** 10],
  ] as const) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return `${bytes}`;
}

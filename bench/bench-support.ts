/** Shared by the benchmarks: timing, medians, OCI bundles for crun and runc. */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export async function timeRuns(runs: number, body: (index: number) => Promise<void> | void): Promise<number[]> {
  const times: number[] = [];
  for (let index = 0; index < runs; index++) {
    const start = process.hrtime.bigint();
    await body(index);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return times;
}

export function which(command: string): string | undefined {
  const result = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

/** An OCI bundle around a rootfs, from the runtime's own `spec` command, running argv. */
export function makeBundle(runtime: string, dir: string, rootfs: string, args: string[]): string {
  mkdirSync(dir, { recursive: true });
  if (!existsSync(join(dir, 'config.json'))) {
    const generated = spawnSync(runtime, ['spec'], { cwd: dir, encoding: 'utf8' });
    if (generated.status !== 0) throw new Error(`${runtime} spec failed: ${generated.stderr}`);
  }
  const configPath = join(dir, 'config.json');
  const config = JSON.parse(spawnSync('cat', [configPath], { encoding: 'utf8' }).stdout);
  config.root = { path: rootfs, readonly: true };
  config.process.terminal = false;
  config.process.args = args;
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  return dir;
}

export function printTable(rows: { name: string; medianMs?: number; note?: string }[], baseline?: number): void {
  for (const row of rows) {
    const ratio = baseline && row.medianMs !== undefined ? `  ${(row.medianMs / baseline).toFixed(2)}x crun` : '';
    const value = row.medianMs !== undefined ? `${row.medianMs.toFixed(1).padStart(8)} ms` : '       n/a';
    console.log(`${row.name.padEnd(34)}${value}${ratio}${row.note ? `  (${row.note})` : ''}`);
  }
}

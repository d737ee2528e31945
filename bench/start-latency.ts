/**
 * create + start + wait + destroy of /bin/true, side by side in one run: nsbox's library
 * API, nsbox's CLI, crun and runc (Debian's). Prints medians and nsbox/crun ratios.
 * Then, with every plugin, the same cycle beside 10 and 100 idle boxes (and 1,000 with
 * `--grow 1000`), so that a start that costs more as boxes accumulate shows.
 *   npm run bench:start-latency -- [runs] [--grow MAX]
 */

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AnyPlugin } from '@nsbox/core';
import { openHost } from '@nsbox/host';
import { buildBusyboxRootfs, createCgroupDriver, LinuxBoxDriver, waitUntil } from '@nsbox/runtime';
import { makeBundle, median, printTable, timeCrun, timeRuns, which } from './bench-support.js';

const positional = process.argv.slice(2).filter((arg, index, all) => !arg.startsWith('--') && all[index - 1] !== '--grow');
const runs = Number(positional[0] ?? 20);
const growIndex = process.argv.indexOf('--grow');
const growMax = growIndex > 0 ? Number(process.argv[growIndex + 1]) : 100;
const growRows: { name: string; medianMs?: number; note?: string }[] = [];
const work = mkdtempSync(join(tmpdir(), 'nsbox-bench-'));
const cgroupParent = `nsbox-bench-${randomBytes(3).toString('hex')}`;
const rootfs = buildBusyboxRootfs(join(work, 'rootfs'));
const rows: { name: string; medianMs?: number; note?: string }[] = [];

try {
  // nsbox, library API (what an embedding panel or nsboxd calls): the runtime alone, with
  // every installed plugin (isolation adds a user namespace, an idmapped root, seccomp), then
  // with each plugin alone (and what it requires), so that each one's cost shows.
  const libraryRun = async (label: string, plugins: { discover: true } | { only: AnyPlugin[] } | undefined) => {
    const host = await openHost({
      stateDir: join(work, `state-lib-${rows.length}`),
      discover: plugins !== undefined && 'discover' in plugins,
      ...(plugins && 'only' in plugins ? { plugins: plugins.only } : {}),
      driver: (dir) => new LinuxBoxDriver({ stateDir: dir, cgroupParent }),
    });
    const driver = host.driver as LinuxBoxDriver;
    const loaded = host.plugins.plugins.map((plugin) => plugin.definition);
    const times = await timeRuns(runs, async (index) => {
      const name = `lib${index}`;
      await host.manager.create({ name, config: { rootfs, process: { args: ['/bin/true'] } } });
      const box = await host.manager.start(name);
      await waitUntil(() => driver.exit(box) !== undefined, 10_000, 1);
      await host.manager.destroy(name, { force: true });
    });
    host.close();
    rows.push({ name: label, medianMs: median(times), ...(plugins ? { note: loaded.map((plugin) => plugin.name).join(', ') || 'none installed' } : {}) });
    return loaded;
  };
  await libraryRun('nsbox library API', undefined);
  const installed = await libraryRun('nsbox library API + plugins', { discover: true });
  const byName = new Map(installed.map((plugin) => [plugin.name, plugin]));
  const withRequired = (plugin: AnyPlugin, into = new Map<string, AnyPlugin>()): AnyPlugin[] => {
    for (const name of Object.keys(plugin.requires ?? {})) {
      const required = byName.get(name);
      if (required && !into.has(name)) withRequired(required, into);
    }
    into.set(plugin.name, plugin);
    return [...into.values()];
  };
  for (const plugin of installed) await libraryRun(`  + ${plugin.name} alone`, { only: withRequired(plugin) });

  // How cost grows: every plugin, beside idle boxes accumulating (10, 100, 1,000).
  {
    const host = await openHost({
      stateDir: join(work, 'state-grow'),
      discover: true,
      driver: (dir) => new LinuxBoxDriver({ stateDir: dir, cgroupParent }),
    });
    const driver = host.driver as LinuxBoxDriver;
    try {
      let idle = 0;
      for (const level of [10, 100, 1000].filter((at) => at <= growMax)) {
        for (; idle < level; idle++) {
          await host.manager.create({ name: `idle${idle}`, config: { rootfs, process: { args: ['/bin/sleep', '100000'] } } });
          await host.manager.start(`idle${idle}`);
        }
        const times = await timeRuns(runs, async (index) => {
          const name = `grow${level}-${index}`;
          await host.manager.create({ name, config: { rootfs, process: { args: ['/bin/true'] } } });
          const box = await host.manager.start(name);
          await waitUntil(() => driver.exit(box) !== undefined, 10_000, 1);
          await host.manager.destroy(name, { force: true });
        });
        growRows.push({ name: `  beside ${level} idle boxes`, medianMs: median(times) });
      }
    } finally {
      for (const box of host.manager.list()) await host.manager.destroy(box.id, { force: true }).catch(() => undefined);
      host.close();
    }
  }

  // nsbox, CLI (built, as installed): one process per run.
  const cli = join(process.cwd(), 'packages/cli/bin/nsbox.js');
  const cliTimes = await timeRuns(runs, (index) => {
    const result = spawnSync(
      process.execPath,
      [cli, '--state-dir', join(work, 'state-cli'), 'run', '--rm', '--rootfs', rootfs, `cli${index}`, '--', '/bin/true'],
      {
        env: { ...process.env, NSBOX_CGROUP_PARENT: cgroupParent },
        encoding: 'utf8',
      },
    );
    if (result.status !== 0) throw new Error(`nsbox run failed: ${result.stderr}`);
  });
  rows.push({ name: 'nsbox CLI (run --rm)', medianMs: median(cliTimes) });

  const runc = which('runc');
  if (runc) {
    const bundle = makeBundle(runc, join(work, 'bundle-runc'), rootfs, ['/bin/true']);
    const times = await timeRuns(runs, (index) => {
      const result = spawnSync(runc, ['--root', join(work, 'runc-state'), 'run', '--bundle', bundle, `runc-${index}`], { encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`runc run failed: ${result.stderr}`);
    });
    rows.push({ name: 'runc run', medianMs: median(times) });
  } else rows.push({ name: 'runc run', note: 'not installed (npm run setup -- --bench)' });

  rows.push(timeCrun(work, rootfs, runs));

  console.log(`\nstart latency: create + start + wait + destroy of /bin/true, median of ${runs} runs\n`);
  const crunMs = rows.find((row) => row.name === 'crun run')?.medianMs;
  printTable(rows, crunMs);
  console.log('\nhow cost grows: nsbox library API + plugins, the same cycle beside idle boxes\n');
  printTable(growRows, crunMs);
} finally {
  const cgroups = createCgroupDriver({ parent: cgroupParent });
  for (const name of cgroups.list()) await cgroups.remove(name);
  await cgroups.removeParent?.();
  rmSync(work, { recursive: true, force: true });
}

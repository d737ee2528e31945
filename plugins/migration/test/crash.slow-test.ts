/**
 * Crash safety of `nsbox migrate`: two nsboxd as child processes; one of them is SIGKILLed at
 * a phase of a migration (the crash seam stops it there, or the test catches criu's dump or
 * restore running), started again, and once both have reconciled exactly one copy of the box
 * runs — on the side the phase decides — its counter going on, and the other host has
 * nothing of it: never none, never two.
 */

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Operation } from '@nsbox/client';
import { runNsbox, runNsboxAsync } from '@nsbox/testkit';
import { type DaemonProcessHost, spawnDaemonHost } from './daemons.js';
import { countIn, countReaches, startCounterBox } from './hosts.js';
import { postcopySysctls, sleep, useCriuCleanup, waitFor } from './support.js';

type Side = 'source' | 'target';

interface CrashCase {
  /** Whose nsboxd is killed. */
  kill: Side;
  /** The seam's phase (`source:transfer`), or a criu call caught running. */
  at: string;
  /** Where the box runs once both reconciled. */
  runs: Side;
  /**
   * Post-copy (criu lazy pages, its host sysctls set for the test and put back): the source's
   * criu serves the memory it owes from a process of its own, which outlives its nsboxd.
   */
  postcopy?: true;
}

const CASES: CrashCase[] = [
  { kill: 'source', at: 'source:preflight', runs: 'source' },
  { kill: 'source', at: 'criu dump', runs: 'source' },
  { kill: 'source', at: 'source:transfer', runs: 'source' },
  { kill: 'source', at: 'source:restore', runs: 'source' },
  { kill: 'source', at: 'source:restored', runs: 'source' },
  { kill: 'source', at: 'source:commit', runs: 'target' },
  { kill: 'source', at: 'source:destroy', runs: 'target' },
  { kill: 'target', at: 'target:receive', runs: 'source' },
  { kill: 'target', at: 'target:importing', runs: 'source' },
  { kill: 'target', at: 'criu restore', runs: 'source' },
  { kill: 'target', at: 'target:restored', runs: 'source' },
  { kill: 'target', at: 'target:committed', runs: 'target' },
  // Post-copy. The box is sent before any page moved: nobody pulls, its idle page server is
  // ended and criu thaws the tree here.
  { kill: 'source', at: 'source:transfer', runs: 'source', postcopy: true },
  // The box runs there on pages the source's criu still serves: it hands them all over (its
  // process outlived nsboxd), which ends the tree here, so the move must complete there.
  { kill: 'source', at: 'source:restored', runs: 'target', postcopy: true },
  // The target's nsboxd died with the box running there, its pages being pulled: the source's
  // page server finished, so the restarted target keeps the copy for the source's commit.
  { kill: 'target', at: 'target:restored', runs: 'target', postcopy: true },
];

/** Whether a migration's images are a post-copy dump's (their manifest, as criu-engine wrote it). */
function postcopyImages(imageDir: string | null | undefined): boolean {
  const file = imageDir && join(imageDir, 'nsbox-checkpoint.json');
  return Boolean(file && existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { lazyPages?: boolean }).lazyPages);
}

/** A criu call with these words running on images under `stateDir`. */
function criuRunning(stateDir: string, verb: string): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args.some((arg) => arg.endsWith('/criu')) && args.includes(verb) && args.some((arg) => arg.includes(stateDir))) return true;
    } catch {
      // gone meanwhile
    }
  }
  return false;
}

async function boxOn(host: DaemonProcessHost, name: string): Promise<string | undefined> {
  try {
    return (await host.client.boxes.get(name)).state;
  } catch (error) {
    if ((error as { status?: number }).status === 404) return undefined;
    throw error;
  }
}

describe('migration: nsboxd killed at each phase of a migration leaves exactly one running copy', function () {
  this.timeout(300_000);
  const cleanup = useCriuCleanup();

  for (const crash of CASES) {
    it(`${crash.kill} killed at ${crash.at}${crash.postcopy ? ' (post-copy)' : ''}: the box runs on the ${crash.runs}`, async () => {
      const criuVerb = crash.at.startsWith('criu ') ? crash.at.slice(5) : undefined;
      if (crash.postcopy) postcopySysctls(cleanup);
      const source = await spawnDaemonHost(cleanup);
      const target = await spawnDaemonHost(cleanup);
      const victim = crash.kill === 'source' ? source : target;
      if (!criuVerb) {
        await victim.kill();
        await victim.start(crash.at);
      }
      const step = (what: string) => process.env.NSBOX_TEST_TRACE && console.log(`      ${new Date().toISOString()} ${what}`);
      step('daemons up');
      const original = await startCounterBox(cleanup, source, 'mig-crash');
      step('box runs');
      const before = await countIn(source, 'mig-crash');

      let ended: string | undefined;
      source.action('migrate', { box: 'mig-crash', to: target.socket, token: target.token, ...(crash.postcopy ? { lazyPages: true } : {}) }).then(
        (result) => {
          ended = JSON.stringify(result);
        },
        (error: Error) => {
          ended = error.message;
        },
      );
      const deadline = Date.now() + 120_000;
      const reached = () => (criuVerb ? criuRunning(victim.stateDir, criuVerb) : victim.paused() === crash.at);
      while (!reached()) {
        assert.ok(ended === undefined && Date.now() < deadline, `the migration never reached ${crash.at}: ${ended ?? 'still running'}`);
        await sleep(criuVerb ? 5 : 50);
      }
      step(`reached ${crash.at}`);
      // The phase is post-copy's only when the dump was (and stop-and-copy's otherwise).
      assert.equal(postcopyImages(source.records().outgoing[0]?.imageDir), crash.postcopy === true, 'the dump was a post-copy one');
      await victim.kill();
      await victim.start();
      step('restarted');
      cleanup.add('show the killed nsboxd', () => step(victim.stderr()));

      // Both reconcile (the source asks the target again until it answers): one copy, on one side.
      let where: [string | undefined, string | undefined] = [undefined, undefined];
      const settled = Date.now() + 90_000;
      for (;;) {
        where = [await boxOn(source, 'mig-crash'), await boxOn(target, 'mig-crash')];
        const open = source.records().outgoing.filter((record) => record.phase !== 'done').length;
        const running = where.filter((state) => state === 'running').length;
        if (open === 0 && running === 1 && where.includes(undefined)) break;
        assert.ok(running <= 1, `two running copies: source ${where[0]}, target ${where[1]}`);
        assert.ok(Date.now() < settled, `not settled: source ${where[0]}, target ${where[1]}, ${open} open migration(s)\n${victim.stderr()}`);
        await sleep(250);
      }
      const [host, other] = crash.runs === 'source' ? [source, target] : [target, source];
      assert.equal(where[crash.runs === 'source' ? 0 : 1], 'running', `the box runs on the ${crash.runs}`);
      assert.equal(await boxOn(other, 'mig-crash'), undefined, 'and nothing of it is on the other side');
      const arrived = await host.client.boxes.get('mig-crash');
      assert.equal(arrived.id, original.id);
      const first = await countIn(host, 'mig-crash');
      if (first < before) step(JSON.stringify((await host.client.boxes.history('mig-crash', { last: 30 })).map((event) => [event.kind, event.data])));
      assert.ok((await countReaches(host, 'mig-crash', first + 2, 15_000)) > first + 2, 'its counter goes on');
      // Its memory came along (restored from its images), it was not started again from 0.
      assert.ok(first >= before, `the counter came back at ${first}, it was ${before} before the migration`);
      assert.deepEqual(
        target.records().incoming.filter((record) => record.phase === 'importing' || record.phase === 'restored'),
        [],
        'no import left uncommitted on the target',
      );
      if (crash.kill === 'source') {
        // The migrate operation the killed nsboxd ran ends as the move did: done there, or not (never "rolled back").
        let operation: Operation | undefined;
        for (const until = Date.now() + 30_000; Date.now() < until; await sleep(250)) {
          operation = (await source.client.operations.list()).find((listed) => listed.kind === 'action.migration.migrate');
          if (operation && operation.status !== 'running') break;
        }
        assert.equal(operation?.status, crash.runs === 'target' ? 'success' : 'failure', `the operation says where the box went: ${JSON.stringify(operation)}`);
        if (crash.runs === 'source') assert.match(operation?.error?.message ?? '', /runs here again/);
      }
      // Give the killed side's criu processes nothing to hold: none runs on either host now.
      assert.equal(criuRunning(source.stateDir, 'dump') || criuRunning(target.stateDir, 'restore'), false);
    });
  }
});

describe('migration: a `nsbox migrate` of a host without nsboxd, killed mid-way, is settled by its next command', function () {
  this.timeout(300_000);
  const cleanup = useCriuCleanup();

  const CLI_CASES: { at: string; runs: Side }[] = [
    { at: 'source:transfer', runs: 'source' },
    { at: 'source:commit', runs: 'target' },
  ];
  for (const crash of CLI_CASES) {
    it(`killed at ${crash.at}: \`nsbox list\` on the source settles it, and the box runs on the ${crash.runs}`, async () => {
      const source = await spawnDaemonHost(cleanup);
      const target = await spawnDaemonHost(cleanup);
      const original = await startCounterBox(cleanup, source, 'cli-mig');
      // From here the source has no nsboxd (its box runs on under its shim): the CLI works on
      // its state directory itself, as on a host that never runs one.
      await source.kill();
      const local = { stateDir: source.stateDir, cgroupParent: source.cgroupParent, env: { NSBOX_LOCAL: '1' } };
      const migrating = runNsboxAsync(['migrate', 'cli-mig', '--to', target.socket, '--token', target.token], {
        ...local,
        env: { ...local.env, NSBOX_MIGRATION_PAUSE_AT: crash.at },
        timeoutMs: 240_000,
      });
      const reached = await waitFor(() => source.paused() === crash.at || migrating.child.exitCode !== null, 180_000, 50);
      assert.ok(reached && source.paused() === crash.at, `the migration never reached ${crash.at}`);
      migrating.child.kill('SIGKILL');
      await migrating.exited;

      const listed = runNsbox(['list', '--json'], local);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(
        listed.stderr,
        new RegExp(`migration .* of box cli-mig \\(interrupted at ${crash.at.split(':')[1]}\\): the box runs`),
        'it said what it settled',
      );
      const onSource = (JSON.parse(listed.stdout) as { name: string; state: string }[]).find((box) => box.name === 'cli-mig');
      const onTarget = await boxOn(target, 'cli-mig');
      if (crash.runs === 'source') {
        assert.deepEqual([onSource?.state, onTarget], ['running', undefined], 'it runs here again, and nothing of it is on the target');
      } else {
        assert.deepEqual([onSource, onTarget], [undefined, 'running'], 'it runs on the target, and nothing of it is here');
        assert.equal((await target.client.boxes.get('cli-mig')).id, original.id);
      }
      assert.deepEqual(
        source.records().outgoing.filter((record) => record.phase !== 'done'),
        [],
        'no migration left open on the source',
      );
    });
  }
});

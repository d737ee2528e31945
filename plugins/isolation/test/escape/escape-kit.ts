/**
 * The escape suite's bookkeeping. Every attack proves itself: an `attempt` names its class,
 * the attack, and how it is known to be real —
 *
 * - `control: { config }`: the same attack against a box with the protection under test
 *   switched off (seccomp unconfined, a capability added, privileged...) must succeed;
 * - `control: 'host'`: the same attack run on the host must succeed;
 * - `kernelBlocks: 'why'`: the kernel refuses it whatever nsbox does; the attack is still
 *   tried and must fail, and it counts as blocked by the kernel, not by nsbox;
 * - `notApplicable()`: checked at run time (nothing to attack on this kernel): counted as
 *   not applicable, never as blocked.
 *
 * An attack whose control did not succeed fails its test: it proved nothing. After the run,
 * a table by class (tried, blocked by nsbox, blocked by the kernel anyway, not applicable)
 * and the `escape:` line.
 *
 * Boxes shared by the attacks of one file, control boxes included (made on first use, one
 * per distinct config), are removed in the file's `after` (a Cleanup of their own).
 */

import { spawnSync } from 'node:child_process';
import type { AnyPlugin, Box } from '@nsbox/core';
import type { ExecResult } from '@nsbox/runtime';
import { Cleanup, makeTempDir } from '@nsbox/testkit';
import { attack, compileAttack, type IsolationHost, inBox, makeRootfs, openIsolationHost, testCgroupParent } from '../box-kit.js';

type Verdict = 'nsbox' | 'kernel' | 'notApplicable' | 'notBlocked';
const outcomes: { className: string; title: string; verdict: Verdict }[] = [];

function pad(text: string | number, width: number): string {
  return String(text).padEnd(width);
}

/** The table of the whole run, and the one-line summary. */
export function escapeTable(): string {
  const classes = [...new Set(outcomes.map((outcome) => outcome.className))];
  const count = (verdict: Verdict, className?: string) =>
    outcomes.filter((outcome) => outcome.verdict === verdict && (className === undefined || outcome.className === className)).length;
  const width = Math.max(5, ...classes.map((name) => name.length));
  const header = ['class', 'tried', 'blocked by nsbox', 'blocked by kernel anyway', 'not applicable', 'NOT blocked'];
  const line = (cells: (string | number)[]) =>
    `  | ${cells.map((cell, index) => pad(cell, index === 0 ? width : (header[index] as string).length)).join(' | ')} |`;
  const row = (name: string | undefined, label: string) => {
    const tried = outcomes.filter((outcome) => name === undefined || outcome.className === name).length - count('notApplicable', name);
    return line([label, tried, count('nsbox', name), count('kernel', name), count('notApplicable', name), count('notBlocked', name)]);
  };
  return [
    line(header),
    line(header.map((cell, index) => '-'.repeat(index === 0 ? width : cell.length))),
    ...classes.map((name) => row(name, name)),
    row(undefined, 'total'),
  ].join('\n');
}

// A root hook: it runs once, after every suite of the run.
after(() => {
  if (outcomes.length === 0) return;
  const tried = outcomes.filter((outcome) => outcome.verdict !== 'notApplicable').length;
  const blocked = outcomes.filter((outcome) => outcome.verdict === 'nsbox' || outcome.verdict === 'kernel').length;
  const failed = outcomes.filter((outcome) => outcome.verdict === 'notBlocked').map((outcome) => outcome.title);
  console.log(`\n${escapeTable()}`);
  console.log(
    `\n  escape: ${tried} tried, ${blocked} blocked (${outcomes.filter((outcome) => outcome.verdict === 'nsbox').length} by nsbox, ` +
      `${outcomes.filter((outcome) => outcome.verdict === 'kernel').length} by the kernel anyway), ` +
      `${outcomes.filter((outcome) => outcome.verdict === 'notApplicable').length} not applicable` +
      `${failed.length ? ` (not blocked or not proven: ${failed.join('; ')})` : ''}`,
  );
});

/** Where an attack runs: a box of the file, a control box, or the host. */
export interface Attacker {
  name: string;
  onHost: boolean;
  /** The rootfs of the box (for the host: the directory of the attack binary's rootfs-less copy). */
  rootfs?: string;
  box?: Box;
  /** The attack program's first line of output (`ok ...` / `err ENAME`). */
  run(...args: string[]): Promise<string>;
  /** `sh -c` in the box (or on the host). */
  sh(command: string): Promise<ExecResult>;
}

/** A box with the protection under test switched off (`afterStart` changes it on the host once it runs), or the host. */
export type Control = { config: Record<string, unknown>; afterStart?: (rootfs: string) => void } | 'host';

/** At least one: a control that must succeed, or the kernel's refusal (with a control, it shows the attack is real). */
type Proof = { control: Control; kernelBlocks?: string } | { kernelBlocks: string; control?: Control };

export type AttemptSpec = Proof & {
  /** The row of the table. */
  class: string;
  title: string;
  /** The box attacked (a name given to `escapeSuite`); 'target' unless said. */
  on?: string;
  /** The attack; its answer is a line, or an outcome when success is not `ok ...`. */
  attack(attacker: Attacker): Promise<string | { escaped: boolean; detail: string }>;
  /** When the answer is a line: whether it means the attack worked (default: it starts with `ok`). */
  escaped?: (line: string) => boolean;
  /** More checks on the attacked box once blocked: the expected error, the host unchanged. */
  blocked?: (detail: string, attacker: Attacker) => void | Promise<void>;
  /** A reason when there is nothing to attack on this kernel (checked at run time). */
  notApplicable?: () => string | undefined;
};

export interface EscapeSuite {
  kit(): IsolationHost;
  rootfs(name: string): string;
  box(name: string): Box;
  attacker(name: string): Attacker;
  /** The compiled attack program (on the host). */
  attackBinary(): string;
  /** A mocha test: the attack is tried, its proof checked, the verdict tallied. */
  attempt(spec: AttemptSpec): void;
}

function hostAttacker(binary: string): Attacker {
  const sh = async (command: string): Promise<ExecResult> => {
    const result = spawnSync('sh', ['-c', command], { encoding: 'utf8', timeout: 30_000 });
    return { exitCode: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
  };
  return {
    name: 'host',
    onHost: true,
    run: async (...args) => {
      const result = spawnSync(binary, args, { encoding: 'utf8', timeout: 30_000 });
      return (result.stdout.split('\n')[0] ?? '').trim() || `no output (exit ${result.status}, stderr ${result.stderr.trim()})`;
    },
    sh,
  };
}

/**
 * A host and boxes for one file's attacks, made in `before` and removed in `after`:
 * `configs` maps a box name to its config (the rootfs, with /attack in it, is added;
 * `prepare` may add files to each rootfs first, control boxes' included).
 */
export function escapeSuite(
  configs: Record<string, Record<string, unknown>>,
  options: { prepare?: (name: string, rootfs: string) => void; plugins?: AnyPlugin[] } = {},
): EscapeSuite {
  const cleanup = new Cleanup();
  const rootfs: Record<string, string> = {};
  const controls = new Map<string, Promise<string>>();
  let kit: IsolationHost | undefined;
  let binary: string | undefined;

  async function makeBox(name: string, config: Record<string, unknown>, afterStart?: (rootfs: string) => void): Promise<void> {
    const host = (kit as IsolationHost).host;
    const dir = makeRootfs(cleanup, binary);
    options.prepare?.(name, dir);
    rootfs[name] = dir;
    await host.manager.create({ name, config: { rootfs: dir, process: { args: ['/bin/sleep', '100000'] }, ...config } });
    await host.manager.start(name);
    afterStart?.(dir);
  }

  before(async function () {
    this.timeout(120_000);
    try {
      binary = compileAttack(makeTempDir(cleanup, 'attack'));
      kit = await openIsolationHost(cleanup, { cgroupParent: testCgroupParent(cleanup), ...(options.plugins ? { plugins: options.plugins } : {}) });
      for (const [name, config] of Object.entries(configs)) await makeBox(name, config);
    } catch (error) {
      await cleanup.run();
      kit = undefined;
      throw error;
    }
  });

  after(async () => {
    const failures = await cleanup.run();
    if (failures.length > 0) throw new Error(`cleanup failed: ${failures.join('; ')}`);
  });

  const suite: EscapeSuite = {
    kit: () => {
      if (!kit) throw new Error('the escape suite has no host (its before hook failed)');
      return kit;
    },
    rootfs: (name) => rootfs[name] as string,
    box: (name) => suite.kit().host.manager.get(name),
    attackBinary: () => binary as string,
    attacker: (name) => ({
      name,
      onHost: false,
      rootfs: rootfs[name],
      box: suite.box(name),
      run: (...args) => attack(suite.kit(), name, ...args),
      sh: (command) => inBox(suite.kit(), name, command),
    }),
    attempt: (spec) => {
      it(spec.title, async function () {
        this.timeout(120_000);
        const record = (verdict: Verdict) => outcomes.push({ className: spec.class, title: spec.title, verdict });
        const reason = spec.notApplicable?.();
        if (reason) {
          record('notApplicable');
          console.log(`      (not applicable on this kernel: ${reason})`);
          this.skip();
        }
        const judge = async (attacker: Attacker) => {
          const answer = await spec.attack(attacker);
          if (typeof answer !== 'string') return answer;
          return { escaped: (spec.escaped ?? ((line: string) => line.startsWith('ok')))(answer), detail: answer };
        };
        try {
          if (spec.control) {
            const control = spec.control === 'host' ? hostAttacker(binary as string) : suite.attacker(await controlBox(spec.control));
            const proof = await judge(control);
            if (!proof.escaped) {
              throw new Error(`the control did not succeed, so the attack proves nothing: on ${describeControl(spec.control)} it answered ${proof.detail}`);
            }
          }
          const target = suite.attacker(spec.on ?? 'target');
          const result = await judge(target);
          if (result.escaped) throw new Error(`NOT BLOCKED on box '${target.name}': ${result.detail}`);
          await spec.blocked?.(result.detail, target);
        } catch (error) {
          record('notBlocked');
          throw error;
        }
        record(spec.kernelBlocks ? 'kernel' : 'nsbox');
      });
    },
  };

  /** A control box per distinct config, made on first use, removed with the file's boxes. */
  function controlBox(control: Exclude<Control, 'host'>): Promise<string> {
    const key = `${JSON.stringify(control.config)} ${control.afterStart?.toString() ?? ''}`;
    let made = controls.get(key);
    if (!made) {
      const name = `control-${controls.size + 1}`;
      made = makeBox(name, control.config, control.afterStart).then(() => name);
      controls.set(key, made);
    }
    return made;
  }

  return suite;
}

function describeControl(control: Control): string {
  return control === 'host' ? 'the host' : `a box with ${JSON.stringify(control.config)}`;
}

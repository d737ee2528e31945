/**
 * The escape suite's bookkeeping: every attack is an `attempt(...)` test; it counts as
 * tried when it starts and as blocked when every assertion of it held (the expected error,
 * the host unchanged). After the whole run, one line: `escape: N tried, N blocked`.
 *
 * Boxes shared by the attacks of one file are made in `before` and removed in `after`
 * (a Cleanup of their own), so that each attack does not pay for a box start.
 */

import type { AnyPlugin, Box } from '@nsbox/core';
import { Cleanup, makeTempDir } from '@nsbox/testkit';
import { compileAttack, type IsolationHost, makeRootfs, openIsolationHost, testCgroupParent } from '../box-kit.js';

const tally = { tried: 0, blocked: 0, failed: [] as string[] };

// A root hook: it runs once, after every suite of the run.
after(() => {
  if (tally.tried === 0) return;
  console.log(`\n  escape: ${tally.tried} tried, ${tally.blocked} blocked${tally.failed.length ? ` (not blocked: ${tally.failed.join('; ')})` : ''}`);
});

/** An attack: a mocha test whose passing means the attack was blocked. */
export function attempt(title: string, attack: (this: Mocha.Context) => Promise<void>): void {
  it(title, async function () {
    tally.tried++;
    try {
      await attack.call(this);
    } catch (error) {
      tally.failed.push(title);
      throw error;
    }
    tally.blocked++;
  });
}

export interface EscapeBoxes {
  kit: IsolationHost;
  cleanup: Cleanup;
  /** The rootfs directory of each box by name (to check the host side). */
  rootfs: Record<string, string>;
  box(name: string): Box;
}

/**
 * A host and boxes for one file's attacks: `configs` maps a box name to its config (the
 * rootfs, with /attack in it, is added; `prepare` may add files to the rootfs first).
 */
export async function escapeBoxes(
  configs: Record<string, Record<string, unknown>>,
  options: { prepare?: (name: string, rootfs: string) => void; plugins?: AnyPlugin[] } = {},
): Promise<EscapeBoxes> {
  const cleanup = new Cleanup();
  try {
    const attack = compileAttack(makeTempDir(cleanup, 'attack'));
    // Root filesystems first: cleanup runs last first, so the boxes go before their rootfs.
    const rootfs: Record<string, string> = {};
    for (const name of Object.keys(configs)) {
      rootfs[name] = makeRootfs(cleanup, attack);
      options.prepare?.(name, rootfs[name] as string);
    }
    const kit = await openIsolationHost(cleanup, { cgroupParent: testCgroupParent(cleanup), ...(options.plugins ? { plugins: options.plugins } : {}) });
    for (const [name, config] of Object.entries(configs)) {
      await kit.host.manager.create({ name, config: { rootfs: rootfs[name], process: { args: ['/bin/sleep', '100000'] }, ...config } });
      await kit.host.manager.start(name);
    }
    return { kit, cleanup, rootfs, box: (name) => kit.host.manager.get(name) };
  } catch (error) {
    await cleanup.run();
    throw error;
  }
}

/** Runs after() of a file: removes its boxes and everything else it made. */
export async function removeEscapeBoxes(boxes: EscapeBoxes | undefined): Promise<void> {
  if (!boxes) return;
  const failures = await boxes.cleanup.run();
  if (failures.length > 0) throw new Error(`cleanup failed: ${failures.join('; ')}`);
}

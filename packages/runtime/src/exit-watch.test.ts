import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, useCleanup } from '@nsbox/testkit';
import { EXIT_FILE, ExitWatch } from './exit-watch.js';

/** What the shim does: write a temporary file, rename it into place. */
function writeExit(boxDir: string, exitCode: number): void {
  const temporary = join(boxDir, `.${EXIT_FILE}.tmp`);
  writeFileSync(temporary, JSON.stringify({ exitCode, at: Date.now() }));
  renameSync(temporary, join(boxDir, EXIT_FILE));
}

function nextExit(seen: string[], timeoutMs = 2000): Promise<string> {
  const before = seen.length;
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (seen.length > before) {
        clearInterval(poll);
        resolve(seen[before] as string);
      } else if (Date.now() - started > timeoutMs) {
        clearInterval(poll);
        reject(new Error(`no exit noticed within ${timeoutMs} ms`));
      }
    }, 5);
  });
}

describe('ExitWatch', () => {
  const cleanup = useCleanup();
  let boxesDir: string;
  let seen: string[];
  let watch: ExitWatch;

  beforeEach(() => {
    boxesDir = join(makeTempDir(cleanup, 'exit-watch'), 'boxes');
    seen = [];
    watch = new ExitWatch({ boxesDir, onExit: (boxId) => seen.push(boxId) });
    cleanup.add('close the watch', () => watch.close());
  });

  it('notices an exit.json renamed into a box directory at once', async () => {
    mkdirSync(join(boxesDir, 'box-a'), { recursive: true });
    watch.start();
    assert.deepEqual(watch.watched(), ['box-a']);
    const noticed = nextExit(seen);
    const at = Date.now();
    writeExit(join(boxesDir, 'box-a'), 3);
    assert.equal(await noticed, 'box-a');
    assert.ok(Date.now() - at < 500, `noticed after ${Date.now() - at} ms`);
    assert.deepEqual(seen, ['box-a'], 'the temporary file of the rename is not an exit');
  });

  it('watches box directories made after it started', async () => {
    watch.start();
    mkdirSync(join(boxesDir, 'box-new'));
    // The new directory's watch is set up from the parent's event.
    for (let tries = 0; tries < 100 && !watch.watched().includes('box-new'); tries++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(watch.watched(), ['box-new']);
    const noticed = nextExit(seen);
    writeExit(join(boxesDir, 'box-new'), 0);
    assert.equal(await noticed, 'box-new');
  });

  it('reports an exit that happened before it started, and not the removal of a stale file', async () => {
    mkdirSync(join(boxesDir, 'box-old'), { recursive: true });
    writeExit(join(boxesDir, 'box-old'), 1);
    watch.start();
    assert.deepEqual(seen, ['box-old']);
    assert.equal(watch.hasExited('box-old'), true);
    rmSync(join(boxesDir, 'box-old', EXIT_FILE));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(seen, ['box-old'], 'a start removing the last exit is no exit');
    assert.equal(watch.hasExited('box-old'), false);
  });

  it('forgets a removed box directory', async () => {
    mkdirSync(join(boxesDir, 'box-gone'), { recursive: true });
    watch.start();
    rmSync(join(boxesDir, 'box-gone'), { recursive: true });
    for (let tries = 0; tries < 100 && watch.watched().length > 0; tries++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(watch.watched(), []);
  });
});

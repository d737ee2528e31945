import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = join(dirname(fileURLToPath(import.meta.url)), '../dist');

/** Runs a module script in a plain Node (the built entries, as the CLI and nsboxd load them). */
function built(script: string): string {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dist, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

describe("core's built entry (code-cached)", () => {
  it('exports every name the source does, with light’s NsboxError and zod in English', async () => {
    const source = Object.keys(await import('./index.js')).sort();
    const out = JSON.parse(
      built(`const core = await import('./index.js'); const light = await import('./light.js');
console.log(JSON.stringify({ names: Object.keys(core).sort(), sameError: core.NsboxError === light.NsboxError, locales: Object.keys(core.z.locales) }));`),
    ) as { names: string[]; sameError: boolean; locales: string[] };
    assert.deepEqual(out.names, source);
    assert.equal(out.sameError, true);
    assert.deepEqual(out.locales, ['en']);
  });

  it('loads with the cache made at build time, without remaking it', () => {
    const cache = join(dist, 'index.cjs.cache');
    const before = statSync(cache);
    built(`await import('./index.js');`);
    const after = statSync(cache);
    assert.ok(before.size > 0);
    assert.equal(after.mtimeMs, before.mtimeMs, 'the cache was rejected and remade');
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CORE_API_VERSION } from '@nsbox/core';
import { runCli } from './program.js';
import { version } from './version.js';

describe('nsbox --version', () => {
  it('has the version of its package', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(version, manifest.version);
  });

  it('prints the CLI version and the plugin API version, and exits 0', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'nsbox-test-version-'));
    try {
      const out: string[] = [];
      const code = await runCli(['--state-dir', stateDir, '--version'], { io: { stdout: (text) => out.push(text), stderr: (text) => out.push(text) } });
      assert.equal(code, 0);
      assert.equal(out.join('\n'), `nsbox ${version} (plugin API ${CORE_API_VERSION})`);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});

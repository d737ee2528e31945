import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CORE_API_VERSION } from '@nsbox/core';
import { version } from './version.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), '../bin/nsbox.js');

describe('the built nsbox executable', () => {
  let work: string;
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'nsbox-test-built-cli-'));
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  it("loads none of Node's modules a command does not use (webcrypto, child_process, https/TLS)", () => {
    // What Node loaded, written when the process ends (process.moduleLoadList: Node's own modules).
    const preload = join(work, 'loaded.cjs');
    const listFile = join(work, 'loaded.json');
    writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(listFile)}, JSON.stringify(process.moduleLoadList)));`);
    const result = spawnSync(process.execPath, ['--require', preload, bin, '--state-dir', work, '--version'], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, `nsbox ${version} (plugin API ${CORE_API_VERSION})\n`);
    const loaded = (JSON.parse(readFileSync(listFile, 'utf8')) as string[]).filter((name) => name.startsWith('NativeModule '));
    assert.ok(loaded.includes('NativeModule http'), 'the SDK (http) is in the executable');
    for (const unused of ['internal/crypto/webcrypto', 'child_process', 'https', 'tls', 'internal/fs/streams']) {
      assert.ok(!loaded.includes(`NativeModule ${unused}`), `${unused} was loaded`);
    }
  });
});

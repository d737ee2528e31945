import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { type CheckpointManifest, dumpArgs, restoreArgs, shellQuote } from './criu-args.js';
import { version } from './version.js';

const manifest: CheckpointManifest = {
  format: 1,
  box: { id: 'b1', name: 'web' },
  criu: '4.1.1',
  at: 0,
  leaveRunning: false,
  stdio: { stdin: 'pipe:[11]', stdout: 'pipe:[12]', stderr: 'pipe:[12]' },
  externalMounts: [{ destination: '/dev/null', source: '/dev/null' }],
  tcpEstablished: true,
};

describe('migration: criu command lines', () => {
  it('dumps the tree with its host binds named by destination, cgroups left as they are', () => {
    const args = dumpArgs({ pid: 42, imageDir: '/i', logFile: '/l', leaveRunning: true, manifest, options: { tcpEstablished: true } });
    assert.deepEqual(args, [
      'dump',
      '--tree',
      '42',
      '--images-dir',
      '/i',
      '--log-file',
      '/l',
      '-v2',
      '--external',
      'mnt[/dev/null]:/dev/null',
      '--leave-running',
      '--tcp-established',
      '--manage-cgroups=soft',
    ]);
  });

  it("restores detached under the new shim's pipes (one per pipe, stdout and stderr shared), binds back from the host path", () => {
    const args = restoreArgs({
      imageDir: '/proc/self/fd/7',
      workDir: '/w',
      logFile: '/l',
      pidFile: '/p',
      rootfs: '/r',
      manifest,
      stdinFd: 5,
      outputFd: 6,
      options: {},
    });
    assert.deepEqual(args.slice(0, 2), ['restore', '--restore-detached']);
    assert.deepEqual(
      args.filter((_, i) => args[i - 1] === '--inherit-fd'),
      ['fd[5]:pipe:[11]', 'fd[6]:pipe:[12]'],
    );
    assert.deepEqual(
      args.filter((_, i) => args[i - 1] === '--external'),
      ['mnt[/dev/null]:/dev/null'],
    );
    assert.ok(args.includes('--tcp-established'));
    assert.equal(args[args.indexOf('--root') + 1], '/r');
  });

  it("quotes words for the restore script's shell", () => {
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
  });

  it("keeps version.ts equal to package.json's version", () => {
    const manifestFile = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(version, manifestFile.version);
  });
});

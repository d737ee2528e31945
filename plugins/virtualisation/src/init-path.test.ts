import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveInRoot } from './init-path.js';

describe("virtualisation: a box's init, resolved inside its rootfs", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'nsbox-test-initpath-'));
    mkdirSync(join(root, 'usr/lib/systemd'), { recursive: true });
    mkdirSync(join(root, 'usr/sbin'), { recursive: true });
    writeFileSync(join(root, 'usr/lib/systemd/systemd'), '');
    chmodSync(join(root, 'usr/lib/systemd/systemd'), 0o755);
    // Debian 12: merged /usr, /sbin/init -> /lib/systemd/systemd.
    symlinkSync('usr/sbin', join(root, 'sbin'));
    symlinkSync('usr/lib', join(root, 'lib'));
    symlinkSync('/lib/systemd/systemd', join(root, 'usr/sbin/init'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("follows the box's own links, absolute ones against its root", () => {
    assert.deepEqual(resolveInRoot(root, '/sbin/init'), { found: true, path: '/usr/lib/systemd/systemd' });
  });

  it('never leaves the root: an absolute link or .. to the host lands inside the box', () => {
    // On the host, /etc/passwd exists; inside this root it does not.
    symlinkSync('/etc/passwd', join(root, 'usr/sbin/escape'));
    symlinkSync('../../../../../etc/passwd', join(root, 'usr/sbin/climb'));
    assert.deepEqual(resolveInRoot(root, '/sbin/escape'), { found: false, path: '/etc', why: 'does not exist' });
    assert.deepEqual(resolveInRoot(root, '/sbin/climb'), { found: false, path: '/etc', why: 'does not exist' });
  });

  it('says why an init is not one: missing, a loop, not executable', () => {
    assert.deepEqual(resolveInRoot(root, '/sbin/nothing'), { found: false, path: '/usr/sbin/nothing', why: 'does not exist' });
    symlinkSync('loop-b', join(root, 'usr/sbin/loop-a'));
    symlinkSync('loop-a', join(root, 'usr/sbin/loop-b'));
    assert.equal((resolveInRoot(root, '/sbin/loop-a') as { why: string }).why, 'is a loop of symbolic links');
    writeFileSync(join(root, 'usr/sbin/plain'), '');
    assert.equal((resolveInRoot(root, '/sbin/plain') as { why: string }).why, 'is not executable');
  });
});

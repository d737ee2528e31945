/**
 * What an OCI box can reach of the host through nsbox-runc's create/start split (issue 10,
 * hole 6). Between create and start the box's pid 1 is the launcher itself, holding a
 * socket of the runtime's state directory; nothing of the runtime is mounted in the box.
 * The boxes here hold CAP_SYS_ADMIN (a config podman makes with --cap-add SYS_ADMIN) and no
 * seccomp filter, so only the way the split is made protects the host.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launcherPath } from '@nsbox/native';
import { buildBusyboxRootfs, Cleanup, makeTempDir, requireRoot } from '@nsbox/testkit';
import { type BundleConfig, cleanupBundle, createHarness, ensureNativeBuilt, makeBundle, type RuncHarness } from './runc-harness.js';

const probeSource = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'probe.c');

/** What open(O_WRONLY) of a file being run, or of a read-only one, may answer. */
const REFUSED_WRITE = ['ETXTBSY', 'EACCES', 'EROFS', 'EPERM'];

function withSysAdmin(config: BundleConfig): void {
  for (const set of ['bounding', 'effective', 'permitted']) config.process.capabilities[set].push('CAP_SYS_ADMIN');
}

/** Every regular file under `dir` whose content holds `marker` (symlinks are not followed). */
function filesHolding(dir: string, marker: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...filesHolding(path, marker));
    else if (entry.isFile() && lstatSync(path).size < 64 * 2 ** 20 && readFileSync(path).includes(marker)) found.push(path);
  }
  return found;
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('nsbox-runc: a box reaches no host file through the create/start split', function () {
  this.timeout(120_000);
  const cleanup = new Cleanup();
  let harness: RuncHarness;
  const ids: string[] = [];
  const marker = `nsbox-secret-${randomBytes(8).toString('hex')}`;

  before(function () {
    requireRoot(this, 'nsbox-runc creates namespaces and cgroups');
    ensureNativeBuilt();
    const dir = makeTempDir(cleanup, 'oci-reach');
    const rootfs = buildBusyboxRootfs(join(dir, 'rootfs'));
    execFileSync('gcc', ['-static', '-O1', '-o', join(rootfs, 'bin', 'probe'), probeSource], { stdio: 'pipe' });
    chmodSync(join(rootfs, 'bin', 'probe'), 0o755);
    harness = createHarness(cleanup, join(dir, 'work'), rootfs, `reach-${process.pid}`);
  });

  afterEach(() => {
    for (const id of ids.splice(0)) harness.run(['delete', '--force', id]);
  });

  after(async () => {
    if (harness) cleanupBundle(harness, []);
    const failures = await cleanup.run();
    assert.deepEqual(failures, []);
  });

  const exec = (id: string, script: string) => {
    const result = harness.run(['exec', id, 'sh', '-c', script]);
    assert.equal(result.code, 0, `exec in ${id}: ${result.stderr}`);
    return result.stdout;
  };

  it('a created box sees no mount and no file of the runtime, and cannot start itself', () => {
    const id = 'reach-created';
    ids.push(id);
    const bundle = makeBundle(harness, 'b-reach-created', ['sleep', '60'], withSysAdmin);
    assert.equal(harness.run(['create', '--bundle', bundle, id]).code, 0);
    const mountinfo = exec(id, 'cat /proc/self/mountinfo');
    assert.doesNotMatch(mountinfo, new RegExp(harness.root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'a mount of the state directory is in the box');
    // The held init's socket is an fd of a process the box cannot inspect (not dumpable),
    // and nothing else leads to it.
    const fds = exec(id, 'ls -l /proc/1/fd/ 2>&1; echo rc=$?');
    assert.match(fds, /Permission denied|rc=[1-9]/, `the box listed pid 1's fds: ${fds}`);
    assert.equal(exec(id, 'find / -xdev -type s 2>/dev/null | wc -l').trim(), '0', 'a unix socket is reachable in the box');
    const state = JSON.parse(harness.run(['state', id]).stdout) as { status: string };
    assert.equal(state.status, 'created', 'the box started without `start`');
    assert.equal(harness.run(['start', id]).code, 0);
  });

  it('nothing the box writes lands in the host state directory', () => {
    const id = 'reach-write';
    ids.push(id);
    const bundle = makeBundle(harness, 'b-reach-write', ['sleep', '60'], withSysAdmin);
    assert.equal(harness.run(['create', '--bundle', bundle, id]).code, 0);
    exec(id, `for d in / /dev /tmp; do echo ${marker} > $d/planted; done 2>/dev/null; true`);
    assert.equal(harness.run(['start', id]).code, 0);
    exec(id, `mount -t tmpfs own /mnt 2>/dev/null; echo ${marker} > /mnt/planted; true`);
    assert.deepEqual(filesHolding(harness.root, marker), [], 'files the box wrote are in the host state directory');
  });

  it('the held init cannot be opened for writing from the box, and the host launcher is unchanged', () => {
    const before = sha256(launcherPath);
    const id = 'reach-init';
    ids.push(id);
    const bundle = makeBundle(harness, 'b-reach-init', ['sleep', '60'], withSysAdmin);
    assert.equal(harness.run(['create', '--bundle', bundle, id]).code, 0);
    // Created: the box's pid 1 is the launcher, run from a sealed memfd copy.
    const whileCreated = exec(id, 'probe open-write /proc/1/exe').trim().split('\n');
    for (const answer of whileCreated) assert.ok(REFUSED_WRITE.includes(answer), `a write open of the held init answered ${answer}`);
    assert.equal(whileCreated.length, 1);
    assert.equal(harness.run(['start', id]).code, 0);
    // The control: the box may mount and remount what is its own.
    assert.equal(exec(id, 'mkdir -p /dev/own && mount -t tmpfs own /dev/own && mount -o remount,ro /dev/own && echo can-remount'), 'can-remount\n');
    assert.equal(sha256(launcherPath), before, 'the host launcher binary changed');
  });
});

/**
 * What an OCI box can reach of the host through what nsbox-runc itself puts into it: the
 * init helper and the fifos that split create from start (issue 10, hole 6). The boxes
 * here hold CAP_SYS_ADMIN (a config podman makes with --cap-add SYS_ADMIN) and no seccomp
 * filter, so they can unmount and remount what they were given: only the way the helper
 * and the fifos are placed protects the host, not the box's lack of privilege.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBusyboxRootfs, Cleanup, makeTempDir, requireRoot } from '@nsbox/testkit';
import { nativePaths } from '../src/oci-runtime.js';
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

describe('nsbox-runc: a box reaches no host file through the init helper or its fifos', function () {
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

  it('start does not follow what the box put in place of its exec fifo to a host file', () => {
    const secret = join(harness.dir, 'secret.txt');
    writeFileSync(secret, `${marker}\n`, { mode: 0o600 });
    const id = 'reach-fifo';
    ids.push(id);
    const bundle = makeBundle(harness, 'b-reach-fifo', ['sleep', '60'], withSysAdmin);
    const created = harness.run(['create', '--bundle', bundle, id]);
    assert.equal(created.code, 0, created.stderr);
    // The box swaps its exec fifo for a symlink to the host's secret (the host path means
    // nothing in the box, everything to a host that follows it).
    exec(id, `umount -l /dev/.nsbox-runc/exec.fifo 2>/dev/null; rm -f /dev/.nsbox-runc/exec.fifo && ln -s ${secret} /dev/.nsbox-runc/exec.fifo`);
    const started = harness.run(['start', id]);
    assert.doesNotMatch(`${started.stdout}${started.stderr}`, new RegExp(marker), 'start printed the host file');
    assert.equal(started.code, 0, started.stderr);
    const cmdline = readFileSync(`/proc/${JSON.parse(harness.run(['state', id]).stdout).pid}/cmdline`, 'utf8');
    assert.deepEqual(cmdline.split('\0').slice(0, 2), ['sleep', '60'], 'the user process runs');
  });

  it('nothing the box writes into what nsbox-runc gave it lands in the host state directory', () => {
    const id = 'reach-write';
    ids.push(id);
    const bundle = makeBundle(harness, 'b-reach-write', ['sleep', '60'], withSysAdmin);
    assert.equal(harness.run(['run', '--detach', '--bundle', bundle, id]).code, 0);
    exec(
      id,
      [
        'for m in /dev/.nsbox-runc /dev/.nsbox-runc/ready.fifo /dev/.nsbox-runc-init; do mount -o remount,bind,rw $m; mount -o remount,rw $m; done 2>/dev/null',
        `for d in /dev/.nsbox-runc /dev/.nsbox-runc-init; do echo ${marker} > $d/planted; dd if=/dev/zero bs=1k count=256 2>/dev/null | tr '\\0' x | sed 's/^/${marker}/' > $d/fill; done 2>/dev/null`,
        'true',
      ].join('; '),
    );
    assert.deepEqual(filesHolding(harness.root, marker), [], 'files the box wrote are in the host state directory');
  });

  it('the init helper cannot be opened for writing from the box, even remounted, and the host binary is unchanged', () => {
    const helper = nativePaths().initHelper;
    const before = sha256(helper);
    const id = 'reach-init';
    ids.push(id);
    const bundle = makeBundle(harness, 'b-reach-init', ['sleep', '60'], withSysAdmin);
    assert.equal(harness.run(['create', '--bundle', bundle, id]).code, 0);
    const remountAll = 'for m in "$H" "$(dirname "$H")"; do mount -o remount,bind,rw "$m"; mount -o remount,rw "$m"; done 2>/dev/null';
    // Created: the box's pid 1 is the helper itself.
    const whileCreated = exec(
      id,
      `H=$(readlink /proc/1/exe); ${remountAll}; probe open-write /proc/1/exe; probe open-write /proc/self/exe; probe open-write "$H"`,
    )
      .trim()
      .split('\n');
    assert.equal(harness.run(['start', id]).code, 0);
    // Started: nothing runs the helper any more, so no ETXTBSY protects it.
    const helperInBox = '/dev/.nsbox-runc-init/nsbox-runc-init';
    const afterStart = exec(id, `H=${helperInBox}; [ -f "$H" ] || H=/dev/.nsbox-runc-init; ${remountAll}; probe open-write "$H"`).trim().split('\n');
    for (const answer of [...whileCreated, ...afterStart]) assert.ok(REFUSED_WRITE.includes(answer), `a write open answered ${answer}`);
    assert.equal(whileCreated.length, 3);
    assert.equal(afterStart.length, 1);
    // The control: the box may mount and remount what is its own.
    assert.equal(exec(id, 'mkdir -p /dev/own && mount -t tmpfs own /dev/own && mount -o remount,ro /dev/own && echo can-remount'), 'can-remount\n');
    assert.equal(sha256(helper), before, 'the host helper binary changed');
  });
});

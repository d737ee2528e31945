/**
 * Escapes towards the host's processes and IPC: see, ptrace, signal or renice a host
 * process, signal everything at once, and see or attach host SysV IPC objects.
 */

import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { requireRoot } from '@nsbox/testkit';
import { attack, inBox } from '../box-kit.js';
import { attempt, type EscapeBoxes, escapeBoxes, removeEscapeBoxes } from './escape-kit.js';

/** Field 19 of /proc/PID/stat: the nice value. */
function niceOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

describe('escape suite: host processes and IPC', function () {
  this.timeout(120_000);
  let boxes: EscapeBoxes | undefined;
  let victim: ChildProcess | undefined;
  let shm: { id: string; key: string } | undefined;

  before(async function () {
    requireRoot(this, 'the escape suite');
    boxes = await escapeBoxes({ target: {}, privileged: { isolation: { privileged: true } } });
    // A host process of host root, the target of every process attack.
    victim = spawn('sleep', ['100000'], { stdio: 'ignore' });
    // A host SysV shared memory segment, made with the attack program run on the host.
    const key = `0x6e73${randomInt(0x1000, 0xffff).toString(16)}`;
    const made = spawnSync(`${(boxes as EscapeBoxes).rootfs.target}/attack`, ['shmcreate', key], { encoding: 'utf8' }).stdout.trim();
    assert.match(made, /^ok \d+$/, made);
    shm = { id: made.slice(3), key };
  });

  after(async () => {
    victim?.kill('SIGKILL');
    if (shm) spawnSync('ipcrm', ['-m', shm.id]);
    await removeEscapeBoxes(boxes);
  });

  const kit = () => (boxes as EscapeBoxes).kit;
  const pid = () => String(victim?.pid);

  attempt('see a host process', async () => {
    const seen = await inBox(kit(), 'target', `ls -d /proc/${pid()} 2>&1; ls /proc | grep -c '^[0-9]'`);
    assert.match(seen.stdout, /No such file or directory/);
    // Its own init, and this exec: sh, ls, grep.
    assert.ok(Number(seen.stdout.trim().split('\n').at(-1)) <= 4, `the box sees only its own processes: ${seen.stdout}`);
  });

  attempt('ptrace a host process', async () => {
    assert.equal(await attack(kit(), 'target', 'ptrace', pid()), 'err ESRCH');
    assert.equal(await attack(kit(), 'privileged', 'ptrace', pid()), 'err ESRCH', 'not even as host root in a box');
  });

  attempt('signal a host process', async () => {
    assert.equal(await attack(kit(), 'target', 'kill', pid(), '9'), 'err ESRCH');
    assert.equal(await attack(kit(), 'privileged', 'kill', pid(), '9'), 'err ESRCH');
    // kill(-1) reaches every process the sender may signal: in a box, its own.
    await attack(kit(), 'privileged', 'kill', '-1', '15');
    assert.equal(victim?.exitCode, null, 'the host process lives');
    assert.equal(victim?.signalCode, null);
    process.kill(victim?.pid as number, 0);
  });

  attempt('renice a host process', async () => {
    const before = niceOf(victim?.pid as number);
    const ours = niceOf(process.pid);
    assert.equal(await attack(kit(), 'target', 'renice', pid(), '19'), 'err ESRCH');
    // PRIO_USER 0 is "my uid": in a box, only the box's processes of that uid change.
    assert.equal(await attack(kit(), 'privileged', 'renice-user', '0', '19'), 'ok reniced');
    assert.equal(await attack(kit(), 'target', 'renice-user', '0', '19'), 'ok reniced');
    assert.equal(niceOf(victim?.pid as number), before, 'the host process keeps its nice value');
    assert.equal(niceOf(process.pid), ours, 'and so does this test, a host root process');
  });

  attempt('see host SysV IPC objects', async () => {
    const { id, key } = shm as { id: string; key: string };
    assert.equal(await attack(kit(), 'target', 'shmget', key), 'err ENOENT');
    assert.equal(await attack(kit(), 'target', 'shmat', id), 'err EINVAL');
    assert.equal(await attack(kit(), 'privileged', 'shmat', id), 'err EINVAL', 'its own IPC namespace, even for host root');
    const listed = await inBox(kit(), 'target', 'cat /proc/sysvipc/shm');
    assert.doesNotMatch(listed.stdout, new RegExp(`\\b${Number.parseInt(key, 16)}\\b`));
    assert.equal(listed.stdout.trim().split('\n').length, 1, 'only the header line');
  });
});

/**
 * The virtualisation plugin on real boxes and the real kernel: the kernel release, sysinfo(2)
 * and uptime a box sees, served by its own nsbox-notify through the shim's seccomp listeners;
 * a killed helper healing by itself without a failed call, in that box alone; a box without
 * the plugin seeing the host; bad input refused with nothing created.
 */

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { isNsboxError, type NsboxError } from '@nsbox/core';
import { LocalBoxApi } from '@nsbox/host';
import type { LinuxRuntimeFacts } from '@nsbox/runtime';
import { requireRoot, useCleanup } from '@nsbox/testkit';
import { openVirtHost, sleep, type VirtTestHost, waitFor } from './support.js';

const MiB = 2 ** 20;

describe('virtualisation: what a box sees of its machine', function () {
  this.timeout(60_000);
  const cleanup = useCleanup();
  let t: VirtTestHost;

  before(function () {
    requireRoot(this, 'virtualisation on real boxes');
  });

  beforeEach(async () => {
    t = await openVirtHost(cleanup);
  });

  function boxId(name: string): string {
    return t.host.manager.get(name).id;
  }

  /** The box's memory limit and usage as its cgroup says (v1 or v2). */
  function memory(name: string): { limit: number; usage: number } {
    const v1 = t.driver.cgroups.layout.v1.memory !== undefined;
    const read = (file: string) => t.driver.cgroups.read(boxId(name), 'memory', file).trim();
    return v1
      ? { limit: Number(read('memory.limit_in_bytes')), usage: Number(read('memory.usage_in_bytes')) }
      : { limit: Number(read('memory.max')), usage: Number(read('memory.current')) };
  }

  /**
   * A stopped helper that is not on its way out of the ioctl that sends an answer
   * (SECCOMP_IOCTL_NOTIF_SEND, _IOWR('!', 1, 24 bytes)): a signal stops a process on its way
   * back from a syscall, and that one is where the answer was given already.
   */
  function notSending(pid: number): boolean {
    const [nr, , request] = readFileSync(`/proc/${pid}/syscall`, 'utf8').trim().split(' ');
    return !(nr === '16' && BigInt(request ?? '0') === 0xc0182101n);
  }

  /** A process's memory in kB, from /proc/PID/smaps_rollup. */
  function smaps(pid: number): Record<string, number> {
    const fields: Record<string, number> = {};
    for (const match of readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').matchAll(/^(\w+):\s+(\d+) kB$/gm)) fields[match[1] as string] = Number(match[2]);
    return fields;
  }

  it('shows the configured kernel release and version to the init and to an exec, with the box its own node name', async () => {
    await t.box('kernel', {
      virtualisation: { kernel: { release: '6.1.0-18-amd64', version: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1' } },
      // The init asks first: its listener comes from the create-mode launcher.
      process: { args: ['sh', '-c', '/probe uname > /tmp/init-uname; exec sleep 100000'] },
    });
    assert.ok(await waitFor(async () => (await t.exec('kernel', 'cat /tmp/init-uname')).stdout.includes('release='), 5_000), 'the init wrote what it saw');
    const init = (await t.exec('kernel', 'cat /tmp/init-uname')).stdout;
    assert.match(init, /^release=6\.1\.0-18-amd64$/m, 'the init sees the release');
    assert.match(init, /^version=#1 SMP PREEMPT_DYNAMIC Debian 6\.1\.76-1$/m, 'and the version');
    const exec = await t.probe('kernel', 'uname');
    assert.equal(exec.release, '6.1.0-18-amd64', "an exec'd process sees it too");
    assert.equal(exec.nodename, 'kernel', 'the node name is the box UTS namespace, not the host');
    assert.notEqual(os.release(), '6.1.0-18-amd64', 'the host keeps its own');
    assert.equal((await t.exec('kernel', 'uname -r')).stdout.trim(), '6.1.0-18-amd64', 'busybox uname -r');
    const info = (await new LocalBoxApi(t.host).details('kernel')).virtualisation as Record<string, unknown>;
    assert.deepEqual(info.kernel, { release: '6.1.0-18-amd64', version: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1' }, 'nsbox info shows it');
    assert.match(String(info.clocks), /realtime is the host's/, 'and says realtime cannot be per box');
  });

  it('answers sysinfo with the memory limit read back from the cgroup, its usage, its process count and its uptime', async () => {
    const started = Date.now();
    await t.box('sized', { limits: { memory: '256M' } });
    const cgroup = memory('sized');
    assert.equal(cgroup.limit, 256 * MiB, 'the limit the cgroup holds');
    const pidsBefore = Number(t.driver.cgroups.read(boxId('sized'), 'pids', 'pids.current'));
    const seen = await t.probe('sized', 'sysinfo');
    const after = memory('sized');
    assert.equal(Number(seen.totalram), cgroup.limit, 'totalram is the limit');
    const used = Number(seen.totalram) - Number(seen.freeram);
    assert.ok(used > 0 && used <= after.usage + 4 * MiB, `freeram from the box's usage: ${used} used, the cgroup says ${after.usage}`);
    // The probe itself and the join-mode launcher waiting for it are in the box then.
    assert.ok(Number(seen.procs) > pidsBefore && Number(seen.procs) <= pidsBefore + 2, `procs ${seen.procs}: the box's, ${pidsBefore} before the probe`);
    const elapsed = Math.ceil((Date.now() - started) / 1000);
    assert.ok(Number(seen.uptime) <= elapsed, `uptime ${seen.uptime} s counts from the box's start (${elapsed} s ago)`);
    // The time namespace: /proc/uptime too.
    const procUptime = Number.parseFloat((await t.exec('sized', 'cat /proc/uptime')).stdout);
    assert.ok(procUptime <= elapsed + 1, `/proc/uptime ${procUptime} counts from the box's start`);
    if (os.uptime() > elapsed + 5) assert.ok(procUptime < os.uptime() - 2, 'and not from the host boot');
  });

  it('keeps answering when the helper is killed mid-request: a new one within a second, no call failed, the other box untouched', async () => {
    await t.box('victim', { virtualisation: { kernel: { release: '6.1.0-victim' } } });
    await t.box('bystander', { virtualisation: { kernel: { release: '6.1.0-bystander' } } });
    // The init sends its listener once it runs: the shim starts the helper then.
    await waitFor(() => t.notifyPid('victim') !== undefined && t.notifyPid('bystander') !== undefined, 2_000);
    const victimHelper = t.notifyPid('victim') as number;
    const bystanderHelper = t.notifyPid('bystander') as number;
    assert.ok(victimHelper > 0 && bystanderHelper > 0, 'each box has its own nsbox-notify');

    const hammerMs = 5000;
    const hammerEnds = Date.now() + hammerMs;
    const hammer = t.probe('victim', 'hammer', String(hammerMs));
    const bystanderHammer = t.probe('bystander', 'hammer', String(hammerMs));
    await sleep(300);
    // Stop the helper until it is caught holding a request it received but has not answered
    // — the in-flight page has it (busy 1, an id) and the answer is not being sent —, then
    // kill it there: the worst moment.
    let caughtInFlight = false;
    while (!caughtInFlight && Date.now() < hammerEnds - 1500) {
      process.kill(victimHelper, 'SIGSTOP');
      await waitFor(() => / T /.test(readFileSync(`/proc/${victimHelper}/stat`, 'utf8')), 1_000, 1);
      const page = readFileSync(`/proc/${victimHelper}/fd/4`);
      caughtInFlight = page.readUInt32LE(4) === 1 && page.readBigUInt64LE(8) !== 0n && notSending(victimHelper);
      process.kill(victimHelper, caughtInFlight ? 'SIGKILL' : 'SIGCONT');
      if (!caughtInFlight) await sleep(3);
    }
    const killedAt = Date.now();
    let healed = Number.POSITIVE_INFINITY;
    await waitFor(
      () => {
        const pid = t.notifyPid('victim');
        if (pid !== undefined && pid !== victimHelper) healed = Date.now() - killedAt;
        return Number.isFinite(healed);
      },
      5_000,
      2,
    );
    const seen = await hammer;
    const bystander = await bystanderHammer;
    console.log(
      `      victim: ${seen.calls} calls, slowest ${seen.slowest_ms} ms, new helper after ${healed} ms, killed in flight: ${caughtInFlight}; ` +
        `bystander: ${bystander.calls} calls, slowest ${bystander.slowest_ms} ms`,
    );
    assert.ok(caughtInFlight, 'the helper was caught between receiving a request and answering it');
    assert.ok(healed < 1000, `a new helper serves the box within a second (${healed} ms)`);
    assert.equal(seen.failures, '0', `no call failed (errno ${seen.errno})`);
    assert.ok(Number(seen.slowest_ms) < 1000, `the slowest call waited ${seen.slowest_ms} ms`);
    const shimLog = readFileSync(join(t.driver.boxDir({ id: boxId('victim') }), 'shim.log'), 'utf8');
    assert.match(shimLog, /left in flight by the helper before/, `the request the dead helper held was answered by the next: ${shimLog}`);
    assert.equal((await t.probe('victim', 'uname')).release, '6.1.0-victim', 'the new helper answers with the same rules');
    assert.equal(t.notifyPid('bystander'), bystanderHelper, "the other box's helper never changed");
    // What a box's helper costs: with two boxes its code is shared, what is its own is small.
    const memory = smaps(bystanderHelper);
    console.log(`      nsbox-notify of one box: RSS ${memory.Rss} kB, PSS ${memory.Pss} kB, private ${memory.Private_Clean + memory.Private_Dirty} kB`);
    assert.ok(memory.Private_Clean + memory.Private_Dirty <= 512, 'a helper holds at most 512 kB of its own');
    assert.equal(bystander.failures, '0', 'and none of its calls failed');
  });

  it('leaves a box with the plugin disabled to the kernel: the host release, memory and uptime, no helper', async () => {
    await t.box('plain', { limits: { memory: '256M' }, plugins: { disable: ['virtualisation'] } });
    const seen = await t.probe('plain', 'sysinfo');
    assert.equal(Number(seen.totalram), os.totalmem(), "the host's memory, whatever the box's limit");
    assert.equal((await t.probe('plain', 'uname')).release, os.release());
    assert.ok(Math.abs(Number(seen.uptime) - os.uptime()) <= 2, `the host's uptime (${seen.uptime} s, host ${os.uptime()} s)`);
    assert.equal(t.notifyPid('plain'), undefined, 'no nsbox-notify for it');
    const dir = t.driver.boxDir({ id: boxId('plain') });
    assert.ok(!existsSync(join(dir, 'notify.sock')) && !existsSync(join(dir, 'notify.conf')), 'no notify socket or config');
    const runtime = t.host.manager.get('plain').runtime as LinuxRuntimeFacts & { spec?: { linux: { namespaces: { type: string }[] } } };
    assert.ok(!runtime.spec?.linux.namespaces.some((namespace) => namespace.type === 'time'), 'no time namespace');
    assert.equal((await new LocalBoxApi(t.host).details('plain')).virtualisation, undefined, 'no section in nsbox info');
  });

  it('refuses a kernel release or version of a bad format naming the field, with nothing created', async () => {
    const stateBoxes = () => (existsSync(join(t.host.stateDir, 'boxes')) ? readdirSync(join(t.host.stateDir, 'boxes')) : []);
    const cases: [Record<string, unknown>, string][] = [
      [{ release: 'six' }, 'virtualisation.kernel.release'],
      [{ release: `6.1.${'9'.repeat(70)}` }, 'virtualisation.kernel.release'],
      [{ release: '6.1.0', version: 'two\nlines' }, 'virtualisation.kernel.version'],
      [{ version: '#1' }, 'virtualisation.kernel.release'],
    ];
    for (const [kernel, field] of cases) {
      await assert.rejects(t.host.manager.create({ name: 'bad', config: { template: 'busybox', virtualisation: { kernel } } }), (error: NsboxError) => {
        assert.ok(isNsboxError(error) && error.code === 'E_INVALID_CONFIG', `${JSON.stringify(kernel)}: ${error.message}`);
        assert.ok(error.message.includes(field), `${JSON.stringify(kernel)}: the message names ${field}: ${error.message}`);
        return true;
      });
    }
    assert.deepEqual(
      t.host.manager.list().map((box) => box.name),
      [],
      'no box',
    );
    assert.deepEqual(stateBoxes(), [], 'no box directory');
    assert.deepEqual(t.driver.cgroups.list(), [], 'no cgroup');
  });
});

/**
 * The box's own /proc views on real boxes and the real kernel: meminfo, cpuinfo, stat,
 * loadavg, swaps, diskstats and cpu/online from the box's limits (changed live), Node's
 * os.totalmem() in the box, sysinfo(2) agreeing with meminfo; the box's own nsbox-proc-view
 * killed over and over under reads without one read failing, in that box alone; a box with
 * the views off reading the kernel's files.
 */

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LinuxRuntimeFacts } from '@nsbox/runtime';
import { kernelQuotaProblem } from '@nsbox/runtime-api';
import { makeTempDir, requireRoot, useCleanup } from '@nsbox/testkit';
import { openVirtHost, sleep, type VirtTestHost, waitFor } from './support.js';

const KiB = 1024;
const MiB = 2 ** 20;

/** `Key: N kB` of a meminfo text, in kB. */
function meminfo(text: string, key: string): number {
  const match = new RegExp(`^${key.replace(/[()]/g, '\\$&')}:\\s+(\\d+) kB$`, 'm').exec(text);
  assert.ok(match, `${key} in meminfo`);
  return Number(match[1]);
}

/** The host's online CPUs, as the kernel lists them. */
function hostCpus(): number {
  let count = 0;
  for (const range of readFileSync('/sys/devices/system/cpu/online', 'utf8').trim().split(',')) {
    const [a, b = a] = range.split('-').map(Number) as [number, number?];
    count += (b as number) - a + 1;
  }
  return count;
}

describe('virtualisation: the box’s own /proc views', function () {
  this.timeout(60_000);
  const cleanup = useCleanup();
  let t: VirtTestHost;
  let reader: string;

  before(function () {
    requireRoot(this, 'proc views on real boxes');
  });

  beforeEach(async () => {
    t = await openVirtHost(cleanup);
    reader = join(makeTempDir(cleanup, 'reader'), 'view-reader');
    execFileSync('gcc', ['-static', '-O1', '-o', reader, join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'view-reader.c')], { stdio: 'pipe' });
  });

  /** The reader bound into the box at /view-reader (and the host's /usr for Node, read-only). */
  function withTools(config: Record<string, unknown> = {}, node = false): Record<string, unknown> {
    const bind = (source: string, destination: string) => ({ source, destination, options: ['ro'] });
    return {
      ...config,
      isolation: {
        ...(config.isolation as Record<string, unknown> | undefined),
        mounts: [bind(reader, '/view-reader'), ...(node ? [bind('/usr', '/usr'), bind('/usr/lib', '/lib'), bind('/usr/lib64', '/lib64')] : [])],
      },
    };
  }

  async function read(name: string, file: string): Promise<string> {
    const result = await t.exec(name, `cat ${file}`);
    assert.equal(result.exitCode, 0, `cat ${file} in ${name}: ${result.stderr}`);
    return result.stdout;
  }

  /** The pid of the box's nsbox-proc-view (its shim's child), if one runs. */
  function serverPid(name: string): number | undefined {
    const shim = (t.host.manager.get(name).runtime as LinuxRuntimeFacts).shim;
    if (!shim) return undefined;
    const children = `/proc/${shim.pid}/task/${shim.pid}/children`;
    if (!existsSync(children)) return undefined;
    for (const pid of readFileSync(children, 'utf8').split(/\s+/).filter(Boolean).map(Number)) {
      let comm: string;
      try {
        comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        continue; // a child listed and gone since (a server being replaced) is not the one
      }
      if (comm === 'nsbox-proc-view') return pid;
    }
    return undefined;
  }

  function cgroupMemory(name: string): { limit: number; usage: number } {
    const id = t.host.manager.get(name).id;
    const v1 = t.driver.cgroups.layout.v1.memory !== undefined;
    const read = (file: string) => Number(t.driver.cgroups.read(id, 'memory', file).trim());
    return v1 ? { limit: read('memory.limit_in_bytes'), usage: read('memory.usage_in_bytes') } : { limit: read('memory.max'), usage: read('memory.current') };
  }

  it('shows the memory limit, its usage and the CPUs of a quota, follows live limit changes, and agrees with sysinfo and Node', async () => {
    await t.box('sized', withTools({ limits: { memory: '256M', cpus: 0.5 } }, true));
    const text = await read('sized', '/proc/meminfo');
    assert.equal(meminfo(text, 'MemTotal'), (256 * MiB) / KiB, 'MemTotal is the limit');
    const { usage } = cgroupMemory('sized');
    const free = meminfo(text, 'MemFree');
    // Usage moves a little between the cgroup read and the view's: within 8 MiB.
    assert.ok(Math.abs(free - (256 * MiB - usage) / KiB) < 8 * KiB, `MemFree ${free} kB from the usage (${usage} B)`);
    assert.ok(meminfo(text, 'MemAvailable') >= free && meminfo(text, 'MemAvailable') <= 256 * KiB, 'MemAvailable between free and total');
    assert.ok(meminfo(text, 'MemTotal') * KiB < os.totalmem(), 'the host has more');

    // A quota of 0.5 CPU is one CPU (ceil), wherever it looks.
    assert.equal((await read('sized', '/proc/cpuinfo')).match(/^processor\s*:/gm)?.length, 1, 'cpuinfo: one processor');
    assert.equal((await read('sized', '/sys/devices/system/cpu/online')).trim(), '0', 'cpu/online');
    const stat = await read('sized', '/proc/stat');
    assert.match(stat, /^cpu0 /m, 'stat has cpu0');
    assert.doesNotMatch(stat, /^cpu1 /m, 'and no other CPU');

    // What programs size themselves from agrees: sysinfo(2) and Node's os module (meminfo).
    const sysinfo = await t.probe('sized', 'sysinfo');
    assert.equal(Number(sysinfo.totalram), 256 * MiB, 'sysinfo totalram');
    const node = await t.exec('sized', '/usr/bin/node -e \'const os=require("os");console.log(os.totalmem(), os.cpus().length)\'');
    assert.equal(node.exitCode, 0, `node in the box: ${node.stderr}`);
    const [totalmem, cpus] = node.stdout.trim().split(' ').map(Number);
    assert.equal(totalmem, 256 * MiB, "Node's os.totalmem() in the box");
    assert.equal(cpus, 1, "Node's os.cpus() in the box");

    // Live: the limits change while the box runs; the views show them within their stated
    // staleness (the kernel keeps a view's text ~1 s: a reader sees it then, not at once).
    await t.host.manager.update('sized', { limits: { memory: '128M', cpus: 1.5 } });
    const changed = Date.now();
    const expected = Math.min(2, hostCpus());
    const follows = await waitFor(
      async () =>
        meminfo(await read('sized', '/proc/meminfo'), 'MemTotal') === (128 * MiB) / KiB &&
        (await read('sized', '/proc/cpuinfo')).match(/^processor\s*:/gm)?.length === expected,
      3_000,
      50,
    );
    const lag = Date.now() - changed;
    assert.ok(follows, `MemTotal and ceil(1.5) CPUs (at most the host's ${hostCpus()}) follow the new limits`);
    // ~1 s of staleness, plus the execs of the reads themselves on a busy host.
    assert.ok(lag < 2_500, `within the views' staleness: ${lag} ms`);
    assert.equal(Number((await t.probe('sized', 'sysinfo')).totalram), 128 * MiB, 'sysinfo follows too');
    // A reader that keeps the file open and reads it again from the start (top) sees it too.
    const rereading = t.exec('sized', '/view-reader --reread /proc/meminfo "MemTotal:          65536 kB" 5000');
    await sleep(200);
    await t.host.manager.update('sized', { limits: { memory: '64M' } });
    const reread = (await rereading).stdout;
    assert.match(reread, /^found=1$/m, `the open file's text follows the new limit: ${reread}`);
    assert.ok(Number(/^after=(\d+)$/m.exec(reread)?.[1]) < 3_000, `within the views' staleness: ${reread}`);
  });

  it('shows the swap limit, the box root disk only, and the box’s uptime from its time namespace', async () => {
    await t.box('swapped', withTools({ limits: { memory: '64M', swap: '32M' } }));
    const text = await read('swapped', '/proc/meminfo');
    const hostSwap = meminfo(readFileSync('/proc/meminfo', 'utf8'), 'SwapTotal');
    assert.equal(meminfo(text, 'SwapTotal'), Math.min((32 * MiB) / KiB, hostSwap), 'SwapTotal: the swap limit, at most the host’s swap');
    const swaps = (await read('swapped', '/proc/swaps')).trim().split('\n');
    assert.match(swaps[0] as string, /^Filename\s+Type\s+Size/, 'swaps keeps its header');
    assert.equal(swaps.length, 2, 'and one line for the box');
    assert.match(swaps[1] as string, /^none\s+virtual\s+32768\s+\d+\s+0$/, 'a virtual swap of the limit');
    // No host disk is listed (a busybox box on a directory has no block device of its own).
    const hostDisks = readFileSync('/proc/diskstats', 'utf8').trim().split('\n').length;
    const boxDisks = (await read('swapped', '/proc/diskstats')).trim();
    assert.ok(hostDisks > 0 && boxDisks.split('\n').filter(Boolean).length <= 1, `diskstats: at most the box’s own disk (${boxDisks})`);
    const uptime = Number((await read('swapped', '/proc/uptime')).split(' ')[0]);
    assert.ok(uptime >= 0 && uptime < 60, `/proc/uptime counts from the box's start: ${uptime}`);
    assert.ok(uptime < os.uptime(), 'not the host’s');
  });

  it('has a load average of the box alone: a busy box’s rises, an idle one’s stays at zero', async () => {
    await t.box('busy', withTools());
    await t.box('idle', withTools());
    // Its own session, as a daemon: a nohup'd child of the exec's session was found dead (a
    // zombie under the box's sleep init) when other suites had run first in the same process.
    await t.exec('busy', 'setsid sh -c "while :; do :; done" </dev/null >/dev/null 2>&1 &');
    // One runnable task for ~4 s: 1 - e^(-4/60) ≈ 0.06 on the 1-minute average.
    assert.ok(
      await waitFor(async () => Number((await read('busy', '/proc/loadavg')).split(' ')[0]) >= 0.06, 10_000, 250),
      `the busy box's load rises: ${await read('busy', '/proc/loadavg')}`,
    );
    // sysinfo(2) (uptime, top's header) gives the same loads.
    const viewLoad = Number((await read('busy', '/proc/loadavg')).split(' ')[0]);
    const sysinfoLoad = Number(/load1=([\d.]+)/.exec((await t.exec('busy', '/view-reader --loads')).stdout)?.[1]);
    assert.ok(Math.abs(sysinfoLoad - viewLoad) <= 0.03, `sysinfo's load ${sysinfoLoad} is the view's ${viewLoad}`);
    assert.ok(
      Number(/load1=([\d.]+)/.exec((await t.exec('idle', '/view-reader --loads')).stdout)?.[1]) <= 0.02,
      "the idle box's sysinfo load is near zero too",
    );
    const idle = (await read('idle', '/proc/loadavg')).split(' ');
    // Only the reads' own short-lived tasks run there: at most a blip.
    assert.ok(Number(idle[0]) <= 0.02, `the idle box's load stays near zero: ${idle.join(' ')}`);
    assert.match(idle[3] as string, /^\d+\/\d+$/, 'running/threads');
    assert.ok(Number((idle[3] as string).split('/')[1]) < 10, 'the idle box counts its own few threads, not the host’s');
  });

  it('keeps serving when the server is killed mid-reads (4 times): no read fails, a new one within a second, the other box untouched', async () => {
    await t.box('victim', withTools({ limits: { memory: '200M' } }));
    await t.box('bystander', withTools({ limits: { memory: '100M' } }));
    const bystanderPid = serverPid('bystander');
    assert.ok(bystanderPid, "the bystander's server runs");
    // Killed every ~1.1 s: a server that dies within a second of its start twice in a row is
    // restarted after a pause (100 ms, doubling), which is for crash loops, not this.
    const reads = t.exec('victim', '/view-reader /proc/meminfo 5500 "MemTotal:         204800 kB"');
    const otherReads = t.exec('bystander', '/view-reader /proc/meminfo 5500 "MemTotal:         102400 kB"');
    const killed: number[] = [];
    await sleep(300);
    for (let round = 0; round < 4; round++) {
      const pid = serverPid('victim');
      assert.ok(pid, `round ${round}: a server runs`);
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
      const started = Date.now();
      assert.ok(
        await waitFor(
          () => {
            const next = serverPid('victim');
            return next !== undefined && next !== pid;
          },
          1_000,
          5,
        ),
        `round ${round}: a new server within a second`,
      );
      // A read right after answers within a second.
      const oneRead = await t.exec('victim', '/view-reader /proc/meminfo 20 MemTotal');
      assert.equal(oneRead.exitCode, 0);
      assert.ok(Date.now() - started < 1_500, `round ${round}: views back within a second (${Date.now() - started} ms with the exec)`);
      await sleep(1_050);
    }
    const victim = Object.fromEntries(
      (await reads).stdout
        .trim()
        .split('\n')
        .map((l) => l.split('=') as [string, string]),
    );
    const other = Object.fromEntries(
      (await otherReads).stdout
        .trim()
        .split('\n')
        .map((l) => l.split('=') as [string, string]),
    );
    assert.ok(Number(victim.reads) > 100, `the victim read on (${victim.reads} reads)`);
    assert.equal(victim.failures, '0', `no read of the victim failed (errno ${victim.errno})`);
    assert.ok(Number(victim.slowest) < 1_000, `the slowest read took ${victim.slowest} ms`);
    assert.equal(other.failures, '0', 'nor of the bystander');
    assert.equal(serverPid('bystander'), bystanderPid, "the bystander's server was never touched");
    assert.equal(killed.length, 4);
    // What one box's server costs the host: most of its RSS is code shared by every box's.
    const fields: Record<string, number> = {};
    for (const m of readFileSync(`/proc/${bystanderPid}/smaps_rollup`, 'utf8').matchAll(/^(\w+):\s+(\d+) kB$/gm)) fields[m[1] as string] = Number(m[2]);
    const priv = (fields.Private_Clean ?? 0) + (fields.Private_Dirty ?? 0);
    console.log(`      victim: ${victim.reads} reads, slowest ${victim.slowest} ms; bystander: ${other.reads} reads, slowest ${other.slowest} ms`);
    console.log(`      nsbox-proc-view of one box: RSS ${fields.Rss} kB, PSS ${fields.Pss} kB, private ${priv} kB`);
    assert.ok(priv < 1024, `a server's own memory stays under 1 MiB (${priv} kB)`);
  });

  it('answers a request the dead server had taken off the connection: the next server finds it in the shared page', async () => {
    await t.box('taken', withTools({ limits: { memory: '200M' } }));
    const pid = serverPid('taken');
    assert.ok(pid, 'a server runs');
    // Past the time the kernel keeps what the views gave it at their mount (~1 s): the read
    // below must ask the server.
    await sleep(1_100);
    process.kill(pid, 'SIGSTOP');
    // The box reads its meminfo: its first request (a GETATTR for the size, or the READ of
    // its page; a view has no OPEN) waits in the kernel's queue, the server being stopped.
    const started = Date.now();
    const reading = t.exec('taken', '/view-reader /proc/meminfo 20 "MemTotal:         204800 kB"');
    let taken = '';
    try {
      await sleep(300);
      // Taken off the connection into the page as a server does, and never answered.
      taken = execFileSync('python3', [join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'take-request.py'), String(pid)], { encoding: 'utf8' });
    } finally {
      // Killed whatever happened: a stopped server would leave the box's read waiting.
      process.kill(pid, 'SIGKILL');
    }
    assert.match(taken, /^opcode=(3|15)$/m, `the box's GETATTR or READ was taken: ${taken}`);
    const result = await reading;
    const fields = Object.fromEntries(
      result.stdout
        .trim()
        .split('\n')
        .map((l) => l.split('=') as [string, string]),
    );
    assert.equal(result.exitCode, 0);
    assert.equal(fields.failures, '0', `the read whose request the dead server took succeeded (errno ${fields.errno})`);
    assert.ok(Number(fields.reads) >= 1, 'and it read');
    assert.ok(Date.now() - started < 3_000, `within ${Date.now() - started} ms of the stop, 300 of them waiting on purpose`);
    assert.notEqual(serverPid('taken'), pid, 'by a new server');
  });

  it('refuses quotactl in the box with EOPNOTSUPP through its notify helper, naming the reason in its shim.log', async () => {
    await t.box('quota', withTools());
    const result = await t.exec('quota', '/view-reader --quotactl');
    assert.match(result.stdout, /^errno=95$/m, `EOPNOTSUPP, not the profile's EPERM: ${result.stdout}`);
    const log = readFileSync(join(t.driver.files(t.host.manager.get('quota')).dir, 'shim.log'), 'utf8');
    // Without quota support in the kernel, that is the reason; with it, this box has no disk image of its own.
    const problem = kernelQuotaProblem();
    const reason =
      problem === undefined
        ? /the box has no disk image of its own \(limits\.disk\)/
        : /quotas inside a box are not served by this host: its kernel has no quota (support \(CONFIG_QUOTA|format for ext4 quota inodes \(CONFIG_QFMT_V2)/;
    assert.match(log, new RegExp(`nsbox-notify: quotactl \\(cmd 0x\\w+\\) of box pid \\d+ refused: ${reason.source}`), 'the reason, in the box’s log');
  });

  it('gives each box its own kernel log: its writes and its OOM kill, never a host line', async () => {
    await t.box('logged', withTools({ limits: { memory: '32M' } }));
    await t.box('quiet', withTools());
    const marker = `nsbox-test-host-marker-${process.pid}-${Date.now()}`;
    // The host's log gets a marker; the box writes its own line; the box then runs out of memory.
    writeFileSync('/dev/kmsg', `<6>${marker}\n`);
    const wrote = await t.exec('logged', 'echo "<5>hello from the box" > /dev/kmsg');
    assert.equal(wrote.exitCode, 0, `the box writes to its /dev/kmsg: ${wrote.stderr}`);
    const hog = await t.exec('logged', 'dd if=/dev/zero of=/dev/null bs=64M count=1');
    assert.notEqual(hog.exitCode, 0, 'dd with a 64 MiB buffer is OOM-killed in a 32 MiB box');
    const sawOom = await waitFor(async () => /Killed process \d+ \(dd\)/.test((await t.exec('logged', 'dmesg')).stdout), 5_000, 200);
    const dmesg = (await t.exec('logged', 'dmesg')).stdout;
    assert.ok(sawOom, `the OOM kill is in the box's dmesg (syslog(2)): ${dmesg}`);
    assert.match(dmesg, /hello from the box/, 'with its own line');
    const kmsg = (await t.exec('logged', '/view-reader --kmsg')).stdout;
    assert.match(kmsg, /^13,\d+,(\d+),-;hello from the box$/m, `/dev/kmsg gives it as a record: ${kmsg}`);
    const stamp = Number(/^13,\d+,(\d+),-;hello/m.exec(kmsg)?.[1]);
    assert.ok(stamp < 60_000_000, `its time counts from the box's start, not the host's boot: ${stamp} µs`);
    assert.match(kmsg, /oom-kill:.*task=dd/, 'and the oom-kill line');
    assert.match(kmsg, /^end=11$/m, 'a non-blocking reader ends with EAGAIN');
    for (const [name, text] of [
      ['logged dmesg', dmesg],
      ['logged kmsg', kmsg],
      ['quiet dmesg', (await t.exec('quiet', 'dmesg')).stdout],
    ] as const) {
      assert.ok(!text.includes(marker), `${name}: never the host's marker line`);
    }
    assert.doesNotMatch((await t.exec('quiet', 'dmesg')).stdout, /hello from the box|Killed process/, "the other box's log has none of it");
  });

  it('gives two boxes OOM-killed at once each its own OOM report — header, its cgroup’s figures, its task rows — and none of the other’s or the host’s', async () => {
    await t.box('oom-a', withTools({ limits: { memory: '32M' } }));
    await t.box('oom-b', withTools({ limits: { memory: '32M' } }));
    const ids = { 'oom-a': t.host.manager.get('oom-a').id, 'oom-b': t.host.manager.get('oom-b').id };
    const hogs = await Promise.all(['oom-a', 'oom-b'].map((name) => t.exec(name, 'sleep 1 & dd if=/dev/zero of=/dev/null bs=64M count=1')));
    for (const hog of hogs) assert.notEqual(hog.exitCode, 0, 'dd with a 64 MiB buffer is OOM-killed in a 32 MiB box');
    const texts = async (name: string) =>
      (await t.exec(name, '/view-reader --kmsg')).stdout
        .split('\n')
        .filter((line) => /^\d+,\d+,\d+,-;/.test(line))
        .map((line) => line.slice(line.indexOf(';') + 1));
    const victim = (lines: string[]) =>
      Number(/^Memory cgroup out of memory: Killed process (\d+) \(dd\)/.exec(lines.find((l) => l.includes('Killed process')) ?? '')?.[1]);
    assert.ok(
      await waitFor(async () => (await Promise.all(['oom-a', 'oom-b'].map(texts))).every((lines) => victim(lines) > 0), 5_000, 200),
      'both boxes logged their kill',
    );
    // What the host's kernel printed: each report whole, with what the boxes must not get.
    const host = spawnSync('sh', ['-c', 'timeout 1 cat /dev/kmsg'], { encoding: 'utf8' }).stdout;
    const release = os.release();
    for (const [name, other] of [
      ['oom-a', 'oom-b'],
      ['oom-b', 'oom-a'],
    ] as const) {
      const lines = await texts(name);
      const pid = victim(lines);
      const otherPid = victim(await texts(other));
      const hostReport = new RegExp(`^[^;]*;CPU: \\d+ (UID: \\d+ )?PID: ${pid} Comm: dd .*${release.replace(/[.+]/g, '\\$&')}`, 'm');
      assert.match(host, hostReport, `the host's report names the kernel release on ${name}'s CPU: line`);
      assert.match(host, /^[^;]*;RIP: 0010:/m, "and shows the kernel's registers");
      const at = (pattern: RegExp) => lines.findIndex((line) => pattern.test(line));
      const order = [
        at(/^dd invoked oom-killer: gfp_mask=/),
        at(new RegExp(`^CPU: \\d+ (UID: \\d+ )?PID: ${pid} Comm: dd$`)),
        at(/^Call Trace:$/),
        at(/^memory: usage \d+kB, limit 32768kB/),
        at(new RegExp(`^Memory cgroup stats for /.*${ids[name]}:$`)),
        at(/^Tasks state \(memory values in pages\):$/),
        at(new RegExp(`^\\[ *${pid}\\] +\\d+ +${pid} .* dd$`)),
        at(/^oom-kill:.*task=dd/),
        at(new RegExp(`^Memory cgroup out of memory: Killed process ${pid} `)),
      ];
      assert.ok(
        order.every((index, i) => index >= 0 && (i === 0 || index > (order[i - 1] as number))),
        `${name}: the header, its CPU line cut before the taint, the trace, its cgroup's figures, its dd row, the kill, in order (${order}): ${lines.join('\n')}`,
      );
      assert.ok(
        lines.some((line) => /^(rss|anon) \d+$/.test(line)),
        `${name}: its cgroup's figures`,
      );
      const leaked = lines.filter(
        (line) =>
          line.includes(release) ||
          /tainted/i.test(line) ||
          /ffff[0-9a-f]{12}/.test(line) ||
          /^RIP: 0010|^Hardware name|^Mem-Info/.test(line) ||
          line.includes(ids[other]) ||
          new RegExp(`^\\[ *${otherPid}\\]|PID: ${otherPid} |process ${otherPid} `).test(line),
      );
      assert.deepEqual(leaked, [], `${name}: nothing of the host's, nor of ${other}'s report (pid ${otherPid})`);
    }
  });

  it('gives an OOM in a cgroup below a box, named after another box, to the box it is below — never to the box it is named after', async () => {
    // A box that may make cgroups (a delegated hierarchy) names one as it likes: here
    // /PARENT/NEST/<ID of target>, made from the host, a 32 MiB limit, and nest's shell moved in.
    await t.box('nest', withTools({ limits: { memory: '256M' } }));
    await t.box('target', withTools());
    const nest = t.host.manager.get('nest');
    const target = t.host.manager.get('target');
    const usage = /^memory\.usage (.*)$/m.exec(readFileSync(join(t.driver.files(nest).dir, 'views.conf'), 'utf8'))?.[1];
    assert.ok(usage, "nest's views.conf names its memory cgroup");
    const below = join(dirname(usage), target.id);
    mkdirSync(below);
    cleanup.add('remove the cgroup below nest', async () => {
      // Its last task (nest's shell, which dd's kill ends) may take a moment to go.
      const removed = await waitFor(() => {
        try {
          if (existsSync(below)) rmdirSync(below);
          return true;
        } catch {
          return false;
        }
      }, 5_000);
      if (!removed) rmdirSync(below);
    });
    writeFileSync(join(below, 'memory.limit_in_bytes'), String(32 * MiB));
    const hog = t.exec('nest', 'while [ ! -e /tmp/go ]; do sleep 0.1; done; dd if=/dev/zero of=/dev/null bs=64M count=1; echo dd=$?');
    let shell: number | undefined;
    assert.ok(
      await waitFor(() => {
        shell = readFileSync(join(dirname(usage), 'cgroup.procs'), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map(Number)
          .find((pid) => {
            try {
              return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('/tmp/go');
            } catch {
              return false;
            }
          });
        return shell !== undefined;
      }, 5_000),
      "nest's waiting shell",
    );
    writeFileSync(join(below, 'cgroup.procs'), String(shell));
    assert.equal((await t.exec('nest', 'touch /tmp/go')).exitCode, 0);
    assert.doesNotMatch((await hog).stdout, /^dd=0$/m, 'dd is OOM-killed in the 32 MiB cgroup');
    const kmsg = async (name: string) => (await t.exec(name, '/view-reader --kmsg')).stdout;
    assert.ok(await waitFor(async () => /Killed process \d+ \(dd\)/.test(await kmsg('nest')), 5_000, 200), `nest's log has the kill: ${await kmsg('nest')}`);
    assert.match(await kmsg('nest'), new RegExp(`Memory cgroup stats for /.*${nest.id}/${target.id}:`), 'with the figures of its cgroup below');
    const host = spawnSync('sh', ['-c', 'timeout 1 cat /dev/kmsg'], { encoding: 'utf8' }).stdout;
    assert.match(host, new RegExp(`oom-kill:.*oom_memcg=/[^,]*${nest.id}/${target.id},`), "the host's oom-kill line names target's id");
    assert.doesNotMatch(await kmsg('target'), /oom|Killed process|Memory cgroup|Tasks state|\(dd\)/i, "target's log has none of it");
  });

  it('gives a box the kernel’s report of its own segfault, continuation line included, and another box none of it', async () => {
    await t.box('crashy', withTools());
    await t.box('calm', withTools());
    // A process that dies at once may be gone before its server reads the line (README, "Not
    // yet"); one that dumps core is still in the box while the kernel writes the core.
    const crash = await t.exec('crashy', 'ulimit -c unlimited && cd /tmp && /view-reader --segfault 48; echo status=$?; ls -s /tmp/core');
    assert.match(crash.stdout, /^status=139$/m, `killed by SIGSEGV: ${crash.stdout}${crash.stderr}`);
    assert.match(crash.stdout, /core$/m, 'with a core dump');
    // The kernel's report on the host: the fault line, and its `Code:` line as the next record.
    const report = /^\d+,(\d+),\d+,[^;]*;view-reader\[(\d+)\]: segfault at 0 .*\n\d+,(\d+),\d+,[^;]*;(Code: .*)$/gm;
    const lastReport = () => [...spawnSync('sh', ['-c', 'timeout 1 cat /dev/kmsg'], { encoding: 'utf8' }).stdout.matchAll(report)].at(-1);
    const hostSaw = await waitFor(() => lastReport() !== undefined, 5_000, 200);
    const host = lastReport();
    assert.ok(hostSaw && host && Number(host[3]) === Number(host[1]) + 1, 'the host kernel printed the report as two records');
    const code = (host as RegExpExecArray)[4] as string;
    const sawIt = await waitFor(async () => (await t.exec('crashy', 'dmesg')).stdout.includes(code), 5_000, 200);
    const kmsg = (await t.exec('crashy', '/view-reader --kmsg')).stdout;
    assert.ok(sawIt, `the box's dmesg has the whole report: ${(await t.exec('crashy', 'dmesg')).stdout}`);
    const lines = kmsg.split('\n').map((line) => line.slice(line.indexOf(';') + 1));
    const first = lines.findIndex((line) => /^view-reader\[\d+\]: segfault at 0 /.test(line));
    assert.ok(first >= 0 && lines[first + 1] === code, `its /dev/kmsg: the fault line, then its Code: line: ${kmsg}`);
    assert.doesNotMatch((await t.exec('calm', 'dmesg')).stdout, /segfault|Code:/, "the other box's log has none of it");
  });

  it('has a control for the host marker: a box reading the host’s log sees it; without the view, isolation leaves a box no kernel log at all', async () => {
    // A box allowed the host's /dev/kmsg (privileged, CAP_SYSLOG, the device allowlisted) and
    // without its own log: what a leak would look like — the marker checks above would fail.
    await t.box(
      'leaky',
      withTools({
        isolation: { privileged: true, capabilities: { add: ['CAP_SYSLOG'] }, devices: [{ type: 'c', major: 1, minor: 11, access: 'r' }] },
        virtualisation: { kernelLog: false },
      }),
    );
    await t.box('bare', withTools({ virtualisation: { kernelLog: false } }));
    const marker = `nsbox-test-host-marker-${process.pid}-${Date.now()}`;
    writeFileSync('/dev/kmsg', `<6>${marker}\n`);
    assert.ok(spawnSync('dmesg', [], { encoding: 'utf8' }).stdout.includes(marker), "the marker is in the host's log");
    const leak = await t.exec('leaky', 'mknod /dev/kmsg c 1 11 && /view-reader --kmsg');
    assert.equal(leak.exitCode, 0, leak.stderr);
    assert.ok(leak.stdout.includes(marker), `the host's /dev/kmsg read in a box shows the marker: ${leak.stdout.slice(-500)}`);

    // The default box without the view: no /dev/kmsg, none to make, syslog(2) refused.
    const bare = await t.exec('bare', 'test -e /dev/kmsg && echo kmsg; mknod /dev/kmsg c 1 11 || echo no-mknod; dmesg; echo dmesg=$?');
    assert.doesNotMatch(bare.stdout, /^kmsg$/m, 'no /dev/kmsg');
    assert.match(bare.stdout, /^no-mknod$/m, 'no device node made in its user namespace');
    assert.match(bare.stdout, /^dmesg=1$/m, `syslog(2) refused: ${bare.stderr}`);
    assert.match(bare.stderr, /Operation not permitted/);
    assert.ok(!bare.stdout.includes(marker));
  });

  it('serves the box’s /dev/kmsg as journald uses the kernel’s: SEEK_DATA, epoll, its own writes, SEEK_END/SET', async () => {
    await t.box('follow', withTools());
    const wrote = await t.exec('follow', 'echo "<6>follow: before the reader" > /dev/kmsg');
    assert.equal(wrote.exitCode, 0, wrote.stderr);
    const result = await t.exec('follow', '/view-reader --kmsg-follow');
    const out = result.stdout;
    const field = (key: string) => new RegExp(`^${key.replace('.', '\\.')}=(.*)$`, 'm').exec(out)?.[1];
    assert.equal(result.exitCode, 0, out + result.stderr);
    assert.equal(field('seek_data'), '0', `lseek(0, SEEK_DATA) is taken: ${out}`);
    assert.equal(field('records'), '1', 'the one record there, read to its end');
    assert.equal(field('end.errno'), '11', 'then EAGAIN');
    assert.equal(field('idle_ready'), '0', 'epoll says nothing to read at the end (it said always readable: journald spun)');
    assert.equal(field('own_ready'), '1', "the reader's own write is ahead of it");
    assert.equal(field('own'), "follow: written on the reader's own fd", 'and read next: a write does not move the reader');
    assert.equal(field('drained_ready'), '0');
    assert.equal(field('woke'), '1', 'a write by another process wakes the epoll waiter');
    assert.ok(Number(field('waited_ms')) >= 250 && Number(field('waited_ms')) < 3_000, `after its 300 ms: ${field('waited_ms')} ms`);
    assert.equal(field('other'), 'follow: from another process');
    assert.deepEqual([field('seek_end'), field('end_ready')], ['0', '0'], 'SEEK_END: nothing ahead');
    assert.deepEqual([field('seek_set'), field('first_again')], ['0', '1'], 'SEEK_SET: the first record again');
    assert.equal(field('first'), 'follow: before the reader');
    assert.equal(field('small.errno'), '22', 'a buffer too small for the record: EINVAL, as /dev/kmsg says');
  });

  it('gives concurrent read(2) and sendfile(2) readers whole texts while a view changes its length', async () => {
    await t.box('flux', withTools());
    // The box's thread count crosses 10 and back every 0.2 s: /proc/loadavg's text changes its
    // length (its file's size stays put: the text is padded to it).
    const oscillator = t.exec(
      'flux',
      'end=$(($(date +%s) + 9)); while [ $(date +%s) -lt $end ]; do for i in 1 2 3 4 5 6 7 8; do sleep 0.2 & done; wait; sleep 0.2; done',
    );
    const readers = await Promise.all([1, 2].map(() => t.exec('flux', '/view-reader --whole /proc/loadavg 8000')));
    await oscillator;
    // The padding is spaces at the end of the text's last line: the fields parse as the kernel's.
    const padded = (await t.exec('flux', 'cat /proc/loadavg')).stdout;
    assert.match(padded, /^\d+\.\d\d \d+\.\d\d \d+\.\d\d \d+\/\d+ \d+ *\n$/, `/proc/loadavg: ${JSON.stringify(padded)}`);
    for (const reader of readers) {
      const field = (key: string) => Number(new RegExp(`^${key}=(\\d+)$`, 'm').exec(reader.stdout)?.[1]);
      console.log(`      ${reader.stdout.trim().split('\n').join(' ')}`);
      assert.ok(field('longest') > field('shortest'), `the view's text changed its length while it was read: ${reader.stdout}`);
      // What closes the kernel's window (a new size taken before the old pages are dropped).
      assert.equal(field('largest_file'), field('smallest_file'), `while its file kept its size: ${reader.stdout}`);
      assert.ok(field('reads') > 100 && field('sendfiles') > 100, `both ways read it many times: ${reader.stdout}`);
      assert.deepEqual(['read.cut', 'read.padded', 'sendfile.cut', 'sendfile.padded'].map(field), [0, 0, 0, 0], `every text whole: ${reader.stdout}`);
    }
  });

  it('keeps one box’s reads as fast while another box hammers its views', async () => {
    await t.box('hammer', withTools({ limits: { memory: '100M' } }));
    await t.box('calm', withTools({ limits: { memory: '100M' } }));
    const rate = async () =>
      Number(
        Object.fromEntries(
          (await t.exec('calm', '/view-reader /proc/meminfo 1000 MemTotal')).stdout
            .trim()
            .split('\n')
            .map((l) => l.split('=') as [string, string]),
        ).reads,
      );
    const alone = await rate();
    const hammering = t.exec('hammer', '/view-reader /proc/meminfo 1500 MemTotal');
    await sleep(200);
    const beside = await rate();
    await hammering;
    console.log(`      calm box: ${alone} reads/s alone, ${beside} reads/s beside a hammering box`);
    // Two cores shared by the two readers and their two servers: the calm box keeps at least a
    // third of its rate (a shared server would serialise them).
    assert.ok(beside > alone / 3, `the calm box's reads: ${alone}/s alone, ${beside}/s beside the other`);
  });

  it('leaves a box with the views off to the kernel’s files, with no server', async () => {
    await t.box('plain', withTools({ limits: { memory: '64M' }, virtualisation: { procViews: false, kernelLog: false } }));
    const hostTotal = meminfo(readFileSync('/proc/meminfo', 'utf8'), 'MemTotal');
    assert.equal(meminfo(await read('plain', '/proc/meminfo'), 'MemTotal'), hostTotal, "the kernel's MemTotal");
    assert.equal(serverPid('plain'), undefined, 'no nsbox-proc-view');
    assert.doesNotMatch(await read('plain', '/proc/self/mountinfo'), /nsbox-proc-view/, 'nothing mounted over /proc');
    // The notify-served sysinfo is independent of the views.
    assert.equal(Number((await t.probe('plain', 'sysinfo')).totalram), 64 * MiB);
  });
});

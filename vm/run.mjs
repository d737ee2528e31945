#!/usr/bin/env node
// `npm run test:vm`: the kernel suites in a Debian 12 guest — Debian's own kernel, systemd as
// PID 1, pure cgroup v2 — under qemu (KVM when it can). Builds the guest image once and caches
// it, copies the working tree into a disk of its own, boots, streams mocha's output, and exits
// non-zero on any failure or any skip vm/expected-skips.json does not explain. The guest,
// its disks and its temp files are gone when this returns, whatever happened.

import { copyFileSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { makeRunDisks } from './lib/disks.mjs';
import { ensureTestTemplate } from './lib/host-built.mjs';
import { ensureHostTools } from './lib/host-tools.mjs';
import { ensureImage, imageFacts } from './lib/image.mjs';
import { GuestOutput } from './lib/output.mjs';
import { GUEST_CPUS, GUEST_MEMORY, kvmSupport, qemuArgs, startQemu } from './lib/qemu.mjs';
import { removeTreeOnOneFilesystem, run, secondsSince } from './lib/system.mjs';
import { judge, loadExpectedSkips } from './lib/verdict.mjs';

const vmDir = dirname(fileURLToPath(import.meta.url));
const repo = join(vmDir, '..');
const cacheDir = process.env.NSBOX_VM_CACHE ?? '/var/cache/nsbox-vm';
const timeoutMinutes = Number(process.env.NSBOX_VM_TIMEOUT_MINUTES ?? 40);

function log(message) {
  process.stderr.write(`[test:vm] ${message}\n`);
}

/** Everything the run made, undone in reverse; run once, from the end of main or a signal. */
const cleanups = [];
let cleaned = false;
async function cleanUp() {
  if (cleaned) return;
  cleaned = true;
  for (const step of cleanups.reverse()) {
    try {
      await step();
    } catch (error) {
      log(`cleanup: ${error.message}`);
    }
  }
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    log(`${signal}: stopping the guest`);
    cleanUp().finally(() => process.exit(130));
  });
}

async function stopQemu(qemu) {
  if (qemu.child.exitCode !== null || qemu.child.signalCode !== null) return;
  qemu.child.kill('SIGTERM');
  const gone = await Promise.race([qemu.exited.then(() => true), sleep(5000).then(() => false)]);
  if (!gone) {
    qemu.child.kill('SIGKILL');
    await qemu.exited;
  }
}

function keepConsoleLog(consoleLog) {
  const kept = join(repo, '.nsbox-test', 'vm-console.log');
  mkdirSync(dirname(kept), { recursive: true });
  if (existsSync(consoleLog)) copyFileSync(consoleLog, kept);
  return kept;
}

async function main() {
  const started = Date.now();
  if (process.getuid?.() !== 0) throw new Error('the VM lane runs as root (it builds a Debian root filesystem and boots qemu with KVM)');
  const durations = [];
  const timed = async (what, action) => {
    const at = Date.now();
    const result = await action();
    durations.push(`${what} ${secondsSince(at)} s`);
    return result;
  };

  // The guest runs the tree as built here: setup brings node_modules and every build up to date first.
  await timed('setup', () => run(process.execPath, [join(repo, 'scripts', 'setup.mjs')], {}, 'scripts/setup.mjs'));
  await timed('host tools', () => ensureHostTools(log));
  await timed('test template', () => ensureTestTemplate(repo, log));
  const image = await timed('guest image', () => ensureImage({ cacheDir, log }));
  const facts = imageFacts(image);
  log(`guest image ${image.key} (${image.built ? 'built now' : 'cached'}): Debian ${facts.release}, kernel ${facts.kernelRelease}`);

  const dir = mkdtempSync(join(tmpdir(), 'nsbox-vm-'));
  cleanups.push(() => removeTreeOnOneFilesystem(dir));
  const disks = await timed('tree and node disks', () => makeRunDisks({ repo, dir }));

  const { kvm, why } = kvmSupport();
  if (!kvm) log(`no KVM: ${why}; the guest runs under TCG, several times slower`);
  const output = join(dir, 'output.log');
  const consoleLog = join(dir, 'console.log');
  const specs = process.argv.slice(2);
  if (specs.length > 0) log(`only ${specs.join(' ')}`);
  const args = qemuArgs({ image, disks, repo, output, console: consoleLog, kvm, specs });
  log(`booting the guest (${GUEST_CPUS} vCPUs, ${GUEST_MEMORY} RAM, ${kvm ? 'KVM' : 'TCG'}, no network)`);
  const guestStarted = Date.now();
  const qemu = startQemu(args, { tmpdir: dir });
  cleanups.push(() => stopQemu(qemu));
  const limitMs = timeoutMinutes * 60_000 * (kvm ? 1 : 4);
  const timedOut = sleep(limitMs).then(() => 'timeout');
  const outcome = new GuestOutput(output);
  // The output file exists once qemu opened it; until then there is nothing to follow.
  while (!existsSync(output) && qemu.child.exitCode === null) await sleep(100);
  const ended = Promise.race([qemu.exited, timedOut]);
  await outcome.follow(ended);
  if ((await ended) === 'timeout') log(`the guest ran past ${limitMs / 60_000} minutes: stopping it`);
  await stopQemu(qemu);
  durations.push(`guest boot and tests ${secondsSince(guestStarted)} s`);

  const problems = judge(outcome, loadExpectedSkips(join(vmDir, 'expected-skips.json')));
  const report = outcome.report;
  if (report) log(`guest: ${report.passes} passing, ${report.failures} failing, ${report.pending} pending`);
  if (problems.length > 0) {
    const kept = keepConsoleLog(consoleLog);
    log(`guest console log kept in ${kept}`);
  }
  durations.push(`total ${secondsSince(started)} s`);
  log(`durations: ${durations.join(', ')}`);
  for (const problem of problems) log(`FAIL: ${problem}`);
  return problems.length === 0 ? 0 : 1;
}

let status = 1;
try {
  status = await main();
} catch (error) {
  log(`error: ${error.message}`);
} finally {
  await cleanUp();
}
process.exit(status);

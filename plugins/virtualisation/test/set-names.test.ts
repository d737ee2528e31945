/**
 * `nsbox set` on real running boxes: the host and domain names changed live in the box's UTS
 * namespace and its /etc files, kept across a restart; every part of a set validated before
 * any is applied (a bad name beside a good memory limit changes neither); a symlink the box
 * planted at /etc/hosts never read or written through; the CLI's exit codes.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { isNsboxError, type NsboxError } from '@nsbox/core';
import { LocalBoxApi } from '@nsbox/host';
import { type CliRunOptions, cliArgs, cliCommands, makeCliHost, makeTempDir, requireRoot, useCleanup } from '@nsbox/testkit';
import { openVirtHost, type VirtTestHost } from './support.js';

const MiB = 2 ** 20;
const pluginEntries = [join(import.meta.dirname, '../src/index.ts'), join(import.meta.dirname, '../../limits/src/index.ts')];
const sharingEntry = join(import.meta.dirname, '../../sharing/src/index.ts');

describe('virtualisation: nsbox set --hostname --domainname', function () {
  this.timeout(90_000);
  const cleanup = useCleanup();
  let t: VirtTestHost;

  before(function () {
    requireRoot(this, 'names of real boxes');
  });

  beforeEach(async () => {
    t = await openVirtHost(cleanup);
  });

  const names = async (box: string) => {
    const seen = await t.exec(box, 'hostname; cat /proc/sys/kernel/domainname; cat /etc/hostname; cat /etc/hosts');
    assert.equal(seen.exitCode, 0, seen.stderr);
    const [hostname, domainname, etcHostname, ...hosts] = seen.stdout.split('\n');
    return { hostname, domainname, etcHostname, hosts: hosts.join('\n') };
  };
  const waitUntilTrue = async (check: () => Promise<boolean>) => {
    for (const until = Date.now() + 5_000; Date.now() < until; await new Promise((resolve) => setTimeout(resolve, 50))) if (await check()) return true;
    return false;
  };
  const rejectsNaming = (field: string) => (error: NsboxError) => {
    assert.ok(isNsboxError(error) && error.code === 'E_INVALID_ARGUMENT', String(error));
    assert.equal(error.details.field, field);
    assert.match(error.message, new RegExp(`${field}: `), 'the message names the field');
    return true;
  };

  it('sets the names of a running box live, in its UTS namespace and its /etc files, and keeps them for the next start', async () => {
    await t.box('named', {});
    const api = new LocalBoxApi(t.host);
    const result = await api.set('named', { hostname: 'web-1', domainname: 'example.org' });
    assert.deepEqual(result.virtualisation, {
      hostname: 'web-1',
      domainname: 'example.org',
      live: true,
      files: { written: ['/etc/hostname', '/etc/hosts'] },
    });
    const seen = await names('named');
    assert.deepEqual([seen.hostname, seen.domainname, seen.etcHostname], ['web-1', 'example.org', 'web-1']);
    assert.match(seen.hosts, /^127\.0\.1\.1\tweb-1\.example\.org web-1$/m, 'the template’s own-name line carries the new names');
    assert.equal((await t.probe('named', 'uname')).nodename, 'web-1', 'uname(2) too');
    assert.notEqual(os.hostname(), 'web-1', 'not the host');
    assert.notEqual(readFileSync('/proc/sys/kernel/domainname', 'utf8').trim(), 'example.org', "nor the host's domain name");

    const info = (await api.details('named')).virtualisation as Record<string, unknown>;
    assert.deepEqual([info.hostname, info.domainname], ['web-1', 'example.org'], 'nsbox info shows them');

    // The domain name alone: the host name stays, the hosts line follows.
    await api.set('named', { domainname: 'example.net' });
    assert.match((await names('named')).hosts, /^127\.0\.1\.1\tweb-1\.example\.net web-1$/m);

    await t.host.manager.stop('named', { timeoutMs: 0 });
    await t.host.manager.start('named');
    const restarted = await names('named');
    assert.deepEqual([restarted.hostname, restarted.domainname], ['web-1', 'example.net'], 'the next start has them');

    // Set while stopped: kept, and the next start brings the box's files in line (a booting
    // systemd would take its name from a stale /etc/hostname).
    await t.host.manager.stop('named', { timeoutMs: 0 });
    assert.deepEqual((await api.set('named', { hostname: 'web-2' })).virtualisation, { hostname: 'web-2', domainname: 'example.net' });
    await t.host.manager.start('named');
    const later = await names('named');
    assert.deepEqual([later.hostname, later.etcHostname], ['web-2', 'web-2']);
    assert.match(later.hosts, /^127\.0\.1\.1\tweb-2\.example\.net web-2$/m);

    // 'none' takes the domain name away, live and for the next start.
    await api.set('named', { domainname: 'none' });
    assert.equal((await names('named')).domainname, '(none)', "the kernel's word for none");
    assert.equal((t.host.manager.get('named').config.virtualisation as { domainname?: string } | undefined)?.domainname, undefined);
  });

  it('sets the kernel strings of a running box live, losing no uname call, and of a box whose uname was the kernel’s at its next start', async () => {
    await t.box('kernel', { virtualisation: { kernel: { release: '6.1.0-18-amd64' } } });
    const api = new LocalBoxApi(t.host);
    assert.ok(await waitUntilTrue(async () => t.notifyPid('kernel') !== undefined), 'the box has its notify helper');
    const helper = t.notifyPid('kernel');
    // uname(2) called in a loop while the strings change: each call answered, old or new.
    const calls = t.exec('kernel', 'for i in $(seq 400); do uname -r || echo FAILED; done');
    await new Promise((resolve) => setTimeout(resolve, 150));
    const result = await api.set('kernel', { kernelRelease: '5.10.0-nsbox', kernelVersion: '#1 SMP nsbox' });
    assert.deepEqual(result.virtualisation, {
      hostname: 'kernel',
      domainname: null,
      kernel: { release: '5.10.0-nsbox', version: '#1 SMP nsbox', live: true },
    });
    const answers = (await calls).stdout.trim().split('\n');
    assert.equal(answers.length, 400, 'every call answered');
    assert.deepEqual(
      [...new Set(answers)].sort(),
      answers.at(-1) === '5.10.0-nsbox' ? ['5.10.0-nsbox', '6.1.0-18-amd64'] : ['6.1.0-18-amd64'],
      'old, then new',
    );
    assert.ok(
      await waitUntilTrue(async () => (await t.exec('kernel', 'uname -r; uname -v')).stdout === '5.10.0-nsbox\n#1 SMP nsbox\n'),
      `uname -r and -v say the new strings: ${(await t.exec('kernel', 'uname -r; uname -v')).stdout}`,
    );
    assert.notEqual(t.notifyPid('kernel'), helper, 'a new helper serves the box');
    assert.deepEqual((t.host.manager.get('kernel').config.virtualisation as { kernel: unknown }).kernel, { release: '5.10.0-nsbox', version: '#1 SMP nsbox' });

    // A box that started with the host's uname: its seccomp filter does not send uname to nsbox.
    await t.box('plain', {});
    const plain = await api.set('plain', { kernelRelease: '4.19.0' });
    const part = plain.virtualisation as { kernel: { release: string; live: boolean; reason: string } };
    assert.deepEqual([part.kernel.release, part.kernel.live], ['4.19.0', false]);
    assert.match(part.kernel.reason, /fixed at its start.*uname.*the next start applies them/);
    assert.equal((await t.exec('plain', 'uname -r')).stdout.trim(), os.release(), "the host's release until then");
    await t.host.manager.stop('plain', { timeoutMs: 0 });
    await t.host.manager.start('plain');
    assert.equal((await t.exec('plain', 'uname -r')).stdout.trim(), '4.19.0', 'the next start has it');

    // Bad strings are refused naming the field; 'host' gives the host's back (at the next start).
    await assert.rejects(api.set('plain', { kernelRelease: 'six' }), rejectsNaming('kernelRelease'));
    const back = await api.set('plain', { kernelRelease: 'host' });
    assert.equal((back.virtualisation as { kernel?: { live: boolean } }).kernel?.live, false);
    assert.equal((t.host.manager.get('plain').config.virtualisation as { kernel?: unknown } | undefined)?.kernel, undefined, 'no kernel strings of its own');
  });

  it('validates every part before applying any: a bad name beside a good memory limit changes neither', async () => {
    await t.box('strict', { limits: { memory: 64 * MiB } });
    const api = new LocalBoxApi(t.host);
    const memoryLimit = () => t.host.manager.get('strict').config.limits as { memory: number };
    await assert.rejects(api.set('strict', { memory: '32M', hostname: 'not_a_name' }), rejectsNaming('hostname'));
    await assert.rejects(api.set('strict', { memory: '32M', domainname: '-dash.example' }), rejectsNaming('domainname'));
    await assert.rejects(api.set('strict', { hostname: 'x'.repeat(65) }), rejectsNaming('hostname'));
    await assert.rejects(api.set('strict', { colour: 'red' }), rejectsNaming('colour'));
    assert.equal(memoryLimit().memory, 64 * MiB, 'the memory limit as it was');
    const seen = await names('strict');
    // A new UTS namespace starts with the host's domain name (the kernel's "(none)" on most hosts).
    const hostDomain = readFileSync('/proc/sys/kernel/domainname', 'utf8').trim();
    assert.deepEqual([seen.hostname, seen.domainname], ['strict', hostDomain], 'the names as they were');
    assert.equal(t.host.manager.get('strict').config.hostname, undefined, 'and the config');

    const both = await api.set('strict', { memory: '32M', hostname: 'lean' });
    assert.deepEqual([(both.limits as { configured: { memory: number } }).configured.memory, (await names('strict')).hostname], [32 * MiB, 'lean']);
  });

  it('never reads or writes through a symlink the box planted at /etc/hosts', async () => {
    await t.box('planter', {});
    const secret = join(makeTempDir(cleanup, 'secret'), 'host-only');
    writeFileSync(secret, 'host secret\n');
    assert.equal((await t.exec('planter', `ln -sf ${secret} /etc/hosts`)).exitCode, 0);
    const result = await new LocalBoxApi(t.host).set('planter', { hostname: 'trap' });
    const files = (result.virtualisation as { files: { written: string[]; skipped?: string } }).files;
    assert.match(files.skipped ?? '', /etc\/hosts.*not a regular file/, 'reported, not followed');
    assert.equal(readFileSync(secret, 'utf8'), 'host secret\n', 'the host file untouched');
    assert.equal((await t.exec('planter', 'readlink /etc/hosts')).stdout.trim(), secret, "the box's link left as it made it");
    assert.equal((await t.exec('planter', 'hostname')).stdout.trim(), 'trap', 'the names are set all the same');
  });
});

describe('virtualisation: nsbox set through the CLI', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();
  let cli: CliRunOptions;
  const { nsbox, ok } = cliCommands(() => cli);

  before(function () {
    requireRoot(this, 'the nsbox set command');
  });

  beforeEach(() => {
    cli = makeCliHost(cleanup, { plugins: pluginEntries });
  });

  it('sets names and limits in one call, and exits non-zero naming the field for a bad one', () => {
    ok('create', 'web', '--template', 'busybox', '--', 'sleep', '100000');
    ok('start', 'web');
    const set = ok('set', 'web', '--hostname', 'front', '--domainname', 'example.org', '--memory', '96M');
    assert.match(set.stdout, /^box web \(running\): applied live in \d+ ms$/m);
    assert.match(set.stdout, /^names: front\.example\.org \(set live\)$/m);
    assert.equal(ok('exec', 'web', '--', 'hostname').stdout, 'front\n');
    assert.equal(ok('exec', 'web', '--', 'cat', '/proc/sys/kernel/domainname').stdout, 'example.org\n');

    const refused = nsbox('set', 'web', '--hostname', 'bad_name', '--memory', '48M');
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /hostname: label 'bad_name' is not an RFC 1123 label/);
    assert.equal(ok('exec', 'web', '--', 'hostname').stdout, 'front\n', 'nothing changed');
    assert.equal(ok('info', 'web', '--json').json().config.limits.memory, 96 * MiB);
  });

  it('writes the names into a layered box’s files owned by the box’s root, not host root (nobody inside)', () => {
    // A layered box's upper layer holds the box's shifted ids; a file host root writes there
    // is owned by an id the box's user namespace does not map.
    cli = makeCliHost(cleanup, { plugins: [...pluginEntries, sharingEntry] });
    ok('create', 'layered', '--template', 'busybox', '--shared', '--', 'sleep', '100000');
    ok('start', 'layered');
    ok('set', 'layered', '--hostname', 'owned');
    const owners = ok('exec', 'layered', '--', 'ls', '-ln', '/etc/hostname', '/etc/hosts').stdout.trim().split('\n');
    assert.equal(owners.length, 2, owners.join('\n'));
    for (const line of owners) assert.match(line, /^-rw-r--r-- +1 0 +0 /, `owned by the box's root: ${line}`);
    assert.equal(ok('exec', 'layered', '--', 'cat', '/etc/hostname').stdout, 'owned\n');
  });

  it('writes the names into the root a disk-limited box runs on (its image’s mount)', () => {
    const config = join(makeTempDir(cleanup, 'config'), 'disky.json');
    writeFileSync(config, JSON.stringify({ limits: { disk: '64M' } }));
    ok('create', 'disky', '--template', 'busybox', '--config', config, '--', 'sleep', '100000');
    ok('start', 'disky');
    assert.match(ok('set', 'disky', '--hostname', 'imaged').stdout, /^names: imaged \(set live\)$/m);
    assert.equal(ok('exec', 'disky', '--', 'cat', '/etc/hostname').stdout, 'imaged\n');
  });

  it('gives a box without a domain name the kernel’s “(none)”, not the domain name of whoever started it', () => {
    // The CLI starts the box from a UTS namespace whose domain name is set; a new UTS namespace
    // copies it. Control: the same start of a box the plugin is disabled for shows it.
    const startIn = (box: string) => {
      const started = spawnSync(
        'unshare',
        ['--uts', 'sh', '-c', 'domainname leak.example && exec "$@"', 'sh', process.execPath, ...cliArgs(['start', box], cli)],
        {
          encoding: 'utf8',
          env: { ...process.env, NSBOX_CGROUP_PARENT: cli.cgroupParent },
        },
      );
      assert.equal(started.status, 0, started.stderr);
    };
    const config = join(makeTempDir(cleanup, 'config'), 'plain.json');
    writeFileSync(config, JSON.stringify({ plugins: { disable: ['virtualisation'] } }));
    ok('create', 'own', '--template', 'busybox', '--', 'sleep', '100000');
    ok('create', 'plain', '--template', 'busybox', '--config', config, '--', 'sleep', '100000');
    startIn('own');
    startIn('plain');
    assert.equal(ok('exec', 'plain', '--', 'cat', '/proc/sys/kernel/domainname').stdout, 'leak.example\n', 'control: without the plugin the box copies it');
    assert.equal(ok('exec', 'own', '--', 'cat', '/proc/sys/kernel/domainname').stdout, '(none)\n');
    assert.equal(ok('info', 'own', '--json').json().details.virtualisation.domainname, null);
  });
});

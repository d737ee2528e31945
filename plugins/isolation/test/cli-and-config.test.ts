/**
 * The plugin as an admin meets it: discovered by the `nsbox` CLI, shown by `nsbox info`,
 * disabled for one box (which then says plainly that it runs unrestricted), and bad input
 * refused with E_INVALID_CONFIG naming the field, before anything is created.
 */

import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NsboxError } from '@nsbox/core';
import { type CliRunOptions, makeTempDir, requireRoot, runNsbox, snapshotHost, useCleanup } from '@nsbox/testkit';
import { makeRootfs, openIsolationHost, testCgroupParent } from './box-kit.js';

describe('isolation through the CLI and bad input', function () {
  this.timeout(120_000);
  const cleanup = useCleanup();

  before(function () {
    requireRoot(this, 'running boxes');
  });

  function cliFor(cgroupParent: string): CliRunOptions {
    const cli = { stateDir: makeTempDir(cleanup, 'state'), cgroupParent };
    cleanup.add('destroy the CLI boxes', () => {
      const listed = runNsbox(['list', '--json'], cli);
      for (const box of JSON.parse(listed.stdout || '[]') as { name: string }[]) runNsbox(['destroy', '--force', box.name], cli);
    });
    return cli;
  }

  function writeConfig(config: unknown): string {
    const file = join(makeTempDir(cleanup, 'config'), 'box.json');
    writeFileSync(file, JSON.stringify(config));
    return file;
  }

  it('is discovered by the CLI: boxes get their own range, and info shows the effective policy', () => {
    const rootfs = makeRootfs(cleanup);
    const cli = cliFor(testCgroupParent(cleanup));
    assert.equal(runNsbox(['create', 'clibox', '--rootfs', rootfs, '--', 'sleep', '1000'], cli).code, 0);
    const started = runNsbox(['start', 'clibox'], cli);
    assert.equal(started.code, 0, started.stderr);
    const exec = runNsbox(['exec', 'clibox', '--', 'cat', '/proc/self/uid_map'], cli);
    assert.match(exec.stdout, /^\s*0\s+\d+\s+65536\n$/, exec.stderr);

    const info = JSON.parse(runNsbox(['info', '--json', 'clibox'], cli).stdout);
    assert.equal(info.isolation, undefined, 'no warning for an isolated box');
    assert.equal(info.effective.privileged, false);
    assert.ok(info.effective.namespaces.includes('user'));
    assert.equal(info.effective.noNewPrivileges, true);
    const details = info.details?.isolation;
    assert.ok(details, `info has an isolation section: ${JSON.stringify(info)}`);
    assert.match(details.uidRange, /^\d+-\d+$/);
    assert.equal(details.processes, 1, 'the box runs one process (its sleep)');
    assert.match(details.seccomp, /allowlist of \d+ syscalls/);
    const host = Number(exec.stdout.trim().split(/\s+/)[1]);
    assert.equal(details.uidRange, `${host}-${host + 65535}`);

    const ranges = JSON.parse(runNsbox(['isolation', 'ranges', '--json'], cli).stdout);
    assert.deepEqual(
      ranges.ranges.map((row: { box: string }) => row.box),
      ['clibox'],
    );
  });

  it('runs a box that disables the plugin without its restrictions, and info says so plainly', () => {
    const rootfs = makeRootfs(cleanup);
    const cli = cliFor(testCgroupParent(cleanup));
    // The CLI discovers every installed plugin: virtualisation's notify-only filter (sysinfo) is
    // not isolation's, so it is off here too, for a box with no seccomp filter at all.
    const config = writeConfig({ plugins: { disable: ['isolation', 'virtualisation'] } });
    assert.equal(runNsbox(['create', 'plain', '--rootfs', rootfs, '--config', config, '--', 'sleep', '1000'], cli).code, 0);
    assert.equal(runNsbox(['start', 'plain'], cli).code, 0);
    const exec = runNsbox(['exec', 'plain', '--', 'sh', '-c', 'cat /proc/self/uid_map; grep Seccomp: /proc/self/status'], cli);
    assert.match(exec.stdout, /^\s*0\s+0\s+4294967295\n/, 'no user namespace: root is host root');
    assert.match(exec.stdout, /Seccomp:\s+0/, 'no seccomp filter');
    const info = JSON.parse(runNsbox(['info', '--json', 'plain'], cli).stdout);
    assert.match(info.isolation, /^OFF: this box runs without the isolation plugin/);
    assert.equal(info.effective.privileged, true);
    const text = runNsbox(['info', 'plain'], cli).stdout;
    assert.match(text, /isolation: OFF: this box runs without the isolation plugin, so without its restrictions/);
    assert.equal(JSON.parse(runNsbox(['isolation', 'ranges', '--json'], cli).stdout).ranges.length, 0, 'it holds no range');
  });

  it('refuses a privileged box with a uid map through the CLI, naming the field, creating nothing', () => {
    const cli = cliFor(testCgroupParent(cleanup));
    const config = writeConfig({
      isolation: {
        privileged: true,
        uidMappings: [{ containerID: 0, hostID: 500000, size: 65536 }],
        gidMappings: [{ containerID: 0, hostID: 500000, size: 65536 }],
      },
    });
    const result = runNsbox(['create', 'bad', '--rootfs', makeRootfs(cleanup), '--config', config, '--', 'sleep', '1'], cli);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /isolation\.uidMappings: a privileged box has no user namespace/);
    assert.deepEqual(JSON.parse(runNsbox(['list', '--json'], cli).stdout), []);
    assert.deepEqual(existsSync(join(cli.stateDir, 'boxes')) ? readdirSync(join(cli.stateDir, 'boxes')) : [], []);
  });

  const badConfigs: { what: string; isolation: unknown; field: string; message: RegExp }[] = [
    {
      what: 'an unknown capability',
      isolation: { capabilities: { add: ['CAP_NET_ADMIN', 'CAP_FLY'] } },
      field: 'isolation.capabilities.add[1]',
      message: /unknown capability 'CAP_FLY'/,
    },
    { what: 'an unknown syscall', isolation: { seccomp: { deny: ['fly_away'] } }, field: 'isolation.seccomp.deny[0]', message: /unknown syscall 'fly_away'/ },
    {
      what: 'a map of host root',
      isolation: { uidMappings: [{ containerID: 0, hostID: 0, size: 1 }], gidMappings: [{ containerID: 0, hostID: 0, size: 1 }] },
      field: 'isolation.uidMappings[0].hostID',
      message: /must not map host root/,
    },
  ];
  for (const bad of badConfigs) {
    it(`refuses ${bad.what} with E_INVALID_CONFIG naming ${bad.field}`, async () => {
      const cgroupParent = testCgroupParent(cleanup);
      const kit = await openIsolationHost(cleanup, { cgroupParent });
      const rootfs = makeRootfs(cleanup);
      const scope = { cgroupParent, marker: 'nsbox-test-bad-input', ownDirs: [kit.host.stateDir, rootfs] };
      const before = snapshotHost(scope);
      await assert.rejects(
        kit.host.manager.create({
          name: 'bad',
          config: { rootfs, isolation: bad.isolation, process: { args: ['/bin/sleep', 'nsbox-test-bad-input'] } },
        }),
        (error: NsboxError) => {
          assert.equal(error.code, 'E_INVALID_CONFIG');
          const issues = error.details.issues as { path: string; message: string }[];
          assert.ok(
            issues.some((issue) => issue.path === bad.field && bad.message.test(issue.message)),
            JSON.stringify(issues),
          );
          return true;
        },
      );
      assert.deepEqual(kit.host.manager.list(), []);
      assert.deepEqual(snapshotHost(scope), before);
    });
  }

  it('refuses a bind mount whose source does not exist, naming the field, creating nothing', async () => {
    const cgroupParent = testCgroupParent(cleanup);
    const kit = await openIsolationHost(cleanup, { cgroupParent });
    const missing = join(makeTempDir(cleanup, 'gone'), 'not-here');
    await assert.rejects(
      kit.host.manager.create({
        name: 'nobind',
        config: {
          rootfs: makeRootfs(cleanup),
          isolation: {
            mounts: [
              { source: '/tmp', destination: '/a', options: ['ro'] },
              { source: missing, destination: '/b' },
            ],
          },
        },
      }),
      (error: NsboxError) => {
        assert.equal(error.code, 'E_INVALID_CONFIG');
        assert.equal(error.details.field, 'isolation.mounts[1].source');
        assert.match(error.message, /does not exist on the host/);
        return true;
      },
    );
    assert.deepEqual(kit.host.manager.list(), []);
    assert.equal(existsSync(join(kit.stateDir, 'boxes')) ? readdirSync(join(kit.stateDir, 'boxes')).length : 0, 0, 'no box directory');
  });

  it('refuses a plain (non-recursive) bind of a host tree with mounts below it, naming the field', async () => {
    const kit = await openIsolationHost(cleanup, { cgroupParent: testCgroupParent(cleanup) });
    // /sys has mounts below it (/sys/fs/cgroup...) on every host.
    await assert.rejects(
      kit.host.manager.create({
        name: 'plainbind',
        config: { rootfs: makeRootfs(cleanup), isolation: { mounts: [{ source: '/sys', destination: '/hostsys', options: ['bind', 'ro'] }] } },
      }),
      (error: NsboxError) => {
        assert.equal(error.code, 'E_INVALID_CONFIG');
        assert.equal(error.details.field, 'isolation.mounts[0].options');
        assert.match(error.message, /use 'rbind'/);
        return true;
      },
    );
    assert.deepEqual(kit.host.manager.list(), []);
  });
});

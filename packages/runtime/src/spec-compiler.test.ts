import assert from 'node:assert/strict';
import type { NsboxError, OciSpec } from '@nsbox/core';
import { contributeLaunch, contributeNotify, type NotifyRule, notifyRules } from '@nsbox/runtime-api';
import { buildBaseSpec } from './base-spec.js';
import { compileCreateProgram, compileJoinProgram } from './spec-compiler.js';

const map = [{ containerID: 0, hostID: 300000, size: 65536 }];

function userSpec(): OciSpec {
  const spec = buildBaseSpec({ name: 'c', config: {} }, '/r');
  spec.linux.namespaces.push({ type: 'user' });
  spec.linux.uidMappings = map;
  spec.linux.gidMappings = map;
  return spec;
}

const named = (ops: readonly (readonly string[])[], name: string) => ops.filter((op) => op[0] === name);

describe('compiling what isolation adds to a spec', () => {
  it('prepares idmapped trees for the rootfs and idmapped binds, after the id maps', () => {
    const spec = userSpec();
    contributeLaunch(spec, { rootfsIdmap: true });
    spec.mounts.push({
      destination: '/data',
      type: 'bind',
      source: '/srv/data',
      options: ['bind', 'ro'],
      uidMappings: map,
      gidMappings: map,
    } as OciSpec['mounts'][number]);
    const ops = compileCreateProgram(spec, { procsFiles: [] });
    assert.deepEqual(named(ops, 'tree'), [
      ['tree', '/r', 'rbind,idmap'],
      ['tree', '/srv/data', 'bind,idmap,ro'],
    ]);
    assert.deepEqual(named(ops, 'rootfs'), [['rootfs', '/r', 'idmap']]);
    assert.deepEqual(named(ops, 'mount').at(-1), ['mount', '/srv/data', '/data', '', 'bind,ro,idmap', '']);
    assert.ok(ops.findIndex((op) => op[0] === 'tree') > ops.findIndex((op) => op[0] === 'gidmap'));
  });

  it('refuses an idmapped rootfs without a user namespace, and gives a mount with mappings of its own their maps', () => {
    const spec = buildBaseSpec({ name: 'c', config: {} }, '/r');
    contributeLaunch(spec, { rootfsIdmap: true });
    assert.throws(() => compileCreateProgram(spec, { procsFiles: [] }), /an idmapped rootfs needs a user namespace/);
    const other = userSpec();
    other.mounts.push({
      destination: '/d',
      type: 'bind',
      source: '/s',
      options: ['bind'],
      uidMappings: [{ containerID: 0, hostID: 1, size: 1 }],
      gidMappings: map,
    } as OciSpec['mounts'][number]);
    assert.deepEqual(named(compileCreateProgram(other, { procsFiles: [] }), 'tree').at(-1), ['tree', '/s', 'bind,idmap', '0 1 1\n', '0 300000 65536\n']);
    const half = buildBaseSpec({ name: 'c', config: {} }, '/r');
    half.mounts.push({ destination: '/d', type: 'bind', source: '/s', uidMappings: map } as OciSpec['mounts'][number]);
    assert.throws(() => compileCreateProgram(half, { procsFiles: [] }), /needs both uidMappings and gidMappings/);
  });

  it('turns linux.resources.devices into bpf.devices rules when the box has a cgroup2 directory', () => {
    const spec = userSpec();
    spec.linux.resources = {
      devices: [
        { allow: false, access: 'rwm' },
        { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' },
        { allow: true, type: 'c', major: 136, access: 'rwm' },
      ],
    };
    assert.deepEqual(named(compileCreateProgram(spec, { procsFiles: [], unifiedDir: '/cg/c' }), 'bpf.devices'), [
      ['bpf.devices', '/cg/c', 'a:*:*:rwm:deny', 'c:1:3:rw:allow', 'c:136:*:rwm:allow'],
    ]);
    assert.deepEqual(named(compileCreateProgram(spec, { procsFiles: [] }), 'bpf.devices'), [], 'v1 only: the devices controller carries them');
  });

  it('binds device nodes into a user-namespaced box and mknods them in a privileged one', () => {
    const spec = userSpec();
    spec.linux.devices = [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229 }];
    assert.deepEqual(named(compileCreateProgram(spec, { procsFiles: [] }), 'dev.bind').at(-1), ['dev.bind', '/dev/fuse', '/dev/fuse']);
    const privileged = buildBaseSpec({ name: 'c', config: {} }, '/r');
    privileged.linux.devices = [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o600 }];
    assert.deepEqual(named(compileCreateProgram(privileged, { procsFiles: [] }), 'mknod'), [['mknod', '/dev/fuse', 'c', '10', '229', '600']]);
    // podman writes Go's FileMode with the type bits (S_IFCHR | 0666); the node's type is `type`'s.
    privileged.linux.devices = [{ path: '/dev/mynull', type: 'c', major: 1, minor: 3, fileMode: 0o20666 }];
    assert.deepEqual(named(compileCreateProgram(privileged, { procsFiles: [] }), 'mknod'), [['mknod', '/dev/mynull', 'c', '1', '3', '666']]);
  });

  it('makes only the root mount read-only, reads rro as a recursive read-only bind, and gives masked_eq its mask last', () => {
    const spec = userSpec();
    spec.root.readonly = true;
    spec.mounts.push({ destination: '/s', type: 'bind', source: '/srv', options: ['rro'] });
    spec.linux.seccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [{ names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] }],
    };
    const ops = compileCreateProgram(spec, { procsFiles: [] });
    assert.deepEqual(named(ops, 'readonly')[0], ['readonly', '/', 'top']);
    assert.deepEqual(named(ops, 'mount').at(-1), ['mount', '/srv', '/s', '', 'rbind,ro', '']);
    assert.deepEqual(named(ops, 'seccomp.rule'), [['seccomp.rule', 'allow', 'clone', `0:masked_eq:0:${0x7e020000}`]]);
  });

  it('attaches IP confinement to the cgroup2 directory, and never in join mode', () => {
    const spec = userSpec();
    contributeLaunch(spec, { ipConfinement: ['127.0.0.2', ' ::1'] });
    const ops = compileCreateProgram(spec, { procsFiles: [], unifiedDir: '/cg/c' });
    assert.deepEqual(named(ops, 'bpf.inet'), [['bpf.inet', '/cg/c', '127.0.0.2', '::1']]);
    assert.throws(() => compileCreateProgram(spec, { procsFiles: [] }), /needs a cgroup2 hierarchy/);
    const join = compileJoinProgram(spec, { initPid: 1, args: ['sh'] }, { procsFiles: [] });
    assert.deepEqual([...named(join, 'bpf.inet'), ...named(join, 'tree')], []);
  });

  it('compiles what nsbox-runc carries out for runc and crun: process attributes, devices, recursive attributes, seccomp notify (issue 20)', () => {
    const spec = buildBaseSpec({ name: 'c', config: {} }, '/r') as OciSpec & Record<string, never>;
    const process = spec.process as OciSpec['process'] & Record<string, unknown>;
    process.user = { uid: 0, gid: 0, umask: 0o027 } as OciSpec['process']['user'];
    process.scheduler = { policy: 'SCHED_BATCH', nice: 7, flags: ['SCHED_FLAG_RESET_ON_FORK'] };
    process.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 4 };
    Object.assign(spec.linux, { memoryPolicy: { mode: 'MPOL_BIND', nodes: '0-1', flags: ['MPOL_F_STATIC_NODES'] }, personality: { domain: 'LINUX32' } });
    spec.linux.devices = [
      { path: '/dev/fifo', type: 'p', major: 0, minor: 0, fileMode: 0o640, uid: 1, gid: 2 },
      { path: '/opt/zero', type: 'c', major: 1, minor: 5 },
    ];
    spec.mounts.push({ destination: '/s', type: 'bind', source: '/srv', options: ['bind', 'rnosuid', 'rro'] });
    spec.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] };
    (spec.linux.seccomp as Record<string, unknown>).flags = ['SECCOMP_FILTER_FLAG_LOG'];
    const ops = compileCreateProgram(spec, { procsFiles: [] });
    assert.deepEqual(
      ops.filter((op) => ['umask', 'sched', 'ioprio', 'mempolicy', 'personality', 'home'].includes(op[0] as string)),
      [
        ['umask', '27'],
        ['sched', 'SCHED_BATCH', '7', '0', 'SCHED_FLAG_RESET_ON_FORK', '0', '0', '0'],
        ['ioprio', 'IOPRIO_CLASS_BE', '4'],
        ['mempolicy', 'MPOL_BIND', 'MPOL_F_STATIC_NODES', '0-1'],
        ['personality', 'LINUX32'],
        ['home'],
      ],
    );
    assert.deepEqual(named(ops, 'mknod'), [
      ['mknod', '/dev/fifo', 'p', '0', '0', '640', '1', '2'],
      ['mknod', '/opt/zero', 'c', '1', '5', '666'],
    ]);
    assert.deepEqual(named(ops, 'mount').at(-1), ['mount', '/srv', '/s', '', 'rbind,nosuid,ro', '']);
    assert.deepEqual(named(ops, 'seccomp.rule'), [['seccomp.rule', 'notify', 'mkdir']]);
    assert.deepEqual(named(ops, 'seccomp.flag'), [['seccomp.flag', 'SECCOMP_FILTER_FLAG_LOG']]);
    assert.deepEqual(named(ops, 'loopback.up'), [['loopback.up']], 'lo comes up in the new network namespace');
    assert.deepEqual(
      ops.slice(ops.findIndex((op) => op[0] === 'pivot_root')).find((op) => op[0] === 'mkdir'),
      ['mkdir', '/', '755'],
      'the working directory is made when missing, after pivot_root',
    );
  });

  it('maps root to root, size 1, for a user namespace without mappings, and prepares plain binds and the root as trees in it', () => {
    const spec = buildBaseSpec({ name: 'c', config: {} }, '/r');
    spec.linux.namespaces.push({ type: 'user' });
    spec.mounts.push({ destination: '/data', type: 'bind', source: '/srv/data', options: ['bind', 'ro'] });
    const ops = compileCreateProgram(spec, { procsFiles: [] });
    assert.deepEqual(
      ops.filter((op) => ['uidmap', 'setgroups', 'gidmap'].includes(op[0] as string)),
      [
        ['uidmap', '0 0 1\n'],
        ['setgroups', 'allow'],
        ['gidmap', '0 0 1\n'],
      ],
    );
    assert.deepEqual(named(ops, 'tree'), [
      ['tree', '/r', 'rbind'],
      ['tree', '/srv/data', 'bind,ro'],
    ]);
    assert.deepEqual(named(ops, 'rootfs'), [['rootfs', '/r']]);
    const join = compileJoinProgram(
      { ...spec, process: { ...spec.process, execCPUAffinity: { initial: '0', final: '1' } } as OciSpec['process'] },
      { initPid: 1, args: ['sh'] },
      { procsFiles: [] },
    );
    assert.deepEqual(named(join, 'affinity'), [['affinity', '1']]);
  });
});

describe('compiling the seccomp user-notify handoff (contributeNotify)', () => {
  const socket = '/state/boxes/x/notify.sock';

  it('adds notify rules to the profile, drops its own rule for a notified syscall, and sends the listener to the shim', () => {
    const spec = buildBaseSpec({ name: 'c', config: {} }, '/r');
    spec.linux.seccomp = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read', 'uname', 'write'], action: 'SCMP_ACT_ALLOW' }] };
    contributeNotify(spec, 'virt', [{ syscall: 'uname', handler: 'uname', params: { release: '6.1.0' } }]);
    const ops = compileCreateProgram(spec, { procsFiles: [], notifySocket: socket });
    assert.deepEqual(named(ops, 'seccomp.rule'), [
      ['seccomp.rule', 'allow', 'read'],
      ['seccomp.rule', 'allow', 'write'],
      ['seccomp.rule', 'notify', 'uname'],
    ]);
    assert.deepEqual(named(ops, 'seccomp.listener'), [['seccomp.listener', socket, '{}']]);
    const join = compileJoinProgram(spec, { initPid: 42, args: ['sh'] }, { procsFiles: [], notifySocket: socket });
    assert.deepEqual(named(join, 'seccomp.listener'), [['seccomp.listener', socket, '{}']], "an exec'd process is answered too");
    assert.deepEqual(named(join, 'seccomp.rule').at(-1), ['seccomp.rule', 'notify', 'uname']);
  });

  it('gives a box without a profile an allow-all filter with the notify rules, and none without rules', () => {
    const spec = buildBaseSpec({ name: 'c', config: {} }, '/r');
    assert.deepEqual(named(compileCreateProgram(spec, { procsFiles: [], notifySocket: socket }), 'seccomp.load'), []);
    contributeNotify(spec, 'virt', [{ syscall: 'sysinfo', handler: 'sysinfo', params: {} }]);
    const ops = compileCreateProgram(spec, { procsFiles: [], notifySocket: socket });
    assert.deepEqual(named(ops, 'seccomp.default'), [['seccomp.default', 'allow']]);
    assert.deepEqual(named(ops, 'seccomp.rule'), [['seccomp.rule', 'notify', 'sysinfo']]);
    assert.throws(() => compileCreateProgram(spec, { procsFiles: [] }), /no notify socket/);
  });

  it('refuses a handler that does not exist, a syscall it does not answer, a bad parameter and a second plugin on one syscall', () => {
    const spec = buildBaseSpec({ name: 'c', config: {} }, '/r');
    const refused = (rules: unknown[], field: RegExp) =>
      assert.throws(
        () => contributeNotify(spec, 'virt', rules as NotifyRule[]),
        (error: NsboxError) => error.code === 'E_INVALID_CONFIG' && field.test(String(error.details?.field)),
      );
    refused([{ syscall: 'uname', handler: 'lxcfs' }], /notify\[0\]\.handler$/);
    refused([{ syscall: 'open', handler: 'uname' }], /notify\[0\]\.syscall$/);
    refused([{ syscall: 'uname', handler: 'uname', params: { release: 'x'.repeat(65) } }], /params\.release$/);
    refused([{ syscall: 'uname', handler: 'uname', params: { release: 'a\nb' } }], /params\.release$/);
    refused([{ syscall: 'uname', handler: 'uname', params: { machine: 'x' } }], /params\.machine$/);
    assert.deepEqual(notifyRules(spec), [], 'a refused contribution leaves nothing');
    contributeNotify(spec, 'virt', [{ syscall: 'uname', handler: 'uname' }]);
    assert.throws(() => contributeNotify(spec, 'other', [{ syscall: 'uname', handler: 'uname' }]), /'uname' is answered by plugin 'virt' already; 'other'/);
    contributeNotify(spec, 'virt', [{ syscall: 'sysinfo', handler: 'sysinfo' }]);
    assert.deepEqual(notifyRules(spec), [{ syscall: 'sysinfo', handler: 'sysinfo', owner: 'virt' }], "a plugin's second contribution replaces its first");
  });
});

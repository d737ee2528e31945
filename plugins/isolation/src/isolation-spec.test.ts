import assert from 'node:assert/strict';
import type { OciSpec } from '@nsbox/core';
import { buildBaseSpec, compileCreateProgram } from '@nsbox/runtime';
import { launchContributions } from '@nsbox/runtime-api';
import { defaultIsolationConfig, type IsolationConfig, isolationConfigSchema } from './config-schema.js';
import { deviceAllowlist } from './devices.js';
import { applyIsolation, type IsolationFacts } from './isolation-spec.js';

const ranges = { uid: { hostID: 1_000_000, size: 65536 }, gid: { hostID: 1_065_536, size: 65536 } };

function specFor(config: IsolationConfig, settings?: IsolationFacts['settings']): OciSpec {
  const spec = buildBaseSpec({ name: 'b', config: {} }, '/srv/boxes/b/rootfs');
  applyIsolation(spec, config, { ...(config.privileged ? {} : { ranges }), devices: deviceAllowlist(config.devices), ...(settings ? { settings } : {}) });
  return spec;
}

const parse = (input: unknown) => isolationConfigSchema.parse(input);
const opsNamed = (ops: readonly (readonly string[])[], name: string) => ops.filter((op) => op[0] === name);

describe('the spec the isolation plugin builds', () => {
  it('puts a default box in a user namespace of its range, its rootfs idmapped, with every filter on', () => {
    const spec = specFor(defaultIsolationConfig());
    assert.deepEqual(spec.linux.namespaces.map((namespace) => namespace.type).sort(), ['cgroup', 'ipc', 'mount', 'network', 'pid', 'user', 'uts']);
    assert.deepEqual(spec.linux.uidMappings, [{ containerID: 0, hostID: 1_000_000, size: 65536 }]);
    assert.deepEqual(spec.linux.gidMappings, [{ containerID: 0, hostID: 1_065_536, size: 65536 }]);
    assert.equal(launchContributions(spec).rootfsIdmap, true);
    assert.equal(spec.process.noNewPrivileges, true);
    assert.equal(spec.process.capabilities?.bounding?.length, 14);
    assert.equal(spec.linux.seccomp?.defaultAction, 'SCMP_ACT_ERRNO');
    assert.ok(spec.linux.maskedPaths?.includes('/proc/kcore'));
    assert.ok(spec.linux.readonlyPaths?.includes('/proc/sysrq-trigger'));
    assert.ok(spec.mounts.find((mount) => mount.destination === '/sys')?.options?.includes('ro'));

    const ops = compileCreateProgram(spec, { procsFiles: [], unifiedDir: '/sys/fs/cgroup/unified/nsbox/b' });
    assert.deepEqual(opsNamed(ops, 'tree'), [['tree', '/srv/boxes/b/rootfs', 'rbind,idmap,nodev,nosuid']], 'set on the host side, before the box gets it');
    assert.deepEqual(opsNamed(ops, 'rootfs'), [['rootfs', '/srv/boxes/b/rootfs', 'idmap']]);
    const devices = opsNamed(ops, 'bpf.devices')[0] as string[];
    assert.deepEqual(devices.slice(0, 5), ['bpf.devices', '/sys/fs/cgroup/unified/nsbox/b', 'a:*:*:rwm:deny', 'c:*:*:m:allow', 'b:*:*:m:allow']);
    assert.ok(devices.includes('c:136:*:rwm:allow'));
    assert.ok(ops.findIndex((op) => op[0] === 'tree') > ops.findIndex((op) => op[0] === 'gidmap'), 'trees come after the id maps');
    assert.deepEqual(
      opsNamed(ops, 'seccomp.rule').find((op) => op[2] === 'clone'),
      ['seccomp.rule', 'allow', 'clone', `0:masked_eq:0:${0x7e020000}`],
      'the launcher gets the datum, then the mask',
    );
  });

  it('leaves a privileged box without user namespace, maps or idmapped rootfs', () => {
    const spec = specFor(parse({ privileged: true }));
    assert.equal(
      spec.linux.namespaces.some((namespace) => namespace.type === 'user'),
      false,
    );
    assert.equal(spec.linux.uidMappings, undefined);
    assert.equal(launchContributions(spec).rootfsIdmap, false);
    const ops = compileCreateProgram(spec, { procsFiles: [] });
    assert.deepEqual(opsNamed(ops, 'tree'), []);
    assert.deepEqual(opsNamed(ops, 'rootfs'), [['rootfs', '/srv/boxes/b/rootfs', 'nodev']], 'its root is nodev all the same');
  });

  it('lets setuid files work in idmapped mounts only when the host settings say so', () => {
    const config = parse({ mounts: [{ source: '/srv/app', destination: '/app', idmap: true }] });
    const ops = compileCreateProgram(specFor(config, { setuidInIdmappedMounts: true, realtimeScheduling: false }), { procsFiles: [] });
    assert.deepEqual(opsNamed(ops, 'tree'), [
      ['tree', '/srv/boxes/b/rootfs', 'rbind,idmap,nodev'],
      ['tree', '/srv/app', 'rbind,idmap,nodev'],
    ]);
  });

  it('compiles binds, idmapped binds, a read-only root and procfs options', () => {
    const spec = specFor(
      parse({
        readonlyRoot: true,
        procfs: { hidepid: 'invisible', subsetPid: true },
        mounts: [
          { source: '/srv/data', destination: '/data', options: ['ro', 'nosuid'] },
          { source: '/srv/app', destination: '/app', idmap: true, options: ['noexec'] },
          { source: '/srv/shared', destination: '/shared', options: ['rro', 'rslave'] },
        ],
        capabilities: { add: ['sys_time'], drop: ['CAP_NET_RAW'] },
      }),
    );
    const ops = compileCreateProgram(spec, { procsFiles: [] });
    assert.deepEqual(opsNamed(ops, 'readonly')[0], ['readonly', '/', 'top']);
    assert.deepEqual(
      opsNamed(ops, 'mount').filter((op) => op[1]?.startsWith('/srv')),
      [
        ['mount', '/srv/data', '/data', '', 'rbind,ro,nosuid,nodev', ''],
        ['mount', '/srv/app', '/app', '', 'rbind,noexec,nodev,nosuid,idmap', ''],
        ['mount', '/srv/shared', '/shared', '', 'rslave,nodev,rbind,ro', ''],
      ],
    );
    assert.deepEqual(
      opsNamed(ops, 'tree').find((op) => op[1] === '/srv/app'),
      ['tree', '/srv/app', 'rbind,idmap,noexec,nodev,nosuid'],
    );
    // A plain bind of a box with a user namespace is opened by the launcher as host root too.
    assert.deepEqual(
      opsNamed(ops, 'tree').find((op) => op[1] === '/srv/data'),
      ['tree', '/srv/data', 'rbind,ro,nosuid,nodev'],
    );
    assert.deepEqual(opsNamed(ops, 'propagation'), [['propagation', 'slave']], 'a propagating bind keeps the host link while binds are made');
    assert.match(opsNamed(ops, 'mount').find((op) => op[1] === 'proc')?.[5] ?? '', /hidepid=invisible,subset=pid/);
    const caps = spec.process.capabilities?.bounding ?? [];
    assert.ok(caps.includes('CAP_SYS_TIME') && !caps.includes('CAP_NET_RAW'));
  });

  it("shares the host's stack, binding the host's /sys read-only (the network plugin's mode shared confines it)", () => {
    const spec = specFor(parse({ namespaces: { network: 'host' } }));
    assert.equal(
      spec.linux.namespaces.some((namespace) => namespace.type === 'network'),
      false,
    );
    assert.deepEqual(
      spec.mounts.find((mount) => mount.destination === '/sys'),
      { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] },
    );
    assert.deepEqual(opsNamed(compileCreateProgram(spec, { procsFiles: [], unifiedDir: '/cg2/b' }), 'bpf.inet'), [], 'no confinement of its own');
  });

  it('keeps namespaces other plugins added', () => {
    const spec = buildBaseSpec({ name: 'b', config: {} }, '/r');
    spec.linux.namespaces.push({ type: 'time' });
    applyIsolation(spec, defaultIsolationConfig(), { ranges, devices: deviceAllowlist([]) });
    assert.ok(spec.linux.namespaces.some((namespace) => namespace.type === 'time'));
  });
});

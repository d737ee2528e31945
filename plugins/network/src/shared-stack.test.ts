import assert from 'node:assert/strict';
import { isNsboxError, type OciSpec } from '@nsbox/core';
import { buildBaseSpec, compileCreateProgram } from '@nsbox/runtime';
import { allowWhere, launchContributions, seccompPermits as permits } from '@nsbox/runtime-api';
import { confineToAddresses, sharedAddresses } from './shared-stack.js';

const [INET, INET6, UNIX, PACKET, NETLINK, VSOCK] = [2n, 10n, 1n, 17n, 16n, 40n];
const [STREAM, DGRAM, RAW, SEQPACKET, NONBLOCK_CLOEXEC] = [1n, 2n, 3n, 5n, 0x80800n];

/** A spec as the isolation plugin leaves a box on the host's stack: no network namespace, an allowlist filter whose socket rule keeps out vsock only. */
function hostStackSpec(): OciSpec {
  const spec = buildBaseSpec({ name: 'b', config: {} }, '/r');
  spec.linux.namespaces = spec.linux.namespaces.filter((namespace) => namespace.type !== 'network');
  spec.linux.seccomp = {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    syscalls: [
      { names: ['bind', 'connect', 'read', 'socketcall'], action: 'SCMP_ACT_ALLOW' },
      allowWhere('socket', { index: 0, value: 40, op: 'SCMP_CMP_NE' }),
    ],
  };
  spec.process.capabilities = { bounding: ['CAP_NET_RAW', 'CAP_CHOWN'], effective: ['CAP_NET_RAW', 'CAP_CHOWN'], permitted: ['CAP_NET_RAW', 'CAP_CHOWN'] };
  return spec;
}

const refusedAt = (field: string) => (error: unknown) => isNsboxError(error) && error.details?.field === field;

describe("network: mode shared (chbind on the host's stack)", () => {
  it('takes plain addresses of either family, and refuses anything else naming the entry', () => {
    assert.deepEqual(sharedAddresses(['192.0.2.7', ' 2001:db8::7']), ['192.0.2.7', '2001:db8::7']);
    assert.deepEqual(sharedAddresses(undefined), [], 'no address: the box binds and sends from none');
    assert.throws(() => sharedAddresses(['192.0.2.7', '192.0.2.8/24']), refusedAt('network.ip[1]'));
    assert.throws(() => sharedAddresses(['127.0.0.300']), refusedAt('network.ip[0]'));
  });

  it('asks the launcher for the BPF programs, and refuses a host without cgroup2', () => {
    const spec = hostStackSpec();
    confineToAddresses(spec, ['192.0.2.7', '2001:db8::7']);
    assert.deepEqual(launchContributions(spec).ipConfinement, ['192.0.2.7', '2001:db8::7']);
    const ops = compileCreateProgram(spec, { procsFiles: [], unifiedDir: '/cg2/b' });
    assert.deepEqual(
      ops.filter((op) => op[0] === 'bpf.inet'),
      [['bpf.inet', '/cg2/b', '192.0.2.7', '2001:db8::7']],
    );
    assert.throws(() => compileCreateProgram(spec, { procsFiles: [] }), /IP confinement needs a cgroup2 hierarchy/);
  });

  it('gives a confined box no raw, ping or packet socket and no CAP_NET_RAW; TCP, UDP and unix sockets as before', () => {
    const open = hostStackSpec();
    const spec = hostStackSpec();
    confineToAddresses(spec, ['127.0.0.2']);
    const [confined, profile] = [spec.linux.seccomp ?? {}, open.linux.seccomp ?? {}];
    const refused: bigint[][] = [
      [INET, RAW, 1n],
      [INET6, RAW, 58n],
      [INET, RAW | NONBLOCK_CLOEXEC, 255n],
      [INET, DGRAM, 1n],
      [INET6, DGRAM | NONBLOCK_CLOEXEC, 58n],
      [PACKET, RAW, 0x300n],
      [VSOCK, STREAM, 0n],
    ];
    for (const args of refused) {
      assert.equal(permits(confined, 'socket', args), false, `socket(${args.join(', ')}) when confined`);
      if (args[0] !== VSOCK) assert.equal(permits(profile, 'socket', args), true, `socket(${args.join(', ')}) unconfined`);
    }
    const fine: bigint[][] = [
      [INET, STREAM, 0n],
      [INET6, STREAM | NONBLOCK_CLOEXEC, 6n],
      [INET, DGRAM, 0n],
      [INET6, DGRAM, 17n],
      [INET, SEQPACKET, 132n],
      [UNIX, STREAM, 0n],
      [UNIX, DGRAM, 0n],
      [NETLINK, RAW, 0n],
    ];
    for (const args of fine) assert.equal(permits(confined, 'socket', args), true, `socket(${args.join(', ')})`);
    assert.equal(permits(confined, 'socketcall', [1n]), false, "i386's socketcall would hide the arguments");
    assert.equal(permits(confined, 'connect', []), true, 'the rest of the filter stays');
    assert.deepEqual(spec.process.capabilities?.bounding, ['CAP_CHOWN']);
    assert.deepEqual(spec.process.capabilities?.effective, ['CAP_CHOWN']);
  });

  it('refuses a box with a network namespace of its own, or without an allowlist filter, naming network.mode', () => {
    const own = hostStackSpec();
    own.linux.namespaces.push({ type: 'network' });
    assert.throws(
      () => confineToAddresses(own, ['127.0.0.2']),
      (error: unknown) => refusedAt('network.mode')(error) && /isolation\.namespaces\.network/.test(String(error)),
    );
    const unfiltered = hostStackSpec();
    delete unfiltered.linux.seccomp;
    assert.throws(
      () => confineToAddresses(unfiltered, ['127.0.0.2']),
      (error: unknown) => refusedAt('network.mode')(error) && /seccomp/.test(String(error)),
    );
    assert.equal(launchContributions(unfiltered).ipConfinement, undefined, 'nothing contributed');
  });
});

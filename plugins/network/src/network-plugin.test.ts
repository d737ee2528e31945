import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tenantPolicyRefusals } from '@nsbox/core';
import { antiSpoofBase, antiSpoofUnwire, antiSpoofWire } from './anti-spoof.js';
import { hostsFile, resolvConf } from './box-wiring.js';
import { networkConfigSchema } from './config-schema.js';
import { firewallBase, firewallUnwire, firewallWire, parseAllow } from './firewall.js';
import { formatAddress } from './ip.js';
import { hostLinkName, ifbName, isHostLinkName, legacyHostLinkName } from './link-names.js';
import { linkLocalOf } from './mac.js';
import { natBatch } from './nat.js';
import { networkPlugin, setMode } from './network-plugin.js';
import { dropTables } from './nft-commands.js';
import { definePool } from './pools.js';
import { networkSettingsSchema } from './settings.js';
import { version } from './version.js';

describe('network: the plugin contract and its pure parts', () => {
  it('has the version of its package', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(version, manifest.version);
  });

  it('changes nothing until the admin opts in: the default mode is none, the bridge nsbox0, NAT on', () => {
    const settings = networkSettingsSchema.parse({});
    assert.deepEqual(settings, { bridge: 'nsbox0', defaultMode: 'none', pools: [], nat: true });
    assert.equal(networkConfigSchema.safeParse({ mode: 'venet' }).success, false);
    for (const mode of ['host', 'shared'])
      assert.equal(networkSettingsSchema.safeParse({ defaultMode: mode }).success, false, "the host's stack is never a default");
    assert.equal(networkSettingsSchema.safeParse({ bridge: 'a-name-that-is-too-long' }).success, false);
    assert.equal(networkSettingsSchema.safeParse({ netns: 'relative' }).success, false);
  });

  it("knows the link-local address the kernel gives a box's eth0 (EUI-64 of its MAC)", () => {
    assert.equal(formatAddress(6, linkLocalOf('02:42:ac:11:00:02')), 'fe80::42:acff:fe11:2');
    assert.equal(formatAddress(6, linkLocalOf('52:54:00:12:34:56')), 'fe80::5054:ff:fe12:3456');
  });

  it('names host ends within the kernel limit, apart per host for one box id, and writes resolv.conf and hosts', () => {
    const box = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
    const [here, there] = [hostLinkName('a1b2c3d4e5f60718', box), hostLinkName('0718a1b2c3d4e5f6', box)];
    assert.notEqual(here, there, 'two hosts sharing one host-side namespace name the same box apart');
    assert.equal(here, hostLinkName('a1b2c3d4e5f60718', box), 'the same name at every start');
    assert.notEqual(hostLinkName('a1b2c3d4e5f60718', '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f1'), here);
    for (const name of [here, there, legacyHostLinkName(box)]) {
      assert.equal(name.length, 15);
      assert.ok(isHostLinkName(name), name);
    }
    assert.equal(legacyHostLinkName(box), 'nsb0f1e2d3c4b5a', "an older nsbox's name");
    assert.equal(ifbName(legacyHostLinkName(box)), 'nsi0f1e2d3c4b5a', 'its ifb, as that nsbox named it');
    assert.equal(ifbName(here), `nsi${here.slice(3)}`);
    assert.equal(resolvConf(['10.0.0.53']), '# written by nsbox\nnameserver 10.0.0.53\n');
    assert.match(hostsFile('web', [{ box: 'b', pool: 'p', address: '10.0.0.5', prefix: 24, gateway: '10.0.0.1', family: 4 }]), /^10\.0\.0\.5\tweb$/m);
  });

  it('writes only its own tables: every command of every batch names inet or bridge nsbox', () => {
    const wired = { box: 'x', link: 'nsb000000000001', addresses: [{ family: 4 as const, address: '10.1.0.2' }] };
    const firewalled = { ...wired, rules: [parseAllow('198.51.100.0/24:80')] };
    const batches = {
      nat: natBatch(
        [definePool({ name: 'a', subnet: '10.1.0.0/24' }, 'created')],
        [{ protocol: 'udp', hostPort: 53, boxPort: 5353, family: 6, address: 'fd01::2', box: 'x' }],
      ).nftables,
      layout: [...dropTables(), ...antiSpoofBase(), ...firewallBase()],
      bridged: [...antiSpoofWire(wired), ...antiSpoofUnwire(wired)],
      routed: [...antiSpoofWire({ ...wired, routed: true }), ...antiSpoofUnwire({ ...wired, routed: true })],
      firewall: [...firewallWire(firewalled), ...firewallUnwire(firewalled), ...firewallWire({ ...firewalled, rules: [] })],
    };
    for (const [name, batch] of Object.entries(batches)) {
      assert.ok(batch.length > 0, name);
      for (const command of batch) {
        const object = Object.values(command)[0] as Record<string, { family: string; table?: string; name?: string }>;
        const target = Object.values(object)[0] as { family: string; table?: string; name?: string };
        assert.ok(['inet', 'bridge'].includes(target.family), `${name}: ${JSON.stringify(command)}`);
        assert.equal(target.table ?? target.name, 'nsbox', `${name}: ${JSON.stringify(command)}`);
      }
    }
    // A box's start and stop touch its own chains and elements only.
    const chains = new Set(
      [...batches.bridged, ...batches.firewall].flatMap((command) => {
        const object = Object.values(Object.values(command)[0] as object)[0] as { chain?: string; name?: string; elem?: unknown };
        return object.chain ? [object.chain] : object.elem ? [] : [object.name];
      }),
    );
    assert.deepEqual([...chains].sort(), ['guard-nsb000000000001', 'spoof-nsb000000000001']);
  });

  it("takes a box off a network namespace of its own for --net host and shared, and leaves the others' isolation alone", () => {
    const shared: Record<string, unknown> = { isolation: { privileged: true, namespaces: {} } };
    setMode(shared, 'shared');
    assert.deepEqual(shared, { isolation: { privileged: true, namespaces: { network: 'host' } }, network: { mode: 'shared' } });
    const host: Record<string, unknown> = {};
    setMode(host, 'host');
    assert.deepEqual(host, { isolation: { namespaces: { network: 'host' } }, network: { mode: 'host' } });
    const bridged: Record<string, unknown> = { network: { ip: ['10.0.0.5'] } };
    setMode(bridged, 'bridge');
    assert.deepEqual(bridged, { network: { ip: ['10.0.0.5'], mode: 'bridge' } });
  });

  it("lets a tenant pick bridge, routed or none, never the host's stack, addresses or rates", () => {
    const judge = (network: Record<string, unknown>) =>
      tenantPolicyRefusals({ config: { network }, grants: [], plugins: [networkPlugin] }).map((refusal) => refusal.path);
    for (const mode of ['bridge', 'routed', 'none']) assert.deepEqual(judge({ mode }), [], mode);
    assert.deepEqual(judge({ mode: 'host' }), ['network.mode']);
    assert.deepEqual(judge({ mode: 'shared' }), ['network.mode'], 'nor its addresses, confined or not');
    assert.deepEqual(judge({ mode: 'bridge', ip: ['10.0.0.5'] }), ['network.ip[0]']);
    assert.deepEqual(judge({ mode: 'bridge', rate: '1gbit' }), ['network.rate']);
  });
});

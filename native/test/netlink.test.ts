/**
 * The addon's netlink calls and its no-follow rootfs write, against the real kernel — only
 * inside network namespaces this suite makes (`ip netns add nsbt-…`), never the host's own.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isNetlinkError, listLinks, native, netlink, setNetSysctl } from '../lib/index.js';

function ipIn(ns: string, ...args: string[]): string {
  return execFileSync('ip', ['-n', ns, ...args], { encoding: 'utf8' });
}

describe('native netlink (rtnetlink through libmnl, in test namespaces)', function () {
  this.timeout(20_000);
  let names: string[];
  let dirs: string[];

  before(function () {
    if (process.getuid?.() !== 0) {
      if (process.env.NSBOX_REQUIRE_ROOT === '1') throw new Error('netlink tests need root, and NSBOX_REQUIRE_ROOT=1 forbids skipping');
      console.log('  skipped: netlink tests need root and the real kernel');
      this.skip();
    }
  });

  beforeEach(() => {
    names = [];
    dirs = [];
  });

  afterEach(() => {
    for (const name of names) execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  function netns(): { name: string; path: string } {
    const name = `nsbt-${randomBytes(4).toString('hex')}`;
    execFileSync('ip', ['netns', 'add', name]);
    names.push(name);
    return { name, path: `/run/netns/${name}` };
  }

  it('builds a bridge, a veth into a second namespace, addresses and routes, and both ends answer', () => {
    const host = netns();
    const box = netns();
    netlink(host.path, [
      { op: 'bridge-add', name: 'nsbt0' },
      { op: 'addr-add', dev: 'nsbt0', address: '10.77.0.1', prefix: 24 },
      { op: 'addr-add', dev: 'nsbt0', address: 'fd77::1', prefix: 64 },
      { op: 'link-up', name: 'nsbt0' },
      { op: 'veth-add', name: 'nsbt-v1', peer: 'nsbt-p1', peerNetns: box.path },
      { op: 'link-master', name: 'nsbt-v1', master: 'nsbt0' },
      { op: 'link-up', name: 'nsbt-v1' },
    ]);
    netlink(box.path, [
      { op: 'link-rename', name: 'nsbt-p1', newName: 'eth0' },
      { op: 'addr-add', dev: 'eth0', address: '10.77.0.2', prefix: 24 },
      { op: 'addr-add', dev: 'eth0', address: 'fd77::2', prefix: 64 },
      { op: 'link-up', name: 'eth0' },
      { op: 'link-up', name: 'lo' },
      { op: 'route-add', gateway: '10.77.0.1', dev: 'eth0' },
      { op: 'route-add', gateway: 'fd77::1', dev: 'eth0' },
    ]);
    const hostLinks = listLinks(host.path);
    const bridge = hostLinks.find((link) => link.name === 'nsbt0');
    assert.equal(bridge?.kind, 'bridge');
    assert.equal(hostLinks.find((link) => link.name === 'nsbt-v1')?.master, bridge?.index, 'the veth is on the bridge');
    assert.deepEqual(
      listLinks(box.path).map((link) => `${link.name}:${link.kind}:${link.up}`),
      ['lo::true', 'eth0:veth:true'],
    );
    assert.match(ipIn(box.name, 'route', 'show', 'default'), /default via 10\.77\.0\.1 dev eth0/);
    assert.match(ipIn(box.name, '-6', 'route', 'show', 'default'), /default via fd77::1 dev eth0/);
    for (const target of ['10.77.0.1', 'fd77::1']) {
      execFileSync('ip', ['netns', 'exec', box.name, 'busybox', 'ping', '-c', '1', '-W', '2', target], { stdio: 'ignore' });
    }
    const before = listLinks(box.path).find((link) => link.name === 'eth0');
    assert.ok((before?.txPackets ?? 0) >= 2, `eth0 counted its packets (${before?.txPackets})`);
    netlink(host.path, [{ op: 'link-del', name: 'nsbt-v1' }]);
    assert.deepEqual(
      listLinks(box.path).map((link) => link.name),
      ['lo'],
      'deleting one end removes the pair',
    );
  });

  it('makes a veth whose host end is up and a port of a bridge in its creating message; without them, down and alone', () => {
    const host = netns();
    const box = netns();
    netlink(host.path, [
      { op: 'bridge-add', name: 'nsbt0' },
      { op: 'veth-add', name: 'nsbt-v1', peer: 'eth0', peerNetns: box.path, master: 'nsbt0', up: true },
      { op: 'veth-add', name: 'nsbt-v2', peer: 'nsbt-p2' },
    ]);
    const links = listLinks(host.path);
    const bridge = links.find((link) => link.name === 'nsbt0');
    const [made, plain] = ['nsbt-v1', 'nsbt-v2'].map((name) => links.find((link) => link.name === name));
    assert.equal(made?.master, bridge?.index);
    assert.equal(made?.up, true);
    assert.equal(plain?.master, 0, 'the control: no master unless asked');
    assert.equal(plain?.up, false);
    assert.throws(
      () => netlink(host.path, [{ op: 'veth-add', name: 'nsbt-v3', peer: 'nsbt-p3', master: 'nsbt-none' }]),
      (error: unknown) => isNetlinkError(error, 'ENODEV'),
    );
    assert.equal(
      listLinks(host.path).some((link) => link.name === 'nsbt-v3'),
      false,
      'nothing made for a master that is not there',
    );
  });

  it('gives a bridge and a veth peer the MAC asked for, and a bridge given one keeps it when a port with a lower MAC joins', () => {
    const host = netns();
    const box = netns();
    netlink(host.path, [
      { op: 'bridge-add', name: 'nsbt-set', address: '02:aa:00:00:00:01' },
      { op: 'bridge-add', name: 'nsbt-follow' },
      { op: 'veth-add', name: 'nsbt-v1', peer: 'eth0', peerNetns: box.path, peerAddress: '02:42:0a:e9:00:0a' },
      { op: 'veth-add', name: 'nsbt-v2', peer: 'nsbt-p2' },
    ]);
    const mac = (netns: string, name: string) => listLinks(netns).find((link) => link.name === name)?.address;
    assert.equal(mac(box.path, 'eth0'), '02:42:0a:e9:00:0a');
    // A port whose MAC sorts below both bridges' own, on each bridge.
    execFileSync('ip', ['-n', host.name, 'link', 'set', 'nsbt-v1', 'address', '02:00:00:00:00:01']);
    execFileSync('ip', ['-n', host.name, 'link', 'set', 'nsbt-v2', 'address', '02:00:00:00:00:02']);
    netlink(host.path, [
      { op: 'link-master', name: 'nsbt-v1', master: 'nsbt-set' },
      { op: 'link-master', name: 'nsbt-v2', master: 'nsbt-follow' },
    ]);
    assert.equal(mac(host.path, 'nsbt-set'), '02:aa:00:00:00:01', 'the bridge given a MAC keeps it');
    assert.equal(mac(host.path, 'nsbt-follow'), '02:00:00:00:00:02', 'the control: a bridge without one takes its port’s');
    assert.throws(
      () => netlink(host.path, [{ op: 'bridge-add', name: 'nsbt-bad', address: '02:aa:00:00:00' }]),
      (error: unknown) => isNetlinkError(error, 'EINVAL') && /'02:aa:00:00:00' is not a MAC address/.test(error.message),
    );
    assert.throws(
      () => netlink(host.path, [{ op: 'bridge-add', name: 'nsbt-bad', address: '03:aa:00:00:00:01' }]),
      (error: unknown) => isNetlinkError(error, 'EINVAL') && /multicast/.test(error.message),
    );
    assert.equal(mac(host.path, 'nsbt-bad'), undefined, 'nothing made of a refused address');
  });

  it('stops a batch at the first failure and names the step, the errno and what it did', () => {
    const host = netns();
    netlink(host.path, [{ op: 'bridge-add', name: 'nsbt0' }]);
    assert.throws(
      () =>
        netlink(host.path, [
          { op: 'link-up', name: 'lo' },
          { op: 'bridge-add', name: 'nsbt0' },
          { op: 'bridge-add', name: 'nsbt1' },
        ]),
      (error: unknown) => isNetlinkError(error, 'EEXIST') && error.step === 1 && /create bridge 'nsbt0'/.test(error.message),
    );
    assert.deepEqual(
      listLinks(host.path).map((link) => link.name),
      ['lo', 'nsbt0'],
      'nothing after the failed step ran',
    );
    assert.throws(
      () => netlink(host.path, [{ op: 'addr-add', dev: 'nsbt0', address: '10.0.0.300', prefix: 24 }]),
      /address '10\.0\.0\.300' is not an IPv4 or IPv6 address/,
    );
    assert.throws(
      () => netlink(host.path, [{ op: 'link-up', name: 'nsbt-missing' }]),
      (error: unknown) => isNetlinkError(error, 'ENODEV'),
    );
    assert.throws(
      () => netlink('/nonexistent/netns', [{ op: 'link-up', name: 'lo' }]),
      (error: unknown) => isNetlinkError(error, 'ENOENT'),
    );
  });

  it("moves a link into another namespace and writes a net sysctl there, leaving this process's own alone", () => {
    const host = netns();
    const other = netns();
    const own = readFileSync('/proc/sys/net/ipv4/conf/all/forwarding', 'utf8').trim();
    netlink(host.path, [
      { op: 'veth-add', name: 'nsbt-a', peer: 'nsbt-b' },
      { op: 'link-netns', name: 'nsbt-b', netns: other.path },
    ]);
    assert.deepEqual(
      listLinks(other.path).map((link) => link.name),
      ['lo', 'nsbt-b'],
    );
    setNetSysctl(host.path, 'net.ipv4.ip_forward', own === '1' ? '0' : '1');
    assert.equal(
      execFileSync('ip', ['netns', 'exec', host.name, 'cat', '/proc/sys/net/ipv4/ip_forward'], { encoding: 'utf8' }).trim(),
      own === '1' ? '0' : '1',
    );
    assert.equal(readFileSync('/proc/sys/net/ipv4/conf/all/forwarding', 'utf8').trim(), own, "this process's namespace is untouched");
    assert.throws(() => setNetSysctl(host.path, 'kernel.hostname', 'x'), /only net\.\* keys/);
  });

  it('writes a file into a root without following a symlink planted at the name or on the way', () => {
    const root = mkdtempSync(join(tmpdir(), 'nsbt-root-'));
    const outside = mkdtempSync(join(tmpdir(), 'nsbt-outside-'));
    dirs.push(root, outside);
    mkdirSync(join(root, 'etc'));
    symlinkSync(join(outside, 'victim'), join(root, 'etc', 'resolv.conf'));
    native().writeFileInRoot(root, 'etc/resolv.conf', 'nameserver 10.77.0.1\n', 0o644);
    assert.equal(readFileSync(join(root, 'etc', 'resolv.conf'), 'utf8'), 'nameserver 10.77.0.1\n');
    assert.throws(() => readlinkSync(join(root, 'etc', 'resolv.conf')), /EINVAL/, 'the link itself was replaced');
    assert.throws(() => readFileSync(join(outside, 'victim')), /ENOENT/, 'nothing was written where it pointed');
    // A directory on the way that is a symlink out of the root: refused.
    const second = mkdtempSync(join(tmpdir(), 'nsbt-root-'));
    dirs.push(second);
    symlinkSync(outside, join(second, 'etc'));
    assert.throws(
      () => native().writeFileInRoot(second, 'etc/hosts', 'x', 0o644),
      (error: unknown) => isNetlinkError(error, 'ELOOP'),
    );
    writeFileSync(join(outside, 'keep'), 'kept');
    assert.deepEqual(readFileSync(join(outside, 'keep'), 'utf8'), 'kept');
    assert.throws(() => native().writeFileInRoot(root, '/etc/hosts', 'x', 0o644), /relative file path/);
  });
  it('gives a file it writes into a root the owner of its directory: the box’s root on disk, never host root', () => {
    // A layered box's upper layer holds the box's shifted ids; a file of host root's there is
    // `nobody` inside the box. The ids here stand for such a box's root.
    const root = mkdtempSync(join(tmpdir(), 'nsbt-root-'));
    dirs.push(root);
    mkdirSync(join(root, 'etc'));
    chownSync(join(root, 'etc'), 1_234_567, 1_234_568);
    writeFileSync(join(root, 'etc', 'hosts'), 'old\n');
    native().writeFileInRoot(root, 'etc/hosts', '127.0.0.1 localhost\n', 0o644);
    native().writeFileInRoot(root, 'etc/hostname', 'box\n', 0o644);
    for (const name of ['hosts', 'hostname']) {
      const written = statSync(join(root, 'etc', name));
      assert.deepEqual([written.uid, written.gid, written.mode & 0o7777], [1_234_567, 1_234_568, 0o644], `etc/${name}`);
    }
    // The same content again, owned otherwise: rewritten with the directory's owner.
    chownSync(join(root, 'etc', 'hosts'), 0, 0);
    native().writeFileInRoot(root, 'etc/hosts', '127.0.0.1 localhost\n', 0o644);
    assert.equal(statSync(join(root, 'etc', 'hosts')).uid, 1_234_567, 'a file of host root’s is not left as the same file');
  });
  it('shapes a link: an ifb, a tbf root qdisc replaced in place, the ingress qdisc and a redirect to the ifb — as tc sees them', () => {
    const ns = netns();
    netlink(ns.path, [
      { op: 'veth-add', name: 'nsbt-a', peer: 'nsbt-b' },
      { op: 'ifb-add', name: 'nsbt-ifb' },
      { op: 'link-up', name: 'nsbt-ifb' },
      { op: 'qdisc-tbf', dev: 'nsbt-a', bytesPerSecond: 1_250_000, burst: 32_768, limit: 131_072 },
      { op: 'qdisc-ingress', dev: 'nsbt-a' },
      { op: 'filter-redirect', dev: 'nsbt-a', target: 'nsbt-ifb' },
      { op: 'qdisc-tbf', dev: 'nsbt-ifb', bytesPerSecond: 2_500_000, burst: 32_768, limit: 131_072 },
    ]);
    const tc = (...args: string[]) => execFileSync('ip', ['netns', 'exec', ns.name, 'tc', ...args], { encoding: 'utf8' });
    assert.match(tc('qdisc', 'show', 'dev', 'nsbt-a'), /qdisc tbf 1: root .*rate 10Mbit burst 32Kb/);
    assert.match(tc('qdisc', 'show', 'dev', 'nsbt-a'), /qdisc ingress ffff: parent ffff:fff1/);
    assert.match(tc('filter', 'show', 'dev', 'nsbt-a', 'ingress'), /Egress Redirect to device nsbt-ifb/);
    assert.match(tc('qdisc', 'show', 'dev', 'nsbt-ifb'), /rate 20Mbit/);
    // A new rate replaces the bucket in place; past 32 bits of bytes/s too.
    netlink(ns.path, [{ op: 'qdisc-tbf', dev: 'nsbt-a', bytesPerSecond: 5_000_000_000, burst: 65_536, limit: 131_072 }]);
    assert.match(tc('qdisc', 'show', 'dev', 'nsbt-a'), /qdisc tbf 1: root .*rate 40Gbit/);
    netlink(ns.path, [
      { op: 'qdisc-del', dev: 'nsbt-a', parent: 'root' },
      { op: 'qdisc-del', dev: 'nsbt-a', parent: 'ingress' },
    ]);
    assert.doesNotMatch(tc('qdisc', 'show', 'dev', 'nsbt-a'), /tbf|ingress/);
    assert.throws(
      () => netlink(ns.path, [{ op: 'qdisc-del', dev: 'nsbt-a', parent: 'root' }]),
      (error: unknown) => isNetlinkError(error) && ['ENOENT', 'EINVAL'].includes(error.code),
    );
    assert.throws(
      () => netlink(ns.path, [{ op: 'qdisc-tbf', dev: 'nsbt-a', bytesPerSecond: 0, burst: 1, limit: 1 }]),
      (error: unknown) => isNetlinkError(error, 'EINVAL'),
    );
  });
});

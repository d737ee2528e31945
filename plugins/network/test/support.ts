/**
 * What the real-kernel suites share: a test "host" network namespace (nsbox's host side runs
 * there: bridge, veth host ends, NAT) wired to a second namespace standing for the outside
 * world, and an nsbox host with the network plugin whose `settings.network.netns` names the
 * test's namespace. Nothing touches the machine's own network; everything goes in afterEach.
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Box } from '@nsbox/core';
import type { NsboxHost } from '@nsbox/host';
import { listLinks } from '@nsbox/native';
import { limitsPlugin } from '@nsbox/plugin-limits';
import { type ExecResult, execInBox, LinuxBoxDriver } from '@nsbox/runtime';
import { type Cleanup, createTestHost, makeTempDir, removeCgroupsAfter, TEST_NETNS_PREFIX } from '@nsbox/testkit';
import { hostIdOf, hostLinkName, isHostLinkName, listNatRules, listRules, networkPlugin } from '../src/index.js';

/** The outside world's address, seen from the test host (TEST-NET-2 and the documentation IPv6 prefix). */
export const OUTSIDE = { host4: '198.51.100.1', out4: '198.51.100.2', host6: '2001:db8:51::1', out6: '2001:db8:51::2' };

export interface TestNet {
  /** `ip netns` names and paths. */
  hostNs: string;
  hostPath: string;
  outNs: string;
  bridge: string;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}

/** Makes the two namespaces and the link between them; both are deleted in cleanup (their links go with them). */
export function makeTestNet(cleanup: Cleanup): TestNet {
  const tag = randomBytes(3).toString('hex');
  const hostNs = `${TEST_NETNS_PREFIX}${tag}-host`;
  const outNs = `${TEST_NETNS_PREFIX}${tag}-out`;
  for (const ns of [hostNs, outNs]) {
    ip('netns', 'add', ns);
    cleanup.add(`delete netns ${ns}`, () => ip('netns', 'del', ns));
  }
  ip('-n', hostNs, 'link', 'add', 'uplink', 'type', 'veth', 'peer', 'name', 'downlink', 'netns', outNs);
  ip('-n', hostNs, 'link', 'set', 'lo', 'up');
  ip('-n', outNs, 'link', 'set', 'lo', 'up');
  ip('-n', hostNs, 'addr', 'add', `${OUTSIDE.host4}/24`, 'dev', 'uplink');
  ip('-n', hostNs, 'addr', 'add', `${OUTSIDE.host6}/64`, 'dev', 'uplink', 'nodad');
  ip('-n', outNs, 'addr', 'add', `${OUTSIDE.out4}/24`, 'dev', 'downlink');
  ip('-n', outNs, 'addr', 'add', `${OUTSIDE.out6}/64`, 'dev', 'downlink', 'nodad');
  ip('-n', hostNs, 'link', 'set', 'uplink', 'up');
  ip('-n', outNs, 'link', 'set', 'downlink', 'up');
  // The outside knows no route back to the boxes' pools: only NAT brings answers home.
  return { hostNs, hostPath: `/run/netns/${hostNs}`, outNs, bridge: `nsbt${tag}` };
}

/**
 * A web server in the outside namespace that answers `/cgi-bin/peer` with the address the
 * request came from (busybox httpd's CGI REMOTE_ADDR): what NAT made of the box's address.
 */
export function outsideServer(cleanup: Cleanup, net: TestNet, port: number): ChildProcess {
  const dir = makeTempDir(cleanup, 'www');
  mkdirSync(join(dir, 'cgi-bin'));
  writeFileSync(join(dir, 'cgi-bin', 'peer'), '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%s\\n" "$REMOTE_ADDR"\n', { mode: 0o755 });
  const child = spawn('ip', ['netns', 'exec', net.outNs, 'busybox', 'httpd', '-f', '-p', String(port), '-h', dir], { stdio: 'ignore' });
  cleanup.add('stop the outside server', () => child.kill('SIGKILL'));
  return child;
}

export interface NetTestHost {
  host: NsboxHost;
  driver: LinuxBoxDriver;
  stateDir: string;
  /** Creates and starts a busybox box; `config` adds other sections (limits, with `withLimits`). */
  box(name: string, network?: Record<string, unknown>, init?: string[], config?: Record<string, unknown>): Promise<Box>;
  exec(name: string, script: string): Promise<ExecResult>;
  /** The address claims in the plugin's state, address → box id. */
  claims(): Record<string, string>;
  /** Host ends of box veths left in the test host namespace. */
  boxLinks(): string[];
  /** The host end of a box's veth, as this host names it. */
  link(boxId: string): string;
}

export interface NetHostOptions {
  stateDir?: string;
  pools?: { name: string; subnet: string; gateway?: string; tenant?: string }[];
  /** Overrides of settings.network. */
  settings?: Record<string, unknown>;
  /** The box cgroups' parent (the same for every host opened on one state dir); default: a new one. */
  cgroupParent?: string;
  /** The limits plugin beside the network plugin (a disk-limited box runs on its image's mount). */
  withLimits?: boolean;
}

export async function openNetHost(cleanup: Cleanup, net: TestNet, options: NetHostOptions = {}): Promise<NetTestHost> {
  const cgroupParent = options.cgroupParent ?? `nsbox-test-${randomBytes(4).toString('hex')}`;
  const stateDir = options.stateDir ?? makeTempDir(cleanup, 'state');
  const settings = {
    netns: net.hostPath,
    bridge: net.bridge,
    defaultMode: 'bridge',
    nameservers: [OUTSIDE.out4],
    pools: options.pools ?? [],
    ...options.settings,
  };
  writeFileSync(join(stateDir, 'host.json'), JSON.stringify({ discover: false, settings: { network: settings } }));
  removeCgroupsAfter(cleanup, cgroupParent);
  const host = await createTestHost(cleanup, {
    plugins: options.withLimits ? [networkPlugin, limitsPlugin] : [networkPlugin],
    stateDir,
    driver: (dir) => new LinuxBoxDriver({ stateDir: dir, cgroupParent }),
  });
  cleanup.add('destroy boxes', async () => {
    if (host.store.db.open) for (const box of host.manager.list()) await host.manager.destroy(box.id, { force: true }).catch(() => undefined);
  });
  const driver = host.driver as LinuxBoxDriver;
  const state = host.store.pluginState;
  return {
    host,
    driver,
    stateDir,
    async box(name, network, init = ['sleep', '100000'], config = {}) {
      await host.manager.create({ name, config: { template: 'busybox', process: { args: init }, ...(network ? { network } : {}), ...config } });
      return host.manager.start(name);
    },
    exec(name, script) {
      return execInBox(driver, host.manager.get(name), { args: ['sh', '-c', script] });
    },
    claims() {
      return Object.fromEntries(
        state
          .list('network')
          .filter((entry) => entry.key.startsWith('addr:'))
          .map((entry) => [entry.key.slice('addr:'.length), (JSON.parse(entry.value) as { box: string }).box]),
      );
    },
    boxLinks() {
      return listLinks(net.hostPath)
        .filter((link) => isHostLinkName(link.name))
        .map((link) => link.name);
    },
    link: (boxId) => hostLinkName(hostIdOf(state), boxId),
  };
}

/** The rules of nsbox's table in the test host namespace: `saddr-prefix` for masquerade, `CHAIN dnat ADDR PORT` for forwards. */
export function natRules(net: TestNet): string[] {
  return (listNatRules(net.hostPath) ?? []).map((rule) => {
    const expr = rule.expr as { match?: { right?: { prefix?: { addr: string; len: number } } }; dnat?: { addr: string; port: number } }[];
    const prefix = expr[0]?.match?.right?.prefix;
    const dnat = expr.find((part) => part.dnat)?.dnat;
    if (dnat) return `${rule.chain} dnat ${dnat.addr} ${dnat.port}`;
    return prefix ? `${prefix.addr}/${prefix.len}` : JSON.stringify(rule);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The anti-spoofing rules of nsbox's bridge table in the test host namespace, as `LINK ETHERTYPE` or `LINK nd` (each box's chain is `spoof-LINK`). */
export function spoofRules(net: TestNet): string[] {
  return (listRules(net.hostPath, 'bridge') ?? [])
    .filter((rule) => String(rule.chain).startsWith('spoof-'))
    .map((rule) => {
      // nft lists `ether type` as implied by the source match that follows it, when there is one.
      const first = (rule.expr as { match?: { left?: { payload?: { protocol: string } }; right?: unknown } }[])[0]?.match;
      const protocol = first?.left?.payload?.protocol === 'ether' ? String(first.right) : first?.left?.payload?.protocol;
      // The neighbour-advertisement rule (anti-spoof.ts): `nd`.
      if (JSON.stringify(rule.expr).includes('nd-neighbor-advert')) return `${String(rule.chain).slice('spoof-'.length)} nd`;
      return `${String(rule.chain).slice('spoof-'.length)} ${protocol}`;
    });
}

/** A box whose init serves /index.html (its own name) on port 8080. */
export const webServer = (text: string): string[] => [
  'sh',
  '-c',
  `mkdir -p /tmp/www && echo ${text} > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www`,
];

/** An HTTP GET from inside a box with busybox nc (busybox wget needs NSS, which a static busybox in a bare rootfs lacks). */
export async function fetchFrom(t: NetTestHost, box: string, url: { host: string; port: number; path: string }): Promise<string> {
  // The server's init may still be starting: a few tries.
  let last = '';
  for (let attempt = 0; attempt < 20; attempt++) {
    const result = await t.exec(box, `printf 'GET ${url.path} HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${url.host} ${url.port}`);
    const body = result.stdout
      .split(/\r?\n\r?\n/)
      .slice(1)
      .join('\n\n')
      .trim();
    if (result.exitCode === 0 && /^HTTP\/1\.[01] 200/.test(result.stdout)) return body;
    last = `exit ${result.exitCode}: ${result.stderr}`;
    await sleep(100);
  }
  throw new Error(`GET ${url.host} ${url.port} ${url.path} from ${box} failed: ${last}`);
}

/**
 * The box side, at the wire moment (the box's namespaces exist, its init is held before
 * exec): a veth pair made with its box end directly in the box's namespace as `eth0`, the
 * host end on the bridge; inside, `lo` and `eth0` up, the claimed addresses, a default route
 * per family through the pool's gateway; `/etc/resolv.conf` and `/etc/hosts` written into the
 * rootfs without following a link the box planted. Whatever fails, the pair goes again.
 */

import { readFileSync, statSync } from 'node:fs';
import { NsboxError } from '@nsbox/core';
import { isNetlinkError, type NetlinkOp, native, netlink } from '@nsbox/native';
import type { Claim } from './claims.js';
import type { HostSide } from './host-side.js';
import { boxMacAddress } from './mac.js';

/** The gateways a routed box sees on its link: the host end answers for them (no L2 between boxes). */
export const ROUTED_GATEWAY = { 4: '169.254.1.1', 6: 'fe80::1' } as const;

export interface WireInput {
  /** Routed: host routes to the box's /32 and /128 instead of a bridge. */
  routed: boolean;
  boxId: string;
  /** The host end's name (link-names.ts). */
  hostLink: string;
  hostname: string;
  initPid: number;
  rootfs: string | undefined;
  claims: readonly Claim[];
  nameservers: readonly string[];
}

export function resolvConf(nameservers: readonly string[]): string {
  return `# written by nsbox\n${nameservers.map((server) => `nameserver ${server}\n`).join('')}`;
}

export function hostsFile(hostname: string, claims: readonly Claim[]): string {
  const own = claims.map((claim) => `${claim.address}\t${hostname}\n`).join('');
  return `# written by nsbox\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${own}`;
}

/** The host's name servers (its /etc/resolv.conf), loopback ones left out: they mean nothing in a box. */
export function hostNameservers(): string[] {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8')
      .split('\n')
      .map((line) => /^\s*nameserver\s+(\S+)/.exec(line)?.[1])
      .filter((server): server is string => server !== undefined && !/^(127\.|::1$)/.test(server));
  } catch {
    return [];
  }
}

export class BoxWiring {
  constructor(private readonly host: HostSide) {}

  wire(input: WireInput): void {
    const boxNetns = `/proc/${input.initPid}/ns/net`;
    if (input.claims.length === 0) {
      throw new NsboxError('E_INVALID_STATE', 'a bridged box without an address', { details: { field: 'network.ip' } });
    }
    const hostNetns = this.host.netns ?? '/proc/self/ns/net';
    if (statSync(boxNetns).ino === statSync(hostNetns).ino) {
      throw new NsboxError(
        'E_INVALID_CONFIG',
        "network modes 'bridge' and 'routed' need the box's own network namespace (isolation.namespaces.network is 'host')",
        {
          details: { field: 'network.mode' },
        },
      );
    }
    const hostLink = input.hostLink;
    try {
      const boxMac = boxMacAddress(input.boxId);
      const [hostSteps, boxSteps] = input.routed ? this.routed(hostLink, input.claims) : this.bridged(input.claims);
      this.hostEnd(
        {
          op: 'veth-add',
          name: hostLink,
          peer: 'eth0',
          peerNetns: boxNetns,
          peerAddress: boxMac,
          up: true,
          ...(input.routed ? {} : { master: this.host.bridge }),
        },
        hostSteps,
      );
      netlink(boxNetns, boxSteps);
      if (input.rootfs) {
        native().writeFileInRoot(input.rootfs, 'etc/resolv.conf', resolvConf(input.nameservers), 0o644);
        native().writeFileInRoot(input.rootfs, 'etc/hosts', hostsFile(input.hostname, input.claims), 0o644);
      }
    } catch (error) {
      this.host.removeLink(hostLink);
      throw new NsboxError('E_RUNTIME', `network: wiring box ${input.hostname} failed: ${(error as Error).message}`, {
        details: { step: 'wire' },
        cause: error,
      });
    }
  }

  /**
   * The veth pair — its box end made directly in the box's namespace as `eth0`, its host end up
   * and (bridged) a port of the bridge in the same message — then the host end's steps, in one
   * batch. A stale host end of this box (a crash between the pair's creation and the box's
   * start) is removed and the batch run again.
   */
  private hostEnd(pair: NetlinkOp & { op: 'veth-add' }, then: NetlinkOp[]): void {
    const steps: NetlinkOp[] = [pair, ...then];
    try {
      netlink(this.host.netns, steps);
    } catch (error) {
      if (!isNetlinkError(error, 'EEXIST') || error.step !== 0) throw error;
      this.host.removeLink(pair.name);
      netlink(this.host.netns, steps);
    }
  }

  /** Host end on the bridge (made so with the pair); inside, the pool addresses and a default route per family through its gateway. */
  private bridged(claims: readonly Claim[]): [NetlinkOp[], NetlinkOp[]] {
    const gateways = new Map(claims.map((claim) => [claim.family, claim.gateway]));
    return [
      [],
      [
        { op: 'link-up', name: 'lo' },
        ...claims.map((claim) => ({ op: 'addr-add' as const, dev: 'eth0', address: claim.address, prefix: claim.prefix })),
        { op: 'link-up', name: 'eth0' },
        ...[...gateways.values()].map((gateway) => ({ op: 'route-add' as const, gateway, dev: 'eth0' })),
      ],
    ];
  }

  /**
   * venet-style: the box holds its addresses as /32 and /128 and routes everything to a gateway
   * its host end holds (169.254.1.1, fe80::1); the host routes each address to that veth. No
   * bridge: a box never sees another box's frames, and nobody answers ARP for a neighbour.
   */
  private routed(hostLink: string, claims: readonly Claim[]): [NetlinkOp[], NetlinkOp[]] {
    const families = new Set(claims.map((claim) => claim.family));
    return [
      [
        ...(families.has(4) ? [{ op: 'addr-add' as const, dev: hostLink, address: ROUTED_GATEWAY[4], prefix: 32 }] : []),
        ...(families.has(6) ? [{ op: 'addr-add' as const, dev: hostLink, address: ROUTED_GATEWAY[6], prefix: 64 }] : []),
        ...claims.map((claim) => ({ op: 'route-add' as const, dst: claim.address, prefix: claim.family === 4 ? 32 : 128, dev: hostLink })),
      ],
      [
        { op: 'link-up', name: 'lo' },
        ...claims.map((claim) => ({ op: 'addr-add' as const, dev: 'eth0', address: claim.address, prefix: claim.family === 4 ? 32 : 128 })),
        { op: 'link-up', name: 'eth0' },
        ...[...families].map((family) => ({ op: 'route-add' as const, gateway: ROUTED_GATEWAY[family], dev: 'eth0', onlink: family === 4 })),
      ],
    ];
  }

  /** Removes the host end (and so the pair); nothing when the box's namespace already took it along. */
  unwire(hostLink: string): void {
    this.host.removeLink(hostLink);
  }
}

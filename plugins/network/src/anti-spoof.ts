/**
 * Anti-spoofing: a box sends only from its own addresses and answers ARP only for them.
 * nftables rules matched on the host end of its veth, one set per wired box: for a bridged box
 * in nsbox's bridge table (`bridge nsbox`, the veth is a bridge port), for a routed one in the
 * `antispoof` chain of `inet nsbox` (priority raw, before routing). IPv4 (and, on the bridge,
 * ARP) from any other source address is dropped, IPv6 from anything but its addresses,
 * link-local and the unspecified address (duplicate address detection). A box with no address
 * of a family sends none of it.
 */

type NftCommand = Record<string, unknown>;

export const BRIDGE_FAMILY = 'bridge';

/** A box whose veth is wired now, with the addresses it may send from. */
export interface WiredBox {
  box: string;
  link: string;
  addresses: { family: 4 | 6; address: string }[];
  /** Routed (no bridge): its rules go to the inet table. */
  routed?: boolean;
}

const BRIDGE_CHAIN = { family: BRIDGE_FAMILY, table: 'nsbox', name: 'prerouting' };
const ROUTED_CHAIN = { family: 'inet', table: 'nsbox', name: 'antispoof' };

/** `ip`, `arp`, `ip6` as the bridge (ether type) or the inet family (nfproto) matches them. */
function rule(routed: boolean, link: string, box: string, protocol: 'ip' | 'arp' | 'ip6', source?: NftCommand): NftCommand {
  const chain = routed ? ROUTED_CHAIN : BRIDGE_CHAIN;
  const l3 = routed
    ? { match: { op: '==', left: { meta: { key: 'nfproto' } }, right: protocol === 'ip6' ? 'ipv6' : 'ipv4' } }
    : { match: { op: '==', left: { payload: { protocol: 'ether', field: 'type' } }, right: protocol } };
  return {
    add: {
      rule: {
        family: chain.family,
        table: chain.table,
        chain: chain.name,
        comment: `nsbox box ${box}`,
        // Counted: what a box tried to spoof shows in `nft list table`.
        expr: [{ match: { op: '==', left: { meta: { key: 'iifname' } }, right: link } }, l3, ...(source ? [source] : []), { counter: null }, { drop: null }],
      },
    },
  };
}

const notFrom = (protocol: string, field: string, allowed: unknown[]): NftCommand => ({
  match: { op: '!=', left: { payload: { protocol, field } }, right: { set: allowed } },
});

export function antiSpoofRules(boxes: readonly WiredBox[]): NftCommand[] {
  return boxes.flatMap(({ box, link, addresses, routed = false }) => {
    const v4 = addresses.filter((a) => a.family === 4).map((a) => a.address);
    const v6 = addresses.filter((a) => a.family === 6).map((a) => a.address);
    return [
      v4.length > 0 ? rule(routed, link, box, 'ip', notFrom('ip', 'saddr', v4)) : rule(routed, link, box, 'ip'),
      // ARP only crosses a bridge; a routed box's ARP ends at its host end.
      ...(routed ? [] : [v4.length > 0 ? rule(routed, link, box, 'arp', notFrom('arp', 'saddr ip', v4)) : rule(routed, link, box, 'arp')]),
      rule(routed, link, box, 'ip6', notFrom('ip6', 'saddr', [...v6, { prefix: { addr: 'fe80::', len: 10 } }, '::'])),
    ];
  });
}

/** The anti-spoofing part of the batch: both chains rewritten whole from the wired boxes. */
export function antiSpoofBatch(boxes: readonly WiredBox[]): NftCommand[] {
  return [
    { add: { table: { family: BRIDGE_FAMILY, name: 'nsbox' } } },
    { add: { chain: { ...BRIDGE_CHAIN, type: 'filter', hook: 'prerouting', prio: -200, policy: 'accept' } } },
    { flush: { chain: BRIDGE_CHAIN } },
    { add: { table: { family: 'inet', name: 'nsbox' } } },
    { add: { chain: { ...ROUTED_CHAIN, type: 'filter', hook: 'prerouting', prio: -300, policy: 'accept' } } },
    { flush: { chain: ROUTED_CHAIN } },
    ...antiSpoofRules(boxes),
  ];
}

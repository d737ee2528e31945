/**
 * Anti-spoofing on the bridge: a box sends only from its own addresses and answers ARP only for
 * them. nftables rules in nsbox's own bridge table (`bridge nsbox`), one set per wired box,
 * matched on the host end of its veth (the bridge port): IPv4 and ARP from any other source
 * address are dropped, IPv6 from anything but its addresses, link-local and the unspecified
 * address (duplicate address detection) too. A box with no address of a family sends none of it.
 */

type NftCommand = Record<string, unknown>;

export const BRIDGE_FAMILY = 'bridge';

/** A box whose veth is wired now, with the addresses it may send from. */
export interface WiredBox {
  box: string;
  link: string;
  addresses: { family: 4 | 6; address: string }[];
}

function rule(link: string, box: string, etherType: string, source?: NftCommand): NftCommand {
  return {
    add: {
      rule: {
        family: BRIDGE_FAMILY,
        table: 'nsbox',
        chain: 'prerouting',
        comment: `nsbox box ${box}`,
        expr: [
          { match: { op: '==', left: { meta: { key: 'iifname' } }, right: link } },
          { match: { op: '==', left: { payload: { protocol: 'ether', field: 'type' } }, right: etherType } },
          ...(source ? [source] : []),
          { drop: null },
        ],
      },
    },
  };
}

const notFrom = (protocol: string, field: string, allowed: unknown[]): NftCommand => ({
  match: { op: '!=', left: { payload: { protocol, field } }, right: { set: allowed } },
});

export function antiSpoofRules(boxes: readonly WiredBox[]): NftCommand[] {
  return boxes.flatMap(({ box, link, addresses }) => {
    const v4 = addresses.filter((a) => a.family === 4).map((a) => a.address);
    const v6 = addresses.filter((a) => a.family === 6).map((a) => a.address);
    return [
      v4.length > 0 ? rule(link, box, 'ip', notFrom('ip', 'saddr', v4)) : rule(link, box, 'ip'),
      v4.length > 0 ? rule(link, box, 'arp', notFrom('arp', 'saddr ip', v4)) : rule(link, box, 'arp'),
      rule(link, box, 'ip6', notFrom('ip6', 'saddr', [...v6, { prefix: { addr: 'fe80::', len: 10 } }, '::'])),
    ];
  });
}

/** The bridge table's part of the batch: the chain rewritten whole from the wired boxes. */
export function antiSpoofBatch(boxes: readonly WiredBox[]): NftCommand[] {
  const chain = { family: BRIDGE_FAMILY, table: 'nsbox', name: 'prerouting' };
  return [
    { add: { table: { family: BRIDGE_FAMILY, name: 'nsbox' } } },
    { add: { chain: { ...chain, type: 'filter', hook: 'prerouting', prio: -200, policy: 'accept' } } },
    { flush: { chain } },
    ...antiSpoofRules(boxes),
  ];
}

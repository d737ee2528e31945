/**
 * Anti-spoofing: a box sends only from its own addresses and answers ARP only for them.
 * Each wired box has a chain of its own, `spoof-<host link>`, reached through a verdict map
 * keyed by the host end of its veth (`iifname vmap @spoof`): for a bridged box in nsbox's
 * bridge table (`bridge nsbox`, chain `prerouting`; the veth is a bridge port), for a routed
 * one in `inet nsbox` (chain `antispoof`, priority raw, before routing). A box's start and
 * stop so change its own chain and one map element, never the other boxes' rules. IPv4 (and,
 * on the bridge, ARP) from any other source address is dropped, IPv6 from anything but its
 * addresses, link-local and the unspecified address (duplicate address detection). A box
 * with no address of a family sends none of it. Every drop is counted.
 */

import { parseAddress } from './ip.js';
import { boxMacAddress, linkLocalOf } from './mac.js';
import { addChain, addElement, addRule, type NftCommand, removeChainAndElements, TABLE } from './nft-commands.js';

export const BRIDGE_FAMILY = 'bridge';
/** The verdict map (host link → the box's chain), in both tables. */
const SPOOF_MAP = 'spoof';

/** A box whose veth is wired now, with the addresses it may send from. */
export interface WiredBox {
  box: string;
  link: string;
  addresses: { family: 4 | 6; address: string }[];
  /** Routed (no bridge): its rules go to the inet table. */
  routed?: boolean;
}

/** The chain of a box's anti-spoofing rules. */
export const spoofChain = (link: string): string => `spoof-${link}`;

const familyOf = (routed: boolean): 'bridge' | 'inet' => (routed ? 'inet' : BRIDGE_FAMILY);

/** The tables' dispatch: each family's hooked chain sends a box's packets to its own chain. */
export function antiSpoofBase(): NftCommand[] {
  const dispatch = (family: 'bridge' | 'inet', chain: string, prio: number): NftCommand[] => [
    { add: { table: { family, name: TABLE } } },
    { add: { map: { family, table: TABLE, name: SPOOF_MAP, type: 'ifname', map: 'verdict' } } },
    { add: { chain: { family, table: TABLE, name: chain, type: 'filter', hook: 'prerouting', prio, policy: 'accept' } } },
    addRule(family, chain, [{ vmap: { key: { meta: { key: 'iifname' } }, data: `@${SPOOF_MAP}` } }]),
  ];
  return [...dispatch(BRIDGE_FAMILY, 'prerouting', -200), ...dispatch('inet', 'antispoof', -300)];
}

/** `ip`, `arp`, `ip6` as the bridge (ether type) or the inet family (nfproto) matches them. */
function dropRule(routed: boolean, link: string, protocol: 'ip' | 'arp' | 'ip6', ...matches: NftCommand[]): NftCommand {
  const l3 = routed
    ? { match: { op: '==', left: { meta: { key: 'nfproto' } }, right: protocol === 'ip6' ? 'ipv6' : 'ipv4' } }
    : { match: { op: '==', left: { payload: { protocol: 'ether', field: 'type' } }, right: protocol } };
  // Counted: what a box tried to spoof shows in `nft list table`.
  return addRule(familyOf(routed), spoofChain(link), [l3, ...matches, { counter: null }, { drop: null }]);
}

const notFrom = (protocol: string, field: string, allowed: unknown[]): NftCommand => ({
  match: { op: '!=', left: { payload: { protocol, field } }, right: { set: allowed } },
});

/** A 128-bit number as nft writes a raw payload's value. */
const hex128 = (value: bigint): string => `0x${value.toString(16).padStart(32, '0')}`;

/**
 * A neighbour advertisement whose target address (the 16 bytes after the ICMPv6 header's 8,
 * a raw payload: nft 1.0.6 has no `icmpv6 taddr`) is none of the box's: its IPv6 addresses and
 * the link-local address of its eth0 (its MAC is the same at every start).
 */
function advertisingOther(box: string, v6: readonly string[]): NftCommand[] {
  const own = [...v6.map((address) => parseAddress(address)?.value ?? 0n), linkLocalOf(boxMacAddress(box))];
  return [
    { match: { op: '==', left: { payload: { protocol: 'icmpv6', field: 'type' } }, right: 'nd-neighbor-advert' } },
    { match: { op: '!=', left: { payload: { base: 'th', offset: 64, len: 128 } }, right: { set: own.map(hex128) } } },
  ];
}

/** The box's chain (re)written and its map element set: idempotent, other boxes untouched. */
export function antiSpoofWire({ box, link, addresses, routed = false }: WiredBox): NftCommand[] {
  const family = familyOf(routed);
  const v4 = addresses.filter((a) => a.family === 4).map((a) => a.address);
  const v6 = addresses.filter((a) => a.family === 6).map((a) => a.address);
  return [
    ...addChain(family, spoofChain(link)),
    v4.length > 0 ? dropRule(routed, link, 'ip', notFrom('ip', 'saddr', v4)) : dropRule(routed, link, 'ip'),
    // ARP only crosses a bridge; a routed box's ARP ends at its host end.
    ...(routed ? [] : [v4.length > 0 ? dropRule(routed, link, 'arp', notFrom('arp', 'saddr ip', v4)) : dropRule(routed, link, 'arp')]),
    dropRule(routed, link, 'ip6', notFrom('ip6', 'saddr', [...v6, { prefix: { addr: 'fe80::', len: 10 } }, '::'])),
    dropRule(routed, link, 'ip6', ...advertisingOther(box, v6)),
    addElement(family, SPOOF_MAP, [link, { jump: { target: spoofChain(link) } }]),
  ];
}

/** The box's chain and element gone; nothing to do (and no error) when they are not there. */
export function antiSpoofUnwire({ link, routed = false }: WiredBox): NftCommand[] {
  return removeChainAndElements(familyOf(routed), spoofChain(link), [{ map: SPOOF_MAP, key: link }]);
}

/**
 * The per-box firewall: inbound allow rules (`SOURCE[:PORT[/udp]]`). A box with at least one
 * rule gets a chain of its own in `inet nsbox` (`guard-<host link>`), reached from the
 * `firewall` chain (hook forward) through verdict maps of the boxes' addresses, with its
 * rules as accepts and a counted drop of every other packet to its addresses that does not
 * belong to a connection already made; a box without rules is open as before. Rules are matched on the box's
 * destination addresses (held, anti-spoofed claims), so they hold the same whether the packet
 * was routed from the outside, forwarded by a DNAT port forward (the port is the box's), or
 * crossed nsbox's bridge from another box (the bridge hands its IP traffic to the inet hooks).
 * One key per rule in the plugin's state: rules outlive stops and restarts, go at destroy;
 * the nft rules exist only while the box is wired.
 */

import { NsboxError, type PluginStateStore } from '@nsbox/core';
import { type Family, formatAddress, parseAddress } from './ip.js';
import { addChain, addElement, addRule, type NftCommand, removeChainAndElements, TABLE } from './nft-commands.js';
import { STATE_NAMESPACE } from './pools.js';

const RULE_KEY = 'fw:';

export interface AllowRule {
  family: Family;
  /** The source prefix, normalised (`10.0.0.0/8`, `fd00::/64`, `0.0.0.0/0`). */
  source: string;
  prefix: number;
  /** A destination port of the box, with its protocol; absent: every port and protocol. */
  port?: number;
  protocol?: 'tcp' | 'udp';
}

const bad = (text: string, why: string): NsboxError =>
  new NsboxError('E_INVALID_ARGUMENT', `allow rule '${text}': ${why} (SOURCE[/PREFIX][:PORT[/udp]], IPv6 with a port as [fd00::/64]:80)`, {
    details: { field: 'rule' },
  });

/**
 * `10.0.0.0/8`, `198.51.100.2`, `198.51.100.0/24:80`, `0.0.0.0/0:53/udp`, `fd00::/64`,
 * `fd00::/64:443`, `[2001:db8::2]:22`. A bare address is a /32 or /128; host bits of the
 * prefix are cleared.
 */
export function parseAllow(text: string): AllowRule {
  const trimmed = text.trim();
  let address: string;
  let length: string | undefined;
  let rest: string | undefined;
  const bracket = /^\[([^\]/]+)(?:\/(\d+))?\](?::(.*))?$/.exec(trimmed);
  if (bracket) [, address = '', length, rest] = bracket;
  else {
    // After `/LEN` a colon can only start a port, and an IPv4 address has no colon of its own;
    // an IPv6 address with a port and no prefix needs the brackets.
    const withPrefix = /^([^/]+)\/(\d+)(?::(.*))?$/.exec(trimmed);
    const v4 = /^([\d.]+)(?::(.*))?$/.exec(trimmed);
    if (withPrefix) [, address = '', length, rest] = withPrefix;
    else if (v4) [, address = '', rest] = v4;
    else address = trimmed;
  }
  const parsed = parseAddress(address);
  if (!parsed) throw bad(text, `'${address}' is not an IPv4 or IPv6 address`);
  const width = parsed.family === 4 ? 32 : 128;
  const prefix = length === undefined ? width : Number(length);
  if (prefix > width) throw bad(text, `prefix length ${prefix} is longer than ${width} bits`);
  const mask = prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(width - prefix);
  const rule: AllowRule = { family: parsed.family, source: formatAddress(parsed.family, parsed.value & mask), prefix };
  if (rest !== undefined) {
    const port = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(rest);
    if (!port || Number(port[1]) < 1 || Number(port[1]) > 65_535) throw bad(text, `'${rest}' is not PORT[/tcp|/udp] with a port of 1 to 65535`);
    rule.port = Number(port[1]);
    rule.protocol = (port[2] as 'tcp' | 'udp' | undefined) ?? 'tcp';
  }
  return rule;
}

export function formatAllow(rule: AllowRule): string {
  const source = `${rule.source}/${rule.prefix}`;
  if (rule.port === undefined) return source;
  return `${rule.family === 6 ? `[${source}]` : source}:${rule.port}/${rule.protocol}`;
}

/** The rules of each box, kept in the plugin's state. */
export class FirewallRules {
  constructor(private readonly state: PluginStateStore) {}

  private key(box: string, rule: AllowRule): string {
    return `${RULE_KEY}${box}:${formatAllow(rule)}`;
  }

  list(box: string): AllowRule[] {
    return this.state
      .list(STATE_NAMESPACE, `${RULE_KEY}${box}:`)
      .map((entry) => JSON.parse(entry.value) as AllowRule)
      .sort((a, b) => formatAllow(a).localeCompare(formatAllow(b)));
  }

  /** Adds a rule; false when the box had it already. */
  add(box: string, rule: AllowRule): boolean {
    return this.state.claim(STATE_NAMESPACE, this.key(box, rule), JSON.stringify(rule));
  }

  remove(box: string, rule: AllowRule): void {
    const key = this.key(box, rule);
    if (this.state.get(STATE_NAMESPACE, key) === undefined) {
      throw new NsboxError('E_NOT_FOUND', `the box has no allow rule ${formatAllow(rule)}`, { details: { field: 'rule' } });
    }
    this.state.delete(STATE_NAMESPACE, key);
  }

  /** Drops every rule of the box (at destroy). */
  release(box: string): void {
    for (const rule of this.list(box)) this.state.delete(STATE_NAMESPACE, this.key(box, rule));
  }
}

/** A wired box with its rules, as its chain needs it. */
export interface FirewalledBox {
  box: string;
  /** The host end of its veth: names its chain. */
  link: string;
  addresses: { family: Family; address: string }[];
  rules: AllowRule[];
}

/** Verdict maps of the boxes' own addresses to their chains, one per family. */
const GUARD_MAP = { 4: 'guard4', 6: 'guard6' } as const;

/** The chain of a box's firewall rules. */
export const guardChain = (link: string): string => `guard-${link}`;

/** The dispatch: a packet to a guarded box's address goes through that box's chain. */
export function firewallBase(): NftCommand[] {
  return [
    { add: { table: { family: 'inet', name: TABLE } } },
    { add: { map: { family: 'inet', table: TABLE, name: GUARD_MAP[4], type: 'ipv4_addr', map: 'verdict' } } },
    { add: { map: { family: 'inet', table: TABLE, name: GUARD_MAP[6], type: 'ipv6_addr', map: 'verdict' } } },
    { add: { chain: { family: 'inet', table: TABLE, name: 'firewall', type: 'filter', hook: 'forward', prio: 0, policy: 'accept' } } },
    addRule('inet', 'firewall', [{ vmap: { key: { payload: { protocol: 'ip', field: 'daddr' } }, data: `@${GUARD_MAP[4]}` } }]),
    addRule('inet', 'firewall', [{ vmap: { key: { payload: { protocol: 'ip6', field: 'daddr' } }, data: `@${GUARD_MAP[6]}` } }]),
  ];
}

const daddr = (family: Family, addresses: string[]): NftCommand => ({
  match: { op: '==', left: { payload: { protocol: family === 4 ? 'ip' : 'ip6', field: 'daddr' } }, right: { set: addresses } },
});

/** The rules of a box's chain: accepts, then one counted drop per family it has addresses of. */
export function firewallRules({ box, link, addresses, rules }: FirewalledBox): NftCommand[] {
  const rule = (expr: NftCommand[]) => addRule('inet', guardChain(link), expr, `nsbox firewall ${box}`);
  return ([4, 6] as const).flatMap((family) => {
    const own = addresses.filter((a) => a.family === family).map((a) => a.address);
    if (own.length === 0) return [];
    const to = daddr(family, own);
    const protocol = family === 4 ? 'ip' : 'ip6';
    const allows = rules
      .filter((allow) => allow.family === family)
      .map((allow) =>
        rule([
          to,
          { match: { op: '==', left: { payload: { protocol, field: 'saddr' } }, right: { prefix: { addr: allow.source, len: allow.prefix } } } },
          ...(allow.port === undefined ? [] : [{ match: { op: '==', left: { payload: { protocol: allow.protocol, field: 'dport' } }, right: allow.port } }]),
          { accept: null },
        ]),
      );
    return [
      // Answers to what the box opened, and ICMP errors about it.
      rule([to, { match: { op: 'in', left: { ct: { key: 'state' } }, right: ['established', 'related'] } }, { accept: null }]),
      // Neighbour discovery to a unicast address (reachability probes) is not a connection.
      ...(family === 6
        ? [
            rule([
              to,
              { match: { op: '==', left: { payload: { protocol: 'icmpv6', field: 'type' } }, right: { set: ['nd-neighbor-solicit', 'nd-neighbor-advert'] } } },
              { accept: null },
            ]),
          ]
        : []),
      ...allows,
      rule([to, { counter: null }, { drop: null }]),
    ];
  });
}

const elementsOf = (box: FirewalledBox) => box.addresses.map(({ family, address }) => ({ map: GUARD_MAP[family], key: address }));

/** The box's chain and its addresses' elements gone (nothing when absent). */
export function firewallUnwire(box: FirewalledBox): NftCommand[] {
  return removeChainAndElements('inet', guardChain(box.link), elementsOf(box));
}

/** The box's chain written whole from its rules; a box without rules has none (it is open). */
export function firewallWire(box: FirewalledBox): NftCommand[] {
  if (box.rules.length === 0) return firewallUnwire(box);
  return [
    ...addChain('inet', guardChain(box.link)),
    ...firewallRules(box),
    ...elementsOf(box).map(({ map, key }) => addElement('inet', map, [key, { jump: { target: guardChain(box.link) } }])),
  ];
}

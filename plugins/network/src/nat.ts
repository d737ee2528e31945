/**
 * NAT to the outside and port forwards through nftables: chains in a table of nsbox's own
 * (`inet nsbox`; anti-spoofing in anti-spoof.ts, the firewall in firewall.ts), JSON batches run
 * in process by libnftables (the addon's `nft`, in the host-side namespace when one is
 * configured). A batch only ever names that table, so no other table of the host is read or
 * changed. The NAT chains are rewritten whole (flushed, one masquerade rule per pool, DNAT per
 * forward) when the pools or forwards change, so running it twice is the same as once.
 */

import { NsboxError } from '@nsbox/core';
import { nftJson } from '@nsbox/native';
import { formatAddress } from './ip.js';
import { dropTables, type NftCommand, TABLE } from './nft-commands.js';
import type { Pool } from './pools.js';

export const NAT_TABLE = TABLE;
const FAMILY = 'inet';

function masquerade(pool: Pool): NftCommand {
  const protocol = pool.family === 4 ? 'ip' : 'ip6';
  const prefix = { prefix: { addr: formatAddress(pool.family, pool.cidr.network), len: pool.prefix } };
  return {
    add: {
      rule: {
        family: FAMILY,
        table: NAT_TABLE,
        chain: 'postrouting',
        comment: `nsbox pool ${pool.name}`,
        expr: [
          { match: { op: '==', left: { payload: { protocol, field: 'saddr' } }, right: prefix } },
          { match: { op: '!=', left: { payload: { protocol, field: 'daddr' } }, right: prefix } },
          { masquerade: null },
        ],
      },
    },
  };
}

/** A port forward with the box address it goes to (one per family the box has). */
export interface ForwardRule {
  protocol: 'tcp' | 'udp';
  hostPort: number;
  boxPort: number;
  family: 4 | 6;
  address: string;
  box: string;
}

/** DNAT of a host port to the box, for packets coming in (prerouting) and made on the host (output). */
function dnat(chain: 'prerouting' | 'output', forward: ForwardRule): NftCommand {
  return {
    add: {
      rule: {
        family: FAMILY,
        table: NAT_TABLE,
        chain,
        comment: `nsbox forward ${forward.box}`,
        expr: [
          { match: { op: '==', left: { meta: { key: 'nfproto' } }, right: forward.family === 4 ? 'ipv4' : 'ipv6' } },
          { match: { op: '==', left: { fib: { result: 'type', flags: ['daddr'] } }, right: 'local' } },
          { match: { op: '==', left: { payload: { protocol: forward.protocol, field: 'dport' } }, right: forward.hostPort } },
          { dnat: { family: forward.family === 4 ? 'ip' : 'ip6', addr: forward.address, port: forward.boxPort } },
        ],
      },
    },
  };
}

/** The NAT chains of nsbox's inet table (base chains, hooked). */
export function natBase(): NftCommand[] {
  const chain = (name: string) => ({ family: FAMILY, table: NAT_TABLE, name });
  return [
    { add: { table: { family: FAMILY, name: NAT_TABLE } } },
    { add: { chain: { ...chain('postrouting'), type: 'nat', hook: 'postrouting', prio: 100, policy: 'accept' } } },
    { add: { chain: { ...chain('prerouting'), type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' } } },
    { add: { chain: { ...chain('output'), type: 'nat', hook: 'output', prio: -100, policy: 'accept' } } },
  ];
}

/** The NAT chains rewritten whole: one masquerade rule per pool, DNAT of each forward. */
export function natRules(pools: readonly Pool[], forwards: readonly ForwardRule[] = []): NftCommand[] {
  const chain = (name: string) => ({ family: FAMILY, table: NAT_TABLE, name });
  return [
    { flush: { chain: chain('postrouting') } },
    { flush: { chain: chain('prerouting') } },
    { flush: { chain: chain('output') } },
    ...pools.map(masquerade),
    ...forwards.flatMap((forward) => [dnat('prerouting', forward), dnat('output', forward)]),
  ];
}

/** The batch that makes the table hold exactly the pools' masquerade rules and the forwards. */
export function natBatch(pools: readonly Pool[], forwards: readonly ForwardRule[] = []): { nftables: NftCommand[] } {
  return { nftables: [...natBase(), ...natRules(pools, forwards)] };
}

/** Runs a batch in the namespace (the process's own when undefined), in process; nft's refusal becomes E_RUNTIME. */
export function runBatch(netns: string | undefined, commands: readonly NftCommand[]): Record<string, unknown>[] {
  try {
    return nftJson(netns, { nftables: commands })?.nftables ?? [];
  } catch (error) {
    throw new NsboxError('E_RUNTIME', `nft batch failed: ${(error as Error).message.trim()}`, { details: { step: 'nat' }, cause: error });
  }
}

/** Removes nsbox's tables (nothing when they are not there). */
export function removeNat(netns: string | undefined): void {
  runBatch(netns, dropTables());
}

/** The rules of nsbox's table of a family (`inet`: NAT, routed anti-spoofing, firewall; `bridge`: anti-spoofing); undefined: no table. */
export function listRules(netns: string | undefined, family: 'inet' | 'bridge' = FAMILY): Record<string, unknown>[] | undefined {
  const tables = runBatch(netns, [{ list: { tables: null } }]);
  if (
    !tables.some(
      (entry) => (entry.table as { family?: string; name?: string } | undefined)?.family === family && (entry.table as { name?: string }).name === NAT_TABLE,
    )
  ) {
    return undefined;
  }
  const listed = runBatch(netns, [{ list: { table: { family, name: NAT_TABLE } } }]);
  return listed.flatMap((entry) => (entry.rule ? [entry.rule as Record<string, unknown>] : []));
}

/** The rules of nsbox's NAT chains (masquerade and forwards). */
export const listNatRules = (netns: string | undefined) =>
  listRules(netns, FAMILY)?.filter((rule) => ['postrouting', 'prerouting', 'output'].includes(rule.chain as string));

/**
 * NAT to the outside and port forwards through nftables: a table of nsbox's own (`inet nsbox`,
 * with anti-spoofing in `bridge nsbox`, anti-spoof.ts), written as a
 * JSON batch to `nft -j` (in the host-side namespace when one is configured). The batch
 * only ever names that table, so no other table of the host is read or changed; it is
 * rewritten whole (chain flushed, one masquerade rule per pool), so running it twice is the
 * same as once.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NsboxError } from '@nsbox/core';
import { antiSpoofBatch, BRIDGE_FAMILY, type WiredBox } from './anti-spoof.js';
import { formatAddress } from './ip.js';
import type { Pool } from './pools.js';

export const NAT_TABLE = 'nsbox';
const FAMILY = 'inet';

type NftCommand = Record<string, unknown>;

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

/** The batch that makes the table hold exactly the pools' masquerade rules and the forwards. */
export function natBatch(pools: readonly Pool[], forwards: readonly ForwardRule[] = []): { nftables: NftCommand[] } {
  const chain = (name: string) => ({ family: FAMILY, table: NAT_TABLE, name });
  return {
    nftables: [
      { add: { table: { family: FAMILY, name: NAT_TABLE } } },
      { add: { chain: { ...chain('postrouting'), type: 'nat', hook: 'postrouting', prio: 100, policy: 'accept' } } },
      { add: { chain: { ...chain('prerouting'), type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' } } },
      { add: { chain: { ...chain('output'), type: 'nat', hook: 'output', prio: -100, policy: 'accept' } } },
      { flush: { chain: chain('postrouting') } },
      { flush: { chain: chain('prerouting') } },
      { flush: { chain: chain('output') } },
      ...pools.map(masquerade),
      ...forwards.flatMap((forward) => [dnat('prerouting', forward), dnat('output', forward)]),
    ],
  };
}

/** Runs `nft` in the namespace (the process's own when undefined). */
export function runNft(netns: string | undefined, args: string[]): string {
  const [command, commandArgs] = netns ? ['nsenter', [`--net=${netns}`, 'nft', ...args]] : ['nft', args];
  const result = spawnSync(command, commandArgs, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.status !== 0) {
    throw new NsboxError('E_RUNTIME', `nft ${args.join(' ')} failed: ${(result.stderr || result.error?.message || `exit ${result.status}`).trim()}`, {
      details: { step: 'nat' },
    });
  }
  return result.stdout;
}

export function applyNat(
  netns: string | undefined,
  pools: readonly Pool[],
  forwards: readonly ForwardRule[] = [],
  wired: readonly WiredBox[] = [],
  firewall: readonly NftCommand[] = [],
): void {
  // One batch, one transaction: NAT, forwards, anti-spoofing and firewall change together or
  // not at all. It goes through a private file: as one argument it would pass the kernel's
  // 128 KiB limit of an argument with a few hundred boxes (E2BIG).
  const batch = natBatch(pools, forwards);
  const dir = mkdtempSync(join(tmpdir(), 'nsbox-nft-'));
  try {
    const file = join(dir, 'batch.json');
    writeFileSync(file, JSON.stringify({ nftables: [...batch.nftables, ...antiSpoofBatch(wired), ...firewall] }), { mode: 0o600 });
    runNft(netns, ['-j', '-f', file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Removes nsbox's tables (nothing when they are not there). */
export function removeNat(netns: string | undefined): void {
  const families = ([FAMILY, BRIDGE_FAMILY] as const).filter((family) => listRules(netns, family) !== undefined);
  if (families.length === 0) return;
  runNft(netns, ['-j', JSON.stringify({ nftables: families.map((family) => ({ delete: { table: { family, name: NAT_TABLE } } })) })]);
}

/** The rules of nsbox's table of a family (`inet`: NAT and forwards, `bridge`: anti-spoofing); undefined: no table. */
export function listRules(netns: string | undefined, family: 'inet' | 'bridge' = FAMILY): Record<string, unknown>[] | undefined {
  const tables = JSON.parse(runNft(netns, ['-j', 'list', 'tables'])) as { nftables: { table?: { family: string; name: string } }[] };
  if (!tables.nftables.some((entry) => entry.table?.family === family && entry.table.name === NAT_TABLE)) return undefined;
  const listed = JSON.parse(runNft(netns, ['-j', 'list', 'table', family, NAT_TABLE])) as { nftables: { rule?: Record<string, unknown> }[] };
  return listed.nftables.flatMap((entry) => (entry.rule ? [entry.rule] : []));
}

/** The rules of nsbox's inet table (NAT and forwards). */
export const listNatRules = (netns: string | undefined) => listRules(netns, FAMILY);

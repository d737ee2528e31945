/**
 * Shaping a box's traffic on the host end of its veth, where the box cannot undo it (its root
 * holds CAP_NET_ADMIN over its own `eth0`, never over the host end): what the box receives is
 * what the host end sends, shaped by a token bucket (tbf) as its root qdisc; what the box
 * sends is what the host end receives, redirected by a match-all filter on its ingress to an
 * ifb (`nsi` + the host end's 12 hex digits, link-names.ts) whose root is the second token bucket — this kernel
 * has no act_police to rate ingress directly. All through netlink (native/src/netlink-tc.c).
 */

import { NsboxError } from '@nsbox/core';
import { isNetlinkError, type NetlinkOp, netlink } from '@nsbox/native';
import { ifbName } from './link-names.js';

/** A box's rates in bytes per second; absent: unshaped. */
export interface Rates {
  /** What the box sends. */
  egress?: number | undefined;
  /** What the box receives. */
  ingress?: number | undefined;
}

const UNITS: Record<string, number> = {
  bit: 1 / 8,
  kbit: 1e3 / 8,
  mbit: 1e6 / 8,
  gbit: 1e9 / 8,
  tbit: 1e12 / 8,
  bps: 1,
  kbps: 1e3,
  mbps: 1e6,
  gbps: 1e9,
};

export const RATE_PATTERN = /^(\d+(?:\.\d+)?)\s*(bit|kbit|mbit|gbit|tbit|bps|kbps|mbps|gbps)$/i;
/** Below one MTU-sized packet a second a bucket makes no sense; tbf caps at 2^64-1 anyway. */
const MIN_RATE = 1500;

/** tc's spelling: `10mbit` (bits, SI), `2mbps` (bytes); undefined when it is not a rate. */
export function parseRate(text: string): number | undefined {
  const match = RATE_PATTERN.exec(text.trim());
  if (!match) return undefined;
  const bytes = Number(match[1]) * (UNITS[(match[2] as string).toLowerCase()] as number);
  return bytes >= MIN_RATE ? Math.round(bytes) : undefined;
}

export const rateMessage = `a rate as tc spells it, at least ${MIN_RATE * 8}bit: 10mbit, 500kbit, 1gbit, 2mbps (bytes)`;

/**
 * A bucket of 10 ms of the rate (at least 16 KiB, which holds a few full frames), and a queue
 * of 100 ms (at least four buckets): close to the rate for TCP without long standing queues.
 */
function bucket(link: string, bytesPerSecond: number): NetlinkOp {
  const burst = Math.max(16_384, Math.round(bytesPerSecond / 100));
  return { op: 'qdisc-tbf', dev: link, bytesPerSecond, burst, limit: Math.max(4 * burst, Math.round(bytesPerSecond / 10)) };
}

function quietly(netns: string | undefined, step: NetlinkOp, ...tolerated: string[]): void {
  try {
    netlink(netns, [step]);
  } catch (error) {
    if (!tolerated.some((code) => isNetlinkError(error, code))) throw error;
  }
}

export class Shaper {
  constructor(private readonly netns: () => string | undefined) {}

  /**
   * Brings the host end `link` of box `boxId` to `rates`; `before` is what it has now (at the
   * wire moment: nothing — the host end is new). A bucket changes in place, without a gap.
   */
  apply(boxId: string, link: string, rates: Rates, before: Rates = {}): void {
    const ns = this.netns();
    const ifb = ifbName(link);
    try {
      if (rates.ingress !== undefined) netlink(ns, [bucket(link, rates.ingress)]);
      else if (before.ingress !== undefined) quietly(ns, { op: 'qdisc-del', dev: link, parent: 'root' }, 'ENOENT', 'EINVAL');
      if (rates.egress !== undefined && before.egress !== undefined) netlink(ns, [bucket(ifb, rates.egress)]);
      else if (rates.egress !== undefined) {
        // A stale ifb of this box (a crash after it was made) goes first.
        this.removeIfb(link);
        netlink(ns, [
          { op: 'ifb-add', name: ifb },
          bucket(ifb, rates.egress),
          { op: 'link-up', name: ifb },
          { op: 'qdisc-ingress', dev: link },
          { op: 'filter-redirect', dev: link, target: ifb },
        ]);
      } else if (before.egress !== undefined) {
        quietly(ns, { op: 'qdisc-del', dev: link, parent: 'ingress' }, 'ENOENT', 'EINVAL');
        this.removeIfb(link);
      }
    } catch (error) {
      throw new NsboxError('E_RUNTIME', `network: shaping the link of box ${boxId} failed: ${(error as Error).message}`, {
        details: { step: 'shape' },
        cause: error,
      });
    }
  }

  /** The ifb of the box whose host end is `link` goes (with its bucket); nothing when there is none. */
  removeIfb(link: string): void {
    quietly(this.netns(), { op: 'link-del', name: ifbName(link) }, 'ENODEV');
  }
}

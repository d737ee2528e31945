/**
 * Port forwards: a host port (TCP or UDP) to a port of a bridged box. One key per host port and
 * protocol in the plugin's state, taken with the store's atomic `claim`: a port is never
 * forwarded twice. The rules themselves are nftables DNAT in nsbox's table (nat.ts), rewritten
 * from this list.
 */

import { NsboxError, type PluginStateStore } from '@nsbox/core';
import { STATE_NAMESPACE } from './pools.js';

const FORWARD_KEY = 'fwd:';

export interface Forward {
  box: string;
  protocol: 'tcp' | 'udp';
  hostPort: number;
  boxPort: number;
}

/** `8080:80`, `5353:53/udp`; errors name the field `forward`. */
export function parseForward(text: string): Omit<Forward, 'box'> {
  const match = /^(\d{1,5}):(\d{1,5})(?:\/(tcp|udp))?$/.exec(text.trim());
  const ports = match ? [Number(match[1]), Number(match[2])] : [];
  if (!match || ports.some((port) => port < 1 || port > 65_535)) {
    throw new NsboxError('E_INVALID_ARGUMENT', `forward '${text}': HOSTPORT:BOXPORT[/udp], ports 1 to 65535`, { details: { field: 'forward' } });
  }
  return { hostPort: ports[0] as number, boxPort: ports[1] as number, protocol: (match[3] as 'tcp' | 'udp' | undefined) ?? 'tcp' };
}

export const formatForward = (forward: Omit<Forward, 'box'>): string => `${forward.hostPort}:${forward.boxPort}/${forward.protocol}`;

export class Forwards {
  constructor(private readonly state: PluginStateStore) {}

  private key(forward: Pick<Forward, 'protocol' | 'hostPort'>): string {
    return `${FORWARD_KEY}${forward.protocol}:${forward.hostPort}`;
  }

  list(box?: string): Forward[] {
    return this.state
      .list(STATE_NAMESPACE, FORWARD_KEY)
      .map((entry) => JSON.parse(entry.value) as Forward)
      .filter((forward) => box === undefined || forward.box === box)
      .sort((a, b) => a.hostPort - b.hostPort || a.protocol.localeCompare(b.protocol));
  }

  add(forward: Forward): void {
    if (!this.state.claim(STATE_NAMESPACE, this.key(forward), JSON.stringify(forward))) {
      throw new NsboxError('E_ALREADY_EXISTS', `host port ${forward.hostPort}/${forward.protocol} is already forwarded`, { details: { field: 'forward' } });
    }
  }

  remove(box: string, forward: Pick<Forward, 'protocol' | 'hostPort'>): void {
    const held = this.list(box).find((candidate) => candidate.protocol === forward.protocol && candidate.hostPort === forward.hostPort);
    if (!held)
      throw new NsboxError('E_NOT_FOUND', `no forward of host port ${forward.hostPort}/${forward.protocol} to this box`, { details: { field: 'forward' } });
    this.state.delete(STATE_NAMESPACE, this.key(forward));
  }

  /** Drops every forward of the box (at destroy). */
  release(box: string): number {
    const held = this.list(box);
    for (const forward of held) this.state.delete(STATE_NAMESPACE, this.key(forward));
    return held.length;
  }
}

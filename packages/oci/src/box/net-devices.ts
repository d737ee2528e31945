/**
 * `linux.netDevices`: host network devices moved into the box's network namespace at
 * create, once the held init is in it, and renamed in the same request when the spec names
 * them (one RTM_NEWLINK with IFLA_NET_NS_PID and IFLA_IFNAME: iproute2's
 * `ip link set DEV netns PID name NAME`). The kernel drops a device's addresses when it
 * changes namespace; the permanent ones are added again inside, and a device that was up
 * is set up again, so that the device keeps what it had, as the runtime spec asks.
 */

import { spawnSync } from 'node:child_process';
import { NsboxError, type OciSpec } from '@nsbox/core';

export interface NetDeviceMove {
  /** The device's name in the runtime's network namespace. */
  host: string;
  /** Its name in the box. */
  name: string;
}

interface IpAddress {
  family: string;
  local: string;
  prefixlen: number;
  scope: string;
  dynamic?: boolean;
}

interface IpLink {
  flags: string[];
  addr_info: IpAddress[];
}

/** The moves config.json asks for, in its order (checked shape: spec-support.ts). */
export function netDeviceMoves(spec: OciSpec): NetDeviceMove[] {
  const devices = (spec.linux as { netDevices?: Record<string, { name?: string }> }).netDevices ?? {};
  return Object.entries(devices).map(([host, device]) => ({ host, name: device.name || host }));
}

function ip(args: string[], field: string, what: string, pid?: number): string {
  // In the box's network namespace through nsenter: the host's ip binary, the box's stack.
  const [command, argv] = pid === undefined ? ['ip', args] : ['nsenter', [`--net=/proc/${pid}/ns/net`, '--', 'ip', ...args]];
  const result = spawnSync(command, argv, { encoding: 'utf8' });
  if (result.status !== 0) {
    const reason = (result.stderr || result.error?.message || `exit status ${result.status}`).trim();
    throw new NsboxError('E_RUNTIME', `${field}: ${what}: ${reason}`, { details: { field } });
  }
  return result.stdout;
}

/** Moves every device into the network namespace of `pid` (the held init). */
export function moveNetDevices(moves: NetDeviceMove[], pid: number): void {
  for (const move of moves) {
    const field = `linux.netDevices.${move.host}`;
    const [link] = JSON.parse(ip(['-j', 'address', 'show', 'dev', move.host], field, 'read the device')) as IpLink[];
    if (!link) throw new NsboxError('E_RUNTIME', `${field}: no such device in the runtime's network namespace`, { details: { field } });
    // Permanent addresses of the device's own: not the kernel's link-local ones, not DHCP's or SLAAC's.
    const addresses = link.addr_info.filter(
      (address) => (address.family === 'inet' || address.family === 'inet6') && !address.dynamic && address.scope !== 'link' && address.scope !== 'host',
    );
    ip(['link', 'set', 'dev', move.host, 'netns', String(pid), 'name', move.name], field, "move it into the box's network namespace");
    for (const address of addresses) {
      ip(['address', 'add', `${address.local}/${address.prefixlen}`, 'dev', move.name], field, `add ${address.local}/${address.prefixlen} again`, pid);
    }
    if (link.flags.includes('UP')) ip(['link', 'set', 'dev', move.name, 'up'], field, 'set it up again', pid);
  }
}

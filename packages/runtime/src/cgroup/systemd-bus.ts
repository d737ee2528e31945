/**
 * The few calls of systemd's D-Bus API (org.freedesktop.systemd1.Manager) the systemd driver
 * makes, through busctl: systemd's own client, present wherever systemd is PID 1. Synchronous
 * like the rest of the cgroup drivers: each call answers within milliseconds.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { NsboxError } from '@nsbox/core';

const DESTINATION = 'org.freedesktop.systemd1';
const MANAGER_PATH = '/org/freedesktop/systemd1';
const MANAGER = 'org.freedesktop.systemd1.Manager';
// D-Bus's uint64 'infinity' for TasksMax and friends.
const UINT64_MAX = '18446744073709551615';

/** sd_booted(3): systemd is PID 1 when it made this directory. */
export function systemdIsInit(root = '/'): boolean {
  return existsSync(`${root}run/systemd/system`);
}

export function busctlAvailable(): boolean {
  return spawnSync('busctl', ['--version'], { stdio: 'ignore' }).status === 0;
}

export interface BusResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

export type BusCall = (method: string, signature: string, args: string[]) => BusResult;

/** busctl call on the system bus: its arguments are the signature then the values, flattened. */
export const busctlCall: BusCall = (method, signature, args) => {
  const result = spawnSync('busctl', ['call', '--system', '--quiet', DESTINATION, MANAGER_PATH, MANAGER, method, signature, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { ok: result.status === 0, stdout: result.stdout ?? '', stderr: (result.stderr ?? result.error?.message ?? '').trim() };
};

export interface ScopeRequest {
  unit: string;
  slice: string;
  pid: number;
  description: string;
}

/**
 * StartTransientUnit of a scope holding `pid`, with Delegate=yes (the subtree below it is
 * ours to manage, as podman, LXC and nspawn ask) and no limit of systemd's own: the box's
 * limits are written in the delegated subtree. The scope is collected once it is empty.
 */
export function startScope(call: BusCall, request: ScopeRequest): void {
  const properties: string[][] = [
    ['Description', 's', request.description],
    ['Slice', 's', request.slice],
    ['Delegate', 'b', 'true'],
    ['PIDs', 'au', '1', String(request.pid)],
    ['TasksMax', 't', UINT64_MAX],
    ['CollectMode', 's', 'inactive-or-failed'],
  ];
  const result = call('StartTransientUnit', 'ssa(sv)a(sa(sv))', [request.unit, 'fail', String(properties.length), ...properties.flat(), '0']);
  if (!result.ok) {
    throw new NsboxError('E_RUNTIME', `systemd refused to start the scope ${request.unit}: ${result.stderr}`, {
      details: { unit: request.unit, slice: request.slice },
    });
  }
}

/** StopUnit; a unit systemd does not know is already stopped. */
export function stopUnit(call: BusCall, unit: string): void {
  const result = call('StopUnit', 'ss', [unit, 'replace']);
  if (!result.ok && !/not loaded|NoSuchUnit/i.test(result.stderr)) {
    throw new NsboxError('E_RUNTIME', `systemd could not stop ${unit}: ${result.stderr}`, { details: { unit } });
  }
}

export interface UnitPropertyValue {
  name: string;
  type: string;
  value: string;
}

/**
 * SetUnitProperties for the unit's runtime (nothing written under /etc: the scope goes with
 * its box). systemd applies a scope's cgroup properties to its files before it answers.
 */
export function setUnitProperties(call: BusCall, unit: string, properties: UnitPropertyValue[]): void {
  const flat = properties.flatMap((property) => [property.name, property.type, property.value]);
  const result = call('SetUnitProperties', 'sba(sv)', [unit, 'true', String(properties.length), ...flat]);
  if (!result.ok) {
    throw new NsboxError(
      'E_RUNTIME',
      `systemd refused to set ${properties.map((property) => `${property.name}=${property.value}`).join(' ')} on ${unit}: ${result.stderr}`,
      {
        details: { unit, properties: properties.map((property) => property.name) },
      },
    );
  }
}

/**
 * Facts about this host that limits are checked against: CPUs and memory nodes that exist,
 * the rlimit ceiling of this process, its capabilities, block devices. One class, so tests
 * can hand in another host.
 */

import { existsSync, readFileSync, statSync } from 'node:fs';
import { injectable } from '@nsbox/core';
import { parseCpuList } from '@nsbox/runtime-api';
import { parseProcLimits, type RlimitName, type RlimitPair } from './rlimits.js';

/** Capability numbers from linux/capability.h. */
export const CAP_SYS_ADMIN = 21;
export const CAP_SYS_RESOURCE = 24;

export interface BlockDevice {
  /** 'major:minor' */
  id: string;
  /** A partition: throttles apply to whole disks. */
  partition: boolean;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

@injectable()
export class HostFacts {
  onlineCpus(): number[] {
    return parseCpuList(readText('/sys/devices/system/cpu/online') ?? '0');
  }

  onlineNodes(): number[] {
    // A kernel without NUMA has no node directory: node 0 is all there is.
    return parseCpuList(readText('/sys/devices/system/node/online') ?? '0');
  }

  /** The hard rlimits of this process: what it (and the launcher it spawns) can hand out. */
  rlimitCeilings(): Partial<Record<RlimitName, RlimitPair>> {
    return parseProcLimits(readText('/proc/self/limits') ?? '');
  }

  /** Limits of a process of a running box (live changes are checked against these). */
  processLimits(pid: number): Partial<Record<RlimitName, RlimitPair>> | undefined {
    const text = readText(`/proc/${pid}/limits`);
    return text === undefined ? undefined : parseProcLimits(text);
  }

  hasCapability(capability: number): boolean {
    const line = (readText('/proc/self/status') ?? '').split('\n').find((row) => row.startsWith('CapEff:'));
    if (!line) return false;
    return (BigInt(`0x${line.split(/\s+/)[1]}`) & (1n << BigInt(capability))) !== 0n;
  }

  /** A block device by path or 'major:minor'; undefined when there is no such device. */
  blockDevice(device: string): BlockDevice | undefined {
    let id = device;
    if (device.startsWith('/')) {
      let stat: ReturnType<typeof statSync>;
      try {
        stat = statSync(device);
      } catch {
        return undefined;
      }
      if (!stat.isBlockDevice()) return undefined;
      const rdev = stat.rdev;
      // glibc's encoding of dev_t (gnu_dev_major / gnu_dev_minor).
      const major = ((rdev >> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
      const minor = (rdev & 0xff) | ((rdev >> 12) & ~0xff);
      id = `${major}:${minor}`;
    }
    if (!existsSync(`/sys/dev/block/${id}`)) return undefined;
    return { id, partition: existsSync(`/sys/dev/block/${id}/partition`) };
  }
}

/**
 * The `limits` section of a box config. Human units go in, plain numbers come out (bytes,
 * counts, CPUs), so the stored config is what the drivers write. A field left out means
 * no limit. Checks that need the host (which CPUs exist, rlimit ceilings, controllers) are
 * in host-checks.ts: this schema is pure.
 */

import { z } from '@nsbox/core';
import { formatCpuList, parseCpuList } from '@nsbox/runtime-api';
import { isRlimitName, parseRlimitValue, type RlimitName, type RlimitPair, rlimitAtMost, rlimitNames } from './rlimits.js';
import { parseCount, parseCpus, parseSize } from './units.js';

/** A parser of ours wrapped as a zod type: its Error message becomes the issue's message. */
function parsed<T>(parse: (value: unknown) => T, check?: (value: T) => string | undefined) {
  return z.union([z.number(), z.string()]).transform((value, context) => {
    try {
      const result = parse(value);
      const problem = check?.(result);
      if (problem) {
        context.addIssue({ code: 'custom', message: problem });
        return z.NEVER;
      }
      return result;
    } catch (error) {
      context.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });
}

const atLeast = (minimum: number, what: string) => (value: number) => (value < minimum ? `${what} must be at least ${minimum}` : undefined);

const size = parsed(parseSize);
const positiveSize = parsed(parseSize, (bytes) => (bytes === 0 ? 'must be more than 0 (leave it out for no limit)' : undefined));
const count = (minimum: number, what: string) => parsed(parseCount, atLeast(minimum, what));

const cpuList = z.string().transform((text, context) => {
  try {
    return formatCpuList(parseCpuList(text));
  } catch (error) {
    context.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

const rlimitEntry = z.union([z.number(), z.string(), z.strictObject({ soft: z.union([z.number(), z.string()]), hard: z.union([z.number(), z.string()]) })]);

const rlimits = z.record(z.string(), rlimitEntry).transform((entries, context) => {
  const result: Partial<Record<RlimitName, RlimitPair>> = {};
  for (const [name, entry] of Object.entries(entries)) {
    if (!isRlimitName(name)) {
      context.addIssue({ code: 'custom', path: [name], message: `unknown rlimit '${name}' (one of: ${Object.keys(rlimitNames).join(', ')})` });
      continue;
    }
    try {
      const pair =
        typeof entry === 'object'
          ? { soft: parseRlimitValue(name, entry.soft), hard: parseRlimitValue(name, entry.hard) }
          : { soft: parseRlimitValue(name, entry), hard: parseRlimitValue(name, entry) };
      if (!rlimitAtMost(pair.soft, pair.hard)) throw new Error(`soft limit ${pair.soft} is above the hard limit ${pair.hard}`);
      result[name] = pair;
    } catch (error) {
      context.addIssue({ code: 'custom', path: [name], message: (error as Error).message });
    }
  }
  return result;
});

const DEVICE = /^(\/.+|\d+:\d+)$/;

const ioEntry = z
  .strictObject({
    device: z.string().regex(DEVICE, "must be a block device path such as /dev/vda, or 'major:minor' such as 254:0"),
    readBps: positiveSize.optional(),
    writeBps: positiveSize.optional(),
    readIops: count(1, 'an IOPS limit').optional(),
    writeIops: count(1, 'an IOPS limit').optional(),
  })
  .refine((entry) => [entry.readBps, entry.writeBps, entry.readIops, entry.writeIops].some((value) => value !== undefined), {
    message: 'give at least one of readBps, writeBps, readIops, writeIops',
  });

/** The smallest filesystem image that still holds a box and its metadata. */
export const MIN_DISK_BYTES = 16 * 2 ** 20;

export const limitsConfigSchema = z
  .strictObject({
    /** A fraction of CPUs (cpu.max / cfs quota): 0.5 = half of one CPU, 1.5 = one and a half. */
    cpus: parsed(parseCpus).optional(),
    /** Relative CPU weight when CPUs are contended, 1-10000 (100 = default; v1 cpu.shares scaled). */
    cpuWeight: count(1, 'cpuWeight')
      .refine((value) => value <= 10_000, 'cpuWeight must be at most 10000')
      .optional(),
    /** CPUs the box may run on ('0-1', '0,2'). */
    cpuset: cpuList.optional(),
    /** Memory nodes the box may allocate from ('0'). */
    cpusetMems: cpuList.optional(),
    /** Hard memory limit: above it the box reclaims, then its biggest process is OOM-killed. */
    memory: parsed(parseSize, atLeast(2 ** 20, 'memory')).optional(),
    /** Throttle point (v2 memory.high; v1 soft limit, which only acts under host pressure). */
    memoryHigh: positiveSize.optional(),
    /** Swap the box may use on top of memory (0 = none). */
    swap: size.optional(),
    /** Most processes and threads the box may have at once. */
    pids: count(1, 'pids').optional(),
    /** Per-name soft and hard rlimits, set on the box's init (and live with prlimit). */
    rlimits: rlimits.optional(),
    /** Throttles per block device. */
    io: z.array(ioEntry).optional(),
    /** Disk space of the box's root filesystem. */
    disk: parsed(parseSize, atLeast(MIN_DISK_BYTES, 'disk')).optional(),
    /** Inodes (files) of the box's root filesystem; needs `disk`. */
    inodes: count(64, 'inodes').optional(),
    /** The pool (`nsbox pool create`) the box's disk image lives in; default 'default'. */
    pool: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a pool name: lowercase letters, digits and -')
      .optional(),
  })
  .superRefine((config, context) => {
    if (config.inodes !== undefined && config.disk === undefined) {
      context.addIssue({ code: 'custom', path: ['inodes'], message: 'an inode limit needs a disk limit (the box gets its own filesystem)' });
    }
    if (config.memoryHigh !== undefined && config.memory !== undefined && config.memoryHigh > config.memory) {
      context.addIssue({ code: 'custom', path: ['memoryHigh'], message: 'memoryHigh above memory would never act: make it at most memory' });
    }
    const devices = (config.io ?? []).map((entry) => entry.device);
    for (const [index, device] of devices.entries()) {
      if (devices.indexOf(device) !== index) context.addIssue({ code: 'custom', path: ['io', index, 'device'], message: `device ${device} is listed twice` });
    }
  });

export type LimitsConfig = z.output<typeof limitsConfigSchema>;
export type IoLimit = NonNullable<LimitsConfig['io']>[number];

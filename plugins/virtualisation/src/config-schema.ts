/**
 * The `virtualisation` section of a box config. Defaults reach every box without a section:
 * its own sysinfo and its own time namespace; the kernel strings are the host's unless set.
 */

import { dnsName, z } from '@nsbox/core';
import { bootFields } from './boot-schema.js';
import { powerFields } from './power-schema.js';

/** `6.1.0`, `6.1.0-18-amd64`, `5.15.0+nsbox`: what software that checks the release parses. */
const releasePattern = /^\d+\.\d+(\.\d+)?([-+.~_][A-Za-z0-9._+~-]*)?$/;
/** What fits a `struct utsname` field: 64 bytes of printable ASCII (and its NUL). */
const utsText = /^[\x20-\x7e]{1,64}$/;

export const kernelSchema = z.strictObject({
  release: z
    .string()
    .max(64, 'must be at most 64 characters (a utsname field)')
    .regex(releasePattern, "must look like a kernel release: MAJOR.MINOR[.PATCH][-suffix], such as '6.1.0-18-amd64'"),
  version: z.string().regex(utsText, "must be 1 to 64 printable ASCII characters, such as '#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1'").optional(),
});

export const virtualisationConfigSchema = z.strictObject({
  /** The box's domain name (its UTS namespace, `domainname`); its host name is the core's `hostname`. */
  domainname: dnsName.optional(),
  /** What `uname -r` and `uname -v` say in the box (seccomp user-notify on uname). */
  kernel: kernelSchema.optional(),
  /** sysinfo(2) from the box's own limits, usage, processes and start (seccomp user-notify). */
  sysinfo: z.boolean().default(true),
  /** /proc/meminfo, cpuinfo, stat, loadavg, swaps, diskstats, cpu/online from the box's own limits and load (its own FUSE server). */
  procViews: z.boolean().default(true),
  /** The box's own kernel log: dmesg, /dev/kmsg and syslog(2) show its lines only (its own FUSE server and notify helper). */
  kernelLog: z.boolean().default(true),
  /** quotactl in the box answered by nsbox (refused with its reason on a kernel without quota support); false leaves it to the seccomp profile. */
  quota: z.boolean().default(true),
  /** A time namespace: /proc/uptime, process start times and CLOCK_BOOTTIME count from the box's start. */
  timeNamespace: z.boolean().default(true),
  /** Reboot and halt from inside, restarts in a row (power-schema.ts). */
  ...powerFields,
  /** The init environment: systemd's, or none (boot-schema.ts). */
  ...bootFields,
});

export type VirtualisationConfig = z.infer<typeof virtualisationConfigSchema>;
export type KernelIdentity = z.infer<typeof kernelSchema>;

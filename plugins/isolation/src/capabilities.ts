/** Linux capability names and the set a box gets by default. */

/** Every capability of Linux 6.18, in number order (CAP_CHOWN is 0). */
export const allCapabilities = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
] as const;

const known: ReadonlySet<string> = new Set(allCapabilities);

/** Docker's default set: what a box's root keeps unless its config adds or drops some. */
export const defaultCapabilities = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** `net_admin`, `NET_ADMIN` and `CAP_NET_ADMIN` all name CAP_NET_ADMIN; `ALL` stays `ALL`. */
export function normaliseCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL') return upper;
  return upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}

export function isKnownCapability(name: string): boolean {
  const normal = normaliseCapability(name);
  return normal === 'ALL' || known.has(normal);
}

/** The box's capability set: `start`, then `drop` (ALL empties it), then `add` (ALL fills it). */
export function effectiveCapabilities(start: readonly string[], add: readonly string[], drop: readonly string[]): string[] {
  const dropped = new Set(drop.map(normaliseCapability));
  const added = add.map(normaliseCapability);
  const result = new Set(dropped.has('ALL') ? [] : start.filter((cap) => !dropped.has(cap)));
  for (const cap of added.includes('ALL') ? allCapabilities : added) result.add(cap);
  // In capability-number order, so that the spec (and `nsbox info`) reads the same every time.
  return allCapabilities.filter((cap) => result.has(cap));
}

/**
 * Which of a box's mounts criu must be told are the host's. A box's mount namespace holds its
 * own filesystems (proc, sysfs, tmpfs, devpts, mqueue) and binds of host files — device nodes
 * bound from the host's devtmpfs, masks bound from /dev/null, volumes. criu can save the
 * first; a bind of a host file it can only name (`--external mnt[DEST]:KEY` on dump) and
 * have bound again from the host path on restore (`mnt[KEY]:PATH`).
 */

export interface MountEntry {
  id: number;
  parent: number;
  /** major:minor of the filesystem. */
  device: string;
  /** The path inside the filesystem this mount shows. */
  root: string;
  mountPoint: string;
  fsType: string;
}

/** Octal escapes of /proc/PID/mountinfo (`\040` for a space). */
function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

export function parseMountinfo(text: string): MountEntry[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const fields = line.split(' ');
      const separator = fields.indexOf('-');
      return {
        id: Number(fields[0]),
        parent: Number(fields[1]),
        device: fields[2] ?? '',
        root: unescapeOctal(fields[3] ?? ''),
        mountPoint: unescapeOctal(fields[4] ?? ''),
        fsType: fields[separator + 1] ?? '',
      };
    });
}

function joinPath(base: string, rest: string): string {
  if (rest === '/' || rest === '') return base;
  return `${base === '/' ? '' : base}${rest}`;
}

/**
 * The box's mounts whose filesystem the box does not mount whole (no mount of that device
 * with root `/` in the box), except the box's root itself (criu's `--root`): binds of the
 * host's files. Each gets its host path from a host mount of the same device whose root
 * contains it.
 */
export function hostBinds(box: MountEntry[], host: MountEntry[]): { destination: string; source: string }[] {
  const rootMount = box.find((entry) => entry.mountPoint === '/');
  const wholeInBox = new Set(box.filter((entry) => entry.root === '/').map((entry) => entry.device));
  const binds: { destination: string; source: string }[] = [];
  for (const entry of box) {
    if (entry === rootMount || wholeInBox.has(entry.device)) continue;
    const hostMount = host
      .filter(
        (candidate) =>
          candidate.device === entry.device && (entry.root === candidate.root || entry.root.startsWith(`${candidate.root === '/' ? '' : candidate.root}/`)),
      )
      .sort((a, b) => b.root.length - a.root.length)[0];
    if (!hostMount) continue; // not reachable from the host: criu reports it, named
    const inside = hostMount.root === '/' ? entry.root : entry.root.slice(hostMount.root.length);
    binds.push({ destination: entry.mountPoint, source: joinPath(hostMount.mountPoint, inside) });
  }
  return binds;
}

/**
 * The box's /proc views: FUSE mounts (bound over `/proc/meminfo`, `/sys/devices/system/cpu/online`,
 * ...) of a connection its shim holds, which criu cannot save. Each is external at the dump and
 * comes back as a bind of the host's own file at the same path (the kernel's text, what a box
 * without views reads), over which the restore's new view server binds its views again.
 */
export function viewMounts(box: MountEntry[]): { destination: string; source: string }[] {
  return box
    .filter((entry) => entry.fsType === 'fuse' || entry.fsType.startsWith('fuse.'))
    .filter((entry) => entry.mountPoint.startsWith('/proc/') || entry.mountPoint.startsWith('/sys/'))
    .map((entry) => ({ destination: entry.mountPoint, source: entry.mountPoint }));
}

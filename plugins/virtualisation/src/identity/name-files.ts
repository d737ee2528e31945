/**
 * A box's names in its own files, /etc/hostname and /etc/hosts, read and written beneath its
 * rootfs with no symlink followed (native readFileInRoot/writeFileInRoot). Written when the
 * names are set live; the names written are kept in the plugin state, so that a start after
 * a change made while the box was stopped brings the files in line (a booting systemd takes
 * its host name from /etc/hostname). A box whose files nsbox never wrote is left as it is.
 */

import type { Box, OciSpec, PluginStateStore } from '@nsbox/core';
import { native } from '@nsbox/native';
import { boxRoot } from '@nsbox/runtime-api';
import { type BoxNames, renameInHosts } from './hosts-file.js';

const NAMESPACE = 'box-names';
/** What the kernel calls a UTS namespace's missing domain name (`domainname` prints it). */
export const NO_DOMAIN = '(none)';
/** /etc/hosts larger than this is not a hosts file nsbox rewrites. */
const HOSTS_MAX = 1 << 20;

/** True when the box gets a UTS namespace of its own (not one it joins by path): its names are its own to set. */
export function ownsUtsNamespace(spec: Pick<OciSpec, 'linux'>): boolean {
  return spec.linux.namespaces.some((namespace) => namespace.type === 'uts' && !namespace.path);
}

export function boxNames(box: Pick<Box, 'name' | 'config'>): BoxNames {
  const section = box.config.virtualisation as { domainname?: string } | undefined;
  return { hostname: box.config.hostname ?? box.name, domainname: section?.domainname };
}

/** What changed in the box's files; a file the box made unwritable (a symlinked /etc) is reported, not fatal. */
export interface FilesOutcome {
  written: string[];
  skipped?: string;
}

const same = (a: BoxNames, b: BoxNames) => a.hostname === b.hostname && (a.domainname ?? null) === (b.domainname ?? null);

export class BoxNameFiles {
  constructor(private readonly state: PluginStateStore) {}

  /** Renames the box in its files, from the names it had to these. */
  update(box: Pick<Box, 'id'>, rootfs: string, from: BoxNames, to: BoxNames): FilesOutcome {
    try {
      native().writeFileInRoot(rootfs, 'etc/hostname', `${to.hostname}\n`, 0o644);
      const hosts = native().readFileInRoot(rootfs, 'etc/hosts', HOSTS_MAX)?.toString('utf8') ?? '';
      const next = renameInHosts(hosts, from, to);
      if (next !== hosts) native().writeFileInRoot(rootfs, 'etc/hosts', next, 0o644);
      this.state.set(NAMESPACE, box.id, JSON.stringify(to));
      return { written: next !== hosts ? ['/etc/hostname', '/etc/hosts'] : ['/etc/hostname'] };
    } catch (error) {
      return { written: [], skipped: (error as Error).message };
    }
  }

  /** The names last written into the box's files, when they are not its names now. */
  private stale(box: Pick<Box, 'id' | 'name' | 'config'>): BoxNames | undefined {
    const stored = this.state.get(NAMESPACE, box.id);
    if (!stored) return undefined;
    const written = JSON.parse(stored) as BoxNames;
    return same(written, boxNames(box)) ? undefined : written;
  }

  /** Whether the next start has names to bring into the box's files. */
  pendingAtStart(box: Pick<Box, 'id' | 'name' | 'config'>): boolean {
    return this.stale(box) !== undefined;
  }

  /** At a start (the wire moment: the rootfs is the box's, its init not yet run). */
  atStart(box: Pick<Box, 'id' | 'name' | 'config' | 'runtime'>): FilesOutcome | undefined {
    const written = this.stale(box);
    const rootfs = boxRoot(box);
    return written && rootfs ? this.update(box, rootfs, written, boxNames(box)) : undefined;
  }

  forget(boxId: string): void {
    this.state.delete(NAMESPACE, boxId);
  }
}

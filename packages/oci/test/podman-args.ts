/** podman's command lines as the tests and bench/oci use them: storage of their own, no systemd. */

import { join } from 'node:path';

/** Global flags: storage, run state and temp files under `work`, cgroupfs, file events. */
export function podmanGlobalArgs(work: string): string[] {
  return [
    '--root',
    join(work, 'storage'),
    '--runroot',
    join(work, 'run'),
    '--tmpdir',
    join(work, 'tmp'),
    '--storage-driver',
    'vfs',
    '--cgroup-manager',
    'cgroupfs',
    '--events-backend',
    'file',
  ];
}

/** `podman run --rm` under a cgroup parent of the caller's, with no network and the ulimits root may set here. */
export function podmanRunArgs(cgroupParent: string, options: string[], image: string, command: string[]): string[] {
  return [
    'run',
    '--rm',
    '--cgroup-parent',
    `/${cgroupParent}`,
    '--network',
    'none',
    '--ulimit',
    'nofile=1024:1024',
    '--ulimit',
    'nproc=4096:4096',
    ...options,
    image,
    ...command,
  ];
}

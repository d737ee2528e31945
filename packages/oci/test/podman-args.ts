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

/** `podman run` flags: a cgroup parent of the caller's, no network, the ulimits root may set here. */
export function podmanBoxFlags(cgroupParent: string): string[] {
  return ['--cgroup-parent', `/${cgroupParent}`, '--network', 'none', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096'];
}

/** `podman run --rm` with those flags. */
export function podmanRunArgs(cgroupParent: string, options: string[], image: string, command: string[]): string[] {
  return ['run', '--rm', ...podmanBoxFlags(cgroupParent), ...options, image, ...command];
}

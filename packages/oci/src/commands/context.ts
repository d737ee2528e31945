/** What every runc command gets: the state root, its caller, the log and the global flags. */

import { renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { RuncLog } from '../log.js';
import type { OciRuntime } from '../oci-runtime.js';
import type { CallerPort } from '../server/front-session.js';

export interface CommandContext {
  runtime: OciRuntime;
  caller: CallerPort;
  log: RuncLog;
  /** The caller's working directory: relative paths (--bundle, --pid-file) are resolved there. */
  cwd: string;
  /** --systemd-cgroup: cgroupsPath is systemd's slice:prefix:name, each box a scope. */
  systemdCgroup?: boolean;
}

export function stdout(context: CommandContext, text: string): void {
  context.caller.out(1, text);
}

/** A pid file as runc writes it: the number alone, replaced atomically. */
export function writePidFile(context: CommandContext, file: string, pid: number): void {
  const path = resolve(context.cwd, file);
  const temporary = join(dirname(path), `.${process.pid}.${Date.now()}.pid.tmp`);
  writeFileSync(temporary, String(pid), { mode: 0o644 });
  renameSync(temporary, path);
}

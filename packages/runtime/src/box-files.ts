/** The files a box keeps on the host, under <state-dir>/boxes/<box id>/. */

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BoxExit {
  exitCode?: number;
  signal?: number;
  at?: number;
}

export class BoxFiles {
  constructor(readonly dir: string) {}

  get rootfs(): string {
    return join(this.dir, 'rootfs');
  }
  get consoleLog(): string {
    return join(this.dir, 'console.log');
  }
  get exitFile(): string {
    return join(this.dir, 'exit.json');
  }
  get shimPidFile(): string {
    return join(this.dir, 'shim.pid');
  }
  get specFile(): string {
    return join(this.dir, 'config.json');
  }

  exit(): BoxExit | undefined {
    if (!existsSync(this.exitFile)) return undefined;
    try {
      return JSON.parse(readFileSync(this.exitFile, 'utf8')) as BoxExit;
    } catch {
      return undefined; // being written: the shim renames it into place atomically
    }
  }
}

/** Exit status the way shells report it: the code, or 128 + the signal. */
export function exitStatus(exit: BoxExit | undefined): number | undefined {
  if (!exit) return undefined;
  if (exit.signal !== undefined) return 128 + exit.signal;
  return exit.exitCode;
}

/**
 * Notices a box's init ending the moment its shim renames `exit.json` into the box's
 * directory: inotify (through fs.watch) on the boxes directory, to see new box directories,
 * and on each box's directory. The resident agent calls the core's `sync` from `onExit`.
 *
 * inotify can miss what happened before a watch began and drops events when its queue
 * overflows, and a shim that was killed writes no file at all: the agent's periodic sweep
 * is the safety net, this is what makes the common case immediate.
 */

import { existsSync, type FSWatcher, mkdirSync, readdirSync, statSync, watch } from 'node:fs';
import { join } from 'node:path';

/** The file the shim writes (by rename) once it reaped the box's init. */
export const EXIT_FILE = 'exit.json';

export interface ExitWatchOptions {
  /** The directory holding one directory per box, named by the box's id. */
  boxesDir: string;
  /** The init of box `boxId` ended: its exit.json is in place. */
  onExit(boxId: string): void;
  /** A directory could not be watched (gone, no inotify watch left): the sweep covers it. */
  onError?(boxId: string | undefined, error: Error): void;
}

export class ExitWatch {
  private readonly boxes = new Map<string, FSWatcher>();
  private root: FSWatcher | undefined;
  private closed = false;

  constructor(private readonly options: ExitWatchOptions) {}

  /** Watches the boxes directory and every box directory in it. */
  start(): void {
    mkdirSync(this.options.boxesDir, { recursive: true, mode: 0o700 });
    this.root = watch(this.options.boxesDir, { persistent: false }, (_event, name) => {
      if (typeof name === 'string') this.discovered(name);
    });
    this.root.on('error', (error) => this.options.onError?.(undefined, error));
    for (const name of readdirSync(this.options.boxesDir)) this.discovered(name);
  }

  /** Whether box `boxId`'s init has ended (its exit.json exists). */
  hasExited(boxId: string): boolean {
    return existsSync(join(this.options.boxesDir, boxId, EXIT_FILE));
  }

  /** The boxes whose directories are watched. */
  watched(): string[] {
    return [...this.boxes.keys()];
  }

  close(): void {
    this.closed = true;
    this.root?.close();
    for (const watcher of this.boxes.values()) watcher.close();
    this.boxes.clear();
  }

  /** A name appeared in (or vanished from) the boxes directory. */
  private discovered(boxId: string): void {
    if (this.closed || boxId.startsWith('.')) return;
    const dir = join(this.options.boxesDir, boxId);
    if (!isDirectory(dir)) {
      this.forget(boxId);
      return;
    }
    if (this.boxes.has(boxId)) return;
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, { persistent: false }, (_event, name) => {
        // Renames of the shim's temporary file and start's removal of a stale file come too.
        if (name === EXIT_FILE && this.hasExited(boxId)) this.options.onExit(boxId);
      });
    } catch (error) {
      this.options.onError?.(boxId, error as Error);
      return;
    }
    // The directory was removed (a destroyed box): its watch ends with it.
    watcher.on('error', (error) => {
      this.forget(boxId);
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.options.onError?.(boxId, error);
    });
    watcher.on('close', () => {
      if (this.boxes.get(boxId) === watcher) this.boxes.delete(boxId);
    });
    this.boxes.set(boxId, watcher);
    // An init that ended before the watch began left its file already.
    if (this.hasExited(boxId)) this.options.onExit(boxId);
  }

  private forget(boxId: string): void {
    const watcher = this.boxes.get(boxId);
    if (!watcher) return;
    this.boxes.delete(boxId);
    watcher.close();
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

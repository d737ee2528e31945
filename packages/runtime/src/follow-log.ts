/** Follows a box's console log as it grows (logs -f, run), stopping once `done` says so. */

import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';

export interface FollowOptions {
  from?: 'start' | 'end';
  intervalMs?: number;
  signal?: AbortSignal;
}

export async function followLog(file: string, onData: (chunk: Buffer) => void, done: () => boolean, options: FollowOptions = {}): Promise<void> {
  let offset = options.from === 'end' && existsSync(file) ? statSync(file).size : 0;
  const buffer = Buffer.alloc(64 * 1024);
  const drain = () => {
    if (!existsSync(file)) return;
    const size = statSync(file).size;
    if (size < offset) offset = 0; // rotated: the shim started a new file
    if (size === offset) return;
    const fd = openSync(file, 'r');
    try {
      for (;;) {
        const read = readSync(fd, buffer, 0, buffer.length, offset);
        if (read <= 0) break;
        offset += read;
        onData(Buffer.from(buffer.subarray(0, read)));
      }
    } finally {
      closeSync(fd);
    }
  };
  for (;;) {
    const finished = done() || options.signal?.aborted === true;
    drain();
    if (finished) return;
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}

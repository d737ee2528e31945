/**
 * The runtime's side of the launcher's `hold` (native/src/launcher-hold.c), for nsbox's own
 * boxes (after the wire moment) and nsbox-runc's `start`: connect to the
 * socket the held init listens on, and read until the connection closes. Nothing means
 * the user's program was exec'd (the connection is close-on-exec); one `STEP ERRNO MESSAGE`
 * line means the startContainer hooks, the seccomp load or the exec failed. The init is the
 * box's: at most ANSWER_LIMIT bytes are read and only that format is used in an error.
 */

import { closeSync, constants, openSync } from 'node:fs';
import { connect } from 'node:net';
import { basename, dirname } from 'node:path';
import { NsboxError } from '@nsbox/core';

const ANSWER_LIMIT = 4096 + 256;

function startError(message: string, step = 'start', errno = 0): NsboxError {
  return new NsboxError('E_RUNTIME', message, { details: { step, errno } });
}

/** Printable ASCII only, and not too much of it: the message goes to the caller's terminal and logs. */
function printable(text: string, limit = 1024): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > limit ? `${clean.slice(0, limit)}...` : clean;
}

/** A unix socket path longer than sun_path is reached through an fd of its directory. */
function withShortPath<T>(path: string, use: (short: string) => Promise<T>): Promise<T> {
  if (Buffer.byteLength(path) < 108) return use(path);
  const dir = openSync(dirname(path), constants.O_RDONLY | constants.O_DIRECTORY);
  return use(`/proc/self/fd/${dir}/${basename(path)}`).finally(() => closeSync(dir));
}

/** Lets the held init exec the user's program; throws what it reported, or that it is gone. */
export function releaseInit(socketPath: string): Promise<void> {
  return withShortPath(
    socketPath,
    (path) =>
      new Promise<void>((resolve, reject) => {
        const chunks: Buffer[] = [];
        let length = 0;
        const socket = connect(path);
        socket.on('data', (chunk: Buffer) => {
          length += chunk.length;
          if (length > ANSWER_LIMIT) {
            socket.destroy();
            reject(startError(`the box's init wrote more than ${ANSWER_LIMIT} bytes at start`));
            return;
          }
          chunks.push(chunk);
        });
        socket.on('error', (error: NodeJS.ErrnoException) => {
          if (error.code === 'ECONNREFUSED' || error.code === 'ENOENT') reject(startError("the box's init exited before start"));
          else reject(startError(`start: ${error.message}`));
        });
        socket.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8').trim();
          if (text === '') {
            resolve();
            return;
          }
          const match = /^(\S+) (\d{1,4}) ([^\n]*)$/.exec(text);
          if (!match) reject(startError(`the box's init gave an answer that is not the launcher's (${text.length} bytes)`));
          else reject(startError(printable(`${match[1]}: ${match[3]}`), match[1], Number(match[2])));
        });
      }),
  );
}

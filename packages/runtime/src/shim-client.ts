/** Talks to a box's shim over its control socket (native/PROTOCOL.md §2). */

import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';

export function shimSocketPath(boxDir: string): string {
  return join(boxDir, 'shim.sock');
}

/** Sends one command line and returns the shim's one-line answer. */
export function shimRequest(boxDir: string, command: string, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(shimSocketPath(boxDir));
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`shim did not answer '${command}' within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${command}\n`));
    socket.on('data', (chunk: string) => {
      answer += chunk;
      if (answer.includes('\n')) {
        clearTimeout(timer);
        socket.end();
        resolve(answer.split('\n')[0] as string);
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('end', () => {
      clearTimeout(timer);
      resolve(answer.trim());
    });
  });
}

/** Opens an attach stream: box output arrives on the socket, what is written goes to its stdin. */
export function shimAttach(boxDir: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(shimSocketPath(boxDir));
    socket.once('connect', () => {
      socket.write('attach\n');
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/**
 * `nsbox console`: the box's console is the pty its shim holds (a box with a terminal, such as
 * a systemd box). The shim relays one attached client on `<box dir>/console.sock`: output as
 * the box writes it (the log keeps it too), input to the box's terminal.
 */

import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { type Box, NsboxError } from '@nsbox/core';
import type { LinuxBoxDriver } from './linux-driver.js';

export const CONSOLE_SOCKET_FILE = 'console.sock';

/** Connects to the running box's console; E_INVALID_STATE when it has none. */
export async function attachConsole(driver: LinuxBoxDriver, box: Box): Promise<Socket> {
  const path = join(driver.boxDir(box), CONSOLE_SOCKET_FILE);
  if (box.state !== 'running' || !existsSync(path)) {
    throw new NsboxError(
      'E_INVALID_STATE',
      `box '${box.name}' has no console to attach to: it is ${box.state}${box.state === 'running' ? ' without a terminal (process.terminal)' : ''}`,
      {
        details: { box: box.name, state: box.state },
      },
    );
  }
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('connect', () => resolve(socket));
    socket.once('error', (error) =>
      reject(new NsboxError('E_RUNTIME', `cannot attach to the console of box '${box.name}': ${error.message}`, { cause: error })),
    );
  });
}

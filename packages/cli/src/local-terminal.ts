/** `nsbox exec`/`enter` on this process's terminal in local mode: the launcher gets it itself. */

import type { NsboxHost } from '@nsbox/host';
import { execEnvironment, execInBox } from '@nsbox/runtime';
import { linuxDriver } from './linux-box-io.js';
import type { BoxTerminal } from './terminal.js';

export function localTerminal(host: NsboxHost): BoxTerminal {
  return {
    async run(idOrName, request) {
      const box = await host.manager.sync(idOrName);
      const env = execEnvironment(box, request.env);
      const { exitCode } = await execInBox(linuxDriver(host), box, {
        args: request.command,
        tty: request.tty,
        stdio: 'inherit',
        ...(env ? { env } : {}),
        ...(request.cwd ? { cwd: request.cwd } : {}),
        ...(request.user ? { user: request.user } : {}),
      });
      return { exitCode };
    },
  };
}

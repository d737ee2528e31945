/** The CLI's side of a box's processes and console in local mode, on the Linux runtime. */

import type { Box, ExecRequest } from '@nsbox/core';
import { NsboxError } from '@nsbox/core/light';
import { type BoxIo, chunkStream, type NsboxHost } from '@nsbox/host';
import { execEnvironment, execInBox, followLog, LinuxBoxDriver } from '@nsbox/runtime';

export function linuxDriver(host: NsboxHost): LinuxBoxDriver {
  if (host.driver instanceof LinuxBoxDriver) return host.driver;
  throw new NsboxError('E_UNSUPPORTED', 'this host has no Linux box driver');
}

export function linuxBoxIo(driver: LinuxBoxDriver): BoxIo {
  return {
    async exec(box: Box, request: ExecRequest) {
      const env = execEnvironment(box, request.env);
      return execInBox(driver, box, {
        args: request.command,
        stdio: 'pipe',
        input: request.stdin ?? '',
        ...(env ? { env } : {}),
        ...(request.cwd ? { cwd: request.cwd } : {}),
        ...(request.user ? { user: request.user } : {}),
      });
    },
    logs: (box) => driver.logs(box),
    followLogs(box, options) {
      const running = box.state === 'running' || box.state === 'paused';
      return chunkStream(
        (push, signal) =>
          followLog(driver.files(box).consoleLog, push, () => !running || driver.exit(box) !== undefined, {
            signal,
            ...(options.fromEnd ? { from: 'end' as const } : {}),
          }),
        options.signal,
      );
    },
    lastExit: (box) => driver.exit(box),
  };
}

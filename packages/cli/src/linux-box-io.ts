/** The CLI's side of a box's processes and console in local mode, on the Linux runtime. */

import type { Box, ExecRequest, OciSpec } from '@nsbox/core';
import { type BoxIo, chunkStream } from '@nsbox/host';
import { execInBox, followLog, type LinuxBoxDriver } from '@nsbox/runtime';

/** The box's own environment with the request's variables on top. */
export function execEnvironment(box: Box, env: Record<string, string> | undefined): string[] | undefined {
  if (!env) return undefined;
  const own = (box.runtime.spec as OciSpec | undefined)?.process.env ?? [];
  return [...own, ...Object.entries(env).map(([key, value]) => `${key}=${value}`)];
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

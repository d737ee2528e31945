/**
 * nsboxd's side of a box's processes and console for the application layer: captured exec
 * with a deadline and an output cap (callers may be tenants), and the console log, followed
 * until the box stops.
 */

import type { Box, ExecOutput, ExecRequest, FollowLogsOptions } from '@nsbox/core';
import { type BoxIo, chunkStream } from '@nsbox/host';
import { followLog, type LinuxBoxDriver } from '@nsbox/runtime';
import { spawnInBox } from './box-process.js';

/** Captured output beyond this is dropped (the result says so). */
const OUTPUT_LIMIT = 16 * 1024 * 1024;
const DEFAULT_TIMEOUT_S = 300;

function capture(stream: NodeJS.ReadableStream): { text: () => string; truncated: () => boolean } {
  const chunks: Buffer[] = [];
  let size = 0;
  let dropped = false;
  stream.on('data', (chunk: Buffer) => {
    if (size + chunk.length > OUTPUT_LIMIT) {
      dropped = true;
      chunk = chunk.subarray(0, Math.max(0, OUTPUT_LIMIT - size));
    }
    size += chunk.length;
    if (chunk.length > 0) chunks.push(chunk);
  });
  return { text: () => Buffer.concat(chunks).toString('utf8'), truncated: () => dropped };
}

async function exec(driver: LinuxBoxDriver, box: Box, request: ExecRequest): Promise<ExecOutput> {
  const process = spawnInBox(driver, box, {
    command: request.command,
    ...(request.env ? { env: request.env } : {}),
    ...(request.cwd ? { cwd: request.cwd } : {}),
    ...(request.user ? { user: request.user } : {}),
  });
  const stdout = capture(process.stdout);
  const stderr = capture(process.stderr);
  process.stdin.end(request.stdin ?? '');
  const timer = setTimeout(() => process.kill(), (request.timeout ?? DEFAULT_TIMEOUT_S) * 1000);
  try {
    const exitCode = await process.exited;
    return {
      exitCode,
      stdout: stdout.text(),
      stderr: stderr.text(),
      ...(stdout.truncated() || stderr.truncated() ? { truncated: true } : {}),
    };
  } finally {
    clearTimeout(timer);
  }
}

function followLogs(driver: LinuxBoxDriver, box: Box, options: FollowLogsOptions): AsyncIterable<Uint8Array> {
  const running = box.state === 'running' || box.state === 'paused';
  return chunkStream(
    (push, signal) =>
      followLog(driver.files(box).consoleLog, push, () => !running || driver.exit(box) !== undefined, {
        signal,
        intervalMs: 100,
        ...(options.fromEnd ? { from: 'end' as const } : {}),
      }),
    options.signal,
  );
}

export function daemonBoxIo(driver: LinuxBoxDriver): BoxIo {
  return {
    exec: (box, request) => exec(driver, box, request),
    logs: (box) => driver.logs(box),
    followLogs: (box, options) => followLogs(driver, box, options),
    lastExit: (box) => driver.exit(box),
  };
}

/**
 * What a box's processes and console offer the application layer: the box driver's side of
 * exec and logs. The core knows no Linux, so the face that opens the host hands it over (the
 * CLI and nsboxd build one on the Linux runtime); without one, those calls are unsupported.
 */

import type { Box, ExecOutput, ExecRequest, FollowLogsOptions } from '@nsbox/core';

export interface BoxIo {
  /** Runs a command in a running box, output captured. */
  exec(box: Box, request: ExecRequest): Promise<ExecOutput>;
  /** The console output so far. */
  logs(box: Box): string | Promise<string>;
  /** The console output from the start (or its end), then as it comes, until the box stops or `signal` aborts. */
  followLogs(box: Box, options: FollowLogsOptions): AsyncIterable<Uint8Array>;
  /** What the box's supervisor recorded when its init last exited (undefined: it has not). */
  lastExit(box: Box): unknown;
}

/**
 * Turns a producer that pushes chunks as they come (a log follower) into an async iterable.
 * The producer's signal aborts when the consumer stops early or `signal` aborts.
 */
export async function* chunkStream(
  produce: (push: (chunk: Uint8Array) => void, signal: AbortSignal) => Promise<void>,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) controller.abort();
  const queue: Uint8Array[] = [];
  let wake: (() => void) | undefined;
  let finished = false;
  let failure: unknown;
  const notify = () => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  produce((chunk) => {
    queue.push(chunk);
    notify();
  }, controller.signal).then(
    () => {
      finished = true;
      notify();
    },
    (error: unknown) => {
      failure = error ?? new Error('the stream failed');
      finished = true;
      notify();
    },
  );
  try {
    for (;;) {
      while (queue.length > 0) yield queue.shift() as Uint8Array;
      if (finished) {
        if (failure !== undefined) throw failure;
        return;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    controller.abort();
    signal?.removeEventListener('abort', onAbort);
  }
}

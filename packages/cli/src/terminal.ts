/**
 * A command in a box on the caller's own terminal (`nsbox exec` without --json, `nsbox enter`):
 * the one thing the CLI does that is not the BoxApi's, since it needs this process's stdio.
 * In local mode the launcher gets the terminal itself; through nsboxd the session is the
 * API's websocket console, with raw mode, the window size and stdin forwarded (the local
 * one is in local-terminal.ts, loaded only in local mode).
 */

import type { NsboxClient } from '@nsbox/client';

export interface TerminalRequest {
  command: string[];
  tty: boolean;
  env?: Record<string, string>;
  cwd?: string;
  user?: { uid: number; gid: number };
}

export interface BoxTerminal {
  /** Runs the command with this process's stdio; resolves with its exit status. */
  run(idOrName: string, request: TerminalRequest): Promise<{ exitCode: number }>;
}

export function remoteTerminal(client: NsboxClient): BoxTerminal {
  return {
    async run(idOrName, request) {
      const session = await client.boxes.console(idOrName, {
        ...request,
        ...(request.tty && process.stdout.rows ? { rows: process.stdout.rows, cols: process.stdout.columns } : {}),
      });
      session.stdout.pipe(process.stdout, { end: false });
      session.stderr.pipe(process.stderr, { end: false });
      const raw = request.tty && process.stdin.isTTY;
      if (raw) process.stdin.setRawMode(true);
      const onData = (chunk: Buffer) => session.write(chunk);
      const onEnd = () => session.end();
      const onResize = () => session.resize(process.stdout.rows, process.stdout.columns);
      process.stdin.on('data', onData).on('end', onEnd);
      if (request.tty) process.stdout.on('resize', onResize);
      try {
        return { exitCode: await session.exited };
      } finally {
        if (raw) process.stdin.setRawMode(false);
        process.stdin.off('data', onData).off('end', onEnd);
        process.stdout.off('resize', onResize);
        process.stdin.destroy();
      }
    },
  };
}

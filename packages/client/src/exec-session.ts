/**
 * An interactive session in a box over nsboxd's websocket (a pty by default): write what
 * the user types, read `stdout` (and `stderr` without a pty), resize, signal, and await
 * `exited` for the exit status.
 */

import { PassThrough } from 'node:stream';
import { NsboxApiError } from './errors.js';
import type { ApiErrorShape } from './types.js';
import type { WebSocketConnection } from './websocket.js';

export class ExecSession {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  /** The exit status (128+N for a signal); rejects if the session failed or was cut. */
  readonly exited: Promise<number>;

  constructor(private readonly socket: WebSocketConnection) {
    let settle: { resolve: (code: number) => void; reject: (error: Error) => void } | undefined;
    this.exited = new Promise<number>((resolve, reject) => {
      settle = { resolve, reject };
    });
    this.exited.catch(() => undefined);
    let exitCode: number | undefined;
    socket.on('message', (data, isBinary) => {
      if (isBinary) {
        const target = data[0] === 2 ? this.stderr : this.stdout;
        target.write(data.subarray(1));
        return;
      }
      const message = JSON.parse(data.toString('utf8')) as { type: string; exitCode?: number; error?: ApiErrorShape };
      if (message.type === 'exit') exitCode = message.exitCode;
      else if (message.type === 'error' && message.error) settle?.reject(new NsboxApiError(500, message.error));
    });
    socket.on('close', (code, reason) => {
      this.stdout.end();
      this.stderr.end();
      if (exitCode !== undefined) settle?.resolve(exitCode);
      else settle?.reject(new Error(`the session ended without an exit status (${code} ${reason})`));
    });
    socket.on('error', (error) => settle?.reject(error));
  }

  /** Sends input to the process. */
  write(data: string | Buffer): void {
    this.socket.send(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  }

  resize(rows: number, cols: number): void {
    this.socket.send(JSON.stringify({ type: 'resize', rows, cols }));
  }

  signal(signal: string | number): void {
    this.socket.send(JSON.stringify({ type: 'signal', signal }));
  }

  /** End of input (what Ctrl-D is on a terminal). */
  end(): void {
    this.socket.send(JSON.stringify({ type: 'eof' }));
  }

  /** Hangs up: the process gets SIGHUP. */
  close(): void {
    this.socket.close(1000, 'client closed');
  }
}

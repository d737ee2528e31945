/**
 * One call of the native front, seen from the server: its request, its stdout and stderr,
 * and the two things only the front can do in the caller's process tree — run the launcher
 * (so that the box's init is the caller's descendant) and wait for a child of its own.
 */

import type { Socket } from 'node:net';
import { NsboxError } from '@nsbox/core';
import { type ExitedMessage, encodeFrame, type FrameReader, type FrontMessage, type FrontRequest, keyValues, type SpawnedMessage } from './protocol.js';

export interface SpawnRequest {
  launcher: string;
  program: string;
  /** A pty for the box: its master goes to the console socket, or is relayed by the front. */
  tty?: boolean;
  consoleSocket?: string;
  rows?: number;
  cols?: number;
  /** The front becomes a child subreaper first, so the init ends up its child (`run`). */
  subreaper?: boolean;
  /** Join mode: the launcher stays to supervise the process. */
  join?: boolean;
  /** The caller's fds 3 … 2+N go to the launcher as 5 … 4+N (its `preserve_fds`). */
  preserveFds?: number;
}

/** What a command needs from whoever called it: the front, or a test harness. */
export interface CallerPort {
  readonly request: FrontRequest;
  out(fd: 1 | 2, text: string | Buffer): void;
  spawn(request: SpawnRequest): Promise<SpawnedMessage>;
  wait(pid: number): Promise<ExitedMessage>;
  /** Resolves when the caller went away (killed, or its connection dropped). */
  readonly gone: Promise<void>;
  readonly isGone: boolean;
}

export class FrontSession implements CallerPort {
  private waiting: ((message: FrontMessage) => void) | undefined;
  private closed = false;
  readonly gone: Promise<void>;

  private constructor(
    private readonly socket: Socket,
    readonly request: FrontRequest,
    route: { handler?: (message: FrontMessage) => void },
  ) {
    this.gone = new Promise((resolve) => {
      socket.once('close', () => {
        this.closed = true;
        resolve();
      });
    });
    route.handler = (message) => {
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting?.(message);
    };
  }

  /** Reads the request, the first message of every call. */
  static open(socket: Socket, reader: FrameReader): Promise<FrontSession> {
    return new Promise((resolve, reject) => {
      const route: { handler?: (message: FrontMessage) => void } = {};
      let session: FrontSession | undefined;
      socket.on('data', (chunk: Buffer) => {
        let frames: { type: string; body: Buffer }[];
        try {
          frames = reader.push(chunk);
        } catch (error) {
          socket.destroy();
          reject(error);
          return;
        }
        for (const frame of frames) {
          if (frame.type !== 'J') continue;
          const message = JSON.parse(frame.body.toString('utf8')) as FrontMessage;
          if (!session) {
            if (message.t !== 'request') {
              socket.destroy();
              reject(new Error('the first message of a call must be its request'));
              return;
            }
            session = new FrontSession(socket, message, route);
            resolve(session);
          } else route.handler?.(message);
        }
      });
      socket.once('error', reject);
      socket.once('close', () => reject(new Error('the caller went away before its request')));
    });
  }

  get isGone(): boolean {
    return this.closed;
  }

  out(fd: 1 | 2, text: string | Buffer): void {
    if (this.closed) return;
    const data = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    for (let offset = 0; offset < data.length || offset === 0; offset += 1 << 20) {
      this.socket.write(encodeFrame('O', Buffer.concat([Buffer.from([fd]), data.subarray(offset, offset + (1 << 20))])));
      if (data.length === 0) break;
    }
  }

  spawn(request: SpawnRequest): Promise<SpawnedMessage> {
    return this.ask(
      'S',
      keyValues({
        launcher: request.launcher,
        program: request.program,
        tty: request.tty,
        console: request.consoleSocket,
        rows: request.rows,
        cols: request.cols,
        subreaper: request.subreaper,
        join: request.join,
        preserve: request.preserveFds,
      }),
      'spawned',
    ) as Promise<SpawnedMessage>;
  }

  wait(pid: number): Promise<ExitedMessage> {
    return this.ask('W', keyValues({ pid }), 'exited') as Promise<ExitedMessage>;
  }

  exit(code: number): void {
    if (this.closed) return;
    this.socket.end(encodeFrame('X', keyValues({ code })));
  }

  private ask(type: string, body: Buffer, answer: FrontMessage['t']): Promise<FrontMessage> {
    if (this.closed) return Promise.reject(new NsboxError('E_CANCELLED', 'the caller went away'));
    return new Promise((resolve, reject) => {
      const lost = () => reject(new NsboxError('E_CANCELLED', 'the caller went away'));
      this.socket.once('close', lost);
      this.waiting = (message) => {
        this.socket.off('close', lost);
        if (message.t !== answer) reject(new Error(`expected '${answer}' from the front, got '${message.t}'`));
        else resolve(message);
      };
      this.socket.write(encodeFrame(type, body));
    });
  }
}

/** The part of the `ws` library's WebSocket that nsboxd uses (ws ships no types of its own). */

export interface WsSocket {
  readonly readyState: number;
  send(data: string | Buffer, callback?: (error?: Error) => void): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  readonly bufferedAmount: number;
}

export const WS_OPEN = 1;

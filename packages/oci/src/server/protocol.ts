/**
 * The frames between the native front (@nsbox/native: native/src/runc-front.c) and the server: u32 length
 * (little-endian, counting the type byte) + type byte + body.
 *
 *   front → server  'J' one JSON object: the request, then answers to spawn and wait
 *   server → front  'O' fd byte + bytes to write to the caller's stdout (1) or stderr (2)
 *                   'S' spawn the launcher   'W' wait for a child   'X' exit with a code
 *
 * The bodies of S, W and X are NUL-terminated key=value strings: trivial to read in C.
 */

export interface FrontRequest {
  t: 'request';
  argv: string[];
  cwd: string;
  env: string[];
  /** isatty() of the caller's fd 0, 1, 2. */
  tty: [boolean, boolean, boolean];
  pid: number;
  /** How many of the caller's fds from 3 up were open (what --preserve-fds may hand on). */
  fds?: number;
}

export interface SpawnedMessage {
  t: 'spawned';
  /** The launcher's result line: 'ok PID', 'error STEP ERRNO MESSAGE', or '' (join mode, exec done). */
  line: string;
  launcher: number;
  /** The launcher's exit status when the front already collected it, else -1. */
  status: number;
}

export interface ExitedMessage {
  t: 'exited';
  pid: number;
  /** Exit code (128+N for a signal); -1 when the process was not the front's child. */
  status: number;
}

export type FrontMessage = FrontRequest | SpawnedMessage | ExitedMessage;

export function encodeFrame(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32LE(body.length + 1, 0);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, body]);
}

export function keyValues(values: Record<string, string | number | boolean | undefined>): Buffer {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined || value === false) continue;
    const text = value === true ? '1' : String(value);
    if (text.includes('\0')) throw new Error(`${key} contains a NUL byte`);
    parts.push(`${key}=${text}\0`);
  }
  return Buffer.from(parts.join(''), 'utf8');
}

/** Splits a byte stream into frames; returns the complete ones and keeps the rest. */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): { type: string; body: Buffer }[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: { type: string; body: Buffer }[] = [];
    while (this.pending.length >= 4) {
      const length = this.pending.readUInt32LE(0);
      if (length === 0 || length > 16 << 20) throw new Error(`bad frame length ${length}`);
      if (this.pending.length < 4 + length) break;
      frames.push({ type: String.fromCharCode(this.pending[4] as number), body: this.pending.subarray(5, 4 + length) });
      this.pending = this.pending.subarray(4 + length);
    }
    return frames;
  }
}

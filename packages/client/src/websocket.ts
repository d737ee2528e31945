/**
 * A small websocket client (RFC 6455) over Node's http module, so the SDK needs no
 * dependency (Node 20 has no WebSocket client) and works on nsboxd's unix socket.
 */

import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { errorFrom, httpsModule, type Transport } from './transport.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OP = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

export interface WebSocketEvents {
  message: [data: Buffer, isBinary: boolean];
  close: [code: number, reason: string];
  error: [error: Error];
}

export class WebSocketConnection extends EventEmitter<WebSocketEvents> {
  private buffer: Buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private fragmentOpcode = 0;
  private closed = false;

  constructor(
    private readonly socket: Socket,
    head: Buffer,
  ) {
    super();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('close', () => this.finish(1006, 'connection lost'));
    socket.on('error', (error) => this.emit('error', error));
    if (head.length > 0) queueMicrotask(() => this.receive(head));
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  send(data: string | Buffer): void {
    const binary = typeof data !== 'string';
    this.frame(binary ? OP.binary : OP.text, binary ? data : Buffer.from(data, 'utf8'));
  }

  close(code = 1000, reason = ''): void {
    if (this.closed) return;
    const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
    payload.writeUInt16BE(code, 0);
    payload.write(reason, 2);
    this.frame(OP.close, payload);
    this.socket.end();
  }

  private frame(opcode: number, payload: Buffer): void {
    if (this.closed || this.socket.destroyed) return;
    const mask = randomBytes(4);
    const length = payload.length;
    const header = length < 126 ? Buffer.alloc(2) : length < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    if (length < 126) header[1] = 0x80 | length;
    else if (length < 65536) {
      header[1] = 0x80 | 126;
      header.writeUInt16BE(length, 2);
    } else {
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(BigInt(length), 2);
    }
    const masked = Buffer.alloc(length);
    for (let index = 0; index < length; index++) masked[index] = (payload[index] as number) ^ (mask[index & 3] as number);
    this.socket.write(Buffer.concat([header, mask, masked]));
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      if (this.buffer.length < 2) return;
      const first = this.buffer[0] as number;
      const second = this.buffer[1] as number;
      let offset = 2;
      let length = second & 0x7f;
      if (length === 126) {
        if (this.buffer.length < 4) return;
        length = this.buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.buffer.length < 10) return;
        length = Number(this.buffer.readBigUInt64BE(2));
        offset = 10;
      }
      const masked = (second & 0x80) !== 0;
      const maskAt = offset;
      if (masked) offset += 4;
      if (this.buffer.length < offset + length) return;
      let payload = this.buffer.subarray(offset, offset + length);
      if (masked) {
        const mask = this.buffer.subarray(maskAt, maskAt + 4);
        payload = Buffer.from(payload.map((byte, index) => byte ^ (mask[index & 3] as number)));
      }
      this.buffer = this.buffer.subarray(offset + length);
      this.handle(first & 0x0f, (first & 0x80) !== 0, Buffer.from(payload));
    }
  }

  private handle(opcode: number, fin: boolean, payload: Buffer): void {
    if (opcode === OP.ping) {
      this.frame(OP.pong, payload);
      return;
    }
    if (opcode === OP.pong) return;
    if (opcode === OP.close) {
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      const reason = payload.subarray(2).toString('utf8');
      this.frame(OP.close, payload.subarray(0, 2));
      this.socket.end();
      this.finish(code, reason);
      return;
    }
    if (opcode !== OP.continuation) this.fragmentOpcode = opcode;
    this.fragments.push(payload);
    if (!fin) return;
    const data = Buffer.concat(this.fragments);
    this.fragments = [];
    this.emit('message', data, this.fragmentOpcode === OP.binary);
  }

  private finish(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close', code, reason);
  }
}

/** Opens a websocket to `path`; an error answer before the upgrade becomes an NsboxApiError. */
export async function connectWebSocket(transport: Transport, path: string): Promise<WebSocketConnection> {
  const key = randomBytes(16).toString('base64');
  const options = transport.requestOptions(
    'GET',
    path,
    { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': key },
    false,
  );
  const send = transport.options.url?.startsWith('https:') ? httpsModule().request : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(options);
    req.on('upgrade', (response, socket: Socket, head: Buffer) => {
      const expected = createHash('sha1').update(`${key}${GUID}`).digest('base64');
      if (response.headers['sec-websocket-accept'] !== expected) {
        socket.destroy();
        reject(new Error('nsboxd answered the websocket upgrade with a wrong Sec-WebSocket-Accept'));
        return;
      }
      resolve(new WebSocketConnection(socket, head));
    });
    req.on('response', (response) => {
      errorFrom(response).then(reject, reject);
    });
    req.on('error', reject);
    req.end();
  });
}

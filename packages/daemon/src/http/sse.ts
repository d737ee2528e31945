/** Server-sent events on a hijacked Fastify reply: `id:` lines make the stream resumable. */

import type { FastifyReply, FastifyRequest } from 'fastify';

export interface SseStream {
  send(event: string, data: unknown, id?: number | string): void;
  close(): void;
  /** Aborts when the client goes away. */
  signal: AbortSignal;
}

const HEARTBEAT_MS = 15_000;

export function openSse(request: FastifyRequest, reply: FastifyReply): SseStream {
  const controller = new AbortController();
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  raw.write(': nsboxd event stream\n\n');
  const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), HEARTBEAT_MS);
  const stop = () => {
    clearInterval(heartbeat);
    controller.abort();
  };
  request.raw.on('close', stop);
  raw.on('close', stop);
  return {
    signal: controller.signal,
    send(event, data, id) {
      if (controller.signal.aborted) return;
      raw.write(`${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    close() {
      stop();
      raw.end();
    },
  };
}

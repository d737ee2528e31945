/**
 * A box's console over a websocket (the panel's "console" tab, `nsbox console` through nsboxd):
 * the pty the box's shim holds, relayed by the shim to one attached client (runtime
 * `attachConsole`). The exec socket's framing: the client sends binary frames (input); the
 * server sends binary frames prefixed with 1 (output), and {"type":"exit","exitCode":0} when
 * the console closes (the box ended, or the shim turned the client away), or
 * {"type":"error","error":{...}} (close 1011).
 */

import { NsboxError } from '@nsbox/core';
import { attachConsole } from '@nsbox/runtime';
import type { DaemonContext } from '../context.js';
import { toApiError } from '../http/api-error.js';
import { type AnyRoute, defineRoute } from '../http/route.js';
import { WS_OPEN } from '../http/ws-socket.js';
import { boxRef } from '../schemas/common.js';

export function consoleRoutes(context: DaemonContext): AnyRoute[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/boxes/:id/console/socket',
      summary: "Attach to a running box's console (its terminal: a systemd box's login prompt) over a websocket",
      description:
        'Upgrade to a websocket. Client: binary frames = input. Server: binary frames prefixed with 1 (output), then {"type":"exit","exitCode":0} when the console closes. One client at a time per box.',
      tags: ['exec'],
      access: 'operator',
      produces: 'websocket',
      params: boxRef,
      async preflight({ params, scope }) {
        const box = await scope.syncedBox(params.id);
        if (box.state !== 'running') {
          throw new NsboxError('E_INVALID_STATE', `box '${box.name}' is ${box.state}, not running`, { details: { box: box.name, state: box.state } });
        }
      },
      async socket(socket, { params, scope }) {
        const send = (data: string | Buffer) => {
          if (socket.readyState === WS_OPEN) socket.send(data);
        };
        let console: Awaited<ReturnType<typeof attachConsole>>;
        try {
          console = await attachConsole(context.driver, await scope.syncedBox(params.id));
        } catch (error) {
          send(JSON.stringify({ type: 'error', error: toApiError(error).body.error }));
          socket.close(1011, 'error');
          return;
        }
        console.on('data', (chunk: Buffer) => send(Buffer.concat([Buffer.from([1]), chunk])));
        console.on('error', () => undefined);
        console.on('close', () => {
          send(JSON.stringify({ type: 'exit', exitCode: 0 }));
          socket.close(1000, 'console closed');
        });
        socket.on('message', (data, isBinary) => {
          if (isBinary) console.write(data);
        });
        socket.on('close', () => console.destroy());
        socket.on('error', () => undefined);
      },
    }),
  ];
}

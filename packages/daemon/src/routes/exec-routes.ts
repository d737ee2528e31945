/**
 * Running commands in a box: POST /boxes/{id}/exec captures the output; the websocket at
 * /boxes/{id}/exec/socket is an interactive session (the panel's web console), a pty by default.
 *
 * Websocket protocol: the client sends binary frames (stdin) and text frames with JSON
 * control messages: {"type":"resize","rows":R,"cols":C}, {"type":"signal","signal":"SIGINT"},
 * {"type":"eof"}. The server sends binary frames whose first byte is the stream (1 stdout,
 * 2 stderr; a pty has only 1), then one text frame {"type":"exit","exitCode":N} and closes
 * (1000), or {"type":"error","error":{...}} and closes (1011).
 */

import { NsboxError, z } from '@nsbox/core';
import { ScopedBoxApi } from '../boxes/scoped-box-api.js';
import type { DaemonContext } from '../context.js';
import { type BoxProcess, spawnInBox } from '../exec/box-process.js';
import { toApiError } from '../http/api-error.js';
import { type AnyRoute, defineRoute } from '../http/route.js';
import { WS_OPEN } from '../http/ws-socket.js';
import { execBody, execResult, execSocketQuery } from '../schemas/boxes.js';
import { boxRef } from '../schemas/common.js';

function envFromPairs(pairs: string[] | undefined): Record<string, string> | undefined {
  if (!pairs) return undefined;
  return Object.fromEntries(pairs.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
}

const controlMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('resize'), rows: z.number().int().min(1).max(1000), cols: z.number().int().min(1).max(1000) }),
  z.object({ type: z.literal('signal'), signal: z.union([z.string().regex(/^SIG[A-Z0-9]+$/), z.number().int().min(1).max(64)]) }),
  z.object({ type: z.literal('eof') }),
]);

export function execRoutes(context: DaemonContext): AnyRoute[] {
  return [
    defineRoute({
      method: 'POST',
      url: '/boxes/:id/exec',
      summary: 'Run a command in a running box and return its exit code and output',
      tags: ['exec'],
      access: 'operator',
      params: boxRef,
      body: execBody,
      response: execResult,
      handler({ params, body, scope }) {
        return new ScopedBoxApi(context, scope).exec(params.id, body);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/boxes/:id/exec/socket',
      summary: 'Interactive session in a running box over a websocket (a pty unless tty=false)',
      description:
        'Upgrade to a websocket. Client: binary frames = stdin; text frames = {"type":"resize","rows","cols"} | {"type":"signal","signal"} | {"type":"eof"}. Server: binary frames prefixed with the stream byte (1 stdout, 2 stderr), then {"type":"exit","exitCode"}.',
      tags: ['exec'],
      access: 'operator',
      produces: 'websocket',
      params: boxRef,
      query: execSocketQuery,
      async preflight({ params, scope }) {
        const box = await scope.syncedBox(params.id);
        if (box.state !== 'running') {
          throw new NsboxError('E_INVALID_STATE', `box '${box.name}' is ${box.state}, not running`, { details: { box: box.name, state: box.state } });
        }
      },
      async socket(socket, { params, query, scope, caller, request }) {
        const started = performance.now();
        const send = (data: string | Buffer) => {
          if (socket.readyState === WS_OPEN) socket.send(data);
        };
        const fail = (error: unknown) => {
          send(JSON.stringify({ type: 'error', error: toApiError(error).body.error }));
          socket.close(1011, 'error');
        };
        let process: BoxProcess;
        let boxName = params.id;
        try {
          const box = await scope.syncedBox(params.id);
          boxName = box.name;
          const env = envFromPairs(query.env);
          process = spawnInBox(context.driver, box, {
            command: query.command ?? ['/bin/sh'],
            tty: query.tty ?? true,
            ...(env ? { env } : {}),
            ...(query.cwd ? { cwd: query.cwd } : {}),
            ...(query.user ? { user: { uid: Number(query.user.split(':')[0]), gid: Number(query.user.split(':')[1]) } } : {}),
          });
        } catch (error) {
          fail(error);
          return;
        } finally {
          context.audit.record({
            caller,
            method: 'GET',
            url: request.url,
            route: 'GET /boxes/:id/exec/socket',
            box: boxName,
            status: 101,
            code: undefined,
            durationMs: performance.now() - started,
          });
        }
        // Input waits for the initial window size, so the first command already sees it.
        let ready: Promise<void> = query.rows && query.cols ? process.resize(query.rows, query.cols) : Promise.resolve();
        const forward = (stream: number) => (chunk: Buffer) => send(Buffer.concat([Buffer.from([stream]), chunk]));
        process.stdout.on('data', forward(1));
        process.stderr.on('data', forward(2));
        const outputDone = Promise.all([process.stdout, process.stderr].map((stream) => new Promise((resolve) => stream.once('close', resolve))));
        socket.on('message', (data, isBinary) => {
          if (isBinary) {
            ready = ready.then(() => {
              process.stdin.write(data);
            });
            return;
          }
          let message: z.infer<typeof controlMessage>;
          try {
            message = controlMessage.parse(JSON.parse(data.toString('utf8')));
          } catch {
            send(JSON.stringify({ type: 'warning', message: 'ignored a control message that is not valid JSON of a known type' }));
            return;
          }
          if (message.type === 'resize') ready = ready.then(() => process.resize(message.rows, message.cols));
          else if (message.type === 'signal') process.signal(message.signal as NodeJS.Signals);
          else ready = ready.then(() => void process.stdin.end());
        });
        socket.on('close', () => {
          // The client hung up: so does the session (SIGHUP), and it is killed if it ignores that.
          process.signal('SIGHUP');
          setTimeout(() => process.kill(), 2000).unref();
        });
        socket.on('error', () => undefined);
        try {
          const exitCode = await process.exited;
          await outputDone;
          send(JSON.stringify({ type: 'exit', exitCode }));
          socket.close(1000, 'exited');
        } catch (error) {
          fail(error);
        }
      },
    }),
  ];
}

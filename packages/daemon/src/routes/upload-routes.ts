/**
 * `PUT /plugins/{plugin}/uploads/{name}/{id}`: a stream of bytes handed to the plugin that
 * contributed the upload (core's uploadPoint) as it arrives — no JSON, no base64, nothing
 * buffered whole (a migration's archive). Host-wide admin tokens only, as for the actions
 * that use what was uploaded. The length must be given and within the upload's limit before a
 * byte is read; the plugin keeps the bytes only once all of them came.
 */

import { Readable } from 'node:stream';
import { NsboxError, uploadPoint, z } from '@nsbox/core';
import type { DaemonContext } from '../context.js';
import { fieldError } from '../http/api-error.js';
import { type AnyRoute, defineRoute } from '../http/route.js';

const uploadRef = z.strictObject({
  plugin: z.string().describe('the plugin that takes the upload'),
  name: z.string().describe('what is uploaded (the plugin names it)'),
  id: z.string().describe("the upload's id (the plugin says what an id looks like)"),
});

function declaredLength(header: string | undefined): number {
  if (header === undefined) {
    throw new NsboxError('E_INVALID_ARGUMENT', 'content-length: an upload must say its length (no chunked body)', {
      details: { field: 'content-length', httpStatus: 411 },
    });
  }
  return Number(header);
}

export function uploadRoutes(context: DaemonContext): AnyRoute[] {
  return [
    defineRoute({
      method: 'PUT',
      url: '/plugins/:plugin/uploads/:name/:id',
      summary: "Stream bytes to a plugin's upload (application/octet-stream, its content-length given): kept whole or not at all",
      tags: ['plugins'],
      access: 'admin',
      hostWide: true,
      params: uploadRef,
      consumes: 'bytes',
      async handler({ params, body, request }) {
        const upload = context.host.plugins.contributions(uploadPoint).find((found) => found.plugin === params.plugin && found.name === params.name);
        if (!upload) {
          throw new NsboxError('E_NOT_FOUND', `plugin '${params.plugin}' takes no upload '${params.name}'`, {
            details: { field: 'name', plugin: params.plugin },
          });
        }
        if (!(body instanceof Readable)) {
          throw new NsboxError('E_INVALID_ARGUMENT', 'content-type: an upload is application/octet-stream', {
            details: { field: 'content-type', httpStatus: 415 },
          });
        }
        const length = declaredLength(request.headers['content-length']);
        if (length > upload.maxBytes) {
          throw fieldError('E_INVALID_ARGUMENT', 'content-length', `content-length: ${length} bytes is more than the ${upload.maxBytes} this upload takes`, {
            httpStatus: 413,
            maxBytes: upload.maxBytes,
          });
        }
        // The sender went away mid-stream: the plugin's reading fails, and anything else it waits on stops.
        const gone = new AbortController();
        request.raw.once('close', () => {
          if (!request.raw.complete) gone.abort(new Error('the upload was cut short: the sender closed the connection'));
        });
        return upload.receive(params.id, body, { length, signal: gone.signal });
      },
    }),
  ];
}

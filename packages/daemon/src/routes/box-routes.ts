/** /boxes: list, get, create (an operation), update (live), destroy, and the lifecycle actions — each through the caller's ScopedBoxApi. */

import { z } from '@nsbox/core';
import type { Scope } from '../auth/scope.js';
import { startCreateBox } from '../boxes/create-box.js';
import { ScopedBoxApi } from '../boxes/scoped-box-api.js';
import type { DaemonContext } from '../context.js';
import { type AnyRoute, defineRoute } from '../http/route.js';
import { operationView } from '../schemas/admin.js';
import {
  boxDetailsView,
  boxView as boxSchema,
  createBoxBody,
  destroyedView,
  destroyQuery,
  killBody,
  killedView,
  listBoxesQuery,
  setBoxBody,
  setBoxView,
  stopBody,
  updateBoxBody,
} from '../schemas/boxes.js';
import { boxRef } from '../schemas/common.js';

export function boxRoutes(context: DaemonContext): AnyRoute[] {
  const api = (scope: Scope) => new ScopedBoxApi(context, scope);
  return [
    defineRoute({
      method: 'GET',
      url: '/boxes',
      summary: 'List the boxes the token may see',
      tags: ['boxes'],
      access: 'read-only',
      query: listBoxesQuery,
      response: z.array(boxSchema),
      handler({ query, scope }) {
        return api(scope).list(query);
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/boxes',
      summary: 'Create a box (from a template or a rootfs), optionally start it: returns an operation',
      description: 'Answers 202 with an operation; GET /operations/{id}/wait for its result (the box).',
      tags: ['boxes'],
      access: 'operator',
      body: createBoxBody,
      bodyDoc: { config: { $ref: '#/components/schemas/BoxConfig' } },
      response: operationView,
      status: 202,
      async handler({ body, scope, reply }) {
        const operation = await startCreateBox(context, scope, body);
        reply.header('location', `/operations/${operation.id}`);
        return operation;
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/boxes/:id',
      summary: 'A box, with its state brought in line with its processes',
      tags: ['boxes'],
      access: 'read-only',
      params: boxRef,
      response: boxSchema,
      handler({ params, scope }) {
        return api(scope).get(params.id);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/boxes/:id/details',
      summary: 'What each plugin says about a box (the sections of `nsbox info`, from the box-info contribution point)',
      tags: ['boxes'],
      access: 'read-only',
      params: boxRef,
      response: boxDetailsView,
      handler({ params, scope }) {
        return api(scope).details(params.id);
      },
    }),
    defineRoute({
      method: 'PATCH',
      url: '/boxes/:id',
      summary: "Change a box's config: whole sections (null removes one); a running box gets it live",
      tags: ['boxes'],
      access: 'operator',
      params: boxRef,
      body: updateBoxBody,
      bodyDoc: { config: { $ref: '#/components/schemas/BoxConfig' } },
      response: boxSchema,
      handler({ params, body, scope }) {
        return api(scope).update(params.id, body.config);
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/boxes/:id/set',
      summary: "Change a box with the plugins' set options (`nsbox set`): all validated first, kept, and applied live to a running box",
      description:
        'The body holds the options by input field (memory, netRate, hostname, ...); GET /plugins lists the plugins that contribute them. A bad value of any option changes nothing.',
      tags: ['boxes'],
      access: 'operator',
      params: boxRef,
      body: setBoxBody,
      bodyRef: 'SetOptions',
      response: setBoxView,
      handler({ params, body, scope }) {
        return api(scope).set(params.id, body);
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/boxes/:id',
      summary: 'Destroy a box and everything nsbox made for it (?force=true stops it first)',
      tags: ['boxes'],
      access: 'operator',
      params: boxRef,
      query: destroyQuery,
      response: destroyedView,
      handler({ params, query, scope }) {
        return api(scope).destroy(params.id, { force: Boolean(query.force) });
      },
    }),
    ...(['start', 'pause', 'resume'] as const).map((action) =>
      defineRoute({
        method: 'POST',
        url: `/boxes/:id/${action}`,
        summary: `${action[0]?.toUpperCase()}${action.slice(1)} a box`,
        tags: ['boxes'],
        access: 'operator',
        params: boxRef,
        body: z.strictObject({}).optional(),
        response: boxSchema,
        handler({ params, scope }) {
          return api(scope)[action](params.id);
        },
      }),
    ),
    ...(
      [
        ['stop', 'Stop a box: SIGTERM to its init, SIGKILL to everything after the timeout'],
        ['restart', 'Stop and start a box'],
      ] as const
    ).map(([action, summary]) =>
      defineRoute({
        method: 'POST',
        url: `/boxes/:id/${action}`,
        summary,
        tags: ['boxes'],
        access: 'operator',
        params: boxRef,
        body: stopBody,
        response: boxSchema,
        handler({ params, body, scope }) {
          return api(scope)[action](params.id, body ?? {});
        },
      }),
    ),
    defineRoute({
      method: 'POST',
      url: '/boxes/:id/kill',
      summary: "Send a signal to a box's init (default SIGTERM)",
      tags: ['boxes'],
      access: 'operator',
      params: boxRef,
      body: killBody,
      response: killedView,
      handler({ params, body, scope }) {
        return api(scope).kill(params.id, body?.signal);
      },
    }),
  ];
}

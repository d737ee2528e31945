/** /boxes: list, get, create (an operation), update (live), destroy, and the lifecycle actions. */

import { constants } from 'node:os';
import { type Box, type BoxConfig, z } from '@nsbox/core';
import { boxDetails } from '@nsbox/host';
import { shownBoxName } from '../boxes/box-names.js';
import { startCreateBox } from '../boxes/create-box.js';
import { checkStoredConfig, configAsTenantSees, scopedBoxView } from '../boxes/tenant-config.js';
import type { DaemonContext } from '../context.js';
import { fieldError, prefixFields } from '../http/api-error.js';
import { type AnyRoute, defineRoute } from '../http/route.js';
import { operationView } from '../schemas/admin.js';
import { boxView as boxSchema, createBoxBody, destroyQuery, killBody, listBoxesQuery, stopBody, updateBoxBody } from '../schemas/boxes.js';
import { boxRef } from '../schemas/common.js';

function signalNumber(signal: string | number | undefined): number {
  if (signal === undefined) return constants.signals.SIGTERM;
  if (typeof signal === 'number') return signal;
  if (/^\d+$/.test(signal)) return Number(signal);
  const name = (signal.toUpperCase().startsWith('SIG') ? signal.toUpperCase() : `SIG${signal.toUpperCase()}`) as keyof typeof constants.signals;
  const number = constants.signals[name];
  if (number === undefined) throw fieldError('E_INVALID_ARGUMENT', 'signal', `unknown signal '${signal}'`);
  return number;
}

const timeoutMs = (body: { timeout?: number | undefined } | undefined) => (body?.timeout === undefined ? 10_000 : body.timeout * 1000);

export function boxRoutes(context: DaemonContext): AnyRoute[] {
  const { manager } = context;
  return [
    defineRoute({
      method: 'GET',
      url: '/boxes',
      summary: 'List the boxes the token may see',
      tags: ['boxes'],
      access: 'read-only',
      query: listBoxesQuery,
      response: z.array(boxSchema),
      async handler({ query, scope }) {
        const owner = scope.ownerFilter(query.owner);
        const listed: Box[] = [];
        for (const box of manager.list(owner !== undefined ? { owner } : {})) {
          if (query.template && box.config.template !== query.template) continue;
          if (query.name && !box.name.startsWith(scope.storedName(query.name))) continue;
          // A box whose init exited on its own is shown stopped, as it is.
          const current = box.state === 'running' || box.state === 'paused' ? await manager.sync(box.id).catch(() => box) : box;
          if (!query.state || current.state === query.state) listed.push(scopedBoxView(context, scope, current));
        }
        return listed;
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
      async handler({ params, scope }) {
        const box = await scope.syncedBox(params.id);
        return scopedBoxView(context, scope, box, { spec: true, lastExit: context.driver.exit(box) });
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/boxes/:id/details',
      summary: 'What each plugin says about a box (the sections of `nsbox info`, from the box-info contribution point)',
      tags: ['boxes'],
      access: 'read-only',
      params: boxRef,
      response: z.record(z.string(), z.unknown()),
      async handler({ params, scope }) {
        return boxDetails(context.host.plugins, await scope.syncedBox(params.id));
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
      async handler({ params, body, scope }) {
        const box = scope.box(params.id);
        const merged: Record<string, unknown> = { ...box.config };
        for (const [key, value] of Object.entries(body.config)) {
          if (value === null) delete merged[key];
          else merged[key] = value;
        }
        let next: BoxConfig;
        try {
          next = await manager.validateConfig(merged, box.name);
        } catch (error) {
          throw prefixFields(error, 'config');
        }
        if (scope.tenant !== null) {
          // Only what the change changes is judged here; a start judges the whole config again.
          const asTenantSees = (config: BoxConfig) => configAsTenantSees(config, context.templates);
          context.policy.check(scope.caller, asTenantSees(next), { previous: asTenantSees(box.config) });
        }
        context.quotas.checkUpdate(box, next);
        return scopedBoxView(context, scope, await manager.update(box.id, body.config));
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
      response: z.object({ name: z.string(), destroyed: z.boolean() }),
      async handler({ params, query, scope }) {
        const box = scope.box(params.id);
        await manager.destroy(box.id, { force: Boolean(query.force) });
        return { name: shownBoxName(scope.tenant, box.name), destroyed: true };
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
        async handler({ params, scope }) {
          const box = scope.box(params.id);
          // A start applies the whole stored config: it must pass the tenant's policy as it is now.
          if (action === 'start') checkStoredConfig(context, scope, box);
          return scopedBoxView(context, scope, await manager[action](box.id));
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
        async handler({ params, body, scope }) {
          const box = scope.box(params.id);
          // Refused before the stop: a box the policy would not start again keeps running as it is.
          if (action === 'restart') checkStoredConfig(context, scope, box);
          return scopedBoxView(context, scope, await manager[action](box.id, { timeoutMs: timeoutMs(body) }));
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
      response: z.object({ name: z.string(), signal: z.number() }),
      async handler({ params, body, scope }) {
        const box = scope.box(params.id);
        const signal = signalNumber(body?.signal);
        await manager.kill(box.id, signal);
        return { name: shownBoxName(scope.tenant, box.name), signal };
      },
    }),
  ];
}

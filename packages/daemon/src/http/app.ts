/**
 * The Fastify application: bearer authentication on every route but the public ones, roles,
 * request validation from the route's zod schemas, one JSON error shape, and an audit
 * record of every mutating call.
 */

import websocket from '@fastify/websocket';
import { type BoxManager, NsboxError, type StandardSchemaV1, type z } from '@nsbox/core';
import Fastify, { errorCodes, type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import type { AuditLog } from '../auth/audit-log.js';
import { Scope } from '../auth/scope.js';
import { type Caller, roleAtLeast, type TokenStore } from '../auth/token-store.js';
import { toApiError } from './api-error.js';
import { type AnyRoute, type ApiCall, isAudited } from './route.js';
import { parsePart, parseStandard, type RequestPart } from './validate.js';
import type { WsSocket } from './ws-socket.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
    apiInput?: { params: unknown; query: unknown; body: unknown };
    apiErrorCode?: string;
    startedAt?: number;
  }
  interface FastifyContextConfig {
    api?: AnyRoute;
  }
}

export interface AppOptions {
  tokens: TokenStore;
  audit: AuditLog;
  manager: BoxManager;
  routes: AnyRoute[];
  logLevel?: string;
  bodyLimit?: number;
  /** Fastify's server options for HTTPS (TCP with TLS). */
  https?: { cert: Buffer; key: Buffer };
}

const BODY_LIMIT = 1024 * 1024;

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

function isZod(schema: unknown): schema is z.ZodType {
  return typeof (schema as { safeParse?: unknown })?.safeParse === 'function';
}

async function parseWith(schema: unknown, part: RequestPart, value: unknown): Promise<unknown> {
  if (schema === undefined) return value;
  if (isZod(schema)) return parsePart(schema, part, value);
  return parseStandard(schema as StandardSchemaV1, part, value);
}

/** Checks the token and its role; public routes pass without one. */
function authorize(route: AnyRoute | undefined, request: FastifyRequest, tokens: TokenStore): void {
  if (route?.access === 'public') return;
  const caller = tokens.authenticate(bearer(request));
  request.caller = caller;
  if (!route) return;
  if (!roleAtLeast(caller.role, route.access)) {
    throw new NsboxError('E_FORBIDDEN', `this call needs the ${route.access} role; the token has ${caller.role}`, {
      details: { needed: route.access, role: caller.role },
    });
  }
  if (route.hostWide && caller.tenant !== null) {
    throw new NsboxError('E_FORBIDDEN', 'this call needs a host-wide token (one that belongs to no tenant)', { details: { tenant: caller.tenant } });
  }
}

function call(request: FastifyRequest, reply: FastifyReply, manager: BoxManager): ApiCall<unknown, unknown, unknown> {
  const input = request.apiInput ?? { params: request.params, query: request.query, body: request.body };
  return {
    params: input.params,
    query: input.query,
    body: input.body,
    caller: request.caller as Caller,
    scope: new Scope(request.caller, manager),
    request,
    reply,
  };
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logLevel ? { level: options.logLevel } : false,
    bodyLimit: options.bodyLimit ?? BODY_LIMIT,
    forceCloseConnections: true,
    return503OnClosing: true,
    // One line per request would drown the log of a busy panel; errors are logged.
    logController: new LogController({ disableRequestLogging: true }),
    ...(options.https ? { https: options.https } : {}),
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;
  await app.register(websocket, { options: { maxPayload: BODY_LIMIT } });

  // JSON only (anything else is 415), and an empty JSON body is no body, not a parse error.
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === '')) {
      done(null, undefined);
      return;
    }
    jsonParser(request, body as string, done);
  });

  // Raw bytes only for a route that takes them (an upload): its handler reads the stream itself,
  // so nothing is buffered and the body limit is the route's own. Anywhere else 415, as before.
  app.addContentTypeParser('application/octet-stream', (request, payload, done) => {
    if (request.routeOptions.config.api?.consumes === 'bytes') done(null, payload);
    else done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(request.headers['content-type']), undefined);
  });

  app.addHook('onRequest', async (request) => {
    request.startedAt = performance.now();
    authorize(request.routeOptions.config.api, request, options.tokens);
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.config.api;
    const audited = route ? isAudited(route) : request.method !== 'GET' && request.method !== 'HEAD';
    if (!audited || route?.produces === 'websocket') return;
    const params = request.params as Record<string, unknown> | undefined;
    const input = request.apiInput ?? { params: request.params, query: request.query, body: request.body };
    const named = route?.auditBox?.(input);
    options.audit.record({
      caller: request.caller,
      method: request.method,
      url: request.url,
      route: route ? `${route.method} ${route.url}` : undefined,
      box: typeof params?.id === 'string' && route?.url.startsWith('/boxes') ? params.id : typeof named === 'string' ? named : undefined,
      status: reply.statusCode,
      code: request.apiErrorCode,
      durationMs: performance.now() - (request.startedAt ?? performance.now()),
    });
  });

  app.setErrorHandler((error, request, reply) => {
    const { status, body } = toApiError(error);
    request.apiErrorCode = body.error.code;
    if (status >= 500) request.log.error({ err: error }, body.error.message);
    if (status === 401) reply.header('www-authenticate', 'Bearer realm="nsboxd"');
    reply.code(status).type('application/json').send(body);
  });

  app.setNotFoundHandler((request) => {
    throw new NsboxError('E_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`, { details: { method: request.method, field: 'path' } });
  });

  for (const route of options.routes) {
    const preValidation = async (request: FastifyRequest, reply: FastifyReply) => {
      if (route.validates === 'handler') {
        request.apiInput = { params: request.params, query: request.query, body: request.body };
        return;
      }
      request.apiInput = {
        params: await parseWith(route.params, 'params', request.params),
        query: await parseWith(route.query, 'query', request.query),
        body: await parseWith(route.body, 'body', request.body),
      };
      await route.preflight?.(call(request, reply, options.manager));
    };
    if (route.produces === 'websocket') {
      app.route({
        method: 'GET',
        url: route.url,
        config: { api: route },
        preValidation,
        websocket: true,
        handler: (socket: unknown, request: FastifyRequest) => {
          void route.socket?.(socket as WsSocket, call(request, undefined as unknown as FastifyReply, options.manager));
        },
      } as never);
      continue;
    }
    app.route({
      method: route.method,
      url: route.url,
      config: { api: route },
      preValidation,
      handler: async (request, reply) => {
        const result = await route.handler?.(call(request, reply, options.manager));
        if (reply.sent) return reply;
        return reply.code(route.status ?? 200).send(result ?? null);
      },
    });
  }
  return app;
}

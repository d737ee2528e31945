/**
 * How nsboxd declares a route: one object holds its access rule, the zod schemas that
 * validate the request and the handler. The same objects register the Fastify routes and
 * generate the OpenAPI document, so the document cannot drift from what is enforced.
 */

import type { ApiRole, z } from '@nsbox/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Scope } from '../auth/scope.js';
import type { Caller } from '../auth/token-store.js';
import type { WsSocket } from './ws-socket.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** 'public': no token (health, the OpenAPI document); otherwise the weakest role allowed. */
export type Access = 'public' | ApiRole;

type Schema = z.ZodType | undefined;
type Out<S extends Schema> = S extends z.ZodType ? z.output<S> : undefined;

export interface ApiCall<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** Undefined only on public routes. */
  caller: Caller;
  scope: Scope;
  request: FastifyRequest;
  reply: FastifyReply;
}

export type Produces = 'json' | 'sse' | 'text' | 'websocket';

export interface RouteDef<P extends Schema = Schema, Q extends Schema = Schema, B extends Schema = Schema> {
  method: HttpMethod;
  url: string;
  summary: string;
  description?: string;
  tags: string[];
  access: Access;
  /** Only for host-wide tokens (no tenant): host facts, tenants, template imports. */
  hostWide?: boolean;
  params?: P;
  query?: Q;
  body?: B;
  /** Documents the body in OpenAPI where the zod schema is looser than the truth (box configs, validated by the plugins). */
  bodyDoc?: Record<string, unknown>;
  /** Documents the whole body as this component of the OpenAPI document (`SetOptions`: built from the plugins). */
  bodyRef?: string;
  /** What a success returns, for the OpenAPI document. */
  response?: z.ZodType;
  status?: number;
  produces?: Produces;
  /** 'bytes': the body is `application/octet-stream`, handed to the handler as the request's stream, unread. Default JSON. */
  consumes?: 'bytes';
  /** Mutating calls are audited; defaults to every method but GET. */
  audit?: boolean;
  /** The box an audit entry names when it is not the `:id` of a /boxes route (an action's `box`). */
  auditBox?(input: { params: unknown; query: unknown; body: unknown }): string | undefined;
  /**
   * 'handler': the schemas document the request, the handler validates it (a plugin's action,
   * whose input the BoxApi checks the same way for every face). Default 'route'.
   */
  validates?: 'route' | 'handler';
  /** Extra fields of the OpenAPI operation (`x-nsbox-action`). */
  extensions?: Record<string, unknown>;
  /** Registered by a plugin: the plugin's name (OpenAPI tag and prefix). */
  plugin?: string;
  handler?(call: ApiCall<Out<P>, Out<Q>, Out<B>>): unknown | Promise<unknown>;
  /** Websocket routes: checks that can still answer with an HTTP error, before the upgrade. */
  preflight?(call: ApiCall<Out<P>, Out<Q>, Out<B>>): void | Promise<void>;
  /** For produces: 'websocket'. */
  socket?(socket: WsSocket, call: ApiCall<Out<P>, Out<Q>, Out<B>>): void | Promise<void>;
}

// biome-ignore lint/suspicious/noExplicitAny: a list of routes of every shape
export type AnyRoute = RouteDef<any, any, any>;

export function defineRoute<P extends Schema = undefined, Q extends Schema = undefined, B extends Schema = undefined>(
  def: RouteDef<P, Q, B>,
): RouteDef<P, Q, B> {
  return def;
}

export function isAudited(route: AnyRoute): boolean {
  return route.audit ?? route.method !== 'GET';
}

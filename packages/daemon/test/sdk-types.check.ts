/**
 * The SDK's hand-written types against the zod schemas nsboxd documents its answers with (the
 * same schemas make GET /openapi.json). Not a mocha suite: `npm run typecheck` compiles this
 * file, so a field added, removed or retyped on one side and not the other fails the build.
 * The runtime side (nsboxd's real answers against the OpenAPI document) is sdk-openapi.test.ts.
 */

import type {
  ActionInfo,
  ApiErrorShape,
  AuditEntry,
  Box,
  BoxConfig,
  BoxEvent,
  Caller,
  CreateBoxInput,
  ExecInput,
  ExecResult,
  HostInfo,
  NsboxClient,
  Operation,
  PluginDetails,
  PluginInfo,
  Template,
  Tenant,
  TenantUsage,
  TokenRecord,
} from '@nsbox/client';
import type { z } from '@nsbox/core';
import type {
  actionInfoView,
  auditEntry,
  callerView,
  createTenantBody,
  createTokenBody,
  eventsPage,
  healthView,
  hostInfoView,
  importTemplateBody,
  issuedToken,
  operationView,
  pluginDetailsView,
  pluginView,
  removedView,
  templateView,
  tenantView,
  tokenView,
  updateTemplateBody,
  updateTenantBody,
  usageView,
  validConfigView,
} from '../src/schemas/admin.js';
import type { boxConfigView, boxDetailsView, boxEvent, boxView, createBoxBody, destroyedView, execBody, execResult, killedView } from '../src/schemas/boxes.js';
import type { errorBody } from '../src/schemas/common.js';

/**
 * True only when A and B are the same type. Stricter than mutually assignable, which lets
 * through `any` on either side, a `readonly` field, or an index signature on one side only.
 */
export type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

/** What nsboxd answers on a route, as its response schema types it. */
type Answer<S extends z.ZodType> = z.output<S>;
/** What an SDK method resolves to. */
type Resolves<F> = F extends (...args: never[]) => Promise<infer R> ? R : never;

type Client = NsboxClient;

export type SdkTypesMatchTheSchemas = [
  // Box.runtime is the one intentional difference: the facts belong to the box driver (Linux,
  // OCI, a test's), so the daemon documents an open record; the SDK adds the Linux driver's
  // facts a panel reads (init pid, exit, lastExit, spec) as optional fields on that record.
  Expect<Equals<Omit<Box, 'runtime'>, Omit<Answer<typeof boxView>, 'runtime'>>>,
  Expect<Box['runtime'] extends Answer<typeof boxView>['runtime'] ? true : false>,
  Expect<Equals<BoxConfig, Answer<typeof boxConfigView>>>,
  Expect<Equals<BoxEvent, Answer<typeof boxEvent>>>,
  Expect<Equals<Operation, Answer<typeof operationView>>>,
  Expect<Equals<ExecResult, Answer<typeof execResult>>>,
  Expect<Equals<Template, Answer<typeof templateView>>>,
  Expect<Equals<PluginInfo, Answer<typeof pluginView>>>,
  Expect<Equals<PluginDetails, Answer<typeof pluginDetailsView>>>,
  Expect<Equals<ActionInfo, Answer<typeof actionInfoView>>>,
  Expect<Equals<HostInfo, Answer<typeof hostInfoView>>>,
  Expect<Equals<Tenant, Answer<typeof tenantView>>>,
  Expect<Equals<TenantUsage, Answer<typeof usageView>>>,
  Expect<Equals<TokenRecord, Answer<typeof tokenView>>>,
  Expect<Equals<Caller, Answer<typeof callerView>>>,
  Expect<Equals<AuditEntry, Answer<typeof auditEntry>>>,
  Expect<Equals<ApiErrorShape, Answer<typeof errorBody>['error']>>,
];

/** The answers SDK methods give without a named type. */
export type SdkMethodsMatchTheRoutes = [
  Expect<Equals<Resolves<Client['health']>, Answer<typeof healthView>>>,
  Expect<Equals<Resolves<Client['validateConfig']>, Answer<typeof validConfigView>>>,
  Expect<Equals<Resolves<Client['boxes']['details']>, Answer<typeof boxDetailsView>>>,
  Expect<Equals<Resolves<Client['boxes']['destroy']>, Answer<typeof destroyedView>>>,
  Expect<Equals<Resolves<Client['boxes']['kill']>, Answer<typeof killedView>>>,
  Expect<Equals<Resolves<Client['events']['list']>, Answer<typeof eventsPage>>>,
  Expect<Equals<Resolves<Client['tenants']['remove']>, Answer<typeof removedView>>>,
  Expect<Equals<Resolves<Client['templates']['remove']>, Answer<typeof removedView>>>,
  Expect<Equals<Resolves<Client['tokens']['create']>, Answer<typeof issuedToken>>>,
];

/** What a request schema accepts (zod's input side: defaults may be left out). */
type Accepted<S extends z.ZodType> = z.input<S>;
/** The first argument an SDK method takes. */
type Takes<F> = F extends (input: infer I, ...rest: never[]) => unknown ? I : never;

/** What SDK methods send, against what the routes accept. */
export type SdkRequestsMatchTheRoutes = [
  // CreateBoxInput.config is typed as the core's fields; the route accepts any sections and
  // leaves them to the core and the plugins (400 naming the field), as the OpenAPI BoxConfig says.
  Expect<Equals<Omit<CreateBoxInput, 'config'>, Omit<Accepted<typeof createBoxBody>, 'config'>>>,
  Expect<Equals<ExecInput, Accepted<typeof execBody>>>,
  Expect<Equals<Takes<Client['tenants']['create']>, Accepted<typeof createTenantBody>>>,
  Expect<Equals<Parameters<Client['tenants']['update']>[1], Accepted<typeof updateTenantBody>>>,
  Expect<Equals<Takes<Client['tokens']['create']>, Accepted<typeof createTokenBody>>>,
  Expect<Equals<Takes<Client['templates']['import']>, Accepted<typeof importTemplateBody>>>,
  Expect<Equals<Parameters<Client['templates']['update']>[1], Accepted<typeof updateTemplateBody>>>,
];

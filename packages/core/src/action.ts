/**
 * Actions: what a plugin lets a user do, declared once. A face turns each into its own shape —
 * a CLI command (`nsbox <plugin> <action>` or a top-level alias), an API route
 * (`POST /plugins/<plugin>/actions/<action>`, GET when it only reads), an SDK call and an
 * OpenAPI operation — and runs it through the same application layer (BoxApi), so tokens,
 * tenant policy, quotas and audit apply whichever face called.
 */

import type { ServiceIdentifier } from 'inversify';
import type { Box } from './box.js';
import type { BoxApi } from './box-api.js';
import { NsboxError } from './errors.js';
import type { OperationContext } from './operation-context.js';
import type { ApiRole } from './plugin.js';
import type { ServiceSource } from './service-ref.js';
import type { InferOutput, StandardIssue, StandardSchemaV1 } from './standard-schema.js';

export interface ActionContext {
  /**
   * The box the action is about (for `box: true` actions): found through the caller's view (a
   * tenant reaches only its own boxes) and brought in line with its processes; the stored box,
   * as the plugin's services need it.
   */
  box?: Box;
  /** The caller's tenant; null for the host admin (and the CLI in local mode). */
  tenant: string | null;
  /**
   * The application layer as the caller may use it: a change made through it meets the same
   * checks as the same change made by the caller directly (tenant policy, quotas, audit).
   */
  api: BoxApi;
  services: ServiceSource;
  /** A service of the action's own plugin (its module's bindings). */
  own<T>(id: ServiceIdentifier<T>): T;
  operation: OperationContext;
}

export interface InterruptedContext {
  /** The boxes the operation named (a box action's `box`, as the caller gave it). */
  boxes: string[];
  services: ServiceSource;
  own<T>(id: ServiceIdentifier<T>): T;
}

/** An interrupted action's end as its plugin knows it: done after all (with its result), or not (why, and what is the case now). */
export type InterruptedOutcome = { status: 'success'; result: unknown } | { status: 'failure'; message: string; details?: Record<string, unknown> };

export interface ActionCliShape {
  /** Command name when it differs from `<plugin> <action>`: a top-level `set`, or `pool create`. */
  command?: string;
  arguments?: { name: string; description?: string; required?: boolean; variadic?: boolean }[];
  options?: { flags: string; description: string; defaultValue?: string | boolean }[];
  /**
   * Turns parsed arguments and options into the action's input. Without it, each argument
   * becomes the input field of its name and the options are taken as they are.
   */
  input?(args: string[], options: Record<string, unknown>): unknown;
}

export interface ActionDefinition<TSchema extends StandardSchemaV1 = StandardSchemaV1, TResult = unknown, TName extends string = string> {
  /** kebab-case, unique within the plugin. */
  name: TName;
  description: string;
  /** Validates the input on every face (an object schema); documents it in OpenAPI. */
  input: TSchema;
  /** The action is about one box: the input has a `box` field (its id or name). */
  box?: boolean;
  /** The weakest role that may run it (default read-only for a readOnly action, operator otherwise). */
  role?: ApiRole;
  /** Only for host-wide callers (tokens of no tenant): host resources such as pools. */
  hostWide?: boolean;
  /** Reads only: a GET route (input in the query string), no audit entry. */
  readOnly?: boolean;
  /**
   * Long work: nsboxd runs it as an API operation (202 with the operation), so that its
   * progress reaches GET /operations/{id}/watch and DELETE cancels it; the SDK waits for it.
   */
  operation?: boolean;
  /**
   * For an operation action whose nsboxd died mid-way: what became of it, asked when nsboxd
   * next starts (the boxes the operation named); the operation ends when this answers, so it
   * may wait until the plugin has settled what the action left. Without it the operation ends
   * interrupted, with no claim about what it had done.
   */
  interrupted?(context: InterruptedContext): InterruptedOutcome | Promise<InterruptedOutcome>;
  cli?: ActionCliShape;
  run(input: InferOutput<TSchema>, context: ActionContext): TResult | Promise<TResult>;
  /** Human rendering of the result; `--json` prints the result itself. */
  render?(result: TResult): string;
}

// biome-ignore lint/suspicious/noExplicitAny: an action of any input and result
export type AnyAction = ActionDefinition<StandardSchemaV1, any>;

export function defineAction<TSchema extends StandardSchemaV1, TResult, const TName extends string>(
  action: ActionDefinition<TSchema, TResult, TName>,
): ActionDefinition<TSchema, TResult, TName> {
  return Object.freeze({ ...action });
}

type InputOf<S> = S extends StandardSchemaV1<infer I, unknown> ? I : unknown;

/**
 * The input and result types of a plugin's actions by name, for typed SDK calls:
 * `client.actions.plugin<ActionTypes<typeof limitsActions>>('limits').set({ box, memory })`.
 */
export type ActionTypes<TActions extends readonly AnyAction[]> = {
  [A in TActions[number] as A['name']]: A extends ActionDefinition<infer S, infer R> ? { input: InputOf<S>; result: Awaited<R> } : never;
};

/** What faces list of an action (GET /actions, the CLI): everything but the code. */
export interface ActionInfo {
  plugin: string;
  name: string;
  description: string;
  box: boolean;
  readOnly: boolean;
  hostWide: boolean;
  role: ApiRole;
  method: 'GET' | 'POST';
  /** The API route, below the API's root. */
  path: string;
  /** The CLI command. */
  command: string;
  /** Runs as an API operation (202, progress and cancel through /operations). */
  operation: boolean;
}

export function describeAction(plugin: string, action: AnyAction): ActionInfo {
  const readOnly = action.readOnly === true;
  return {
    plugin,
    name: action.name,
    description: action.description,
    box: action.box === true,
    readOnly,
    hostWide: action.hostWide === true,
    role: action.role ?? (readOnly ? 'read-only' : 'operator'),
    method: readOnly ? 'GET' : 'POST',
    path: `/plugins/${plugin}/actions/${action.name}`,
    command: action.cli?.command ?? `${plugin} ${action.name}`,
    operation: action.operation === true,
  };
}

function issuePath(issue: StandardIssue): string {
  const keys = (issue.path ?? []).map((part) => (typeof part === 'object' ? part.key : part));
  if (keys.length === 0) return '(input)';
  return keys.map((key, index) => (typeof key === 'number' ? `[${key}]` : `${index === 0 ? '' : '.'}${String(key)}`)).join('');
}

/** Validates an action's input with its schema: E_INVALID_ARGUMENT naming each field, as every face reports it. */
export async function parseActionInput<TSchema extends StandardSchemaV1>(
  plugin: string,
  action: ActionDefinition<TSchema, unknown>,
  input: unknown,
): Promise<InferOutput<TSchema>> {
  const result = await action.input['~standard'].validate(input ?? {});
  if (!result.issues) return result.value as InferOutput<TSchema>;
  const issues = result.issues.map((issue) => ({ path: issuePath(issue), message: issue.message }));
  const summary = issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
  throw new NsboxError('E_INVALID_ARGUMENT', `invalid input of action ${plugin} ${action.name}: ${summary}`, {
    details: { plugin, action: action.name, field: issues[0]?.path, issues },
  });
}

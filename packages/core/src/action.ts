/**
 * Actions: what a plugin lets a user do, declared once. A face turns each into its own shape —
 * a CLI command (`nsbox <plugin> <action>` or a top-level alias), an API route
 * (`POST /plugins/<plugin>/actions/<action>`), an SDK call and an OpenAPI operation — and runs it
 * through the same application layer (BoxApi), so tokens, tenant policy, quotas and audit apply
 * whichever face called.
 */

import type { Box } from './box.js';
import type { OperationContext } from './operation-context.js';
import type { ApiRole } from './plugin.js';
import type { ServiceSource } from './service-ref.js';
import type { StandardSchemaV1 } from './standard-schema.js';

export interface ActionContext {
  /** The box the action is about (for `box: true` actions), as the caller may see it. */
  box?: Box;
  /** The caller's tenant; null for the host admin. */
  tenant: string | null;
  services: ServiceSource;
  operation: OperationContext;
}

export interface ActionCliShape {
  /** Top-level command name when it differs from `<plugin> <action>` (`set`, `limits`). */
  command?: string;
  arguments?: { name: string; description?: string; required?: boolean; variadic?: boolean }[];
  options?: { flags: string; description: string; defaultValue?: string | boolean }[];
  /** Turns parsed arguments and options into the action's input. */
  input(args: string[], options: Record<string, unknown>): unknown;
}

export interface ActionDefinition<TInput = unknown, TResult = unknown> {
  /** kebab-case, unique within the plugin. */
  name: string;
  description: string;
  /** Validates the input on every face; documents it in OpenAPI. */
  input: StandardSchemaV1;
  /** The action is about one box: the input has a `box` field (id or name). */
  box?: boolean;
  /** The weakest role that may run it (default operator). */
  role?: ApiRole;
  /** Reads only (GET-like, no audit entry). */
  readOnly?: boolean;
  cli?: ActionCliShape;
  run(input: TInput, context: ActionContext): TResult | Promise<TResult>;
  /** Human rendering of the result; `--json` prints the result itself. */
  render?(result: TResult): string;
}

export function defineAction<TInput = unknown, TResult = unknown>(action: ActionDefinition<TInput, TResult>): ActionDefinition<TInput, TResult> {
  return Object.freeze({ ...action });
}
